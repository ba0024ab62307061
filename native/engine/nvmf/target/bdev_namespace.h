// A namespace served by a bdev: a write descriptor opened on the app thread, a bdev channel
// per connection thread, and a close that goes back to the app thread however the last
// reference is dropped.
#pragma once
#include <functional>
#include <memory>

#include "bdev/bdev_manager.h"
#include "nvmf/target/target.h"

namespace nds::nvmf {

class BdevNamespace final : public Namespace {
 public:
  // App thread: opens `bdev_name` for writing and claims it for `owner` (EBUSY if claimed).
  // The namespace is deleted on `app`, where the claim is released, the descriptor closed,
  // and then `on_closed` (if set) runs.
  static Status open(BdevManager& bdevs, Thread& app, const std::string& bdev_name, const std::string& owner,
                     std::shared_ptr<BdevNamespace>* out);
  ~BdevNamespace() override;

  uint32_t block_size() const override;
  uint64_t num_blocks() const override;
  void* open_queue() override;
  void close_queue(void* queue) override;
  int submit(void* queue, IoType type, uint64_t offset, uint64_t length, void* buf, BdevIoCb cb, void* arg) override;

  const Bdev& bdev() const { return *desc_->bdev; }
  // App thread: runs after the descriptor is closed (namespace removal waits on it).
  void set_on_closed(std::function<void()> fn) { on_closed_ = std::move(fn); }

 private:
  BdevNamespace(BdevManager& bdevs, BdevDesc* desc) : bdevs_(bdevs), desc_(desc) {}
  BdevManager& bdevs_;
  BdevDesc* desc_;
  std::function<void()> on_closed_;
};

}  // namespace nds::nvmf
