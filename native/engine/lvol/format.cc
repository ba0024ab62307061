#include "lvol/format.h"

#include <algorithm>
#include <cstring>

#include "util/crc32c.h"

namespace nds::lvs {
namespace {

constexpr uint32_t kMetaMagic = 0x504d444e;  // "NDMP"
constexpr uint32_t kLogMagic = 0x474c444e;   // "NDLG"
constexpr size_t kExtentOwnerAt = 32;    // extent page: the blob it belongs to
constexpr size_t kExtentEntriesAt = 56;  // extent page: its cluster-map entries
constexpr size_t kBlobFixedBytes = 72;   // blob record: fields before its extent page list
constexpr size_t kBlobXattrRoom = 256;   // blob record: kept for name, uuid and properties

template <typename T>
void put(Page& p, size_t at, T v) {
  std::memcpy(p.data() + at, &v, sizeof(T));  // x86-64 is little-endian, as the format
}
template <typename T>
T get(const Page& p, size_t at) {
  T v;
  std::memcpy(&v, p.data() + at, sizeof(T));
  return v;
}

void put_meta_header(Page& p, PageType type, uint64_t index) {
  put<uint32_t>(p, 0, kMetaMagic);
  put<uint16_t>(p, 4, static_cast<uint16_t>(type));
  put<uint16_t>(p, 6, 0);
  put<uint64_t>(p, 8, index);
}

}  // namespace

void seal(Page& page) { put<uint32_t>(page, kCrcOffset, crc32c(page.data(), kCrcOffset)); }
bool crc_ok(const Page& page) { return get<uint32_t>(page, kCrcOffset) == crc32c(page.data(), kCrcOffset); }

bool is_zero(const Page& page) {
  for (uint8_t b : page)
    if (b) return false;
  return true;
}

void Superblock::encode(Page& p) const {
  p.fill(0);
  std::memcpy(p.data(), kMagic, 8);
  put<uint32_t>(p, 8, version);
  put<uint32_t>(p, 12, clean ? 1 : 0);
  put<uint64_t>(p, 16, generation);
  std::memcpy(p.data() + 24, uuid.bytes.data(), 16);
  std::memcpy(p.data() + 40, name.data(), std::min<size_t>(name.size(), 63));
  put<uint64_t>(p, 104, cluster_size);
  put<uint32_t>(p, 112, block_size);
  put<uint64_t>(p, 120, total_clusters);
  put<uint64_t>(p, 128, max_clusters);
  put<uint64_t>(p, 136, data_start);
  put<uint64_t>(p, 144, bitmap_start);
  put<uint64_t>(p, 152, bitmap_pages);
  put<uint64_t>(p, 160, log_start);
  put<uint64_t>(p, 168, log_pages);
  put<uint64_t>(p, 176, md_start);
  put<uint64_t>(p, 184, md_pages);
  put<uint64_t>(p, 192, checkpoint_seq);
  seal(p);
}

std::optional<Superblock> Superblock::decode(const Page& p, bool* valid) {
  if (std::memcmp(p.data(), kMagic, 6) != 0) return std::nullopt;
  Superblock s;
  *valid = crc_ok(p);
  s.version = get<uint32_t>(p, 8);
  if (s.version != kFormatVersion) *valid = false;
  if (!*valid) return s;
  s.clean = get<uint32_t>(p, 12) & 1;
  s.generation = get<uint64_t>(p, 16);
  std::memcpy(s.uuid.bytes.data(), p.data() + 24, 16);
  s.name.assign(reinterpret_cast<const char*>(p.data() + 40), strnlen(reinterpret_cast<const char*>(p.data() + 40), 63));
  s.cluster_size = get<uint64_t>(p, 104);
  s.block_size = get<uint32_t>(p, 112);
  s.total_clusters = get<uint64_t>(p, 120);
  s.max_clusters = get<uint64_t>(p, 128);
  s.data_start = get<uint64_t>(p, 136);
  s.bitmap_start = get<uint64_t>(p, 144);
  s.bitmap_pages = get<uint64_t>(p, 152);
  s.log_start = get<uint64_t>(p, 160);
  s.log_pages = get<uint64_t>(p, 168);
  s.md_start = get<uint64_t>(p, 176);
  s.md_pages = get<uint64_t>(p, 184);
  s.checkpoint_seq = get<uint64_t>(p, 192);
  return s;
}

std::string Superblock::layout_error(uint64_t disk_bytes) const {
  constexpr uint64_t kMiB = 1 << 20, kMaxPages = 1ull << 36;  // 256 TiB of metadata: nonsense beyond
  if (cluster_size == 0 || cluster_size % kMiB != 0 || cluster_size > 1024 * kMiB) return "cluster size " + std::to_string(cluster_size) + " is not a multiple of 1 MiB up to 1 GiB";
  if (block_size == 0 || kPageSize % block_size != 0) return "block size " + std::to_string(block_size) + " does not divide 4096";
  if (bitmap_pages > kMaxPages || log_pages > kMaxPages || md_pages > kMaxPages || bitmap_start > kMaxPages || log_start > kMaxPages || md_start > kMaxPages)
    return "a region is larger than any disk";
  if (bitmap_start < 2 || bitmap_start + bitmap_pages > log_start || log_pages == 0 || log_start + log_pages > md_start || md_pages == 0 ||
      (md_start + md_pages) * kPageSize > data_start)
    return "its regions overlap or are out of order";
  if (total_clusters > max_clusters || max_clusters > (kMaxPages * kPageSize) / cluster_size) return "it has more clusters than its bitmaps describe";
  const uint64_t end = data_start + total_clusters * cluster_size;
  if (end > disk_bytes) return "the pool needs " + std::to_string(end) + " bytes but the disk has " + std::to_string(disk_bytes) + " (cut short?)";
  return "";
}

std::optional<PageType> page_type(const Page& p, uint64_t index) {
  if (get<uint32_t>(p, 0) != kMetaMagic || get<uint64_t>(p, 8) != index || !crc_ok(p)) return std::nullopt;
  auto type = static_cast<PageType>(get<uint16_t>(p, 4));
  if (type != PageType::Blob && type != PageType::Extent) return std::nullopt;
  return type;
}

size_t BlobRecord::encoded_size() const {
  size_t size = kBlobFixedBytes + 4 * extent_pages.size();
  auto xattr = [](const std::string& k, const std::string& v) { return 4 + k.size() + v.size(); };
  size += xattr("name", name) + xattr("uuid", uuid.to_string());
  for (auto& [k, v] : properties) size += xattr("p:" + k, v);
  return size;
}

bool BlobRecord::encode(Page& p) const {
  if (encoded_size() > kCrcOffset) return false;
  p.fill(0);
  put_meta_header(p, PageType::Blob, id);
  put<uint64_t>(p, 32, id);
  put<uint32_t>(p, 40, (thin ? 1u : 0u) | (read_only ? 2u : 0u));
  put<uint32_t>(p, 44, static_cast<uint32_t>(extent_pages.size()));
  put<uint64_t>(p, 48, size_clusters);
  put<uint64_t>(p, 56, parent);
  size_t at = kBlobFixedBytes;
  for (uint32_t e : extent_pages) {
    put<uint32_t>(p, at, e);
    at += 4;
  }
  size_t xattr_start = at;
  auto write_xattr = [&](const std::string& k, const std::string& v) {
    put<uint16_t>(p, at, static_cast<uint16_t>(k.size()));
    put<uint16_t>(p, at + 2, static_cast<uint16_t>(v.size()));
    std::memcpy(p.data() + at + 4, k.data(), k.size());
    std::memcpy(p.data() + at + 4 + k.size(), v.data(), v.size());
    at += 4 + k.size() + v.size();
  };
  write_xattr("name", name);
  write_xattr("uuid", uuid.to_string());
  for (auto& [k, v] : properties) write_xattr("p:" + k, v);
  put<uint32_t>(p, 64, static_cast<uint32_t>(at - xattr_start));
  seal(p);
  return true;
}

bool BlobRecord::decode(const Page& p, uint64_t index, BlobRecord* out) {
  if (page_type(p, index) != PageType::Blob) return false;
  out->id = get<uint64_t>(p, 32);
  uint32_t flags = get<uint32_t>(p, 40);
  out->thin = flags & 1;
  out->read_only = flags & 2;
  uint32_t extents = get<uint32_t>(p, 44);
  out->size_clusters = get<uint64_t>(p, 48);
  out->parent = get<uint64_t>(p, 56);
  uint32_t xattr_len = get<uint32_t>(p, 64);
  size_t at = 72;
  if (at + 4ull * extents + xattr_len > kCrcOffset) return false;
  out->extent_pages.resize(extents);
  for (uint32_t i = 0; i < extents; ++i, at += 4) out->extent_pages[i] = get<uint32_t>(p, at);
  size_t end = at + xattr_len;
  out->properties.clear();
  while (at + 4 <= end) {
    uint16_t klen = get<uint16_t>(p, at), vlen = get<uint16_t>(p, at + 2);
    if (at + 4 + klen + vlen > end) return false;
    std::string k(reinterpret_cast<const char*>(p.data() + at + 4), klen);
    std::string v(reinterpret_cast<const char*>(p.data() + at + 4 + klen), vlen);
    at += 4 + klen + vlen;
    if (k == "name") {
      out->name = v;
    } else if (k == "uuid") {
      auto u = Uuid::parse(v);
      if (!u) return false;
      out->uuid = *u;
    } else if (k.rfind("p:", 0) == 0) {
      out->properties[k.substr(2)] = v;
    }
  }
  return out->id == index;
}

void ExtentPage::encode(Page& p, uint64_t index) const {
  p.fill(0);
  put_meta_header(p, PageType::Extent, index);
  put<uint64_t>(p, kExtentOwnerAt, owner);
  put<uint64_t>(p, 40, first_cluster);
  put<uint32_t>(p, 48, kExtentEntries);
  std::memcpy(p.data() + kExtentEntriesAt, entries.data(), sizeof(entries));
  seal(p);
}

bool ExtentPage::decode(const Page& p, uint64_t index, ExtentPage* out) {
  if (page_type(p, index) != PageType::Extent || get<uint32_t>(p, 48) != kExtentEntries) return false;
  out->owner = get<uint64_t>(p, kExtentOwnerAt);
  out->first_cluster = get<uint64_t>(p, 40);
  std::memcpy(out->entries.data(), p.data() + kExtentEntriesAt, sizeof(out->entries));
  return true;
}

void LogHeader::encode(Page& p) const {
  p.fill(0);
  put<uint32_t>(p, 0, kLogMagic);
  put<uint32_t>(p, 4, static_cast<uint32_t>(pages.size()));
  put<uint64_t>(p, 8, seq);
  std::memcpy(p.data() + 16, pool.bytes.data(), 16);
  put<uint32_t>(p, 32, images_crc);
  for (size_t i = 0; i < pages.size(); ++i) put<uint32_t>(p, 36 + 4 * i, pages[i]);
  seal(p);
}

bool LogHeader::decode(const Page& p, LogHeader* out) {
  if (get<uint32_t>(p, 0) != kLogMagic || !crc_ok(p)) return false;
  uint32_t count = get<uint32_t>(p, 4);
  if (count == 0 || count > kMaxLogRecordPages) return false;
  out->seq = get<uint64_t>(p, 8);
  std::memcpy(out->pool.bytes.data(), p.data() + 16, 16);
  out->images_crc = get<uint32_t>(p, 32);
  out->pages.resize(count);
  for (uint32_t i = 0; i < count; ++i) out->pages[i] = get<uint32_t>(p, 36 + 4 * i);
  return true;
}

uint64_t div_up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

uint32_t extent_entry(const Page& page, uint64_t slot) { return get<uint32_t>(page, kExtentEntriesAt + 4 * slot); }

void patch_extent_entry(Page& page, uint64_t slot, uint32_t value) {
  put<uint32_t>(page, kExtentEntriesAt + 4 * slot, value);
  seal(page);
}

void patch_extent_owner(Page& page, uint64_t owner) {
  put<uint64_t>(page, kExtentOwnerAt, owner);
  seal(page);
}

bool blob_record_fits(uint64_t extent_pages) { return kBlobFixedBytes + 4 * extent_pages + kBlobXattrRoom <= kCrcOffset; }

void lay_out_pool(Superblock& sb, uint64_t disk_bytes, uint64_t log_pages) {
  sb.max_clusters = std::max<uint64_t>(16, disk_bytes / sb.cluster_size * 4);  // room to grow 4x
  // Extent pages for a pool grown 4x, plus one blob page per data cluster (SPDK's default
  // metadata size): a pool holds as many lvols as it has clusters, not a fixed few hundred.
  sb.md_pages = std::max<uint64_t>(128, div_up(sb.max_clusters, kExtentEntries) * 2 + 256 + disk_bytes / sb.cluster_size);
  sb.bitmap_start = 2;
  sb.bitmap_pages = div_up(sb.max_clusters, 8 * kCrcOffset) + div_up(sb.md_pages, 8 * kCrcOffset);
  sb.log_start = sb.bitmap_start + sb.bitmap_pages;
  sb.log_pages = log_pages;
  sb.md_start = sb.log_start + sb.log_pages;
  sb.data_start = div_up((sb.md_start + sb.md_pages) * kPageSize, sb.cluster_size) * sb.cluster_size;
  sb.total_clusters = disk_bytes < sb.data_start + sb.cluster_size ? 0 : (disk_bytes - sb.data_start) / sb.cluster_size;
}

}  // namespace nds::lvs
