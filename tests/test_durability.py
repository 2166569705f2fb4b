"""End to end: runs survive their parent. A kill -9 of `allocmark run` while cells run, then
`--resume`, ends with exactly one line per cell and leaves no worker behind; Ctrl-C (SIGINT) exits
130 with a clear message and keeps the lines written; a torn last line does not cost a good one."""
import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import BIN, FIXTURES, allocmark, read_lines

ALLOCATORS = ["glibc", "pool", "null"]
REPS = 4
CELLS = {(a, r) for a in ALLOCATORS for r in range(REPS)}


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    # About 0.1 s per cell here: long enough that a signal lands while cells are running.
    out = tmp_path_factory.mktemp("durability") / "churn.amt"
    allocmark("trace", "gen", "churn", "--param", "steps=1000000", "-o", out, check=True)
    return out


def run_args(trace, out):
    # A fixed plan (no precision rounds, no A/A copy): exactly REPS lines per allocator.
    return ["run", "--trace", trace, "--allocators", ",".join(ALLOCATORS), "--reps", REPS,
            "--warmup", 0, "--precision", "off", "--no-aa", "--no-report", "--quiet", "--out", out]


def start(trace, out):
    return subprocess.Popen([BIN, *map(str, run_args(trace, out))], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lines(out, proc, at_least=1, timeout=60):
    results = Path(out) / "results.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if results.exists() and results.read_bytes().count(b"\n") >= at_least:
            return
        if proc.poll() is not None:
            pytest.fail(f"run ended before {at_least} line(s) appeared: {proc.communicate()}")
        time.sleep(0.005)
    pytest.fail(f"no result line after {timeout} s")


def workers_of(trace):
    """PIDs of live allocmark-worker processes replaying this test's trace."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"allocmark-worker") and str(trace).encode() in argv:
            pids.append(int(entry.name))
    return pids


def cell_counts(out):
    """Cells written so far; a line torn by the kill (it can happen mid-append) does not count."""
    counts = Counter()
    for text in (Path(out) / "results.jsonl").read_text().splitlines():
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            continue
        counts[(line["allocator"], line["rep"])] += 1
    return counts


def assert_one_line_per_cell(out):
    counts = cell_counts(out)
    assert set(counts) == CELLS, f"missing {CELLS - set(counts)}, extra {set(counts) - CELLS}"
    assert all(n == 1 for n in counts.values()), f"duplicates: {counts}"
    assert all(l["status"] == "ok" for l in read_lines(out))


def test_kill_9_then_resume_gives_one_line_per_cell(trace, tmp_path):
    out = tmp_path / "run"
    proc = start(trace, out)
    wait_for_lines(out, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    kept = cell_counts(out)
    assert 1 <= sum(kept.values()) < len(CELLS), "the kill should land while cells are running"
    # The worker in flight dies with its parent instead of replaying on as an orphan.
    deadline = time.monotonic() + 5
    while workers_of(trace) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not workers_of(trace), "orphaned worker(s) after kill -9 of the parent"

    resumed = allocmark(*run_args(trace, out)[:-2], "--resume", out)
    assert resumed.returncode == 0, resumed.stderr
    assert_one_line_per_cell(out)
    for cell, n in kept.items():  # what was written before the kill is still there, unchanged
        assert cell_counts(out)[cell] == n
    meta = json.loads((out / "meta.json").read_text())
    assert meta["finished"] and meta["interrupted"] is False and meta.get("resumed_from")
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(c["time"]["n"] for c in summary["cells"]) == [REPS] * len(ALLOCATORS)


def test_kill_9_leaves_no_worker_behind(trace, tmp_path):
    # A worker that never finishes (its malloc hangs) shows an orphan for certain: nobody is left
    # to enforce --timeout once the parent is gone.
    hang = FIXTURES / "libmisbehaving_hang.so"
    out = tmp_path / "run"
    proc = subprocess.Popen([BIN, "run", "--trace", str(trace), "--allocators", f"hang={hang}",
                             "--reps", "1", "--warmup", "0", "--timeout", "120", "--no-report",
                             "--quiet", "--out", str(out)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not workers_of(trace) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert workers_of(trace), f"the worker never started (run exited {proc.poll()})"
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 2
        while workers_of(trace) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not workers_of(trace), "orphaned worker(s) after kill -9 of the parent"
    finally:
        proc.kill()
        for pid in workers_of(trace):
            os.kill(pid, signal.SIGKILL)


def test_ctrl_c_exits_130_keeps_lines_and_resume_completes(trace, tmp_path):
    out = tmp_path / "run"
    proc = start(trace, out)
    wait_for_lines(out, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "--resume" in stderr, stderr
    assert stderr.strip().count("\n") == 0, stderr  # one clear line
    kept = read_lines(out)
    assert 1 <= len(kept) < len(CELLS)
    assert all(l["status"] == "ok" for l in kept)  # the cell cut short is not a result
    meta = json.loads((out / "meta.json").read_text())
    assert meta["interrupted"] is True and meta["finished"] is None
    assert not workers_of(trace)

    # A bare resume finishes the run as it was planned (meta.json's command), nothing else.
    resumed = allocmark("run", "--resume", out, "--quiet", "--no-report")
    assert resumed.returncode == 0, resumed.stderr
    assert_one_line_per_cell(out)
    assert read_lines(out)[: len(kept)] == kept
    meta = json.loads((out / "meta.json").read_text())
    assert "--resume" in meta["command_line"] and "--reps 4" in meta["command_line"]


def test_torn_last_line_is_cut_and_its_cell_runs_again(trace, tmp_path):
    out = tmp_path / "run"
    args = run_args(trace, out)
    args[args.index("--reps") + 1] = 1
    allocmark(*args, check=True)
    results = out / "results.jsonl"
    good = results.read_bytes()
    assert good.count(b"\n") == len(ALLOCATORS)
    # As a kill -9 in the middle of an append leaves it: the last line cut short, no newline.
    last = good.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    results.write_bytes(good[: len(good) - len(last) - 1] + last[: len(last) // 2])
    resumed = allocmark(*args[:-2], "--resume", out)
    assert resumed.returncode == 0, resumed.stderr
    assert "torn" in resumed.stderr
    lines = read_lines(out)  # every line parses: the good one was not glued onto the torn one
    assert sorted(l["allocator"] for l in lines) == sorted(ALLOCATORS)
    assert (out / "results.jsonl.torn").read_bytes().startswith(last[: len(last) // 2])
