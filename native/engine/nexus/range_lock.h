// A range lock across every channel of a nexus, as the rebuild takes one per segment it
// copies: while held, application writes to the range wait in their channel, so the copy
// never races a newer write. Taking it: the nexus publishes the lock, then visits every
// channel; each adds the writes it has in flight over the range to `outstanding`, and
// each of those writes releases one count when it completes. When the count reaches zero
// (the visit itself holds one), no write to the range is in flight anywhere and none can
// start: `on_acquired` runs on the owner's thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>

#include "thread/thread.h"

namespace nds::nexus {

struct RangeLock {
  RangeLock(uint64_t start_blocks, uint64_t end_blocks, Thread* owner_thread, std::function<void()> acquired)
      : start(start_blocks), end(end_blocks), owner(owner_thread), on_acquired(std::move(acquired)) {}

  bool overlaps(uint64_t offset_blocks, uint64_t num_blocks) const {
    return offset_blocks < end && offset_blocks + num_blocks > start;
  }
  void hold_one() { outstanding.fetch_add(1, std::memory_order_relaxed); }
  // Any thread: one holder is done; the last one hands the lock to its owner.
  void release_one() {
    if (outstanding.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (Thread::current() == owner) return owner->defer([](void* arg) { static_cast<RangeLock*>(arg)->on_acquired(); }, this);
    owner->send([this] { on_acquired(); });
  }

  const uint64_t start;  // blocks
  const uint64_t end;    // exclusive
  Thread* const owner;
  std::function<void()> on_acquired;

 private:
  std::atomic<int64_t> outstanding{1};  // the visit of every channel holds the first count
};

}  // namespace nds::nexus
