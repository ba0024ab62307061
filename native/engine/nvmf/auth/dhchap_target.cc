#include "nvmf/auth/dhchap_target.h"

#include <openssl/rand.h>

#include <cstring>

#include "nvmf/wire/nvme_spec.h"

namespace nds::nvmf::auth {

using spec::get16;
using spec::get32;
using spec::put16;
using spec::put32;

namespace {

// Strongest first: what the controller picks from what the host offers.
constexpr Hash kHashPreference[] = {Hash::Sha512, Hash::Sha384, Hash::Sha256};
constexpr DhGroup kGroupPreference[] = {DhGroup::Ffdhe8192, DhGroup::Ffdhe6144, DhGroup::Ffdhe4096, DhGroup::Ffdhe3072, DhGroup::Ffdhe2048, DhGroup::Null};

bool offered(const uint8_t* list, uint8_t count, uint8_t id) {
  for (uint8_t i = 0; i < count; ++i)
    if (list[i] == id) return true;
  return false;
}

}  // namespace

DhchapTarget::DhchapTarget(std::shared_ptr<const DhchapKeys> keys, DhchapPolicy policy, std::string host_nqn, std::string subsys_nqn)
    : keys_(std::move(keys)), policy_(policy), host_nqn_(std::move(host_nqn)), subsys_nqn_(std::move(subsys_nqn)) {}

void DhchapTarget::fail(FailureReason reason, std::string why) {
  reason_ = reason;
  failure_ = std::move(why);
  state_ = State::SendFailure1;
  dh_.reset();
  challenge_.wipe();
  ctrl_response_.wipe();
}

bool DhchapTarget::on_send(const uint8_t* m, size_t n) {
  if (state_ == State::Failed || state_ == State::SendFailure1) return false;
  if (n < 2) {
    fail(FailureReason::IncorrectPayload, "a message of " + std::to_string(n) + " bytes");
    return true;
  }
  const uint8_t type = m[0], id = m[1];
  if (type == kTypeCommon && id == kIdFailure2) {
    state_ = State::Failed;
    failure_ = std::string("the host reported a failure: ") + (n >= kFailureBytes ? failure_reason_text(m[7]) : "no reason");
    return true;
  }
  if (type == kTypeCommon && id == kIdNegotiate && (state_ == State::Idle || authenticated_)) {
    negotiate(m, n);
    return true;
  }
  if (type == kTypeDhchap && id == kIdReply && state_ == State::ExpectReply) {
    reply(m, n);
    return true;
  }
  if (type == kTypeDhchap && id == kIdSuccess2 && state_ == State::ExpectSuccess2) {
    if (n < kHeaderBytes || get16(m + 4) != transaction_) {
      fail(FailureReason::IncorrectPayload, "Success2: wrong transaction or length");
      return true;
    }
    state_ = State::Idle;
    authenticated_ = true;
    return true;
  }
  fail(FailureReason::IncorrectProtocolMessage, "unexpected message type " + std::to_string(type) + " id " + std::to_string(id));
  return true;
}

void DhchapTarget::negotiate(const uint8_t* m, size_t n) {
  if (n < kNegotiateBytes) return fail(FailureReason::IncorrectPayload, "Negotiate: too short");
  transaction_ = get16(m + 4);
  const uint8_t secure_channel = m[6], napd = m[7];
  if (n < kNegotiateBytes + static_cast<size_t>(napd) * kDescriptorBytes) return fail(FailureReason::IncorrectPayload, "Negotiate: descriptors cut short");
  if (secure_channel != 0) return fail(FailureReason::SecureChannelMismatch, "Negotiate: secure channel concatenation is not supported");
  const uint8_t* descriptor = nullptr;
  for (uint8_t i = 0; i < napd; ++i) {
    const uint8_t* d = m + kNegotiateBytes + static_cast<size_t>(i) * kDescriptorBytes;
    if (d[0] == kProtocolDhchap) descriptor = d;
  }
  if (!descriptor) return fail(FailureReason::ProtocolUnusable, "Negotiate: the host offers no DH-HMAC-CHAP");
  const uint8_t hash_count = descriptor[2], group_count = descriptor[3];
  if (hash_count > kMaxIds || group_count > kMaxIds) return fail(FailureReason::IncorrectPayload, "Negotiate: too many identifiers");
  const uint8_t* hashes = descriptor + 4;
  const uint8_t* groups = descriptor + 4 + kMaxIds;
  bool have_hash = false, have_group = false;
  for (Hash h : kHashPreference)
    if (!have_hash && (policy_.hashes >> static_cast<int>(h) & 1) && offered(hashes, hash_count, static_cast<uint8_t>(h))) hash_ = h, have_hash = true;
  for (DhGroup g : kGroupPreference)
    if (!have_group && (policy_.dh_groups >> static_cast<int>(g) & 1) && offered(groups, group_count, static_cast<uint8_t>(g))) group_ = g, have_group = true;
  if (!have_hash) return fail(FailureReason::HashUnusable, "Negotiate: no hash function both sides allow");
  if (!have_group) return fail(FailureReason::DhGroupUnusable, "Negotiate: no DH group both sides allow");
  challenge_ = SecretBytes(hash_length(hash_));
  uint8_t seq[4];
  if (RAND_bytes(challenge_.data(), static_cast<int>(challenge_.size())) != 1 || RAND_bytes(seq, 4) != 1)
    return fail(FailureReason::Failed, "Negotiate: no random bytes");
  seqnum_ = get32(seq) | 1;  // never 0: 0 means "no sequence number"
  dh_.reset();
  if (group_ != DhGroup::Null) {
    Status s = DhKey::generate(group_, &dh_);
    if (!s.is_ok()) return fail(FailureReason::DhGroupUnusable, "Negotiate: " + s.message);
  }
  state_ = State::SendChallenge;
}

void DhchapTarget::reply(const uint8_t* m, size_t n) {
  const size_t hl = hash_length(hash_);
  const size_t dhvlen = dh_ ? dh_group_bytes(group_) : 0;
  if (n < kHeaderBytes) return fail(FailureReason::IncorrectPayload, "Reply: too short");
  if (get16(m + 4) != transaction_) return fail(FailureReason::IncorrectPayload, "Reply: wrong transaction");
  if (m[6] != hl) return fail(FailureReason::IncorrectPayload, "Reply: wrong hash length");
  if (get16(m + 10) != dhvlen) return fail(FailureReason::IncorrectPayload, "Reply: wrong DH value length");
  if (n < kHeaderBytes + 2 * hl + dhvlen) return fail(FailureReason::IncorrectPayload, "Reply: cut short");
  const bool wants_ctrl = m[8] & 1;
  const uint32_t host_seqnum = get32(m + 12);
  const uint8_t* r1 = m + kHeaderBytes;
  const uint8_t* c2 = r1 + hl;
  SecretBytes challenge = challenge_, host_challenge(c2, hl);
  if (dh_) {
    SecretBytes shared;
    Status s = dh_->shared_secret(c2 + hl, dhvlen, &shared);
    if (!s.is_ok()) return fail(FailureReason::IncorrectPayload, "Reply: " + s.message);
    challenge = augment_challenge(hash_, shared, challenge_);
    host_challenge = augment_challenge(hash_, shared, host_challenge);
  }
  SecretBytes host_key;
  Status s = transform_secret(keys_->host.hash, keys_->host.key, host_nqn_, &host_key);
  if (!s.is_ok()) return fail(FailureReason::Failed, "Reply: " + s.message);
  const SecretBytes expected = host_response(hash_, host_key, challenge, seqnum_, transaction_, 0, host_nqn_, subsys_nqn_);
  if (!expected.equals(r1, hl)) return fail(FailureReason::Failed, "Reply: the host's response does not match its key");
  bidirectional_ = wants_ctrl;
  if (wants_ctrl) {
    if (!keys_->has_ctrl) return fail(FailureReason::Failed, "Reply: the host asks the controller to authenticate, and it has no controller key");
    if (host_seqnum == 0) return fail(FailureReason::IncorrectPayload, "Reply: a host challenge with sequence number 0");
    SecretBytes ctrl_key;
    s = transform_secret(keys_->ctrl.hash, keys_->ctrl.key, subsys_nqn_, &ctrl_key);
    if (!s.is_ok()) return fail(FailureReason::Failed, "Reply: " + s.message);
    ctrl_response_ = controller_response(hash_, ctrl_key, host_challenge, host_seqnum, transaction_, 0, host_nqn_, subsys_nqn_);
  }
  dh_.reset();
  challenge_.wipe();
  state_ = State::SendSuccess1;
}

std::vector<uint8_t> DhchapTarget::on_receive(uint32_t allocation) {
  std::vector<uint8_t> out;
  switch (state_) {
    case State::SendChallenge: {
      const size_t hl = challenge_.size();
      const std::string dhv = dh_ ? dh_->public_value() : std::string();
      out.assign(kHeaderBytes + hl + dhv.size(), 0);
      out[0] = kTypeDhchap;
      out[1] = kIdChallenge;
      put16(out.data() + 4, transaction_);
      out[6] = static_cast<uint8_t>(hl);
      out[8] = static_cast<uint8_t>(hash_);
      out[9] = static_cast<uint8_t>(group_);
      put16(out.data() + 10, static_cast<uint16_t>(dhv.size()));
      put32(out.data() + 12, seqnum_);
      std::memcpy(out.data() + kHeaderBytes, challenge_.data(), hl);
      if (!dhv.empty()) std::memcpy(out.data() + kHeaderBytes + hl, dhv.data(), dhv.size());
      state_ = State::ExpectReply;
      break;
    }
    case State::SendSuccess1: {
      const size_t hl = hash_length(hash_);
      out.assign(kHeaderBytes + hl, 0);
      out[0] = kTypeDhchap;
      out[1] = kIdSuccess1;
      put16(out.data() + 4, transaction_);
      out[6] = static_cast<uint8_t>(hl);
      out[8] = bidirectional_ ? 1 : 0;
      if (bidirectional_) std::memcpy(out.data() + kHeaderBytes, ctrl_response_.data(), hl);
      ctrl_response_.wipe();
      if (bidirectional_) {
        state_ = State::ExpectSuccess2;
      } else {
        state_ = State::Idle;
        authenticated_ = true;
      }
      break;
    }
    case State::SendFailure1:
      out.assign(kFailureBytes, 0);
      out[0] = kTypeCommon;
      out[1] = kIdFailure1;
      put16(out.data() + 4, transaction_);
      out[6] = kFailureRc;
      out[7] = static_cast<uint8_t>(reason_);
      state_ = State::Failed;
      break;
    default:
      return out;
  }
  if (out.size() > allocation) {
    // The host left too little room: the transaction cannot go on.
    fail(FailureReason::IncorrectPayload, "Receive: allocation length " + std::to_string(allocation) + " below the message's " + std::to_string(out.size()));
    out.clear();
  }
  return out;
}

}  // namespace nds::nvmf::auth
