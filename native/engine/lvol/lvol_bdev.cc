#include "lvol/lvol_bdev.h"

#include <bit>
#include <cstring>

#include "lvol/lvol_store.h"
#include "thread/io_device.h"
#include "thread/thread.h"

namespace nds::lvs {

class LvolChannel final : public ModuleChannel {
 public:
  LvolChannel(LvolBdev* bdev, BdevDesc* disk) : bdev_(bdev), base(bdev_get_io_channel(disk)), owner(Thread::current()) {
    std::lock_guard<std::mutex> lock(bdev->channels_mutex_);
    frozen = bdev->frozen_;
    bdev->channels_.insert(this);
  }
  ~LvolChannel() override {
    {
      std::lock_guard<std::mutex> lock(bdev_->channels_mutex_);
      bdev_->channels_.erase(this);
    }
    if (base) bdev_put_io_channel(base);
  }
  LvolBdev* bdev_;
  IoChannel* base;
  Thread* owner;
  // The channel's thread only:
  std::deque<BdevIo*> held;  // I/O that arrived while the lvol was frozen
  uint64_t in_flight = 0;
  bool frozen = false;
  bool drain_waiting = false;
};

namespace {

// Kept in BdevIo::module_ctx while the lvol I/O is in flight.
struct IoState {
  LvolBdev* bdev;
  LvolChannel* channel;
  uint32_t pieces_left;
  int status;
};
static_assert(sizeof(IoState) <= sizeof(BdevIo::module_ctx));

IoState* state_of(BdevIo* io) { return reinterpret_cast<IoState*>(io->module_ctx); }

}  // namespace

// The piece-level operations; a friend of LvolBdev so they can reach the store.
struct LvolIoOps {
  static void piece_done(BdevIo* io, int status) {
    IoState* st = state_of(io);
    if (status != 0 && st->status == 0) st->status = status;
    if (--st->pieces_left > 0) return;
    LvolChannel* ch = st->channel;
    bdev_io_complete(io, st->status);
    if (--ch->in_flight == 0 && ch->drain_waiting) {
      ch->drain_waiting = false;
      st->bdev->drain_done();
    }
  }

  static void on_base_done(int status, void* arg) { piece_done(static_cast<BdevIo*>(arg), status); }

  static void run_piece(BdevIo* io, const LvolView* view, IoType type, uint64_t offset, uint64_t length, uint8_t* buf) {
    IoState* st = state_of(io);
    LvolBdev* bdev = st->bdev;
    uint64_t index = bdev->cluster_index(offset);
    uint64_t within = bdev->cluster_offset(offset);
    uint32_t cluster = view->map->get(index);
    auto to_disk = [&](IoType op, uint32_t c) {
      uint64_t at = bdev->data_start_ + (static_cast<uint64_t>(c - 1) << bdev->cluster_shift_) + within;
      if (!bdev->cluster_pow2_) at = bdev->data_start_ + static_cast<uint64_t>(c - 1) * bdev->cluster_size_ + within;
      int rc = bdev_submit(bdev->disk_, st->channel->base, op, at, length, buf, on_base_done, io);
      if (rc != 0) piece_done(io, rc);
    };
    if (type == IoType::Read) {
      for (const LvolView* v = view; v && !cluster; v = v->parent) cluster = index < v->size_clusters ? v->map->get(index) : 0;
      if (cluster) return to_disk(IoType::Read, cluster);
      std::memset(buf, 0, length);  // allocated nowhere in the chain: zeroes
      return piece_done(io, 0);
    }
    if (cluster) return to_disk(type == IoType::Unmap ? IoType::WriteZeroes : type, cluster);
    if (type != IoType::Write) {
      // Zeroing a cluster nobody in the chain owns changes nothing: it reads as zeroes.
      bool inherited = false;
      for (const LvolView* v = view->parent; v && !inherited; v = v->parent)
        inherited = index < v->size_clusters && v->map->get(index) != 0;
      if (!inherited) return piece_done(io, 0);
    }
    bdev->store_->request_allocation(bdev->blob_, index, [io, view, type, offset, length, buf](int rc) {
      if (rc != 0) return piece_done(io, rc);
      run_piece(io, view, type, offset, length, buf);  // now the cluster is ours
    });
  }
};

LvolBdev::LvolBdev(LvolStore* store, uint64_t blob, std::string name, Uuid uuid, uint32_t block_size, const LvolView* view)
    : Bdev(std::move(name), uuid, block_size, view->size_clusters * store->cluster_size() / block_size),
      store_(store),
      blob_(blob),
      cluster_size_(store->cluster_size()),
      data_start_(store->data_offset(0)),
      disk_(store->disk()),
      cluster_shift_(static_cast<uint32_t>(std::countr_zero(store->cluster_size()))),
      cluster_pow2_(std::has_single_bit(store->cluster_size())),
      view_(view),
      app_(Thread::current()) {}

std::unique_ptr<ModuleChannel> LvolBdev::create_channel() { return std::make_unique<LvolChannel>(this, store_->disk()); }

void LvolBdev::submit(ModuleChannel* channel, BdevIo* io) {
  auto* ch = static_cast<LvolChannel*>(channel);
  if (ch->frozen) return ch->held.push_back(io);
  ++ch->in_flight;
  *state_of(io) = IoState{this, ch, 0, 0};
  start(channel, io);
}

void LvolBdev::start(ModuleChannel* channel, BdevIo* io) {
  auto* ch = static_cast<LvolChannel*>(channel);
  IoState* st = state_of(io);
  if (!ch->base) {
    st->pieces_left = 1;
    return LvolIoOps::piece_done(io, -ENODEV);
  }
  if (io->type == IoType::Flush || io->type == IoType::Reset) {
    st->pieces_left = 1;
    int rc = bdev_submit(store_->disk(), ch->base, IoType::Flush, 0, 0, nullptr, LvolIoOps::on_base_done, io);
    if (rc != 0) LvolIoOps::piece_done(io, rc);
    return;
  }
  const LvolView* view = this->view();  // stable while the I/O is in flight (freeze waits for it)
  if (io->type != IoType::Read && view->read_only) {
    st->pieces_left = 1;
    return LvolIoOps::piece_done(io, -EROFS);
  }
  uint64_t offset = io->offset_blocks << block_shift();
  uint64_t length = io->num_blocks << block_shift();
  uint64_t end = offset + length;
  auto* buf = static_cast<uint8_t*>(io->buf);
  uint32_t pieces = static_cast<uint32_t>(cluster_index(end - 1) - cluster_index(offset) + 1);
  if (pieces == 1) {
    st->pieces_left = 1;
    return LvolIoOps::run_piece(io, view, io->type, offset, length, buf);
  }
  // One extra count held while pieces are issued, so a piece finishing early cannot
  // complete the I/O before the last piece is sent.
  st->pieces_left = pieces + 1;
  for (uint64_t at = offset; at < end;) {
    uint64_t piece_end = std::min(end, (cluster_index(at) + 1) * cluster_size_);
    LvolIoOps::run_piece(io, view, io->type, at, piece_end - at, buf ? buf + (at - offset) : nullptr);
    at = piece_end;
  }
  LvolIoOps::piece_done(io, 0);
}

void LvolBdev::to_each_channel(std::vector<std::pair<LvolChannel*, Thread*>> targets, std::function<void(LvolChannel*)> fn) {
  for (auto [ch, thread] : targets) {
    thread->send([this, ch = ch, fn] {
      {
        // A channel may be destroyed before its message arrives: look again.
        std::lock_guard<std::mutex> lock(channels_mutex_);
        if (!channels_.count(ch)) return fn(nullptr);
      }
      fn(ch);
    });
  }
}

std::vector<std::pair<LvolChannel*, Thread*>> LvolBdev::set_frozen(bool frozen) {
  // The flag for new channels and the list of existing ones change together: every channel
  // is either in the list (and gets a message) or created after (and starts that way).
  std::lock_guard<std::mutex> lock(channels_mutex_);
  frozen_ = frozen;
  std::vector<std::pair<LvolChannel*, Thread*>> targets;
  for (LvolChannel* ch : channels_) targets.emplace_back(ch, ch->owner);
  return targets;
}

void LvolBdev::drain_done() {
  if (drains_pending_.fetch_sub(1) != 1) return;
  app_->send([this] {
    auto drained = std::move(drained_);
    drained_ = nullptr;
    if (drained) drained();
  });
}

void LvolBdev::freeze(std::function<void()> drained) {
  drained_ = std::move(drained);
  auto targets = set_frozen(true);
  // One count per channel, plus one held until every message is sent.
  drains_pending_.store(static_cast<int>(targets.size()) + 1);
  to_each_channel(std::move(targets), [this](LvolChannel* ch) {
    if (!ch) return drain_done();
    ch->frozen = true;
    if (ch->in_flight == 0) return drain_done();
    ch->drain_waiting = true;  // its last completion reports
  });
  drain_done();
}

void LvolBdev::set_view(const LvolView* view) {
  view_.store(view, std::memory_order_release);
  set_num_blocks(view->size_clusters * cluster_size_ / block_size());
}

void LvolBdev::unfreeze() {
  to_each_channel(set_frozen(false), [this](LvolChannel* ch) {
    if (!ch) return;
    ch->frozen = false;
    auto held = std::move(ch->held);
    ch->held.clear();
    for (BdevIo* io : held) submit(ch, io);
  });
}

}  // namespace nds::lvs
