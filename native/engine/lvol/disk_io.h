// Asynchronous page I/O on the pool's disk from the app thread, with DMA bounce buffers:
// what the metadata log and the lvol store use for everything that is not user data.
#pragma once
#include <cstdint>
#include <functional>

#include "bdev/bdev.h"
#include "env/dma_region.h"

namespace nds::lvs {

class DiskIo {
 public:
  DiskIo(BdevDesc* desc, DmaRegion& dma) : desc_(desc), dma_(dma) {}
  ~DiskIo();
  // App thread. Status 0 or a negative errno. `buf` must be DMA memory.
  void submit(IoType type, uint64_t offset, uint64_t length, void* buf, std::function<void(int)> done);
  void flush(std::function<void(int)> done) { submit(IoType::Flush, 0, 0, nullptr, std::move(done)); }
  BdevDesc* desc() const { return desc_; }
  DmaRegion& dma() { return dma_; }
  // A DMA buffer freed when the last copy of the handle goes.
  std::shared_ptr<uint8_t> buffer(size_t bytes);

 private:
  BdevDesc* desc_;
  DmaRegion& dma_;
  IoChannel* channel_ = nullptr;
};

}  // namespace nds::lvs
