#include "bdev/aio/aio_bdev.h"

#include <libaio.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "bdev/bdev_module.h"
#include "bdev/file/file_target.h"
#include "thread/thread.h"

namespace nds {
namespace {

constexpr int kQueueDepth = 1024;

// libaio's io_getevents is a versioned symbol (LIBAIO_0.4) that cannot be linked from the
// static archive into a shared object; the system call does the same job.
int reap_events(io_context_t ctx, long max, io_event* events) {
  timespec no_wait{0, 0};
  long n = syscall(SYS_io_getevents, ctx, 0L, max, events, &no_wait);
  return n < 0 ? 0 : static_cast<int>(n);
}

class AioBdev;

class AioChannel final : public ModuleChannel {
 public:
  AioChannel(AioBdev* bdev, bool interrupts);
  ~AioChannel() override;
  bool ok() const { return ok_; }
  void queue(BdevIo* io, int fd, uint64_t offset, uint64_t length);

 private:
  static int poll(void* arg);

  io_context_t ctx_ = nullptr;
  int event_fd_ = -1;
  bool ok_ = false;
  std::vector<iocb*> unsubmitted_;
  std::vector<iocb*> free_iocbs_;
  std::vector<std::unique_ptr<iocb>> all_iocbs_;
  int in_kernel_ = 0;
  Poller* poller_ = nullptr;
  Thread* owner_ = Thread::current();  // channels may be torn down from outside any reactor
  std::string name_;
};

class AioBdev final : public FileBdev {
 public:
  explicit AioBdev(const FileTarget& t) : FileBdev(t) {}
  const char* module_name() const override { return "aio"; }
  std::unique_ptr<ModuleChannel> create_channel() override {
    auto ch = std::make_unique<AioChannel>(this, Thread::current_may_sleep());
    return ch->ok() ? std::move(ch) : nullptr;
  }
  void submit(ModuleChannel* channel, BdevIo* io) override {
    if (!channel) return bdev_io_complete(io, -ENOMEM);
    const uint64_t offset = io->offset_blocks * block_size();
    const uint64_t length = io->num_blocks * block_size();
    switch (io->type) {
      case IoType::Reset: return bdev_io_complete(io, 0);
      case IoType::Unmap: return bdev_io_complete(io, file_punch_hole(fd_, offset, length));
      case IoType::WriteZeroes: return bdev_io_complete(io, zero_range(offset, length));
      default: static_cast<AioChannel*>(channel)->queue(io, fd_, offset, length);
    }
  }

 private:
  int zero_range(uint64_t offset, uint64_t length) {
    int rc = file_zero_range(fd_, offset, length);
    if (rc != -EOPNOTSUPP && rc != -EINVAL) return rc;
    for (uint64_t done = 0; done < length;) {
      uint64_t chunk = std::min(length - done, kDirectZeroBufferSize);
      ssize_t n = pwrite(fd_, direct_zero_buffer(), chunk, static_cast<off_t>(offset + done));
      if (n <= 0) return n < 0 ? -errno : -EIO;
      done += static_cast<uint64_t>(n);
    }
    return 0;
  }
};

AioChannel::AioChannel(AioBdev* bdev, bool interrupts) : name_("aio:" + bdev->name()) {
  if (io_setup(kQueueDepth, &ctx_) != 0) return;
  if (interrupts) event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  poller_ = owner_->register_poller(name_, poll, this, 0, event_fd_);
  ok_ = true;
}

AioChannel::~AioChannel() {
  if (!ok_) return;
  owner_->unregister_poller(poller_);
  io_destroy(ctx_);
  if (event_fd_ >= 0) close(event_fd_);
}

void AioChannel::queue(BdevIo* io, int fd, uint64_t offset, uint64_t length) {
  iocb* cb;
  if (!free_iocbs_.empty()) {
    cb = free_iocbs_.back();
    free_iocbs_.pop_back();
  } else {
    all_iocbs_.push_back(std::make_unique<iocb>());
    cb = all_iocbs_.back().get();
  }
  switch (io->type) {
    case IoType::Read: io_prep_pread(cb, fd, io->buf, length, static_cast<long long>(offset)); break;
    case IoType::Write: io_prep_pwrite(cb, fd, io->buf, length, static_cast<long long>(offset)); break;
    default: io_prep_fdsync(cb, fd); break;
  }
  if (event_fd_ >= 0) io_set_eventfd(cb, event_fd_);
  cb->data = io;
  unsubmitted_.push_back(cb);
}

int AioChannel::poll(void* arg) {
  auto* self = static_cast<AioChannel*>(arg);
  int work = 0;
  // The kernel holds at most kQueueDepth; the rest wait here for the next pass.
  size_t room = static_cast<size_t>(kQueueDepth - self->in_kernel_);
  size_t count = std::min(room, self->unsubmitted_.size());
  if (count > 0) {
    int submitted = io_submit(self->ctx_, static_cast<long>(count), self->unsubmitted_.data());
    if (submitted < 0) {
      // The whole batch was refused: fail the first I/O (it is the one the kernel rejected)
      // and keep the rest for the next pass.
      iocb* bad = self->unsubmitted_.front();
      self->unsubmitted_.erase(self->unsubmitted_.begin());
      self->free_iocbs_.push_back(bad);
      bdev_io_complete(static_cast<BdevIo*>(bad->data), submitted);
      ++work;
    } else if (submitted > 0) {
      self->unsubmitted_.erase(self->unsubmitted_.begin(), self->unsubmitted_.begin() + submitted);
      self->in_kernel_ += submitted;
      work += submitted;
    }
  }
  if (self->in_kernel_ > 0) {
    io_event events[64];
    int n = reap_events(self->ctx_, 64, events);
    for (int i = 0; i < n; ++i) {
      auto* cb = static_cast<iocb*>(events[i].obj);
      auto* io = static_cast<BdevIo*>(events[i].data);
      self->free_iocbs_.push_back(cb);
      long res = static_cast<long>(events[i].res);
      const uint64_t length = io->num_blocks * io->bdev->block_size();
      int status = 0;
      if (res < 0) {
        status = static_cast<int>(res);
      } else if ((io->type == IoType::Read || io->type == IoType::Write) && static_cast<uint64_t>(res) != length) {
        status = -EIO;  // short transfer: the device ended early
      }
      bdev_io_complete(io, status);
    }
    if (n > 0) {
      self->in_kernel_ -= n;
      work += n;
    }
  }
  return work;
}

}  // namespace

Status aio_bdev_create(std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out) {
  FileTarget target;
  Status st = open_file_target(text, uri, &target);
  if (!st.is_ok()) return st;
  *out = std::make_unique<AioBdev>(target);
  return Status::ok();
}

namespace {
Status aio_from_uri(BdevManager&, std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out) {
  return aio_bdev_create(text, uri, out);
}
}  // namespace
NDS_BDEV_MODULE_REGISTER(BdevModule{"aio", create_sync<aio_from_uri>});

}  // namespace nds
