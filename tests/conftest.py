"""Shared fixtures of the end-to-end tests: the built CLI, the Android traces in workloads/testdata, small traces."""
import json
import os
import subprocess
from pathlib import Path

import pytest

BIN = os.environ.get("ALLOCMARK_BIN", "")
ANDROID_TRACES = Path(os.environ.get("ALLOCMARK_ANDROID_TRACES", ""))
FIXTURES = Path(os.environ.get("ALLOCMARK_FIXTURES", ""))


def allocmark(*args, check=False, timeout=600):
    """Runs the CLI; returns the CompletedProcess (text mode)."""
    proc = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"allocmark {args} failed ({proc.returncode}): {proc.stderr}")
    return proc


def read_lines(run_dir):
    with open(Path(run_dir) / "results.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session", autouse=True)
def _built():
    if not BIN or not Path(BIN).exists():
        pytest.fail("ALLOCMARK_BIN must name the built allocmark (run through ctest)")


@pytest.fixture(scope="session")
def systemui(tmp_path_factory):
    """systemui.zip converted to our format once for the whole session."""
    src = ANDROID_TRACES / "systemui.zip"
    if not src.exists():
        pytest.fail(f"{src} is missing: run through ctest, which sets ALLOCMARK_ANDROID_TRACES")
    out = tmp_path_factory.mktemp("traces") / "systemui.amt"
    allocmark("trace", "convert", "--from", "android", src, out, check=True)
    return out


@pytest.fixture(scope="session")
def small_churn(tmp_path_factory):
    out = tmp_path_factory.mktemp("traces") / "churn.amt"
    allocmark("trace", "gen", "churn", "--param", "steps=50000", "-o", out, check=True)
    return out
