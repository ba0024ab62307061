#include "env/dma_region.h"

#include <sys/mman.h>

#include <cstring>

namespace nds {

static uint64_t round_up(uint64_t value, uint64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

Status DmaRegion::reserve(uint64_t bytes, HugepageMode mode, std::shared_ptr<DmaRegion>* out, std::string* warning) {
  if (bytes == 0) return Status::error(-EINVAL, "memory size must be greater than zero");
  uint64_t size = round_up(bytes, kHugepageSize);
  if (mode != HugepageMode::Off) {
    // MAP_POPULATE makes the kernel take every hugepage now, so a short pool fails here
    // instead of with SIGBUS on first touch.
    void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
    if (mem != MAP_FAILED) {
      out->reset(new DmaRegion(static_cast<uint8_t*>(mem), size, true));
      return Status::ok();
    }
    int err = errno;
    std::string why = "cannot reserve " + std::to_string(size >> 20) + " MiB of 2 MiB hugepages (" +
                      std::strerror(err) + "); as root run: echo " + std::to_string(size / kHugepageSize) +
                      " > /proc/sys/vm/nr_hugepages (or raise it by that many pages)";
    if (mode == HugepageMode::Require) return Status::error(-ENOMEM, why);
    *warning = why + ". Falling back to ordinary pages: I/O works, but is slower and memory is not pinned.";
  }
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (mem == MAP_FAILED)
    return Status::error(-ENOMEM, "cannot reserve " + std::to_string(size >> 20) + " MiB of memory: " + std::strerror(errno));
  // Transparent hugepages still cut TLB misses when real hugepages are not available.
  madvise(mem, size, MADV_HUGEPAGE);
  out->reset(new DmaRegion(static_cast<uint8_t*>(mem), size, false));
  return Status::ok();
}

DmaRegion::DmaRegion(uint8_t* base, uint64_t size, bool hugepages) : base_(base), size_(size), hugepages_(hugepages) {
  free_extents_.emplace(0, size);
}

DmaRegion::~DmaRegion() { munmap(base_, size_); }

void* DmaRegion::alloc(size_t bytes, size_t align) {
  if (bytes == 0 || align < kMinAlign || (align & (align - 1)) != 0) return nullptr;
  uint64_t length = round_up(bytes, kMinAlign);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = free_extents_.begin(); it != free_extents_.end(); ++it) {
    uint64_t start = round_up(it->first, align);
    uint64_t extent_end = it->first + it->second;
    if (start + length > extent_end) continue;
    uint64_t head = start - it->first;
    uint64_t tail = extent_end - (start + length);
    uint64_t extent_start = it->first;
    free_extents_.erase(it);
    if (head) free_extents_.emplace(extent_start, head);
    if (tail) free_extents_.emplace(start + length, tail);
    allocations_.emplace(start, length);
    used_ += length;
    return base_ + start;
  }
  return nullptr;
}

void DmaRegion::free(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = allocations_.find(static_cast<uint64_t>(static_cast<uint8_t*>(ptr) - base_));
  if (found == allocations_.end()) return;  // not ours: ignore rather than corrupt the map
  uint64_t start = found->first;
  uint64_t length = found->second;
  allocations_.erase(found);
  used_ -= length;
  // Merge with the free neighbours on both sides.
  auto next = free_extents_.lower_bound(start);
  if (next != free_extents_.end() && next->first == start + length) {
    length += next->second;
    next = free_extents_.erase(next);
  }
  if (next != free_extents_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      prev->second += length;
      return;
    }
  }
  free_extents_.emplace(start, length);
}

bool DmaRegion::contains(const void* ptr, size_t len) const {
  auto p = static_cast<const uint8_t*>(ptr);
  return p >= base_ && len <= size_ && p - base_ <= static_cast<ptrdiff_t>(size_ - len);
}

DmaStats DmaRegion::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return DmaStats{hugepages_, size_, used_, size_ - used_};
}

}  // namespace nds
