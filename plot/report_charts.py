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

import figures
import palette
import stats
from figures import text
from summary import MEMORY, TIME

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
    same = np.zeros(m.shape, dtype=bool)
    for i, a in enumerate(summary.allocators):
        for j, g in enumerate(summary.groups):
            same[i, j] = summary.relative(metric, g, a).same
        # A mean over cells that are all "no difference" has nothing to rank either.
        judged = np.isfinite(m[i, :-1])
        same[i, -1] = bool(judged.any()) and bool(np.all(same[i, :-1][judged]))
    shade = np.where(same, 0.0, logm)
    cmap = plt.get_cmap("RdBu_r").copy()
    cmap.set_bad("#f0f0f0")
    im = ax.imshow(np.ma.masked_invalid(np.clip(shade, -2, 2)), cmap=cmap, vmin=-2, vmax=2,
                   aspect="auto", interpolation="nearest")
    ax.grid(False)
    for i, a in enumerate(summary.allocators):
        for j in range(ncols):
            v = m[i, j]
            if np.isfinite(v):
                s = ("~" if same[i, j] else "") + _fmt_ratio(v)
                if j == ncols - 1 and counts[i] < ngroups:
                    s += "*"
                if same[i, j]:
                    colour = "#555555"
                else:
                    colour = "white" if abs(np.clip(logm[i, j], -2, 2)) > 1.1 else "black"
                weight = "bold" if j == ncols - 1 else "normal"
            else:
                if j == ncols - 1:
                    s = "n/a"
                else:
                    reason = summary.relative(metric, summary.groups[j], a).reason
                    s = {"failed": "failed", "not run": "–"}.get(
                        reason, "no base" if reason.startswith("baseline") else "n/a")
                colour, weight = "#666666", "normal"
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
    vmax = max(max(d[0], d[2] if d[2] is not None and np.isfinite(d[2]) else d[0])
               for d in finite)
    vmin_pos = min((d[0] for d in finite if d[0] > 0), default=1.0)
    if log:
        ylim = (10 ** math.floor(math.log10(vmin_pos * 0.8)), vmax * 1.6)
    else:
        top = vmax * 1.08
        if refline is not None:
            top = max(top, refline * 1.15)
        if clip is not None:
            top = min(top, clip)
        ylim = (0.0, top)
    bar_w = 0.8 / nalloc
    clipped_any = missing_any = pale_any = weak_any = False
    for row, ax in zip(rows, axes[:, 0]):
        for ai, a in enumerate(allocs):
            # One bar() and one errorbar() call per allocator, row and style: artists are the
            # cost.
            c = colours[a]
            bars = {False: ([], []), True: ([], [])}         # pale -> (x, height)
            whiskers = {False: ([], [], [], []), True: ([], [], [], [])}  # weak -> x, y, -, +
            mx = []
            for gi, g in enumerate(row):
                x = gi - 0.4 + bar_w * (ai + 0.5)
                d = data[(g, a)]
                if d is None or not np.isfinite(d[0]):
                    mx.append(x)
                    continue
                v, lo, hi = d.v, d.lo, d.hi
                over = (not log) and v > ylim[1]
                bars[d.pale][0].append(x)
                bars[d.pale][1].append(ylim[1] if over else v)
                pale_any |= d.pale
                if over:
                    clipped_any = True
                    ax.text(x, ylim[1] * 0.97, f"{_fmt_ratio(v)}", rotation=90, ha="center",
                            va="top", fontsize=6.5, color="black",
                            bbox=dict(boxstyle="square,pad=0.15", fc="white", ec="none",
                                      alpha=0.85))
                    ax.plot([x], [ylim[1]], marker="^", color="black", markersize=3,
                            clip_on=False)
                elif lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
                    w = whiskers[d.weak]
                    w[0].append(x)
                    w[1].append(v)
                    w[2].append(max(v - lo, 0))
                    w[3].append(max(hi - v, 0))
                    weak_any |= d.weak
            bottom = ylim[0] if log else 0.0
            for pale, (bx, bh) in bars.items():
                if bx:
                    ax.bar(bx, np.asarray(bh) - bottom, bottom=bottom, width=bar_w * 0.92,
                           color=c, edgecolor=palette.edge(c), linewidth=0.5,
                           alpha=SAME_ALPHA if pale else 1.0)
            for weak, (ex, ey, elo, ehi) in whiskers.items():
                if ex:
                    ax.errorbar(ex, ey, yerr=[elo, ehi], fmt="none",
                                ecolor=WEAK_CI if weak else "#222222", elinewidth=0.8,
                                capsize=1.6)
            if mx:
                missing_any = True
                y = ylim[0] * 1.5 if log else ylim[1] * 0.03
                ax.plot(mx, [y] * len(mx), marker="x", linestyle="none",
                        color=palette.edge(c), markersize=4, markeredgewidth=1.2)
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
    extra = []
    if refline is not None and refline_label:
        extra.append(Line2D([0], [0], color=palette.REFERENCE, linestyle="--",
                            label=refline_label))
    if missing_any:
        extra.append(Line2D([0], [0], color="#333333", marker="x", linestyle="none",
                            label="no value (failed)"))
    if pale_any:
        extra.append(Patch(facecolor="#777777", alpha=SAME_ALPHA, label="pale: no difference"))
    if weak_any:
        extra.append(Line2D([0], [0], color=WEAK_CI, label="interval below 95% coverage"))
    fig.subplots_adjust(hspace=0.55, bottom=0.7 / height, left=0.9 / width, right=0.99)
    _frame(fig, title, _legend_handles(summary, colours), height, extra)
    svg = figures.save(fig, plots_dir, stem)
    return svg, clipped_any


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


CHARTS = [heatmap_time, heatmap_memory, relative_time_bars, peak_memory_bars,
          fragmentation_bars, memory_timeline, latency, thread_scaling]
