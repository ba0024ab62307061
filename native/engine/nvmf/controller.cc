#include "nvmf/controller.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace nds::nvmf {

namespace {

// Status (SCT << 8 | SC), as the CQE carries it shifted past the phase bit.
constexpr uint16_t kSuccess = 0x0000;
constexpr uint16_t kInvalidOpcode = 0x0001;
constexpr uint16_t kInvalidField = 0x0002;
constexpr uint16_t kDataTransferError = 0x0004;
constexpr uint16_t kInternalError = 0x0006;
constexpr uint16_t kInvalidNamespace = 0x000b;
constexpr uint16_t kCommandSequenceError = 0x000c;
constexpr uint16_t kLbaOutOfRange = 0x0080;
constexpr uint16_t kConnectInvalidParameters = 0x0182;
constexpr uint16_t kConnectInvalidHost = 0x0184;
constexpr uint16_t kDoNotRetry = 0x4000;

constexpr uint16_t kQueueEntries = 128;

void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint16_t get16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
uint32_t get32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
uint64_t get64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

// Space-padded ASCII fields (serial, model, firmware, addresses).
void put_text(uint8_t* p, size_t width, const std::string& text) {
  std::memset(p, ' ', width);
  std::memcpy(p, text.data(), std::min(width, text.size()));
}
std::string get_nqn(const uint8_t* p) { return std::string(reinterpret_cast<const char*>(p), strnlen(reinterpret_cast<const char*>(p), 256)); }

// A stable per-namespace identifier (NGUID / UUID) derived from the subsystem and NSID.
std::array<uint8_t, 16> namespace_id(const std::string& nqn, uint32_t nsid) {
  std::array<uint8_t, 16> id{};
  uint64_t h1 = 1469598103934665603ull, h2 = 1099511628211ull * nsid;
  for (char c : nqn) {
    h1 = (h1 ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    h2 = (h2 + static_cast<uint8_t>(c)) * 6364136223846793005ull;
  }
  std::memcpy(id.data(), &h1, 8);
  std::memcpy(id.data() + 8, &h2, 8);
  id[6] = static_cast<uint8_t>((id[6] & 0x0f) | 0x40);
  id[8] = static_cast<uint8_t>((id[8] & 0x3f) | 0x80);
  return id;
}

}  // namespace

struct ControllerState {
  uint16_t cntlid;
  const SubsystemConfig* subsystem;  // nullptr: the discovery controller
  std::string hostnqn;
  uint32_t cc = 0, csts = 0;
  uint32_t keep_alive_ms = 0;
  uint16_t io_queues = 0;
  // Features a host may read and set that need no behaviour here: arbitration, power
  // management, temperature threshold, error recovery, interrupt coalescing and its
  // per-vector form, asynchronous event configuration.
  std::map<uint8_t, uint32_t> features{{0x01, 0}, {0x02, 0}, {0x04, 0}, {0x05, 0}, {0x08, 0}, {0x09, 0}, {0x0b, 0}};
};

struct Connection::Command {
  std::vector<uint8_t> sqe;  // 64 bytes
  uint16_t cid = 0;
  std::vector<uint8_t> data;  // in-capsule or collected H2C data
  uint32_t expected = 0;
  uint32_t received = 0;
  uint16_t ttag = 0;
  const uint8_t* s() const { return sqe.data(); }
  uint32_t cdw(int n) const { return get32(sqe.data() + 4 * n); }
};

const SubsystemConfig* Target::subsystem(const std::string& nqn) const {
  auto it = subsystems_.find(nqn);
  return it == subsystems_.end() ? nullptr : &it->second;
}

uint8_t Connection::digest_flags(bool with_data) const {
  return static_cast<uint8_t>((header_digest_ ? kFlagHeaderDigest : 0) | (with_data && data_digest_ ? kFlagDataDigest : 0));
}

void Connection::terminate(FatalError status, uint32_t field) {
  std::vector<uint8_t> header(kDataHeaderLength, 0);
  put16(header.data() + 8, static_cast<uint16_t>(status));
  put32(header.data() + 10, field);
  send_(build_pdu(PduType::C2HTermReq, 0, header, nullptr, 0));
  closed_ = true;
}

void Connection::receive(const uint8_t* data, size_t length) {
  if (closed_) return;
  reader_.feed(data, length);
  Pdu pdu;
  while (!closed_ && reader_.next(&pdu)) handle(pdu);
  if (!closed_ && reader_.error()) terminate(reader_.error()->status, reader_.error()->field_offset);
}

void Connection::handle(const Pdu& pdu) {
  if (!ic_done_) {
    if (pdu.type != PduType::ICReq || pdu.u16(8) != 0) return terminate(FatalError::PduSequenceError, 0);
    uint8_t requested = pdu.bytes[11];
    header_digest_ = requested & 1;
    data_digest_ = requested & 2;
    std::vector<uint8_t> resp(kICLength, 0);
    resp[11] = requested & 3;  // both digests supported: grant what was asked
    put32(resp.data() + 12, target_.max_data_transfer());
    send_(build_pdu(PduType::ICResp, 0, resp, nullptr, 0));
    reader_.set_digests(header_digest_, data_digest_);
    ic_done_ = true;
    return;
  }
  switch (pdu.type) {
    case PduType::CapsuleCmd: return handle_command(pdu);
    case PduType::H2CData: return handle_h2c_data(pdu);
    case PduType::H2CTermReq: closed_ = true; return;
    default: return terminate(FatalError::PduSequenceError, 0);
  }
}

void Connection::complete(const Command& cmd, uint16_t status, uint64_t dw0) {
  std::vector<uint8_t> header(kCapsuleRespHeaderLength, 0);
  uint8_t* cqe = header.data() + 8;
  put64(cqe, dw0);
  sq_head_ = static_cast<uint16_t>((sq_head_ + 1) % std::max<uint16_t>(1, sq_size_));
  put16(cqe + 8, sq_head_);
  put16(cqe + 10, qid_);
  put16(cqe + 12, cmd.cid);
  put16(cqe + 14, static_cast<uint16_t>((status == kSuccess ? status : status | kDoNotRetry) << 1));
  send_(build_pdu(PduType::CapsuleResp, digest_flags(false), header, nullptr, 0));
}

void Connection::send_data_and_complete(const Command& cmd, const uint8_t* data, uint32_t length) {
  // One C2HData carrying everything, flagged LAST and SUCCESS: no response capsule follows.
  sq_head_ = static_cast<uint16_t>((sq_head_ + 1) % std::max<uint16_t>(1, sq_size_));
  std::vector<uint8_t> header(kDataHeaderLength, 0);
  put16(header.data() + 8, cmd.cid);
  put32(header.data() + 12, 0);
  put32(header.data() + 16, length);
  send_(build_pdu(PduType::C2HData, static_cast<uint8_t>(digest_flags(true) | kFlagLastPdu | kFlagSuccess), header, data,
                  length));
}

void Connection::handle_command(const Pdu& pdu) {
  auto cmd = std::make_shared<Command>();
  cmd->sqe.assign(pdu.bytes.begin() + 8, pdu.bytes.begin() + 72);
  cmd->cid = pdu.sqe_cid();
  if (pdu.data_length) cmd->data.assign(pdu.data(), pdu.data() + pdu.data_length);
  uint8_t opcode = cmd->s()[0];
  if (opcode == 0x7f) return fabrics(cmd);
  if (!ctrl_) return complete(*cmd, kCommandSequenceError);  // nothing before Connect
  if (qid_ == 0) return admin(cmd);
  io(cmd);
}

void Connection::fabrics(std::shared_ptr<Command> cmd) {
  uint8_t fctype = cmd->s()[4];
  if (fctype == 0x01) {  // Connect
    if (ctrl_) return complete(*cmd, kCommandSequenceError);
    if (cmd->data.size() < 1024) return complete(*cmd, kConnectInvalidParameters);
    uint16_t qid = get16(cmd->s() + 42);
    std::string subnqn = get_nqn(cmd->data.data() + 256), hostnqn = get_nqn(cmd->data.data() + 512);
    const SubsystemConfig* sub = target_.subsystem(subnqn);
    bool discovery = subnqn == kDiscoveryNqn;
    if (!sub && !discovery) return complete(*cmd, kConnectInvalidParameters, (1u << 16) | 256);  // IATTR data, IPO subnqn
    if (sub && !sub->allow_any_host && std::find(sub->hosts.begin(), sub->hosts.end(), hostnqn) == sub->hosts.end())
      return complete(*cmd, kConnectInvalidHost);
    qid_ = qid;
    sq_size_ = static_cast<uint16_t>(get16(cmd->s() + 44) + 1);
    if (qid == 0) {
      auto state = std::make_shared<ControllerState>();
      state->cntlid = target_.next_cntlid_++;
      state->subsystem = sub;
      state->hostnqn = hostnqn;
      state->keep_alive_ms = get32(cmd->s() + 48);
      target_.controllers_[state->cntlid] = state;
      ctrl_ = state;
    } else {
      auto it = target_.controllers_.find(get16(cmd->data.data() + 16));
      if (it == target_.controllers_.end() || it->second->subsystem != sub || discovery)
        return complete(*cmd, kConnectInvalidParameters, (1u << 16) | 16);
      ctrl_ = it->second;
    }
    return complete(*cmd, kSuccess, ctrl_->cntlid);
  }
  if (!ctrl_) return complete(*cmd, kCommandSequenceError);
  uint32_t offset = get32(cmd->s() + 44);
  bool eight = cmd->s()[40] & 1;
  if (fctype == 0x04) {  // Property Get
    uint64_t value = 0;
    switch (offset) {
      case 0x00:  // CAP: MQES, CQR, TO (15 s), CSS NVM
        value = (kQueueEntries - 1) | (1ull << 16) | (30ull << 24) | (1ull << 37);
        break;
      case 0x08: value = 0x00010300; break;  // VS 1.3
      case 0x14: value = ctrl_->cc; break;
      case 0x1c: value = ctrl_->csts; break;
      default: return complete(*cmd, kInvalidField);
    }
    return complete(*cmd, kSuccess, eight ? value : value & 0xffffffffu);
  }
  if (fctype == 0x00) {  // Property Set
    uint64_t value = get64(cmd->s() + 48);
    if (offset != 0x14) return complete(*cmd, kInvalidField);
    ctrl_->cc = static_cast<uint32_t>(value);
    ctrl_->csts = (ctrl_->cc & 1) ? 1 : 0;              // RDY follows EN
    if ((ctrl_->cc >> 14) & 3) ctrl_->csts |= 2u << 2;  // shutdown complete at once
    return complete(*cmd, kSuccess);
  }
  if (fctype == 0x08) return complete(*cmd, kSuccess);  // Disconnect
  complete(*cmd, kInvalidField);
}

void Connection::admin(std::shared_ptr<Command> cmd) {
  const uint8_t opcode = cmd->s()[0];
  const SubsystemConfig* sub = ctrl_->subsystem;
  const uint32_t nsid = cmd->cdw(1);
  switch (opcode) {
    case 0x06: {  // Identify
      uint8_t cns = cmd->s()[40];
      std::vector<uint8_t> d(4096, 0);
      if (cns == 0x01) {
        put16(d.data() + 0, 0x1b36);
        put16(d.data() + 2, 0x1b36);
        put_text(d.data() + 4, 20, sub ? sub->serial : "");
        put_text(d.data() + 24, 40, sub ? sub->model : "nodestor discovery");
        put_text(d.data() + 64, 8, sub ? sub->firmware : "0.1");
        d[76] = 0x03;  // CMIC: several ports and controllers
        d[77] = 5;     // MDTS: 2^5 pages of 4 KiB = 128 KiB
        put16(d.data() + 78, ctrl_->cntlid);
        put32(d.data() + 80, 0x00010300);
        put32(d.data() + 92, sub ? 1u << 8 : 1u << 31);  // OAES: namespace attribute / discovery log change
        d[258] = 3;                                       // ACL
        d[259] = 3;                                       // AERL
        d[261] = 0x04;                                    // LPA: extended data for Get Log Page
        d[512] = 0x66;                                    // SQES
        d[513] = 0x44;                                    // CQES
        put16(d.data() + 514, kQueueEntries);             // MAXCMD
        put32(d.data() + 516, sub ? static_cast<uint32_t>(std::max<size_t>(32, sub->namespaces.size())) : 0);
        put16(d.data() + 520, sub ? 0x000c : 0);          // ONCS: DSM, write zeroes
        d[525] = sub ? 1 : 0;                             // VWC
        put32(d.data() + 536, 0x00000005);                // SGLS: SGLs, keyed data blocks
        const std::string subnqn = sub ? sub->nqn : kDiscoveryNqn;  // NUL-padded, unlike the text fields
        std::memcpy(d.data() + 768, subnqn.data(), std::min<size_t>(256, subnqn.size()));
        put32(d.data() + 1792, (64 + target_.in_capsule_data_size()) / 16);  // IOCCSZ
        put32(d.data() + 1796, 1);                                         // IORCSZ
        d[1803] = 1;                                                       // MSDBD
      } else if (!sub) {
        return complete(*cmd, kInvalidField);
      } else if (cns == 0x00 || cns == 0x03) {
        if (nsid == 0 || nsid > sub->namespaces.size() || !sub->namespaces[nsid - 1])
          return cns == 0x00 ? send_data_and_complete(*cmd, d.data(), static_cast<uint32_t>(d.size()))
                             : complete(*cmd, kInvalidNamespace);
        const Namespace& ns = *sub->namespaces[nsid - 1];
        auto id = namespace_id(sub->nqn, nsid);
        if (cns == 0x00) {
          put64(d.data() + 0, ns.num_blocks());
          put64(d.data() + 8, ns.num_blocks());
          put64(d.data() + 16, ns.num_blocks());
          d[24] = 0x01;  // NSFEAT: thin provisioning (deallocate)
          d[33] = 0x01;  // DLFEAT: deallocated blocks read as zeroes
          std::memcpy(d.data() + 104, id.data(), 16);
          put32(d.data() + 128, static_cast<uint32_t>(__builtin_ctz(ns.block_size())) << 16);
        } else {
          d[0] = 0x02;  // NGUID
          d[1] = 16;
          std::memcpy(d.data() + 4, id.data(), 16);
          d[20] = 0x03;  // UUID
          d[21] = 16;
          std::memcpy(d.data() + 24, id.data(), 16);
        }
      } else if (cns == 0x02) {
        size_t n = 0;
        for (uint32_t i = nsid + 1; i <= sub->namespaces.size() && n < 1024; ++i)
          if (sub->namespaces[i - 1]) put32(d.data() + 4 * n++, i);
      } else {
        return complete(*cmd, kInvalidField);
      }
      return send_data_and_complete(*cmd, d.data(), static_cast<uint32_t>(d.size()));
    }
    case 0x02: {  // Get Log Page
      uint8_t lid = cmd->s()[40];
      uint32_t numd = (static_cast<uint32_t>(get16(cmd->s() + 44)) << 16 | get16(cmd->s() + 42)) + 1;
      uint64_t offset = get64(cmd->s() + 48);
      uint32_t length = numd * 4;
      if (length > target_.max_data_transfer()) return complete(*cmd, kInvalidField);
      std::vector<uint8_t> log;
      if (lid == 0x70) {
        if (sub) return complete(*cmd, kInvalidField);
        // The discovery log: this discovery subsystem, then every NVM subsystem here.
        std::vector<std::pair<uint8_t, std::string>> entries{{3, kDiscoveryNqn}};
        for (auto& [nqn, s] : target_.subsystems()) entries.emplace_back(2, nqn);
        log.assign(1024 * (1 + entries.size()), 0);
        put64(log.data(), 1);
        put64(log.data() + 8, entries.size());
        for (size_t i = 0; i < entries.size(); ++i) {
          uint8_t* e = log.data() + 1024 * (i + 1);
          e[0] = 3;  // TCP
          e[1] = target_.listener().address.find(':') == std::string::npos ? 1 : 2;
          e[2] = entries[i].first;
          e[3] = 0x02;  // TREQ: secure channel not required
          put16(e + 6, 0xffff);
          put16(e + 8, kQueueEntries);
          put_text(e + 32, 32, std::to_string(target_.listener().port));
          std::memcpy(e + 256, entries[i].second.data(), std::min<size_t>(256, entries[i].second.size()));
          put_text(e + 512, 256, target_.listener().address);
        }
      } else if (lid == 0x05) {
        // Commands Supported and Effects: CSUPP for what we handle; LBCC for what writes.
        log.assign(4096, 0);
        for (uint8_t op : {0x02, 0x06, 0x08, 0x09, 0x0a, 0x0c, 0x18}) put32(log.data() + 4 * op, 1);
        if (sub)
          for (uint8_t op : {0x00, 0x01, 0x02, 0x08, 0x09})
            put32(log.data() + 1024 + 4 * op, op == 0x02 || op == 0x00 ? 1u : 3u);
      } else if (lid == 0x01 || lid == 0x02 || lid == 0x03 || lid == 0x04 || lid == 0x0c) {
        log.assign(lid == 0x04 ? 4096 : 512, 0);  // nothing to report: no errors, healthy, no changes
      } else {
        return complete(*cmd, kInvalidField);
      }
      std::vector<uint8_t> out(length, 0);
      if (offset < log.size()) std::memcpy(out.data(), log.data() + offset, std::min<uint64_t>(length, log.size() - offset));
      return send_data_and_complete(*cmd, out.data(), length);
    }
    case 0x09:    // Set Features
    case 0x0a: {  // Get Features
      uint8_t fid = cmd->s()[40];
      uint32_t value = cmd->cdw(11);
      bool set = opcode == 0x09;
      switch (fid) {
        case 0x07:
          if (set) ctrl_->io_queues = static_cast<uint16_t>(std::min<uint32_t>(value & 0xffff, 126) + 1);
          return complete(*cmd, kSuccess, (ctrl_->io_queues ? ctrl_->io_queues - 1u : 126u) * 0x10001u);
        case 0x0f:
          if (set) ctrl_->keep_alive_ms = value;
          return complete(*cmd, kSuccess, ctrl_->keep_alive_ms);
        case 0x06: return complete(*cmd, kSuccess, sub ? 1 : 0);  // volatile write cache on
        default: {
          auto feature = ctrl_->features.find(fid);
          if (feature == ctrl_->features.end()) return complete(*cmd, kInvalidField);
          if (set) feature->second = value;
          return complete(*cmd, kSuccess, feature->second);
        }
      }
    }
    case 0x18: return complete(*cmd, kSuccess);      // Keep Alive
    case 0x0c: return;                               // AER: held until an event occurs
    case 0x08: return complete(*cmd, kSuccess, 1);   // Abort: nothing aborted
    default: return complete(*cmd, kInvalidOpcode);
  }
}

void Connection::io(std::shared_ptr<Command> cmd) {
  const SubsystemConfig* sub = ctrl_->subsystem;
  uint32_t nsid = cmd->cdw(1);
  if (!sub || nsid == 0 || nsid > sub->namespaces.size() || !sub->namespaces[nsid - 1])
    return complete(*cmd, kInvalidNamespace);
  Namespace& ns = *sub->namespaces[nsid - 1];
  const uint8_t opcode = cmd->s()[0];
  uint64_t slba = get64(cmd->s() + 40);
  uint64_t blocks = (cmd->cdw(12) & 0xffff) + 1ull;
  uint64_t offset = slba * ns.block_size();
  uint64_t length = blocks * ns.block_size();
  bool ranged = opcode == 0x01 || opcode == 0x02 || opcode == 0x08;
  if (ranged && (slba >= ns.num_blocks() || blocks > ns.num_blocks() - slba)) return complete(*cmd, kLbaOutOfRange);
  if ((opcode == 0x01 || opcode == 0x02) && length > target_.max_data_transfer()) return complete(*cmd, kInvalidField);
  auto done = [this, cmd](int rc) { complete(*cmd, rc == 0 ? kSuccess : kInternalError); };
  switch (opcode) {
    case 0x02: {  // Read
      auto buf = std::make_shared<std::vector<uint8_t>>(length);
      return ns.read(offset, static_cast<uint32_t>(length), buf->data(), [this, cmd, buf](int rc) {
        if (rc != 0) return complete(*cmd, kInternalError);
        send_data_and_complete(*cmd, buf->data(), static_cast<uint32_t>(buf->size()));
      });
    }
    case 0x01: {  // Write
      if (!cmd->data.empty()) {
        if (cmd->data.size() != length) return complete(*cmd, kDataTransferError);
        return ns.write(offset, static_cast<uint32_t>(length), cmd->data.data(), done);
      }
      // Larger than the capsule: ask for the data with one R2T (MAXH2CDATA covers MDTS).
      cmd->expected = static_cast<uint32_t>(length);
      cmd->data.assign(length, 0);
      cmd->ttag = next_ttag_++;
      if (next_ttag_ == 0xffff) next_ttag_ = 1;
      awaiting_data_[cmd->cid] = cmd;
      std::vector<uint8_t> header(kDataHeaderLength, 0);
      put16(header.data() + 8, cmd->cid);
      put16(header.data() + 10, cmd->ttag);
      put32(header.data() + 12, 0);
      put32(header.data() + 16, static_cast<uint32_t>(length));
      return send_(build_pdu(PduType::R2T, digest_flags(false), header, nullptr, 0));
    }
    case 0x00: return ns.flush(done);  // Flush
    case 0x08: return ns.write_zeroes(offset, length, done);
    case 0x09: {  // Dataset Management: deallocate ranges read as zeroes afterwards
      if (!(cmd->cdw(11) & 4)) return complete(*cmd, kSuccess);
      uint32_t ranges = (cmd->cdw(10) & 0xff) + 1;
      if (cmd->data.size() < ranges * 16) return complete(*cmd, kDataTransferError);
      auto remaining = std::make_shared<uint32_t>(ranges);
      auto failed = std::make_shared<bool>(false);
      for (uint32_t r = 0; r < ranges; ++r) {
        const uint8_t* range = cmd->data.data() + 16 * r;
        uint64_t start = get64(range + 8), count = get32(range + 4);
        if (start >= ns.num_blocks() || count > ns.num_blocks() - start) return complete(*cmd, kLbaOutOfRange);
        ns.write_zeroes(start * ns.block_size(), count * ns.block_size(), [this, cmd, remaining, failed](int rc) {
          if (rc != 0) *failed = true;
          if (--*remaining == 0) complete(*cmd, *failed ? kInternalError : kSuccess);
        });
      }
      return;
    }
    default: return complete(*cmd, kInvalidOpcode);
  }
}

void Connection::handle_h2c_data(const Pdu& pdu) {
  auto it = awaiting_data_.find(pdu.data_cccid());
  if (it == awaiting_data_.end() || it->second->ttag != pdu.data_ttag())
    return terminate(FatalError::InvalidHeaderField, 8);
  Command& cmd = *it->second;
  uint32_t datao = pdu.data_datao(), datal = pdu.data_datal();
  if (datal != pdu.data_length || datao != cmd.received || datao + datal > cmd.expected)
    return terminate(FatalError::DataOutOfRange, 12);
  std::memcpy(cmd.data.data() + datao, pdu.data(), datal);
  cmd.received += datal;
  if (cmd.received < cmd.expected) return;
  auto done = it->second;
  awaiting_data_.erase(it);
  const SubsystemConfig* sub = ctrl_->subsystem;
  Namespace& ns = *sub->namespaces[done->cdw(1) - 1];
  uint64_t offset = get64(done->s() + 40) * ns.block_size();
  ns.write(offset, done->expected, done->data.data(), [this, done](int rc) { complete(*done, rc == 0 ? kSuccess : kInternalError); });
}

}  // namespace nds::nvmf
