// The store itself: its lvols in memory, cluster accounting, the cluster map pages, the
// lvol bdevs it registers, import from metadata pages, and growing, exporting and
// destroying the pool. The registry, allocation, lvol operations and the check have files
// of their own (lvol_registry.cc, lvol_alloc.cc, lvol_ops.cc, lvol_check.cc).
#include "lvol/lvol_store.h"

#include <algorithm>
#include <cstring>

#include "lvol/lvol_bdev.h"
#include "lvol/store_internal.h"
#include "thread/thread.h"

namespace nds::lvs {

using namespace detail;

LvolStore::LvolStore(LvolStoreRegistry& registry, BdevDesc* disk, Superblock sb)
    : registry_(registry), disk_(disk), io_(disk, registry.dma_), log_(io_, std::move(sb)), app_thread_(Thread::current()) {}

// Export and destroy release the disk in close(). A store still holding it here is torn
// down with the engine without an export (as in a crash): let go of the descriptor.
LvolStore::~LvolStore() {
  if (disk_) registry_.bdevs_.close(disk_);
}

Status LvolStore::check_name(const std::string& name) const {
  Status st = name_error("lvol", name);
  if (!st.is_ok()) return st;
  for (auto& [id, lvol] : lvols_)
    if (lvol->rec.name == name) return Status::error(-EEXIST, "lvol " + this->name() + "/" + name + " already exists");
  return Status::ok();
}

Lvol* LvolStore::find_lvol(const std::string& name) {
  for (auto& [id, lvol] : lvols_)
    if (lvol->rec.name == name) return lvol.get();
  return nullptr;
}

std::vector<Lvol*> LvolStore::lvols() {
  std::vector<Lvol*> out;
  for (auto& [id, lvol] : lvols_) out.push_back(lvol.get());
  return out;
}

uint32_t LvolStore::take_free_cluster() {
  const uint64_t total = log_.superblock().total_clusters;
  for (uint64_t n = 0; n < total; ++n) {
    uint64_t c = (next_free_ + n) % total;
    if (!used_[c]) {
      used_[c] = 1;
      ++used_clusters_;
      next_free_ = c + 1;
      return static_cast<uint32_t>(c);
    }
  }
  return UINT32_MAX;
}

void LvolStore::return_cluster(uint32_t cluster) {
  if (!used_[cluster]) return;
  used_[cluster] = 0;
  --used_clusters_;
}

uint32_t LvolStore::cluster_of(const Lvol* lvol, uint64_t index) const {
  uint64_t k = index / kExtentEntries;
  if (k >= lvol->rec.extent_pages.size() || lvol->rec.extent_pages[k] == kNoPage) return 0;
  const Page* p = log_.page(lvol->rec.extent_pages[k]);
  return extent_entry(*p, index % kExtentEntries);
}

uint32_t LvolStore::resolve(const Lvol* lvol, uint64_t index) const {
  for (const Lvol* l = lvol; l; ) {
    if (index < l->rec.size_clusters) {
      uint32_t c = cluster_of(l, index);
      if (c) return c;
    }
    auto parent = lvols_.find(l->rec.parent);
    l = parent == lvols_.end() ? nullptr : parent->second.get();
  }
  return 0;
}

void LvolStore::write_blob_page(Lvol* lvol, std::vector<uint64_t>* pages) {
  lvol->rec.encode(log_.writable(lvol->rec.id));
  pages->push_back(lvol->rec.id);
}

bool LvolStore::set_cluster(Lvol* lvol, uint64_t index, uint32_t value, std::vector<uint64_t>* pages, bool publish) {
  uint64_t k = index / kExtentEntries;
  auto& extents = lvol->rec.extent_pages;
  if (extents.size() <= k) extents.resize(k + 1, kNoPage);
  if (extents[k] == kNoPage) {
    if (value == 0) return true;  // clearing an entry that has no page: nothing to do
    uint64_t page = log_.reserve_page();
    if (page == UINT64_MAX) return false;
    extents[k] = static_cast<uint32_t>(page);
    ExtentPage ep;
    ep.owner = lvol->rec.id;
    ep.first_cluster = k * kExtentEntries;
    ep.encode(log_.writable(page), page);
    write_blob_page(lvol, pages);
  }
  patch_extent_entry(log_.writable(extents[k]), index % kExtentEntries, value);
  pages->push_back(extents[k]);
  if (publish && index < lvol->map->capacity()) lvol->map->set(index, value);
  return true;
}

const LvolView* LvolStore::make_view(Lvol* lvol) {
  auto view = std::make_unique<LvolView>();
  view->map = lvol->map;
  view->size_clusters = lvol->rec.size_clusters;
  view->read_only = lvol->rec.read_only;
  auto parent = lvols_.find(lvol->rec.parent);
  view->parent = parent == lvols_.end() || !parent->second->bdev ? nullptr : parent->second->bdev->view();
  views_.push_back(std::move(view));
  return views_.back().get();
}

Status LvolStore::register_bdev(Lvol* lvol) {
  auto bdev = std::make_unique<LvolBdev>(this, lvol->rec.id, name() + "/" + lvol->rec.name, lvol->rec.uuid,
                                         disk_->bdev->block_size(), make_view(lvol));
  LvolBdev* raw = bdev.get();
  Status st = bdevs().add(std::move(bdev));
  if (!st.is_ok()) return st;
  // The store holds its disk, not its lvols: any one consumer (a nexus, a namespace, an
  // error bdev) may claim an lvol's bdev. It is the store's object all the same, destroyed
  // through lvol.destroy(), never as a plain bdev.
  bdevs().set_belongs_to(raw, "lvol store " + name(), "lvol.destroy()");
  lvol->bdev = raw;
  return Status::ok();
}

Status LvolStore::build_from_pages(bool dirty) {
  imported_dirty_ = dirty;
  const Superblock& sb = log_.superblock();
  used_.assign(sb.total_clusters, 0);
  used_clusters_ = 0;
  std::map<uint64_t, uint64_t> extent_owner;  // extent page -> blob that lists it
  for (uint64_t i = 0; i < log_.page_count(); ++i) {
    const Page* p = log_.page(i);
    if (!p || page_type(*p, i) != PageType::Blob) continue;
    auto lvol = std::make_unique<Lvol>();
    if (!BlobRecord::decode(*p, i, &lvol->rec))
      return Status::error(-EIO, "metadata page " + std::to_string(i) + " holds a malformed blob record");
    lvols_[i] = std::move(lvol);
  }
  for (auto& [id, lvol] : lvols_) {
    lvol->map = std::make_shared<ClusterMap>(lvol->rec.size_clusters);
    for (size_t k = 0; k < lvol->rec.extent_pages.size(); ++k) {
      uint32_t page = lvol->rec.extent_pages[k];
      if (page == kNoPage) continue;
      const Page* p = log_.page(page);
      ExtentPage ep;
      if (!p || !ExtentPage::decode(*p, page, &ep) || ep.owner != id || ep.first_cluster != k * kExtentEntries)
        return Status::error(-EIO, "extent page " + std::to_string(page) + " of blob " + std::to_string(id) +
                                       " is missing or does not belong to it");
      if (!extent_owner.emplace(page, id).second)
        return Status::error(-EIO, "extent page " + std::to_string(page) + " is listed by two blobs");
      for (uint64_t e = 0; e < kExtentEntries; ++e) {
        uint32_t value = ep.entries[e];
        if (!value) continue;
        uint64_t index = k * kExtentEntries + e;
        uint32_t cluster = value - 1;
        if (index >= lvol->rec.size_clusters || cluster >= sb.total_clusters)
          return Status::error(-EIO, "blob " + std::to_string(id) + " maps cluster " + std::to_string(index) +
                                         " outside its size or the disk");
        if (used_[cluster])
          return Status::error(-EIO, "data cluster " + std::to_string(cluster) + " is referenced twice");
        used_[cluster] = 1;
        ++used_clusters_;
        lvol->map->set(index, value);
      }
    }
  }
  for (uint64_t i = 0; i < log_.page_count(); ++i) {
    const Page* p = log_.page(i);
    if (p && page_type(*p, i) == PageType::Extent && !extent_owner.count(i))
      return Status::error(-EIO, "extent page " + std::to_string(i) + " belongs to no blob");
  }
  for (auto& [id, lvol] : lvols_) {
    if (lvol->rec.parent == kNoBlob) continue;
    auto parent = lvols_.find(lvol->rec.parent);
    if (parent == lvols_.end())
      return Status::error(-EIO, "blob " + std::to_string(id) + " names a parent that does not exist");
    parent->second->children.insert(id);
  }
  // Register bdevs parents first, so each view can point at its parent's.
  std::set<uint64_t> done;
  while (done.size() < lvols_.size()) {
    size_t before = done.size();
    for (auto& [id, lvol] : lvols_) {
      if (done.count(id) || (lvol->rec.parent != kNoBlob && !done.count(lvol->rec.parent))) continue;
      Status st = register_bdev(lvol.get());
      if (!st.is_ok()) return st;
      done.insert(id);
    }
    if (done.size() == before) return Status::error(-EIO, "the parent links of the pool form a cycle");
  }
  return Status::ok();
}

PoolInfo LvolStore::info() const {
  const Superblock& sb = log_.superblock();
  PoolInfo info;
  info.name = sb.name;
  info.uuid = sb.uuid.to_string();
  info.disk = disk_->bdev->name();
  info.cluster_size = sb.cluster_size;
  info.total_bytes = sb.total_clusters * sb.cluster_size;
  info.used_bytes = used_clusters_ * sb.cluster_size;
  info.available_bytes = info.total_bytes - info.used_bytes;
  for (auto& [id, lvol] : lvols_) {
    // Writable lvols commit their full size; snapshots only what they hold.
    if (lvol->rec.read_only) {
      for (uint64_t i = 0; i < lvol->rec.size_clusters; ++i) info.committed_bytes += lvol->map->get(i) ? sb.cluster_size : 0;
    } else {
      info.committed_bytes += lvol->rec.size_clusters * sb.cluster_size;
    }
  }
  info.metadata_pages = sb.md_pages;
  info.metadata_pages_used = log_.used_pages();
  info.imported_dirty = imported_dirty_;
  return info;
}

LvolInfo LvolStore::lvol_info(const Lvol& lvol) const {
  LvolInfo info;
  info.name = lvol.rec.name;
  info.bdev_name = name() + "/" + lvol.rec.name;
  info.uuid = lvol.rec.uuid.to_string();
  auto parent = lvols_.find(lvol.rec.parent);
  if (parent != lvols_.end()) info.parent = parent->second->rec.name;
  info.size_bytes = lvol.rec.size_clusters * cluster_size();
  for (uint64_t i = 0; i < lvol.rec.size_clusters; ++i) info.allocated_bytes += lvol.map->get(i) ? cluster_size() : 0;
  info.thin = lvol.rec.thin;
  info.read_only = lvol.rec.read_only;
  info.properties = lvol.rec.properties;
  return info;
}

// ------------------------------------------------------------------ pool lifecycle

void LvolStore::grow(std::function<void(Status)> done) {
  Status st = disk_->bdev->refresh_size();
  if (!st.is_ok()) return done(st);
  Superblock& sb = log_.superblock_for_update();
  uint64_t size = disk_->bdev->size_bytes();
  uint64_t fits = size > sb.data_start ? (size - sb.data_start) / sb.cluster_size : 0;
  uint64_t total = std::min(fits, sb.max_clusters);
  if (total <= sb.total_clusters) return done(Status::ok());  // nothing new to use
  uint64_t old_total = sb.total_clusters;
  sb.total_clusters = total;
  log_.write_superblock([this, old_total, total, done](int rc) {
    if (rc != 0) {
      log_.superblock_for_update().total_clusters = old_total;
      return done(Status::error(rc, "cannot write the superblock"));
    }
    used_.resize(total, 0);
    done(Status::ok());
  });
}

void LvolStore::write_bitmaps(std::function<void(int)> done) {
  // Cluster bits, then metadata page bits, 4092 bytes of bits per sealed page.
  const Superblock& sb = log_.superblock();
  auto buf = io_.buffer(sb.bitmap_pages * kPageSize);
  if (!buf) return done(-ENOMEM);
  std::memset(buf.get(), 0, sb.bitmap_pages * kPageSize);
  auto set_bit = [&](uint64_t bit) {
    uint64_t page = bit / (8 * kCrcOffset), within = bit % (8 * kCrcOffset);
    buf.get()[page * kPageSize + within / 8] |= static_cast<uint8_t>(1u << (within % 8));
  };
  for (uint64_t c = 0; c < used_.size(); ++c)
    if (used_[c]) set_bit(c);
  uint64_t md_base = div_up(sb.max_clusters, 8 * kCrcOffset) * 8 * kCrcOffset;
  for (uint64_t p = 0; p < log_.page_count(); ++p)
    if (log_.page(p)) set_bit(md_base + p);
  for (uint64_t p = 0; p < sb.bitmap_pages; ++p) {
    Page page;
    std::memcpy(page.data(), buf.get() + p * kPageSize, kPageSize);
    seal(page);
    std::memcpy(buf.get() + p * kPageSize, page.data(), kPageSize);
  }
  io_.submit(IoType::Write, sb.bitmap_start * kPageSize, sb.bitmap_pages * kPageSize, buf.get(), [buf, done](int rc) { done(rc); });
}

Status LvolStore::check_unclaimed(const Lvol* lvol, const char* verb) const {
  if (!lvol->bdev || lvol->bdev->claimed_by().empty()) return Status::ok();
  return Status::error(-EBUSY, "lvol " + lvol->rec.name + " of pool " + name() + " is claimed by " +
                                   lvol->bdev->claimed_by() + ": it cannot be " + verb + " until that lets go");
}

Status LvolStore::check_closable(bool wipe) const {
  for (auto& [id, lvol] : lvols_) {
    Status claimed = check_unclaimed(lvol.get(), wipe ? "destroyed with its pool" : "exported with its pool");
    if (!claimed.is_ok()) return claimed;
  }
  return Status::ok();
}

void LvolStore::close(std::function<void(Status)> done, bool wipe) {
  Status refused = check_closable(wipe);
  if (!refused.is_ok()) return done(refused);
  closing_ = true;
  // Lvol bdevs go first (each drains its channels), children before parents.
  std::vector<std::string> names;
  for (auto& [id, lvol] : lvols_) {
    if (!lvol->bdev) continue;
    names.push_back(lvol->bdev->name());
  }
  auto remaining = std::make_shared<size_t>(names.size());
  auto after_bdevs = [this, wipe, done] {
    for (auto& [id, lvol] : lvols_) lvol->bdev = nullptr;
    auto finish = [this, done](Status st) {
      std::string disk_name = disk_->bdev->name();
      bdevs().release_claim(disk_->bdev);
      bdevs().close(disk_);
      disk_ = nullptr;
      bool remove_disk = owns_disk_bdev_;
      auto& registry = registry_;
      auto& bdevs = registry_.bdevs_;
      registry.forget(this);  // deleted after this callback
      if (!remove_disk) return done(st);
      bdevs.remove(disk_name, [st, done](Status) { done(st); });
    };
    if (wipe) {
      const Superblock& sb = log_.superblock();
      uint64_t metadata_end = (sb.md_start + sb.md_pages) * kPageSize;
      io_.submit(IoType::WriteZeroes, 0, metadata_end, nullptr, [this, finish](int rc) {
        if (rc != 0) return finish(Status::error(rc, "cannot wipe the pool's metadata"));
        io_.flush([finish](int frc) { finish(frc == 0 ? Status::ok() : Status::error(frc, "flush failed")); });
      });
      return;
    }
    write_bitmaps([this, finish](int rc) {
      if (rc != 0) return finish(Status::error(rc, "cannot write the pool's bitmaps"));
      log_.checkpoint(true, [finish](int crc) {
        finish(crc == 0 ? Status::ok() : Status::error(crc, "cannot write the pool's metadata"));
      });
    });
  };
  if (names.empty()) return after_bdevs();
  for (auto& n : names) {
    bdevs().remove_owned(n, [remaining, after_bdevs](Status) {
      if (--*remaining == 0) after_bdevs();
    });
  }
}

void LvolStore::export_pool(std::function<void(Status)> done) { close(std::move(done), false); }

void LvolStore::destroy_pool(std::function<void(Status)> done) { close(std::move(done), true); }

}  // namespace nds::lvs
