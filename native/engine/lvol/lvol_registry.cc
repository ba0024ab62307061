// The pools of one engine: creating a pool on a disk, importing one, and exporting all.
#include "lvol/lvol_store.h"

#include <algorithm>
#include <cstring>

#include "lvol/store_internal.h"
#include "thread/thread.h"

namespace nds::lvs {

using namespace detail;

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
    lay_out_pool(sb, disk_bytes, kLogPages);
    if (sb.total_clusters == 0) {
      opening_.erase(name);
      return fail_created(desc, Status::error(-ENOSPC, "disk " + desc->bdev->name() + " (" + std::to_string(disk_bytes) +
                                                            " bytes) is too small for a pool: metadata needs " +
                                                            std::to_string(sb.data_start) + " bytes plus one cluster"),
                          done);
    }
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
      int best_slot = 0;
      bool any_magic = false;
      for (int slot = 0; slot < 2; ++slot) {
        Page p;
        std::memcpy(p.data(), buf.get() + slot * kPageSize, kPageSize);
        bool valid = false;
        auto sb = Superblock::decode(p, &valid);
        if (!sb) continue;
        any_magic = true;
        if (valid && (!best || sb->generation > best->generation)) {
          best = sb;
          best_slot = slot;
        }
      }
      if (!any_magic) return give_up(Status::error(-ENOENT, "no pool (lvol store) on disk " + disk_name));
      if (!best) return give_up(Status::error(-EIO, "both superblocks of the pool on " + disk_name + " are damaged"));
      if (std::string why = best->layout_error(desc->bdev->size_bytes()); !why.empty())
        return give_up(Status::error(-EIO, "the superblock (page " + std::to_string(best_slot) + ") of the pool on " + disk_name + " is damaged: " + why));
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

}  // namespace nds::lvs
