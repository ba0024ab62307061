#include "lvol/disk_io.h"

#include <algorithm>
#include <cerrno>
#include <memory>

#include "env/time.h"
#include "thread/thread.h"

namespace nds::lvs {

DiskIo::~DiskIo() {
  if (channel_) bdev_put_io_channel(channel_);
}

void DiskIo::submit(IoType type, uint64_t offset, uint64_t length, void* buf, std::function<void(int)> done) {
  if (!channel_) channel_ = bdev_get_io_channel(desc_);
  if (!channel_) return done(-ENODEV);
  attempt(type, offset, length, buf, std::move(done), monotonic_ns(), 1'000'000);
}

namespace {
// What may pass: the device said no this time. ENODEV (gone), EINVAL and the like will not.
bool transient(int rc) { return rc == -EIO || rc == -ENOSPC || rc == -ETIMEDOUT || rc == -EAGAIN || rc == -ENOMEM || rc == -EBUSY; }
}  // namespace

void DiskIo::attempt(IoType type, uint64_t offset, uint64_t length, void* buf, std::function<void(int)> done,
                     uint64_t first_ns, uint64_t pause_ns) {
  std::weak_ptr<int> alive = alive_;
  bdev_submit_closure(desc_, channel_, type, offset, length, buf,
                      [this, alive, type, offset, length, buf, done = std::move(done), first_ns, pause_ns](int rc) mutable {
    Thread* thread = Thread::current();
    if (rc == 0 || !transient(rc) || !thread || monotonic_ns() - first_ns + pause_ns > kRetryWindowNs)
      return done(rc);
    thread->run_after(pause_ns, "pool-io-retry", [this, alive, type, offset, length, buf, done = std::move(done), first_ns, pause_ns]() mutable {
      // Gone meanwhile: so is whoever waited (the store waits for its I/O before it goes).
      if (alive.expired()) return;
      attempt(type, offset, length, buf, std::move(done), first_ns, std::min<uint64_t>(pause_ns * 4, 256'000'000));
    });
  });
}

std::shared_ptr<uint8_t> DiskIo::buffer(size_t bytes) {
  auto* mem = static_cast<uint8_t*>(dma_.alloc(bytes));
  if (!mem) return nullptr;
  DmaRegion* region = &dma_;
  return std::shared_ptr<uint8_t>(mem, [region](uint8_t* p) { region->free(p); });
}

}  // namespace nds::lvs
