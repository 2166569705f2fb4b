"""pytest set-up for plot/: imports from plot/ and plot/tests/, and runs the CLIs for real."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PLOT), str(Path(__file__).resolve().parent)]


def run_tool(script, *args, env=None, cwd=None):
    """Runs plot/<script> with this interpreter, as the C++ CLI does; returns CompletedProcess.

    env: variables to set, or to remove when their value is None (e.g. {"ALLOCMARK_BIN": None}
    runs the tool as if no allocmark binary were known). cwd: the directory it runs in.
    """
    full = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            full.pop(k, None)
        else:
            full[k] = str(v)
    return subprocess.run([sys.executable, str(PLOT / script), *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=full, cwd=cwd)


@pytest.fixture
def tool():
    return run_tool
