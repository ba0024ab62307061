#include "bdev/bdev.h"

#include <bit>
#include <cassert>
#include <memory>

#include "env/time.h"
#include "thread/io_device.h"
#include "thread/poller.h"
#include "thread/thread.h"

namespace nds {

const char* BdevHealth::name(State state) {
  switch (state) {
    case Online: return "online";
    case Reconnecting: return "reconnecting";
    case Gone: return "gone";
  }
  return "unknown";
}

Bdev::Bdev(std::string name, Uuid uuid, uint32_t block_size, uint64_t num_blocks)
    : name_(std::move(name)),
      uuid_(uuid),
      block_size_(block_size),
      block_shift_(static_cast<uint32_t>(std::countr_zero(block_size))),
      num_blocks_(num_blocks) {
  assert(std::has_single_bit(block_size));
}

Bdev::~Bdev() = default;

IoStatSnapshot Bdev::stats() const {
  IoStatSnapshot total;
  std::lock_guard<std::mutex> lock(stats_mutex_);
  total.add(retired_stats_);
  for (const IoStat* live : live_stats_) live->add_to(&total);
  total.subtract(baseline_);
  return total;
}

IoCountsByType Bdev::counts() const {
  IoCountsByType total{};
  std::lock_guard<std::mutex> lock(stats_mutex_);
  retired_stats_.add_counts_to(&total);
  for (const IoStat* live : live_stats_) live->add_counts_to(&total);
  baseline_.add_counts_to(&total, -1);
  return total;
}

void Bdev::reset_stats() {
  IoStatSnapshot now;
  std::lock_guard<std::mutex> lock(stats_mutex_);
  now.add(retired_stats_);
  for (const IoStat* live : live_stats_) live->add_to(&now);
  baseline_ = now;
}

int bdev_channel_create(void* io_device, void* ctx) {
  auto* bdev = static_cast<Bdev*>(io_device);
  auto* ch = new (ctx) BdevChannel{bdev, Thread::current(), bdev->create_channel(), {}, {}, 0, 0, {}, nullptr};
  std::lock_guard<std::mutex> lock(bdev->stats_mutex_);
  bdev->live_stats_.push_back(&ch->stat);
  return 0;
}

void bdev_channel_destroy(void* io_device, void* ctx) {
  auto* bdev = static_cast<Bdev*>(io_device);
  auto* ch = static_cast<BdevChannel*>(ctx);
  {
    std::lock_guard<std::mutex> lock(bdev->stats_mutex_);
    ch->stat.add_to(&bdev->retired_stats_);
    std::erase(bdev->live_stats_, &ch->stat);
  }
  // A channel goes only when its users are done with it, after aborting what they had
  // in flight; a retry left queued here would be a lost completion.
  assert(ch->retry_queue.empty());
  if (ch->retry_poller) ch->thread->unregister_poller(ch->retry_poller);
  for (BdevIo* io : ch->io_cache) delete io;
  ch->~BdevChannel();
}

IoChannel* bdev_get_io_channel(BdevDesc* desc) { return get_io_channel(desc->bdev); }

void bdev_put_io_channel(IoChannel* channel) { put_io_channel(channel); }

// One clock read per stack of layers: an I/O submitted (or completed) from inside another
// bdev's submit (or completion) on the same thread, as an lvol does to its base, uses the
// enclosing layer's timestamp. The clock is the largest per-layer cost on the I/O path.
namespace {
struct ClockScope {
  explicit ClockScope(Thread* thread) : clock(thread->io_clock()) {
    if (clock.depth++ == 0) clock.now = now_ns();
  }
  ~ClockScope() { --clock.depth; }
  uint64_t now() const { return clock.now; }
  Thread::IoClock& clock;
};
}  // namespace

static void resubmit_retries(BdevChannel* ch);

static void finish_io(void* arg) {
  auto* io = static_cast<BdevIo*>(arg);
  BdevChannel* ch = io->channel;
  ClockScope clock(ch->thread);
  ch->stat.record(io->type, io->num_blocks << io->bdev->block_shift(), clock.now() - io->start_ns, io->status != 0);
  --ch->in_flight;
  BdevIoCb cb = io->cb;
  void* cb_arg = io->cb_arg;
  int status = io->status;
  ch->io_cache.push_back(io);
  cb(status, cb_arg);
  // A completion frees what the module ran short of: give the queued I/Os another go.
  if (!ch->retry_queue.empty()) resubmit_retries(ch);
}

static void resubmit_retries(BdevChannel* ch) {
  // Only the I/Os queued now: one the module hands back again waits for the next chance.
  size_t count = ch->retry_queue.size();
  ++ch->submit_depth;
  while (count-- > 0 && !ch->retry_queue.empty()) {
    BdevIo* io = ch->retry_queue.front();
    ch->retry_queue.pop_front();
    ch->bdev->submit(ch->module.get(), io);
  }
  --ch->submit_depth;
  if (ch->retry_queue.empty() && ch->retry_poller) {
    ch->thread->unregister_poller(ch->retry_poller);
    ch->retry_poller = nullptr;
  }
}

static int retry_poll(void* arg) {
  auto* ch = static_cast<BdevChannel*>(arg);
  if (ch->retry_queue.empty()) return 0;
  resubmit_retries(ch);
  return 1;
}

void bdev_io_retry_later(BdevIo* io) {
  BdevChannel* ch = io->channel;
  ch->retry_queue.push_back(io);
  // With nothing else in flight no completion will come to retry it: a timed poller does.
  if (!ch->retry_poller) ch->retry_poller = ch->thread->register_poller("bdev-retry:" + ch->bdev->name(), retry_poll, ch, 100'000);
}

void bdev_io_complete(BdevIo* io, int status) {
  io->status = status;
  // Completing inside submit() would let the callback submit again and recurse without
  // bound; finish it after the current callback instead.
  if (io->channel->submit_depth > 0) {
    io->channel->thread->defer(finish_io, io);
  } else {
    finish_io(io);
  }
}

int bdev_submit(BdevDesc* desc, IoChannel* channel, IoType type, uint64_t offset_bytes, uint64_t length_bytes,
                void* buf, BdevIoCb cb, void* cb_arg) {
  Bdev* bdev = desc->bdev;
  if (type != IoType::Read && type != IoType::Flush && type != IoType::Reset) {
    if (!desc->write) return -EPERM;
    const BdevDesc* writer = bdev->exclusive_writer();
    if (writer && writer != desc) return -EPERM;  // claimed: only the claimer changes it
  }
  if (!bdev->io_type_supported(type)) return -ENOTSUP;
  // Block-aligned and inside the bdev, with masks and shifts: no division on the I/O path.
  const uint64_t mask = bdev->block_size() - 1;
  const uint64_t size = bdev->size_bytes();
  if (((offset_bytes | length_bytes) & mask) != 0 || offset_bytes > size || length_bytes > size - offset_bytes)
    return -EINVAL;
  auto* ch = static_cast<BdevChannel*>(channel->ctx);
  BdevIo* io;
  if (!ch->io_cache.empty()) {
    io = ch->io_cache.back();
    ch->io_cache.pop_back();
  } else {
    io = new (std::nothrow) BdevIo;
    if (!io) return -ENOMEM;
  }
  io->bdev = bdev;
  io->channel = ch;
  io->type = type;
  io->offset_blocks = offset_bytes >> bdev->block_shift();
  io->num_blocks = length_bytes >> bdev->block_shift();
  io->buf = buf;
  io->cb = cb;
  io->cb_arg = cb_arg;
  io->status = 0;
  ClockScope clock(ch->thread);
  io->start_ns = clock.now();
  ++ch->in_flight;
  ++ch->submit_depth;
  bdev->submit(ch->module.get(), io);
  --ch->submit_depth;
  return 0;
}

void bdev_abort_all(IoChannel* channel, int status) {
  auto* ch = static_cast<BdevChannel*>(channel->ctx);
  // As inside submit(): what the module ends now completes through the deferred queue.
  ++ch->submit_depth;
  while (!ch->retry_queue.empty()) {
    BdevIo* io = ch->retry_queue.front();
    ch->retry_queue.pop_front();
    bdev_io_complete(io, status);
  }
  ch->bdev->abort_all(ch->module.get(), status);
  --ch->submit_depth;
}

}  // namespace nds

namespace nds {

void bdev_submit_closure(BdevDesc* desc, IoChannel* channel, IoType type, uint64_t offset_bytes, uint64_t length_bytes,
                         void* buf, std::function<void(int)> done) {
  auto* cb = new std::function<void(int)>(std::move(done));
  int rc = bdev_submit(desc, channel, type, offset_bytes, length_bytes, buf, [](int status, void* arg) {
    std::unique_ptr<std::function<void(int)>> fn(static_cast<std::function<void(int)>*>(arg));
    (*fn)(status);
  }, cb);
  if (rc != 0) {
    std::unique_ptr<std::function<void(int)>> fn(cb);
    (*fn)(rc);
  }
}

}  // namespace nds
