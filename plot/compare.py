#!/usr/bin/env python3
"""allocmark compare: two runs cell by cell, as a table on stdout and a chart; a regression gate.
Layer: plot/ entry point (called by `allocmark compare BASE NEW`); reads only result files.

A cell is (workload, threads, allocator). For each cell present in both runs: each run's median
time (per event; wall time for program cells) with its interval, as that run's summary.json
states them; the change of the median time and of the median peak footprint (NEW / BASE, with a
95% bootstrap interval of the repetitions of both runs) and a two-sided Mann-Whitney U test of
each. The between-run statistics are stats.py's (summary.json judges cells within one run); the
per-cell figures are not computed here. The chart goes to NEW/plots/compare.*.

Exit status: 0; 1 when --fail-above / --fail-memory-above is given and a cell goes over it
(significantly more, with the whole interval above the limit) or failed every repetition in NEW
after working in BASE; 2 on bad input (one line on stderr).
"""
import csv
import io
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import deps

deps.require("compare.py", "matplotlib", "numpy", "scipy")

import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

import allocmark_results  # noqa: E402
import baseline_store  # noqa: E402
import cli_args  # noqa: E402
import figures  # noqa: E402
import palette  # noqa: E402
import stats  # noqa: E402
import summary_file  # noqa: E402
from summary import MEMORY, TIME, TIME_FIELD, Summary, time_name  # noqa: E402

ALPHA = 0.05
MIB = 1024.0 * 1024.0
CHART_CLIP = 100.0  # percent: the chart's axis stops at ±this; longer bars carry their value


@dataclass
class Row:
    workload: str
    threads: int
    allocator: str
    n_base: int
    n_new: int
    t_base: object   # summary.MetricStats of BASE's cell (median, interval), from its summary.json
    t_new: object
    t: stats.Change  # NEW / BASE of the time medians: interval, Mann-Whitney p
    m_base: object   # the same for the memory footprint
    m_new: object
    m: stats.Change
    time_field: str = TIME_FIELD  # the result-line field the time is (ns_per_op, wall_ns)
    time_unit: str = "ns"
    gate: tuple = ()  # the limits this cell goes over: "time", "memory"

    # The names the table and chart have always used.
    t_ratio = property(lambda self: self.t.ratio)
    t_ci = property(lambda self: self.t.ci)
    p = property(lambda self: self.t.p)
    min_p = property(lambda self: self.t.min_p)
    m_ratio = property(lambda self: self.m.ratio)
    m_ci = property(lambda self: self.m.ci)

    def verdict(self, alpha):
        return self.t.verdict(alpha, "faster", "slower")

    def memory_verdict(self, alpha):
        return self.m.verdict(alpha, "smaller", "larger")

    @property
    def key(self):
        return (self.workload, self.threads, self.allocator)


@dataclass
class Gate:
    """The regression gate: limits on NEW / BASE − 1 (None: off) and what went over them."""
    time: float = None
    memory: float = None
    alpha: float = ALPHA
    offending: list = field(default_factory=list)   # [(Row, metric)]
    failed: list = field(default_factory=list)      # [(cell key, reason)]: ok in BASE, not in NEW

    @property
    def active(self):
        return self.time is not None or self.memory is not None

    @property
    def passed(self):
        return not self.offending and not self.failed

    def judge(self, rows, skipped):
        for r in rows:
            over = []
            if self.time is not None and r.t.above(self.alpha, self.time):
                over.append(TIME)
            if self.memory is not None and r.m.above(self.alpha, self.memory):
                over.append(MEMORY)
            r.gate = tuple(over)
            self.offending += [(r, m) for m in over]
        # A cell that worked in BASE and failed every repetition in NEW is the worst regression
        # of all: the gate counts it too.
        if self.active:
            self.failed = [(k, why) for k, why in skipped
                           if why == "no successful repetition in NEW"]
        return self

    def limits(self):
        out = []
        if self.time is not None:
            out.append(f"time +{self.time * 100:g}%")
        if self.memory is not None:
            out.append(f"peak memory +{self.memory * 100:g}%")
        return " and ".join(out)


def md(s):
    """Escapes a name from a result file for a Markdown table cell."""
    s = str(s).replace("\\", "\\\\")
    for ch in "|`*_[]":
        s = s.replace(ch, "\\" + ch)
    return s.replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def pct(ratio):
    if ratio is None or not math.isfinite(ratio):
        return "–"
    return f"{(ratio - 1) * 100:+.1f}%".replace("-", "−")


def pct_ci(ratio, ci):
    s = pct(ratio)
    if ci is None or s == "–":
        return s
    lo = f"{(ci.lo - 1) * 100:+.1f}".replace("-", "−")
    hi = f"{(ci.hi - 1) * 100:+.1f}".replace("-", "−")
    return f"{s} [{lo}, {hi}]"


def stat(m):
    """A median with its interval as summary.json gives it; † where it covers less than 95%."""
    if m is None or m.median is None:
        return "–"
    s = f"{m.median:.3g}"
    if m.has_ci:
        s += f" [{m.lo:.3g}, {m.hi:.3g}]" + ("†" if m.below_level else "")
    return s


def _ratio(a, b):
    return a / b if a is not None and b is not None and b > 0 else float("nan")


def summaries(base_run, new_run, allocmark=None):
    """Each run's Summary: per-cell statistics from its own summary.json (baseline irrelevant)."""
    return (Summary(base_run, allocmark=allocmark, comparisons=False),
            Summary(new_run, allocmark=allocmark, comparisons=False))


def compare(sb, sn):
    """Returns (rows, skipped) where skipped is [(cell key, reason)]."""
    rows, skipped = [], []
    keys = [(c.workload, c.threads, c.allocator) for c in sn.ordered_cells()]
    keys += [(c.workload, c.threads, c.allocator) for c in sb.ordered_cells()
             if (c.workload, c.threads, c.allocator) not in sn.cells]
    for key in keys:
        cb, cn = sb.cells.get(key), sn.cells.get(key)
        if cb is None or cn is None:
            skipped.append((key, "only in NEW" if cb is None else "only in BASE"))
            continue
        if cb.time_field != cn.time_field:
            skipped.append((key, f"time is {cb.time_field} in BASE, {cn.time_field} in NEW"))
            continue
        tb, tn = cb.values(TIME), cn.values(TIME)
        if tb.size == 0 or tn.size == 0:
            side = " and ".join(s for s, v in (("BASE", tb), ("NEW", tn)) if v.size == 0)
            skipped.append((key, f"no successful repetition in {side}"))
            continue
        mb, mn = cb.values(MEMORY), cn.values(MEMORY)
        t_base, t_new = cb.metric(TIME), cn.metric(TIME)
        m_base, m_new = cb.metric(MEMORY), cn.metric(MEMORY)
        rows.append(Row(*key, n_base=tb.size, n_new=tn.size, t_base=t_base, t_new=t_new,
                        t=stats.change(tn, tb, t_new.median, t_base.median),
                        m_base=m_base, m_new=m_new,
                        m=stats.change(mn, mb, m_new.median, m_base.median),
                        time_field=cn.time_field, time_unit=cn.time_unit))
    return rows, skipped


def warnings_for(sb, sn, rows, alpha):
    # Returned as Markdown: anything taken from the files goes through md().
    base_run, new_run = sb.run, sn.run
    out = list(f"BASE: {md(w)}" for w in base_run.warnings + sb.stats_notes)
    out += list(f"NEW: {md(w)}" for w in new_run.warnings + sn.stats_notes)
    hopeless = [r for r in rows if r.min_p >= alpha]
    if hopeless:
        r = min(hopeless, key=lambda r: r.n_base + r.n_new)
        out.append(f"{len(hopeless)} of {len(rows)} cells have too few repetitions to judge: "
                   f"with {r.n_base} vs {r.n_new} the Mann–Whitney U test can never give "
                   f"p < {alpha:g} (smallest possible p = {r.min_p:.3f}). Run both with "
                   "--reps 5 or more (5 vs 5 can reach p = 0.008).")
    few = max(sb.min_reps, sn.min_reps)
    weak = [r for r in rows if r.min_p < alpha and min(r.n_base, r.n_new) < few]
    if weak:
        out.append(f"{len(weak)} cells have fewer than {few} repetitions on a side: "
                   "only large, clean differences can show as significant.")
    judged = len(rows) - len(hopeless)
    if judged >= 20:
        out.append(f"{judged} cells are tested at α = {alpha:g}: about "
                   f"{judged * alpha:.0f} 'faster' or 'slower' verdicts are expected by "
                   "chance alone even if nothing changed; trust consistent patterns, not one cell.")
    single = [r for r in rows if r.t_ci is None]
    if single:
        out.append(f"{len(single)} cells have a single repetition on a side: no interval.")
    mb = base_run.meta.get("machine") if isinstance(base_run.meta.get("machine"), dict) else {}
    mn = new_run.meta.get("machine") if isinstance(new_run.meta.get("machine"), dict) else {}
    differ = [k for k in ("hostname", "cpu_model", "kernel", "governor", "thp")
              if k in mb and k in mn and mb[k] != mn[k]]
    if differ:
        out.append("The runs come from different machine set-ups (" + ", ".join(
            f"{k}: {md(mb[k])} → {md(mn[k])}" for k in differ)
            + "): differences may not be the code's.")
    return out


def time_unit_label(rows):
    """The unit of the time columns: ns/event for replays, ns (wall time) for programs."""
    units = []
    for r in rows:
        u = time_name(r.time_field, r.time_unit)[1]
        if u not in units:
            units.append(u)
    return " or ".join(units) or time_name(TIME_FIELD)[1]


def _gate_markdown(gate, rows, skipped, alpha):
    """The gate's verdict and its offending cells: what a CI log must show first."""
    if not gate.active:
        return []
    how = (f"significantly more than in BASE, two-sided Mann–Whitney U test p < {alpha:g}, and "
           "the whole 95% interval of NEW ÷ BASE above the limit")
    if gate.passed:
        judged = [r for r in rows if r.min_p < alpha]
        skipped_new = [k for k, why in skipped if why == "only in BASE"]
        out = [f"**Regression gate: pass.** No cell goes over {gate.limits()} ({how}); "
               f"{len(judged)} of {len(rows)} cells could be judged"
               + (f"; {len(skipped_new)} cells of BASE are not in NEW" if skipped_new else "")
               + ".", ""]
        if len(judged) < len(rows):
            out += [f"> **Warning:** {len(rows) - len(judged)} cells have too few repetitions "
                    "for the test to ever reach significance: the gate cannot fail on them.", ""]
        return out
    n = len({r.key for r, _ in gate.offending} | {k for k, _ in gate.failed})
    out = [f"**Regression gate: FAIL.** {n} cell{'s' if n != 1 else ''} over "
           f"{gate.limits()} ({how}):", "",
           "| workload | threads | allocator | metric | BASE | NEW | Δ [95% CI] | p (MWU) |",
           "|---|---:|---|---|---:|---:|---:|---:|"]
    for r, metric in gate.offending:
        if metric == TIME:
            what = time_name(r.time_field, r.time_unit)
            cols = (f"{what[0]} ({what[1]})", stat(r.t_base), stat(r.t_new), r.t)
        else:
            cols = ("peak memory (MiB)", stat(_mib(r.m_base)), stat(_mib(r.m_new)), r.m)
        out.append(f"| {md(r.workload)} | {r.threads} | {md(r.allocator)} | {cols[0]} "
                   f"| {cols[1]} | {cols[2]} | {pct_ci(cols[3].ratio, cols[3].ci)} "
                   f"| {cols[3].p:.3g} |")
    for (w, t, a), why in gate.failed:
        out.append(f"| {md(w)} | {t} | {md(a)} | every repetition failed in NEW | ok | failed "
                   "| – | – |")
    return out + [""]


def _mib(m):
    return None if m is None else m.scaled(1.0 / MIB)


def markdown(base_run, new_run, rows, skipped, warns, alpha, chart_path, gate=None):
    gate = gate or Gate(alpha=alpha)
    lines = [f"## allocmark compare: {md(base_run.name)} → {md(new_run.name)}", ""]
    lines += _gate_markdown(gate, rows, skipped, alpha)
    for w in warns:
        lines += [f"> **Warning:** {w}", ""]  # a blank line each: separate blockquotes
    unit = time_unit_label(rows)
    lines += [f"| workload | threads | allocator | reps base/new | time base ({unit}) "
              f"| time new ({unit}) | Δ time [95% CI] | p (MWU) | Δ peak memory [95% CI] "
              "| verdict |",
              "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        verdict = r.verdict(alpha)
        if r.gate:
            verdict += " (over " + " and ".join(
                f"+{(gate.time if m == TIME else gate.memory) * 100:g}% {m}" for m in r.gate) + ")"
        lines.append(
            f"| {md(r.workload)} | {r.threads} | {md(r.allocator)} | {r.n_base}/{r.n_new} "
            f"| {stat(r.t_base)} | {stat(r.t_new)} | {pct_ci(r.t_ratio, r.t_ci)} "
            f"| {r.p:.3g} | {pct_ci(r.m_ratio, r.m_ci)} | {verdict} |")
    if rows:
        gt = stats.geomean([r.t_ratio for r in rows])
        gm = stats.geomean([r.m_ratio for r in rows])
        nm = sum(1 for r in rows if math.isfinite(r.m_ratio) and r.m_ratio > 0)
        lines += ["", f"**Geometric mean of NEW ÷ BASE** over {len(rows)} cells: time "
                      f"×{gt:.3f} ({pct(gt)}); peak memory "
                      + (f"×{gm:.3f} ({pct(gm)}) over {nm} cells." if nm else "not available.")]
        counts = {}
        for r in rows:
            counts[r.verdict(alpha)] = counts.get(r.verdict(alpha), 0) + 1
        lines.append("Verdicts (two-sided Mann–Whitney U, α = "
                     f"{alpha:g}, and the interval excluding 0): "
                     + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + ".")
    else:
        lines += ["", "No cell has successful repetitions in both runs: nothing to compare."]
    if skipped:
        lines += ["", "Not compared:", ""]
        lines += [f"- {md(w)} ({t} threads) {md(a)}: {md(why)}" for (w, t, a), why in skipped]
    lines += ["", "Times are each run's median time with its interval, from that "
              "run's summary.json († the interval covers less than 95%: the range of 5 or fewer "
              "repetitions). Δ is NEW ÷ BASE − 1 of the medians (negative is better for both "
              "time and memory); its interval is a percentile bootstrap of that ratio over both "
              f"runs' repetitions ({stats.BOOTSTRAP_RESAMPLES} resamples, seed "
              f"{stats.BOOTSTRAP_SEED})."]
    if chart_path:
        lines += ["", f"Chart: `{chart_path}` (and `.png`)"]
    return "\n".join(lines) + "\n"


def _num(v):
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def _metric_json(m):
    """A summary.MetricStats as JSON (each run's own summary.json figures)."""
    if m is None:
        return None
    return {"n": m.n, "median": _num(m.median), "ci_low": _num(m.lo), "ci_high": _num(m.hi),
            "ci_coverage": _num(m.coverage)}


def _change_json(c, verdict, limit, over):
    return {"ratio": _num(c.ratio),
            "change": _num(c.ratio - 1) if _num(c.ratio) is not None else None,
            "ci_low": _num(c.ci.lo) if c.ci else None,
            "ci_high": _num(c.ci.hi) if c.ci else None,
            "p": _num(c.p), "min_p": _num(c.min_p), "verdict": verdict,
            "limit": limit, "over_limit": over if limit is not None else None}


def to_json(base_run, new_run, rows, skipped, warns, alpha, chart_path, gate, against=None):
    """Everything the table says, per cell, as one JSON document (the gate first)."""
    def cell(r):
        return {"workload": r.workload, "threads": r.threads, "allocator": r.allocator,
                "reps_base": r.n_base, "reps_new": r.n_new,
                "time": {"metric": r.time_field, "unit": r.time_unit,
                         "base": _metric_json(r.t_base), "new": _metric_json(r.t_new),
                         **_change_json(r.t, r.verdict(alpha), gate.time, TIME in r.gate)},
                "memory": {"metric": "peak_rss_bytes - baseline_rss_bytes", "unit": "bytes",
                           "base": _metric_json(r.m_base), "new": _metric_json(r.m_new),
                           **_change_json(r.m, r.memory_verdict(alpha), gate.memory,
                                          MEMORY in r.gate)}}

    offending = [{"workload": r.workload, "threads": r.threads, "allocator": r.allocator,
                  "metric": m, "ratio": _num((r.t if m == TIME else r.m).ratio),
                  "ci_low": _num((r.t if m == TIME else r.m).ci.lo),
                  "ci_high": _num((r.t if m == TIME else r.m).ci.hi),
                  "p": _num((r.t if m == TIME else r.m).p)} for r, m in gate.offending]
    offending += [{"workload": w, "threads": t, "allocator": a, "metric": "status",
                   "reason": why} for (w, t, a), why in gate.failed]
    gt = stats.geomean([r.t_ratio for r in rows])
    gm = stats.geomean([r.m_ratio for r in rows])
    doc = {"gate": {"result": ("off" if not gate.active else "pass" if gate.passed else "fail"),
                    "time_limit": gate.time, "memory_limit": gate.memory, "alpha": alpha,
                    "offending": offending},
           "base": str(base_run.path), "new": str(new_run.path), "against": against,
           "alpha": alpha,
           "method": {"test": "two-sided Mann-Whitney U (scipy.stats.mannwhitneyu)",
                      "interval": "percentile bootstrap of median(NEW) / median(BASE)",
                      "resamples": stats.BOOTSTRAP_RESAMPLES, "seed": stats.BOOTSTRAP_SEED,
                      "level": stats.LEVEL,
                      "gate": "over the limit P when p < alpha and ci_low > 1 + P"},
           "cells": [cell(r) for r in rows],
           "not_compared": [{"workload": w, "threads": t, "allocator": a, "reason": why}
                            for (w, t, a), why in skipped],
           "geomean": {"time": _num(gt), "memory": _num(gm)},
           "warnings": warns,
           "chart": str(chart_path) if chart_path else None}
    return json.dumps(doc, indent=2) + "\n"


CSV_COLUMNS = ["gate", "workload", "threads", "allocator", "reps_base", "reps_new",
               "time_metric", "time_base", "time_new", "time_ratio", "time_ci_low", "time_ci_high",
               "time_p", "time_verdict", "memory_base", "memory_new", "memory_ratio",
               "memory_ci_low", "memory_ci_high", "memory_p", "memory_verdict"]


def to_csv(rows, skipped, alpha, gate):
    """One line per compared cell, offending cells first; gate is fail, pass or off."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)

    def v(x):
        x = _num(x)
        return "" if x is None else f"{x:.6g}"

    order = sorted(rows, key=lambda r: not r.gate)  # stable: offending first, then plan order
    for r in order:
        state = "off" if not gate.active else ("fail" if r.gate else "pass")
        w.writerow([state, r.workload, r.threads, r.allocator, r.n_base, r.n_new, r.time_field,
                    v(r.t_base.median), v(r.t_new.median), v(r.t.ratio),
                    v(r.t.ci.lo if r.t.ci else None), v(r.t.ci.hi if r.t.ci else None),
                    v(r.t.p), r.verdict(alpha), v(r.m_base.median), v(r.m_new.median),
                    v(r.m.ratio), v(r.m.ci.lo if r.m.ci else None),
                    v(r.m.ci.hi if r.m.ci else None), v(r.m.p), r.memory_verdict(alpha)])
    for (wl, t, a), why in gate.failed:
        w.writerow(["fail", wl, t, a] + [""] * (len(CSV_COLUMNS) - 5) + [why])
    return buf.getvalue()


def chart(rows, alpha, plots_dir):
    """Horizontal bars of Δ time and Δ memory per cell; returns the SVG path or None."""
    rows = [r for r in rows if math.isfinite(r.t_ratio)]
    if not rows:
        return None
    colours = palette.colours(r.allocator for r in rows)
    n = len(rows)
    height = 1.5 + 0.22 * n
    fig, axes = figures.new_figure(11, height, ncols=2, sharey=True)
    labels = [figures.text(f"{r.workload} ({r.threads}t) · {r.allocator}") for r in rows]
    y = np.arange(n)[::-1]
    for ax, attr, title in ((axes[0], "t", "Δ wall time, %"), (axes[1], "m", "Δ peak memory, %")):
        for yi, r in zip(y, rows):
            ratio, ci = getattr(r, f"{attr}_ratio"), getattr(r, f"{attr}_ci")
            if not math.isfinite(ratio):
                ax.text(0, yi, " n/a", va="center", fontsize=7, color="#666666")
                continue
            v = (ratio - 1) * 100
            c = colours[r.allocator]
            significant = attr == "t" and r.verdict(alpha) in ("faster", "slower")
            clipped = max(-CHART_CLIP, min(CHART_CLIP, v))
            ax.barh(yi, clipped, height=0.7, color=c, edgecolor=palette.edge(c), linewidth=0.6,
                    alpha=1.0 if significant or attr == "m" else 0.45)
            if abs(v) > CHART_CLIP:
                ax.text(clipped, yi, f" {v:+.0f}% ", va="center", fontsize=7,
                        ha="right" if v > 0 else "left", color="white",
                        bbox=dict(boxstyle="square,pad=0.1", fc="#333333", ec="none"))
            elif ci is not None:
                ax.errorbar(v, yi, xerr=[[max(v - (ci.lo - 1) * 100, 0)],
                                         [max((ci.hi - 1) * 100 - v, 0)]],
                            fmt="none", ecolor="#222222", elinewidth=0.8, capsize=1.5)
        ax.axvline(0, color=palette.REFERENCE, linewidth=1)
        lim = max(5.0, min(CHART_CLIP, 1.1 * max(
            [abs(getattr(r, f"{attr}_ratio") - 1) * 100 for r in rows
             if math.isfinite(getattr(r, f"{attr}_ratio"))] or [5.0])))
        ax.set_xlim(-lim, lim)
        ax.set_title(f"{title} (NEW vs BASE; negative is better)", fontsize=9)
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(labels, fontsize=7.5)
    axes[0].set_ylim(-0.7, n - 0.3)
    handles = [Patch(facecolor="#777777", label=f"time: significant (p < {alpha:g})"),
               Patch(facecolor="#777777", alpha=0.45, label="time: not significant"),
               Line2D([0], [0], color="#222222", label="95% bootstrap interval")]
    fig.subplots_adjust(top=1 - 0.85 / height, wspace=0.06)
    fig.suptitle("Change from BASE to NEW per cell (lower is better)", y=1 - 0.1 / height,
                 va="top", fontsize=11, fontweight="bold")
    fig.legend(handles=handles, loc="upper center", ncol=3, frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.38 / height))
    figures.save(fig, plots_dir, "compare")
    return Path(plots_dir) / "compare.svg"


def _resolve(args, p):
    """(BASE, NEW, baseline name or None) from the positionals and --against."""
    if args.against is not None:
        if len(args.runs) != 1:
            p.error(f"--against {args.against}: expected one run directory (NEW), got "
                    f"{len(args.runs)}")
        return baseline_store.path(args.against, args.results_dir), args.runs[0], args.against
    if len(args.runs) != 2:
        p.error(f"expected two run directories, BASE and NEW (or --against NAME NEW), got "
                f"{len(args.runs)}")
    return args.runs[0], args.runs[1], None


def main(argv=None):
    p = cli_args.Parser(prog="compare.py", description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", metavar="BASE NEW",
                   help="run directories: the reference run, then the run to judge (its plots/ "
                        "gets the chart); with --against NAME only NEW")
    p.add_argument("--against", metavar="NAME",
                   help="compare NEW with the baseline saved as NAME (allocmark baseline save)")
    p.add_argument("--results-dir", default=baseline_store.DEFAULT_RESULTS_DIR,
                   help="results directory holding baselines/ (default ./results)")
    p.add_argument("--alpha", type=float, default=ALPHA,
                   help=f"significance level of the Mann-Whitney U test (default {ALPHA})")
    p.add_argument("--fail-above", type=cli_args.threshold, metavar="P",
                   help="exit 1 when a cell's time is significantly more than P above BASE's "
                        "(p < alpha and the whole 95%% interval of NEW / BASE above 1 + P); "
                        "P like 5%% or 0.05")
    p.add_argument("--fail-memory-above", type=cli_args.threshold, metavar="P",
                   help="the same for the peak memory footprint")
    p.add_argument("--format", choices=("markdown", "json", "csv"), default="markdown",
                   help="output on stdout (default markdown; json has every cell's change, "
                        "interval, p value and verdict)")
    p.add_argument("--no-chart", action="store_true", help="print the table only")
    args = p.parse_args(argv)
    if not 0 < args.alpha < 1:
        p.error(f"argument --alpha: expected a level between 0 and 1, got '{args.alpha:g}'")
    try:
        base_dir, new_dir, against = _resolve(args, p)
        base_run = allocmark_results.load_run(base_dir)
        new_run = allocmark_results.load_run(new_dir)
    except (allocmark_results.ResultsError, baseline_store.BaselineError) as e:
        sys.stderr.write(f"compare.py: {e}\n")
        return 2
    sb, sn = summaries(base_run, new_run, summary_file.allocmark_from_env())
    rows, skipped = compare(sb, sn)
    gate = Gate(args.fail_above, args.fail_memory_above, args.alpha).judge(rows, skipped)
    # The offending cells lead the table and the chart.
    rows.sort(key=lambda r: not r.gate)
    warns = warnings_for(sb, sn, rows, args.alpha)
    chart_path = None if args.no_chart else chart(rows, args.alpha, Path(new_dir) / "plots")
    if args.format == "json":
        out = to_json(base_run, new_run, rows, skipped, warns, args.alpha, chart_path, gate,
                      against)
    elif args.format == "csv":
        out = to_csv(rows, skipped, args.alpha, gate)
    else:
        out = markdown(base_run, new_run, rows, skipped, warns, args.alpha, chart_path, gate)
    sys.stdout.write(out)
    if gate.active and not gate.passed:
        names = [f"{r.workload} ({r.threads}t) {r.allocator} {m} "
                 f"{pct((r.t if m == TIME else r.m).ratio)}" for r, m in gate.offending]
        names += [f"{w} ({t}t) {a} failed" for (w, t, a), _ in gate.failed]
        sys.stderr.write(f"compare.py: regression gate failed ({gate.limits()}): "
                         + "; ".join(names) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
