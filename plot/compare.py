#!/usr/bin/env python3
"""allocmark compare: two runs cell by cell, as a Markdown table on stdout and a chart.
Layer: plot/ entry point (called by `allocmark compare BASE NEW`); reads only result files.

A cell is (workload, threads, allocator). For each cell present in both runs: each run's median
time per event with its interval, as that run's summary.json states them; the change of the
median time and of the median peak footprint (NEW / BASE, with a 95% bootstrap interval of the
repetitions of both runs), and a two-sided Mann-Whitney U test of the times. The between-run
tests are computed here (summary.json judges cells within one run); the per-cell figures are not.
The chart goes to NEW/plots/compare.*.
"""
import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import deps

deps.require("compare.py", "matplotlib", "numpy", "scipy")

import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

import allocmark_results  # noqa: E402
import figures  # noqa: E402
import palette  # noqa: E402
import stats  # noqa: E402
import summary_file  # noqa: E402
from summary import MEMORY, TIME, Summary  # noqa: E402

ALPHA = 0.05
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
    t_ratio: float
    t_ci: object
    p: float
    min_p: float
    m_ratio: float
    m_ci: object

    def verdict(self, alpha):
        if self.min_p >= alpha:
            return "too few reps"
        if not math.isfinite(self.p) or self.p >= alpha:
            return "no change detected"
        if self.t_ci is not None and self.t_ci.lo <= 1.0 <= self.t_ci.hi:
            return "no change detected"
        return "faster" if self.t_ratio < 1 else "slower"


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
        tb, tn = cb.values(TIME), cn.values(TIME)
        if tb.size == 0 or tn.size == 0:
            side = " and ".join(s for s, v in (("BASE", tb), ("NEW", tn)) if v.size == 0)
            skipped.append((key, f"no successful repetition in {side}"))
            continue
        _, p = stats.mann_whitney(tn, tb)
        mb, mn = cb.values(MEMORY), cn.values(MEMORY)
        m_ratio = _ratio(cn.metric(MEMORY).median, cb.metric(MEMORY).median)
        t_base, t_new = cb.metric(TIME), cn.metric(TIME)
        rows.append(Row(*key, n_base=tb.size, n_new=tn.size, t_base=t_base, t_new=t_new,
                        t_ratio=_ratio(t_new.median, t_base.median),
                        t_ci=stats.ratio_ci(tn, tb), p=p,
                        min_p=stats.min_mann_whitney_p(tn.size, tb.size), m_ratio=m_ratio,
                        m_ci=stats.ratio_ci(mn, mb) if math.isfinite(m_ratio) else None))
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


def markdown(base_run, new_run, rows, skipped, warns, alpha, chart_path):
    lines = [f"## allocmark compare: {md(base_run.name)} → {md(new_run.name)}", ""]
    for w in warns:
        lines += [f"> **Warning:** {w}", ""]  # a blank line each: separate blockquotes
    lines += ["| workload | threads | allocator | reps base/new | time base (ns/event) "
              "| time new (ns/event) | Δ time [95% CI] | p (MWU) | Δ peak memory [95% CI] "
              "| verdict |",
              "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(
            f"| {md(r.workload)} | {r.threads} | {md(r.allocator)} | {r.n_base}/{r.n_new} "
            f"| {stat(r.t_base)} | {stat(r.t_new)} | {pct_ci(r.t_ratio, r.t_ci)} "
            f"| {r.p:.3g} | {pct_ci(r.m_ratio, r.m_ci)} | {r.verdict(alpha)} |")
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
    lines += ["", "Times are each run's median time per event with its interval, from that "
              "run's summary.json († the interval covers less than 95%: the range of 5 or fewer "
              "repetitions). Δ is NEW ÷ BASE − 1 of the medians (negative is better for both "
              "time and memory); its interval is a percentile bootstrap of that ratio over both "
              f"runs' repetitions ({stats.BOOTSTRAP_RESAMPLES} resamples, seed "
              f"{stats.BOOTSTRAP_SEED})."]
    if chart_path:
        lines += ["", f"Chart: `{chart_path}` (and `.png`)"]
    return "\n".join(lines) + "\n"


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


def main(argv=None):
    p = argparse.ArgumentParser(prog="compare.py", description=__doc__.splitlines()[0])
    p.add_argument("base", help="run directory of the reference run")
    p.add_argument("new", help="run directory of the run to judge; the chart goes to its plots/")
    p.add_argument("--alpha", type=float, default=ALPHA,
                   help=f"significance level of the Mann-Whitney U test (default {ALPHA})")
    p.add_argument("--no-chart", action="store_true", help="print the table only")
    args = p.parse_args(argv)
    try:
        base_run = allocmark_results.load_run(args.base)
        new_run = allocmark_results.load_run(args.new)
    except allocmark_results.ResultsError as e:
        sys.stderr.write(f"compare.py: {e}\n")
        return 2
    sb, sn = summaries(base_run, new_run, summary_file.allocmark_from_env())
    rows, skipped = compare(sb, sn)
    warns = warnings_for(sb, sn, rows, args.alpha)
    chart_path = None if args.no_chart else chart(rows, args.alpha, Path(args.new) / "plots")
    sys.stdout.write(markdown(base_run, new_run, rows, skipped, warns, args.alpha, chart_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
