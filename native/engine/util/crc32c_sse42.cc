// CRC32C with the SSE4.2 crc32 instruction. One crc32 has a latency of three cycles but
// the CPU can start one every cycle, so a long buffer is cut into three equal blocks whose
// CRCs run side by side; the three are then joined. Joining uses the fact that the CRC
// register is linear: running block A then block B from state s equals
// (s shifted over len(B) zero bytes) xor (B's CRC from zero), and shifting over n zero
// bytes multiplies by x^(8n) mod P, one carry-less multiply plus one crc32 to reduce.
#include <immintrin.h>

#include <cstring>

#include "util/crc32c_impl.h"

namespace nds::detail {

namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

// x^n mod P in the reflected bit order (0x80000000 is 1), computed at compile time.
constexpr uint32_t x_pow_mod(uint64_t n) {
  uint32_t v = 0x80000000u;
  for (uint64_t i = 0; i < n; ++i) v = (v & 1) ? (v >> 1) ^ kPoly : v >> 1;
  return v;
}

// Block sizes of the three-way loop, largest first, with the constant that shifts a CRC
// over one block. clmul of two reflected 32-bit values yields the product times x, and
// crc32 of a 64-bit value from zero multiplies it by x^32, hence the 33 taken off.
struct Stride {
  size_t block;
  uint32_t shift_constant;
};
constexpr Stride kStrides[] = {
    {4096, x_pow_mod(8 * 4096 - 33)},
    {1360, x_pow_mod(8 * 1360 - 33)},  // 3 x 1360 covers a 4 KiB payload but 16 bytes
    {256, x_pow_mod(8 * 256 - 33)},
    {64, x_pow_mod(8 * 64 - 33)},
};

__attribute__((target("sse4.2,pclmul"))) inline uint32_t shift_crc(uint32_t crc, uint32_t constant) {
  __m128i product = _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(crc)),
                                         _mm_cvtsi32_si128(static_cast<int>(constant)), 0x00);
  return static_cast<uint32_t>(_mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(product))));
}

__attribute__((target("sse4.2"))) inline uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

bool crc32c_sse42_available() {
  return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul");
}

__attribute__((target("sse4.2,pclmul"))) uint32_t crc32c_sse42(const void* data, size_t length, uint32_t crc) {
  auto* p = static_cast<const uint8_t*>(data);
  uint64_t c = ~crc;
  // Byte steps up to an 8-byte boundary, so the loads below are aligned.
  while (length > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
    --length;
  }
  for (const Stride& s : kStrides) {
    while (length >= 3 * s.block) {
      uint64_t a = c, b = 0, d = 0;
      const uint8_t* pb = p + s.block;
      const uint8_t* pd = p + 2 * s.block;
      for (size_t i = 0; i < s.block; i += 8) {
        a = _mm_crc32_u64(a, load_u64(p + i));
        b = _mm_crc32_u64(b, load_u64(pb + i));
        d = _mm_crc32_u64(d, load_u64(pd + i));
      }
      c = shift_crc(static_cast<uint32_t>(a), s.shift_constant) ^ static_cast<uint32_t>(b);
      c = shift_crc(static_cast<uint32_t>(c), s.shift_constant) ^ static_cast<uint32_t>(d);
      p += 3 * s.block;
      length -= 3 * s.block;
    }
  }
  for (; length >= 8; p += 8, length -= 8) c = _mm_crc32_u64(c, load_u64(p));
  while (length-- > 0) c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
  return ~static_cast<uint32_t>(c);
}

}  // namespace nds::detail
