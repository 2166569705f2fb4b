// The clock that times every allocator call of a replay (the "in-call" time): the TSC where it is
// invariant, else CLOCK_MONOTONIC. Layer: harness (worker side). Header-only reads; the set-up
// (choice, calibration, cost of a read pair) is in call_clock.cc and runs once per worker, before
// the baseline RSS. Cost on the reference machine (Xeon VM, 2.6 GHz TSC): a back-to-back rdtsc
// pair reads ~28 cycles (~11 ns) and costs ~25-30 ns of throughput; a clock_gettime pair ~37 ns.
#pragma once

#include <cstdint>

#include "base/clock.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define ALLOCMARK_HAS_TSC 1
#else
#define ALLOCMARK_HAS_TSC 0
#endif

namespace allocmark {

struct CallClock {
  bool tsc = false;          // reads are TSC cycles; else CLOCK_MONOTONIC ns
  double ns_per_tick = 1.0;  // calibrated against CLOCK_MONOTONIC (1 for clock_gettime)
  double pair_ticks = 0;     // median of two back-to-back reads: subtracted per timed call
  // One call counts at most this much: a thread descheduled inside a call (preempted, or blocked
  // on a lock whose holder is) would add a time slice, multiplied by every waiter.
  uint64_t cap_ticks = UINT64_MAX;
  double cap_ns() const {
    return cap_ticks == UINT64_MAX ? 0 : static_cast<double>(cap_ticks) * ns_per_tick;
  }
  double pair_cost_ns = 0;  // throughput cost of one read pair in a loop of them: what timing
                            // one call adds to the wall time, at most (in_call_distortion)

  // One read, in ticks. Not fenced (rdtsc, not rdtscp + lfence): the cheapest read; the call it
  // brackets is thousands of instructions or a few dozen, and only sums are used, so the
  // reordering of a few instructions across it averages out.
  [[gnu::always_inline]] uint64_t read() const noexcept {
#if ALLOCMARK_HAS_TSC
    if (tsc) return __rdtsc();
#endif
    return now_ns();
  }
  const char* name() const { return tsc ? "tsc" : "clock_gettime"; }
  double pair_ns() const { return pair_ticks * ns_per_tick; }
};

// Whether this machine's TSC is invariant (/proc/cpuinfo flags constant_tsc and nonstop_tsc, and
// the kernel's clocksource is not marking it unstable); false on other architectures.
bool tsc_is_invariant();

// Chooses the clock (TSC when invariant, unless `force_clock_gettime`), calibrates TSC ticks
// against CLOCK_MONOTONIC over ~20 ms of sleep, and measures the median reading of a read pair
// (2001 pairs) and the throughput cost of one (4096 pairs in a row). Takes ~25 ms; allocates only
// through std::vector (call it before the baseline).
CallClock make_call_clock(bool force_clock_gettime = false);

}  // namespace allocmark
