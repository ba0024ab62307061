#include "nvmf/target/bdev_namespace.h"

#include "thread/thread.h"

namespace nds::nvmf {

Status BdevNamespace::open(BdevManager& bdevs, Thread& app, const std::string& bdev_name, const std::string& owner,
                           std::shared_ptr<BdevNamespace>* out) {
  BdevDesc* desc = nullptr;
  Status st = bdevs.open(bdev_name, true, &desc);
  if (!st.is_ok()) return st;
  // A claim, so the bdev cannot be destroyed (or claimed by a pool or nexus) under hosts.
  st = bdevs.claim(desc->bdev, owner);
  if (!st.is_ok()) {
    bdevs.close(desc);
    return st;
  }
  Thread* app_thread = &app;
  // The last reference may go on a connection's thread; the descriptor belongs to the app thread.
  *out = std::shared_ptr<BdevNamespace>(new BdevNamespace(bdevs, desc), [app_thread](BdevNamespace* ns) {
    if (Thread::current() == app_thread) return delete ns;
    app_thread->send([ns] { delete ns; });
  });
  return Status::ok();
}

BdevNamespace::~BdevNamespace() {
  bdevs_.release_claim(desc_->bdev);
  bdevs_.close(desc_);
  if (on_closed_) on_closed_();
}

uint32_t BdevNamespace::block_size() const { return desc_->bdev->block_size(); }
uint64_t BdevNamespace::num_blocks() const { return desc_->bdev->num_blocks(); }

void* BdevNamespace::open_queue() { return bdev_get_io_channel(desc_); }
void BdevNamespace::close_queue(void* queue) { bdev_put_io_channel(static_cast<IoChannel*>(queue)); }

int BdevNamespace::submit(void* queue, IoType type, uint64_t offset, uint64_t length, void* buf, BdevIoCb cb, void* arg) {
  return bdev_submit(desc_, static_cast<IoChannel*>(queue), type, offset, length, buf, cb, arg);
}

}  // namespace nds::nvmf
