"""Allocator variants: NAME=BUILTIN, --alloc-env and --sweep, recorded in every line and in
meta.json, reaching the allocator's workers only."""
import json

import pytest

from conftest import allocmark, read_lines

FAST = ("--reps", "1", "--warmup", "0", "--precision", "off", "--no-aa", "--no-report")


def available(name):
    listing = allocmark("list", "allocators", check=True).stdout
    return any(l.split()[:3] == [name, "preload", "yes"] for l in listing.splitlines())


def test_variant_and_sweep_are_recorded(tmp_path, small_churn):
    if not available("mimalloc"):
        pytest.skip("mimalloc is not installed")
    run = tmp_path / "run"
    allocmark("run", "--trace", small_churn, *FAST, "--allocators", "glibc,mimalloc",
              "--allocator", "mi-eager=mimalloc",
              "--alloc-env", "mi-eager:MIMALLOC_ARENA_EAGER_COMMIT=1",
              "--sweep", "mimalloc:MIMALLOC_PURGE_DELAY=0,10,1000", "--out", run, check=True)
    meta = json.loads((run / "meta.json").read_text())["allocators"]
    assert meta["mi-eager"]["env"] == {"MIMALLOC_ARENA_EAGER_COMMIT": "1"}
    assert meta["mi-eager"]["path"] == meta["mimalloc"]["path"]
    for value in ("0", "10", "1000"):
        name = f"mimalloc-MIMALLOC_PURGE_DELAY-{value}"
        assert meta[name]["sweep"] == {"base": "mimalloc", "key": "MIMALLOC_PURGE_DELAY",
                                       "value": value}
    lines = {l["allocator"]: l for l in read_lines(run)}
    assert len(lines) == 6 and all(l["status"] == "ok" for l in lines.values())
    assert lines["mi-eager"]["alloc_env"] == {"MIMALLOC_ARENA_EAGER_COMMIT": "1"}
    assert lines["mimalloc-MIMALLOC_PURGE_DELAY-10"]["alloc_env"] == {"MIMALLOC_PURGE_DELAY": "10"}
    assert "alloc_env" not in lines["mimalloc"] and "alloc_env" not in lines["glibc"]


def test_environment_reaches_only_that_allocators_program(tmp_path):
    """A program printing the variable: set for the variant, absent for its base."""
    run = tmp_path / "run"
    allocmark("run", "--program", "env=sh -c 'echo ${AMK_PROBE:-unset}'", "--allocators", "glibc",
              "--allocator", "g2=glibc", "--alloc-env", "g2:AMK_PROBE=seen", *FAST, "--out", run,
              check=True)
    outputs = {p.name: p.read_text().strip() for p in (run / "programs" / "env").glob("stdout.*")}
    assert outputs == {"stdout.glibc.txt": "unset", "stdout.g2.txt": "seen"}


@pytest.mark.parametrize("flags, says", [
    (("--alloc-env", "nosuch:K=V"), "'nosuch' is not in this run"),
    (("--alloc-env", "glibc:1BAD=V"), "expected NAME:KEY=VALUE"),
    (("--alloc-env", "glibc"), "expected NAME:KEY=VALUE"),
    (("--sweep", "glibc:K="), "gives no values"),
    (("--sweep", "nosuch:K=1,2"), "neither in this run nor a built-in"),
    (("--allocator", "x=nosuch"), "neither a built-in allocator nor a path"),
])
def test_bad_variant_flags_are_refused(tmp_path, small_churn, flags, says):
    out = tmp_path / "never"
    proc = allocmark("run", "--trace", small_churn, *FAST, "--allocators", "glibc", *flags, "--out", out)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()
