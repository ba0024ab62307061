// A nexus's per-thread channel: a channel to every child on this thread, which children
// are readable (healthy) and writable (healthy or being rebuilt) as the app thread last
// said, the writes in flight (for range locks), writes waiting for a lock, and writes
// parked until a failed child's fault is persisted. The fan-out itself is nexus_io.cc.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "bdev/bdev.h"
#include "nexus/range_lock.h"
#include "nexus/segment_log.h"

namespace nds {
struct Poller;
class Thread;
}  // namespace nds

namespace nds::nexus {

class Nexus;
constexpr uint32_t kMaxChildren = 16;

// How channels should treat one child, as the app thread decided.
struct ChildRoute {
  uint32_t id;      // the child's slot, stable while it is in the nexus
  BdevDesc* desc;   // nullptr while the child's bdev is replaced (reconnect): no I/O, log kept
  SegmentLog* log;  // owned by the child; marked for every write the child misses
  bool readable;
  bool writable;
};

struct ChannelConfig {
  uint64_t generation = 0;
  bool accepting = true;  // false once the nexus shuts down: new I/O fails with ENODEV
  // Reads of one segment always go to the same healthy child (spread by segment) rather
  // than round-robin per I/O: each child's cache then holds a third of the data, not all.
  bool striped_reads = false;
  bool least_loaded_reads = false;
  uint32_t stripe_shift = 0;  // log2(segment blocks)
  std::vector<ChildRoute> children;
};

// An intrusive list of nexus I/Os, linked through their module context.
class IoList {
 public:
  void push_back(BdevIo* io);
  void remove(BdevIo* io);
  BdevIo* pop_front();
  bool empty() const { return head_ == nullptr; }
  BdevIo* front() const { return head_; }
  static BdevIo* next(BdevIo* io);

 private:
  BdevIo* head_ = nullptr;
  BdevIo* tail_ = nullptr;
};

class NexusChannel final : public ModuleChannel {
 public:
  NexusChannel(Nexus* nexus, std::shared_ptr<const ChannelConfig> config, const std::vector<RangeLock*>& locks);
  ~NexusChannel() override;

  void submit(BdevIo* io);
  // This thread, from the app thread's visits.
  void apply(std::shared_ptr<const ChannelConfig> config);
  void refuse_fault(uint32_t child_id);
  void add_lock(RangeLock* lock);
  void remove_lock(RangeLock* lock);
  // Whether this channel still holds (or has I/O on) the child.
  bool holds_child(uint32_t child_id) const { return slots_[child_id].channel != nullptr; }

  // nexus_io.cc: a child's I/O finished.
  void child_done(uint32_t child_id, BdevIo* io, int status);

 private:
  struct Slot {
    IoChannel* channel = nullptr;
    BdevDesc* desc = nullptr;
    SegmentLog* log = nullptr;
    uint64_t in_flight = 0;
    // I/Os in flight by the timeout epoch they were sent in (even, odd): what is still
    // out from the previous epoch when the current one ends has waited a full period.
    std::array<uint32_t, 2> by_epoch{};
    uint64_t read_ns = 0;   // moving average of its read latency on this channel (0: none yet)
    bool present = false;   // in the current configuration
    bool detached = false;  // present without a bdev (being reconnected): no channel
    bool reported = false;  // an error was sent to the app thread; awaiting its answer
  };

  void start_read(BdevIo* io);
  void start_write(BdevIo* io);
  void fan_out(BdevIo* io, uint32_t targets);
  void finish_fan_out(BdevIo* io);
  void report(uint32_t child_id, int status);
  void release_parked();
  void drop_slot_if_idle(uint32_t child_id);
  bool blocked_by_lock(const BdevIo* io) const;
  // A child I/O sent on, or back from, a slot: counted in flight (the slot is kept while any
  // is) and in the timeout epoch it was sent in. A timed poller (nexus_io.cc) ends the epoch
  // every period and faults the children still holding an older I/O.
  void sent(Slot& slot) {
    ++slot.in_flight;
    ++slot.by_epoch[epoch_ & 1];
  }
  void finished(Slot& slot, uint32_t sent_epoch);
  static int end_epoch(void* arg);

  Nexus* nexus_;
  std::shared_ptr<const ChannelConfig> config_;
  std::array<Slot, kMaxChildren> slots_{};
  uint32_t present_mask_ = 0;
  uint32_t readable_mask_ = 0;
  uint32_t writable_mask_ = 0;
  uint32_t next_read_ = 0;  // round-robin cursor
  uint32_t epoch_ = 0;
  Thread* owner_;                   // channels may be torn down from outside any reactor
  Poller* timeout_poller_ = nullptr;
  std::vector<RangeLock*> locks_;
  IoList writes_in_flight_;
  IoList waiting_for_lock_;
  IoList parked_;  // succeeded on a healthy child, failed on others not yet faulted
};

}  // namespace nds::nexus
