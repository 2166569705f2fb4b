"""pytest set-up for plot/: imports from plot/ and plot/tests/, and runs the CLIs for real."""
import subprocess
import sys
from pathlib import Path

import pytest

PLOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PLOT), str(Path(__file__).resolve().parent)]


def run_tool(script, *args):
    """Runs plot/<script> with this interpreter, as the C++ CLI does; returns CompletedProcess."""
    return subprocess.run([sys.executable, str(PLOT / script), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def tool():
    return run_tool
