// The nexus: a bdev mirroring every write onto N children and reading from the healthy
// ones. It is owned by the app thread (children, states, rebuilds, persistence) and does
// I/O on any thread through NexusChannel. When a child fails an I/O the channel stops using
// it at once and tells the app thread, which faults it, persists the change, and tells every
// channel; writes acknowledged only by healthy children wait for that (nexus_io.cc).
#pragma once
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bdev/bdev_manager.h"
#include "nexus/nexus_channel.h"
#include "nexus/nexus_child.h"
#include "nexus/nexus_types.h"
#include "nexus/rebuild_job.h"

namespace nds::nexus {

// The persistence hook: store the info, then call done (with an error if it failed).
using PersistHook = std::function<void(const PersistInfo& info, std::function<void(Status)> done)>;
using EventSink = std::function<void(const NexusEvent&)>;

struct RebuildOptions {
  uint64_t segment_bytes = 1ull << 20;
  uint32_t parallel = 4;  // segments in flight
  bool verify = false;    // read each copied segment back and compare it with the source
};

// LeastLoaded (the default): the healthy child with the fewest I/Os in flight on the
// channel, round-robin among equals. RoundRobin: each read to the next healthy child.
// Striped: a rebuild segment's reads always to the same child.
enum class ReadPolicy : uint8_t { LeastLoaded, RoundRobin, Striped };

// How the nexus sends I/O to its children.
struct IoOptions {
  ReadPolicy reads = ReadPolicy::LeastLoaded;
  // A child holding an I/O this long is faulted TimedOut and asked to give its I/Os back
  // (seen within twice this); 0 turns the check off.
  uint32_t timeout_ms = 30'000;
};

// The state JavaScript reads synchronously: a snapshot the app thread refreshes on every
// change, under its own lock.
class StatusBoard {
 public:
  NexusInfo get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return info_;
  }
  void set(NexusInfo info) {
    std::lock_guard<std::mutex> lock(mutex_);
    info_ = std::move(info);
  }

 private:
  mutable std::mutex mutex_;
  NexusInfo info_;
};

class Nexus final : public Bdev {
 public:
  Nexus(std::string name, Uuid uuid, uint32_t block_size, uint64_t num_blocks, BdevManager& manager, Thread* app,
        RebuildOptions rebuild, IoOptions io, PersistHook persist, EventSink events);
  ~Nexus() override;

  // ---- Bdev ----
  const char* module_name() const override { return "nexus"; }
  uint32_t io_timeout_ms() const { return io_options_.timeout_ms; }
  bool io_type_supported(IoType type) const override;
  std::unique_ptr<ModuleChannel> create_channel() override;
  void submit(ModuleChannel* channel, BdevIo* io) override;
  void destruct(std::function<void()> done) override;

  // ---- app thread ----
  // Adopts an opened, claimed child at creation: healthy and in sync.
  void adopt_initial_child(const std::string& uri, BdevDesc* desc, bool owned);
  // Persists the first picture and starts serving.
  void start(std::function<void(Status)> done);
  void add_child(const std::string& uri, bool rebuild, std::function<void(Status)> done);
  void remove_child(const std::string& uri, std::function<void(Status)> done);
  void fault_child(const std::string& uri, std::function<void(Status)> done);
  void offline_child(const std::string& uri, std::function<void(Status)> done);
  void online_child(const std::string& uri, std::function<void(Status)> done);
  // Holds every write, write-zeroes and unmap (reads go on) once those in flight are done,
  // until resume_writes: a point at which every child holds the same bytes, for snapshots
  // of the children that agree. EBUSY when already paused.
  void pause_writes(std::function<void(Status)> done);
  // EINVAL when not paused.
  void resume_writes(std::function<void(Status)> done);
  // Grows the nexus to size_bytes once every open child is at least that big (grow them
  // first), with writes held meanwhile; EBUSY while a rebuild runs or writes are paused.
  void grow(uint64_t size_bytes, std::function<void(Status)> done);
  Status pause_rebuild(const std::string& uri);
  Status resume_rebuild(const std::string& uri);
  void stop_rebuild(const std::string& uri, std::function<void(Status)> done);
  Status rebuild_stats(const std::string& uri, RebuildStats* out) const;
  const std::vector<RebuildStats>& rebuild_history() const { return history_; }
  // Stops rebuilds, lets in-flight I/O finish, refuses new I/O, persists a clean shutdown.
  void shutdown(bool persist_clean, std::function<void()> done);
  NexusState state() const { return state_; }
  NexusInfo info() const;
  std::shared_ptr<StatusBoard> status_board() const { return board_; }

  // ---- channels (any thread) ----
  void snapshot_for_channel(std::shared_ptr<const ChannelConfig>* config, std::vector<RangeLock*>* locks);
  // A child failed an I/O on some channel; the app thread decides.
  void report_child_error(uint32_t child_id, int status);

  // ---- rebuild jobs (app thread) ----
  void lock_range(uint64_t start_blocks, uint64_t end_blocks, std::function<void(RangeLock*)> acquired);
  void unlock_range(RangeLock* lock, std::function<void()> done);
  void on_rebuild_progress() { publish_status(); }
  uint64_t segment_blocks() const { return segment_blocks_; }

 private:
  void grow_checked(uint64_t size_bytes, std::function<void(Status)> done);
  NexusChild* find_child(const std::string& uri) const;
  NexusChild* child_by_id(uint32_t id) const;
  size_t healthy_children() const;
  Status check_not_last_healthy(const NexusChild& child, const char* verb) const;
  uint32_t free_child_id() const;

  void on_child_error(uint32_t child_id, int status);
  // onlineChild of a child whose bdev is gone (or was let go): a new bdev from its URI (a
  // new NVMe-oF controller), keeping its log, then a partial rebuild.
  void reconnect_child(NexusChild* child, std::function<void(Status)> done);
  void reopen_child(uint32_t child_id, std::function<void(Status)> done);
  Status check_fits(const std::string& uri, const Bdev& bdev) const;
  // Marks the child faulted (or closed when offline), persists, then reconfigures channels.
  void take_out(NexusChild* child, ChildState state, FaultReason reason, std::function<void()> done);
  // A healthy child other than `child` (and `failed`) to copy from, local first.
  NexusChild* choose_rebuild_source(const NexusChild* child, const NexusChild* failed = nullptr) const;
  // `started` runs once the job runs (or the rebuild failed to start).
  void start_rebuild(NexusChild* child, bool partial_allowed, std::function<void()> started);
  void launch_rebuild(NexusChild* child, NexusChild* source, std::vector<uint64_t> segments, bool partial,
                      bool paused);
  void on_rebuild_end(NexusChild* child);
  // After a job failed on its source: carries on from another source; false if none.
  bool continue_rebuild(NexusChild* child, RebuildStats stats, std::vector<uint64_t> uncopied, bool paused);
  // Runs done once `settled` holds, checked now and again each time a rebuild job ends.
  void when_rebuilds(std::function<bool()> settled, std::function<void()> done);
  void when_no_rebuild_uses(uint32_t child_id, std::function<void()> done);  // copying to or from it
  void when_rebuilds_idle(std::function<void()> done);
  void run_rebuild_end_waiters();
  // Visits every channel until none is `busy`, then runs done (app thread).
  void wait_channels(std::function<bool(IoChannel*)> busy, std::function<void()> done);
  void wait_child_released(uint32_t child_id, std::function<void()> done);
  void wait_io_drained(std::function<void()> done);

  // Publishes a new channel configuration and visits every channel with it.
  void reconfigure(std::function<void()> done = nullptr);
  void persist(bool clean, std::function<void(Status)> done);
  void run_persist();
  void update_state();
  void publish_status();
  void emit(EventKind kind, const std::string& child_uri, std::string detail);
  void emit_child(const NexusChild& child);

  BdevManager& manager_;
  Thread* app_;
  RebuildOptions rebuild_options_;
  IoOptions io_options_;
  uint64_t segment_blocks_;
  PersistHook persist_hook_;
  EventSink events_;
  std::shared_ptr<StatusBoard> board_ = std::make_shared<StatusBoard>();

  std::vector<std::unique_ptr<NexusChild>> children_;
  NexusState state_ = NexusState::Online;
  bool accepting_ = true;
  std::vector<RebuildStats> history_;
  std::vector<std::function<void()>> on_rebuild_ends_;  // when_rebuilds() checks, run as each job ends

  // Persistence runs one call at a time; requests made meanwhile share the next call.
  bool persisting_ = false;
  bool next_persist_clean_ = false;
  std::vector<std::function<void(Status)>> persist_waiting_;

  // What channels read when they are created, and what visits bring them.
  std::mutex channel_state_mutex_;
  std::shared_ptr<const ChannelConfig> config_;
  std::vector<RangeLock*> locks_;
  RangeLock* write_pause_ = nullptr;  // app thread: the whole-device lock pause_writes holds
  bool pausing_ = false;
  uint64_t generation_ = 0;
};

}  // namespace nds::nexus
