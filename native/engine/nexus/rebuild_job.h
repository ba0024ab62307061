// A rebuild: copies segments from a healthy source child to a child being brought into
// sync, each under a range lock of the nexus so application writes never interleave with
// the copy, several segments in flight. A full rebuild copies every segment, a partial one
// the segments the child's log says it missed. Runs on the app thread.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bdev/bdev.h"
#include "env/dma_region.h"
#include "nexus/nexus_types.h"
#include "nexus/range_lock.h"

namespace nds::nexus {

class Nexus;

struct RebuildParams {
  Nexus* nexus;
  BdevDesc* source;
  BdevDesc* dest;
  std::string source_uri;
  std::string dest_uri;
  std::vector<uint64_t> segments;  // which to copy
  bool partial;
  uint64_t total_blocks;
  uint32_t parallel;
  bool verify;
  DmaRegion* dma;
  std::function<void()> on_end;
  bool start_paused = false;  // a successor of a paused job stays paused  // after the state is final (Completed, Failed or Stopped)
};

class RebuildJob {
 public:
  explicit RebuildJob(RebuildParams params);
  ~RebuildJob();
  RebuildJob(const RebuildJob&) = delete;
  RebuildJob& operator=(const RebuildJob&) = delete;

  void start();
  Status pause();
  Status resume();
  // Stops issuing segments; on_end runs once those in flight finish. `failed` ends in
  // Failed (the child failed meanwhile), otherwise Stopped.
  void stop(bool failed, std::string why = "");
  // The source child left (faulted or went away): stop, failed, with the source to blame,
  // so the nexus can carry on from another source.
  void source_lost(const std::string& why);
  bool ended() const { return ended_; }
  BdevDesc* source() const { return p_.source; }
  // Ended Failed because the source could not be read (not because of the child).
  bool source_failed() const { return source_failed_; }
  // It was paused when it was stopped.
  bool stopped_while_paused() const { return stopped_while_paused_; }
  // Segments this job was given and did not copy, in order: what a successor must copy.
  std::vector<uint64_t> uncopied_segments() const;
  const RebuildStats& stats() const { return stats_; }

 private:
  struct Segment;
  void pump();
  void copy(Segment* seg);
  void on_locked(Segment* seg, RangeLock* lock);
  void on_read(Segment* seg, int status);
  void on_written(Segment* seg, int status);
  void on_verified(Segment* seg, int status);
  void finish_segment(Segment* seg, int status, const char* what);
  void maybe_end();

  RebuildParams p_;
  RebuildStats stats_;
  std::vector<Segment*> free_;
  std::vector<Segment*> all_;
  size_t next_ = 0;
  uint32_t in_flight_ = 0;
  IoChannel* source_channel_ = nullptr;
  IoChannel* dest_channel_ = nullptr;
  uint64_t started_ns_ = 0;
  bool stopping_ = false;
  bool ended_ = false;
  bool source_failed_ = false;
  bool stopped_while_paused_ = false;
  std::vector<uint64_t> failed_segments_;  // issued but not copied
  RebuildState final_ = RebuildState::Completed;
};

}  // namespace nds::nexus
