"""fidelity.html: predicted against measured change per program and allocator, as a chart
(y = x line, intervals on both axes) and a table. Layer: plot/ output of validate.py; matplotlib.
"""
import base64
import html
import math

import figures
import palette

_MARKERS = "osD^vP*Xhp<>"


def esc(v):
    return html.escape(str(v), quote=True)


def _pairs(doc):
    for prog, r in doc["programs"].items():
        if "allocators" not in r:
            continue
        for alloc, e in r["allocators"].items():
            if "missing" not in e:
                yield prog, alloc, r, e


def _err(point, ci, scale):
    if ci is None or ci[0] is None:
        return [[0], [0]]
    return [[max(0.0, (point - ci[0]) * scale)], [max(0.0, (ci[1] - point) * scale)]]


def chart(doc, plots_dir):
    """Three panels: wall time, CPU time (changes as % of the program's glibc time) and peak
    RSS (MiB). Returns the SVG bytes, or None when there is no pair to draw."""
    pairs = list(_pairs(doc))
    if not pairs:
        return None
    allocs = sorted({a for _, a, _, _ in pairs})
    colour = palette.colours(allocs + [doc["baseline"]])
    progs = list(dict.fromkeys(p for p, _, _, _ in pairs))
    marker = {p: _MARKERS[i % len(_MARKERS)] for i, p in enumerate(progs)}
    fig, axes = figures.new_figure(13, 4.4, ncols=3)
    for ax, metric, title in ((axes[0], "wall_ns", "wall time change, % of glibc's"),
                              (axes[1], "cpu_ns", "CPU time (user + sys) change, % of glibc's")):
        # x: events x ns/event for wall time, the replay's own CPU change for CPU time
        lo, hi = 0.0, 0.0
        for prog, alloc, r, e in pairs:
            base = r["baseline"][metric]
            if not base:
                continue
            s = 100.0 / base
            x, y = e[metric]["predicted_ns"] * s, e[metric]["measured_ns"] * s
            ax.errorbar(x, y, xerr=_err(e[metric]["predicted_ns"], e[metric]["predicted_ci"], s),
                        yerr=_err(e[metric]["measured_ns"], e[metric]["measured_ci"], s),
                        fmt=marker[prog], color=colour[alloc], ms=6, capsize=2, lw=0.8,
                        mfc=colour[alloc] if e[metric]["real"] else "white")
            lo, hi = min(lo, x, y), max(hi, x, y)
        pad = (hi - lo) * 0.08 or 1
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color=palette.REFERENCE, lw=0.8,
                ls="--", zorder=0)
        ax.axhline(0, color=palette.REFERENCE, lw=0.5)
        ax.axvline(0, color=palette.REFERENCE, lw=0.5)
        ax.set_xlabel("predicted by the replay (%)")
        ax.set_ylabel("measured on the program (%)")
        ax.set_title(title)
    ax = axes[2]
    vals = []
    for prog, alloc, r, e in pairs:
        m = e["peak_rss"]
        s = 1 / 2**20
        ax.errorbar(m["predicted_bytes"] * s, m["measured_bytes"] * s,
                    xerr=_err(m["predicted_bytes"], m["predicted_ci"], s),
                    yerr=_err(m["measured_bytes"], m["measured_ci"], s),
                    fmt=marker[prog], color=colour[alloc], ms=6, capsize=2, lw=0.8)
        vals += [m["predicted_bytes"] * s, m["measured_bytes"] * s]
    vals = [v for v in vals if math.isfinite(v)]
    if vals:
        lo, hi = min(vals + [0]), max(vals)
        ax.plot([lo, hi * 1.05], [lo, hi * 1.05], color=palette.REFERENCE, lw=0.8, ls="--",
                zorder=0)
    ax.set_xlabel("predicted peak RSS (MiB)")
    ax.set_ylabel("measured peak RSS (MiB)")
    ax.set_title("peak RSS of the program")
    handles = [axes[0].plot([], [], "s", color=colour[a], label=figures.text(a))[0] for a in allocs]
    handles += [axes[0].plot([], [], marker[p], color="#555555", mfc="white",
                             label=figures.text(p))[0] for p in progs]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 9), frameon=False,
               bbox_to_anchor=(0.5, -0.08))
    return figures.save(fig, plots_dir, "fidelity")


def _pct(v):
    return "–" if v is None or not math.isfinite(v) else f"{v * 100:+.1f}%"


def _abs_pct(v):
    return "–" if v is None or not math.isfinite(v) else f"{v * 100:.1f}%"


def _ms(v):
    return "–" if v is None or not math.isfinite(v) else f"{v / 1e6:+.1f}"


def _ci_ms(ci):
    if not ci or ci[0] is None:
        return ""
    return f" <small>[{ci[0] / 1e6:+.1f}, {ci[1] / 1e6:+.1f}]</small>"


def _mib(v):
    return "–" if v is None or not math.isfinite(v) else f"{v / 2**20:.1f}"


def table(doc):
    rows = []
    for prog, r in doc["programs"].items():
        if "allocators" not in r:
            why = r.get("skipped") or r.get("error") or "?"
            rows.append(f"<tr><td>{esc(prog)}</td><td colspan=12>{esc(why)}</td></tr>")
            continue
        b = r["baseline"]
        for alloc, e in r["allocators"].items():
            if "missing" in e:
                rows.append(f"<tr><td>{esc(prog)}</td><td>{esc(alloc)}</td>"
                            f"<td colspan=11>{esc(e['missing'])}</td></tr>")
                continue
            w, c, m = e["wall_ns"], e["cpu_ns"], e["peak_rss"]
            rows.append(
                f"<tr><td>{esc(prog)}</td><td>{esc(alloc)}</td>"
                f"<td>{_ms(e['predicted_ns'])}{_ci_ms(e['predicted_ci'])}</td>"
                f"<td>{_ms(w['measured_ns'])}{_ci_ms(w['measured_ci'])}</td>"
                f"<td>{'yes' if w['real'] else 'no'}</td>"
                f"<td>{'yes' if w['sign_agrees'] else 'no'}</td>"
                f"<td>{_pct(w['error_share'])}</td>"
                f"<td>{_ms(c['predicted_ns'])}{_ci_ms(c['predicted_ci'])}</td>"
                f"<td>{_ms(c['measured_ns'])}{_ci_ms(c['measured_ci'])}</td>"
                f"<td>{_pct(c['error_share'])}</td>"
                f"<td>{_mib(m['predicted_bytes'])}</td><td>{_mib(m['measured_bytes'])}</td>"
                f"<td>{_pct(m['error_share'])}</td></tr>")
        tau = r["kendall_tau"]
        up = ", ".join(f"{esc(a)} {_ms(e['startup']['cpu_ns'])}" for a, e in
                       r["allocators"].items() if "startup" in e)
        up = (f"; start-up CPU against glibc, × {b.get('processes', 1)} program(s), included in "
              f"the predictions: {up} ms") if up else ""
        warn = r.get("locality", {}).get("warning")
        warn = f"; <b>{esc(warn)}</b>" if warn else ""
        rows.append(f"<tr class=sub><td>{esc(prog)}</td><td colspan=12>glibc: wall "
                    f"{b['wall_ns'] / 1e6:.1f} ms, CPU {b['cpu_ns'] / 1e6:.1f} ms, peak RSS "
                    f"{_mib(b['peak_rss_bytes'])} MiB (replay heap {_mib(b['replay_heap_bytes'])}"
                    f" MiB), {b['events']:,} events in {len(b['traces'])} trace(s); A/A floor "
                    f"{_ms(r['noise_floor']['wall_ns'])} ms; Kendall tau wall "
                    f"{_tau(tau['wall_ns'])}, CPU {_tau(tau['cpu_ns'])}{up}{warn}</td></tr>")
    return ("<table><tr><th>program</th><th>allocator</th>"
            "<th>predicted Δ ms (events × ns/event)</th><th>measured Δ wall ms</th><th>real</th>"
            "<th>sign agrees</th><th>error / wall</th><th>predicted Δ CPU ms (replay CPU)</th>"
            "<th>measured Δ CPU ms</th><th>error / CPU</th><th>predicted peak MiB</th>"
            "<th>measured peak MiB</th><th>RSS error</th></tr>" + "".join(rows) + "</table>")


def _tau(t):
    return "–" if t["tau"] is None else f"{t['tau']:.2f} (n {t['n']})"


def summary_html(doc):
    s = doc["summary"]
    items = []
    for metric, label in (("wall_ns", "wall time"), ("cpu_ns", "CPU time")):
        m = s[metric]
        tau = "–" if m["kendall_tau_median"] is None else f"{m['kendall_tau_median']:.2f}"
        agree = (f"{m['sign_agreeing_pairs']} of {m['real_pairs']} pairs "
                 f"({m['sign_agreement'] * 100:.0f}%)" if m["real_pairs"] else "no pair")
        items.append(f"<li><b>{label}</b>: sign agreement where the real difference exceeds the "
                     f"noise: {agree}; median |error| "
                     f"{_abs_pct(m['median_abs_error_share'])} of the "
                     f"program's time; median Kendall tau {tau}</li>")
    if s.get("peak_rss"):
        mp = s["peak_rss"]["median_pair"]
        items.append(f"<li><b>peak RSS</b>: median |error| "
                     f"{_abs_pct(s['peak_rss']['median_abs_error_share'])}; median pair "
                     f"{esc(mp['program'])} / {esc(mp['allocator'])}: predicted "
                     f"{_mib(mp['predicted_bytes'])} MiB, measured {_mib(mp['measured_bytes'])}"
                     f" MiB</li>")
    return f"<ul>{''.join(items)}</ul>"


def section(doc, svg):
    """The fidelity section: summary, chart, table (also used by the report)."""
    img = ("<p>No program had both a replay and a measured run to compare.</p>" if svg is None else
           f'<img alt="predicted against measured change" src="data:image/svg+xml;base64,'
           f'{base64.b64encode(svg).decode()}">')
    return (f"<h2 id=fidelity>Fidelity: replay against the real program</h2>"
            f"<p>Baseline {esc(doc['baseline'])}; {doc['reps']} repetitions; replay "
            f"{esc(doc['replay_mode'])}; load average at start "
            f"{', '.join(f'{x:.2f}' for x in doc['load_average']['start'])} on {doc['cores']} "
            f"cores. Filled marks: the measured change exceeds the noise floor. Dashed: y = x."
            f"</p>{summary_html(doc)}{img}{table(doc)}"
            f"<h3>Methods</h3><dl>" +
            "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in doc["methods"].items()) +
            "</dl>")


_CSS = ("body{font:14px system-ui,sans-serif;margin:24px;max-width:1300px}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;"
        "padding:3px 6px;text-align:right}td:first-child,td:nth-child(2){text-align:left}"
        "tr.sub td{text-align:left;color:#555;background:#f6f6f6}img{max-width:100%}"
        "dt{color:#555;margin-top:4px}dd{margin-left:16px}")


def write(out, doc):
    svg = chart(doc, out / "plots")
    page = (f"<!doctype html><html><head><meta charset=utf-8><title>allocmark fidelity</title>"
            f"<style>{_CSS}</style></head><body><p><code>{esc(doc['command_line'])}</code></p>"
            f"{section(doc, svg)}</body></html>")
    (out / "fidelity.html").write_text(page)
