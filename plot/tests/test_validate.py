"""allocmark validate (plot/validate.py, fidelity*.py): bad input, the statistics on synthetic
lines, and one real program recorded, replayed and run under glibc and mimalloc, whose
fidelity.json figures are recomputed here from the raw result lines."""
import json
import os
import statistics
import textwrap
from pathlib import Path

import pytest
from scipy import stats as sstats

import fidelity

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("ALLOCMARK_BIN") or REPO / "build/release/harness/allocmark")

needs_bin = pytest.mark.skipif(not BIN.is_file(), reason=f"no allocmark binary at {BIN}")


def _lines(path):
    return [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]


# ---- bad input: one line, exit 2 ------------------------------------------------------------

@pytest.mark.parametrize("args, says", [
    ([], "nothing to check"),
    (["--from-run", "x", "--suite", "programs"], "no --program or --suite"),
    (["--suite", "no-such-suite"], "no-such-suite"),
    (["--program", "bad name=true"], "NAME='COMMAND ARGS'"),
    (["--program", "a=true", "--allocators", "glibc,nosuch"], "unknown allocator 'nosuch'"),
    (["--program", "a=true", "--reps", "0"], "--reps"),
    (["--from-run", "/nonexistent-run"], "not a run directory"),
    (["--suite", "programs", "--only", "python,nosuch"], "--only: no program nosuch"),
])
@needs_bin
def test_bad_input_is_one_line_and_exit_2(tool, tmp_path, args, says):
    r = tool("validate.py", *args, "--out", tmp_path / "o", env={"ALLOCMARK_BIN": BIN})
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert says in r.stderr


def test_without_binary_exits_2(tool, tmp_path):
    r = tool("validate.py", "--program", "a=true", "--out", tmp_path,
             env={"ALLOCMARK_BIN": None})
    assert r.returncode == 2 and "ALLOCMARK_BIN" in r.stderr


def test_suite_without_programs_is_refused(tool, tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('name = "s"\n[[workload]]\nname = "x"\ngenerator = "larson"\n')
    r = tool("validate.py", "--suite", suite, env={"ALLOCMARK_BIN": BIN if BIN.is_file()
                                                   else "/bin/true"})
    assert r.returncode == 2 and "no [[program]] table" in r.stderr


# ---- statistics on synthetic lines -----------------------------------------------------------

def _prog(alloc, walls, rss=100 << 20):
    return [{"workload": "p", "allocator": alloc, "kind": "program", "status": "ok",
             "wall_ns": w, "user_ns": w // 2, "sys_ns": w // 4, "peak_rss_bytes": rss}
            for w in walls]


def _rep(alloc, nsop, heap, events=1_000_000, workload="p"):
    return [{"workload": workload, "allocator": alloc, "status": "ok", "events": events,
             "ns_per_op": x, "peak_rss_bytes": (50 << 20) + heap, "baseline_rss_bytes": 50 << 20}
            for x in nsop]


def test_compare_program_by_hand():
    prog = (_prog("glibc", [1_000_000_000, 1_010_000_000, 990_000_000]) +
            _prog("glibc-aa", [1_000_000_000, 1_005_000_000, 995_000_000]) +
            _prog("fast", [800_000_000, 805_000_000, 795_000_000], rss=90 << 20) +
            _prog("same", [1_000_000_000, 1_002_000_000, 998_000_000]) +
            [{"workload": "p", "allocator": "broken", "status": "crashed"}])
    rep = (_rep("glibc", [50, 51, 49], 40 << 20) + _rep("fast", [30, 31, 29], 30 << 20) +
           _rep("same", [52, 50, 50], 40 << 20) + _rep("broken", [1, 1, 1], 1) +
           _rep("glibc", [10, 10, 10], 1 << 20, events=1000, workload="p.2") +
           _rep("fast", [20, 20, 20], 1 << 20, events=1000, workload="p.2") +
           _rep("same", [10, 10, 10], 1 << 20, events=1000, workload="p.2"))
    r = fidelity.compare_program(rep, prog, ["glibc", "fast", "same", "broken"], aa="glibc-aa")
    f = r["allocators"]["fast"]
    assert f["predicted_ns"] == pytest.approx(1_000_000 * (30 - 50) + 1000 * (20 - 10))
    assert f["wall_ns"]["measured_ns"] == -200_000_000
    assert f["wall_ns"]["real"] and f["wall_ns"]["sign_agrees"]
    assert f["wall_ns"]["error_share"] == pytest.approx((f["predicted_ns"] + 200e6) / 1e9)
    lo, hi = f["predicted_ci"]
    assert lo <= f["predicted_ns"] <= hi
    assert r["allocators"]["same"]["wall_ns"]["real"] is False  # within the A/A floor
    assert "missing" in r["allocators"]["broken"]
    # peak RSS: glibc's non-heap (100 - 41 MiB) + fast's heap (31 MiB)
    assert f["peak_rss"]["predicted_bytes"] == (100 - 41 + 31) << 20
    assert f["peak_rss"]["measured_bytes"] == 90 << 20
    assert r["kendall_tau"]["wall_ns"]["n"] == 3
    s = fidelity.summarise({"p": r, "q": {"error": "x"}})
    assert s["programs"] == 1 and s["pairs"] == 2
    assert s["wall_ns"]["real_pairs"] == 1 and s["wall_ns"]["sign_agreement"] == 1.0


def test_compare_program_without_baseline_is_an_error():
    with pytest.raises(ValueError, match="baseline"):
        fidelity.compare_program(_rep("glibc", [1], 1), _prog("fast", [1]), ["glibc", "fast"])


# ---- a real program, end to end ---------------------------------------------------------------

CHURN = textwrap.dedent("""\
    import sys
    keep = []
    for r in range(int(sys.argv[1])):
        d = {i: [str(i) * 3, (i, i + 1), b"x" * (i % 64)] for i in range(40000)}
        keep.append(d[r])
        del d
    print(len(keep))
    """)


@needs_bin
def test_validate_a_real_program(tool, tmp_path):
    (tmp_path / "churn.py").write_text(CHURN)
    out = tmp_path / "out"
    r = tool("validate.py", "--program", "churn=env PYTHONMALLOC=malloc /usr/bin/python3 "
             "churn.py 4", "--allocators", "glibc,mimalloc", "--reps", "3", "--out", out,
             "--quiet", env={"ALLOCMARK_BIN": BIN}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "fidelity.json").read_text())
    assert (out / "fidelity.html").is_file() and (out / "plots/fidelity.svg").is_file()
    p = doc["programs"]["churn"]
    base = out / "validate/churn"
    rep = [x for x in _lines(base / "replay/results.jsonl") if x["status"] == "ok"]
    prog = [x for x in _lines(base / "program/results.jsonl") if x["status"] == "ok"]
    assert {x["allocator"] for x in prog} == {"glibc", "mimalloc", "glibc-aa"}
    loc = p["locality"]  # the live heap against the L2, from the recording and sysfs
    assert loc["peak_live_bytes"] == max(t["peak_live_bytes"] for t in p["traces"]) > 0
    assert loc["heap_exceeds_l2"] == bool(loc["l2_bytes"] and loc["peak_live_bytes"] >
                                          loc["l2_bytes"])
    assert ("warning" in loc) == loc["heap_exceeds_l2"]

    def med(lines, alloc, f):
        return statistics.median(f(x) for x in lines if x["allocator"] == alloc)

    nsop = lambda x: x["ns_per_op"]  # noqa: E731
    heap = lambda x: x["peak_rss_bytes"] - x["baseline_rss_bytes"]  # noqa: E731
    events = {x["events"] for x in rep}
    assert len(events) == 1 and p["baseline"]["events"] == events.pop() > 100_000
    ev = p["baseline"]["events"]
    wall = lambda x: x["wall_ns"]  # noqa: E731
    cpu = lambda x: x["user_ns"] + x["sys_ns"]  # noqa: E731
    rss = lambda x: x["peak_rss_bytes"]  # noqa: E731
    # Each allocator's start-up (/bin/true as a program cell, 15 reps at least) is added to the
    # predictions: wall and CPU times the programs started (env, then the python it execs: the
    # allocator initialises in each), peak RSS once.
    up = [x for x in _lines(out / "startup/results.jsonl") if x["status"] == "ok"]
    assert len([x for x in up if x["allocator"] == "glibc"]) >= 15
    assert p["baseline"]["processes"] == 2
    up_wall, up_cpu, up_rss = ((med(up, "mimalloc", f) - med(up, "glibc", f)) * n for f, n in
                               ((wall, 2), (cpu, 2), (rss, 1)))
    predicted = ev * (med(rep, "mimalloc", nsop) - med(rep, "glibc", nsop)) + up_wall
    m = p["allocators"]["mimalloc"]
    assert m["startup"]["wall_ns"] == pytest.approx(up_wall)
    assert m["startup"]["peak_rss_bytes"] == pytest.approx(up_rss)
    assert doc["startup"]["allocators"]["mimalloc"]["cpu_ns"] == med(up, "mimalloc", cpu)
    assert m["predicted_ns"] == pytest.approx(predicted)
    assert m["reps"] == {"program": 3, "replay": 3}
    # The CPU prediction is the replay's own CPU change (user + sys of the replay loop).
    predicted_cpu = med(rep, "mimalloc", cpu) - med(rep, "glibc", cpu) + up_cpu
    for metric, f, pred in (("wall_ns", wall, predicted), ("cpu_ns", cpu, predicted_cpu)):
        measured = med(prog, "mimalloc", f) - med(prog, "glibc", f)
        base_t = med(prog, "glibc", f)
        e = m[metric]
        assert e["predicted_ns"] == pytest.approx(pred)
        assert e["measured_ns"] == pytest.approx(measured)
        assert e["error_share"] == pytest.approx((pred - measured) / base_t)
        assert e["sign_agrees"] == ((pred > 0) == (measured > 0))
        lo, hi = e["measured_ci"]
        assert lo <= measured <= hi
    assert m["cpu_ns"]["error_share_ns_per_op"] == pytest.approx(
        (predicted - m["cpu_ns"]["measured_ns"]) / med(prog, "glibc", cpu))
    pred_rss = (med(prog, "glibc", rss) - med(rep, "glibc", heap) + med(rep, "mimalloc", heap)
                + up_rss)
    assert m["peak_rss"]["predicted_bytes"] == pytest.approx(pred_rss)
    assert m["peak_rss"]["measured_bytes"] == pytest.approx(med(prog, "mimalloc", rss))
    # The summary is recomputed from the same per-pair figures.
    s = doc["summary"]
    assert s["pairs"] == 1
    real = m["wall_ns"]["real"]
    assert s["wall_ns"]["real_pairs"] == int(real)
    if real:
        assert s["wall_ns"]["sign_agreement"] == float(m["wall_ns"]["sign_agrees"])
    assert s["wall_ns"]["median_abs_error_share"] == pytest.approx(
        abs(m["wall_ns"]["error_share"]))
    assert s["peak_rss"]["median_pair"]["allocator"] == "mimalloc"
    # Two allocators: tau needs three points (glibc at 0, 0 is one).
    assert p["kendall_tau"]["wall_ns"]["tau"] is None
    # --from-run reuses the program cells: only record and replay run again.
    r2 = tool("validate.py", "--from-run", base / "program", "--reps", "2", "--out",
              tmp_path / "again", "--quiet", env={"ALLOCMARK_BIN": BIN}, cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr
    doc2 = json.loads((tmp_path / "again/fidelity.json").read_text())
    m2 = doc2["programs"]["churn"]["allocators"]["mimalloc"]
    assert m2["wall_ns"]["measured_ns"] == pytest.approx(m["wall_ns"]["measured_ns"])
    assert m2["reps"] == {"program": 3, "replay": 2}
    assert not (tmp_path / "again/validate/churn/program").exists()
    # --reanalyse recomputes the same figures from the stored lines.
    r3 = tool("validate.py", "--reanalyse", out, env={"ALLOCMARK_BIN": BIN})
    assert r3.returncode == 0, r3.stderr
    doc3 = json.loads((out / "fidelity.json").read_text())
    assert doc3["programs"]["churn"]["allocators"] == p["allocators"]
    assert doc3["summary"] == doc["summary"]


def test_kendall_matches_scipy():
    r = {"allocators": {
        "a": {"wall_ns": {"predicted_ns": -5.0, "measured_ns": -3.0}},
        "b": {"wall_ns": {"predicted_ns": 2.0, "measured_ns": 4.0}},
        "c": {"wall_ns": {"predicted_ns": -1.0, "measured_ns": 1.0}},
        "d": {"missing": "x"}}}
    k = fidelity.kendall(r, "wall_ns")
    assert k["n"] == 4
    assert k["tau"] == pytest.approx(sstats.kendalltau([0, -5, 2, -1], [0, -3, 4, 1])[0])


def test_report_gains_the_fidelity_section(tmp_path):
    import report
    doc = {"baseline": "glibc", "reps": 3, "replay_mode": "serial", "cores": 2,
           "command_line": "allocmark validate --from-run x",
           "load_average": {"start": [1.0, 1.0, 1.0], "end": None}, "methods": {"m": "how"},
           "programs": {"p": {"error": "record: <boom>"}},
           "summary": fidelity.summarise({"p": {"error": "x"}})}
    page = '<h1>x</h1><h2 id="verdicts">'
    assert report._with_fidelity(page, tmp_path) == page  # no fidelity.json: unchanged
    (tmp_path / "fidelity.json").write_text(json.dumps(doc))
    out = report._with_fidelity(page, tmp_path)
    assert out.index("id=fidelity") < out.index('id="verdicts"')
    assert "record: &lt;boom&gt;" in out  # names from files are escaped
    (tmp_path / "fidelity.json").write_text("{")
    assert "could not be read" in report._with_fidelity(page, tmp_path)


# ---- a service: a server recorded while its driver runs ---------------------------------------

SERVER = textwrap.dedent("""\
    import signal, socket, sys
    # A clean exit on SIGTERM, as redis makes: the recorder writes its last records at exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen()
    store = {}
    while True:
        c, _ = s.accept()
        with c:
            data = c.recv(64)
            if not data:  # the harness's probe of the port
                continue
            n = int(data)
            for i in range(n):  # dicts, lists and strings from malloc per request
                store[i % 5000] = {"k": str(i) * 4, "v": [i, (i, i)]}
            c.sendall(b"%d\\n" % len(store))
    """)
CLIENT = textwrap.dedent("""\
    import socket, sys
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as c:
            c.sendall(b"4000")
            c.recv(64)
    print("done")
    """)


def _processes_running(needle):
    found = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and needle in (d / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(d.name))
        except OSError:
            pass
    return found


@needs_bin
def test_validate_a_service_records_the_server_while_the_driver_runs(tool, tmp_path):
    (tmp_path / "server.py").write_text(SERVER)
    (tmp_path / "client.py").write_text(CLIENT)
    (tmp_path / "svc.toml").write_text(textwrap.dedent("""\
        name = "svc"
        [[program]]
        name = "kv"
        command = ["/usr/bin/python3", "{suite_dir}/server.py", "{port}"]
        driver = ["/usr/bin/python3", "{suite_dir}/client.py", "{port}"]
        env = { PYTHONMALLOC = "malloc" }
        timeout = 60
        """))
    out = tmp_path / "out"
    r = tool("validate.py", "--suite", tmp_path / "svc.toml", "--allocators", "glibc,mimalloc",
             "--reps", "2", "--out", out, "--quiet", env={"ALLOCMARK_BIN": BIN}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    p = json.loads((out / "fidelity.json").read_text())["programs"]["kv"]
    assert "error" not in p and "skipped" not in p, p
    # The server's 80 000 stores (and python's start-up) are in its trace; the driver's are not.
    assert p["events_recorded"] > 80_000 and len(p["traces"]) == 1
    assert p["driver"][0] == "/usr/bin/python3"
    assert p["allocators"]["mimalloc"]["cpu_ns"]["measured_ns"] is not None
    prog = [x for x in _lines(out / "validate/kv/program/results.jsonl") if x["status"] == "ok"]
    assert {x["allocator"] for x in prog} == {"glibc", "mimalloc", "glibc-aa"}
    assert not _processes_running(str(tmp_path / "server.py")), "a server was left running"
