#include "bdev/uring/uring_bdev.h"

#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <deque>

#include "bdev/bdev_module.h"
#include "bdev/file/file_target.h"
#include "thread/thread.h"

namespace nds {
namespace {

constexpr unsigned kRingEntries = 1024;

class UringBdev;

// Scratch kept in BdevIo::module_ctx while an I/O is in flight.
struct UringIoState {
  bool zero_fallback;  // write_zeroes being written as zeroes after fallocate refused
  uint64_t zero_done;  // bytes of zeroes written so far
};
static_assert(sizeof(UringIoState) <= sizeof(BdevIo::module_ctx));

class UringChannel final : public ModuleChannel {
 public:
  UringChannel(UringBdev* bdev, bool interrupts);
  ~UringChannel() override;
  bool ok() const { return ok_; }
  void queue(BdevIo* io);

 private:
  static int poll(void* arg);
  bool prepare(BdevIo* io);
  void on_cqe(BdevIo* io, int res);

  UringBdev* bdev_;
  io_uring ring_{};
  int event_fd_ = -1;
  bool ok_ = false;
  unsigned unsubmitted_ = 0;
  std::deque<BdevIo*> overflow_;  // I/O waiting for a free submission entry
  Poller* poller_ = nullptr;
  Thread* owner_ = Thread::current();  // channels may be torn down from outside any reactor
};

class UringBdev final : public FileBdev {
 public:
  explicit UringBdev(const FileTarget& t) : FileBdev(t) {}
  const char* module_name() const override { return "uring"; }
  std::unique_ptr<ModuleChannel> create_channel() override {
    auto ch = std::make_unique<UringChannel>(this, Thread::current_may_sleep());
    return ch->ok() ? std::move(ch) : nullptr;
  }
  void submit(ModuleChannel* channel, BdevIo* io) override {
    if (!channel) return bdev_io_complete(io, -ENOMEM);  // the ring could not be set up
    if (io->type == IoType::Reset) return bdev_io_complete(io, 0);
    auto* state = reinterpret_cast<UringIoState*>(io->module_ctx);
    *state = UringIoState{false, 0};
    static_cast<UringChannel*>(channel)->queue(io);
  }
};

UringChannel::UringChannel(UringBdev* bdev, bool interrupts) : bdev_(bdev) {
  if (io_uring_queue_init(kRingEntries, &ring_, 0) != 0) return;
  if (interrupts) {
    // Only adaptive reactors sleep, so only they need the kernel to signal completions.
    event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd_ >= 0) io_uring_register_eventfd(&ring_, event_fd_);
  }
  poller_ = owner_->register_poller("uring:" + bdev->name(), poll, this, 0, event_fd_);
  ok_ = true;
}

UringChannel::~UringChannel() {
  if (!ok_) return;
  owner_->unregister_poller(poller_);
  io_uring_queue_exit(&ring_);
  if (event_fd_ >= 0) close(event_fd_);
}

void UringChannel::queue(BdevIo* io) {
  if (!overflow_.empty() || !prepare(io)) overflow_.push_back(io);
}

bool UringChannel::prepare(BdevIo* io) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) return false;
  const uint64_t bs = bdev_->block_size();
  const uint64_t offset = io->offset_blocks * bs;
  const uint64_t length = io->num_blocks * bs;
  auto* state = reinterpret_cast<UringIoState*>(io->module_ctx);
  switch (io->type) {
    case IoType::Read: io_uring_prep_read(sqe, bdev_->fd(), io->buf, static_cast<unsigned>(length), offset); break;
    case IoType::Write: io_uring_prep_write(sqe, bdev_->fd(), io->buf, static_cast<unsigned>(length), offset); break;
    case IoType::Flush: io_uring_prep_fsync(sqe, bdev_->fd(), IORING_FSYNC_DATASYNC); break;
    case IoType::Unmap:
      io_uring_prep_fallocate(sqe, bdev_->fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
      break;
    case IoType::WriteZeroes:
      if (state->zero_fallback) {
        uint64_t chunk = std::min(length - state->zero_done, kDirectZeroBufferSize);
        io_uring_prep_write(sqe, bdev_->fd(), direct_zero_buffer(), static_cast<unsigned>(chunk), offset + state->zero_done);
      } else {
        io_uring_prep_fallocate(sqe, bdev_->fd(), FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length);
      }
      break;
    case IoType::Reset: break;
  }
  io_uring_sqe_set_data(sqe, io);
  ++unsubmitted_;
  return true;
}

void UringChannel::on_cqe(BdevIo* io, int res) {
  const uint64_t length = io->num_blocks * bdev_->block_size();
  auto* state = reinterpret_cast<UringIoState*>(io->module_ctx);
  if (io->type == IoType::WriteZeroes) {
    if (!state->zero_fallback && (res == -EOPNOTSUPP || res == -EINVAL)) {
      state->zero_fallback = true;
      return queue(io);
    }
    if (state->zero_fallback && res > 0) {
      state->zero_done += static_cast<uint64_t>(res);
      if (state->zero_done < length) return queue(io);
      res = 0;
    }
  }
  if (res < 0) return bdev_io_complete(io, res);
  // A short read or write on O_DIRECT means the device ended early: report it as EIO.
  if ((io->type == IoType::Read || io->type == IoType::Write) && static_cast<uint64_t>(res) != length)
    return bdev_io_complete(io, -EIO);
  bdev_io_complete(io, 0);
}

int UringChannel::poll(void* arg) {
  auto* self = static_cast<UringChannel*>(arg);
  int work = 0;
  while (!self->overflow_.empty() && self->prepare(self->overflow_.front())) self->overflow_.pop_front();
  if (self->unsubmitted_ > 0) {
    int submitted = io_uring_submit(&self->ring_);
    if (submitted > 0) {
      self->unsubmitted_ -= static_cast<unsigned>(submitted);
      work += submitted;
    }
  }
  io_uring_cqe* cqes[64];
  unsigned n;
  while ((n = io_uring_peek_batch_cqe(&self->ring_, cqes, 64)) > 0) {
    for (unsigned i = 0; i < n; ++i) {
      auto* io = static_cast<BdevIo*>(io_uring_cqe_get_data(cqes[i]));
      int res = cqes[i]->res;
      io_uring_cqe_seen(&self->ring_, cqes[i]);
      self->on_cqe(io, res);
    }
    work += static_cast<int>(n);
  }
  return work;
}

}  // namespace

Status uring_bdev_create(std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out) {
  FileTarget target;
  Status st = open_file_target(text, uri, &target);
  if (!st.is_ok()) return st;
  // Probe once that io_uring works here, so a missing kernel feature is a clear error now
  // rather than ENOMEM on the first I/O.
  io_uring probe{};
  int rc = io_uring_queue_init(8, &probe, 0);
  if (rc != 0) {
    close(target.fd);
    return Status::error(rc, std::string("io_uring is not available: ") + std::strerror(-rc));
  }
  io_uring_queue_exit(&probe);
  *out = std::make_unique<UringBdev>(target);
  return Status::ok();
}

namespace {
Status uring_from_uri(BdevManager&, std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out) {
  return uring_bdev_create(text, uri, out);
}
}  // namespace
NDS_BDEV_MODULE_REGISTER(BdevModule{"uring", create_sync<uring_from_uri>});

}  // namespace nds
