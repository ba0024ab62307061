// The controller's side of one DH-HMAC-CHAP transaction on one queue, independent of
// sockets: the Connection hands it each Authentication Send payload and asks it for each
// Authentication Receive answer. It picks the strongest hash and DH group both sides allow,
// checks the host's response in constant time, answers a host's challenge when it holds a
// controller key (bidirectional), and on any mismatch or malformed message prepares a
// Failure1 naming the step. A queue that completed it may start over (re-authentication).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nvmf/auth/auth_crypto.h"
#include "nvmf/auth/dhchap_keys.h"
#include "nvmf/auth/dhchap_messages.h"

namespace nds::nvmf::auth {

class DhchapTarget {
 public:
  DhchapTarget(std::shared_ptr<const DhchapKeys> keys, DhchapPolicy policy, std::string host_nqn, std::string subsys_nqn);

  // An Authentication Send payload. The command itself succeeds unless this returns false
  // (no transaction can take a message now: the command is refused, nothing changes).
  bool on_send(const uint8_t* message, size_t length);
  // An Authentication Receive of at most `allocation` bytes: the message to return, or
  // empty when nothing is to be received now (the command is refused).
  std::vector<uint8_t> on_receive(uint32_t allocation);

  // Once true, stays true through a re-authentication (commands go on meanwhile).
  bool authenticated() const { return authenticated_; }
  // A Failure1 was returned or the host sent a Failure2: the queue must end.
  bool failed() const { return state_ == State::Failed; }
  const std::string& failure() const { return failure_; }
  // A transaction is under way (for the target's time limit on it).
  bool in_progress() const { return state_ != State::Idle && state_ != State::Failed; }
  // The hash and group of the last negotiation (for tests and logs).
  Hash hash() const { return hash_; }
  DhGroup dh_group() const { return group_; }

 private:
  enum class State { Idle, SendChallenge, ExpectReply, SendSuccess1, ExpectSuccess2, SendFailure1, Failed };
  void negotiate(const uint8_t* m, size_t n);
  void reply(const uint8_t* m, size_t n);
  void fail(FailureReason reason, std::string why);

  std::shared_ptr<const DhchapKeys> keys_;
  DhchapPolicy policy_;
  std::string host_nqn_, subsys_nqn_;
  State state_ = State::Idle;
  bool authenticated_ = false;
  std::string failure_;
  FailureReason reason_ = FailureReason::Failed;
  uint16_t transaction_ = 0;
  Hash hash_ = Hash::Sha256;
  DhGroup group_ = DhGroup::Null;
  uint32_t seqnum_ = 0;
  SecretBytes challenge_;
  std::unique_ptr<DhKey> dh_;
  bool bidirectional_ = false;
  SecretBytes ctrl_response_;
};

}  // namespace nds::nvmf::auth
