#include "nvmf/host/nvmf_bdev.h"

#include "nvmf/tls/tls_psk.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>

#include "bdev/bdev_factory.h"
#include "nvmf/host/host_controller.h"
#include "nvmf/wire/nvme_spec.h"
#include "thread/thread.h"

namespace nds {

using nvmf::HostController;
using nvmf::HostQueue;
using namespace nvmf::spec;

namespace {

constexpr uint64_t kWatchdogPeriodNs = 5'000'000;
constexpr uint64_t kMaxBlocksPerCommand = 65536;  // NLB is 16 bits, 0's based
// How many times a command may time out (each time its queue reconnects and it goes
// again, as the target may have been stuck on that connection only) before its I/O fails.
constexpr uint32_t kIoAttempts = 3;

class NvmfBdev;

// Per-I/O progress, in the BdevIo's module scratch space: large I/Os go out in pieces.
struct IoProgress {
  uint64_t done_bytes;
  uint64_t piece_bytes;
  uint32_t timeouts;  // of the piece in flight
};
static_assert(sizeof(IoProgress) <= sizeof(BdevIo::module_ctx));

class NvmfChannel final : public ModuleChannel {
 public:
  NvmfChannel(NvmfBdev* bdev, std::shared_ptr<HostController> ctrl, uint16_t qid);
  ~NvmfChannel() override;
  void submit(BdevIo* io);

 private:
  void connect_queue();
  void drain();
  bool send_piece(BdevIo* io);
  void fail_waiting(int status);
  static void piece_done(void* arg, int status, uint16_t nvme_status, uint64_t dw0);
  static int watchdog(void* arg);
  void check_timeouts();

  NvmfBdev* bdev_;
  Thread* thread_;
  std::shared_ptr<HostController> ctrl_;
  uint16_t qid_;
  std::unique_ptr<HostQueue> queue_;
  uint64_t queue_generation_ = 0;
  std::deque<BdevIo*> waiting_;  // not sent yet, or to be sent again after a reconnect
  Poller* watchdog_ = nullptr;
  std::vector<std::unique_ptr<HostQueue>> retired_;  // failed queues, freed by the watchdog
};

class NvmfBdev final : public Bdev {
 public:
  NvmfBdev(std::string name, Uuid uuid, std::shared_ptr<HostController> ctrl)
      : Bdev(std::move(name), uuid, ctrl->ns().block_size, ctrl->ns().num_blocks), ctrl_(std::move(ctrl)) {}
  const char* module_name() const override { return "nvmf"; }
  void refresh_size_async(std::function<void(Status)> done) override {
    ctrl_->refresh_namespace([this, done = std::move(done)](Status st, uint64_t blocks) {
      if (st.is_ok() && blocks > num_blocks()) set_num_blocks(blocks);
      done(st);
    });
  }
  bool io_type_supported(IoType type) const override {
    switch (type) {
      case IoType::Read:
      case IoType::Write:
      case IoType::Flush: return true;
      case IoType::WriteZeroes: return ctrl_->ns().write_zeroes;
      case IoType::Unmap: return ctrl_->ns().deallocate;
      default: return false;
    }
  }
  std::unique_ptr<ModuleChannel> create_channel() override {
    // Queue IDs 1..N round-robin over what the controller granted.
    uint16_t qid = static_cast<uint16_t>(1 + next_queue_.fetch_add(1) % std::max<uint16_t>(ctrl_->io_queue_count(), 1));
    return std::make_unique<NvmfChannel>(this, ctrl_, qid);
  }
  void submit(ModuleChannel* channel, BdevIo* io) override { static_cast<NvmfChannel*>(channel)->submit(io); }
  void destruct(std::function<void()> done) override {
    ctrl_->shutdown();
    done();
  }
  bool gone() const override { return ctrl_->state() == HostController::State::Failed; }
  BdevHealth health() const override {
    switch (ctrl_->state()) {
      case HostController::State::Connected: return {BdevHealth::Online, ""};
      case HostController::State::Failed: return {BdevHealth::Gone, ctrl_->failure()};
      default: return {BdevHealth::Reconnecting, ctrl_->failure()};
    }
  }
  const std::shared_ptr<HostController>& ctrl() const { return ctrl_; }

 private:
  std::shared_ptr<HostController> ctrl_;
  std::atomic<uint32_t> next_queue_{0};
};

NvmfChannel::NvmfChannel(NvmfBdev* bdev, std::shared_ptr<HostController> ctrl, uint16_t qid)
    : bdev_(bdev), thread_(Thread::current()), ctrl_(std::move(ctrl)), qid_(qid) {
  watchdog_ = thread_->register_poller("nvmf-host-watchdog", watchdog, this, kWatchdogPeriodNs);
  connect_queue();
}

NvmfChannel::~NvmfChannel() {
  thread_->unregister_poller(watchdog_);
  fail_waiting(-ECONNABORTED);  // the bdev layer drains I/O before channels go; nothing should be here
  if (queue_) queue_->set_state_hook(nullptr);
}

void NvmfChannel::connect_queue() {
  if (ctrl_->state() != HostController::State::Connected) return;
  if (queue_) {
    queue_->set_state_hook(nullptr);
    retired_.push_back(std::move(queue_));  // never deleted inside its own callbacks
  }
  const auto& o = ctrl_->options();
  nvmf::HostQueueOptions q;
  q.address = o.address;
  q.port = o.port;
  q.subnqn = o.subnqn;
  q.hostnqn = o.hostnqn;
  q.hostid = o.hostid;
  q.qid = qid_;
  q.cntlid = ctrl_->cntlid();
  q.queue_size = o.io_queue_size;
  q.header_digest = o.header_digest;
  q.data_digest = o.data_digest;
  q.dhchap = o.dhchap;
  q.dhchap_policy = o.dhchap_policy;
  q.tls_psk = o.tls_psk;
  q.tls_identity_version = o.tls_identity_version;
  q.in_capsule_limit = ctrl_->in_capsule_limit();
  queue_generation_ = ctrl_->generation();
  queue_ = std::make_unique<HostQueue>(*thread_, q);
  uint64_t generation = queue_generation_;
  queue_->set_state_hook([this, generation](HostQueue::State s) {
    if (s == HostQueue::State::Ready) return drain();
    ctrl_->report_queue_lost(generation);
  });
}

void NvmfChannel::submit(BdevIo* io) {
  if (ctrl_->state() == HostController::State::Failed) return bdev_io_complete(io, -ENODEV);
  auto* p = reinterpret_cast<IoProgress*>(io->module_ctx);
  p->done_bytes = 0;
  p->piece_bytes = 0;
  p->timeouts = 0;
  waiting_.push_back(io);
  drain();
}

void NvmfChannel::drain() {
  while (!waiting_.empty() && queue_ && queue_->state() == HostQueue::State::Ready &&
         queue_generation_ == ctrl_->generation()) {
    if (!send_piece(waiting_.front())) break;
    waiting_.pop_front();
  }
}

// Sends the next piece of `io`. false: no free slot (try again on a completion).
bool NvmfChannel::send_piece(BdevIo* io) {
  auto* p = reinterpret_cast<IoProgress*>(io->module_ctx);
  const uint32_t shift = bdev_->block_shift();
  const uint64_t total = io->num_blocks << shift;
  const uint64_t offset = (io->offset_blocks << shift) + p->done_bytes;
  uint8_t sqe[64] = {};
  put32(sqe + 4, ctrl_->options().nsid);
  uint64_t piece = 0;
  const void* write_data = nullptr;
  void* read_buf = nullptr;
  uint32_t write_length = 0, read_length = 0;
  uint8_t ranges[16];
  switch (io->type) {
    case IoType::Read:
    case IoType::Write:
    case IoType::WriteZeroes: {
      uint64_t limit = io->type == IoType::WriteZeroes ? kMaxBlocksPerCommand << shift : ctrl_->max_transfer();
      piece = std::min(total - p->done_bytes, limit);
      sqe[0] = io->type == IoType::Read ? kOpRead : io->type == IoType::Write ? kOpWrite : kOpWriteZeroes;
      put64(sqe + 40, offset >> shift);
      put32(sqe + 48, static_cast<uint32_t>((piece >> shift) - 1));
      uint8_t* at = static_cast<uint8_t*>(io->buf) + p->done_bytes;
      if (io->type == IoType::Read) {
        read_buf = at;
        read_length = static_cast<uint32_t>(piece);
      } else if (io->type == IoType::Write) {
        write_data = at;
        write_length = static_cast<uint32_t>(piece);
      }
      break;
    }
    case IoType::Unmap: {
      // One deallocate range per command, at most 2^32 - 1 blocks.
      piece = std::min<uint64_t>(total - p->done_bytes, uint64_t{0xffffffff} << shift);
      sqe[0] = kOpDatasetManagement;
      put32(sqe + 44, 1u << 2);  // AD: deallocate; NR 0 = one range
      std::memset(ranges, 0, sizeof(ranges));
      put32(ranges + 4, static_cast<uint32_t>(piece >> shift));
      put64(ranges + 8, offset >> shift);
      write_data = ranges;  // in-capsule: copied into the PDU before submit returns
      write_length = 16;
      break;
    }
    case IoType::Flush: sqe[0] = kOpFlush; break;
    default: bdev_io_complete(io, -ENOTSUP); return true;
  }
  p->piece_bytes = piece;
  int rc = queue_->submit(sqe, write_data, write_length, read_buf, read_length, piece_done, io);
  return rc == 0;  // -EAGAIN (no free slot) or -ENOTCONN: it stays first in line
}

void NvmfChannel::piece_done(void* arg, int status, uint16_t nvme_status, uint64_t) {
  auto* io = static_cast<BdevIo*>(arg);
  auto* self = static_cast<NvmfChannel*>(io->channel->module.get());
  auto* p = reinterpret_cast<IoProgress*>(io->module_ctx);
  if (status != 0) {
    // Transport loss: the command may or may not have run. Reads, writes, zeroes and
    // deallocation are idempotent, so the piece goes again on the reconnected queue.
    if (self->ctrl_->state() == HostController::State::Failed) return bdev_io_complete(io, -ENODEV);
    if (p->timeouts >= kIoAttempts) return bdev_io_complete(io, -ETIMEDOUT);
    self->waiting_.push_front(io);
    return;
  }
  p->timeouts = 0;
  int rc = errno_from_status(nvme_status);
  if (rc != 0) return bdev_io_complete(io, rc);
  p->done_bytes += p->piece_bytes;
  if (io->type != IoType::Flush && p->done_bytes < (io->num_blocks << self->bdev_->block_shift())) {
    self->waiting_.push_front(io);
  } else {
    bdev_io_complete(io, 0);
  }
  self->drain();
}

void NvmfChannel::fail_waiting(int status) {
  while (!waiting_.empty()) {
    BdevIo* io = waiting_.front();
    waiting_.pop_front();
    bdev_io_complete(io, status);
  }
}

int NvmfChannel::watchdog(void* arg) {
  auto* self = static_cast<NvmfChannel*>(arg);
  self->retired_.clear();
  auto state = self->ctrl_->state();
  if (state == HostController::State::Failed) {
    if (self->queue_) {
      self->queue_->set_state_hook(nullptr);
      self->retired_.push_back(std::move(self->queue_));  // its outstanding I/O fails with it
      self->retired_.back()->fail(-ENODEV, "controller failed");
    }
    self->fail_waiting(-ENODEV);
    return 0;
  }
  if (state == HostController::State::Connected &&
      (!self->queue_ || self->queue_generation_ != self->ctrl_->generation() ||
       self->queue_->state() == HostQueue::State::Failed)) {
    if (self->queue_ && self->queue_->state() != HostQueue::State::Failed) {
      self->queue_->fail(-ECONNRESET, "the controller reconnected");  // its commands go again
    }
    self->connect_queue();
    return 1;
  }
  if (self->queue_ && self->queue_->state() == HostQueue::State::Ready) self->check_timeouts();
  if (!self->waiting_.empty()) self->drain();
  return 0;
}

void NvmfChannel::check_timeouts() {
  queue_->tick();
  const uint32_t timeout_ms = ctrl_->options().io_timeout_ms;
  if (timeout_ms == 0) return;
  const uint64_t ticks = std::max<uint64_t>(1, timeout_ms * 1'000'000ull / kWatchdogPeriodNs);
  size_t overdue = queue_->for_each_overdue(ticks, [](void* arg) {
    ++reinterpret_cast<IoProgress*>(static_cast<BdevIo*>(arg)->module_ctx)->timeouts;
  });
  if (overdue == 0) return;
  // Like a controller reset: the queue goes, the controller reconnects, and every
  // command on it is sent again (or fails, once it has timed out kIoAttempts times).
  queue_->fail(-ECONNRESET, std::to_string(overdue) + " command(s) got no answer within " +
                                std::to_string(timeout_ms) + " ms");
}

// ------------------------------------------------------------------ creation

// The URI as messages may show it: the values of key parameters replaced by "(secret)".
std::string redact_secrets(std::string_view text) {
  std::string out(text);
  for (const char* key : {"dhchap_key=", "dhchap_ctrlr_key=", "psk="}) {
    for (size_t at = out.find(key); at != std::string::npos; at = out.find(key, at + 1)) {
      if (at > 0 && out[at - 1] != '?' && out[at - 1] != '&') continue;
      const size_t value = at + std::strlen(key);
      const size_t end = std::min(out.find('&', value), out.size());
      out.replace(value, end - value, "(secret)");
    }
  }
  return out;
}

// "sha256,sha384" or "null,ffdhe2048,...": a bit per identifier.
Status parse_id_list(const std::string& list, const char* what, bool hashes, uint32_t* out) {
  *out = 0;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string item = list.substr(start, comma - start);
    nvmf::auth::Hash h;
    nvmf::auth::DhGroup g;
    if (hashes && nvmf::auth::hash_from_name(item, &h)) *out |= 1u << static_cast<int>(h);
    else if (!hashes && nvmf::auth::dh_group_from_name(item, &g)) *out |= 1u << static_cast<int>(g);
    else return Status::error(-EINVAL, std::string(what) + ": unknown '" + item + "' (" + (hashes ? "sha256, sha384, sha512" : "null, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144, ffdhe8192") + ")");
    start = comma + 1;
  }
  return Status::ok();
}

Status parse_nvmf_uri(std::string_view text, Uri& uri, const nvmf::auth::Keyring* ring, nvmf::HostControllerOptions* o, std::string* name) {
  const std::string shown = redact_secrets(text);
  std::string where = " in URI '" + shown + "'";
  auto colon = uri.host.rfind(':');
  bool bracketed = !uri.host.empty() && uri.host.front() == '[';
  std::string host = uri.host, port = "4420";
  if (bracketed) {
    auto close = uri.host.find(']');
    if (close == std::string::npos) return Status::error(-EINVAL, "unterminated IPv6 address" + where);
    host = uri.host.substr(1, close - 1);
    if (close + 1 < uri.host.size()) {
      if (uri.host[close + 1] != ':') return Status::error(-EINVAL, "bad host" + where);
      port = uri.host.substr(close + 2);
    }
  } else if (colon != std::string::npos) {
    host = uri.host.substr(0, colon);
    port = uri.host.substr(colon + 1);
  }
  if (host.empty()) return Status::error(-EINVAL, "a host address is required (nvmf://address:port/nqn)" + where);
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) || std::stoul(port) == 0 ||
      std::stoul(port) > 65535)
    return Status::error(-EINVAL, "port '" + port + "' is not a port number" + where);
  nvmf::SocketAddress sa;
  Status st = nvmf::resolve_numeric(host, 0, &sa);
  if (!st.is_ok()) return Status::error(-EINVAL, st.message + " (numeric addresses only)" + where);
  if (uri.path.empty() || uri.path.size() > 223) return Status::error(-EINVAL, "a subsystem NQN is required" + where);
  o->address = host;
  o->port = static_cast<uint16_t>(std::stoul(port));
  o->subnqn = uri.path;
  auto hostnqn = uri.query.take("hostnqn");
  o->hostnqn = hostnqn ? *hostnqn : default_host_nqn();
  std::optional<uint64_t> v;
  if (!(st = uri.query.take_u64("nsid", 1, 0xfffffffe, &v)).is_ok()) return st;
  if (v) o->nsid = static_cast<uint32_t>(*v);
  v.reset();
  if (!(st = uri.query.take_u64("hdgst", 0, 1, &v)).is_ok()) return st;
  o->header_digest = v && *v;
  v.reset();
  if (!(st = uri.query.take_u64("ddgst", 0, 1, &v)).is_ok()) return st;
  o->data_digest = v && *v;
  v.reset();
  if (!(st = uri.query.take_u64("keep_alive_ms", 0, 3600000, &v)).is_ok()) return st;
  if (v) o->keep_alive_ms = static_cast<uint32_t>(*v);
  v.reset();
  if (!(st = uri.query.take_u64("ctrl_loss_timeout_ms", 0, 86400000, &v)).is_ok()) return st;
  if (v) o->ctrl_loss_timeout_ms = static_cast<uint32_t>(*v);
  v.reset();
  if (!(st = uri.query.take_u64("reconnect_delay_ms", 1, 3600000, &v)).is_ok()) return st;
  if (v) o->reconnect_delay_ms = static_cast<uint32_t>(*v);
  v.reset();
  if (!(st = uri.query.take_u64("io_timeout_ms", 0, 3600000, &v)).is_ok()) return st;
  if (v) o->io_timeout_ms = static_cast<uint32_t>(*v);
  v.reset();
  if (!(st = uri.query.take_u64("connect_timeout_ms", 0, 3600000, &v)).is_ok()) return st;
  if (v) o->connect_timeout_ms = static_cast<uint32_t>(*v);
  v.reset();
  if (!(st = uri.query.take_u64("io_queue_size", 2, 128, &v)).is_ok()) return st;
  if (v) o->io_queue_size = static_cast<uint16_t>(*v);
  // DH-HMAC-CHAP: the host's secret, and the controller's for bidirectional authentication:
  // each the secret (DHHC-1:...) or the name of a key in the engine's keyring.
  auto host_key = uri.query.take("dhchap_key");
  auto ctrl_key = uri.query.take("dhchap_ctrlr_key");
  if (ctrl_key && !host_key) return Status::error(-EINVAL, "dhchap_ctrlr_key needs dhchap_key" + where);
  if (host_key) {
    auto keys = std::make_shared<nvmf::auth::DhchapKeys>();
    st = nvmf::auth::resolve_dhchap_secret(ring, *host_key, &keys->host);
    if (!st.is_ok()) return Status::error(st.rc, "dhchap_key: " + st.message + where);
    if (ctrl_key) {
      keys->has_ctrl = true;
      st = nvmf::auth::resolve_dhchap_secret(ring, *ctrl_key, &keys->ctrl);
      if (!st.is_ok()) return Status::error(st.rc, "dhchap_ctrlr_key: " + st.message + where);
    }
    o->dhchap = std::move(keys);
  }
  if (auto digests = uri.query.take("dhchap_digests")) {
    if (!(st = parse_id_list(*digests, "dhchap_digests", true, &o->dhchap_policy.hashes)).is_ok()) return Status::error(st.rc, st.message + where);
  }
  if (auto groups = uri.query.take("dhchap_dhgroups")) {
    if (!(st = parse_id_list(*groups, "dhchap_dhgroups", false, &o->dhchap_policy.dh_groups)).is_ok()) return Status::error(st.rc, st.message + where);
  }
  // TLS: psk= is the path of a 0600 file holding the PSK's interchange form, that form, or
  // the name of a key in the engine's keyring.
  if (auto psk = uri.query.take("psk")) {
    auto configured = std::make_shared<nvmf::auth::ParsedKey>();
    st = nvmf::tls::resolve_psk(ring, *psk, configured.get());
    if (!st.is_ok()) return Status::error(st.rc, st.message + where);
    nvmf::auth::Hash suite;
    if (!(st = nvmf::tls::psk_hash(*configured, &suite)).is_ok()) return Status::error(st.rc, st.message + where);
    o->tls_psk = std::move(configured);
  }
  // psk_identity_version=1 offers the identity with the PSK digest (nvme-cli's --identity 1).
  if (auto version = uri.query.take("psk_identity_version")) {
    if (*version != "0" && *version != "1") return Status::error(-EINVAL, "psk_identity_version must be 0 or 1, not '" + *version + "'" + where);
    if (!o->tls_psk) return Status::error(-EINVAL, "psk_identity_version needs psk" + where);
    o->tls_identity_version = *version == "1" ? 1 : 0;
  }
  auto given = uri.query.take("name");
  if (!(st = uri.query.reject_unknown(shown)).is_ok()) return st;
  if (given) {
    *name = *given;
  } else {
    // The NQN's last part and the namespace: "nqn.2019-05.io.nodestor:vol1" -> "vol1n1".
    std::string base = o->subnqn.substr(o->subnqn.rfind(':') == std::string::npos ? 0 : o->subnqn.rfind(':') + 1);
    std::replace(base.begin(), base.end(), '/', '_');
    *name = base.substr(0, 50) + "n" + std::to_string(o->nsid);
  }
  st = validate_bdev_name(*name);
  if (!st.is_ok()) return Status::error(st.rc, st.message + where);
  return Status::ok();
}

}  // namespace

const std::string& default_host_nqn() {
  static const std::string nqn = "nqn.2014-08.org.nvmexpress:uuid:" + Uuid::random_v4().to_string();
  return nqn;
}

void nvmf_bdev_create(BdevManager& manager, std::string_view text, Uri& uri, BdevModule::Done done) {
  nvmf::HostControllerOptions options;
  std::string name;
  Status st = parse_nvmf_uri(text, uri, manager.keyring(), &options, &name);
  if (!st.is_ok()) return done(st, nullptr);
  if (manager.find(name)) return done(Status::error(-EEXIST, "bdev " + name + " already exists"), nullptr);
  Uuid hostid = Uuid::random_v4();
  std::memcpy(options.hostid.data(), hostid.bytes.data(), 16);
  Thread* app = Thread::current();
  HostController::connect(*app, options, [name, done](Status st2, std::shared_ptr<HostController> ctrl) {
    if (!st2.is_ok()) return done(st2, nullptr);
    Uuid uuid;
    if (ctrl->ns().has_uuid) {
      std::memcpy(uuid.bytes.data(), ctrl->ns().uuid.data(), 16);
    } else {
      uuid = Uuid::random_v4();
    }
    done(Status::ok(), std::make_unique<NvmfBdev>(name, uuid, ctrl));  // destruct() shuts the controller
  });
}

NDS_BDEV_MODULE_REGISTER(BdevModule{"nvmf", nvmf_bdev_create});

}  // namespace nds
