// Result of a management operation: a negative errno plus a message naming the resource.
// The data path never uses this (it reports plain negative errno); management calls do,
// so that JavaScript can show "bdev m0 already exists" rather than a bare EEXIST.
#pragma once
#include <cerrno>
#include <string>
#include <utility>

namespace nds {

struct Status {
  int rc = 0;  // 0 or a negative errno
  std::string message;

  static Status ok() { return {}; }
  static Status error(int negative_errno, std::string msg) {
    return Status{negative_errno, std::move(msg)};
  }
  bool is_ok() const { return rc == 0; }
};

}  // namespace nds
