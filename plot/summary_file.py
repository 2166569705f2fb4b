"""Reads DIR/summary.json, where the C++ harness computes every per-cell statistic of a run, and
has `allocmark summarize` rewrite it when it is missing, older, stale or for another baseline.
Layer: plot/ shared loader; standard library only (like allocmark_results.py).

plot/ computes no per-cell statistic of its own (architecture rule 5): medians, their intervals
and coverage, CV, outliers, noisy flags, ratios to the baseline with their intervals and
verdicts, the A/A noise floor and the precision reached all come from this file (fields:
results/README.md). What plot/ does when the file cannot be had is decided here, once, for both
the report and compare.
"""
import json
import os
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

FILE = "summary.json"
ENV_BIN = "ALLOCMARK_BIN"
# Schema 2 brought baseline, vs_baseline, noise_floor and precision; schema 1 had the per-cell
# statistics only.
COMPLETE_SCHEMA = 2
# summarize is a bootstrap per metric and cell, ~0.1 ms each: seconds even for huge runs. The cap
# only keeps a wedged binary from hanging the report.
SUMMARIZE_TIMEOUT_S = 120

# How much of summary.json the tools can use.
FULL = "full"    # per-cell statistics and ratios to the report's baseline
CELLS = "cells"  # per-cell statistics; no ratio intervals or verdicts for this baseline
NONE = "none"    # nothing: medians of the raw repetitions only


def allocmark_from_env():
    """The allocmark binary named by $ALLOCMARK_BIN, or None."""
    return os.environ.get(ENV_BIN) or None


def _key(cell):
    """(workload, threads, allocator) of a summary.json cell; None when malformed."""
    if not isinstance(cell, dict):
        return None
    w, t, a = cell.get("workload"), cell.get("threads"), cell.get("allocator")
    if not isinstance(w, str) or not isinstance(a, str):
        return None
    if isinstance(t, bool) or not isinstance(t, int):
        return None
    return (w, t, a)


@dataclass
class File:
    """One read of summary.json. data is None when the file is absent or unreadable (problem)."""
    path: Path
    data: dict = None
    problem: str = ""
    cells: dict = field(default_factory=dict)  # (workload, threads, allocator) -> cell object

    @property
    def schema(self):
        v = (self.data or {}).get("schema_version")
        return v if isinstance(v, int) and not isinstance(v, bool) else 1

    @property
    def baseline(self):
        b = (self.data or {}).get("baseline")
        return b if isinstance(b, str) and b else None

    @property
    def complete(self):
        """Has everything the report shows: schema 2's top-level fields and per-cell entries."""
        d = self.data
        if d is None or self.schema < COMPLETE_SCHEMA:
            return False
        if not all(k in d for k in ("baseline", "noise_floor", "precision")):
            return False
        return all("vs_baseline" in c and "precision" in c for c in self.cells.values())

    def section(self, name):
        """A top-level object (policy, methods, noise_floor, precision) or None."""
        v = (self.data or {}).get(name)
        return v if isinstance(v, dict) else None


def read(run_dir):
    """Reads run_dir/summary.json; never raises (a bad file is a File with a problem)."""
    path = Path(run_dir) / FILE
    if not path.is_file():
        return File(path, problem="is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return File(path, problem=f"is not readable JSON ({e})")
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return File(path, problem="is not a summary (no 'cells' list)")
    cells = {}
    for c in data["cells"]:
        k = _key(c)
        if k is not None:
            cells[k] = c
    return File(path, data=data, cells=cells)


def mismatch(f, records):
    """Why f's cells are not those of these result lines ("" when they are).

    summary.json counts each cell's lines; a different count means results.jsonl changed after
    the summary was written (a resume or merge by an older tool, or a hand edit).
    """
    counts = Counter((r["workload"], r["threads"], r["allocator"]) for r in records)
    for key, n in counts.items():
        c = f.cells.get(key)
        lines = c.get("lines") if c else None
        if lines != n:
            w, t, a = key
            have = "no entry" if c is None else f"{lines} lines"
            return f"{w} ({t} threads) {a}: {n} lines in results.jsonl, {have} in {FILE}"
    extra = [k for k in f.cells if k not in counts]
    if extra:
        w, t, a = extra[0]
        return f"{w} ({t} threads) {a} is in {FILE} but not in results.jsonl"
    return ""


def _why_rewrite(f, records, baseline):
    """The first reason f cannot serve as it is ("" when it can)."""
    if f.data is None:
        return f"{FILE} {f.problem}"
    if not f.complete:
        return (f"{FILE} was written by an older allocmark (schema {f.schema}: no ratios to the "
                "baseline with intervals and verdicts, no noise floor, no precision)")
    stale = mismatch(f, records)
    if stale:
        return f"{FILE} does not match results.jsonl ({stale})"
    if baseline is not None and f.baseline != baseline:
        return f"{FILE} takes its ratios against {f.baseline}, not {baseline}"
    return ""


def summarize(run_dir, allocmark, baseline=None):
    """Runs `allocmark summarize DIR --quiet [--baseline B]`; returns "" or why it failed."""
    cmd = [str(allocmark), "summarize", str(run_dir), "--quiet"]
    if baseline is not None:
        cmd += ["--baseline", baseline]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=SUMMARIZE_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as e:
        return f"{allocmark}: {e}"
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["no message"])[-1]
        return f"exit status {res.returncode}: {last}"
    return ""


@dataclass
class Obtained:
    file: File
    level: str                                 # FULL, CELLS or NONE
    notes: list = field(default_factory=list)  # for the reader: where the statistics came from


def obtain(run, baseline=None, allocmark=None, current=None):
    """summary.json for this run, rewritten by allocmark (when given) if it cannot serve as it is.

    baseline: the allocator ratios must be taken against (None: any). current: a File already
    read from run.path, to save reading it again. Never raises; what could not be had is said in
    notes. Rewriting changes run.path/summary.json, as `allocmark report --baseline` does.
    """
    f = current if current is not None else read(run.path)
    notes = []
    why = _why_rewrite(f, run.records, baseline)
    if why and allocmark:
        err = summarize(run.path, allocmark, baseline)
        if err:
            notes.append(f"{why}; `allocmark summarize` could not rewrite it ({err}).")
        else:
            f = read(run.path)
            after = _why_rewrite(f, run.records, baseline)
            if after:
                notes.append(f"{why}; after `allocmark summarize` still: {after}.")
            else:
                notes.append(f"{why}: rewritten with `allocmark summarize` for this report.")
            why = after
    elif why:
        notes.append(f"{why}, and no allocmark binary is known to rewrite it (set {ENV_BIN}, or "
                     f"run `allocmark summarize {run.path}`).")
    if f.data is None or (why and mismatch(f, run.records)):
        level = NONE
        notes.append("Statistics are missing: only medians of the raw repetitions are shown, "
                     "without intervals, CV, outliers, noisy flags, verdicts, noise floor or "
                     "precision.")
    elif not f.complete or (baseline is not None and f.baseline != baseline):
        level = CELLS
        notes.append("Ratios to the baseline are plain ratios of the medians, without intervals "
                     "or verdicts" + ("" if f.complete else
                                      "; there is no noise floor and no precision") + ".")
    else:
        level = FULL
    return Obtained(f, level, notes)
