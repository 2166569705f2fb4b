// Pinning for single-threaded replays: the replay on one core, the sampler on another, so the
// scheduler does not migrate the measured thread mid-run. Layer: harness (worker side).
#pragma once

#include <string>
#include <thread>

namespace allocmark {

// Pins the calling thread (and threads it starts later) to the last online CPU and returns its
// number, or -1 when there is only one CPU or the kernel refuses (then nothing changed).
int pin_replay_to_last_cpu();
// Moves `t` off the replay CPU (to every other CPU). No-op when replay_cpu < 0.
void keep_off_cpu(std::thread& t, int replay_cpu);

}  // namespace allocmark
