// Asynchronous page I/O on the pool's disk from the app thread, with DMA bounce buffers:
// what the metadata log and the lvol store use for everything that is not user data.
// A transient failure (I/O error, full device, timeout) is retried, the same I/O again,
// with growing pauses for up to kRetryWindowNs: these writes put the same bytes in the
// same place, so a retry is safe, and one failed metadata write must not break a pool for
// good (the metadata log stops at its first failure that outlasts the retries).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "bdev/bdev.h"
#include "env/dma_region.h"

namespace nds::lvs {

class DiskIo {
 public:
  static constexpr uint64_t kRetryWindowNs = 2'000'000'000;

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
  void attempt(IoType type, uint64_t offset, uint64_t length, void* buf, std::function<void(int)> done, uint64_t first_ns,
               uint64_t pause_ns);

  BdevDesc* desc_;
  DmaRegion& dma_;
  IoChannel* channel_ = nullptr;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // retries pending past its end give up
};

}  // namespace nds::lvs
