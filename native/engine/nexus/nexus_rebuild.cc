// Rebuild control of a nexus (app thread): choosing the source, starting full or partial
// jobs, what their end means for the child, pause/resume/stop, and shutdown (which stops
// every job first).
#include "nexus/nexus.h"

#include <cstring>

namespace nds::nexus {

NexusChild* Nexus::choose_rebuild_source(const NexusChild* child, const NexusChild* failed) const {
  // A local healthy child is the cheapest source; a remote one does when none is local.
  NexusChild* source = nullptr;
  for (const auto& c : children_) {
    if (!c->healthy() || c.get() == child || c.get() == failed) continue;
    if (!source || (std::strcmp(source->desc->bdev->module_name(), "nvmf") == 0 &&
                    std::strcmp(c->desc->bdev->module_name(), "nvmf") != 0))
      source = c.get();
  }
  return source;
}

void Nexus::start_rebuild(NexusChild* child, bool partial_allowed, std::function<void()> started) {
  NexusChild* source = choose_rebuild_source(child);
  bool partial = partial_allowed && !child->needs_full_rebuild && fault_reason_is_recoverable(child->reason);
  child->state = ChildState::Open;
  child->reason = FaultReason::None;
  child->sync = SyncState::OutOfSync;
  child->receiving_writes = source != nullptr;
  uint32_t id = child->id;
  // Writes reach the child before the copy starts: what the copy has passed stays current.
  reconfigure([this, id, source_id = source ? source->id : kMaxChildren, partial, started = std::move(started)] {
    NexusChild* c = child_by_id(id);
    NexusChild* src = child_by_id(source_id);
    if (!c || c->rebuild || c->state != ChildState::Open || c->sync == SyncState::Synced) return started();
    if (!src || !src->healthy()) {
      c->state = ChildState::Faulted;
      c->reason = FaultReason::RebuildFailed;
      c->receiving_writes = false;
      RebuildStats failed;
      failed.child_uri = c->uri;
      failed.state = RebuildState::Failed;
      failed.error = "no healthy child to copy from";
      history_.push_back(failed);
      update_state();
      emit_child(*c);
      emit(EventKind::Rebuild, c->uri, "Failed");
      reconfigure();
      return started();
    }
    // Everything the child missed up to now; later writes reach it directly.
    std::vector<uint64_t> segments = c->log->take();
    if (!partial) {
      segments.resize(c->log->segments());
      for (uint64_t s = 0; s < segments.size(); ++s) segments[s] = s;
    }
    launch_rebuild(c, src, std::move(segments), partial, false);
    started();
  });
}

void Nexus::launch_rebuild(NexusChild* child, NexusChild* source, std::vector<uint64_t> segments, bool partial,
                           bool paused) {
  child->needs_full_rebuild = true;  // until a job completes
  child->stop_requested = false;
  uint32_t id = child->id;
  RebuildParams params{this, source->desc, child->desc, source->uri, child->uri, std::move(segments), partial, num_blocks(),
                       rebuild_options_.parallel, rebuild_options_.verify, &manager_.dma(),
                       [this, id] { on_rebuild_end(child_by_id(id)); }, paused};
  child->rebuild = std::make_unique<RebuildJob>(std::move(params));
  update_state();
  emit_child(*child);
  emit(EventKind::Rebuild, child->uri, paused ? "Paused" : "Running");
  child->rebuild->start();
}

void Nexus::on_rebuild_end(NexusChild* child) {
  RebuildStats stats = child->rebuild->stats();
  const bool source_failed = stats.state == RebuildState::Failed && child->rebuild->source_failed();
  const bool was_paused = child->rebuild->stopped_while_paused();
  std::vector<uint64_t> uncopied = source_failed ? child->rebuild->uncopied_segments() : std::vector<uint64_t>{};
  // The job is still on the stack: free it after this pass.
  RebuildJob* job = child->rebuild.release();
  app_->send([job] { delete job; });
  if (source_failed && child->state == ChildState::Open && !child->stop_requested &&
      continue_rebuild(child, stats, std::move(uncopied), was_paused))
    return run_rebuild_end_waiters();
  history_.push_back(stats);
  if (stats.state == RebuildState::Completed) {
    child->sync = SyncState::Synced;
    child->receiving_writes = false;
    child->needs_full_rebuild = false;
    update_state();
    emit_child(*child);
    // Healthy on record before anything reads from it.
    persist(false, [this](Status) { reconfigure(); });
  } else if (child->state == ChildState::Open) {
    // Failed or stopped while the child itself was fine.
    take_out(child, ChildState::Faulted,
             stats.state == RebuildState::Failed ? FaultReason::RebuildFailed : FaultReason::OutOfSync, [] {});
  } else {
    publish_status();
  }
  // After the states it reports are readable.
  emit(EventKind::Rebuild, child->uri, rebuild_state_name(stats.state));
  run_rebuild_end_waiters();
}

bool Nexus::continue_rebuild(NexusChild* child, RebuildStats stats, std::vector<uint64_t> uncopied, bool paused) {
  // The source failed, not the child: fault the source as a failed read would (unless it
  // is the last healthy child, which stays), then copy what is left from another source.
  NexusChild* old_source = find_child(stats.source_uri);
  if (old_source && old_source->healthy() && healthy_children() > 1)
    take_out(old_source, ChildState::Faulted, old_source->gone() ? FaultReason::Gone : FaultReason::IoError, [] {});
  // Never the source that just failed, even when it stays (the last healthy child).
  NexusChild* source = choose_rebuild_source(child, old_source);
  if (!source) return false;  // no other: the rebuild fails as it would have
  stats.error += "; carried on from " + source->uri;
  history_.push_back(stats);
  launch_rebuild(child, source, std::move(uncopied), stats.partial, paused);
  return true;
}

void Nexus::run_rebuild_end_waiters() {
  auto waiting = std::move(on_rebuild_ends_);
  on_rebuild_ends_.clear();
  for (auto& fn : waiting) fn();
}

void Nexus::when_rebuilds(std::function<bool()> settled, std::function<void()> done) {
  if (settled()) return done();
  on_rebuild_ends_.push_back([this, settled = std::move(settled), done = std::move(done)]() mutable {
    when_rebuilds(std::move(settled), std::move(done));
  });
}

void Nexus::when_no_rebuild_uses(uint32_t child_id, std::function<void()> done) {
  when_rebuilds(
      [this, child_id] {
        NexusChild* child = child_by_id(child_id);
        if (!child) return true;
        if (child->rebuild) return false;
        for (const auto& c : children_)
          if (c->rebuild && c->rebuild->source() == child->desc) return false;
        return true;
      },
      std::move(done));
}

void Nexus::when_rebuilds_idle(std::function<void()> done) {
  when_rebuilds(
      [this] {
        for (const auto& c : children_)
          if (c->rebuild) return false;
        return true;
      },
      std::move(done));
}

Status Nexus::pause_rebuild(const std::string& uri) {
  NexusChild* child = find_child(uri);
  if (!child) return Status::error(-ENOENT, "child " + uri + " is not in nexus " + name());
  if (!child->rebuild) return Status::error(-ENOENT, "child " + uri + " is not being rebuilt");
  Status st = child->rebuild->pause();
  if (st.is_ok()) {
    publish_status();
    emit(EventKind::Rebuild, uri, "Paused");
  }
  return st;
}

Status Nexus::resume_rebuild(const std::string& uri) {
  NexusChild* child = find_child(uri);
  if (!child) return Status::error(-ENOENT, "child " + uri + " is not in nexus " + name());
  if (!child->rebuild) return Status::error(-ENOENT, "child " + uri + " is not being rebuilt");
  Status st = child->rebuild->resume();
  if (st.is_ok() && child->rebuild) {
    publish_status();
    emit(EventKind::Rebuild, uri, "Running");
  }
  return st;
}

void Nexus::stop_rebuild(const std::string& uri, std::function<void(Status)> done) {
  NexusChild* child = find_child(uri);
  if (!child) return done(Status::error(-ENOENT, "child " + uri + " is not in nexus " + name()));
  if (!child->rebuild) return done(Status::error(-ENOENT, "child " + uri + " is not being rebuilt"));
  child->stop_requested = true;  // even if the job already failed on its source: no successor
  child->rebuild->stop(false, "stopped by request");
  // Waits for this child's job only (it may have ended inside stop()): other children's
  // rebuilds carry on.
  uint32_t id = child->id;
  when_rebuilds(
      [this, id] {
        NexusChild* c = child_by_id(id);
        return !c || !c->rebuild;
      },
      [done = std::move(done)] { done(Status::ok()); });
}

Status Nexus::rebuild_stats(const std::string& uri, RebuildStats* out) const {
  NexusChild* child = find_child(uri);
  if (!child) return Status::error(-ENOENT, "child " + uri + " is not in nexus " + name());
  if (child->rebuild) {
    *out = child->rebuild->stats();
    return Status::ok();
  }
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    if (it->child_uri == uri) {
      *out = *it;
      return Status::ok();
    }
  }
  return Status::error(-ENOENT, "child " + uri + " has no rebuild");
}

void Nexus::shutdown(bool persist_clean, std::function<void()> done) {
  if (state_ == NexusState::Shutdown) return done();
  if (state_ != NexusState::ShuttingDown) {
    state_ = NexusState::ShuttingDown;
    accepting_ = false;
    publish_status();
    emit(EventKind::State, "", nexus_state_name(state_));
  }
  for (const auto& c : children_)
    if (c->rebuild) c->rebuild->stop(false, "the nexus is shutting down");
  if (write_pause_) {
    // Held writes go on, to be refused (or served before the refusal reaches their channel).
    RangeLock* lock = write_pause_;
    write_pause_ = nullptr;
    unlock_range(lock, [] {});
  }
  when_rebuilds_idle([this, persist_clean, done = std::move(done)]() mutable {
    reconfigure([this, persist_clean, done = std::move(done)]() mutable {
      wait_io_drained([this, persist_clean, done = std::move(done)]() mutable {
        auto finish = [this, done = std::move(done)](Status) mutable {
          if (state_ != NexusState::Shutdown) {
            state_ = NexusState::Shutdown;
            publish_status();
            emit(EventKind::State, "", nexus_state_name(state_));
          }
          done();
        };
        if (persist_clean) return persist(true, std::move(finish));
        finish(Status::ok());
      });
    });
  });
}

}  // namespace nds::nexus
