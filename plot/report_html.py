"""Writes the report as one self-contained HTML file: inline CSS, charts as data: URIs, no JS.
Layer: plot/ report; standard library only. Every string from a result or summary file goes
through esc(), so a workload called <script> is shown as text and never parsed as markup.
Figures come from the Summary, i.e. from summary.json; this file only formats them.
"""
import base64
import html
import math
import shlex

from summary import MEMORY, NONE, TIME

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
tr.fail td{background:#fdecea}td.v{white-space:nowrap}td.good{color:#0b6e4f}
td.bad{color:#b3261e}td.same,td.v.same{color:#666}td.flags{font-size:12px;color:#555}
pre{margin:0;white-space:pre-wrap;max-width:700px;font-size:12px}
.sw{display:inline-block;width:10px;height:10px;margin-right:5px;border:1px solid #555;
 vertical-align:baseline}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:6px 0}
dl.kv dt{color:#555}dl.kv dd{margin:0;word-break:break-all}
nav a{margin-right:12px;color:#0072b2}
"""


def esc(value):
    """HTML-escapes any value (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def _is_num(v):
    """A finite number (summary.json is read defensively: a bad field shows as '–')."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _num(v, digits=3):
    if not _is_num(v):
        return "–"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def _pct(v, digits=1):
    return f"{v * 100:.{digits}f}%" if _is_num(v) else "–"


def _coverages(summary):
    """Distinct coverages below 95 % among the intervals shown, for the † footnote."""
    out = set()
    for c in summary.ordered_cells():
        for name in (TIME, MEMORY):
            m = c.metric(name)
            if m is not None and m.below_level and m.coverage is not None:
                out.add((round(m.coverage, 4), m.n))
    return sorted(out, reverse=True)


def _stat_td(m, scale=1.0):
    """<td> with a median and summary.json's interval; † and the coverage where it is < 95 %."""
    if m is None or m.median is None:
        return "<td class=n>–</td>"
    s = _num(m.median / scale)
    if not m.has_ci:
        return f"<td class=n>{s}</td>"
    s += f" [{_num(m.lo / scale)}, {_num(m.hi / scale)}]"
    if m.below_level:
        cov = "unknown" if m.coverage is None else _pct(m.coverage, 2)
        return f'<td class=n title="interval coverage {cov}">{s}†</td>'
    return f"<td class=n>{s}</td>"


def _ratio(rel):
    """A Relative as text: ratio [interval], or why there is none."""
    if rel.value is None or not math.isfinite(rel.value):
        return esc(rel.reason) if rel.reason else "–"
    s = _num(rel.value)
    return s + (f" [{_num(rel.lo)}, {_num(rel.hi)}]" if rel.has_ci else "")


def _verdict_td(rel, is_baseline):
    if is_baseline:
        return "<td class=v>baseline</td>"
    if rel.verdict is None:
        return "<td class=v>–</td>"
    cls = {"faster": "good", "smaller": "good", "slower": "bad", "larger": "bad"}.get(
        rel.verdict, "same")
    return f'<td class="v {cls}">{esc(rel.verdict)}</td>'

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


def _precision_text(p):
    """A cell's precision entry: half-width, and reached or why not."""
    if p is None:
        return "–"
    hw = p.get("half_width")
    hw_s = f"±{hw * 100:.1f}% " if _is_num(hw) else ""
    if p.get("target") is None:
        return f"{hw_s}(no target)"
    if p.get("reached") is True:
        return f"{hw_s}reached"
    return f"{hw_s}not reached: {p.get('why_not') or 'no reason recorded'}"


def _flags(summary, c):
    out = []
    if c.noisy:
        out.append("noisy")
    for name in (TIME, MEMORY):
        m = c.metric(name)
        if m is not None and m.outliers:
            out.append(f"{name} outliers: rep {', '.join(str(r) for r in m.outliers)}")
    if summary.aa and c.allocator == summary.aa:
        out.append(f"A/A copy of {summary.aa_of or summary.baseline}")
    return "; ".join(out)


def _medians_table(summary, colours):
    base = esc(summary.baseline)
    head = ("<tr><th>workload</th><th>threads</th><th>allocator</th><th>ok reps</th>"
            "<th>time per event, ns<br>median [interval]</th><th>CV</th>"
            f"<th>time ÷ {base}<br>[95% bootstrap CI]</th><th>time<br>verdict</th>"
            "<th>footprint, MiB<br>median [interval]</th>"
            f"<th>memory ÷ {base}<br>[95% bootstrap CI]</th><th>memory<br>verdict</th>"
            "<th>precision<br>(time interval)</th><th>flags</th></tr>")
    rows = []
    for c in summary.ordered_cells():
        n_ok, n = len(c.ok), len(c.records)
        t, m = c.metric(TIME), c.metric(MEMORY)
        rt, rm = (summary.relative(x, c.group, c.allocator) for x in (TIME, MEMORY))
        is_base = c.allocator == summary.baseline
        cls = ' class="fail"' if n_ok < n else ""
        rows.append(
            f"<tr{cls}><td>{esc(c.workload)}</td><td class=n>{c.threads}</td>"
            f'<td><span class="sw" style="background:{colours[c.allocator]}"></span>'
            f"{esc(c.allocator)}</td><td class=n>{n_ok}/{n}</td>"
            f"{_stat_td(t)}<td class=n>{_pct(t.cv if t else None)}</td>"
            f"<td class=n>{_ratio(rt)}</td>{_verdict_td(rt, is_base)}"
            f"{_stat_td(m, MIB)}<td class=n>{_ratio(rm)}</td>{_verdict_td(rm, is_base)}"
            f"<td class=flags>{esc(_precision_text(c.precision))}</td>"
            f"<td class=flags>{esc(_flags(summary, c))}</td></tr>")
    covs = _coverages(summary)
    foot = ""
    if covs:
        seen = ", ".join(f"{cov * 100:.2f}% with {n} repetitions" for cov, n in covs)
        foot = ("<p class=sub>† the interval covers less than 95%: with 5 or fewer repetitions "
                "no order-statistic interval reaches 95%, so it is the range of the repetitions "
                f"(in this run: {esc(seen)}; hover a value for its coverage).</p>")
    return f"<table>{head}{''.join(rows)}</table>{foot}"


def _names(items):
    return ", ".join(esc(a) for a in items) or "–"


def _verdicts_table(summary, metric):
    """Per group: summary.json's verdicts. Only cells that differ are ordered, best first."""
    better, worse = ("faster", "slower") if metric == TIME else ("smaller", "larger")
    rows = []
    for g in summary.groups:
        b, same, w, unjudged = summary.verdicts(metric, g)
        ranked = (lambda xs: ", ".join(f"{esc(a)} ×{_num(r.value)}" for a, r in xs) or "–")
        rows.append(f"<tr><td>{esc(summary.group_label(g))}</td><td>{ranked(b)}</td>"
                    f"<td class=same>{_names(same)}</td><td>{ranked(w)}</td>"
                    f"<td>{_names(f'{a} ({why})' for a, why in unjudged)}</td></tr>")
    return (f"<table><tr><th>workload</th><th>{better} (best first)</th>"
            f"<th>no difference (not ranked)</th><th>{worse} (best first)</th>"
            f"<th>no verdict</th></tr>{''.join(rows)}</table>")


def _verdicts(summary):
    if not summary.has_verdicts:
        return ("<p class=absent>No verdicts: this report has no summary.json ratios for "
                f"{esc(summary.baseline)} (see the notes at the top), so it ranks nothing.</p>")
    return (f"<p>Each allocator against {esc(summary.baseline)} in the same workload, as "
            "summary.json judges it: a ratio whose 95% interval contains 1, or that lies within "
            "the A/A noise floor, is 'no difference' and is not ranked, whatever its value.</p>"
            f"<h3>Time per event</h3>{_verdicts_table(summary, TIME)}"
            f"<h3>Peak memory footprint</h3>{_verdicts_table(summary, MEMORY)}")


def _floor_text(v):
    return f"±{v * 100:.1f}%" if _is_num(v) else "–"


def _noise_floor(summary):
    nf = summary.noise_floor
    if nf is None:
        return ("<p class=absent>Not known: this run's summary.json records no noise floor "
                "(see the notes at the top).</p>")
    if not nf.get("allocator"):
        return ("<p>This run has no A/A allocator (it ran with --no-aa), so there is no noise "
                "floor: verdicts rest on the ratios' intervals alone.</p>")
    aa = esc(nf["allocator"])
    groups = nf.get("groups") if isinstance(nf.get("groups"), list) else []
    groups = [g for g in groups if isinstance(g, dict)]
    rows = []
    for g in groups:
        cols = ""
        for name in (TIME, MEMORY):
            m = g.get(name) if isinstance(g.get(name), dict) else {}
            r = m.get("ratio")
            lo, hi = m.get("ci_low"), m.get("ci_high")
            ratio = _num(r) + (f" [{_num(lo)}, {_num(hi)}]"
                               if _is_num(r) and _is_num(lo) and _is_num(hi) else "")
            cols += f"<td class=n>{ratio}</td><td class=n>{_floor_text(m.get('floor'))}</td>"
        label = f"{g.get('workload')} ({g.get('threads')}t)"
        rows.append(f"<tr><td>{esc(label)}</td>{cols}</tr>")
    table = (f"<table><tr><th>workload</th><th>time: {aa} ÷ {esc(nf.get('baseline'))}</th>"
             f"<th>time floor</th><th>memory: {aa} ÷ {esc(nf.get('baseline'))}</th>"
             f"<th>memory floor</th></tr>{''.join(rows)}</table>" if rows else "")
    return (f"<p>A/A comparison: {aa} is {esc(nf.get('baseline'))} run a second time under "
            "another name, so its ratio to the baseline differs from 1 only by the machine's "
            "noise. The floor of a workload is how far that ratio's 95% interval reaches from 1; "
            "a ratio within it is 'no difference'. Run-level floor (median over workloads): "
            f"<b>time {_floor_text(nf.get('time'))}</b>, "
            f"<b>memory {_floor_text(nf.get('memory'))}</b>.</p>{table}")


HARNESS = "null"  # the allocator that does nothing: its time is the replay loop's own


def _harness_share(summary):
    """null ÷ baseline per workload, from summary.json's ratios: how much of the baseline's time
    per event is the harness (issue 13: at most 10 %). Threaded cells with more trace threads
    than cores rank by in-call time, where the harness's hand-offs do not count."""
    if HARNESS not in summary.allocators or summary.baseline == HARNESS:
        return ("<p class=absent>Not measured: this run has no <code>null</code> allocator "
                "(add it to --allocators).</p>")
    rows, logs = [], []
    for g in summary.groups:
        r = summary.relative(TIME, g, HARNESS)
        if r is None or not _is_num(r.value) or r.value <= 0:
            continue
        logs.append(math.log(r.value))
        over = ' class="fail"' if r.value > 0.10 else ""
        rows.append(f"<tr{over}><td>{esc(summary.group_label(g))}</td>"
                    f"<td class=n>{_ratio(r)}</td></tr>")
    if not rows:
        return "<p class=absent>No null cell has a ratio to the baseline in this run.</p>"
    gmean = math.exp(sum(logs) / len(logs))
    return (f"<p>The <code>null</code> allocator's time per event ÷ {esc(summary.baseline)}'s, "
            "same run: the share of the baseline's figure that is the replay loop itself "
            f"(geometric mean over workloads <b>{gmean * 100:.1f}%</b>; rows above 10% are "
            "marked). A large share dilutes every difference between allocators in that "
            "workload.</p><table><tr><th>workload</th><th>null ÷ "
            f"{esc(summary.baseline)} [95% CI]</th></tr>{''.join(rows)}</table>")


def _precision(summary):
    p = summary.precision
    if p is None:
        return ("<p class=absent>Not known: this run's summary.json records no precision (see "
                "the notes at the top).</p>")
    target = p.get("target")
    if not _is_num(target):
        return "<p>The run had no precision target (--precision off).</p>"
    why = {}
    for c in summary.ordered_cells():
        cp = c.precision
        if cp is not None and cp.get("reached") is not True:
            key = str(cp.get("why_not") or "no reason recorded")
            why[key] = why.get(key, 0) + 1
    items = "".join(f"<li>{esc(k)}: {v} cell{'s' if v != 1 else ''}</li>"
                    for k, v in sorted(why.items(), key=lambda kv: -kv[1]))
    budget = " The run's time budget stopped the extra rounds." if p.get("budget_reached") else ""
    return (f"<p>Target: the time median's 95% interval within ±{target * 100:g}% of it. "
            f"<b>{esc(p.get('reached'))} of {esc(p.get('cells'))} cells</b> reached it."
            f"{budget}</p>"
            + (f"<p>Not reached, and why:</p><ul>{items}</ul>" if items else ""))


def _problems_table(summary):
    failed = summary.failed_cells()
    noisy = [c for c in summary.noisy_cells() if c not in failed]
    unknown = ("" if summary.level != NONE else
               "<p class=absent>Which cells are noisy is not known: statistics are missing.</p>")
    if not failed and not noisy:
        if summary.level == NONE:
            return "<p>Every cell completed every repetition.</p>" + unknown
        return "<p>Every cell completed every repetition, and none is noisy.</p>"
    rows = []
    for c in failed:
        st = ", ".join(f"{esc(k)} ×{v}" for k, v in sorted(c.statuses().items()))
        reasons = "".join(
            f"<pre>{esc(s)}: {esc(d) if d else '(no detail recorded)'}</pre>"
            for s, d in c.failure_details())
        if c.noisy:
            reasons += "".join(f"<pre>{esc(w)}</pre>" for w in c.noisy_reasons())
        rows.append(f'<tr class="fail"><td>{esc(c.workload)}</td><td class=n>{c.threads}</td>'
                    f"<td>{esc(c.allocator)}</td><td>{st}</td><td>{reasons}</td></tr>")
    for c in noisy:
        rows.append(f"<tr><td>{esc(c.workload)}</td><td class=n>{c.threads}</td>"
                    f"<td>{esc(c.allocator)}</td><td>noisy</td>"
                    f"<td>{esc('; '.join(c.noisy_reasons()))}</td></tr>")
    return ("<table><tr><th>workload</th><th>threads</th><th>allocator</th><th>status</th>"
            f"<th>reason</th></tr>{''.join(rows)}</table>{unknown}")

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


def _methods(summary):
    """summary.json's own account of its methods, then what the report adds."""
    methods = summary.section("methods") or {}
    pairs = []
    for k, v in methods.items():
        if isinstance(v, dict):
            v = ", ".join(f"{kk} {vv}" for kk, vv in v.items())
        pairs.append((k.replace("_", " "), v))
    own = (
        "Every per-cell figure in this report (median, interval and its coverage, CV, outliers, "
        "noisy flag, ratio to the baseline with its interval and verdict, noise floor, "
        "precision) is read from the run's summary.json, written by the C++ harness; the report "
        "computes none of them. It adds only the geometric means over workloads (of "
        "summary.json's ratios), the fragmentation (the memory median and interval divided by "
        "the trace's peak live bytes, the same in every repetition) and the throughput (10⁹ ÷ "
        "the time per event). Memory over time and latency percentiles are drawn from the "
        "repetitions themselves (results.jsonl): the latency chart takes each percentile's "
        "median over repetitions.")
    thresholds = summary.policy()
    if thresholds:
        own += (f" Thresholds in force: noisy above a CV of {_pct(thresholds.get('noisy_cv'))}; "
                f"fewer than {thresholds.get('min_reps')} repetitions are flagged as too few.")
    return f"<p>{esc(own)}</p>" + (_kv(pairs) if pairs else "")


def render(summary, colours, charts, notes, elapsed_note):
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
                ("statistics", {"full": "summary.json", "cells": "summary.json, without "
                                "ratio intervals or verdicts", "none": "missing (medians only)"}
                 [summary.level]),
                ("run directory", str(run.path))])
    body = []
    for ch in charts:
        if hasattr(ch, "svg"):
            body.append(f"<h3>{esc(ch.title)}</h3>{_img(ch)}")
        else:
            body.append(f"<h3>{esc(ch.title)}</h3><p class=absent>Not drawn: {esc(ch.reason)}.</p>")
    notes_html = ("<ul class=notes>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
                  if notes else "")
    nf, prec = summary.noise_floor, summary.precision
    facts = [f"Baseline: <b>{esc(summary.baseline)}</b>"]
    if nf is not None and nf.get("allocator"):
        facts.append(f"noise floor (A/A, {esc(nf['allocator'])}): time "
                     f"{_floor_text(nf.get('time'))}, memory {_floor_text(nf.get('memory'))}")
    elif nf is not None:
        facts.append("no A/A noise floor (--no-aa)")
    if prec is not None and _is_num(prec.get("target")):
        facts.append(f"precision ±{prec['target'] * 100:g}% reached by "
                     f"{esc(prec.get('reached'))} of {esc(prec.get('cells'))} cells")
    facts += [f"{len(summary.allocators)} allocators × {len(summary.groups)} workload/thread "
              f"combinations", f"{len(run.records)} result lines", esc(elapsed_note)]
    title = f"allocmark report — {run.name}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title><style>{CSS}</style></head>
<body>
<h1>{esc(title)}</h1>
<p class=sub>{' · '.join(facts)}</p>
<nav><a href="#charts">charts</a><a href="#verdicts">verdicts</a><a href="#medians">medians</a>
<a href="#noise">noise floor</a><a href="#harness">harness share</a><a href="#precision">precision</a><a href="#problems">failed and
noisy cells</a><a href="#machine">machine and allocators</a><a href="#method">method</a></nav>
{notes_html}
{head}
<h2 id="charts">Charts</h2>
{''.join(body)}
<h2 id="verdicts">Against the baseline</h2>
{_verdicts(summary)}
<h2 id="medians">Medians with their intervals</h2>
{_medians_table(summary, colours)}
<h2 id="noise">Noise floor</h2>
{_noise_floor(summary)}
<h2 id="harness">Harness share</h2>
{_harness_share(summary)}
<h2 id="precision">Precision</h2>
{_precision(summary)}
<h2 id="problems">Failed and noisy cells</h2>
{_problems_table(summary)}
<h2 id="machine">Machine and allocators</h2>
{_machine(meta)}
{_allocators(meta, summary, colours)}
<h2 id="method">Method</h2>
{_methods(summary)}
</body></html>
"""
