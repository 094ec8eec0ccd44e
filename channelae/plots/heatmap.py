"""``heatmap.png``: mean quality of the main link over SNR × ε, one panel per metric, limit-line contour."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from channelae.plots.style import UNITS_NOTE, arr, figure, header, metric_label, ordered_metrics
from channelae.results import Results

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["NAME", "build"]

NAME = "heatmap"


def build(results: Results) -> Figure | None:
    """The heat-map figure of ``results`` (rows: SNR ascending, noiseless on top; columns: ε), or ``None``."""
    eps = results.budget.grid()
    snr = results.snr_grid()
    main = results.main_link
    metrics = [m for m in ordered_metrics(results) if results.curve(main, m) is not None]
    if not metrics or eps.size == 0 or snr.size == 0:
        return None
    order = np.argsort(snr, kind="stable")  # ascending, noiseless last (drawn at the top)
    S, E = len(snr), len(eps)
    n = len(metrics)
    cell_w = max(0.4, min(0.7, 6.0 / E))
    panel_w = max(3.8, cell_w * E + 2.2)
    ncols = min(n, 2 if panel_w <= 7.0 else 1)
    nrows = math.ceil(n / ncols)
    panel_h = max(2.4, min(0.5 * S, 6.0) + 1.4)
    fig = figure(panel_w * ncols, panel_h * nrows + 0.9)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    annotate = S * E <= 80
    for k, m in enumerate(metrics):
        ax = axes[k // ncols, k % ncols]
        spec = results.metrics[m]
        hib, limit = spec.higher_is_better, float(spec.limit)
        grid = arr(results.curves[main][m].mean)[order]  # [S, E]
        finite = grid[np.isfinite(grid)]
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if vmin == vmax:
            vmin, vmax = vmin - 0.5 * (abs(vmin) or 1.0), vmax + 0.5 * (abs(vmax) or 1.0)
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis" if hib else "viridis_r",
                       vmin=vmin, vmax=vmax, interpolation="nearest")
        cb = fig.colorbar(im, ax=ax, shrink=0.9)
        cb.set_label(metric_label(results, m) + " (brighter = better)", fontsize=8)
        if not hib:
            cb.ax.invert_yaxis()  # better is up on every colour bar
        if math.isfinite(limit):
            if vmin <= limit <= vmax:
                cb.ax.axhline(limit, color="red", linewidth=1.2)
            if S >= 2 and E >= 2 and vmin < limit < vmax:
                ax.contour(np.arange(E), np.arange(S), np.nan_to_num(grid, nan=vmin), levels=[limit],
                           colors="red", linewidths=1.3)
        if annotate:
            mid = 0.5 * (vmin + vmax)
            for i in range(S):
                for j in range(E):
                    v = grid[i, j]
                    bright = (v > mid) if hib else (v < mid)
                    ax.text(j, i, "n/a" if not math.isfinite(v) else f"{v:.3g}", ha="center", va="center",
                            fontsize=6, color="black" if bright else "white")
        step = max(1, math.ceil(E / 12))
        ax.set_xticks(np.arange(0, E, step))
        ax.set_xticklabels([f"{e:g}" for e in eps[::step]], fontsize=8, rotation=45 if E > 8 else 0)
        ax.set_yticks(np.arange(S))
        ax.set_yticklabels(["noiseless" if math.isinf(s) and s > 0 else f"{s:g}" for s in snr[order]],
                           fontsize=8)
        ax.set_xlabel("ε (latent L2 norm)", fontsize=9)
        ax.set_ylabel("SNR (dB)", fontsize=9)
        lim_txt = f"; red: limit L = {limit:g}" if math.isfinite(limit) else ""
        ax.set_title(f"{m.upper()} mean, {results.link_title(main)}{lim_txt}", fontsize=9)
    for k in range(n, nrows * ncols):
        axes[k // ncols, k % ncols].set_visible(False)
    fig.suptitle(header(results, "Mean quality over SNR × ε") + "\n" + UNITS_NOTE, fontsize=10)
    return fig
