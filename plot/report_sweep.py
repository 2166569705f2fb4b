"""The report's sweep charts: one per (allocator, environment key) swept with `run --sweep`.
Layer: plot/ report; uses figures, palette, stats, summary and report_charts' framing helpers.

`allocmark run --sweep NAME:KEY=V1,V2` runs one allocator variant per value, and meta.json says
which: allocators[variant].sweep = {"base", "key", "value"}. Each (base, key) group becomes one
chart: the swept value on x (a numeric axis when every value is a number, logarithmic when they
span more than two decades, else the values as categories in the order the run gave them), time
and peak memory in two panels, each workload a line of summary.json's ratios to the baseline
with their intervals (or, when the run has no ratio at all, its medians and their intervals),
the geometric mean over workloads in bold, and the base allocator's own default, when the run
has it under its plain name, as a dashed reference line. Nothing here computes a per-cell
statistic: the points are summary.json's, the geometric means the report's usual one.
"""
import math
import re
from dataclasses import dataclass

from matplotlib.lines import Line2D
import matplotlib.pyplot as plt
from matplotlib.ticker import FixedLocator, NullLocator

import figures
import palette
import stats
from figures import text
from report_charts import MIB, Absent, Chart, _frame, _log_ticks, _positive_log, _time_axis
from summary import MEMORY, TIME

DECADES_FOR_LOG = 2       # a numeric axis is logarithmic when its values span more than this
DEFAULT_LINES_UP_TO = 6   # per-workload default lines drawn only up to this many workloads
# Workload colours: Okabe-Ito without black (the geometric mean) and yellow (invisible on
# white), then Tol's muted scheme; past 13 workloads colours repeat with another dash.
_WL_COLOURS = ([c for k, c in palette.OKABE_ITO.items() if k not in ("black", "yellow")]
               + ["#332288", "#117733", "#44AA99", "#882255", "#999933", "#AA4499", "#88CCEE"])
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
GEOMEAN = "#000000"


@dataclass(frozen=True)
class Sweep:
    """One swept (base allocator, environment key): its variants in axis order."""
    base: str
    key: str
    values: tuple      # the swept values as the run gave them (strings), in axis order
    names: tuple       # the variant allocator of each value
    scale: str         # "linear", "log" or "symlog" (numeric axis) or "category"
    stem: str          # file stem under plots/

    @property
    def numeric(self):
        return self.scale != "category"

    def positions(self):
        """x of each value: the number itself on a numeric axis, else 0, 1, 2..."""
        if self.numeric:
            return [float(v) for v in self.values]
        return [float(i) for i in range(len(self.values))]


def as_number(value):
    """The value as a float when it is written as a plain decimal number, else None."""
    s = str(value).strip()
    if not _NUMBER.match(s):
        return None
    x = float(s)
    return x if math.isfinite(x) else None


def axis_scale(values):
    """"category" unless every value is a number; then "log" when they are all positive and
    span more than DECADES_FOR_LOG decades, "symlog" when they hold 0 or negatives and their
    non-zero magnitudes span that much, else "linear"."""
    nums = [as_number(v) for v in values]
    if not nums or any(x is None for x in nums):
        return "category"
    mags = [abs(x) for x in nums if x != 0]
    wide = bool(mags) and max(mags) / min(mags) > 10 ** DECADES_FOR_LOG
    if not wide:
        return "linear"
    return "log" if min(nums) > 0 else "symlog"


def _stem(base, key, taken):
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", f"sweep-{base}-{key}")
    out, k = stem, 2
    while out in taken:
        out, k = f"{stem}-{k}", k + 1
    taken.add(out)
    return out


def sweep_groups(meta, order=()):
    """The sweeps in meta.json's allocators table, as Sweep objects in order of first variant.

    order: allocator names in the run's order (Summary.allocators, i.e. plan order): meta.json's
    table may be written with sorted keys, so the order the values were given in is taken from
    it; variants it lacks follow in the table's order. Categorical values keep that order;
    numeric ones are sorted by value. A value given twice is kept once (its first variant).
    """
    table = meta.get("allocators") if isinstance(meta, dict) else None
    if not isinstance(table, dict):
        return []
    rank = {a: i for i, a in enumerate(order)}
    names = sorted(table, key=lambda a: (rank.get(a, len(rank)), list(table).index(a)))
    groups = {}
    for name in names:
        entry = table[name]
        sw = entry.get("sweep") if isinstance(entry, dict) else None
        if not isinstance(sw, dict):
            continue
        base, key = sw.get("base"), sw.get("key")
        if not isinstance(base, str) or not isinstance(key, str) or not base or not key:
            continue
        value = sw.get("value")
        if value is None:
            env = entry.get("env")
            value = env.get(key) if isinstance(env, dict) else None
        if value is None or isinstance(value, (dict, list)):
            continue
        value = str(value).lower() if isinstance(value, bool) else str(value)
        values = groups.setdefault((base, key), {})
        values.setdefault(value, name)
    out, taken = [], set()
    for (base, key), values in groups.items():
        pairs = list(values.items())
        scale = axis_scale([v for v, _ in pairs])
        if scale != "category":
            pairs.sort(key=lambda p: as_number(p[0]))
        out.append(Sweep(base, key, tuple(v for v, _ in pairs), tuple(n for _, n in pairs),
                         scale, _stem(base, key, taken)))
    return out


def sweeps(summary):
    """The run's sweeps (none when it has no --sweep)."""
    return sweep_groups(summary.run.meta, summary.allocators)


# --------------------------------------------------------------------------- the chart

def _relative_point(summary, metric, group, allocator):
    """(value, lo, hi) of summary.json's ratio to the baseline, or None."""
    r = summary.relative(metric, group, allocator)
    if not math.isfinite(r.value):
        return None
    if allocator == summary.baseline:
        return 1.0, 1.0, 1.0
    return (r.value, r.lo, r.hi) if r.has_ci else (r.value, None, None)


def _median_point(summary, metric, group, allocator, scale):
    """(median, lo, hi) of the cell in the axis unit (scale), or None."""
    c = summary.cell(group, allocator)
    if c is None or not c.ok:
        return None
    m = c.metric(metric)
    if m is None or m.median is None:
        return None
    m = m.scaled(scale)
    return m.median, m.lo, m.hi


def _set_x(ax, sweep, xs):
    if sweep.scale == "log":
        ax.set_xscale("log")
    elif sweep.scale == "symlog":
        ax.set_xscale("symlog", linthresh=min(abs(x) for x in xs if x != 0))
    ax.xaxis.set_major_locator(FixedLocator(xs))
    ax.xaxis.set_minor_locator(NullLocator())
    long = max(len(v) for v in sweep.values) > 6 or len(xs) > 8
    ax.set_xticklabels([text(v) for v in sweep.values], rotation=30 if long else 0,
                       ha="right" if long else "center", rotation_mode="anchor")
    if not sweep.numeric:
        ax.set_xlim(-0.5, len(xs) - 0.5)
    else:
        ax.margins(x=0.06)
    ax.grid(axis="x", visible=False)


def _errorbar(ax, xs, pts, colour, **kw):
    ys = [p[0] for p in pts]
    lo = [p[0] - p[1] if p[1] is not None else 0.0 for p in pts]
    hi = [p[2] - p[0] if p[2] is not None else 0.0 for p in pts]
    has = any(p[1] is not None for p in pts)
    ax.errorbar(xs, ys, yerr=[lo, hi] if has else None, color=colour, capsize=2,
                markeredgecolor=colour, **kw)


def _panel(ax, summary, sweep, metric, point, relative, wl_colour):
    """Draws one metric; returns (values drawn, groups in the geometric mean, whether the
    base's default is drawn, groups drawn as lines)."""
    xs_all = sweep.positions()
    groups = summary.groups
    drawn, lined = [], set()
    data = {}  # group -> [point or None per value]
    for gi, g in enumerate(groups):
        pts = [point(metric, g, a) for a in sweep.names]
        data[g] = pts
        keep = [(x, p) for x, p in zip(xs_all, pts) if p is not None]
        if not keep:
            continue
        colour, dash = wl_colour[gi]
        lined.add(g)
        _errorbar(ax, [x for x, _ in keep], [p for _, p in keep], colour, linewidth=1.1,
                  linestyle=dash, marker="o", markersize=3.5, elinewidth=0.8, alpha=0.9,
                  zorder=3)
        drawn += [v for _, p in keep for v in p if v is not None]
        base = point(metric, g, sweep.base) if sweep.base in summary.allocators else None
        if base is not None and len(groups) <= DEFAULT_LINES_UP_TO:
            ax.axhline(base[0], color=colour, linestyle="--", linewidth=0.8, alpha=0.6, zorder=2)
            drawn.append(base[0])
    # The mean compares like with like: only workloads where every value has a point.
    common = [g for g in groups if all(p is not None for p in data[g])]
    base_drawn = False
    if relative and common and len(groups) > 1:  # the mean of one workload would hide it
        means = []
        for k in range(len(xs_all)):
            col = [data[g][k] for g in common]
            lo = hi = None
            if all(p[1] is not None and p[2] is not None for p in col):
                lo, hi = stats.geomean([p[1] for p in col]), stats.geomean([p[2] for p in col])
            means.append((stats.geomean([p[0] for p in col]), lo, hi))
        _errorbar(ax, xs_all, means, GEOMEAN, linewidth=2.2, marker="s", markersize=5,
                  elinewidth=1.2, zorder=5)
        drawn += [v for p in means for v in p if v is not None]
        if sweep.base in summary.allocators:
            bases = [point(metric, g, sweep.base) for g in common]
            if all(b is not None for b in bases):
                ref = stats.geomean([b[0] for b in bases])
                ax.axhline(ref, color=GEOMEAN, linestyle="--", linewidth=1.5, zorder=4)
                drawn.append(ref)
                base_drawn = True
    elif sweep.base in summary.allocators and len(groups) <= DEFAULT_LINES_UP_TO:
        base_drawn = any(point(metric, g, sweep.base) is not None for g in groups)
    if relative and summary.baseline not in (sweep.base,):
        ax.axhline(1.0, color=palette.REFERENCE, linestyle=":", linewidth=1.0, zorder=1)
        drawn.append(1.0)
    _set_x(ax, sweep, xs_all)
    if _positive_log(drawn):
        ax.set_yscale("log")
        lo, hi = min(drawn), max(drawn)
        ax.set_ylim(lo / 1.15, hi * 1.15)
        _log_ticks(ax.yaxis, ax.get_ylim(), "×" if relative else "")
    elif relative:
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}×"))
    return drawn, common, base_drawn, lined


def _workload_colours(n):
    dashes = ["-", (0, (4, 1.5)), (0, (1, 1.2))]
    k = len(_WL_COLOURS)
    return [(_WL_COLOURS[i % k], dashes[(i // k) % len(dashes)]) for i in range(n)]


def _caption(summary, sweep, relative, common, base_drawn):
    n_g = len(summary.groups)
    mean = relative and n_g > 1
    axis = {"linear": "a linear axis", "log": "a logarithmic axis",
            "symlog": "a symmetric-logarithmic axis (linear near 0)",
            "category": "categories in the order the run gave them"}[sweep.scale]
    s = (f"{sweep.key} set in the environment of {sweep.base}'s workers only, one allocator "
         f"variant per value (allocmark run --sweep), on x as {axis}. ")
    if relative:
        s += (f"Each {'thin ' if mean else ''}line is one workload: the variant's median divided "
              f"by {summary.baseline}'s on the same workload and thread count (summary.json's "
              "ratio), whiskers its 95% bootstrap interval. ")
        if mean:
            s += (f"The bold line is the geometric mean over the {len(common)} of {n_g} "
                  "workloads where every value has a ratio; its whiskers are the geometric means "
                  "of the interval ends, wider than an interval of the mean. ")
        if summary.baseline != sweep.base:
            s += f"The dotted line is {summary.baseline} = 1. "
    else:
        s += ("No ratio to a baseline is available, so each line is one workload's median with "
              "its order-statistic interval from summary.json; no mean is drawn across "
              "workloads of different scales. ")
    if sweep.base not in summary.allocators:
        s += f"{sweep.base} itself (its default) is not in this run, so no reference is drawn. "
    elif base_drawn:
        if mean and n_g <= DEFAULT_LINES_UP_TO:
            how = ("bold: its geometric mean over the same workloads; thin: per workload, in the "
                   "workload's colour")
        elif mean:
            how = "its geometric mean over the same workloads"
        else:
            how = "per workload, in the workload's colour"
        s += f"Dashed: {sweep.base} under its plain name, i.e. its own default ({how}). "
    s += "Lower is better in both panels."
    return s


def sweep_chart(summary, colours, plots_dir, sweep):
    """One sweep: time and peak memory against the swept value."""
    heading = f"Sweep of {sweep.key} on {sweep.base}"
    present = [a in summary.allocators for a in sweep.names]
    if not any(present):
        return Absent(heading, "none of its variants has a result line")
    relative = any(_relative_point(summary, m, g, a) is not None and a != summary.baseline
                   for m in (TIME, MEMORY) for g in summary.groups for a in sweep.names)
    if relative:
        def point(metric, g, a):
            return _relative_point(summary, metric, g, a)
    else:
        cells = [c for c in (summary.cell(g, a) for g in summary.groups
                             for a in sweep.names + (sweep.base,)) if c is not None and c.ok]
        if not cells:
            return Absent(heading, "none of its variants has a successful repetition")
        tscale, tlabel = _time_axis(summary, cells)

        def point(metric, g, a):
            return _median_point(summary, metric, g, a, tscale if metric == TIME else 1.0 / MIB)

    width, height = 11.0, 4.8
    fig, axes = plt.subplots(1, 2, figsize=(width, height), squeeze=False)
    wl_colour = _workload_colours(len(summary.groups))
    what, _ = summary.time_label()
    base = text(summary.baseline)
    labels = ({TIME: f"{what} ÷ {base}", MEMORY: f"peak memory footprint ÷ {base}"} if relative
              else {TIME: tlabel, MEMORY: "peak memory footprint, MiB"})
    titles = {TIME: f"{what[0].upper()}{what[1:]}", MEMORY: "Peak memory footprint"}
    anything, common, base_drawn, lined = False, [], False, set()
    for ax, metric in zip(axes[0], (TIME, MEMORY)):
        drawn, com, bd, lg = _panel(ax, summary, sweep, metric, point, relative, wl_colour)
        lined |= lg
        anything |= bool(drawn)
        common = com if metric == TIME else common
        base_drawn |= bd
        ax.set_title(titles[metric], fontsize=9)
        ax.set_ylabel(labels[metric])
        ax.set_xlabel(text(sweep.key) + {"log": " (log scale)", "symlog": " (symlog scale)"}
                      .get(sweep.scale, ""))
    if not anything:
        plt.close(fig)
        return Absent(heading, "none of its variants has a successful repetition")
    handles = [Line2D([0], [0], color=c, linestyle=d, marker="o", markersize=3.5,
                      label=text(summary.group_label(g)))
               for g, (c, d) in zip(summary.groups, wl_colour) if g in lined]
    extra = []
    if relative and len(summary.groups) > 1:
        extra.append(Line2D([0], [0], color=GEOMEAN, linewidth=2.2, marker="s", markersize=5,
                            label="geometric mean"))
    if base_drawn:
        mean = relative and len(summary.groups) > 1
        extra.append(Line2D([0], [0], color=GEOMEAN if mean else "#555555",
                            linestyle="--", linewidth=1.5,
                            label=f"{text(sweep.base)} default"))
    if relative and summary.baseline != sweep.base:
        extra.append(Line2D([0], [0], color=palette.REFERENCE, linestyle=":",
                            label=f"{base} = 1"))
    fig.subplots_adjust(wspace=0.28, left=0.8 / width, right=0.98, bottom=0.95 / height)
    title = (f"{text(sweep.base)}: {text(sweep.key)} swept over {len(sweep.values)} values"
             + (f", relative to {base}" if relative else "") + " (lower is better)")
    _frame(fig, title, handles, height, extra, titled_axes=True)
    svg = figures.save(fig, plots_dir, sweep.stem)
    return Chart(sweep.stem, heading, svg,
                 _caption(summary, sweep, relative, common, base_drawn))


class SweepTask:
    """A picklable chart function for one sweep (report.py draws charts in worker processes)."""

    def __init__(self, sweep):
        self.sweep = sweep

    def __call__(self, summary, colours, plots_dir):
        return sweep_chart(summary, colours, plots_dir, self.sweep)


def tasks(summary):
    """One chart function per sweep of the run, in order; [] when it has none."""
    return [SweepTask(s) for s in sweeps(summary)]
