#include "nvmf/auth/dhchap_host.h"

#include <openssl/rand.h>

#include <cstring>

#include "nvmf/wire/nvme_spec.h"

namespace nds::nvmf::auth {

using spec::get16;
using spec::get32;
using spec::put16;
using spec::put32;

namespace {
Status denied(const std::string& why) { return Status::error(-EACCES, "DH-HMAC-CHAP " + why); }
}  // namespace

DhchapHost::DhchapHost(std::shared_ptr<const DhchapKeys> keys, DhchapPolicy policy, std::string host_nqn, std::string subsys_nqn)
    : keys_(std::move(keys)), policy_(policy), host_nqn_(std::move(host_nqn)), subsys_nqn_(std::move(subsys_nqn)) {}

std::vector<uint8_t> DhchapHost::negotiate() {
  uint8_t t[2] = {0, 0};
  RAND_bytes(t, 2);
  transaction_ = get16(t);
  std::vector<uint8_t> out(kNegotiateBytes + kDescriptorBytes, 0);
  out[0] = kTypeCommon;
  out[1] = kIdNegotiate;
  put16(out.data() + 4, transaction_);
  out[6] = 0;  // no secure channel concatenation
  out[7] = 1;  // one protocol descriptor
  uint8_t* d = out.data() + kNegotiateBytes;
  d[0] = kProtocolDhchap;
  uint8_t hashes = 0, groups = 0;
  for (uint8_t h = 1; h <= 3; ++h)
    if (policy_.hashes >> h & 1) d[4 + hashes++] = h;
  for (uint8_t g = 0; g <= 5; ++g)
    if (policy_.dh_groups >> g & 1) d[4 + kMaxIds + groups++] = g;
  d[2] = hashes;
  d[3] = groups;
  return out;
}

Status DhchapHost::refused_by_controller(const uint8_t* m, size_t n, const char* step) const {
  if (n >= kFailureBytes && m[0] == kTypeCommon && m[1] == kIdFailure1)
    return denied(std::string(step) + ": the controller refused: " + failure_reason_text(m[7]));
  return denied(std::string(step) + ": unexpected message from the controller");
}

Status DhchapHost::on_challenge(const uint8_t* m, size_t n, std::vector<uint8_t>* reply) {
  if (n < kHeaderBytes || m[0] != kTypeDhchap || m[1] != kIdChallenge) return refused_by_controller(m, n, "negotiate");
  if (get16(m + 4) != transaction_) return denied("challenge: wrong transaction");
  const uint8_t hash_id = m[8], group_id = m[9];
  if (hash_id < 1 || hash_id > 3 || !(policy_.hashes >> hash_id & 1)) return denied("challenge: hash " + std::to_string(hash_id) + " not offered");
  if (group_id > 5 || !(policy_.dh_groups >> group_id & 1)) return denied("challenge: DH group " + std::to_string(group_id) + " not offered");
  hash_ = static_cast<Hash>(hash_id);
  group_ = static_cast<DhGroup>(group_id);
  const size_t hl = hash_length(hash_);
  const size_t dhvlen = get16(m + 10);
  if (m[6] != hl) return denied("challenge: wrong hash length");
  if (dhvlen != dh_group_bytes(group_)) return denied("challenge: wrong DH value length");
  if (n < kHeaderBytes + hl + dhvlen) return denied("challenge: cut short");
  const uint32_t seqnum = get32(m + 12);
  SecretBytes challenge(m + kHeaderBytes, hl);
  SecretBytes shared;
  std::string public_value;
  if (group_ != DhGroup::Null) {
    std::unique_ptr<DhKey> dh;
    Status s = DhKey::generate(group_, &dh);
    if (!s.is_ok()) return denied("challenge: " + s.message);
    s = dh->shared_secret(m + kHeaderBytes + hl, dhvlen, &shared);
    if (!s.is_ok()) return denied("challenge: " + s.message);
    public_value = dh->public_value();
    challenge = augment_challenge(hash_, shared, challenge);
  }
  SecretBytes host_key;
  Status s = transform_secret(keys_->host.hash, keys_->host.key, host_nqn_, &host_key);
  if (!s.is_ok()) return denied("reply: " + s.message);
  const SecretBytes response = host_response(hash_, host_key, challenge, seqnum, transaction_, 0, host_nqn_, subsys_nqn_);
  SecretBytes host_challenge(hl);
  if (keys_->has_ctrl) {
    uint8_t seq[4];
    if (RAND_bytes(host_challenge.data(), static_cast<int>(hl)) != 1 || RAND_bytes(seq, 4) != 1) return denied("reply: no random bytes");
    host_seqnum_ = get32(seq) | 1;
    const SecretBytes augmented = shared.empty() ? host_challenge : augment_challenge(hash_, shared, host_challenge);
    SecretBytes ctrl_key;
    s = transform_secret(keys_->ctrl.hash, keys_->ctrl.key, subsys_nqn_, &ctrl_key);
    if (!s.is_ok()) return denied("reply: " + s.message);
    expected_ctrl_response_ = controller_response(hash_, ctrl_key, augmented, host_seqnum_, transaction_, 0, host_nqn_, subsys_nqn_);
  }
  reply->assign(kHeaderBytes + 2 * hl + public_value.size(), 0);
  uint8_t* r = reply->data();
  r[0] = kTypeDhchap;
  r[1] = kIdReply;
  put16(r + 4, transaction_);
  r[6] = static_cast<uint8_t>(hl);
  r[8] = keys_->has_ctrl ? 1 : 0;
  put16(r + 10, static_cast<uint16_t>(public_value.size()));
  put32(r + 12, keys_->has_ctrl ? host_seqnum_ : 0);
  std::memcpy(r + kHeaderBytes, response.data(), hl);
  if (keys_->has_ctrl) std::memcpy(r + kHeaderBytes + hl, host_challenge.data(), hl);
  if (!public_value.empty()) std::memcpy(r + kHeaderBytes + 2 * hl, public_value.data(), public_value.size());
  return Status::ok();
}

Status DhchapHost::on_success1(const uint8_t* m, size_t n, std::vector<uint8_t>* success2) {
  success2->clear();
  if (n < kHeaderBytes || m[0] != kTypeDhchap || m[1] != kIdSuccess1) return refused_by_controller(m, n, "reply");
  if (get16(m + 4) != transaction_) return denied("success1: wrong transaction");
  const size_t hl = hash_length(hash_);
  if (!keys_->has_ctrl) return Status::ok();
  if (!(m[8] & 1) || m[6] != hl || n < kHeaderBytes + hl) return denied("success1: the controller did not answer the host's challenge");
  const bool match = expected_ctrl_response_.equals(m + kHeaderBytes, hl);
  expected_ctrl_response_.wipe();
  if (!match) return denied("success1: the controller's response does not match the controller key");
  success2->assign(kHeaderBytes, 0);
  (*success2)[0] = kTypeDhchap;
  (*success2)[1] = kIdSuccess2;
  put16(success2->data() + 4, transaction_);
  return Status::ok();
}

std::vector<uint8_t> DhchapHost::failure2() const {
  std::vector<uint8_t> out(kFailureBytes, 0);
  out[0] = kTypeCommon;
  out[1] = kIdFailure2;
  put16(out.data() + 4, transaction_);
  out[6] = kFailureRc;
  out[7] = static_cast<uint8_t>(FailureReason::Failed);
  return out;
}

}  // namespace nds::nvmf::auth
