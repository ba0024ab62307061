#include "bench/bdevperf.h"

#include <cstring>
#include <memory>

#include "engine.h"
#include "env/time.h"

namespace nds {
namespace {

struct Job;

struct Slot {
  Job* job;
  uint8_t* buf;
  uint8_t* verify_buf;  // verify mode: where the read-back lands
  uint64_t offset = 0;
  uint64_t generation = 0;
  uint64_t start_ns = 0;
  bool verifying_read = false;
};

struct Job {
  Engine* engine;
  BdevDesc* desc;
  IoChannel* channel = nullptr;
  BenchOptions options;
  uint64_t region_start = 0;  // bytes
  uint64_t region_units = 0;  // block_size units in this job's region
  uint64_t sequential_next = 0;
  uint64_t rng = 0;
  uint64_t end_ns = 0;
  uint64_t start_ns = 0;
  uint32_t in_flight = 0;
  std::vector<Slot> slots;
  uint8_t* buffers = nullptr;
  BenchJobResult result;
  bool reported = false;
  std::function<void(BenchJobResult)> finished;  // runs on the worker thread
};

// Called whenever in_flight may have reached zero; reports the job exactly once.
void report_if_done(Job* job, uint64_t now) {
  if (job->in_flight != 0 || job->reported) return;
  job->reported = true;
  job->result.elapsed_ns = now - job->start_ns;
  job->finished(job->result);
}

uint64_t next_random(uint64_t& state) {
  // xorshift64*: cheap, and good enough to spread offsets.
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 2685821657736338717ull;
}

void fill_pattern(uint8_t* buf, uint32_t length, uint64_t offset, uint64_t generation) {
  uint64_t seed = offset * 0x9e3779b97f4a7c15ull ^ (generation + 1) * 0xc2b2ae3d27d4eb4full;
  auto* words = reinterpret_cast<uint64_t*>(buf);
  for (uint32_t i = 0; i < length / 8; ++i) words[i] = seed + i;
}

void issue(Slot* slot);

void on_complete(int status, void* arg) {
  auto* slot = static_cast<Slot*>(arg);
  Job* job = slot->job;
  uint64_t now = now_ns();
  uint64_t latency = now - slot->start_ns;
  --job->in_flight;
  ++job->result.ios;
  job->result.bytes += job->options.block_size;
  job->result.latency_sum_ns += latency;
  ++job->result.latency.types[0].histogram[latency_bucket(latency)];
  if (status != 0) {
    ++job->result.errors;
    slot->verifying_read = false;
  } else if (job->options.verify) {
    if (slot->verifying_read) {
      if (std::memcmp(slot->buf, slot->verify_buf, job->options.block_size) != 0) ++job->result.mismatches;
      slot->verifying_read = false;
    } else {
      slot->verifying_read = true;  // the write landed: read it back next
    }
  }
  if (now < job->end_ns || slot->verifying_read) {
    issue(slot);
    return;
  }
  report_if_done(job, now);
}

void issue(Slot* slot) {
  Job* job = slot->job;
  const BenchOptions& o = job->options;
  IoType type;
  uint8_t* target = slot->buf;
  if (o.verify) {
    if (slot->verifying_read) {
      type = IoType::Read;
      target = slot->verify_buf;
    } else {
      // Each slot owns every slots.size()-th unit of the region: no two slots overlap.
      uint64_t slot_index = static_cast<uint64_t>(slot - job->slots.data());
      uint64_t per_slot = job->region_units / job->slots.size();
      uint64_t unit = (next_random(job->rng) % per_slot) * job->slots.size() + slot_index;
      slot->offset = job->region_start + unit * o.block_size;
      ++slot->generation;
      fill_pattern(slot->buf, o.block_size, slot->offset, slot->generation);
      type = IoType::Write;
    }
  } else {
    bool random = o.workload == BenchWorkload::RandRead || o.workload == BenchWorkload::RandWrite ||
                  o.workload == BenchWorkload::RandRw;
    uint64_t unit;
    if (random) {
      unit = next_random(job->rng) % job->region_units;
    } else {
      unit = job->sequential_next;
      job->sequential_next = (job->sequential_next + 1) % job->region_units;
    }
    slot->offset = job->region_start + unit * o.block_size;
    switch (o.workload) {
      case BenchWorkload::RandRead:
      case BenchWorkload::Read: type = IoType::Read; break;
      case BenchWorkload::RandWrite:
      case BenchWorkload::Write: type = IoType::Write; break;
      default: type = next_random(job->rng) % 100 < o.rwmixread ? IoType::Read : IoType::Write; break;
    }
  }
  ++job->in_flight;
  slot->start_ns = now_ns();
  int rc = bdev_submit(job->desc, job->channel, type, slot->offset, o.block_size, target, on_complete, slot);
  if (rc != 0) {
    // Not submitted: count it and retire the slot (retrying at once would spin).
    --job->in_flight;
    ++job->result.errors;
    slot->verifying_read = false;
    report_if_done(job, now_ns());
  }
}

void start_job(Job* job) {
  job->start_ns = now_ns();
  job->channel = bdev_get_io_channel(job->desc);
  if (!job->channel) {
    job->result.errors = 1;
    return report_if_done(job, job->start_ns);
  }
  job->end_ns = job->start_ns + job->options.duration_ns;
  for (Slot& slot : job->slots) {
    slot.job = job;
    issue(&slot);
  }
  report_if_done(job, now_ns());
}

bool writes(const BenchOptions& o) {
  return o.verify || (o.workload != BenchWorkload::RandRead && o.workload != BenchWorkload::Read);
}

}  // namespace

void run_bench(Engine& engine, const BenchOptions& options, std::function<void(Status, BenchResult)> done) {
  BdevManager& bdevs = engine.bdevs();
  Bdev* bdev = bdevs.find(options.bdev);
  if (!bdev) return done(Status::error(-ENOENT, "bdev " + options.bdev + " does not exist"), {});
  if (options.block_size == 0 || options.block_size % bdev->block_size() != 0 || options.block_size > (16u << 20))
    return done(Status::error(-EINVAL, "blockSize " + std::to_string(options.block_size) +
                                           " must be a multiple of the block size " + std::to_string(bdev->block_size()) +
                                           " of bdev " + bdev->name() + " and at most 16 MiB"),
                {});
  if (options.queue_depth == 0 || options.queue_depth > 4096)
    return done(Status::error(-EINVAL, "queueDepth must be 1..4096"), {});
  if (options.reactors.empty()) return done(Status::error(-EINVAL, "at least one core is required"), {});
  for (size_t r : options.reactors)
    if (r >= engine.reactor_count())
      return done(Status::error(-EINVAL, "core index " + std::to_string(r) + " has no reactor"), {});
  uint64_t units = bdev->size_bytes() / options.block_size;
  uint64_t per_job = units / options.reactors.size();
  uint64_t needed = options.verify ? options.queue_depth : 1;
  if (per_job < needed)
    return done(Status::error(-EINVAL, "bdev " + bdev->name() + " is too small for this benchmark"), {});

  BdevDesc* desc = nullptr;
  Status st = bdevs.open(bdev->name(), writes(options), &desc);
  if (!st.is_ok()) return done(st, {});

  struct Shared {
    BdevDesc* desc;
    size_t remaining;
    BenchResult result;
    std::function<void(Status, BenchResult)> done;
    Thread* app;
    Engine* engine;
  };
  auto shared = std::make_shared<Shared>(Shared{desc, options.reactors.size(), {}, std::move(done), &engine.app_thread(), &engine});
  shared->result.jobs.resize(options.reactors.size());

  for (size_t j = 0; j < options.reactors.size(); ++j) {
    auto job = std::make_shared<Job>();
    job->engine = &engine;
    job->desc = desc;
    job->options = options;
    job->region_units = per_job;
    job->region_start = j * per_job * options.block_size;
    job->rng = 0x853c49e6748fea9bull ^ (j + 1) * 0x9e3779b97f4a7c15ull;
    job->result.core = engine.reactor(options.reactors[j]).core();
    size_t buffers_per_slot = options.verify ? 2 : 1;
    job->buffers = static_cast<uint8_t*>(engine.dma().alloc(options.queue_depth * buffers_per_slot * options.block_size));
    if (!job->buffers) {
      job->result.errors = 1;  // reported as a failed job below
    }
    job->slots.resize(job->buffers ? options.queue_depth : 0);
    for (size_t s = 0; s < job->slots.size(); ++s) {
      job->slots[s].buf = job->buffers + s * buffers_per_slot * options.block_size;
      job->slots[s].verify_buf = options.verify ? job->slots[s].buf + options.block_size : nullptr;
    }
    job->finished = [job, shared, j](BenchJobResult r) {
      if (job->channel) bdev_put_io_channel(job->channel);
      job->channel = nullptr;
      shared->app->send([job, shared, j, r] {
        if (job->buffers) shared->engine->dma().free(job->buffers);
        shared->result.jobs[j] = r;
        job->finished = nullptr;  // break the job <-> closure cycle
        if (--shared->remaining == 0) {
          shared->engine->bdevs().close(shared->desc);
          for (auto& jr : shared->result.jobs)
            if (jr.ios == 0 && jr.errors > 0)
              return shared->done(Status::error(-ENOMEM, "a benchmark job could not start (DMA memory or channel)"), {});
          shared->done(Status::ok(), std::move(shared->result));
        }
      });
    };
    Thread& worker = engine.worker(options.reactors[j]);
    worker.send([job] { start_job(job.get()); });
  }
}

}  // namespace nds
