#include "nvmf/tls/tls_psk.h"

#include <cerrno>

namespace nds::nvmf::tls {

Status load_psk_file(const std::string& path, auth::ParsedKey* out) {
  auth::SecretBytes text;
  Status st = auth::read_key_file(path, "PSK file", &text);
  if (!st.is_ok()) return st;
  Status parsed = auth::parse_tls_psk(text.view(), out);
  if (!parsed.is_ok()) return Status::error(parsed.rc, "PSK file " + path + ": " + parsed.message);
  return Status::ok();
}

Status load_psk(const std::string& text, auth::ParsedKey* out) { return resolve_psk(nullptr, text, out); }

Status resolve_psk(const auth::Keyring* ring, std::string_view value, auth::ParsedKey* out) {
  if (value.substr(0, 1) == "/") return load_psk_file(std::string(value), out);
  if (ring && value.substr(0, 13) != "NVMeTLSkey-1:") {  // a name
    auth::SecretBytes text;
    Status st = ring->read(value, &text);
    if (!st.is_ok()) return Status::error(st.rc, "psk: " + st.message);
    st = auth::parse_tls_psk(text.view(), out);
    if (!st.is_ok()) return Status::error(st.rc, "key " + std::string(value) + ": " + st.message);
    return Status::ok();
  }
  Status st = auth::parse_tls_psk(value, out);
  if (!st.is_ok()) return Status::error(st.rc, "psk: " + st.message);
  return Status::ok();
}

Status psk_hash(const auth::ParsedKey& configured, auth::Hash* out) {
  if (configured.key.size() == 32) *out = auth::Hash::Sha256;
  else if (configured.key.size() == 48) *out = auth::Hash::Sha384;
  else return Status::error(-EINVAL, "a TLS PSK is 32 or 48 bytes");
  return Status::ok();
}

Status host_psk(const auth::ParsedKey& configured, int identity_version, std::string_view host_nqn, std::string_view subsys_nqn,
                std::string* identity, auth::Hash* hash, auth::SecretBytes* tls_psk) {
  Status st = psk_hash(configured, hash);
  if (!st.is_ok()) return st;
  if (identity_version != 0 && identity_version != 1) return Status::error(-EINVAL, "a TLS PSK identity is version 0 or 1");
  const auth::SecretBytes retained = auth::retained_psk(configured.hash, configured.key, host_nqn);
  *identity = auth::tls_psk_identity(identity_version, *hash, retained, host_nqn, subsys_nqn);
  *tls_psk = auth::tls_psk(*hash, retained, tls_psk_context(identity_version, *hash, *identity));
  return Status::ok();
}

bool parse_identity(std::string_view text, PskIdentity* out) {
  // "NVMe<v>R0<h> <host NQN> <subsystem NQN>" and, in version 1, " <PSK digest>" (NQNs and
  // base64 hold no space).
  if (text.size() < 12 || text.substr(0, 4) != "NVMe" || text.substr(5, 2) != "R0" || text[8] != ' ') return false;
  if ((text[4] != '0' && text[4] != '1') || (text[7] != '1' && text[7] != '2')) return false;
  const int version = text[4] - '0';
  std::string_view fields[3];
  size_t count = 0;
  std::string_view rest = text.substr(9);
  while (!rest.empty()) {
    size_t space = rest.find(' ');
    std::string_view field = rest.substr(0, space);
    if (field.empty() || count == 3) return false;
    fields[count++] = field;
    if (space == std::string_view::npos) break;
    rest = rest.substr(space + 1);
    if (rest.empty()) return false;  // a trailing space
  }
  if (count != static_cast<size_t>(2 + version)) return false;
  out->version = version;
  out->hash = text[7] == '1' ? auth::Hash::Sha256 : auth::Hash::Sha384;
  out->host_nqn = std::string(fields[0]);
  out->subsys_nqn = std::string(fields[1]);
  out->digest = version == 1 ? std::string(fields[2]) : std::string();
  return true;
}

PskMatch target_psk(const auth::ParsedKey& configured, const PskIdentity& id, std::string_view identity_text) {
  PskMatch m;
  auth::Hash hash;
  if (!psk_hash(configured, &hash).is_ok() || hash != id.hash) return m;  // a suite this key does not serve
  const auth::SecretBytes retained = auth::retained_psk(configured.hash, configured.key, id.host_nqn);
  if (id.version == 1) {
    // The digest proves the host holds this PSK for this pair of NQNs; one that does not
    // match is a host with another key (the handshake then fails as for an unknown identity).
    const std::string expected = auth::psk_digest(hash, retained, id.host_nqn, id.subsys_nqn);
    const auth::SecretBytes offered(reinterpret_cast<const uint8_t*>(id.digest.data()), id.digest.size());
    if (!offered.equals(reinterpret_cast<const uint8_t*>(expected.data()), expected.size())) return m;
  }
  m.found = true;
  m.hash = hash;
  m.psk = auth::tls_psk(hash, retained, tls_psk_context(id.version, hash, identity_text));
  return m;
}

std::string tls_psk_context(int version, auth::Hash hash, std::string_view identity) {
  if (version == 0) return std::string(identity);
  return std::string(hash == auth::Hash::Sha256 ? "01 " : "02 ") + std::string(identity.substr(identity.rfind(' ') + 1));  // the digest
}

}  // namespace nds::nvmf::tls
