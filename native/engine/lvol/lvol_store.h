// Lvol stores (pools) and lvols: a blobstore-style layout on one disk bdev. See
// docs/lvol-format.md for the on-disk format and lvol/md_log.h for how metadata changes
// are made durable. Everything here runs on the app thread except the lvol bdev's I/O path
// (lvol_bdev.cc), which reads immutable LvolViews and atomic cluster maps.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bdev/bdev_manager.h"
#include "thread/thread.h"
#include "lvol/cluster_map.h"
#include "lvol/disk_io.h"
#include "lvol/format.h"
#include "lvol/md_log.h"

namespace nds::lvs {

class LvolBdev;
class LvolStore;

struct Lvol {
  BlobRecord rec;
  std::shared_ptr<ClusterMap> map;  // the I/O path's copy of the cluster map
  LvolBdev* bdev = nullptr;
  std::set<uint64_t> children;      // blobs whose parent this is
  bool busy = false;                // a long operation (inflate, decouple) runs
};

struct LvolInfo {
  std::string name, bdev_name, uuid, parent;
  uint64_t size_bytes = 0, allocated_bytes = 0;
  bool thin = false, read_only = false;
  std::map<std::string, std::string> properties;
};

struct PoolInfo {
  std::string name, uuid, disk;
  uint64_t cluster_size = 0, total_bytes = 0, used_bytes = 0, committed_bytes = 0, available_bytes = 0;
  uint64_t metadata_pages = 0, metadata_pages_used = 0;
  bool imported_dirty = false;
};

// The pools of one engine (app thread).
class LvolStoreRegistry {
 public:
  LvolStoreRegistry(BdevManager& bdevs, DmaRegion& dma) : bdevs_(bdevs), dma_(dma) {}
  ~LvolStoreRegistry();
  void create(std::string name, std::string disk, uint64_t cluster_size, std::function<void(Status, LvolStore*)> done);
  void import(std::string disk, std::function<void(Status, LvolStore*)> done);
  LvolStore* find(const std::string& name) const;
  std::vector<LvolStore*> list() const;
  // Exports every pool (clean), then done.
  void export_all(std::function<void()> done);

 private:
  friend class LvolStore;
  void forget(LvolStore* store);
  void open_disk(const std::string& disk, std::function<void(Status, BdevDesc*)> done);
  // `why`, or "disk ... already holds pool X" when a pool has that bdev as its disk.
  Status disk_in_use(const std::string& disk, const std::string& bdev_name, Status why) const;
  BdevManager& bdevs_;
  DmaRegion& dma_;
  std::map<std::string, std::unique_ptr<LvolStore>> stores_;
  std::set<std::string> opening_;  // disks being created or imported
};

class LvolStore {
 public:
  LvolStore(LvolStoreRegistry& registry, BdevDesc* disk, Superblock sb);
  ~LvolStore();

  const std::string& name() const { return log_.superblock().name; }
  PoolInfo info() const;
  LvolInfo lvol_info(const Lvol& lvol) const;
  Lvol* find_lvol(const std::string& name);
  std::vector<Lvol*> lvols();
  BdevManager& bdevs() { return registry_.bdevs_; }

  // Each done runs on the app thread.
  void create_lvol(std::string name, uint64_t size_bytes, bool thin, std::function<void(Status, Lvol*)> done);
  void snapshot(Lvol* origin, std::string name, std::function<void(Status, Lvol*)> done);
  void clone(Lvol* snapshot, std::string name, std::function<void(Status, Lvol*)> done);
  void resize(Lvol* lvol, uint64_t size_bytes, std::function<void(Status)> done);
  void set_property(Lvol* lvol, std::string key, std::string value, std::function<void(Status)> done);
  // Makes the lvol read-only for good (persisted): writes get EROFS, and it can be cloned.
  void set_read_only(Lvol* lvol, std::function<void(Status)> done);
  void inflate(Lvol* lvol, std::function<void(Status)> done);
  void decouple_parent(Lvol* lvol, std::function<void(Status)> done);
  void destroy_lvol(Lvol* lvol, std::function<void(Status)> done);
  // Why destroy_lvol / export_pool / destroy_pool would refuse now (EBUSY: claimed, a
  // snapshot with dependents, busy), checked before callers let go of their own handles.
  Status check_destroyable(const Lvol* lvol) const;
  Status check_closable(bool wipe) const;
  void export_pool(std::function<void(Status)> done);
  void destroy_pool(std::function<void(Status)> done);
  void grow(std::function<void(Status)> done);

  // I/O path (any thread): asks the app thread to allocate cluster `index` of `blob`;
  // done(status) runs back on the calling thread once the allocation is durable.
  void request_allocation(uint64_t blob, uint64_t index, std::function<void(int)> done);

  // Checks for tests: every cluster referenced at most once, accounting matches.
  Status fsck() const;
  // Imported pools: load blobs from the pages. App thread.
  Status build_from_pages(bool dirty);
  void set_owned_disk(bool owned) { owns_disk_bdev_ = owned; }
  // A store that failed to open: its opener closes the disk, not the store.
  void detach_disk() { disk_ = nullptr; }
  bool imported_dirty() const { return imported_dirty_; }
  MdLog& log() { return log_; }
  uint64_t cluster_size() const { return log_.superblock().cluster_size; }
  uint64_t data_offset(uint32_t cluster) const { return log_.superblock().data_start + cluster * cluster_size(); }
  BdevDesc* disk() const { return disk_; }

 private:
  friend class LvolBdev;
  Status register_bdev(Lvol* lvol);
  const LvolView* make_view(Lvol* lvol);
  uint32_t take_free_cluster();
  void return_cluster(uint32_t cluster);
  // Sets cluster `index` of `lvol` in memory (extent page and map), reserving an extent
  // page when needed; appends the touched pages. false when the metadata region is full.
  bool set_cluster(Lvol* lvol, uint64_t index, uint32_t value, std::vector<uint64_t>* pages, bool publish);
  uint32_t cluster_of(const Lvol* lvol, uint64_t index) const;
  // The cluster a read of `lvol` at `index` would see: its own or an ancestor's; 0 none.
  uint32_t resolve(const Lvol* lvol, uint64_t index) const;
  void write_blob_page(Lvol* lvol, std::vector<uint64_t>* pages);
  // Fills new clusters with their initial contents (zeroes, or a copy of `source`), flushes.
  void fill_clusters(std::vector<std::pair<uint32_t, uint32_t>> targets_and_sources, std::function<void(int)> done);
  // Copies every cluster the lvol does not own from its chain (down to `stop_at`), then
  // commits; used by inflate (stop_at none) and decouple_parent.
  void copy_down(Lvol* lvol, uint64_t levels, std::function<void(Status)> done);
  void allocate_now(uint64_t blob, uint64_t index);
  Status check_name(const std::string& name) const;
  // EBUSY naming the claimer when a consumer (nexus, namespace, error bdev) holds the lvol.
  Status check_unclaimed(const Lvol* lvol, const char* verb) const;
  // Undoes a create_lvol that failed before its commit.
  void discard_new_lvol(Lvol* lvol, const std::vector<std::pair<uint32_t, uint32_t>>& fills);
  void freeze(Lvol* lvol, std::function<void()> then);
  void unfreeze(Lvol* lvol);
  void close(std::function<void(Status)> done, bool wipe);
  void write_bitmaps(std::function<void(int)> done);

  LvolStoreRegistry& registry_;
  BdevDesc* disk_;
  DiskIo io_;
  MdLog log_;
  bool owns_disk_bdev_ = false;
  bool imported_dirty_ = false;
  std::map<uint64_t, std::unique_ptr<Lvol>> lvols_;  // by blob id
  std::vector<uint8_t> used_;                        // per data cluster
  uint64_t used_clusters_ = 0;
  uint64_t next_free_ = 0;
  std::vector<std::unique_ptr<LvolView>> views_;     // every view ever made; freed at close
  void settle_allocation(uint64_t blob, uint64_t index, int status);
  // (blob, cluster index) being allocated -> who waits for it (app thread callbacks).
  std::map<std::pair<uint64_t, uint64_t>, std::vector<std::function<void(int)>>> allocating_;
  Thread* app_thread_;
  bool closing_ = false;
};

}  // namespace nds::lvs
