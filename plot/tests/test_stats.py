"""Known-answer tests for plot/stats.py: the between-run ratio bootstrap, geometric mean,
Mann-Whitney. (Per-cell statistics are summary.json's, tested with the C++ engine.)"""
import math

import pytest

import stats


def test_bootstrap_interval_of_a_ratio():
    ci = stats.ratio_ci([2.0] * 5, [1.0] * 5)
    assert (ci.lo, ci.hi) == (2.0, 2.0)
    a = [101, 99, 104, 97, 100]
    b = [50, 52, 49, 51, 50]
    first, second = stats.ratio_ci(a, b), stats.ratio_ci(a, b)
    assert (first.lo, first.hi) == (second.lo, second.hi)  # fixed seed: reproducible
    point = 100 / 50  # median(a) / median(b)
    assert first.lo <= point <= first.hi
    # Bootstrap medians of 5 values are sample values: the extremes are 97/52 and 104/49.
    assert 97 / 52 <= first.lo < point < first.hi <= 104 / 49
    assert stats.ratio_ci([1.0], [1.0, 2.0]) is None


def test_geomean():
    assert stats.geomean([0.5, 2.0]) == pytest.approx(1.0)
    assert stats.geomean([2.0, 8.0, float("nan"), None]) == pytest.approx(4.0)
    assert math.isnan(stats.geomean([float("nan")]))


def test_no_per_cell_engine_left_in_plot():
    # Medians' intervals, spreads and ratios of a run's cells are summary.json's alone.
    for gone in ("median", "median_ci", "spread", "ratio_of_medians"):
        assert not hasattr(stats, gone), gone


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
