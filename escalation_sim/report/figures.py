"""The one figure writer: a matplotlib figure to PNG and SVG files, each written atomically.

Every figure of the package goes through :func:`write_figure` (the run's
figures, the analyses', a replayed crisis). Figures are built as
:class:`matplotlib.figure.Figure` objects, never through pyplot, so no global
figure state is created. SVG text stays text (searchable, editable), and SVG
files carry no date, so the same figure gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from ..io.files import atomic_write_bytes

FIGURES_DIR = "figures"
DPI = 150


def _render(fig, fmt: str, tight: bool) -> bytes:
    buf = io.BytesIO()
    kwargs = {"metadata": {"Date": None}} if fmt == "svg" else {"dpi": DPI}
    if tight:
        kwargs.update(bbox_inches="tight", pad_inches=0.15, facecolor="white")
    fig.savefig(buf, format=fmt, **kwargs)
    return buf.getvalue()


def write_figure(fig, directory: Path, stem: str, formats: Sequence[str] = ("png", "svg"), *,
                 tight: bool = False) -> list[Path]:
    """Save ``fig`` as ``directory/figures/<stem>.<format>`` for each format; return the paths.

    ``tight``: crop to the drawn area (with a small white margin), for figures
    whose notes sit outside the axes.
    """
    figdir = Path(directory) / FIGURES_DIR
    figdir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = figdir / f"{stem}.{fmt}"
        atomic_write_bytes(path, _render(fig, fmt, tight))
        written.append(path)
    return written


def write_figure_file(fig, path: Path, *, tight: bool = False) -> Path:
    """Save ``fig`` as one file, in the format its suffix names (``.png`` or ``.svg``)."""
    path = Path(path)
    atomic_write_bytes(path, _render(fig, path.suffix.lstrip(".").lower() or "png", tight))
    return path
