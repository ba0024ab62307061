// The lvol store's on-disk format, version 1 (documented in docs/lvol-format.md). All
// integers little-endian; every structure is one 4 KiB page ending in a CRC32C of the
// bytes before it.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/uuid.h"

namespace nds::lvs {

constexpr uint32_t kPageSize = 4096;
constexpr uint32_t kCrcOffset = kPageSize - 4;
constexpr uint32_t kFormatVersion = 1;
constexpr uint64_t kNoBlob = UINT64_MAX;
constexpr uint32_t kExtentEntries = 1000;      // cluster map entries per extent page
constexpr uint32_t kMaxLogRecordPages = 1000;  // page images in one log record

using Page = std::array<uint8_t, kPageSize>;

// Seals a page: writes its CRC32C into the last 4 bytes.
void seal(Page& page);
bool crc_ok(const Page& page);

struct Superblock {
  static constexpr uint8_t kMagic[8] = {'N', 'D', 'S', 'L', 'V', 'S', 0, 1};
  uint32_t version = kFormatVersion;
  bool clean = false;            // exported cleanly: stored bitmaps match the metadata
  uint64_t generation = 0;       // higher wins between the two slots
  Uuid uuid;
  std::string name;              // up to 63 bytes
  uint64_t cluster_size = 0;     // bytes, a multiple of 1 MiB
  uint32_t block_size = 0;       // of the disk when formatted
  uint64_t total_clusters = 0;   // data clusters usable now
  uint64_t max_clusters = 0;     // what the bitmap region can describe (growth headroom)
  uint64_t data_start = 0;       // bytes: cluster 0 of the data area
  uint64_t bitmap_start = 0, bitmap_pages = 0;  // pages
  uint64_t log_start = 0, log_pages = 0;        // pages
  uint64_t md_start = 0, md_pages = 0;          // pages
  uint64_t checkpoint_seq = 0;   // every log record up to this seq is applied in place

  void encode(Page& page) const;
  // nullopt: not a superblock at all (magic); `valid` false: damaged (crc) or unsupported.
  static std::optional<Superblock> decode(const Page& page, bool* valid);
  // Why this layout cannot be a pool on a disk of `disk_bytes` (a sealed but damaged
  // superblock, or a disk cut short); empty when it can.
  std::string layout_error(uint64_t disk_bytes) const;
};

enum class PageType : uint16_t { Free = 0, Blob = 1, Extent = 2 };

struct BlobRecord {
  uint64_t id = 0;  // its metadata page index
  bool thin = false;
  bool read_only = false;
  uint64_t size_clusters = 0;
  uint64_t parent = kNoBlob;
  std::string name;
  Uuid uuid;
  std::map<std::string, std::string> properties;
  std::vector<uint32_t> extent_pages;  // metadata page indexes, in cluster order

  // false when it does not fit in one page (too many extents or properties).
  bool encode(Page& page) const;
  static bool decode(const Page& page, uint64_t index, BlobRecord* out);
  size_t encoded_size() const;
};

struct ExtentPage {
  uint64_t owner = 0;
  uint64_t first_cluster = 0;                    // index within the blob
  std::array<uint32_t, kExtentEntries> entries{};  // disk cluster + 1; 0 = not allocated
  void encode(Page& page, uint64_t index) const;
  static bool decode(const Page& page, uint64_t index, ExtentPage* out);
};

// What kind of metadata page this is, if its header and CRC are right.
std::optional<PageType> page_type(const Page& page, uint64_t index);
bool is_zero(const Page& page);

struct LogHeader {
  uint64_t seq = 0;
  Uuid pool;
  uint32_t images_crc = 0;
  std::vector<uint32_t> pages;  // metadata page indexes of the images that follow
  void encode(Page& page) const;
  static bool decode(const Page& page, LogHeader* out);
};

// ---- edits of encoded pages and layout arithmetic, so that nothing else writes offsets ----

uint64_t div_up(uint64_t a, uint64_t b);
// One cluster-map entry of an encoded extent page (disk cluster + 1; 0 none): read, and
// patched in place (the page is resealed).
uint32_t extent_entry(const Page& page, uint64_t slot);
void patch_extent_entry(Page& page, uint64_t slot, uint32_t value);
// The blob an encoded extent page belongs to, patched in place (resealed).
void patch_extent_owner(Page& page, uint64_t owner);
// Whether a blob record listing `extent_pages` extent pages fits its page with room left
// for its name, uuid and a few properties.
bool blob_record_fits(uint64_t extent_pages);
// Lays out a new pool on a disk of `disk_bytes`: the bitmap, log, metadata and data
// regions, with room for the disk to grow 4x. sb.cluster_size must be set; total_clusters
// is 0 when the disk cannot hold the metadata and one cluster.
void lay_out_pool(Superblock& sb, uint64_t disk_bytes, uint64_t log_pages);

}  // namespace nds::lvs
