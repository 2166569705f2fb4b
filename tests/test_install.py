"""`cmake --install` gives a working allocmark: run from a folder outside the tree, it finds its
worker, drop-in libraries, suites and plot tools under the prefix, and writes its results to the
current directory's results/. Nothing in the installed binaries names the build or source tree."""
import os
import subprocess
from pathlib import Path

from conftest import BIN, read_lines

BUILD = Path(BIN).resolve().parent.parent  # build/<preset>/harness/allocmark -> build/<preset>
SOURCE = Path(__file__).resolve().parent.parent


def test_installed_tree_runs_from_anywhere(tmp_path):
    prefix = tmp_path / "prefix"
    cmake = os.environ.get("ALLOCMARK_CMAKE", "cmake")
    subprocess.run([cmake, "--install", str(BUILD), "--prefix", str(prefix)], check=True,
                   capture_output=True, text=True, timeout=300)
    installed = prefix / "bin" / "allocmark"
    for rel in ("bin/allocmark-worker", "lib/allocmark/libamk_pool.so",
                "lib/allocmark/libamk_record.so", "share/allocmark/suites/quick.toml",
                "share/allocmark/plot/report.py", "share/allocmark/results/result_fields.json",
                "include/allocmark/plugin.h"):
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOCMARK_")}
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
