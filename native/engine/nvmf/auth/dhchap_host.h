// The host's side of one DH-HMAC-CHAP transaction on one queue, independent of sockets:
// it builds the Negotiate, answers the controller's Challenge, and checks its Success1
// (with a controller key: the controller's response too, then a Success2). Every failure is
// EACCES with a message naming the step; when the controller is the one that failed its
// proof, failure2() is the message to send it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nvmf/auth/auth_crypto.h"
#include "nvmf/auth/dhchap_keys.h"
#include "nvmf/auth/dhchap_messages.h"

namespace nds::nvmf::auth {

// Room for the largest controller message: a Challenge with an ffdhe8192 value.
constexpr uint32_t kHostReceiveBytes = 2048;

class DhchapHost {
 public:
  DhchapHost(std::shared_ptr<const DhchapKeys> keys, DhchapPolicy policy, std::string host_nqn, std::string subsys_nqn);

  std::vector<uint8_t> negotiate();
  // The controller's answer to the Negotiate (a Challenge or a Failure1): the Reply to send.
  Status on_challenge(const uint8_t* message, size_t length, std::vector<uint8_t>* reply);
  // Its answer to the Reply (Success1 or Failure1). With a controller key, *success2 gets
  // the Success2 to send; else it stays empty and the transaction is over.
  Status on_success1(const uint8_t* message, size_t length, std::vector<uint8_t>* success2);
  // The Failure2 to send after on_success1 refused the controller's response.
  std::vector<uint8_t> failure2() const;

  Hash hash() const { return hash_; }
  DhGroup dh_group() const { return group_; }

 private:
  Status refused_by_controller(const uint8_t* m, size_t n, const char* step) const;

  std::shared_ptr<const DhchapKeys> keys_;
  DhchapPolicy policy_;
  std::string host_nqn_, subsys_nqn_;
  uint16_t transaction_ = 0;
  Hash hash_ = Hash::Sha256;
  DhGroup group_ = DhGroup::Null;
  uint32_t host_seqnum_ = 0;
  SecretBytes expected_ctrl_response_;
};

}  // namespace nds::nvmf::auth
