#include "nvmf/wire/tcp_pdu.h"

#include <cstring>

#include "util/crc32c.h"

namespace nds::nvmf {

const char* pdu_type_name(PduType type) {
  switch (type) {
    case PduType::ICReq: return "ICReq";
    case PduType::ICResp: return "ICResp";
    case PduType::H2CTermReq: return "H2CTermReq";
    case PduType::C2HTermReq: return "C2HTermReq";
    case PduType::CapsuleCmd: return "CapsuleCmd";
    case PduType::CapsuleResp: return "CapsuleResp";
    case PduType::H2CData: return "H2CData";
    case PduType::C2HData: return "C2HData";
    case PduType::R2T: return "R2T";
  }
  return "unknown";
}

namespace {

// The fixed header length of each type, and whether it may carry data.
bool header_rules(uint8_t type, uint8_t* hlen, bool* may_have_data) {
  switch (static_cast<PduType>(type)) {
    case PduType::ICReq:
    case PduType::ICResp: *hlen = kICLength; *may_have_data = false; return true;
    case PduType::H2CTermReq:
    case PduType::C2HTermReq: *hlen = kDataHeaderLength; *may_have_data = true; return true;
    case PduType::CapsuleCmd: *hlen = kCapsuleCmdHeaderLength; *may_have_data = true; return true;
    case PduType::CapsuleResp: *hlen = kCapsuleRespHeaderLength; *may_have_data = false; return true;
    case PduType::H2CData:
    case PduType::C2HData: *hlen = kDataHeaderLength; *may_have_data = true; return true;
    case PduType::R2T: *hlen = kDataHeaderLength; *may_have_data = false; return true;
  }
  return false;
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

uint8_t* PduReader::prepare(size_t length) {
  if (consumed_ == end_) {
    consumed_ = end_ = 0;
  } else if (consumed_ > 0 && (consumed_ >= buffer_.size() / 2 || buffer_.size() - end_ < length)) {
    // Move the unread tail to the front so the buffer never grows with the stream.
    std::memmove(buffer_.data(), buffer_.data() + consumed_, end_ - consumed_);
    end_ -= consumed_;
    consumed_ = 0;
  }
  if (buffer_.size() - end_ < length) buffer_.resize(end_ + length);
  return buffer_.data() + end_;
}

void PduReader::feed(const uint8_t* data, size_t length) {
  if (length == 0) return;
  std::memcpy(prepare(length), data, length);
  commit(length);
}

bool PduReader::fail(FatalError status, uint32_t field, std::string message) {
  failed_ = true;
  error_ = PduError{status, field, std::move(message)};
  return false;
}

bool PduReader::next(Pdu* out) {
  PduView v;
  if (!next_view(&v)) return false;
  out->type = v.type;
  out->flags = v.flags;
  out->hlen = v.hlen;
  out->pdo = v.bytes[3];
  out->plen = v.plen;
  out->bytes.assign(v.bytes, v.bytes + v.plen);
  out->data_offset = v.data_offset;
  out->data_length = v.data_length;
  return true;
}

bool PduReader::next_view(PduView* out) {
  if (failed_ || buffered() < kCommonHeaderLength) return false;
  const uint8_t* p = buffer_.data() + consumed_;
  uint8_t type = p[0], flags = p[1], hlen = p[2], pdo = p[3];
  uint32_t plen = load_u32(p + 4);
  uint8_t expected_hlen;
  bool may_have_data;
  if (!header_rules(type, &expected_hlen, &may_have_data))
    return fail(FatalError::InvalidHeaderField, 0, "unknown PDU type " + std::to_string(type));
  if (hlen != expected_hlen)
    return fail(FatalError::InvalidHeaderField, 2,
                std::string(pdu_type_name(static_cast<PduType>(type))) + " with HLEN " + std::to_string(hlen) +
                    ", expected " + std::to_string(expected_hlen));
  bool is_ic = type == static_cast<uint8_t>(PduType::ICReq) || type == static_cast<uint8_t>(PduType::ICResp);
  bool hdgst = flags & kFlagHeaderDigest, ddgst = flags & kFlagDataDigest;
  if (is_ic && (hdgst || ddgst || plen != kICLength || pdo != 0))
    return fail(FatalError::InvalidHeaderField, 1, "ICReq/ICResp must be 128 bytes without digests");
  // TermReqs carry no digests whatever was negotiated (SPDK sends them so): the peer
  // may be ending the connection because the digests themselves went wrong.
  const bool is_term = type == static_cast<uint8_t>(PduType::H2CTermReq) || type == static_cast<uint8_t>(PduType::C2HTermReq);
  if (!is_ic && !is_term && hdgst != expect_header_digest_)
    return fail(FatalError::InvalidHeaderField, 1, hdgst ? "header digest present but not negotiated" : "header digest missing");
  uint32_t header_end = hlen + (hdgst ? kDigestLength : 0);
  if (plen < header_end || plen > (16u << 20) + 4096)
    return fail(FatalError::InvalidHeaderField, 4, "PLEN " + std::to_string(plen) + " is out of range");
  bool has_data = plen > header_end;
  if (has_data && !may_have_data)
    return fail(FatalError::InvalidHeaderField, 4, std::string(pdu_type_name(static_cast<PduType>(type))) + " carries no data");
  if (has_data && !is_ic && !is_term && ddgst != expect_data_digest_)
    return fail(FatalError::InvalidHeaderField, 1, ddgst ? "data digest present but not negotiated" : "data digest missing");
  uint32_t data_offset = 0;
  if (has_data) {
    data_offset = pdo ? pdo : header_end;
    if (data_offset < header_end || data_offset > plen)
      return fail(FatalError::InvalidHeaderField, 3, "PDO " + std::to_string(pdo) + " is out of range");
  }
  // Header digest: checked as soon as the header is here, before waiting for any data.
  if (hdgst) {
    if (buffered() < header_end) return false;
    if (crc32c(p, hlen) != load_u32(p + hlen))
      return fail(FatalError::HeaderDigestError, 0, "header digest mismatch");
  }
  if (buffered() < plen) return false;
  uint32_t data_length = has_data ? plen - data_offset - (ddgst ? kDigestLength : 0) : 0;
  if (has_data && plen < data_offset + (ddgst ? kDigestLength : 0))
    return fail(FatalError::InvalidHeaderField, 4, "PLEN leaves no room for the data digest");
  if (has_data && ddgst && crc32c(p + data_offset, data_length) != load_u32(p + data_offset + data_length)) {
    fail(FatalError::DataOutOfRange, 0, "data digest mismatch");  // reported in a CapsuleResp in practice
    error_.data_digest = true;
    return false;
  }
  out->type = static_cast<PduType>(type);
  out->flags = flags;
  out->hlen = hlen;
  out->plen = plen;
  out->bytes = p;
  out->data_offset = has_data ? data_offset : 0;
  out->data_length = data_length;
  consumed_ += plen;
  return true;
}

void append_pdu_header(std::vector<uint8_t>* out, PduType type, uint8_t flags, uint8_t* header, uint32_t hlen,
                       uint32_t data_length) {
  const bool hdgst = flags & kFlagHeaderDigest, ddgst = data_length > 0 && (flags & kFlagDataDigest);
  const uint32_t header_end = hlen + (hdgst ? kDigestLength : 0);
  const uint32_t data_at = data_length ? header_end : 0;
  const uint32_t plen = data_length ? data_at + data_length + (ddgst ? kDigestLength : 0) : header_end;
  header[0] = static_cast<uint8_t>(type);
  header[1] = ddgst || !data_length ? flags : static_cast<uint8_t>(flags & ~kFlagDataDigest);
  header[2] = static_cast<uint8_t>(hlen);
  header[3] = static_cast<uint8_t>(data_at);
  std::memcpy(header + 4, &plen, 4);
  size_t at = out->size();
  out->resize(at + header_end);
  uint8_t* p = out->data() + at;
  std::memcpy(p, header, hlen);
  if (hdgst) {
    uint32_t crc = crc32c(p, hlen);
    std::memcpy(p + hlen, &crc, 4);
  }
}

void append_data_digest(std::vector<uint8_t>* out, const uint8_t* data, uint32_t data_length) {
  uint32_t crc = crc32c(data, data_length);
  auto* bytes = reinterpret_cast<const uint8_t*>(&crc);
  out->insert(out->end(), bytes, bytes + kDigestLength);
}

void append_pdu(std::vector<uint8_t>* out, PduType type, uint8_t flags, uint8_t* header, uint32_t hlen,
                const uint8_t* data, uint32_t data_length) {
  append_pdu_header(out, type, flags, header, hlen, data_length);
  if (!data_length) return;
  out->insert(out->end(), data, data + data_length);
  if (flags & kFlagDataDigest) append_data_digest(out, data, data_length);
}

std::vector<uint8_t> build_pdu(PduType type, uint8_t flags, std::vector<uint8_t> header, const uint8_t* data,
                               uint32_t data_length, uint8_t pdo) {
  if (!pdo || !data_length) {
    std::vector<uint8_t> out;
    append_pdu(&out, type, flags, header.data(), static_cast<uint32_t>(header.size()), data, data_length);
    return out;
  }
  // An explicit data offset (padding after the header): only tests build these.
  const bool hdgst = flags & kFlagHeaderDigest, ddgst = flags & kFlagDataDigest;
  const uint32_t hlen = static_cast<uint32_t>(header.size());
  const uint32_t plen = pdo + data_length + (ddgst ? kDigestLength : 0);
  header[0] = static_cast<uint8_t>(type);
  header[1] = flags;
  header[2] = static_cast<uint8_t>(hlen);
  header[3] = pdo;
  std::memcpy(header.data() + 4, &plen, 4);
  std::vector<uint8_t> out(plen, 0);
  std::memcpy(out.data(), header.data(), hlen);
  if (hdgst) {
    uint32_t crc = crc32c(out.data(), hlen);
    std::memcpy(out.data() + hlen, &crc, 4);
  }
  std::memcpy(out.data() + pdo, data, data_length);
  if (ddgst) {
    uint32_t crc = crc32c(data, data_length);
    std::memcpy(out.data() + pdo + data_length, &crc, 4);
  }
  return out;
}

}  // namespace nds::nvmf
