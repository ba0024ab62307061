// CRC32C (Castagnoli), the checksum of NVMe/TCP digests and of our on-disk metadata.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nds {

// crc32c(data) with the usual pre- and post-inversion; pass a previous result as `crc`
// to continue a running checksum.
uint32_t crc32c(const void* data, size_t length, uint32_t crc = 0);

}  // namespace nds
