// I/O fan-out of a nexus channel. Reads go round-robin to readable children and move on to
// the next one when a child fails. Writes (and write zeroes, unmap, flush) go to every
// writable child; a child that fails is excluded on this channel at once and reported to
// the app thread. A write that reached a healthy child waits ("parked") until the failed
// child's fault is persisted and published: only then may it be acknowledged, so a restart
// never trusts a child that missed an acknowledged write.
#include <bit>
#include <utility>

#include "nexus/nexus.h"
#include "nexus/nexus_channel.h"
#include "thread/io_device.h"
#include "thread/thread.h"

namespace nds::nexus {
namespace {

// Kept in BdevIo::module_ctx of the nexus I/O.
struct NexusIoState {
  BdevIo* next;
  BdevIo* prev;
  uint32_t pending;
  uint32_t targets;  // children the I/O went to
  uint32_t failed;   // children that failed it
  uint32_t tried;    // reads: children already tried
  int32_t error;     // the first child error
  uint32_t epoch;    // the timeout epoch its child I/Os were sent in
};
static_assert(sizeof(NexusIoState) <= sizeof(BdevIo::module_ctx));

NexusIoState& state_of(BdevIo* io) { return *reinterpret_cast<NexusIoState*>(io->module_ctx); }

bool changes_data(IoType type) {
  return type == IoType::Write || type == IoType::WriteZeroes || type == IoType::Unmap;
}

// One completion function per child slot, so a child I/O's callback argument can be the
// nexus I/O itself: no per-child allocation on the I/O path.
template <uint32_t Id>
void child_io_done(int status, void* arg) {
  auto* io = static_cast<BdevIo*>(arg);
  static_cast<NexusChannel*>(io->channel->module.get())->child_done(Id, io, status);
}

template <uint32_t... Ids>
constexpr std::array<BdevIoCb, sizeof...(Ids)> make_child_callbacks(std::integer_sequence<uint32_t, Ids...>) {
  return {&child_io_done<Ids>...};
}
constexpr auto kChildDone = make_child_callbacks(std::make_integer_sequence<uint32_t, kMaxChildren>{});

}  // namespace

// ---------------------------------------------------------------- IoList

void IoList::push_back(BdevIo* io) {
  NexusIoState& s = state_of(io);
  s.next = nullptr;
  s.prev = tail_;
  if (tail_) state_of(tail_).next = io; else head_ = io;
  tail_ = io;
}

void IoList::remove(BdevIo* io) {
  NexusIoState& s = state_of(io);
  if (s.prev) state_of(s.prev).next = s.next; else head_ = s.next;
  if (s.next) state_of(s.next).prev = s.prev; else tail_ = s.prev;
  s.next = s.prev = nullptr;
}

BdevIo* IoList::pop_front() {
  BdevIo* io = head_;
  if (io) remove(io);
  return io;
}

BdevIo* IoList::next(BdevIo* io) { return state_of(io).next; }

// ---------------------------------------------------------------- channel

NexusChannel::NexusChannel(Nexus* nexus, std::shared_ptr<const ChannelConfig> config,
                           const std::vector<RangeLock*>& locks)
    : nexus_(nexus), owner_(Thread::current()), locks_(locks) {
  apply(std::move(config));
  if (uint64_t timeout_ms = nexus_->io_timeout_ms(); timeout_ms > 0 && owner_)
    timeout_poller_ = owner_->register_poller("nexus-timeout:" + nexus_->name(), end_epoch, this, timeout_ms * 1'000'000);
}

NexusChannel::~NexusChannel() {
  if (timeout_poller_) owner_->unregister_poller(timeout_poller_);
  for (auto& slot : slots_)
    if (slot.channel) bdev_put_io_channel(slot.channel);
}

void NexusChannel::apply(std::shared_ptr<const ChannelConfig> config) {
  if (config_ && config->generation <= config_->generation) return;  // an older visit arriving late
  config_ = std::move(config);
  uint32_t present = 0, readable = 0, writable = 0;
  for (const ChildRoute& route : config_->children) {
    Slot& slot = slots_[route.id];
    uint32_t bit = 1u << route.id;
    present |= bit;
    if (route.readable) readable |= bit;
    if (route.writable) writable |= bit;
    if (!route.desc) {
      // Its bdev is being replaced: present (its log notes the writes it misses) but with
      // no channel, dropped here or once its last I/O is back (child_done).
      slot.present = true;
      slot.detached = true;
      slot.log = route.log;
      readable &= ~bit;
      writable &= ~bit;
      drop_slot_if_idle(route.id);
      continue;
    }
    slot.detached = false;
    if (!slot.channel || slot.desc != route.desc) {
      if (slot.channel) bdev_put_io_channel(slot.channel);
      slot.channel = bdev_get_io_channel(route.desc);
      slot.desc = route.desc;
      slot.in_flight = 0;
      slot.read_ns = 0;  // a new bdev: measured afresh
      slot.by_epoch = {};
    }
    slot.log = route.log;
    slot.present = true;
    slot.reported = false;
    // A child whose channel could not be had on this thread is used by nobody here.
    if (!slot.channel) {
      readable &= ~bit;
      writable &= ~bit;
    }
  }
  for (uint32_t id = 0; id < kMaxChildren; ++id) {
    if (present & (1u << id)) continue;
    slots_[id].present = false;
    slots_[id].reported = false;
    drop_slot_if_idle(id);
  }
  present_mask_ = present;
  readable_mask_ = readable;
  writable_mask_ = writable;
  release_parked();
}

void NexusChannel::drop_slot_if_idle(uint32_t id) {
  Slot& slot = slots_[id];
  if ((slot.present && !slot.detached) || slot.in_flight > 0 || !slot.channel) return;
  bdev_put_io_channel(slot.channel);
  if (!slot.present) {
    slot = Slot{};
    return;
  }
  slot.channel = nullptr;  // detached: keeps its log and stays present
  slot.desc = nullptr;
}

void NexusChannel::release_parked() {
  IoList still;
  while (BdevIo* io = parked_.pop_front()) {
    // Acknowledged once every child that failed it is out of the writable set everywhere.
    if (state_of(io).failed & writable_mask_) {
      still.push_back(io);
    } else {
      bdev_io_complete(io, 0);
    }
  }
  parked_ = still;
}

void NexusChannel::refuse_fault(uint32_t child_id) {
  // The child stays (it is the last healthy one, or its fault could not be persisted):
  // writes it failed fail too, and the child is used again here.
  uint32_t bit = 1u << child_id;
  IoList still;
  while (BdevIo* io = parked_.pop_front()) {
    if (state_of(io).failed & bit) {
      bdev_io_complete(io, state_of(io).error);
    } else {
      still.push_back(io);
    }
  }
  parked_ = still;
  Slot& slot = slots_[child_id];
  slot.reported = false;
  for (const ChildRoute& route : config_->children) {
    if (route.id != child_id || !slot.channel) continue;
    if (route.readable) readable_mask_ |= bit;
    if (route.writable) writable_mask_ |= bit;
  }
}

void NexusChannel::add_lock(RangeLock* lock) {
  for (RangeLock* held : locks_)
    if (held == lock) return;  // this channel was created after the lock and already has it
  locks_.push_back(lock);
  for (BdevIo* io = writes_in_flight_.front(); io; io = IoList::next(io))
    if (lock->overlaps(io->offset_blocks, io->num_blocks)) lock->hold_one();
}

void NexusChannel::remove_lock(RangeLock* lock) {
  std::erase(locks_, lock);
  IoList waiting = waiting_for_lock_;
  waiting_for_lock_ = IoList{};
  while (BdevIo* io = waiting.pop_front()) {
    if (blocked_by_lock(io)) {
      waiting_for_lock_.push_back(io);
    } else {
      start_write(io);
    }
  }
}

bool NexusChannel::blocked_by_lock(const BdevIo* io) const {
  for (const RangeLock* lock : locks_)
    if (lock->overlaps(io->offset_blocks, io->num_blocks)) return true;
  return false;
}

void NexusChannel::report(uint32_t child_id, int status) {
  uint32_t bit = 1u << child_id;
  // The last healthy child stays in use: the nexus never faults it, and leaving it out here
  // would fail with ENODEV every I/O that arrives before the app thread says so.
  if (readable_mask_ != bit) {
    readable_mask_ &= ~bit;
    writable_mask_ &= ~bit;
  }
  Slot& slot = slots_[child_id];
  if (slot.reported) return;
  slot.reported = true;
  nexus_->report_child_error(child_id, status);
}

// ---------------------------------------------------------------- I/O

void NexusChannel::submit(BdevIo* io) {
  NexusIoState& s = state_of(io);
  s = NexusIoState{nullptr, nullptr, 0, 0, 0, 0, 0, 0};
  if (!config_->accepting) return bdev_io_complete(io, -ENODEV);
  switch (io->type) {
    case IoType::Read: return start_read(io);
    case IoType::Write:
    case IoType::WriteZeroes:
    case IoType::Unmap:
      if (!locks_.empty() && blocked_by_lock(io)) return waiting_for_lock_.push_back(io);
      return start_write(io);
    case IoType::Flush:
    case IoType::Reset: return fan_out(io, writable_mask_);
  }
}

void NexusChannel::start_read(BdevIo* io) {
  NexusIoState& s = state_of(io);
  uint32_t candidates = readable_mask_ & ~s.tried;
  if (candidates == 0) return bdev_io_complete(io, s.error ? s.error : -ENODEV);
  if (config_->striped_reads && s.tried == 0) {
    // The n-th readable child, n = segment number modulo how many there are.
    uint32_t n = static_cast<uint32_t>((io->offset_blocks >> config_->stripe_shift) % static_cast<uint64_t>(std::popcount(candidates)));
    uint32_t pick = candidates;
    for (; n > 0; --n) pick &= pick - 1;
    candidates = pick & (~pick + 1);  // its lowest set bit
  }
  if (config_->least_loaded_reads && (candidates & (candidates - 1)) != 0) {
    // The child expected to answer soonest: its I/Os in flight on this channel, plus this
    // one, times its mean read latency here. A local child answering in microseconds takes
    // nearly every read while remote ones take tens; one that slows down takes fewer. A
    // child not measured yet counts by its queue alone.
    uint64_t best = UINT64_MAX;
    uint32_t least = 0;
    for (uint32_t left = candidates; left; left &= left - 1) {
      uint32_t c = static_cast<uint32_t>(std::countr_zero(left));
      uint64_t expected = (slots_[c].in_flight + 1) * (slots_[c].read_ns + 1);
      if (expected < best) {
        best = expected;
        least = 0;
      }
      if (expected == best) least |= 1u << c;
    }
    candidates = least;  // ties: round-robin among them
  }
  // The next candidate at or after the cursor, wrapping around.
  uint32_t cursor = next_read_ % kMaxChildren;
  uint32_t rotated = (candidates >> cursor) | (cursor ? candidates << (kMaxChildren - cursor) : 0);
  uint32_t id = (cursor + static_cast<uint32_t>(std::countr_zero(rotated & ((1u << kMaxChildren) - 1)))) % kMaxChildren;
  next_read_ = id + 1;
  s.tried |= 1u << id;
  s.pending = 1;
  s.epoch = epoch_;
  Slot& slot = slots_[id];
  sent(slot);
  int rc = bdev_submit(slot.desc, slot.channel, IoType::Read, io->offset_blocks << io->bdev->block_shift(),
                       io->num_blocks << io->bdev->block_shift(), io->buf, kChildDone[id], io);
  if (rc != 0) {
    finished(slot, s.epoch);
    s.error = rc;
    start_read(io);  // not the child's fault (no memory for the I/O): try another
  }
}

void NexusChannel::start_write(BdevIo* io) {
  writes_in_flight_.push_back(io);
  fan_out(io, writable_mask_);
}

void NexusChannel::fan_out(BdevIo* io, uint32_t targets) {
  NexusIoState& s = state_of(io);
  if (changes_data(io->type)) {
    // Every child present but not written keeps a note of the segments it misses.
    for (uint32_t missed = present_mask_ & ~targets; missed; missed &= missed - 1) {
      Slot& slot = slots_[std::countr_zero(missed)];
      if (slot.log) slot.log->mark(io->offset_blocks, io->num_blocks);
    }
  }
  s.targets = targets;
  s.pending = static_cast<uint32_t>(std::popcount(targets)) + 1;  // +1 until every child has it
  s.epoch = epoch_;
  const uint32_t shift = io->bdev->block_shift();
  for (uint32_t left = targets; left; left &= left - 1) {
    uint32_t id = static_cast<uint32_t>(std::countr_zero(left));
    Slot& slot = slots_[id];
    sent(slot);
    int rc = bdev_submit(slot.desc, slot.channel, io->type, io->offset_blocks << shift, io->num_blocks << shift, io->buf,
                         kChildDone[id], io);
    if (rc != 0) {
      finished(slot, s.epoch);
      s.failed |= 1u << id;
      if (!s.error) s.error = rc;
      --s.pending;
    }
  }
  if (--s.pending == 0) finish_fan_out(io);
}

void NexusChannel::child_done(uint32_t id, BdevIo* io, int status) {
  NexusIoState& s = state_of(io);
  Slot& slot = slots_[id];
  finished(slot, s.epoch);
  if (!slot.present || slot.detached) drop_slot_if_idle(id);
  if (io->type == IoType::Read) {
    if (status == 0) {
      if (config_->least_loaded_reads && (s.tried & (s.tried - 1)) == 0) {
        // Sent at the nexus I/O's start (a first try); the completion's clock is current.
        uint64_t took = io->channel->thread->io_clock().now - io->start_ns;
        slot.read_ns = slot.read_ns ? slot.read_ns - (slot.read_ns >> 3) + (took >> 3) : took;
      }
      return bdev_io_complete(io, 0);
    }
    s.error = status;
    report(id, status);
    return start_read(io);
  }
  if (status != 0) {
    s.failed |= 1u << id;
    if (!s.error) s.error = status;
  }
  if (--s.pending == 0) finish_fan_out(io);
}

void NexusChannel::finish_fan_out(BdevIo* io) {
  NexusIoState& s = state_of(io);
  if (changes_data(io->type)) {
    writes_in_flight_.remove(io);
    for (RangeLock* lock : locks_)
      if (lock->overlaps(io->offset_blocks, io->num_blocks)) lock->release_one();
  }
  if (s.targets == 0) return bdev_io_complete(io, -ENODEV);  // no writable child: the nexus is faulted
  if (s.failed == 0) return bdev_io_complete(io, 0);
  for (uint32_t failed = s.failed; failed; failed &= failed - 1) {
    uint32_t id = static_cast<uint32_t>(std::countr_zero(failed));
    if (changes_data(io->type) && slots_[id].log) slots_[id].log->mark(io->offset_blocks, io->num_blocks);
    report(id, s.error);
  }
  // Succeeded on no healthy child: the application sees the error.
  if ((s.targets & ~s.failed & readable_mask_) == 0) return bdev_io_complete(io, s.error);
  parked_.push_back(io);
}

// ---------------------------------------------------------------- timeout

void NexusChannel::finished(Slot& slot, uint32_t sent_epoch) {
  --slot.in_flight;
  // Sent in an epoch before the previous one: already counted as timed out.
  if (epoch_ - sent_epoch > 1) return;
  uint32_t& count = slot.by_epoch[sent_epoch & 1];
  if (count > 0) --count;  // a slot reset for a new child channel starts from zero
}

int NexusChannel::end_epoch(void* arg) {
  auto* self = static_cast<NexusChannel*>(arg);
  // I/Os still out from the previous epoch were sent at least one period ago.
  const uint32_t previous = (self->epoch_ + 1) & 1;
  uint32_t timed_out = 0;
  for (uint32_t id = 0; id < kMaxChildren; ++id) {
    Slot& slot = self->slots_[id];
    if (slot.by_epoch[previous] > 0 && slot.present) timed_out |= 1u << id;
    slot.by_epoch[previous] = 0;  // becomes the next epoch's count
  }
  ++self->epoch_;
  for (uint32_t left = timed_out; left; left &= left - 1) {
    uint32_t id = static_cast<uint32_t>(std::countr_zero(left));
    // Fault it first, so nothing new goes there, then ask for its I/Os back: those the child
    // can end fail here with ETIMEDOUT and go to the other children like any child error.
    // What it cannot give back (a kernel read in progress) completes when the device lets go.
    self->report(id, -ETIMEDOUT);
    if (self->slots_[id].channel) bdev_abort_all(self->slots_[id].channel, -ETIMEDOUT);
  }
  return timed_out ? 1 : 0;
}

}  // namespace nds::nexus
