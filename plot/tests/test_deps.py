"""plot/deps.py: a missing module is one clear line and exit status 2, not a traceback."""
import subprocess
import sys

from conftest import PLOT


def test_missing_module_is_one_line():
    code = ("import sys; sys.path.insert(0, %r); import deps; "
            "deps.require('report.py', 'numpy', 'allocmark_no_such_module')" % str(PLOT))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1
    assert "report.py: cannot import allocmark_no_such_module with " + sys.executable in res.stderr
    assert "numpy," not in res.stderr  # only what is missing is named
