// Sampled per-operation latency: recorders filled by the replay loop, percentiles after it.
// Layer: harness. Recording costs two clock reads per sampled event; the rest pay a countdown.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "base/mmap_allocator.h"
#include "workloads/trace.h"

namespace allocmark {

// One per replay thread; owned and written by that thread only.
struct LatencyRecorder {
  MmapVector<uint64_t> samples;  // (nanoseconds << 8) | op
  size_t used = 0;
  uint32_t countdown = 1;  // events until the next sample

  void reserve_for(size_t n) { samples.resize(n); }
  [[gnu::always_inline]] void record(Op op, uint64_t ns) noexcept {
    if (used < samples.size()) samples[used++] = (ns << 8) | static_cast<uint8_t>(op);
  }
};

struct Percentiles {
  uint64_t samples = 0;
  uint64_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
};

// Nearest-rank percentiles per op name over all recorders; ops with no samples are left out.
std::map<std::string, Percentiles> latency_percentiles(const MmapArray<LatencyRecorder>& recorders);

// Median cost in ns of the two clock reads that bracket a sampled event (the sampling's own
// distortion of each sample), measured on this machine now.
double timer_overhead_ns();

}  // namespace allocmark
