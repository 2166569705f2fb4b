// sched_setaffinity wrappers for the worker. Layer: harness.
#include "harness/worker/cpu_pinning.h"

#include <pthread.h>
#include <sched.h>

namespace allocmark {

int pin_replay_to_last_cpu() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) return -1;
  int last = -1;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &allowed)) last = c;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(last, &one);
  return sched_setaffinity(0, sizeof one, &one) == 0 ? last : -1;
}

void keep_off_cpu(std::thread& t, int replay_cpu) {
  if (replay_cpu < 0) return;
  cpu_set_t others;
  CPU_ZERO(&others);
  const unsigned n = std::thread::hardware_concurrency();
  for (unsigned c = 0; c < n && c < CPU_SETSIZE; ++c)
    if (static_cast<int>(c) != replay_cpu) CPU_SET(c, &others);
  pthread_setaffinity_np(t.native_handle(), sizeof others, &others);
}

}  // namespace allocmark
