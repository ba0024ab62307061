// The engine's one way to hand a message to another thread: a bounded lock-free ring
// (mpsc_ring.h) for the common case, and an overflow list behind a mutex for when the ring
// is full. A push never fails and never spins, so no message that must arrive is dropped,
// and no sender waits on a consumer that may be its own thread. The mutex is taken only
// while the ring is full or the overflow list is not empty, never on the usual path.
//
// Order: once a push has overflowed, later pushes follow it into the list until the
// consumer takes the list, and the consumer takes it only when every slot claimed in the
// ring has been popped. So one producer's values come out in the order pushed.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "thread/mpsc_ring.h"

namespace nds {

template <typename T>
class MpscQueue {
 public:
  explicit MpscQueue(size_t ring_capacity) : ring_(ring_capacity) {}

  // Any thread.
  void push(const T& value) {
    if (!overflow_pending_.load(std::memory_order_acquire) && ring_.try_push(value)) return;
    std::lock_guard<std::mutex> lock(mutex_);
    overflow_.push_back(value);
    overflow_pending_.store(true, std::memory_order_release);
    overflowed_.fetch_add(1, std::memory_order_relaxed);
  }

  // The single consumer: pops from the ring, then, once it is empty, from what overflowed.
  bool try_pop(T* out) {
    if (taken_next_ < taken_.size()) {
      *out = taken_[taken_next_++];
      return true;
    }
    if (ring_.try_pop(out)) return true;
    if (!overflow_pending_.load(std::memory_order_acquire)) return false;
    taken_.clear();
    taken_next_ = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // Under the lock: a sender's ring slots claimed before it put a value in the list
      // are then visible in the tail, and the list waits until they are popped (one of
      // them may not even be published yet). Checked outside, a sender could fill a slot
      // between the check and the swap and then put its next value in the list.
      if (!ring_.drained()) return false;
      taken_.swap(overflow_);
      overflow_pending_.store(false, std::memory_order_release);
    }
    if (taken_.empty()) return false;
    *out = taken_[taken_next_++];
    return true;
  }

  // The single consumer only; may miss a push that is in progress.
  bool empty() const {
    return ring_.empty() && taken_next_ == taken_.size() && !overflow_pending_.load(std::memory_order_acquire);
  }

  // Pushes that found the ring full (statistics and tests).
  uint64_t overflowed() const { return overflowed_.load(std::memory_order_relaxed); }
  size_t ring_capacity() const { return ring_.capacity(); }

 private:
  MpscRing<T> ring_;
  std::atomic<bool> overflow_pending_{false};
  std::atomic<uint64_t> overflowed_{0};
  std::mutex mutex_;
  std::vector<T> overflow_;
  // Consumer only: the overflow list it took, served before the ring is read again.
  std::vector<T> taken_;
  size_t taken_next_ = 0;
};

}  // namespace nds
