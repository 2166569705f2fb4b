"""Statistics between runs and across cells: the ratio bootstrap, Mann-Whitney test and regression
gate of compare, and geometric means over workloads.
Layer: plot/ shared helper; numpy (scipy only inside
mann_whitney, so report.py never needs it).

Per-cell statistics (medians, their intervals, CV, outliers, ratios to the baseline, verdicts)
are not here: the C++ harness computes them once, into summary.json (results/README.md).

- the interval of a ratio of two medians from two runs is a percentile bootstrap: each side
  resampled with replacement on its own, BOOTSTRAP_RESAMPLES times, with the fixed seed
  BOOTSTRAP_SEED, so the same input always gives the same interval.
- a change between runs (Change) is that ratio, its interval and a two-sided Mann-Whitney U
  test of the two runs' repetitions; it is "above" a threshold P (the regression gate) only when
  the test gives p < alpha AND the whole interval lies above 1 + P.

This is the one place where compare's between-run statistics are computed.
"""
import math
from dataclasses import dataclass
from math import comb

import numpy as np

LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 20240601


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float


def ratio_ci(num, den, level=LEVEL, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED):
    """Percentile-bootstrap interval of median(num)/median(den); None below 2 values a side.

    Cost: O(resamples * (len(num) + len(den))), vectorised; about 1 ms for 5 + 5 values.
    """
    a = np.asarray(num, dtype=float)
    b = np.asarray(den, dtype=float)
    if a.size < 2 or b.size < 2 or np.any(b <= 0):
        return None
    rng = np.random.default_rng(seed)
    ma = np.median(a[rng.integers(0, a.size, (resamples, a.size))], axis=1)
    mb = np.median(b[rng.integers(0, b.size, (resamples, b.size))], axis=1)
    lo, hi = np.quantile(ma / mb, [(1 - level) / 2, 1 - (1 - level) / 2])
    return Interval(float(lo), float(hi))


def geomean(values):
    """Geometric mean of the finite positive values; nan when there are none."""
    a = np.asarray([v for v in values if v is not None], dtype=float)
    a = a[np.isfinite(a) & (a > 0)]
    return float(np.exp(np.mean(np.log(a)))) if a.size else float("nan")


def min_mann_whitney_p(n1, n2):
    """Smallest two-sided p the exact Mann-Whitney U test can give for sample sizes n1, n2.

    Reached when the two samples do not overlap at all: 2 / C(n1 + n2, n1). 3 vs 3 gives 0.1,
    so such a comparison can never be significant at 0.05; 5 vs 5 gives 0.0079.
    """
    if n1 < 1 or n2 < 1:
        return 1.0
    return min(1.0, 2.0 / comb(n1 + n2, n1))


def mann_whitney(a, b):
    """Two-sided Mann-Whitney U test of a against b: (U of a, p). nan when a side is empty.

    Identical constant samples give p = 1 (no evidence of a difference) instead of scipy's nan.
    """
    from scipy.stats import mannwhitneyu  # imported here: only compare needs scipy

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        return float("nan"), float("nan")
    if np.all(a == a[0]) and np.all(b == a[0]):
        return float(a.size * b.size / 2), 1.0
    res = mannwhitneyu(a, b, alternative="two-sided", method="auto")
    return float(res.statistic), float(res.pvalue)


@dataclass(frozen=True)
class Change:
    """NEW / BASE for one metric of one cell: the ratio of the medians, the bootstrap interval
    of that ratio (None below 2 values a side), the two-sided Mann-Whitney p and the smallest p
    the test could give with these sample sizes."""
    ratio: float
    ci: Interval
    p: float
    min_p: float

    def verdict(self, alpha, better, worse):
        """better/worse ("faster"/"slower", "smaller"/"larger") when p < alpha and the interval
        excludes 1; "too few reps" when no p below alpha is possible; else "no change detected"."""
        if self.min_p >= alpha:
            return "too few reps"
        if not math.isfinite(self.p) or self.p >= alpha:
            return "no change detected"
        if self.ci is not None and self.ci.lo <= 1.0 <= self.ci.hi:
            return "no change detected"
        return better if self.ratio < 1 else worse

    def above(self, alpha, threshold):
        """The regression gate: significantly more (p < alpha) AND the whole interval of the
        ratio above 1 + threshold. No interval (a single repetition) is never above."""
        return (self.ci is not None and math.isfinite(self.p) and self.p < alpha
                and self.ratio > 1 and self.ci.lo > 1.0 + threshold)


def change(new, base, median_new, median_base):
    """The Change from base to new. new, base: the repetitions' values (numpy arrays or lists);
    median_new, median_base: each run's median as its summary.json states it (the ratio is of
    those; None or a non-positive base median gives nan)."""
    ok = median_new is not None and median_base is not None and median_base > 0
    ratio = median_new / median_base if ok else float("nan")
    _, p = mann_whitney(new, base)
    ci = ratio_ci(new, base) if math.isfinite(ratio) else None
    return Change(ratio, ci, p, min_mann_whitney_p(len(new), len(base)))
