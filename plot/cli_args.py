"""Command-line parsing shared by the plot tools: bad flags get one line and exit status 2, as
everywhere in allocmark, and relative thresholds are read as "5%" or "0.05".
Layer: plot/ shared helper; standard library only.
"""
import argparse
import math
import re
import sys

_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class Parser(argparse.ArgumentParser):
    """argparse.ArgumentParser whose errors are one line, `PROG: what was wrong`, exit 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: {message} (--help lists the flags)\n")
        sys.exit(2)


def threshold(text):
    """A relative threshold: "5%" -> 0.05, "0.05" -> 0.05, "150%" -> 1.5.

    A bare number must be a fraction below 1 ("5" would be ambiguous between 5 % and 500 %);
    at or above 100 % write it with %. Raises argparse.ArgumentTypeError with the reason.
    """
    s = str(text)
    percent = s.endswith("%")
    number = s[:-1] if percent else s
    v = float(number) if _NUMBER.fullmatch(number) else math.nan
    if percent:
        v /= 100
    if not math.isfinite(v) or v < 0 or (not percent and v >= 1):
        raise argparse.ArgumentTypeError(
            f"expected a relative change like 5% or 0.05 (a bare number is a fraction below 1; "
            f"write 150% for more), got '{s}'")
    return v
