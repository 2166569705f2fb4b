"""Scale-out on a real scheduler: the README's Slurm job array, as written there, on a one-node
Slurm cluster started for the test (local_slurm.py). Two array tasks run shard 1/2 and 2/2 of a
quick plan, the README's merge job runs after them (afterok), and the merged results.jsonl must be
exactly the union of the shards' lines. Skipped, with the reason, where Slurm cannot run.

CTest `slurm_job_array` (label `slurm`) runs this file; it is not named test_*.py so that the
`e2e_pytest` run of tests/ does not collect it a second time."""
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from local_slurm import LocalSlurm, Unavailable, job_id

BIN = os.environ.get("ALLOCMARK_BIN", "")
README = Path(os.environ.get("ALLOCMARK_README", Path(__file__).resolve().parents[2] / "README.md"))
WORK_ROOT = Path(os.environ.get("ALLOCMARK_SLURM_DIR", tempfile.gettempdir()))
# The plan: the quick suite (4 workloads, so 2 per shard), two allocators, one repetition.
RUN_FLAGS = ["--suite", "quick", "--allocators", "glibc,pool", "--reps", "1", "--warmup", "0",
             "--precision", "off", "--no-aa", "--quiet"]


def readme_block(marker):
    """The ```bash block that follows the `<!-- slurm: MARKER ...-->` comment in README.md."""
    text = README.read_text()
    match = re.search(r"<!-- slurm: " + re.escape(marker) + r"\b[^>]*-->\s*```bash\n(.*?)\n```",
                      text, re.S)
    assert match, f"{README}: no ```bash block after '<!-- slurm: {marker}'"
    return match.group(1) + "\n"


def read_lines(run_dir):
    with open(Path(run_dir) / "results.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def canonical(lines):
    return sorted(json.dumps(l, sort_keys=True) for l in lines)


_EXTRA_DIRS = []


def request_cleanup(path):
    """One more folder for the root fixture to remove with its own."""
    _EXTRA_DIRS.append(path)


@pytest.fixture
def root():
    """A folder of its own under the build tree; removed when the test passed."""
    WORK_ROOT.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="run-", dir=WORK_ROOT))
    yield path
    if not os.environ.get("ALLOCMARK_KEEP_SLURM_DIR"):
        for extra in [path, *_EXTRA_DIRS]:
            shutil.rmtree(extra, ignore_errors=True)
        _EXTRA_DIRS.clear()


def test_readme_job_array_shards_then_merge(root):
    assert BIN and Path(BIN).exists(), "ALLOCMARK_BIN must name the built allocmark (run by ctest)"
    script = readme_block("run-shards.sh")
    merge_cmd = re.search(r'--wrap "([^"]+)"', readme_block("submit"))
    assert merge_cmd, "README's submit block has no --wrap \"...\" merge command"
    # The job folder, as a user's allocmark folder: ./allocmark (the CLI under test) and the script.
    work = root / "work"
    work.mkdir()
    (work / "allocmark").symlink_to(Path(BIN).resolve())
    (work / "run-shards.sh").write_text(script)

    started = time.monotonic()
    # Daemon sockets live in the cluster folder and must fit in sun_path (108 bytes): a deep
    # build tree (a CI clone in a temporary folder) gets a short folder in /tmp instead.
    cluster_dir = root / "slurm"
    if len(str(cluster_dir)) > 60:
        cluster_dir = Path(tempfile.mkdtemp(prefix="amk-slurm-", dir="/tmp"))
        request_cleanup(cluster_dir)
    cluster = LocalSlurm(cluster_dir)
    try:
        try:
            cluster.start()
        except Unavailable as why:
            pytest.skip(f"no local Slurm cluster: {why}")
        up = time.monotonic() - started
        array = job_id(cluster.run("sbatch", "--parsable", "--array=1-2", "run-shards.sh",
                                   *RUN_FLAGS, cwd=work).stdout)
        merge = job_id(cluster.run("sbatch", "--parsable", f"--dependency=afterok:{array}",
                                   "--wrap", merge_cmd.group(1), cwd=work).stdout)
        states = cluster.wait_jobs([array, merge], timeout=120)
        outputs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}"
                            for p in sorted(work.glob("slurm-*.out")))
        assert states == {f"{array}_1": "COMPLETED", f"{array}_2": "COMPLETED",
                          str(merge): "COMPLETED"}, f"{states}\n{outputs}"
    finally:
        problems = cluster.stop()
    print(f"slurm: cluster up in {up:.1f} s, jobs and teardown {time.monotonic() - started:.1f} s")
    assert problems == [], problems

    shards = [work / "results" / f"shard-{k}" for k in (1, 2)]
    merged = work / "results" / "merged"
    for k, shard in enumerate(shards, 1):
        meta = json.loads((shard / "meta.json").read_text())
        assert meta["shard"] == {**meta["shard"], "index": k, "count": 2}, meta["shard"]
    shard_lines = [read_lines(s) for s in shards]
    # Each shard ran its own half of the plan: workloads are disjoint, both halves non-empty.
    workloads = [{l["workload"] for l in lines} for lines in shard_lines]
    assert all(workloads) and not workloads[0] & workloads[1], workloads
    assert len(workloads[0] | workloads[1]) == 4  # the quick suite's four workloads
    merged_lines = read_lines(merged)
    assert canonical(merged_lines) == canonical(shard_lines[0] + shard_lines[1])
    assert all(l["status"] == "ok" for l in merged_lines), [l["status"] for l in merged_lines]
    meta = json.loads((merged / "meta.json").read_text())
    assert [s["index"] for s in meta["shards"]] == [1, 2] and meta["shards_missing"] == []
    assert (merged / "summary.json").exists()
