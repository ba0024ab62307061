// Known-answer and property tests of the NVMe-oF authentication cryptography. The vectors:
// - the PSK interchange example of the NVMe/TCP Transport Specification (3.6.1.5): the
//   configured PSK 5512DBB6...0B5D5B03 and its "NVMeTLSkey-1:01:VRLb...LrZ:" form;
// - the PSK identity example of the same specification (3.6.1.3), version 0;
// - libnvme's published version-1 identities for that PSK (test/psk.c), which exercise
//   the retained-PSK HKDF and the PSK digest;
// - RFC 4231 test case 2 for HMAC-SHA-256/384/512.
// The DH-HMAC-CHAP secret carries the key as the PSK form does (base64 of key || CRC-32).
#include <cstring>
#include <memory>
#include <string>

#include "nvmf/auth/auth_crypto.h"
#include "nvmf/auth/key_format.h"
#include "test/testing.h"

using namespace nds;
using namespace nds::nvmf::auth;

namespace {

SecretBytes from_hex(const std::string& hex) {
  SecretBytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out.data()[i] = static_cast<uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

std::string to_hex(const SecretBytes& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    out += digits[bytes.data()[i] >> 4];
    out += digits[bytes.data()[i] & 15];
  }
  return out;
}

const std::string kSpecPsk32 = "5512DBB6737D0106F65975B773DFB011FFC344BCF442E2DD6D8BC4870B5D5B03";
const std::string kSpecPsk48 = kSpecPsk32 + "FFC344BCF442E2DD6D8BC4870B5D5B03";

}  // namespace

NDS_TEST(auth_psk_interchange_format_matches_the_specification_example) {
  const SecretBytes psk = from_hex(kSpecPsk32);
  EXPECT_EQ(format_tls_psk(1, psk), std::string("NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:"));
  EXPECT_EQ(format_tls_psk(0, psk), std::string("NVMeTLSkey-1:00:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:"));
  EXPECT_EQ(format_tls_psk(2, from_hex(kSpecPsk48)), std::string("NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwP/w0S89ELi3W2LxIcLXVsDn8kXZQ==:"));
  ParsedKey parsed;
  ASSERT_TRUE(parse_tls_psk("NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:", &parsed).is_ok());
  EXPECT_EQ(parsed.hash, 1);
  EXPECT_TRUE(parsed.key == psk);
  ASSERT_TRUE(parse_tls_psk("NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwP/w0S89ELi3W2LxIcLXVsDn8kXZQ==:", &parsed).is_ok());
  EXPECT_EQ(parsed.hash, 2);
  EXPECT_TRUE(parsed.key == from_hex(kSpecPsk48));
}

NDS_TEST(auth_key_parsing_refuses_bad_crc_hash_length_and_form_without_echoing_the_key) {
  ParsedKey parsed;
  // One base64 character changed: the CRC no longer matches.
  Status s = parse_tls_psk("NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrY:", &parsed);
  EXPECT_EQ(s.rc, -EINVAL);
  EXPECT_TRUE(s.message.find("CRC-32") != std::string::npos);
  EXPECT_TRUE(s.message.find("VRLb") == std::string::npos);
  EXPECT_EQ(parse_tls_psk("NVMeTLSkey-1:03:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:", &parsed).rc, -EINVAL);  // no SHA-512 for PSKs
  EXPECT_EQ(parse_tls_psk("NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ", &parsed).rc, -EINVAL);   // no terminator
  EXPECT_EQ(parse_tls_psk("NVMeTLSkey-2:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:", &parsed).rc, -EINVAL);
  EXPECT_EQ(parse_tls_psk("NVMeTLSkey-1:01:VRLb tnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9Lr:", &parsed).rc, -EINVAL);  // not base64
  EXPECT_EQ(parse_tls_psk("NVMeTLSkey-1:01:" + format_tls_psk(1, from_hex("00112233")).substr(16), &parsed).rc, -EINVAL);  // 4-byte key
  EXPECT_EQ(parse_dhchap_secret("DHHC-1:04:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:", &parsed).rc, -EINVAL);
  EXPECT_EQ(parse_dhchap_secret("", &parsed).rc, -EINVAL);
  // A DH-HMAC-CHAP secret carries its key the same way; 64-byte keys are allowed there.
  ASSERT_TRUE(parse_dhchap_secret("DHHC-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:", &parsed).is_ok());
  EXPECT_EQ(parsed.hash, 1);
  EXPECT_TRUE(parsed.key == from_hex(kSpecPsk32));
  const SecretBytes key64 = from_hex(kSpecPsk32 + kSpecPsk32);
  const std::string text = format_dhchap_secret(3, key64);
  ASSERT_TRUE(parse_dhchap_secret(text, &parsed).is_ok());
  EXPECT_EQ(parsed.hash, 3);
  EXPECT_TRUE(parsed.key == key64);
  EXPECT_EQ(parse_tls_psk("NVMeTLSkey-1:01:" + text.substr(10), &parsed).rc, -EINVAL);  // 64 bytes: not a PSK
}

NDS_TEST(auth_hmac_matches_rfc4231_test_case_2) {
  const SecretBytes key(reinterpret_cast<const uint8_t*>("Jefe"), 4);
  const std::string data = "what do ya want for nothing?";
  EXPECT_EQ(to_hex(hmac(Hash::Sha256, key, data)), std::string("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
  EXPECT_EQ(to_hex(hmac(Hash::Sha384, key, data)),
            std::string("af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"));
  EXPECT_EQ(to_hex(hmac(Hash::Sha512, key, data)),
            std::string("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"));
}

NDS_TEST(auth_tls_psk_identities_match_the_specification_and_libnvme) {
  const SecretBytes psk = from_hex(kSpecPsk32);
  // Version 0, the specification's example (the retained PSK does not enter it).
  const std::string host = "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";
  const std::string subsys = "nqn.2014-08.org.nvmexpress:uuid:36ebf5a9-1df9-47b3-a6d0-e9ba32e428a2";
  EXPECT_EQ(tls_psk_identity(0, Hash::Sha256, retained_psk(1, psk, host), host, subsys), "NVMe0R01 " + host + " " + subsys);
  // Version 1: the digest of the retained PSK, which comes from the configured one by HKDF.
  EXPECT_EQ(tls_psk_identity(1, Hash::Sha256, retained_psk(1, psk, "nqn.psk-test-host"), "nqn.psk-test-host", "nqn.psk-test-subsys"),
            std::string("NVMe1R01 nqn.psk-test-host nqn.psk-test-subsys iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU="));
  const SecretBytes psk48 = from_hex(kSpecPsk48);
  EXPECT_EQ(tls_psk_identity(1, Hash::Sha384, retained_psk(2, psk48, "nqn.psk-test-host"), "nqn.psk-test-host", "nqn.psk-test-subsys"),
            std::string("NVMe1R02 nqn.psk-test-host nqn.psk-test-subsys QhW2+Rp6RzHlNtCslyRxMnwJ11tKKhz8JCAQpQ+XUD8f9td1VeH5h53yz2wKJG1a"));
  // The TLS PSK has the cipher's hash length and depends on the identity.
  const SecretBytes retained = retained_psk(1, psk, host);
  const SecretBytes a = tls_psk(Hash::Sha256, retained, "NVMe0R01 " + host + " " + subsys);
  const SecretBytes b = tls_psk(Hash::Sha256, retained, "NVMe0R01 " + host + " " + subsys + "x");
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(tls_psk(Hash::Sha384, retained, "id").size(), 48u);
  EXPECT_TRUE(!(a == b));
  EXPECT_TRUE(retained_psk(0, psk, host) == psk);
}

NDS_TEST(auth_dhchap_responses_bind_every_field_and_the_transform_binds_the_nqn) {
  const SecretBytes secret = from_hex(kSpecPsk32);
  SecretBytes kh, kh_other;
  ASSERT_TRUE(transform_secret(1, secret, "nqn.2026-12.io.nodestor:host", &kh).is_ok());
  ASSERT_TRUE(transform_secret(1, secret, "nqn.2026-12.io.nodestor:other", &kh_other).is_ok());
  EXPECT_EQ(kh.size(), 32u);
  EXPECT_TRUE(!(kh == kh_other));
  SecretBytes untransformed;
  ASSERT_TRUE(transform_secret(0, secret, "nqn.2026-12.io.nodestor:host", &untransformed).is_ok());
  EXPECT_TRUE(untransformed == secret);
  const SecretBytes challenge = from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const auto r = [&](uint32_t s, uint16_t t, std::string_view h, std::string_view c) {
    return host_response(Hash::Sha256, kh, challenge, s, t, 0, h, c);
  };
  const SecretBytes base = r(1, 1, "nqn.2026-12.io.nodestor:host", "nqn.2026-12.io.nodestor:sub");
  EXPECT_EQ(base.size(), 32u);
  EXPECT_TRUE(base == r(1, 1, "nqn.2026-12.io.nodestor:host", "nqn.2026-12.io.nodestor:sub"));
  EXPECT_TRUE(!(base == r(2, 1, "nqn.2026-12.io.nodestor:host", "nqn.2026-12.io.nodestor:sub")));
  EXPECT_TRUE(!(base == r(1, 2, "nqn.2026-12.io.nodestor:host", "nqn.2026-12.io.nodestor:sub")));
  // The 00h between the NQNs keeps "ab"+"c" apart from "a"+"bc".
  EXPECT_TRUE(!(r(1, 1, "nqn.2026-12.io.nodestor:ab", "c") == r(1, 1, "nqn.2026-12.io.nodestor:a", "bc")));
  // The controller's response differs from the host's for the same key and inputs.
  EXPECT_TRUE(!(base == controller_response(Hash::Sha256, kh, challenge, 1, 1, 0, "nqn.2026-12.io.nodestor:host", "nqn.2026-12.io.nodestor:sub")));
  // The same message under HMAC, written out here: the response is that HMAC.
  std::string message(reinterpret_cast<const char*>(challenge.data()), challenge.size());
  message += std::string("\x01\x00\x00\x00", 4) + std::string("\x01\x00", 2) + std::string("\x00", 1) + "HostHost" + "nqn.2026-12.io.nodestor:host" +
             std::string("\x00", 1) + "nqn.2026-12.io.nodestor:sub";
  EXPECT_TRUE(base == hmac(Hash::Sha256, kh, message));
  EXPECT_EQ(host_response(Hash::Sha512, kh, challenge, 1, 1, 0, "h", "c").size(), 64u);
}

NDS_TEST(auth_ffdhe_exchange_agrees_in_every_group_and_refuses_bad_public_values) {
  for (DhGroup group : {DhGroup::Ffdhe2048, DhGroup::Ffdhe3072, DhGroup::Ffdhe4096, DhGroup::Ffdhe6144, DhGroup::Ffdhe8192}) {
    std::unique_ptr<DhKey> host, ctrl;
    ASSERT_TRUE(DhKey::generate(group, &host).is_ok());
    ASSERT_TRUE(DhKey::generate(group, &ctrl).is_ok());
    EXPECT_EQ(host->public_value().size(), dh_group_bytes(group));
    EXPECT_TRUE(host->public_value() != ctrl->public_value());
    SecretBytes at_host, at_ctrl;
    ASSERT_TRUE(host->shared_secret(reinterpret_cast<const uint8_t*>(ctrl->public_value().data()), ctrl->public_value().size(), &at_host).is_ok());
    ASSERT_TRUE(ctrl->shared_secret(reinterpret_cast<const uint8_t*>(host->public_value().data()), host->public_value().size(), &at_ctrl).is_ok());
    EXPECT_EQ(at_host.size(), dh_group_bytes(group));
    EXPECT_TRUE(at_host == at_ctrl);
    // The augmented challenge is what both sides then compute alike.
    const SecretBytes c = from_hex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    EXPECT_TRUE(augment_challenge(Hash::Sha384, at_host, c) == augment_challenge(Hash::Sha384, at_ctrl, c));
    // Bad public values: 0, 1, p-1 (all ones is > p), the wrong size.
    std::string value(dh_group_bytes(group), '\0');
    SecretBytes unused;
    EXPECT_EQ(host->shared_secret(reinterpret_cast<const uint8_t*>(value.data()), value.size(), &unused).rc, -EINVAL);
    value.back() = 1;
    EXPECT_EQ(host->shared_secret(reinterpret_cast<const uint8_t*>(value.data()), value.size(), &unused).rc, -EINVAL);
    std::string ones(dh_group_bytes(group), '\xff');
    EXPECT_EQ(host->shared_secret(reinterpret_cast<const uint8_t*>(ones.data()), ones.size(), &unused).rc, -EINVAL);
    EXPECT_EQ(host->shared_secret(reinterpret_cast<const uint8_t*>(ctrl->public_value().data()), ctrl->public_value().size() - 1, &unused).rc, -EINVAL);
  }
  std::unique_ptr<DhKey> none;
  EXPECT_EQ(DhKey::generate(DhGroup::Null, &none).rc, -EINVAL);
  DhGroup g;
  EXPECT_TRUE(dh_group_from_name("ffdhe6144", &g) && g == DhGroup::Ffdhe6144);
  EXPECT_TRUE(!dh_group_from_name("ffdhe1024", &g));
  Hash h;
  EXPECT_TRUE(hash_from_name("sha384", &h) && h == Hash::Sha384);
  EXPECT_TRUE(!hash_from_name("md5", &h));
}

// ---- the DH-HMAC-CHAP transaction, host and controller state machines back to back ----

#include "nvmf/auth/dhchap_host.h"
#include "nvmf/auth/dhchap_target.h"

namespace {

const char* kHostNqn = "nqn.2026-12.io.nodestor:auth-host";
const char* kSubNqn = "nqn.2026-12.io.nodestor:auth-sub";

std::shared_ptr<const DhchapKeys> keys_of(const std::string& host_secret, const std::string& ctrl_secret = "") {
  auto keys = std::make_shared<DhchapKeys>();
  if (!parse_dhchap_secret(host_secret, &keys->host).is_ok()) return nullptr;
  if (!ctrl_secret.empty()) {
    keys->has_ctrl = true;
    if (!parse_dhchap_secret(ctrl_secret, &keys->ctrl).is_ok()) return nullptr;
  }
  return keys;
}

struct Outcome {
  Status host;
  bool target_authenticated = false;
  bool target_failed = false;
  std::string target_failure;
  Hash hash = Hash::Sha256;
  DhGroup group = DhGroup::Null;
};

Outcome transact(std::shared_ptr<const DhchapKeys> host_keys, std::shared_ptr<const DhchapKeys> target_keys, DhchapPolicy host_policy = {},
                 DhchapPolicy target_policy = {}) {
  Outcome o;
  DhchapHost host(host_keys, host_policy, kHostNqn, kSubNqn);
  DhchapTarget target(target_keys, target_policy, kHostNqn, kSubNqn);
  const auto finish = [&](Status s) {
    o.host = s;
    // The host reads the controller's Failure1 (if any) the way it would on the wire.
    o.target_authenticated = target.authenticated();
    o.target_failure = target.failure();
    o.target_failed = target.failed() || !target.failure().empty();
    o.hash = target.hash();
    o.group = target.dh_group();
    return o;
  };
  std::vector<uint8_t> negotiate = host.negotiate();
  target.on_send(negotiate.data(), negotiate.size());
  std::vector<uint8_t> challenge = target.on_receive(kHostReceiveBytes);
  std::vector<uint8_t> reply;
  Status s = host.on_challenge(challenge.data(), challenge.size(), &reply);
  if (!s.is_ok()) return finish(s);
  target.on_send(reply.data(), reply.size());
  std::vector<uint8_t> success1 = target.on_receive(kHostReceiveBytes), success2;
  s = host.on_success1(success1.data(), success1.size(), &success2);
  if (!s.is_ok()) {
    const std::vector<uint8_t> failure = host.failure2();
    target.on_send(failure.data(), failure.size());
    return finish(s);
  }
  if (!success2.empty()) target.on_send(success2.data(), success2.size());
  return finish(Status::ok());
}

std::string secret(uint8_t hash, uint8_t fill, size_t length) {
  SecretBytes key(length);
  for (size_t i = 0; i < length; ++i) key.data()[i] = static_cast<uint8_t>(fill + i);
  return format_dhchap_secret(hash, key);
}

}  // namespace

NDS_TEST(dhchap_every_hash_and_group_one_way_and_both_ways) {
  const std::string host_key = secret(1, 0x10, 32), ctrl_key = secret(2, 0x40, 48);
  for (uint8_t h = 1; h <= 3; ++h)
    for (uint8_t g = 0; g <= 5; ++g) {
      DhchapPolicy only{1u << h, 1u << g};
      Outcome one = transact(keys_of(host_key), keys_of(host_key), only);
      EXPECT_TRUE(one.host.is_ok());
      EXPECT_TRUE(one.target_authenticated);
      EXPECT_TRUE(static_cast<uint8_t>(one.hash) == h && static_cast<uint8_t>(one.group) == g);
      Outcome both = transact(keys_of(host_key, ctrl_key), keys_of(host_key, ctrl_key), only);
      EXPECT_TRUE(both.host.is_ok());
      EXPECT_TRUE(both.target_authenticated);
      if (!both.host.is_ok()) std::printf("  hash %u group %u: %s\n", h, g, both.host.message.c_str());
    }
  // Offered everything, the controller picks the strongest both allow.
  Outcome picked = transact(keys_of(host_key), keys_of(host_key), {}, {kAllHashes, (1u << 0) | (1u << 2)});
  EXPECT_TRUE(picked.host.is_ok());
  EXPECT_TRUE(picked.hash == Hash::Sha512 && picked.group == DhGroup::Ffdhe3072);
}

NDS_TEST(dhchap_refuses_a_wrong_key_a_wrong_controller_key_and_a_missing_one) {
  const std::string right = secret(1, 0x10, 32), wrong = secret(1, 0x11, 32), ctrl = secret(0, 0x40, 64), wrong_ctrl = secret(0, 0x41, 64);
  const DhchapPolicy ffdhe2048{kAllHashes, 1u << 1};
  // The host's key is wrong: the controller answers Failure1, the host is refused.
  Outcome bad = transact(keys_of(wrong), keys_of(right), ffdhe2048);
  EXPECT_EQ(bad.host.rc, -EACCES);
  EXPECT_TRUE(bad.host.message.find("reply: the controller refused: the response did not match") != std::string::npos);
  EXPECT_TRUE(!bad.target_authenticated);
  EXPECT_TRUE(bad.target_failure.find("does not match its key") != std::string::npos);
  // The same secret transformed for another host NQN is a different key.
  {
    DhchapHost host(keys_of(right), {}, "nqn.2026-12.io.nodestor:someone-else", kSubNqn);
    DhchapTarget target(keys_of(right), {}, kHostNqn, kSubNqn);
    std::vector<uint8_t> n = host.negotiate(), reply, s2;
    target.on_send(n.data(), n.size());
    std::vector<uint8_t> c = target.on_receive(kHostReceiveBytes);
    EXPECT_TRUE(host.on_challenge(c.data(), c.size(), &reply).is_ok());
    target.on_send(reply.data(), reply.size());
    std::vector<uint8_t> r = target.on_receive(kHostReceiveBytes);
    EXPECT_EQ(host.on_success1(r.data(), r.size(), &s2).rc, -EACCES);
    EXPECT_TRUE(target.failed() && !target.authenticated());
  }
  // The controller proves the wrong controller key: the host refuses it and says so.
  Outcome impostor = transact(keys_of(right, ctrl), keys_of(right, wrong_ctrl), ffdhe2048);
  EXPECT_EQ(impostor.host.rc, -EACCES);
  EXPECT_TRUE(impostor.host.message.find("does not match the controller key") != std::string::npos);
  EXPECT_TRUE(!impostor.target_authenticated);
  EXPECT_TRUE(impostor.target_failure.find("the host reported a failure") != std::string::npos);
  // The host wants the controller to prove itself; the controller has no key for that.
  Outcome no_ctrl = transact(keys_of(right, ctrl), keys_of(right), ffdhe2048);
  EXPECT_EQ(no_ctrl.host.rc, -EACCES);
  EXPECT_TRUE(!no_ctrl.target_authenticated);
  EXPECT_TRUE(no_ctrl.target_failure.find("no controller key") != std::string::npos);
  // No hash or group both sides allow.
  Outcome no_hash = transact(keys_of(right), keys_of(right), {1u << 1, kAllDhGroups}, {1u << 3, kAllDhGroups});
  EXPECT_EQ(no_hash.host.rc, -EACCES);
  EXPECT_TRUE(no_hash.host.message.find("no usable hash function") != std::string::npos);
  Outcome no_group = transact(keys_of(right), keys_of(right), {kAllHashes, 1u << 0}, {kAllHashes, 1u << 5});
  EXPECT_TRUE(no_group.host.message.find("no usable DH group") != std::string::npos);
}

NDS_TEST(dhchap_target_refuses_malformed_and_out_of_order_messages_and_reauthenticates) {
  const std::string key = secret(3, 0x20, 64);
  DhchapTarget target(keys_of(key), {}, kHostNqn, kSubNqn);
  // Nothing to receive before a Negotiate.
  EXPECT_TRUE(target.on_receive(kHostReceiveBytes).empty());
  // A Reply first: Failure1 (unexpected message), then the queue must end.
  uint8_t early[kHeaderBytes] = {kTypeDhchap, kIdReply};
  EXPECT_TRUE(target.on_send(early, sizeof early));
  std::vector<uint8_t> f = target.on_receive(kHostReceiveBytes);
  ASSERT_TRUE(f.size() == kFailureBytes);
  EXPECT_TRUE(f[1] == kIdFailure1 && f[7] == static_cast<uint8_t>(FailureReason::IncorrectProtocolMessage));
  EXPECT_TRUE(target.failed());
  EXPECT_TRUE(!target.on_send(early, sizeof early));  // nothing more is taken
  // Cut-short messages, every length of a real Negotiate and Reply: no crash, a failure.
  DhchapHost host(keys_of(key), {kAllHashes, 1u << 1}, kHostNqn, kSubNqn);
  const std::vector<uint8_t> negotiate = host.negotiate();
  for (size_t n = 0; n < negotiate.size(); ++n) {
    DhchapTarget t(keys_of(key), {}, kHostNqn, kSubNqn);
    t.on_send(negotiate.data(), n);
    EXPECT_TRUE(!t.failure().empty());
  }
  // A whole transaction, then a second one on the same queue (re-authentication).
  DhchapTarget again(keys_of(key), {}, kHostNqn, kSubNqn);
  for (int round = 0; round < 2; ++round) {
    DhchapHost h(keys_of(key), {kAllHashes, 1u << 1}, kHostNqn, kSubNqn);
    std::vector<uint8_t> n = h.negotiate(), reply, s2;
    EXPECT_TRUE(again.on_send(n.data(), n.size()));
    std::vector<uint8_t> c = again.on_receive(kHostReceiveBytes);
    EXPECT_TRUE(h.on_challenge(c.data(), c.size(), &reply).is_ok());
    // Every cut of the Reply fails cleanly on a fresh transaction's copy of the state; here the whole one goes.
    EXPECT_TRUE(again.on_send(reply.data(), reply.size()));
    std::vector<uint8_t> r = again.on_receive(kHostReceiveBytes);
    EXPECT_TRUE(h.on_success1(r.data(), r.size(), &s2).is_ok());
    EXPECT_TRUE(again.authenticated());
  }
  // A Receive that leaves too little room: refused, and the transaction fails.
  DhchapTarget small(keys_of(key), {}, kHostNqn, kSubNqn);
  small.on_send(negotiate.data(), negotiate.size());
  EXPECT_TRUE(small.on_receive(8).empty());
  EXPECT_TRUE(small.on_receive(kHostReceiveBytes).size() == kFailureBytes);
}
