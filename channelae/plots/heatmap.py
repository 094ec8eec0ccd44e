"""``heatmap.png``: mean quality of the main link over SNR × ε, one panel per metric, limit-line contour,
ε and JSR on the x axis."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from channelae.plots.style import arr, figure, header, metric_label, ordered_metrics, panel_grid, units_note
from channelae.results import Results

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["NAME", "build"]

NAME = "heatmap"


def _jsr_text(j: float) -> str:
    """A JSR tick (dB): ``-∞`` at ε = 0, whole dB from 10 dB on, else one decimal."""
    if not math.isfinite(j):
        return "-∞" if j < 0 else "∞"
    return f"{j:.0f}" if abs(j) >= 10 else f"{j:.1f}"


def build(results: Results) -> Figure | None:
    """The heat-map figure of ``results`` (rows: SNR ascending, noiseless on top; columns: ε), or ``None``.

    x ticks carry ε (in the results' unit) and, below it, the JSR in dB (JSR first when the grid was given as
    JSR); the limit line ``L`` is drawn in red as a
    contour (when the grid crosses it) and on the colour bar (when ``L`` is in its range), and the title says
    which of the two is drawn.
    """
    eps = results.budget.grid()
    jsr = arr(results.budget.jsr_db)
    snr = results.snr_grid()
    main = results.main_link
    metrics = [m for m in ordered_metrics(results) if results.curve(main, m) is not None]
    if not metrics or eps.size == 0 or snr.size == 0:
        return None
    order = np.argsort(snr, kind="stable")  # ascending, noiseless last (drawn at the top)
    S, E = len(snr), len(eps)
    n = len(metrics)
    cell_w = max(0.3, min(0.45, 4.0 / E))
    panel_w, panel_h = cell_w * E, max(1.2, min(0.4 * S, 4.0))
    cbar_w = 0.9  # colour bar and its label, inside the panel's share
    ncols = min(n, 3 if panel_w + cbar_w <= 4.5 else 2 if panel_w + cbar_w <= 7.0 else 1)
    nrows = math.ceil(n / ncols)
    left, right, top, bottom, wspace, hspace = 0.85, 0.1, 0.85, 0.65, 0.95, 0.95
    width = max(left + right + ncols * (panel_w + cbar_w) + (ncols - 1) * wspace, 6.0)
    fig = figure(width, top + bottom + nrows * panel_h + (nrows - 1) * hspace)
    axes = panel_grid(fig, nrows, ncols, left=left, right=right, top=top, bottom=bottom, wspace=wspace,
                      hspace=hspace)
    annotate = S * E <= 60
    step = max(1, math.ceil(E / 8))
    ticks = np.arange(0, E, step)
    jsr_first = results.budget.axis == "jsr_db"
    tick_labels = [f"{_jsr_text(jsr[j])}\n{eps[j]:.3g}" if jsr_first else f"{eps[j]:.3g}\n{_jsr_text(jsr[j])}"
                   for j in ticks]
    unit = results.budget.eps_unit
    xlabel = f"JSR (dB) / ε ({unit} L2 norm)" if jsr_first else f"ε ({unit} L2 norm) / JSR (dB)"
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
        cb = fig.colorbar(im, ax=ax, fraction=cbar_w / (panel_w + cbar_w) * 0.45, pad=0.04)
        cb.set_label(metric_label(results, m) + " (brighter = better)", fontsize=7)
        cb.ax.tick_params(labelsize=7)
        if not hib:
            cb.ax.invert_yaxis()  # better is up on every colour bar
        drawn = []
        if math.isfinite(limit):
            if S >= 2 and E >= 2 and vmin < limit < vmax:
                ax.contour(np.arange(E), np.arange(S), np.nan_to_num(grid, nan=vmin), levels=[limit],
                           colors="red", linewidths=1.2)
                drawn.append("contour")
            if vmin <= limit <= vmax:
                cb.ax.axhline(limit, color="red", linewidth=1.2)
                drawn.append("colour bar")
        if annotate:
            mid = 0.5 * (vmin + vmax)
            for i in range(S):
                for j in range(E):
                    v = grid[i, j]
                    bright = (v > mid) if hib else (v < mid)
                    ax.text(j, i, "n/a" if not math.isfinite(v) else f"{v:.2g}", ha="center", va="center",
                            fontsize=5.5, color="black" if bright else "white")
        ax.set_xticks(ticks, tick_labels, fontsize=7)
        ax.set_yticks(np.arange(S), ["noiseless" if math.isinf(s) and s > 0 else f"{s:g}" for s in snr[order]],
                      fontsize=7)
        ax.tick_params(length=2, pad=2)
        ax.set_xlabel(xlabel, fontsize=7)
        ax.set_ylabel("SNR (dB)", fontsize=7)
        lim_txt = f"; red {' and '.join(drawn)}: L = {limit:g}" if drawn else f"; L = {limit:g} outside the range"
        ax.set_title(f"{m.upper()}, {results.link_title(main)}{lim_txt}", fontsize=8, pad=3)
    for k in range(n, nrows * ncols):
        axes[k // ncols, k % ncols].set_visible(False)
    fig.suptitle(header(results, "Mean quality over SNR × jammer budget"), fontsize=9,
                 y=1 - 0.06 / fig.get_figheight(), va="top")
    fig.text(0.5, 0.02, units_note(results), ha="center", va="bottom", fontsize=7)
    return fig
