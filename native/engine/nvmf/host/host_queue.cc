#include "nvmf/host/host_queue.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "nvmf/tls/tls_psk.h"
#include "nvmf/wire/nvme_spec.h"
#include "thread/reactor.h"
#include "thread/thread.h"

namespace nds::nvmf {

using namespace spec;

namespace {
constexpr size_t kReceiveChunk = 256 * 1024;
constexpr uint32_t kIdlePollsPerRecv = 1024;
constexpr uint8_t kSglDataBlockOffset = 0x01;   // data block descriptor, offset: in-capsule data
constexpr uint8_t kSglTransportDataBlock = 0x5a;  // transport data block: R2T / C2HData
constexpr uint8_t kSqeFlagSgl = 0x40;             // PSDT: SGLs for data

int errno_from_connect_status(uint16_t status) {
  switch (status & kStatusMask) {
    case kConnectInvalidHost: return -EACCES;
    case kConnectInvalidParameters: return -ENOENT;
    case kConnectControllerBusy: return -EBUSY;
    default: return -ECONNREFUSED;
  }
}
}  // namespace

HostQueue::HostQueue(Thread& thread, HostQueueOptions options) : thread_(thread), options_(std::move(options)) {
  uint16_t n = std::max<uint16_t>(options_.queue_size, 2);
  slots_.resize(n);
  for (uint16_t i = n; i-- > 0;) free_cids_.push_back(i);
  start_connect();
}

HostQueue::~HostQueue() {
  if (destroyed_flag_) *destroyed_flag_ = true;
  on_state_ = nullptr;
  if (poller_) thread_.unregister_poller(poller_);
  if (fd_ >= 0) ::close(fd_);
  for (uint16_t cid = 0; cid < slots_.size(); ++cid)
    if (slots_[cid].busy && slots_[cid].cb != connect_done) complete(cid, -ECONNABORTED, 0, 0);
}

uint8_t HostQueue::digest_flags(bool with_data) const {
  return static_cast<uint8_t>((header_digest_ ? kFlagHeaderDigest : 0) | (with_data && data_digest_ ? kFlagDataDigest : 0));
}

void HostQueue::set_state(State s) {
  state_ = s;
  if (on_state_) on_state_(s);
}

void HostQueue::start_connect() {
  SocketAddress sa;
  Status st = resolve_numeric(options_.address, options_.port, &sa);
  if (!st.is_ok()) return fail(st.rc, st.message);
  fd_ = socket(sa.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return fail(-errno, std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd_, sa.get(), sa.length) != 0 && errno != EINPROGRESS)
    return fail(-errno, "cannot connect to " + options_.address + ":" + std::to_string(options_.port) + ": " +
                            std::strerror(errno));
  poller_ = thread_.register_poller("nvmf-host-queue", poll, this, 0, fd_);
  Reactor* reactor = thread_.reactor();
  busy_polled_ = reactor && reactor->idle_mode() == IdleMode::Poll;
}

bool HostQueue::start_tls() {
  std::string identity;
  auth::Hash hash;
  auth::SecretBytes psk;
  Status st = tls::host_psk(*options_.tls_psk, options_.tls_identity_version, options_.hostnqn, options_.subnqn, &identity, &hash, &psk);
  if (!st.is_ok()) {
    fail(st.rc, "TLS: " + st.message);
    return false;
  }
  tls_ = tls::TlsChannel::client(fd_, std::move(identity), hash, std::move(psk));
  return true;
}

void HostQueue::on_connected() {
  tcp_connected_ = true;
  uint8_t ic[kICLength] = {};
  ic[11] = static_cast<uint8_t>((options_.header_digest ? 1 : 0) | (options_.data_digest ? 2 : 0));
  append_pdu(&out_.bytes(), PduType::ICReq, 0, ic, kICLength, nullptr, 0);
  state_ = State::Handshake;
}

void HostQueue::send_connect() {
  connect_data_.assign(1024, 0);
  std::memcpy(connect_data_.data(), options_.hostid.data(), 16);
  put16(connect_data_.data() + 16, options_.cntlid);
  std::memcpy(connect_data_.data() + 256, options_.subnqn.data(), std::min<size_t>(255, options_.subnqn.size()));
  std::memcpy(connect_data_.data() + 512, options_.hostnqn.data(), std::min<size_t>(255, options_.hostnqn.size()));
  uint8_t sqe[64] = {};
  sqe[0] = kOpFabrics;
  sqe[4] = kFabricsConnect;
  put16(sqe + 42, options_.qid);
  put16(sqe + 44, static_cast<uint16_t>(slots_.size() - 1));  // SQSIZE is 0's based
  put32(sqe + 48, options_.keep_alive_ms);
  int rc = send_command(sqe, connect_data_.data(), 1024, nullptr, 0, connect_done, this);
  if (rc != 0) fail(rc, "cannot send Connect");
}

void HostQueue::connect_done(void* arg, int status, uint16_t nvme_status, uint64_t dw0) {
  auto* self = static_cast<HostQueue*>(arg);
  if (status != 0) return;  // the queue already failed
  if ((nvme_status & kStatusMask) != kSuccess) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%03x", nvme_status & kStatusMask);
    std::string why = (nvme_status & kStatusMask) == kConnectInvalidHost
                          ? ": host " + self->options_.hostnqn + " is not allowed to connect to it"
                          : "";
    return self->fail(errno_from_connect_status(nvme_status),
                      "Connect to " + self->options_.subnqn + " refused (status 0x" + hex + ")" + why);
  }
  self->cntlid_ = static_cast<uint16_t>(dw0 & 0xffff);
  const auto& keys = self->options_.dhchap;
  if (dw0 & auth::kConnectAuthRequired) {
    if (!keys)
      return self->fail(-EACCES, "Connect to " + self->options_.subnqn + ": the subsystem requires DH-HMAC-CHAP authentication and no dhchap_key was given");
    return self->start_auth();
  }
  // A controller key means: only a controller that proves it holds it will do.
  if (keys && keys->has_ctrl)
    return self->fail(-EACCES, "DH-HMAC-CHAP: " + self->options_.subnqn + " did not ask to authenticate, so it cannot prove the controller key");
  self->set_state(State::Ready);
}

const char* HostQueue::auth_step_name(AuthStep step) {
  switch (step) {
    case AuthStep::SentNegotiate: return "negotiate";
    case AuthStep::ReceivedChallenge: return "challenge";
    case AuthStep::SentReply: return "reply";
    case AuthStep::ReceivedSuccess1: return "success1";
    case AuthStep::SentSuccess2: return "success2";
    case AuthStep::SentFailure2: return "failure2";
  }
  return "?";
}

void HostQueue::start_auth() {
  auth_ = std::make_unique<auth::DhchapHost>(options_.dhchap, options_.dhchap_policy, options_.hostnqn, options_.subnqn);
  auth_send(AuthStep::SentNegotiate, auth_->negotiate());
}

void HostQueue::auth_send(AuthStep step, std::vector<uint8_t> message) {
  auth_out_ = std::move(message);
  auth_command(step, auth::kFabricsAuthSend, static_cast<uint32_t>(auth_out_.size()));
}

void HostQueue::auth_receive(AuthStep step) {
  auth_in_.assign(auth::kHostReceiveBytes, 0);
  auth_command(step, auth::kFabricsAuthReceive, auth::kHostReceiveBytes);
}

// Authentication Send (auth_out_ to the controller) or Receive (into auth_in_): `length` is
// the command's transfer or allocation length.
void HostQueue::auth_command(AuthStep step, uint8_t fctype, uint32_t length) {
  auth_step_ = step;
  const bool send = fctype == auth::kFabricsAuthSend;
  uint8_t sqe[64] = {};
  sqe[0] = kOpFabrics;
  sqe[4] = fctype;
  sqe[41] = auth::kAuthSpsp0;
  sqe[42] = auth::kAuthSpsp1;
  sqe[43] = auth::kAuthSecp;
  put32(sqe + 44, length);
  int rc = send ? send_command(sqe, auth_out_.data(), length, nullptr, 0, auth_done, this)
                : send_command(sqe, nullptr, 0, auth_in_.data(), length, auth_done, this);
  if (rc != 0) fail(rc, std::string("DH-HMAC-CHAP ") + auth_step_name(step) + ": cannot send");
}

void HostQueue::auth_done(void* arg, int status, uint16_t nvme_status, uint64_t) {
  auto* self = static_cast<HostQueue*>(arg);
  if (status != 0) return;  // the queue already failed
  const AuthStep step = self->auth_step_;
  if (step == AuthStep::SentFailure2) return self->fail(-EACCES, self->auth_error_);
  if ((nvme_status & kStatusMask) != kSuccess) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%03x", nvme_status & kStatusMask);
    return self->fail(-EACCES, std::string("DH-HMAC-CHAP ") + auth_step_name(step) + ": the controller refused the command (status 0x" + hex + ")");
  }
  std::vector<uint8_t> next;
  switch (step) {
    case AuthStep::SentNegotiate: return self->auth_receive(AuthStep::ReceivedChallenge);
    case AuthStep::ReceivedChallenge: {
      Status s = self->auth_->on_challenge(self->auth_in_.data(), self->auth_in_.size(), &next);
      if (!s.is_ok()) return self->fail(s.rc, s.message);
      return self->auth_send(AuthStep::SentReply, std::move(next));
    }
    case AuthStep::SentReply: return self->auth_receive(AuthStep::ReceivedSuccess1);
    case AuthStep::ReceivedSuccess1: {
      Status s = self->auth_->on_success1(self->auth_in_.data(), self->auth_in_.size(), &next);
      if (!s.is_ok()) {
        const bool controller_failed = self->auth_in_[1] == auth::kIdSuccess1;
        if (!controller_failed) return self->fail(s.rc, s.message);
        // The controller could not prove its key: tell it, then end the queue.
        self->auth_error_ = s.message;
        return self->auth_send(AuthStep::SentFailure2, self->auth_->failure2());
      }
      if (next.empty()) break;
      return self->auth_send(AuthStep::SentSuccess2, std::move(next));
    }
    case AuthStep::SentSuccess2: break;
    case AuthStep::SentFailure2: return;
  }
  self->auth_.reset();
  self->auth_out_.clear();
  self->auth_in_.clear();
  self->set_state(State::Ready);
}

int HostQueue::submit(const uint8_t* sqe, const void* write_data, uint32_t write_length, void* read_buf,
                      uint32_t read_length, HostCommandCb cb, void* arg) {
  if (state_ != State::Ready) return -ENOTCONN;
  return send_command(sqe, write_data, write_length, read_buf, read_length, cb, arg);
}

int HostQueue::send_command(const uint8_t* sqe_in, const void* write_data, uint32_t write_length, void* read_buf,
                            uint32_t read_length, HostCommandCb cb, void* arg) {
  if (free_cids_.empty()) return -EAGAIN;
  uint16_t cid = free_cids_.back();
  free_cids_.pop_back();
  Slot& s = slots_[cid];
  s = Slot{true, cb, arg, static_cast<const uint8_t*>(write_data), write_length, static_cast<uint8_t*>(read_buf),
           read_length, 0, tick_};
  ++outstanding_;
  // An Asynchronous Event Request waits for as long as nothing happens: it does not make
  // the queue expect an answer soon.
  s.parked = options_.qid == 0 && sqe_in[0] == kOpAsyncEventRequest;
  parked_ += s.parked ? 1 : 0;
  uint8_t header[kCapsuleCmdHeaderLength];
  std::memset(header, 0, 8);
  uint8_t* sqe = header + 8;
  std::memcpy(sqe, sqe_in, 64);
  put16(sqe + 2, cid);
  bool in_capsule = write_length > 0 && write_length <= options_.in_capsule_limit;
  uint32_t data_length = write_length ? write_length : read_length;
  if (data_length) {
    sqe[1] = static_cast<uint8_t>(sqe[1] | kSqeFlagSgl);
    std::memset(sqe + 24, 0, 16);
    put32(sqe + 32, data_length);
    sqe[39] = in_capsule ? kSglDataBlockOffset : kSglTransportDataBlock;
  }
  // The write data stays in the caller's buffer, valid until the command completes, which
  // cannot happen before the controller has received it.
  out_.append_pdu_spliced(PduType::CapsuleCmd, digest_flags(in_capsule), header, kCapsuleCmdHeaderLength,
                          in_capsule ? s.write_data : nullptr, in_capsule ? write_length : 0);
  schedule_flush();
  return 0;
}

void HostQueue::schedule_flush() {
  if (in_poll_ || flush_scheduled_) return;  // the poll pass flushes on its way out
  flush_scheduled_ = true;
  thread_.defer(flush_deferred, this);
}

void HostQueue::flush_deferred(void* arg) {
  auto* self = static_cast<HostQueue*>(arg);
  self->flush_scheduled_ = false;
  if (self->fd_ >= 0 && self->tcp_connected_) self->flush();
}

bool HostQueue::flush() {
  if (tls_ && !tls_->established()) return tls_->pending();
  int rc = tls_ ? tls_->send(out_) : out_.send_to(fd_);
  if (rc < 0) {
    fail(-ECONNRESET, std::string("send: ") + std::strerror(-rc));
    return false;
  }
  return !out_.empty() || (tls_ && tls_->pending());
}

void HostQueue::complete(uint16_t cid, int status, uint16_t nvme_status, uint64_t dw0) {
  Slot& s = slots_[cid];
  HostCommandCb cb = s.cb;
  void* arg = s.arg;
  s.busy = false;
  --outstanding_;
  parked_ -= s.parked ? 1 : 0;
  free_cids_.push_back(cid);
  cb(arg, status, nvme_status, dw0);
}

void HostQueue::fail(int error, std::string reason) {
  if (state_ == State::Failed) return;
  state_ = State::Failed;
  error_ = std::move(reason);
  error_code_ = error;
  if (poller_) thread_.unregister_poller(poller_);
  poller_ = nullptr;
  tls_.reset();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  out_.clear();  // before the commands complete: it points into their buffers
  bool destroyed = false;
  bool* outer = destroyed_flag_;
  destroyed_flag_ = &destroyed;
  for (uint16_t cid = 0; cid < slots_.size() && !destroyed; ++cid)
    if (slots_[cid].busy) complete(cid, error, 0, 0);
  if (destroyed) {
    if (outer) *outer = true;
    return;
  }
  destroyed_flag_ = outer;
  if (on_state_) on_state_(State::Failed);
}

void HostQueue::send_h2c(uint16_t cid, uint16_t ttag, uint32_t offset, uint32_t length) {
  Slot& s = slots_[cid];
  uint32_t chunk = max_h2c_data_ ? max_h2c_data_ : length;
  for (uint32_t done = 0; done < length;) {
    uint32_t n = std::min(chunk, length - done);
    uint8_t header[kDataHeaderLength] = {};
    put16(header + 8, cid);
    put16(header + 10, ttag);
    put32(header + 12, offset + done);
    put32(header + 16, n);
    done += n;
    uint8_t flags = static_cast<uint8_t>(digest_flags(true) | (done == length ? kFlagLastPdu : 0));
    out_.append_pdu_spliced(PduType::H2CData, flags, header, kDataHeaderLength, s.write_data + offset + done - n, n);
  }
}

void HostQueue::handle(const PduView& pdu) {
  if (!ic_done_) {
    if (pdu.type != PduType::ICResp) return fail(-EPROTO, "expected ICResp");
    ic_done_ = true;
    uint8_t granted = *pdu.at(11);
    header_digest_ = granted & 1;
    data_digest_ = granted & 2;
    max_h2c_data_ = std::max<uint32_t>(pdu.u32(12), 4096);
    reader_.set_digests(header_digest_, data_digest_);
    return send_connect();
  }
  switch (pdu.type) {
    case PduType::CapsuleResp: {
      uint16_t cid = pdu.cqe_cid();
      if (cid >= slots_.size() || !slots_[cid].busy) return fail(-EPROTO, "response for a command not outstanding");
      return complete(cid, 0, pdu.cqe_status(), pdu.u64(8));
    }
    case PduType::C2HData: {
      uint16_t cid = pdu.data_cccid();
      if (cid >= slots_.size() || !slots_[cid].busy) return fail(-EPROTO, "C2HData for a command not outstanding");
      Slot& s = slots_[cid];
      uint32_t datao = pdu.data_datao(), datal = pdu.data_datal();
      if (datal != pdu.data_length || datao + static_cast<uint64_t>(datal) > s.read_length)
        return fail(-EPROTO, "C2HData outside the command's buffer");
      std::memcpy(s.read_buf + datao, pdu.data(), datal);
      s.read_received += datal;
      if (pdu.flags & kFlagSuccess) complete(cid, 0, kSuccess, 0);
      return;
    }
    case PduType::R2T: {
      uint16_t cid = pdu.data_cccid();
      if (cid >= slots_.size() || !slots_[cid].busy) return fail(-EPROTO, "R2T for a command not outstanding");
      uint32_t offset = pdu.data_datao(), length = pdu.data_datal();
      if (offset + static_cast<uint64_t>(length) > slots_[cid].write_length || length == 0)
        return fail(-EPROTO, "R2T outside the command's data");
      return send_h2c(cid, pdu.data_ttag(), offset, length);
    }
    case PduType::C2HTermReq:
      return fail(-ECONNRESET, "the controller sent C2HTermReq (status " + std::to_string(pdu.u16(8)) + ")");
    default: return fail(-EPROTO, std::string("unexpected ") + pdu_type_name(pdu.type));
  }
}

int HostQueue::poll(void* arg) {
  auto* self = static_cast<HostQueue*>(arg);
  if (self->state_ == State::Failed) return 0;
  if (!self->tcp_connected_) {
    pollfd p{self->fd_, POLLOUT, 0};
    if (::poll(&p, 1, 0) <= 0) return 1;  // still connecting: keep the reactor awake
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      self->fail(-err, "cannot connect to " + self->options_.address + ":" + std::to_string(self->options_.port) + ": " +
                           std::strerror(err));
      return 1;
    }
    self->tcp_connected_ = true;
    if (!self->options_.tls_psk) self->on_connected();
    else if (!self->start_tls()) return 1;
  }
  if (self->tls_ && !self->tls_->established()) {
    int rc = self->tls_->handshake();
    if (rc == 0) return 1;  // a few round trips: keep the reactor on it
    if (rc < 0) {
      self->fail(rc, self->tls_->error().empty() ? "TLS handshake failed" : self->tls_->error());
      return 1;
    }
    self->on_connected();  // the IC exchange, inside TLS from here on
  }
  // On a busy-polling reactor, a queue with nothing outstanding (an AER aside) expects no
  // answer soon: it looks only every kIdlePollsPerRecv passes, so idle queues (admin queues
  // between keep-alives, a bdev nobody is using) cost no recv per pass. An event or a peer
  // that went away is seen within that. An adaptive reactor runs a pass only when woken,
  // often by this very socket, so there it always looks.
  if (self->outstanding_ == self->parked_ && self->state_ == State::Ready && self->busy_polled_ &&
      ++self->idle_polls_ < kIdlePollsPerRecv) {
    bool pending = self->flush();
    return pending ? 1 : 0;
  }
  self->idle_polls_ = 0;
  bool destroyed = false;
  self->destroyed_flag_ = &destroyed;
  self->in_poll_ = true;
  int work = 0;
  for (;;) {
    ssize_t n = self->tls_ ? self->tls_->read(self->reader_.prepare(kReceiveChunk), kReceiveChunk)
                           : recv(self->fd_, self->reader_.prepare(kReceiveChunk), kReceiveChunk, 0);
    if (n < 0 && self->tls_) {  // the channel returns -errno, not errno
      errno = static_cast<int>(-n);
      n = -1;
    }
    if (n > 0) {
      self->reader_.commit(static_cast<size_t>(n));
      ++work;
      PduView pdu;
      while (self->state_ != State::Failed && self->reader_.next_view(&pdu)) {
        self->handle(pdu);
        if (destroyed) return 1;
      }
      if (self->state_ != State::Failed && self->reader_.error())
        self->fail(-EPROTO, "malformed PDU from the controller: " + self->reader_.error()->message);
      if (destroyed) return 1;
      if (self->state_ == State::Failed) break;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      self->fail(-ECONNRESET, n == 0 ? "the controller closed the connection" : std::string("recv: ") + std::strerror(errno));
      if (destroyed) return 1;
    }
    break;
  }
  self->in_poll_ = false;
  self->destroyed_flag_ = nullptr;
  if (self->state_ == State::Failed) return 1;
  bool pending = self->flush();
  if (self->state_ == State::Handshake || pending) return std::max(work, 1);
  return work;
}

}  // namespace nds::nvmf
