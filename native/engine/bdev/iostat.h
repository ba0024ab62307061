// Per-channel I/O statistics: ops, bytes, errors and a log-linear latency histogram per
// I/O type. Each channel's counters have a single writer (the channel's thread), which
// bumps them with a relaxed load+store (no locked instruction); readers on other threads
// sum them with relaxed loads. Reset is a baseline snapshot subtracted on read, so no one
// ever writes another thread's counters.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>

namespace nds {

enum class IoType : uint8_t { Read = 0, Write, Flush, Unmap, WriteZeroes, Reset };
constexpr int kIoTypeCount = 6;
const char* io_type_name(IoType type);

// Values below 16 ns get a bucket each; above, each power of two is cut into 16 linear
// sub-buckets (about 6% resolution) up to 2^43 ns.
constexpr int kLatencySubBuckets = 16;
constexpr int kLatencyBuckets = 16 + 40 * kLatencySubBuckets;
int latency_bucket(uint64_t ns);
uint64_t latency_bucket_upper_ns(int bucket);

struct IoTypeCounters {
  uint64_t ops = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  uint64_t latency_sum_ns = 0;
  std::array<uint64_t, kLatencyBuckets> histogram{};
};

// The counters alone, without the histogram: what a metrics scrape of many bdevs reads.
struct IoCounts {
  uint64_t ops = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
};
using IoCountsByType = std::array<IoCounts, kIoTypeCount>;

// A plain copy of counters: sums, baselines and differences.
struct IoStatSnapshot {
  std::array<IoTypeCounters, kIoTypeCount> types{};
  void add(const IoStatSnapshot& other);
  void subtract(const IoStatSnapshot& other);
  // Latency (ns) under which `fraction` (0..1] of the ops of `type` completed; 0 if none.
  uint64_t percentile_ns(IoType type, double fraction) const;
  uint64_t max_ns(IoType type) const;
  // Adds (sign 1) or subtracts (sign -1) this snapshot's counters to `out`.
  void add_counts_to(IoCountsByType* out, int sign = 1) const;
};

class IoStat {
 public:
  // Owner thread only.
  void record(IoType type, uint64_t bytes, uint64_t latency_ns, bool failed) {
    Live& t = types_[static_cast<int>(type)];
    bump(t.ops, 1);
    if (failed) {
      bump(t.errors, 1);
    } else {
      bump(t.bytes, bytes);
    }
    bump(t.latency_sum_ns, latency_ns);
    bump(t.histogram[latency_bucket(latency_ns)], 1);
  }
  // Any thread.
  void add_to(IoStatSnapshot* out) const;
  void add_counts_to(IoCountsByType* out) const;

 private:
  static void bump(std::atomic<uint64_t>& counter, uint64_t by) {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  struct Live {
    std::atomic<uint64_t> ops{0};
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> errors{0};
    std::atomic<uint64_t> latency_sum_ns{0};
    std::array<std::atomic<uint64_t>, kLatencyBuckets> histogram{};
  };
  std::array<Live, kIoTypeCount> types_;
};

}  // namespace nds
