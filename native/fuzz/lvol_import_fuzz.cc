// libFuzzer target over pool (lvol store) import: a real pool image, made once at start by
// the engine itself (thin and thick lvols with data, a snapshot and its clone, a property),
// damaged by the input and imported again. Import must either succeed with a consistent
// pool (fsck passes, and every lvol whose metadata the damage did not touch reads back
// exactly its data) or refuse with EIO; nothing may crash, hang, leak or trip a sanitizer.
//
// Input: byte 0 picks the image (bit 0: the crash image, taken before the clean export, so
// the metadata log is replayed) and whether the disk is cut short (bit 1, the next two
// bytes give its length in pages). Then up to 32 damages of 4 bytes: a page of the
// metadata area (bit 15 of the first pair: one of the pages the image uses, else any), a
// byte and bit to flip, and whether the page's CRC is then made right again (so the
// decoders behind the CRC see damaged but well-sealed pages).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "bdev/bdev_factory.h"
#include "engine.h"
#include "lvol/format.h"
#include "lvol/lvol_store.h"
#include "test/run_on.h"

using namespace nds;
using nds::testing::on_app;
using nds::testing::run_on;
using nds::testing::run_io;

namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kDiskBytes = 16 * kMiB;
constexpr uint64_t kPages = kDiskBytes / lvs::kPageSize;

struct Golden {
  std::vector<uint8_t> image;  // the whole disk
};

Engine* engine = nullptr;
uint8_t* dma = nullptr;  // kDiskBytes of DMA memory for whole-disk I/O
Golden clean, crashed;
uint64_t metadata_pages = 0;            // pages [0, metadata_pages) are damaged; data follows
uint64_t md_start = 0, log_start = 0, log_pages = 0;
std::vector<uint64_t> used_pages;       // non-zero metadata pages of the clean image
std::map<std::string, std::vector<uint8_t>> contents;  // each lvol's bytes
std::map<std::string, std::set<uint64_t>> owned_pages;  // its blob and extent pages, its ancestors' too

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "lvol import fuzz: %s\n", why.c_str());
  std::abort();
}

void check_ok(const Status& st, const char* what) {
  if (!st.is_ok()) fail(std::string(what) + ": " + st.message);
}

Status make_disk(const std::string& name, uint64_t bytes) {
  return testing::create_bdev(*engine, "malloc:///" + name + "?size_mb=" + std::to_string(bytes / kMiB) + "&blk_size=4096");
}

void write_disk(const std::string& bdev, const uint8_t* data, uint64_t offset, uint64_t length) {
  std::memcpy(dma, data, length);
  if (run_io(*engine, bdev, IoType::Write, offset, length, dma) != 0) fail("cannot write the disk");
}

std::vector<uint8_t> read_bdev(const std::string& bdev, uint64_t length) {
  if (run_io(*engine, bdev, IoType::Read, 0, length, dma) != 0) fail("cannot read " + bdev);
  return std::vector<uint8_t>(dma, dma + length);
}

// The status, and the name of the pool imported (damage may have renamed it).
std::pair<Status, std::string> import(const std::string& disk) {
  using R = std::pair<Status, std::string>;
  return on_app<R>(*engine, [&](auto done) {
    engine->pools().import("bdev:///" + disk, [done](Status s, lvs::LvolStore* store) { done({s, store ? store->name() : ""}); });
  });
}

Status export_pool(const std::string& name) {
  return on_app<Status>(*engine, [&](auto done) {
    lvs::LvolStore* store = engine->pools().find(name);
    if (!store) return done(Status::error(-ENOENT, "no pool"));
    store->export_pool(done);
  });
}

template <typename Fn>
void on_store(Fn fn, const std::string& pool = "p") {
  run_on(engine->app_thread(), [&] { fn(engine->pools().find(pool)); });
}

void make_golden() {
  check_ok(make_disk("disk", kDiskBytes), "malloc disk");
  check_ok(on_app<Status>(*engine, [&](auto done) { engine->pools().create("p", "bdev:///disk", kMiB, [done](Status s, lvs::LvolStore*) { done(s); }); }), "pool create");
  auto lvol = [&](const std::string& name, uint64_t bytes, bool thin) {
    using R = std::pair<Status, lvs::Lvol*>;
    R r = on_app<R>(*engine, [&](auto done) {
      lvs::LvolStore* store = engine->pools().find("p");
      store->create_lvol(name, bytes, thin, [done](Status s, lvs::Lvol* l) { done({s, l}); });
    });
    check_ok(r.first, "lvol create");
    return r.second;
  };
  auto pattern = [&](const std::string& bdev, uint64_t offset, uint64_t length, uint8_t seed) {
    for (uint64_t i = 0; i < length; ++i) dma[i] = static_cast<uint8_t>(seed + i * 13);
    if (run_io(*engine, bdev, IoType::Write, offset, length, dma) != 0) fail("golden write");
  };
  lvs::Lvol* thin = lvol("thin", 4 * kMiB, true);
  lvol("thick", 2 * kMiB, false);
  pattern("p/thin", 0, 64 << 10, 1);
  pattern("p/thin", 3 * kMiB - 4096, 8192, 2);
  pattern("p/thick", kMiB / 2, kMiB, 3);
  using R = std::pair<Status, lvs::Lvol*>;
  R snap = on_app<R>(*engine, [&](auto done) { engine->pools().find("p")->snapshot(thin, "snap", [done](Status s, lvs::Lvol* l) { done({s, l}); }); });
  check_ok(snap.first, "snapshot");
  R clone = on_app<R>(*engine, [&](auto done) { engine->pools().find("p")->clone(snap.second, "clone", [done](Status s, lvs::Lvol* l) { done({s, l}); }); });
  check_ok(clone.first, "clone");
  pattern("p/thin", 4096, 4096, 4);   // copy on write from the snapshot
  pattern("p/clone", 2 * kMiB, 4096, 5);
  check_ok(on_app<Status>(*engine, [&](auto done) { engine->pools().find("p")->set_property(thin, "owner", "fuzz", done); }), "property");
  for (const char* name : {"thin", "thick", "snap", "clone"}) {
    uint64_t bytes = 0;
    on_store([&](lvs::LvolStore* s) { bytes = s->find_lvol(name)->rec.size_clusters * s->cluster_size(); });
    contents[name] = read_bdev(std::string("p/") + name, bytes);
  }
  crashed.image = read_bdev("disk", kDiskBytes);  // as a crash would leave it: the log holds the rest
  check_ok(export_pool("p"), "export");
  clean.image = read_bdev("disk", kDiskBytes);

  lvs::Page page;
  std::memcpy(page.data(), clean.image.data(), lvs::kPageSize);
  bool valid = false;
  auto sb = lvs::Superblock::decode(page, &valid);
  if (!sb || !valid) fail("golden superblock");
  metadata_pages = sb->md_start + sb->md_pages;
  md_start = sb->md_start;
  log_start = sb->log_start;
  log_pages = sb->log_pages;
  if (std::memcmp(clean.image.data() + sb->data_start, crashed.image.data() + sb->data_start, kDiskBytes - sb->data_start) != 0)
    fail("the two images' data differ");
  for (uint64_t p = 0; p < metadata_pages; ++p) {
    std::memcpy(page.data(), clean.image.data() + p * lvs::kPageSize, lvs::kPageSize);
    if (!lvs::is_zero(page)) used_pages.push_back(p);
  }
  // Which metadata pages each lvol depends on: its blob record, its extent pages, and its
  // ancestors' (a clone reads through its snapshot).
  std::map<uint64_t, lvs::BlobRecord> blobs;
  for (uint64_t i = 0; i < sb->md_pages; ++i) {
    std::memcpy(page.data(), clean.image.data() + (md_start + i) * lvs::kPageSize, lvs::kPageSize);
    lvs::BlobRecord rec;
    if (lvs::page_type(page, i) == lvs::PageType::Blob && lvs::BlobRecord::decode(page, i, &rec)) blobs[rec.id] = rec;
  }
  for (const auto& [id, rec] : blobs) {
    std::set<uint64_t>& pages = owned_pages[rec.name];
    for (uint64_t at = id; at != lvs::kNoBlob && blobs.count(at); at = blobs[at].parent) {
      pages.insert(md_start + at);
      for (uint32_t e : blobs[at].extent_pages) pages.insert(md_start + e);
    }
  }
  if (owned_pages.size() != 4) fail("golden: expected 4 blobs, found " + std::to_string(owned_pages.size()));
}

void stop_engine() {
  if (!engine) return;
  testing::stop_test_engine(*engine);
  engine->dma().free(dma);
  delete engine;
  engine = nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  engine = testing::start_test_engine(96ull << 20).release();
  if (!engine) fail("engine start");
  dma = static_cast<uint8_t*>(engine->dma().alloc(kDiskBytes));
  if (!dma) fail("DMA memory");
  make_golden();
  std::atexit(stop_engine);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Golden& golden = (data[0] & 1) ? crashed : clean;
  std::vector<uint8_t> image(golden.image.begin(), golden.image.begin() + static_cast<long>(metadata_pages * lvs::kPageSize));
  size_t at = 1;
  uint64_t disk_pages = kPages;
  if ((data[0] & 2) && size >= 3) {
    // Cut short to a whole number of MiB (what a malloc disk can be), at least 1 MiB.
    disk_pages = std::max<uint64_t>(256, ((data[1] | (data[2] << 8)) % kPages) & ~uint64_t{255});
    at = 3;
  }
  std::set<uint64_t> touched;
  for (int n = 0; n < 32 && at + 4 <= size; ++n, at += 4) {
    const unsigned pick = data[at] | (data[at + 1] << 8);
    const unsigned where = data[at + 2] | (data[at + 3] << 8);
    const uint64_t page = (pick & 0x8000) ? used_pages[(pick & 0x7fff) % used_pages.size()] : (pick & 0x7fff) % metadata_pages;
    const unsigned byte = (where >> 4) % lvs::kPageSize;
    image[page * lvs::kPageSize + byte] ^= static_cast<uint8_t>(1u << (where & 7));
    if (where & 8) {
      lvs::Page p;
      std::memcpy(p.data(), image.data() + page * lvs::kPageSize, lvs::kPageSize);
      lvs::seal(p);
      std::memcpy(image.data() + page * lvs::kPageSize, p.data(), lvs::kPageSize);
    }
    touched.insert(page);
  }
  const bool truncated = disk_pages < kPages;
  const std::string disk = truncated ? "short" : "disk";
  if (truncated) check_ok(make_disk("short", disk_pages * lvs::kPageSize), "short disk");
  const uint64_t meta_bytes = std::min<uint64_t>(image.size(), disk_pages * lvs::kPageSize);
  write_disk(disk, image.data(), 0, meta_bytes);
  if (truncated && disk_pages * lvs::kPageSize > meta_bytes)
    write_disk(disk, golden.image.data() + meta_bytes, meta_bytes, disk_pages * lvs::kPageSize - meta_bytes);

  const auto [imported, pool_name] = import(disk);
  const std::string pool = pool_name;
  if (!imported.is_ok()) {
    // Refused: EIO for damage; ENOENT when no superblock has its magic any more.
    const bool both_superblocks = touched.count(0) && touched.count(1);
    if (imported.rc != -EIO && !(imported.rc == -ENOENT && both_superblocks)) fail("import refused with " + std::to_string(imported.rc) + ": " + imported.message);
    if (imported.message.empty()) fail("import refused without a message");
  } else {
    Status checked;
    on_store([&](lvs::LvolStore* s) { checked = s ? s->fsck() : Status::error(-ENOENT, "the imported pool is not there"); }, pool);
    if (!checked.is_ok()) fail("imported, but fsck fails: " + checked.message);
    // Damage to a superblock or the log (which a crash image replays) can reach every lvol;
    // else an lvol whose pages were not touched must read back exactly.
    bool shared_damage = touched.count(0) || touched.count(1) || truncated;
    if (data[0] & 1)
      for (uint64_t p : touched) shared_damage |= p >= log_start && p < log_start + log_pages;
    for (const auto& entry : contents) {
      const std::string& name = entry.first;
      const std::vector<uint8_t>& bytes = entry.second;
      bool intact = !shared_damage;
      for (uint64_t p : owned_pages[name]) intact &= !touched.count(p);
      if (!intact) continue;
      bool present = false;
      on_store([&](lvs::LvolStore* s) { present = s && s->find_lvol(name) && s->find_lvol(name)->rec.size_clusters * s->cluster_size() == bytes.size(); }, pool);
      if (!present) fail("lvol " + name + " is intact but missing or resized after import");
      if (read_bdev(pool + "/" + name, bytes.size()) != bytes) fail("lvol " + name + " is intact but reads back other data");
    }
    check_ok(export_pool(pool), "export after import");
  }
  if (truncated) check_ok(testing::remove_bdev(*engine, "short"), "remove short disk");
  return 0;
}
