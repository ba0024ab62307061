// The cryptography of NVMe-oF in-band authentication (DH-HMAC-CHAP, NVMe Base 2.0 8.13.5)
// and of the NVMe/TCP TLS PSKs (NVMe/TCP 3.6.1.3), over OpenSSL 3. No protocol state
// here: the target's and the host's AUTH_Send/AUTH_Receive exchanges call these.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "nvmf/auth/secret_bytes.h"
#include "util/status.h"

namespace nds::nvmf::auth {

// Hash identifiers as the DH-HMAC-CHAP messages carry them.
enum class Hash : uint8_t { Sha256 = 1, Sha384 = 2, Sha512 = 3 };
// DH group identifiers as the DH-HMAC-CHAP messages carry them.
enum class DhGroup : uint8_t { Null = 0, Ffdhe2048 = 1, Ffdhe3072 = 2, Ffdhe4096 = 3, Ffdhe6144 = 4, Ffdhe8192 = 5 };

size_t hash_length(Hash hash);
const char* hash_name(Hash hash);        // "sha256", ... (SPDK's names)
const char* dh_group_name(DhGroup group);  // "null", "ffdhe2048", ...
bool hash_from_name(std::string_view name, Hash* out);
bool dh_group_from_name(std::string_view name, DhGroup* out);
// The size of a group's public value and shared secret in bytes (0 for null).
size_t dh_group_bytes(DhGroup group);

SecretBytes digest(Hash hash, const uint8_t* data, size_t n);
SecretBytes hmac(Hash hash, const SecretBytes& key, const std::string& message);

// ---- DH-HMAC-CHAP ----

// The key used in the HMACs: the secret itself when its hash field is 0, else
// HMAC(hash, secret, NQN || "NVMe-over-Fabrics") with the NQN of the key's owner.
Status transform_secret(uint8_t secret_hash, const SecretBytes& secret, std::string_view owner_nqn, SecretBytes* out);

// The host's response: HMAC(Kh, C || S(le32) || T_ID(le16) || SC_C || "HostHost" || NQNh ||
// 00h || NQNc). `challenge` is the controller's challenge, augmented when a DH group is used.
SecretBytes host_response(Hash hash, const SecretBytes& host_key, const SecretBytes& challenge, uint32_t seqnum, uint16_t transaction,
                          uint8_t secure_channel, std::string_view host_nqn, std::string_view subsys_nqn);
// The controller's response (bidirectional): HMAC(Kc, C2 || S2 || T_ID || SC_C ||
// "Controller" || NQNc || 00h || NQNh).
SecretBytes controller_response(Hash hash, const SecretBytes& ctrl_key, const SecretBytes& challenge, uint32_t seqnum, uint16_t transaction,
                                uint8_t secure_channel, std::string_view host_nqn, std::string_view subsys_nqn);
// With a DH group: Ca = HMAC(H(g^xy mod p), C).
SecretBytes augment_challenge(Hash hash, const SecretBytes& shared_secret, const SecretBytes& challenge);

// One side's ephemeral DH key in an FFDHE group (RFC 7919); the private part never leaves.
class DhKey {
 public:
  static Status generate(DhGroup group, std::unique_ptr<DhKey>* out);
  ~DhKey();
  DhKey(const DhKey&) = delete;
  DhKey& operator=(const DhKey&) = delete;
  DhGroup group() const { return group_; }
  // g^x mod p, big-endian, padded to the group's size.
  const std::string& public_value() const { return public_; }
  // g^xy mod p from the peer's public value, padded to the group's size. A value of the
  // wrong size, or outside 2..p-2, or not in the group, is refused with EINVAL.
  Status shared_secret(const uint8_t* peer, size_t n, SecretBytes* out) const;

 private:
  explicit DhKey(DhGroup group) : group_(group) {}
  DhGroup group_;
  void* pkey_ = nullptr;  // EVP_PKEY*
  std::string public_;
};

// ---- NVMe/TCP TLS PSKs ----

// HKDF-Expand-Label(HKDF-Extract(0, psk), label, context, length) as TLS 1.3 defines it.
SecretBytes hkdf_expand_label(Hash hash, const SecretBytes& psk, std::string_view label, std::string_view context, size_t length);
// The retained PSK from a configured one (interchange hash 1 or 2; 0: the PSK itself).
SecretBytes retained_psk(uint8_t interchange_hash, const SecretBytes& configured, std::string_view host_nqn);
// The PSK digest of a version 1 identity: base64 of HMAC(retained, NQNh ' ' NQNc ' '
// 'NVMe-over-Fabrics').
std::string psk_digest(Hash cipher_hash, const SecretBytes& retained, std::string_view host_nqn, std::string_view subsys_nqn);
// "NVMe0R0h NQNh NQNc" (version 0), or with version 1 also the PSK digest:
// "NVMe1R0h NQNh NQNc <digest>".
std::string tls_psk_identity(int version, Hash cipher_hash, const SecretBytes& retained, std::string_view host_nqn, std::string_view subsys_nqn);
// The TLS PSK for an identity: HKDF-Expand-Label(HKDF-Extract(0, retained), "nvme-tls-psk", identity, L).
SecretBytes tls_psk(Hash cipher_hash, const SecretBytes& retained, std::string_view identity);

}  // namespace nds::nvmf::auth
