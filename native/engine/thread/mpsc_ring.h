// A bounded lock-free ring for many producers and one consumer. Each cell carries a
// sequence number (Vyukov's bounded queue): a producer claims a slot with one CAS on the
// tail, writes the value, then publishes it by bumping the cell's sequence; the consumer
// reads cells in order. A full ring makes try_push fail: callers treat that as
// back-pressure, never as a reason to block or crash.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace nds {

template <typename T>
class MpscRing {
 public:
  // `capacity` is rounded up to a power of two, at least 2.
  explicit MpscRing(size_t capacity) {
    size_t size = 2;
    while (size < capacity) size <<= 1;
    mask_ = size - 1;
    cells_.reset(new Cell[size]);
    for (size_t i = 0; i < size; ++i) cells_[i].sequence.store(i, std::memory_order_relaxed);
  }
  MpscRing(const MpscRing&) = delete;
  MpscRing& operator=(const MpscRing&) = delete;

  size_t capacity() const { return mask_ + 1; }

  // Any thread.
  bool try_push(const T& value) {
    size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[pos & mask_];
      size_t seq = cell.sequence.load(std::memory_order_acquire);
      intptr_t diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          cell.value = value;
          cell.sequence.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // the consumer has not freed this cell yet: full
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  // The single consumer only.
  bool try_pop(T* out) {
    Cell& cell = cells_[head_ & mask_];
    size_t seq = cell.sequence.load(std::memory_order_acquire);
    if (static_cast<intptr_t>(seq) - static_cast<intptr_t>(head_ + 1) < 0) return false;
    *out = cell.value;
    cell.sequence.store(head_ + mask_ + 1, std::memory_order_release);
    ++head_;
    return true;
  }

  // The single consumer only: no slot is claimed beyond what was popped, not even by a
  // push still in progress (which empty() may miss).
  bool drained() const { return tail_.load(std::memory_order_acquire) == head_; }

  // The single consumer only; may miss a push that is in progress.
  bool empty() const {
    const Cell& cell = cells_[head_ & mask_];
    return static_cast<intptr_t>(cell.sequence.load(std::memory_order_acquire)) -
               static_cast<intptr_t>(head_ + 1) < 0;
  }

 private:
  struct Cell {
    std::atomic<size_t> sequence;
    T value;
  };
  std::unique_ptr<Cell[]> cells_;
  size_t mask_ = 0;
  alignas(64) std::atomic<size_t> tail_{0};
  alignas(64) size_t head_ = 0;
};

}  // namespace nds
