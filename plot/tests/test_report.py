"""plot/report.py end to end on fixture runs: files, escaping, notes, edge cases, and the
statistics taken from summary.json (written by the real `allocmark summarize`)."""
import json
import re
import xml.etree.ElementTree as ET

import pytest

import report
from make_fixture import downgrade_summary_to_schema_1, make_run

NO_BIN = {"ALLOCMARK_BIN": None}  # run the tool as if no allocmark binary were known

ALL = ["frontier", "frontier_workloads", "heatmap_time", "heatmap_memory", "relative_time",
       "peak_memory", "fragmentation", "memory_timeline", "latency"]
EVIL = "<script>alert(1)</script>"


def _png_ok(path):
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


@pytest.fixture
def mixed_run(tmp_path):
    """Three allocators, a hostile workload name, a fully crashed cell and a partial failure."""
    return make_run(
        tmp_path / "run", allocators=("glibc", "mimalloc", "jemalloc"),
        workloads=("churn", EVIL, "cost$x$--y"), reps=5,
        failures={("churn", "jemalloc", 1): [(None, "crashed", "<b>SIGSEGV</b> in free()")],
                  ("cost$x$--y", "mimalloc", 1): [(2, "timeout", "no progress for 60 s")]})


def test_report_files_and_escaping(mixed_run, tool):
    res = tool("report.py", mixed_run)
    assert res.returncode == 0, res.stderr
    assert "report.html" in res.stdout
    page = (mixed_run / "report.html").read_text(encoding="utf-8")
    for stem in ALL:
        svg = mixed_run / "plots" / f"{stem}.svg"
        ET.parse(svg)  # well-formed XML
        assert "<script" not in svg.read_text(encoding="utf-8")
        assert _png_ok(mixed_run / "plots" / f"{stem}.png"), stem
        assert f'id="{stem}"' in page
    assert page.count('src="data:image/svg+xml;base64,') == len(ALL)
    # Names from files are text, never markup; the report itself has no script at all.
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;SIGSEGV&lt;/b&gt; in free()" in page
    assert "cost$x$--y" in page
    # Single thread count: the scaling chart is absent and the report says why.
    assert "Thread scaling" in page and "one thread count per workload" in page
    assert not (mixed_run / "plots" / "thread_scaling.svg").exists()


def test_report_lists_failures_and_machine(mixed_run, tool):
    assert tool("report.py", mixed_run).returncode == 0
    page = (mixed_run / "report.html").read_text(encoding="utf-8")
    problems = page.split('id="problems"')[1].split('id="machine"')[0]
    assert "crashed ×5" in problems and "timeout ×1" in problems
    assert "no progress for 60 s" in problems
    assert "2 of 9 cells have failed repetitions" in page
    machine = page.split('id="machine"')[1]
    assert "AMD EPYC 7B13" in machine and "64.0 GiB" in machine
    assert "/usr/lib/x86_64-linux-gnu/libmimalloc.so" in machine
    assert "order-statistic" in page and "bootstrap" in page  # the CI method is stated


def _exact(w, a, t, rep):
    base = {"glibc": 100e6, "mimalloc": {"churn": 50e6, "larson": 200e6}[w], "jemalloc": 400e6}
    return int(base[a] * (1 + 0.01 * rep))


def _svg_texts(path):
    """The text of a chart: matplotlib writes each label as a comment next to its glyph paths."""
    return re.findall(r"<!-- (.*?) -->", path.read_text(encoding="utf-8"))


def _cells(row):
    return re.findall(r"<td[^>]*>(.*?)</td>", row)


def _section(page, start, end):
    return page.split(f'id="{start}"')[1].split(f'id="{end}"')[0]


def _median_rows(page):
    """The medians table as {(workload, allocator): [cell texts]}."""
    rows = [_cells(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>",
                                          _section(page, "medians", "noise"))[1:]]
    return {(r[0], re.sub(r"<[^>]+>", "", r[2])): r for r in rows}


def _num(v):
    """The report's number format (report_html._num)."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def _summary(d):
    data = json.loads((d / "summary.json").read_text())
    return data, {(c["workload"], c["allocator"]): c for c in data["cells"]}


def test_heatmap_values(tmp_path, tool):
    d = make_run(tmp_path / "r", allocators=("glibc", "mimalloc", "jemalloc"),
                 workloads=("churn", "larson"), reps=5, wall_ns=_exact)
    assert tool("report.py", d).returncode == 0
    texts = _svg_texts(d / "plots" / "heatmap_time.svg")
    # Cells row by row (allocator), columns churn, larson, geomean; geomean(0.5, 2) = 1.
    start = texts.index("jemalloc") + 1
    assert texts[start:start + 9] == ["1.00", "1.00", "1.00", "0.50", "2.00", "1.00",
                                      "4.00", "4.00", "4.00"]
    page = (d / "report.html").read_text(encoding="utf-8")
    rows = _median_rows(page)
    mim = rows[("churn", "mimalloc")]
    value, lo, hi = map(float, re.match(r"([\d.]+) \[([\d.]+), ([\d.]+)\]", mim[6]).groups())
    assert value == 0.5 and mim[7] == "faster"
    # Bootstrap medians are sample values, so the bounds lie within 0.5 * [1/1.04, 1.04].
    assert 0.5 / 1.04 - 1e-3 <= lo < 0.5 < hi <= 0.5 * 1.04 + 1e-3
    assert rows[("larson", "mimalloc")][6].startswith("2 [")
    # 510 ns per event (reps at 1.00, 1.01 .. 1.04 x 100 ms over 200000 events): the range of
    # 5 repetitions, marked with a dagger, its coverage (93.75 %) stated.
    assert rows[("churn", "glibc")][4] == "510 [500, 520]†"
    assert "93.75% with 5 repetitions" in page


def test_baseline_option_and_fallback(tmp_path, tool):
    # Without glibc the run's baseline (summary.json's) is its first allocator.
    d = make_run(tmp_path / "r", allocators=("mimalloc", "jemalloc"), reps=2)
    assert tool("report.py", d).returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "requested baseline" not in page and "relative to mimalloc" in page
    # Another baseline: summary.json is rewritten for it, as `allocmark report --baseline` does.
    assert tool("report.py", d, "--baseline", "jemalloc").returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "requested baseline" not in page and "Baseline: <b>jemalloc</b>" in page
    assert json.loads((d / "summary.json").read_text())["baseline"] == "jemalloc"
    assert "takes its ratios against mimalloc, not jemalloc: rewritten" in page
    assert tool("report.py", d, "--baseline", "glibc").returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "requested baseline glibc is not in this run" in page
    assert "Baseline: <b>mimalloc</b>" in page


def test_single_repetition_says_no_interval(tmp_path, tool):
    d = make_run(tmp_path / "r", reps=1)
    assert tool("report.py", d).returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "single successful repetition, so no confidence interval" in page
    rows = _median_rows(page)
    assert rows and not any("[" in c for r in rows.values() for c in r)  # no interval at all


def test_only_failed_cells(tmp_path, tool):
    fails = {(w, a, 1): [(None, "oom", "allocator returned null")]
             for w in ("churn", "larson") for a in ("glibc", "mimalloc")}
    d = make_run(tmp_path / "r", allocators=("glibc", "mimalloc"), reps=2, failures=fails)
    res = tool("report.py", d)
    assert res.returncode == 0, res.stderr
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "No repetition succeeded" in page
    assert page.count("Not drawn:") == 10
    assert page.count("allocator returned null") == 4
    assert "data:image" not in page


def test_one_allocator_and_missing_optional_fields(tmp_path, tool):
    d = make_run(tmp_path / "r", allocators=("jemalloc",), reps=3, timeline=False,
                 latency=False, write_meta=False)
    res = tool("report.py", d)
    assert res.returncode == 0, res.stderr
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "meta.json is missing" in page
    assert "no successful repetition carries a timeline" in page
    assert "no successful repetition carries latency" in page
    assert "relative to jemalloc" in page
    assert (d / "plots" / "heatmap_time.svg").exists()


def test_thread_sweep_draws_scaling(tmp_path, tool):
    d = make_run(tmp_path / "r", allocators=("glibc", "tcmalloc"), threads=(1, 2, 4), reps=3)
    assert tool("report.py", d).returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    assert (d / "plots" / "thread_scaling.svg").exists()
    assert _png_ok(d / "plots" / "thread_scaling.png")
    assert "Not drawn" not in page.split("Thread scaling")[1].split("</figure>")[0]
    # Several thread counts: chart labels carry them.
    assert "churn (2t)" in _svg_texts(d / "plots" / "heatmap_time.svg")


def test_same_input_same_svg(tmp_path):
    d = make_run(tmp_path / "r", reps=3)
    report.build_report(d)
    first = (d / "plots" / "heatmap_time.svg").read_bytes()
    report.build_report(d)
    assert (d / "plots" / "heatmap_time.svg").read_bytes() == first


def test_bad_input_is_one_line_and_status_2(tmp_path, tool):
    res = tool("report.py", tmp_path / "absent")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "not a directory" in res.stderr


def test_noisy_cells_are_flagged(tmp_path, tool):
    def noisy(w, a, t, rep):
        return int(100e6 * (1.0, 1.3, 1.0, 0.9, 1.1)[rep] if a == "mimalloc" else 100e6 + rep)

    d = make_run(tmp_path / "r", allocators=("glibc", "mimalloc"), reps=5, wall_ns=noisy)
    assert tool("report.py", d).returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    problems = _section(page, "problems", "machine")
    assert problems.count("<td>noisy</td>") == 2  # mimalloc on both workloads
    assert "time noisy: CV 14.3 % &gt; 5.0 %" in problems  # summary.json's own words
    assert "2 of 4 cells are noisy" in page


def _spread(w, a, t, rep):
    """Per allocator a shape of 5 or 7 repetitions around 100 ms (a known noisy verdict)."""
    shapes = {
        "glibc": (1.0, 1.001, 1.002, 0.999, 0.998, 1.0, 1.001),
        # Range 11 % (the old plot rule, range > 10 %, called this noisy) but CV 4.8 %:
        # summary.json says not noisy, and the report must agree with it.
        "mimalloc": (1.0, 1.0, 1.0, 1.0, 1.11, 1.0, 1.0),
        "jemalloc": (1.0, 1.3, 1.0, 0.9, 1.1, 1.2, 0.8),  # CV about 16 %: noisy
    }
    return int(100e6 * shapes[a][rep])


@pytest.mark.parametrize("reps", [5, 7])
def test_interval_and_noisy_flag_are_summary_jsons(tmp_path, tool, reps):
    d = make_run(tmp_path / "r", allocators=("glibc", "mimalloc", "jemalloc"), reps=reps,
                 wall_ns=_spread)
    assert tool("report.py", d).returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    rows = _median_rows(page)
    _, cells = _summary(d)
    assert len(rows) == len(cells) == 6
    for key, c in cells.items():
        t = c["time"]
        below = t["ci_coverage"] < 0.95
        assert below == (reps == 5)
        want = f"{_num(t['median'])} [{_num(t['ci_low'])}, {_num(t['ci_high'])}]"
        assert rows[key][4] == want + ("†" if below else ""), key
        assert ("noisy" in rows[key][12]) == (t["noisy"] or c["memory"]["noisy"]), key
    assert "noisy" not in rows[("churn", "mimalloc")][12]
    assert "noisy" in rows[("churn", "jemalloc")][12]
    # Read, not recomputed: a flag set by hand in summary.json shows in the report.
    data, _ = _summary(d)
    for c in data["cells"]:
        if c["allocator"] == "mimalloc":
            c["time"]["noisy"] = True
            c["time"]["warnings"] = ["time noisy: planted by the test"]
    (d / "summary.json").write_text(json.dumps(data))
    assert tool("report.py", d).returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "noisy" in _median_rows(page)[("churn", "mimalloc")][12]
    assert "planted by the test" in _section(page, "problems", "machine")


def _aa_shapes(w, a, t, rep):
    # glibc-aa scatters by ±10 %, which sets a noise floor of about ±10 %; mimalloc is 3 %
    # faster with a tight interval that excludes 1, yet within that floor: "no difference".
    if a == "glibc-aa":
        return int(100e6 * (0.90, 1.10, 1.0, 0.94, 1.06)[rep])
    f = {"glibc": 1.0, "mimalloc": 0.97, "jemalloc": 0.5, "tcmalloc": 0.8}[a]
    return int(100e6 * f * (1 + 0.002 * rep))


def test_no_difference_is_never_ranked(tmp_path, tool):
    d = make_run(tmp_path / "r", allocators=("glibc", "mimalloc", "jemalloc", "tcmalloc"),
                 reps=5, aa=True, wall_ns=_aa_shapes)
    data, cells = _summary(d)
    vs = cells[("churn", "mimalloc")]["vs_baseline"]["time"]
    # The premise: by its ratio alone mimalloc would rank as faster.
    assert vs["ratio"] < 1 and vs["ci_high"] < 1 and vs["verdict"] == "no difference"
    assert tool("report.py", d).returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    verdicts = _section(page, "verdicts", "medians")
    time_table = verdicts.split("<h3>Peak memory")[0]
    churn = _cells(re.search(r"<tr><td>churn</td>.*?</tr>", time_table).group(0))
    assert churn[1] == "jemalloc ×0.5, tcmalloc ×0.8"   # faster, best first
    assert churn[2] == "mimalloc, glibc-aa"              # no difference: plan order, no values
    assert "mimalloc" not in churn[1] + churn[3]
    assert _median_rows(page)[("churn", "mimalloc")][7] == "no difference"
    # The heatmap leaves it uncoloured and marks it ~ (its mean too: nothing there differs).
    texts = _svg_texts(d / "plots" / "heatmap_time.svg")
    start = texts.index("glibc-aa") + 1  # the cells follow the row labels, row by row
    assert texts[start:start + 12] == ["1.00", "1.00", "1.00", "~0.97", "~0.97", "~0.97",
                                       "0.50", "0.50", "0.50", "0.80", "0.80", "0.80"]
    # The noise floor is shown as summary.json states it.
    floor = data["noise_floor"]["time"]
    assert f"noise floor (A/A, glibc-aa): time ±{floor * 100:.1f}%" in page
    assert "A/A copy of glibc" in _median_rows(page)[("churn", "glibc-aa")][12]


def test_precision_per_cell(tmp_path, tool):
    def shapes(w, a, t, rep):
        tight = 1 + 0.001 * rep
        loose = (1.0, 1.3, 0.8, 1.2, 0.9, 1.25, 0.85, 1.1)[rep]
        return int(100e6 * (loose if a == "jemalloc" else tight))

    d = make_run(tmp_path / "r", allocators=("glibc", "jemalloc"), reps=8, precision=0.05,
                 max_reps=8, wall_ns=shapes)
    assert tool("report.py", d).returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    rows = _median_rows(page)
    _, cells = _summary(d)
    assert cells[("churn", "glibc")]["precision"]["reached"] is True
    assert rows[("churn", "glibc")][11].endswith("% reached")
    assert rows[("churn", "jemalloc")][11].endswith("not reached: max reps 8 reached")
    assert "<b>2 of 4 cells</b> reached it" in _section(page, "precision", "problems")
    assert "precision ±5% reached by 2 of 4 cells" in page


def test_old_run_without_vs_baseline_renders(tmp_path, tool):
    d = make_run(tmp_path / "r", allocators=("glibc", "mimalloc", "jemalloc"),
                 workloads=("churn", "larson"), reps=5, wall_ns=_exact)
    _, cells = _summary(d)
    downgrade_summary_to_schema_1(d)
    res = tool("report.py", d, env=NO_BIN)
    assert res.returncode == 0, res.stderr
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "older allocmark (schema 1" in page and "no allocmark binary is known" in page
    rows = _median_rows(page)
    assert rows[("churn", "glibc")][4] == "510 [500, 520]†"   # per-cell figures still read
    assert rows[("churn", "mimalloc")][6] == "0.5" and rows[("churn", "mimalloc")][7] == "–"
    assert "No verdicts" in _section(page, "verdicts", "medians")
    assert (d / "plots" / "heatmap_time.svg").exists()
    # With a binary, summary.json is brought up to date first and the verdicts appear.
    assert tool("report.py", d).returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    assert json.loads((d / "summary.json").read_text())["schema_version"] == 2
    assert _median_rows(page)[("churn", "mimalloc")][7] == "faster"


def test_run_without_summary_shows_medians_only(tmp_path, tool):
    d = make_run(tmp_path / "r", reps=5, aa=True, summary=False)
    res = tool("report.py", d, env=NO_BIN)
    assert res.returncode == 0, res.stderr
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "summary.json is missing" in page and "Statistics are missing" in page
    rows = _median_rows(page)
    assert rows and all(re.fullmatch(r"[\d.,]+", r[4]) for r in rows.values())  # medians only
    assert "No verdicts" in page and "which cells are noisy is not known" in page.lower()
    assert not (d / "summary.json").exists()
    assert tool("report.py", d).returncode == 0  # ALLOCMARK_BIN known: summarize first
    assert (d / "summary.json").exists()
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "rewritten with `allocmark summarize`" in page and "noise floor (A/A" in page


def test_timeline_axis_stops_short_of_an_outlier(tmp_path, tool):
    # The fixture's bump allocator holds 16x live bytes on every fourth workload ("d").
    d = make_run(tmp_path / "r", allocators=("glibc", "mimalloc", "jemalloc", "bump"),
                 workloads=("a", "b", "c", "d"), reps=2)
    assert tool("report.py", d).returncode == 0
    texts = _svg_texts(d / "plots" / "memory_timeline.svg")
    flagged = [t for t in texts if "↑ peak" in t]
    assert len(flagged) == 1 and flagged[0].startswith("bump ↑ peak")


def test_malformed_summary_fields_never_crash(tmp_path, tool):
    d = make_run(tmp_path / "r", reps=3, aa=True)
    data = json.loads((d / "summary.json").read_text())
    data.update(policy=[], methods={"odd": 1},
                noise_floor={"allocator": "glibc-aa", "time": "x", "groups": 5},
                precision={"target": "x", "reached": None})
    for c in data["cells"]:
        c["time"] = {"median": "x", "ci_low": [], "noisy": "yes", "outliers": "all"}
        c["memory"] = None
        c["vs_baseline"] = {"time": "bad", "memory": {"ratio": "x", "verdict": 3}}
        c["precision"] = {"half_width": "x", "target": 0.05}
    (d / "summary.json").write_text(json.dumps(data))
    res = tool("report.py", d, env=NO_BIN)
    assert res.returncode == 0, res.stderr
    assert "Medians with their intervals" in (d / "report.html").read_text(encoding="utf-8")


def test_harness_share_is_null_over_the_baseline(tmp_path, tool):
    """The null allocator's ratio to the baseline per workload, and their geometric mean."""
    d = make_run(tmp_path / "r", allocators=("glibc", "null"), reps=3)
    res = tool("report.py", d)
    assert res.returncode == 0, res.stderr
    page = (d / "report.html").read_text(encoding="utf-8")
    section = page[page.index('id="harness"'):page.index('id="precision"')]
    summary = json.loads((d / "summary.json").read_text())
    ratios = [c["vs_baseline"]["time"]["ratio"] for c in summary["cells"]
              if c["allocator"] == "null"]
    assert len(ratios) == 2
    gmean = (ratios[0] * ratios[1]) ** 0.5
    assert f"<b>{gmean * 100:.1f}%</b>" in section
    without = make_run(tmp_path / "s", allocators=("glibc", "mimalloc"), reps=3)
    assert tool("report.py", without).returncode == 0
    page = (without / "report.html").read_text(encoding="utf-8")
    assert "Not measured: this run has no <code>null</code>" in page
