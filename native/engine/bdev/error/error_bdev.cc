#include "bdev/error/error_bdev.h"

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <queue>

#include "bdev/bdev_module.h"
#include "env/time.h"
#include "thread/io_device.h"
#include "thread/thread.h"

namespace nds {
namespace {

// One injection slot per I/O type. Fields are atomics because the JavaScript thread sets
// them while reactors read them; `remaining` is decremented by whichever I/O uses it.
struct InjectionSlot {
  std::atomic<uint8_t> mode{0};
  std::atomic<int> error{-EIO};
  std::atomic<int64_t> remaining{-1};  // -1 unlimited
  std::atomic<uint64_t> latency_ns{0};
};

struct Decision {
  InjectMode mode = InjectMode::None;
  int error = 0;
  uint64_t latency_ns = 0;
};

// Kept in BdevIo::module_ctx of the I/O the error bdev received.
struct ErrorIoState {
  Decision decision;
  void* corrupt_copy;  // a write's corrupted copy of the data, freed on completion
  int status;
  uint64_t ready_ns;
  uint64_t aborts_seen;  // the channel's abort count when the I/O arrived
};
static_assert(sizeof(ErrorIoState) <= sizeof(BdevIo::module_ctx));

class ErrorBdev;

class ErrorChannel final : public ModuleChannel {
 public:
  explicit ErrorChannel(ErrorBdev* bdev);
  ~ErrorChannel() override;
  IoChannel* base() const { return base_; }
  void delay(BdevIo* io);
  // Ends the delayed I/Os with `status` now; those in the base end as the base ends them,
  // without their injected delay.
  void abort_all(int status);
  uint64_t aborts() const { return aborts_; }
  void hold(BdevIo* io);

 private:
  static int release_delayed(void* arg);
  static int release_held(void* arg);
  struct Later {
    bool operator()(const BdevIo* a, const BdevIo* b) const;
  };
  ErrorBdev* bdev_;
  IoChannel* base_;
  std::priority_queue<BdevIo*, std::vector<BdevIo*>, Later> delayed_;
  Poller* poller_ = nullptr;
  std::vector<BdevIo*> held_;  // pending injections, in arrival order
  Poller* held_poller_ = nullptr;
  uint64_t aborts_ = 0;
  Thread* owner_ = Thread::current();  // channels may be torn down from outside any reactor
};

class ErrorBdev final : public Bdev {
 public:
  ErrorBdev(std::string name, BdevManager& manager, BdevDesc* base)
      : Bdev(std::move(name), Uuid::random_v4(), base->bdev->block_size(), base->bdev->num_blocks()),
        manager_(manager),
        base_(base) {}

  const char* module_name() const override { return "error"; }
  bool io_type_supported(IoType type) const override { return base_->bdev->io_type_supported(type); }
  std::unique_ptr<ModuleChannel> create_channel() override { return std::make_unique<ErrorChannel>(this); }
  void destruct(std::function<void()> done) override {
    manager_.release_claim(base_->bdev);
    manager_.close(base_);
    done();
  }
  void submit(ModuleChannel* channel, BdevIo* io) override;
  void abort_all(ModuleChannel* channel, int status) override { static_cast<ErrorChannel*>(channel)->abort_all(status); }
  // A gone injection makes the device report itself gone, as a vanished disk or a lost
  // NVMe/TCP controller does, until it is cleared.
  bool gone() const override { return gone_slot() != nullptr; }
  BdevHealth health() const override { return gone() ? BdevHealth{BdevHealth::Gone, "injected"} : BdevHealth{}; }

  BdevDesc* base_desc() const { return base_; }
  void set(const ErrorInjection& injection) {
    for (int t = 0; t < kIoTypeCount; ++t) {
      if (!(injection.io_types & (1u << t))) continue;
      InjectionSlot& slot = slots_[t];
      slot.mode.store(0, std::memory_order_relaxed);  // disarm while the fields change
      slot.error.store(injection.error, std::memory_order_relaxed);
      slot.remaining.store(injection.count ? static_cast<int64_t>(injection.count) : -1, std::memory_order_relaxed);
      slot.latency_ns.store(injection.latency_us * 1000, std::memory_order_relaxed);
      slot.mode.store(static_cast<uint8_t>(injection.mode), std::memory_order_release);
    }
  }
  void clear() {
    for (auto& slot : slots_) slot.mode.store(0, std::memory_order_release);
  }
  bool holding(IoType type) const {
    return slots_[static_cast<int>(type)].mode.load(std::memory_order_acquire) == static_cast<uint8_t>(InjectMode::Pending);
  }
  // Sends `io` on to the base, corrupting a write's copy when the decision says so.
  void forward(ErrorChannel* channel, BdevIo* io);

 private:
  // The slot holding a gone injection, whatever I/O type it was set on; nullptr if none.
  const InjectionSlot* gone_slot() const {
    for (const auto& slot : slots_)
      if (slot.mode.load(std::memory_order_acquire) == static_cast<uint8_t>(InjectMode::Gone)) return &slot;
    return nullptr;
  }

  Decision decide(IoType type) {
    // A gone device fails everything.
    if (const InjectionSlot* gone = gone_slot())
      return Decision{InjectMode::Gone, -ENODEV, gone->latency_ns.load(std::memory_order_relaxed)};
    InjectionSlot& slot = slots_[static_cast<int>(type)];
    auto mode = static_cast<InjectMode>(slot.mode.load(std::memory_order_acquire));
    if (mode == InjectMode::None) return {};
    if (slot.remaining.load(std::memory_order_relaxed) != -1 &&
        slot.remaining.fetch_sub(1, std::memory_order_relaxed) <= 0) {
      slot.remaining.store(0, std::memory_order_relaxed);
      return {};
    }
    return Decision{mode, slot.error.load(std::memory_order_relaxed), slot.latency_ns.load(std::memory_order_relaxed)};
  }

  BdevManager& manager_;
  BdevDesc* base_;
  std::array<InjectionSlot, kIoTypeCount> slots_;
};

ErrorChannel::ErrorChannel(ErrorBdev* bdev) : bdev_(bdev), base_(bdev_get_io_channel(bdev->base_desc())) {}

ErrorChannel::~ErrorChannel() {
  if (poller_) owner_->unregister_poller(poller_);
  if (held_poller_) owner_->unregister_poller(held_poller_);
  if (base_) bdev_put_io_channel(base_);
}

bool ErrorChannel::Later::operator()(const BdevIo* a, const BdevIo* b) const {
  return reinterpret_cast<const ErrorIoState*>(a->module_ctx)->ready_ns >
         reinterpret_cast<const ErrorIoState*>(b->module_ctx)->ready_ns;
}

void ErrorChannel::delay(BdevIo* io) {
  delayed_.push(io);
  // A timed poller (not an active one) so an adaptive reactor can sleep until it is due.
  if (!poller_) poller_ = Thread::current()->register_poller("error-delay:" + bdev_->name(), release_delayed, this, 10'000);
}

void ErrorChannel::hold(BdevIo* io) {
  held_.push_back(io);
  // Clearing happens on the JavaScript thread: the channel looks for it every millisecond.
  if (!held_poller_)
    held_poller_ = Thread::current()->register_poller("error-hold:" + bdev_->name(), release_held, this, 1'000'000);
}

int ErrorChannel::release_held(void* arg) {
  auto* self = static_cast<ErrorChannel*>(arg);
  std::vector<BdevIo*> still_held;
  std::vector<BdevIo*> released;
  for (BdevIo* io : self->held_) (self->bdev_->holding(io->type) ? still_held : released).push_back(io);
  self->held_.swap(still_held);
  if (self->held_.empty()) {
    Thread::current()->unregister_poller(self->held_poller_);
    self->held_poller_ = nullptr;
  }
  for (BdevIo* io : released) self->bdev_->forward(self, io);
  return static_cast<int>(released.size());
}

void ErrorChannel::abort_all(int status) {
  ++aborts_;
  std::vector<BdevIo*> held;
  held.swap(held_);
  for (BdevIo* io : held) bdev_io_complete(io, status);
  while (!delayed_.empty()) {
    BdevIo* io = delayed_.top();
    delayed_.pop();
    bdev_io_complete(io, status);
  }
  if (base_) bdev_abort_all(base_, status);
}

int ErrorChannel::release_delayed(void* arg) {
  auto* self = static_cast<ErrorChannel*>(arg);
  uint64_t now = now_ns();
  int work = 0;
  while (!self->delayed_.empty()) {
    BdevIo* io = self->delayed_.top();
    auto* state = reinterpret_cast<ErrorIoState*>(io->module_ctx);
    if (state->ready_ns > now) break;
    self->delayed_.pop();
    bdev_io_complete(io, state->status);
    ++work;
  }
  if (self->delayed_.empty()) {
    Thread::current()->unregister_poller(self->poller_);
    self->poller_ = nullptr;
  }
  return work;
}

void flip_block_bytes(void* buf, uint64_t blocks, uint32_t block_size) {
  auto* bytes = static_cast<uint8_t*>(buf);
  for (uint64_t b = 0; b < blocks; ++b) bytes[b * block_size + block_size / 2] ^= 0xff;
}

void finish(BdevIo* io, int status) {
  auto* state = reinterpret_cast<ErrorIoState*>(io->module_ctx);
  if (state->corrupt_copy) {
    std::free(state->corrupt_copy);
    state->corrupt_copy = nullptr;
  }
  if (status == 0 && state->decision.mode == InjectMode::Corrupt && io->type == IoType::Read)
    flip_block_bytes(io->buf, io->num_blocks, io->bdev->block_size());
  auto* channel = static_cast<ErrorChannel*>(io->channel->module.get());
  if (state->decision.latency_ns > 0 && state->aborts_seen == channel->aborts()) {
    state->status = status;
    state->ready_ns = now_ns() + state->decision.latency_ns;
    return channel->delay(io);
  }
  bdev_io_complete(io, status);
}

void on_base_done(int status, void* arg) { finish(static_cast<BdevIo*>(arg), status); }

void ErrorBdev::submit(ModuleChannel* channel, BdevIo* io) {
  auto* ch = static_cast<ErrorChannel*>(channel);
  auto* state = reinterpret_cast<ErrorIoState*>(io->module_ctx);
  *state = ErrorIoState{decide(io->type), nullptr, 0, 0, ch->aborts()};
  if (!ch->base()) return finish(io, -ENODEV);
  switch (state->decision.mode) {
    case InjectMode::Fail:
    case InjectMode::Gone: return finish(io, state->decision.error);
    case InjectMode::Pending: return ch->hold(io);
    case InjectMode::Nomem: return bdev_io_retry_later(io);
    default: break;
  }
  forward(ch, io);
}

void ErrorBdev::forward(ErrorChannel* ch, BdevIo* io) {
  auto* state = reinterpret_cast<ErrorIoState*>(io->module_ctx);
  if (!ch->base()) return finish(io, -ENODEV);
  void* data = io->buf;
  uint64_t bytes = io->num_blocks * block_size();
  if (state->decision.mode == InjectMode::Corrupt && io->type == IoType::Write) {
    // Corrupt a copy: the caller's buffer is theirs. Aligned for O_DIRECT bases.
    state->corrupt_copy = std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    if (!state->corrupt_copy) return finish(io, -ENOMEM);
    std::memcpy(state->corrupt_copy, io->buf, bytes);
    flip_block_bytes(state->corrupt_copy, io->num_blocks, block_size());
    data = state->corrupt_copy;
  }
  int rc = bdev_submit(base_, ch->base(), io->type, io->offset_blocks * block_size(), bytes, data, on_base_done, io);
  if (rc != 0) finish(io, rc);
}

ErrorBdev* as_error_bdev(Bdev* bdev) { return dynamic_cast<ErrorBdev*>(bdev); }

}  // namespace

Status error_bdev_create(BdevManager& manager, std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out) {
  std::string where = " in URI '" + std::string(text) + "'";
  if (!uri.host.empty()) return Status::error(-EINVAL, "unexpected host '" + uri.host + "'" + where);
  Status st = validate_bdev_name(uri.path);
  if (!st.is_ok()) return Status::error(st.rc, st.message + where);
  auto base_name = uri.query.take("base");
  if (!(st = uri.query.reject_unknown(text)).is_ok()) return st;
  if (!base_name) return Status::error(-EINVAL, "parameter base=<bdev> is required" + where);
  if (manager.find(uri.path)) return Status::error(-EEXIST, "bdev " + uri.path + " already exists");
  BdevDesc* base = nullptr;
  if (!(st = manager.open(*base_name, true, &base)).is_ok()) return st;
  if (!(st = manager.claim(base->bdev, "error bdev " + uri.path, base)).is_ok()) {
    manager.close(base);
    return st;
  }
  *out = std::make_unique<ErrorBdev>(uri.path, manager, base);
  return Status::ok();
}

Status error_bdev_inject(Bdev* bdev, const ErrorInjection& injection) {
  ErrorBdev* error = as_error_bdev(bdev);
  if (!error) return Status::error(-EINVAL, "bdev " + bdev->name() + " is not an error bdev (module " + bdev->module_name() + ")");
  error->set(injection);
  return Status::ok();
}

Status error_bdev_clear(Bdev* bdev) {
  ErrorBdev* error = as_error_bdev(bdev);
  if (!error) return Status::error(-EINVAL, "bdev " + bdev->name() + " is not an error bdev (module " + bdev->module_name() + ")");
  error->clear();
  return Status::ok();
}

namespace {
// "inject" { ioTypes (bit mask), mode, errno, count, latencyUs } and "clear".
Status error_control(Bdev& bdev, std::string_view command, const BdevControlArgs& args) {
  if (command == "clear") return error_bdev_clear(&bdev);
  if (command != "inject")
    return Status::error(-EINVAL, "the error module has no command '" + std::string(command) + "' (inject, clear)");
  auto arg = [&args](const char* name, int64_t fallback) {
    auto it = args.find(name);
    return it == args.end() ? fallback : it->second;
  };
  ErrorInjection injection;
  injection.io_types = static_cast<uint32_t>(arg("ioTypes", 0));
  int64_t mode = arg("mode", static_cast<int64_t>(InjectMode::Fail));
  if (mode < 0 || mode > static_cast<int64_t>(InjectMode::Nomem)) return Status::error(-EINVAL, "unknown injection mode");
  injection.mode = static_cast<InjectMode>(mode);
  injection.error = static_cast<int>(arg("errno", -EIO));
  injection.count = static_cast<uint64_t>(arg("count", 0));
  injection.latency_us = static_cast<uint64_t>(arg("latencyUs", 0));
  return error_bdev_inject(&bdev, injection);
}

// The modes, as "inject" takes them.
const BdevControlArgs kErrorConstants = {
    {"fail", static_cast<int64_t>(InjectMode::Fail)},
    {"corrupt", static_cast<int64_t>(InjectMode::Corrupt)},
    {"gone", static_cast<int64_t>(InjectMode::Gone)},
    {"delay", static_cast<int64_t>(InjectMode::Delay)},
    {"pending", static_cast<int64_t>(InjectMode::Pending)},
    {"nomem", static_cast<int64_t>(InjectMode::Nomem)},
};
}  // namespace

NDS_BDEV_MODULE_REGISTER(BdevModule{"error", create_sync<error_bdev_create>, error_control, &kErrorConstants});

}  // namespace nds
