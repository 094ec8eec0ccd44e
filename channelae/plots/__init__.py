"""Plots of a results directory (``channelae report DIR`` / ``simulate`` / ``run``): read-only, no recomputation.

Owns the figures; reads nothing but :mod:`channelae.results` (one module per figure, sharing
:mod:`channelae.plots.style`). :func:`render_plots` writes, each atomically and in every requested format
(``png``, ``pdf``, ``svg``), and returns the paths of

* ``dd_curves`` — DD-curves per metric and SNR, jammer and noise control with their intervals
  (:mod:`~channelae.plots.dd_curves`); skipped for a single budget;
* ``heatmap`` — mean quality over SNR × ε (:mod:`~channelae.plots.heatmap`);
* ``images`` — inputs, clean and jammed reconstructions (:mod:`~channelae.plots.images`);
* ``latent_bars`` — the study's Eq. 7 bars (:mod:`~channelae.plots.latent_bars`);
* ``tsne`` — on request only (``tsne=True``): t-SNE of clean vs received latents coloured by class
  (:mod:`~channelae.plots.tsne`); skipped for < 5 images.

A skipped plot's stale file (any format) from an earlier run in the same directory is removed, so the
directory's plots always match its ``results.json``. :func:`render_combined` draws the per-model comparison of
a ``run`` folder; :func:`render_analog_digital` (:mod:`~channelae.plots.analog_digital`) the quality-vs-SNR
comparison of a ``run`` folder with an analog and a digital (``link = "digital"``) simulation.
Units: ε = L2 norm per example in the results' unit (``budget.eps_unit``: link or latent; the DD-curves use JSR
as x axis when the grid was given as JSR); SNR = Es/N0 per complex symbol in dB.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from channelae.plots import dd_curves, heatmap, images, latent_bars
from channelae.plots import tsne as tsne_module
from channelae.plots.analog_digital import render_run as render_analog_digital
from channelae.plots.combined import render_combined
from channelae.plots.dd_curves import aaddc_region, fill_aaddc, polygon_area
from channelae.plots.images import pick_budgets
from channelae.plots.style import FORMATS, check_formats, remove, save
from channelae.results import Results, read_per_image, read_samples

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["FORMATS", "PLOT_NAMES", "aaddc_region", "check_formats", "fill_aaddc", "pick_budgets", "polygon_area",
           "render_analog_digital", "render_combined", "render_plots"]

#: The plots of a results directory (file stems; each written as ``<stem>.<format>``).
PLOT_NAMES = (dd_curves.NAME, heatmap.NAME, images.NAME, latent_bars.NAME, tsne_module.NAME)


def render_plots(results_dir: str | os.PathLike[str], results: Results, *, formats: Sequence[str] = ("png",),
                 tsne: bool = False) -> list[Path]:
    """Write the plots of a results directory (module docstring); returns the paths written.

    :param results_dir: directory holding ``results.json`` and its side files (``samples.safetensors``).
    :param results: its results (:func:`channelae.results.load`, or what ``simulate`` returned).
    :param formats: file formats, any of :data:`FORMATS` (``png``, ``pdf``, ``svg``); each plot is written in
        each. Files of these plots in other formats, and of skipped plots in any format, are removed: the
        folder never mixes plots of an earlier run with this one's.
    :param tsne: also draw ``tsne`` (seconds: off by default, see :mod:`channelae.plots.tsne`).
    :raises UsageError: for an unknown format (argument ``--plot-format``).
    """
    formats = check_formats(formats)
    results_dir = Path(results_dir)
    samples = read_samples(results_dir)
    builders: dict[str, Callable[[], Figure | None]] = {
        dd_curves.NAME: lambda: dd_curves.build(results),
        heatmap.NAME: lambda: heatmap.build(results),
        images.NAME: lambda: images.build(results, samples, read_per_image(results_dir)),
        latent_bars.NAME: lambda: latent_bars.build(results),
        tsne_module.NAME: (lambda: tsne_module.build(results, samples)) if tsne else (lambda: None),
    }
    written: list[Path] = []
    for name, build in builders.items():
        stem = results_dir / name
        fig = build()
        remove(stem, keep=formats if fig is not None else ())  # stale files of an earlier run
        if fig is not None:
            written.extend(save(fig, stem, formats))
    return written
