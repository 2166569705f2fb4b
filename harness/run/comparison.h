// One allocator against the baseline: the ratio of medians with a bootstrap interval, the noise
// floor an A/A comparison gives it, and the verdict. Layer: harness (parent side), no I/O.
//
// Every function is pure and thread-safe; none throws. Undefined results are NaN, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace allocmark {

// Fixed, so one input always gives one interval (a summary rewritten by merge or resume does not
// move). summary.json states it under `methods`; "alloc" in ASCII, below 2^53 so JSON keeps it.
inline constexpr uint64_t kBootstrapSeed = 0x616c6c6f63;
inline constexpr size_t kBootstrapResamples = 2000;

struct BootstrapOptions {
  size_t resamples = kBootstrapResamples;
  uint64_t seed = kBootstrapSeed;
  double level = 0.95;
};

// median(a) / median(b) and its percentile bootstrap interval: each side is resampled with
// replacement on its own (unpaired: on this machine pairing by round did not tighten the spread),
// and the interval is the (1 - level) / 2 and (1 + level) / 2 quantiles of the resampled ratios.
// low/high are NaN with fewer than 2 values on either side (a resample of one value is that
// value: no spread to speak of); high is +inf when some resample of b has a zero median.
// Absent when either side is empty or median(b) is not positive. Cost: resamples x (|a| + |b|)
// draws plus two nth_element per resample; about 0.1 ms for 10 values a side.
struct RatioInterval {
  double ratio = 0;
  double low = 0, high = 0;
};
std::optional<RatioInterval> ratio_of_medians(std::span<const double> a, std::span<const double> b,
                                              const BootstrapOptions& options = {});

// How far a ratio lies from 1, the same either way: max(r, 1/r) - 1, so 0.5x and 2x are both
// 1.0 (|r - 1| would call 0.5x closer to 1 than 1.5x). About |r - 1| for ratios near 1; +inf for
// r = 0.
double relative_distance(double ratio);

// How far an A/A comparison (the baseline against itself under another name) strays from 1: the
// larger relative_distance of its interval's ends, max(high, 1/low) - 1. A difference no larger
// than this is the machine, not the allocator. NaN when the interval is missing.
double noise_floor_of(const RatioInterval& aa);

// The verdict of one ratio: kNoDifference when its interval contains 1 (or is missing) or when
// relative_distance(ratio) <= floor (a NaN floor is no floor); otherwise kLower (the interval
// lies below 1: faster, smaller) or kHigher.
enum class Verdict { kNoDifference, kLower, kHigher };
Verdict compare_verdict(const RatioInterval& r, double floor);

// "faster"/"slower" for time, "smaller"/"larger" for memory, "no difference".
const char* verdict_name(Verdict v, bool memory);

}  // namespace allocmark
