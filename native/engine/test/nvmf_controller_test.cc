// The NVMe-oF controller's refusals: unknown subsystems and hosts, commands out of order,
// out-of-range I/O, data for an unknown transfer, malformed PDUs.
#include <cstring>

#include "test/nvmf_fixtures.h"
#include "test/testing.h"

using namespace nds;
using namespace nds::nvmf;

namespace {

const ListenerAddress kVia{"127.0.0.1", 4420};

struct Harness {
  Target target;
  HeapBuffers buffers;
  std::unique_ptr<Connection> owned = std::make_unique<Connection>(target, kVia, buffers, nullptr);
  Connection& conn = *owned;
  std::vector<uint8_t> out;  // answers not yet read, gathered from conn.output()
  PduReader reader;

  // `digests`: what the ICReq asks for (bit 0 header, bit 1 data); the target grants both.
  explicit Harness(uint8_t digests = 0) {
    SubsystemOptions sub;
    sub.nqn = "nqn.2026-11.io.nodestor:test";
    sub.hosts = {"nqn.2026-11.io.nodestor:allowed"};
    EXPECT_TRUE(target.add_subsystem(sub).is_ok());
    EXPECT_TRUE(target.add_listener(sub.nqn, kVia).is_ok());
    NamespaceEntry e;
    e.ns = std::make_shared<testing::MemoryNamespace>(256 * 4096);
    uint32_t nsid = 0;
    EXPECT_TRUE(target.add_namespace(sub.nqn, e, &nsid).is_ok());
    EXPECT_EQ(nsid, 1u);
    std::vector<uint8_t> ic(kICLength, 0);
    ic[11] = digests;
    send(build_pdu(PduType::ICReq, 0, ic, nullptr, 0));
    Pdu resp;
    EXPECT_TRUE(next(&resp) && resp.type == PduType::ICResp);
    reader.set_digests(digests & 1, digests & 2);
  }
  uint64_t errors(TransportError kind) const { return target.error_counts()[static_cast<size_t>(kind)]; }
  void send(const std::vector<uint8_t>& pdu) { conn.receive(pdu.data(), pdu.size()); }
  bool next(Pdu* p) {
    std::vector<uint8_t> fresh = conn.output().take();
    out.insert(out.end(), fresh.begin(), fresh.end());
    if (!out.empty()) reader.feed(out.data(), out.size());
    out.clear();
    return reader.next(p);
  }
  // A command capsule: opcode, cid, nsid and CDW10-12, optional in-capsule data.
  void command(uint8_t opcode, uint16_t cid, uint32_t nsid, uint32_t cdw10, uint32_t cdw11, uint32_t cdw12,
               const std::vector<uint8_t>& data = {}) {
    std::vector<uint8_t> h(kCapsuleCmdHeaderLength, 0);
    h[8] = opcode;
    std::memcpy(h.data() + 10, &cid, 2);
    std::memcpy(h.data() + 12, &nsid, 4);
    std::memcpy(h.data() + 48, &cdw10, 4);
    std::memcpy(h.data() + 52, &cdw11, 4);
    std::memcpy(h.data() + 56, &cdw12, 4);
    send(build_pdu(PduType::CapsuleCmd, 0, h, data.empty() ? nullptr : data.data(), static_cast<uint32_t>(data.size())));
  }
  static std::vector<uint8_t> connect_pdu(const std::string& subnqn, const std::string& hostnqn, uint16_t qid,
                                          uint16_t cntlid) {
    std::vector<uint8_t> data(1024, 0);
    std::memcpy(data.data() + 16, &cntlid, 2);
    std::memcpy(data.data() + 256, subnqn.data(), subnqn.size());
    std::memcpy(data.data() + 512, hostnqn.data(), hostnqn.size());
    std::vector<uint8_t> h(kCapsuleCmdHeaderLength, 0);
    h[8] = 0x7f;
    h[12] = 0x01;
    std::memcpy(h.data() + 50, &qid, 2);
    uint16_t sqsize = 31;
    std::memcpy(h.data() + 52, &sqsize, 2);
    return build_pdu(PduType::CapsuleCmd, 0, h, data.data(), 1024);
  }
  void connect(const std::string& subnqn, const std::string& hostnqn, uint16_t qid = 0, uint16_t cntlid = 0xffff) {
    send(connect_pdu(subnqn, hostnqn, qid, cntlid));
  }
  uint16_t status() {
    Pdu p;
    if (!next(&p) || p.type != PduType::CapsuleResp) return 0xffff;
    return p.cqe_status() & 0x3ff;
  }
};

// A second connection to the harness's target: I/O queue 1 joining controller 1 (the
// first the target made). Its answers are read through the harness's reader.
struct IoQueue {
  Harness& h;
  Connection conn;
  explicit IoQueue(Harness& harness) : h(harness), conn(harness.target, kVia, harness.buffers, nullptr) {
    std::vector<uint8_t> ic(kICLength, 0);
    send(build_pdu(PduType::ICReq, 0, ic, nullptr, 0));
    Pdu p;
    h.reader = PduReader();  // a new stream: the I/O queue's
    EXPECT_TRUE(h.next(&p) && p.type == PduType::ICResp);
    send(Harness::connect_pdu("nqn.2026-11.io.nodestor:test", "nqn.2026-11.io.nodestor:allowed", 1, 1));
    EXPECT_EQ(h.status(), 0x0000);
  }
  void send(const std::vector<uint8_t>& pdu) {
    conn.receive(pdu.data(), pdu.size());
    std::vector<uint8_t> fresh = conn.output().take();
    h.out.insert(h.out.end(), fresh.begin(), fresh.end());
  }
};

}  // namespace

NDS_TEST(nvmf_controller_refuses_unknown_subsystems_hosts_and_early_commands) {
  Harness a;
  a.command(0x06, 1, 0, 1, 0, 0);  // Identify before Connect
  EXPECT_EQ(a.status(), 0x000c);   // command sequence error
  a.connect("nqn.2026-11.io.nodestor:nope", "nqn.2026-11.io.nodestor:allowed");
  EXPECT_EQ(a.status(), 0x0182);  // connect invalid parameters
  a.connect("nqn.2026-11.io.nodestor:test", "nqn.2026-11.io.nodestor:stranger");
  EXPECT_EQ(a.status(), 0x0184);  // connect invalid host
  a.connect("nqn.2026-11.io.nodestor:test", "nqn.2026-11.io.nodestor:allowed");
  EXPECT_EQ(a.status(), 0x0000);
  a.command(0x77, 2, 0, 0, 0, 0);  // an admin opcode nobody knows
  EXPECT_EQ(a.status(), 0x0001);
  a.command(0x06, 3, 0, 0x42, 0, 0);  // Identify with an unknown CNS
  EXPECT_EQ(a.status(), 0x0002);

  // An I/O queue needs the controller ID of an admin queue of the same subsystem.
  Harness b;
  b.connect("nqn.2026-11.io.nodestor:test", "nqn.2026-11.io.nodestor:allowed", 1, 77);
  EXPECT_EQ(b.status(), 0x0182);
}

NDS_TEST(nvmf_controller_io_range_checks_and_fatal_errors) {
  Harness h;
  h.connect("nqn.2026-11.io.nodestor:test", "nqn.2026-11.io.nodestor:allowed");
  EXPECT_EQ(h.status(), 0x0000);
  IoQueue queue(h);
  Pdu p;
  auto io_command = [&](uint8_t opcode, uint16_t cid, uint32_t nsid, uint64_t slba, uint32_t nlb0) {
    std::vector<uint8_t> c(kCapsuleCmdHeaderLength, 0);
    c[8] = opcode;
    std::memcpy(c.data() + 10, &cid, 2);
    std::memcpy(c.data() + 12, &nsid, 4);
    std::memcpy(c.data() + 48, &slba, 8);
    std::memcpy(c.data() + 56, &nlb0, 4);
    auto pdu = build_pdu(PduType::CapsuleCmd, 0, c, nullptr, 0);
    queue.send(pdu);
  };
  io_command(0x02, 5, 1, 255, 1);  // blocks 255-256 of a 256-block namespace
  EXPECT_EQ(h.status(), 0x0080);   // LBA out of range
  io_command(0x02, 6, 2, 0, 0);    // no namespace 2
  EXPECT_EQ(h.status(), 0x000b);
  io_command(0x02, 7, 1, 0, 0);    // a good read: C2HData with SUCCESS
  EXPECT_TRUE(h.next(&p) && p.type == PduType::C2HData && (p.flags & kFlagSuccess) && p.data_datal() == 4096);
  // Data for a transfer nobody asked for ends the connection with a C2HTermReq.
  std::vector<uint8_t> h2c(kDataHeaderLength, 0);
  uint16_t cid = 99;
  std::memcpy(h2c.data() + 8, &cid, 2);
  uint32_t datal = 4096;
  std::memcpy(h2c.data() + 16, &datal, 4);
  std::vector<uint8_t> payload(4096, 1);
  auto stray = build_pdu(PduType::H2CData, kFlagLastPdu, h2c, payload.data(), 4096);
  queue.send(stray);
  EXPECT_TRUE(h.next(&p) && p.type == PduType::C2HTermReq);
  EXPECT_TRUE(queue.conn.closed());
}

NDS_TEST(nvmf_controller_terminates_on_a_malformed_pdu) {
  Harness h;
  std::vector<uint8_t> garbage = {0x42, 0, 8, 0, 8, 0, 0, 0};  // PDU type 0x42
  h.send(garbage);
  Pdu p;
  EXPECT_TRUE(h.next(&p) && p.type == PduType::C2HTermReq);
  EXPECT_EQ(p.u16(8), static_cast<uint16_t>(FatalError::InvalidHeaderField));
  EXPECT_TRUE(h.conn.closed());
}

// Both found by the fuzz target (native/fuzz): fields at their extremes must not wrap.
NDS_TEST(nvmf_controller_refuses_admin_fields_that_would_wrap) {
  Harness h;
  h.connect("nqn.2026-11.io.nodestor:test", "nqn.2026-11.io.nodestor:allowed");
  EXPECT_EQ(h.status(), 0x0000);
  // Identify active namespace list (CNS 02h) above NSID FFFFFFFFh or FFFFFFFEh.
  h.command(0x06, 7, 0xffffffffu, 0x02, 0, 0);
  EXPECT_EQ(h.status(), 0x000b);  // Invalid Namespace or Format
  h.command(0x06, 8, 0xfffffffeu, 0x02, 0, 0);
  EXPECT_EQ(h.status(), 0x000b);
  // Get Log Page (SMART) with NUMD FFFFFFFFh (0 dwords after +1 in 32 bits) and 4 GiB.
  h.command(0x02, 9, 0xffffffffu, 0xffff0002u, 0xffff, 0);
  EXPECT_EQ(h.status(), 0x0002);  // Invalid Field in Command
  h.command(0x02, 10, 0xffffffffu, 0xffff0002u, 0x3fff, 0);
  EXPECT_EQ(h.status(), 0x0002);
  // The controller still answers a sound request afterwards.
  h.command(0x06, 11, 0, 0x02, 0, 0);
  Pdu p;
  EXPECT_TRUE(h.next(&p) && p.type == PduType::C2HData);
  EXPECT_EQ(p.u32(p.data_offset), 1u);  // the first active NSID is 1
  EXPECT_TRUE(!h.conn.closed());
}

// The Commands Supported and Effects log comes from the command table: every command the
// controller serves is listed, the ones that change data with LBCC, nothing else.
NDS_TEST(nvmf_controller_effects_log_lists_exactly_the_commands_served) {
  Harness h;
  h.connect("nqn.2026-11.io.nodestor:test", "nqn.2026-11.io.nodestor:allowed");
  EXPECT_EQ(h.status(), 0x0000);
  h.command(0x02, 3, 0xffffffffu, 0x05u | (1023u << 16), 0, 0);  // LID 05h, 4 KiB
  std::vector<uint8_t> log;
  Pdu p;
  while (log.size() < 4096 && h.next(&p) && p.type == PduType::C2HData)
    log.insert(log.end(), p.bytes.begin() + p.data_offset, p.bytes.begin() + p.data_offset + p.data_length);
  ASSERT_TRUE(log.size() == 4096u);
  auto effects = [&](size_t base, uint8_t op) {
    uint32_t v;
    std::memcpy(&v, log.data() + base + 4 * op, 4);
    return v;
  };
  for (unsigned op = 0; op < 256; ++op) {
    bool admin = op == 0x02 || op == 0x06 || op == 0x08 || op == 0x09 || op == 0x0a || op == 0x0c || op == 0x18;
    EXPECT_EQ(effects(0, static_cast<uint8_t>(op)), admin ? 1u : 0u);
    uint32_t io = op == 0x00 || op == 0x02 || op == 0x05 ? 1u : op == 0x01 || op == 0x08 || op == 0x09 ? 3u : 0u;
    EXPECT_EQ(effects(1024, static_cast<uint8_t>(op)), io);
  }
  // A command outside the table is Invalid Opcode, and the controller goes on.
  h.command(0x10, 4, 0, 0, 0, 0);
  EXPECT_EQ(h.status(), 0x0001);
  h.command(0x18, 5, 0, 0, 0, 0);  // Keep Alive
  EXPECT_EQ(h.status(), 0x0000);
  EXPECT_TRUE(!h.conn.closed());
}

// What ends a connection, or refuses a host, is counted by cause (the daemon's
// nodestor_nvmf_errors_total): each harness has a target of its own.
NDS_TEST(nvmf_controller_counts_connection_errors_by_cause) {
  const std::string sub = "nqn.2026-11.io.nodestor:test";
  Harness malformed;
  malformed.send({0x42, 0, 8, 0, 8, 0, 0, 0});  // PDU type 0x42
  EXPECT_TRUE(malformed.conn.closed());
  EXPECT_EQ(malformed.errors(TransportError::Protocol), 1u);
  EXPECT_EQ(malformed.errors(TransportError::HeaderDigest) + malformed.errors(TransportError::DataDigest) +
                malformed.errors(TransportError::HostRefused),
            0u);

  Harness refused;
  refused.connect(sub, "nqn.2026-11.io.nodestor:stranger");
  EXPECT_EQ(refused.status(), 0x0184);  // the connection stays; the host was refused
  EXPECT_TRUE(!refused.conn.closed());
  EXPECT_EQ(refused.errors(TransportError::HostRefused), 1u);
  EXPECT_EQ(refused.errors(TransportError::Protocol), 0u);

  // Header digest: a Keep Alive capsule whose CRC32C is off by one bit.
  Harness header(0x3);
  std::vector<uint8_t> h(kCapsuleCmdHeaderLength, 0);
  h[8] = 0x18;
  auto bad_header = build_pdu(PduType::CapsuleCmd, kFlagHeaderDigest | kFlagDataDigest, h, nullptr, 0);
  bad_header[kCapsuleCmdHeaderLength] ^= 0x01;
  header.send(bad_header);
  Pdu p;
  EXPECT_TRUE(header.next(&p) && p.type == PduType::C2HTermReq);
  EXPECT_EQ(p.u16(8), static_cast<uint16_t>(FatalError::HeaderDigestError));
  EXPECT_EQ(header.errors(TransportError::HeaderDigest), 1u);
  EXPECT_EQ(header.errors(TransportError::Protocol), 0u);

  // Data digest: in-capsule data whose CRC32C does not match.
  Harness data(0x3);
  std::vector<uint8_t> payload(64, 0x5a);
  auto bad_data = build_pdu(PduType::CapsuleCmd, kFlagHeaderDigest | kFlagDataDigest, h, payload.data(), 64);
  bad_data.back() ^= 0x80;
  data.send(bad_data);
  EXPECT_TRUE(data.conn.closed());
  EXPECT_EQ(data.errors(TransportError::DataDigest), 1u);
  EXPECT_EQ(data.errors(TransportError::HeaderDigest) + data.errors(TransportError::Protocol), 0u);
}

// A write waiting for its data (an R2T out) when the connection ends is released: nothing
// else would complete it, and the target's shutdown waits for in_flight() to reach 0.
NDS_TEST(nvmf_controller_releases_a_write_awaiting_data_when_the_connection_ends) {
  Harness h;
  h.connect("nqn.2026-11.io.nodestor:test", "nqn.2026-11.io.nodestor:allowed");
  EXPECT_EQ(h.status(), 0x0000);
  IoQueue queue(h);
  Pdu p;
  // A 16-block write with no data in the capsule: the target answers with an R2T.
  std::vector<uint8_t> w(kCapsuleCmdHeaderLength, 0);
  w[8] = 0x01;
  uint16_t cid = 9;
  std::memcpy(w.data() + 10, &cid, 2);
  uint32_t nsid = 1, nlb0 = 15;
  std::memcpy(w.data() + 12, &nsid, 4);
  std::memcpy(w.data() + 56, &nlb0, 4);
  auto write = build_pdu(PduType::CapsuleCmd, 0, w, nullptr, 0);
  queue.send(write);
  EXPECT_TRUE(h.next(&p) && p.type == PduType::R2T);
  EXPECT_EQ(queue.conn.in_flight(), 1u);
  // The host's connection goes (here: a malformed PDU) before the data comes.
  std::vector<uint8_t> garbage = {0x42, 0, 8, 0, 8, 0, 0, 0};
  queue.send(garbage);
  EXPECT_TRUE(queue.conn.closed());
  EXPECT_EQ(queue.conn.in_flight(), 0u);
}
