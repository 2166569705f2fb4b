"""The report in headless Chromium: every image loads, the page fetches nothing from the
network, names show as text, and a full-page screenshot is kept as a test artefact.
Set ALLOCMARK_TEST_ARTIFACTS=DIR to also copy the screenshot there.
"""
import os
import re
import shutil

import pytest

import headless
import report
from make_fixture import make_run

pytestmark = pytest.mark.skipif(headless.find_chromium() is None,
                                reason="chromium is not installed (Debian: apt-get install "
                                       "chromium)")

EVIL = "<script>alert(1)</script>"
# What a page would need to fetch anything: a URL with a scheme or a protocol-relative one.
_REMOTE = re.compile(r"""(?:src|href|srcset|poster|action|data)\s*=\s*["']?\s*(?:[a-z]+:)?//"""
                     r"""|url\(\s*["']?\s*(?:[a-z]+:)?//|@import""", re.I)


def test_checker_catches_an_external_fetch(tmp_path):
    # The check below must be able to fail: a page with remote references is caught.
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><link rel="stylesheet" href="https://fonts.example/x.css">'
                    '<img src="http://allocmark-probe.invalid/x.png">')
    got = headless.load(page.as_uri(), tmp_path / "profile")
    assert "http://allocmark-probe.invalid/x.png" in got["external"]
    assert "https://fonts.example/x.css" in got["external"]
    assert got["images"][0]["width"] == 0  # and the image is seen as broken
    assert _REMOTE.search(page.read_text())


def test_report_in_headless_chromium(tmp_path):
    d = make_run(tmp_path / "run", allocators=("glibc", "mimalloc", "tcmalloc", "jemalloc", "bump"),
                 workloads=("churn", "larson", EVIL), threads=(1, 4), reps=5, aa=True,
                 failures={("larson", "bump", 4): [(None, "crashed", "SIGSEGV")]})
    report.build_report(d)
    html = (d / "report.html").read_text(encoding="utf-8")
    assert not _REMOTE.search(html), _REMOTE.search(html).group(0)
    shot = tmp_path / "report.png"
    got = headless.load((d / "report.html").as_uri(), tmp_path / "profile", screenshot=shot)
    assert got["external"] == [], got["external"]
    assert got["failed"] == []
    n_img = html.count("<img ")
    assert n_img == 10  # every chart, thread scaling included
    assert len(got["images"]) == n_img
    broken = [i for i in got["images"] if not (i["complete"] and i["width"] > 0)]
    assert broken == []
    # The time-memory frontier opens the report: the first charts on the page, drawn at a
    # readable size, above the heatmaps.
    by_top = sorted(got["images"], key=lambda i: i["top"])
    assert [i["alt"] for i in by_top[:3]] == [
        "Time against memory over the suite: the Pareto frontier",
        "Time against memory per workload", "Summary: time per event relative to glibc"]
    assert by_top[0]["shown_width"] > 600 and by_top[0]["top"] < by_top[2]["top"]
    assert got["scripts"] == 0
    assert EVIL in got["text"]  # the hostile name is shown as text
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 100_000
    artefacts = os.environ.get("ALLOCMARK_TEST_ARTIFACTS")
    if artefacts:
        os.makedirs(artefacts, exist_ok=True)
        shutil.copy(shot, os.path.join(artefacts, "report_screenshot.png"))
    print(f"screenshot: {shot}")
