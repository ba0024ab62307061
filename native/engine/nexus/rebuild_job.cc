#include "nexus/rebuild_job.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "env/time.h"
#include "nexus/nexus.h"
#include "thread/io_device.h"

namespace nds::nexus {

struct RebuildJob::Segment {
  RebuildJob* job;
  uint64_t index = 0;
  uint64_t offset_blocks = 0;
  uint64_t num_blocks = 0;
  uint8_t* buf = nullptr;
  uint8_t* verify_buf = nullptr;
  RangeLock* lock = nullptr;
};

namespace {
uint64_t wall_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}
}  // namespace

RebuildJob::RebuildJob(RebuildParams params) : p_(std::move(params)) {
  uint64_t seg_blocks = p_.nexus->segment_blocks();
  uint32_t bs = p_.nexus->block_size();
  stats_.child_uri = p_.dest_uri;
  stats_.source_uri = p_.source_uri;
  stats_.partial = p_.partial;
  stats_.segments_total = p_.segments.size();
  for (uint64_t s : p_.segments) {
    uint64_t start = s * seg_blocks;
    stats_.bytes_total += std::min(seg_blocks, p_.total_blocks - start) * bs;
  }
  for (uint32_t i = 0; i < p_.parallel; ++i) {
    auto* seg = new Segment{this};
    seg->buf = static_cast<uint8_t*>(p_.dma->alloc(seg_blocks * bs, 4096));
    if (p_.verify) seg->verify_buf = static_cast<uint8_t*>(p_.dma->alloc(seg_blocks * bs, 4096));
    all_.push_back(seg);
    // A segment without memory is not used: fewer in flight, or none (the job then fails).
    if (seg->buf && (!p_.verify || seg->verify_buf)) free_.push_back(seg);
  }
}

RebuildJob::~RebuildJob() {
  for (Segment* seg : all_) {
    if (seg->buf) p_.dma->free(seg->buf);
    if (seg->verify_buf) p_.dma->free(seg->verify_buf);
    delete seg;
  }
  if (source_channel_) bdev_put_io_channel(source_channel_);
  if (dest_channel_) bdev_put_io_channel(dest_channel_);
}

void RebuildJob::start() {
  stats_.state = p_.start_paused ? RebuildState::Paused : RebuildState::Running;
  stats_.started_at_ms = wall_ms();
  started_ns_ = now_ns();
  source_channel_ = bdev_get_io_channel(p_.source);
  dest_channel_ = bdev_get_io_channel(p_.dest);
  if (!source_channel_ || !dest_channel_) return stop(true, "could not open a channel to the source or the child");
  if (free_.empty() && !p_.segments.empty()) return stop(true, "no DMA memory for rebuild buffers (raise memoryMb)");
  pump();
}

Status RebuildJob::pause() {
  if (stats_.state != RebuildState::Running) return Status::error(-EINVAL, std::string("the rebuild of ") + p_.dest_uri + " is " + rebuild_state_name(stats_.state) + ", not Running");
  stats_.state = RebuildState::Paused;
  return Status::ok();
}

Status RebuildJob::resume() {
  if (stats_.state != RebuildState::Paused) return Status::error(-EINVAL, std::string("the rebuild of ") + p_.dest_uri + " is " + rebuild_state_name(stats_.state) + ", not Paused");
  stats_.state = RebuildState::Running;
  pump();
  return Status::ok();
}

void RebuildJob::stop(bool failed, std::string why) {
  if (ended_ || stopping_) return;
  stopping_ = true;
  stopped_while_paused_ = stats_.state == RebuildState::Paused;
  final_ = failed ? RebuildState::Failed : RebuildState::Stopped;
  if (!why.empty()) stats_.error = std::move(why);
  maybe_end();
}

void RebuildJob::source_lost(const std::string& why) {
  if (ended_ || stopping_) return;
  source_failed_ = true;
  stop(true, why);
}

std::vector<uint64_t> RebuildJob::uncopied_segments() const {
  std::vector<uint64_t> left = failed_segments_;
  left.insert(left.end(), p_.segments.begin() + static_cast<std::ptrdiff_t>(next_), p_.segments.end());
  std::sort(left.begin(), left.end());
  return left;
}

void RebuildJob::pump() {
  while (!stopping_ && stats_.state == RebuildState::Running && !free_.empty() && next_ < p_.segments.size()) {
    Segment* seg = free_.back();
    free_.pop_back();
    uint64_t seg_blocks = p_.nexus->segment_blocks();
    seg->index = p_.segments[next_++];
    seg->offset_blocks = seg->index * seg_blocks;
    seg->num_blocks = std::min(seg_blocks, p_.total_blocks - seg->offset_blocks);
    ++in_flight_;
    copy(seg);
  }
  maybe_end();
}

void RebuildJob::copy(Segment* seg) {
  p_.nexus->lock_range(seg->offset_blocks, seg->offset_blocks + seg->num_blocks,
                       [seg](RangeLock* lock) { seg->job->on_locked(seg, lock); });
}

void RebuildJob::on_locked(Segment* seg, RangeLock* lock) {
  seg->lock = lock;
  uint32_t bs = p_.nexus->block_size();
  int rc = bdev_submit(p_.source, source_channel_, IoType::Read, seg->offset_blocks * bs, seg->num_blocks * bs, seg->buf,
                       [](int status, void* arg) {
                         auto* s = static_cast<Segment*>(arg);
                         s->job->on_read(s, status);
                       },
                       seg);
  if (rc != 0) {
    if (!stopping_) source_failed_ = true;  // the first failure decides whom to blame
    finish_segment(seg, rc, "reading the source");
  }
}

void RebuildJob::on_read(Segment* seg, int status) {
  if (status != 0) {
    if (!stopping_) source_failed_ = true;  // the first failure decides whom to blame
    return finish_segment(seg, status, "reading the source");
  }
  uint32_t bs = p_.nexus->block_size();
  int rc = bdev_submit(p_.dest, dest_channel_, IoType::Write, seg->offset_blocks * bs, seg->num_blocks * bs, seg->buf,
                       [](int st, void* arg) {
                         auto* s = static_cast<Segment*>(arg);
                         s->job->on_written(s, st);
                       },
                       seg);
  if (rc != 0) finish_segment(seg, rc, "writing the child");
}

void RebuildJob::on_written(Segment* seg, int status) {
  if (status != 0 || !p_.verify) return finish_segment(seg, status, "writing the child");
  uint32_t bs = p_.nexus->block_size();
  int rc = bdev_submit(p_.dest, dest_channel_, IoType::Read, seg->offset_blocks * bs, seg->num_blocks * bs,
                       seg->verify_buf,
                       [](int st, void* arg) {
                         auto* s = static_cast<Segment*>(arg);
                         s->job->on_verified(s, st);
                       },
                       seg);
  if (rc != 0) finish_segment(seg, rc, "reading the child back");
}

void RebuildJob::on_verified(Segment* seg, int status) {
  if (status != 0) return finish_segment(seg, status, "reading the child back");
  uint64_t bytes = seg->num_blocks * p_.nexus->block_size();
  if (std::memcmp(seg->buf, seg->verify_buf, bytes) != 0) return finish_segment(seg, -EIO, "verifying the copy");
  finish_segment(seg, 0, "");
}

void RebuildJob::finish_segment(Segment* seg, int status, const char* what) {
  uint64_t bytes = seg->num_blocks * p_.nexus->block_size();
  auto release = [this, seg, status, bytes, what = std::string(what)] {
    --in_flight_;
    free_.push_back(seg);
    if (status != 0) {
      failed_segments_.push_back(seg->index);
      stop(true, "segment " + std::to_string(seg->index) + ": " + what + " failed: " + std::strerror(-status));
    } else {
      stats_.bytes_rebuilt += bytes;
      ++stats_.segments_done;
      double secs = static_cast<double>(now_ns() - started_ns_) / 1e9;
      stats_.bytes_per_sec = secs > 0 ? static_cast<double>(stats_.bytes_rebuilt) / secs : 0;
      p_.nexus->on_rebuild_progress();
    }
    pump();
  };
  if (!seg->lock) return release();
  RangeLock* lock = seg->lock;
  seg->lock = nullptr;
  p_.nexus->unlock_range(lock, std::move(release));
}

void RebuildJob::maybe_end() {
  if (ended_ || in_flight_ > 0) return;
  bool all_copied = next_ >= p_.segments.size();
  if (!stopping_ && !all_copied) return;  // paused, or more to come
  if (!stopping_) final_ = RebuildState::Completed;
  ended_ = true;
  stats_.state = final_;
  stats_.ended_at_ms = wall_ms();
  double secs = static_cast<double>(now_ns() - started_ns_) / 1e9;
  stats_.bytes_per_sec = secs > 0 ? static_cast<double>(stats_.bytes_rebuilt) / secs : 0;
  // The nexus may destroy this job from on_end: nothing of `this` is touched after it.
  auto on_end = p_.on_end;
  on_end();
}

}  // namespace nds::nexus
