// The bdev of an lvol, named "<pool>/<lvol>". Its I/O is split at cluster boundaries;
// each piece goes to the cluster the lvol owns, else (reads) to the nearest ancestor that
// owns it, else reads zeroes. A write to a cluster the lvol does not own asks the app
// thread to allocate it (zero-filled or copied from the ancestor), and is sent once that
// allocation is durable.
//
// Freezing (for snapshot and resize): a message to every channel's thread makes it hold
// new I/O and report once its in-flight I/O has drained; the app thread then switches the
// view, and unfreezing resubmits what was held. The I/O path itself touches only its own
// channel's counters: no atomics, no locks.
#pragma once
#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "bdev/bdev.h"
#include "lvol/cluster_map.h"
#include "thread/thread.h"

namespace nds::lvs {

class LvolStore;
class LvolChannel;

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
  friend class LvolChannel;
  void start(ModuleChannel* channel, BdevIo* io);
  void drain_done();
  std::vector<std::pair<LvolChannel*, Thread*>> set_frozen(bool frozen);
  // Runs fn(channel) on each channel's own thread, or fn(nullptr) if it is gone by then.
  void to_each_channel(std::vector<std::pair<LvolChannel*, Thread*>> targets, std::function<void(LvolChannel*)> fn);

  LvolStore* store_;
  uint64_t blob_;
  uint64_t cluster_size_;
  uint64_t data_start_;     // bytes: where data cluster 0 starts on the disk
  BdevDesc* disk_;
  uint32_t cluster_shift_;  // cluster sizes are 1 MiB multiples; powers of two use shifts
  bool cluster_pow2_;
  uint64_t cluster_index(uint64_t offset) const { return cluster_pow2_ ? offset >> cluster_shift_ : offset / cluster_size_; }
  uint64_t cluster_offset(uint64_t offset) const {
    return cluster_pow2_ ? offset & (cluster_size_ - 1) : offset % cluster_size_;
  }
  std::atomic<const LvolView*> view_;
  // Management path only: channel creation and destruction, freeze, unfreeze.
  std::mutex channels_mutex_;
  std::set<LvolChannel*> channels_;
  bool frozen_ = false;  // what a new channel starts as
  std::atomic<int> drains_pending_{0};
  std::function<void()> drained_;  // app thread
  Thread* app_ = nullptr;
};

}  // namespace nds::lvs
