// error:///name?base=<bdev>
// A fault-injection vbdev over another bdev (which it claims), for testing what sits above
// a failing device. Injections apply per I/O type:
//   fail     the I/O fails with the given errno without reaching the base
//   corrupt  reads return data with a flipped byte per block; writes store such data
//   gone     every I/O of every type fails with ENODEV until cleared (a vanished device)
//   delay    the I/O succeeds after latency_us (latency_us also delays the modes above)
//   pending  the I/O is held, neither sent nor completed, until the injection is cleared
//            or replaced (then it goes to the base) or aborted (it ends with the abort's
//            status): a device that stops answering, for testing timeouts
//   nomem    the error bdev hands the I/O back to the bdev layer as out of resources; the
//            bdev layer submits it again later, and each attempt uses up one of `count`
// `count` limits an injection to that many I/Os (0 = until cleared).
#pragma once
#include <cstdint>
#include <memory>
#include <string_view>

#include "bdev/bdev_manager.h"
#include "util/uri.h"

namespace nds {

enum class InjectMode : uint8_t { None = 0, Fail, Corrupt, Gone, Delay, Pending, Nomem };

struct ErrorInjection {
  uint32_t io_types = 0;  // bit (1 << IoType)
  InjectMode mode = InjectMode::Fail;
  int error = -EIO;       // negative errno for Fail
  uint64_t count = 0;     // 0: unlimited
  uint64_t latency_us = 0;
};

// App thread.
Status error_bdev_create(BdevManager& manager, std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out);
// Any thread. EINVAL when `bdev` is not an error bdev.
Status error_bdev_inject(Bdev* bdev, const ErrorInjection& injection);
Status error_bdev_clear(Bdev* bdev);

}  // namespace nds
