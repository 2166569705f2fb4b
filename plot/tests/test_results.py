"""plot/allocmark_results.py, summary_file.py and summary.py: loading, bad input, cells, and
relative figures read from summary.json (rewritten by the real binary where it cannot serve)."""
import json
import re

import numpy as np
import pytest

import allocmark_results
import summary_file
from allocmark_results import ResultsError, load_run
from make_fixture import downgrade_summary_to_schema_1, make_run
from summary import MEMORY, TIME, Summary
from summary_file import CELLS, FULL, NONE


def test_loads_fixture_in_plan_order(tmp_path):
    d = make_run(tmp_path / "r", allocators=("mimalloc", "glibc"), workloads=("b", "a"), reps=2)
    run = load_run(d)
    assert run.allocators() == ["mimalloc", "glibc"]
    assert run.workloads() == ["b", "a"]
    assert run.thread_counts() == [1]
    assert len(run.records) == 8
    assert run.warnings == []


def test_missing_directory_and_file(tmp_path):
    with pytest.raises(ResultsError, match="not a directory"):
        load_run(tmp_path / "nope")
    with pytest.raises(ResultsError, match="results.jsonl: missing"):
        load_run(tmp_path)


def test_bad_line_names_file_and_line(tmp_path):
    d = make_run(tmp_path / "r", reps=1)
    lines = (d / "results.jsonl").read_text().splitlines()
    lines.insert(1, "{not json")
    (d / "results.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ResultsError, match=r"results\.jsonl:2: not valid JSON"):
        load_run(d)


def test_truncated_last_line_is_skipped_with_warning(tmp_path):
    d = make_run(tmp_path / "r", reps=1)
    with open(d / "results.jsonl", "a") as f:
        f.write('{"workload": "churn", "allocator": "gl')
    run = load_run(d)
    assert len(run.records) == 6
    assert any("truncated last line" in w for w in run.warnings)


def test_missing_required_field(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "results.jsonl").write_text(json.dumps({"workload": "w", "status": "ok"}) + "\n")
    with pytest.raises(ResultsError, match=r":1: field 'allocator' must be a non-empty string"):
        load_run(d)
    (d / "results.jsonl").write_text(
        json.dumps({"workload": "w", "allocator": "a", "status": "ok", "threads": "x"}) + "\n")
    with pytest.raises(ResultsError, match="'threads' must be an integer"):
        load_run(d)


def test_minimal_lines_and_no_meta(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "results.jsonl").write_text(
        json.dumps({"workload": "w", "allocator": "a", "status": "crashed"}) + "\n")
    run = load_run(d)
    assert run.records[0]["threads"] == 1 and run.records[0]["rep"] == 0
    assert any("meta.json is missing" in w for w in run.warnings)


def _exact(w, a, t, rep):
    base = {"glibc": 100e6, "mimalloc": {"churn": 50e6, "larson": 200e6}[w], "jemalloc": 100e6}
    return int(base[a] * (1 + 0.01 * rep))  # spread, but the ratios of medians are exact


def _summary_cell(d, workload, allocator, threads=1):
    data = json.loads((d / "summary.json").read_text())
    return next(c for c in data["cells"] if (c["workload"], c["threads"], c["allocator"])
                == (workload, threads, allocator))


def test_relative_matrix_and_geomean(tmp_path):
    d = make_run(tmp_path / "r", allocators=("glibc", "mimalloc", "jemalloc"),
                 workloads=("churn", "larson"), reps=5, wall_ns=_exact)
    s = Summary(load_run(d))
    assert s.baseline == "glibc" and s.baseline_note == "" and s.level == FULL
    m, counts = s.relative_matrix(TIME)
    np.testing.assert_allclose(m[0], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(m[1], [0.5, 2.0, 1.0])  # geomean(0.5, 2) = 1
    np.testing.assert_allclose(m[2], [1.0, 1.0, 1.0])
    assert counts == [2, 2, 2]
    # Ratio, interval and verdict are summary.json's vs_baseline, not recomputed here.
    rel = s.relative(TIME, ("churn", 1), "mimalloc")
    want = _summary_cell(d, "churn", "mimalloc")["vs_baseline"]["time"]
    assert (rel.value, rel.lo, rel.hi, rel.verdict) == (
        want["ratio"], want["ci_low"], want["ci_high"], want["verdict"])
    assert rel.lo <= 0.5 <= rel.hi and rel.verdict == "faster"
    assert s.relative(TIME, ("churn", 1), "jemalloc").verdict == "no difference"
    # Memory: footprint = peak - baseline RSS, so relative memory is about the allocator only.
    c = s.cell(("churn", 1), "glibc")
    r0 = c.ok[0]
    assert c.values(MEMORY)[0] == r0["peak_rss_bytes"] - r0["baseline_rss_bytes"]
    assert c.metric(MEMORY).median == _summary_cell(d, "churn", "glibc")["memory"]["median"]


def test_failed_baseline_and_fallback(tmp_path):
    d = make_run(tmp_path / "r", allocators=("glibc", "mimalloc"), workloads=("churn", "larson"),
                 reps=3, failures={("larson", "glibc", 1): [(None, "crashed", "SIGSEGV")]})
    s = Summary(load_run(d))
    m, counts = s.relative_matrix(TIME)
    assert np.isnan(m[1, 1]) and counts == [1, 1]
    assert s.relative(TIME, ("larson", 1), "mimalloc").reason == "baseline glibc failed"
    assert [c.allocator for c in s.failed_cells()] == ["glibc"]
    _, _, _, unjudged = s.verdicts(TIME, ("larson", 1))
    assert unjudged == [("mimalloc", "baseline glibc failed")]
    s2 = Summary(load_run(d), baseline="tcmalloc")
    assert s2.baseline == "glibc"
    assert "tcmalloc is not in this run" in s2.baseline_note


def test_module_imports_without_third_party():
    # The loader is the contract with the C++ side; it needs nothing beyond the standard library.
    assert "numpy" not in allocmark_results.__dict__


def test_plan_entries_may_be_objects(tmp_path):
    # The harness writes plan.workloads as objects ({"workload": ..., "threads": ...}).
    d = make_run(tmp_path / "r", workloads=("a", "b"), reps=1)
    meta = json.loads((d / "meta.json").read_text())
    meta["plan"]["workloads"] = [{"workload": "b", "threads": 1}, {"workload": "a", "threads": 1}]
    (d / "meta.json").write_text(json.dumps(meta))
    assert load_run(d).workloads() == ["b", "a"]


def test_readme_table_lists_exactly_the_schema_fields():
    """results/README.md documents results/result_fields.json field for field, type for type."""
    readme = (allocmark_results.FIELDS_FILE.parent / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)`(?: \(required\))? \| (\w+) \| (\w+) \|", readme, re.M)
    documented = {name: (typ, src) for name, typ, src in rows}
    expected = {n: (f["type"], f["source"]) for n, f in allocmark_results.FIELDS.items()}
    assert documented == expected


def test_known_field_of_the_wrong_type_is_named(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "results.jsonl").write_text(json.dumps(
        {"workload": "w", "allocator": "a", "status": "ok", "wall_ns": "fast"}) + "\n")
    with pytest.raises(allocmark_results.ResultsError, match=r"results.jsonl:1: field 'wall_ns' must be int"):
        allocmark_results.load_run(d)


def test_summary_rewritten_only_when_it_cannot_serve(tmp_path):
    bin_ = summary_file.allocmark_from_env()
    d = make_run(tmp_path / "r", reps=3)
    run = load_run(d)
    got = summary_file.obtain(run, "glibc", allocmark=bin_)
    assert got.level == FULL and got.notes == []       # current: left alone
    (d / "summary.json").unlink()
    got = summary_file.obtain(run, "glibc", allocmark=None)
    assert got.level == NONE and "summary.json is missing" in got.notes[0]
    assert "no allocmark binary is known" in got.notes[0]
    got = summary_file.obtain(run, "glibc", allocmark=bin_)
    assert got.level == FULL and "rewritten with `allocmark summarize`" in got.notes[0]
    assert (d / "summary.json").is_file()


def test_old_stale_and_broken_summaries(tmp_path):
    bin_ = summary_file.allocmark_from_env()
    d = make_run(tmp_path / "r", reps=3)
    downgrade_summary_to_schema_1(d)
    s = Summary(load_run(d))
    assert s.level == CELLS and "older allocmark (schema 1" in s.stats_notes[0]
    rel = s.relative(TIME, ("churn", 1), "mimalloc")
    assert np.isfinite(rel.value) and rel.lo is None and rel.verdict is None
    assert s.cell(("churn", 1), "glibc").metric(TIME).has_ci  # per-cell statistics still read
    assert s.noise_floor is None and s.precision is None
    # A line added after the summary was written: its counts no longer match.
    with open(d / "results.jsonl", "a") as f:
        f.write(json.dumps({"workload": "churn", "allocator": "glibc", "threads": 1, "rep": 9,
                            "status": "crashed"}) + "\n")
    assert "4 lines in results.jsonl, 3 lines" in summary_file.mismatch(
        summary_file.read(d), load_run(d).records)
    s = Summary(load_run(d))
    assert s.level == NONE and s.cell(("churn", 1), "glibc").stats is None
    assert np.isfinite(s.cell(("churn", 1), "glibc").median(TIME))  # medians only
    assert Summary(load_run(d), allocmark=bin_).level == FULL
    (d / "summary.json").write_text("{not json")
    s = Summary(load_run(d))
    assert s.level == NONE and "not readable JSON" in s.stats_notes[0]


def test_another_baseline(tmp_path):
    d = make_run(tmp_path / "r", allocators=("glibc", "mimalloc", "jemalloc"),
                 workloads=("churn", "larson"), reps=5, wall_ns=_exact)
    s = Summary(load_run(d), baseline="mimalloc")
    # No binary: plain ratios of summary.json's medians, with no interval and no verdict.
    assert s.level == CELLS and "not mimalloc" in s.stats_notes[0]
    rel = s.relative(TIME, ("churn", 1), "glibc")
    assert rel.value == pytest.approx(2.0) and rel.lo is None and rel.verdict is None
    assert s.verdicts(TIME, ("churn", 1))[:3] == ([], [], [])  # nothing ranked without verdicts
    s = Summary(load_run(d), baseline="mimalloc", allocmark=summary_file.allocmark_from_env())
    assert s.level == FULL and json.loads((d / "summary.json").read_text())["baseline"] == \
        "mimalloc"
    assert s.relative(TIME, ("churn", 1), "glibc").verdict == "slower"
