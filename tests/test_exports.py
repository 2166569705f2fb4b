"""End to end: the exports are readable by other tools. Google Benchmark's own compare.py (Debian
libbenchmark-tools) reads two of our gbench.json files; results.csv parses with Python's csv
module into one row per result line; summary.json carries the statistics per cell."""
import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import allocmark, read_lines

COMPARE_CANDIDATES = [Path("/usr/share/benchmark/compare.py")]  # dpkg -L libbenchmark-tools


def compare_py():
    for path in COMPARE_CANDIDATES:
        if path.exists():
            return path
    found = shutil.which("compare.py")
    return Path(found) if found else None


@pytest.fixture(scope="module")
def two_runs(small_churn, tmp_path_factory):
    base = tmp_path_factory.mktemp("exports")
    runs = []
    for name, reps in (("a", 3), ("b", 2)):
        out = base / name
        allocmark("run", "--trace", small_churn, "--allocators", "glibc,pool", "--reps", reps,
                  "--warmup", 0, "--precision", "off", "--no-aa", "--out", out, "--no-report",
                  "--quiet", check=True)
        runs.append(out)
    return runs


def test_compare_py_reads_two_gbench_files(two_runs):
    script = compare_py()
    if script is None:
        pytest.skip("Google Benchmark's compare.py is absent (apt-get install libbenchmark-tools)")
    a, b = (run / "gbench.json" for run in two_runs)
    proc = subprocess.run([sys.executable, str(script), "benchmarks", str(a), str(b)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for alloc in ("glibc", "pool"):
        assert f"churn/threads:1/alloc:{alloc}_median" in proc.stdout, proc.stdout
    assert "OVERALL_GEOMEAN" in proc.stdout


def test_gbench_json_has_iterations_and_aggregates(two_runs):
    doc = json.loads((two_runs[0] / "gbench.json").read_text())
    runs = [b for b in doc["benchmarks"] if b["run_type"] == "iteration"]
    aggregates = {b["aggregate_name"] for b in doc["benchmarks"] if b["run_type"] == "aggregate"}
    assert len(runs) == 2 * 3  # one entry per repetition of each cell
    assert {"mean", "median", "stddev"} <= aggregates
    assert all(b["time_unit"] == "ns" and b["real_time"] > 0 for b in runs)


def test_results_csv_has_one_row_per_line(two_runs):
    for run in two_runs:
        lines = read_lines(run)
        with open(run / "results.csv", newline="") as f:
            header = next(csv.reader(f))  # the header is the first line: no preamble
            assert {"workload", "allocator", "rep", "ns_per_op"} <= set(header)
            f.seek(0)
            rows = list(csv.DictReader(f))
        assert len(rows) == len(lines)
        for row, line in zip(rows, lines):
            assert row["allocator"] == line["allocator"] and int(row["rep"]) == line["rep"]
            assert math.isclose(float(row["ns_per_op"]), line["ns_per_op"], rel_tol=1e-6)
            assert int(row["peak_rss_bytes"]) == line["peak_rss_bytes"]


def test_summary_json_has_statistics_per_cell(two_runs):
    summary = json.loads((two_runs[0] / "summary.json").read_text())
    cells = {c["allocator"]: c for c in summary["cells"]}
    assert set(cells) == {"glibc", "pool"}
    for alloc, cell in cells.items():
        times = sorted(l["ns_per_op"] for l in read_lines(two_runs[0]) if l["allocator"] == alloc)
        time = cell["time"]
        assert time["n"] == 3 and time["median"] == pytest.approx(times[1])
        # Below 6 repetitions the interval is [min, max] with its real coverage: 75 % at n = 3.
        assert time["ci_low"] == times[0] and time["ci_high"] == times[2]
        assert time["ci_coverage"] == pytest.approx(0.75)
        assert time["cv"] is not None and time["cv"] >= 0
        assert cell["memory"]["n"] == 3 and cell["memory"]["median"] >= 0
        assert any("too few repetitions" in w for w in cell["warnings"])
