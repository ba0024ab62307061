// Our NVMe/TCP host against our target, in one engine over loopback: data written through
// the remote bdev reads back on the local one and the other way, with and without digests,
// for I/O larger than one command; allowlist refusal; discovery; a namespace removed under
// a connected host; a listener going away and coming back (reconnect), and staying away
// (the bdev is gone); keep-alive expiry on the target.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <random>
#include <thread>

#include "bdev/bdev_factory.h"
#include "bdev/error/error_bdev.h"
#include "engine.h"
#include "nvmf/host/host_controller.h"
#include "nvmf/wire/nvme_spec.h"
#include "nvmf/wire/socket_address.h"
#include "test/loopback.h"
#include "test/run_on.h"
#include "test/testing.h"

using namespace nds;
using namespace nds::nvmf;
using nds::testing::run_io;
using nds::testing::run_on;

namespace {

const std::string kNqn = "nqn.2026-11.io.nodestor:e2e";
const std::string kHostA = "nqn.2026-11.io.nodestor:host-a";
const std::string kHostB = "nqn.2026-11.io.nodestor:host-b";

struct Fixture {
  std::unique_ptr<Engine> engine;
  ListenerAddress via{"127.0.0.1", 0};

  Fixture() {
    EngineOptions options;
    options.memory_bytes = 128ull << 20;
    options.hugepages = HugepageMode::Off;
    std::string warning;
    EXPECT_TRUE(Engine::start(options, &engine, &warning).is_ok());
    EXPECT_TRUE(create("malloc:///m0?size_mb=16").is_ok());
    Status st;
    run_on(engine->app_thread(), [&] {
      auto& svc = engine->nvmf();
      SubsystemOptions sub;
      sub.nqn = kNqn;
      sub.hosts = {kHostA};
      st = svc.create_subsystem(sub);
      if (st.is_ok()) st = svc.add_listener(kNqn, &via);
      NamespaceOptions ns;
      ns.bdev_name = "m0";
      uint32_t nsid = 0;
      if (st.is_ok()) st = svc.add_namespace(kNqn, ns, &nsid);
    });
    EXPECT_TRUE(st.is_ok());
  }
  ~Fixture() { testing::stop_test_engine(*engine); }
  Status create(const std::string& uri) { return testing::create_bdev(*engine, uri); }
  std::string remote(const std::string& name, const std::string& extra = "") {
    return "nvmf://127.0.0.1:" + std::to_string(via.port) + "/" + kNqn + "?hostnqn=" + kHostA + "&name=" + name + extra;
  }
  Bdev* find(const std::string& name) {
    Bdev* b = nullptr;
    run_on(engine->app_thread(), [&] { b = engine->bdevs().find(name); });
    return b;
  }
  void* buffer(size_t n) { return engine->dma().alloc(n); }
};

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

bool wait_until(const std::function<bool()>& cond, int ms) {
  for (int i = 0; i < ms / 10; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

// Writes through `writer`, reads through `reader`, compares.
void round_trip(Fixture& f, const std::string& writer, const std::string& reader, uint64_t offset, size_t length,
                uint32_t seed) {
  auto data = pattern(length, seed);
  void* w = f.buffer(length);
  void* r = f.buffer(length);
  std::memcpy(w, data.data(), length);
  std::memset(r, 0, length);
  EXPECT_EQ(run_io(*f.engine, writer, IoType::Write, offset, length, w), 0);
  EXPECT_EQ(run_io(*f.engine, reader, IoType::Read, offset, length, r), 0);
  EXPECT_TRUE(std::memcmp(r, data.data(), length) == 0);
  f.engine->dma().free(w);
  f.engine->dma().free(r);
}

}  // namespace

NDS_TEST(nvmf_host_reads_and_writes_through_our_target_with_and_without_digests) {
  Fixture f;
  ASSERT_TRUE(f.create(f.remote("r0")).is_ok());
  Bdev* r0 = f.find("r0");
  Bdev* m0 = f.find("m0");
  ASSERT_TRUE(r0 && m0);
  EXPECT_EQ(r0->block_size(), m0->block_size());
  EXPECT_EQ(r0->num_blocks(), m0->num_blocks());
  EXPECT_TRUE(r0->uuid().bytes == m0->uuid().bytes);  // the namespace UUID is the bdev's
  round_trip(f, "r0", "m0", 0, 4096, 1);                // in-capsule write
  round_trip(f, "m0", "r0", 8192, 4096, 2);
  round_trip(f, "r0", "m0", 1 << 20, 128 * 1024, 3);    // R2T + H2CData, one C2HData
  round_trip(f, "r0", "r0", 3 << 20, 1 << 20, 4);       // split into 128 KiB commands
  // Write zeroes and unmap reach the namespace.
  void* zero = f.buffer(4096);
  EXPECT_EQ(run_io(*f.engine, "r0", IoType::WriteZeroes, 1 << 20, 4096, nullptr), 0);
  EXPECT_EQ(run_io(*f.engine, "m0", IoType::Read, 1 << 20, 4096, zero), 0);
  EXPECT_TRUE(std::all_of(static_cast<uint8_t*>(zero), static_cast<uint8_t*>(zero) + 4096, [](uint8_t b) { return b == 0; }));
  EXPECT_EQ(run_io(*f.engine, "r0", IoType::Flush, 0, 0, nullptr), 0);
  // Out of range is refused by the bdev layer before it reaches the wire.
  EXPECT_EQ(run_io(*f.engine, "r0", IoType::Read, 16 << 20, 4096, zero), -EINVAL);
  f.engine->dma().free(zero);

  ASSERT_TRUE(f.create(f.remote("r1", "&hdgst=1&ddgst=1")).is_ok());
  round_trip(f, "r1", "m0", 5 << 20, 64 * 1024, 5);
  round_trip(f, "m0", "r1", 6 << 20, 128 * 1024, 6);
}

NDS_TEST(nvmf_host_refusals_carry_clear_errors) {
  Fixture f;
  std::string base = "nvmf://127.0.0.1:" + std::to_string(f.via.port) + "/";
  Status st = f.create(base + kNqn + "?hostnqn=" + kHostB + "&name=x");
  EXPECT_EQ(st.rc, -EACCES);  // not on the allowlist
  st = f.create(base + "nqn.2026-11.io.nodestor:nothing?hostnqn=" + kHostA + "&name=y");
  EXPECT_EQ(st.rc, -ENOENT);
  st = f.create("nvmf://127.0.0.1:1/" + kNqn + "?name=z");
  EXPECT_EQ(st.rc, -ECONNREFUSED);
  EXPECT_EQ(f.create(f.remote("w", "&bogus=1")).rc, -EINVAL);
  EXPECT_EQ(f.create("nvmf://not-an-address:4420/" + kNqn).rc, -EINVAL);
  EXPECT_EQ(f.create(f.remote("v", "&nsid=9")).rc, -ENOENT);  // no such namespace
  EXPECT_TRUE(f.find("x") == nullptr && f.find("y") == nullptr && f.find("z") == nullptr);
}

NDS_TEST(nvmf_discovery_lists_what_the_host_may_reach) {
  Fixture f;
  auto run = [&](const std::string& host) {
    std::promise<std::pair<Status, std::vector<DiscoveryEntry>>> got;
    run_on(f.engine->app_thread(), [&] {
      discover(f.engine->app_thread(), "127.0.0.1", f.via.port, host,
               [&](Status st, std::vector<DiscoveryEntry> e) { got.set_value({st, std::move(e)}); });
    });
    return got.get_future().get();
  };
  auto [st, entries] = run(kHostA);
  ASSERT_TRUE(st.is_ok());
  ASSERT_TRUE((entries.size()) == (2u));
  EXPECT_EQ(entries[0].subtype, std::string("discovery-current"));
  EXPECT_EQ(entries[1].subtype, std::string("nvme"));
  EXPECT_EQ(entries[1].subnqn, kNqn);
  EXPECT_EQ(entries[1].address, std::string("127.0.0.1"));
  EXPECT_EQ(entries[1].service, std::to_string(f.via.port));
  EXPECT_EQ(entries[1].transport, std::string("tcp"));
  auto [st2, others] = run(kHostB);  // not allowed on the subsystem: only discovery itself
  ASSERT_TRUE(st2.is_ok());
  EXPECT_EQ(others.size(), 1u);
}

NDS_TEST(nvmf_host_sees_namespace_removal_and_reports_gone) {
  Fixture f;
  ASSERT_TRUE(f.create(f.remote("r0")).is_ok());
  round_trip(f, "r0", "m0", 0, 4096, 7);
  std::promise<Status> removed;
  run_on(f.engine->app_thread(), [&] { f.engine->nvmf().remove_namespace(kNqn, 1, [&](Status st) { removed.set_value(st); }); });
  EXPECT_TRUE(removed.get_future().get().is_ok());
  Bdev* r0 = f.find("r0");
  EXPECT_TRUE(wait_until([&] { return r0->gone(); }, 3000));  // the namespace-attribute AEN
  void* buf = f.buffer(4096);
  EXPECT_EQ(run_io(*f.engine, "r0", IoType::Read, 0, 4096, buf), -ENODEV);
  f.engine->dma().free(buf);
  // The local bdev is free again: nothing holds it.
  std::promise<Status> destroyed;
  run_on(f.engine->app_thread(), [&] { f.engine->bdevs().remove("m0", [&](Status st) { destroyed.set_value(st); }); });
  EXPECT_TRUE(destroyed.get_future().get().is_ok());
}

NDS_TEST(nvmf_host_reconnects_when_the_listener_returns_and_is_gone_when_it_does_not) {
  Fixture f;
  ASSERT_TRUE(f.create(f.remote("r0", "&ctrl_loss_timeout_ms=5000&reconnect_delay_ms=50")).is_ok());
  round_trip(f, "r0", "m0", 0, 4096, 8);
  Status st;
  run_on(f.engine->app_thread(), [&] { st = f.engine->nvmf().remove_listener(kNqn, f.via); });
  ASSERT_TRUE(st.is_ok());
  Bdev* r0 = f.find("r0");
  EXPECT_TRUE(wait_until([&] { return r0->health().state == BdevHealth::Reconnecting; }, 2000));
  // An I/O issued while disconnected waits, then completes once the listener is back.
  auto data = pattern(4096, 9);
  void* w = f.buffer(4096);
  std::memcpy(w, data.data(), 4096);
  auto pending = std::async(std::launch::async, [&] { return run_io(*f.engine, "r0", IoType::Write, 65536, 4096, w); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ListenerAddress again = f.via;
  run_on(f.engine->app_thread(), [&] { st = f.engine->nvmf().add_listener(kNqn, &again); });
  ASSERT_TRUE(st.is_ok());
  EXPECT_EQ(pending.get(), 0);
  EXPECT_EQ(r0->health().state, BdevHealth::Online);
  EXPECT_EQ(r0->health().reason, "");
  void* r = f.buffer(4096);
  EXPECT_EQ(run_io(*f.engine, "m0", IoType::Read, 65536, 4096, r), 0);
  EXPECT_TRUE(std::memcmp(r, data.data(), 4096) == 0);

  // A second bdev with a short loss timeout; the listener goes for good.
  ASSERT_TRUE(f.create(f.remote("r1", "&ctrl_loss_timeout_ms=300&reconnect_delay_ms=50")).is_ok());
  run_on(f.engine->app_thread(), [&] { st = f.engine->nvmf().remove_listener(kNqn, f.via); });
  Bdev* r1 = f.find("r1");
  EXPECT_TRUE(wait_until([&] { return r1->gone(); }, 3000));
  EXPECT_EQ(run_io(*f.engine, "r1", IoType::Read, 0, 4096, r), -ENODEV);
  f.engine->dma().free(w);
  f.engine->dma().free(r);
}

NDS_TEST(nvmf_target_ends_a_controller_whose_keep_alive_expires) {
  Fixture f;
  // A raw host: IC, then an admin Connect with a 200 ms keep-alive timeout, then silence.
  SocketAddress sa;
  ASSERT_TRUE(resolve_numeric("127.0.0.1", f.via.port, &sa).is_ok());
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_TRUE((connect(fd, sa.get(), sa.length)) == (0));
  std::vector<uint8_t> out;
  uint8_t ic[kICLength] = {};
  append_pdu(&out, PduType::ICReq, 0, ic, kICLength, nullptr, 0);
  uint8_t cmd[kCapsuleCmdHeaderLength] = {};
  cmd[8] = spec::kOpFabrics;
  cmd[12] = spec::kFabricsConnect;
  spec::put16(cmd + 8 + 44, 31);
  spec::put32(cmd + 8 + 48, 200);
  std::vector<uint8_t> data(1024, 0);
  spec::put16(data.data() + 16, 0xffff);
  std::memcpy(data.data() + 256, kNqn.data(), kNqn.size());
  std::memcpy(data.data() + 512, kHostA.data(), kHostA.size());
  append_pdu(&out, PduType::CapsuleCmd, 0, cmd, kCapsuleCmdHeaderLength, data.data(), 1024);
  ASSERT_TRUE((send(fd, out.data(), out.size(), 0)) == (static_cast<ssize_t>(out.size())));
  auto start = std::chrono::steady_clock::now();
  uint8_t buf[4096];
  size_t got = 0;
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() - start < std::chrono::seconds(3)) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) closed = true;
    else got += static_cast<size_t>(n);
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(closed);
  EXPECT_TRUE(got >= kICLength + kCapsuleRespHeaderLength);  // ICResp and the Connect answer came first
  EXPECT_TRUE(elapsed >= 190);
  close(fd);
}

NDS_TEST(nvmf_host_times_out_commands_the_target_does_not_answer) {
  Fixture f;
  ASSERT_TRUE(f.create("malloc:///m1?size_mb=4&blk_size=4096").is_ok());
  ASSERT_TRUE(f.create("error:///slow?base=m1").is_ok());
  Status st;
  uint32_t nsid = 0;
  run_on(f.engine->app_thread(), [&] {
    NamespaceOptions ns;
    ns.bdev_name = "slow";
    st = f.engine->nvmf().add_namespace(kNqn, ns, &nsid);
  });
  ASSERT_TRUE(st.is_ok());
  EXPECT_TRUE(f.create(f.remote("r", "&io_timeout_ms=bad")).rc == -EINVAL);
  ASSERT_TRUE(f.create(f.remote("r", "&nsid=" + std::to_string(nsid) + "&io_timeout_ms=100")).is_ok());
  round_trip(f, "r", "slow", 0, 4096, 7);

  // The target holds every read for 1.5 s: each attempt times out after 100 ms, the queue
  // reconnects, the read goes again, and after the third timeout it fails.
  ErrorInjection hold;
  hold.io_types = 1u << static_cast<int>(IoType::Read);
  hold.mode = InjectMode::Delay;
  hold.latency_us = 1'500'000;
  EXPECT_TRUE(error_bdev_inject(f.find("slow"), hold).is_ok());
  void* buf = f.buffer(4096);
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(run_io(*f.engine, "r", IoType::Read, 0, 4096, buf), -ETIMEDOUT);
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(waited >= std::chrono::milliseconds(300));
  EXPECT_TRUE(waited < std::chrono::milliseconds(1500));

  // The target answers again: the same bdev works, nothing was lost, it is not gone.
  EXPECT_TRUE(error_bdev_clear(f.find("slow")).is_ok());
  round_trip(f, "slow", "r", 8192, 4096, 8);
  EXPECT_TRUE(!f.find("r")->gone());
  f.engine->dma().free(buf);
}

namespace {

// A listener that never answers: the kernel completes TCP connects from its backlog, and
// nothing is ever read or sent.
struct SilentListener {
  uint16_t bound = 0;  // before fd: listening fills it in
  int fd = -1;
  explicit SilentListener(uint16_t port) : fd(testing::listen_on_loopback(port, &bound)) { EXPECT_TRUE(fd >= 0); }
  ~SilentListener() { close(fd); }
  uint16_t port() const { return bound; }
};

}  // namespace

// Found by the host fuzzer: a target that accepts and says nothing held a connect, and every
// reconnect, forever (the bring-up had no deadline).
NDS_TEST(nvmf_host_gives_up_on_a_target_that_accepts_and_never_answers) {
  Fixture f;
  {
    SilentListener silent(0);
    std::string uri = "nvmf://127.0.0.1:" + std::to_string(silent.port()) + "/" + kNqn + "?hostnqn=" + kHostA +
                      "&name=mute&connect_timeout_ms=200";
    auto started = std::chrono::steady_clock::now();
    Status st = f.create(uri);
    auto waited = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(st.rc, -ETIMEDOUT);
    EXPECT_TRUE(st.message.find("no answer from the target within 200 ms of connecting (the TCP connect, IC exchange or Fabrics Connect)") != std::string::npos);
    EXPECT_TRUE(waited >= std::chrono::milliseconds(190));
    EXPECT_TRUE(waited < std::chrono::milliseconds(3000));
    EXPECT_TRUE(f.find("mute") == nullptr);
    EXPECT_TRUE(f.create(f.remote("x", "&connect_timeout_ms=-1")).rc == -EINVAL);
  }

  // Connected, then the listener is replaced by a silent one on the same port: each
  // reconnect attempt times out, and after ctrl_loss_timeout_ms the bdev is gone.
  ASSERT_TRUE(f.create(f.remote("r", "&ctrl_loss_timeout_ms=800&reconnect_delay_ms=50&connect_timeout_ms=150")).is_ok());
  round_trip(f, "r", "m0", 0, 4096, 11);
  Status st;
  run_on(f.engine->app_thread(), [&] { st = f.engine->nvmf().remove_listener(kNqn, f.via); });
  ASSERT_TRUE(st.is_ok());
  SilentListener silent(f.via.port);
  Bdev* r = f.find("r");
  EXPECT_TRUE(wait_until([&] { return r->gone(); }, 4000));
  void* buf = f.buffer(4096);
  EXPECT_EQ(run_io(*f.engine, "r", IoType::Read, 0, 4096, buf), -ENODEV);
  f.engine->dma().free(buf);
}
