// What the lvol store's files share and nothing else needs: sentinels, sizes, and the
// name check that pools and lvols go through.
#pragma once
#include <cstdint>
#include <string>

#include "bdev/bdev_factory.h"
#include "lvol/md_log.h"
#include "util/status.h"

namespace nds::lvs::detail {

constexpr uint32_t kNoPage = UINT32_MAX;  // an extent slot with no extent page
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kLogPages = kMaxLogRecordPages + 100;
constexpr size_t kCopyBatch = 8;  // clusters filled per step by inflate and decouple

inline Status name_error(const std::string& what, const std::string& name) {
  Status st = validate_bdev_name(name);
  if (!st.is_ok()) return Status::error(-EINVAL, what + " name '" + name + "': " + st.message);
  return Status::ok();
}

}  // namespace nds::lvs::detail
