"""The report's charts: each function draws one figure from a Summary and saves SVG + PNG.
Layer: plot/ report; uses figures (matplotlib set-up), palette, stats and summary.

Medians, intervals, ratios and verdicts come from summary.json through the Summary; only the
charts of repetitions themselves (memory over time, latency percentiles) read result lines.
Each chart function returns a Chart, or Absent when the run has nothing for it (the report then
says why). To add a chart, write one more function here and list it in CHARTS at the bottom.
"""
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
import matplotlib.pyplot as plt
from matplotlib.ticker import FixedLocator, NullLocator

import figures
import palette
import stats
from figures import text
from summary import MEMORY, TIME, time_name

MIB = 1024.0 * 1024.0
GROUPS_PER_ROW = 10       # bar groups per panel row before wrapping: keeps labels readable
TIME_CLIP = 3.0           # relative-time axis stops here; longer bars carry their value
FRAG_CLIP = 4.0
MISSING = "#bbbbbb"
SAME_ALPHA = 0.35         # bars whose verdict is "no difference" are drawn pale
WEAK_CI = "#999999"       # whiskers of intervals that cover less than 95 %


@dataclass
class Chart:
    stem: str       # file stem under plots/
    title: str      # heading in the report
    svg: bytes
    caption: str    # what it shows and how to read it (plain text, escaped by the HTML writer)


@dataclass
class Absent:
    title: str
    reason: str


def _chunks(seq, n):
    return [seq[i:i + n] for i in range(0, len(seq), n)] or [[]]


def _legend_handles(summary, colours, kind="patch"):
    hs = []
    for a in summary.allocators:
        c = colours[a]
        if kind == "patch":
            hs.append(Patch(facecolor=c, edgecolor=palette.edge(c), label=text(a)))
        else:
            hs.append(Line2D([0], [0], color=c, marker="o", markersize=4,
                             markeredgecolor=palette.edge(c), label=text(a)))
    return hs


def _frame(fig, title, handles, height_in, extra=None, titled_axes=False):
    """Title on top, legend under it, outside every axes so it never covers data."""
    entries = handles + (extra or [])
    # One legend row up to 10 entries, else balanced rows (never a lone straggler).
    rows = 1 if len(entries) <= 10 else math.ceil(len(entries) / 10)
    ncol = max(1, math.ceil(len(entries) / rows))
    legend_h = 0.22 * rows if entries else 0.0
    top_pad = 0.5 + legend_h + (0.25 if titled_axes else 0.0)
    fig.subplots_adjust(top=1 - top_pad / height_in)
    fig.suptitle(title, y=1 - 0.08 / height_in, va="top", fontsize=11, fontweight="bold")
    if entries:
        fig.legend(handles=entries, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.36 / height_in),
                   ncol=ncol, frameon=False, handlelength=1.4, columnspacing=1.2)


def _fmt_ratio(v):
    if not np.isfinite(v):
        return ""
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v < 0.095:
        return f"{v:.2g}"
    return f"{v:.2f}"


# --------------------------------------------------------------------------- heatmaps

def _heatmap_same(summary, metric, m):
    """Which cells summary.json calls "no difference" (their colour must not rank them)."""
    same = np.zeros(m.shape, dtype=bool)
    for i, a in enumerate(summary.allocators):
        for j, g in enumerate(summary.groups):
            same[i, j] = summary.relative(metric, g, a).same
        # A mean over cells that are all "no difference" has nothing to rank either.
        judged = np.isfinite(m[i, :-1])
        same[i, -1] = bool(judged.any()) and bool(np.all(same[i, :-1][judged]))
    return same


def _heatmap_cell(summary, metric, m, logm, same, counts, i, j):
    """(text, colour, weight) of cell (i, j): the ratio, or why there is none."""
    ngroups = len(summary.groups)
    last = j == m.shape[1] - 1
    v = m[i, j]
    if np.isfinite(v):
        s = ("~" if same[i, j] else "") + _fmt_ratio(v)
        if last and counts[i] < ngroups:
            s += "*"
        if same[i, j]:
            colour = "#555555"
        else:
            colour = "white" if abs(np.clip(logm[i, j], -2, 2)) > 1.1 else "black"
        return s, colour, "bold" if last else "normal"
    if last:
        return "n/a", "#666666", "normal"
    reason = summary.relative(metric, summary.groups[j], summary.allocators[i]).reason
    s = {"failed": "failed", "not run": "–"}.get(
        reason, "no base" if reason.startswith("baseline") else "n/a")
    return s, "#666666", "normal"


def _heatmap_caption(summary, what, counts):
    """The caption: what a cell is, what ~ and * mean, and the failure labels."""
    ngroups = len(summary.groups)
    caption = (f"Each cell is the median {what.lower()} of that allocator on that workload divided "
               f"by the median of {summary.baseline} on the same workload and thread count "
               "(summary.json's vs_baseline ratio). ")
    if summary.has_verdicts:
        caption += ("Cells marked ~ are left white: summary.json's verdict is 'no difference' "
                    "(the ratio's 95% interval contains 1 or lies within the A/A noise floor), "
                    "so their colour must not be read as a ranking; so is a geometric mean over "
                    "such cells only. ")
    else:
        caption += "This run's summary.json has no verdicts for these ratios (see the notes). "
    caption += "The last column is the geometric mean over workloads"
    if any(c < ngroups for c in counts):
        caption += "; * marks a mean over only the workloads the allocator completed"
    caption += ". 'failed': no successful repetition; 'no base': the baseline failed there."
    return caption


def _heatmap(summary, colours, plots_dir, metric, stem, what):
    if not summary.groups or not summary.allocators:
        return Absent(f"Summary: {what.lower()} relative to the baseline",
                      "the run has no result lines")
    m, counts = summary.relative_matrix(metric)
    if not np.any(np.isfinite(m)):
        return Absent(f"Summary: {what.lower()} relative to {summary.baseline}",
                      "no cell has both its own and its baseline's successful repetitions")
    ngroups = len(summary.groups)
    labels = [text(summary.group_label(g)) for g in summary.groups] + ["geomean"]
    nrows, ncols = m.shape
    width = 2.4 + 0.62 * ncols
    height = 1.6 + 0.36 * nrows
    fig, ax = figures.new_figure(width, height)
    with np.errstate(divide="ignore", invalid="ignore"):
        logm = np.log2(m)
    # A cell summary.json calls "no difference" is coloured as 1.0: its colour must not rank it.
    same = _heatmap_same(summary, metric, m)
    shade = np.where(same, 0.0, logm)
    cmap = plt.get_cmap("RdBu_r").copy()
    cmap.set_bad("#f0f0f0")
    im = ax.imshow(np.ma.masked_invalid(np.clip(shade, -2, 2)), cmap=cmap, vmin=-2, vmax=2,
                   aspect="auto", interpolation="nearest")
    ax.grid(False)
    for i in range(nrows):
        for j in range(ncols):
            s, colour, weight = _heatmap_cell(summary, metric, m, logm, same, counts, i, j)
            ax.text(j, i, s, ha="center", va="center", fontsize=7.5, color=colour,
                    fontweight=weight)
    ax.axvline(ngroups - 0.5, color="white", linewidth=4)
    ax.set_xticks(range(ncols))
    ax.set_xticklabels(labels, rotation=40, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(nrows))
    ax.set_yticklabels([text(a) for a in summary.allocators])
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    cb = fig.colorbar(im, ax=ax, fraction=0.035 if ncols > 8 else 0.08, pad=0.02)
    cb.set_ticks([-2, -1, 0, 1, 2])
    cb.set_ticklabels(["≤0.25×", "0.5×", "1×", "2×", "≥4×"])
    cb.set_label(f"× {summary.baseline} (lower is better)")
    cb.outline.set_visible(False)
    ax.set_title(f"{what}, median relative to {text(summary.baseline)} = 1.0 "
                 f"(lower is better; blue = less)", loc="left", pad=8)
    svg = figures.save(fig, plots_dir, stem)
    caption = _heatmap_caption(summary, what, counts)
    return Chart(stem, f"Summary: {what.lower()} relative to {summary.baseline}", svg, caption)


def heatmap_time(summary, colours, plots_dir):
    return _heatmap(summary, colours, plots_dir, TIME, "heatmap_time", "Time per event")


def heatmap_memory(summary, colours, plots_dir):
    return _heatmap(summary, colours, plots_dir, MEMORY, "heatmap_memory", "Peak memory")


# --------------------------------------------------------------------------- grouped bars

class Bar(NamedTuple):
    v: float
    lo: float = None      # whisker ends; None: no interval
    hi: float = None
    pale: bool = False    # summary.json's verdict is "no difference"
    weak: bool = False    # the interval covers less than 95 % (drawn grey)


def _stats_bar(m, scale=1.0):
    """A Bar from a summary.MetricStats (median and its interval), or None without a median."""
    if m is None or m.median is None:
        return None
    m = m.scaled(scale)
    return Bar(m.median, m.lo, m.hi, weak=m.below_level)


def _bars_ylim(finite, log, clip, refline):
    """The y range every row shares: the largest value or whisker end, the reference line."""
    vmax = max(max(d[0], d[2] if d[2] is not None and np.isfinite(d[2]) else d[0])
               for d in finite)
    vmin_pos = min((d[0] for d in finite if d[0] > 0), default=1.0)
    if log:
        return (10 ** math.floor(math.log10(vmin_pos * 0.8)), vmax * 1.6)
    top = vmax * 1.08
    if refline is not None:
        top = max(top, refline * 1.15)
    if clip is not None:
        top = min(top, clip)
    return (0.0, top)


class _BarMarks:
    """Which marks the bars drew, so the legend explains only those."""

    def __init__(self):
        self.clipped = self.missing = self.pale = self.weak = False


def _allocator_bars(ax, ai, c, values, ylim, bar_w, log, marks):
    """One allocator's bars, whiskers and 'no value' crosses in one row of groups.

    One bar() and one errorbar() call per allocator, row and style: artists are the cost.
    """
    bars = {False: ([], []), True: ([], [])}         # pale -> (x, height)
    whiskers = {False: ([], [], [], []), True: ([], [], [], [])}  # weak -> x, y, -, +
    mx = []
    for gi, d in enumerate(values):
        x = gi - 0.4 + bar_w * (ai + 0.5)
        if d is None or not np.isfinite(d[0]):
            mx.append(x)
            continue
        v, lo, hi = d.v, d.lo, d.hi
        over = (not log) and v > ylim[1]
        bars[d.pale][0].append(x)
        bars[d.pale][1].append(ylim[1] if over else v)
        marks.pale |= d.pale
        if over:
            marks.clipped = True
            ax.text(x, ylim[1] * 0.97, f"{_fmt_ratio(v)}", rotation=90, ha="center",
                    va="top", fontsize=6.5, color="black",
                    bbox=dict(boxstyle="square,pad=0.15", fc="white", ec="none", alpha=0.85))
            ax.plot([x], [ylim[1]], marker="^", color="black", markersize=3, clip_on=False)
        elif lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
            w = whiskers[d.weak]
            w[0].append(x)
            w[1].append(v)
            w[2].append(max(v - lo, 0))
            w[3].append(max(hi - v, 0))
            marks.weak |= d.weak
    bottom = ylim[0] if log else 0.0
    for pale, (bx, bh) in bars.items():
        if bx:
            ax.bar(bx, np.asarray(bh) - bottom, bottom=bottom, width=bar_w * 0.92,
                   color=c, edgecolor=palette.edge(c), linewidth=0.5,
                   alpha=SAME_ALPHA if pale else 1.0)
    for weak, (ex, ey, elo, ehi) in whiskers.items():
        if ex:
            ax.errorbar(ex, ey, yerr=[elo, ehi], fmt="none",
                        ecolor=WEAK_CI if weak else "#222222", elinewidth=0.8, capsize=1.6)
    if mx:
        marks.missing = True
        y = ylim[0] * 1.5 if log else ylim[1] * 0.03
        ax.plot(mx, [y] * len(mx), marker="x", linestyle="none",
                color=palette.edge(c), markersize=4, markeredgewidth=1.2)


def _bars_legend_extra(marks, refline, refline_label):
    """Legend entries for the reference line and the marks drawn (crosses, pale, grey)."""
    extra = []
    if refline is not None and refline_label:
        extra.append(Line2D([0], [0], color=palette.REFERENCE, linestyle="--",
                            label=refline_label))
    if marks.missing:
        extra.append(Line2D([0], [0], color="#333333", marker="x", linestyle="none",
                            label="no value (failed)"))
    if marks.pale:
        extra.append(Patch(facecolor="#777777", alpha=SAME_ALPHA, label="pale: no difference"))
    if marks.weak:
        extra.append(Line2D([0], [0], color=WEAK_CI, label="interval below 95% coverage"))
    return extra


def _grouped_bars(summary, colours, plots_dir, stem, title, ylabel, series, *, log=False,
                  clip=None, refline=None, refline_label=None):
    """Bars per (workload, threads) group, one per allocator; series(g, a) -> Bar or None.

    Linear axes stop at `clip` (if given) and bars above it carry their value as text.
    """
    groups = summary.groups
    allocs = summary.allocators
    data = {(g, a): series(g, a) for g in groups for a in allocs}
    finite = [d for d in data.values() if d is not None and np.isfinite(d[0])]
    if not finite:
        return None
    rows = _chunks(groups, GROUPS_PER_ROW)
    ncol_groups = max(len(r) for r in rows)
    nalloc = len(allocs)
    width = max(6.0, 1.2 + ncol_groups * (0.16 * nalloc + 0.35))
    row_h = 2.6
    height = 0.9 + row_h * len(rows) + 0.35
    fig, axes = plt.subplots(len(rows), 1, figsize=(width, height), squeeze=False)
    ylim = _bars_ylim(finite, log, clip, refline)
    bar_w = 0.8 / nalloc
    marks = _BarMarks()
    for row, ax in zip(rows, axes[:, 0]):
        for ai, a in enumerate(allocs):
            _allocator_bars(ax, ai, colours[a], [data[(g, a)] for g in row], ylim, bar_w,
                            log, marks)
        ax.set_xlim(-0.55, max(len(row), ncol_groups) - 0.45)
        ax.set_xticks(range(len(row)))
        ax.set_xticklabels([text(summary.group_label(g)) for g in row], rotation=25,
                           ha="right", rotation_mode="anchor")
        ax.set_ylim(*ylim)
        if log:
            ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        ax.grid(axis="x", visible=False)
        if refline is not None:
            ax.axhline(refline, color=palette.REFERENCE, linestyle="--", linewidth=1, zorder=3)
    extra = _bars_legend_extra(marks, refline, refline_label)
    fig.subplots_adjust(hspace=0.55, bottom=0.7 / height, left=0.9 / width, right=0.99)
    _frame(fig, title, _legend_handles(summary, colours), height, extra)
    svg = figures.save(fig, plots_dir, stem)
    return svg, marks.clipped


def relative_time_bars(summary, colours, plots_dir):
    title = f"Time per event relative to {summary.baseline} (lower is better)"

    def series(g, a):
        r = summary.relative(TIME, g, a)
        if not np.isfinite(r.value):
            return None
        return Bar(r.value, r.lo, r.hi, pale=r.same)

    out = _grouped_bars(summary, colours, plots_dir, "relative_time", text(title),
                        f"time ÷ {text(summary.baseline)}", series, clip=TIME_CLIP, refline=1.0,
                        refline_label=f"{text(summary.baseline)} = 1.0")
    if out is None:
        return Absent("Time per event per workload",
                      "no cell has both its own and its baseline's successful repetitions")
    svg, clipped = out
    caption = ("Bars are the median time per event divided by the baseline's median on the "
               "same workload; whiskers are summary.json's 95% bootstrap interval of that ratio "
               "(absent with a single repetition).")
    if summary.has_verdicts:
        caption += (" Pale bars are cells whose verdict is 'no difference' (the interval "
                    "contains 1 or lies within the A/A noise floor): their height is no ranking.")
    if clipped:
        caption += (f" The axis stops at {TIME_CLIP:g}×; bars that go past it end in a ▲ and "
                    "carry their value.")
    return Chart("relative_time", "Time per event per workload", svg, caption)


def peak_memory_bars(summary, colours, plots_dir):
    title = "Peak memory footprint: peak RSS above the worker's baseline (lower is better)"

    def series(g, a):
        c = summary.cell(g, a)
        if c is None or not c.ok:
            return None
        bar = _stats_bar(c.metric(MEMORY), 1.0 / MIB)
        return bar if bar is not None and bar.v > 0 else None  # log axis: 0 has no place

    out = _grouped_bars(summary, colours, plots_dir, "peak_memory", title,
                        "MiB (log scale)", series, log=True)
    if out is None:
        return Absent("Peak memory per workload", "no successful repetition carries peak_rss_bytes")
    caption = ("Median over repetitions of peak_rss_bytes − baseline_rss_bytes, i.e. what the "
               "allocator's heap added; whiskers are the median's order-statistic interval from "
               "summary.json (grey where it covers less than 95%: the range of 5 or fewer "
               "repetitions). Log scale, because workloads differ by orders of magnitude.")
    return Chart("peak_memory", "Peak memory per workload", out[0], caption)


def fragmentation_bars(summary, colours, plots_dir):
    title = ("Fragmentation: memory footprint ÷ peak live bytes "
             "(lower is better, 1.0 = no overhead)")

    def series(g, a):
        c = summary.cell(g, a)
        if c is None or not c.ok:
            return None
        return _stats_bar(c.fragmentation())

    out = _grouped_bars(summary, colours, plots_dir, "fragmentation", title,
                        "footprint ÷ live bytes", series, clip=FRAG_CLIP, refline=1.0,
                        refline_label="1.0 = footprint equals live bytes")
    if out is None:
        return Absent("Fragmentation per workload",
                      "no successful repetition carries peak_rss_bytes and peak_live_bytes")
    svg, clipped = out
    caption = ("Median fragmentation = (peak_rss_bytes − baseline_rss_bytes) / peak_live_bytes: "
               "summary.json's memory median and interval divided by the trace's peak live bytes "
               "(the same in every repetition). Grey whiskers cover less than 95%. Below 1.0 "
               "means pages were never touched (the allocator reserved less than was requested "
               "live).")
    if clipped:
        caption += f" The axis stops at {FRAG_CLIP:g}; longer bars carry their value."
    return Chart("fragmentation", "Fragmentation per workload", svg, caption)


# --------------------------------------------------------------------------- memory over time

MAX_POINTS = 600


def _downsample(t, y, n=MAX_POINTS):
    """At most ~2n points, keeping each bucket's min and max so peaks survive."""
    if len(t) <= 2 * n:
        return t, y
    edges = np.linspace(0, len(t), n + 1).astype(int)
    ts, ys = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        seg = y[lo:hi]
        i_min, i_max = lo + int(np.argmin(seg)), lo + int(np.argmax(seg))
        for i in sorted({i_min, i_max}):
            ts.append(t[i])
            ys.append(y[i])
    return np.asarray(ts), np.asarray(ys)


def _timeline_of(rec):
    tl = rec.get("timeline")
    if not isinstance(tl, dict):
        return None
    try:
        t = np.asarray(tl.get("t_ns", []), dtype=float)
        rss = np.asarray(tl.get("rss", []), dtype=float) if tl.get("rss") is not None else None
        live = np.asarray(tl.get("live", []), dtype=float) if tl.get("live") is not None else None
    except (TypeError, ValueError):
        return None
    if t.size < 2:
        return None
    if rss is not None and rss.size != t.size:
        rss = None
    if live is not None and live.size != t.size:
        live = None
    if rss is None and live is None:
        return None
    return t, rss, live


def _median_rep_with_timeline(cell):
    """The successful repetition closest to the median time that has a timeline."""
    reps = [r for r in cell.ok if _timeline_of(r) is not None]
    if not reps:
        return None
    med = cell.median(TIME)  # summary.json's median time per event
    return min(reps, key=lambda r: abs((r.get("ns_per_op") or 0) - med) if np.isfinite(med)
               else 0)


def _clip_outliers(ax, peaks, live_peak, colours):
    """Stops the y axis short of allocators that dwarf the rest, and names them with their peak.

    One allocator that never frees (bump) can hold 100x what the others do; on a shared axis
    every other line would be flat at zero.
    """
    if len(peaks) < 2:
        return
    typical = float(np.median(list(peaks.values())))
    top = max(typical * 3.0, live_peak * 1.5)
    over = sorted((p, a) for a, p in peaks.items() if p > top * 1.05)
    if not over or top <= 0:
        return
    ax.set_ylim(0, top)
    for k, (p, a) in enumerate(reversed(over)):
        ax.text(0.98, 0.96 - 0.11 * k, f"{text(a)} ↑ peak {p:,.1f} MiB", transform=ax.transAxes,
                ha="right", va="top", fontsize=7, color=palette.edge(colours[a]),
                bbox=dict(boxstyle="square,pad=0.15", fc="white", ec="none", alpha=0.85))


def memory_timeline(summary, colours, plots_dir):
    title = ("Memory over time: RSS above baseline (solid, one line per allocator) and "
             "requested live bytes (grey dashed); lower is better")
    # One panel per workload (small multiples), at the highest thread count it has a timeline
    # for: a sweep would otherwise multiply the panels without adding a new shape.
    chosen = {}
    for g in summary.groups:
        lines = {}
        for a in summary.allocators:
            c = summary.cell(g, a)
            if c is None:
                continue
            r = _median_rep_with_timeline(c)
            if r is not None:
                lines[a] = (r, _timeline_of(r))
        if lines:
            chosen[g[0]] = (g, lines)
    panels = [chosen[w] for w in summary.workloads if w in chosen]
    if not panels:
        return Absent("Memory over time", "no successful repetition carries a timeline")
    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    width = 1.0 + 3.3 * ncols
    height = 1.0 + 2.35 * nrows
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    for k, (g, lines) in enumerate(panels):
        ax = axes[k // ncols][k % ncols]
        live_drawn = False
        panel_peaks = {}
        live_peak = 0.0
        order = [summary.baseline] + [a for a in summary.allocators if a != summary.baseline]
        for a in [a for a in summary.allocators if a in lines]:
            r, (t, rss, live) = lines[a]
            ms = t / 1e6
            base = r.get("baseline_rss_bytes")
            if rss is not None:
                y = (rss - base) if isinstance(base, (int, float)) else rss
                tt, yy = _downsample(ms, y / MIB)
                ax.plot(tt, yy, color=colours[a], linewidth=1.1, label=text(a))
                if yy.size:
                    panel_peaks[a] = float(np.nanmax(yy))
        for a in order:  # live bytes are the trace's, the same for all: draw one, prefer baseline
            if a in lines and lines[a][1][2] is not None and not live_drawn:
                t, _, live = lines[a][1]
                tt, yy = _downsample(t / 1e6, live / MIB)
                ax.plot(tt, yy, color=palette.REFERENCE, linestyle="--", linewidth=1.0)
                live_drawn = True
                live_peak = float(np.nanmax(yy)) if yy.size else 0.0
        _clip_outliers(ax, panel_peaks, live_peak, colours)
        several = len({t for (w, t) in summary.groups if w == g[0]}) > 1
        ax.set_title(text(g[0]) + (f" ({g[1]} threads)" if several else ""), fontsize=9)
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
        if k % ncols == 0:
            ax.set_ylabel("MiB")
        if k // ncols == nrows - 1 or k + ncols >= len(panels):
            ax.set_xlabel("time since replay start (ms)")
    for k in range(len(panels), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.subplots_adjust(hspace=0.55, wspace=0.28, left=0.7 / width, right=0.99,
                        bottom=0.55 / height)
    extra = [Line2D([0], [0], color=palette.REFERENCE, linestyle="--", label="live bytes")]
    _frame(fig, title, _legend_handles(summary, colours, "line"), height, extra, titled_axes=True)
    svg = figures.save(fig, plots_dir, "memory_timeline")
    caption = ("For each workload (at its highest thread count when the run swept threads), the "
               "repetition closest to the median time of each allocator. Where an allocator "
               "holds far more than the others, the axis stops short and names its peak (↑). "
               "A faster allocator's line ends earlier. Live bytes are what the trace had "
               "requested and not yet freed, the floor any allocator must hold.")
    return Chart("memory_timeline", "Memory over time", svg, caption)


# --------------------------------------------------------------------------- latency

_OP_ORDER = ["malloc", "calloc", "realloc", "memalign", "free"]
_PCTS = [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max")]


def latency(summary, colours, plots_dir):
    title = ("Latency percentiles per operation, geometric mean over workloads "
             "(ns, log scale; lower is better)")
    # (allocator, op, pct) -> {group: median over reps}
    table = {}
    ops = set()
    for c in summary.ordered_cells():
        per = {}
        for r in c.ok:
            lat = r.get("latency")
            if not isinstance(lat, dict):
                continue
            for op, d in lat.items():
                if not isinstance(d, dict):
                    continue
                for key, _ in _PCTS:
                    v = d.get(key)
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
                        per.setdefault((str(op), key), []).append(float(v))
        for (op, key), vals in per.items():
            ops.add(op)
            table.setdefault((c.allocator, op, key), {})[c.group] = float(np.median(vals))
    if not table:
        return Absent("Latency percentiles", "no successful repetition carries latency")
    ops = sorted(ops, key=lambda o: (_OP_ORDER.index(o) if o in _OP_ORDER else 99, o))
    ncols = min(3, len(ops))
    nrows = math.ceil(len(ops) / ncols)
    width = 1.0 + 3.8 * ncols
    height = 1.1 + 2.8 * nrows
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    nworkloads = set()
    for k, op in enumerate(ops):
        ax = axes[k // ncols][k % ncols]
        # Compare allocators over the same workloads: those where every allocator with this op
        # has the percentile, so a missing workload cannot flatter one allocator.
        allocs = [a for a in summary.allocators if (a, op, "p50") in table]
        common = None
        for a in allocs:
            gs = set(table[(a, op, "p50")])
            common = gs if common is None else common & gs
        common = common or set()
        nworkloads.add(len(common))
        for a in allocs:
            xs, ys = [], []
            for i, (key, _) in enumerate(_PCTS):
                d = table.get((a, op, key), {})
                vals = [d[g] for g in common if g in d]
                if vals and len(vals) == len(common):
                    xs.append(i)
                    ys.append(stats.geomean(vals))
            if xs:
                ax.plot(xs, ys, color=colours[a], marker="o", markersize=3.5, linewidth=1.3,
                        markeredgecolor=palette.edge(colours[a]))
        ax.set_yscale("log")
        ax.set_xticks(range(len(_PCTS)))
        ax.set_xticklabels([lbl for _, lbl in _PCTS])
        ax.set_title(f"{text(op)} ({len(common)} workload{'s' if len(common) != 1 else ''})",
                     fontsize=9)
        if k % ncols == 0:
            ax.set_ylabel("ns per call")
        ax.set_xlabel("percentile")
    for k in range(len(ops), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.subplots_adjust(hspace=0.6, wspace=0.25, left=0.75 / width, right=0.99,
                        bottom=0.55 / height)
    _frame(fig, title, _legend_handles(summary, colours, "line"), height, titled_axes=True)
    svg = figures.save(fig, plots_dir, "latency")
    caption = ("Per allocator and operation: each percentile's median over repetitions, then the "
               "geometric mean over the workloads where every allocator has that operation "
               "(count in each panel's title). Log scale: one grid step is ×10.")
    return Chart("latency", "Latency percentiles", svg, caption)


# --------------------------------------------------------------------------- thread scaling

def thread_scaling(summary, colours, plots_dir):
    title = "Thread scaling: throughput against threads (higher is better)"
    swept = [w for w in summary.workloads
             if len({t for (w2, t) in summary.groups if w2 == w}) > 1]
    if not swept:
        return Absent("Thread scaling", "the run has one thread count per workload")
    ncols = min(4, len(swept))
    nrows = math.ceil(len(swept) / ncols)
    width = 1.0 + 3.3 * ncols
    height = 1.0 + 2.5 * nrows
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    serial_any = weak_any = False
    for k, w in enumerate(swept):
        ax = axes[k // ncols][k % ncols]
        ts = sorted(t for (w2, t) in summary.groups if w2 == w)
        serial = False
        for a in summary.allocators:
            xs, ys, lo, hi = [], [], [], []
            for t in ts:
                c = summary.cell((w, t), a)
                if c is None or not c.ok:
                    continue
                serial |= "serial" in c.replay_modes()
                m = c.throughput()
                if m is None:
                    continue
                m = m.scaled(1e-6)
                xs.append(t)
                ys.append(m.median)
                lo.append(m.median - m.lo if m.has_ci else 0)
                hi.append(m.hi - m.median if m.has_ci else 0)
                weak_any |= m.below_level
            if xs:
                ax.errorbar(xs, ys, yerr=[lo, hi], color=colours[a], marker="o", markersize=3.5,
                            linewidth=1.3, capsize=2, markeredgecolor=palette.edge(colours[a]))
        ax.set_xscale("log", base=2)
        ax.set_xticks(ts)
        ax.set_xticklabels([str(t) for t in ts])
        ax.minorticks_off()
        ax.set_ylim(bottom=0)
        ax.set_title(text(w) + (" — serial replay" if serial else ""), fontsize=9)
        serial_any |= serial
        if k % ncols == 0:
            ax.set_ylabel("million events / s")
        ax.set_xlabel("threads")
    for k in range(len(swept), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.subplots_adjust(hspace=0.6, wspace=0.28, left=0.7 / width, right=0.99,
                        bottom=0.55 / height)
    _frame(fig, title, _legend_handles(summary, colours, "line"), height, titled_axes=True)
    svg = figures.save(fig, plots_dir, "thread_scaling")
    caption = ("Events per second at each thread count: 10⁹ ÷ summary.json's median time per "
               "event, with its order-statistic interval mapped the same way.")
    if weak_any:
        caption += (" Some intervals cover less than 95% (the range of 5 or fewer repetitions; "
                    "the medians table gives each one's coverage).")
    if serial_any:
        caption += (" Panels marked 'serial replay' replayed all trace threads on one OS thread "
                    "(replay_mode serial), so they show the cost of the workload's shape, not "
                    "parallel scaling.")
    return Chart("thread_scaling", "Thread scaling", svg, caption)


# --------------------------------------------------------------------------- time-memory frontier

FRONTIER_GREY = "#b5b5b5"
FRONTIER_LINE = "#444444"


class Point(NamedTuple):
    """One allocator in a frontier chart: medians and interval ends (None: no interval)."""
    name: str
    x: float            # memory
    y: float            # time
    xlo: float = None
    xhi: float = None
    ylo: float = None
    yhi: float = None
    label: str = ""


def frontier_allocators(summary):
    """The allocators a frontier compares: all but null (the harness's own cost, which
    allocates nothing and would dominate everyone) and the A/A copy of the baseline."""
    return [a for a in summary.allocators if a != "null" and a != summary.aa]


def _clear(better_hi, worse_lo):
    return better_hi is not None and worse_lo is not None and better_hi < worse_lo


def pareto(points):
    """(frontier, clearly dominated): sets of names, lower time and memory being better.

    On the frontier: no other point has median time and memory both at most its own, one of
    them lower. A dominated point is clearly dominated when a point dominating it is also
    better beyond the intervals in time or memory (its interval's upper end below this one's
    lower end); otherwise it is dominated only within the noise, and is not greyed.
    """
    front, clear = set(), set()
    for p in points:
        doms = [q for q in points if q is not p and q.x <= p.x and q.y <= p.y
                and (q.x < p.x or q.y < p.y)]
        if not doms:
            front.add(p.name)
        elif any(_clear(q.xhi, p.xlo) or _clear(q.yhi, p.ylo) for q in doms):
            clear.add(p.name)
    return front, clear


def _positive_log(values):
    """Log scale when every value is positive and they span more than 8x."""
    v = [x for x in values if x is not None]
    return bool(v) and min(v) > 0 and max(v) / min(v) > 8


def _place_labels(fig, ax, points, fontsize, lines=()):
    """Puts each point's label next to it where it covers no other label, marker, line (each a
    list of (x, y) vertices) or the axes edge, trying 8 positions in turn (else the least
    crowded). Call after the layout is final: it works in the figure's pixels."""
    px = fig.dpi / 72.0
    to_px = ax.transData.transform
    box = ax.get_window_extent()
    marks = [to_px((p.x, p.y)) for p in points]
    placed = []
    for line in lines:  # a line is an obstacle too: small boxes every 3 px along it
        v = to_px(np.asarray(line, dtype=float))
        for (x0, y0), (x1, y1) in zip(v[:-1], v[1:]):
            steps = max(1, int(math.hypot(x1 - x0, y1 - y0) / 3))
            for k in range(steps + 1):
                x, y = x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps
                placed.append((x - 1.5, y - 1.5, x + 1.5, y + 1.5))
    cands = [(7, 0, "left"), (-7, 0, "right"), (0, 9, "center"), (0, -9, "center"),
             (6, 8, "left"), (6, -8, "left"), (-6, 8, "right"), (-6, -8, "right")]
    order = sorted(range(len(points)), key=lambda i: (marks[i][0], marks[i][1]))
    for i in order:
        p = points[i]
        if not p.label:
            continue
        w = len(p.label) * fontsize * 0.58 * px
        h = fontsize * 1.25 * px
        mx, my = marks[i]
        best, best_cost = None, None
        for dx, dy, ha in cands:
            cx, cy = mx + dx * px, my + dy * px
            x0 = cx if ha == "left" else cx - w if ha == "right" else cx - w / 2
            r = (x0, cy - h / 2, x0 + w, cy + h / 2)
            cost = sum(_overlap(r, q) for q in placed)
            cost += sum(4 * _overlap(r, (m[0] - 5, m[1] - 5, m[0] + 5, m[1] + 5))
                        for j, m in enumerate(marks) if j != i)
            # A label nearer another point than its own would name the wrong one.
            own = _rect_dist(r, marks[i])
            cost += sum(w * h for j, m in enumerate(marks) if j != i and _rect_dist(r, m) < own)
            cost += 4 * (max(0, box.x0 - r[0]) + max(0, r[2] - box.x1)) * h
            cost += 4 * (max(0, box.y0 - r[1]) + max(0, r[3] - box.y1)) * w
            if best_cost is None or cost < best_cost - 1e-9:
                best, best_cost = ((dx, dy, ha), r), cost
            if cost == 0:
                break
        (dx, dy, ha), r = best
        placed.append(r)
        ax.annotate(p.label, (p.x, p.y), xytext=(dx, dy), textcoords="offset points",
                    ha=ha, va="center", fontsize=fontsize, color="#222222", zorder=6,
                    annotation_clip=False)


def _rect_dist(r, pt):
    dx = max(r[0] - pt[0], 0, pt[0] - r[2])
    dy = max(r[1] - pt[1], 0, pt[1] - r[3])
    return math.hypot(dx, dy)


def _overlap(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _draw_frontier(ax, points, colours, *, log_x, log_y, markersize=6.5, suffix=""):
    """Points with their interval bars, the frontier as a step line, dominated points greyed
    (clearly) or hollow (within the noise). Returns the frontier line's vertices."""
    front, clear = pareto(points)
    for p in points:
        c = colours[p.name]
        if p.name in front:
            face, edge, bar, z = c, palette.edge(c), c, 5
        elif p.name in clear:
            face, edge, bar, z = FRONTIER_GREY, "#8a8a8a", FRONTIER_GREY, 3
        else:
            face, edge, bar, z = "white", c, c, 4
        xerr = ([[max(p.x - p.xlo, 0)], [max(p.xhi - p.x, 0)]]
                if p.xlo is not None and p.xhi is not None else None)
        yerr = ([[max(p.y - p.ylo, 0)], [max(p.yhi - p.y, 0)]]
                if p.ylo is not None and p.yhi is not None else None)
        ax.errorbar([p.x], [p.y], xerr=xerr, yerr=yerr, fmt="none", ecolor=bar,
                    elinewidth=0.9, capsize=2, alpha=0.9, zorder=z - 1)
        ax.plot([p.x], [p.y], marker="o", markersize=markersize, markerfacecolor=face,
                markeredgecolor=edge, markeredgewidth=1.4, linestyle="none", zorder=z)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.margins(x=0.12, y=0.12)
    ax.autoscale_view()
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    fp = sorted((p for p in points if p.name in front), key=lambda p: (p.x, p.y))
    # The staircase bounding what the frontier dominates: up from the leftmost point, then
    # right and down through each frontier point, then right to the edge.
    line = [(fp[0].x, ylim[1])]
    for a, b in zip(fp, fp[1:] + [None]):
        line.append((a.x, a.y))
        line.append((b.x if b is not None else xlim[1], a.y))
    ax.plot(*zip(*line), color=FRONTIER_LINE, linewidth=1.3, zorder=2)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    for axis, log, lim in ((ax.xaxis, log_x, xlim), (ax.yaxis, log_y, ylim)):
        if log:
            _log_ticks(axis, lim, suffix)
        elif suffix:
            axis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}{suffix}"))
    return line


def _log_ticks(axis, lim, suffix=""):
    """Readable ticks on a log axis: 1-2-5 steps (finer for a narrow range), as plain numbers."""
    lo, hi = sorted(lim)
    for mantissas in ((1,), (1, 2, 5), (1, 1.5, 2, 3, 5, 7), (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8),
                      (1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 9)):
        ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1,
                                             math.ceil(math.log10(hi)) + 1)
                 for m in mantissas if lo <= m * 10.0 ** e <= hi]
        if len(ticks) >= 4:
            break
    if len(ticks) > 9:
        ticks = ticks[::math.ceil(len(ticks) / 9)]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}{suffix}"))


def _frontier_legend():
    grey = FRONTIER_GREY
    return [Line2D([0], [0], color=FRONTIER_LINE, linewidth=1.3,
                   label="Pareto frontier (nothing is both faster and smaller)"),
            Line2D([0], [0], marker="o", color="none", markerfacecolor="#777777",
                   markeredgecolor="#555555", markersize=6, label="on the frontier"),
            Line2D([0], [0], marker="o", color="none", markerfacecolor="white",
                   markeredgecolor="#555555", markeredgewidth=1.4, markersize=6,
                   label="dominated, within the intervals"),
            Line2D([0], [0], marker="o", color="none", markerfacecolor=grey,
                   markeredgecolor="#8a8a8a", markersize=6,
                   label="dominated beyond the intervals (greyed)"),
            Line2D([0], [0], color="#555555", linewidth=0.9, marker="|", markersize=6,
                   label="95% intervals")]


_FRONTIER_RULE = (
    "Lower left is better. The step line is the Pareto frontier: the allocators no other beats "
    "on both time and memory at once (by median). A dominated allocator is greyed when one "
    "that dominates it is better beyond the intervals in time or memory (its interval ends "
    "below this one's); one dominated only within the intervals is drawn hollow, since the "
    "noise could reorder them. null (the harness alone) and the A/A copy are left out.")


def _time_axis(summary, cells):
    """(scale, axis label) for the time of these cells: ns per event for replays; wall time of
    programs in the largest unit that keeps its medians at 1 or more."""
    fields = {c.time_field for c in cells}
    if fields == {"ns_per_op"}:
        return 1.0, "time per event, ns"
    what = " / ".join(time_name(f)[0] for f in sorted(fields))
    units = {c.time_unit for c in cells}
    if units != {"ns"}:
        return 1.0, f"{what}, {' / '.join(sorted(units))}"
    top = max((c.metric(TIME).median or 0) for c in cells)
    for scale, unit in ((1e-9, "s"), (1e-6, "ms"), (1e-3, "µs")):
        if top * scale >= 1:
            return scale, f"{what}, {unit}"
    return 1.0, f"{what}, ns"


def frontier_suite(summary, colours, plots_dir):
    """Geometric means over workloads of each allocator's ratios to the baseline: time against
    memory, with the frontier."""
    heading = "Time against memory over the suite: the Pareto frontier"
    allocs = frontier_allocators(summary)
    pts, counts = [], {}
    for a in allocs:
        t, m = [], []
        for g in summary.groups:
            rt, rm = summary.relative(TIME, g, a), summary.relative(MEMORY, g, a)
            if math.isfinite(rt.value) and math.isfinite(rm.value) and rm.value > 0:
                t.append(rt)
                m.append(rm)
        if not t:
            continue
        counts[a] = len(t)

        def ends(rs):
            if a == summary.baseline:
                return 1.0, 1.0   # exactly 1 by definition: the others' intervals hold its noise
            if not all(r.has_ci for r in rs):
                return None, None
            return (stats.geomean([r.lo for r in rs]), stats.geomean([r.hi for r in rs]))

        (ylo, yhi), (xlo, xhi) = ends(t), ends(m)
        pts.append(Point(a, stats.geomean([r.value for r in m]),
                         stats.geomean([r.value for r in t]), xlo, xhi, ylo, yhi))
    if not pts:
        return Absent(heading, "no allocator has both a time and a memory ratio to the baseline "
                      f"{summary.baseline} in any workload")
    most = max(counts.values())
    pts = [p._replace(label=text(p.name) + ("*" if counts[p.name] < most else "")
                      + (" (baseline)" if p.name == summary.baseline else "")) for p in pts]
    width, height = 8.5, 6.2
    fig, ax = figures.new_figure(width, height)
    line = _draw_frontier(ax, pts, colours, log_x=True, log_y=True, markersize=8, suffix="×")
    ax.axvline(1.0, color=palette.REFERENCE, linestyle="--", linewidth=0.9, zorder=1)
    ax.axhline(1.0, color=palette.REFERENCE, linestyle="--", linewidth=0.9, zorder=1)
    what, _ = summary.time_label()
    ax.set_xlabel(f"peak memory footprint ÷ {text(summary.baseline)} "
                  "(geometric mean over workloads)")
    ax.set_ylabel(f"{what} ÷ {text(summary.baseline)} (geometric mean)")
    fig.subplots_adjust(left=0.11, right=0.98, bottom=0.1)
    n_g = len(summary.groups)
    over = (f"{n_g} workloads" if n_g == len(summary.workloads)
            else f"{n_g} workload and thread combinations")
    _frame(fig, f"Time against memory over {over}, "
           f"relative to {text(summary.baseline)} (lower left is better)", [], height,
           _frontier_legend())
    _place_labels(fig, ax, pts, 9, [line])
    svg = figures.save(fig, plots_dir, "frontier")
    caption = (f"Each allocator at the geometric mean over workloads of its median time and "
               f"peak memory footprint divided by {summary.baseline}'s on the same workload "
               "(summary.json's ratios), both axes logarithmic. The bars span the geometric "
               "means of the per-workload 95% interval ends: a conservative range, wider than "
               "an interval of the mean itself. " + _FRONTIER_RULE)
    if any(c < most for c in counts.values()):
        caption += " * marks a mean over fewer workloads (the others failed or had no ratio)."
    return Chart("frontier", heading, svg, caption)


def frontier_workloads(summary, colours, plots_dir):
    """Per workload: each allocator's median time against its median peak footprint."""
    heading = "Time against memory per workload"
    allocs = frontier_allocators(summary)
    panels = []
    for g in summary.groups:
        cells = [summary.cell(g, a) for a in allocs]
        cells = [c for c in cells if c is not None and c.ok]
        cells = [c for c in cells if c.metric(TIME).median is not None
                 and c.metric(MEMORY).median is not None]
        if cells:
            panels.append((g, cells))
    if not panels:
        return Absent(heading, "no cell has a median time and memory footprint")
    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    width = 0.6 + 3.6 * ncols
    height = 1.4 + 3.0 * nrows
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    placed = []
    for k, (g, cells) in enumerate(panels):
        ax = axes[k // ncols][k % ncols]
        scale, ylabel = _time_axis(summary, cells)
        pts = []
        for c in cells:
            t = c.metric(TIME).scaled(scale)
            m = c.metric(MEMORY).scaled(1.0 / MIB)
            pts.append(Point(c.allocator, m.median, t.median, m.lo, m.hi, t.lo, t.hi,
                             text(c.allocator)))
        xs = [v for p in pts for v in (p.x, p.xlo)]
        ys = [v for p in pts for v in (p.y, p.ylo)]
        line = _draw_frontier(ax, pts, colours, log_x=_positive_log(xs),
                              log_y=_positive_log(ys))
        ax.set_title(text(summary.group_label(g)), fontsize=9)
        ax.set_xlabel("peak memory footprint, MiB", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        placed.append((ax, pts, line))
    for k in range(len(panels), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.subplots_adjust(hspace=0.5, wspace=0.3, left=0.7 / width, right=0.98,
                        bottom=0.5 / height)
    _frame(fig, "Time against memory per workload (lower left is better)", [], height,
           _frontier_legend(), titled_axes=True)
    for ax, pts, line in placed:
        _place_labels(fig, ax, pts, 7, [line])
    svg = figures.save(fig, plots_dir, "frontier_workloads")
    caption = ("Per workload and thread count, each allocator at its median time (y) and median "
               "peak memory footprint (x: peak RSS above the worker's baseline), with the "
               "order-statistic intervals of both medians from summary.json (those of 5 or "
               "fewer repetitions are their range, below 95% coverage). An axis is logarithmic "
               "where its values span more than 8×. " + _FRONTIER_RULE)
    return Chart("frontier_workloads", heading, svg, caption)


# The frontier opens the report: which allocators are worth their memory, over the suite first.
CHARTS = [frontier_suite, frontier_workloads, heatmap_time, heatmap_memory, relative_time_bars,
          peak_memory_bars, fragmentation_bars, memory_timeline, latency, thread_scaling]
