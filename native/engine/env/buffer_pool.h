// Fixed-size I/O buffers carved from the DMA region, with per-thread caches (the model of
// SPDK's mempool and iobuf): each lightweight thread and the JavaScript thread own a
// PoolCache and take/return buffers without any lock; only when a cache runs dry or
// overflows does it move a batch to or from the shared list under a mutex.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "env/dma_region.h"

namespace nds {

class BufferPool;

class PoolCache {
 public:
  explicit PoolCache(BufferPool* pool) : pool_(pool) {}
  ~PoolCache();
  PoolCache(const PoolCache&) = delete;
  PoolCache& operator=(const PoolCache&) = delete;

  void* get();  // nullptr when the pool and the region are both exhausted
  void put(void* buffer);
  // Returns every cached buffer to the pool now (before the pool itself goes away).
  void drop();
  size_t cached() const { return buffers_.size(); }

 private:
  friend class BufferPool;
  BufferPool* pool_;
  std::vector<void*> buffers_;
};

class BufferPool {
 public:
  static constexpr size_t kCacheMax = 64;    // a cache holding more gives half back
  static constexpr size_t kBatch = 32;       // buffers moved per trip to the shared list
  static constexpr size_t kChunkBuffers = 64;

  // `max_buffers` bounds how much of the region the pool may ever take.
  BufferPool(std::shared_ptr<DmaRegion> region, size_t buffer_size, size_t max_buffers);
  ~BufferPool();
  size_t buffer_size() const { return buffer_size_; }
  size_t total_buffers() const;  // carved so far
  size_t free_buffers() const;   // on the shared list (not counting caches)

 private:
  friend class PoolCache;
  size_t take_batch(std::vector<void*>* into, size_t count);
  void give_batch(std::vector<void*>* from, size_t count);
  bool grow_locked();

  std::shared_ptr<DmaRegion> region_;
  size_t buffer_size_;
  size_t max_buffers_;
  mutable std::mutex mutex_;
  std::vector<void*> free_;
  std::vector<void*> chunks_;
  size_t carved_ = 0;
};

}  // namespace nds
