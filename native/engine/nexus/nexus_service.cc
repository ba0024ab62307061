#include "nexus/nexus_service.h"

#include <set>

#include "util/uri.h"

namespace nds::nexus {

using Opened = std::vector<std::pair<BdevDesc*, bool>>;

void NexusService::create(const NexusOptions& options, std::function<void(Status, Nexus*)> done) {
  Status st = validate_bdev_name(options.name);
  if (!st.is_ok()) return done(st, nullptr);
  if (nexuses_.count(options.name)) return done(Status::error(-EEXIST, "nexus " + options.name + " already exists"), nullptr);
  if (manager_.find(options.name)) return done(Status::error(-EEXIST, "bdev " + options.name + " already exists"), nullptr);
  if (options.children.empty()) return done(Status::error(-EINVAL, "nexus " + options.name + " needs at least one child"), nullptr);
  if (options.children.size() > kMaxChildren)
    return done(Status::error(-EINVAL, "nexus " + options.name + " can have at most " + std::to_string(kMaxChildren) + " children"), nullptr);
  std::set<std::string> seen;
  for (const auto& uri : options.children)
    if (!seen.insert(uri).second) return done(Status::error(-EINVAL, "child " + uri + " is listed twice"), nullptr);
  open_children(std::make_shared<NexusOptions>(options), 0, std::make_shared<Opened>(), std::move(done));
}

void NexusService::close_opened(std::shared_ptr<Opened> opened, std::function<void()> done) {
  if (opened->empty()) return done();
  auto [desc, owned] = opened->back();
  opened->pop_back();
  close_child_bdev(manager_, desc, owned, [this, opened, done = std::move(done)]() mutable { close_opened(opened, std::move(done)); });
}

void NexusService::open_children(std::shared_ptr<NexusOptions> o, size_t next, std::shared_ptr<Opened> opened,
                                 std::function<void(Status, Nexus*)> done) {
  if (next < o->children.size()) {
    return open_child_bdev(manager_, o->children[next], "nexus " + o->name,
                           [this, o, next, opened, done = std::move(done)](Status st, BdevDesc* desc, bool owned) mutable {
                             if (!st.is_ok()) {
                               return close_opened(opened, [st, done = std::move(done)] { done(st, nullptr); });
                             }
                             opened->emplace_back(desc, owned);
                             open_children(o, next + 1, opened, std::move(done));
                           });
  }
  // Every child is open: check they fit together.
  uint32_t block_size = (*opened)[0].first->bdev->block_size();
  uint64_t smallest = UINT64_MAX;
  Status bad;
  for (size_t i = 0; i < opened->size(); ++i) {
    Bdev* bdev = (*opened)[i].first->bdev;
    smallest = std::min(smallest, bdev->size_bytes());
    if (bdev->block_size() != block_size)
      bad = Status::error(-EINVAL, "children of nexus " + o->name + " differ in block size (" + o->children[0] + ": " +
                                       std::to_string(block_size) + ", " + o->children[i] + ": " + std::to_string(bdev->block_size()) + ")");
  }
  uint64_t size = o->size_bytes ? o->size_bytes : smallest / block_size * block_size;
  if (bad.is_ok() && size % block_size != 0)
    bad = Status::error(-EINVAL, "size " + std::to_string(size) + " of nexus " + o->name + " is not a multiple of the block size " + std::to_string(block_size));
  if (bad.is_ok() && size > smallest)
    bad = Status::error(-EINVAL, "nexus " + o->name + " of " + std::to_string(size) + " bytes does not fit its smallest child (" + std::to_string(smallest) + " bytes)");
  if (bad.is_ok() && size == 0) bad = Status::error(-EINVAL, "nexus " + o->name + " would have no blocks");
  if (bad.is_ok() && o->rebuild.segment_bytes % block_size != 0)
    bad = Status::error(-EINVAL, "rebuild segment of " + std::to_string(o->rebuild.segment_bytes) + " bytes is not a multiple of the block size");
  if (bad.is_ok() && manager_.find(o->name)) bad = Status::error(-EEXIST, "bdev " + o->name + " already exists");
  if (bad.is_ok() && nexuses_.count(o->name)) bad = Status::error(-EEXIST, "nexus " + o->name + " already exists");
  if (!bad.is_ok()) return close_opened(opened, [bad, done = std::move(done)] { done(bad, nullptr); });

  PersistHook hook;
  if (o->persist && persist_) {
    std::string name = o->name;
    hook = [this, name](const PersistInfo& info, std::function<void(Status)> finished) { persist_(name, info, std::move(finished)); };
  }
  auto nexus = std::make_unique<Nexus>(o->name, o->uuid, block_size, size / block_size, manager_, app_, o->rebuild, o->io,
                                       std::move(hook), events_);
  for (size_t i = 0; i < opened->size(); ++i) nexus->adopt_initial_child(o->children[i], (*opened)[i].first, (*opened)[i].second);
  Nexus* raw = nexus.get();
  Status st = manager_.add(std::move(nexus));
  if (!st.is_ok()) return done(st, nullptr);  // cannot happen: the name was checked on this thread
  nexuses_[o->name] = raw;
  raw->start([this, raw, name = o->name, done = std::move(done)](Status persisted) mutable {
    if (persisted.is_ok()) return done(Status::ok(), raw);
    // Never serve a nexus whose children's health is not on record.
    Status why = Status::error(persisted.rc, "nexus " + name + " could not be persisted: " + persisted.message);
    destroy(name, [why, done = std::move(done)](Status) { done(why, nullptr); });
  });
}

Nexus* NexusService::find(const std::string& name) const {
  auto it = nexuses_.find(name);
  return it == nexuses_.end() ? nullptr : it->second;
}

std::vector<Nexus*> NexusService::list() const {
  std::vector<Nexus*> out;
  for (auto& [name, nexus] : nexuses_) out.push_back(nexus);
  return out;
}

void NexusService::destroy(const std::string& name, std::function<void(Status)> done) {
  Nexus* nexus = find(name);
  if (!nexus) return done(Status::error(-ENOENT, "nexus " + name + " does not exist"));
  // Checked first: a nexus still exported or held open is left running.
  Status st = manager_.check_removable(name);
  if (!st.is_ok()) return done(st);
  nexus->shutdown(nexus->state() != NexusState::Shutdown, [this, name, done = std::move(done)]() mutable {
    manager_.remove(name, [this, name, done = std::move(done)](Status removed) {
      if (removed.is_ok()) nexuses_.erase(name);
      done(removed);
    });
  });
}

void NexusService::destroy_all(std::function<void()> done) {
  if (nexuses_.empty()) return done();
  const std::string name = nexuses_.begin()->first;  // captured below: not a binding
  auto nexus = nexuses_.begin()->second;
  nexus->shutdown(false, [this, name, done = std::move(done)]() mutable {
    manager_.remove(name, [this, name, done = std::move(done)](Status) mutable {
      // Removed or not (still held), it is no longer served as a nexus.
      nexuses_.erase(name);
      destroy_all(std::move(done));
    });
  });
}

}  // namespace nds::nexus
