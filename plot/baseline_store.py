"""Named baselines: a run's result files kept under RESULTS/baselines/NAME for compare --against.
Layer: plot/ shared helper (baseline.py saves and lists, compare.py resolves); standard library
only.

A baseline is a copy of the run's result files (meta.json, results.jsonl, summary.json,
results.csv, gbench.json; not the report, charts or traces), so it outlives the run directory,
plus baseline.json recording where it came from. RESULTS is ./results of the current directory,
where `allocmark run` writes by default, unless --results-dir says otherwise.
"""
import json
import os
import re
import shutil
import time
from pathlib import Path

DEFAULT_RESULTS_DIR = "results"
SUBDIR = "baselines"
RECORD = "baseline.json"
# The result files a baseline keeps; results.jsonl is required, the others are copied when present.
FILES = ("meta.json", "results.jsonl", "summary.json", "results.csv", "gbench.json")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class BaselineError(Exception):
    """Bad input: the message is one line naming the baseline or directory and what was wrong."""


def root(results_dir=None):
    return Path(results_dir or DEFAULT_RESULTS_DIR) / SUBDIR


def check_name(name):
    """Raises BaselineError unless name is usable as one directory name (no '/', no '..')."""
    if not _NAME.fullmatch(name or ""):
        raise BaselineError(f"baseline name '{name}': expected letters, digits, '.', '_' or '-' "
                            "(starting with a letter or digit, at most 100 characters)")


def names(results_dir=None):
    """The saved baselines' names, sorted; [] when there are none (or no results dir)."""
    r = root(results_dir)
    if not r.is_dir():
        return []
    return sorted(p.name for p in r.iterdir()
                  if p.is_dir() and _NAME.fullmatch(p.name) and (p / "results.jsonl").is_file())


def path(name, results_dir=None):
    """The directory of baseline NAME; BaselineError when it does not exist."""
    check_name(name)
    d = root(results_dir) / name
    if not (d / "results.jsonl").is_file():
        saved = names(results_dir)
        have = (f"saved: {', '.join(saved)}" if saved else "none is saved")
        raise BaselineError(f"no baseline named '{name}' in {root(results_dir)} ({have}; "
                            "`allocmark baseline save NAME DIR` saves one)")
    return d


def record(d):
    """baseline.json of a baseline directory as a dict ({} when absent or unreadable)."""
    try:
        data = json.loads((Path(d) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(name, run_dir, info, results_dir=None, force=False):
    """Copies run_dir's result files to RESULTS/baselines/NAME and writes baseline.json.

    info: fields to record besides name, saved time, source and files (e.g. the run's git
    revision). The copy is made in a temporary directory and renamed into place, so a baseline
    is never half-written; an existing one is replaced only with force. Returns the directory.
    """
    check_name(name)
    src = Path(run_dir)
    if not (src / "results.jsonl").is_file():
        raise BaselineError(f"{src}: not a run directory (no results.jsonl)")
    r = root(results_dir)
    dest = r / name
    if dest.exists() and not force:
        raise BaselineError(f"baseline '{name}' already exists in {r} (--force replaces it)")
    r.mkdir(parents=True, exist_ok=True)
    tmp = r / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        copied = []
        for f in FILES:
            if (src / f).is_file():
                shutil.copy2(src / f, tmp / f)
                copied.append(f)
        rec = {"name": name,
               "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "source": str(src.resolve()),
               "files": copied}
        rec.update(info)
        (tmp / RECORD).write_text(json.dumps(rec, indent=2) + "\n", encoding="utf-8")
        old = None
        if dest.exists():
            old = r / f".{name}.old-{os.getpid()}"
            dest.rename(old)
        tmp.rename(dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
