"""Known-answer tests for plot/stats.py: intervals, ratios, geometric mean, Mann-Whitney."""
import math

import numpy as np
import pytest

import stats


def test_median_ci_order_statistic_n10():
    ci = stats.median_ci(list(range(10, 0, -1)))  # order of input must not matter
    assert (ci.lo, ci.hi) == (2.0, 9.0)            # [x_(2), x_(9)]
    assert ci.coverage == pytest.approx(1 - 2 * 11 / 1024)  # 0.9785
    assert ci.method == "order-statistic"


def test_median_ci_order_statistic_n20():
    ci = stats.median_ci(np.arange(1, 21))
    # P(B <= 5) = 0.0207 <= 0.025 < P(B <= 6) for B ~ Bin(20, 1/2): interval [x_(6), x_(15)].
    assert (ci.lo, ci.hi) == (6.0, 15.0)
    assert ci.coverage == pytest.approx(0.958610, abs=1e-6)


def test_median_ci_small_samples_are_the_range_with_true_coverage():
    ci = stats.median_ci([5.0, 1.0, 3.0, 4.0, 2.0])
    assert (ci.lo, ci.hi) == (1.0, 5.0)
    assert ci.coverage == pytest.approx(0.9375)
    assert stats.median_ci([1.0, 2.0, 3.0]).coverage == pytest.approx(0.75)
    assert stats.median_ci([7.0]) is None
    assert stats.median_ci([]) is None


def test_ratio_of_medians_and_bootstrap_interval():
    assert stats.ratio_of_medians([4, 2, 6], [1, 2, 3]) == pytest.approx(2.0)
    assert math.isnan(stats.ratio_of_medians([1.0], [0.0]))
    ci = stats.ratio_ci([2.0] * 5, [1.0] * 5)
    assert (ci.lo, ci.hi) == (2.0, 2.0)
    assert ci.method == "bootstrap"
    a = [101, 99, 104, 97, 100]
    b = [50, 52, 49, 51, 50]
    first, second = stats.ratio_ci(a, b), stats.ratio_ci(a, b)
    assert (first.lo, first.hi) == (second.lo, second.hi)  # fixed seed: reproducible
    point = stats.ratio_of_medians(a, b)
    assert first.lo <= point <= first.hi
    # Bootstrap medians of 5 values are sample values: the extremes are 97/52 and 104/49.
    assert 97 / 52 <= first.lo < point < first.hi <= 104 / 49
    assert stats.ratio_ci([1.0], [1.0, 2.0]) is None


def test_geomean_and_spread():
    assert stats.geomean([0.5, 2.0]) == pytest.approx(1.0)
    assert stats.geomean([2.0, 8.0, float("nan"), None]) == pytest.approx(4.0)
    assert math.isnan(stats.geomean([float("nan")]))
    assert stats.spread([90, 100, 110]) == pytest.approx(0.2)
    assert math.isnan(stats.spread([1.0]))


def test_min_mann_whitney_p():
    assert stats.min_mann_whitney_p(3, 3) == pytest.approx(0.1)       # never < 0.05
    assert stats.min_mann_whitney_p(5, 5) == pytest.approx(2 / 252)   # 0.0079
    assert stats.min_mann_whitney_p(4, 4) == pytest.approx(2 / 70)
    assert stats.min_mann_whitney_p(0, 5) == 1.0


def test_mann_whitney_known_answers():
    u, p = stats.mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert u == 0.0
    assert p == pytest.approx(2 / 252)  # exact test: the two most extreme of C(10,5) orderings
    u, p = stats.mann_whitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])
    assert u == 25.0 and p == pytest.approx(2 / 252)
    # One swap away from complete separation: 2 of 252 arrangements as or more extreme per tail.
    _, p = stats.mann_whitney([1, 2, 3, 4, 6], [5, 7, 8, 9, 10])
    assert p == pytest.approx(4 / 252)
    _, p = stats.mann_whitney([3.0, 3.0], [3.0, 3.0, 3.0])
    assert p == 1.0
    _, p = stats.mann_whitney([], [1.0])
    assert math.isnan(p)
