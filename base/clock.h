// The clocks: monotonic nanoseconds for timing, wall-clock nanoseconds for names, coarse
// milliseconds for decay timers. Layer: base (leaf). Header-only and heap-free: the malloc
// shims, the recorder (inside malloc) and the replay loop read them.
#pragma once

#include <time.h>

#include <cstdint>

namespace allocmark {

// CLOCK_MONOTONIC in ns. Cost: one vDSO call, ~20 ns, no system call; the worker measures it
// and records the distortion the latency samples add (harness/README.md, "Replay").
inline uint64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// CLOCK_REALTIME in ns: tells apart things that must not collide across processes and exec
// (the recorder's raw file names); never for durations, it can step.
inline uint64_t realtime_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// CLOCK_MONOTONIC_COARSE in ms, wrapping every 49.7 days (compare by unsigned difference).
// Cost: vDSO, ~10 ns, resolution one tick (1-4 ms): for slow paths that only age things.
inline uint32_t coarse_ms() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint32_t>(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

}  // namespace allocmark
