"""``combined_<simulation>`` of a ``channelae run`` folder: every model's jammer DD-curve in one figure,
one panel per metric, at the highest SNR of the simulation (noiseless when present), each model's equal-power
noise control dashed in its colour, with the limit line."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from channelae.plots.style import (
    arr,
    check_formats,
    figure,
    metric_label,
    ordered_metrics,
    panel_grid,
    remove,
    save,
)
from channelae.results import Results, snr_label

__all__ = ["render_combined"]


def render_combined(stem: str | os.PathLike[str], runs: Mapping[str, Results], *, title: str, dataset: str,
                    formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write the combined DD-curves of ``runs`` (model label → its results for one simulation) to
    ``<stem>.<format>`` for each format; returns the paths.

    :param title: first title line, e.g. ``"<experiment> — <simulation>"``.
    :return: ``[]`` when there is nothing to draw (no run, or a single budget); stale files of ``stem`` (any
        format, and formats not requested) are removed.
    """
    stem = Path(stem)
    formats = check_formats(formats)
    first = next(iter(runs.values()), None)
    if first is None or len(first.budget.eps) < 2:
        remove(stem)
        return []
    metrics = ordered_metrics(first)
    M = len(metrics)
    fig = figure(0.7 + 3.3 * M + 0.6 * (M - 1), 3.6)
    axes = panel_grid(fig, 1, M, left=0.7, right=0.15, top=0.75, bottom=0.5, wspace=0.6, hspace=0)[0]
    for ax, metric in zip(axes, metrics):
        for model, res in runs.items():
            link, control = res.main_link, res.control_link
            si = int(np.argmax(res.snr_grid()))
            eps = res.budget.grid()
            (line,) = ax.plot(eps, arr(res.curves[link][metric].mean)[si], marker=".", label=model)
            if control is not None:  # the equal-power noise control, same colour, dashed
                ax.plot(eps, arr(res.curves[control][metric].mean)[si], ls="--", lw=1, color=line.get_color(),
                        label=f"{model}, noise")
        ax.axhline(first.metrics[metric].limit, color="k", ls="-.", lw=1, label="limit line L")
        ax.set_xlabel(f"ε ({first.budget.eps_unit} L2 norm per example)", fontsize=8)
        ax.set_ylabel(metric_label(first, metric), fontsize=8)
        ax.tick_params(labelsize=7, length=2, pad=2)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    top = snr_label(float(np.max(first.snr_grid())))
    fig.suptitle(f"{title}: PGD-jammer DD-curves per model (dashed: equal-power noise)\n"
                 f"{dataset}, {top}, reference: {first.reference}", fontsize=9, y=1 - 0.05 / 3.6, va="top")
    remove(stem, keep=formats)
    return save(fig, stem, formats)
