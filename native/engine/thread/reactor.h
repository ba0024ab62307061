// A reactor: one OS thread pinned to one core, running its lightweight threads in a loop
// forever: messages, active pollers, due timed pollers.
//
// Idle modes:
//  - Poll: busy-polls; lowest latency, the core is 100% busy.
//  - Adaptive: after `spin_ns` without work it sleeps in epoll on an eventfd (messages),
//    the interrupt fds of its pollers, and the next timed-poller deadline. A reactor with
//    an active poller that has no interrupt fd keeps polling.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "thread/mpsc_ring.h"
#include "util/status.h"

namespace nds {

class Thread;

enum class IdleMode { Poll, Adaptive };

struct ReactorStats {
  uint64_t busy_ns = 0;
  uint64_t idle_ns = 0;
  uint64_t sleeps = 0;
  uint32_t threads = 0;
};

class Reactor {
 public:
  static constexpr uint64_t kDefaultSpinNs = 50'000;

  Reactor(uint32_t index, int core, IdleMode mode, uint64_t spin_ns = kDefaultSpinNs);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Creates the eventfd and epoll set and spawns the pinned OS thread.
  Status start();
  // Asks the loop to leave after its current pass and joins the OS thread. Idempotent.
  void stop();

  // Hands a lightweight thread to this reactor (any OS thread). The reactor owns
  // scheduling; the caller keeps ownership of the object and must outlive stop().
  bool schedule(Thread* thread);
  // Wakes the loop if it sleeps. Called after a message was queued for one of its threads.
  void notify();
  void watch_fd(int fd);
  void unwatch_fd(int fd);

  uint32_t index() const { return index_; }
  int core() const { return core_; }
  IdleMode idle_mode() const { return mode_; }
  ReactorStats stats() const;
  bool on_this_reactor() const { return std::this_thread::get_id() == os_thread_.get_id(); }

 private:
  void run();
  bool anything_pending() const;
  void sleep_until(uint64_t deadline_ns);

  uint32_t index_;
  int core_;
  IdleMode mode_;
  uint64_t spin_ns_;
  std::vector<Thread*> threads_;  // reactor thread only
  MpscRing<Thread*> incoming_;
  std::atomic<bool> exit_{false};
  std::atomic<uint32_t> sleeping_{0};  // 0 or 1; an integer for fetch_or in notify()
  int event_fd_ = -1;
  int epoll_fd_ = -1;
  std::thread os_thread_;
  Status start_status_;
  std::atomic<uint64_t> busy_ns_{0};
  std::atomic<uint64_t> idle_ns_{0};
  std::atomic<uint64_t> sleeps_{0};
  std::atomic<uint32_t> thread_count_{0};
};

}  // namespace nds
