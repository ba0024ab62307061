// CPU sets: which cores exist and pinning the calling thread to one of them.
#pragma once
#include <vector>

#include "util/status.h"

namespace nds {

// Cores this process may run on (sched_getaffinity).
std::vector<int> available_cores();
// Pins the calling OS thread to `core`; -EINVAL if the core is not available.
Status pin_current_thread(int core);

}  // namespace nds
