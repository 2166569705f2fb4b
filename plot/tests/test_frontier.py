"""The time-memory frontier charts: the Pareto rule on known points, the charts opening the
report, their text, and program cells (time metric wall_ns) drawn with their own unit."""
import json
import re


import report
from make_fixture import make_run
from report_charts import Point, pareto


def _svg_texts(path):
    return re.findall(r"<!-- (.*?) -->", path.read_text(encoding="utf-8"))


def test_pareto_known_points():
    pts = [Point("a", 1.0, 10.0, 0.9, 1.1, 9.0, 11.0),     # smallest
           Point("b", 2.0, 5.0, 1.9, 2.1, 4.5, 5.5),       # between
           Point("c", 4.0, 1.0, 3.9, 4.1, 0.9, 1.1),       # fastest
           Point("d", 3.0, 6.0, 2.9, 3.1, 5.6, 6.4),       # b beats it beyond the intervals
           Point("e", 2.05, 5.2, 1.95, 2.15, 4.6, 5.8),    # b beats it only within them
           Point("f", 1.0, 10.0)]                          # a tie with a: neither dominates
    front, clear = pareto(pts)
    assert front == {"a", "b", "c", "f"}
    assert clear == {"d"}
    # Without intervals nothing is dominated "clearly": it is not greyed.
    front, clear = pareto([Point("x", 1, 1), Point("y", 2, 2)])
    assert front == {"x"} and clear == set()


def test_frontier_opens_the_report(tmp_path):
    d = make_run(tmp_path / "run", allocators=("glibc", "mimalloc", "bump", "null"),
                 workloads=("churn", "larson"), reps=5, aa=True)
    report.build_report(d)
    page = (d / "report.html").read_text(encoding="utf-8")
    charts = page.split('id="charts"')[1]
    figures = re.findall(r'<figure id="([^"]+)"', charts)
    assert figures[:4] == ["frontier", "frontier_workloads", "heatmap_time", "heatmap_memory"]
    texts = _svg_texts(d / "plots" / "frontier.svg")
    assert "glibc (baseline)" in texts and "mimalloc" in texts and "bump" in texts
    # null (no allocation at all) and the A/A copy are not allocators to choose from.
    assert "null" not in texts and "glibc-aa" not in texts
    assert any("Pareto frontier" in t for t in texts)
    assert "time per event ÷ glibc (geometric mean)" in texts
    w = _svg_texts(d / "plots" / "frontier_workloads.svg")
    assert "churn" in w and "larson" in w and "time per event, ns" in w
    assert "peak memory footprint, MiB" in w


def test_program_cells_take_their_time_metric_from_summary(tmp_path):
    # A program cell: summary.json's time is wall_ns (the lead's program cells), in ns; the
    # chart must say wall time and pick a readable unit, never "per event".
    d = make_run(tmp_path / "run", allocators=("glibc", "mimalloc"), workloads=("redis",),
                 reps=5, wall_ns=lambda w, a, t, r: int((2.5e9 if a == "glibc" else 2e9)
                                                        * (1 + 0.01 * r)))
    lines = [json.loads(x) for x in (d / "results.jsonl").read_text().splitlines()]
    for r in lines:
        r["kind"] = "program"
    (d / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    data = json.loads((d / "summary.json").read_text())
    for c in data["cells"]:
        med = 2.5e9 if c["allocator"] == "glibc" else 2e9
        c["time"].update(metric="wall_ns", unit="ns", median=med * 1.02, ci_low=med,
                         ci_high=med * 1.04)
    (d / "summary.json").write_text(json.dumps(data))
    report.build_report(d, allocmark=None)
    w = _svg_texts(d / "plots" / "frontier_workloads.svg")
    assert "wall time, s" in w and not any("per event" in t for t in w)
    s = _svg_texts(d / "plots" / "frontier.svg")
    assert "wall time ÷ glibc (geometric mean)" in s


def test_no_data_says_why(tmp_path):
    fails = {(w, a, 1): [(None, "oom", "null")] for w in ("churn", "larson")
             for a in ("glibc", "mimalloc")}
    d = make_run(tmp_path / "r", allocators=("glibc", "mimalloc"), reps=2, failures=fails)
    report.build_report(d)
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "Time against memory over the suite" in page
    assert "Not drawn: no allocator has both a time and a memory ratio" in page
