#include "lvol/lvol_store.h"

#include <algorithm>
#include <cstring>

#include "bdev/bdev_factory.h"
#include "lvol/lvol_bdev.h"
#include "thread/thread.h"

namespace nds::lvs {

namespace {
constexpr uint32_t kNoPage = UINT32_MAX;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kLogPages = kMaxLogRecordPages + 100;
constexpr size_t kCopyBatch = 8;  // clusters filled per step by inflate and decouple

uint64_t div_up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// Extent entries are patched in the page bytes; the page is resealed before commit.
void patch_entry(Page& page, uint64_t slot, uint32_t value) {
  std::memcpy(page.data() + 56 + 4 * slot, &value, 4);
  seal(page);
}
void patch_owner(Page& page, uint64_t owner) {
  std::memcpy(page.data() + 32, &owner, 8);
  seal(page);
}

Status name_error(const std::string& what, const std::string& name) {
  Status st = validate_bdev_name(name);
  if (!st.is_ok()) return Status::error(-EINVAL, what + " name '" + name + "': " + st.message);
  return Status::ok();
}
}  // namespace

// ------------------------------------------------------------------ registry

LvolStoreRegistry::~LvolStoreRegistry() = default;

LvolStore* LvolStoreRegistry::find(const std::string& name) const {
  auto it = stores_.find(name);
  return it == stores_.end() ? nullptr : it->second.get();
}

std::vector<LvolStore*> LvolStoreRegistry::list() const {
  std::vector<LvolStore*> out;
  for (auto& [name, store] : stores_) out.push_back(store.get());
  return out;
}

void LvolStoreRegistry::forget(LvolStore* store) {
  for (auto it = stores_.begin(); it != stores_.end(); ++it) {
    if (it->second.get() == store) {
      // Freed after the current callback (same reactor pass): the caller may still be
      // inside the store.
      auto* raw = it->second.release();
      stores_.erase(it);
      Thread::current()->defer([](void* arg) { delete static_cast<LvolStore*>(arg); }, raw);
      return;
    }
  }
}

Status LvolStoreRegistry::disk_in_use(const std::string& disk, const std::string& bdev_name, Status why) const {
  for (const auto& [name, store] : stores_)
    if (store->disk() && store->disk()->bdev->name() == bdev_name)
      return Status::error(-EEXIST, "disk " + disk + " already holds pool " + name);
  return why;
}

void LvolStoreRegistry::open_disk(const std::string& disk, std::function<void(Status, BdevDesc*)> done) {
  auto open_named = [this, disk, done](const std::string& name) {
    BdevDesc* desc = nullptr;
    Status st = bdevs_.open(name, true, &desc);
    if (!st.is_ok()) return done(st, nullptr);
    st = bdevs_.claim(desc->bdev, "lvol store", desc);
    if (!st.is_ok()) {
      bdevs_.close(desc);
      return done(disk_in_use(disk, name, st), nullptr);
    }
    if (desc->bdev->block_size() > kPageSize || kPageSize % desc->bdev->block_size() != 0) {
      bdevs_.release_claim(desc->bdev);
      bdevs_.close(desc);
      return done(Status::error(-EINVAL, "disk block size must divide 4096"), nullptr);
    }
    done(Status::ok(), desc);
  };
  const std::string prefix = "bdev:///";
  if (disk.rfind(prefix, 0) == 0) return open_named(disk.substr(prefix.size()));
  create_bdev_from_uri(bdevs_, disk, [this, disk, open_named, done](Status st, Bdev* bdev) {
    if (st.rc == -EEXIST) {
      // The URI names a bdev that exists: most likely the disk of a pool already open.
      const std::string lead = "bdev ", suffix = " already exists";
      if (st.message.rfind(lead, 0) == 0 && st.message.size() > lead.size() + suffix.size())
        st = disk_in_use(disk, st.message.substr(lead.size(), st.message.size() - lead.size() - suffix.size()), st);
    }
    if (!st.is_ok()) return done(st, nullptr);
    open_named(bdev->name());
  });
}

void LvolStoreRegistry::create(std::string name, std::string disk, uint64_t cluster_size,
                               std::function<void(Status, LvolStore*)> done) {
  Status st = name_error("pool", name);
  if (!st.is_ok()) return done(st, nullptr);
  if (stores_.count(name) || opening_.count(name)) return done(Status::error(-EEXIST, "pool " + name + " already exists"), nullptr);
  if (cluster_size == 0) cluster_size = 4 * kMiB;
  if (cluster_size % kMiB != 0 || cluster_size > 1024 * kMiB)
    return done(Status::error(-EINVAL, "cluster size must be a multiple of 1 MiB, at most 1 GiB"), nullptr);
  bool from_uri = disk.rfind("bdev:///", 0) != 0;
  opening_.insert(name);
  auto fail_created = [this, from_uri](BdevDesc* desc, Status why, std::function<void(Status, LvolStore*)> cb) {
    std::string disk_name = desc->bdev->name();
    bdevs_.release_claim(desc->bdev);
    bdevs_.close(desc);
    if (!from_uri) return cb(why, nullptr);
    bdevs_.remove(disk_name, [why, cb](Status) { cb(why, nullptr); });
  };
  open_disk(disk, [this, name, cluster_size, from_uri, fail_created, done](Status opened, BdevDesc* desc) {
    if (!opened.is_ok()) {
      opening_.erase(name);
      return done(opened, nullptr);
    }
    Superblock sb;
    sb.uuid = Uuid::random_v4();
    sb.name = name;
    sb.cluster_size = cluster_size;
    sb.block_size = desc->bdev->block_size();
    uint64_t disk_bytes = desc->bdev->size_bytes();
    sb.max_clusters = std::max<uint64_t>(16, disk_bytes / cluster_size * 4);  // room to grow 4x
    sb.md_pages = std::max<uint64_t>(128, div_up(sb.max_clusters, kExtentEntries) * 2 + 256);
    sb.bitmap_start = 2;
    sb.bitmap_pages = div_up(sb.max_clusters, 8 * kCrcOffset) + div_up(sb.md_pages, 8 * kCrcOffset);
    sb.log_start = sb.bitmap_start + sb.bitmap_pages;
    sb.log_pages = kLogPages;
    sb.md_start = sb.log_start + sb.log_pages;
    sb.data_start = div_up((sb.md_start + sb.md_pages) * kPageSize, cluster_size) * cluster_size;
    if (disk_bytes < sb.data_start + cluster_size) {
      opening_.erase(name);
      return fail_created(desc, Status::error(-ENOSPC, "disk " + desc->bdev->name() + " (" + std::to_string(disk_bytes) +
                                                            " bytes) is too small for a pool: metadata needs " +
                                                            std::to_string(sb.data_start) + " bytes plus one cluster"),
                          done);
    }
    sb.total_clusters = (disk_bytes - sb.data_start) / cluster_size;
    auto store = std::make_shared<std::unique_ptr<LvolStore>>(std::make_unique<LvolStore>(*this, desc, sb));
    LvolStore* raw = store->get();
    raw->log().format([this, name, raw, store, from_uri, fail_created, desc, done](Status fst) {
      opening_.erase(name);
      if (!fst.is_ok()) {
        (*store)->detach_disk();
        store->reset();
        return fail_created(desc, fst, done);
      }
      raw->build_from_pages(false);
      raw->set_owned_disk(from_uri);
      stores_[name] = std::move(*store);
      done(Status::ok(), raw);
    });
  });
}

void LvolStoreRegistry::import(std::string disk, std::function<void(Status, LvolStore*)> done) {
  bool from_uri = disk.rfind("bdev:///", 0) != 0;
  open_disk(disk, [this, from_uri, done](Status st, BdevDesc* desc) {
    if (!st.is_ok()) return done(st, nullptr);
    auto io = std::make_shared<DiskIo>(desc, dma_);
    auto buf = io->buffer(2 * kPageSize);
    auto give_up = [this, desc, from_uri, done](Status why) {
      std::string name = desc->bdev->name();
      bdevs_.release_claim(desc->bdev);
      bdevs_.close(desc);
      if (!from_uri) return done(why, nullptr);
      bdevs_.remove(name, [why, done](Status) { done(why, nullptr); });
    };
    if (!buf) return give_up(Status::error(-ENOMEM, "no DMA memory"));
    io->submit(IoType::Read, 0, 2 * kPageSize, buf.get(), [this, io, buf, desc, from_uri, give_up, done](int rc) {
      std::string disk_name = desc->bdev->name();
      if (rc != 0) return give_up(Status::error(rc, "cannot read the superblock of " + disk_name));
      std::optional<Superblock> best;
      bool any_magic = false;
      for (int slot = 0; slot < 2; ++slot) {
        Page p;
        std::memcpy(p.data(), buf.get() + slot * kPageSize, kPageSize);
        bool valid = false;
        auto sb = Superblock::decode(p, &valid);
        if (!sb) continue;
        any_magic = true;
        if (valid && (!best || sb->generation > best->generation)) best = sb;
      }
      if (!any_magic) return give_up(Status::error(-ENOENT, "no pool (lvol store) on disk " + disk_name));
      if (!best) return give_up(Status::error(-EIO, "both superblocks of the pool on " + disk_name + " are damaged"));
      if (stores_.count(best->name) || opening_.count(best->name))
        return give_up(Status::error(-EEXIST, "pool " + best->name + " is already imported"));
      std::string name = best->name;
      bool dirty = !best->clean;
      opening_.insert(name);
      auto store = std::make_shared<std::unique_ptr<LvolStore>>(std::make_unique<LvolStore>(*this, desc, *best));
      (*store)->set_owned_disk(from_uri);
      LvolStore* raw = store->get();
      raw->log().load([this, store, raw, name, dirty, give_up, done](Status lst) {
        if (lst.is_ok()) lst = raw->build_from_pages(dirty);
        if (!lst.is_ok()) {
          opening_.erase(name);
          (*store)->detach_disk();
          store->reset();
          return give_up(lst);
        }
        // While open the pool is dirty: a crash from here on is an unclean shutdown.
        raw->log().superblock_for_update().clean = false;
        raw->log().write_superblock([this, store, raw, name, give_up, done](int wrc) {
          opening_.erase(name);
          if (wrc != 0) {
            (*store)->detach_disk();
            store->reset();
            return give_up(Status::error(wrc, "cannot write the superblock"));
          }
          stores_[name] = std::move(*store);
          done(Status::ok(), raw);
        });
      });
    });
  });
}

void LvolStoreRegistry::export_all(std::function<void()> done) {
  if (stores_.empty()) return done();
  LvolStore* first = stores_.begin()->second.get();
  first->export_pool([this, done = std::move(done)](Status) mutable { export_all(std::move(done)); });
}

// ------------------------------------------------------------------ store basics

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
  uint32_t value;
  std::memcpy(&value, p->data() + 56 + 4 * (index % kExtentEntries), 4);
  return value;
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
  patch_entry(log_.writable(extents[k]), index % kExtentEntries, value);
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

// ------------------------------------------------------------------ cluster contents

void LvolStore::fill_clusters(std::vector<std::pair<uint32_t, uint32_t>> work, std::function<void(int)> done) {
  // Each new cluster is written whole before anything refers to it: zeroes, or a copy of
  // its source cluster. Then one flush, so the contents are durable before the metadata.
  if (work.empty()) return done(0);
  const uint64_t c = cluster_size();
  struct Fill {
    std::vector<std::pair<uint32_t, uint32_t>> work;
    size_t next = 0;
    int status = 0;
    std::shared_ptr<uint8_t> buf;
    std::function<void(int)> done;
  };
  auto fill = std::make_shared<Fill>();
  fill->work = std::move(work);
  fill->done = std::move(done);
  auto step_holder = std::make_shared<std::function<void()>>();
  // The function holds itself weakly; whoever calls it (a pending I/O callback)
  // holds it strongly, so it is freed once no step is pending.
  std::weak_ptr<std::function<void()>> weak_step = step_holder;
  *step_holder = [this, fill, weak_step, c] {
    auto step = weak_step.lock();
    if (fill->status != 0 || fill->next == fill->work.size()) {
      if (fill->status != 0) return fill->done(fill->status);
      return io_.flush(fill->done);
    }
    // Plain variables, not a structured binding: the lambdas below capture them (clang
    // before 16, which builds the fuzz targets, cannot capture bindings).
    const auto target = fill->work[fill->next].first;
    const auto source = fill->work[fill->next].second;
    ++fill->next;
    if (source == 0) {
      return io_.submit(IoType::WriteZeroes, data_offset(target), c, nullptr, [fill, step](int rc) {
        if (rc) fill->status = rc;
        (*step)();
      });
    }
    if (!fill->buf) fill->buf = io_.buffer(c);
    if (!fill->buf) {
      fill->status = -ENOMEM;
      return (*step)();
    }
    io_.submit(IoType::Read, data_offset(source - 1), c, fill->buf.get(), [this, fill, step, target, c](int rc) {
      if (rc) {
        fill->status = rc;
        return (*step)();
      }
      io_.submit(IoType::Write, data_offset(target), c, fill->buf.get(), [fill, step](int rc2) {
        if (rc2) fill->status = rc2;
        (*step)();
      });
    });
  };
  (*step_holder)();
}

void LvolStore::request_allocation(uint64_t blob, uint64_t index, std::function<void(int)> done) {
  Thread* origin = Thread::current();
  auto back = [origin, done = std::move(done)](int rc) { origin->send([done, rc] { done(rc); }); };
  app_thread_->send([this, blob, index, back] {
    auto lvol_it = lvols_.find(blob);
    if (closing_ || lvol_it == lvols_.end()) return back(-ENODEV);
    Lvol* lvol = lvol_it->second.get();
    if (lvol->rec.read_only) return back(-EROFS);
    if (index >= lvol->rec.size_clusters) return back(-EINVAL);
    if (lvol->map->get(index)) return back(0);
    // Writes racing to the same new cluster share one allocation.
    auto& pending = allocating_[{blob, index}];
    pending.push_back(back);
    if (pending.size() == 1) allocate_now(blob, index);
  });
}

void LvolStore::settle_allocation(uint64_t blob, uint64_t index, int status) {
  auto it = allocating_.find({blob, index});
  if (it == allocating_.end()) return;
  auto waiters = std::move(it->second);
  allocating_.erase(it);
  for (auto& w : waiters) w(status);
}

void LvolStore::allocate_now(uint64_t blob, uint64_t index) {
  Lvol* lvol = lvols_.at(blob).get();
  uint32_t cluster = take_free_cluster();
  if (cluster == UINT32_MAX) return settle_allocation(blob, index, -ENOSPC);
  uint32_t source = resolve(lvol, index);  // copy-on-write from the nearest ancestor, if any
  fill_clusters({{cluster, source}}, [this, blob, index, cluster](int rc) {
    auto it = lvols_.find(blob);
    if (rc != 0 || it == lvols_.end()) {
      return_cluster(cluster);
      return settle_allocation(blob, index, rc != 0 ? rc : -ENODEV);
    }
    Lvol* l = it->second.get();
    std::vector<uint64_t> pages;
    if (!set_cluster(l, index, cluster + 1, &pages, false)) {
      return_cluster(cluster);
      return settle_allocation(blob, index, -ENOSPC);
    }
    // Only once the mapping is durable does the I/O path see it.
    log_.commit(pages, [this, blob, index, cluster](int crc) {
      auto found = lvols_.find(blob);
      if (crc == 0 && found != lvols_.end()) found->second->map->set(index, cluster + 1);
      settle_allocation(blob, index, crc);
    });
  });
}

// ------------------------------------------------------------------ lvol operations

void LvolStore::create_lvol(std::string name, uint64_t size_bytes, bool thin, std::function<void(Status, Lvol*)> done) {
  if (closing_) return done(Status::error(-ENODEV, "pool " + this->name() + " is closing"), nullptr);
  Status st = check_name(name);
  if (!st.is_ok()) return done(st, nullptr);
  if (size_bytes == 0) return done(Status::error(-EINVAL, "lvol size must be greater than zero"), nullptr);
  uint64_t clusters = div_up(size_bytes, cluster_size());
  // One blob page lists the extent pages: that bounds an lvol's size.
  uint64_t extents = div_up(clusters, kExtentEntries);
  if (72 + 4 * extents + 256 > kCrcOffset)
    return done(Status::error(-EINVAL, "lvol size " + std::to_string(size_bytes) + " is larger than one lvol can be"), nullptr);
  if (!thin && clusters > log_.superblock().total_clusters - used_clusters_)
    return done(Status::error(-ENOSPC, "pool " + this->name() + " has " +
                                           std::to_string((log_.superblock().total_clusters - used_clusters_) * cluster_size()) +
                                           " bytes free; a thick lvol of " + std::to_string(clusters * cluster_size()) +
                                           " bytes does not fit"),
                nullptr);
  uint64_t id = log_.reserve_page();
  if (id == UINT64_MAX) return done(Status::error(-ENOSPC, "the metadata region of pool " + this->name() + " is full"), nullptr);
  auto lvol = std::make_unique<Lvol>();
  lvol->rec.id = id;
  lvol->rec.thin = thin;
  lvol->rec.size_clusters = clusters;
  lvol->rec.name = name;
  lvol->rec.uuid = Uuid::random_v4();
  lvol->map = std::make_shared<ClusterMap>(clusters);
  std::vector<std::pair<uint32_t, uint32_t>> fills;
  std::vector<uint64_t> pages;
  Lvol* raw = lvol.get();
  lvols_[id] = std::move(lvol);
  if (!thin) {
    for (uint64_t i = 0; i < clusters; ++i) {
      uint32_t c = take_free_cluster();
      if (c == UINT32_MAX || !set_cluster(raw, i, c + 1, &pages, true)) {
        if (c != UINT32_MAX) return_cluster(c);
        discard_new_lvol(raw, fills);
        return done(Status::error(-ENOSPC, "pool " + this->name() + " ran out of space or metadata"), nullptr);
      }
      fills.emplace_back(c, 0);
    }
  }
  write_blob_page(raw, &pages);
  // Thick clusters are zeroed before the lvol exists, so it never shows old data.
  fill_clusters(fills, [this, raw, pages, fills, done](int rc) {
    if (rc != 0) {
      discard_new_lvol(raw, fills);
      return done(Status::error(rc, "cannot zero the new lvol's clusters"), nullptr);
    }
    log_.commit(pages, [this, raw, done](int crc) {
      if (crc != 0) return done(Status::error(crc, "cannot write the pool's metadata"), nullptr);
      Status registered = register_bdev(raw);
      done(registered, registered.is_ok() ? raw : nullptr);
    });
  });
}

void LvolStore::discard_new_lvol(Lvol* lvol, const std::vector<std::pair<uint32_t, uint32_t>>& fills) {
  // Nothing of it was committed: give back its clusters, extent pages and blob page.
  for (auto& f : fills) return_cluster(f.first);
  for (uint32_t page : lvol->rec.extent_pages)
    if (page != kNoPage) log_.release(page);
  uint64_t id = lvol->rec.id;
  log_.release(id);
  lvols_.erase(id);
}

void LvolStore::freeze(Lvol* lvol, std::function<void()> then) { lvol->bdev->freeze(std::move(then)); }

void LvolStore::unfreeze(Lvol* lvol) { lvol->bdev->unfreeze(); }

void LvolStore::snapshot(Lvol* origin, std::string name, std::function<void(Status, Lvol*)> done) {
  if (origin->rec.read_only) return done(Status::error(-EINVAL, "lvol " + origin->rec.name + " is already a snapshot"), nullptr);
  if (origin->busy) return done(Status::error(-EBUSY, "lvol " + origin->rec.name + " is busy"), nullptr);
  Status st = check_name(name);
  if (!st.is_ok()) return done(st, nullptr);
  uint64_t id = log_.reserve_page();
  if (id == UINT64_MAX) return done(Status::error(-ENOSPC, "the metadata region of pool " + this->name() + " is full"), nullptr);
  origin->busy = true;
  // The snapshot takes the origin's clusters as they are; the origin continues as an
  // empty thin child of it. I/O to the origin pauses only while the two switch.
  freeze(origin, [this, origin, id, name, done] {
    auto snap = std::make_unique<Lvol>();
    snap->rec = origin->rec;
    snap->rec.id = id;
    snap->rec.name = name;
    snap->rec.uuid = Uuid::random_v4();
    snap->rec.read_only = true;
    snap->rec.properties.clear();
    snap->map = origin->map;
    std::vector<uint64_t> pages;
    for (uint32_t page : snap->rec.extent_pages) {
      if (page == kNoPage) continue;
      patch_owner(log_.writable(page), id);
      pages.push_back(page);
    }
    Lvol* s = snap.get();
    auto old_parent = lvols_.find(origin->rec.parent);
    if (old_parent != lvols_.end()) {
      old_parent->second->children.erase(origin->rec.id);
      old_parent->second->children.insert(id);
    }
    s->children.insert(origin->rec.id);
    origin->rec.extent_pages.clear();
    origin->rec.parent = id;
    origin->rec.thin = true;
    origin->map = std::make_shared<ClusterMap>(origin->rec.size_clusters);
    lvols_[id] = std::move(snap);
    write_blob_page(s, &pages);
    write_blob_page(origin, &pages);
    log_.commit(pages, [this, origin, s, done](int rc) {
      Status result = rc == 0 ? register_bdev(s) : Status::error(rc, "cannot write the pool's metadata");
      if (result.is_ok()) origin->bdev->set_view(make_view(origin));
      unfreeze(origin);
      origin->busy = false;
      done(result, result.is_ok() ? s : nullptr);
    });
  });
}

void LvolStore::clone(Lvol* snapshot, std::string name, std::function<void(Status, Lvol*)> done) {
  if (!snapshot->rec.read_only)
    return done(Status::error(-EINVAL, "lvol " + snapshot->rec.name + " is not a snapshot: snapshot it first"), nullptr);
  Status st = check_name(name);
  if (!st.is_ok()) return done(st, nullptr);
  uint64_t id = log_.reserve_page();
  if (id == UINT64_MAX) return done(Status::error(-ENOSPC, "the metadata region of pool " + this->name() + " is full"), nullptr);
  auto clone = std::make_unique<Lvol>();
  clone->rec.id = id;
  clone->rec.thin = true;
  clone->rec.size_clusters = snapshot->rec.size_clusters;
  clone->rec.parent = snapshot->rec.id;
  clone->rec.name = name;
  clone->rec.uuid = Uuid::random_v4();
  clone->map = std::make_shared<ClusterMap>(clone->rec.size_clusters);
  Lvol* c = clone.get();
  lvols_[id] = std::move(clone);
  snapshot->children.insert(id);
  std::vector<uint64_t> pages;
  write_blob_page(c, &pages);
  log_.commit(pages, [this, c, done](int rc) {
    Status result = rc == 0 ? register_bdev(c) : Status::error(rc, "cannot write the pool's metadata");
    done(result, result.is_ok() ? c : nullptr);
  });
}

void LvolStore::set_property(Lvol* lvol, std::string key, std::string value, std::function<void(Status)> done) {
  if (key.empty() || key.size() > 255 || value.size() > 1024)
    return done(Status::error(-EINVAL, "property keys are 1-255 bytes and values at most 1024"));
  auto previous = lvol->rec.properties;
  lvol->rec.properties[key] = value;
  if (lvol->rec.encoded_size() > kCrcOffset) {
    lvol->rec.properties = previous;
    return done(Status::error(-ENOSPC, "the properties of lvol " + lvol->rec.name + " do not fit in its metadata page"));
  }
  std::vector<uint64_t> pages;
  write_blob_page(lvol, &pages);
  log_.commit(pages, [done](int rc) { done(rc == 0 ? Status::ok() : Status::error(rc, "cannot write the pool's metadata")); });
}

void LvolStore::resize(Lvol* lvol, uint64_t size_bytes, std::function<void(Status)> done) {
  if (lvol->rec.read_only) return done(Status::error(-EROFS, "snapshot " + lvol->rec.name + " cannot be resized"));
  if (lvol->busy) return done(Status::error(-EBUSY, "lvol " + lvol->rec.name + " is busy"));
  if (size_bytes == 0) return done(Status::error(-EINVAL, "lvol size must be greater than zero"));
  uint64_t clusters = div_up(size_bytes, cluster_size());
  if (72 + 4 * div_up(clusters, kExtentEntries) + 256 > kCrcOffset)
    return done(Status::error(-EINVAL, "lvol size " + std::to_string(size_bytes) + " is larger than one lvol can be"));
  uint64_t old_clusters = lvol->rec.size_clusters;
  // Growing under a consumer is safe (it keeps using the blocks it knew); shrinking would
  // take blocks from under it.
  if (size_bytes < lvol->bdev->size_bytes()) {
    Status claimed = check_unclaimed(lvol, "shrunk");
    if (!claimed.is_ok()) return done(claimed);
  }
  if (!lvol->rec.thin && clusters > old_clusters &&
      clusters - old_clusters > log_.superblock().total_clusters - used_clusters_)
    return done(Status::error(-ENOSPC, "pool " + name() + " has no room to grow thick lvol " + lvol->rec.name));
  lvol->busy = true;
  freeze(lvol, [this, lvol, clusters, old_clusters, done] {
    auto finish = [this, lvol](Status st, std::function<void(Status)> cb) {
      lvol->busy = false;
      unfreeze(lvol);
      cb(st);
    };
    std::vector<uint64_t> pages;
    std::vector<uint32_t> freed;
    std::vector<std::pair<uint32_t, uint32_t>> fills;
    auto map = std::make_shared<ClusterMap>(clusters);
    for (uint64_t i = 0; i < std::min(clusters, old_clusters); ++i) map->set(i, lvol->map->get(i));
    if (clusters < old_clusters) {
      for (uint64_t i = clusters; i < old_clusters; ++i) {
        uint32_t value = cluster_of(lvol, i);
        if (!value) continue;
        freed.push_back(value - 1);
        set_cluster(lvol, i, 0, &pages, false);
      }
      // Extent pages wholly past the end go.
      uint64_t keep = div_up(clusters, kExtentEntries);
      for (uint64_t k = keep; k < lvol->rec.extent_pages.size(); ++k) {
        uint32_t page = lvol->rec.extent_pages[k];
        if (page == kNoPage) continue;
        log_.release(page);
        pages.push_back(page);
      }
      if (lvol->rec.extent_pages.size() > keep) lvol->rec.extent_pages.resize(keep);
    } else if (!lvol->rec.thin) {
      for (uint64_t i = old_clusters; i < clusters; ++i) {
        uint32_t c = take_free_cluster();
        if (c == UINT32_MAX || !set_cluster(lvol, i, c + 1, &pages, false)) {
          if (c != UINT32_MAX) return_cluster(c);
          for (auto& f : fills) return_cluster(f.first);
          return finish(Status::error(-ENOSPC, "pool " + name() + " ran out of space or metadata"), done);
        }
        map->set(i, c + 1);
        fills.emplace_back(c, 0);
      }
    }
    lvol->rec.size_clusters = clusters;
    write_blob_page(lvol, &pages);
    fill_clusters(fills, [this, lvol, map, pages, freed, finish, done](int rc) {
      if (rc != 0) return finish(Status::error(rc, "cannot zero the new clusters"), done);
      log_.commit(pages, [this, lvol, map, freed, finish, done](int crc) {
        if (crc != 0) return finish(Status::error(crc, "cannot write the pool's metadata"), done);
        // Freed clusters become reusable only now that no durable metadata names them.
        for (uint32_t c : freed) return_cluster(c);
        lvol->map = map;
        lvol->bdev->set_view(make_view(lvol));
        finish(Status::ok(), done);
      });
    });
  });
}

void LvolStore::inflate(Lvol* lvol, std::function<void(Status)> done) { copy_down(lvol, UINT64_MAX, std::move(done)); }

void LvolStore::decouple_parent(Lvol* lvol, std::function<void(Status)> done) { copy_down(lvol, 1, std::move(done)); }

void LvolStore::copy_down(Lvol* lvol, uint64_t levels, std::function<void(Status)> done) {
  if (lvol->rec.read_only) return done(Status::error(-EROFS, "snapshot " + lvol->rec.name + " cannot be changed"));
  if (lvol->busy) return done(Status::error(-EBUSY, "lvol " + lvol->rec.name + " is busy"));
  bool inflate = levels == UINT64_MAX;
  if (lvol->rec.parent == kNoBlob) {
    if (!inflate) return done(Status::error(-EINVAL, "lvol " + lvol->rec.name + " has no parent"));
  }
  lvol->busy = true;
  const uint64_t blob = lvol->rec.id;
  struct Walk {
    uint64_t next = 0;
    std::function<void(Status)> done;
  };
  auto walk = std::make_shared<Walk>();
  walk->done = std::move(done);
  auto step_holder = std::make_shared<std::function<void()>>();
  std::weak_ptr<std::function<void()>> weak_step = step_holder;
  // Batches of clusters: each batch is filled (copy from the chain, or zeroes when
  // inflating), committed, then published, so a crash leaves a consistent, partly copied
  // lvol. Writes that race for the same cluster wait on the batch's allocation.
  *step_holder = [this, blob, inflate, walk, weak_step] {
    auto step = weak_step.lock();  // held strongly by whoever called this step
    auto it = lvols_.find(blob);
    if (it == lvols_.end() || closing_) {
      return walk->done(Status::error(-ENODEV, "the lvol went away"));
    }
    Lvol* l = it->second.get();
    const Lvol* parent = lvols_.count(l->rec.parent) ? lvols_.at(l->rec.parent).get() : nullptr;
    std::vector<std::pair<uint32_t, uint32_t>> fills;
    std::vector<uint64_t> indexes;
    while (walk->next < l->rec.size_clusters && fills.size() < kCopyBatch) {
      uint64_t i = walk->next++;
      if (l->map->get(i) || allocating_.count({blob, i})) continue;
      uint32_t source = inflate ? resolve(l, i) : (parent && i < parent->rec.size_clusters ? cluster_of(parent, i) : 0);
      if (!inflate && !source) continue;  // decouple copies only what the parent itself holds
      uint32_t c = take_free_cluster();
      if (c == UINT32_MAX) {
        for (auto& f : fills) return_cluster(f.first);
        for (uint64_t idx : indexes) settle_allocation(blob, idx, -ENOSPC);
        l->busy = false;
        return walk->done(Status::error(-ENOSPC, "pool " + name() + " ran out of space"));
      }
      allocating_[{blob, i}];  // writes to this cluster now wait for us
      fills.emplace_back(c, source);
      indexes.push_back(i);
    }
    if (fills.empty()) {
      // Every cluster copied: now drop the parent link while the lvol is frozen.
      return freeze(l, [this, l, inflate, walk] {
        auto old_parent = lvols_.find(l->rec.parent);
        uint64_t new_parent = kNoBlob;
        if (old_parent != lvols_.end()) {
          old_parent->second->children.erase(l->rec.id);
          if (!inflate) new_parent = old_parent->second->rec.parent;
        }
        l->rec.parent = new_parent;
        if (new_parent != kNoBlob) lvols_.at(new_parent)->children.insert(l->rec.id);
        if (inflate) l->rec.thin = false;
        std::vector<uint64_t> pages;
        write_blob_page(l, &pages);
        log_.commit(pages, [this, l, walk](int rc) {
          if (rc == 0) l->bdev->set_view(make_view(l));
          unfreeze(l);
          l->busy = false;
          walk->done(rc == 0 ? Status::ok() : Status::error(rc, "cannot write the pool's metadata"));
        });
      });
    }
    fill_clusters(fills, [this, blob, fills, indexes, step, walk](int rc) {
      auto found = lvols_.find(blob);
      if (rc != 0 || found == lvols_.end()) {
        for (auto& f : fills) return_cluster(f.first);
        for (uint64_t idx : indexes) settle_allocation(blob, idx, rc ? rc : -ENODEV);
        if (found != lvols_.end()) found->second->busy = false;
        return walk->done(Status::error(rc ? rc : -ENODEV, "cannot copy clusters"));
      }
      Lvol* target = found->second.get();
      std::vector<uint64_t> pages;
      for (size_t k = 0; k < fills.size(); ++k) set_cluster(target, indexes[k], fills[k].first + 1, &pages, false);
      log_.commit(pages, [this, blob, fills, indexes, step, walk](int crc) {
        auto again = lvols_.find(blob);
        if (crc == 0 && again != lvols_.end())
          for (size_t k = 0; k < fills.size(); ++k) again->second->map->set(indexes[k], fills[k].first + 1);
        for (uint64_t idx : indexes) settle_allocation(blob, idx, crc);
        if (crc != 0) {
          return walk->done(Status::error(crc, "cannot write the pool's metadata"));
        }
        (*step)();
      });
    });
  };
  (*step_holder)();
}

Status LvolStore::check_destroyable(const Lvol* lvol) const {
  Status claimed = check_unclaimed(lvol, "destroyed");
  if (!claimed.is_ok()) return claimed;
  if (!lvol->children.empty()) {
    // Name what depends on it: after a snapshot its origin reads through it too, so a
    // count of "clones" would count the origin as one.
    std::string names;
    for (uint64_t child : lvol->children) {
      auto it = lvols_.find(child);
      if (it == lvols_.end()) continue;
      names += (names.empty() ? "" : ", ") + it->second->rec.name;
    }
    return Status::error(-EBUSY, "snapshot " + lvol->rec.name + " is the parent of " + names +
                                     ": destroy them or decouple them from it first");
  }
  if (lvol->busy) return Status::error(-EBUSY, "lvol " + lvol->rec.name + " is busy");
  return Status::ok();
}

void LvolStore::destroy_lvol(Lvol* lvol, std::function<void(Status)> done) {
  Status refused = check_destroyable(lvol);
  if (!refused.is_ok()) return done(refused);
  lvol->busy = true;
  const uint64_t id = lvol->rec.id;
  std::string bdev_name = lvol->bdev->name();
  bdevs().remove_owned(bdev_name, [this, id, done](Status st) {
    Lvol* l = lvols_.at(id).get();
    if (!st.is_ok()) {
      l->busy = false;
      return done(st);
    }
    l->bdev = nullptr;
    std::vector<uint64_t> pages{id};
    std::vector<uint32_t> freed;
    for (uint32_t page : l->rec.extent_pages) {
      if (page == kNoPage) continue;
      pages.push_back(page);
    }
    for (uint64_t i = 0; i < l->rec.size_clusters; ++i)
      if (uint32_t v = cluster_of(l, i)) freed.push_back(v - 1);
    for (uint64_t page : pages) log_.release(page);  // free pages are logged as zeroes
    auto parent = lvols_.find(l->rec.parent);
    if (parent != lvols_.end()) parent->second->children.erase(id);
    lvols_.erase(id);
    log_.commit(pages, [this, freed, done](int rc) {
      if (rc == 0)
        for (uint32_t c : freed) return_cluster(c);
      done(rc == 0 ? Status::ok() : Status::error(rc, "cannot write the pool's metadata"));
    });
  });
}

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
