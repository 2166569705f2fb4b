"""Writes the report as one self-contained HTML file: inline CSS, charts as data: URIs, no JS.
Layer: plot/ report; standard library + numpy. Every string from a result file goes through
esc(), so a workload called <script> is shown as text and never parsed as markup.
"""
import base64
import html
import math
import shlex

import numpy as np

import stats
from summary import FEW_REPS, FOOTPRINT, FRAGMENTATION, NOISY_SPREAD, NS_PER_OP, TIME

MIB = 1024.0 * 1024.0

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 margin:0 auto;max-width:1500px;padding:16px 24px;color:#222;background:#fff}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px;
 border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.sub{color:#555;margin:0 0 12px}
.notes{background:#fff8e1;border-left:4px solid #e69f00;padding:8px 14px;margin:12px 0}
.notes li{margin:2px 0}
figure{margin:10px 0 22px}figure img{max-width:100%;height:auto;display:block}
figcaption{color:#444;font-size:13px;max-width:1100px;margin-top:4px}
.files{font-size:12px;color:#666}.files a{color:#0072b2}
.absent{color:#666;font-style:italic}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 14px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.fail td{background:#fdecea}pre{margin:0;white-space:pre-wrap;max-width:700px;font-size:12px}
.sw{display:inline-block;width:10px;height:10px;margin-right:5px;border:1px solid #555;
 vertical-align:baseline}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:6px 0}
dl.kv dt{color:#555}dl.kv dd{margin:0;word-break:break-all}
nav a{margin-right:12px;color:#0072b2}
"""


def esc(value):
    """HTML-escapes any value (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def _num(v, digits=3):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def _with_ci(value, ci, scale=1.0):
    if value is None or not np.isfinite(value):
        return "–"
    s = _num(value / scale)
    if ci is None:
        return s
    mark = "" if ci.coverage >= stats.LEVEL - 1e-9 else "†"
    return f"{s} [{_num(ci.lo / scale)}, {_num(ci.hi / scale)}]{mark}"


def _img(chart):
    data = base64.b64encode(chart.svg).decode("ascii")
    return (f'<figure id="{esc(chart.stem)}"><img src="data:image/svg+xml;base64,{data}" '
            f'alt="{esc(chart.title)}">'
            f'<figcaption>{esc(chart.caption)} <span class="files">Files: '
            f'<a href="plots/{esc(chart.stem)}.svg">SVG</a> · '
            f'<a href="plots/{esc(chart.stem)}.png">PNG</a></span></figcaption></figure>')


def _kv(pairs):
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs
                   if v not in (None, "", [], {}))
    return f'<dl class="kv">{rows}</dl>' if rows else '<p class="absent">not recorded</p>'


def _flat(value):
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return value


def _medians_table(summary, colours):
    head = ("<tr><th>workload</th><th>threads</th><th>allocator</th><th>ok reps</th>"
            "<th>wall time, ms<br>median [95% CI]</th>"
            f"<th>time ÷ {esc(summary.baseline)}<br>[95% bootstrap CI]</th>"
            "<th>peak footprint, MiB<br>median [95% CI]</th><th>fragmentation<br>median</th>"
            "<th>ns per event<br>median</th><th>spread<br>(max−min)/median</th></tr>")
    rows = []
    for c in summary.ordered_cells():
        n_ok, n = len(c.ok), len(c.records)
        rel = summary.relative(TIME, c.group, c.allocator)
        if np.isfinite(rel.value):
            rel_s = _num(rel.value) + (f" [{_num(rel.ci.lo)}, {_num(rel.ci.hi)}]" if rel.ci
                                       else "")
        else:
            rel_s = esc(rel.reason) if rel.reason else "–"
        t = c.values(TIME)
        f = c.values(FOOTPRINT)
        fr = c.values(FRAGMENTATION)
        npo = c.values(NS_PER_OP)
        sp = c.spread(TIME)
        cls = ' class="fail"' if n_ok < n else ""
        t_med = stats.median(t) if t.size else None
        f_med = stats.median(f) if f.size else None
        rows.append(
            f"<tr{cls}><td>{esc(c.workload)}</td><td class=n>{c.threads}</td>"
            f'<td><span class="sw" style="background:{colours[c.allocator]}"></span>'
            f"{esc(c.allocator)}</td><td class=n>{n_ok}/{n}</td>"
            f"<td class=n>{_with_ci(t_med, stats.median_ci(t), 1e6)}</td>"
            f"<td class=n>{rel_s}</td>"
            f"<td class=n>{_with_ci(f_med, stats.median_ci(f), MIB)}</td>"
            f"<td class=n>{_num(stats.median(fr)) if fr.size else '–'}</td>"
            f"<td class=n>{_num(stats.median(npo)) if npo.size else '–'}</td>"
            f"<td class=n>{'–' if not np.isfinite(sp) else f'{sp * 100:.1f}%'}</td></tr>")
    return (f"<table>{head}{''.join(rows)}</table><p class=sub>† the interval is the range of "
            "the repetitions: with 5 or fewer, no order-statistic interval reaches 95% "
            "(see Method for its real coverage).</p>")


def _problems_table(summary, noisy_threshold):
    failed = summary.failed_cells()
    noisy = [c for c in summary.noisy_cells(noisy_threshold) if c not in failed]
    if not failed and not noisy:
        return "<p>Every cell completed every repetition, and none is noisy.</p>"
    rows = []
    for c in failed:
        st = ", ".join(f"{esc(k)} ×{v}" for k, v in sorted(c.statuses().items()))
        reasons = "".join(
            f"<pre>{esc(s)}: {esc(d) if d else '(no detail recorded)'}</pre>"
            for s, d in c.failure_details())
        rows.append(f'<tr class="fail"><td>{esc(c.workload)}</td><td class=n>{c.threads}</td>'
                    f"<td>{esc(c.allocator)}</td><td>{st}</td><td>{reasons}</td></tr>")
    for c in noisy:
        rows.append(f"<tr><td>{esc(c.workload)}</td><td class=n>{c.threads}</td>"
                    f"<td>{esc(c.allocator)}</td><td>noisy</td><td>repetitions' wall times span "
                    f"{c.spread(TIME) * 100:.1f}% of their median (threshold "
                    f"{noisy_threshold * 100:.0f}%)</td></tr>")
    return ("<table><tr><th>workload</th><th>threads</th><th>allocator</th><th>status</th>"
            f"<th>reason</th></tr>{''.join(rows)}</table>")


def _machine(meta):
    m = meta.get("machine") if isinstance(meta.get("machine"), dict) else {}
    b = meta.get("build") if isinstance(meta.get("build"), dict) else {}
    mem = m.get("memory_bytes")
    mem_s = f"{mem / 2**30:.1f} GiB" if isinstance(mem, (int, float)) else mem
    pairs = [("host", m.get("hostname")), ("CPU", m.get("cpu_model")), ("cores", m.get("cores")),
             ("memory", mem_s), ("kernel", m.get("kernel")), ("governor", m.get("governor")),
             ("transparent huge pages", m.get("thp")), ("ASLR", m.get("aslr")),
             ("compiler", b.get("compiler")), ("flags", b.get("flags")),
             ("build type", b.get("build_type"))]
    known = {"hostname", "cpu_model", "cores", "memory_bytes", "kernel", "governor", "thp", "aslr"}
    pairs += [(k, _flat(v)) for k, v in m.items() if k not in known]
    return _kv(pairs)


def _allocators(meta, summary, colours):
    table = meta.get("allocators") if isinstance(meta.get("allocators"), dict) else {}
    names = list(summary.allocators) + [a for a in table if a not in summary.allocators]
    rows = []
    for a in names:
        info = table.get(a) if isinstance(table.get(a), dict) else {}
        sw = (f'<span class="sw" style="background:{colours[a]}"></span>' if a in colours
              else "")
        cols = [info.get(k) for k in ("kind", "version", "path", "description")]
        cols = "".join(f"<td>{'–' if v in (None, '') else esc(v)}</td>" for v in cols)
        rows.append(f"<tr><td>{sw}{esc(a)}</td>{cols}</tr>")
    return ("<table><tr><th>allocator</th><th>kind</th><th>version</th><th>path</th>"
            "<th>description</th></tr>"
            f"{''.join(rows)}</table>")


def render(summary, colours, charts, notes, elapsed_note, noisy_threshold=NOISY_SPREAD):
    """Returns the whole report as a string. charts: report_charts.Chart or Absent, in order."""
    run, meta = summary.run, summary.run.meta
    plan = meta.get("plan") if isinstance(meta.get("plan"), dict) else {}
    cost = meta.get("harness_cost")
    if isinstance(cost, dict):  # {cells, ns_per_event_median} from the harness
        cost = cost.get("ns_per_event_median", _flat(cost))
    cmd = meta.get("command_line")
    if isinstance(cmd, list):
        cmd = shlex.join(str(c) for c in cmd)
    head = _kv([("command line", cmd),
                ("started", meta.get("started")), ("finished", meta.get("finished")),
                ("allocmark", meta.get("allocmark_version")),
                ("git revision", meta.get("git_revision")),
                ("allocators", ", ".join(summary.allocators)),
                ("workloads", ", ".join(summary.workloads)),
                ("threads", ", ".join(str(t) for t in summary.thread_counts)),
                ("repetitions per cell", ", ".join(str(n) for n in summary.rep_counts())
                 or "none successful"),
                ("seed", plan.get("seed")),
                ("harness cost (null allocator), ns per event", cost),
                ("run directory", str(run.path))])
    body = []
    for ch in charts:
        if hasattr(ch, "svg"):
            body.append(f"<h3>{esc(ch.title)}</h3>{_img(ch)}")
        else:
            body.append(f"<h3>{esc(ch.title)}</h3><p class=absent>Not drawn: {esc(ch.reason)}.</p>")
    notes_html = ("<ul class=notes>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
                  if notes else "")
    method = (
        "Every figure is a median over a cell's successful repetitions (a cell is one allocator "
        "on one workload at one thread count). The 95% interval of a single median is the "
        "distribution-free order-statistic (binomial) interval; with 5 or fewer repetitions no "
        "such interval reaches 95%, so the full range is shown instead and marked † (its real "
        "coverage: 93.8% at 5 reps, 87.5% at 4, 75% at 3, 50% at 2). Relative figures are "
        "median(cell) ÷ median(baseline cell on the same workload and thread count); their 95% "
        f"interval is a percentile bootstrap of that ratio ({stats.BOOTSTRAP_RESAMPLES} "
        f"resamples per side, fixed seed {stats.BOOTSTRAP_SEED}). Geometric means run over "
        "workloads. A single repetition gives no interval. "
        f"Fewer than {FEW_REPS} repetitions per cell are too few to trust small differences.")
    title = f"allocmark report — {run.name}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title><style>{CSS}</style></head>
<body>
<h1>{esc(title)}</h1>
<p class=sub>Baseline: <b>{esc(summary.baseline)}</b> · {len(summary.allocators)} allocators ×
{len(summary.groups)} workload/thread combinations · {len(run.records)} result lines ·
{esc(elapsed_note)}</p>
<nav><a href="#charts">charts</a><a href="#medians">medians</a><a href="#problems">failed and
noisy cells</a><a href="#machine">machine and allocators</a><a href="#method">method</a></nav>
{notes_html}
{head}
<h2 id="charts">Charts</h2>
{''.join(body)}
<h2 id="medians">Medians with 95% intervals</h2>
{_medians_table(summary, colours)}
<h2 id="problems">Failed and noisy cells</h2>
{_problems_table(summary, noisy_threshold)}
<h2 id="machine">Machine and allocators</h2>
{_machine(meta)}
{_allocators(meta, summary, colours)}
<h2 id="method">Method</h2>
<p>{esc(method)}</p>
</body></html>
"""
