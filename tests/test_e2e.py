"""End to end: the CLI converts, validates and replays real traces, and survives bad input and
misbehaving allocators. Every assertion here can fail if the behaviour breaks."""
import json
from pathlib import Path

from conftest import FIXTURES, allocmark, read_lines

SYSTEMUI_PEAK_LIVE = 10441709  # shared/traces/android/SOURCE.md


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
              "--reps", 1, "--warmup", 0, "--out", out, "--no-report", "--quiet", check=True)
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
              "--warmup", 1, "--out", out, "--no-report", "--quiet", check=True)
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
            "--no-report", "--quiet"]
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


def test_misbehaving_allocators_become_statuses(small_churn, tmp_path):
    out = tmp_path / "run"
    libs = {k: FIXTURES / f"libmisbehaving_{k}.so" for k in ("crash", "hang", "null")}
    allocators = ",".join(["glibc"] + [f"{k}={p}" for k, p in libs.items()])
    allocmark("run", "--trace", small_churn, "--allocators", allocators, "--reps", 1,
              "--warmup", 0, "--timeout", 5, "--out", out, "--no-report", "--quiet", check=True)
    by_alloc = {l["allocator"]: l for l in read_lines(out)}
    assert by_alloc["glibc"]["status"] == "ok"
    assert by_alloc["crash"]["status"] == "crashed" and "SEGV" in by_alloc["crash"]["detail"]
    assert by_alloc["hang"]["status"] == "timeout"
    assert by_alloc["null"]["status"] == "oom" and "returned null" in by_alloc["null"]["detail"]


def test_check_mode_names_misaligned_and_overlapping_blocks(small_churn, tmp_path):
    out = tmp_path / "run"
    libs = {k: FIXTURES / f"libmisbehaving_{k}.so" for k in ("misalign", "overlap")}
    allocators = ",".join(["glibc", "pool"] + [f"{k}={p}" for k, p in libs.items()])
    allocmark("run", "--trace", small_churn, "--allocators", allocators, "--reps", 1, "--warmup",
              0, "--check", "--out", out, "--no-report", "--quiet", check=True)
    by_alloc = {l["allocator"]: l for l in read_lines(out)}
    assert by_alloc["glibc"]["status"] == "ok" and by_alloc["pool"]["status"] == "ok"
    assert by_alloc["misalign"]["status"] == "invalid"
    assert "not aligned" in by_alloc["misalign"]["detail"]
    assert by_alloc["overlap"]["status"] == "invalid"
    assert "overlaps live object" in by_alloc["overlap"]["detail"]
    assert "thread 0 event" in by_alloc["overlap"]["detail"]


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
