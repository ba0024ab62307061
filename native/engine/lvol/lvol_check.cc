// The consistency check (tests and pool.check()): every cluster referenced at most once,
// and the accounting matches.
#include "lvol/lvol_store.h"

#include <vector>

namespace nds::lvs {

Status LvolStore::fsck() const {
  std::vector<uint8_t> seen(used_.size(), 0);
  uint64_t count = 0;
  for (auto& [id, lvol] : lvols_) {
    for (uint64_t i = 0; i < lvol->rec.size_clusters; ++i) {
      uint32_t value = cluster_of(lvol.get(), i);
      if (value != lvol->map->get(i))
        return Status::error(-EIO, "blob " + std::to_string(id) + " cluster " + std::to_string(i) + ": map and metadata disagree");
      if (!value) continue;
      if (seen[value - 1]++) return Status::error(-EIO, "data cluster " + std::to_string(value - 1) + " is referenced twice");
      ++count;
    }
  }
  for (uint64_t c = 0; c < used_.size(); ++c)
    if (used_[c] != seen[c]) return Status::error(-EIO, "used-cluster accounting is wrong at cluster " + std::to_string(c));
  if (count != used_clusters_) return Status::error(-EIO, "used-cluster count is wrong");
  return Status::ok();
}

}  // namespace nds::lvs
