// Conformance of our NVMe/TCP PDU reader with real traffic: every PDU of every capture in
// test/vectors/nvme-tcp (a mainstream initiator talking to a mainstream target) must
// parse, with digests checked, and the protocol's bookkeeping must add up: every command
// completes once, data transfers are contiguous and end with LAST_PDU, R2T windows are
// filled exactly, and the answers carry what the host printed (identify.txt, discover.txt).
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <string>

#include "nvmf/wire/tcp_pdu.h"
#include "test/pcap.h"
#include "test/testing.h"

using namespace nds;
using namespace nds::nvmf;

namespace {

struct Totals {
  std::map<PduType, int> host, controller;
  int cut_streams = 0;       // streams that end inside a PDU: the capture stopped mid-transfer
  int unanswered = 0;        // commands still in flight when a cut capture ends
  int connections = 0, io_reads = 0, io_writes = 0, in_capsule_writes = 0, admin_commands = 0;
  int r2t = 0, digested = 0, errors = 0, non_success = 0;
  std::string c2h_data;  // every C2HData payload, for content checks
};

// One connection: parse both directions, then check the bookkeeping.
void analyze(const testing::TcpConnection& c, Totals* t) {
  ++t->connections;
  PduReader host, ctrl;
  host.feed(c.to_server.bytes.data(), c.to_server.bytes.size());
  ctrl.feed(c.to_client.bytes.data(), c.to_client.bytes.size());
  Pdu icreq, icresp;
  ASSERT_TRUE(host.next(&icreq) && icreq.type == PduType::ICReq && icreq.plen == kICLength);
  ASSERT_TRUE(ctrl.next(&icresp) && icresp.type == PduType::ICResp && icresp.plen == kICLength);
  EXPECT_EQ(icreq.u16(8), 0);   // PFV 1.0
  EXPECT_EQ(icresp.u16(8), 0);
  uint8_t digests = icresp.bytes[11];
  EXPECT_EQ(digests, static_cast<uint8_t>(icreq.bytes[11] & digests));  // granted only what was asked
  EXPECT_TRUE(icresp.u32(12) >= 4096);                                  // MAXH2CDATA
  host.set_digests(digests & 1, digests & 2);
  ctrl.set_digests(digests & 1, digests & 2);

  std::vector<Pdu> from_host, from_ctrl;
  Pdu pdu;
  while (host.next(&pdu)) from_host.push_back(pdu);
  while (ctrl.next(&pdu)) from_ctrl.push_back(pdu);
  if (host.error()) std::printf("  host stream: %s\n", host.error()->message.c_str());
  if (ctrl.error()) std::printf("  controller stream: %s\n", ctrl.error()->message.c_str());
  EXPECT_TRUE(!host.error() && !ctrl.error());
  // A stream ends on a PDU boundary, unless the capture stopped in the middle of a PDU:
  // then what is left is the start of a PDU whose declared length runs past the end.
  auto cut = [](const std::vector<uint8_t>& stream, size_t left) {
    if (left == 0) return false;
    const uint8_t* start = stream.data() + stream.size() - left;
    uint32_t plen = left >= 8 ? static_cast<uint32_t>(start[4] | start[5] << 8 | start[6] << 16 | start[7] << 24) : UINT32_MAX;
    EXPECT_TRUE(plen > left);  // a complete PDU was never left unparsed
    return true;
  };
  bool truncated = cut(c.to_server.bytes, host.buffered()) | cut(c.to_client.bytes, ctrl.buffered());
  t->cut_streams += truncated ? 1 : 0;

  // The first command on every connection is a Fabrics Connect; its QID says which queue.
  ASSERT_TRUE(!from_host.empty() && from_host[0].type == PduType::CapsuleCmd);
  EXPECT_EQ(from_host[0].sqe_opcode(), 0x7f);
  EXPECT_EQ(from_host[0].bytes[8 + 4], 0x01);
  bool io_queue = from_host[0].u16(8 + 42) != 0;

  std::map<uint16_t, std::deque<uint32_t>> expected_c2h;  // cid -> data lengths of reads, in order
  std::map<uint16_t, int> commands, completions;
  for (const Pdu& p : from_host) {
    ++t->host[p.type];
    if (p.has_header_digest()) ++t->digested;
    if (p.type != PduType::CapsuleCmd) continue;
    uint8_t opcode = p.sqe_opcode();
    // Asynchronous Event Requests stay outstanding until an event (or the end): no completion.
    if (!io_queue && opcode == 0x0c) continue;
    ++commands[p.sqe_cid()];
    uint32_t sgl_length = p.u32(8 + 32);
    if (!io_queue) {
      ++t->admin_commands;
      // Admin commands that return data: identify, get log page, fabrics property get (none).
      if (opcode == 0x06 || opcode == 0x02) expected_c2h[p.sqe_cid()].push_back(sgl_length);
      continue;
    }
    uint32_t blocks = (p.u32(8 + 48) & 0xffff) + 1;  // CDW12 NLB, 0-based
    if (opcode == 0x02) {
      ++t->io_reads;
      EXPECT_EQ(sgl_length, blocks * 4096);
      expected_c2h[p.sqe_cid()].push_back(sgl_length);
    } else if (opcode == 0x01) {
      ++t->io_writes;
      EXPECT_EQ(sgl_length, blocks * 4096);
      if (p.data_length > 0) {
        ++t->in_capsule_writes;
        EXPECT_EQ(p.data_length, sgl_length);
      }
    }
  }

  // C2HData: per command, contiguous from 0 to the command's length, LAST_PDU at the end.
  std::map<uint16_t, uint32_t> c2h_progress;
  std::map<std::pair<uint16_t, uint16_t>, std::pair<uint32_t, uint32_t>> r2t_windows;  // (cid, ttag) -> (next, end)
  for (const Pdu& p : from_ctrl) {
    ++t->controller[p.type];
    if (p.type == PduType::CapsuleResp) {
      ++completions[p.cqe_cid()];
      if (p.cqe_status() != 0) ++t->non_success;
    } else if (p.type == PduType::C2HData) {
      uint16_t cid = p.data_cccid();
      EXPECT_EQ(p.data_datal(), p.data_length);
      EXPECT_EQ(p.data_datao(), c2h_progress[cid]);
      c2h_progress[cid] += p.data_length;
      t->c2h_data.append(reinterpret_cast<const char*>(p.data()), p.data_length);
      if (p.flags & kFlagLastPdu) {
        auto& queue = expected_c2h[cid];
        EXPECT_TRUE(!queue.empty());
        if (!queue.empty()) {
          EXPECT_TRUE(c2h_progress[cid] <= queue.front());  // admin commands may return less than asked
          if (io_queue) EXPECT_EQ(c2h_progress[cid], queue.front());
          queue.pop_front();
        }
        c2h_progress[cid] = 0;
        if (p.flags & kFlagSuccess) ++completions[cid];
      } else {
        EXPECT_TRUE(!(p.flags & kFlagSuccess));  // SUCCESS only on the last data PDU
      }
    } else if (p.type == PduType::R2T) {
      ++t->r2t;
      r2t_windows[{p.data_cccid(), p.data_ttag()}] = {p.data_datao(), p.data_datao() + p.data_datal()};
    } else if (p.type == PduType::C2HTermReq) {
      ++t->errors;
    }
  }
  // H2CData fills each R2T window exactly, in order, ending with LAST_PDU.
  for (const Pdu& p : from_host) {
    if (p.type != PduType::H2CData) continue;
    auto window = r2t_windows.find({p.data_cccid(), p.data_ttag()});
    EXPECT_TRUE(window != r2t_windows.end());
    if (window == r2t_windows.end()) continue;
    EXPECT_EQ(p.data_datao(), window->second.first);
    EXPECT_EQ(p.data_datal(), p.data_length);
    window->second.first += p.data_length;
    bool last = window->second.first == window->second.second;
    EXPECT_EQ(static_cast<bool>(p.flags & kFlagLastPdu), last);
    EXPECT_TRUE(window->second.first <= window->second.second);
  }
  if (!truncated)
    for (auto& [key, window] : r2t_windows) EXPECT_EQ(window.first, window.second);
  // Every command completes once; only a cut capture may end with commands in flight.
  for (auto& [cid, n] : commands) {
    EXPECT_TRUE(completions[cid] <= n);
    if (completions[cid] < n) {
      EXPECT_TRUE(truncated);
      t->unanswered += n - completions[cid];
    }
  }
  for (auto& [cid, n] : completions) EXPECT_TRUE(n <= commands[cid]);  // no completion without a command
}

Totals analyze_capture(const std::string& name) {
  Totals t;
  std::vector<testing::TcpConnection> connections;
  std::string error;
  bool ok = testing::read_tcp_connections(testing::nvme_tcp_vectors_dir() + "/" + name, 4420, &connections, &error);
  if (!ok) std::printf("  %s: %s\n", name.c_str(), error.c_str());
  EXPECT_TRUE(ok);
  for (auto& c : connections) analyze(c, &t);
  return t;
}

}  // namespace

NDS_TEST(nvmf_capture_identify_parses_and_carries_the_controller_identity) {
  Totals t = analyze_capture("identify.pcap");
  EXPECT_EQ(t.connections, 1);
  EXPECT_EQ(t.cut_streams, 0);
  EXPECT_TRUE(t.admin_commands > 5);
  EXPECT_EQ(t.digested, 0);
  EXPECT_EQ(t.errors, 0);
  EXPECT_TRUE(t.controller[PduType::C2HData] > 0);
  // What the host printed came from these answers.
  EXPECT_TRUE(t.c2h_data.find("SPDK00000000000001") != std::string::npos);
  EXPECT_TRUE(t.c2h_data.find("SPDK_Anchor") != std::string::npos);
  EXPECT_TRUE(t.c2h_data.find("nqn.2016-06.io.spdk:cnode1") != std::string::npos);
}

NDS_TEST(nvmf_capture_discover_parses_and_lists_both_subsystems) {
  Totals t = analyze_capture("discover.pcap");
  EXPECT_EQ(t.connections, 1);
  EXPECT_EQ(t.cut_streams, 0);
  EXPECT_EQ(t.errors, 0);
  EXPECT_TRUE(t.c2h_data.find("nqn.2014-08.org.nvmexpress.discovery") != std::string::npos);
  EXPECT_TRUE(t.c2h_data.find("nqn.2016-06.io.spdk:cnode1") != std::string::npos);
  EXPECT_TRUE(t.c2h_data.find("127.0.0.1") != std::string::npos);
}

NDS_TEST(nvmf_capture_io_4k_without_digests) {
  Totals t = analyze_capture("io-4k-nodigest.pcap");
  EXPECT_EQ(t.connections, 2);  // admin queue and one I/O queue
  EXPECT_EQ(t.cut_streams, 0);
  EXPECT_EQ(t.io_reads + t.io_writes, 200);
  EXPECT_TRUE(t.io_reads > 0 && t.io_writes > 0);
  EXPECT_EQ(t.in_capsule_writes, t.io_writes);  // 4 KiB fits in the capsule
  EXPECT_EQ(t.r2t, 0);
  EXPECT_EQ(t.digested, 0);
  EXPECT_EQ(t.non_success, 0);
}

NDS_TEST(nvmf_capture_io_4k_with_digests) {
  Totals t = analyze_capture("io-4k-digest.pcap");
  EXPECT_EQ(t.cut_streams, 0);
  EXPECT_EQ(t.io_reads + t.io_writes, 200);
  EXPECT_EQ(t.in_capsule_writes, t.io_writes);
  int host_pdus = 0;
  for (auto& [type, n] : t.host) host_pdus += type == PduType::ICReq ? 0 : n;
  EXPECT_EQ(t.digested, host_pdus);  // every host PDU after the IC exchange has a header digest
  EXPECT_EQ(t.non_success, 0);
}

NDS_TEST(nvmf_capture_io_128k_uses_r2t_and_c2h_data) {
  // This capture stops early: its I/O connection ends inside a 128 KiB C2HData, after 9 of
  // the 40 I/Os its README announces. Everything up to the cut must still check out.
  Totals t = analyze_capture("io-128k-digest.pcap");
  EXPECT_EQ(t.cut_streams, 1);
  EXPECT_TRUE(t.io_reads > 0 && t.io_writes > 0 && t.io_reads + t.io_writes <= 40);
  EXPECT_TRUE(t.unanswered >= 1 && t.unanswered <= 2);  // queue depth 2
  EXPECT_EQ(t.in_capsule_writes, 0);  // 128 KiB is over the in-capsule size: R2T instead
  EXPECT_EQ(t.r2t, t.io_writes);      // one R2T per write (MAXH2CDATA covers 128 KiB)
  EXPECT_TRUE(t.host[PduType::H2CData] >= t.io_writes);
  EXPECT_TRUE(t.controller[PduType::C2HData] >= t.io_reads - t.unanswered);
  EXPECT_EQ(t.non_success, 0);
}

NDS_TEST(nvmf_pdu_reader_rejects_malformed_pdus_and_round_trips_built_ones) {
  // A built CapsuleResp with a header digest reads back; one flipped bit is a digest error.
  std::vector<uint8_t> header(kCapsuleRespHeaderLength, 0);
  header[8 + 12] = 0x34;  // CID
  auto bytes = build_pdu(PduType::CapsuleResp, kFlagHeaderDigest, header, nullptr, 0);
  PduReader ok;
  ok.set_digests(true, false);
  ok.feed(bytes.data(), 3);  // arrives in pieces
  Pdu p;
  EXPECT_TRUE(!ok.next(&p));
  ok.feed(bytes.data() + 3, bytes.size() - 3);
  ASSERT_TRUE(ok.next(&p));
  EXPECT_EQ(p.cqe_cid(), 0x34);
  EXPECT_EQ(p.plen, kCapsuleRespHeaderLength + kDigestLength);
  bytes[9] ^= 1;
  PduReader bad;
  bad.set_digests(true, false);
  bad.feed(bytes.data(), bytes.size());
  EXPECT_TRUE(!bad.next(&p));
  ASSERT_TRUE(bad.error() != nullptr);
  EXPECT_TRUE(bad.error()->status == FatalError::HeaderDigestError);

  // Data with a data digest: a corrupted byte is caught.
  std::vector<uint8_t> data(4096, 0x5a);
  std::vector<uint8_t> c2h(kDataHeaderLength, 0);
  auto with_data = build_pdu(PduType::C2HData, kFlagDataDigest | kFlagLastPdu, c2h, data.data(), 4096);
  PduReader r;
  r.set_digests(false, true);
  r.feed(with_data.data(), with_data.size());
  ASSERT_TRUE(r.next(&p));
  EXPECT_EQ(p.data_length, 4096u);
  EXPECT_EQ(std::memcmp(p.data(), data.data(), 4096), 0);
  with_data[100] ^= 0xff;
  PduReader r2;
  r2.set_digests(false, true);
  r2.feed(with_data.data(), with_data.size());
  EXPECT_TRUE(!r2.next(&p) && r2.error() != nullptr);

  // Unknown type, wrong HLEN, absurd PLEN, undeclared digest: each an invalid header field.
  auto rejects = [](std::vector<uint8_t> raw, bool hdgst) {
    PduReader reader;
    reader.set_digests(hdgst, false);
    reader.feed(raw.data(), raw.size());
    Pdu out;
    return !reader.next(&out) && reader.error() && reader.error()->status == FatalError::InvalidHeaderField;
  };
  std::vector<uint8_t> resp = build_pdu(PduType::CapsuleResp, 0, std::vector<uint8_t>(kCapsuleRespHeaderLength, 0), nullptr, 0);
  auto unknown = resp;
  unknown[0] = 0x08;
  EXPECT_TRUE(rejects(unknown, false));
  auto hlen = resp;
  hlen[2] = 23;
  EXPECT_TRUE(rejects(hlen, false));
  auto plen = resp;
  plen[4] = 2;  // shorter than the header
  EXPECT_TRUE(rejects(plen, false));
  EXPECT_TRUE(rejects(resp, true));  // the connection negotiated header digests; this has none
}
