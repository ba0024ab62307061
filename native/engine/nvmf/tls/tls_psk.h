// Which TLS PSK a connection uses (NVMe/TCP 3.6.1.3): from the configured PSK (its
// interchange form, NVMeTLSkey-1:xx:...), the retained PSK is derived with the host's NQN,
// and from it the TLS PSK for the identity "NVMe0R0h <host NQN> <subsystem NQN>" (version
// 0, SPDK's) or "NVMe1R0h <host NQN> <subsystem NQN> <PSK digest>" (version 1, which
// libnvme and the Linux host may offer: the digest binds the retained PSK to both NQNs). The
// configured PSK's size picks the cipher suite's hash (32 bytes: SHA-256, AES-128-GCM;
// 48 bytes: SHA-384, AES-256-GCM), as SPDK's host and target do.
#pragma once
#include <string>
#include <string_view>

#include "nvmf/auth/key_format.h"
#include "nvmf/auth/keyring.h"
#include "nvmf/tls/tls_channel.h"
#include "util/status.h"

namespace nds::nvmf::tls {

struct PskIdentity {
  int version = 0;
  auth::Hash hash = auth::Hash::Sha256;
  std::string host_nqn, subsys_nqn;
  std::string digest;  // version 1: base64 of HMAC(retained PSK, host ' ' subsystem ' ' "NVMe-over-Fabrics")
};

// A configured PSK from a file holding its interchange form (trailing newline allowed). The
// file must be a regular file only its owner can read or write (mode 0600 or stricter),
// as SPDK requires of its PSK files: EPERM otherwise.
Status load_psk_file(const std::string& path, auth::ParsedKey* out);
// `text` is the interchange form itself, or (starting with '/') the path of such a file.
Status load_psk(const std::string& text, auth::ParsedKey* out);
// The same, or else the name of a key in `ring` (nullptr: no keyring) whose file holds the
// PSK: ENOENT for an unknown name.
Status resolve_psk(const auth::Keyring* ring, std::string_view value, auth::ParsedKey* out);

// The cipher suite's hash for a configured PSK: EINVAL for a size neither suite takes.
Status psk_hash(const auth::ParsedKey& configured, auth::Hash* out);
// The host's side: the identity (version 0 or 1) to offer and the TLS PSK that goes with it.
Status host_psk(const auth::ParsedKey& configured, int identity_version, std::string_view host_nqn, std::string_view subsys_nqn,
                std::string* identity, auth::Hash* hash, auth::SecretBytes* tls_psk);
// "NVMe0R0h host subsys" or "NVMe1R0h host subsys digest" with h 1 or 2; false otherwise.
bool parse_identity(std::string_view text, PskIdentity* out);
// The target's side, once the identity names a host with this configured PSK. A version 1
// identity whose digest is not this PSK's finds nothing.
PskMatch target_psk(const auth::ParsedKey& configured, const PskIdentity& id, std::string_view identity_text);
// The HKDF-Expand-Label context of the TLS PSK for a well-formed identity: the identity
// itself in version 0, "0h <digest>" (its last field) in version 1, as libnvme and the Linux
// kernel derive it.
std::string tls_psk_context(int version, auth::Hash hash, std::string_view identity);

}  // namespace nds::nvmf::tls
