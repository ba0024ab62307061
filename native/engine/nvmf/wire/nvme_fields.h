// Typed access to the NVMe structures both sides read and write: a submission queue entry
// (64 bytes), Identify Controller and Identify Namespace data (4 KiB each). Offsets are the
// NVMe base specification's; nothing outside this file indexes these structures by number.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include "nvmf/wire/nvme_spec.h"

namespace nds::nvmf::spec {

// A submission queue entry as received (read only).
class SqeView {
 public:
  explicit SqeView(const uint8_t* sqe) : s_(sqe) {}
  uint8_t opcode() const { return s_[0]; }
  uint16_t cid() const { return get16(s_ + 2); }
  uint32_t nsid() const { return get32(s_ + 4); }
  uint32_t cdw(int n) const { return get32(s_ + 4 * n); }  // command dword 10..15
  // Read, Write, Compare, Write Zeroes: starting LBA and number of blocks (NLB is 0-based).
  uint64_t slba() const { return get64(s_ + 40); }
  uint64_t blocks() const { return (cdw(12) & 0xffff) + 1ull; }
  // Dataset Management: number of ranges (0-based NR) and the deallocate attribute.
  uint32_t dsm_ranges() const { return (cdw(10) & 0xff) + 1; }
  bool dsm_deallocate() const { return cdw(11) & 4; }
  // Identify: the CNS value. Get Log Page: the log id.
  uint8_t cns() const { return s_[40]; }
  uint8_t log_id() const { return s_[40]; }
  uint8_t feature_id() const { return s_[40]; }
  uint32_t feature_value() const { return cdw(11); }
  // Get Log Page: log specific field (LSP) and Retain Asynchronous Event (RAE) in byte 41,
  // number of dwords (0-based, NUMDU:NUMDL) and the byte offset.
  uint8_t log_specific() const { return s_[41]; }
  bool log_retain_event() const { return s_[41] & 0x80; }
  uint64_t log_dwords() const { return (static_cast<uint64_t>(get16(s_ + 44)) << 16 | get16(s_ + 42)) + 1; }
  uint64_t log_offset() const { return get64(s_ + 48); }
  // Fabrics commands: the command type; Property Get/Set: size, offset and value; Connect:
  // queue id, 0-based queue size and keep-alive timeout.
  uint8_t fabrics_type() const { return s_[4]; }
  bool property_eight_bytes() const { return s_[40] & 1; }
  uint32_t property_offset() const { return cdw(11); }
  uint64_t property_value() const { return get64(s_ + 48); }
  uint16_t connect_qid() const { return get16(s_ + 42); }
  uint32_t connect_queue_size() const { return get16(s_ + 44) + 1u; }
  uint32_t connect_keep_alive_ms() const { return get32(s_ + 48); }
  const uint8_t* bytes() const { return s_; }

 private:
  const uint8_t* s_;
};

// A submission queue entry being built (zeroed).
class SqeBuilder {
 public:
  explicit SqeBuilder(uint8_t opcode) { b_[0] = opcode; }
  SqeBuilder& nsid(uint32_t v) { put32(b_ + 4, v); return *this; }
  SqeBuilder& cdw(int n, uint32_t v) { put32(b_ + 4 * n, v); return *this; }
  SqeBuilder& cns(uint8_t v) { b_[40] = v; return *this; }
  SqeBuilder& feature(uint8_t id, uint32_t value) { b_[40] = id; put32(b_ + 44, value); return *this; }
  // Get Log Page: the log id and the number of dwords to read.
  SqeBuilder& log(uint8_t id, uint32_t dwords) { b_[40] = id; put16(b_ + 42, static_cast<uint16_t>(dwords - 1)); return *this; }
  uint8_t* bytes() { return b_; }

 private:
  uint8_t b_[64] = {};
};

// Identify Controller data, the fields the host reads.
class IdentifyControllerView {
 public:
  explicit IdentifyControllerView(const uint8_t* d) : d_(d) {}
  uint8_t mdts() const { return d_[77]; }  // max data transfer: 2^mdts minimum pages, 0 = none
  uint16_t oncs() const { return get16(d_ + 520); }
  bool supports_deallocate() const { return oncs() & 0x04; }
  bool supports_write_zeroes() const { return oncs() & 0x08; }
  std::string subnqn() const { return get_text(d_ + 768, 256); }
  uint32_t ioccsz() const { return get32(d_ + 1792); }  // I/O command capsule size, 16-byte units

 private:
  const uint8_t* d_;
};

// Identify Namespace data, the fields the host reads.
class IdentifyNamespaceView {
 public:
  explicit IdentifyNamespaceView(const uint8_t* d) : d_(d) {}
  uint64_t nsze() const { return get64(d_); }  // size in blocks; 0: inactive
  uint8_t lba_format() const { return d_[26] & 0x0f; }
  uint32_t lba_data_shift() const { return d_[128 + 4 * lba_format() + 2]; }  // block size = 1 << this

 private:
  const uint8_t* d_;
};

}  // namespace nds::nvmf::spec
