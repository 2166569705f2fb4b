"""The sweep charts (`allocmark run --sweep NAME:KEY=V1,V2`): grouping of meta.json's variants,
the order and scale of the swept values, and the chart placed in the report after the frontier
and the heatmaps (absent from a run without a sweep)."""
import json
import re

import report
import report_sweep
from make_fixture import make_run, summarize
from report_sweep import axis_scale, sweep_groups

KEY = "MIMALLOC_ARENA_EAGER_COMMIT"


def _variant(base, key, value):
    name = f"{base}-{key}-{re.sub(r'[^A-Za-z0-9_.-]', '_', value)}"
    return name, {"kind": "preload", "path": f"/usr/lib/lib{base}.so",
                  "description": f"{base} with {key}={value}", "env": {key: value},
                  "sweep": {"base": base, "key": key, "value": value}}


def _sweep_run(path, values=("0", "1", "2"), base_in_run=True, workloads=("churn", "larson")):
    variants = [_variant("mimalloc", KEY, v) for v in values]
    allocators = ["glibc"] + (["mimalloc"] if base_in_run else []) + [n for n, _ in variants]
    d = make_run(path, allocators=allocators, workloads=workloads, reps=5, summary=False)
    meta = json.loads((d / "meta.json").read_text())
    for name, entry in variants:
        meta["allocators"][name] = entry
    # The harness may write the table with sorted keys: the plan keeps the order given.
    meta["allocators"] = dict(sorted(meta["allocators"].items()))
    (d / "meta.json").write_text(json.dumps(meta, indent=2))
    lines = [json.loads(x) for x in (d / "results.jsonl").read_text().splitlines()]
    for r in lines:
        env = meta["allocators"][r["allocator"]].get("env")
        if env:
            r["alloc_env"] = env
    (d / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    summarize(d)
    return d


def _meta(entries):
    return {"allocators": dict(entries)}


def test_grouping_and_order_of_values():
    entries = [("glibc", {"kind": "preload"}), ("mimalloc", {"kind": "preload"})]
    entries += [_variant("mimalloc", KEY, v) for v in ("10", "2", "1")]
    entries += [_variant("jemalloc", "MALLOC_CONF", v)
                for v in ("narenas:1", "dirty_decay_ms:0", "background_thread:true")]
    entries += [_variant("mimalloc", "MIMALLOC_PAGE_RESET", v) for v in ("1", "0")]
    meta = _meta(sorted(entries))  # keys sorted, as nlohmann::json writes them
    order = [n for n, _ in entries]  # the run's (plan) order: the order given
    groups = sweep_groups(meta, order)
    assert [(g.base, g.key) for g in groups] == [
        ("mimalloc", KEY), ("jemalloc", "MALLOC_CONF"), ("mimalloc", "MIMALLOC_PAGE_RESET")]
    eager, conf, reset = groups
    # Numbers are sorted by value (not as strings: 10 after 2) on a numeric axis.
    assert eager.values == ("1", "2", "10") and eager.scale == "linear"
    assert eager.names == tuple(f"mimalloc-{KEY}-{v}" for v in ("1", "2", "10"))
    assert eager.positions() == [1.0, 2.0, 10.0]
    # Anything else is categorical, in the order given (not the table's sorted order).
    assert conf.scale == "category"
    assert conf.values == ("narenas:1", "dirty_decay_ms:0", "background_thread:true")
    assert conf.names[0] == "jemalloc-MALLOC_CONF-narenas_1"
    assert conf.positions() == [0.0, 1.0, 2.0]
    assert reset.values == ("0", "1")
    assert len({g.stem for g in groups}) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", g.stem) for g in groups)
    # No sweep entries (or no table at all): no sweep.
    assert sweep_groups(_meta(entries[:2]), order) == []
    assert sweep_groups({}, ()) == []
    # Without a plan order the table's order is used.
    assert sweep_groups(meta)[0].key in (KEY, "MALLOC_CONF", "MIMALLOC_PAGE_RESET")


def test_axis_scale():
    assert axis_scale(["0", "1", "2"]) == "linear"
    assert axis_scale(["1", "10", "100"]) == "linear"          # two decades: not more
    assert axis_scale(["1", "64", "4096", "1e6"]) == "log"
    assert axis_scale(["0", "1", "1000"]) == "symlog"          # 0 has no place on a log axis
    assert axis_scale(["-1.5", ".5", "+2"]) == "linear"
    assert axis_scale(["1", "2", "auto"]) == "category"
    assert axis_scale(["0x10", "1"]) == "category"
    assert axis_scale(["inf", "1"]) == "category"
    assert axis_scale([]) == "category"


def test_value_from_env_when_sweep_has_none():
    name, entry = _variant("mimalloc", KEY, "4")
    del entry["sweep"]["value"]
    g = sweep_groups(_meta([(name, entry)]))
    assert g[0].values == ("4",)


def _figures(page):
    return re.findall(r'<figure id="([^"]+)"', page.split('id="charts"')[1])


def test_sweep_chart_in_report(tmp_path):
    d = _sweep_run(tmp_path / "run")
    report.build_report(d)
    stem = f"sweep-mimalloc-{KEY}"
    for ext in ("svg", "png"):
        assert (d / "plots" / f"{stem}.{ext}").stat().st_size > 2000
    page = (d / "report.html").read_text(encoding="utf-8")
    assert f'href="plots/{stem}.svg"' in page and f'href="plots/{stem}.png"' in page
    # After the frontier and the heatmaps, before the per-workload bars.
    figs = _figures(page)
    assert figs[:5] == ["frontier", "frontier_workloads", "heatmap_time", "heatmap_memory", stem]
    texts = re.findall(r"<!-- (.*?) -->", (d / "plots" / f"{stem}.svg").read_text())
    for want in ("0", "1", "2", KEY, "churn", "larson", "geometric mean", "mimalloc default",
                 "glibc = 1", "time per event ÷ glibc", "peak memory footprint ÷ glibc"):
        assert want in texts, want
    assert f"Sweep of {KEY} on mimalloc" in page


def test_no_default_line_without_the_plain_base(tmp_path):
    d = _sweep_run(tmp_path / "run", values=("1", "100", "10000"), base_in_run=False,
                   workloads=("churn",))
    report.build_report(d, jobs=1)
    stem = f"sweep-mimalloc-{KEY}"
    texts = re.findall(r"<!-- (.*?) -->", (d / "plots" / f"{stem}.svg").read_text())
    assert "mimalloc default" not in texts
    assert f"{KEY} (log scale)" in texts
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "is not in this run, so no reference is drawn" in page


def test_no_sweep_no_section(tmp_path):
    d = make_run(tmp_path / "run", allocators=("glibc", "mimalloc"), workloads=("churn",))
    report.build_report(d)
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "sweep-" not in page and "Sweep of" not in page
    assert not list((d / "plots").glob("sweep-*"))
    assert report_sweep.tasks(report.Summary(report.allocmark_results.load_run(d))) == []


def test_medians_when_no_ratio_exists(tmp_path):
    # The baseline failed wherever the variants ran: no ratio anywhere, so each workload's
    # medians are drawn in their own unit, with categorical values in the order given.
    values = ("large", "small", "auto")
    names = [_variant("mimalloc", "MIMALLOC_MODE", v)[0] for v in values]
    crash = [(None, "crashed", "SIGSEGV")]
    d = make_run(tmp_path / "run", allocators=["glibc", "mimalloc"] + names,
                 workloads=("churn", "larson"), reps=5, summary=False,
                 failures={**{("churn", "glibc", 1): crash},
                           **{("larson", a, 1): crash for a in ["mimalloc"] + names}})
    meta = json.loads((d / "meta.json").read_text())
    for v in values:
        name, entry = _variant("mimalloc", "MIMALLOC_MODE", v)
        meta["allocators"][name] = entry
    (d / "meta.json").write_text(json.dumps(meta))
    summarize(d)
    report.build_report(d, jobs=1)
    stem = "sweep-mimalloc-MIMALLOC_MODE"
    texts = re.findall(r"<!-- (.*?) -->", (d / "plots" / f"{stem}.svg").read_text())
    assert [t for t in texts if t in values] == list(values) * 2  # x labels, both panels
    assert "peak memory footprint, MiB" in texts and "time per event, ns" in texts
    assert "geometric mean" not in texts and "larson" not in texts  # no line, no entry
    page = (d / "report.html").read_text(encoding="utf-8")
    assert "No ratio to a baseline is available" in page
