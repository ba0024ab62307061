#include "env/cpu.h"

#include <pthread.h>
#include <sched.h>

namespace nds {

std::vector<int> available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cores;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cores;
  for (int i = 0; i < CPU_SETSIZE; ++i)
    if (CPU_ISSET(i, &set)) cores.push_back(i);
  return cores;
}

Status pin_current_thread(int core) {
  if (core < 0 || core >= CPU_SETSIZE) return Status::error(-EINVAL, "core " + std::to_string(core) + " does not exist");
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  if (rc != 0) return Status::error(-rc, "cannot pin a reactor to core " + std::to_string(core));
  return Status::ok();
}

}  // namespace nds
