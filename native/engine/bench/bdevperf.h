// bdevperf-style benchmark jobs: one job per chosen reactor, each keeping `queue_depth`
// I/Os in flight on its worker thread for `seconds`, with no JavaScript per I/O. The
// device is split into one region per job so jobs never touch the same blocks.
// Verify mode (like bdevperf's verify workload): each I/O slot writes a pattern derived
// from (offset, generation), reads it back and counts mismatches.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bdev/iostat.h"
#include "util/status.h"

namespace nds {

class Engine;

// Rw: sequential offsets, each I/O a read with probability rwmixread% (fio's and spdk_nvme_perf's rw).
enum class BenchWorkload { RandRead, RandWrite, Read, Write, RandRw, Rw };

struct BenchOptions {
  std::string bdev;
  BenchWorkload workload = BenchWorkload::RandRead;
  uint32_t rwmixread = 50;  // percent reads, RandRw and Rw only
  uint32_t block_size = 4096;
  uint32_t queue_depth = 32;
  uint64_t duration_ns = 1'000'000'000;
  std::vector<size_t> reactors{0};  // reactor indexes
  bool verify = false;
};

struct BenchJobResult {
  int core = 0;
  uint64_t ios = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  uint64_t mismatches = 0;
  uint64_t elapsed_ns = 0;
  uint64_t latency_sum_ns = 0;
  IoStatSnapshot latency;  // histogram in types[Read]: every I/O of the job, whatever its type
};

struct BenchResult {
  std::vector<BenchJobResult> jobs;
};

// From the app thread. Validates (ENOENT bdev, EINVAL sizes, EBUSY a claimed bdev for
// writes), runs the jobs, then calls done on the app thread.
void run_bench(Engine& engine, const BenchOptions& options, std::function<void(Status, BenchResult)> done);

}  // namespace nds
