// NVMe/TCP PDUs (the NVMe over Fabrics TCP transport binding): the common header, the
// fixed header of each PDU type, header and data digests (CRC32C), and a reader that
// frames PDUs from a byte stream. Facts (types, lengths, flags, fatal error codes) come
// from the specification; the layout code is ours.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nds::nvmf {

enum class PduType : uint8_t {
  ICReq = 0x00,
  ICResp = 0x01,
  H2CTermReq = 0x02,
  C2HTermReq = 0x03,
  CapsuleCmd = 0x04,
  CapsuleResp = 0x05,
  H2CData = 0x06,
  C2HData = 0x07,
  R2T = 0x09,
};
const char* pdu_type_name(PduType type);

// Common-header flags.
constexpr uint8_t kFlagHeaderDigest = 0x01;  // HDGSTF
constexpr uint8_t kFlagDataDigest = 0x02;    // DDGSTF
constexpr uint8_t kFlagLastPdu = 0x04;       // H2CData / C2HData: last PDU of the transfer
constexpr uint8_t kFlagSuccess = 0x08;       // C2HData: the command succeeded, no CapsuleResp follows

// Fatal error status of a TermReq.
enum class FatalError : uint16_t {
  InvalidHeaderField = 0x01,
  PduSequenceError = 0x02,
  HeaderDigestError = 0x03,
  DataOutOfRange = 0x04,
  DataLimitExceeded = 0x05,
  UnsupportedParameter = 0x06,
};

constexpr uint32_t kCommonHeaderLength = 8;
constexpr uint32_t kDigestLength = 4;
constexpr uint32_t kICLength = 128;
constexpr uint32_t kCapsuleCmdHeaderLength = 8 + 64;  // common header + SQE
constexpr uint32_t kCapsuleRespHeaderLength = 8 + 16;  // common header + CQE
constexpr uint32_t kDataHeaderLength = 24;             // H2CData, C2HData, R2T, TermReq

// Field accessors shared by a framed PDU view and an owned copy: `bytes` is the whole PDU.
template <typename Self>
struct PduFields {
  const uint8_t* at(size_t i) const { return static_cast<const Self*>(this)->raw() + i; }
  uint16_t u16(size_t i) const { return static_cast<uint16_t>(*at(i) | *at(i + 1) << 8); }
  uint32_t u32(size_t i) const { return u16(i) | static_cast<uint32_t>(u16(i + 2)) << 16; }
  uint64_t u64(size_t i) const { return u32(i) | static_cast<uint64_t>(u32(i + 4)) << 32; }
  // CapsuleCmd: the SQE starts at byte 8. CapsuleResp: the CQE starts at byte 8.
  uint8_t sqe_opcode() const { return *at(8); }
  uint16_t sqe_cid() const { return u16(10); }
  uint16_t cqe_cid() const { return u16(8 + 12); }
  uint16_t cqe_status() const { return u16(8 + 14) >> 1; }  // without the phase bit
  // H2CData / C2HData / R2T.
  uint16_t data_cccid() const { return u16(8); }
  uint16_t data_ttag() const { return u16(10); }
  uint32_t data_datao() const { return u32(12); }
  uint32_t data_datal() const { return u32(16); }
};

// A framed PDU inside the reader's buffer: valid until the reader is fed again.
struct PduView : PduFields<PduView> {
  PduType type;
  uint8_t flags;
  uint8_t hlen;
  uint32_t plen;
  const uint8_t* bytes = nullptr;
  uint32_t data_offset = 0;
  uint32_t data_length = 0;
  const uint8_t* raw() const { return bytes; }
  const uint8_t* data() const { return bytes + data_offset; }
};

// A framed PDU copied out of the stream: its bytes and where its parts are.
struct Pdu : PduFields<Pdu> {
  PduType type;
  uint8_t flags;
  uint8_t hlen;
  uint8_t pdo;
  uint32_t plen;
  std::vector<uint8_t> bytes;  // the whole PDU, plen bytes
  uint32_t data_offset = 0;    // of the data in `bytes`, 0 when none
  uint32_t data_length = 0;

  const uint8_t* raw() const { return bytes.data(); }
  const uint8_t* header() const { return bytes.data(); }
  const uint8_t* data() const { return bytes.data() + data_offset; }
  bool has_header_digest() const { return flags & kFlagHeaderDigest; }
  bool has_data_digest() const { return flags & kFlagDataDigest; }
};

struct PduError {
  FatalError status;
  uint32_t field_offset;  // FEI: the offending byte of the header
  std::string message;
  bool data_digest = false;  // a data digest mismatch (reported with DataOutOfRange)
};

// Frames PDUs from one direction of a connection. Feed bytes as they arrive; take whole
// PDUs out. Digests are checked when the PDU says it carries them. An error is final for
// the connection (the peer gets a TermReq and the connection closes).
class PduReader {
 public:
  void feed(const uint8_t* data, size_t length);
  // Receiving straight into the reader: room for at least `length` more bytes, then how
  // many arrived. Views from next_view() are invalid after prepare().
  uint8_t* prepare(size_t length);
  void commit(size_t length) { end_ += length; }
  // true with a PDU, false when more bytes are needed or on error (see error()).
  bool next(Pdu* out);
  bool next_view(PduView* out);
  const PduError* error() const { return failed_ ? &error_ : nullptr; }
  size_t buffered() const { return end_ - consumed_; }
  // Which digests the connection negotiated; PDUs after the IC exchange must carry them.
  void set_digests(bool header, bool data) {
    expect_header_digest_ = header;
    expect_data_digest_ = data;
  }

 private:
  bool fail(FatalError status, uint32_t field, std::string message);
  std::vector<uint8_t> buffer_;  // bytes [consumed_, end_) are unread
  size_t consumed_ = 0;
  size_t end_ = 0;
  bool failed_ = false;
  PduError error_{};
  bool expect_header_digest_ = false;
  bool expect_data_digest_ = false;
};

// Builds a PDU: header bytes (hlen, common header included; its fields are filled in
// here), optional data, digests as the flags say. Data is placed at `pdo` (0: right after
// the header and its digest).
// The same, appended to `out` without temporaries (the I/O path). `header` is hlen bytes
// whose common header is filled in here.
void append_pdu(std::vector<uint8_t>* out, PduType type, uint8_t flags, uint8_t* header, uint32_t hlen,
                const uint8_t* data, uint32_t data_length);

// The first and last parts of append_pdu, for data the caller places between them itself
// (spliced, not copied): the header and its digest for a PDU that will carry
// `data_length` bytes, and the data digest.
void append_pdu_header(std::vector<uint8_t>* out, PduType type, uint8_t flags, uint8_t* header, uint32_t hlen,
                       uint32_t data_length);
void append_data_digest(std::vector<uint8_t>* out, const uint8_t* data, uint32_t data_length);

std::vector<uint8_t> build_pdu(PduType type, uint8_t flags, std::vector<uint8_t> header, const uint8_t* data,
                               uint32_t data_length, uint8_t pdo = 0);

}  // namespace nds::nvmf
