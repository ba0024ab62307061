#include "nvmf/target/connection.h"
#include "nvmf/target/connection_internal.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "env/time.h"
#include "nvmf/wire/nvme_fields.h"
#include "nvmf/wire/nvme_spec.h"
#include "thread/thread.h"

namespace nds::nvmf {

using namespace spec;

namespace {
// A queue that does not finish authenticating in this long is closed.
constexpr uint64_t kAuthTimeoutNs = 10'000'000'000ull;
}  // namespace

void* HeapBuffers::get(uint32_t length) { return std::aligned_alloc(4096, (std::max<uint32_t>(length, 1) + 4095) & ~4095u); }
void HeapBuffers::put(void* buffer, uint32_t) { std::free(buffer); }

Connection::Connection(Target& target, ListenerAddress via, BufferSource& buffers, Thread* thread)
    : target_(target), via_(std::move(via)), buffers_(buffers), thread_(thread) {}

Connection::~Connection() {
  for (auto& s : slots_)
    if (s && s->queue) s->entry->ns->close_queue(s->queue);
  for (auto& s : retiring_)
    if (s->queue) s->entry->ns->close_queue(s->queue);
  for (auto& r : requests_) {
    if (r->buf) buffers_.put(r->buf, r->buf_length);
    if (r->compare_with) std::free(r->compare_with);
  }
  teardown_controller();
}

uint8_t Connection::digest_flags(bool with_data) const {
  return static_cast<uint8_t>((header_digest_ ? kFlagHeaderDigest : 0) | (with_data && data_digest_ ? kFlagDataDigest : 0));
}

void Connection::output_added() {
  if (!in_process_ && on_output_) on_output_();
}

void Connection::close(std::string reason) {
  if (closed_) return;
  closed_ = true;
  close_reason_ = std::move(reason);
  // A write still waiting for its H2CData (an R2T out) has no bdev I/O to complete it: it
  // is released here, or it would count as in flight for ever and the connection would
  // never be freed (found by corrupting a write's data with digests on: the target's stop
  // then waited for good).
  for (auto& r : requests_)
    if (r->busy && r->awaiting_data) release(r.get());
  teardown_controller();
}

// The admin queue going away ends its controller (and so every I/O queue of it), the way a
// host disconnecting or a keep-alive expiring does.
void Connection::teardown_controller() {
  if (!ctrl_) return;
  if (qid_ != 0) {
    if (!io_queue_listed_) return;
    io_queue_listed_ = false;
    std::lock_guard lock(target_.mutex());
    auto it = ctrl_->io_queues_connected.find(qid_);
    if (it != ctrl_->io_queues_connected.end()) ctrl_->io_queues_connected.erase(it);
    return;
  }
  if (ctrl_->admin == this) ctrl_->admin = nullptr;
  std::lock_guard lock(target_.mutex());
  ctrl_->failed.store(true);
  target_.drop_controller_locked(ctrl_->cntlid);
}

void Connection::terminate(FatalError status, uint32_t field, std::string reason, bool data_digest) {
  if (closed_) return;
  target_.count_error(data_digest                              ? TransportError::DataDigest
                      : status == FatalError::HeaderDigestError ? TransportError::HeaderDigest
                                                                : TransportError::Protocol);
  uint8_t header[kDataHeaderLength] = {};
  put16(header + 8, static_cast<uint16_t>(status));
  put32(header + 10, field);
  append_pdu(&out_.bytes(), PduType::C2HTermReq, 0, header, kDataHeaderLength, nullptr, 0);
  close("protocol error: " + reason);
}

void Connection::receive(const uint8_t* data, size_t length) {
  reader_.feed(data, length);
  process();
}

void Connection::process() {
  if (closed_) return;
  in_process_ = true;
  PduView pdu;
  while (!closed_ && reader_.next_view(&pdu)) handle(pdu);
  if (!closed_ && reader_.error()) {
    const PduError& e = *reader_.error();
    terminate(e.status, e.field_offset, e.message, e.data_digest);
  }
  in_process_ = false;
}

void Connection::handle(const PduView& pdu) {
  if (!ic_done_) return handle_ic(pdu);
  switch (pdu.type) {
    case PduType::CapsuleCmd: return handle_command(pdu);
    case PduType::H2CData: return handle_h2c_data(pdu);
    case PduType::H2CTermReq: return close("the host sent H2CTermReq");
    default:
      return terminate(FatalError::PduSequenceError, 0, std::string("unexpected ") + pdu_type_name(pdu.type));
  }
}

void Connection::handle_ic(const PduView& pdu) {
  if (pdu.type != PduType::ICReq) return terminate(FatalError::PduSequenceError, 0, "expected ICReq first");
  if (pdu.u16(8) != 0) return terminate(FatalError::InvalidHeaderField, 8, "unsupported PFV");
  uint8_t requested = *pdu.at(11);
  header_digest_ = requested & 1;
  data_digest_ = requested & 2;
  uint8_t resp[kICLength] = {};
  resp[11] = requested & 3;  // both digests supported: grant what was asked
  put32(resp + 12, kMaxDataTransfer);
  append_pdu(&out_.bytes(), PduType::ICResp, 0, resp, kICLength, nullptr, 0);
  reader_.set_digests(header_digest_, data_digest_);
  ic_done_ = true;
}

void Connection::respond(uint16_t cid, uint16_t status, uint64_t dw0) {
  uint8_t header[kCapsuleRespHeaderLength] = {};
  uint8_t* cqe = header + 8;
  put64(cqe, dw0);
  sq_head_ = static_cast<uint16_t>((sq_head_ + 1) % sq_size_);
  put16(cqe + 8, sq_head_);
  put16(cqe + 10, qid_);
  put16(cqe + 12, cid);
  put16(cqe + 14, static_cast<uint16_t>(status << 1));
  append_pdu(&out_.bytes(), PduType::CapsuleResp, digest_flags(false), header, kCapsuleRespHeaderLength, nullptr, 0);
}

void Connection::send_data(uint16_t cid, const uint8_t* data, uint32_t length, void* pool_buffer,
                           uint32_t pool_buffer_length) {
  // One C2HData carrying everything, flagged LAST and SUCCESS: no response capsule follows.
  sq_head_ = static_cast<uint16_t>((sq_head_ + 1) % sq_size_);
  uint8_t header[kDataHeaderLength] = {};
  put16(header + 8, cid);
  put32(header + 16, length);
  const uint8_t flags = static_cast<uint8_t>(digest_flags(true) | kFlagLastPdu | kFlagSuccess);
  // Read data stays in its pool buffer, which the stream returns once the kernel took it;
  // admin answers are temporaries and are copied.
  if (pool_buffer)
    out_.append_pdu_spliced(PduType::C2HData, flags, header, kDataHeaderLength, data, length, pool_buffer,
                            pool_buffer_length);
  else
    append_pdu(&out_.bytes(), PduType::C2HData, flags, header, kDataHeaderLength, data, length);
}

void Connection::handle_command(const PduView& pdu) {
  const uint8_t* sqe = pdu.bytes + 8;
  const SqeView cmd(sqe);
  if (auth_ && !auth_->authenticated()) {
    const uint8_t fctype = cmd.opcode() == kOpFabrics ? cmd.fabrics_type() : 0xff;
    if (fctype != auth::kFabricsAuthSend && fctype != auth::kFabricsAuthReceive && fctype != kFabricsDisconnect)
      return respond(cmd.cid(), auth::kAuthRequired | kDoNotRetry);
  }
  if (cmd.opcode() == kOpFabrics) return fabrics(sqe, pdu.data(), pdu.data_length);
  if (!ctrl_) return respond(cmd.cid(), kCommandSequenceError | kDoNotRetry);  // nothing before Connect
  if (ctrl_->failed.load(std::memory_order_relaxed)) return close("controller torn down");
  if (qid_ == 0) return admin(sqe, pdu.data(), pdu.data_length);
  io(pdu);
}

void Connection::fabrics(const uint8_t* sqe, const uint8_t* data, uint32_t data_length) {
  const SqeView cmd(sqe);
  uint16_t cid = cmd.cid();
  uint8_t fctype = cmd.fabrics_type();
  if (fctype == kFabricsConnect) return connect(sqe, data, data_length);
  if (!ctrl_) return respond(cid, kCommandSequenceError | kDoNotRetry);
  if (fctype == auth::kFabricsAuthSend) return auth_send(sqe, data, data_length);
  if (fctype == auth::kFabricsAuthReceive) return auth_receive(sqe);
  if (fctype == kFabricsDisconnect) {
    respond(cid, kSuccess);
    return close("the host disconnected the queue");
  }
  if (qid_ != 0) return respond(cid, kInvalidField | kDoNotRetry);  // properties live on the admin queue
  uint32_t offset = cmd.property_offset();
  bool eight = cmd.property_eight_bytes();
  if (fctype == kFabricsPropertyGet) {
    uint64_t value = 0;
    switch (offset) {
      case kRegCap:  // MQES, CQR, TO (15 s), CSS NVM
        value = (kQueueEntries - 1) | (1ull << 16) | (30ull << 24) | (1ull << 37);
        break;
      case kRegVs: value = kVersion; break;
      case kRegCc: value = ctrl_->cc; break;
      case kRegCsts: value = ctrl_->csts; break;
      default: return respond(cid, kInvalidField | kDoNotRetry);
    }
    return respond(cid, kSuccess, eight ? value : value & 0xffffffffu);
  }
  if (fctype == kFabricsPropertySet) {
    if (offset != kRegCc) return respond(cid, kInvalidField | kDoNotRetry);
    ctrl_->cc = static_cast<uint32_t>(cmd.property_value());
    ctrl_->csts = (ctrl_->cc & 1) ? 1 : 0;              // RDY follows EN
    if ((ctrl_->cc >> 14) & 3) ctrl_->csts |= 2u << 2;  // shutdown complete at once: no volatile state here
    return respond(cid, kSuccess);
  }
  respond(cid, kInvalidField | kDoNotRetry);
}

void Connection::connect(const uint8_t* sqe, const uint8_t* data, uint32_t data_length) {
  const SqeView cmd(sqe);
  uint16_t cid = cmd.cid();
  if (ctrl_) return respond(cid, kCommandSequenceError | kDoNotRetry);
  if (data_length < 1024) return respond(cid, kConnectInvalidParameters | kDoNotRetry);
  uint16_t qid = cmd.connect_qid();
  uint32_t sqsize = cmd.connect_queue_size();
  std::string subnqn = get_text(data + 256, 256), hostnqn = get_text(data + 512, 256);
  uint16_t want_cntlid = get16(data + 16);
  // For invalid parameters dw0 says where: IATTR (bit 0: 1 = in the data) and IPO (bits 31:16).
  if (sqsize < 2 || sqsize > kQueueEntries) return respond(cid, kConnectInvalidParameters | kDoNotRetry, (44u << 16) | 0);
  std::lock_guard lock(target_.mutex());
  bool discovery = subnqn == kDiscoveryNqn;
  std::shared_ptr<Subsystem> sub = discovery ? nullptr : target_.find_locked(subnqn);
  std::shared_ptr<const auth::DhchapKeys> keys;
  if (!discovery) {
    if (sub) {
      auto k = sub->host_keys.find(hostnqn);
      if (k != sub->host_keys.end()) keys = k->second;
    }
    auto listener = !sub ? std::vector<SubsystemListener>::const_iterator{}
                         : std::find_if(sub->listeners.cbegin(), sub->listeners.cend(),
                                        [&](const SubsystemListener& l) { return l.address == via_; });
    if (!sub || listener == sub->listeners.cend()) return respond(cid, kConnectInvalidParameters | kDoNotRetry, (256u << 16) | 1);
    if (!Target::host_allowed(*sub, hostnqn)) {
      target_.count_error(TransportError::HostRefused);
      return respond(cid, kConnectInvalidHost | kDoNotRetry);
    }
    // TLS: required by the listener or by the host's PSK, and then for the very host and
    // subsystem its PSK identity named.
    const bool tls_needed = listener->secure_channel || sub->host_psks.count(hostnqn) > 0;
    if ((tls_needed && !tls_) || (tls_ && (hostnqn != tls_host_nqn_ || subnqn != tls_subsys_nqn_))) {
      target_.count_error(TransportError::HostRefused);
      return respond(cid, kConnectInvalidHost | kDoNotRetry);
    }
  }
  if (qid == 0) {
    ctrl_ = target_.create_controller_locked(sub, hostnqn, via_);
    if (!ctrl_) return respond(cid, kConnectControllerBusy);
    ctrl_->admin_thread = thread_;
    ctrl_->admin = this;
    ctrl_->keep_alive_ms = cmd.connect_keep_alive_ms();
    last_keep_alive_ns_ = monotonic_ns();
  } else {
    auto c = target_.controller_locked(want_cntlid);
    if (!c || discovery || c->subsystem != sub || c->hostnqn != hostnqn || c->failed.load())
      return respond(cid, kConnectInvalidParameters | kDoNotRetry, (16u << 16) | 1);
    ctrl_ = std::move(c);
    ctrl_->io_queues_connected.insert(qid);
    io_queue_listed_ = true;
  }
  qid_ = qid;
  sq_size_ = static_cast<uint16_t>(sqsize);
  uint32_t dw0 = ctrl_->cntlid;
  if (keys) {
    auth_ = std::make_unique<auth::DhchapTarget>(std::move(keys), sub->dhchap_policy, hostnqn, subnqn);
    auth_started_ns_ = monotonic_ns();
    dw0 |= auth::kConnectAuthRequired;
  }
  respond(cid, kSuccess, dw0);
}

bool Connection::auth_command_valid(const uint8_t* sqe) const {
  return sqe[43] == auth::kAuthSecp && sqe[41] == auth::kAuthSpsp0 && sqe[42] == auth::kAuthSpsp1;
}

void Connection::auth_send(const uint8_t* sqe, const uint8_t* data, uint32_t data_length) {
  const uint16_t cid = SqeView(sqe).cid();
  if (!auth_) return respond(cid, kCommandSequenceError | kDoNotRetry);  // this host has no keys here
  const uint32_t transfer = get32(sqe + 44);
  if (!auth_command_valid(sqe) || transfer != data_length || transfer == 0) return respond(cid, kInvalidField | kDoNotRetry);
  const bool taken = auth_->on_send(data, data_length);
  respond(cid, taken ? kSuccess : kCommandSequenceError | kDoNotRetry);
  if (auth_->failed()) {
    target_.count_error(TransportError::HostRefused);
    close("DH-HMAC-CHAP: " + auth_->failure());
  }
}

void Connection::auth_receive(const uint8_t* sqe) {
  const uint16_t cid = SqeView(sqe).cid();
  if (!auth_) return respond(cid, kCommandSequenceError | kDoNotRetry);
  if (!auth_command_valid(sqe)) return respond(cid, kInvalidField | kDoNotRetry);
  const std::vector<uint8_t> message = auth_->on_receive(get32(sqe + 44));
  if (message.empty()) return respond(cid, kCommandSequenceError | kDoNotRetry);
  send_data(cid, message.data(), static_cast<uint32_t>(message.size()));
  if (auth_->failed()) {
    // The Failure1 is in the output; the transport sends what it holds before it drops us.
    target_.count_error(TransportError::HostRefused);
    close("DH-HMAC-CHAP authentication failed: " + auth_->failure());
  }
}

// ------------------------------------------------------------------ namespaces

void Connection::refresh_namespaces() {
  if (!ctrl_ || !ctrl_->subsystem || qid_ == 0) return;
  Subsystem& sub = *ctrl_->subsystem;
  std::shared_ptr<const NamespaceTable> table;
  {
    std::lock_guard lock(target_.mutex());
    table_generation_ = sub.generation.load();
    table = sub.table;
    ana_ = Target::ana_state_locked(sub, via_);
  }
  table_ = std::move(table);
  // Slots whose namespace went (or was replaced) retire once their I/O is done.
  for (size_t i = 0; i < slots_.size(); ++i) {
    auto& s = slots_[i];
    if (!s) continue;
    if (i < table_->size() && (*table_)[i] == s->entry) continue;
    retire(std::move(s));
  }
}

void Connection::retire(std::unique_ptr<NamespaceSlot> slot) {
  slot->retired = true;
  if (slot->in_flight == 0) {
    if (slot->queue) slot->entry->ns->close_queue(slot->queue);
    return;
  }
  retiring_.push_back(std::move(slot));
}

void Connection::slot_idle(NamespaceSlot* slot) {
  auto it = std::find_if(retiring_.begin(), retiring_.end(), [slot](auto& p) { return p.get() == slot; });
  if (it == retiring_.end()) return;
  if (slot->queue) slot->entry->ns->close_queue(slot->queue);
  retiring_.erase(it);
}

Connection::NamespaceSlot* Connection::slot_for(uint32_t nsid) {
  if (!table_ || nsid == 0 || nsid > table_->size() || !(*table_)[nsid - 1]) return nullptr;
  if (slots_.size() < table_->size()) slots_.resize(table_->size());
  auto& s = slots_[nsid - 1];
  if (!s) {
    s = std::make_unique<NamespaceSlot>();
    s->entry = (*table_)[nsid - 1];
  }
  if (!s->queue) s->queue = s->entry->ns->open_queue();
  return s->queue ? s.get() : nullptr;
}

// ------------------------------------------------------------------ I/O

Connection::Request* Connection::take_request(const uint8_t* sqe) {
  Request* r;
  if (!free_requests_.empty()) {
    r = free_requests_.back();
    free_requests_.pop_back();
  } else {
    // The host may have sq_size commands out; a few more cover completions still in its
    // pipe. Beyond that it is breaking the queue contract.
    if (requests_.size() >= static_cast<size_t>(sq_size_) + 8) return nullptr;
    requests_.push_back(std::make_unique<Request>());
    r = requests_.back().get();
    r->conn = this;
    r->index = static_cast<uint16_t>(requests_.size() - 1);
  }
  std::memcpy(r->sqe, sqe, 64);
  r->busy = true;
  r->cid = SqeView(sqe).cid();
  r->opcode = SqeView(sqe).opcode();
  r->received = 0;
  r->pending = 0;
  r->first_error = 0;
  r->awaiting_data = false;
  ++in_flight_;
  return r;
}

void Connection::release(Request* r) {
  if (r->buf) {
    buffers_.put(r->buf, r->buf_length);
    r->buf = nullptr;
  }
  if (r->compare_with) {
    std::free(r->compare_with);
    r->compare_with = nullptr;
  }
  if (r->slot) {
    NamespaceSlot* s = r->slot;
    r->slot = nullptr;
    if (--s->in_flight == 0 && s->retired) slot_idle(s);
  }
  r->busy = false;
  --in_flight_;
  free_requests_.push_back(r);
}

void Connection::finish(Request* r, int status) {
  const uint16_t cid = r->cid;
  const uint8_t opcode = r->opcode;
  if (!closed_) {
    if (status == 0 && opcode == kOpRead) {
      send_data(cid, static_cast<const uint8_t*>(r->buf), r->length, r->buf, r->buf_length);
      r->buf = nullptr;  // the output stream owns it now
    } else if (status == 0 && opcode == kOpCompare) {
      respond(cid, std::memcmp(r->buf, r->compare_with, r->length) == 0 ? kSuccess : kCompareFailure | kDoNotRetry);
    } else {
      respond(cid, status == 0 ? kSuccess : status_from_errno(status, opcode));
    }
  }
  release(r);
  output_added();
}

void Connection::handle_h2c_data(const PduView& pdu) {
  uint16_t ttag = pdu.data_ttag();
  Request* r = ttag >= 1 && ttag <= requests_.size() ? requests_[ttag - 1].get() : nullptr;
  if (!r || !r->busy || !r->awaiting_data || r->cid != pdu.data_cccid())
    return terminate(FatalError::InvalidHeaderField, 8, "H2CData for no outstanding R2T");
  uint32_t datao = pdu.data_datao(), datal = pdu.data_datal();
  if (datal != pdu.data_length || datao != r->received || datao + datal > r->length || datal == 0)
    return terminate(FatalError::DataOutOfRange, 12, "H2CData outside the requested range");
  std::memcpy(static_cast<uint8_t*>(r->buf) + datao, pdu.data(), datal);
  r->received += datal;
  if (r->received < r->length) return;
  r->awaiting_data = false;
  execute(r);
}

// ------------------------------------------------------------------ timers and events

void Connection::check_timers(uint64_t now_ns) {
  if (closed_ || !ctrl_) return;
  if (ctrl_->failed.load(std::memory_order_relaxed)) return close("controller torn down");
  if (auth_ && !auth_->authenticated() && now_ns - auth_started_ns_ > kAuthTimeoutNs) {
    target_.count_error(TransportError::HostRefused);
    return close("DH-HMAC-CHAP: not authenticated within " + std::to_string(kAuthTimeoutNs / 1000000000ull) + " s");
  }
  if (qid_ == 0 && ctrl_->keep_alive_ms > 0 && now_ns - last_keep_alive_ns_ > ctrl_->keep_alive_ms * 1000000ull)
    return close("keep-alive timeout expired (" + std::to_string(ctrl_->keep_alive_ms) + " ms)");
}

void Connection::post_event(AsyncEvent event, uint32_t nsid) {
  if (closed_ || !ctrl_) return;
  if (event == AsyncEvent::NamespaceAttributeChanged && nsid) {
    auto& list = ctrl_->changed_nsids;
    if (std::find(list.begin(), list.end(), nsid) == list.end()) list.push_back(nsid);
  }
  // Asynchronous Event Configuration decides which notices the host wants.
  uint32_t config = ctrl_->features[kFeatureAsyncEventConfig];
  uint32_t bit = event == AsyncEvent::NamespaceAttributeChanged ? 1u << 8
                 : event == AsyncEvent::AnaChange              ? 1u << 11
                                                               : 1u << 31;
  if (!(config & bit)) return;
  uint32_t dw0 = static_cast<uint32_t>(event);
  if (held_aers_.empty()) {
    if (std::find(pending_events_.begin(), pending_events_.end(), dw0) == pending_events_.end())
      pending_events_.push_back(dw0);
    return;
  }
  uint16_t cid = held_aers_.front();
  held_aers_.erase(held_aers_.begin());
  respond(cid, kSuccess, dw0);
  output_added();
}

void deliver_event(const std::shared_ptr<Controller>& ctrl, AsyncEvent event, uint32_t nsid) {
  if (!ctrl->admin_thread) {  // single-threaded tests: deliver now
    if (ctrl->admin) ctrl->admin->post_event(event, nsid);
    return;
  }
  std::weak_ptr<Controller> weak = ctrl;
  ctrl->admin_thread->send([weak, event, nsid] {
    if (auto c = weak.lock(); c && c->admin) c->admin->post_event(event, nsid);
  });
}

}  // namespace nds::nvmf
