"""End to end: every bad flag of `run` is refused before anything runs. One line on stderr that
names the flag and says what was expected, exit status 2, no worker started, no run directory
(not even an empty one) left behind."""
import json
import os
import subprocess

import pytest

from conftest import BIN, FIXTURES, allocmark, read_lines

QUICK = ["--reps", 1, "--warmup", 0, "--no-report", "--quiet"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("flag-traces") / "tiny.amt"
    allocmark("trace", "gen", "churn", "--param", "steps=2000", "-o", out, check=True)
    return out


@pytest.fixture(scope="module")
def libraries(tmp_path_factory):
    """Files that are not what --allocators NAME=/path or --plugin expect."""
    d = tmp_path_factory.mktemp("flag-libs")
    text = d / "text.so"
    text.write_text("not an ELF file\n")
    return {
        "text": text,
        "missing": d / "missing.so",
        "dir": d,
        # A shared object, but no malloc replacement: preloading it would measure glibc.
        "no_malloc": FIXTURES / "libplugin_wrong_version.so",
        # A shared object with malloc, but no plugin entry point.
        "no_entry": FIXTURES / "libmisbehaving_crash.so",
        "wrong_abi": FIXTURES / "libplugin_wrong_version.so",
        # A position-independent executable: ET_DYN like a library, yet never loadable.
        "executable": BIN,
    }


def refused(args, out):
    """Runs `run ARGS --out OUT` and checks the refusal; returns the one stderr line."""
    proc = allocmark("run", *args, *QUICK, "--out", out, timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (args, proc.returncode, proc.stderr)
    assert len(lines) == 1, (args, proc.stderr)
    assert not out.exists() and not out.parent.exists(), (args, list(out.parent.rglob("*")))
    return lines[0]


# (extra flags, text the one line must hold: the flag's name and what was expected). Every case
# runs with --allocators glibc,pool unless it gives its own.
CASES = [
    (["--timeout", "abc"], "--timeout: expected a number of seconds, got 'abc'"),
    (["--timeout", "0"], "--timeout: expected a number of seconds above 0"),
    (["--timeout", "inf"], "--timeout: expected a number of seconds, got 'inf'"),
    (["--reps", "abc"], "--reps: expected a whole number from 1 to 1000, got 'abc'"),
    (["--reps", "1.5"], "--reps: expected a whole number from 1 to 1000, got '1.5'"),
    (["--warmup", "-1"], "--warmup: expected a whole number from 0 to 100, got '-1'"),
    (["--seed", "-1"], "--seed: expected a whole number of 0 or more, got '-1'"),
    (["--seed", "x"], "--seed: expected a whole number of 0 or more, got 'x'"),
    (["--replay", "sideways"], "--replay: expected serial or threads, got 'sideways'"),
    (["--touch", "some"], "--touch: expected none, first, pages or full, got 'some'"),
    (["--threads", "two"], "--threads: expected thread counts from 1 to 4096"),
    (["--shard", "3/2"], "--shard: expected K/N with 1 <= K <= N"),
    (["--mem-limit", "lots"], "--mem-limit: expected a size like 512M or 2G, got 'lots'"),
    (["--out", "elsewhere"], "--out: given 2 times, expected once"),
    (["--alloc-option", "pool"], "--alloc-option: expected NAME:key=value, got 'pool'"),
    (["--alloc-option", "pool:nosuch=1"],
     "--alloc-option pool:nosuch=1: pool: unknown option 'nosuch' (known: slab_size"),
    (["--alloc-option", "pool:slab_size=3"],
     "--alloc-option pool:slab_size=3: pool option slab_size=3: expected a value in [65536,"),
    (["--alloc-option", "pool:slab_size=lots"], "expected a byte count"),
    (["--alloc-option", "pool:release_empty=maybe"], "expected true/false"),
    (["--alloc-option", "bump:capacity=1G"], "--alloc-option bump:capacity=1G: 'bump' is not in "
                                             "this run (allocators: glibc, pool)"),
    (["--alloc-option", "glibc:arena_max=2"], "'glibc' takes no options here"),
    (["--allocators", "glibc,null", "--alloc-option", "null:x=1"], "'null' takes no options"),
    (["--allocators", "glibc,nosuchalloc"], "--allocators: unknown allocator 'nosuchalloc'"),
    (["--allocators", "glibc,glibc"], "--allocators: 'glibc' is named twice"),
    (["--allocators", "my lib=/x.so"], "NAME must be letters, digits"),
    (["--suite", "nosuch"], "--suite: suite 'nosuch'"),
    (["--workloads", "nosuch"], "--workloads: unknown workload 'nosuch'"),
]


@pytest.mark.parametrize("flags,expected", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_flag_value_is_one_line_and_exit_2(tiny, tmp_path, flags, expected):
    allocators = [] if "--allocators" in flags else ["--allocators", "glibc,pool"]
    line = refused(["--trace", tiny, *allocators, *flags], tmp_path / "new" / "run")
    assert expected in line, line


def test_flag_without_its_value_says_so(tiny, tmp_path):
    out = tmp_path / "new" / "run"
    proc = allocmark("run", "--trace", tiny, "--out", out, "--timeout")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "--timeout: expected a value after it" in proc.stderr, proc.stderr
    assert not out.parent.exists()


@pytest.mark.parametrize("kind,expected", [
    ("missing", "No such file or directory"),
    ("text", "not an ELF file (expected a shared object built with -shared)"),
    ("dir", "not a regular file"),
    ("no_malloc", "defines no malloc, so preloading it would leave glibc serving"),
    ("executable", "executable, not a shared object"),
])
def test_bad_preload_library_is_refused(tiny, tmp_path, libraries, kind, expected):
    spec = f"mine={libraries[kind]}"
    line = refused(["--trace", tiny, "--allocators", f"glibc,{spec}"], tmp_path / "new" / "run")
    assert line.startswith(f"allocmark: --allocators {spec}: "), line
    assert expected in line, line


@pytest.mark.parametrize("kind,expected", [
    ("missing", "No such file or directory"),
    ("text", "not an ELF file"),
    ("dir", "is not a readable file"),
    ("executable", "executable, not a shared object"),
    ("no_entry", "exports no allocmark_plugin_v1"),
    ("wrong_abi", "ABI version 99, this allocmark reads 1"),
])
def test_bad_plugin_is_refused(tiny, tmp_path, libraries, kind, expected):
    line = refused(["--trace", tiny, "--allocators", "glibc", "--plugin", libraries[kind]],
                   tmp_path / "new" / "run")
    assert "--plugin" in line and str(libraries[kind]) in line, line
    assert expected in line, line


@pytest.mark.parametrize("variable,value,allocator", [
    ("ALLOCMARK_POOL_SLAB_SIZE", "huge", "pool"),
    ("ALLOCMARK_ARENA_CHUNK_SIZE", "3", "arena"),
])
def test_bad_option_in_the_environment_is_refused(tiny, tmp_path, variable, value, allocator):
    """The workers read ALLOCMARK_<NAME>_<KEY> before the command line's options: a bad one would
    make every cell of that allocator `error`."""
    out = tmp_path / "new" / "run"
    env = dict(os.environ, **{variable: value})
    proc = subprocess.run([BIN, "run", "--trace", tiny, "--allocators", f"glibc,{allocator}",
                           *map(str, QUICK), "--out", out], capture_output=True, text=True,
                          env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and variable in proc.stderr, proc.stderr
    assert not out.parent.exists()


def test_bad_trace_leaves_no_directory_behind(tmp_path):
    """The run directory is made before traces are generated; a refusal after that removes what
    this run made (and only that): an --out that existed stays, empty as it came."""
    garbage = tmp_path / "garbage.amt"
    garbage.write_bytes(b"not a trace\n" * 8)
    line = refused(["--trace", garbage, "--allocators", "glibc"], tmp_path / "new" / "run")
    assert line.startswith(f"allocmark: --trace {garbage}"), line
    existing = tmp_path / "existing"
    existing.mkdir()
    proc = allocmark("run", "--trace", garbage, "--allocators", "glibc", *QUICK, "--out", existing)
    assert proc.returncode == 2, proc.stderr
    assert existing.is_dir() and list(existing.iterdir()) == []


def test_resume_with_a_bad_flag_leaves_the_run_as_it_was(tiny, tmp_path):
    out = tmp_path / "run"
    allocmark("run", "--trace", tiny, "--allocators", "glibc,pool", *QUICK, "--out", out,
              check=True)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    proc = allocmark("run", "--trace", tiny, "--allocators", "glibc,pool", *QUICK,
                     "--alloc-option", "pool:nosuch=1", "--resume", out)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_good_flags_still_run_and_are_recorded(tiny, tmp_path):
    out = tmp_path / "run"
    allocmark("run", "--trace", tiny, "--allocators", "glibc,pool", "--timeout", "30.5",
              "--seed", "007", "--alloc-option", "pool:slab_size=1M",
              "--alloc-option", "pool:release_empty=off", *QUICK, "--out", out, check=True)
    lines = {l["allocator"]: l for l in read_lines(out)}
    assert lines["pool"]["status"] == "ok", lines["pool"]
    assert lines["pool"]["options"]["slab_size"] == 1 << 20
    assert lines["pool"]["options"]["release_empty"] is False
    meta = json.loads((out / "meta.json").read_text())
    assert meta["plan"]["timeout_s"] == 30.5 and meta["plan"]["seed"] == 7
