#include "lvol/lvol_bdev.h"

#include <cstring>

#include "lvol/lvol_store.h"
#include "thread/io_device.h"
#include "thread/thread.h"

namespace nds::lvs {

namespace {

class LvolChannel final : public ModuleChannel {
 public:
  explicit LvolChannel(BdevDesc* disk) : base(bdev_get_io_channel(disk)) {}
  ~LvolChannel() override {
    if (base) bdev_put_io_channel(base);
  }
  IoChannel* base;
  std::deque<BdevIo*> held;  // I/O that arrived while the lvol was frozen
};

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
    LvolBdev* bdev = st->bdev;
    bdev_io_complete(io, st->status);
    bdev->end_in_flight();
  }

  static void on_base_done(int status, void* arg) { piece_done(static_cast<BdevIo*>(arg), status); }

  static void run_piece(BdevIo* io, IoType type, uint64_t offset, uint64_t length, uint8_t* buf) {
    IoState* st = state_of(io);
    LvolBdev* bdev = st->bdev;
    LvolStore* store = bdev->store_;
    const LvolView* view = bdev->view();
    uint64_t index = offset / bdev->cluster_size_;
    uint64_t within = offset % bdev->cluster_size_;
    uint32_t cluster = view->map->get(index);
    auto to_disk = [&](IoType op, uint32_t c) {
      int rc = bdev_submit(store->disk(), st->channel->base, op, store->data_offset(c - 1) + within, length, buf,
                           on_base_done, io);
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
    Thread* origin = Thread::current();
    store->request_allocation(bdev->blob_, index, [io, type, offset, length, buf, origin](int rc) {
      (void)origin;
      if (rc != 0) return piece_done(io, rc);
      run_piece(io, type, offset, length, buf);  // now the cluster is ours
    });
  }
};

LvolBdev::LvolBdev(LvolStore* store, uint64_t blob, std::string name, Uuid uuid, uint32_t block_size, const LvolView* view)
    : Bdev(std::move(name), uuid, block_size, view->size_clusters * store->cluster_size() / block_size),
      store_(store),
      blob_(blob),
      cluster_size_(store->cluster_size()),
      view_(view),
      app_(Thread::current()) {}

std::unique_ptr<ModuleChannel> LvolBdev::create_channel() { return std::make_unique<LvolChannel>(store_->disk()); }

void LvolBdev::submit(ModuleChannel* channel, BdevIo* io) {
  auto* ch = static_cast<LvolChannel*>(channel);
  // Count first, then look at the flag: with the app thread doing the reverse (set the
  // flag, then read the count) one of the two always sees the other.
  in_flight_.fetch_add(1, std::memory_order_seq_cst);
  if (frozen_.load(std::memory_order_seq_cst)) {
    ch->held.push_back(io);
    return end_in_flight();
  }
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
  if (io->type != IoType::Read && view()->read_only) {
    st->pieces_left = 1;
    return LvolIoOps::piece_done(io, -EROFS);
  }
  uint64_t offset = io->offset_blocks * block_size();
  uint64_t end = offset + io->num_blocks * block_size();
  uint32_t pieces = static_cast<uint32_t>((end - 1) / cluster_size_ - offset / cluster_size_ + 1);
  // One extra count held while pieces are issued, so a piece finishing early cannot
  // complete the I/O before the last piece is sent.
  st->pieces_left = pieces + 1;
  auto* buf = static_cast<uint8_t*>(io->buf);
  for (uint64_t at = offset; at < end;) {
    uint64_t piece_end = std::min(end, (at / cluster_size_ + 1) * cluster_size_);
    LvolIoOps::run_piece(io, io->type, at, piece_end - at, buf ? buf + (at - offset) : nullptr);
    at = piece_end;
  }
  LvolIoOps::piece_done(io, 0);
}

void LvolBdev::end_in_flight() {
  if (in_flight_.fetch_sub(1, std::memory_order_seq_cst) == 1 && frozen_.load(std::memory_order_seq_cst) &&
      !drain_reported_.exchange(true)) {
    app_->send([this] {
      auto drained = std::move(drained_);
      drained_ = nullptr;
      if (drained) drained();
    });
  }
}

void LvolBdev::freeze(std::function<void()> drained) {
  drained_ = std::move(drained);
  drain_reported_.store(false);
  frozen_.store(true, std::memory_order_seq_cst);
  if (in_flight_.load(std::memory_order_seq_cst) == 0 && !drain_reported_.exchange(true)) {
    auto run = std::move(drained_);
    drained_ = nullptr;
    run();
  }
}

void LvolBdev::set_view(const LvolView* view) {
  view_.store(view, std::memory_order_release);
  set_num_blocks(view->size_clusters * cluster_size_ / block_size());
}

void LvolBdev::unfreeze() {
  frozen_.store(false, std::memory_order_seq_cst);
  for_each_channel(
      this,
      [this](IoChannel* channel) {
        auto* bch = static_cast<BdevChannel*>(channel->ctx);
        auto* ch = static_cast<LvolChannel*>(bch->module.get());
        auto held = std::move(ch->held);
        ch->held.clear();
        for (BdevIo* io : held) submit(ch, io);
      },
      [] {});
}

}  // namespace nds::lvs
