"""Cells of one run with their statistics as summary.json states them, the baseline, and ratios.
Layer: plot/ shared model between the loaders and the report/compare tools; numpy only.

A cell is (workload, threads, allocator); a group is (workload, threads), the unit a baseline is
compared within. Every per-cell figure (median, interval and its coverage, CV, outliers, noisy,
ratio to the baseline with its interval and verdict, precision) is read from summary.json via
summary_file; the raw lines stay attached to each cell for the charts that draw repetitions
(timelines, latency) and for failure details. plot/ computes only what summary.json has no entry
for: ratios against another baseline than its own (plain, without an interval), geometric means
over workloads, fragmentation and throughput as fixed transforms of summary.json's memory and
time figures, and, when summary.json cannot be had at all, plain medians of the repetitions.
"""
import math
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

import stats
import summary_file
from summary_file import FULL, NONE

# summary.json's two metrics. TIME is the result-line field its cell's "time" object names in
# "metric": ns_per_op (time per replayed event; within a group every allocator replays the same
# events, so its ratios are those of wall time) for replays, wall_ns for program cells.
TIME = "time"
TIME_FIELD = "ns_per_op"          # the time field of a replay cell (and of older summaries)
PROGRAM_TIME_FIELD = "wall_ns"    # the time field of a program cell ("kind": "program")
# What each time field is, for titles and axis labels: (what, unit per value).
TIME_NAMES = {"ns_per_op": ("time per event", "ns/event"), "wall_ns": ("wall time", "ns")}
MEMORY = "memory"   # peak_rss_bytes - baseline_rss_bytes: what the allocator's heap added
LEVEL = 0.95        # the coverage an interval is meant to have; below it, it is marked
# Used only when summary.json has no policy (statistics missing): the harness's own default.
DEFAULT_MIN_REPS = 5
_VERDICTS = {"faster", "slower", "smaller", "larger", "no difference"}
SAME = "no difference"
BETTER = {TIME: "faster", MEMORY: "smaller"}
WORSE = {TIME: "slower", MEMORY: "larger"}


def _num(v):
    """A finite number from a JSON value, else None (summary.json writes null for 'none')."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def time_name(field, unit=None):
    """(what, unit label) of a time field: ("time per event", "ns/event") for ns_per_op."""
    if field in TIME_NAMES:
        return TIME_NAMES[field]
    return (str(field).replace("_", " "), unit or "")


def raw_value(rec, metric, time_field=TIME_FIELD):
    """One repetition's value of a summary metric as the harness takes it, or None.

    time_field: the result-line field TIME is (the cell's, Cell.time_field). Only for the
    fallback medians (no summary.json) and for between-run tests in compare; the per-cell
    statistics themselves are never computed from these.
    """
    if metric == TIME:
        return _num(rec.get(time_field))
    peak = _num(rec.get("peak_rss_bytes"))
    if peak is None:
        return None
    return max(0.0, peak - (_num(rec.get("baseline_rss_bytes")) or 0.0))


@dataclass(frozen=True)
class MetricStats:
    """One metric of one cell, as summary.json gives it (None where it gives none)."""
    n: int
    median: float = None
    lo: float = None
    hi: float = None
    coverage: float = None
    cv: float = None
    noisy: bool = None      # None: unknown (no summary.json)
    outliers: tuple = ()    # rep indices
    warnings: tuple = ()

    @property
    def has_ci(self):
        return self.lo is not None and self.hi is not None

    @property
    def below_level(self):
        """The interval covers less than 95 % (the range of 5 or fewer repetitions)."""
        return self.has_ci and (self.coverage is None or self.coverage < LEVEL - 1e-9)

    def scaled(self, factor):
        """The same statistics in another unit (or divided by a per-cell constant)."""
        f = (lambda v: None if v is None else v * factor)
        return replace(self, median=f(self.median), lo=f(self.lo), hi=f(self.hi))

    def reciprocal(self, k):
        """Statistics of k / x: order statistics map onto order statistics, reversed."""
        f = (lambda v: None if v is None or v <= 0 else k / v)
        return replace(self, median=f(self.median), lo=f(self.hi), hi=f(self.lo))

    @classmethod
    def from_json(cls, m):
        if not isinstance(m, dict):
            return cls(n=0)  # a malformed entry reads as "no statistics", never as an error
        n = m.get("n")
        outliers = m.get("outliers") if isinstance(m.get("outliers"), list) else []
        warnings = m.get("warnings") if isinstance(m.get("warnings"), list) else []
        return cls(n=n if isinstance(n, int) and not isinstance(n, bool) else 0,
                   median=_num(m.get("median")), lo=_num(m.get("ci_low")),
                   hi=_num(m.get("ci_high")), coverage=_num(m.get("ci_coverage")),
                   cv=_num(m.get("cv")),
                   noisy=m.get("noisy") if isinstance(m.get("noisy"), bool) else None,
                   outliers=tuple(r for r in outliers if isinstance(r, int)),
                   warnings=tuple(str(w) for w in warnings))


@dataclass(frozen=True)
class Relative:
    """A cell's ratio to the baseline cell of its group."""
    value: float          # nan when there is none
    lo: float = None      # summary.json's 95 % bootstrap interval; None when it has none
    hi: float = None
    verdict: str = None   # summary.json's verdict; None when it has none for this pair
    floor: float = None   # the noise floor the verdict used
    reason: str = ""      # why value is nan or there is no interval

    @property
    def has_ci(self):
        return self.lo is not None and self.hi is not None

    @property
    def same(self):
        """summary.json says no difference: such a cell must never be shown as ranked."""
        return self.verdict == SAME


@dataclass
class Cell:
    workload: str
    threads: int
    allocator: str
    records: list = field(default_factory=list)
    stats: dict = None  # this cell's object in summary.json; None when statistics are missing

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

    @property
    def time_field(self):
        """The result-line field of this cell's time: summary.json's time.metric; without it
        wall_ns for a program cell ("kind": "program"), else ns_per_op."""
        m = (self.stats or {}).get(TIME)
        f = m.get("metric") if isinstance(m, dict) else None
        if isinstance(f, str) and f.isidentifier():
            return f
        program = any(r.get("kind") == "program" for r in self.records)
        return PROGRAM_TIME_FIELD if program else TIME_FIELD

    @property
    def time_unit(self):
        """summary.json's time.unit ("ns"), else "ns"."""
        m = (self.stats or {}).get(TIME)
        u = m.get("unit") if isinstance(m, dict) else None
        return u if isinstance(u, str) and u else "ns"

    def values(self, metric):
        """The successful repetitions' raw values: data for between-run tests, not statistics."""
        vals = [raw_value(r, metric, self.time_field) for r in self.ok]
        return np.asarray([v for v in vals if v is not None], dtype=float)

    def metric(self, metric):
        """MetricStats from summary.json; without it, the plain median of the repetitions only."""
        if self.stats is not None:
            return MetricStats.from_json(self.stats.get(metric))
        v = self.values(metric)
        # The fallback the report announces as "medians only": no interval, no verdict.
        return MetricStats(n=int(v.size), median=float(np.median(v)) if v.size else None)

    def median(self, metric):
        m = self.metric(metric)
        return m.median if m is not None and m.median is not None else float("nan")

    @property
    def noisy(self):
        """summary.json's noisy flag, time or memory; None when statistics are missing."""
        if self.stats is None:
            return None
        flags = [m.noisy for m in (self.metric(TIME), self.metric(MEMORY)) if m is not None]
        return any(f is True for f in flags)

    def noisy_reasons(self):
        return [w for x in (TIME, MEMORY) if self.metric(x) is not None
                for w in self.metric(x).warnings if "noisy" in w]

    @property
    def precision(self):
        p = (self.stats or {}).get("precision")
        return p if isinstance(p, dict) else None

    def peak_live_bytes(self):
        """The trace's peak of requested live bytes: the same for every repetition of a cell."""
        vals = {r.get("peak_live_bytes") for r in self.ok}
        vals = [v for v in vals if _num(v)]
        return float(vals[0]) if len(vals) == 1 and vals[0] > 0 else None

    def fragmentation(self):
        """Footprint ÷ peak live bytes: summary.json's memory statistics over a constant."""
        m, live = self.metric(MEMORY), self.peak_live_bytes()
        if m is None or m.median is None or live is None:
            return None
        return m.scaled(1.0 / live)

    def throughput(self):
        """Events per second: 10⁹ ÷ summary.json's time per event (its interval mapped too)."""
        m = self.metric(TIME)
        if m is None or m.median is None or m.median <= 0:
            return None
        return m.reciprocal(1e9)

    def replay_modes(self):
        return sorted({str(r["replay_mode"]) for r in self.records if r.get("replay_mode")})


class Summary:
    """All cells of one run with summary.json's statistics, the baseline and why it was chosen.

    baseline: the allocator ratios are taken against; None takes summary.json's (the run's
    --baseline, else glibc, else the first). allocmark: a binary to rewrite summary.json with
    when it cannot serve (summary_file.obtain). comparisons=False (compare) needs per-cell
    statistics only, so summary.json's baseline does not matter.
    """

    def __init__(self, run, baseline=None, allocmark=None, comparisons=True):
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
        first = summary_file.read(run.path)
        plan = run.meta.get("plan") if isinstance(run.meta.get("plan"), dict) else {}
        planned = plan.get("baseline") if isinstance(plan.get("baseline"), str) else None
        self.requested_baseline = baseline or first.baseline or planned or "glibc"
        self.baseline, self.baseline_note = self._choose_baseline(self.requested_baseline)
        got = summary_file.obtain(run, self.baseline if comparisons else None, allocmark, first)
        self.file, self.level, self.stats_notes = got.file, got.level, got.notes
        for key, cell in self.cells.items():
            cell.stats = got.file.cells.get(key) if self.level != NONE else None
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

    # ---------------------------------------------------------------- run-level statistics

    def section(self, name):
        return self.file.section(name) if self.level != NONE else None

    @property
    def noise_floor(self):
        """summary.json's noise_floor (the A/A pair's, whatever the baseline), or None."""
        return self.section("noise_floor") if self.file.complete and self.level != NONE \
            else None

    @property
    def precision(self):
        """summary.json's precision (it does not depend on the baseline), or None."""
        return self.section("precision") if self.file.complete and self.level != NONE else None

    def policy(self, metric=TIME):
        p = self.section("policy")
        p = p.get(metric) if isinstance(p, dict) else None
        return p if isinstance(p, dict) else {}

    @property
    def aa(self):
        """The A/A allocator (the baseline run again under another name), or None."""
        plan = self.run.meta.get("plan") if isinstance(self.run.meta.get("plan"), dict) else {}
        nf = self.section("noise_floor") or {}
        for a in (plan.get("aa"), nf.get("allocator")):
            if isinstance(a, str) and a:
                return a
        return None

    @property
    def aa_of(self):
        """The allocator the A/A allocator copies (meta.json's allocators[aa].aa_of), or None."""
        table = self.run.meta.get("allocators")
        entry = table.get(self.aa) if isinstance(table, dict) and self.aa else None
        of = entry.get("aa_of") if isinstance(entry, dict) else None
        return of if isinstance(of, str) else None

    @property
    def min_reps(self):
        v = self.policy().get("min_reps")
        return v if isinstance(v, int) and v > 0 else DEFAULT_MIN_REPS

    @property
    def has_verdicts(self):
        return self.level == FULL

    # ---------------------------------------------------------------- cells and ratios

    def cell(self, group, allocator):
        return self.cells.get((group[0], group[1], allocator))

    def group_label(self, group):
        """Workload name, with the thread count when that workload was run at several."""
        w, t = group
        several = sum(1 for g in self.groups if g[0] == w) > 1
        return f"{w} ({t}t)" if several else w

    def relative(self, metric, group, allocator):
        """The cell's ratio to the baseline: summary.json's vs_baseline where it has one."""
        key = (metric, group, allocator)
        if key not in self._rel_cache:
            self._rel_cache[key] = self._relative(metric, group, allocator)
        return self._rel_cache[key]

    def _relative(self, metric, group, allocator):
        nan = float("nan")
        cell = self.cell(group, allocator)
        base = self.cell(group, self.baseline)
        if cell is None:
            return Relative(nan, reason="not run")
        if not cell.ok:
            return Relative(nan, reason="failed")
        if base is None or not base.ok:
            return Relative(nan, reason=f"baseline {self.baseline} "
                            + ("not run" if base is None else "failed"))
        if allocator == self.baseline:
            return Relative(1.0, reason="the baseline")
        if self.level == FULL:
            vs = cell.stats.get("vs_baseline") if cell.stats else None
            ours = isinstance(vs, dict) and vs.get("baseline", self.baseline) == self.baseline
            m = vs.get(metric) if ours else None
            if isinstance(m, dict) and _num(m.get("ratio")) is not None:
                verdict = m.get("verdict") if m.get("verdict") in _VERDICTS else None
                lo, hi = _num(m.get("ci_low")), _num(m.get("ci_high"))
                return Relative(_num(m["ratio"]), lo, hi, verdict, _num(m.get("floor")),
                                "" if lo is not None and hi is not None else
                                "no interval (fewer than 2 repetitions a side, or unbounded)")
        # summary.json has no ratio for this pair (another baseline, or none at all): the plain
        # ratio of its medians, with no interval and no verdict.
        num, den = cell.median(metric), base.median(metric)
        if not (math.isfinite(num) and math.isfinite(den)):
            return Relative(nan, reason=f"no {metric}")
        if den <= 0:
            return Relative(nan, reason=f"baseline {metric} median is 0")
        return Relative(num / den, reason="no interval: summary.json has no ratio for it")

    def relative_matrix(self, metric):
        """(rows=allocators) x (cols=groups + geomean) array of ratios, nan where none.

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

    def verdicts(self, metric, group):
        """summary.json's verdicts in one group: (better, same, worse, unjudged).

        better and worse are [(allocator, Relative)] ordered best first: a ranking only among
        cells whose verdict says they differ. same lists the allocators with no difference in
        plan order, never ordered by their ratio; unjudged: [(allocator, reason)].
        """
        better, same, worse, unjudged = [], [], [], []
        for a in self.allocators:
            if a == self.baseline or self.cell(group, a) is None:
                continue
            r = self.relative(metric, group, a)
            if r.verdict == BETTER[metric]:
                better.append((a, r))
            elif r.verdict == WORSE[metric]:
                worse.append((a, r))
            elif r.verdict == SAME:
                same.append(a)
            else:
                unjudged.append((a, r.reason or "no verdict"))
        better.sort(key=lambda x: x[1].value)
        worse.sort(key=lambda x: x[1].value)
        return better, same, worse, unjudged

    def failed_cells(self):
        return [c for c in self.ordered_cells() if len(c.ok) < len(c.records)]

    def noisy_cells(self):
        return [c for c in self.ordered_cells() if c.noisy]

    def ordered_cells(self):
        out = []
        for g in self.groups:
            for a in self.allocators:
                c = self.cell(g, a)
                if c is not None:
                    out.append(c)
        return out

    def time_fields(self):
        """The distinct time fields of the run's cells, in plan order (ns_per_op, wall_ns)."""
        out = []
        for c in self.ordered_cells():
            if c.time_field not in out:
                out.append(c.time_field)
        return out or [TIME_FIELD]

    def time_label(self):
        """(what, unit) naming the time of every cell: ("time per event", "ns/event") for
        replays; a run with program cells too says both."""
        fields = self.time_fields()
        if len(fields) == 1:
            return time_name(fields[0])
        return (" / ".join(time_name(f)[0] for f in fields),
                " or ".join(time_name(f)[1] for f in fields))

    def rep_counts(self):
        """Distinct counts of successful repetitions per cell (ignoring fully failed cells)."""
        return sorted({len(c.ok) for c in self.cells.values() if c.ok})
