#include "nvmf/auth/auth_crypto.h"

#include <openssl/core_names.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cstring>

#include "nvmf/auth/key_format.h"

namespace nds::nvmf::auth {
namespace {

const char* openssl_digest(Hash hash) {
  switch (hash) {
    case Hash::Sha256: return "SHA256";
    case Hash::Sha384: return "SHA384";
    case Hash::Sha512: return "SHA512";
  }
  return "SHA256";
}

// One HMAC over several parts, so that no concatenated copy of key-derived data is made.
class Hmac {
 public:
  Hmac(Hash hash, const uint8_t* key, size_t key_len) : hash_(hash) {
    mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    ctx_ = mac_ ? EVP_MAC_CTX_new(mac_) : nullptr;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(openssl_digest(hash)), 0), OSSL_PARAM_construct_end()};
    ok_ = ctx_ && EVP_MAC_init(ctx_, key, key_len, params) == 1;
  }
  ~Hmac() {
    EVP_MAC_CTX_free(ctx_);
    EVP_MAC_free(mac_);
  }
  Hmac& update(const void* data, size_t n) {
    ok_ = ok_ && EVP_MAC_update(ctx_, static_cast<const uint8_t*>(data), n) == 1;
    return *this;
  }
  Hmac& update(std::string_view s) { return update(s.data(), s.size()); }
  Hmac& update_u8(uint8_t v) { return update(&v, 1); }
  Hmac& update_le16(uint16_t v) {
    const uint8_t b[2] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)};
    return update(b, 2);
  }
  Hmac& update_le32(uint32_t v) {
    const uint8_t b[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 24)};
    return update(b, 4);
  }
  // Empty when OpenSSL failed (it does not, for these digests, short of memory).
  SecretBytes finish() {
    SecretBytes out(hash_length(hash_));
    size_t len = 0;
    if (!ok_ || EVP_MAC_final(ctx_, out.data(), &len, out.size()) != 1 || len != out.size()) return SecretBytes();
    return out;
  }

 private:
  Hash hash_;
  EVP_MAC* mac_ = nullptr;
  EVP_MAC_CTX* ctx_ = nullptr;
  bool ok_ = false;
};

SecretBytes response(Hash hash, const SecretBytes& key, const SecretBytes& challenge, uint32_t seqnum, uint16_t transaction, uint8_t secure_channel,
                     std::string_view role, std::string_view first_nqn, std::string_view second_nqn) {
  return Hmac(hash, key.data(), key.size())
      .update(challenge.data(), challenge.size())
      .update_le32(seqnum)
      .update_le16(transaction)
      .update_u8(secure_channel)
      .update(role)
      .update(first_nqn)
      .update_u8(0)
      .update(second_nqn)
      .finish();
}

const char* ffdhe_name(DhGroup group) {
  switch (group) {
    case DhGroup::Ffdhe2048: return "ffdhe2048";
    case DhGroup::Ffdhe3072: return "ffdhe3072";
    case DhGroup::Ffdhe4096: return "ffdhe4096";
    case DhGroup::Ffdhe6144: return "ffdhe6144";
    case DhGroup::Ffdhe8192: return "ffdhe8192";
    case DhGroup::Null: return nullptr;
  }
  return nullptr;
}

}  // namespace

size_t hash_length(Hash hash) {
  switch (hash) {
    case Hash::Sha256: return 32;
    case Hash::Sha384: return 48;
    case Hash::Sha512: return 64;
  }
  return 0;
}

const char* hash_name(Hash hash) {
  switch (hash) {
    case Hash::Sha256: return "sha256";
    case Hash::Sha384: return "sha384";
    case Hash::Sha512: return "sha512";
  }
  return "?";
}

const char* dh_group_name(DhGroup group) {
  const char* name = ffdhe_name(group);
  return name ? name : "null";
}

bool hash_from_name(std::string_view name, Hash* out) {
  for (Hash h : {Hash::Sha256, Hash::Sha384, Hash::Sha512})
    if (name == hash_name(h)) return *out = h, true;
  return false;
}

bool dh_group_from_name(std::string_view name, DhGroup* out) {
  for (DhGroup g : {DhGroup::Null, DhGroup::Ffdhe2048, DhGroup::Ffdhe3072, DhGroup::Ffdhe4096, DhGroup::Ffdhe6144, DhGroup::Ffdhe8192})
    if (name == dh_group_name(g)) return *out = g, true;
  return false;
}

size_t dh_group_bytes(DhGroup group) {
  switch (group) {
    case DhGroup::Ffdhe2048: return 256;
    case DhGroup::Ffdhe3072: return 384;
    case DhGroup::Ffdhe4096: return 512;
    case DhGroup::Ffdhe6144: return 768;
    case DhGroup::Ffdhe8192: return 1024;
    case DhGroup::Null: return 0;
  }
  return 0;
}

SecretBytes digest(Hash hash, const uint8_t* data, size_t n) {
  SecretBytes out(hash_length(hash));
  unsigned int len = 0;
  EVP_MD* md = EVP_MD_fetch(nullptr, openssl_digest(hash), nullptr);
  const bool ok = md && EVP_Digest(data, n, out.data(), &len, md, nullptr) == 1 && len == out.size();
  EVP_MD_free(md);
  return ok ? out : SecretBytes();
}

SecretBytes hmac(Hash hash, const SecretBytes& key, const std::string& message) { return Hmac(hash, key.data(), key.size()).update(message).finish(); }

Status transform_secret(uint8_t secret_hash, const SecretBytes& secret, std::string_view owner_nqn, SecretBytes* out) {
  if (secret_hash == 0) {
    *out = secret;
    return Status::ok();
  }
  if (secret_hash > 3) return Status::error(-EINVAL, "DH-HMAC-CHAP secret has an unknown hash");
  *out = Hmac(static_cast<Hash>(secret_hash), secret.data(), secret.size()).update(owner_nqn).update("NVMe-over-Fabrics").finish();
  return out->empty() ? Status::error(-ENOMEM, "cannot transform the DH-HMAC-CHAP secret") : Status::ok();
}

SecretBytes host_response(Hash hash, const SecretBytes& host_key, const SecretBytes& challenge, uint32_t seqnum, uint16_t transaction,
                          uint8_t secure_channel, std::string_view host_nqn, std::string_view subsys_nqn) {
  return response(hash, host_key, challenge, seqnum, transaction, secure_channel, "HostHost", host_nqn, subsys_nqn);
}

SecretBytes controller_response(Hash hash, const SecretBytes& ctrl_key, const SecretBytes& challenge, uint32_t seqnum, uint16_t transaction,
                                uint8_t secure_channel, std::string_view host_nqn, std::string_view subsys_nqn) {
  return response(hash, ctrl_key, challenge, seqnum, transaction, secure_channel, "Controller", subsys_nqn, host_nqn);
}

SecretBytes augment_challenge(Hash hash, const SecretBytes& shared_secret, const SecretBytes& challenge) {
  const SecretBytes hashed = digest(hash, shared_secret.data(), shared_secret.size());
  return Hmac(hash, hashed.data(), hashed.size()).update(challenge.data(), challenge.size()).finish();
}

// ---- DhKey ----

Status DhKey::generate(DhGroup group, std::unique_ptr<DhKey>* out) {
  const char* name = ffdhe_name(group);
  if (!name) return Status::error(-EINVAL, "the null DH group has no key");
  std::unique_ptr<DhKey> key(new DhKey(group));
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr);
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(name), 0), OSSL_PARAM_construct_end()};
  EVP_PKEY* pkey = nullptr;
  const bool ok = ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_CTX_set_params(ctx, params) == 1 && EVP_PKEY_generate(ctx, &pkey) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) return Status::error(-ENOMEM, std::string("cannot generate a ") + name + " key");
  key->pkey_ = pkey;
  unsigned char* encoded = nullptr;
  const size_t n = EVP_PKEY_get1_encoded_public_key(pkey, &encoded);
  if (n != dh_group_bytes(group)) {
    OPENSSL_free(encoded);
    return Status::error(-EINVAL, std::string("unexpected ") + name + " public value size");
  }
  key->public_.assign(reinterpret_cast<const char*>(encoded), n);
  OPENSSL_free(encoded);
  *out = std::move(key);
  return Status::ok();
}

DhKey::~DhKey() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

Status DhKey::shared_secret(const uint8_t* peer, size_t n, SecretBytes* out) const {
  const size_t bytes = dh_group_bytes(group_);
  if (n != bytes) return Status::error(-EINVAL, std::string("the peer's ") + dh_group_name(group_) + " public value is " + std::to_string(n) + " bytes, not " + std::to_string(bytes));
  auto* own = static_cast<EVP_PKEY*>(pkey_);
  EVP_PKEY* peer_key = EVP_PKEY_new();
  bool ok = peer_key && EVP_PKEY_copy_parameters(peer_key, own) == 1 && EVP_PKEY_set1_encoded_public_key(peer_key, peer, n) == 1;
  EVP_PKEY_CTX* ctx = ok ? EVP_PKEY_CTX_new_from_pkey(nullptr, own, nullptr) : nullptr;
  // validate_peer: the public value must be in 2..p-2 and in the prime-order subgroup.
  ok = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_CTX_set_dh_pad(ctx, 1) == 1 && EVP_PKEY_derive_set_peer_ex(ctx, peer_key, 1) == 1;
  bool derived = false;
  if (ok) {
    SecretBytes secret(bytes);
    size_t len = secret.size();
    derived = EVP_PKEY_derive(ctx, secret.data(), &len) == 1 && len == bytes;
    if (derived) *out = std::move(secret);
  }
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer_key);
  if (!ok) return Status::error(-EINVAL, std::string("the peer's ") + dh_group_name(group_) + " public value is not valid for the group");
  if (!derived) return Status::error(-EINVAL, std::string("cannot derive the ") + dh_group_name(group_) + " shared secret");
  return Status::ok();
}

// ---- TLS PSKs ----

SecretBytes hkdf_expand_label(Hash hash, const SecretBytes& psk, std::string_view label, std::string_view context, size_t length) {
  // HkdfLabel: uint16 length, opaque label<7..255> = "tls13 " + label, opaque context<0..255>.
  const std::string full_label = "tls13 " + std::string(label);
  std::string info;
  info += static_cast<char>(length >> 8);
  info += static_cast<char>(length & 0xff);
  info += static_cast<char>(full_label.size());
  info += full_label;
  info += static_cast<char>(context.size());
  info += context;
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  SecretBytes zero_salt(hash_length(hash));  // HKDF-Extract(0, psk): HashLen zero bytes
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(openssl_digest(hash)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(psk.data()), psk.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, zero_salt.data(), zero_salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end(),
  };
  SecretBytes out(length);
  const bool ok = ctx && EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return ok ? out : SecretBytes();
}

SecretBytes retained_psk(uint8_t interchange_hash, const SecretBytes& configured, std::string_view host_nqn) {
  if (interchange_hash == 0) return configured;
  return hkdf_expand_label(static_cast<Hash>(interchange_hash), configured, "HostNQN", host_nqn, configured.size());
}

std::string psk_digest(Hash cipher_hash, const SecretBytes& retained, std::string_view host_nqn, std::string_view subsys_nqn) {
  const SecretBytes mac = Hmac(cipher_hash, retained.data(), retained.size()).update(host_nqn).update(" ").update(subsys_nqn).update(" ").update("NVMe-over-Fabrics").finish();
  return base64_encode(mac.data(), mac.size());
}

std::string tls_psk_identity(int version, Hash cipher_hash, const SecretBytes& retained, std::string_view host_nqn, std::string_view subsys_nqn) {
  std::string identity = "NVMe" + std::to_string(version) + "R0" + std::to_string(static_cast<int>(cipher_hash)) + " ";
  identity += host_nqn;
  identity += ' ';
  identity += subsys_nqn;
  if (version == 1) identity += ' ' + psk_digest(cipher_hash, retained, host_nqn, subsys_nqn);
  return identity;
}

SecretBytes tls_psk(Hash cipher_hash, const SecretBytes& retained, std::string_view identity) {
  return hkdf_expand_label(cipher_hash, retained, "nvme-tls-psk", identity, hash_length(cipher_hash));
}

}  // namespace nds::nvmf::auth
