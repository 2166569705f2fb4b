// Known-answer tests of the summary statistics: medians, order-statistic intervals (exact
// binomial coverages), CV, MAD outliers and the verdicts. Layer: harness tests.
#include "harness/run/statistics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

namespace allocmark {
namespace {

std::vector<double> one_to(int n) {
  std::vector<double> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 1.0);
  return v;
}

TEST(Statistics, MedianOddEvenEmpty) {
  EXPECT_EQ(median_of(std::vector<double>{3, 1, 2}), 2);
  EXPECT_EQ(median_of(std::vector<double>{4, 1, 3, 2}), 2.5);
  EXPECT_TRUE(std::isnan(median_of(std::vector<double>{})));
}

TEST(Statistics, BelowSixRepetitionsMinToMaxWithItsRealCoverage) {
  for (int n = 0; n <= 1; ++n) EXPECT_FALSE(median_interval(one_to(n)).has_value()) << n;
  const double expected[] = {0, 0, 0.5, 0.75, 0.875, 0.9375};
  for (int n = 2; n <= 5; ++n) {
    const auto ci = median_interval(one_to(n));
    ASSERT_TRUE(ci.has_value()) << n;
    EXPECT_EQ(ci->low, 1);
    EXPECT_EQ(ci->high, n);
    EXPECT_NEAR(ci->coverage, expected[n], 1e-12) << n;
  }
}

TEST(Statistics, SixRepetitionsGiveMinToMax) {
  const auto ci = median_interval(std::vector<double>{6, 2, 4, 1, 5, 3});
  ASSERT_TRUE(ci.has_value());
  EXPECT_EQ(ci->k, 1u);
  EXPECT_EQ(ci->low, 1);
  EXPECT_EQ(ci->high, 6);
  EXPECT_DOUBLE_EQ(ci->coverage, 1.0 - 2.0 / 64);  // 0.96875
}

TEST(Statistics, IntervalRanksMatchBinomialTables) {
  // n = 10: P(B <= 1) = 11/1024, so k = 2 covers 97.85 %; k = 3 would cover only 89.06 %.
  auto ci = median_interval(one_to(10));
  ASSERT_TRUE(ci.has_value());
  EXPECT_EQ(ci->k, 2u);
  EXPECT_EQ(ci->low, 2);
  EXPECT_EQ(ci->high, 9);
  EXPECT_NEAR(ci->coverage, 1.0 - 22.0 / 1024, 1e-12);
  // n = 20: P(B <= 5) = 21700/2^20, so k = 6 covers 95.86 %.
  ci = median_interval(one_to(20));
  ASSERT_TRUE(ci.has_value());
  EXPECT_EQ(ci->k, 6u);
  EXPECT_EQ(ci->low, 6);
  EXPECT_EQ(ci->high, 15);
  EXPECT_NEAR(ci->coverage, 1.0 - 2.0 * 21700 / 1048576, 1e-12);
  // Large n stays finite (no 2^-n underflow) and the interval narrows around the median.
  ci = median_interval(one_to(1000));
  ASSERT_TRUE(ci.has_value());
  EXPECT_GE(ci->coverage, 0.95);
  EXPECT_GT(ci->low, 450);
  EXPECT_LT(ci->high, 550);
}

TEST(Statistics, CoefficientOfVariation) {
  EXPECT_DOUBLE_EQ(coefficient_of_variation(std::vector<double>{1, 2, 3}), 0.5);
  EXPECT_TRUE(std::isnan(coefficient_of_variation(std::vector<double>{5})));
  EXPECT_TRUE(std::isnan(coefficient_of_variation(std::vector<double>{0, 0})));
}

TEST(Statistics, MadOutliersReportPositions) {
  const std::vector<double> v{100, 1, 2, 3, 4};  // median 3, MAD 1
  EXPECT_EQ(median_absolute_deviation(v), 1);
  EXPECT_EQ(mad_outliers(v), std::vector<size_t>{0});
  // 3 * 1.4826 * 1 = 4.45: 7 stays in, 8 is out.
  EXPECT_TRUE(mad_outliers(std::vector<double>{1, 2, 3, 4, 7}).empty());
  EXPECT_EQ(mad_outliers(std::vector<double>{1, 2, 3, 4, 8}), std::vector<size_t>{4});
  EXPECT_TRUE(mad_outliers(std::vector<double>{1, 100}).empty());  // too few to judge
}

TEST(Statistics, ZeroMadUsesRelativeFloor) {
  // Identical RSS readings and one a page off: not an outlier. One twice as large: an outlier.
  EXPECT_TRUE(mad_outliers(std::vector<double>{1000, 1000, 1000, 1000, 1001}).empty());
  EXPECT_EQ(mad_outliers(std::vector<double>{1000, 1000, 2000, 1000, 1000}),
            std::vector<size_t>{2});
  EXPECT_TRUE(mad_outliers(std::vector<double>{0, 0, 0}).empty());
}

TEST(Statistics, SummaryVerdicts) {
  // mean 100, sample stddev sqrt(50) = 7.07: CV 7.07 % > 5 %.
  const std::vector<double> noisy{100, 110, 90, 100, 100};
  SampleSummary s = summarize_sample(noisy);
  EXPECT_EQ(s.n, 5u);
  EXPECT_EQ(s.median, 100);
  EXPECT_NEAR(s.cv, std::sqrt(50.0) / 100, 1e-12);
  EXPECT_TRUE(s.noisy);
  EXPECT_FALSE(s.too_few);
  ASSERT_TRUE(s.ci.has_value());  // [min, max] at 93.75 % with 5 repetitions
  EXPECT_EQ(s.ci->low, 90);
  EXPECT_EQ(s.ci->high, 110);
  EXPECT_DOUBLE_EQ(s.ci->coverage, 0.9375);
  EXPECT_EQ(s.min, 90);
  EXPECT_EQ(s.max, 110);

  StatsPolicy floor;
  floor.noise_floor = 10;  // stddev 7.07 is below it: not noisy
  EXPECT_FALSE(summarize_sample(noisy, floor).noisy);

  s = summarize_sample(std::vector<double>{100, 101, 99, 100});
  EXPECT_FALSE(s.noisy);
  EXPECT_TRUE(s.too_few);

  s = summarize_sample(std::vector<double>{});
  EXPECT_EQ(s.n, 0u);
  EXPECT_TRUE(std::isnan(s.median));
  EXPECT_TRUE(s.too_few);
}

TEST(Statistics, PrecisionHalfWidthNeedsAFullCoverageInterval) {
  // Five values: [min, max] covers only 93.75 %, so no precision is claimed.
  EXPECT_TRUE(std::isnan(relative_half_width(std::vector<double>{99, 100, 100, 100, 101})));
  // Six: [min, max] at 96.9 %; asymmetric, so the wider side counts: max(100-97, 101-100)/100.
  EXPECT_DOUBLE_EQ(relative_half_width(std::vector<double>{97, 100, 100, 100, 101, 100}), 0.03);
  // Ten: k = 2, so the extremes drop out: [x_(2), x_(9)] = [96, 104] around 100.
  EXPECT_DOUBLE_EQ(
      relative_half_width(std::vector<double>{50, 96, 98, 99, 100, 100, 101, 102, 104, 150}), 0.04);
  // A median that is not positive has no relative width.
  EXPECT_TRUE(std::isnan(relative_half_width(std::vector<double>(6, 0.0))));
  EXPECT_EQ(min_reps_for_level(0.95), 6u);
  EXPECT_EQ(min_reps_for_level(0.99), 8u);  // 1 - 2^-7 = 99.2 %
}

}  // namespace
}  // namespace allocmark
