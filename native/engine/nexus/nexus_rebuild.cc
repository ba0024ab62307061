// Rebuild control of a nexus (app thread): choosing the source, starting full or partial
// jobs, what their end means for the child, pause/resume/stop, and shutdown (which stops
// every job first).
#include "nexus/nexus.h"

#include <cstring>

namespace nds::nexus {

void Nexus::start_rebuild(NexusChild* child, bool partial_allowed) {
  // A local healthy child is the cheapest source; a remote one does when none is local.
  NexusChild* source = nullptr;
  for (const auto& c : children_) {
    if (!c->healthy() || c.get() == child) continue;
    if (!source || (std::strcmp(source->desc->bdev->module_name(), "nvmf") == 0 &&
                    std::strcmp(c->desc->bdev->module_name(), "nvmf") != 0))
      source = c.get();
  }
  bool partial = partial_allowed && !child->needs_full_rebuild && fault_reason_is_recoverable(child->reason);
  child->state = ChildState::Open;
  child->reason = FaultReason::None;
  child->sync = SyncState::OutOfSync;
  child->receiving_writes = source != nullptr;
  uint32_t id = child->id;
  // Writes reach the child before the copy starts: what the copy has passed stays current.
  reconfigure([this, id, source_id = source ? source->id : kMaxChildren, partial] {
    NexusChild* c = child_by_id(id);
    NexusChild* src = child_by_id(source_id);
    if (!c || c->rebuild || c->state != ChildState::Open || c->sync == SyncState::Synced) return;
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
      return;
    }
    // Everything the child missed up to now; later writes reach it directly.
    std::vector<uint64_t> segments = c->log->take();
    if (!partial) {
      segments.resize(c->log->segments());
      for (uint64_t s = 0; s < segments.size(); ++s) segments[s] = s;
    }
    c->needs_full_rebuild = true;  // until this job completes
    RebuildParams params{this, src->desc, c->desc, src->uri, c->uri, std::move(segments), partial, num_blocks(),
                         rebuild_options_.parallel, rebuild_options_.verify, &manager_.dma(),
                         [this, id] { on_rebuild_end(child_by_id(id)); }};
    c->rebuild = std::make_unique<RebuildJob>(std::move(params));
    update_state();
    emit_child(*c);
    emit(EventKind::Rebuild, c->uri, "Running");
    c->rebuild->start();
  });
}

void Nexus::on_rebuild_end(NexusChild* child) {
  RebuildStats stats = child->rebuild->stats();
  history_.push_back(stats);
  // The job is still on the stack: free it after this pass.
  RebuildJob* job = child->rebuild.release();
  app_->send([job] { delete job; });
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
  bool any_running = false;
  for (const auto& c : children_) any_running = any_running || c->rebuild;
  if (!any_running) {
    auto waiting = std::move(on_rebuilds_idle_);
    on_rebuilds_idle_.clear();
    for (auto& fn : waiting) fn();
  }
}

void Nexus::when_rebuilds_idle(std::function<void()> done) {
  for (const auto& c : children_) {
    if (c->rebuild) {
      on_rebuilds_idle_.push_back(std::move(done));
      return;
    }
  }
  done();
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
  child->rebuild->stop(false, "stopped by request");
  when_rebuilds_idle([done = std::move(done)] { done(Status::ok()); });
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
