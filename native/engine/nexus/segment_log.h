// A child's log of missed writes: one bit per rebuild segment, set by any channel's thread
// whenever a write (or write zeroes, unmap) does not reach the child, read by the rebuild
// job to copy only those segments. Lock-free: bits are set with fetch_or.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace nds::nexus {

class SegmentLog {
 public:
  SegmentLog(uint64_t total_blocks, uint64_t segment_blocks)
      : segment_blocks_(segment_blocks),
        segments_((total_blocks + segment_blocks - 1) / segment_blocks),
        words_(std::make_unique<std::atomic<uint64_t>[]>((segments_ + 63) / 64)) {
    for (uint64_t i = 0; i < word_count(); ++i) words_[i].store(0, std::memory_order_relaxed);
  }

  uint64_t segments() const { return segments_; }

  // Any thread: the blocks [offset, offset + count) were written without this child.
  void mark(uint64_t offset_blocks, uint64_t num_blocks) {
    if (num_blocks == 0) return;
    uint64_t first = offset_blocks / segment_blocks_;
    uint64_t last = (offset_blocks + num_blocks - 1) / segment_blocks_;
    for (uint64_t s = first; s <= last && s < segments_; ++s) {
      uint64_t bit = 1ull << (s % 64);
      // Most writes hit a segment already marked: a load avoids dirtying the cache line.
      if (!(words_[s / 64].load(std::memory_order_relaxed) & bit)) words_[s / 64].fetch_or(bit, std::memory_order_relaxed);
    }
  }

  void mark_all() {
    for (uint64_t s = 0; s < segments_; ++s) words_[s / 64].fetch_or(1ull << (s % 64), std::memory_order_relaxed);
  }

  // The marked segments, clearing them (a rebuild takes what it will copy).
  std::vector<uint64_t> take() {
    std::vector<uint64_t> out;
    for (uint64_t w = 0; w < word_count(); ++w) {
      uint64_t bits = words_[w].exchange(0, std::memory_order_acq_rel);
      while (bits) {
        int b = __builtin_ctzll(bits);
        bits &= bits - 1;
        out.push_back(w * 64 + static_cast<uint64_t>(b));
      }
    }
    return out;
  }

  // A log for a bigger device, with this one's marks (app thread, while writes are held).
  std::unique_ptr<SegmentLog> grown(uint64_t total_blocks) const {
    auto out = std::make_unique<SegmentLog>(total_blocks, segment_blocks_);
    for (uint64_t w = 0; w < word_count(); ++w) out->words_[w].store(words_[w].load(std::memory_order_relaxed), std::memory_order_relaxed);
    return out;
  }

  uint64_t count() const {
    uint64_t n = 0;
    for (uint64_t w = 0; w < word_count(); ++w) n += static_cast<uint64_t>(__builtin_popcountll(words_[w].load(std::memory_order_relaxed)));
    return n;
  }

 private:
  uint64_t word_count() const { return (segments_ + 63) / 64; }
  uint64_t segment_blocks_;
  uint64_t segments_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
};

}  // namespace nds::nexus
