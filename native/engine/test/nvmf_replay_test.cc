// Replays the host side of each real capture against our NVMe-oF controller (configured
// like the captured target: same subsystem NQN, serial, model, a 64 MiB namespace with
// 4 KiB blocks) and compares our answers with the real target's, command by command:
// PDU types, status codes, flags, data lengths, and the data of every I/O read.
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>

#include "nvmf/controller.h"
#include "test/pcap.h"
#include "test/testing.h"
#include "util/crc32c.h"

using namespace nds;
using namespace nds::nvmf;

namespace {

class MemoryNamespace final : public Namespace {
 public:
  explicit MemoryNamespace(uint64_t bytes) : data_(bytes, 0) {}
  uint32_t block_size() const override { return 4096; }
  uint64_t num_blocks() const override { return data_.size() / 4096; }
  void read(uint64_t offset, uint32_t length, uint8_t* out, std::function<void(int)> done) override {
    std::memcpy(out, data_.data() + offset, length);
    done(0);
  }
  void write(uint64_t offset, uint32_t length, const uint8_t* in, std::function<void(int)> done) override {
    std::memcpy(data_.data() + offset, in, length);
    done(0);
  }
  void flush(std::function<void(int)> done) override { done(0); }
  void write_zeroes(uint64_t offset, uint64_t length, std::function<void(int)> done) override {
    std::memset(data_.data() + offset, 0, length);
    done(0);
  }

 private:
  std::vector<uint8_t> data_;
};

std::vector<Pdu> parse_all(const std::vector<uint8_t>& bytes, bool* ok) {
  PduReader reader;
  std::vector<Pdu> out;
  Pdu p;
  reader.feed(bytes.data(), bytes.size());
  while (reader.next(&p)) {
    if (p.type == PduType::ICResp) reader.set_digests(p.bytes[11] & 1, p.bytes[11] & 2);
    if (p.type == PduType::ICReq) reader.set_digests(p.bytes[11] & 1, p.bytes[11] & 2);
    out.push_back(p);
  }
  *ok = reader.error() == nullptr;
  return out;
}

// What identifies an answer, whoever gave it.
struct Answer {
  PduType type = PduType::CapsuleResp;
  uint16_t status = 0;
  uint8_t flags = 0;
  uint32_t length = 0;
  std::string data;  // I/O reads only
};

uint16_t cid_of(const Pdu& p) { return p.type == PduType::CapsuleResp ? p.cqe_cid() : p.data_cccid(); }

Answer answer_of(const Pdu& p, bool io_queue) {
  Answer a;
  a.type = p.type;
  if (p.type == PduType::CapsuleResp) a.status = p.cqe_status() & 0x3ff;  // SCT and SC; DNR is policy
  if (p.type == PduType::C2HData) {
    a.flags = p.flags & (kFlagLastPdu | kFlagSuccess);
    a.length = p.data_datal();
    if (io_queue) a.data.assign(reinterpret_cast<const char*>(p.data()), p.data_length);
  }
  if (p.type == PduType::R2T) a.length = p.data_datal();
  return a;
}

struct ReplayResult {
  int compared = 0;
  int reads_compared = 0;
  int mismatches = 0;
};

ReplayResult replay(const std::string& capture) {
  ReplayResult result;
  std::vector<testing::TcpConnection> connections;
  std::string error;
  bool read_ok = testing::read_tcp_connections(testing::nvme_tcp_vectors_dir() + "/" + capture, 4420, &connections, &error);
  EXPECT_TRUE(read_ok);
  Target target({"127.0.0.1", 4420});
  SubsystemConfig sub;
  sub.nqn = "nqn.2016-06.io.spdk:cnode1";
  sub.serial = "SPDK00000000000001";
  sub.model = "SPDK_Anchor";
  sub.allow_any_host = true;
  sub.namespaces.push_back(std::make_shared<MemoryNamespace>(64u << 20));
  target.add_subsystem(sub);

  uint16_t our_cntlid = 0xffff;  // what our admin Connect answered: a host uses it for I/O queues
  for (auto& c : connections) {
    bool host_ok = false, ctrl_ok = false;
    std::vector<Pdu> host = parse_all(c.to_server.bytes, &host_ok);
    std::vector<Pdu> theirs = parse_all(c.to_client.bytes, &ctrl_ok);
    EXPECT_TRUE(host_ok && ctrl_ok);
    std::vector<uint8_t> ours_bytes;
    Connection conn(target, [&](std::vector<uint8_t> pdu) { ours_bytes.insert(ours_bytes.end(), pdu.begin(), pdu.end()); });
    std::map<uint16_t, uint16_t> our_ttag;  // cid -> TTAG of our last R2T
    bool io_queue = false;
    for (Pdu p : host) {
      if (p.type == PduType::CapsuleCmd && p.sqe_opcode() == 0x7f && p.bytes[12] == 0x01) {
        io_queue = p.u16(50) != 0;
        if (io_queue) {
          // The Connect data names the controller this I/O queue joins: ours.
          std::memcpy(p.bytes.data() + p.data_offset + 16, &our_cntlid, 2);
          if (p.has_data_digest()) {
            uint32_t crc = crc32c(p.data(), p.data_length);
            std::memcpy(p.bytes.data() + p.data_offset + p.data_length, &crc, 4);
          }
        }
      }
      if (p.type == PduType::H2CData) {
        // A host answers an R2T with the TTAG it was given: ours, not the captured target's.
        bool ok = false;
        for (const Pdu& r : parse_all(ours_bytes, &ok))
          if (r.type == PduType::R2T) our_ttag[r.data_cccid()] = r.data_ttag();
        uint16_t ttag = our_ttag[p.data_cccid()];
        std::memcpy(p.bytes.data() + 10, &ttag, 2);
        if (p.has_header_digest()) {
          uint32_t crc = crc32c(p.bytes.data(), p.hlen);
          std::memcpy(p.bytes.data() + p.hlen, &crc, 4);
        }
      }
      conn.receive(p.bytes.data(), p.bytes.size());
    }
    EXPECT_TRUE(!conn.closed());
    bool ours_ok = false;
    std::vector<Pdu> ours = parse_all(ours_bytes, &ours_ok);
    if (!io_queue && ours.size() > 1 && ours[1].type == PduType::CapsuleResp) our_cntlid = static_cast<uint16_t>(ours[1].u32(8));
    EXPECT_TRUE(ours_ok);
    if (ours.empty() || theirs.empty()) {
      EXPECT_TRUE(!ours.empty() && !theirs.empty());
      ++result.mismatches;
      continue;
    }
    EXPECT_TRUE(ours[0].type == PduType::ICResp && theirs[0].type == PduType::ICResp);
    EXPECT_EQ(ours[0].bytes[11], theirs[0].bytes[11]);  // the same digests granted
    // Per command ID, our answers in order against theirs (a cut capture has fewer).
    std::map<uint16_t, std::deque<Answer>> expected;
    for (size_t i = 1; i < theirs.size(); ++i) expected[cid_of(theirs[i])].push_back(answer_of(theirs[i], io_queue));
    for (size_t i = 1; i < ours.size(); ++i) {
      auto& queue = expected[cid_of(ours[i])];
      if (queue.empty()) continue;  // the capture stopped before this answer
      Answer want = queue.front();
      queue.pop_front();
      Answer got = answer_of(ours[i], io_queue);
      ++result.compared;
      bool same = got.type == want.type && got.status == want.status && got.flags == want.flags &&
                  got.length == want.length && got.data == want.data;
      if (!got.data.empty()) ++result.reads_compared;
      if (!same) {
        ++result.mismatches;
        std::printf("  %s cid %u: ours %s status 0x%x flags 0x%x len %u, theirs %s status 0x%x flags 0x%x len %u%s\n",
                    capture.c_str(), cid_of(ours[i]), pdu_type_name(got.type), got.status, got.flags, got.length,
                    pdu_type_name(want.type), want.status, want.flags, want.length,
                    got.data != want.data ? " (data differs)" : "");
      }
    }
    for (auto& [cid, queue] : expected) result.mismatches += static_cast<int>(queue.size());  // answers we never gave
  }
  return result;
}

}  // namespace

NDS_TEST(nvmf_replay_identify_against_our_controller) {
  ReplayResult r = replay("identify.pcap");
  EXPECT_TRUE(r.compared > 20);
  EXPECT_EQ(r.mismatches, 0);
}

NDS_TEST(nvmf_replay_discover_against_our_controller) {
  ReplayResult r = replay("discover.pcap");
  EXPECT_TRUE(r.compared > 5);
  EXPECT_EQ(r.mismatches, 0);
}

NDS_TEST(nvmf_replay_io_4k_without_digests_reads_back_identical_data) {
  ReplayResult r = replay("io-4k-nodigest.pcap");
  EXPECT_TRUE(r.reads_compared > 50);
  EXPECT_EQ(r.mismatches, 0);
}

NDS_TEST(nvmf_replay_io_4k_with_digests_reads_back_identical_data) {
  ReplayResult r = replay("io-4k-digest.pcap");
  EXPECT_TRUE(r.reads_compared > 50);
  EXPECT_EQ(r.mismatches, 0);
}

NDS_TEST(nvmf_replay_io_128k_r2t_and_c2h_data) {
  ReplayResult r = replay("io-128k-digest.pcap");
  EXPECT_TRUE(r.reads_compared >= 3);
  EXPECT_EQ(r.mismatches, 0);
}
