"""plot/compare.py end to end: known changes, the MWU verdict, warnings, Markdown, chart, and
per-cell medians taken from each run's summary.json."""
import json
import re

import pytest

from make_fixture import make_run

EVIL = "<script>x|y</script>"


def _runs(tmp_path, reps_base=5, reps_new=5):
    def base(w, a, t, rep):
        return int(100e6 * (1 + 0.01 * rep))

    def new(w, a, t, rep):
        # glibc 20% faster everywhere; mimalloc unchanged.
        return int((80e6 if a == "glibc" else 100e6) * (1 + 0.01 * rep))

    b = make_run(tmp_path / "base", allocators=("glibc", "mimalloc"), workloads=("churn", EVIL),
                 reps=reps_base, wall_ns=base)
    n = make_run(tmp_path / "new", allocators=("glibc", "mimalloc"), workloads=("churn", EVIL),
                 reps=reps_new, wall_ns=new)
    return b, n


def _row(md, workload, allocator):
    for line in md.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 10 and cells[0] == workload and cells[2] == allocator:
            return cells
    raise AssertionError(f"no row for {workload} {allocator} in:\n{md}")


def test_known_change_is_detected(tmp_path, tool):
    b, n = _runs(tmp_path)
    res = tool("compare.py", b, n)
    assert res.returncode == 0, res.stderr
    md = res.stdout
    assert "| workload | threads | allocator | reps base/new |" in md
    row = _row(md, "churn", "glibc")
    assert row[3] == "5/5"
    # Each run's median and interval, as its summary.json gives them (ns per event; the range
    # of 5 repetitions, marked †).
    assert row[4] == "510 [500, 520]†" and row[5] == "408 [400, 416]†"
    assert row[6].startswith("−20.0% [")
    assert float(row[7]) == pytest.approx(2 / 252, rel=1e-3)  # no overlap: exact p = 0.0079
    assert row[9] == "faster"
    same = _row(md, "churn", "mimalloc")
    assert same[6].startswith("+0.0%") and float(same[7]) > 0.5
    assert same[9] == "no change detected"
    assert "time ×0.894" in md  # geometric mean over 4 cells: (0.8 * 0.8 * 1 * 1) ** (1/4)
    assert "Warning" not in md


def test_names_are_escaped_in_markdown(tmp_path, tool):
    b, n = _runs(tmp_path)
    md = tool("compare.py", b, n).stdout
    assert "<script>" not in md
    assert _row(md, r"&lt;script&gt;x\|y&lt;/script&gt;", "glibc")[9] == "faster"


def test_too_few_reps_warns(tmp_path, tool):
    b, n = _runs(tmp_path, reps_base=3, reps_new=3)
    md = tool("compare.py", b, n).stdout
    assert "**Warning:** 4 of 4 cells have too few repetitions to judge" in md
    assert "smallest possible p = 0.100" in md
    assert _row(md, "churn", "glibc")[9] == "too few reps"


def test_chart_written_next_to_new_and_named(tmp_path, tool):
    b, n = _runs(tmp_path)
    md = tool("compare.py", b, n).stdout
    svg, png = n / "plots" / "compare.svg", n / "plots" / "compare.png"
    assert svg.exists() and png.read_bytes()[:4] == b"\x89PNG"
    assert f"Chart: `{svg}`" in md


def test_cells_missing_or_failed_on_one_side(tmp_path, tool):
    b = make_run(tmp_path / "base", allocators=("glibc", "mimalloc"), reps=5)
    n = make_run(tmp_path / "new", allocators=("glibc", "jemalloc"), reps=5,
                 failures={("larson", "glibc", 1): [(None, "crashed", "SIGSEGV")]})
    md = tool("compare.py", b, n).stdout
    assert "churn (1 threads) jemalloc: only in NEW" in md
    assert "churn (1 threads) mimalloc: only in BASE" in md
    assert "larson (1 threads) glibc: no successful repetition in NEW" in md


def test_medians_come_from_each_runs_summary(tmp_path, tool):
    b, n = _runs(tmp_path)
    data = json.loads((b / "summary.json").read_text())
    for c in data["cells"]:
        if (c["workload"], c["allocator"]) == ("churn", "glibc"):
            c["time"].update(median=600.0, ci_low=590.0, ci_high=610.0, ci_coverage=0.97)
    (b / "summary.json").write_text(json.dumps(data))
    md = tool("compare.py", b, n).stdout
    row = _row(md, "churn", "glibc")
    assert row[4] == "600 [590, 610]"          # read, not recomputed (and 97 %: no †)
    assert row[6].startswith("−32.0% [")      # 408 / 600 - 1
    # A run without summary.json and no binary to write it: medians only, and a warning.
    (n / "summary.json").unlink()
    md = tool("compare.py", b, n, env={"ALLOCMARK_BIN": None}).stdout
    assert _row(md, "churn", "glibc")[5] == "408"
    assert "NEW: summary.json is missing" in md


def test_bad_run_dir(tmp_path, tool):
    b = make_run(tmp_path / "base", reps=1)
    res = tool("compare.py", b, tmp_path / "missing")
    assert res.returncode == 2 and "not a directory" in res.stderr and res.stdout == ""
