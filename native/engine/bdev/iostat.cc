#include "bdev/iostat.h"

#include <bit>

namespace nds {

const char* io_type_name(IoType type) {
  switch (type) {
    case IoType::Read: return "read";
    case IoType::Write: return "write";
    case IoType::Flush: return "flush";
    case IoType::Unmap: return "unmap";
    case IoType::WriteZeroes: return "write_zeroes";
    case IoType::Reset: return "reset";
  }
  return "unknown";
}

int latency_bucket(uint64_t ns) {
  if (ns < 16) return static_cast<int>(ns);
  int exponent = 63 - std::countl_zero(ns);  // >= 4
  int sub = static_cast<int>((ns >> (exponent - 4)) & (kLatencySubBuckets - 1));
  int bucket = 16 + (exponent - 4) * kLatencySubBuckets + sub;
  return bucket < kLatencyBuckets ? bucket : kLatencyBuckets - 1;
}

uint64_t latency_bucket_upper_ns(int bucket) {
  if (bucket < 16) return static_cast<uint64_t>(bucket);
  int exponent = (bucket - 16) / kLatencySubBuckets + 4;
  uint64_t sub = static_cast<uint64_t>((bucket - 16) % kLatencySubBuckets);
  uint64_t step = 1ull << (exponent - 4);
  return (1ull << exponent) + (sub + 1) * step - 1;
}

void IoStatSnapshot::add(const IoStatSnapshot& other) {
  for (int t = 0; t < kIoTypeCount; ++t) {
    IoTypeCounters& a = types[t];
    const IoTypeCounters& b = other.types[t];
    a.ops += b.ops;
    a.bytes += b.bytes;
    a.errors += b.errors;
    a.latency_sum_ns += b.latency_sum_ns;
    for (int i = 0; i < kLatencyBuckets; ++i) a.histogram[i] += b.histogram[i];
  }
}

void IoStatSnapshot::subtract(const IoStatSnapshot& other) {
  for (int t = 0; t < kIoTypeCount; ++t) {
    IoTypeCounters& a = types[t];
    const IoTypeCounters& b = other.types[t];
    a.ops -= b.ops;
    a.bytes -= b.bytes;
    a.errors -= b.errors;
    a.latency_sum_ns -= b.latency_sum_ns;
    for (int i = 0; i < kLatencyBuckets; ++i) a.histogram[i] -= b.histogram[i];
  }
}

uint64_t IoStatSnapshot::percentile_ns(IoType type, double fraction) const {
  const IoTypeCounters& c = types[static_cast<int>(type)];
  uint64_t total = 0;
  for (uint64_t n : c.histogram) total += n;
  if (total == 0) return 0;
  auto target = static_cast<uint64_t>(fraction * static_cast<double>(total));
  if (target == 0) target = 1;
  uint64_t seen = 0;
  for (int i = 0; i < kLatencyBuckets; ++i) {
    seen += c.histogram[i];
    if (seen >= target) return latency_bucket_upper_ns(i);
  }
  return latency_bucket_upper_ns(kLatencyBuckets - 1);
}

uint64_t IoStatSnapshot::max_ns(IoType type) const {
  const IoTypeCounters& c = types[static_cast<int>(type)];
  for (int i = kLatencyBuckets - 1; i >= 0; --i)
    if (c.histogram[i]) return latency_bucket_upper_ns(i);
  return 0;
}

void IoStatSnapshot::add_counts_to(IoCountsByType* out, int sign) const {
  for (int t = 0; t < kIoTypeCount; ++t) {
    IoCounts& c = (*out)[t];
    const IoTypeCounters& s = types[t];
    // Unsigned wrap-around makes subtracting a baseline exact.
    c.ops += static_cast<uint64_t>(sign) * s.ops;
    c.bytes += static_cast<uint64_t>(sign) * s.bytes;
    c.errors += static_cast<uint64_t>(sign) * s.errors;
  }
}

void IoStat::add_counts_to(IoCountsByType* out) const {
  for (int t = 0; t < kIoTypeCount; ++t) {
    const Live& live = types_[t];
    IoCounts& c = (*out)[t];
    c.ops += live.ops.load(std::memory_order_relaxed);
    c.bytes += live.bytes.load(std::memory_order_relaxed);
    c.errors += live.errors.load(std::memory_order_relaxed);
  }
}

void IoStat::add_to(IoStatSnapshot* out) const {
  for (int t = 0; t < kIoTypeCount; ++t) {
    const Live& live = types_[t];
    IoTypeCounters& c = out->types[t];
    c.ops += live.ops.load(std::memory_order_relaxed);
    c.bytes += live.bytes.load(std::memory_order_relaxed);
    c.errors += live.errors.load(std::memory_order_relaxed);
    c.latency_sum_ns += live.latency_sum_ns.load(std::memory_order_relaxed);
    for (int i = 0; i < kLatencyBuckets; ++i) c.histogram[i] += live.histogram[i].load(std::memory_order_relaxed);
  }
}

}  // namespace nds
