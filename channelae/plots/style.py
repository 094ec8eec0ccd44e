"""The shared look of every plot: colours, sizes, figure and panel layout, file formats, saving, titles.

Owns nothing about a particular figure; each figure module (``dd_curves``, ``heatmap``, ``images``,
``latent_bars``, ``tsne``, ``combined``) builds its :class:`matplotlib.figure.Figure` with :func:`figure` /
:func:`panel_grid` and the title helpers here. matplotlib is imported only when a figure is made (Agg backend,
unless pyplot is already in use: an interactive session's backend is never switched).

Speed: layouts are fixed in inches (:func:`panel_grid`) instead of matplotlib's constrained layout, which
measures every text twice per draw and was half of the drawing time; figures are small (a panel is about
2.6 × 2 inches) at :data:`DPI` 100, with few ticks. Vector formats (``pdf``, ``svg``) come from the same
figure (:func:`save`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from channelae.results import Results

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "AREA_COLOR",
    "CLEAN_COLOR",
    "DPI",
    "FORMATS",
    "JAMMER_COLOR",
    "NOISE_COLOR",
    "UNITS_NOTE",
    "arr",
    "budget_axis",
    "check_formats",
    "figure",
    "header",
    "metric_label",
    "ordered_metrics",
    "panel_grid",
    "remove",
    "save",
    "units_note",
]

UNITS_NOTE = "ε: jammer budget, L2 norm per example; SNR: Es/N0 per complex symbol (dB)"
JAMMER_COLOR, NOISE_COLOR, AREA_COLOR, CLEAN_COLOR = "tab:red", "tab:blue", "tab:green", "0.35"
DPI = 100
#: File formats a plot can be written in (``--plot-format``): raster PNG, vector PDF and SVG.
FORMATS = ("png", "pdf", "svg")
#: Plot order of the known metrics; unknown ones follow in their stored order.
METRIC_ORDER = ("ssim", "psnr", "lpips", "mse", "fid")


def arr(v: Sequence[Any] | float) -> np.ndarray:
    """Numbers (nested lists from :class:`~channelae.results.Results`) as a float64 array."""
    return np.asarray(v, dtype=np.float64)


def ordered_metrics(results: Results) -> list[str]:
    """The metrics of ``results`` in plot order (:data:`METRIC_ORDER` first)."""
    names = results.metric_names
    rank = {m: i for i, m in enumerate(METRIC_ORDER)}
    return sorted(names, key=lambda m: (rank.get(m, len(rank)), names.index(m)))


def units_note(results: Results) -> str:
    """The units line of a figure: ε in the results' unit (link or latent), JSR and SNR."""
    unit = results.budget.eps_unit
    what = ("link units: perturbation of the transmitted symbols, Es = 1" if unit == "link"
            else "latent units (the study's)")
    return (f"ε: jammer budget, L2 norm per example in {what}; JSR = ‖δ_s‖²/(n·Es) in dB; "
            "SNR: Es/N0 per complex symbol (dB)")


def budget_axis(results: Results) -> tuple[np.ndarray, str, bool]:
    """The budget axis of the DD-curve plots: ``(x [E], label, is_jsr)``.

    ε in the results' unit, or JSR in dB when the grid was given as JSR (``--jsr-db``; ε = 0 is then at
    ``-inf``, which a plot leaves out: it draws that point as a horizontal line instead).
    """
    if results.budget.axis == "jsr_db":
        return arr(results.budget.jsr_db), "JSR (dB)", True
    return results.budget.grid(), f"ε ({results.budget.eps_unit} L2 norm)", False


def metric_label(results: Results, m: str) -> str:
    """``SSIM ↑``, ``PSNR (dB) ↑``: name, unit and direction."""
    spec = results.metrics.get(m)
    arrow = "↑" if spec is None or spec.higher_is_better else "↓"
    unit = spec.unit if spec is not None else ""
    return f"{m.upper()}{f' ({unit})' if unit else ''} {arrow}"


def header(results: Results, what: str) -> str:
    """Two title lines: what is plotted, then channel, reference, data set and image count."""
    extra = ", ".join(x for x in (results.dataset, f"{results.n_images} images" if results.n_images else "") if x)
    return (f"{what}\nchannel {results.channel or '?'}, reference: {results.reference}"
            f"{f' ({extra})' if extra else ''}")


def check_formats(formats: str | Sequence[str], argument: str = "--plot-format") -> tuple[str, ...]:
    """Validated plot formats, in the given order without repeats (``"png,pdf"`` or ``["png", "pdf"]``).

    :raises UsageError: for an empty list or a format outside :data:`FORMATS`.
    """
    from channelae.errors import UsageError

    items = [f.strip().lower().lstrip(".") for f in (formats.split(",") if isinstance(formats, str) else formats)]
    items = [f for f in items if f]
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        got = ", ".join(repr(f) for f in bad) if bad else "nothing"
        raise UsageError(f"plot formats must be a comma list of {', '.join(FORMATS)}; got {got}", argument)
    return tuple(dict.fromkeys(items))


def figure(width: float, height: float, layout: str | None = None) -> Figure:
    """A new figure (inches) with the plots' DPI, not registered with pyplot (no global state)."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # never switch the backend of an interactive session
        matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout=layout)


def panel_grid(fig: Figure, nrows: int, ncols: int, *, left: float, right: float, top: float, bottom: float,
               wspace: float, hspace: float, **kwargs: Any) -> np.ndarray:
    """``[nrows, ncols]`` axes placed with margins and gaps in **inches** (a fixed layout, no layout engine).

    :param left, right, top, bottom: figure margins (inches) around the panel block.
    :param wspace, hspace: gaps between panels (inches).
    :param kwargs: passed to :meth:`Figure.subplots` (``sharex``, ``sharey``, ...).
    """
    w, h = fig.get_size_inches()
    panel_w = (w - left - right - wspace * (ncols - 1)) / ncols
    panel_h = (h - top - bottom - hspace * (nrows - 1)) / nrows
    return fig.subplots(nrows, ncols, squeeze=False, gridspec_kw={
        "left": left / w, "right": 1 - right / w, "top": 1 - top / h, "bottom": bottom / h,
        "wspace": wspace / panel_w, "hspace": hspace / panel_h}, **kwargs)


def save(fig: Figure, stem: Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write ``fig`` as ``<stem>.<format>`` for each format, each atomically; returns the paths.

    PDF and SVG carry no creation date, so re-rendering the same results gives the same files.
    """
    from channelae.io import atomic_path

    written = []
    for fmt in formats:
        dest = stem.with_name(f"{stem.name}.{fmt}")
        metadata = {"CreationDate": None} if fmt == "pdf" else {"Date": None} if fmt == "svg" else None
        with atomic_path(dest) as tmp:
            fig.savefig(tmp, format=fmt, metadata=metadata)
        written.append(dest)
    return written


def remove(stem: Path, keep: Sequence[str] = ()) -> None:
    """Delete ``<stem>.<format>`` for every format of :data:`FORMATS` not in ``keep`` (stale plots)."""
    for fmt in FORMATS:
        if fmt not in keep:
            stem.with_name(f"{stem.name}.{fmt}").unlink(missing_ok=True)
