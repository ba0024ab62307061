#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>

#include "bdev/bdev_factory.h"
#include "bdev/error/error_bdev.h"
#include "bench/bdevperf.h"
#include "engine.h"
#include "env/time.h"
#include "test/run_on.h"
#include "test/testing.h"

using namespace nds;
using nds::testing::run_on;

namespace {

std::unique_ptr<Engine> start_engine(IdleMode idle) {
  EngineOptions options;
  options.memory_bytes = 64ull << 20;
  options.hugepages = HugepageMode::Off;
  options.idle = idle;
  std::unique_ptr<Engine> engine;
  std::string warning;
  return Engine::start(options, &engine, &warning).is_ok() ? std::move(engine) : nullptr;
}

using testing::create_bdev;
using testing::remove_bdev;

int io(Engine& engine, const std::string& name, IoType type, uint64_t offset, uint64_t length, void* buf) {
  return testing::run_io(engine, name, type, offset, length, buf);
}

BenchResult bench(Engine& engine, BenchOptions options, Status* status) {
  std::promise<std::pair<Status, BenchResult>> result;
  run_on(engine.app_thread(), [&] {
    run_bench(engine, options, [&](Status st, BenchResult r) { result.set_value({st, std::move(r)}); });
  });
  auto [st, r] = result.get_future().get();
  *status = st;
  return r;
}

std::string temp_file(uint64_t size) {
  char path[] = "/tmp/nds-test-XXXXXX";
  int fd = mkstemp(path);
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) std::perror("ftruncate");
  close(fd);
  return path;
}

}  // namespace

NDS_TEST(file_modules_do_verified_io_and_keep_data_on_the_file) {
  for (const char* scheme : {"uring", "aio"}) {
    for (IdleMode idle : {IdleMode::Adaptive, IdleMode::Poll}) {
      std::string path = temp_file(8 << 20);
      auto engine = start_engine(idle);
      ASSERT_TRUE(engine != nullptr);
      Status st = create_bdev(*engine, std::string(scheme) + "://" + path + "?blk_size=4096&name=f");
      ASSERT_TRUE(st.is_ok());
      BenchOptions options;
      options.bdev = "f";
      options.verify = true;
      options.queue_depth = 16;
      options.duration_ns = 100'000'000;
      BenchResult r = bench(*engine, options, &st);
      EXPECT_TRUE(st.is_ok());
      EXPECT_TRUE(r.jobs[0].ios > 100);
      EXPECT_EQ(r.jobs[0].errors, 0u);
      EXPECT_EQ(r.jobs[0].mismatches, 0u);

      auto* buf = static_cast<uint8_t*>(engine->dma().alloc(8192));
      std::memset(buf, 0x7e, 8192);
      EXPECT_EQ(io(*engine, "f", IoType::Write, 65536, 8192, buf), 0);
      EXPECT_EQ(io(*engine, "f", IoType::Flush, 0, 0, nullptr), 0);
      EXPECT_EQ(io(*engine, "f", IoType::WriteZeroes, 65536, 4096, nullptr), 0);
      EXPECT_EQ(io(*engine, "f", IoType::Unmap, 0, 4096, nullptr), 0);
      engine->dma().free(buf);
      EXPECT_TRUE(remove_bdev(*engine, "f").is_ok());
      testing::stop_test_engine(*engine);

      // The file itself holds what was written: zeroes, then the pattern.
      std::vector<uint8_t> content(8192);
      int fd = open(path.c_str(), O_RDONLY);
      EXPECT_EQ(pread(fd, content.data(), 8192, 65536), 8192);
      close(fd);
      bool zeroed = true, kept = true;
      for (int i = 0; i < 4096; ++i) zeroed = zeroed && content[i] == 0;
      for (int i = 4096; i < 8192; ++i) kept = kept && content[i] == 0x7e;
      EXPECT_TRUE(zeroed);
      EXPECT_TRUE(kept);
      unlink(path.c_str());
    }
  }
}

NDS_TEST(file_modules_reject_missing_and_unsuitable_paths) {
  auto engine = start_engine(IdleMode::Adaptive);
  ASSERT_TRUE(engine != nullptr);
  EXPECT_EQ(create_bdev(*engine, "uring:///nonexistent/disk.img").rc, -ENOENT);
  EXPECT_EQ(create_bdev(*engine, "aio:///tmp").rc, -EINVAL);  // a directory
  EXPECT_EQ(create_bdev(*engine, "uring://relative/disk.img").rc, -EINVAL);
  std::string path = temp_file(100);
  EXPECT_EQ(create_bdev(*engine, "aio://" + path).rc, -EINVAL);  // smaller than a block
  unlink(path.c_str());
  testing::stop_test_engine(*engine);
}

NDS_TEST(error_bdev_claims_its_base_and_injects_each_mode) {
  auto engine = start_engine(IdleMode::Adaptive);
  ASSERT_TRUE(engine != nullptr);
  ASSERT_TRUE(create_bdev(*engine, "malloc:///base?size_mb=4&blk_size=4096").is_ok());
  ASSERT_TRUE(create_bdev(*engine, "error:///err?base=base").is_ok());
  EXPECT_EQ(create_bdev(*engine, "error:///err2?base=base").rc, -EBUSY);  // already claimed
  EXPECT_EQ(remove_bdev(*engine, "base").rc, -EBUSY);
  Bdev* err = nullptr;
  run_on(engine->app_thread(), [&] { err = engine->bdevs().find("err"); });
  auto* buf = static_cast<uint8_t*>(engine->dma().alloc(4096));
  std::memset(buf, 0x11, 4096);
  EXPECT_EQ(io(*engine, "err", IoType::Write, 0, 4096, buf), 0);

  ErrorInjection fail;
  fail.io_types = 1u << static_cast<int>(IoType::Read);
  fail.mode = InjectMode::Fail;
  fail.error = -ENOSPC;
  fail.count = 2;
  EXPECT_TRUE(error_bdev_inject(err, fail).is_ok());
  EXPECT_EQ(io(*engine, "err", IoType::Read, 0, 4096, buf), -ENOSPC);
  EXPECT_EQ(io(*engine, "err", IoType::Write, 0, 4096, buf), 0);  // other types untouched
  EXPECT_EQ(io(*engine, "err", IoType::Read, 0, 4096, buf), -ENOSPC);
  EXPECT_EQ(io(*engine, "err", IoType::Read, 0, 4096, buf), 0);  // count used up

  ErrorInjection corrupt;
  corrupt.io_types = 1u << static_cast<int>(IoType::Read);
  corrupt.mode = InjectMode::Corrupt;
  EXPECT_TRUE(error_bdev_inject(err, corrupt).is_ok());
  BenchOptions options;
  options.bdev = "err";
  options.verify = true;
  options.queue_depth = 8;
  options.duration_ns = 50'000'000;
  Status st;
  BenchResult r = bench(*engine, options, &st);
  EXPECT_TRUE(st.is_ok());
  EXPECT_TRUE(r.jobs[0].mismatches > 0);
  EXPECT_EQ(r.jobs[0].errors, 0u);

  ErrorInjection gone;
  gone.io_types = 1u << static_cast<int>(IoType::Write);
  gone.mode = InjectMode::Gone;
  EXPECT_TRUE(error_bdev_inject(err, gone).is_ok());
  EXPECT_EQ(io(*engine, "err", IoType::Read, 0, 4096, buf), -ENODEV);
  EXPECT_EQ(io(*engine, "err", IoType::Flush, 0, 0, nullptr), -ENODEV);
  EXPECT_TRUE(error_bdev_clear(err).is_ok());
  EXPECT_EQ(io(*engine, "err", IoType::Read, 0, 4096, buf), 0);

  ErrorInjection delay;
  delay.io_types = 1u << static_cast<int>(IoType::Read);
  delay.mode = InjectMode::Delay;
  delay.latency_us = 20'000;
  EXPECT_TRUE(error_bdev_inject(err, delay).is_ok());
  uint64_t t0 = now_ns();
  EXPECT_EQ(io(*engine, "err", IoType::Read, 0, 4096, buf), 0);
  EXPECT_TRUE(now_ns() - t0 >= 20'000'000);

  Bdev* base = nullptr;
  run_on(engine->app_thread(), [&] { base = engine->bdevs().find("base"); });
  EXPECT_EQ(error_bdev_inject(base, fail).rc, -EINVAL);  // not an error bdev
  EXPECT_TRUE(error_bdev_clear(err).is_ok());
  engine->dma().free(buf);
  EXPECT_TRUE(remove_bdev(*engine, "err").is_ok());
  EXPECT_TRUE(remove_bdev(*engine, "base").is_ok());  // the claim went with the error bdev
  testing::stop_test_engine(*engine);
}

namespace {
// A read on worker 0 that the test waits for later.
std::future<int> read_later(Engine& engine, void* buf) {
  return std::async(std::launch::async, [&engine, buf] { return io(engine, "err", IoType::Read, 0, 4096, buf); });
}

void abort_on_worker(Engine& engine, const std::string& name, int status) {
  BdevDesc* desc = nullptr;
  run_on(engine.app_thread(), [&] { engine.bdevs().open(name, false, &desc); });
  run_on(engine.worker(0), [&] {
    IoChannel* ch = bdev_get_io_channel(desc);
    bdev_abort_all(ch, status);
    bdev_put_io_channel(ch);
  });
  run_on(engine.app_thread(), [&] { engine.bdevs().close(desc); });
}
}  // namespace

NDS_TEST(error_bdev_holds_pending_io_and_the_bdev_layer_retries_nomem) {
  auto engine = start_engine(IdleMode::Adaptive);
  ASSERT_TRUE(engine != nullptr);
  ASSERT_TRUE(create_bdev(*engine, "malloc:///base?size_mb=4&blk_size=4096").is_ok());
  ASSERT_TRUE(create_bdev(*engine, "error:///err?base=base").is_ok());
  Bdev* err = nullptr;
  run_on(engine->app_thread(), [&] { err = engine->bdevs().find("err"); });
  auto* buf = static_cast<uint8_t*>(engine->dma().alloc(4096));
  std::memset(buf, 0x5a, 4096);
  EXPECT_EQ(io(*engine, "err", IoType::Write, 0, 4096, buf), 0);
  auto* back = static_cast<uint8_t*>(engine->dma().alloc(4096));

  for (InjectMode mode : {InjectMode::Pending, InjectMode::Nomem}) {
    ErrorInjection hold;
    hold.io_types = 1u << static_cast<int>(IoType::Read);
    hold.mode = mode;  // count 0: until cleared
    EXPECT_TRUE(error_bdev_inject(err, hold).is_ok());
    // Held (or handed back again and again) until the injection is cleared, then served.
    std::memset(back, 0, 4096);
    auto held = read_later(*engine, back);
    EXPECT_TRUE(held.wait_for(std::chrono::milliseconds(30)) == std::future_status::timeout);
    EXPECT_EQ(io(*engine, "err", IoType::Write, 4096, 4096, buf), 0);  // writes are not held
    EXPECT_TRUE(error_bdev_clear(err).is_ok());
    EXPECT_EQ(held.get(), 0);
    EXPECT_EQ(std::memcmp(back, buf, 4096), 0);

    // An abort (a reset or a timeout above) ends a held I/O with its status.
    EXPECT_TRUE(error_bdev_inject(err, hold).is_ok());
    auto aborted = read_later(*engine, back);
    EXPECT_TRUE(aborted.wait_for(std::chrono::milliseconds(30)) == std::future_status::timeout);
    abort_on_worker(*engine, "err", -ECANCELED);
    EXPECT_EQ(aborted.get(), -ECANCELED);
    EXPECT_TRUE(error_bdev_clear(err).is_ok());
  }

  // SPDK's default for nomem is one I/O: the retry then goes through.
  ErrorInjection nomem;
  nomem.io_types = 1u << static_cast<int>(IoType::Read);
  nomem.mode = InjectMode::Nomem;
  nomem.count = 3;
  EXPECT_TRUE(error_bdev_inject(err, nomem).is_ok());
  const auto reads = [&] { return err->stats().types[static_cast<int>(IoType::Read)]; };
  const IoTypeCounters before = reads();
  std::memset(back, 0, 4096);
  EXPECT_EQ(io(*engine, "err", IoType::Read, 0, 4096, back), 0);
  EXPECT_EQ(std::memcmp(back, buf, 4096), 0);
  // Three attempts handed back, one served: the caller's one read, counted once.
  EXPECT_EQ(reads().ops - before.ops, 1u);
  EXPECT_EQ(reads().errors - before.errors, 0u);

  engine->dma().free(back);
  engine->dma().free(buf);
  EXPECT_TRUE(remove_bdev(*engine, "err").is_ok());
  EXPECT_TRUE(remove_bdev(*engine, "base").is_ok());  // the claim went with the error bdev
  testing::stop_test_engine(*engine);
}

NDS_TEST(bench_runs_every_workload_on_two_reactors_and_validates_options) {
  EngineOptions eo;
  eo.cores = {0, 1};
  eo.memory_bytes = 64ull << 20;
  eo.hugepages = HugepageMode::Off;
  std::unique_ptr<Engine> engine;
  std::string warning;
  ASSERT_TRUE(Engine::start(eo, &engine, &warning).is_ok());
  ASSERT_TRUE(create_bdev(*engine, "malloc:///m?size_mb=8&blk_size=512").is_ok());
  for (BenchWorkload w : {BenchWorkload::RandRead, BenchWorkload::RandWrite, BenchWorkload::Read, BenchWorkload::Write,
                          BenchWorkload::RandRw}) {
    BenchOptions o;
    o.bdev = "m";
    o.workload = w;
    o.block_size = 4096;
    o.queue_depth = 4;
    o.duration_ns = 20'000'000;
    o.reactors = {0, 1};
    Status st;
    BenchResult r = bench(*engine, o, &st);
    EXPECT_TRUE(st.is_ok());
    EXPECT_EQ(r.jobs.size(), 2u);
    EXPECT_TRUE(r.jobs[0].ios > 0 && r.jobs[1].ios > 0);
    EXPECT_EQ(r.jobs[0].errors + r.jobs[1].errors, 0u);
    EXPECT_EQ(r.jobs[1].core, 1);
  }
  BenchOptions bad;
  bad.bdev = "nope";
  Status st;
  bench(*engine, bad, &st);
  EXPECT_EQ(st.rc, -ENOENT);
  bad.bdev = "m";
  bad.block_size = 1000;
  bench(*engine, bad, &st);
  EXPECT_EQ(st.rc, -EINVAL);
  bad.block_size = 4096;
  bad.reactors = {5};
  bench(*engine, bad, &st);
  EXPECT_EQ(st.rc, -EINVAL);
  testing::stop_test_engine(*engine);
}

#include "util/stream_copy.h"

NDS_TEST(malloc_bigger_than_the_cache_streams_writes_that_other_reactors_read_back) {
  const uint64_t size_mb = (streaming_threshold_bytes() >> 20) + 4;
  EngineOptions eo;
  eo.cores = {0, 1};
  eo.memory_bytes = (size_mb + 16) << 20;
  eo.hugepages = HugepageMode::Off;
  std::unique_ptr<Engine> engine;
  std::string warning;
  ASSERT_TRUE(Engine::start(eo, &engine, &warning).is_ok());
  ASSERT_TRUE(create_bdev(*engine, "malloc:///big?size_mb=" + std::to_string(size_mb) + "&blk_size=4096").is_ok());

  // Written on reactor 0 with streaming stores, read on reactor 1.
  const uint64_t len = 1 << 20;
  std::vector<uint8_t> written(len), read(len);
  for (uint64_t offset : {uint64_t{0}, (size_mb - 1) << 20}) {
    for (uint64_t i = 0; i < len; ++i) written[i] = static_cast<uint8_t>((offset >> 20) + i * 13);
    EXPECT_EQ(testing::run_io(*engine, "big", IoType::Write, offset, len, written.data(), 0), 0);
    EXPECT_EQ(testing::run_io(*engine, "big", IoType::Read, offset, len, read.data(), 1), 0);
    EXPECT_TRUE(read == written);
    EXPECT_EQ(testing::run_io(*engine, "big", IoType::WriteZeroes, offset + 4096, 8192, nullptr, 0), 0);
    EXPECT_EQ(testing::run_io(*engine, "big", IoType::Read, offset, len, read.data(), 1), 0);
    std::fill(written.begin() + 4096, written.begin() + 4096 + 8192, 0);
    EXPECT_TRUE(read == written);
  }

  // Many writes in flight on both reactors, each read back after it completes.
  BenchOptions o;
  o.bdev = "big";
  o.workload = BenchWorkload::RandWrite;
  o.verify = true;
  o.block_size = 4096;
  o.queue_depth = 32;
  o.duration_ns = 50'000'000;
  o.reactors = {0, 1};
  Status st;
  BenchResult r = bench(*engine, o, &st);
  EXPECT_TRUE(st.is_ok());
  EXPECT_TRUE(r.jobs[0].ios > 0 && r.jobs[1].ios > 0);
  EXPECT_EQ(r.jobs[0].errors + r.jobs[1].errors, 0u);
  EXPECT_EQ(r.jobs[0].mismatches + r.jobs[1].mismatches, 0u);
  testing::stop_test_engine(*engine);
}
