#include "env/buffer_pool.h"

#include <algorithm>

namespace nds {

PoolCache::~PoolCache() { drop(); }

void PoolCache::drop() {
  if (!buffers_.empty()) pool_->give_batch(&buffers_, buffers_.size());
}

void* PoolCache::get() {
  if (buffers_.empty() && pool_->take_batch(&buffers_, BufferPool::kBatch) == 0) return nullptr;
  void* buffer = buffers_.back();
  buffers_.pop_back();
  return buffer;
}

void PoolCache::put(void* buffer) {
  buffers_.push_back(buffer);
  if (buffers_.size() > BufferPool::kCacheMax) pool_->give_batch(&buffers_, BufferPool::kCacheMax / 2);
}

BufferPool::BufferPool(std::shared_ptr<DmaRegion> region, size_t buffer_size, size_t max_buffers)
    : region_(std::move(region)), buffer_size_(buffer_size), max_buffers_(max_buffers) {}

BufferPool::~BufferPool() {
  for (void* chunk : chunks_) region_->free(chunk);
}

bool BufferPool::grow_locked() {
  size_t count = std::min(kChunkBuffers, max_buffers_ - carved_);
  if (count == 0) return false;
  auto* chunk = static_cast<uint8_t*>(region_->alloc(count * buffer_size_));
  if (!chunk) return false;
  chunks_.push_back(chunk);
  for (size_t i = 0; i < count; ++i) free_.push_back(chunk + i * buffer_size_);
  carved_ += count;
  return true;
}

size_t BufferPool::take_batch(std::vector<void*>* into, size_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (free_.size() < count) grow_locked();
  size_t n = std::min(count, free_.size());
  into->insert(into->end(), free_.end() - static_cast<ptrdiff_t>(n), free_.end());
  free_.resize(free_.size() - n);
  return n;
}

void BufferPool::give_batch(std::vector<void*>* from, size_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  free_.insert(free_.end(), from->end() - static_cast<ptrdiff_t>(count), from->end());
  from->resize(from->size() - count);
}

size_t BufferPool::total_buffers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return carved_;
}

size_t BufferPool::free_buffers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return free_.size();
}

}  // namespace nds
