// Median, its order-statistic interval, CV and MAD outliers for the end-of-run summary.
// Layer: harness (parent side). Cost: O(n log n) per call; n is a cell's repetitions (<= 1000).
#include "harness/run/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace allocmark {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// 1 / Phi^-1(3/4): turns a MAD into a standard-deviation estimate for normal data.
constexpr double kMadToSigma = 1.4826;

std::vector<double> sorted(std::span<const double> values) {
  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  return v;
}

double median_of_sorted(const std::vector<double>& v) {
  const size_t n = v.size();
  if (n == 0) return kNaN;
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// P(B <= j) for B ~ Binomial(n, 1/2). Log-space terms, so large n does not underflow 2^-n.
double binomial_half_cdf(size_t j, size_t n) {
  const double log_norm = static_cast<double>(n) * std::log(2.0);
  const double lg_n = std::lgamma(static_cast<double>(n) + 1);
  double sum = 0;
  for (size_t i = 0; i <= j && i <= n; ++i) {
    sum += std::exp(lg_n - std::lgamma(static_cast<double>(i) + 1) -
                    std::lgamma(static_cast<double>(n - i) + 1) - log_norm);
  }
  return std::min(sum, 1.0);
}

}  // namespace

double median_of(std::span<const double> values) { return median_of_sorted(sorted(values)); }

std::optional<MedianInterval> median_interval(std::span<const double> values, double level) {
  const std::vector<double> v = sorted(values);
  const size_t n = v.size();
  if (n < 2) return std::nullopt;
  // [min, max] always exists; below n = 6 its coverage is under 95 % (93.75 % at n = 5) and is
  // reported as it is rather than hidden. Coverage shrinks as k grows; keep the tightest
  // interval that still reaches the level.
  std::optional<MedianInterval> best =
      MedianInterval{v.front(), v.back(), 1.0 - 2.0 * binomial_half_cdf(0, n), 1};
  for (size_t k = 2; k <= n / 2; ++k) {
    const double coverage = 1.0 - 2.0 * binomial_half_cdf(k - 1, n);
    if (coverage < level) break;
    best = MedianInterval{v[k - 1], v[n - k], coverage, k};
  }
  return best;
}

double relative_half_width(std::span<const double> values, double level) {
  const auto ci = median_interval(values, level);
  if (!ci || ci->coverage < level) return kNaN;
  const double m = median_of(values);
  if (!(m > 0)) return kNaN;
  return std::max(m - ci->low, ci->high - m) / m;
}

size_t min_reps_for_level(double level) {
  size_t n = 2;
  while (n < 64 && 1.0 - 2.0 * binomial_half_cdf(0, n) < level) ++n;
  return n;
}

double coefficient_of_variation(std::span<const double> values) {
  const size_t n = values.size();
  if (n < 2) return kNaN;
  double mean = 0;
  for (double x : values) mean += x;
  mean /= static_cast<double>(n);
  if (!(mean > 0)) return kNaN;
  double ss = 0;
  for (double x : values) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / static_cast<double>(n - 1)) / mean;
}

double median_absolute_deviation(std::span<const double> values) {
  const double m = median_of(values);
  std::vector<double> dev;
  dev.reserve(values.size());
  for (double x : values) dev.push_back(std::fabs(x - m));
  return median_of(dev);
}

std::vector<size_t> mad_outliers(std::span<const double> values, const StatsPolicy& policy) {
  std::vector<size_t> out;
  if (values.size() < 3) return out;
  const double m = median_of(values);
  const double scale = std::max(kMadToSigma * median_absolute_deviation(values),
                                policy.mad_floor_rel * std::fabs(m));
  if (!(scale > 0)) return out;  // every value equals a zero median: nothing stands out
  for (size_t i = 0; i < values.size(); ++i)
    if (std::fabs(values[i] - m) > policy.outlier_mads * scale) out.push_back(i);
  return out;
}

SampleSummary summarize_sample(std::span<const double> values, const StatsPolicy& policy) {
  SampleSummary s;
  s.n = values.size();
  s.too_few = s.n < policy.min_reps;
  if (s.n == 0) {
    s.median = s.mean = s.stddev = s.min = s.max = s.cv = s.mad = kNaN;
    return s;
  }
  const std::vector<double> v = sorted(values);
  s.median = median_of_sorted(v);
  s.min = v.front();
  s.max = v.back();
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(s.n);
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.stddev = s.n > 1 ? std::sqrt(ss / static_cast<double>(s.n - 1)) : 0;
  s.cv = coefficient_of_variation(values);
  s.mad = median_absolute_deviation(values);
  s.ci = median_interval(values, policy.level);
  s.outliers = mad_outliers(values, policy);
  s.noisy = std::isfinite(s.cv) && s.cv > policy.noisy_cv && s.stddev > policy.noise_floor;
  return s;
}

}  // namespace allocmark
