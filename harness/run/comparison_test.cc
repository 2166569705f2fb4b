// Tests of the ratio to the baseline: the seeded bootstrap (deterministic, covers a known ratio),
// the A/A noise floor and the verdict rule. Layer: harness tests.
#include "harness/run/comparison.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace allocmark {
namespace {

// n draws of scale * (1 + cv * N(0, 1)): a cell's repetitions with a known median (scale).
std::vector<double> noisy(double scale, double cv, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> v;
  for (size_t i = 0; i < n; ++i) v.push_back(scale * (1 + cv * normal(rng)));
  return v;
}

TEST(Bootstrap, SameInputSameIntervalAndTheSeedMatters) {
  const auto a = noisy(100, 0.07, 7, 1), b = noisy(120, 0.07, 7, 2);
  const auto first = ratio_of_medians(a, b), second = ratio_of_medians(a, b);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->low, second->low);
  EXPECT_EQ(first->high, second->high);
  BootstrapOptions other;
  other.seed = kBootstrapSeed + 1;
  const auto reseeded = ratio_of_medians(a, b, other);
  ASSERT_TRUE(reseeded);
  EXPECT_EQ(reseeded->ratio, first->ratio);  // the point estimate needs no random numbers
  EXPECT_TRUE(reseeded->low != first->low || reseeded->high != first->high);
}

TEST(Bootstrap, RatioIsTheRatioOfMediansInsideItsInterval) {
  const std::vector<double> a{10, 11, 12, 13, 14}, b{20, 21, 22, 23, 24, 25};
  const auto r = ratio_of_medians(a, b);
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->ratio, 12.0 / 22.5);
  EXPECT_LE(r->low, r->ratio);
  EXPECT_GE(r->high, r->ratio);
  // A resampled median lies within each side's range: the interval cannot leave min/max ratios.
  EXPECT_GE(r->low, 10.0 / 25);
  EXPECT_LE(r->high, 14.0 / 20);
}

TEST(Bootstrap, CoversAKnownRatioMostOfTheTime) {
  // 200 experiments, true ratio 0.8, 7 % noise, 8 repetitions a side: a 95 % interval should
  // contain 0.8 in about 95 % of them (194 here) and exclude 1 in nearly all. 90 % is the floor
  // that flags a broken interval (a swapped quantile or a shared resample index falls far below).
  int covered = 0, excludes_one = 0;
  for (uint64_t i = 0; i < 200; ++i) {
    const auto r =
        ratio_of_medians(noisy(80, 0.07, 8, 2 * i + 11), noisy(100, 0.07, 8, 2 * i + 12));
    ASSERT_TRUE(r);
    covered += r->low <= 0.8 && 0.8 <= r->high;
    excludes_one += r->high < 1;
  }
  EXPECT_GE(covered, 180) << covered << " of 200";
  EXPECT_GE(excludes_one, 190) << excludes_one << " of 200";
}

TEST(Bootstrap, IdenticalSamplesGiveRatioOneAndNoDifference) {
  const std::vector<double> a{5.1, 5.3, 5.0, 5.2, 5.6, 4.9};
  const auto r = ratio_of_medians(a, a);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ratio, 1.0);
  EXPECT_LE(r->low, 1.0);
  EXPECT_GE(r->high, 1.0);
  EXPECT_EQ(compare_verdict(*r, NAN), Verdict::kNoDifference);
  const std::vector<double> same(6, 7.0);
  const auto flat = ratio_of_medians(same, same);
  ASSERT_TRUE(flat);
  EXPECT_EQ(flat->low, 1.0);
  EXPECT_EQ(flat->high, 1.0);
  EXPECT_STREQ(verdict_name(compare_verdict(*flat, NAN), false), "no difference");
}

TEST(Bootstrap, TooFewOrNoValuesOrAZeroBaseline) {
  const std::vector<double> one{3}, two{3, 4}, none{}, zeros{0, 0, 0};
  EXPECT_FALSE(ratio_of_medians(none, two));
  EXPECT_FALSE(ratio_of_medians(two, none));
  EXPECT_FALSE(ratio_of_medians(two, zeros));  // no ratio to a zero median
  const auto r = ratio_of_medians(one, two);
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->ratio, 3.0 / 3.5);
  EXPECT_TRUE(std::isnan(r->low) && std::isnan(r->high));  // one value: no spread to resample
  EXPECT_EQ(compare_verdict(*r, NAN), Verdict::kNoDifference);
  // Some baseline resamples have a zero median: the upper end is unbounded, not NaN.
  const std::vector<double> mostly_zero{0, 0, 5}, small{1, 1, 1};
  const auto z = ratio_of_medians(small, std::vector<double>{0, 5, 5});
  ASSERT_TRUE(z);
  EXPECT_TRUE(std::isinf(z->high));
  EXPECT_FALSE(ratio_of_medians(small, mostly_zero));
}

TEST(NoiseFloor, IsTheFurthestEndOfTheAaIntervalEitherWay) {
  EXPECT_NEAR(noise_floor_of({1.01, 0.96, 1.02}), 1 / 0.96 - 1, 1e-12);  // 4.2 %: below wins
  EXPECT_NEAR(noise_floor_of({1.0, 0.99, 1.05}), 0.05, 1e-12);
  EXPECT_NEAR(noise_floor_of({1.0, 0.5, 1.5}), 1.0, 1e-12);  // 0.5x is as far as 2x
  EXPECT_TRUE(std::isnan(noise_floor_of({1.0, NAN, NAN})));
  EXPECT_DOUBLE_EQ(relative_distance(2.0), 1.0);
  EXPECT_DOUBLE_EQ(relative_distance(0.5), 1.0);
  EXPECT_DOUBLE_EQ(relative_distance(1.0), 0.0);
  EXPECT_TRUE(std::isinf(relative_distance(0.0)));
}

TEST(Verdict, IntervalContainingOneOrInsideTheFloorIsNoDifference) {
  // Interval contains 1.
  EXPECT_EQ(compare_verdict({0.97, 0.94, 1.001}, NAN), Verdict::kNoDifference);
  // Interval excludes 1; no floor: a difference, by the side the interval lies on.
  EXPECT_EQ(compare_verdict({0.97, 0.95, 0.99}, NAN), Verdict::kLower);
  EXPECT_EQ(compare_verdict({1.03, 1.01, 1.05}, NAN), Verdict::kHigher);
  // Same ratios inside a 4 % floor: no difference; outside a 2 % floor: a difference.
  EXPECT_EQ(compare_verdict({0.97, 0.95, 0.99}, 0.04), Verdict::kNoDifference);
  EXPECT_EQ(compare_verdict({1.03, 1.01, 1.05}, 0.04), Verdict::kNoDifference);
  EXPECT_EQ(compare_verdict({0.97, 0.95, 0.99}, 0.02), Verdict::kLower);
  EXPECT_EQ(compare_verdict({1.25, 1.1, 1.4}, 0.25), Verdict::kNoDifference);  // |r - 1| = floor
  // A wide floor from a lopsided A/A interval [0.55, 2.6] (floor 1.6) does not hide a 26x
  // difference below 1: distance is measured the same way on both sides.
  EXPECT_EQ(compare_verdict({0.038, 0.026, 0.085}, 1.6), Verdict::kLower);
  EXPECT_EQ(compare_verdict({0.7, 0.6, 0.8}, 1.6), Verdict::kNoDifference);
  // Missing interval or an unbounded one above 1.
  EXPECT_EQ(compare_verdict({0.5, NAN, NAN}, NAN), Verdict::kNoDifference);
  EXPECT_EQ(compare_verdict({2.0, 1.5, INFINITY}, 0.01), Verdict::kHigher);
  EXPECT_STREQ(verdict_name(Verdict::kLower, false), "faster");
  EXPECT_STREQ(verdict_name(Verdict::kHigher, false), "slower");
  EXPECT_STREQ(verdict_name(Verdict::kLower, true), "smaller");
  EXPECT_STREQ(verdict_name(Verdict::kHigher, true), "larger");
  EXPECT_STREQ(verdict_name(Verdict::kNoDifference, true), "no difference");
}

}  // namespace
}  // namespace allocmark
