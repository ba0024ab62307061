// Lvol operations on the app thread: create, snapshot, clone, properties, resize, inflate,
// decouple and destroy.
#include "lvol/lvol_store.h"

#include <algorithm>
#include <cstring>

#include "lvol/lvol_bdev.h"
#include "lvol/store_internal.h"
#include "thread/thread.h"
#include "util/async_loop.h"

namespace nds::lvs {

using namespace detail;

void LvolStore::create_lvol(std::string name, uint64_t size_bytes, bool thin, std::function<void(Status, Lvol*)> done) {
  if (closing_) return done(Status::error(-ENODEV, "pool " + this->name() + " is closing"), nullptr);
  Status st = check_name(name);
  if (!st.is_ok()) return done(st, nullptr);
  if (size_bytes == 0) return done(Status::error(-EINVAL, "lvol size must be greater than zero"), nullptr);
  uint64_t clusters = div_up(size_bytes, cluster_size());
  // One blob page lists the extent pages: that bounds an lvol's size.
  uint64_t extents = div_up(clusters, kExtentEntries);
  if (!blob_record_fits(extents))
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
      patch_extent_owner(log_.writable(page), id);
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

void LvolStore::set_read_only(Lvol* lvol, std::function<void(Status)> done) {
  if (lvol->rec.read_only) return done(Status::ok());
  if (lvol->busy) return done(Status::error(-EBUSY, "lvol " + lvol->rec.name + " is busy"));
  lvol->rec.read_only = true;
  std::vector<uint64_t> pages;
  write_blob_page(lvol, &pages);
  const uint64_t blob = lvol->rec.id;
  log_.commit(pages, [this, blob, done](int rc) {
    auto it = lvols_.find(blob);
    if (it == lvols_.end()) return done(Status::error(-ENODEV, "the lvol went away"));
    Lvol* l = it->second.get();
    if (rc != 0) {
      l->rec.read_only = false;
      return done(Status::error(rc, "cannot write the pool's metadata"));
    }
    // Writes submitted from now on get EROFS; it may be cloned, as a snapshot may.
    l->bdev->set_view(make_view(l));
    done(Status::ok());
  });
}

void LvolStore::resize(Lvol* lvol, uint64_t size_bytes, std::function<void(Status)> done) {
  if (lvol->rec.read_only) return done(Status::error(-EROFS, "snapshot " + lvol->rec.name + " cannot be resized"));
  if (lvol->busy) return done(Status::error(-EBUSY, "lvol " + lvol->rec.name + " is busy"));
  if (size_bytes == 0) return done(Status::error(-EINVAL, "lvol size must be greater than zero"));
  uint64_t clusters = div_up(size_bytes, cluster_size());
  if (!blob_record_fits(div_up(clusters, kExtentEntries)))
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
  // Batches of clusters: each batch is filled (copy from the chain, or zeroes when
  // inflating), committed, then published, so a crash leaves a consistent, partly copied
  // lvol. Writes that race for the same cluster wait on the batch's allocation.
  async_loop([this, blob, inflate, walk](const auto& step) {
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
        step();
      });
    });
  });
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

}  // namespace nds::lvs
