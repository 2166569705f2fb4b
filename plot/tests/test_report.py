"""plot/report.py end to end on fixture runs: files, escaping, notes, edge cases."""
import re
import xml.etree.ElementTree as ET

import pytest

import report
from make_fixture import make_run

ALL = ["heatmap_time", "heatmap_memory", "relative_time", "peak_memory", "fragmentation",
       "memory_timeline", "latency"]
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
    medians = page.split('id="medians"')[1].split('id="problems"')[0]
    rows = [_cells(r) for r in re.findall(r"<tr>(.*?)</tr>", medians)[1:]]
    mim = [r for r in rows if r[2].endswith("mimalloc")]
    value, lo, hi = map(float, re.match(r"([\d.]+) \[([\d.]+), ([\d.]+)\]", mim[0][5]).groups())
    assert value == 0.5
    # Bootstrap medians are sample values, so the bounds lie within 0.5 * [1/1.04, 1.04].
    assert 0.5 / 1.04 - 1e-3 <= lo < 0.5 < hi <= 0.5 * 1.04 + 1e-3
    assert mim[1][5].startswith("2 [")
    # Median wall time 102 ms (reps at 1.00, 1.01 .. 1.04 x 100 ms), range shown with a dagger.
    glibc = [r for r in rows if r[2].endswith("glibc")][0]
    assert glibc[4] == "102 [100, 104]†"


def test_baseline_option_and_fallback(tmp_path, tool):
    d = make_run(tmp_path / "r", allocators=("mimalloc", "jemalloc"), reps=2)
    assert tool("report.py", d).returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "requested baseline glibc is not in this run" in page
    assert "relative to mimalloc" in page
    assert tool("report.py", d, "--baseline", "jemalloc").returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "requested baseline" not in page and "Baseline: <b>jemalloc</b>" in page


def test_single_repetition_says_no_interval(tmp_path, tool):
    d = make_run(tmp_path / "r", reps=1)
    assert tool("report.py", d).returncode == 0
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "single successful repetition, so no confidence interval" in page
    assert "[" not in page.split('id="medians"')[1].split('id="problems"')[0].replace(
        "[95%", "")  # no interval anywhere in the medians table


def test_only_failed_cells(tmp_path, tool):
    fails = {(w, a, 1): [(None, "oom", "allocator returned null")]
             for w in ("churn", "larson") for a in ("glibc", "mimalloc")}
    d = make_run(tmp_path / "r", allocators=("glibc", "mimalloc"), reps=2, failures=fails)
    res = tool("report.py", d)
    assert res.returncode == 0, res.stderr
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "No repetition succeeded" in page
    assert page.count("Not drawn:") == 8
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
    problems = page.split('id="problems"')[1].split('id="machine"')[0]
    assert problems.count("<td>noisy</td>") == 2  # mimalloc on both workloads
    assert "span 40.0% of their median" in problems
    assert "2 of 4 cells are noisy" in page


def test_timeline_axis_stops_short_of_an_outlier(tmp_path, tool):
    # The fixture's bump allocator holds 16x live bytes on every fourth workload ("d").
    d = make_run(tmp_path / "r", allocators=("glibc", "mimalloc", "jemalloc", "bump"),
                 workloads=("a", "b", "c", "d"), reps=2)
    assert tool("report.py", d).returncode == 0
    texts = _svg_texts(d / "plots" / "memory_timeline.svg")
    flagged = [t for t in texts if "↑ peak" in t]
    assert len(flagged) == 1 and flagged[0].startswith("bump ↑ peak")
