// Pollers: functions a lightweight thread runs on every pass (active) or every period
// (timed). A poller returns > 0 when it did work, 0 when idle, so the reactor can account
// busy time and decide whether it may sleep.
#pragma once
#include <cstdint>
#include <string>

namespace nds {

struct Poller {
  using Fn = int (*)(void* arg);

  std::string name;
  Fn fn = nullptr;
  void* arg = nullptr;
  uint64_t period_ns = 0;   // 0: active poller, run on every pass
  uint64_t next_run_ns = 0; // timed pollers only
  // An active poller whose work is announced by an fd (eventfd, socket) gives it here, so
  // an adaptive reactor can sleep on it. An active poller without one keeps its reactor
  // polling.
  int interrupt_fd = -1;
  bool removed = false;
  uint64_t runs = 0;
  uint64_t busy_runs = 0;
};

}  // namespace nds
