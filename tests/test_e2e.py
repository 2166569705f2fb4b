"""End to end: the CLI converts, validates and replays real traces, and survives bad input and
misbehaving allocators. Every assertion here can fail if the behaviour breaks."""
import json
import os
import subprocess
from pathlib import Path

from conftest import BIN, FIXTURES, allocmark, read_lines

SYSTEMUI_PEAK_LIVE = 10441709  # workloads/testdata/android/SOURCE.md


def test_systemui_info_matches_source_facts(systemui):
    info = json.loads(allocmark("trace", "info", "--json", systemui, check=True).stdout)
    assert info["peak_live_bytes"] == SYSTEMUI_PEAK_LIVE
    assert info["threads"] == 393
    assert info["final_live_objects"] == 53645
    assert info["final_live_bytes"] == 8396631
    assert info["cross_thread_frees"] == 39466
    by_op = info["events_by_op"]
    assert by_op["malloc"] == 383154 and by_op["calloc"] == 7847
    assert by_op["realloc"] == 29167 and by_op["aligned_alloc"] == 1066


def test_systemui_replays_on_every_allocator(systemui, tmp_path):
    out = tmp_path / "run"
    allocmark("run", "--trace", systemui, "--allocators", "glibc,mimalloc,tcmalloc,jemalloc,bump",
              "--reps", 1, "--warmup", 0, "--precision", "off", "--no-aa", "--out", out,
              "--no-report", "--quiet", check=True)
    lines = read_lines(out)
    assert sorted(l["allocator"] for l in lines) == ["bump", "glibc", "jemalloc", "mimalloc",
                                                      "tcmalloc"]
    for line in lines:
        assert line["status"] == "ok", line
        assert line["peak_live_bytes"] == SYSTEMUI_PEAK_LIVE
        assert line["events"] == 770636
        assert line["replay_mode"] == "threads"
    providers = {l["allocator"]: l["malloc_provider"] for l in lines}
    assert "mimalloc" in providers["mimalloc"] and "jemalloc" in providers["jemalloc"]


def test_run_writes_sane_lines_and_files(small_churn, tmp_path):
    out = tmp_path / "run"
    allocmark("run", "--trace", small_churn, "--allocators", "glibc,pool,null", "--reps", 2,
              "--warmup", 1, "--precision", "off", "--no-aa", "--out", out, "--no-report",
              "--quiet", check=True)
    lines = read_lines(out)
    assert len(lines) == 6  # 3 allocators x 2 measured reps; the warm-up is not written
    for line in lines:
        assert line["status"] == "ok", line
        assert line["events"] > 100000 and line["wall_ns"] > 0
        assert abs(line["ns_per_op"] * line["events"] - line["wall_ns"]) < 0.01 * line["wall_ns"]
        assert line["peak_rss_bytes"] >= line["baseline_rss_bytes"] > 0
        assert len(line["timeline"]["t_ns"]) == len(line["timeline"]["rss"]) >= 2
        assert line["latency"]["malloc"]["p50"] <= line["latency"]["malloc"]["p99"]
    glibc = [l for l in lines if l["allocator"] == "glibc"]
    assert all(l["fragmentation"] > 0.5 for l in glibc)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["schema_version"] == 1 and meta["finished"]
    assert meta["machine"]["cores"] >= 1 and "harness_cost" in meta
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert "ns_per_op" in header and "allocator" in header
    gbench = json.loads((out / "gbench.json").read_text())
    names = {b["name"] for b in gbench["benchmarks"]}
    assert "churn/threads:1/alloc:pool" in names


def test_out_dir_holding_a_run_is_refused_and_resume_adds_nothing(small_churn, tmp_path):
    out = tmp_path / "run"
    args = ["--trace", small_churn, "--allocators", "glibc", "--reps", 1, "--warmup", 0,
            "--precision", "off", "--no-aa", "--no-report", "--quiet"]
    allocmark("run", *args, "--out", out, check=True)
    again = allocmark("run", *args, "--out", out)
    assert again.returncode == 2 and "--resume" in again.stderr
    allocmark("run", *args, "--resume", out, check=True)
    assert len(read_lines(out)) == 1


def test_broken_trace_gets_one_line_and_status_2(systemui, tmp_path):
    garbage = tmp_path / "garbage.amt"
    garbage.write_bytes(b"this is not a trace at all, just text\n" * 4)
    proc = allocmark("run", "--trace", garbage, "--allocators", "glibc", "--no-report")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "garbage.amt" in proc.stderr
    truncated = tmp_path / "truncated.amt"
    truncated.write_bytes(Path(systemui).read_bytes()[:5000])
    proc = allocmark("trace", "info", truncated)
    assert proc.returncode == 2 and "truncated" in proc.stderr


def test_unknown_allocator_gets_one_line_and_status_2(small_churn):
    proc = allocmark("run", "--trace", small_churn, "--allocators", "glibc,nosuchalloc")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nosuchalloc" in proc.stderr


def _run_misbehaving(trace, out, kinds, *flags):
    libs = {k: FIXTURES / f"libmisbehaving_{k}.so" for k in kinds}
    allocators = ",".join(["glibc"] + [f"{k}={p}" for k, p in libs.items()])
    allocmark("run", "--trace", trace, "--allocators", allocators, "--reps", 1, "--warmup", 0,
              "--precision", "off", "--no-aa", "--timeout", 5, "--out", out, "--no-report",
              "--quiet", *flags, check=True)
    return {l["allocator"]: l for l in read_lines(out)}


def _assert_failure_statuses(by_alloc):
    """The fixtures misbehave for good once the replay is under way (tests/fixtures)."""
    assert by_alloc["glibc"]["status"] == "ok", by_alloc["glibc"]
    assert by_alloc["crash"]["status"] == "crashed" and "SEGV" in by_alloc["crash"]["detail"]
    assert by_alloc["abort"]["status"] == "crashed" and "ABRT" in by_alloc["abort"]["detail"]
    # glibc finds the scribbled chunk header and says so on stderr, which the detail keeps.
    corrupt = by_alloc["corrupt"]
    assert corrupt["status"] == "crashed" and "ABRT" in corrupt["detail"], corrupt
    assert "stderr: " in corrupt["detail"], corrupt
    assert "invalid" in corrupt["detail"] or "corrupt" in corrupt["detail"], corrupt
    assert by_alloc["hang"]["status"] == "timeout"
    null = by_alloc["null"]
    assert null["status"] == "oom" and "returned null at thread 0 event" in null["detail"], null
    # The worker still measured how far it got.
    assert 0 < null["events"] < 100000, null


def test_misbehaving_allocators_become_statuses(small_churn, tmp_path):
    by_alloc = _run_misbehaving(small_churn, tmp_path / "run",
                                ("crash", "abort", "corrupt", "hang", "null"))
    _assert_failure_statuses(by_alloc)


def test_check_run_gives_every_misbehaving_allocator_its_status(small_churn, tmp_path):
    """Issue 9: six allocators that misbehave for good, with glibc, in one --check run."""
    out = tmp_path / "run"
    by_alloc = _run_misbehaving(small_churn, out, ("crash", "abort", "corrupt", "hang", "null",
                                                   "misalign", "overlap"), "--check")
    _assert_failure_statuses(by_alloc)
    assert by_alloc["misalign"]["status"] == "invalid"
    assert "not aligned" in by_alloc["misalign"]["detail"]
    overlap = by_alloc["overlap"]["detail"]
    assert by_alloc["overlap"]["status"] == "invalid", overlap
    # Names both objects: the one being allocated and the live one it overlaps.
    assert "thread 0 event" in overlap and "of object" in overlap, overlap
    assert "overlaps live object" in overlap, overlap
    # The rest of the run is intact: one line per cell, and the run's files exist.
    assert len(read_lines(out)) == 8
    assert (out / "summary.json").exists() and (out / "meta.json").exists()


def test_mem_limit_turns_exhaustion_into_oom(tmp_path):
    trace = tmp_path / "big.amt"
    allocmark("trace", "gen", "large-buffers", "--param", "steps=10", "-o", trace, check=True)
    out = tmp_path / "run"
    allocmark("run", "--trace", trace, "--allocators", "glibc,bump", "--mem-limit", "64M",
              "--reps", 1, "--warmup", 0, "--out", out, "--no-report", "--quiet", check=True)
    by_alloc = {l["allocator"]: l for l in read_lines(out)}
    # Both hit the cap: the 5-25 MiB buffers outgrow 64 MiB of address space.
    for name in ("glibc", "bump"):
        assert by_alloc[name]["status"] == "oom", by_alloc[name]
        assert "returned null" in by_alloc[name]["detail"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["plan"]["mem_limit_bytes"] == 64 << 20


def test_bad_flag_values_get_one_line_and_status_2(small_churn):
    for flags, needle in ((["--mem-limit", "12Q"], "--mem-limit"),
                          (["--threads", "0"], "--threads"),
                          (["--reps", "0"], "--reps"),
                          (["--alloc-option", "pool"], "--alloc-option"),
                          (["--replay", "sideways"], "--replay")):
        proc = allocmark("run", "--trace", small_churn, "--allocators", "glibc", *flags)
        assert proc.returncode == 2, (flags, proc.stderr)
        assert proc.stderr.strip().count("\n") == 0 and needle in proc.stderr, proc.stderr


def test_preload_that_does_not_serve_malloc_is_not_measured(small_churn):
    """A preload the loader skips, or one without malloc, must not silently measure glibc."""
    worker = Path(BIN).parent / "allocmark-worker"
    zlib = next(p for p in ("/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1")
                if Path(p).exists())
    env = dict(os.environ, LD_PRELOAD=zlib)
    proc = subprocess.run([str(worker), "--trace", str(small_churn), "--kind", "preload",
                           "--allocator", "zlib"], env=env, capture_output=True, text=True,
                          timeout=60)
    line = json.loads(proc.stdout)
    assert line["status"] == "error" and "allocator not loaded" in line["detail"], line
    assert "wall_ns" not in line
