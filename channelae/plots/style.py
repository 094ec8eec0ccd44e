"""The shared look of every plot: colours, sizes, figure creation, atomic saving, titles and labels.

Owns nothing about a particular figure; each figure module (``dd_curves``, ``heatmap``, ``images``,
``latent_bars``, ``tsne``, ``combined``) builds its :class:`matplotlib.figure.Figure` with :func:`figure` and
the title helpers here. matplotlib is imported only when a figure is made (Agg backend, unless pyplot is
already in use: an interactive session's backend is never switched).
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
    "JAMMER_COLOR",
    "NOISE_COLOR",
    "UNITS_NOTE",
    "arr",
    "figure",
    "header",
    "metric_label",
    "ordered_metrics",
    "save",
]

UNITS_NOTE = "ε: jammer budget, latent L2 norm per example; SNR: Es/N0 per complex symbol (dB)"
JAMMER_COLOR, NOISE_COLOR, AREA_COLOR, CLEAN_COLOR = "tab:red", "tab:blue", "tab:green", "0.35"
DPI = 110
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


def figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    """A new figure (inches) with the plots' DPI, not registered with pyplot (no global state)."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # never switch the backend of an interactive session
        matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout=layout)


def save(fig: Figure, dest: Path) -> Path:
    """Write ``fig`` to ``dest`` atomically, in the format of its suffix."""
    from channelae.io import atomic_path

    with atomic_path(dest) as tmp:
        fig.savefig(tmp, format=dest.suffix.lstrip("."))
    return dest
