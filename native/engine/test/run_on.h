// Test helper: run a closure on a lightweight thread and wait for it to finish.
#pragma once
#include <future>

#include "thread/thread.h"

namespace nds::testing {

template <typename Fn>
void run_on(Thread& thread, Fn fn) {
  std::promise<void> done;
  while (!thread.send([&] {
    fn();
    done.set_value();
  })) {
  }
  done.get_future().wait();
}

}  // namespace nds::testing
