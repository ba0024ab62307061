// The bdev of an lvol, named "<pool>/<lvol>". Its I/O is split at cluster boundaries;
// each piece goes to the cluster the lvol owns, else (reads) to the nearest ancestor that
// owns it, else reads zeroes. A write to a cluster the lvol does not own asks the app
// thread to allocate it (zero-filled or copied from the ancestor), and is sent once that
// allocation is durable.
//
// Freezing (for snapshot and resize): new I/O is held per channel, in-flight I/O drains,
// the app thread switches the view, and unfreezing resubmits what was held.
#pragma once
#include <atomic>
#include <deque>
#include <functional>

#include "bdev/bdev.h"
#include "lvol/cluster_map.h"
#include "thread/thread.h"

namespace nds::lvs {

class LvolStore;

class LvolBdev final : public Bdev {
 public:
  LvolBdev(LvolStore* store, uint64_t blob, std::string name, Uuid uuid, uint32_t block_size, const LvolView* view);

  const char* module_name() const override { return "lvol"; }
  bool io_type_supported(IoType) const override { return true; }
  std::unique_ptr<ModuleChannel> create_channel() override;
  void submit(ModuleChannel* channel, BdevIo* io) override;

  uint64_t blob() const { return blob_; }
  // App thread.
  void freeze(std::function<void()> drained);
  void set_view(const LvolView* view);  // while frozen
  void unfreeze();
  const LvolView* view() const { return view_.load(std::memory_order_acquire); }

 private:
  friend struct LvolIoOps;
  void start(ModuleChannel* channel, BdevIo* io);
  void end_in_flight();

  LvolStore* store_;
  uint64_t blob_;
  uint64_t cluster_size_;
  std::atomic<const LvolView*> view_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> frozen_{false};
  std::atomic<bool> drain_reported_{false};
  std::function<void()> drained_;  // app thread
  Thread* app_ = nullptr;
};

}  // namespace nds::lvs
