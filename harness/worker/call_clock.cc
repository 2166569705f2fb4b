// Set-up of the in-call clock: choice, calibration, cost of a read pair. Layer: harness.
#include "harness/worker/call_clock.h"

#include <time.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

namespace allocmark {

bool tsc_is_invariant() {
#if ALLOCMARK_HAS_TSC
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    auto has = [&](const char* flag) {
      return (" " + line + " ").find(std::string(" ") + flag + " ") != std::string::npos;
    };
    return has("constant_tsc") && has("nonstop_tsc");
  }
#endif
  return false;
}

CallClock make_call_clock(bool force_clock_gettime) {
  CallClock c;
  c.tsc = !force_clock_gettime && tsc_is_invariant();
  if (c.tsc) {
    // Ticks per ns over a 20 ms sleep, each end bracketed by the two clocks (the skew of one
    // read pair, ~50 ns, is 2.5e-6 of the span).
    const uint64_t n0 = now_ns(), t0 = c.read();
    timespec ts{0, 20'000'000};
    while (nanosleep(&ts, &ts) != 0) {
    }
    const uint64_t n1 = now_ns(), t1 = c.read();
    if (t1 > t0 && n1 > n0)
      c.ns_per_tick = static_cast<double>(n1 - n0) / static_cast<double>(t1 - t0);
    else
      c.tsc = false;  // a TSC that does not advance is no clock
  }
  constexpr int kRounds = 2001;
  std::vector<uint64_t> cost(kRounds);
  for (auto& x : cost) {
    const uint64_t a = c.read();
    const uint64_t b = c.read();
    x = b - a;
  }
  std::nth_element(cost.begin(), cost.begin() + kRounds / 2, cost.end());
  c.pair_ticks = static_cast<double>(cost[kRounds / 2]);
  constexpr int kPairs = 4096;
  uint64_t sink = 0;
  const uint64_t start = now_ns();
  for (int i = 0; i < kPairs; ++i) {
    const uint64_t a = c.read();
    sink += c.read() - a;
  }
  const uint64_t spent = now_ns() - start;
  asm volatile("" : : "r"(sink));
  c.pair_cost_ns = static_cast<double>(spent) / kPairs;
  return c;
}

}  // namespace allocmark
