"""End to end: `run --shard K/N` splits a plan by workload and `merge` joins the shards into the
same cells one unsharded run has, with one meta.json naming every shard; plans that differ are
refused in one line."""
import csv
import json

import pytest

from conftest import allocmark, read_lines

ALLOCATORS = "glibc,pool"
REPS = 2


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    base = tmp_path_factory.mktemp("shard-traces")
    paths = []
    for name, steps in (("alpha", 20000), ("beta", 30000), ("gamma", 25000)):
        out = base / f"{name}.amt"
        allocmark("trace", "gen", "churn", "--param", f"steps={steps}", "-o", out, check=True)
        paths.append(out)
    return paths


def run_args(traces, *extra, reps=REPS):
    args = ["run"]
    for t in traces:
        args += ["--trace", t]
    return args + ["--allocators", ALLOCATORS, "--reps", reps, "--warmup", 0, "--precision", "off",
                   "--no-aa", "--no-report", "--quiet", *extra]


def cells(lines):
    return sorted((l["workload"], l["threads"], l["allocator"], l["rep"]) for l in lines)


@pytest.fixture(scope="module")
def shards(traces, tmp_path_factory):
    base = tmp_path_factory.mktemp("shards")
    dirs = []
    for k in (1, 2):
        out = base / f"shard-{k}"
        allocmark(*run_args(traces, "--shard", f"{k}/2", "--out", out), check=True)
        dirs.append(out)
    return dirs


def test_shards_split_by_workload(shards):
    first, second = (read_lines(d) for d in shards)
    assert {l["workload"] for l in first} == {"alpha", "gamma"}  # index % 2 == 0
    assert {l["workload"] for l in second} == {"beta"}
    for k, d in enumerate(shards, 1):
        meta = json.loads((d / "meta.json").read_text())
        assert meta["shard"]["index"] == k and meta["shard"]["count"] == 2


def test_merge_equals_one_unsharded_plan(traces, shards, tmp_path):
    whole = tmp_path / "whole"
    allocmark(*run_args(traces, "--out", whole), check=True)
    merged = tmp_path / "merged"
    proc = allocmark("merge", *shards, "-o", merged)
    assert proc.returncode == 0, proc.stderr
    lines = read_lines(merged)
    assert len(lines) == 3 * 2 * REPS
    assert cells(lines) == cells(read_lines(whole))
    meta = json.loads((merged / "meta.json").read_text())
    assert [s["index"] for s in meta["shards"]] == [1, 2]
    assert all(s["machine"]["cores"] >= 1 and s["lines"] > 0 for s in meta["shards"])
    assert meta["shards_missing"] == [] and "shard" not in meta
    assert sorted(w["workload"] for w in meta["plan"]["workloads"]) == ["alpha", "beta", "gamma"]
    assert meta["finished"] and meta["plan"]["reps"] == REPS
    with open(merged / "results.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(lines)
    summary = json.loads((merged / "summary.json").read_text())
    assert len(summary["cells"]) == 3 * 2
    gbench = json.loads((merged / "gbench.json").read_text())
    assert {"alpha/threads:1/alloc:pool", "beta/threads:1/alloc:glibc"} <= {
        b["name"] for b in gbench["benchmarks"]}
    assert (merged / "report.html").exists()


def test_merge_refuses_other_plans_and_duplicates(traces, shards, tmp_path):
    other = tmp_path / "other"
    allocmark(*run_args(traces, "--shard", "2/2", "--out", other, reps=1), check=True)
    for args, expected in (
        ([shards[0], other], "not from the same plan"),
        ([shards[0], shards[0]], "both shard 1"),
    ):
        proc = allocmark("merge", *args, "-o", tmp_path / "m")
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().count("\n") == 0 and expected in proc.stderr, proc.stderr
        assert not (tmp_path / "m" / "results.jsonl").exists()
    proc = allocmark("merge", *shards, "-o", shards[0])
    assert proc.returncode == 2 and "already holds a run" in proc.stderr


def test_bad_shard_flag_gets_one_line(traces):
    for bad in ("3/2", "0/2", "2", "1/2x"):
        proc = allocmark(*run_args(traces, "--shard", bad))
        assert proc.returncode == 2, bad
        assert proc.stderr.strip().count("\n") == 0 and "--shard" in proc.stderr, proc.stderr
