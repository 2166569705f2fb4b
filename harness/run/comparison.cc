// Ratio of medians with a seeded percentile bootstrap, the A/A noise floor and the verdict rule.
// Layer: harness (parent side). Cost: see comparison.h; runs once per cell at the end of a run.
#include "harness/run/comparison.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "harness/run/statistics.h"

namespace allocmark {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A uniform index below n from one 64-bit draw (multiply-shift). std::uniform_int_distribution
// would do, but its algorithm differs between standard libraries and the interval must not.
size_t draw_index(std::mt19937_64& rng, size_t n) {
  return static_cast<size_t>((static_cast<unsigned __int128>(rng()) * n) >> 64);
}

// Median of one resample of `from` (with replacement) built in `scratch`.
double resampled_median(std::span<const double> from, std::mt19937_64& rng,
                        std::vector<double>& scratch) {
  const size_t n = from.size();
  scratch.resize(n);
  for (size_t i = 0; i < n; ++i) scratch[i] = from[draw_index(rng, n)];
  const auto mid = scratch.begin() + static_cast<std::ptrdiff_t>(n / 2);
  std::nth_element(scratch.begin(), mid, scratch.end());
  if (n % 2) return *mid;
  return (*std::max_element(scratch.begin(), mid) + *mid) / 2;  // lower middle: max of the left
}

// The q-quantile of sorted values, linear between neighbours (numpy's default); inf stays inf.
double quantile_of_sorted(const std::vector<double>& v, double q) {
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  if (v[lo] == v[hi]) return v[lo];  // also keeps inf from becoming NaN (inf - inf)
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

}  // namespace

std::optional<RatioInterval> ratio_of_medians(std::span<const double> a, std::span<const double> b,
                                              const BootstrapOptions& options) {
  if (a.empty() || b.empty()) return std::nullopt;
  const double denominator = median_of(b);
  if (!(denominator > 0)) return std::nullopt;
  RatioInterval r{median_of(a) / denominator, kNaN, kNaN};
  if (a.size() < 2 || b.size() < 2 || options.resamples == 0) return r;
  std::mt19937_64 rng(options.seed);
  std::vector<double> ratios, scratch;
  ratios.reserve(options.resamples);
  for (size_t i = 0; i < options.resamples; ++i) {
    const double num = resampled_median(a, rng, scratch);
    const double den = resampled_median(b, rng, scratch);
    ratios.push_back(den > 0 ? num / den : kInf);
  }
  std::sort(ratios.begin(), ratios.end());
  r.low = quantile_of_sorted(ratios, (1 - options.level) / 2);
  r.high = quantile_of_sorted(ratios, (1 + options.level) / 2);
  return r;
}

double relative_distance(double ratio) {
  if (!(ratio > 0)) return ratio == 0 ? kInf : kNaN;
  return std::max(ratio, 1 / ratio) - 1;
}

double noise_floor_of(const RatioInterval& aa) {
  if (std::isnan(aa.low) || std::isnan(aa.high)) return kNaN;
  return std::max(relative_distance(aa.low), relative_distance(aa.high));
}

Verdict compare_verdict(const RatioInterval& r, double floor) {
  if (std::isnan(r.low) || std::isnan(r.high) || std::isnan(r.ratio)) return Verdict::kNoDifference;
  if (r.low <= 1 && 1 <= r.high) return Verdict::kNoDifference;
  if (!std::isnan(floor) && relative_distance(r.ratio) <= floor) return Verdict::kNoDifference;
  return r.high < 1 ? Verdict::kLower : Verdict::kHigher;  // the interval lies on one side
}

const char* verdict_name(Verdict v, bool memory) {
  switch (v) {
    case Verdict::kLower:
      return memory ? "smaller" : "faster";
    case Verdict::kHigher:
      return memory ? "larger" : "slower";
    case Verdict::kNoDifference:
      break;
  }
  return "no difference";
}

}  // namespace allocmark
