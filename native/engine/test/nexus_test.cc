// Nexus: mirroring, fault handling with partial rebuild, a full rebuild racing application
// writes, and a child timed out under writes (run under ASan/UBSan and TSan).
#include <chrono>
#include <cstring>
#include <future>
#include <random>

#include "bdev/bdev_factory.h"
#include "bdev/error/error_bdev.h"
#include "engine.h"
#include "test/run_on.h"
#include "test/testing.h"

using namespace nds;
using namespace nds::nexus;
using nds::testing::run_on;

namespace {

constexpr uint64_t kMiB = 1ull << 20;

std::unique_ptr<Engine> start_engine() { return testing::start_test_engine(256ull << 20); }

using testing::create_bdev;
using testing::on_app;

Status create_nexus(Engine& e, const std::string& name, std::vector<std::string> children, uint64_t segment = kMiB,
                    uint32_t timeout_ms = 30'000) {
  NexusOptions o;
  o.name = name;
  o.uuid = Uuid::random_v4();
  o.children = std::move(children);
  o.rebuild.segment_bytes = segment;
  o.io.timeout_ms = timeout_ms;
  return on_app(e, [&](auto done) { e.nexuses().create(o, [done](Status st, Nexus*) { done(st); }); });
}

NexusInfo nexus_info(Engine& e, const std::string& name) {
  NexusInfo info;
  run_on(e.app_thread(), [&] { info = e.nexuses().find(name)->info(); });
  return info;
}

// Waits (bounded) until the child's rebuild has ended; returns the nexus info then.
NexusInfo wait_rebuilt(Engine& e, const std::string& name, const std::string& child) {
  for (int i = 0; i < 5000; ++i) {
    NexusInfo info = nexus_info(e, name);
    for (auto& c : info.children)
      if (c.uri == child && !c.rebuilding && (c.sync == SyncState::Synced || c.state == ChildState::Faulted)) return info;
    usleep(1000);
  }
  return nexus_info(e, name);
}

const ChildInfo* child_of(const NexusInfo& info, const std::string& uri) {
  for (auto& c : info.children)
    if (c.uri == uri) return &c;
  return nullptr;
}

struct Buffers {
  Engine& e;
  uint8_t* a;
  uint8_t* b;
  Buffers(Engine& engine, uint64_t size)
      : e(engine), a(static_cast<uint8_t*>(engine.dma().alloc(size))), b(static_cast<uint8_t*>(engine.dma().alloc(size))) {}
  ~Buffers() {
    e.dma().free(a);
    e.dma().free(b);
  }
  // Reads `bdev` into b and compares with a.
  bool same_as_a(const std::string& bdev, uint64_t length) {
    if (testing::run_io(e, bdev, IoType::Read, 0, length, b) != 0) return false;
    return std::memcmp(a, b, length) == 0;
  }
};

// Random writes of 4-64 KiB from reactor 0's worker, `depth` at once; each in-flight write
// has its own lane of the device so the expected content is exact.
void random_writes(Engine& e, const std::string& nexus, uint8_t* expected, uint64_t size, int count, int depth,
                   uint32_t seed) {
  struct Writer {
    BdevDesc* desc;
    IoChannel* ch;
    uint8_t* expected;
    uint64_t lane_bytes;
    std::mt19937 rng;
    int remaining;
    int in_flight = 0;
    int failures = 0;
    std::vector<uint8_t*> bufs;
    std::promise<void> done;
  };
  Writer w{nullptr, nullptr, expected, size / depth, std::mt19937(seed), count, 0, 0, {}, {}};
  run_on(e.app_thread(), [&] { e.bdevs().open(nexus, true, &w.desc); });
  for (int i = 0; i < depth; ++i) w.bufs.push_back(static_cast<uint8_t*>(e.dma().alloc(64 * 1024)));
  struct Slot {
    Writer* w;
    int lane;
    uint64_t offset;
    uint64_t length;
  };
  static void (*issue)(Slot*) = nullptr;
  issue = [](Slot* s) {
    Writer* wr = s->w;
    if (wr->remaining == 0) {
      delete s;
      if (--wr->in_flight == 0) {
        bdev_put_io_channel(wr->ch);
        wr->done.set_value();
      }
      return;
    }
    --wr->remaining;
    uint64_t blocks = 1 + wr->rng() % 16;  // 4 KiB blocks
    s->length = blocks * 4096;
    s->offset = s->lane * wr->lane_bytes + (wr->rng() % ((wr->lane_bytes - s->length) / 4096)) * 4096;
    uint8_t* buf = wr->bufs[s->lane];
    uint8_t value = static_cast<uint8_t>(wr->rng());
    for (uint64_t i = 0; i < s->length; ++i) buf[i] = static_cast<uint8_t>(value + i);
    int rc = bdev_submit(wr->desc, wr->ch, IoType::Write, s->offset, s->length, buf, [](int status, void* arg) {
      auto* slot = static_cast<Slot*>(arg);
      if (status == 0) {
        std::memcpy(slot->w->expected + slot->offset, slot->w->bufs[slot->lane], slot->length);
      } else {
        ++slot->w->failures;
      }
      issue(slot);
    }, s);
    if (rc != 0) {
      ++wr->failures;
      wr->remaining = 0;
      issue(s);
    }
  };
  run_on(e.worker(0), [&] {
    w.ch = bdev_get_io_channel(w.desc);
    w.in_flight = depth;
    for (int i = 0; i < depth; ++i) issue(new Slot{&w, i, 0, 0});
  });
  w.done.get_future().wait();
  EXPECT_EQ(w.failures, 0);
  for (uint8_t* b : w.bufs) e.dma().free(b);
  run_on(e.app_thread(), [&] { e.bdevs().close(w.desc); });
}

void shutdown(Engine& e) {
  std::promise<void> p;
  e.shutdown([&] { p.set_value(); });
  p.get_future().wait();
}

}  // namespace

NDS_TEST(nexus_mirrors_writes_and_survives_a_failing_child_then_rebuilds_partially) {
  auto e = start_engine();
  ASSERT_TRUE(e != nullptr);
  for (const char* uri : {"malloc:///m0?size_mb=16&blk_size=4096", "malloc:///m1?size_mb=16&blk_size=4096",
                          "malloc:///m2?size_mb=16&blk_size=4096"})
    ASSERT_TRUE(create_bdev(*e, uri).is_ok());
  ASSERT_TRUE(create_bdev(*e, "error:///e2?base=m2").is_ok());
  const std::string failing = "bdev:///e2";
  ASSERT_TRUE(create_nexus(*e, "nx", {"bdev:///m0", "bdev:///m1", failing}).is_ok());
  EXPECT_EQ(nexus_info(*e, "nx").state, NexusState::Online);
  // A child's claim keeps others from writing it.
  EXPECT_EQ(create_nexus(*e, "other", {"bdev:///m0"}).rc, -EBUSY);

  const uint64_t size = 16 * kMiB;
  Buffers buf(*e, size);
  for (uint64_t i = 0; i < size; ++i) buf.a[i] = static_cast<uint8_t>(i * 13 + i / 4096);
  ASSERT_TRUE(testing::run_io(*e, "nx", IoType::Write, 0, size / 2, buf.a) == 0);
  ASSERT_TRUE(testing::run_io(*e, "nx", IoType::Write, size / 2, size / 2, buf.a + size / 2) == 0);
  EXPECT_TRUE(buf.same_as_a("m0", size));
  EXPECT_TRUE(buf.same_as_a("m2", size));

  // Writes fail on e2: the nexus acknowledges them (m0 and m1 have them) and faults e2.
  ErrorInjection fail;
  fail.io_types = 1u << static_cast<int>(IoType::Write);
  fail.error = -EIO;
  run_on(e->app_thread(), [&] { error_bdev_inject(e->bdevs().find("e2"), fail); });
  std::memset(buf.a + 3 * kMiB + 4096, 0x5a, 8192);  // segment 3
  EXPECT_EQ(testing::run_io(*e, "nx", IoType::Write, 3 * kMiB + 4096, 8192, buf.a + 3 * kMiB + 4096), 0);
  std::memset(buf.a + 9 * kMiB, 0xa5, 4096);  // segment 9
  EXPECT_EQ(testing::run_io(*e, "nx", IoType::Write, 9 * kMiB, 4096, buf.a + 9 * kMiB), 0);
  NexusInfo info = nexus_info(*e, "nx");
  EXPECT_EQ(info.state, NexusState::Degraded);
  EXPECT_EQ(child_of(info, failing)->state, ChildState::Faulted);
  EXPECT_EQ(child_of(info, failing)->reason, FaultReason::IoError);
  EXPECT_TRUE(buf.same_as_a("nx", size));

  // The last healthy child can be neither faulted nor removed.
  EXPECT_TRUE(on_app(*e, [&](auto done) { e->nexuses().find("nx")->fault_child("bdev:///m1", done); }).is_ok());
  EXPECT_EQ(on_app(*e, [&](auto done) { e->nexuses().find("nx")->fault_child("bdev:///m0", done); }).rc, -EBUSY);
  EXPECT_EQ(on_app(*e, [&](auto done) { e->nexuses().find("nx")->remove_child("bdev:///m0", done); }).rc, -EBUSY);
  EXPECT_EQ(nexus_info(*e, "nx").state, NexusState::Degraded);

  // Back online: only the two segments e2 missed are copied.
  run_on(e->app_thread(), [&] { error_bdev_clear(e->bdevs().find("e2")); });
  EXPECT_TRUE(on_app(*e, [&](auto done) { e->nexuses().find("nx")->online_child(failing, done); }).is_ok());
  info = wait_rebuilt(*e, "nx", failing);
  EXPECT_EQ(child_of(info, failing)->sync, SyncState::Synced);
  RebuildStats stats;
  run_on(e->app_thread(), [&] { e->nexuses().find("nx")->rebuild_stats(failing, &stats); });
  EXPECT_EQ(stats.state, RebuildState::Completed);
  EXPECT_TRUE(stats.partial);
  EXPECT_EQ(stats.bytes_rebuilt, 2 * kMiB);
  EXPECT_TRUE(buf.same_as_a("m2", size));

  // m1 was faulted by command: its rebuild is full.
  EXPECT_TRUE(on_app(*e, [&](auto done) { e->nexuses().find("nx")->online_child("bdev:///m1", done); }).is_ok());
  info = wait_rebuilt(*e, "nx", "bdev:///m1");
  run_on(e->app_thread(), [&] { e->nexuses().find("nx")->rebuild_stats("bdev:///m1", &stats); });
  EXPECT_TRUE(!stats.partial);
  EXPECT_EQ(stats.bytes_rebuilt, size);
  EXPECT_EQ(info.state, NexusState::Online);
  EXPECT_TRUE(buf.same_as_a("m1", size));

  EXPECT_TRUE(on_app(*e, [&](auto done) { e->nexuses().destroy("nx", done); }).is_ok());
  shutdown(*e);
}

NDS_TEST(nexus_full_rebuild_races_application_writes_without_losing_any) {
  auto e = start_engine();
  ASSERT_TRUE(e != nullptr);
  const uint64_t size = 32 * kMiB;
  ASSERT_TRUE(create_nexus(*e, "nx", {"malloc:///a?size_mb=32&blk_size=4096", "malloc:///b?size_mb=32&blk_size=4096"},
                           256 * 1024).is_ok());
  Buffers buf(*e, size);
  std::memset(buf.a, 0, size);
  random_writes(*e, "nx", buf.a, size, 400, 8, 1);

  // A new child, rebuilt while writes keep coming.
  std::promise<Status> added;
  run_on(e->app_thread(), [&] {
    e->nexuses().find("nx")->add_child("malloc:///c?size_mb=32&blk_size=4096", true, [&](Status st) { added.set_value(st); });
  });
  EXPECT_TRUE(added.get_future().get().is_ok());
  random_writes(*e, "nx", buf.a, size, 3000, 8, 2);
  NexusInfo info = wait_rebuilt(*e, "nx", "malloc:///c?size_mb=32&blk_size=4096");
  EXPECT_EQ(info.state, NexusState::Online);
  for (const char* child : {"a", "b", "c"}) EXPECT_TRUE(buf.same_as_a(child, size));
  EXPECT_TRUE(buf.same_as_a("nx", size));
  shutdown(*e);
}

NDS_TEST(nexus_times_out_a_child_holding_writes_and_loses_none) {
  auto e = start_engine();
  ASSERT_TRUE(e != nullptr);
  const uint64_t size = 8 * kMiB;
  for (const char* uri : {"malloc:///t0?size_mb=8&blk_size=4096", "malloc:///t1?size_mb=8&blk_size=4096"})
    ASSERT_TRUE(create_bdev(*e, uri).is_ok());
  ASSERT_TRUE(create_bdev(*e, "error:///et1?base=t1").is_ok());
  ASSERT_TRUE(create_nexus(*e, "tn", {"bdev:///t0", "bdev:///et1"}, kMiB, 50).is_ok());
  Buffers buf(*e, size);
  std::memset(buf.a, 0, size);
  random_writes(*e, "tn", buf.a, size, 100, 8, 3);

  // et1 holds every write for 30 s: the nexus takes them back after 50-100 ms, faults et1
  // TimedOut and acknowledges the writes t0 took. None fails (random_writes checks).
  ErrorInjection hang;
  hang.io_types = 1u << static_cast<int>(IoType::Write);
  hang.mode = InjectMode::Delay;
  hang.latency_us = 30'000'000;
  run_on(e->app_thread(), [&] { error_bdev_inject(e->bdevs().find("et1"), hang); });
  auto started = std::chrono::steady_clock::now();
  random_writes(*e, "tn", buf.a, size, 400, 8, 4);
  // Taken back, not waited for: well under the injected 30 s.
  EXPECT_TRUE(std::chrono::steady_clock::now() - started < std::chrono::seconds(15));
  NexusInfo info = nexus_info(*e, "tn");
  EXPECT_EQ(info.state, NexusState::Degraded);
  EXPECT_EQ(child_of(info, "bdev:///et1")->state, ChildState::Faulted);
  EXPECT_EQ(child_of(info, "bdev:///et1")->reason, FaultReason::TimedOut);
  EXPECT_TRUE(buf.same_as_a("t0", size));
  EXPECT_TRUE(buf.same_as_a("tn", size));

  // Back: the partial rebuild makes et1 whole again.
  run_on(e->app_thread(), [&] { error_bdev_clear(e->bdevs().find("et1")); });
  EXPECT_TRUE(on_app(*e, [&](auto done) { e->nexuses().find("tn")->online_child("bdev:///et1", done); }).is_ok());
  info = wait_rebuilt(*e, "tn", "bdev:///et1");
  EXPECT_EQ(info.state, NexusState::Online);
  EXPECT_TRUE(buf.same_as_a("t1", size));
  shutdown(*e);
}
