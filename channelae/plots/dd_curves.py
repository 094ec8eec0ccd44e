"""``dd_curves.png``: DD-curves (mean quality vs jammer budget ε), one row per metric, one column per SNR.

Each panel: the main link's mean with its 95 % interval band, the equal-power noise-jammer control
(dashed), the limit line ``L``, the highlighted ε (dotted), and the AADDC area shaded between the jammer curve
and ``L`` on the intact side (above ``L`` for higher-is-better, below for lower-is-better: :func:`fill_aaddc`).
Skipped (``None``) for a single budget. Also owns the geometry of that shading (:func:`aaddc_region`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from channelae.plots.style import (
    AREA_COLOR,
    JAMMER_COLOR,
    NOISE_COLOR,
    UNITS_NOTE,
    arr,
    figure,
    header,
    metric_label,
    ordered_metrics,
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

    :param eps: ``[E]`` increasing ε grid (latent L2 norm).
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
    """The DD-curve figure of ``results``, or ``None`` for a single budget."""
    eps = results.budget.grid()
    if eps.size < 2:
        return None
    snr = results.snr_grid()
    metrics = ordered_metrics(results)
    main, control = results.main_link, results.control_link
    highlight = results.budget.highlight
    S, M = len(snr), len(metrics)
    col_w = 3.3 if S <= 6 else max(1.8, 20.0 / S)
    width = max(min(col_w * S, 40.0) + 0.6, 7.5)
    fig = figure(width, 2.7 * M + 1.4)
    axes = fig.subplots(M, S, squeeze=False, sharex=True)
    handles: dict[str, Any] = {}
    for mi, m in enumerate(metrics):
        spec = results.metrics[m]
        hib, limit = spec.higher_is_better, float(spec.limit)
        c_main = results.curve(main, m)
        c_ctrl = results.curve(control, m) if control else None
        areas = results.aaddc_of(main, m)
        for si, s in enumerate(snr):
            ax = axes[mi, si]
            area_txt = ""
            if c_main is not None:
                mean, lo, hi = (a[si] for a in c_main.arrays())
                if math.isfinite(limit):
                    h = fill_aaddc(ax, eps, mean, limit, hib, label="AADDC area (intact side of L)")
                    handles.setdefault("area", h)
                h = ax.fill_between(eps, lo, hi, color=JAMMER_COLOR, alpha=0.15, linewidth=0,
                                    label=f"{results.link_title(main)}: 95 % interval")
                handles.setdefault("band", h)
                (h,) = ax.plot(eps, mean, "-o", color=JAMMER_COLOR, markersize=3, linewidth=1.6,
                               label=f"{results.link_title(main)}: mean")
                handles.setdefault("main", h)
                if areas is not None:
                    area_txt = f"AADDC = {areas[si]:.4g}"
            if c_ctrl is not None:
                (h,) = ax.plot(eps, arr(c_ctrl.mean)[si], "--", color=NOISE_COLOR, linewidth=1.4,
                               label=results.link_title(control))
                handles.setdefault("ctrl", h)
            if math.isfinite(limit):
                h = ax.axhline(limit, color="black", linestyle="-.", linewidth=1.0, label="limit line L")
                handles.setdefault("limit", h)
            if math.isfinite(highlight):
                h = ax.axvline(highlight, color="0.4", linestyle=":", linewidth=1.2,
                               label=f"highlighted ε = {highlight:g}")
                handles.setdefault("hl", h)
            ax.grid(True, alpha=0.3)
            ax.tick_params(labelsize=8)
            title = "\n".join(x for x in (snr_label(s) if mi == 0 else "", area_txt) if x)
            if title:
                ax.set_title(title, fontsize=9)
            if si == 0:
                ax.set_ylabel(f"{metric_label(results, m)}\n(L = {limit:g})", fontsize=9)
            if mi == M - 1:
                ax.set_xlabel("ε (latent L2 norm)", fontsize=9)
    fig.suptitle(header(results, "DD-curves (mean quality vs jammer budget ε, per SNR)") + "\n" + UNITS_NOTE
                 + "\nAADDC: area between the jammer curve and L on the intact side (shaded), in metric × ε",
                 fontsize=10)
    order = [k for k in ("main", "band", "ctrl", "limit", "area", "hl") if k in handles]
    fig.legend([handles[k] for k in order], [handles[k].get_label() for k in order],
               loc="outside lower center", ncol=max(1, min(len(order), int(width // 2.4))), fontsize=8,
               frameon=False)
    return fig
