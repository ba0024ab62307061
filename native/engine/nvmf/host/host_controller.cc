#include "nvmf/host/host_controller.h"

#include <algorithm>
#include <cstring>

#include "env/time.h"
#include "nvmf/wire/nvme_fields.h"
#include "nvmf/wire/nvme_spec.h"
#include "thread/thread.h"

namespace nds::nvmf {

using namespace spec;

namespace {

struct AdminCall {
  std::function<void(int, uint16_t, uint64_t)> cb;
};

void admin_trampoline(void* arg, int status, uint16_t nvme_status, uint64_t dw0) {
  std::unique_ptr<AdminCall> call(static_cast<AdminCall*>(arg));
  call->cb(status, nvme_status, dw0);
}

void property_sqe(uint8_t* sqe, uint8_t fctype, uint32_t offset, bool eight, uint64_t value = 0) {
  std::memset(sqe, 0, 64);
  sqe[0] = kOpFabrics;
  sqe[4] = fctype;
  sqe[40] = eight ? 1 : 0;
  put32(sqe + 44, offset);
  put64(sqe + 48, value);
}

std::string status_text(int rc, uint16_t status) {
  if (rc != 0) return std::string(std::strerror(-rc));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "NVMe status 0x%03x", status & kStatusMask);
  return buf;
}

}  // namespace

void HostController::connect(Thread& app, HostControllerOptions options,
                             std::function<void(Status, std::shared_ptr<HostController>)> done) {
  std::shared_ptr<HostController> c(new HostController(app, std::move(options)));
  c->on_connected_ = std::move(done);
  c->self_while_connecting_ = c;
  c->start_admin_queue();
}

HostController::~HostController() {
  stop_connect_timer();
  if (keep_alive_poller_) app_.unregister_poller(keep_alive_poller_);
  if (reconnect_poller_) app_.unregister_poller(reconnect_poller_);
  if (ready_poller_) app_.unregister_poller(ready_poller_);
}

void HostController::admin(const uint8_t* sqe, void* buf, uint32_t length, AdminCb cb, const void* write) {
  auto* call = new AdminCall{std::move(cb)};
  int rc = admin_ && admin_->state() == HostQueue::State::Ready
               ? admin_->submit(sqe, write, write ? length : 0, write ? nullptr : buf, write ? 0 : length, admin_trampoline, call)
               : -ENOTCONN;
  if (rc != 0) admin_trampoline(call, rc, 0, 0);
}

void HostController::start_admin_queue() {
  HostQueueOptions q;
  q.address = options_.address;
  q.port = options_.port;
  q.subnqn = options_.subnqn;
  q.hostnqn = options_.hostnqn;
  q.hostid = options_.hostid;
  q.qid = 0;
  q.cntlid = 0xffff;
  q.queue_size = 32;
  q.keep_alive_ms = options_.keep_alive_ms;
  q.header_digest = options_.header_digest;
  q.data_digest = options_.data_digest;
  q.dhchap = options_.dhchap;
  q.dhchap_policy = options_.dhchap_policy;
  q.tls_psk = options_.tls_psk;
  q.tls_identity_version = options_.tls_identity_version;
  if (admin_) {
    // Never delete a queue from inside its own callbacks: this may be one.
    HostQueue* old = admin_.release();
    app_.send([old] { delete old; });
  }
  admin_ = std::make_unique<HostQueue>(app_, q);
  admin_ready_ = false;
  stop_connect_timer();
  connect_started_ns_ = monotonic_ns();
  if (options_.connect_timeout_ms > 0)
    connect_poller_ = app_.register_poller("nvmf-host-connect-timeout", connect_timeout_tick, this,
                                           options_.connect_timeout_ms * 1'000'000ull);
  std::weak_ptr<HostController> weak = weak_from_this();
  HostQueue* queue = admin_.get();
  admin_->set_state_hook([weak, queue](HostQueue::State s) {
    auto self = weak.lock();
    if (!self || self->admin_.get() != queue) return;
    if (s == HostQueue::State::Ready) {
      self->admin_ready_ = true;
      return self->bring_up();
    }
    std::string why = queue->error();
    int rc = queue->error_code() ? queue->error_code() : -ECONNRESET;
    self->app_.send([weak, why, rc] {
      if (auto c = weak.lock()) c->state() == State::Connected ? c->lost(why) : c->bring_up_failed(rc, why);
    });
  });
  if (admin_->state() == HostQueue::State::Failed) {
    std::string why = admin_->error();
    int rc = admin_->error_code();
    app_.send([weak, why, rc] {
      if (auto c = weak.lock()) c->bring_up_failed(rc, why);
    });
  }
}

const char* HostController::step_name(BringUpStep step) {
  switch (step) {
    case BringUpStep::ReadCap: return "Property Get CAP";
    case BringUpStep::EnableController: return "Property Set CC";
    case BringUpStep::WaitReady: return "Property Get CSTS";
    case BringUpStep::IdentifyController: return "Identify controller";
    case BringUpStep::ListNamespaces: return "Identify active namespace list";
    case BringUpStep::SetQueueCount: return "Set Features queues";
    case BringUpStep::ConfigureAsyncEvents: return "Set Features async events";
    case BringUpStep::IdentifyNamespace: return "Identify namespace";
    case BringUpStep::NamespaceDescriptors: return "Identify namespace descriptors";
    case BringUpStep::Done: return "done";
  }
  return "?";
}

void HostController::bring_up() { run_step(BringUpStep::ReadCap); }

void HostController::stop_connect_timer() {
  if (connect_poller_) app_.unregister_poller(connect_poller_);
  connect_poller_ = nullptr;
}

int HostController::connect_timeout_tick(void* arg) {
  auto* self = static_cast<HostController*>(arg);
  // A periodic poller also runs once at once: only a full period counts.
  if (monotonic_ns() - self->connect_started_ns_ < self->options_.connect_timeout_ms * 1'000'000ull) return 0;
  self->stop_connect_timer();
  if (self->state() == State::Connected || self->state() == State::Failed || !self->admin_) return 1;
  std::string where = self->admin_ready_ ? step_name(self->step_) : "the TCP connect, IC exchange or Fabrics Connect";
  // The queue's failure runs the usual path: a first connect reports ETIMEDOUT, a
  // reconnect tries again until ctrl_loss_timeout_ms.
  self->admin_->fail(-ETIMEDOUT, "no answer from the target within " + std::to_string(self->options_.connect_timeout_ms) +
                                     " ms of connecting (" + where + ")");
  return 1;
}

void HostController::run_step(BringUpStep step) {
  step_ = step;
  uint8_t sqe[64];
  void* buf = nullptr;
  uint32_t length = 0;
  auto copy = [&](SqeBuilder b) { std::memcpy(sqe, b.bytes(), 64); };
  switch (step) {
    case BringUpStep::ReadCap: property_sqe(sqe, kFabricsPropertyGet, kRegCap, true); break;
    case BringUpStep::EnableController:
      property_sqe(sqe, kFabricsPropertySet, kRegCc, false, 1u | (6u << 16) | (4u << 20));
      break;
    case BringUpStep::WaitReady: property_sqe(sqe, kFabricsPropertyGet, kRegCsts, false); break;
    case BringUpStep::IdentifyController:
      scratch_.assign(4096, 0);
      copy(SqeBuilder(kOpIdentify).cns(kCnsController));
      buf = scratch_.data();
      length = 4096;
      break;
    case BringUpStep::SetQueueCount: copy(SqeBuilder(kOpSetFeatures).feature(kFeatureNumberOfQueues, (63u << 16) | 63u)); break;
    case BringUpStep::ConfigureAsyncEvents: copy(SqeBuilder(kOpSetFeatures).feature(kFeatureAsyncEventConfig, 1u << 8)); break;
    case BringUpStep::ListNamespaces:
      scratch_.assign(4096, 0);
      copy(SqeBuilder(kOpIdentify).nsid(0).cns(kCnsActiveNamespaces));
      buf = scratch_.data();
      length = 4096;
      break;
    case BringUpStep::IdentifyNamespace:
    case BringUpStep::NamespaceDescriptors:
      scratch_.assign(4096, 0);
      copy(SqeBuilder(kOpIdentify)
               .nsid(options_.nsid)
               .cns(step == BringUpStep::IdentifyNamespace ? kCnsNamespace : kCnsNamespaceDescriptors));
      buf = scratch_.data();
      length = 4096;
      break;
    case BringUpStep::Done: return finish_bring_up();
  }
  auto self = shared_from_this();  // held by the reply: nobody may hold the controller yet
  admin(sqe, buf, length, [self, step](int rc, uint16_t st, uint64_t dw0) { self->step_done(step, rc, st, dw0); });
}

void HostController::step_done(BringUpStep step, int rc, uint16_t st, uint64_t dw0) {
  const bool ok = rc == 0 && (st & kStatusMask) == 0;
  // A target without async event configuration or namespace descriptors still serves I/O.
  const bool optional = step == BringUpStep::ConfigureAsyncEvents || step == BringUpStep::NamespaceDescriptors;
  if (!ok && !optional) {
    int code = rc ? rc : step == BringUpStep::IdentifyNamespace ? -ENOENT : -EIO;
    // A queue that failed says why (a timeout, a lost connection); else the status.
    std::string why = rc != 0 && admin_ && admin_->state() == HostQueue::State::Failed ? admin_->error() : status_text(rc, st);
    return bring_up_failed(code, std::string(step_name(step)) + ": " + why);
  }
  switch (step) {
    case BringUpStep::ReadCap: {
      uint32_t timeout_500ms = static_cast<uint32_t>((dw0 >> 24) & 0xff);  // CAP.TO
      ready_tries_ = static_cast<int>(std::max<uint32_t>(timeout_500ms, 1) * 500);
      return run_step(BringUpStep::EnableController);
    }
    case BringUpStep::EnableController: return run_step(BringUpStep::WaitReady);
    case BringUpStep::WaitReady:
      if (dw0 & 2) return bring_up_failed(-EIO, "controller fatal status (CSTS.CFS)");
      if (dw0 & 1) return run_step(BringUpStep::IdentifyController);
      if (ready_tries_-- <= 0) return bring_up_failed(-ETIMEDOUT, "controller never became ready");
      if (!ready_poller_) ready_poller_ = app_.register_poller("nvmf-host-ready", ready_tick, this, 1'000'000);
      return;
    case BringUpStep::IdentifyController: {
      IdentifyControllerView id(scratch_.data());
      if (id.mdts()) max_transfer_ = std::min<uint32_t>(4096u << id.mdts(), 131072);
      in_capsule_limit_ = id.ioccsz() > 4 ? std::min<uint32_t>(id.ioccsz() * 16 - 64, 8192) : 0;
      identified_ = ns_;
      identified_.deallocate = id.supports_deallocate();
      identified_.write_zeroes = id.supports_write_zeroes();
      std::string subnqn = id.subnqn();
      if (!subnqn.empty() && subnqn != options_.subnqn) return bring_up_failed(-EPROTO, "controller reports subsystem " + subnqn);
      return run_step(options_.nsid == 0 ? BringUpStep::ListNamespaces : BringUpStep::SetQueueCount);
    }
    case BringUpStep::ListNamespaces: {
      active_nsids_.clear();
      for (size_t at = 0; at + 4 <= 4096; at += 4) {
        uint32_t nsid = get32(scratch_.data() + at);
        if (nsid == 0) break;  // the list ends at the first zero
        active_nsids_.push_back(nsid);
      }
      return run_step(BringUpStep::Done);
    }
    case BringUpStep::SetQueueCount:
      io_queues_ = static_cast<uint16_t>(std::min<uint64_t>(dw0 & 0xffff, (dw0 >> 16) & 0xffff) + 1);
      return run_step(BringUpStep::ConfigureAsyncEvents);
    case BringUpStep::ConfigureAsyncEvents: return run_step(BringUpStep::IdentifyNamespace);
    case BringUpStep::IdentifyNamespace: {
      IdentifyNamespaceView n(scratch_.data());
      uint32_t shift = n.lba_data_shift();
      if (n.nsze() == 0 || shift < 9 || shift > 16)
        return bring_up_failed(-ENOENT, "namespace " + std::to_string(options_.nsid) + " is not active");
      identified_.num_blocks = n.nsze();
      identified_.block_size = 1u << shift;
      return run_step(BringUpStep::NamespaceDescriptors);
    }
    case BringUpStep::NamespaceDescriptors: {
      if (ok) {
        const uint8_t* d = scratch_.data();
        for (size_t at = 0; at + 4 <= 4096 && d[at] != 0;) {
          uint8_t type = d[at], len = d[at + 1];
          if (type == 0x03 && len == 16 && at + 4 + 16 <= 4096) {  // NIDT 3: namespace UUID
            std::memcpy(identified_.uuid.data(), d + at + 4, 16);
            identified_.has_uuid = true;
          }
          at += 4 + len;
        }
      }
      if (state() == State::Reconnecting &&
          (identified_.num_blocks != ns_.num_blocks || identified_.block_size != ns_.block_size))
        return bring_up_failed(-ENODEV, "the namespace changed size or format while disconnected");
      ns_ = identified_;
      return run_step(BringUpStep::Done);
    }
    case BringUpStep::Done: return;
  }
}

int HostController::ready_tick(void* arg) {
  auto* self = static_cast<HostController*>(arg);
  self->app_.unregister_poller(self->ready_poller_);
  self->ready_poller_ = nullptr;
  self->run_step(BringUpStep::WaitReady);
  return 1;
}

void HostController::finish_bring_up() {
  stop_connect_timer();
  cntlid_.store(admin_->cntlid(), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  state_.store(State::Connected, std::memory_order_release);
  set_failure("");
  keep_alive_sent_ns_ = 0;
  if (!keep_alive_poller_ && options_.keep_alive_ms > 0)
    keep_alive_poller_ = app_.register_poller("nvmf-host-keep-alive", keep_alive_tick, this,
                                              std::max<uint64_t>(options_.keep_alive_ms / 2, 10) * 1'000'000ull);
  submit_aer();
  if (on_connected_) {
    auto done = std::move(on_connected_);
    on_connected_ = nullptr;
    auto self = std::move(self_while_connecting_);
    done(Status::ok(), self);
  }
}

void HostController::submit_aer() {
  auto weak = weak_from_this();
  SqeBuilder aer(kOpAsyncEventRequest);
  admin(aer.bytes(), nullptr, 0, [weak](int rc, uint16_t st, uint64_t dw0) {
    auto self = weak.lock();
    if (!self || rc != 0 || (st & kStatusMask) || self->state() != State::Connected) return;
    if ((dw0 & 0xffff07) == static_cast<uint32_t>(AsyncEvent::NamespaceAttributeChanged)) {
      // Read (and so clear) the changed list, then check our namespace is still there.
      auto buf = std::make_shared<std::vector<uint8_t>>(8192, 0);
      SqeBuilder log = SqeBuilder(kOpGetLogPage).log(kLogChangedNamespaces, 4096 / 4);
      self->admin(log.bytes(), buf->data(), 4096, [weak, buf](int, uint16_t, uint64_t) {
        auto c = weak.lock();
        if (!c) return;
        SqeBuilder ns = SqeBuilder(kOpIdentify).nsid(c->options_.nsid).cns(kCnsNamespace);
        c->admin(ns.bytes(), buf->data() + 4096, 4096, [weak, buf](int rc2, uint16_t st2, uint64_t) {
          auto c2 = weak.lock();
          if (!c2 || rc2 != 0) return;
          if ((st2 & kStatusMask) != 0 || IdentifyNamespaceView(buf->data() + 4096).nsze() == 0) {
            c2->set_failure("namespace " + std::to_string(c2->options_.nsid) + " was removed from " + c2->options_.subnqn);
            c2->state_.store(State::Failed, std::memory_order_release);
            if (c2->on_failed_) c2->on_failed_();
          }
        });
      });
    }
    self->submit_aer();
  });
}

void HostController::refresh_namespace(std::function<void(Status, uint64_t)> done) {
  if (state() != State::Connected) return done(Status::error(-ENOTCONN, "the controller of " + options_.subnqn + " is not connected"), 0);
  auto buf = std::make_shared<std::vector<uint8_t>>(4096, 0);
  SqeBuilder ns = SqeBuilder(kOpIdentify).nsid(options_.nsid).cns(kCnsNamespace);
  auto weak = weak_from_this();
  admin(ns.bytes(), buf->data(), 4096, [weak, buf, done = std::move(done)](int rc, uint16_t st, uint64_t) {
    auto self = weak.lock();
    if (!self) return done(Status::error(-ENODEV, "the controller is gone"), 0);
    if (rc != 0 || (st & kStatusMask) != 0) return done(Status::error(rc ? rc : -EIO, "Identify namespace: " + status_text(rc, st)), 0);
    uint64_t blocks = IdentifyNamespaceView(buf->data()).nsze();
    if (blocks > self->ns_.num_blocks) self->ns_.num_blocks = blocks;  // a reconnect then expects this size
    done(Status::ok(), self->ns_.num_blocks);
  });
}

int HostController::keep_alive_tick(void* arg) {
  auto* self = static_cast<HostController*>(arg);
  if (self->state() != State::Connected) return 0;
  uint64_t now = monotonic_ns();
  if (self->keep_alive_sent_ns_ && now - self->keep_alive_sent_ns_ > self->options_.keep_alive_ms * 1'000'000ull) {
    self->lost("keep-alive not answered within " + std::to_string(self->options_.keep_alive_ms) + " ms");
    return 1;
  }
  if (self->keep_alive_sent_ns_) return 0;
  self->keep_alive_sent_ns_ = now;
  SqeBuilder keep_alive(kOpKeepAlive);
  auto weak = self->weak_from_this();
  self->admin(keep_alive.bytes(), nullptr, 0, [weak](int rc, uint16_t, uint64_t) {
    if (auto c = weak.lock(); c && rc == 0) c->keep_alive_sent_ns_ = 0;
  });
  return 1;
}

void HostController::bring_up_failed(int rc, std::string why) {
  if (state() == State::Failed) return;
  if (on_connected_) {  // the first connection: report, do not retry
    state_.store(State::Failed, std::memory_order_release);
    set_failure(why);
    auto done = std::move(on_connected_);
    on_connected_ = nullptr;
    if (admin_) {
      HostQueue* old = admin_.release();
      app_.send([old] { delete old; });
    }
    std::string where = " (nvmf://" + options_.address + ":" + std::to_string(options_.port) + "/" + options_.subnqn + ")";
    auto self = std::move(self_while_connecting_);  // released once this call returns
    return done(Status::error(rc, why + where), nullptr);
  }
  if (state() == State::Connected) return lost(why);
  set_failure(why);
  schedule_reconnect();
}

void HostController::report_queue_lost(uint64_t generation) {
  auto weak = weak_from_this();
  app_.send([weak, generation] {
    auto c = weak.lock();
    if (c && c->state() == State::Connected && c->generation() == generation) c->lost("an I/O queue was lost");
  });
}

void HostController::lost(std::string why) {
  if (state() != State::Connected) return;
  state_.store(State::Reconnecting, std::memory_order_release);
  set_failure(why);
  lost_at_ns_ = monotonic_ns();
  if (admin_) admin_->fail(-ECONNRESET, why);
  schedule_reconnect();
}

void HostController::schedule_reconnect() {
  if (state() == State::Failed) return;
  if (monotonic_ns() - lost_at_ns_ >= options_.ctrl_loss_timeout_ms * 1'000'000ull) {
    state_.store(State::Failed, std::memory_order_release);
    set_failure("controller lost for more than " + std::to_string(options_.ctrl_loss_timeout_ms) + " ms: " + failure());
    if (on_failed_) on_failed_();
    return;
  }
  if (!reconnect_poller_)
    reconnect_poller_ = app_.register_poller("nvmf-host-reconnect", reconnect_tick, this,
                                             std::max<uint32_t>(options_.reconnect_delay_ms, 1) * 1'000'000ull);
}

int HostController::reconnect_tick(void* arg) {
  auto* self = static_cast<HostController*>(arg);
  self->app_.unregister_poller(self->reconnect_poller_);
  self->reconnect_poller_ = nullptr;
  if (self->state() == State::Reconnecting) self->start_admin_queue();
  return 1;
}

void HostController::shutdown() {
  state_.store(State::Failed, std::memory_order_release);
  stop_connect_timer();
  if (failure().empty()) set_failure("the bdev was destroyed");
  if (keep_alive_poller_) app_.unregister_poller(keep_alive_poller_);
  if (reconnect_poller_) app_.unregister_poller(reconnect_poller_);
  if (ready_poller_) app_.unregister_poller(ready_poller_);
  keep_alive_poller_ = reconnect_poller_ = ready_poller_ = nullptr;
  if (admin_) {
    admin_->set_state_hook(nullptr);
    admin_->fail(-ECONNABORTED, "shut down");
  }
}

// ------------------------------------------------------------------ discovery

namespace {

struct Discovery {
  std::unique_ptr<HostQueue> queue;
  std::vector<uint8_t> log;
  std::function<void(Status, std::vector<DiscoveryEntry>)> done;
  bool finished = false;
  Thread* app;

  void finish(Status st, std::vector<DiscoveryEntry> entries = {}) {
    if (finished) return;
    finished = true;
    queue->set_state_hook(nullptr);
    auto cb = std::move(done);
    cb(std::move(st), std::move(entries));
    Discovery* self = this;
    app->send([self] { delete self; });  // never inside the queue's own callbacks
  }
  // The spec's way to read a log that may change: the header (1024 bytes: the record
  // count), then the whole log, then the generation counter again; start over if it moved.
  static constexpr uint32_t kHeaderLength = 1024;
  static constexpr int kMaxRestarts = 3;
  std::array<uint8_t, 8> counter{};
  int restarts = 0;
  void fetch(uint32_t length);
  void confirm(uint64_t generation, std::vector<DiscoveryEntry> entries);
  void read_log(uint8_t* into, uint32_t length, AdminCall* call);
};

void Discovery::fetch(uint32_t length) {
  log.assign(length, 0);
  auto* call = new AdminCall{[this, length](int rc, uint16_t st, uint64_t) {
    if (rc != 0 || (st & kStatusMask)) return finish(Status::error(rc ? rc : -EIO, "Get Log Page (discovery): " + status_text(rc, st)));
    uint64_t records = get64(log.data() + 8);
    uint64_t need = std::min<uint64_t>(1024 * (records + 1), 131072);
    if (need > length) return fetch(static_cast<uint32_t>(need));
    std::vector<DiscoveryEntry> out;
    for (uint64_t i = 0; i < records && 1024 * (i + 2) <= log.size(); ++i) {
      const uint8_t* e = log.data() + 1024 * (i + 1);
      DiscoveryEntry d;
      d.transport = e[0] == 3 ? "tcp" : e[0] == 1 ? "rdma" : e[0] == 2 ? "fc" : std::to_string(e[0]);
      d.family = e[1] == 1 ? "ipv4" : e[1] == 2 ? "ipv6" : std::to_string(e[1]);
      d.subtype = e[2] == 2 ? "nvme" : e[2] == 1 ? "discovery" : e[2] == 3 ? "discovery-current" : std::to_string(e[2]);
      d.portid = get16(e + 4);
      d.cntlid = get16(e + 6);
      d.service = get_padded(e + 32, 32);
      d.subnqn = get_text(e + 256, 256);
      d.address = get_padded(e + 512, 256);
      out.push_back(std::move(d));
    }
    if (length == kHeaderLength) return finish(Status::ok(), std::move(out));
    confirm(get64(log.data()), std::move(out));
  }};
  read_log(log.data(), length, call);
}

void Discovery::confirm(uint64_t generation, std::vector<DiscoveryEntry> entries) {
  auto* call = new AdminCall{[this, generation, entries = std::move(entries)](int rc, uint16_t st, uint64_t) mutable {
    if (rc != 0 || (st & kStatusMask)) return finish(Status::error(rc ? rc : -EIO, "Get Log Page (discovery): " + status_text(rc, st)));
    if (get64(counter.data()) == generation) return finish(Status::ok(), std::move(entries));
    if (++restarts >= kMaxRestarts)
      return finish(Status::error(-EAGAIN, "the discovery log changed " + std::to_string(restarts) + " times while being read"));
    fetch(kHeaderLength);
  }};
  read_log(counter.data(), static_cast<uint32_t>(counter.size()), call);
}

void Discovery::read_log(uint8_t* into, uint32_t length, AdminCall* call) {
  uint8_t sqe[64] = {};
  sqe[0] = kOpGetLogPage;
  sqe[40] = kLogDiscovery;
  uint32_t numd = length / 4 - 1;
  put16(sqe + 42, static_cast<uint16_t>(numd & 0xffff));
  put16(sqe + 44, static_cast<uint16_t>(numd >> 16));
  int rc = queue->submit(sqe, nullptr, 0, into, length, admin_trampoline, call);
  if (rc != 0) admin_trampoline(call, rc, 0, 0);
}

}  // namespace

void discover(Thread& app, const std::string& address, uint16_t port, const std::string& hostnqn,
              std::function<void(Status, std::vector<DiscoveryEntry>)> done) {
  HostQueueOptions q;
  q.address = address;
  q.port = port;
  q.subnqn = kDiscoveryNqn;
  q.hostnqn = hostnqn;
  q.queue_size = 8;
  auto* d = new Discovery;  // deletes itself when finished
  d->app = &app;
  d->done = std::move(done);
  d->queue = std::make_unique<HostQueue>(app, q);
  if (d->queue->state() == HostQueue::State::Failed)
    return d->finish(Status::error(-ECONNREFUSED, d->queue->error()));
  d->queue->set_state_hook([d](HostQueue::State s) {
    if (s == HostQueue::State::Ready) return d->fetch(Discovery::kHeaderLength);
    d->finish(Status::error(-ECONNREFUSED, "discovery at " + d->queue->options().address + ":" +
                                               std::to_string(d->queue->options().port) + ": " + d->queue->error()));
  });
}

}  // namespace nds::nvmf
