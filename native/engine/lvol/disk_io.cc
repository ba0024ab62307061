#include "lvol/disk_io.h"

#include <memory>

namespace nds::lvs {

DiskIo::~DiskIo() {
  if (channel_) bdev_put_io_channel(channel_);
}

void DiskIo::submit(IoType type, uint64_t offset, uint64_t length, void* buf, std::function<void(int)> done) {
  if (!channel_) channel_ = bdev_get_io_channel(desc_);
  if (!channel_) return done(-ENODEV);
  bdev_submit_closure(desc_, channel_, type, offset, length, buf, std::move(done));
}

std::shared_ptr<uint8_t> DiskIo::buffer(size_t bytes) {
  auto* mem = static_cast<uint8_t*>(dma_.alloc(bytes));
  if (!mem) return nullptr;
  DmaRegion* region = &dma_;
  return std::shared_ptr<uint8_t>(mem, [region](uint8_t* p) { region->free(p); });
}

}  // namespace nds::lvs
