"""End-to-end tests of `allocmark record`: exact events of a threaded C program, C++ operator
flags, children, exit codes, and a python3 recording replayed on glibc to the same peak."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, FIXTURES, allocmark, read_lines

SYSTEM_PYTHON = "/usr/bin/python3"

# Allocation-heavy, deterministic output (no hash-order dependence), about 0.3 s.
PY_SCRIPT = """
d = {}
total = 0
for i in range(60000):
    s = str(i) * (1 + i % 7)
    d[s] = [i, s, (i, i + 1), {"k": i}]
    if i % 3 == 0:
        d.pop(str(i // 2) * (1 + (i // 2) % 7), None)
    total += len(s)
chunks = [bytes(i % 300) for i in range(20000)]
print(len(d), total, sum(len(c) for c in chunks))
"""
PY_OUTPUT = "39999 1155550 2980000\n"


def fixture(name):
    path = FIXTURES / name
    if not path.exists():
        pytest.fail(f"{path} is missing: build the record_threads/record_cxx targets")
    return path


def record(*args, env=None):
    proc = subprocess.run([BIN, "record", *map(str, args)], capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL,
                          env=None if env is None else {**os.environ, **env})
    return proc


def info(trace):
    return json.loads(allocmark("trace", "info", "--json", trace, check=True).stdout)


EVENT = re.compile(r"^T(\d+) (\w+)(?: #(\d+))?(?: (\d+))?(.*)$")


def events(trace, tmp_path):
    """The trace as a list of (thread, op, obj, size, rest) in recorded order."""
    text = tmp_path / (Path(trace).name + ".txt")
    allocmark("trace", "convert", "--to", "text", trace, text, check=True)
    out = []
    for line in text.read_text().splitlines():
        m = EVENT.match(line)
        if m:
            t, op, obj, size, rest = m.groups()
            out.append((int(t), op, None if obj is None else int(obj),
                        None if size is None else int(size), rest.split()))
    return out


def objects(evs):
    """obj -> list of events on it."""
    by_obj = {}
    for e in evs:
        if e[2] is not None:
            by_obj.setdefault(e[2], []).append(e)
    return by_obj


def test_threads_exact_events_and_cross_thread_frees(tmp_path):
    out = tmp_path / "threads.amt"
    proc = record("-o", out, "--", fixture("record_threads"), "threads", 0)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"threads\.amt: \d+ events, 2 threads, peak live \d+ bytes", proc.stderr)
    evs = events(out, tmp_path)
    by_obj = objects(evs)

    def marked(op, lo, hi):
        return [e for e in evs if e[1] == op and e[3] is not None and lo <= e[3] <= hi]

    main_allocs = marked("malloc", 1000, 1049)
    worker_allocs = marked("malloc", 3000, 3029)
    assert [e[3] for e in main_allocs] == list(range(1000, 1050))
    assert [e[3] for e in worker_allocs] == list(range(3000, 3030))
    main_t, worker_t = main_allocs[0][0], worker_allocs[0][0]
    assert main_t != worker_t
    assert {e[0] for e in main_allocs} == {main_t}
    assert {e[0] for e in worker_allocs} == {worker_t}

    # Every marker block freed exactly once, by the other thread, in the program's order.
    def frees_of(allocs):
        fs = []
        for a in allocs:
            life = by_obj[a[2]]
            assert [e[1] for e in life] == ["malloc", "free"], life
            fs.append(life[1])
        return fs

    main_frees, worker_frees = frees_of(main_allocs), frees_of(worker_allocs)
    assert {f[0] for f in main_frees} == {worker_t}
    assert {f[0] for f in worker_frees} == {main_t}
    pos = {id(e): i for i, e in enumerate(evs)}
    assert [pos[id(f)] for f in main_frees] == sorted(pos[id(f)] for f in main_frees)
    # Recorded order across threads: main allocates all, the worker frees them all and
    # allocates, main frees after the join.
    assert pos[id(main_allocs[-1])] < pos[id(main_frees[0])]
    assert pos[id(main_frees[-1])] < pos[id(worker_allocs[0])]
    assert pos[id(worker_allocs[-1])] < pos[id(worker_frees[0])]
    marker_cross = sum(1 for f in main_frees + worker_frees)
    assert marker_cross == 80

    # Cross-thread frees of the whole trace (the C library's own blocks included) agree with
    # trace info, and the worker's stream ends in its thread exit.
    cross = 0
    for life in by_obj.values():
        allocs = [e for e in life if e[1] in ("malloc", "calloc", "aligned_alloc", "realloc")]
        for e in life:
            if e[1] == "free" and e[0] != allocs[-1][0]:
                cross += 1
    s = info(out)
    assert s["cross_thread_frees"] == cross
    assert cross >= 80
    assert [e for e in evs if e[0] == worker_t][-1][1] == "thread_exit"

    # The other entry points, each freed on main.
    def single(op, size):
        found = [e for e in evs if e[1] == op and e[3] == size]
        assert len(found) == 1, (op, size, found)
        e = found[0]
        assert e[0] == main_t
        assert by_obj[e[2]][-1][1] == "free" and by_obj[e[2]][-1][0] == main_t
        return e

    assert "nmemb=7" in single("calloc", 7700)[4]
    grown = single("realloc", 50000)
    assert [(e[1], e[3]) for e in by_obj[grown[2]]] == [("malloc", 5000), ("realloc", 50000),
                                                         ("free", None)]
    assert "align=64" in single("aligned_alloc", 6000)[4]
    assert "align=4096" in single("aligned_alloc", 8192)[4]
    assert "align=128" in single("aligned_alloc", 7000)[4]
    assert s["metadata"]["recorded_peak_live_bytes"] == s["peak_live_bytes"]
    assert s["metadata"]["unknown_frees"] == 0


def test_cxx_operators_flagged(tmp_path):
    out = tmp_path / "cxx.amt"
    proc = record("-o", out, "--", fixture("record_cxx"))
    assert proc.returncode == 0, proc.stderr
    evs = events(out, tmp_path)
    by_size = {e[3]: e for e in evs if e[3] is not None and 2000 <= e[3] <= 2005}
    assert sorted(by_size) == list(range(2000, 2006))
    for size, e in by_size.items():
        assert "cxx" in e[4], e
    assert by_size[2002][1] == "aligned_alloc" and "align=256" in by_size[2002][4]
    assert by_size[2004][1] == "aligned_alloc" and "align=64" in by_size[2004][4]
    by_obj = objects(evs)
    sized = {by_size[s][3] for s in by_size if "sized" in by_obj[by_size[s][2]][-1][4]}
    assert sized == {2000, 2002}


def test_exit_code_passed_through(tmp_path):
    assert record("-o", tmp_path / "x.amt", "--", "sh", "-c", "exit 3").returncode == 3
    assert record("-o", tmp_path / "x.amt", "sh", "-c", "exit 4").returncode == 4
    assert record("-o", tmp_path / "x.amt", "--", "sh", "-c", "kill -9 $$").returncode == 137
    assert record("-o", tmp_path / "x.amt", "--", fixture("record_threads"), "threads",
                  7).returncode == 7
    assert (tmp_path / "x.amt").exists()


def test_exit_from_another_thread_keeps_main_buffer(tmp_path):
    out = tmp_path / "exit.amt"
    proc = record("-o", out, "--", fixture("record_threads"), "exit-in-thread")
    assert proc.returncode == 5, proc.stderr
    sizes = [e[3] for e in events(out, tmp_path) if e[1] == "malloc"]
    assert [s for s in sizes if 1000 <= s <= 1049] == list(range(1000, 1050))


def test_children_traced_or_skipped(tmp_path):
    out = tmp_path / "fork.amt"
    proc = record("-o", out, "--", fixture("record_threads"), "fork")
    assert proc.returncode == 0, proc.stderr
    children = sorted(p for p in tmp_path.glob("fork.*.amt"))
    assert len(children) == 1, proc.stderr
    child = events(children[0], tmp_path)
    assert [e[3] for e in child if e[1] == "malloc"] == list(range(9000, 9010))
    assert info(children[0])["metadata"]["forked"] is True
    # The parent's records buffered at fork() are not in the child's trace, and vice versa.
    assert not [e for e in child if e[3] == 1000]
    assert not [e for e in events(out, tmp_path) if e[3] == 9000]

    out2 = tmp_path / "solo.amt"
    proc = record("--no-children", "-o", out2, "--", fixture("record_threads"), "fork")
    assert proc.returncode == 0, proc.stderr
    assert out2.exists()
    assert not list(tmp_path.glob("solo.*.amt"))
    # Exec'd children too: sh runs two processes; without --no-children each gets a trace.
    out3 = tmp_path / "sh.amt"
    proc = record("-o", out3, "--", "sh", "-c", f"{fixture('record_threads')}; true")
    assert proc.returncode == 0, proc.stderr
    assert len(list(tmp_path.glob("sh.*.amt"))) == 1
    proc = record("--no-children", "-o", tmp_path / "sh1.amt", "--", "sh", "-c",
                  f"{fixture('record_threads')}; true")
    assert not list(tmp_path.glob("sh1.*.amt"))


def test_bad_input_refused_with_one_line(tmp_path):
    for args, needle in [((), "--out is required"),
                         (("-o", tmp_path / "x.amt"), "no command"),
                         (("--bogus", "-o", tmp_path / "x.amt", "--", "true"), "--bogus"),
                         (("-o", tmp_path / "missing" / "x.amt", "--", "true"), "does not exist")]:
        proc = record(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert needle in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    proc = record("-o", tmp_path / "x.amt", "--", "/nonexistent/program")
    assert proc.returncode == 127
    assert "cannot execute /nonexistent/program: No such file" in proc.stderr


def test_python_recording_replays_to_recorded_peak(tmp_path):
    """A trace recorded from python3 and replayed on glibc reaches the recorded peak."""
    script = tmp_path / "work.py"
    script.write_text(PY_SCRIPT)
    out = tmp_path / "py.amt"
    proc = record("-o", out, "--", SYSTEM_PYTHON, script,
                  env={"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == PY_OUTPUT
    s = info(out)
    assert s["events"] > 200000  # PYTHONMALLOC=malloc: every object goes through malloc
    # Two independent computations at recording time: from the raw records and along the trace.
    assert s["metadata"]["recorded_peak_live_bytes"] == s["peak_live_bytes"]
    run_dir = tmp_path / "run"
    allocmark("run", "--trace", out, "--allocators", "glibc", "--reps", "1", "--warmup", "0",
              "--precision", "off", "--no-aa", "--no-report", "--quiet", "--out", run_dir,
              check=True)
    lines = read_lines(run_dir)
    assert len(lines) == 1
    r = lines[0]
    assert r["status"] == "ok", r
    assert r["events"] == s["events"]
    assert r["peak_live_bytes"] == s["peak_live_bytes"]
    # What the replayer itself counted live at the end matches the recording.
    assert r["final_live_bytes"] == s["metadata"]["recorded_final_live_bytes"]
    # The provenance written before the program ended was completed at the end.
    assert s["metadata"]["root"] is True and s["metadata"]["exit_code"] == 0
    assert s["metadata"]["command"] == [SYSTEM_PYTHON, str(script)]
    assert leftovers(tmp_path) == []


def leftovers(directory):
    """What a recording must not leave behind: its raw directory, half-written traces."""
    return sorted(p.name for p in Path(directory).iterdir()
                  if p.name.startswith(".allocmark-record-") or p.name.endswith(".tmp"))


@pytest.mark.skipif(not Path("/usr/bin/prlimit").exists(), reason="needs prlimit (util-linux)")
def test_write_failure_reported_in_one_line(tmp_path):
    """A file size limit (like a full disk) stops the recording library at its first failed
    write: the program runs on unharmed (no SIGXFSZ), and record says so in one line, exits 2
    and leaves no trace that would read back short."""
    script = tmp_path / "work.py"
    script.write_text(PY_SCRIPT)
    out = tmp_path / "full.amt"
    env = {"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0"}
    # 256 KiB per file: the first 1 MiB block of records is cut short.
    proc = record("--no-children", "-o", out, "--", "/usr/bin/prlimit", "--fsize=262144",
                  SYSTEM_PYTHON, script, env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == PY_OUTPUT
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert re.match(r"allocmark: record: pid \d+: the recording library could not write its "
                    r"records \(File too large\); no trace written$", lines[0]), lines[0]
    assert not out.exists()
    assert leftovers(tmp_path) == []

    # The same limit on allocmark itself: its own writes must fail cleanly too, never kill it.
    proc = subprocess.run(["/usr/bin/prlimit", "--fsize=262144", BIN, "record", "-o", out, "--",
                           SYSTEM_PYTHON, script], capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL, env={**os.environ, **env})
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == PY_OUTPUT
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "File too large" in proc.stderr
    assert not out.exists()
    assert leftovers(tmp_path) == []
