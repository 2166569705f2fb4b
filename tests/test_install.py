"""`cmake --install` gives a working allocmark: run from a folder outside the tree, it finds its
worker, drop-in libraries, suites and plot tools under the prefix, and writes its results to the
current directory's results/. Nothing in the installed binaries names the build or source tree.
The prefix is also a package: find_package(allocmark) and pkg-config build the example plugin
out of tree, and the installed CLI runs it."""
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, read_lines

BUILD = Path(BIN).resolve().parent.parent  # build/<preset>/harness/allocmark -> build/<preset>
SOURCE = Path(__file__).resolve().parent.parent
CMAKE = os.environ.get("ALLOCMARK_CMAKE", "cmake")
# What a user's shell has: no ALLOCMARK_* overrides pointing into the build tree.
CLEAN_ENV = {k: v for k, v in os.environ.items()
             if not k.startswith(("ALLOCMARK_", "PKG_CONFIG", "CMAKE_"))}


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    """The build installed into a fresh prefix (once for this file)."""
    prefix = tmp_path_factory.mktemp("install") / "prefix"
    proc = subprocess.run([CMAKE, "--install", str(BUILD), "--prefix", str(prefix)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return prefix


def test_installed_tree_runs_from_anywhere(prefix, tmp_path):
    installed = prefix / "bin" / "allocmark"
    for rel in ("bin/allocmark-worker", "lib/allocmark/libamk_pool.so",
                "lib/allocmark/libamk_record.so", "share/allocmark/suites/quick.toml",
                "share/allocmark/plot/report.py", "share/allocmark/results/result_fields.json",
                "include/allocmark/plugin.h", "lib/cmake/allocmark/allocmarkConfig.cmake",
                "lib/cmake/allocmark/allocmarkConfigVersion.cmake",
                "lib/cmake/allocmark/allocmarkTargets.cmake", "lib/pkgconfig/allocmark.pc"):
        assert (prefix / rel).exists(), rel
    # No absolute build or source path compiled into what the binaries use (debug info, which
    # names where they were compiled, is stripped from a copy first).
    for binary in (installed, prefix / "bin" / "allocmark-worker"):
        stripped = tmp_path / (binary.name + ".stripped")
        subprocess.run(["strip", "--strip-debug", "-o", str(stripped), str(binary)], check=True)
        data = stripped.read_bytes()
        assert str(BUILD).encode() not in data, binary
        assert (str(SOURCE) + "/").encode() not in data, binary

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = CLEAN_ENV
    listed = subprocess.run([str(installed), "list", "allocators"], cwd=work, env=env,
                            capture_output=True, text=True, timeout=60, check=True).stdout
    pool_malloc = next(l for l in listed.splitlines() if l.startswith("pool-malloc"))
    assert " yes " in pool_malloc and str(prefix) not in pool_malloc
    proc = subprocess.run([str(installed), "run", "--suite", "quick", "--allocators",
                           "glibc,pool,pool-malloc", "--workloads", "churn", "--reps", "1",
                           "--warmup", "0", "--no-report", "--quiet"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    runs = list((work / "results").iterdir())
    assert len(runs) == 1, runs
    lines = read_lines(runs[0])
    by_alloc = {l["allocator"]: l for l in lines}
    assert by_alloc["pool"]["status"] == "ok" and by_alloc["glibc"]["status"] == "ok"
    # The drop-in library really served malloc, from the prefix.
    assert by_alloc["pool-malloc"]["malloc_provider"].startswith(str(prefix / "lib" / "allocmark"))


def test_package_builds_and_runs_a_plugin_out_of_tree(prefix, tmp_path):
    """A copy of examples/plugin, away from the source tree (so only the package can be found),
    configured with nothing but CMAKE_PREFIX_PATH=<prefix>; the same source compiled with the
    flags of `pkg-config --cflags allocmark`; the installed CLI reports its version (that of both
    package files) and runs the plugin beside glibc."""
    installed = prefix / "bin" / "allocmark"
    version = subprocess.run([str(installed), "--version"], capture_output=True, text=True,
                             timeout=30, env=CLEAN_ENV, check=True).stdout.strip()
    match = re.fullmatch(r"allocmark (\d+\.\d+\.\d+) \(git ([0-9a-f]{40}(-dirty)?|unknown)\)",
                         version)
    assert match, version
    # Relocatable: the package files name no absolute path (they find the prefix from their own).
    for rel in ("lib/cmake/allocmark/allocmarkConfig.cmake",
                "lib/cmake/allocmark/allocmarkTargets.cmake", "lib/pkgconfig/allocmark.pc"):
        text = (prefix / rel).read_text()
        assert str(prefix) not in text and str(BUILD) not in text, rel

    project = tmp_path / "sizeclass"
    shutil.copytree(SOURCE / "examples" / "plugin", project)
    build = tmp_path / "sizeclass-build"
    for cmd in ([CMAKE, "-S", project, "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}"],
                [CMAKE, "--build", build]):
        proc = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=300,
                              env=CLEAN_ENV)
        assert proc.returncode == 0, f"{cmd}: {proc.stdout}\n{proc.stderr}"
    cache = (build / "CMakeCache.txt").read_text()
    assert f"allocmark_DIR:PATH={prefix}/lib/cmake/allocmark\n" in cache
    plugin = build / "libsizeclass_plugin.so"
    assert plugin.exists()

    pc_env = {**CLEAN_ENV, "PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig")}
    pkg_config = shutil.which("pkg-config") or pytest.fail("pkg-config not found")
    modversion = subprocess.run([pkg_config, "--modversion", "allocmark"], capture_output=True,
                                text=True, env=pc_env, timeout=30, check=True).stdout.strip()
    assert modversion == match.group(1)
    cflags = subprocess.run([pkg_config, "--cflags", "allocmark"], capture_output=True,
                            text=True, env=pc_env, timeout=30, check=True).stdout
    includes = [Path(f[2:]) for f in shlex.split(cflags) if f.startswith("-I")]
    assert [p.resolve() for p in includes] == [(prefix / "include").resolve()], cflags
    assert (includes[0] / "allocmark" / "plugin.h").exists()
    cc = os.environ.get("ALLOCMARK_C_COMPILER") or shutil.which("cc")
    by_pc = tmp_path / "libsizeclass_pc.so"
    proc = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-fvisibility=hidden",
                           *shlex.split(cflags), str(project / "sizeclass_plugin.c"), "-o",
                           str(by_pc), "-lpthread"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    version_file = (prefix / "lib/cmake/allocmark/allocmarkConfigVersion.cmake").read_text()
    assert f'set(PACKAGE_VERSION "{match.group(1)}")' in version_file

    # The installed CLI, from a folder of its own, runs both builds of the plugin beside glibc.
    work = tmp_path / "elsewhere"
    work.mkdir()
    trace = work / "churn.amt"
    subprocess.run([str(installed), "trace", "gen", "churn", "--param", "steps=20000", "-o",
                    str(trace)], cwd=work, env=CLEAN_ENV, capture_output=True, timeout=60,
                   check=True)
    proc = subprocess.run([str(installed), "run", "--plugin", str(plugin),
                           "--plugin", f"sizeclass-pc={by_pc}", "--allocators", "glibc",
                           "--trace", str(trace), "--reps", "1", "--warmup", "0",
                           "--precision", "off", "--no-aa", "--no-report", "--quiet",
                           "--out", str(work / "run")],
                          cwd=work, env=CLEAN_ENV, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    lines = {l["allocator"]: l for l in read_lines(work / "run")}
    assert sorted(lines) == ["glibc", "sizeclass", "sizeclass-pc"], sorted(lines)
    for name in ("sizeclass", "sizeclass-pc"):
        assert lines[name]["status"] == "ok", lines[name]
        assert lines[name]["allocator_kind"] == "plugin"
        assert lines[name]["events"] == lines["glibc"]["events"] > 40000
