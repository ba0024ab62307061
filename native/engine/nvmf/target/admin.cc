// Admin command handlers of the target's controllers (their rows are in commands.cc):
// Identify, Get Log Page (including the discovery and ANA logs), Get/Set Features, Keep
// Alive, Asynchronous Event Request, Abort.
// They run on the admin queue's thread and read subsystem state under the target's mutex.
#include <algorithm>
#include <cstring>

#include "env/time.h"
#include "nvmf/target/connection.h"
#include "nvmf/wire/nvme_fields.h"
#include "nvmf/wire/nvme_spec.h"

namespace nds::nvmf {

using namespace spec;

namespace {
constexpr uint32_t kAnaGroup = 1;  // every namespace of a subsystem is in one ANA group
constexpr uint32_t kMaxHeldAers = 4;  // AERL + 1
}  // namespace

void Connection::admin(const uint8_t* sqe, const uint8_t* data, uint32_t data_length) {
  (void)data;
  (void)data_length;
  last_keep_alive_ns_ = monotonic_ns();  // any admin command counts as traffic (TBKAS)
  const AdminCommand* command = admin_command(SqeView(sqe).opcode());
  if (!command) return respond(SqeView(sqe).cid(), kInvalidOpcode | kDoNotRetry);
  (this->*(command->handle))(sqe);
}

void Connection::keep_alive(const uint8_t* sqe) { respond(SqeView(sqe).cid(), kSuccess); }

void Connection::async_event_request(const uint8_t* sqe) {
  const uint16_t cid = SqeView(sqe).cid();
  if (held_aers_.size() >= kMaxHeldAers) return respond(cid, kAsyncEventLimitExceeded | kDoNotRetry);
  if (!pending_events_.empty()) {
    uint32_t dw0 = pending_events_.front();
    pending_events_.erase(pending_events_.begin());
    return respond(cid, kSuccess, dw0);
  }
  held_aers_.push_back(cid);  // held until an event occurs
}

// Bit 0 of dword 0: the command was not aborted (commands here finish on their own).
void Connection::abort_command(const uint8_t* sqe) { respond(SqeView(sqe).cid(), kSuccess, 1); }

void Connection::identify(const uint8_t* sqe) {
  const SqeView cmd(sqe);
  const uint16_t cid = cmd.cid();
  const uint8_t cns = cmd.cns();
  const uint32_t nsid = cmd.nsid();
  const Subsystem* sub = ctrl_->subsystem.get();
  std::vector<uint8_t> d(4096, 0);
  std::lock_guard lock(target_.mutex());
  if (cns == kCnsController) {
    put16(d.data() + 0, 0x1b36);  // PCI vendor and subsystem vendor IDs
    put16(d.data() + 2, 0x1b36);
    put_padded(d.data() + 4, 20, sub ? sub->options.serial : "");
    put_padded(d.data() + 24, 40, sub ? sub->options.model : "nodestor discovery");
    put_padded(d.data() + 64, 8, sub ? sub->options.firmware : "0.1");
    d[76] = sub ? 0x0b : 0x00;  // CMIC: several ports, several controllers, ANA reporting
    d[77] = 5;                  // MDTS: 2^5 pages of 4 KiB = 128 KiB
    put16(d.data() + 78, ctrl_->cntlid);
    put32(d.data() + 80, kVersion);
    put32(d.data() + 92, sub ? (1u << 8) | (1u << 11) : 1u << 31);  // OAES: namespace attribute, ANA / discovery log
    put32(d.data() + 96, 1u << 9);                                  // CTRATT: 128-bit host identifier
    d[111] = 1;                                                     // CNTRLTYPE: I/O controller
    if (!sub) d[111] = 2;                                           // discovery controller
    d[258] = 3;  // ACL
    d[259] = 3;  // AERL
    d[260] = 0x02;  // FRMW: one slot, slot 1 read-only
    d[261] = 0x06;  // LPA: command effects log, extended data for Get Log Page
    d[263] = 0;     // NPSS
    put16(d.data() + 320, 0);  // KAS granularity: 0 means 100 ms units are not used
    if (sub) {
      d[343] = 10;                              // ANATT: 10 s
      d[344] = 0x47;                            // ANACAP: optimized, non-optimized, inaccessible; group ID fixed
      put32(d.data() + 348, kAnaGroup);         // ANAGRPMAX
      put32(d.data() + 352, kAnaGroup);         // NANAGRPID
    }
    d[512] = 0x66;  // SQES
    d[513] = 0x44;  // CQES
    put16(d.data() + 514, kQueueEntries);  // MAXCMD
    put32(d.data() + 516, sub ? sub->options.max_namespaces : 0);  // NN
    put16(d.data() + 520, sub ? 0x000d : 0);  // ONCS: compare, DSM, write zeroes
    d[525] = sub ? 1 : 0;                     // VWC
    put32(d.data() + 536, 0x00000005);        // SGLS: SGLs, keyed data blocks
    const std::string subnqn = sub ? sub->options.nqn : kDiscoveryNqn;  // NUL-padded
    std::memcpy(d.data() + 768, subnqn.data(), std::min<size_t>(256, subnqn.size()));
    put32(d.data() + 1792, (64 + kInCapsuleDataSize) / 16);  // IOCCSZ
    put32(d.data() + 1796, 1);                               // IORCSZ
    d[1803] = 1;                                             // MSDBD
    return send_data(cid, d.data(), static_cast<uint32_t>(d.size()));
  }
  if (!sub) return respond(cid, kInvalidField | kDoNotRetry);
  const NamespaceTable& table = *sub->table;
  if (cns == kCnsNamespace || cns == kCnsNamespaceDescriptors) {
    const NamespaceEntry* e = nsid >= 1 && nsid <= table.size() ? table[nsid - 1].get() : nullptr;
    if (!e) {  // an inactive NSID reads as zeroes; descriptors of one are an error
      if (cns == kCnsNamespace && nsid >= 1 && nsid <= sub->options.max_namespaces)
        return send_data(cid, d.data(), static_cast<uint32_t>(d.size()));
      return respond(cid, kInvalidNamespace | kDoNotRetry);
    }
    if (cns == kCnsNamespace) {
      uint64_t blocks = e->ns->num_blocks();
      put64(d.data() + 0, blocks);   // NSZE
      put64(d.data() + 8, blocks);   // NCAP
      put64(d.data() + 16, blocks);  // NUSE
      d[24] = 0x01;                  // NSFEAT: thin provisioning (deallocate)
      d[30] = 0x01;                  // NMIC: may be shared by controllers
      d[33] = 0x01;                  // DLFEAT: deallocated blocks read as zeroes
      put32(d.data() + 92, kAnaGroup);  // ANAGRPID
      std::memcpy(d.data() + 104, e->nguid.data(), 16);
      put32(d.data() + 128, static_cast<uint32_t>(__builtin_ctz(e->ns->block_size())) << 16);  // LBAF0: LBADS
    } else {
      d[0] = 0x02;  // NIDT: NGUID
      d[1] = 16;
      std::memcpy(d.data() + 4, e->nguid.data(), 16);
      d[20] = 0x03;  // NIDT: UUID
      d[21] = 16;
      std::memcpy(d.data() + 24, e->uuid.data(), 16);
    }
    return send_data(cid, d.data(), static_cast<uint32_t>(d.size()));
  }
  if (cns == kCnsActiveNamespaces) {
    // The NSIDs above the given one; FFFFFFFEh and FFFFFFFFh are not valid starting
    // points (and nsid + 1 would wrap around).
    if (nsid >= 0xfffffffeu) return respond(cid, kInvalidNamespace | kDoNotRetry);
    size_t n = 0;
    for (uint64_t i = uint64_t{nsid} + 1; i <= table.size() && n < 1024; ++i)
      if (table[i - 1]) put32(d.data() + 4 * n++, i);
    return send_data(cid, d.data(), static_cast<uint32_t>(d.size()));
  }
  respond(cid, kInvalidField | kDoNotRetry);
}

// Under the target's mutex: the subsystems reachable through this listener for this host,
// after an entry for the discovery subsystem itself.
std::vector<uint8_t> Connection::discovery_log() {
  std::vector<std::string> nqns{kDiscoveryNqn};
  std::vector<bool> tls_required{false};
  for (auto& [nqn, s] : target_.subsystems_locked()) {
    auto l = std::find_if(s->listeners.begin(), s->listeners.end(), [&](auto& x) { return x.address == via_; });
    if (l == s->listeners.end() || !Target::host_allowed(*s, ctrl_->hostnqn)) continue;
    nqns.push_back(nqn);
    tls_required.push_back(l->secure_channel || s->host_psks.count(ctrl_->hostnqn) > 0);
  }
  std::vector<uint8_t> log(1024 * (1 + nqns.size()), 0);
  put64(log.data(), 1);  // GENCTR
  put64(log.data() + 8, nqns.size());
  put16(log.data() + 16, 0);  // RECFMT
  for (size_t i = 0; i < nqns.size(); ++i) {
    uint8_t* e = log.data() + 1024 * (i + 1);
    e[0] = 3;                      // TRTYPE: TCP
    e[1] = via_.ipv6() ? 2 : 1;    // ADRFAM
    e[2] = i == 0 ? 3 : 2;         // SUBTYPE: current discovery subsystem, NVM subsystem
    e[3] = tls_required[i] ? 0x01 : 0x02;  // TREQ: secure channel required, or not
    put16(e + 4, 1);               // PORTID
    put16(e + 6, 0xffff);          // CNTLID: dynamic controllers
    put16(e + 8, kQueueEntries);   // ASQSZ
    put_padded(e + 32, 32, std::to_string(via_.port));  // TRSVCID
    std::memcpy(e + 256, nqns[i].data(), std::min<size_t>(256, nqns[i].size()));
    put_padded(e + 512, 256, via_.address);  // TRADDR
    e[768] = tls_required[i] ? 1 : 0;        // TSAS SECTYPE: TLS 1.3, or none
  }
  return log;
}

// Under the target's mutex: one group holding every namespace, in this listener's state.
std::vector<uint8_t> Connection::ana_log(bool without_nsids) {
  const Subsystem& sub = *ctrl_->subsystem;
  std::vector<uint32_t> nsids;
  if (!without_nsids)
    for (auto& e : *sub.table)
      if (e) nsids.push_back(e->nsid);
  std::vector<uint8_t> log(16 + 32 + 4 * nsids.size(), 0);
  put64(log.data(), sub.ana_change_count);
  put16(log.data() + 8, 1);  // one group descriptor
  uint8_t* g = log.data() + 16;
  put32(g, kAnaGroup);
  put32(g + 4, static_cast<uint32_t>(nsids.size()));
  put64(g + 8, sub.ana_change_count);
  g[16] = static_cast<uint8_t>(Target::ana_state_locked(sub, via_));
  for (size_t i = 0; i < nsids.size(); ++i) put32(g + 32 + 4 * i, nsids[i]);
  return log;
}

void Connection::get_log_page(const uint8_t* sqe) {
  const SqeView cmd(sqe);
  const uint16_t cid = cmd.cid();
  const uint8_t lid = cmd.log_id();
  // 64-bit: NUMD is 0's based, so FFFFFFFFh + 1 and anything times 4 must not wrap.
  const uint64_t numd = cmd.log_dwords();
  const uint64_t offset = cmd.log_offset();
  if (numd * 4 > kMaxDataTransfer) return respond(cid, kInvalidField | kDoNotRetry);
  const uint32_t length = static_cast<uint32_t>(numd * 4);
  const Subsystem* sub = ctrl_->subsystem.get();
  std::vector<uint8_t> log;
  {
    std::lock_guard lock(target_.mutex());
    switch (lid) {
      case kLogDiscovery:
        if (sub) return respond(cid, kInvalidField | kDoNotRetry);
        log = discovery_log();
        break;
      case kLogAna:
        if (!sub) return respond(cid, kInvalidField | kDoNotRetry);
        log = ana_log(cmd.log_specific() & 1);  // LSP bit 0: groups only, no NSID lists
        break;
      case kLogCommandEffects:
        // CSUPP for every command handled; LBCC for the ones that change data.
        log.assign(4096, 0);
        fill_effects_log(log.data(), sub != nullptr);
        break;
      case kLogChangedNamespaces: {
        log.assign(4096, 0);
        auto& list = ctrl_->changed_nsids;
        if (list.size() > 1024) {
          put32(log.data(), 0xffffffffu);  // more changed than the list holds
        } else {
          for (size_t i = 0; i < list.size(); ++i) put32(log.data() + 4 * i, list[i]);
        }
        if (!cmd.log_retain_event()) list.clear();  // read without Retain Asynchronous Event: cleared
        break;
      }
      case kLogError:
      case kLogHealth:
      case kLogFirmwareSlot:
        log.assign(512, 0);  // nothing to report: no errors, healthy, one firmware slot
        if (lid == kLogFirmwareSlot) {
          log[0] = 1;  // AFI: slot 1 active
          put_padded(log.data() + 8, 8, sub ? sub->options.firmware : "0.1");
        }
        if (lid == kLogHealth) put16(log.data() + 1, 273 + 25);  // composite temperature, kelvin
        break;
      default: return respond(cid, kInvalidField | kDoNotRetry);
    }
  }
  std::vector<uint8_t> out(length, 0);
  if (offset < log.size()) std::memcpy(out.data(), log.data() + offset, std::min<uint64_t>(length, log.size() - offset));
  send_data(cid, out.data(), length);
}

void Connection::features(const uint8_t* sqe) {
  const SqeView cmd(sqe);
  const uint16_t cid = cmd.cid();
  const uint8_t fid = cmd.feature_id();
  const uint32_t value = cmd.feature_value();
  const bool set = cmd.opcode() == kOpSetFeatures;
  const bool nvm = ctrl_->subsystem != nullptr;
  switch (fid) {
    case kFeatureNumberOfQueues:
      if (!nvm) return respond(cid, kInvalidField | kDoNotRetry);
      if (set) ctrl_->io_queues = static_cast<uint16_t>(std::min<uint32_t>(value & 0xffff, 126) + 1);
      return respond(cid, kSuccess, (ctrl_->io_queues ? ctrl_->io_queues - 1u : 126u) * 0x10001u);
    case kFeatureKeepAliveTimer:
      if (set) {
        ctrl_->keep_alive_ms = value;
        last_keep_alive_ns_ = monotonic_ns();
      }
      return respond(cid, kSuccess, ctrl_->keep_alive_ms);
    case kFeatureVolatileWriteCache:
      if (!nvm) return respond(cid, kInvalidField | kDoNotRetry);
      return respond(cid, kSuccess, 1);  // on: a Flush makes writes durable
    default: {
      auto feature = ctrl_->features.find(fid);
      if (feature == ctrl_->features.end()) return respond(cid, kInvalidField | kDoNotRetry);
      if (set) feature->second = value;
      return respond(cid, kSuccess, feature->second);
    }
  }
}

}  // namespace nds::nvmf
