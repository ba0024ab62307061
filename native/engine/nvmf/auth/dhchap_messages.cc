#include "nvmf/auth/dhchap_messages.h"

namespace nds::nvmf::auth {

const char* failure_reason_text(uint8_t rce) {
  switch (static_cast<FailureReason>(rce)) {
    case FailureReason::Failed: return "the response did not match (wrong key)";
    case FailureReason::ProtocolUnusable: return "no usable authentication protocol";
    case FailureReason::SecureChannelMismatch: return "secure channel concatenation mismatch";
    case FailureReason::HashUnusable: return "no usable hash function";
    case FailureReason::DhGroupUnusable: return "no usable DH group";
    case FailureReason::IncorrectPayload: return "incorrect payload";
    case FailureReason::IncorrectProtocolMessage: return "unexpected protocol message";
  }
  return "unknown reason";
}

}  // namespace nds::nvmf::auth
