// Shared by the NVMe-oF tests: a namespace in memory (completes inside submit, which the
// connection must cope with) and a subsystem configured like the captured target.
#pragma once
#include <cstring>
#include <memory>
#include <vector>

#include "nvmf/target/connection.h"
#include "nvmf/target/target.h"

namespace nds::testing {

class MemoryNamespace final : public nvmf::Namespace {
 public:
  explicit MemoryNamespace(uint64_t bytes, uint32_t block_size = 4096) : data_(bytes, 0), block_size_(block_size) {}
  uint32_t block_size() const override { return block_size_; }
  uint64_t num_blocks() const override { return data_.size() / block_size_; }
  void* open_queue() override { return this; }
  void close_queue(void*) override {}
  int submit(void*, IoType type, uint64_t offset, uint64_t length, void* buf, BdevIoCb cb, void* arg) override {
    switch (type) {
      case IoType::Read: std::memcpy(buf, data_.data() + offset, length); break;
      case IoType::Write: std::memcpy(data_.data() + offset, buf, length); break;
      case IoType::WriteZeroes:
      case IoType::Unmap: std::memset(data_.data() + offset, 0, length); break;
      default: break;
    }
    cb(0, arg);
    return 0;
  }
  std::vector<uint8_t>& data() { return data_; }

 private:
  std::vector<uint8_t> data_;
  uint32_t block_size_;
};

// Whole PDU frames at the start of `data`, by the common header's PLEN alone (it counts
// digests and padding, so no negotiated state is needed); stops at the first that is not one.
inline uint64_t count_pdu_frames(const uint8_t* data, size_t size) {
  uint64_t n = 0;
  for (size_t at = 0; size - at >= 8;) {
    uint32_t plen = data[at + 4] | data[at + 5] << 8 | data[at + 6] << 16 | static_cast<uint32_t>(data[at + 7]) << 24;
    if (plen < 8 || plen > size - at) break;
    ++n;
    at += plen;
  }
  return n;
}

// Every PDU of one direction of a connection, digests as its IC exchange negotiated.
// *ok: the stream parsed without error.
inline std::vector<nvmf::Pdu> parse_pdus(const std::vector<uint8_t>& bytes, bool* ok) {
  nvmf::PduReader reader;
  std::vector<nvmf::Pdu> out;
  nvmf::Pdu p;
  reader.feed(bytes.data(), bytes.size());
  while (reader.next(&p)) {
    if (p.type == nvmf::PduType::ICResp || p.type == nvmf::PduType::ICReq)
      reader.set_digests(p.bytes[11] & 1, p.bytes[11] & 2);
    out.push_back(p);
  }
  *ok = reader.error() == nullptr;
  return out;
}

inline const nvmf::ListenerAddress kCapturedListener{"127.0.0.1", 4420};

// nqn.2016-06.io.spdk:cnode1 with the captured serial and model, any host, one namespace,
// listening on `via`.
inline void configure_captured_subsystem(nvmf::Target& target, std::shared_ptr<nvmf::Namespace> ns,
                                         const nvmf::ListenerAddress& via = kCapturedListener) {
  nvmf::SubsystemOptions sub;
  sub.nqn = "nqn.2016-06.io.spdk:cnode1";
  sub.serial = "SPDK00000000000001";
  sub.model = "SPDK_Anchor";
  sub.allow_any_host = true;
  target.add_subsystem(sub);
  target.add_listener(sub.nqn, via);
  nvmf::NamespaceEntry e;
  e.ns = std::move(ns);
  e.uuid[0] = 1;
  e.nguid = e.uuid;
  uint32_t nsid;
  target.add_namespace(sub.nqn, e, &nsid);
}

}  // namespace nds::testing
