"""Groups result lines into cells and reduces them to medians, intervals and relative figures.
Layer: plot/ shared model between the loader and the report/compare tools; numpy only.

A cell is (workload, threads, allocator); a group is (workload, threads), the unit a baseline
is compared within. Relative figures are median(cell) / median(baseline cell of the same group).
"""
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

import stats

# Metrics: name -> (label, unit divisor, unit, lower_is_better)
TIME = "wall_ns"
FOOTPRINT = "footprint"
FRAGMENTATION = "fragmentation"
THROUGHPUT = "ops_per_sec"
NS_PER_OP = "ns_per_op"

# A cell is "noisy" when its repetitions' range exceeds this fraction of their median.
NOISY_SPREAD = 0.10
# Below this many repetitions per cell the report and compare say the figures are weak.
FEW_REPS = 5


def metric_value(rec, metric):
    """One repetition's value of a metric, or None when the line does not carry it."""
    if metric == FOOTPRINT:
        peak = rec.get("peak_rss_bytes")
        if not isinstance(peak, (int, float)):
            return None
        base = rec.get("baseline_rss_bytes")
        # Allocator footprint (architecture rule 2): what the heap added over the worker's own.
        return float(peak - base) if isinstance(base, (int, float)) else float(peak)
    v = rec.get(metric)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


@dataclass
class Cell:
    workload: str
    threads: int
    allocator: str
    records: list = field(default_factory=list)

    @property
    def group(self):
        return (self.workload, self.threads)

    @property
    def ok(self):
        return [r for r in self.records if r.get("status") == "ok"]

    def statuses(self):
        return Counter(r.get("status", "?") for r in self.records)

    def failure_details(self):
        """(status, detail) of each failed repetition, duplicates folded, in order."""
        seen = []
        for r in self.records:
            if r.get("status") != "ok":
                item = (str(r.get("status")), str(r.get("detail", "") or ""))
                if item not in seen:
                    seen.append(item)
        return seen

    def values(self, metric):
        vals = [metric_value(r, metric) for r in self.ok]
        return np.asarray([v for v in vals if v is not None and np.isfinite(v)], dtype=float)

    def median(self, metric):
        return stats.median(self.values(metric))

    def median_ci(self, metric):
        return stats.median_ci(self.values(metric))

    def spread(self, metric=TIME):
        return stats.spread(self.values(metric))

    def is_noisy(self, threshold=NOISY_SPREAD):
        s = self.spread(TIME)
        return bool(np.isfinite(s) and s > threshold)

    def replay_modes(self):
        return sorted({str(r["replay_mode"]) for r in self.records if r.get("replay_mode")})


@dataclass
class Relative:
    value: float          # nan when it cannot be computed
    ci: object            # stats.Interval or None
    reason: str = ""      # why value is nan or ci is None


class Summary:
    """All cells of one run, with the baseline chosen and the reason for any fallback."""

    def __init__(self, run, baseline="glibc"):
        self.run = run
        self.allocators = run.allocators()
        self.workloads = run.workloads()
        self.thread_counts = run.thread_counts()
        self.cells = {}
        for r in run.records:
            key = (r["workload"], r["threads"], r["allocator"])
            if key not in self.cells:
                self.cells[key] = Cell(*key)
            self.cells[key].records.append(r)
        wl_index = {w: i for i, w in enumerate(self.workloads)}
        self.groups = sorted({(w, t) for (w, t, _) in self.cells},
                             key=lambda g: (wl_index[g[0]], g[1]))
        self.requested_baseline = baseline
        self.baseline, self.baseline_note = self._choose_baseline(baseline)
        self._rel_cache = {}

    def _choose_baseline(self, wanted):
        with_ok = [a for a in self.allocators
                   if any(c.ok for (w, t, a2), c in self.cells.items() if a2 == a)]
        if wanted in with_ok:
            return wanted, ""
        if not with_ok:
            return wanted, (f"No allocator has a successful repetition, so nothing is relative "
                            f"to the baseline {wanted}.")
        chosen = with_ok[0]
        why = "is not in this run" if wanted not in self.allocators else \
            "has no successful repetition in this run"
        return chosen, (f"The requested baseline {wanted} {why}; figures are relative to "
                        f"{chosen}, the first allocator with results, instead.")

    def cell(self, group, allocator):
        return self.cells.get((group[0], group[1], allocator))

    def group_label(self, group):
        """Workload name, with the thread count when that workload was run at several."""
        w, t = group
        several = sum(1 for g in self.groups if g[0] == w) > 1
        return f"{w} ({t}t)" if several else w

    def relative(self, metric, group, allocator):
        """median(cell)/median(baseline cell) with a bootstrap interval, or nan and a reason."""
        key = (metric, group, allocator)
        if key in self._rel_cache:
            return self._rel_cache[key]
        cell = self.cell(group, allocator)
        base = self.cell(group, self.baseline)
        if cell is None:
            rel = Relative(float("nan"), None, "not run")
        elif not cell.ok:
            rel = Relative(float("nan"), None, "failed")
        elif base is None or not base.ok:
            rel = Relative(float("nan"), None, f"baseline {self.baseline} "
                           + ("not run" if base is None else "failed"))
        else:
            a, b = cell.values(metric), base.values(metric)
            if a.size == 0 or b.size == 0:
                rel = Relative(float("nan"), None, f"no {metric}")
            else:
                value = stats.ratio_of_medians(a, b)
                if not np.isfinite(value):
                    rel = Relative(value, None, f"baseline {metric} not positive")
                else:
                    ci = stats.ratio_ci(a, b)
                    rel = Relative(value, ci, "" if ci else "one repetition: no interval")
        self._rel_cache[key] = rel
        return rel

    def relative_matrix(self, metric):
        """(rows=allocators) x (cols=groups + geomean) array of relative values, nan where none.

        The geometric mean runs over the groups where the allocator has a value; counts[i] says
        over how many, so an incomplete mean can be marked as such.
        """
        m = np.full((len(self.allocators), len(self.groups) + 1), np.nan)
        counts = []
        for i, a in enumerate(self.allocators):
            vals = [self.relative(metric, g, a).value for g in self.groups]
            m[i, :-1] = vals
            m[i, -1] = stats.geomean(vals)
            counts.append(int(np.sum(np.isfinite(vals))))
        return m, counts

    def failed_cells(self):
        return [c for c in self._ordered_cells() if len(c.ok) < len(c.records)]

    def noisy_cells(self, threshold=NOISY_SPREAD):
        return [c for c in self._ordered_cells() if c.is_noisy(threshold)]

    def _ordered_cells(self):
        out = []
        for g in self.groups:
            for a in self.allocators:
                c = self.cell(g, a)
                if c is not None:
                    out.append(c)
        return out

    def ordered_cells(self):
        return self._ordered_cells()

    def rep_counts(self):
        """Distinct counts of successful repetitions per cell (ignoring fully failed cells)."""
        return sorted({len(c.ok) for c in self.cells.values() if c.ok})
