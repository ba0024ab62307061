#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "env/time.h"
#include "test/run_on.h"
#include "test/testing.h"
#include "thread/io_device.h"
#include "thread/reactor.h"
#include "thread/thread.h"

using namespace nds;
using nds::testing::run_on;

namespace {

bool wait_for(const std::function<bool()>& cond, int ms = 5000) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return cond();
}
}  // namespace

NDS_TEST(reactor_runs_messages_in_order_in_both_idle_modes) {
  for (IdleMode mode : {IdleMode::Poll, IdleMode::Adaptive}) {
    Reactor reactor(0, 0, mode);
    Thread thread("t");
    reactor.schedule(&thread);
    ASSERT_TRUE(reactor.start().is_ok());
    std::vector<int> seen;
    std::atomic<int> count{0};
    for (int i = 0; i < 1000; ++i) {
      thread.send([&, i] {
        seen.push_back(i);
        count.fetch_add(1);
      });
    }
    EXPECT_TRUE(wait_for([&] { return count.load() == 1000; }));
    bool ordered = true;
    for (int i = 0; i < 1000; ++i) ordered = ordered && seen[i] == i;
    EXPECT_TRUE(ordered);
    reactor.stop();
  }
}

NDS_TEST(adaptive_reactor_sleeps_when_idle_and_wakes_on_message) {
  Reactor reactor(0, 0, IdleMode::Adaptive, 1000);
  Thread thread("t");
  reactor.schedule(&thread);
  ASSERT_TRUE(reactor.start().is_ok());
  EXPECT_TRUE(wait_for([&] { return reactor.stats().sleeps > 0; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  uint64_t sleeps_before = reactor.stats().sleeps;
  // Asleep and idle: the sleep count barely moves while nothing happens.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(reactor.stats().sleeps - sleeps_before < 5);
  std::atomic<bool> ran{false};
  thread.send([&] { ran = true; });
  EXPECT_TRUE(wait_for([&] { return ran.load(); }, 1000));
  EXPECT_TRUE(reactor.stats().idle_ns > 0);
  reactor.stop();
}

struct Counter {
  int runs = 0;
  int stop_after = 0;
  Poller* self = nullptr;
};

static int count_and_maybe_stop(void* arg) {
  auto* c = static_cast<Counter*>(arg);
  ++c->runs;
  if (c->runs == c->stop_after) Thread::current()->unregister_poller(c->self);
  return 1;
}

NDS_TEST(active_poller_runs_every_pass_and_can_unregister_itself) {
  Reactor reactor(0, 0, IdleMode::Adaptive);
  Thread thread("t");
  reactor.schedule(&thread);
  ASSERT_TRUE(reactor.start().is_ok());
  Counter counter;
  counter.stop_after = 100;
  run_on(thread, [&] { counter.self = thread.register_poller("count", count_and_maybe_stop, &counter); });
  EXPECT_TRUE(wait_for([&] {
    int runs = 0;
    run_on(thread, [&] { runs = counter.runs; });
    return runs == 100;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int runs = 0;
  run_on(thread, [&] { runs = counter.runs; });
  EXPECT_EQ(runs, 100);  // not run again after unregistering
  reactor.stop();
}

static int count_only(void* arg) {
  ++static_cast<Counter*>(arg)->runs;
  return 1;
}

NDS_TEST(timed_poller_runs_at_its_period_and_adaptive_reactor_wakes_for_it) {
  Reactor reactor(0, 0, IdleMode::Adaptive, 1000);
  Thread thread("t");
  reactor.schedule(&thread);
  ASSERT_TRUE(reactor.start().is_ok());
  Counter counter;
  uint64_t start = now_ns();
  run_on(thread, [&] { thread.register_poller("tick", count_only, &counter, 10'000'000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(205));
  int runs = 0;
  run_on(thread, [&] { runs = counter.runs; });
  uint64_t elapsed_ms = (now_ns() - start) / 1000000;
  // A 10 ms period over ~205 ms: about 21 runs; never more than the elapsed time allows,
  // and a reactor that slept through deadlines would show far fewer.
  EXPECT_TRUE(runs >= 10);
  EXPECT_TRUE(static_cast<uint64_t>(runs) <= elapsed_ms / 10 + 1);
  EXPECT_TRUE(reactor.stats().sleeps > 0);
  reactor.stop();
}

// A timed poller watching an eventfd, as the NVMe/TCP listener is: reads what is there.
struct FdWatch {
  int fd = -1;
  std::atomic<int> runs{0};
  std::atomic<int> events{0};
};

static int drain_fd(void* arg) {
  auto* w = static_cast<FdWatch*>(arg);
  w->runs.fetch_add(1);
  uint64_t count = 0;
  if (read(w->fd, &count, sizeof(count)) != sizeof(count)) return 0;
  w->events.fetch_add(static_cast<int>(count));
  return 1;
}

NDS_TEST(timed_poller_with_an_fd_does_not_wake_an_idle_reactor_but_runs_when_its_fd_fires) {
  Reactor reactor(0, 0, IdleMode::Adaptive, 1000);
  Thread thread("t");
  reactor.schedule(&thread);
  ASSERT_TRUE(reactor.start().is_ok());
  FdWatch watch;
  watch.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_TRUE(watch.fd >= 0);
  run_on(thread, [&] { thread.register_poller("listener", drain_fd, &watch, 1'000'000, watch.fd); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // A 1 ms period over 100 ms of nothing: a reactor woken by the period would run it ~100
  // times; one that sleeps until the fd fires runs it a handful of times.
  EXPECT_TRUE(watch.runs.load() < 20);
  EXPECT_EQ(watch.events.load(), 0);
  for (int round = 1; round <= 3; ++round) {
    uint64_t one = 1;
    uint64_t sent = now_ns();
    ASSERT_TRUE(write(watch.fd, &one, sizeof(one)) == sizeof(one));
    while (watch.events.load() < round && now_ns() - sent < 1'000'000'000ull) std::this_thread::yield();
    EXPECT_EQ(watch.events.load(), round);
    EXPECT_TRUE(now_ns() - sent < 100'000'000ull);  // at once, not at some later deadline
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // asleep again before the next
  }
  EXPECT_TRUE(reactor.stats().sleeps > 0);
  reactor.stop();
  close(watch.fd);
}

struct DeviceState {
  std::atomic<int> created{0};
  std::atomic<int> destroyed{0};
};

static int create_ctx(void* dev, void* ctx) {
  static_cast<DeviceState*>(dev)->created++;
  *static_cast<int*>(ctx) = 42;
  return 0;
}
static void destroy_ctx(void* dev, void*) { static_cast<DeviceState*>(dev)->destroyed++; }

NDS_TEST(io_channels_are_per_thread_shared_and_unregister_waits_for_them) {
  Reactor r0(0, 0, IdleMode::Adaptive), r1(1, 0, IdleMode::Adaptive);
  Thread a("a"), b("b");
  r0.schedule(&a);
  r1.schedule(&b);
  ASSERT_TRUE(r0.start().is_ok());
  ASSERT_TRUE(r1.start().is_ok());
  DeviceState dev;
  io_device_register(&dev, create_ctx, destroy_ctx, sizeof(int), "test");
  IoChannel *a1 = nullptr, *a2 = nullptr, *b1 = nullptr;
  run_on(a, [&] {
    a1 = get_io_channel(&dev);
    a2 = get_io_channel(&dev);
  });
  run_on(b, [&] { b1 = get_io_channel(&dev); });
  EXPECT_TRUE(a1 == a2);
  EXPECT_TRUE(a1 != b1);
  EXPECT_EQ(*static_cast<int*>(a1->ctx), 42);
  EXPECT_EQ(dev.created.load(), 2);
  EXPECT_EQ(io_device_channel_count(&dev), 2u);

  std::atomic<int> visited{0};
  std::atomic<bool> for_each_done{false};
  run_on(a, [&] { for_each_channel(&dev, [&](IoChannel*) { visited++; }, [&] { for_each_done = true; }); });
  EXPECT_TRUE(wait_for([&] { return for_each_done.load(); }));
  EXPECT_EQ(visited.load(), 2);

  std::atomic<bool> unregistered{false};
  run_on(a, [&] { io_device_unregister(&dev, [&] { unregistered = true; }); });
  run_on(a, [&] { EXPECT_TRUE(get_io_channel(&dev) == nullptr); });  // no new channels
  run_on(a, [&] {
    put_io_channel(a1);
    put_io_channel(a2);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(!unregistered.load());  // b still holds one
  run_on(b, [&] { put_io_channel(b1); });
  EXPECT_TRUE(wait_for([&] { return unregistered.load(); }));
  EXPECT_EQ(dev.destroyed.load(), 2);
  r0.stop();
  r1.stop();
}

// A thread whose ring is full (its reactor not yet running) still gets every message, in
// order, and so do senders racing it once it runs: no send is lost and none spins.
NDS_TEST(thread_send_delivers_everything_past_a_full_ring) {
  Reactor reactor(0, 0, IdleMode::Adaptive);
  Thread thread("small", 8);
  reactor.schedule(&thread);
  std::vector<int> seen;
  std::atomic<int> count{0};
  for (int i = 0; i < 100; ++i) thread.send([&, i] {
      seen.push_back(i);
      count.fetch_add(1);
    });
  EXPECT_TRUE(thread.overflowed() >= 92);
  ASSERT_TRUE(reactor.start().is_ok());
  std::thread other([&] {
    for (int i = 100; i < 20000; ++i) thread.send([&, i] {
        seen.push_back(i);
        count.fetch_add(1);
      });
  });
  other.join();
  EXPECT_TRUE(wait_for([&] { return count.load() == 20000; }));
  bool ordered = seen.size() == 20000;
  for (size_t i = 0; ordered && i < seen.size(); ++i) ordered = seen[i] == static_cast<int>(i);
  EXPECT_TRUE(ordered);
  reactor.stop();
}
