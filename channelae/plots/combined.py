"""``combined_<simulation>.png`` of a ``channelae run`` folder: every model's jammer DD-curve in one figure,
one panel per metric, at the highest SNR of the simulation (noiseless when present), each model's equal-power
noise control dashed in its colour, with the limit line."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from channelae.plots.style import arr, figure, metric_label, ordered_metrics, save
from channelae.results import Results, snr_label

__all__ = ["render_combined"]


def render_combined(dest: str | os.PathLike[str], runs: Mapping[str, Results], *, title: str,
                    dataset: str) -> list[Path]:
    """Write the combined DD-curves of ``runs`` (model label → its results for one simulation) to ``dest``.

    :param title: first title line, e.g. ``"<experiment> — <simulation>"``.
    :return: ``[dest]``, or ``[]`` when there is nothing to draw (no run, or a single budget); a stale file
        at ``dest`` is then removed.
    """
    dest = Path(dest)
    first = next(iter(runs.values()), None)
    if first is None or len(first.budget.eps) < 2:
        dest.unlink(missing_ok=True)
        return []
    metrics = ordered_metrics(first)
    fig = figure(4.2 * len(metrics), 3.4)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
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
        ax.set_xlabel("ε (latent L2 norm per example)")
        ax.set_ylabel(metric_label(first, metric))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    top = snr_label(float(np.max(first.snr_grid())))
    fig.suptitle(f"{title}: PGD-jammer DD-curves per model (dashed: equal-power noise)\n"
                 f"{dataset}, {top}, reference: {first.reference}", fontsize=10)
    return [save(fig, dest)]
