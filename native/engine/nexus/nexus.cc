// The nexus on the app thread: its bdev face, children and their states, channel
// configuration and range locks. Rebuild control is nexus_rebuild.cc, persistence and
// events nexus_persist.cc.
#include "nexus/nexus.h"

#include <bit>

#include "thread/io_device.h"

namespace nds::nexus {

namespace {
NexusChannel* nexus_channel(IoChannel* ch) {
  return static_cast<NexusChannel*>(static_cast<BdevChannel*>(ch->ctx)->module.get());
}
}  // namespace

Nexus::Nexus(std::string name, Uuid uuid, uint32_t block_size, uint64_t num_blocks, BdevManager& manager, Thread* app,
             RebuildOptions rebuild, IoOptions io, PersistHook persist, EventSink events)
    : Bdev(std::move(name), uuid, block_size, num_blocks),
      manager_(manager),
      app_(app),
      rebuild_options_(rebuild),
      io_options_(io),
      segment_blocks_(std::max<uint64_t>(1, rebuild.segment_bytes / block_size)),
      persist_hook_(std::move(persist)),
      events_(std::move(events)) {
  config_ = std::make_shared<ChannelConfig>();
}

Nexus::~Nexus() = default;

bool Nexus::io_type_supported(IoType type) const {
  switch (type) {
    case IoType::Read:
    case IoType::Write:
    case IoType::Flush:
    case IoType::Reset: return true;
    case IoType::Unmap:
    case IoType::WriteZeroes:
      // Only when every child can: a child that cannot would silently miss the change.
      for (const auto& child : children_)
        if (child->desc && !child->desc->bdev->io_type_supported(type)) return false;
      return true;
  }
  return false;
}

std::unique_ptr<ModuleChannel> Nexus::create_channel() {
  std::shared_ptr<const ChannelConfig> config;
  std::vector<RangeLock*> locks;
  snapshot_for_channel(&config, &locks);
  return std::make_unique<NexusChannel>(this, std::move(config), locks);
}

void Nexus::submit(ModuleChannel* channel, BdevIo* io) { static_cast<NexusChannel*>(channel)->submit(io); }

void Nexus::snapshot_for_channel(std::shared_ptr<const ChannelConfig>* config, std::vector<RangeLock*>* locks) {
  std::lock_guard<std::mutex> lock(channel_state_mutex_);
  *config = config_;
  *locks = locks_;
}

void Nexus::destruct(std::function<void()> done) {
  // Every channel is gone: close the children, newest first, then report.
  auto step = std::make_shared<std::function<void()>>();
  *step = [this, step, done = std::move(done)] {
    if (children_.empty()) {
      done();
      *step = nullptr;  // break the cycle
      return;
    }
    std::unique_ptr<NexusChild> child = std::move(children_.back());
    children_.pop_back();
    BdevDesc* desc = child->desc;
    bool owned = child->owned;
    if (!desc) return (*step)();
    close_child_bdev(manager_, desc, owned, [step] { (*step)(); });
  };
  (*step)();
}

// ---------------------------------------------------------------- children

void Nexus::adopt_initial_child(const std::string& uri, BdevDesc* desc, bool owned) {
  auto child = std::make_unique<NexusChild>();
  child->id = free_child_id();
  child->uri = uri;
  child->bdev_name = desc->bdev->name();
  child->desc = desc;
  child->owned = owned;
  child->log = std::make_unique<SegmentLog>(num_blocks(), segment_blocks_);
  children_.push_back(std::move(child));
}

void Nexus::start(std::function<void(Status)> done) {
  update_state();
  reconfigure();
  persist(false, std::move(done));
}

NexusChild* Nexus::find_child(const std::string& uri) const {
  for (const auto& child : children_)
    if (child->uri == uri) return child.get();
  return nullptr;
}

NexusChild* Nexus::child_by_id(uint32_t id) const {
  for (const auto& child : children_)
    if (child->id == id) return child.get();
  return nullptr;
}

size_t Nexus::healthy_children() const {
  size_t n = 0;
  for (const auto& child : children_) n += child->healthy() ? 1 : 0;
  return n;
}

uint32_t Nexus::free_child_id() const {
  for (uint32_t id = 0; id < kMaxChildren; ++id)
    if (!child_by_id(id)) return id;
  return kMaxChildren;
}

Status Nexus::check_not_last_healthy(const NexusChild& child, const char* verb) const {
  if (child.healthy() && healthy_children() == 1)
    return Status::error(-EBUSY, "child " + child.uri + " is the last healthy child of nexus " + name() + ": it cannot be " + verb);
  return Status::ok();
}

void Nexus::add_child(const std::string& uri, bool rebuild, std::function<void(Status)> done) {
  if (!accepting_) return done(Status::error(-EBUSY, "nexus " + name() + " is shutting down"));
  if (find_child(uri)) return done(Status::error(-EEXIST, "child " + uri + " is already in nexus " + name()));
  if (free_child_id() == kMaxChildren)
    return done(Status::error(-EINVAL, "nexus " + name() + " already has " + std::to_string(kMaxChildren) + " children"));
  open_child_bdev(manager_, uri, "nexus " + name(), [this, uri, rebuild, done = std::move(done)](Status st, BdevDesc* desc, bool owned) {
    if (!st.is_ok()) return done(st);
    Status bad = check_fits(uri, *desc->bdev);
    if (bad.is_ok() && find_child(uri))
      bad = Status::error(-EEXIST, "child " + uri + " is already in nexus " + name());
    if (!bad.is_ok()) return close_child_bdev(manager_, desc, owned, [done, bad] { done(bad); });
    adopt_initial_child(uri, desc, owned);
    NexusChild* child = children_.back().get();
    child->sync = SyncState::OutOfSync;
    child->needs_full_rebuild = true;
    update_state();
    emit_child(*child);
    persist(false, [this, uri, rebuild, done](Status) {
      NexusChild* c = find_child(uri);
      // Resolves once the rebuild job runs, so pause/stop right after addChild find it.
      if (c && rebuild && !c->rebuild) return start_rebuild(c, false, [done] { done(Status::ok()); });
      done(Status::ok());
    });
  });
}

void Nexus::remove_child(const std::string& uri, std::function<void(Status)> done) {
  NexusChild* child = find_child(uri);
  if (!child) return done(Status::error(-ENOENT, "child " + uri + " is not in nexus " + name()));
  Status st = check_not_last_healthy(*child, "removed");
  if (!st.is_ok()) return done(st);
  // Out of every channel first, then closed once no channel holds it.
  child->state = ChildState::Closed;
  child->reason = FaultReason::None;
  child->receiving_writes = false;
  if (child->rebuild) child->rebuild->stop(false, "the child was removed");
  // Rebuilds copying from it carry on from another source; other rebuilds are not waited for.
  for (const auto& c : children_)
    if (c.get() != child && c->rebuild && c->rebuild->source() == child->desc)
      c->rebuild->source_lost("the source " + child->uri + " was removed");
  uint32_t id = child->id;
  when_no_rebuild_uses(id, [this, id, done = std::move(done)]() mutable {
    if (!child_by_id(id)) return done(Status::ok());
    reconfigure([this, id, done = std::move(done)]() mutable {
      wait_child_released(id, [this, id, done = std::move(done)]() mutable {
        auto it = std::find_if(children_.begin(), children_.end(), [id](const auto& each) { return each->id == id; });
        if (it == children_.end()) return done(Status::ok());
        std::unique_ptr<NexusChild> gone = std::move(*it);
        children_.erase(it);
        auto removed = [this, uri = gone->uri, done = std::move(done)]() mutable {
          update_state();
          emit(EventKind::Child, uri, "Removed");
          persist(false, [done = std::move(done)](Status) { done(Status::ok()); });
        };
        if (!gone->desc) return removed();  // between two bdevs of a reconnect
        close_child_bdev(manager_, gone->desc, gone->owned, std::move(removed));
      });
    });
  });
}

void Nexus::fault_child(const std::string& uri, std::function<void(Status)> done) {
  NexusChild* child = find_child(uri);
  if (!child) return done(Status::error(-ENOENT, "child " + uri + " is not in nexus " + name()));
  Status st = check_not_last_healthy(*child, "faulted");
  if (!st.is_ok()) return done(st);
  if (child->state == ChildState::Faulted) return done(Status::ok());
  take_out(child, ChildState::Faulted, FaultReason::AdminCommand, [done] { done(Status::ok()); });
}

void Nexus::offline_child(const std::string& uri, std::function<void(Status)> done) {
  NexusChild* child = find_child(uri);
  if (!child) return done(Status::error(-ENOENT, "child " + uri + " is not in nexus " + name()));
  Status st = check_not_last_healthy(*child, "taken offline");
  if (!st.is_ok()) return done(st);
  if (child->state == ChildState::Closed) return done(Status::ok());
  take_out(child, ChildState::Closed, FaultReason::Offline, [done] { done(Status::ok()); });
}

void Nexus::online_child(const std::string& uri, std::function<void(Status)> done) {
  NexusChild* child = find_child(uri);
  if (!child) return done(Status::error(-ENOENT, "child " + uri + " is not in nexus " + name()));
  if (!accepting_) return done(Status::error(-EBUSY, "nexus " + name() + " is shutting down"));
  if (child->healthy()) return done(Status::error(-EINVAL, "child " + uri + " is already online and in sync"));
  if (child->rebuild) return done(Status::error(-EBUSY, "child " + uri + " is being rebuilt"));
  if (child->reconnecting) return done(Status::error(-EBUSY, "child " + uri + " is being reconnected"));
  if (!child->desc || child->gone()) return reconnect_child(child, std::move(done));
  start_rebuild(child, true, [done = std::move(done)] { done(Status::ok()); });
}

void Nexus::reconnect_child(NexusChild* child, std::function<void(Status)> done) {
  if (!child->owned)
    return done(Status::error(-ENODEV, "the bdev of child " + child->uri + " is gone (" + (child->desc ? child->desc->bdev->health().describe() : "let go") +
                                           "); it is not the nexus's own, so bring bdev " + child->bdev_name +
                                           " back, then remove the child and add it again"));
  child->reconnecting = true;
  BdevDesc* old = child->desc;
  child->desc = nullptr;  // channels let go of it; its log goes on noting missed writes
  uint32_t id = child->id;
  reconfigure([this, id, old, done = std::move(done)]() mutable {
    wait_child_released(id, [this, id, old, done = std::move(done)]() mutable {
      if (!old) return reopen_child(id, std::move(done));
      close_child_bdev(manager_, old, true, [this, id, done = std::move(done)]() mutable { reopen_child(id, std::move(done)); });
    });
  });
}

void Nexus::reopen_child(uint32_t child_id, std::function<void(Status)> done) {
  NexusChild* child = child_by_id(child_id);
  if (!child) return done(Status::error(-ENOENT, "the child was removed while it was reconnected"));
  open_child_bdev(manager_, child->uri, "nexus " + name(),
                  [this, child_id, done = std::move(done)](Status st, BdevDesc* desc, bool owned) mutable {
    NexusChild* c = child_by_id(child_id);
    if (!c) {
      if (st.is_ok()) close_child_bdev(manager_, desc, owned, [] {});
      return done(Status::error(-ENOENT, "the child was removed while it was reconnected"));
    }
    c->reconnecting = false;
    if (!st.is_ok()) return done(Status::error(st.rc, "cannot connect child " + c->uri + " again: " + st.message));
    Status fits = check_fits(c->uri, *desc->bdev);
    if (!fits.is_ok()) return close_child_bdev(manager_, desc, owned, [done, fits] { done(fits); });
    c->desc = desc;
    c->owned = owned;
    c->bdev_name = desc->bdev->name();
    emit(EventKind::Child, c->uri, "Reconnected");
    reconfigure([this, child_id, done = std::move(done)]() mutable {
      NexusChild* again = child_by_id(child_id);
      if (!again || again->rebuild || again->healthy()) return done(Status::ok());
      start_rebuild(again, true, [done = std::move(done)] { done(Status::ok()); });
    });
  });
}

Status Nexus::check_fits(const std::string& uri, const Bdev& bdev) const {
  if (bdev.block_size() != block_size())
    return Status::error(-EINVAL, "child " + uri + " has " + std::to_string(bdev.block_size()) + "-byte blocks; nexus " +
                                      name() + " has " + std::to_string(block_size()));
  if (bdev.size_bytes() < size_bytes())
    return Status::error(-EINVAL, "child " + uri + " (" + std::to_string(bdev.size_bytes()) +
                                      " bytes) is smaller than nexus " + name() + " (" + std::to_string(size_bytes()) + " bytes)");
  return Status::ok();
}

// ---------------------------------------------------------------- faults

void Nexus::report_child_error(uint32_t child_id, int status) {
  app_->send([this, child_id, status] { on_child_error(child_id, status); });
}

void Nexus::on_child_error(uint32_t child_id, int status) {
  NexusChild* child = child_by_id(child_id);
  if (!child || !child->writable()) return reconfigure();  // already out: the visit releases what waits
  if (child->healthy() && healthy_children() == 1) {
    // The last healthy child stays: what it failed fails, and channels use it again.
    for_each_channel(this, [child_id](IoChannel* ch) { nexus_channel(ch)->refuse_fault(child_id); }, [] {});
    return;
  }
  take_out(child, ChildState::Faulted, child->gone() ? FaultReason::Gone : fault_reason_for_errno(status), [] {});
}

void Nexus::take_out(NexusChild* child, ChildState state, FaultReason reason, std::function<void()> done) {
  child->state = state;
  child->reason = reason;
  child->sync = SyncState::OutOfSync;
  child->receiving_writes = false;
  if (!fault_reason_is_recoverable(reason)) child->needs_full_rebuild = true;
  const char* what = state == ChildState::Closed ? "taken offline" : "faulted";
  if (child->rebuild) child->rebuild->stop(true, std::string("the child was ") + what);
  // Rebuilds copying from this child carry on from another source (continue_rebuild).
  for (const auto& c : children_)
    if (c.get() != child && c->rebuild && c->rebuild->source() == child->desc)
      c->rebuild->source_lost("the source " + child->uri + " was " + what);
  update_state();
  emit_child(*child);
  uint32_t id = child->id;
  persist(false, [this, id, done = std::move(done)](Status st) mutable {
    if (!st.is_ok()) {
      // Not recorded: writes that only the other children took cannot be acknowledged.
      for_each_channel(this, [id](IoChannel* ch) { nexus_channel(ch)->refuse_fault(id); }, [] {});
    }
    reconfigure(std::move(done));
  });
}

// ---------------------------------------------------------------- channels

void Nexus::reconfigure(std::function<void()> done) {
  auto config = std::make_shared<ChannelConfig>();
  config->accepting = accepting_;
  config->striped_reads = io_options_.reads == ReadPolicy::Striped;
  config->least_loaded_reads = io_options_.reads == ReadPolicy::LeastLoaded;
  config->stripe_shift = static_cast<uint32_t>(std::countr_zero(segment_blocks_));
  for (const auto& child : children_) {
    if (child->state == ChildState::Closed && child->reason != FaultReason::Offline) continue;  // being removed
    config->children.push_back(ChildRoute{child->id, child->desc, child->log.get(), child->healthy(), child->writable()});
  }
  {
    std::lock_guard<std::mutex> lock(channel_state_mutex_);
    config->generation = ++generation_;
    config_ = config;
  }
  for_each_channel(this, [config](IoChannel* ch) { nexus_channel(ch)->apply(config); },
                   [done = std::move(done)] {
                     if (done) done();
                   });
}

void Nexus::lock_range(uint64_t start_blocks, uint64_t end_blocks, std::function<void(RangeLock*)> acquired) {
  auto* lock = new RangeLock(start_blocks, end_blocks, app_, nullptr);
  lock->on_acquired = [lock, acquired = std::move(acquired)] { acquired(lock); };
  {
    std::lock_guard<std::mutex> guard(channel_state_mutex_);
    locks_.push_back(lock);
  }
  for_each_channel(this, [lock](IoChannel* ch) { nexus_channel(ch)->add_lock(lock); }, [lock] { lock->release_one(); });
}

void Nexus::pause_writes(std::function<void(Status)> done) {
  if (!accepting_) return done(Status::error(-EBUSY, "nexus " + name() + " is shutting down"));
  if (write_pause_ || pausing_) return done(Status::error(-EBUSY, "nexus " + name() + " is already paused"));
  pausing_ = true;
  lock_range(0, num_blocks(), [this, done = std::move(done)](RangeLock* lock) {
    pausing_ = false;
    write_pause_ = lock;
    done(Status::ok());
  });
}

void Nexus::resume_writes(std::function<void(Status)> done) {
  if (!write_pause_) return done(Status::error(-EINVAL, "nexus " + name() + " is not paused"));
  RangeLock* lock = write_pause_;
  write_pause_ = nullptr;
  unlock_range(lock, [done = std::move(done)] { done(Status::ok()); });
}

void Nexus::grow(uint64_t size_bytes, std::function<void(Status)> done) {
  if (!accepting_) return done(Status::error(-EBUSY, "nexus " + name() + " is shutting down"));
  if (size_bytes % block_size() != 0)
    return done(Status::error(-EINVAL, "size " + std::to_string(size_bytes) + " is not a multiple of the block size " + std::to_string(block_size())));
  uint64_t blocks = size_bytes / block_size();
  if (blocks < num_blocks()) return done(Status::error(-EINVAL, "nexus " + name() + " cannot shrink"));
  if (blocks == num_blocks()) return done(Status::ok());
  // Children learn their own new size first (a remote namespace asks its target).
  auto pending = std::make_shared<size_t>(1);
  auto after = [this, size_bytes, pending, done = std::move(done)]() mutable {
    if (--*pending == 0) grow_checked(size_bytes, std::move(done));
  };
  for (const auto& child : children_) {
    if (!child->desc) continue;
    ++*pending;
    child->desc->bdev->refresh_size_async([after](Status) mutable { after(); });  // a failed refresh shows in the size check
  }
  after();
}

void Nexus::grow_checked(uint64_t size_bytes, std::function<void(Status)> done) {
  if (!accepting_) return done(Status::error(-EBUSY, "nexus " + name() + " is shutting down"));
  uint64_t blocks = size_bytes / block_size();
  for (const auto& child : children_) {
    if (child->desc && child->desc->bdev->size_bytes() < size_bytes)
      return done(Status::error(-EINVAL, "child " + child->uri + " has " + std::to_string(child->desc->bdev->size_bytes()) + " bytes; grow it first"));
  }
  if (write_pause_ || pausing_) return done(Status::error(-EBUSY, "nexus " + name() + " has its writes paused"));
  pausing_ = true;
  lock_range(0, num_blocks(), [this, blocks, done = std::move(done)](RangeLock* lock) mutable {
    pausing_ = false;
    for (const auto& child : children_) {
      if (child->rebuild)
        return unlock_range(lock, [this, uri = child->uri, done = std::move(done)] {
          done(Status::error(-EBUSY, "child " + uri + " of nexus " + name() + " is being rebuilt"));
        });
    }
    // Every log covers the new size; channels let go of the old ones at the reconfigure.
    auto retired = std::make_shared<std::vector<std::unique_ptr<SegmentLog>>>();
    for (const auto& child : children_) {
      if (!child->log) continue;
      auto bigger = child->log->grown(blocks);
      retired->push_back(std::move(child->log));
      child->log = std::move(bigger);
    }
    set_num_blocks(blocks);
    reconfigure([this, lock, retired, done = std::move(done)]() mutable {
      retired->clear();
      unlock_range(lock, [this, done = std::move(done)] {
        publish_status();
        done(Status::ok());
      });
    });
  });
}

void Nexus::unlock_range(RangeLock* lock, std::function<void()> done) {
  {
    std::lock_guard<std::mutex> guard(channel_state_mutex_);
    std::erase(locks_, lock);
  }
  for_each_channel(this, [lock](IoChannel* ch) { nexus_channel(ch)->remove_lock(lock); },
                   [lock, done = std::move(done)] {
                     delete lock;
                     done();
                   });
}

void Nexus::wait_channels(std::function<bool(IoChannel*)> busy, std::function<void()> done) {
  auto any = std::make_shared<bool>(false);
  for_each_channel(this, [busy, any](IoChannel* ch) { *any = *any || busy(ch); },
                   [this, busy, any, done = std::move(done)]() mutable {
                     if (!*any) return done();
                     // Something is still in flight somewhere: look again shortly.
                     app_->run_after(1'000'000, "nexus-wait:" + name(), [this, busy, done = std::move(done)]() mutable {
                       wait_channels(std::move(busy), std::move(done));
                     });
                   });
}

void Nexus::wait_child_released(uint32_t child_id, std::function<void()> done) {
  wait_channels([child_id](IoChannel* ch) { return nexus_channel(ch)->holds_child(child_id); }, std::move(done));
}

void Nexus::wait_io_drained(std::function<void()> done) {
  wait_channels([](IoChannel* ch) { return static_cast<BdevChannel*>(ch->ctx)->in_flight > 0; }, std::move(done));
}

// ---------------------------------------------------------------- state

void Nexus::update_state() {
  NexusState before = state_;
  if (state_ != NexusState::ShuttingDown && state_ != NexusState::Shutdown) {
    size_t healthy = healthy_children();
    state_ = healthy == 0 ? NexusState::Faulted : healthy == children_.size() ? NexusState::Online : NexusState::Degraded;
  }
  publish_status();
  if (state_ != before) emit(EventKind::State, "", nexus_state_name(state_));
}

NexusInfo Nexus::info() const {
  NexusInfo info;
  info.name = name();
  info.uuid = uuid().to_string();
  info.size_bytes = size_bytes();
  info.block_size = block_size();
  info.state = state_;
  for (const auto& child : children_) {
    ChildInfo c;
    c.uri = child->uri;
    c.bdev_name = child->bdev_name;
    c.state = child->state;
    c.reason = child->reason;
    c.sync = child->sync;
    c.rebuilding = child->rebuild && !child->rebuild->ended();
    if (child->rebuild) c.rebuild = child->rebuild->stats();
    info.children.push_back(std::move(c));
  }
  info.history = history_;
  return info;
}

void Nexus::publish_status() { board_->set(info()); }

void Nexus::emit(EventKind kind, const std::string& child_uri, std::string detail) {
  if (events_) events_(NexusEvent{kind, name(), child_uri, std::move(detail)});
}

void Nexus::emit_child(const NexusChild& child) {
  std::string detail = child_state_name(child.state);
  if (child.reason != FaultReason::None) detail += std::string(":") + fault_reason_name(child.reason);
  detail += std::string("/") + sync_state_name(child.sync);
  emit(EventKind::Child, child.uri, std::move(detail));
}

}  // namespace nds::nexus
