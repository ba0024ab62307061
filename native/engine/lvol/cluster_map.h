// A blob's cluster map as the I/O path sees it: entry i is the disk cluster + 1 holding
// the blob's cluster i, or 0 when not allocated. Entries are atomics because the app
// thread publishes allocations while reactors read; capacity is fixed (a resize to a
// larger size makes a new map while the lvol is frozen).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>

namespace nds::lvs {

class ClusterMap {
 public:
  explicit ClusterMap(uint64_t capacity) : capacity_(capacity), entries_(new std::atomic<uint32_t>[capacity ? capacity : 1]) {
    for (uint64_t i = 0; i < capacity; ++i) entries_[i].store(0, std::memory_order_relaxed);
  }
  uint64_t capacity() const { return capacity_; }
  // 0: not allocated; else disk cluster + 1.
  uint32_t get(uint64_t index) const {
    return index < capacity_ ? entries_[index].load(std::memory_order_acquire) : 0;
  }
  void set(uint64_t index, uint32_t value) { entries_[index].store(value, std::memory_order_release); }

 private:
  uint64_t capacity_;
  std::unique_ptr<std::atomic<uint32_t>[]> entries_;
};

// What an lvol's I/O path reads: its map, its size and its parent chain. Replaced only
// while the lvol is frozen; old views live until the store closes.
struct LvolView {
  std::shared_ptr<ClusterMap> map;
  uint64_t size_clusters = 0;
  const LvolView* parent = nullptr;
  bool read_only = false;
};

}  // namespace nds::lvs
