#include "util/crc32c.h"

#include <array>

#include "util/crc32c_impl.h"

namespace nds {

namespace detail {
namespace {
// Slicing-by-8 tables for the reflected polynomial 0x82F63B78, built once at start-up.
struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
};
const Tables tables;
}  // namespace

uint32_t crc32c_portable(const void* data, size_t length, uint32_t crc) {
  auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
  const auto& t = tables.t;
  while (length >= 8) {
    uint32_t lo = c ^ (static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
                       static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24);
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][p[4]] ^
        t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    length -= 8;
  }
  while (length--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
  return ~c;
}
}  // namespace detail

namespace {
using Crc32cFn = uint32_t (*)(const void*, size_t, uint32_t);
// Chosen once, before any reactor starts: the CPU does not change under us.
const Crc32cFn chosen = detail::crc32c_sse42_available() ? detail::crc32c_sse42 : detail::crc32c_portable;
}  // namespace

uint32_t crc32c(const void* data, size_t length, uint32_t crc) { return chosen(data, length, crc); }

}  // namespace nds
