// DH-HMAC-CHAP on the wire (NVMe Base 2.0, 5.3 and 8.13.5): the Authentication Send and
// Receive fabrics commands, and the messages they carry, all little-endian:
//   Negotiate  (host, common type 00h, id 00h): t_id, sc_c, napd, then 64-byte
//              descriptors {auth id 01h, halen, dhlen, 30 hash ids, 30 DH group ids};
//   Challenge  (controller, 01h/01h): t_id, hl, hash, group, dhvlen, seqnum S1, C1[hl], DHV;
//   Reply      (host, 01h/02h): t_id, hl, cvalid, dhvlen, seqnum S2, R1[hl], C2[hl], DHV;
//   Success1   (controller, 01h/03h): t_id, hl, rvalid, R2[hl];
//   Success2   (host, 01h/04h): t_id;
//   Failure1/2 (common 00h, id F1h from the controller / F0h from the host): t_id, rc, rce.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nds::nvmf::auth {

constexpr uint8_t kFabricsAuthSend = 0x05;
constexpr uint8_t kFabricsAuthReceive = 0x06;
// SECP and SPSP of both commands: the NVMe-oF authentication security protocol.
constexpr uint8_t kAuthSecp = 0xe9;
constexpr uint8_t kAuthSpsp0 = 0x01;
constexpr uint8_t kAuthSpsp1 = 0x01;
// Connect response dword 0, bits 17:16 (AUTHREQ): authentication transaction required, and
// secure channel (TLS) required for it.
constexpr uint32_t kConnectAuthRequired = 1u << 16;
constexpr uint32_t kConnectAuthSecureChannelRequired = 1u << 17;
// Command status for a command other than authentication on a queue not yet
// authenticated (Fabrics command specific: Authentication Required).
constexpr uint16_t kAuthRequired = 0x0191;

constexpr uint8_t kTypeCommon = 0x00;
constexpr uint8_t kTypeDhchap = 0x01;
constexpr uint8_t kIdNegotiate = 0x00;
constexpr uint8_t kIdChallenge = 0x01;
constexpr uint8_t kIdReply = 0x02;
constexpr uint8_t kIdSuccess1 = 0x03;
constexpr uint8_t kIdSuccess2 = 0x04;
constexpr uint8_t kIdFailure2 = 0xf0;
constexpr uint8_t kIdFailure1 = 0xf1;
constexpr uint8_t kProtocolDhchap = 0x01;

constexpr size_t kHeaderBytes = 16;  // challenge, reply, success1, success2
constexpr size_t kNegotiateBytes = 8;
constexpr size_t kDescriptorBytes = 64;
constexpr size_t kFailureBytes = 8;
constexpr size_t kMaxIds = 30;

// Failure reason code (rc) and its explanations (rce).
constexpr uint8_t kFailureRc = 0x01;
enum class FailureReason : uint8_t {
  Failed = 0x01,
  ProtocolUnusable = 0x02,
  SecureChannelMismatch = 0x03,
  HashUnusable = 0x04,
  DhGroupUnusable = 0x05,
  IncorrectPayload = 0x06,
  IncorrectProtocolMessage = 0x07,
};
const char* failure_reason_text(uint8_t rce);

}  // namespace nds::nvmf::auth
