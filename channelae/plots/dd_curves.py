"""``dd_curves.png``: DD-curves (mean quality vs jammer budget ε), one row per metric, one column per SNR.

Each panel: the main link's mean with its 95 % interval band, the equal-power noise-jammer control
(dashed), the limit line ``L``, the highlighted ε (dotted), and the AADDC area shaded between the jammer curve
and ``L`` on the intact side (above ``L`` for higher-is-better, below for lower-is-better: :func:`fill_aaddc`).
The x axis is ε in the results' unit, or JSR (dB) when the grid was given as JSR (``--jsr-db``): ε = 0
(JSR −∞) is then drawn as a horizontal line ("no jammer") and the AADDC (an area over ε) is not shaded.
Skipped (``None``) for a single budget. Also owns the geometry of that shading (:func:`aaddc_region`).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from channelae.plots.style import (
    AREA_COLOR,
    CLEAN_COLOR,
    JAMMER_COLOR,
    NOISE_COLOR,
    budget_axis,
    figure,
    header,
    metric_label,
    ordered_metrics,
    panel_grid,
    units_note,
)
from channelae.results import Results, snr_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

__all__ = ["NAME", "aaddc_region", "build", "fill_aaddc", "polygon_area"]

NAME = "dd_curves"


def aaddc_region(
    eps: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray, limit: float, higher_is_better: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The AADDC region of a DD-curve: the piecewise-linear curve with its exact crossings of ``L`` inserted.

    :param eps: ``[E]`` increasing ε grid (L2 norm per example).
    :param q: ``[E]`` mean quality at each ε (NaN points are left out).
    :param limit: the limit line ``L`` in the metric's unit.
    :param higher_is_better: the metric's direction.
    :return: ``(x, y, intact)``: the dense grid, the curve on it, and the mask of points on the intact side
        (``y ≥ L`` for higher-is-better, ``y ≤ L`` otherwise). Filling between ``y`` and ``L`` where
        ``intact`` gives exactly the area :func:`channelae.curves.aaddc` integrates.
    """
    x0 = np.asarray(eps, dtype=np.float64)
    y0 = np.asarray(q, dtype=np.float64)
    ok = np.isfinite(x0) & np.isfinite(y0)
    x0, y0 = x0[ok], y0[ok]
    sign = 1.0 if higher_is_better else -1.0
    margin = sign * (y0 - limit)
    xs: list[float] = []
    ys: list[float] = []
    for i in range(len(x0)):
        if i > 0 and margin[i - 1] * margin[i] < 0:  # strict sign change: insert the crossing point
            t = margin[i - 1] / (margin[i - 1] - margin[i])
            xs.append(x0[i - 1] + t * (x0[i] - x0[i - 1]))
            ys.append(float(limit))
        xs.append(x0[i])
        ys.append(y0[i])
    x, y = np.array(xs), np.array(ys)
    intact = sign * (y - limit) >= 0
    return x, y, intact


def fill_aaddc(
    ax: Axes, eps: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray, limit: float,
    higher_is_better: bool, **kwargs: Any,
) -> PolyCollection:
    """Shade the AADDC area of a DD-curve on ``ax``: between the curve and ``L``, on the intact side only.

    :return: the ``fill_between`` artist (its polygons' area equals the AADDC).
    """
    x, y, intact = aaddc_region(eps, q, limit, higher_is_better)
    kwargs.setdefault("color", AREA_COLOR)
    kwargs.setdefault("alpha", 0.22)
    kwargs.setdefault("linewidth", 0)
    return ax.fill_between(x, y, np.full_like(y, float(limit)), where=intact, interpolate=True, **kwargs)


def polygon_area(collection: PolyCollection) -> float:
    """Total area (data units) of the polygons of a ``fill_between`` artist (shoelace formula)."""
    total = 0.0
    for path in collection.get_paths():
        v = np.asarray(path.vertices, dtype=np.float64)
        if len(v) < 3:
            continue
        xs, ys = v[:, 0], v[:, 1]
        total += 0.5 * abs(float(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))))
    return total


def build(results: Results) -> Figure | None:
    """The DD-curve figure of ``results``, or ``None`` for a single budget.

    Rows: metrics; columns: SNR points; y shared along a row (the SNR columns of one metric compare directly).
    Panel titles give the AADDC of the jammer and of the noise control (metric × ε).
    """
    eps = results.budget.grid()
    if eps.size < 2:
        return None
    x, xlabel, is_jsr = budget_axis(results)
    shown = np.isfinite(x)  # JSR axis: ε = 0 (−∞ dB) is drawn as a horizontal line instead
    snr = results.snr_grid()
    metrics = ordered_metrics(results)
    main, control = results.main_link, results.control_link
    hi_index = results.budget.highlight_index
    highlight = float(x[hi_index]) if 0 <= hi_index < x.size else results.budget.highlight
    short = {main: "PGD" if results.link_title(main) == "PGD jammer" else results.link_title(main)}
    if control:
        short[control] = "noise"
    S, M = len(snr), len(metrics)
    panel_w, panel_h = (2.6, 1.9) if S <= 6 else (max(1.6, 16.0 / S), 1.7)
    left, right, top, wspace, hspace = 0.75, 0.15, 0.95, 0.15, 0.5
    width = max(left + right + S * panel_w + (S - 1) * wspace, 6.0)
    # the legend below the panels: its entries (mean and band per link, L, area or the ε = 0 line, highlight)
    # in ncol columns under a units note wrapped to the figure's width; the bottom margin makes room for it
    ncol = max(1, min(4, int(width // 2.2)))
    entries = 2 * (1 + bool(control)) + 3
    note = textwrap.wrap(units_note(results) + "; AADDC in metric × ε" +
                         (" (not shaded on a JSR axis)" if is_jsr else ""), width=int(width * 17))
    bottom = 0.45 + 0.14 * (math.ceil(entries / ncol) + len(note))
    fig = figure(width, top + bottom + M * panel_h + (M - 1) * hspace)
    axes = panel_grid(fig, M, S, left=left, right=right, top=top, bottom=bottom, wspace=wspace, hspace=hspace,
                      sharex=True, sharey="row")
    handles: dict[str, Any] = {}
    for mi, m in enumerate(metrics):
        spec = results.metrics[m]
        hib, limit = spec.higher_is_better, float(spec.limit)
        for si, s in enumerate(snr):
            ax = axes[mi, si]
            areas = []
            for link, color, style_ in ((main, JAMMER_COLOR, "-o"), (control, NOISE_COLOR, "--s")):
                c = results.curve(link, m) if link else None
                if c is None:
                    continue
                mean, lo, hi = (a[si] for a in c.arrays())
                if link == main and math.isfinite(limit) and not is_jsr:
                    handles.setdefault("area", fill_aaddc(ax, eps, mean, limit, hib,
                                                          label=f"AADDC area ({short[link]}, intact side of L)"))
                if is_jsr and link == main and not shown.all():
                    handles.setdefault("zero", ax.axhline(mean[~shown][0], color=CLEAN_COLOR, linestyle=(0, (1, 1)),
                                                          linewidth=1.0, label="no jammer (ε = 0, JSR −∞)"))
                handles.setdefault(f"band_{link}", ax.fill_between(
                    x[shown], lo[shown], hi[shown], color=color, alpha=0.15 if link == main else 0.12, linewidth=0,
                    label=f"{results.link_title(link)}: 95 % interval"))
                (h,) = ax.plot(x[shown], mean[shown], style_, color=color, markersize=2.5,
                               linewidth=1.4 if link == main else 1.2, label=f"{results.link_title(link)}: mean")
                handles.setdefault(f"mean_{link}", h)
                a = results.aaddc_of(link, m)
                if a is not None:
                    areas.append(f"{short[link]} {a[si]:.3g}")
            if math.isfinite(limit):
                handles.setdefault("limit", ax.axhline(limit, color="black", linestyle="-.", linewidth=0.9,
                                                       label="limit line L"))
            if math.isfinite(highlight):
                what = "JSR" if is_jsr else "ε"
                handles.setdefault("hl", ax.axvline(highlight, color="0.4", linestyle=":", linewidth=1.0,
                                                    label=f"highlighted {what} = {highlight:g}"))
            ax.grid(True, alpha=0.3)
            ax.tick_params(labelsize=7, length=2.5, pad=2)
            ax.locator_params(nbins=4)
            lines = [snr_label(s)] if mi == 0 else []
            if areas:
                lines.append("AADDC " + " · ".join(areas))
            if lines:
                ax.set_title("\n".join(lines), fontsize=8, pad=3)
            if si == 0:
                ax.set_ylabel(f"{metric_label(results, m)}, L = {limit:g}", fontsize=8)
            if mi == M - 1:
                ax.set_xlabel(xlabel, fontsize=8)
    what = "JSR" if is_jsr else "jammer budget ε"
    fig.suptitle(header(results, f"DD-curves: mean quality vs {what}"), fontsize=9,
                 y=1 - 0.06 / fig.get_figheight(), va="top")
    order = [k for k in (f"mean_{main}", f"band_{main}", f"mean_{control}", f"band_{control}", "limit", "area",
                         "zero", "hl") if k in handles]
    fig.legend([handles[k] for k in order], [handles[k].get_label() for k in order], loc="lower center",
               ncol=ncol, fontsize=7, frameon=False, title="\n".join(note), title_fontsize=7)
    return fig
