#!/usr/bin/env python3
"""allocmark baseline: save a run as a named baseline, list them, show one.
Layer: plot/ entry point (called by `allocmark baseline ...`); reads only result files.

    baseline.py save NAME DIR [--force] [--results-dir R]   # copy DIR's results to R/baselines/NAME
    baseline.py list [--results-dir R]
    baseline.py show NAME [--results-dir R]

R defaults to ./results, where `allocmark run` writes. `allocmark compare --against NAME NEW`
compares a run with a saved baseline. Bad input (an unknown name, a directory that is not a
run) gets one line on stderr and exit status 2.
"""
import json
import sys

import deps

deps.require("baseline.py", "numpy")

import allocmark_results  # noqa: E402
import baseline_store  # noqa: E402
import cli_args  # noqa: E402
import summary_file  # noqa: E402
from summary import Summary  # noqa: E402


def _describe(run):
    """What baseline.json records about the run besides where it came from."""
    meta = run.meta
    machine = meta.get("machine") if isinstance(meta.get("machine"), dict) else {}
    cells = {(r["workload"], r["threads"], r["allocator"]) for r in run.records}
    ok = {(r["workload"], r["threads"], r["allocator"]) for r in run.records
          if r.get("status") == "ok"}
    return {"run": run.name,
            "git_revision": meta.get("git_revision"),
            "started": meta.get("started"),
            "command_line": meta.get("command_line"),
            "host": machine.get("hostname"),
            "cpu_model": machine.get("cpu_model"),
            "workloads": run.workloads(),
            "allocators": run.allocators(),
            "threads": run.thread_counts(),
            "cells": len(cells),
            "cells_ok": len(ok),
            "lines": len(run.records)}


def cmd_save(args):
    run = allocmark_results.load_run(args.dir)
    if not any(r.get("status") == "ok" for r in run.records):
        raise baseline_store.BaselineError(
            f"{args.dir}: no successful repetition, nothing to compare against")
    dest = baseline_store.save(args.name, args.dir, _describe(run), args.results_dir,
                               args.force)
    # Bring the copy's summary.json up to date (the C++ engine rewrites it when it is missing,
    # older or stale), so later compares need not; without a binary, compare says what it lacks.
    allocmark = summary_file.allocmark_from_env()
    notes = []
    if allocmark:
        notes = Summary(allocmark_results.load_run(dest), allocmark=allocmark,
                        comparisons=False).stats_notes
    rec = baseline_store.record(dest)
    print(f"baseline '{args.name}': {dest} (from {rec.get('source')}; {rec.get('cells')} cells, "
          f"{rec.get('lines')} lines, git {rec.get('git_revision') or 'unknown'})")
    for n in notes:
        print(f"note: {n}")
    return 0


def _short(v, width):
    if v in (None, "", []):
        return "–"
    s = ", ".join(map(str, v)) if isinstance(v, list) else str(v)
    return s if len(s) <= width else s[:width - 1] + "…"


def cmd_list(args):
    names = baseline_store.names(args.results_dir)
    where = baseline_store.root(args.results_dir)
    if not names:
        print(f"No baselines in {where} (`allocmark baseline save NAME DIR` saves one).")
        return 0
    print(f"Baselines in {where}:\n")
    print("| name | saved | git revision | cells | workloads | allocators | from |")
    print("|---|---|---|---:|---|---|---|")
    for n in names:
        r = baseline_store.record(where / n)
        print(f"| {n} | {_short(r.get('saved'), 24)} | {_short(r.get('git_revision'), 12)} "
              f"| {_short(r.get('cells'), 6)} | {_short(r.get('workloads'), 40)} "
              f"| {_short(r.get('allocators'), 40)} | {_short(r.get('source'), 60)} |")
    return 0


def cmd_show(args):
    d = baseline_store.path(args.name, args.results_dir)
    rec = baseline_store.record(d)
    print(f"baseline '{args.name}': {d}")
    print(json.dumps(rec, indent=2))
    return 0


def main(argv=None):
    p = cli_args.Parser(prog="baseline.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", metavar="save|list|show", parser_class=cli_args.Parser)
    sub.required = True
    s = sub.add_parser("save", help="copy a run's result files to RESULTS/baselines/NAME")
    s.add_argument("name", help="letters, digits, '.', '_' or '-'")
    s.add_argument("dir", help="run directory (results.jsonl, meta.json, summary.json)")
    s.add_argument("--force", action="store_true", help="replace a baseline of that name")
    lst = sub.add_parser("list", help="the saved baselines")
    sh = sub.add_parser("show", help="where a baseline came from")
    sh.add_argument("name")
    for sp in (s, lst, sh):
        sp.add_argument("--results-dir", default=baseline_store.DEFAULT_RESULTS_DIR,
                        help="results directory holding baselines/ (default ./results)")
    args = p.parse_args(argv)
    try:
        return {"save": cmd_save, "list": cmd_list, "show": cmd_show}[args.cmd](args)
    except (allocmark_results.ResultsError, baseline_store.BaselineError) as e:
        sys.stderr.write(f"baseline.py: {e}\n")
        return 2
    except OSError as e:
        sys.stderr.write(f"baseline.py: {e.filename or ''}: {e.strerror}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
