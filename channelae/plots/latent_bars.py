"""``latent_bars.png``: the study's Eq. 7 plot, per latent dimension mean ``|z|``, ``|ẑ|`` and ``|ẑ − z|``
(main link, highest SNR, highlighted budget). Skipped (``None``) when the results have no such bars."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from channelae.plots.style import AREA_COLOR, CLEAN_COLOR, JAMMER_COLOR, arr, figure, panel_grid
from channelae.results import Results, snr_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["NAME", "build"]

NAME = "latent_bars"


def build(results: Results) -> Figure | None:
    """The Eq. 7 bar chart of ``results``, or ``None``."""
    bars = results.latent_bars
    if bars is None or not (len(bars.z_abs) and len(bars.z_adv_abs) and len(bars.delta_abs)):
        return None
    z, z_adv, delta = arr(bars.z_abs), arr(bars.z_adv_abs), arr(bars.delta_abs)
    d = len(z)
    x = np.arange(d)
    width = 0.27
    fig = figure(min(max(6.0, 0.3 * d + 1.2), 24.0), 3.6)
    ax = panel_grid(fig, 1, 1, left=0.7, right=0.15, top=0.85, bottom=0.5, wspace=0, hspace=0)[0, 0]
    ax.bar(x - width, z, width, label="mean |z| (clean latent)", color=CLEAN_COLOR)
    ax.bar(x, z_adv, width, label=r"mean $|\hat z|$ (received latent = $z_{adv}$)", color=JAMMER_COLOR)
    ax.bar(x + width, delta, width, label=r"mean $|\delta| = |\hat z - z|$", color=AREA_COLOR)
    step = max(1, math.ceil(d / 40))
    ax.set_xticks(x[::step])
    ax.set_xticklabels([str(i) for i in x[::step]], fontsize=7)
    ax.tick_params(labelsize=7, length=2, pad=2)
    ax.set_xlim(-0.6, d - 0.4)
    ax.set_xlabel("latent dimension", fontsize=8)
    ax.set_ylabel("mean |value| (latent units)", fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    noise = "" if math.isinf(bars.snr_db) and bars.snr_db > 0 else " (δ includes channel noise)"
    fig.suptitle(f"Eq. 7: dimension-wise mean |z|, |z_adv|, |δ| — {results.link_title(results.main_link)}, "
                 f"ε = {bars.eps:g}, {snr_label(bars.snr_db)}{noise}\nchannel {results.channel}, "
                 f"{results.dataset}, {results.n_images} images; ε: {results.budget.eps_unit} L2 norm per example", fontsize=8,
                 y=1 - 0.06 / fig.get_figheight(), va="top")
    return fig
