// The two CRC32C implementations behind crc32c(), exposed so tests can check one against
// the other. Callers use crc32c() from util/crc32c.h, which picks the fastest at start-up.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nds::detail {

// Slicing-by-8 tables: runs anywhere, ~1.5 GB/s.
uint32_t crc32c_portable(const void* data, size_t length, uint32_t crc);

// SSE4.2 crc32 instruction over three interleaved streams, joined with PCLMULQDQ:
// ~15 GB/s. Call only when crc32c_sse42_available().
uint32_t crc32c_sse42(const void* data, size_t length, uint32_t crc);
bool crc32c_sse42_available();

}  // namespace nds::detail
