// Replays the target side of each real capture against our host. A scripted target on a
// real socket answers every command our host sends with the captured target's PDUs for
// the same command (same opcode and parameters; I/O by LBA and length), re-stamped with
// our command identifier (and header digest). Our host must accept the real target's
// ICResp, Connect, property and Identify answers, follow its R2Ts, take its C2HData
// (including the SUCCESS flag that replaces a CapsuleResp) and check its digests. The test
// then compares what our host sent with what the captured host sent (in-capsule write
// data, H2CData) and what our host read with what the captured target returned.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include "bdev/bdev_factory.h"
#include "engine.h"
#include "nvmf/host/host_controller.h"
#include "nvmf/wire/nvme_spec.h"
#include "test/nvmf_fixtures.h"
#include "test/pcap.h"
#include "test/loopback.h"
#include "test/run_on.h"
#include "test/testing.h"
#include "util/crc32c.h"

using namespace nds;
using namespace nds::nvmf;
using namespace nds::nvmf::spec;

namespace {

// One captured command and everything the captured target answered to it.
// What makes two commands "the same" for this replay, whoever sent them.
using Key = std::tuple<bool, uint8_t, uint64_t, uint64_t>;

struct Exchange {
  Key key;
  bool io_queue = false;
  uint8_t opcode = 0;
  uint64_t slba = 0;
  uint32_t blocks = 0;
  std::vector<uint8_t> in_capsule;  // write data sent inside the capsule
  std::vector<uint8_t> h2c;         // write data the captured host sent for R2Ts, by offset
  std::vector<uint8_t> c2h;         // read data the captured target returned, by offset
  std::vector<Pdu> answers;         // R2T, C2HData, CapsuleResp: in the order sent
};

const uint8_t* sqe_of(const Pdu& p) { return p.bytes.data() + 8; }
uint16_t le16(const uint8_t* at) { return static_cast<uint16_t>(at[0] | at[1] << 8); }
uint32_t le32(const uint8_t* at) { return le16(at) | static_cast<uint32_t>(le16(at + 2)) << 16; }
uint64_t le64(const uint8_t* at) { return le32(at) | static_cast<uint64_t>(le32(at + 4)) << 32; }

Key key_of(const uint8_t* sqe, bool io_queue) {
  uint8_t opcode = sqe[0];
  uint32_t cdw10 = le32(sqe + 40);
  if (io_queue) {
    if (opcode == kOpRead || opcode == kOpWrite) return {true, opcode, le64(sqe + 40), le16(sqe + 48)};
    return {true, opcode, 0, 0};
  }
  switch (opcode) {
    case kOpFabrics:
      if (sqe[4] == kFabricsConnect) return {false, opcode, sqe[4], le16(sqe + 42) != 0};
      return {false, opcode, sqe[4], le32(sqe + 44)};  // property offset
    case kOpIdentify: return {false, opcode, cdw10 & 0xff, le32(sqe + 4)};
    case kOpGetLogPage: return {false, opcode, cdw10 & 0xff, (cdw10 >> 16) | (le32(sqe + 44) & 0xffff) << 16};  // LID, NUMD
    case kOpSetFeatures:
    case kOpGetFeatures: return {false, opcode, cdw10 & 0xff, 0};
    default: return {false, opcode, 0, 0};
  }
}

std::string describe(const Key& k) {
  return std::string(std::get<0>(k) ? "io" : "admin") + " opcode 0x" + std::to_string(std::get<1>(k)) + " (" +
         std::to_string(std::get<2>(k)) + ", " + std::to_string(std::get<3>(k)) + ")";
}

void place(std::vector<uint8_t>* into, uint32_t offset, const uint8_t* data, uint32_t length) {
  if (into->size() < offset + length) into->resize(offset + length);
  std::memcpy(into->data() + offset, data, length);
}

struct Capture {
  std::vector<uint8_t> icresp;  // the captured target's ICResp, verbatim
  uint8_t digests = 0;          // what the captured host asked for (bit 0 header, bit 1 data)
  std::vector<Exchange> exchanges;
};

Capture load(const std::string& name) {
  Capture out;
  std::vector<testing::TcpConnection> connections;
  std::string error;
  EXPECT_TRUE(testing::read_tcp_connections(testing::nvme_tcp_vectors_dir() + "/" + name, 4420, &connections, &error));
  for (auto& c : connections) {
    bool host_ok = false, target_ok = false;
    std::vector<Pdu> host = testing::parse_pdus(c.to_server.bytes, &host_ok);
    std::vector<Pdu> target = testing::parse_pdus(c.to_client.bytes, &target_ok);
    EXPECT_TRUE(host_ok && target_ok);
    if (host.empty() || target.empty()) continue;
    if (out.icresp.empty()) {
      out.icresp = target[0].bytes;
      out.digests = host[0].bytes[11] & 3;
    }
    bool io_queue = false;
    std::map<uint16_t, std::deque<size_t>> open;  // cid -> exchanges awaiting answers, in host order
    std::map<uint16_t, size_t> latest;             // cid -> the last command sent with it
    for (const Pdu& p : host) {
      if (p.type == PduType::CapsuleCmd) {
        const uint8_t* sqe = sqe_of(p);
        if (sqe[0] == kOpFabrics && sqe[4] == kFabricsConnect) io_queue = le16(sqe + 42) != 0;
        Exchange e;
        e.key = key_of(sqe, io_queue);
        e.io_queue = io_queue;
        e.opcode = sqe[0];
        e.slba = le64(sqe + 40);
        e.blocks = le16(sqe + 48) + 1u;
        if (io_queue && e.opcode == kOpWrite) e.in_capsule.assign(p.data(), p.data() + p.data_length);
        out.exchanges.push_back(std::move(e));
        open[p.sqe_cid()].push_back(out.exchanges.size() - 1);
        latest[p.sqe_cid()] = out.exchanges.size() - 1;
      } else if (p.type == PduType::H2CData && latest.count(p.data_cccid())) {
        place(&out.exchanges[latest[p.data_cccid()]].h2c, p.data_datao(), p.data(), p.data_length);
      }
    }
    for (const Pdu& p : target) {
      if (p.type == PduType::ICResp) continue;
      uint16_t cid = p.type == PduType::CapsuleResp ? p.cqe_cid() : p.data_cccid();
      auto& waiting = open[cid];
      if (waiting.empty()) continue;
      Exchange& e = out.exchanges[waiting.front()];
      e.answers.push_back(p);
      if (p.type == PduType::C2HData) place(&e.c2h, p.data_datao(), p.data(), p.data_length);
      if (p.type == PduType::CapsuleResp || (p.type == PduType::C2HData && (p.flags & kFlagSuccess))) waiting.pop_front();
    }
  }
  return out;
}

// A captured answer as this connection must send it: our command ID, a fresh header digest.
std::vector<uint8_t> restamp(const Pdu& p, uint16_t cid) {
  std::vector<uint8_t> bytes = p.bytes;
  size_t at = p.type == PduType::CapsuleResp ? 8 + 12 : 8;
  bytes[at] = static_cast<uint8_t>(cid);
  bytes[at + 1] = static_cast<uint8_t>(cid >> 8);
  if (p.has_header_digest()) {
    uint32_t crc = crc32c(bytes.data(), p.hlen);
    std::memcpy(bytes.data() + p.hlen, &crc, 4);
  }
  return bytes;
}

// The scripted target: a listener on loopback, a thread per connection.
class ScriptedTarget {
 public:
  explicit ScriptedTarget(const Capture& capture) : capture_(capture) {
    for (const Exchange& e : capture.exchanges) {
      if (e.answers.empty()) continue;  // never answered (an AER still outstanding)
      script_[e.key].push_back(&e);
    }
    listen_fd_ = testing::listen_on_loopback(0, &port_);
    EXPECT_TRUE(listen_fd_ >= 0);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~ScriptedTarget() {
    stop_ = true;
    acceptor_.join();
    for (auto& t : connections_) t.join();
    close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> problems() {
    std::lock_guard lock(mutex_);
    return problems_;
  }
  int answered() const { return answered_; }

 private:
  struct Active {
    const Exchange* exchange;
    size_t next = 0;          // the next answer to send
    uint32_t awaiting = 0;    // H2CData bytes still due for the last R2T
  };

  void problem(std::string what) {
    std::lock_guard lock(mutex_);
    problems_.push_back(std::move(what));
  }

  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd >= 0) connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  // Sends the exchange's answers up to and including the next R2T (then waits for data).
  void advance(int fd, uint16_t cid, Active& a) {
    while (a.next < a.exchange->answers.size()) {
      const Pdu& answer = a.exchange->answers[a.next++];
      testing::send_all(fd, restamp(answer, cid));
      if (answer.type == PduType::R2T) {
        a.awaiting = answer.data_datal();
        return;
      }
    }
    ++answered_;
  }

  const Exchange* next_for(const Key& key) {
    std::lock_guard lock(mutex_);
    auto it = script_.find(key);
    if (it == script_.end() || it->second.empty()) return nullptr;
    const Exchange* e = it->second.front();
    if (it->second.size() > 1) it->second.pop_front();  // the last one answers repeats (CSTS polls)
    return e;
  }

  void serve(int fd) {
    PduReader reader;
    bool io_queue = false;
    std::map<uint16_t, Active> active;
    uint8_t buf[65536];
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      reader.feed(buf, static_cast<size_t>(n));
      Pdu pdu;
      while (reader.next(&pdu)) {
        if (pdu.type == PduType::ICReq) {
          if ((pdu.bytes[11] & 3) != capture_.digests) problem("our host asked for other digests than the captured host");
          testing::send_all(fd, capture_.icresp);
          reader.set_digests(capture_.digests & 1, capture_.digests & 2);
        } else if (pdu.type == PduType::CapsuleCmd) {
          const uint8_t* sqe = sqe_of(pdu);
          if (sqe[0] == kOpFabrics && sqe[4] == kFabricsConnect) io_queue = le16(sqe + 42) != 0;
          if (!io_queue && sqe[0] == kOpAsyncEventRequest) continue;  // stays outstanding, as there
          Key key = key_of(sqe, io_queue);
          const Exchange* e = next_for(key);
          if (!e) {
            problem("no captured answer for " + describe(key));
            continue;
          }
          if (io_queue && sqe[0] == kOpWrite && !e->in_capsule.empty() &&
              std::vector<uint8_t>(pdu.data(), pdu.data() + pdu.data_length) != e->in_capsule)
            problem("in-capsule write data differs from the captured host's at " + describe(key));
          Active& a = active[pdu.sqe_cid()];
          a = Active{e};
          advance(fd, pdu.sqe_cid(), a);
        } else if (pdu.type == PduType::H2CData) {
          auto it = active.find(pdu.data_cccid());
          if (it == active.end() || it->second.awaiting < pdu.data_length) {
            problem("H2CData nobody asked for");
            continue;
          }
          const Exchange& e = *it->second.exchange;
          if (pdu.data_datao() + pdu.data_length > e.h2c.size() ||
              std::memcmp(e.h2c.data() + pdu.data_datao(), pdu.data(), pdu.data_length) != 0)
            problem("H2CData differs from the captured host's at LBA " + std::to_string(e.slba));
          it->second.awaiting -= pdu.data_length;
          if (it->second.awaiting == 0) advance(fd, pdu.data_cccid(), it->second);
        } else {
          problem(std::string("unexpected PDU from our host: ") + pdu_type_name(pdu.type));
        }
      }
      if (reader.error()) {
        problem("our host sent a malformed PDU: " + reader.error()->message);
        break;
      }
    }
    close(fd);
  }

  const Capture& capture_;
  std::map<Key, std::deque<const Exchange*>> script_;
  std::mutex mutex_;
  std::vector<std::string> problems_;
  std::atomic<int> answered_{0};
  std::atomic<bool> stop_{false};
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

}  // namespace

namespace {

struct Engine1 {
  std::unique_ptr<Engine> engine;
  Engine1() {
    engine = testing::start_test_engine(64ull << 20);
    EXPECT_TRUE(engine != nullptr);
  }
  ~Engine1() {
    if (engine) testing::stop_test_engine(*engine);
  }
};

void report(const std::string& capture, const std::vector<std::string>& problems) {
  for (const std::string& p : problems) std::printf("  %s: %s\n", capture.c_str(), p.c_str());
}

// Our host connects to the scripted target, then does the captured host's I/O in the
// same order; reads must return what the captured target sent.
void replay_io(const std::string& name) {
  Capture capture = load(name);
  ASSERT_TRUE(!capture.icresp.empty());
  ScriptedTarget target(capture);
  int reads = 0, writes = 0, read_mismatches = 0, failed = 0;
  {
    Engine1 e;
    ASSERT_TRUE(e.engine != nullptr);
    std::string uri = "nvmf://127.0.0.1:" + std::to_string(target.port()) +
                      "/nqn.2016-06.io.spdk:cnode1?keep_alive_ms=0&ctrl_loss_timeout_ms=0&name=remote";
    if (capture.digests & 1) uri += "&hdgst=1";
    if (capture.digests & 2) uri += "&ddgst=1";
    std::promise<Status> created;
    testing::run_on(e.engine->app_thread(), [&] {
      create_bdev_from_uri(e.engine->bdevs(), uri, [&](Status st, Bdev*) { created.set_value(st); });
    });
    Status st = created.get_future().get();
    if (!st.is_ok()) std::printf("  %s: %s\n", name.c_str(), st.message.c_str());
    EXPECT_TRUE(st.is_ok());
    for (const Exchange& x : capture.exchanges) {
      if (!st.is_ok() || !x.io_queue || x.answers.empty() || (x.opcode != kOpRead && x.opcode != kOpWrite)) continue;
      const uint64_t offset = x.slba * 4096, length = x.blocks * 4096ull;
      if (x.opcode == kOpWrite) {
        std::vector<uint8_t> data = x.in_capsule.empty() ? x.h2c : x.in_capsule;
        EXPECT_EQ(data.size(), length);
        data.resize(length);
        failed += testing::run_io(*e.engine, "remote", IoType::Write, offset, length, data.data()) != 0;
        ++writes;
      } else {
        std::vector<uint8_t> data(length);
        failed += testing::run_io(*e.engine, "remote", IoType::Read, offset, length, data.data()) != 0;
        read_mismatches += data != x.c2h;
        ++reads;
      }
    }
  }
  int captured_io = 0;
  for (const Exchange& x : capture.exchanges)
    captured_io += x.io_queue && !x.answers.empty() && (x.opcode == kOpRead || x.opcode == kOpWrite);
  std::vector<std::string> problems = target.problems();
  report(name, problems);
  std::printf("  %s: %d writes, %d reads (%d captured I/Os), %d commands answered\n", name.c_str(), writes, reads,
              captured_io, target.answered());
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(read_mismatches, 0);
  EXPECT_EQ(reads + writes, captured_io);
  EXPECT_TRUE(reads > 0 && writes > 0);
}

}  // namespace

NDS_TEST(nvmf_host_replay_io_4k_without_digests_against_the_captured_target) { replay_io("io-4k-nodigest.pcap"); }
NDS_TEST(nvmf_host_replay_io_4k_with_digests_against_the_captured_target) { replay_io("io-4k-digest.pcap"); }
NDS_TEST(nvmf_host_replay_io_128k_r2t_and_c2h_data_from_the_captured_target) { replay_io("io-128k-digest.pcap"); }

NDS_TEST(nvmf_host_replay_discovery_against_the_captured_target) {
  Capture capture = load("discover.pcap");
  ASSERT_TRUE(!capture.icresp.empty());
  ScriptedTarget target(capture);
  Status status;
  std::vector<DiscoveryEntry> entries;
  {
    Engine1 e;
    ASSERT_TRUE(e.engine != nullptr);
    std::promise<void> done;
    testing::run_on(e.engine->app_thread(), [&] {
      discover(e.engine->app_thread(), "127.0.0.1", target.port(), "nqn.2014-08.org.nvmexpress:uuid:replay",
               [&](Status st, std::vector<DiscoveryEntry> found) {
                 status = st;
                 entries = std::move(found);
                 done.set_value();
               });
    });
    done.get_future().wait();
  }
  report("discover.pcap", target.problems());
  EXPECT_TRUE(status.is_ok());
  EXPECT_TRUE(target.problems().empty());
  // What discover.txt shows the captured host printed from the same answers.
  ASSERT_TRUE(entries.size() == 2);
  EXPECT_EQ(entries[0].subtype, std::string("discovery-current"));
  EXPECT_EQ(entries[0].subnqn, std::string("nqn.2014-08.org.nvmexpress.discovery"));
  EXPECT_EQ(entries[1].subtype, std::string("nvme"));
  EXPECT_EQ(entries[1].subnqn, std::string("nqn.2016-06.io.spdk:cnode1"));
  for (const DiscoveryEntry& d : entries) {
    EXPECT_EQ(d.transport, std::string("tcp"));
    EXPECT_EQ(d.family, std::string("ipv4"));
    EXPECT_EQ(d.address, std::string("127.0.0.1"));
    EXPECT_EQ(d.service, std::string("4420"));
    EXPECT_EQ(d.portid, 0);
    EXPECT_EQ(d.cntlid, 0xffff);
  }
}
