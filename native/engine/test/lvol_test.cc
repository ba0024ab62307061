#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <optional>
#include <random>

#include "bdev/bdev_factory.h"
#include "bdev/error/error_bdev.h"
#include "engine.h"
#include "test/run_on.h"
#include "test/testing.h"

using namespace nds;
using nds::testing::run_on;

namespace {

std::unique_ptr<Engine> start() { return testing::start_test_engine(128ull << 20); }

using testing::on_app;

struct Io {
  Engine& e;
  uint8_t* buf;
  explicit Io(Engine& engine) : e(engine), buf(static_cast<uint8_t*>(engine.dma().alloc(4 << 20))) {}
  ~Io() { e.dma().free(buf); }
  int run(const std::string& bdev, IoType type, uint64_t offset, uint64_t length) {
    return testing::run_io(e, bdev, type, offset, length, buf);
  }
  int write_pattern(const std::string& bdev, uint64_t offset, uint64_t length, uint8_t seed) {
    for (uint64_t i = 0; i < length; ++i) buf[i] = static_cast<uint8_t>(seed + i * 7);
    return run(bdev, IoType::Write, offset, length);
  }
  bool reads_pattern(const std::string& bdev, uint64_t offset, uint64_t length, uint8_t seed) {
    if (run(bdev, IoType::Read, offset, length) != 0) return false;
    for (uint64_t i = 0; i < length; ++i)
      if (buf[i] != static_cast<uint8_t>(seed + i * 7)) return false;
    return true;
  }
  bool reads_zero(const std::string& bdev, uint64_t offset, uint64_t length) {
    if (run(bdev, IoType::Read, offset, length) != 0) return false;
    for (uint64_t i = 0; i < length; ++i)
      if (buf[i]) return false;
    return true;
  }
};

using Result = std::pair<Status, lvs::Lvol*>;

lvs::LvolStore* pool(Engine& e, const std::string& name) {
  lvs::LvolStore* store = nullptr;
  run_on(e.app_thread(), [&] { store = e.pools().find(name); });
  return store;
}

Status fsck(Engine& e, const std::string& name) {
  Status st;
  run_on(e.app_thread(), [&] {
    lvs::LvolStore* store = e.pools().find(name);
    st = store ? store->fsck() : Status::error(-ENOENT, "no pool");
  });
  return st;
}

std::string temp_disk(uint64_t bytes) {
  char path[] = "/tmp/nds-lvol-XXXXXX";
  int fd = mkstemp(path);
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) return "";
  close(fd);
  return path;
}

}  // namespace

NDS_TEST(lvol_store_thin_thick_snapshot_clone_resize_persist) {
  std::string path = temp_disk(96 << 20);
  auto e = start();
  ASSERT_TRUE(e != nullptr);
  const uint64_t MiB = 1 << 20;
  Status st = on_app<Status>(*e, [&](auto done) {
    e->pools().create("p", "uring://" + path + "?blk_size=4096&name=disk", MiB, [done](Status s, lvs::LvolStore*) { done(s); });
  });
  ASSERT_TRUE(st.is_ok());
  lvs::LvolStore* store = pool(*e, "p");  // stable until export; used inside app-thread code
  ASSERT_TRUE(store != nullptr);
  auto create = [&](const std::string& name, uint64_t size, bool thin) {
    return on_app<Result>(*e, [&](auto done) { store->create_lvol(name, size, thin, [done](Status s, lvs::Lvol* l) { done({s, l}); }); });
  };
  Result thin = create("t", 8 * MiB, true);
  Result thick = create("k", 4 * MiB, false);
  ASSERT_TRUE(thin.first.is_ok() && thick.first.is_ok());
  EXPECT_EQ(create("t", MiB, true).first.rc, -EEXIST);
  EXPECT_EQ(create("bad/name", MiB, true).first.rc, -EINVAL);
  EXPECT_EQ(create("huge", 200 * MiB, false).first.rc, -ENOSPC);   // more than the pool
  EXPECT_EQ(create("vast", 1ull << 40, true).first.rc, -EINVAL);    // more than one lvol can map
  lvs::PoolInfo info;
  run_on(e->app_thread(), [&] { info = store->info(); });
  EXPECT_EQ(info.used_bytes, 4 * MiB);  // only the thick lvol holds clusters
  EXPECT_EQ(info.committed_bytes, 12 * MiB);

  std::optional<Io> io_holder(std::in_place, *e);  // dies with the first engine
  Io& io = *io_holder;
  EXPECT_TRUE(io.reads_zero("p/t", 0, 8 * MiB));
  EXPECT_TRUE(io.reads_zero("p/k", 0, 4 * MiB));
  // A write across a cluster boundary allocates two clusters; the rest of them reads zero.
  EXPECT_EQ(io.write_pattern("p/t", MiB - 8192, 16384, 1), 0);
  EXPECT_TRUE(io.reads_pattern("p/t", MiB - 8192, 16384, 1));
  EXPECT_TRUE(io.reads_zero("p/t", 0, MiB - 8192));
  EXPECT_TRUE(io.reads_zero("p/t", MiB + 8192, MiB - 8192));
  run_on(e->app_thread(), [&] { info = store->info(); });
  EXPECT_EQ(info.used_bytes, 6 * MiB);
  EXPECT_TRUE(fsck(*e, "p").is_ok());

  // Snapshot, then copy-on-write: the snapshot keeps the old data.
  Result snap = on_app<Result>(*e, [&](auto done) { store->snapshot(thin.second, "s", [done](Status s, lvs::Lvol* l) { done({s, l}); }); });
  ASSERT_TRUE(snap.first.is_ok());
  EXPECT_EQ(io.write_pattern("p/t", MiB - 4096, 4096, 9), 0);  // a partial write copies the rest
  EXPECT_TRUE(io.reads_pattern("p/t", MiB - 4096, 4096, 9));
  EXPECT_TRUE(io.reads_pattern("p/s", MiB - 8192, 16384, 1));
  EXPECT_TRUE(io.reads_pattern("p/t", MiB - 8192, 4096, 1));     // copied from the snapshot
  EXPECT_TRUE(io.reads_pattern("p/t", MiB, 8192, static_cast<uint8_t>(1 + 8192 * 7)));  // the second cluster, untouched
  EXPECT_EQ(io.write_pattern("p/s", 0, 4096, 3), -EROFS);
  Result clone = on_app<Result>(*e, [&](auto done) { store->clone(snap.second, "c", [done](Status s, lvs::Lvol* l) { done({s, l}); }); });
  ASSERT_TRUE(clone.first.is_ok());
  EXPECT_TRUE(io.reads_pattern("p/c", MiB - 8192, 16384, 1));
  EXPECT_EQ(io.write_pattern("p/c", 0, 4096, 5), 0);
  EXPECT_TRUE(io.reads_zero("p/s", 0, 4096));
  Status busy = on_app<Status>(*e, [&](auto done) { store->destroy_lvol(snap.second, done); });
  EXPECT_EQ(busy.rc, -EBUSY);
  EXPECT_TRUE(fsck(*e, "p").is_ok());

  // Resize: grow then shrink frees clusters beyond the end.
  EXPECT_TRUE(on_app<Status>(*e, [&](auto done) { store->resize(thick.second, 6 * MiB, done); }).is_ok());
  EXPECT_TRUE(io.reads_zero("p/k", 4 * MiB, 2 * MiB));
  EXPECT_EQ(io.write_pattern("p/k", 5 * MiB, 4096, 4), 0);
  EXPECT_TRUE(on_app<Status>(*e, [&](auto done) { store->resize(thick.second, 2 * MiB, done); }).is_ok());
  EXPECT_EQ(io.run("p/k", IoType::Read, 3 * MiB, 4096), -EINVAL);
  EXPECT_TRUE(fsck(*e, "p").is_ok());

  // Inflate the clone: it owns everything and has no parent.
  EXPECT_TRUE(on_app<Status>(*e, [&](auto done) { store->inflate(clone.second, done); }).is_ok());
  EXPECT_TRUE(clone.second->rec.parent == lvs::kNoBlob);
  EXPECT_TRUE(io.reads_pattern("p/c", 0, 4096, 5));
  EXPECT_TRUE(io.reads_pattern("p/c", MiB - 4096, 4096, static_cast<uint8_t>(1 + 4096 * 7)));
  EXPECT_TRUE(fsck(*e, "p").is_ok());
  EXPECT_TRUE(on_app<Status>(*e, [&](auto done) { store->set_property(thin.second, "owner", "me", done); }).is_ok());

  // Crash: stop without exporting. The log holds everything acknowledged.
  io_holder.reset();
  e->stop_reactors();
  e.reset();
  e = start();
  ASSERT_TRUE(e != nullptr);
  Status imported = on_app<Status>(*e, [&](auto done) {
    e->pools().import("uring://" + path + "?blk_size=4096&name=disk", [done](Status s, lvs::LvolStore*) { done(s); });
  });
  ASSERT_TRUE(imported.is_ok());
  store = pool(*e, "p");
  Io io2(*e);
  EXPECT_TRUE(store->imported_dirty());
  EXPECT_TRUE(fsck(*e, "p").is_ok());
  EXPECT_TRUE(io2.reads_pattern("p/t", MiB - 4096, 4096, 9));
  EXPECT_TRUE(io2.reads_pattern("p/s", MiB - 8192, 16384, 1));
  EXPECT_TRUE(io2.reads_pattern("p/c", 0, 4096, 5));
  EXPECT_TRUE(io2.reads_zero("p/k", 0, 2 * MiB));  // thick clusters start zeroed
  lvs::Lvol* t = nullptr;
  run_on(e->app_thread(), [&] { t = store->find_lvol("t"); });
  ASSERT_TRUE(t != nullptr);
  EXPECT_EQ(t->rec.properties["owner"], std::string("me"));
  EXPECT_EQ(t->rec.size_clusters, 8u);

  // Clean export and import.
  EXPECT_TRUE(on_app<Status>(*e, [&](auto done) { store->export_pool(done); }).is_ok());
  EXPECT_TRUE(pool(*e, "p") == nullptr);
  EXPECT_TRUE(on_app<Status>(*e, [&](auto done) {
    e->pools().import("uring://" + path + "?blk_size=4096&name=disk", [done](Status s, lvs::LvolStore*) { done(s); });
  }).is_ok());
  store = pool(*e, "p");
  EXPECT_TRUE(!store->imported_dirty());
  EXPECT_TRUE(io2.reads_pattern("p/t", MiB - 4096, 4096, 9));
  // Destroy the pool: a later import finds nothing.
  EXPECT_TRUE(on_app<Status>(*e, [&](auto done) { store->destroy_pool(done); }).is_ok());
  Status none = on_app<Status>(*e, [&](auto done) {
    e->pools().import("uring://" + path + "?blk_size=4096&name=disk", [done](Status s, lvs::LvolStore*) { done(s); });
  });
  EXPECT_EQ(none.rc, -ENOENT);
  std::promise<void> stopped;
  e->shutdown([&] { stopped.set_value(); });
  stopped.get_future().wait();
  e->stop_reactors();
  unlink(path.c_str());
}

// Found by the soak: one write failing under a pool (EIO, or ENOSPC from a full device)
// that happened to be a metadata write broke the pool for good ("cannot write the pool's
// metadata" until re-imported). Transient failures are now retried; only one that
// outlasts DiskIo::kRetryWindowNs stops the metadata log.
NDS_TEST(lvol_store_rides_out_transient_metadata_write_failures) {
  auto e = start();
  ASSERT_TRUE(e != nullptr);
  const uint64_t MiB = 1 << 20;
  ASSERT_TRUE(testing::create_bdev(*e, "malloc:///pm?size_mb=64&blk_size=4096").is_ok());
  ASSERT_TRUE(testing::create_bdev(*e, "error:///pe?base=pm").is_ok());
  Bdev* errors = nullptr;
  run_on(e->app_thread(), [&] { errors = e->bdevs().find("pe"); });
  ASSERT_TRUE(errors != nullptr);
  Status st = on_app<Status>(*e, [&](auto done) { e->pools().create("p", "bdev:///pe", MiB, [done](Status s, lvs::LvolStore*) { done(s); }); });
  ASSERT_TRUE(st.is_ok());
  lvs::LvolStore* store = pool(*e, "p");
  ASSERT_TRUE(store != nullptr);
  auto create = [&](const std::string& name) {
    return on_app<Result>(*e, [&](auto done) { store->create_lvol(name, 4 * MiB, true, [done](Status s, lvs::Lvol* l) { done({s, l}); }); });
  };
  ErrorInjection twice;
  twice.io_types = 1u << static_cast<int>(IoType::Write);
  twice.error = -ENOSPC;
  twice.count = 2;
  for (int errno_case : {-ENOSPC, -EIO}) {
    twice.error = errno_case;
    ASSERT_TRUE(error_bdev_inject(errors, twice).is_ok());
    Result made = create(errno_case == -EIO ? "after-eio" : "after-enospc");
    EXPECT_TRUE(made.first.is_ok());
  }
  // The data path's own writes (a thin lvol's first write fills a cluster) ride it out too.
  Io io(*e);
  ASSERT_TRUE(error_bdev_inject(errors, twice).is_ok());
  EXPECT_EQ(io.write_pattern("p/after-eio", 0, 8192, 4), 0);
  EXPECT_TRUE(io.reads_pattern("p/after-eio", 0, 8192, 4));
  EXPECT_TRUE(fsck(*e, "p").is_ok());

  // A failure that lasts: the create fails after the retries, and the log stops there.
  ErrorInjection always = twice;
  always.error = -EIO;
  always.count = 0;
  ASSERT_TRUE(error_bdev_inject(errors, always).is_ok());
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(create("never").first.rc, -EIO);
  EXPECT_TRUE(std::chrono::steady_clock::now() - started >= std::chrono::nanoseconds(lvs::DiskIo::kRetryWindowNs / 2));
  ASSERT_TRUE(error_bdev_clear(errors).is_ok());
  EXPECT_EQ(create("still-no").first.rc, -EIO);
  // It is not retried for ever: the next call answers at once.
  started = std::chrono::steady_clock::now();
  EXPECT_EQ(create("at-once").first.rc, -EIO);
  EXPECT_TRUE(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500));
  testing::stop_test_engine(*e);  // a failed pool still lets go of its disk
}
