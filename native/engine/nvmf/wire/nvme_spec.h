// NVMe and NVMe-oF constants both sides of the transport share: opcodes, registers,
// status codes (SCT << 8 | SC, as the CQE carries them above the phase bit), little-endian
// field access, and the mapping between engine errors and NVMe status.
#pragma once
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace nds::nvmf::spec {

// Admin opcodes.
constexpr uint8_t kOpGetLogPage = 0x02;
constexpr uint8_t kOpIdentify = 0x06;
constexpr uint8_t kOpAbort = 0x08;
constexpr uint8_t kOpSetFeatures = 0x09;
constexpr uint8_t kOpGetFeatures = 0x0a;
constexpr uint8_t kOpAsyncEventRequest = 0x0c;
constexpr uint8_t kOpKeepAlive = 0x18;
constexpr uint8_t kOpFabrics = 0x7f;
// NVM opcodes.
constexpr uint8_t kOpFlush = 0x00;
constexpr uint8_t kOpWrite = 0x01;
constexpr uint8_t kOpRead = 0x02;
constexpr uint8_t kOpCompare = 0x05;
constexpr uint8_t kOpWriteZeroes = 0x08;
constexpr uint8_t kOpDatasetManagement = 0x09;
// Fabrics command types.
constexpr uint8_t kFabricsPropertySet = 0x00;
constexpr uint8_t kFabricsConnect = 0x01;
constexpr uint8_t kFabricsPropertyGet = 0x04;
constexpr uint8_t kFabricsDisconnect = 0x08;
// Controller properties.
constexpr uint32_t kRegCap = 0x00;
constexpr uint32_t kRegVs = 0x08;
constexpr uint32_t kRegCc = 0x14;
constexpr uint32_t kRegCsts = 0x1c;
constexpr uint32_t kVersion = 0x00010300;  // NVMe 1.3
// Identify CNS values.
constexpr uint8_t kCnsNamespace = 0x00;
constexpr uint8_t kCnsController = 0x01;
constexpr uint8_t kCnsActiveNamespaces = 0x02;
constexpr uint8_t kCnsNamespaceDescriptors = 0x03;
// Log pages.
constexpr uint8_t kLogError = 0x01;
constexpr uint8_t kLogHealth = 0x02;
constexpr uint8_t kLogFirmwareSlot = 0x03;
constexpr uint8_t kLogChangedNamespaces = 0x04;
constexpr uint8_t kLogCommandEffects = 0x05;
constexpr uint8_t kLogAna = 0x0c;
constexpr uint8_t kLogDiscovery = 0x70;
// Features.
constexpr uint8_t kFeatureVolatileWriteCache = 0x06;
constexpr uint8_t kFeatureNumberOfQueues = 0x07;
constexpr uint8_t kFeatureAsyncEventConfig = 0x0b;
constexpr uint8_t kFeatureKeepAliveTimer = 0x0f;

// Status.
constexpr uint16_t kSuccess = 0x0000;
constexpr uint16_t kInvalidOpcode = 0x0001;
constexpr uint16_t kInvalidField = 0x0002;
constexpr uint16_t kDataTransferError = 0x0004;
constexpr uint16_t kAbortedPowerLoss = 0x0005;
constexpr uint16_t kInternalError = 0x0006;
constexpr uint16_t kAbortedByRequest = 0x0007;
constexpr uint16_t kInvalidNamespace = 0x000b;
constexpr uint16_t kCommandSequenceError = 0x000c;
constexpr uint16_t kDataSglLengthInvalid = 0x000f;
constexpr uint16_t kNamespaceWriteProtected = 0x0020;
constexpr uint16_t kLbaOutOfRange = 0x0080;
constexpr uint16_t kCapacityExceeded = 0x0081;
constexpr uint16_t kNamespaceNotReady = 0x0082;
constexpr uint16_t kAsyncEventLimitExceeded = 0x0105;
constexpr uint16_t kConnectControllerBusy = 0x0181;
constexpr uint16_t kConnectInvalidParameters = 0x0182;
constexpr uint16_t kConnectInvalidHost = 0x0184;
constexpr uint16_t kWriteFault = 0x0280;
constexpr uint16_t kUnrecoveredReadError = 0x0281;
constexpr uint16_t kCompareFailure = 0x0285;
constexpr uint16_t kAccessDenied = 0x0286;
constexpr uint16_t kAnaInaccessible = 0x0302;
constexpr uint16_t kDoNotRetry = 0x4000;
constexpr uint16_t kStatusMask = 0x07ff;  // SCT and SC, without More and DNR

inline void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint16_t get16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t get32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t get64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

// NUL-padded text (NQNs): up to the first NUL within `width`.
inline std::string get_text(const uint8_t* p, size_t width) {
  return std::string(reinterpret_cast<const char*>(p), strnlen(reinterpret_cast<const char*>(p), width));
}
// Space-padded ASCII fields (serial, model, firmware, addresses).
inline void put_padded(uint8_t* p, size_t width, const std::string& text) {
  std::memset(p, ' ', width);
  std::memcpy(p, text.data(), text.size() < width ? text.size() : width);
}
inline std::string get_padded(const uint8_t* p, size_t width) {
  std::string s(reinterpret_cast<const char*>(p), width);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

// Engine error (negative errno) to NVMe status, DNR set when retrying cannot help.
inline uint16_t status_from_errno(int error, uint8_t opcode) {
  switch (-error) {
    case ENOSPC: return kCapacityExceeded | kDoNotRetry;
    case EIO: return (opcode == kOpRead || opcode == kOpCompare ? kUnrecoveredReadError : kWriteFault) | kDoNotRetry;
    case EROFS: return kNamespaceWriteProtected | kDoNotRetry;  // a snapshot shared read-only
    case EPERM:
    case EACCES: return kAccessDenied | kDoNotRetry;
    case EINVAL:
    case ERANGE: return kLbaOutOfRange | kDoNotRetry;
    case ENOTSUP: return kInvalidOpcode | kDoNotRetry;
    case ENODEV:
    case ENXIO: return kNamespaceNotReady;  // the namespace is going away; another path may serve it
    case ENOMEM:
    case EAGAIN: return kInternalError;     // transient
    default: return kInternalError | kDoNotRetry;
  }
}

// NVMe status (from a CQE, without the phase bit) to an engine error.
inline int errno_from_status(uint16_t status) {
  switch (status & kStatusMask) {
    case kSuccess: return 0;
    case kCapacityExceeded: return -ENOSPC;
    case kWriteFault:
    case kUnrecoveredReadError:
    case kDataTransferError: return -EIO;
    case kAccessDenied: return -EPERM;
    case kNamespaceWriteProtected: return -EROFS;
    case kLbaOutOfRange:
    case kInvalidField:
    case kDataSglLengthInvalid: return -EINVAL;
    case kInvalidOpcode: return -ENOTSUP;
    case kInvalidNamespace:
    case kNamespaceNotReady:
    case kAnaInaccessible: return -ENODEV;
    case kCompareFailure: return -EILSEQ;
    case kAbortedByRequest:
    case kAbortedPowerLoss: return -ECANCELED;
    default: return -EIO;
  }
}

}  // namespace nds::nvmf::spec

namespace nds::nvmf {

// The well-known NQN of discovery controllers (NVMe-oF 1.1, 7.2).
constexpr const char* kDiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";

// Asynchronous event completion dword 0: type | info << 8 | log page << 16.
enum class AsyncEvent : uint32_t {
  NamespaceAttributeChanged = 0x02 | (0x00 << 8) | (0x04 << 16),
  AnaChange = 0x02 | (0x03 << 8) | (0x0c << 16),
  DiscoveryLogChange = 0x02 | (0xf0 << 8) | (0x70 << 16),
};

}  // namespace nds::nvmf
