// Robust statistics of a cell's repetitions: median with a distribution-free 95 % interval,
// coefficient of variation, MAD outliers, noise warnings. Layer: harness (parent side), no I/O.
//
// Every function is pure and thread-safe; none throws. Empty input gives NaN, never a crash.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace allocmark {

// Thresholds of the verdicts. One table, so the README, summary.json and the Markdown summary
// quote the same numbers (summary.json records the ones in force).
struct StatsPolicy {
  double level = 0.95;          // confidence level of the median interval
  double noisy_cv = 0.05;       // a cell whose CV exceeds this is "noisy"
  size_t min_reps = 5;          // fewer repetitions than this earn a warning
  double outlier_mads = 3.0;    // |x - median| > outlier_mads * 1.4826 * MAD is an outlier
  double mad_floor_rel = 1e-3;  // MAD scale never below this fraction of |median| (see .cc)
  double noise_floor = 0;       // a cell is noisy only if its stddev also exceeds this (units)
};

// Median of the values (mean of the middle two for an even count); NaN when empty.
double median_of(std::span<const double> values);

// The distribution-free order-statistic (binomial) interval of the median: [x_(k), x_(n-k+1)]
// for the largest k with coverage 1 - 2 P(B <= k-1) >= level, B ~ Binomial(n, 1/2). It assumes
// only independent, identically distributed repetitions. No such k exists below n = 6 at 95 %:
// then the interval is [min, max] with its real, lower coverage (93.75 % at n = 5, 87.5 % at 4,
// 75 % at 3, 50 % at 2), which the summary states beside it. Absent below 2 values.
struct MedianInterval {
  double low = 0, high = 0;
  double coverage = 0;  // exact coverage of [x_(k), x_(n-k+1)]; below level only for n < 6
  size_t k = 0;         // 1-based rank of the lower bound
};
std::optional<MedianInterval> median_interval(std::span<const double> values, double level = 0.95);

// The precision a cell has reached: the relative half-width max(median - lo, hi - median) / median
// of the order-statistic interval above, but only where that interval's coverage reaches `level`
// (so from n = 6 at 95 %: [min, max] of fewer repetitions would claim a precision it does not
// have). NaN below that or for a median that is not positive. `allocmark run --precision P`
// repeats a cell until this is <= P.
double relative_half_width(std::span<const double> values, double level = 0.95);

// The fewest repetitions whose median interval reaches `level` (6 at 95 %: [min, max] of n values
// covers 1 - 2^(1-n)).
size_t min_reps_for_level(double level = 0.95);

// Sample standard deviation (n - 1) over the mean; NaN for n < 2 or a mean that is not positive.
double coefficient_of_variation(std::span<const double> values);

// Median of |x - median|; NaN when empty.
double median_absolute_deviation(std::span<const double> values);

// Positions (0-based, into `values`) of the outliers: |x - median| > k * 1.4826 * MAD, where
// 1.4826 * MAD estimates the standard deviation of normal data. The scale is floored at
// policy.mad_floor_rel * |median| so that identical repetitions (MAD = 0, common for RSS in
// pages) do not turn a one-page difference into an "outlier". None below 3 values.
std::vector<size_t> mad_outliers(std::span<const double> values, const StatsPolicy& policy = {});

// Everything the summary reports about one metric of one cell.
struct SampleSummary {
  size_t n = 0;
  double median = 0, mean = 0, stddev = 0, min = 0, max = 0;
  double cv = 0;  // NaN when undefined (see coefficient_of_variation)
  double mad = 0;
  std::optional<MedianInterval> ci;
  std::vector<size_t> outliers;  // positions into the input
  bool noisy = false;            // cv > policy.noisy_cv and stddev > policy.noise_floor
  bool too_few = false;          // n < policy.min_reps
};
SampleSummary summarize_sample(std::span<const double> values, const StatsPolicy& policy = {});

}  // namespace allocmark
