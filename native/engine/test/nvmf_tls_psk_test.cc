// The TLS PSK identities the target takes (version 0 as SPDK offers them, version 1 with the
// PSK digest as libnvme and the Linux host may) and the TLS PSK each leads to. The digest's
// own derivation is checked against libnvme's vectors in nvmf_auth_crypto_test.cc; here:
// what parses, that a digest made with another key or for other NQNs finds no PSK, and that
// host and target derive the same TLS PSK for each version.
#include <initializer_list>
#include <string>

#include "nvmf/auth/key_format.h"
#include "nvmf/tls/tls_psk.h"
#include "test/testing.h"

using namespace nds;
using namespace nds::nvmf;

namespace {

const std::string kHost = "nqn.2026-12.io.nodestor:host";
const std::string kSubsys = "nqn.2026-12.io.nodestor:vol";

auth::ParsedKey configured(uint8_t hash, uint8_t fill, size_t size) {
  auth::SecretBytes key(size);
  for (size_t i = 0; i < size; ++i) key.data()[i] = static_cast<uint8_t>(fill + i * 7);
  auth::ParsedKey out;
  EXPECT_TRUE(auth::parse_tls_psk(auth::format_tls_psk(hash, key), &out).is_ok());
  return out;
}

struct Offered {
  std::string identity;
  auth::Hash hash;
  auth::SecretBytes psk;
};

Offered offer(const auth::ParsedKey& key, int version, const std::string& host = kHost, const std::string& subsys = kSubsys) {
  Offered o;
  EXPECT_TRUE(tls::host_psk(key, version, host, subsys, &o.identity, &o.hash, &o.psk).is_ok());
  return o;
}

tls::PskMatch accept(const auth::ParsedKey& key, const std::string& identity) {
  tls::PskIdentity id;
  if (!tls::parse_identity(identity, &id)) return {};
  return tls::target_psk(key, id, identity);
}

}  // namespace

NDS_TEST(tls_psk_identities_parse_in_both_versions_and_nothing_else) {
  tls::PskIdentity id;
  EXPECT_TRUE(tls::parse_identity("NVMe0R01 " + kHost + " " + kSubsys, &id));
  EXPECT_EQ(id.version, 0);
  EXPECT_TRUE(id.hash == auth::Hash::Sha256);
  EXPECT_EQ(id.host_nqn, kHost);
  EXPECT_EQ(id.subsys_nqn, kSubsys);
  EXPECT_TRUE(id.digest.empty());
  EXPECT_TRUE(tls::parse_identity("NVMe1R02 " + kHost + " " + kSubsys + " QUJD", &id));
  EXPECT_EQ(id.version, 1);
  EXPECT_TRUE(id.hash == auth::Hash::Sha384);
  EXPECT_EQ(id.subsys_nqn, kSubsys);
  EXPECT_EQ(id.digest, "QUJD");
  for (const std::string& bad : std::initializer_list<std::string>{
           "NVMe1R01 " + kHost + " " + kSubsys,                   // version 1 without its digest
           "NVMe0R01 " + kHost + " " + kSubsys + " QUJD",         // version 0 with one
           "NVMe2R01 " + kHost + " " + kSubsys + " QUJD",         // no version 2
           "NVMe0R03 " + kHost + " " + kSubsys,                   // no hash 3
           "NVMe0R01 " + kHost + "  " + kSubsys,                  // an empty field
           "NVMe0R01 " + kHost + " " + kSubsys + " ",             // a trailing space
           "NVMe0R01 " + kHost,                                   // one NQN
           "NVMe1R01 " + kHost + " " + kSubsys + " QUJD extra",   // a field too many
           "NVMeXR01 " + kHost + " " + kSubsys, std::string("NVMe0R01"), std::string(),
       })
    EXPECT_TRUE(!tls::parse_identity(bad, &id));
}

NDS_TEST(tls_psk_host_and_target_derive_the_same_psk_for_each_version) {
  for (const auto& key : {configured(1, 3, 32), configured(2, 5, 48), configured(0, 9, 32)}) {
    const Offered v0 = offer(key, 0);
    const Offered v1 = offer(key, 1);
    EXPECT_EQ(v0.identity.substr(0, 4 + 4), std::string("NVMe0R0") + (key.key.size() == 32 ? "1" : "2"));
    EXPECT_EQ(v1.identity.substr(0, 4 + 4), std::string("NVMe1R0") + (key.key.size() == 32 ? "1" : "2"));
    const tls::PskMatch m0 = accept(key, v0.identity);
    const tls::PskMatch m1 = accept(key, v1.identity);
    EXPECT_TRUE(m0.found && m0.psk == v0.psk && m0.hash == v0.hash);
    EXPECT_TRUE(m1.found && m1.psk == v1.psk && m1.hash == v1.hash);
    EXPECT_EQ(v1.psk.size(), key.key.size());
    EXPECT_TRUE(!(v0.psk == v1.psk));  // the context differs: the identity, or "0h <digest>"
  }
}

NDS_TEST(tls_psk_a_version_1_digest_of_another_key_or_pair_finds_nothing) {
  const auth::ParsedKey key = configured(1, 3, 32);
  const auth::ParsedKey other = configured(1, 4, 32);
  // A host with another key: its digest is not the target's key's.
  EXPECT_TRUE(!accept(key, offer(other, 1).identity).found);
  // The digest for another subsystem (or host), presented with this pair's NQNs.
  const std::string elsewhere = offer(key, 1, kHost, kSubsys + "2").identity;
  const std::string digest = elsewhere.substr(elsewhere.rfind(' ') + 1);
  EXPECT_TRUE(!accept(key, "NVMe1R01 " + kHost + " " + kSubsys + " " + digest).found);
  // One character of the right digest changed.
  std::string forged = offer(key, 1).identity;
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_TRUE(!accept(key, forged).found);
  // A suite the key does not serve (a 32-byte key, a SHA-384 identity).
  EXPECT_TRUE(!accept(key, "NVMe0R02 " + kHost + " " + kSubsys).found);
  // The host refuses to offer a version it does not know.
  std::string identity;
  auth::Hash hash;
  auth::SecretBytes psk;
  EXPECT_EQ(tls::host_psk(key, 2, kHost, kSubsys, &identity, &hash, &psk).rc, -EINVAL);
}
