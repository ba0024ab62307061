// Replays the host side of each real capture against our NVMe-oF controller (configured
// like the captured target: same subsystem NQN, serial, model, a 64 MiB namespace with
// 4 KiB blocks) and compares our answers with the real target's, command by command:
// PDU types, status codes, flags, data lengths, and the data of every I/O read.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <future>
#include <cstring>
#include <deque>
#include <algorithm>
#include <map>
#include <memory>

#include "bdev/bdev_factory.h"
#include "engine.h"
#include "nvmf/target/connection.h"
#include "test/nvmf_fixtures.h"
#include "test/pcap.h"
#include "test/run_on.h"
#include "test/testing.h"
#include "util/crc32c.h"

using namespace nds;
using namespace nds::nvmf;

namespace {

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

// How the replayed host reaches a controller: in-process, or over a socket.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void open_connection() = 0;
  virtual void send(const std::vector<uint8_t>& bytes) = 0;
  // Everything the controller answered on this connection so far, once `ready` says so
  // (or a deadline passes: then what arrived).
  virtual const std::vector<uint8_t>& answers(const std::function<bool(const std::vector<Pdu>&)>& ready) = 0;
  virtual bool closed() = 0;
};

class InProcess final : public Transport {
 public:
  explicit InProcess(Target& target) : target_(target) {}
  void open_connection() override {
    out_.clear();
    // Earlier connections stay open, as a host keeps its admin queue while I/O queues connect.
    if (conn_) kept_.push_back(std::move(conn_));
    conn_ = std::make_unique<Connection>(target_, testing::kCapturedListener, buffers_, nullptr);
  }
  void send(const std::vector<uint8_t>& bytes) override {
    conn_->receive(bytes.data(), bytes.size());
    std::vector<uint8_t> fresh = conn_->output().take();
    out_.insert(out_.end(), fresh.begin(), fresh.end());
  }
  const std::vector<uint8_t>& answers(const std::function<bool(const std::vector<Pdu>&)>&) override { return out_; }
  bool closed() override { return conn_->closed(); }

 private:
  Target& target_;
  HeapBuffers buffers_;
  std::vector<std::unique_ptr<Connection>> kept_;
  std::unique_ptr<Connection> conn_;
  std::vector<uint8_t> out_;
};

ReplayResult replay(const std::string& capture, Transport& transport) {
  ReplayResult result;
  std::vector<testing::TcpConnection> connections;
  std::string error;
  bool read_ok = testing::read_tcp_connections(testing::nvme_tcp_vectors_dir() + "/" + capture, 4420, &connections, &error);
  EXPECT_TRUE(read_ok);

  uint16_t our_cntlid = 0xffff;  // what our admin Connect answered: a host uses it for I/O queues
  for (auto& c : connections) {
    bool host_ok = false, ctrl_ok = false;
    std::vector<Pdu> host = testing::parse_pdus(c.to_server.bytes, &host_ok);
    std::vector<Pdu> theirs = testing::parse_pdus(c.to_client.bytes, &ctrl_ok);
    EXPECT_TRUE(host_ok && ctrl_ok);
    transport.open_connection();
    std::map<uint16_t, uint16_t> our_ttag;  // cid -> TTAG of our last R2T
    bool io_queue = false;
    size_t expected_answers = theirs.size();
    std::map<uint16_t, int> sent;  // commands sent per CID (AERs aside: they stay outstanding)
    for (Pdu p : host) {
      if (p.type == PduType::CapsuleCmd && !(p.sqe_opcode() == 0x0c && !io_queue)) {
        // A host reuses a command ID only once its command completed: wait for that.
        uint16_t cid = p.sqe_cid();
        int before = sent[cid]++;
        if (before > 0) {
          auto completed = [cid, before](const std::vector<Pdu>& pdus) {
            int n = 0;
            for (const Pdu& r : pdus)
              if ((r.type == PduType::CapsuleResp && r.cqe_cid() == cid) ||
                  (r.type == PduType::C2HData && r.data_cccid() == cid && (r.flags & kFlagSuccess)))
                ++n;
            return n >= before;
          };
          transport.answers(completed);
        }
      }
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
        uint16_t cid = p.data_cccid();
        auto seen_r2t = [cid](const std::vector<Pdu>& pdus) {
          return std::any_of(pdus.begin(), pdus.end(), [cid](const Pdu& r) { return r.type == PduType::R2T && r.data_cccid() == cid; });
        };
        for (const Pdu& r : testing::parse_pdus(transport.answers(seen_r2t), &ok))
          if (r.type == PduType::R2T) our_ttag[r.data_cccid()] = r.data_ttag();
        uint16_t ttag = our_ttag[p.data_cccid()];
        std::memcpy(p.bytes.data() + 10, &ttag, 2);
        if (p.has_header_digest()) {
          uint32_t crc = crc32c(p.bytes.data(), p.hlen);
          std::memcpy(p.bytes.data() + p.hlen, &crc, 4);
        }
      }
      transport.send(p.bytes);
      if (p.type == PduType::CapsuleCmd && p.sqe_opcode() == 0x7f && p.bytes[12] == 0x01 && !io_queue) {
        // The admin Connect's answer carries the controller ID the I/O queues need.
        auto answered = [](const std::vector<Pdu>& pdus) { return pdus.size() >= 2; };
        bool ok = false;
        auto now = testing::parse_pdus(transport.answers(answered), &ok);
        if (now.size() >= 2 && now[1].type == PduType::CapsuleResp) our_cntlid = static_cast<uint16_t>(now[1].u32(8));
      }
    }
    auto all_answered = [expected_answers](const std::vector<Pdu>& pdus) { return pdus.size() >= expected_answers; };
    bool ours_ok = false;
    std::vector<Pdu> ours = testing::parse_pdus(transport.answers(all_answered), &ours_ok);
    EXPECT_TRUE(!transport.closed());
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

ReplayResult replay(const std::string& capture) {
  Target target;
  testing::configure_captured_subsystem(target, std::make_shared<testing::MemoryNamespace>(64u << 20));
  InProcess transport(target);
  return replay(capture, transport);
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

namespace {

// The replayed host over a real loopback socket to a TcpTarget running in an engine.
class OverSocket final : public Transport {
 public:
  explicit OverSocket(uint16_t port) : port_(port) {}
  ~OverSocket() override {
    for (int fd : kept_) close(fd);
    if (fd_ >= 0) close(fd_);
  }
  void open_connection() override {
    // Earlier connections stay open: the admin queue outlives the I/O queues' Connects.
    if (fd_ >= 0) kept_.push_back(fd_);
    in_.clear();
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port_);
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
  }
  void send(const std::vector<uint8_t>& bytes) override {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }
  const std::vector<uint8_t>& answers(const std::function<bool(const std::vector<Pdu>&)>& ready) override {
    // Read until the answers satisfy `ready`, or nothing more comes for a while.
    for (int idle = 0; idle < 40;) {
      bool ok = false;
      if (ready(testing::parse_pdus(in_, &ok))) break;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) {
        ++idle;
        continue;
      }
      uint8_t buf[65536];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      in_.insert(in_.end(), buf, buf + n);
    }
    return in_;
  }
  bool closed() override { return closed_; }

 private:
  uint16_t port_;
  int fd_ = -1;
  std::vector<int> kept_;
  std::vector<uint8_t> in_;
  bool closed_ = false;
};

}  // namespace

NDS_TEST(nvmf_tcp_target_serves_the_captures_host_side_over_a_real_socket) {
  using nds::testing::run_on;
  EngineOptions options;
  options.memory_bytes = 128ull << 20;
  options.hugepages = HugepageMode::Off;
  std::unique_ptr<Engine> engine;
  std::string warning;
  ASSERT_TRUE(Engine::start(options, &engine, &warning).is_ok());
  Status created;
  run_on(engine->app_thread(), [&] {
    create_bdev_from_uri(engine->bdevs(), "malloc:///ns1?size_mb=64&blk_size=4096", [&](Status st, Bdev*) { created = st; });
  });
  ASSERT_TRUE(created.is_ok());
  // The engine's target: a subsystem like the captured one on a free loopback port.
  ListenerAddress via{"127.0.0.1", 0};
  Status configured;
  run_on(engine->app_thread(), [&] {
    TargetService& svc = engine->nvmf();
    SubsystemOptions sub;
    sub.nqn = "nqn.2016-06.io.spdk:cnode1";
    sub.serial = "SPDK00000000000001";
    sub.model = "SPDK_Anchor";
    sub.allow_any_host = true;
    configured = svc.create_subsystem(sub);
    if (configured.is_ok()) configured = svc.add_listener(sub.nqn, &via);
    NamespaceOptions ns;
    ns.bdev_name = "ns1";
    uint32_t nsid = 0;
    if (configured.is_ok()) configured = svc.add_namespace(sub.nqn, ns, &nsid);
  });
  ASSERT_TRUE(configured.is_ok());
  EXPECT_TRUE(via.port != 0);
  for (const char* capture : {"io-4k-nodigest.pcap", "io-4k-digest.pcap", "io-128k-digest.pcap"}) {
    OverSocket socket(via.port);
    ReplayResult r = replay(capture, socket);
    EXPECT_TRUE(r.reads_compared >= 3);
    EXPECT_EQ(r.mismatches, 0);
  }
  std::promise<void> stopped;
  engine->shutdown([&] { stopped.set_value(); });
  stopped.get_future().wait();
  engine->stop_reactors();
}
