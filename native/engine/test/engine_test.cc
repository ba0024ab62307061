#include <cstring>
#include <future>
#include <random>

#include "bdev/bdev_factory.h"
#include "engine.h"
#include "test/run_on.h"
#include "test/testing.h"
#include "thread/io_device.h"

using namespace nds;
using nds::testing::run_on;

namespace {

std::unique_ptr<Engine> start_engine() {
  EngineOptions options;
  options.cores = {0};
  options.memory_bytes = 64ull << 20;
  options.hugepages = HugepageMode::Off;
  std::unique_ptr<Engine> engine;
  std::string warning;
  Status st = Engine::start(options, &engine, &warning);
  return st.is_ok() ? std::move(engine) : nullptr;
}

using testing::create_bdev;

// Drives random verified I/O from a worker thread, `depth` at a time, fully native.
struct VerifyJob {
  BdevDesc* desc;
  IoChannel* ch;
  std::vector<uint8_t> shadow;
  uint8_t* buffers;
  uint32_t block;
  uint64_t blocks;
  int remaining;
  int in_flight = 0;
  int mismatches = 0;
  int errors = 0;
  std::mt19937_64 rng{7};
  std::promise<void> done;
  struct Slot {
    VerifyJob* job;
    uint8_t* buf;
    uint64_t lba;
    bool is_read;
  };
  std::vector<Slot> slots;
};

void issue(VerifyJob::Slot* slot);

void on_done(int status, void* arg) {
  auto* slot = static_cast<VerifyJob::Slot*>(arg);
  VerifyJob* job = slot->job;
  --job->in_flight;
  if (status != 0) ++job->errors;
  if (slot->is_read && std::memcmp(slot->buf, &job->shadow[slot->lba * job->block], job->block) != 0) ++job->mismatches;
  if (job->remaining > 0) {
    issue(slot);
  } else if (job->in_flight == 0) {
    job->done.set_value();
  }
}

void issue(VerifyJob::Slot* slot) {
  VerifyJob* job = slot->job;
  --job->remaining;
  // Avoid two slots touching the same block at once: each slot owns a stripe of blocks.
  size_t index = static_cast<size_t>(slot - job->slots.data());
  uint64_t stripe = job->blocks / job->slots.size();
  slot->lba = index * stripe + job->rng() % stripe;
  slot->is_read = job->rng() % 2 == 0;
  if (!slot->is_read) {
    for (uint32_t i = 0; i < job->block; ++i) slot->buf[i] = static_cast<uint8_t>(job->rng());
    std::memcpy(&job->shadow[slot->lba * job->block], slot->buf, job->block);
  }
  ++job->in_flight;
  int rc = bdev_submit(job->desc, job->ch, slot->is_read ? IoType::Read : IoType::Write, slot->lba * job->block,
                       job->block, slot->buf, on_done, slot);
  if (rc != 0) {
    --job->in_flight;
    ++job->errors;
  }
}
}  // namespace

NDS_TEST(engine_malloc_bdev_verified_random_io_at_depth_64) {
  auto engine = start_engine();
  ASSERT_TRUE(engine != nullptr);
  ASSERT_TRUE(create_bdev(*engine, "malloc:///m0?size_mb=4&blk_size=4096").is_ok());
  VerifyJob job;
  run_on(engine->app_thread(), [&] { engine->bdevs().open("m0", true, &job.desc); });
  job.block = 4096;
  job.blocks = (4u << 20) / 4096;
  job.shadow.assign(4u << 20, 0);
  job.remaining = 20000;
  job.buffers = static_cast<uint8_t*>(engine->dma().alloc(64 * 4096));
  for (int i = 0; i < 64; ++i) job.slots.push_back({&job, job.buffers + i * 4096, 0, false});
  auto finished = job.done.get_future();
  run_on(engine->worker(0), [&] {
    job.ch = bdev_get_io_channel(job.desc);
    for (auto& slot : job.slots) issue(&slot);
  });
  finished.wait();
  EXPECT_EQ(job.errors, 0);
  EXPECT_EQ(job.mismatches, 0);
  IoStatSnapshot stats = job.desc->bdev->stats();
  EXPECT_EQ(stats.types[0].ops + stats.types[1].ops, 20000u);
  run_on(engine->worker(0), [&] { bdev_put_io_channel(job.ch); });
  run_on(engine->app_thread(), [&] { engine->bdevs().close(job.desc); });
  engine->dma().free(job.buffers);
  std::promise<void> stopped;
  engine->shutdown([&] { stopped.set_value(); });
  stopped.get_future().wait();
  engine->stop_reactors();
  EXPECT_EQ(engine->dma().stats().used_bytes, 0u);  // the malloc bdev gave its memory back
}

NDS_TEST(engine_rejects_bad_uris_and_duplicates_with_named_errors) {
  auto engine = start_engine();
  ASSERT_TRUE(engine != nullptr);
  EXPECT_TRUE(create_bdev(*engine, "null:///n0?num_blocks=1000").is_ok());
  Status dup = create_bdev(*engine, "null:///n0?num_blocks=10");
  EXPECT_EQ(dup.rc, -EEXIST);
  EXPECT_TRUE(dup.message.find("n0") != std::string::npos);
  EXPECT_EQ(create_bdev(*engine, "malloc:///m1?size_mb=1&num_blocks=8").rc, -EINVAL);
  EXPECT_EQ(create_bdev(*engine, "malloc:///m1").rc, -EINVAL);
  EXPECT_EQ(create_bdev(*engine, "malloc:///m1?size_mb=1&blk_size=1024").rc, -EINVAL);
  EXPECT_EQ(create_bdev(*engine, "malloc:///m1?size_mb=1&colour=red").rc, -EINVAL);
  EXPECT_EQ(create_bdev(*engine, "floppy:///m1?size_mb=1").rc, -EINVAL);
  EXPECT_EQ(create_bdev(*engine, "malloc:///m1?size_mb=1&uuid=xyz").rc, -EINVAL);
  EXPECT_EQ(create_bdev(*engine, "malloc:///m1?size_mb=1000").rc, -ENOMEM);  // more than the 64 MiB region
  std::promise<void> stopped;
  engine->shutdown([&] { stopped.set_value(); });
  stopped.get_future().wait();
  engine->stop_reactors();
}

NDS_TEST(engine_refuses_unknown_or_repeated_cores) {
  EngineOptions options;
  options.memory_bytes = 4ull << 20;
  options.hugepages = HugepageMode::Off;
  std::unique_ptr<Engine> engine;
  std::string warning;
  options.cores = {4096};
  EXPECT_EQ(Engine::start(options, &engine, &warning).rc, -EINVAL);
  options.cores = {0, 0};
  EXPECT_EQ(Engine::start(options, &engine, &warning).rc, -EINVAL);
}
