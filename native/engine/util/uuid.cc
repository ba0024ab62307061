#include "util/uuid.h"

#include <sys/random.h>

#include <chrono>
#include <cstdint>
#include <random>

namespace nds {

static uint64_t kernel_seed() {
  uint64_t seed = 0;
  // 8 bytes from getrandom never come back short once the pool is initialised; on a
  // failure (no entropy yet, seccomp) fall back to the clock and the thread's address.
  if (getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed))
    seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
           reinterpret_cast<uintptr_t>(&seed);
  return seed;
}

Uuid Uuid::random_v4() {
  // One seed per thread from the kernel CSPRNG keeps generation cheap. getrandom(2), not
  // std::random_device: libstdc++ built on glibc 2.36 implements that with arc4random,
  // which would make the prebuild refuse to load on glibc 2.35 (Ubuntu 22.04).
  thread_local std::mt19937_64 generator{kernel_seed()};
  Uuid id;
  for (int half = 0; half < 2; ++half) {
    uint64_t word = generator();
    for (int i = 0; i < 8; ++i) id.bytes[half * 8 + i] = static_cast<uint8_t>(word >> (i * 8));
  }
  id.bytes[6] = static_cast<uint8_t>((id.bytes[6] & 0x0f) | 0x40);  // version 4
  id.bytes[8] = static_cast<uint8_t>((id.bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return id;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Uuid> Uuid::parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  Uuid id;
  size_t byte = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    int hi = hex_value(text[i]);
    int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id.bytes[byte++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return id;
}

std::string Uuid::to_string() const {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 0xf]);
  }
  return out;
}

bool Uuid::is_null() const {
  for (uint8_t b : bytes)
    if (b != 0) return false;
  return true;
}

}  // namespace nds
