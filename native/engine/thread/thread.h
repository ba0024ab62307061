// Lightweight threads (the model of spdk_thread): each owns a message ring, pollers and I/O
// channels, and is scheduled on one reactor. Every engine object is owned by one thread;
// other threads send it a message. Nothing here takes a lock on the I/O path.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "thread/mpsc_queue.h"
#include "thread/poller.h"

namespace nds {

class Reactor;
struct IoChannel;

using MsgFn = void (*)(void* arg);

class Thread {
 public:
  static constexpr size_t kDefaultRingCapacity = 64 * 1024;

  explicit Thread(std::string name, size_t ring_capacity = kDefaultRingCapacity);
  ~Thread();
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;

  const std::string& name() const { return name_; }
  Reactor* reactor() const { return reactor_.load(std::memory_order_acquire); }

  // Any OS thread. Every message sent arrives, in the order one sender sent them; a full
  // ring spills into an overflow list (thread/mpsc_queue.h), so a sender never spins and
  // nothing is dropped.
  void send(MsgFn fn, void* arg);
  // Management paths: allocates a closure.
  void send(std::function<void()> fn);
  // Messages that found the ring full since the thread was made (tests, statistics).
  uint64_t overflowed() const { return queue_.overflowed(); }

  // Owner thread only. A timed poller with an interrupt fd runs at most every period_ns
  // while the reactor is busy, and at once after the reactor slept (its fd may be what
  // woke it); its period sets no wake-up deadline of its own.
  Poller* register_poller(std::string name, Poller::Fn fn, void* arg, uint64_t period_ns = 0, int interrupt_fd = -1);
  void unregister_poller(Poller* poller);
  // Owner thread only: runs fn once, on this thread, after at least delay_ns (management
  // paths: retries and waits; allocates).
  void run_after(uint64_t delay_ns, std::string name, std::function<void()> fn);
  // Runs fn(arg) on this thread after the current callback, within the same pass. Used to
  // complete I/O that finished inside its own submit call without recursing.
  void defer(MsgFn fn, void* arg);
  // A module that wrote with streaming stores (util/stream_copy.h) and deferred its
  // completion: the deferred calls then start with one store fence, shared by the batch.
  void fence_before_deferred() { fence_pending_ = true; }

  // One scheduling pass, called by the reactor: messages, deferred work, active pollers,
  // due timed pollers. Returns the amount of work done.
  int poll(uint64_t now_ns);
  uint64_t next_deadline_ns() const;  // UINT64_MAX without timed pollers (fd-woken ones aside)
  void after_sleep();                 // the reactor slept: timed pollers with an fd are due
  bool has_pending_work() const;     // queued messages or deferred calls
  bool needs_busy_poll() const;      // an active poller without an interrupt fd
  void collect_interrupt_fds(std::vector<int>* fds) const;

  // The lightweight thread running on the calling OS thread, or nullptr.
  static Thread* current();
  // Whether the calling thread's reactor may sleep (adaptive idle mode): pollers created
  // now should then give an interrupt fd so completions can wake it.
  static bool current_may_sleep();

  // I/O channels of this thread, keyed by io_device (io_device.cc).
  std::unordered_map<const void*, IoChannel*>& channels() { return channels_; }

  // The I/O path's clock (bdev.cc): one reading shared by every layer of a nested submit
  // or completion on this thread. Reached through a channel, not thread-local storage,
  // which costs a function call per access in a dlopen'ed addon.
  struct IoClock {
    uint64_t now = 0;
    int depth = 0;
  };
  IoClock& io_clock() { return io_clock_; }

 private:
  friend class Reactor;
  struct Message {
    MsgFn fn;
    void* arg;
  };
  int run_deferred();

  std::string name_;
  // Set when scheduled, cleared when the reactor stops; read by senders on any thread.
  std::atomic<Reactor*> reactor_{nullptr};
  MpscQueue<Message> queue_;
  std::vector<Message> deferred_;
  std::vector<Message> deferred_running_;
  std::vector<std::unique_ptr<Poller>> pollers_;
  bool pollers_changed_ = false;
  bool fence_pending_ = false;
  std::unordered_map<const void*, IoChannel*> channels_;
  IoClock io_clock_;
};

}  // namespace nds
