"""Plots of a results directory (``channelae report DIR`` / ``simulate`` / ``run``): read-only, no recomputation.

Owns the figures; reads nothing but :mod:`channelae.results` (one module per figure, sharing
:mod:`channelae.plots.style`). :func:`render_plots` writes, each atomically, and returns the paths of

* ``dd_curves.png`` — DD-curves per metric and SNR (:mod:`~channelae.plots.dd_curves`); skipped for a single
  budget;
* ``heatmap.png`` — mean quality over SNR × ε (:mod:`~channelae.plots.heatmap`);
* ``images.png`` — inputs, clean and jammed reconstructions (:mod:`~channelae.plots.images`);
* ``latent_bars.png`` — the study's Eq. 7 bars (:mod:`~channelae.plots.latent_bars`);
* ``tsne.png`` — t-SNE of clean vs received latents (:mod:`~channelae.plots.tsne`); skipped for < 5 images.

A skipped plot's stale file from an earlier run in the same directory is removed, so the directory's plots
always match its ``results.json``. :func:`render_combined` draws the per-model comparison of a ``run`` folder.
Units: ε = latent L2 norm per example; SNR = Es/N0 per complex symbol in dB.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from channelae.plots import dd_curves, heatmap, images, latent_bars, tsne
from channelae.plots.combined import render_combined
from channelae.plots.dd_curves import aaddc_region, fill_aaddc, polygon_area
from channelae.plots.images import pick_budgets
from channelae.plots.style import save
from channelae.results import Results, read_per_image, read_samples

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["PLOT_NAMES", "aaddc_region", "fill_aaddc", "pick_budgets", "polygon_area", "render_combined",
           "render_plots"]

PLOT_NAMES = ("dd_curves.png", "heatmap.png", "images.png", "latent_bars.png", "tsne.png")


def render_plots(results_dir: str | os.PathLike[str], results: Results) -> list[Path]:
    """Write the plots of a results directory (module docstring); returns the paths written.

    :param results_dir: directory holding ``results.json`` and its side files (``samples.safetensors``).
    :param results: its results (:func:`channelae.results.load`, or what ``simulate`` returned).
    """
    results_dir = Path(results_dir)
    samples = read_samples(results_dir)
    builders: dict[str, Callable[[], Figure | None]] = {
        dd_curves.NAME: lambda: dd_curves.build(results),
        heatmap.NAME: lambda: heatmap.build(results),
        images.NAME: lambda: images.build(results, samples, read_per_image(results_dir)),
        latent_bars.NAME: lambda: latent_bars.build(results),
        tsne.NAME: lambda: tsne.build(results, samples),
    }
    written: list[Path] = []
    for name, build in builders.items():
        dest = results_dir / f"{name}.png"
        fig = build()
        if fig is None:  # skipped: drop a stale plot of an earlier run
            dest.unlink(missing_ok=True)
            continue
        written.append(save(fig, dest))
    return written
