// libFuzzer target over our NVMe/TCP host: the controller's bring-up, its queues and the
// nvmf bdev's I/O, against a hostile target on a real loopback socket. Each input makes
// one nvmf bdev, writes (in-capsule and by R2T), reads and flushes through it, and removes
// it. The target's bytes come from one of two places:
//   - mutate mode: our real target (a sans-IO Connection on a relay thread) answers, and
//     the input's edits (flip, set, delete a byte, or cut the connection at an offset of
//     the n-th connection's stream) damage what reaches the host;
//   - raw mode: the input itself, in records, one sent after each read from the host.
// Nothing may crash, hang, leak or trip a sanitizer. And with both digests negotiated
// intact, a read that succeeds must return the namespace's bytes: damage must be caught.
//
// With flag bit 3 the host connects as a host the subsystem holds DH-HMAC-CHAP keys for,
// with both keys (null DH group: fast), so the authentication answers are damaged too.
//
// Input: byte 0 = flags (bit 0 header digest, bit 1 data digest, bit 2 raw mode, bit 3
//   authenticate), then
//   mutate: 4-byte edits [offset lo, offset hi, op (bits 0-1 kind, 2-3 connection), value]
//   raw:    records [length][bytes...]
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "nvmf/auth/key_format.h"
#include "nvmf/target/connection.h"
#include "nvmf/target/target.h"
#include "test/loopback.h"
#include "test/nvmf_fixtures.h"
#include "test/run_on.h"

using namespace nds;
using namespace nds::nvmf;

namespace {

constexpr uint64_t kKnownOffset = 1u << 20;  // never written by the host: holds kKnown's bytes
constexpr uint32_t kKnownLength = 64u << 10;
constexpr size_t kIcRespLength = 128;
std::atomic<uint64_t> pdus{0};  // PDU frames sent to the host, damaged or not, over every input

struct Edit {
  uint32_t connection;
  uint32_t offset;
  uint8_t kind;  // 0 flip, 1 set, 2 delete `value % 8 + 1` bytes, 3 cut here
  uint8_t value;
};

struct Plan {
  bool raw = false;
  std::vector<Edit> edits;  // by connection, then offset
  std::vector<std::vector<uint8_t>> records;
};

// One connection from the host, served on the relay thread.
struct Served {
  int fd = -1;
  uint32_t index = 0;
  uint64_t sent = 0;  // bytes of the target's stream before edits
  size_t next_record = 0;
  bool damaged = false;  // an edit reached it: the host may wait for bytes that never come
  std::unique_ptr<Connection> target;
};

class Relay {
 public:
  Relay(Target& target, BufferSource& buffers) : target_(target), buffers_(buffers) {
    listen_fd_ = testing::listen_on_loopback(0, &port_);
    if (listen_fd_ < 0) {
      std::perror("relay listener");
      std::abort();
    }
    thread_ = std::thread([this] { run(); });
  }
  ~Relay() {
    stop_ = true;
    thread_.join();
    close_all();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }

  // Between inputs: drops every connection left and takes the next plan.
  void begin(Plan plan) {
    std::lock_guard lock(mutex_);
    close_all();
    plan_ = std::move(plan);
    accepted_ = 0;
    icresp_damaged_ = false;
  }
  bool icresp_damaged() {
    std::lock_guard lock(mutex_);
    return icresp_damaged_;
  }

 private:
  void close_all() {
    for (Served& s : served_) ::close(s.fd);
    served_.clear();  // the target's I/O is synchronous: nothing is in flight
  }

  void run() {
    std::vector<pollfd> fds;
    std::vector<uint8_t> buf(256u << 10);
    while (!stop_) {
      {
        std::lock_guard lock(mutex_);
        fds.assign(1, pollfd{listen_fd_, POLLIN, 0});
        for (Served& s : served_) fds.push_back(pollfd{s.fd, POLLIN, 0});
      }
      int ready = poll(fds.data(), fds.size(), 5);
      std::lock_guard lock(mutex_);
      if (ready <= 0) {
        // Quiet for a while: a damaged connection is ended rather than left for the
        // host's timeouts, so that each input takes milliseconds.
        std::erase_if(served_, [](Served& s) {
          if (s.damaged) ::close(s.fd);
          return s.damaged;
        });
        continue;
      }
      if (fds[0].revents & POLLIN) accept_one();
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        auto it = std::find_if(served_.begin(), served_.end(), [&](const Served& s) { return s.fd == fds[i].fd; });
        if (it == served_.end()) continue;  // closed by begin() meanwhile
        ssize_t n = recv(it->fd, buf.data(), buf.size(), 0);
        if (n <= 0 || !serve(*it, buf.data(), static_cast<size_t>(n))) {
          ::close(it->fd);
          served_.erase(it);
        }
      }
    }
  }

  void accept_one() {
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    Served s;
    s.fd = fd;
    s.index = accepted_++;
    // The captured target's listener, as the subsystem knows it.
    s.target = std::make_unique<Connection>(target_, testing::kCapturedListener, buffers_, nullptr);
    served_.push_back(std::move(s));
  }

  // false: the connection ends here.
  bool serve(Served& s, const uint8_t* data, size_t length) {
    if (plan_.raw) {
      if (s.index != 0 || s.next_record >= plan_.records.size()) return false;
      pdus.fetch_add(1, std::memory_order_relaxed);  // a raw record counts as one
      // Closed after the last record: the host sees the end at once.
      return testing::send_all(s.fd, plan_.records[s.next_record++]) && s.next_record < plan_.records.size();
    }
    s.target->receive(data, length);
    std::vector<uint8_t> out = s.target->output().take();
    pdus.fetch_add(testing::count_pdu_frames(out.data(), out.size()), std::memory_order_relaxed);  // whole PDUs
    bool cut = false;
    std::vector<uint8_t> edited;
    edited.reserve(out.size());
    const uint64_t start = s.sent;
    size_t skip = 0;
    auto edit = std::lower_bound(plan_.edits.begin(), plan_.edits.end(), std::make_pair(s.index, start),
                                 [](const Edit& e, const std::pair<uint32_t, uint64_t>& at) {
                                   return e.connection < at.first || (e.connection == at.first && e.offset < at.second);
                                 });
    for (size_t i = 0; i < out.size() && !cut; ++i) {
      uint8_t byte = out[i];
      bool dropped = false;
      for (; edit != plan_.edits.end() && edit->connection == s.index && edit->offset == start + i; ++edit) {
        if (start + i < kIcRespLength) icresp_damaged_ = true;
        s.damaged = true;
        switch (edit->kind) {
          case 0: byte ^= edit->value ? edit->value : 0xff; break;
          case 1: byte = edit->value; break;
          case 2: skip = std::max<size_t>(skip, edit->value % 8 + 1); break;
          default: cut = true; break;
        }
      }
      if (cut) break;
      if (skip > 0) {
        --skip;
        dropped = true;
      }
      if (!dropped) edited.push_back(byte);
    }
    s.sent += out.size();
    if (!edited.empty() && !testing::send_all(s.fd, edited)) return false;
    return !cut && !s.target->closed();
  }

  Target& target_;
  BufferSource& buffers_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  Plan plan_;
  uint32_t accepted_ = 0;
  bool icresp_damaged_ = false;
  std::vector<Served> served_;
};

std::unique_ptr<Engine> engine;
Target* target = nullptr;
BufferSource* buffers = nullptr;
Relay* relay = nullptr;
std::vector<uint8_t> known;  // what the namespace holds at kKnownOffset

Plan parse(const uint8_t* data, size_t size) {
  Plan plan;
  plan.raw = data[0] & 4;
  for (size_t at = 1; at < size;) {
    if (plan.raw) {
      size_t length = std::min<size_t>(data[at], size - at - 1);
      plan.records.emplace_back(data + at + 1, data + at + 1 + length);
      at += 1 + length;
    } else {
      if (size - at < 4) break;
      plan.edits.push_back(Edit{static_cast<uint32_t>((data[at + 2] >> 2) & 3), static_cast<uint32_t>(data[at] | data[at + 1] << 8),
                                static_cast<uint8_t>(data[at + 2] & 3), data[at + 3]});
      at += 4;
    }
  }
  std::stable_sort(plan.edits.begin(), plan.edits.end(), [](const Edit& a, const Edit& b) {
    return a.connection < b.connection || (a.connection == b.connection && a.offset < b.offset);
  });
  return plan;
}

void shut_down() {
  std::fprintf(stderr, "pdus: %llu\n", static_cast<unsigned long long>(pdus.load()));
  delete relay;
  relay = nullptr;
  if (engine) testing::stop_test_engine(*engine);
  engine.reset();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
const char* kAuthHost = "nqn.2026-12.io.nodestor:fuzz-auth-host";
std::string auth_query;  // the URI parameters of an authenticating host

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  engine = testing::start_test_engine(64ull << 20);
  if (!engine) std::abort();
  auto ns = std::make_shared<testing::MemoryNamespace>(4u << 20);
  known.resize(kKnownLength);
  for (size_t i = 0; i < known.size(); ++i) known[i] = static_cast<uint8_t>(i * 131 + 7);
  std::memcpy(ns->data().data() + kKnownOffset, known.data(), known.size());
  target = new Target;
  testing::configure_captured_subsystem(*target, ns);
  auth::SecretBytes key(32);
  for (size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<uint8_t>(i * 11 + 3);
  auto keys = std::make_shared<auth::DhchapKeys>();
  keys->host.hash = 1;
  keys->host.key = key;
  keys->has_ctrl = true;
  keys->ctrl.hash = 0;
  keys->ctrl.key = key;
  target->set_host_keys("nqn.2016-06.io.spdk:cnode1", kAuthHost, keys);
  auth_query = std::string("&hostnqn=") + kAuthHost + "&dhchap_dhgroups=null&dhchap_key=" + auth::format_dhchap_secret(1, key) +
               "&dhchap_ctrlr_key=" + auth::format_dhchap_secret(0, key);
  buffers = new HeapBuffers;
  relay = new Relay(*target, *buffers);
  std::atexit(shut_down);
  // One authenticated connection before fuzzing starts: OpenSSL sets up its per-thread state
  // (random generators) on first use in each thread, held where LeakSanitizer's per-input
  // check cannot see it; done here, no input is blamed for it.
  const uint8_t warm_up[] = {0x0b};
  LLVMFuzzerTestOneInput(warm_up, sizeof warm_up);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool hdgst = data[0] & 1, ddgst = data[0] & 2;
  Plan plan = parse(data, size);
  const bool raw = plan.raw;
  relay->begin(std::move(plan));
  // Short limits: every wait the target can cause ends within a fraction of a second.
  std::string uri = "nvmf://127.0.0.1:" + std::to_string(relay->port()) + "/nqn.2016-06.io.spdk:cnode1?name=fz&hdgst=" +
                    std::to_string(hdgst) + "&ddgst=" + std::to_string(ddgst) +
                    "&ctrl_loss_timeout_ms=0&reconnect_delay_ms=1&connect_timeout_ms=100&keep_alive_ms=2000&io_timeout_ms=50" +
                    (data[0] & 8 ? auth_query : std::string());
  if (!testing::create_bdev(*engine, uri).is_ok()) return 0;
  void* small = engine->dma().alloc(4096);
  void* big = engine->dma().alloc(kKnownLength);
  std::memset(small, 0x5a, 4096);
  std::memset(big, 0xa5, kKnownLength);
  testing::run_io(*engine, "fz", IoType::Write, 0, 4096, small);            // in the capsule
  testing::run_io(*engine, "fz", IoType::Write, 65536, kKnownLength, big);  // by R2T
  std::memset(big, 0, kKnownLength);
  int rc = testing::run_io(*engine, "fz", IoType::Read, kKnownOffset, kKnownLength, big);
  if (rc == 0 && !raw && hdgst && ddgst && !relay->icresp_damaged() && std::memcmp(big, known.data(), kKnownLength) != 0) {
    std::fprintf(stderr, "a read with both digests on succeeded with damaged data\n");
    std::abort();
  }
  testing::run_io(*engine, "fz", IoType::Read, 0, 4096, small);
  testing::run_io(*engine, "fz", IoType::Flush, 0, 0, nullptr);
  engine->dma().free(small);
  engine->dma().free(big);
  Status st = testing::remove_bdev(*engine, "fz");
  if (!st.is_ok()) {
    std::fprintf(stderr, "removing the bdev failed: %s\n", st.message.c_str());
    std::abort();
  }
  return 0;
}
