// Monotonic time for reactors, pollers and latency accounting.
#pragma once
#include <cstdint>
#include <ctime>

namespace nds {

inline uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace nds
