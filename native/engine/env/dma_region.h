// The DMA region: one contiguous mapping reserved at engine start, backed by 2 MiB
// hugepages when it can be, from which malloc bdevs, I/O buffer pools and zero-copy
// JavaScript buffers are carved.
//
// Allocation is first-fit over a free-extent map behind a mutex. That is fine because
// nothing on the I/O path allocates here: I/O buffers come from BufferPool, which takes
// chunks from the region once and recycles them through per-thread caches.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "util/status.h"

namespace nds {

enum class HugepageMode { Auto, Require, Off };

struct DmaStats {
  bool hugepages = false;
  uint64_t reserved_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t free_bytes = 0;
};

class DmaRegion {
 public:
  static constexpr size_t kHugepageSize = 2u << 20;
  static constexpr size_t kMinAlign = 4096;

  // Reserves `bytes` (rounded up to 2 MiB). With Auto, a failure to get hugepages falls
  // back to ordinary pages and sets *warning; with Require it fails naming the fix.
  static Status reserve(uint64_t bytes, HugepageMode mode, std::shared_ptr<DmaRegion>* out, std::string* warning);
  ~DmaRegion();
  DmaRegion(const DmaRegion&) = delete;
  DmaRegion& operator=(const DmaRegion&) = delete;

  // Returns nullptr when no extent of `bytes` is free. `align` is a power of two >= 4096.
  void* alloc(size_t bytes, size_t align = kMinAlign);
  void free(void* ptr);
  bool contains(const void* ptr, size_t len) const;
  DmaStats stats() const;
  uint8_t* base() const { return base_; }
  uint64_t size() const { return size_; }

 private:
  DmaRegion(uint8_t* base, uint64_t size, bool hugepages);
  uint8_t* base_;
  uint64_t size_;
  bool hugepages_;
  mutable std::mutex mutex_;
  std::map<uint64_t, uint64_t> free_extents_;  // offset -> length
  std::map<uint64_t, uint64_t> allocations_;   // offset -> length
  uint64_t used_ = 0;
};

}  // namespace nds
