"""Matplotlib set-up shared by every chart: Agg backend, one style, SVG + PNG output.
Layer: plot/ shared helper; imports matplotlib (headless) and nothing of ours.
"""
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display, and the fastest raster backend
import matplotlib.pyplot as plt  # noqa: E402

PNG_DPI = 130

matplotlib.rcParams.update({
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "svg.fonttype": "path",      # glyphs as paths: the SVG needs no font, so no fetch either
    "svg.hashsalt": "allocmark",  # stable element ids, so identical input gives identical SVG
    "figure.dpi": 100,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.08,
})


def text(s):
    """A name from a result file made safe for matplotlib: '$' would start mathtext."""
    return str(s).replace("\\", "\\\\").replace("$", r"\$")


def new_figure(width, height, **subplots_kw):
    return plt.subplots(figsize=(width, height), **subplots_kw)


def save(fig, plots_dir, stem):
    """Writes plots_dir/stem.svg and .png, closes the figure, returns the SVG bytes.

    The tight bounding box is computed once and reused, so the figure is laid out three times
    (measure, SVG, PNG) instead of four: text layout dominates the cost of a chart.
    """
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    fig.canvas.draw()
    bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(
        matplotlib.rcParams["savefig.pad_inches"])
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches=bbox)
    svg = buf.getvalue()
    (plots_dir / f"{stem}.svg").write_bytes(svg)
    fig.savefig(plots_dir / f"{stem}.png", dpi=PNG_DPI, metadata={"Software": None},
                bbox_inches=bbox)
    plt.close(fig)
    return svg
