#include "bdev/malloc/malloc_bdev.h"

#include <cstring>

#include "bdev/bdev_factory.h"
#include "bdev/bdev_module.h"
#include "thread/thread.h"
#include "util/stream_copy.h"

namespace nds {
namespace {

class MallocBdev final : public Bdev {
 public:
  MallocBdev(const SizedBdevParams& p, DmaRegion& dma, uint8_t* data)
      : Bdev(p.name, p.uuid, p.block_size, p.num_blocks),
        dma_(dma),
        data_(data),
        stream_writes_(worth_streaming(p.num_blocks * p.block_size)) {}
  ~MallocBdev() override { dma_.free(data_); }

  const char* module_name() const override { return "malloc"; }

  bool io_type_supported(IoType type) const override {
    (void)type;  // every type; reset is a no-op: memory has no queue to reset
    return true;
  }

  void submit(ModuleChannel*, BdevIo* io) override {
    uint8_t* at = data_ + io->offset_blocks * block_size();
    size_t len = io->num_blocks * block_size();
    // A bdev bigger than the cache takes its writes with streaming stores (see
    // util/stream_copy.h). The completion is always deferred (it happens inside submit),
    // and the thread fences once before running its deferred completions.
    const bool stream = stream_writes_ && (io->type == IoType::Write || io->type == IoType::WriteZeroes ||
                                           io->type == IoType::Unmap);
    switch (io->type) {
      case IoType::Read: std::memcpy(io->buf, at, len); break;
      case IoType::Write:
        if (stream) stream_copy(at, io->buf, len); else std::memcpy(at, io->buf, len);
        break;
      case IoType::Unmap:
      case IoType::WriteZeroes:
        if (stream) stream_zero(at, len); else std::memset(at, 0, len);
        break;
      case IoType::Flush:
      case IoType::Reset: break;
    }
    if (stream) io->channel->thread->fence_before_deferred();
    bdev_io_complete(io, 0);
  }

 private:
  DmaRegion& dma_;
  uint8_t* data_;
  const bool stream_writes_;
};

}  // namespace

Status malloc_bdev_create(DmaRegion& dma, std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out) {
  SizedBdevParams params;
  Status st = parse_sized_bdev_uri(text, uri, &params);
  if (!st.is_ok()) return st;
  uint64_t bytes = params.num_blocks * params.block_size;
  auto* data = static_cast<uint8_t*>(dma.alloc(bytes, DmaRegion::kHugepageSize));
  if (!data) {
    DmaStats s = dma.stats();
    return Status::error(-ENOMEM, "not enough DMA memory for malloc bdev " + params.name + ": it needs " +
                                      std::to_string(bytes) + " bytes, " + std::to_string(s.free_bytes) + " of " +
                                      std::to_string(s.reserved_bytes) + " are free (raise memoryMb)");
  }
  std::memset(data, 0, bytes);
  *out = std::make_unique<MallocBdev>(params, dma, data);
  return Status::ok();
}

namespace {
Status malloc_from_uri(BdevManager& manager, std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out) {
  return malloc_bdev_create(manager.dma(), text, uri, out);
}
}  // namespace
NDS_BDEV_MODULE_REGISTER(BdevModule{"malloc", create_sync<malloc_from_uri>});

}  // namespace nds
