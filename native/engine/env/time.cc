#include "env/time.h"

#include <fstream>
#include <string>

namespace nds {
namespace {

TscClock calibrate() {
  TscClock clock;
  std::ifstream source("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  if (!(source >> name) || name != "tsc") return clock;  // the kernel does not trust the TSC here
  // 20 ms against CLOCK_MONOTONIC gives the rate to well under 0.01%.
  uint64_t ns0 = monotonic_ns();
  uint64_t tsc0 = __rdtsc();
  uint64_t ns1;
  do {
    ns1 = monotonic_ns();
  } while (ns1 - ns0 < 20'000'000);
  uint64_t tsc1 = __rdtsc();
  if (tsc1 <= tsc0) return clock;
  __extension__ typedef unsigned __int128 u128;
  clock.mult = static_cast<uint64_t>((static_cast<u128>(ns1 - ns0) << 32) / (tsc1 - tsc0));
  clock.base_tsc = tsc1;
  clock.base_ns = ns1;
  clock.usable = clock.mult != 0;
  return clock;
}

}  // namespace

const TscClock tsc_clock = calibrate();

}  // namespace nds
