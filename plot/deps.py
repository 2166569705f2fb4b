"""Checks that the third-party Python modules the plot tools need can be imported.
Layer: plot/ entry-point helper; standard library only, so it runs before anything else.
"""
import importlib
import sys

# module -> Debian package that provides it (PyPI is not assumed to be reachable).
_DEBIAN_PACKAGE = {
    "matplotlib": "python3-matplotlib",
    "numpy": "python3-numpy",
    "scipy": "python3-scipy",
}


def require(tool: str, *modules: str) -> None:
    """Imports each module or exits with status 2 and one line naming what is missing.

    Thread-safe: not relevant (called once at start-up). On failure: never returns.
    """
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        packages = " ".join(_DEBIAN_PACKAGE.get(m, m) for m in missing)
        sys.stderr.write(
            f"{tool}: cannot import {', '.join(missing)} with {sys.executable}; "
            f"run it with an interpreter that has them (Debian: apt-get install {packages})\n")
        sys.exit(2)
