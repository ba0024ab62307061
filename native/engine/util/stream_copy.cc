#include "util/stream_copy.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace nds {

namespace {

// "32768K" or "1M" as sysfs writes cache sizes; 0 if unreadable.
uint64_t read_sysfs_size(const std::string& path) {
  std::ifstream in(path);
  uint64_t value = 0;
  char unit = 0;
  if (!(in >> value)) return 0;
  in >> unit;
  if (unit == 'K') return value << 10;
  if (unit == 'M') return value << 20;
  if (unit == 'G') return value << 30;
  return value;
}

// The largest cache of CPU 0. sysfs first: under a hypervisor glibc's CPUID-based
// sysconf can be far off (320 MiB reported for a 32 MiB L3 here). Unknown: 32 MiB.
uint64_t last_level_cache_bytes() {
  uint64_t largest = 0;
  for (int index = 0; index < 8; ++index)
    largest = std::max(largest, read_sysfs_size("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/size"));
  if (largest > 0) return largest;
  long size = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return size > 0 ? static_cast<uint64_t>(size) : 32ull << 20;
}

}  // namespace

uint64_t streaming_threshold_bytes() {
  static const uint64_t cache = last_level_cache_bytes();
  return cache;
}

bool worth_streaming(uint64_t bytes) { return bytes > streaming_threshold_bytes(); }

}  // namespace nds
