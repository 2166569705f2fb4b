"""End to end: allocator plugins. The example plugin (examples/plugin, its own CMake project) is
configured and built out of tree, then run beside glibc; a plugin that every cell would fail
with (unloadable, wrong ABI, options its create() refuses) is refused before anything runs."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import FIXTURES, allocmark, read_lines

REPO = Path(__file__).resolve().parent.parent
INCLUDE_DIR = Path(os.environ.get("ALLOCMARK_INCLUDE_DIR", REPO / "include"))
CMAKE = os.environ.get("ALLOCMARK_CMAKE", "cmake")
C_COMPILER = os.environ.get("ALLOCMARK_C_COMPILER", "")
QUICK = ["--reps", 1, "--warmup", 0, "--precision", "off", "--no-aa", "--no-report", "--quiet"]


@pytest.fixture(scope="module")
def example_plugin(tmp_path_factory):
    """examples/plugin configured and built the way its README says, in a temporary directory."""
    build = tmp_path_factory.mktemp("example-plugin")
    configure = [CMAKE, "-S", REPO / "examples" / "plugin", "-B", build,
                 "-DCMAKE_BUILD_TYPE=Release", f"-DALLOCMARK_INCLUDE_DIR={INCLUDE_DIR}"]
    if C_COMPILER:
        configure.append(f"-DCMAKE_C_COMPILER={C_COMPILER}")
    for cmd in (configure, [CMAKE, "--build", build]):
        proc = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{cmd}: {proc.stdout}\n{proc.stderr}"
    so = build / "libsizeclass_plugin.so"
    assert so.exists()
    return so


@pytest.fixture(scope="module")
def churn_trace(tmp_path_factory):
    out = tmp_path_factory.mktemp("plugin-traces") / "churn.amt"
    allocmark("trace", "gen", "churn", "--param", "steps=20000", "-o", out, check=True)
    return out


def by_allocator(run_dir):
    lines = read_lines(run_dir)
    out = {l["allocator"]: l for l in lines}
    assert len(out) == len(lines), lines  # one line per allocator (one workload, one rep)
    return out


def test_example_plugin_runs_beside_glibc(example_plugin, churn_trace, tmp_path):
    out = tmp_path / "run"
    allocmark("run", "--plugin", example_plugin, "--allocators", "glibc", "--trace", churn_trace,
              *QUICK, "--out", out, check=True)
    lines = by_allocator(out)
    assert sorted(lines) == ["glibc", "sizeclass"]  # named after the plugin's own name
    plugin, glibc = lines["sizeclass"], lines["glibc"]
    assert plugin["status"] == "ok", plugin
    assert glibc["status"] == "ok", glibc
    assert plugin["allocator_kind"] == "plugin"
    assert plugin["events"] == glibc["events"] > 40000
    assert plugin["peak_rss_bytes"] >= plugin["baseline_rss_bytes"] > 0
    meta = json.loads((out / "meta.json").read_text())
    entry = meta["allocators"]["sizeclass"]
    assert entry["kind"] == "plugin" and entry["version"] == "1.0"
    assert entry["path"] == str(example_plugin)
    assert "sizeclass" in meta["plan"]["allocators"]


def test_example_plugin_threads_reset_options_and_own_name(example_plugin, tmp_path):
    """Cross-thread frees (larson, 2 threads), phase ends served by the plugin's reset, options
    passed to create, and NAME= overriding the plugin's name."""
    larson = tmp_path / "larson.amt"
    phases = tmp_path / "phases.amt"
    allocmark("trace", "gen", "larson", "--threads", 2, "--param", "steps=2000",
              "--param", "generations=3", "--param", "slots=500", "-o", larson, check=True)
    allocmark("trace", "gen", "phase-reset", "--param", "requests=200", "-o", phases, check=True)
    out = tmp_path / "run"
    allocmark("run", "--plugin", f"sc64={example_plugin}", "--alloc-option", "sc64:slab_kib=64",
              "--allocators", "glibc", "--trace", larson, "--trace", phases, *QUICK,
              "--out", out, check=True)
    lines = read_lines(out)
    assert len(lines) == 4
    events = {}
    for line in lines:
        assert line["status"] == "ok", line
        events.setdefault(line["workload"], set()).add(line["events"])
    assert all(len(v) == 1 for v in events.values()), events  # same events on both allocators
    mine = {l["workload"]: l for l in lines if l["allocator"] == "sc64"}
    assert mine["larson"]["replay_mode"] == "threads"
    assert mine["phases"]["phase_resets"] == 200  # reset provided: phase ends use it
    assert mine["phases"]["options"] == {"text": "slab_kib=64"}


def refused_before_anything_ran(args, out):
    """A plugin every cell would fail with is refused at startup: one line, exit 2, no run dir."""
    proc = allocmark("run", *args, *QUICK, "--out", out)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert not out.exists()
    return proc.stderr


def test_plugin_rejecting_its_options_is_refused_at_startup(example_plugin, churn_trace,
                                                            tmp_path):
    # Only the plugin's create() can judge its options: the parent asks it in a probe worker.
    err = refused_before_anything_ran(
        ["--plugin", example_plugin, "--alloc-option", "sizeclass:bogus=1", "--allocators",
         "glibc", "--trace", churn_trace], tmp_path / "run")
    assert "--alloc-option sizeclass:bogus=1: " in err, err
    assert "unknown option 'bogus=1'" in err, err


def test_wrong_version_plugin_is_refused_at_startup(churn_trace, tmp_path):
    wrong = FIXTURES / "libplugin_wrong_version.so"
    assert wrong.exists(), "build the plugin_wrong_version fixture (tests/CMakeLists.txt)"
    err = refused_before_anything_ran(
        ["--plugin", wrong, "--allocators", "glibc", "--trace", churn_trace], tmp_path / "run")
    assert f"--plugin {wrong}: " in err, err
    assert "ABI version 99" in err and "reads 1" in err, err


def test_file_that_is_no_shared_object_is_refused_at_startup(churn_trace, tmp_path):
    fake = tmp_path / "fake.so"
    fake.write_text("not an ELF file\n")
    err = refused_before_anything_ran(
        ["--plugin", f"fake={fake}", "--allocators", "glibc", "--trace", churn_trace],
        tmp_path / "run")
    assert f"--plugin fake={fake}: not an ELF file" in err, err


def test_shared_object_without_the_entry_point_is_refused_at_startup(churn_trace, tmp_path):
    nosym = FIXTURES / "libmisbehaving_crash.so"
    err = refused_before_anything_ran(
        ["--plugin", f"nosym={nosym}", "--allocators", "glibc", "--trace", churn_trace],
        tmp_path / "run")
    assert "exports no allocmark_plugin_v1" in err, err


def test_missing_plugin_file_is_one_line_and_exit_2(churn_trace, tmp_path):
    missing = tmp_path / "nowhere" / "plugin.so"
    proc = allocmark("run", "--plugin", missing, "--allocators", "glibc", "--trace", churn_trace,
                     *QUICK, "--out", tmp_path / "run")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and str(missing) in proc.stderr, proc.stderr
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_duplicate_plugin_name_is_refused(example_plugin, churn_trace, tmp_path):
    proc = allocmark("run", "--plugin", example_plugin, "--plugin", example_plugin,
                     "--trace", churn_trace, *QUICK, "--out", tmp_path / "run")
    assert proc.returncode == 2 and "already in this run" in proc.stderr, proc.stderr


def test_repeatable_allocator_flag_preloads_a_library(churn_trace, tmp_path):
    """--allocator NAME=/path/lib.so is the malloc-replacement way (here one returning null)."""
    out = tmp_path / "run"
    allocmark("run", "--allocator", "glibc", "--allocator",
              f"nullmalloc={FIXTURES / 'libmisbehaving_null.so'}", "--trace", churn_trace,
              *QUICK, "--out", out, check=True)
    lines = by_allocator(out)
    assert lines["glibc"]["status"] == "ok"
    assert lines["nullmalloc"]["allocator_kind"] == "preload"
    assert lines["nullmalloc"]["status"] == "oom", lines["nullmalloc"]
