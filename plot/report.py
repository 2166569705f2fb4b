#!/usr/bin/env python3
"""allocmark report: draws DIR/report.html and DIR/plots/*.svg|png from one run directory.
Layer: plot/ entry point (called by `allocmark report DIR`); reads only result files.

Per-cell statistics come from DIR/summary.json. When it is missing, older or taken against
another baseline, `$ALLOCMARK_BIN summarize DIR` rewrites it first if that binary is known; else
the report says what is missing and shows medians only.
"""
import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import deps

deps.require("report.py", "matplotlib", "numpy")

import allocmark_results  # noqa: E402
import palette  # noqa: E402
import report_charts  # noqa: E402
import report_html  # noqa: E402
import report_sweep  # noqa: E402
import summary_file  # noqa: E402
from summary import Summary  # noqa: E402

_FROM_ENV = object()  # build_report's default: the binary named by $ALLOCMARK_BIN, if any


def _notes(run, summary):
    notes = list(run.warnings)
    if run.meta.get("interrupted") is True:
        notes.append("The run was interrupted: some cells may be missing or incomplete.")
    notes += summary.stats_notes
    if summary.baseline_note:
        notes.append(summary.baseline_note)
    nf = summary.noise_floor
    if nf and nf.get("allocator") and summary.aa_of and summary.aa_of != nf.get("baseline"):
        notes.append(f"The noise floor compares {nf['allocator']} (a copy of {summary.aa_of}) "
                     f"with {nf.get('baseline')}: that is not an A/A pair, so its floors, and "
                     "the verdicts that use them, overstate the machine's noise.")
    reps = summary.rep_counts()
    if not any(c.ok for c in summary.cells.values()):
        notes.append("No repetition succeeded: there is nothing to chart. The failed cells and "
                     "their reasons are listed below.")
    elif reps == [1]:
        notes.append("Every cell has a single successful repetition, so no confidence interval "
                     "can be given and no error bars are drawn (run with --reps 5 or more).")
    else:
        if 1 in reps:
            notes.append("Some cells have a single successful repetition: they have no interval.")
        if reps and min(reps) < summary.min_reps:
            notes.append(f"Some cells have only {min(reps)} successful repetitions; intervals "
                         f"from fewer than {summary.min_reps} are wide or below 95% coverage.")
    noisy = summary.noisy_cells()
    if noisy and len(noisy) * 4 >= len(summary.cells):
        cv = summary.policy().get("noisy_cv")
        limit = f"above {cv:.0%}" if isinstance(cv, (int, float)) else "too high"
        notes.append(f"{len(noisy)} of {len(summary.cells)} cells are noisy (summary.json: "
                     f"coefficient of variation {limit}): the machine may have been busy; small "
                     "differences are not to be trusted.")
    failed = summary.failed_cells()
    if failed:
        notes.append(f"{len(failed)} of {len(summary.cells)} cells have failed repetitions; "
                     "see 'Failed and noisy cells'.")
    return notes


# Set before the pool forks, so workers inherit the summary instead of unpickling it.
_WORK = None


def _draw(index):
    tasks, summary, colours, plots_dir = _WORK
    return tasks[index](summary, colours, plots_dir)


def _chart_tasks(summary):
    """Every chart function in report order: the sweeps (one chart each, none without --sweep)
    come right after the frontier and the heatmaps."""
    charts = list(report_charts.CHARTS)
    at = charts.index(report_charts.heatmap_memory) + 1
    return charts[:at] + report_sweep.tasks(summary) + charts[at:]


def _draw_all(summary, colours, plots_dir, jobs):
    """Draws every chart, in forked worker processes when jobs > 1 (charts are independent)."""
    global _WORK
    tasks = _chart_tasks(summary)
    _WORK = (tasks, summary, colours, plots_dir)
    n = len(tasks)
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [_draw(i) for i in range(n)]
    with ProcessPoolExecutor(max_workers=min(jobs, n),
                             mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_draw, range(n)))


def default_jobs():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def _with_fidelity(page, run_dir):
    """Adds `allocmark validate`'s section (run_dir/fidelity.json, written by validate
    --from-run into the run it checked) before the verdicts; the page unchanged without one."""
    path = run_dir / "fidelity.json"
    if not path.is_file():
        return page
    import fidelity_html  # matplotlib's chart only when a fidelity.json is there
    try:
        doc = json.loads(path.read_text())
        svg_path = run_dir / "plots" / "fidelity.svg"
        svg = svg_path.read_bytes() if svg_path.is_file() else fidelity_html.chart(
            doc, run_dir / "plots")
        section = fidelity_html.section(doc, svg)
    except (OSError, ValueError, KeyError, TypeError) as e:
        section = (f"<h2 id=fidelity>Fidelity</h2><p class=absent>{report_html.esc(path)} "
                   f"could not be read: {report_html.esc(e)}</p>")
    return page.replace('<h2 id="verdicts">', section + '\n<h2 id="verdicts">', 1)


def build_report(run_dir, baseline=None, jobs=1, allocmark=_FROM_ENV):
    """Writes the report and charts; returns (report path, charts drawn, seconds taken).

    baseline: None takes summary.json's. allocmark: the binary that may rewrite summary.json
    (default $ALLOCMARK_BIN; None: never). Raises allocmark_results.ResultsError on bad input.
    """
    start = time.perf_counter()
    run = allocmark_results.load_run(run_dir)
    if allocmark is _FROM_ENV:
        allocmark = summary_file.allocmark_from_env()
    summary = Summary(run, baseline, allocmark)
    colours = palette.colours(summary.allocators)
    plots_dir = Path(run_dir) / "plots"
    charts = _draw_all(summary, colours, plots_dir, jobs)
    elapsed = time.perf_counter() - start
    page = report_html.render(summary, colours, charts, _notes(run, summary),
                              f"charts drawn in {elapsed:.1f} s")
    page = _with_fidelity(page, Path(run_dir))
    out = Path(run_dir) / "report.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)  # never leave a half-written report behind
    drawn = [c for c in charts if hasattr(c, "svg")]
    return out, drawn, time.perf_counter() - start


def main(argv=None):
    p = argparse.ArgumentParser(prog="report.py", description=__doc__.splitlines()[0])
    p.add_argument("dir", help="run directory holding results.jsonl and meta.json")
    p.add_argument("--baseline", default=None,
                   help="allocator every relative figure is divided by (default: summary.json's, "
                        "i.e. the run's --baseline, else glibc)")
    p.add_argument("--jobs", type=int, default=default_jobs(),
                   help="charts drawn in parallel processes (default: the usable CPUs)")
    args = p.parse_args(argv)
    try:
        out, drawn, secs = build_report(args.dir, args.baseline, args.jobs)
    except allocmark_results.ResultsError as e:
        sys.stderr.write(f"report.py: {e}\n")
        return 2
    print(f"report: {out} ({len(drawn)} charts in {out.parent / 'plots'}, {secs:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
