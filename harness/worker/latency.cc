// Percentiles of sampled latencies and the cost of taking them. Layer: harness.
#include "harness/worker/latency.h"

#include <algorithm>
#include <vector>

#include "base/clock.h"

namespace allocmark {

std::map<std::string, Percentiles> latency_percentiles(
    const MmapArray<LatencyRecorder>& recorders) {
  MmapVector<uint64_t> by_op[kOpCount];
  for (const auto& r : recorders)
    for (size_t i = 0; i < r.used; ++i) by_op[r.samples[i] & 0xff].push_back(r.samples[i] >> 8);
  std::map<std::string, Percentiles> out;
  for (int op = 0; op < kOpCount; ++op) {
    auto& v = by_op[op];
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    // Nearest-rank percentile: the smallest sample with at least q of the samples at or below.
    auto pct = [&](double q) {
      size_t rank = static_cast<size_t>(q * static_cast<double>(v.size()) + 0.999999);
      return v[std::min(v.size(), std::max<size_t>(rank, 1)) - 1];
    };
    out[op_name(static_cast<Op>(op))] = {v.size(),  pct(0.5),   pct(0.9),
                                         pct(0.99), pct(0.999), v.back()};
  }
  return out;
}

double timer_overhead_ns() {
  constexpr int kRounds = 2001;
  std::vector<uint64_t> cost(kRounds);
  for (auto& c : cost) {
    const uint64_t a = now_ns();
    const uint64_t b = now_ns();
    c = b - a;
  }
  std::nth_element(cost.begin(), cost.begin() + kRounds / 2, cost.end());
  return static_cast<double>(cost[kRounds / 2]);
}

}  // namespace allocmark
