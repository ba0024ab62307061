// The prebuild must load on glibc 2.35 (Ubuntu 22.04). libstdc++ (linked statically) has
// std::random_device call arc4random, which glibc has only from 2.36; nothing of ours uses
// random_device, but libstdc++'s locale code pulls its object in. This hidden definition
// satisfies that reference inside the addon, so the binary asks glibc for no 2.36 symbol.
#include <sys/random.h>

#include <cstdint>

extern "C" __attribute__((visibility("hidden"))) uint32_t arc4random(void) {
  uint32_t value = 0;
  while (getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) {
  }
  return value;
}
