"""``analog_vs_digital``: quality vs SNR of the analog and the digital link, without jammer, under the PGD
jammer and under equal-power noise, one panel per JSR.

Each panel is one jammer budget (JSR in dB over the link's own channel uses: ``ε²/n`` on the analog link,
``ε²/n_c`` on the digital one), x = SNR (dB Es/N0 per complex symbol, finite points), y = the metric (SSIM by
default). Per link (one colour each): the PGD jammer (solid, markers), its equal-power noise control (dashed)
and the jammer-free link (thin dotted: the noise-only reference curve on its fine SNR grid when the results
have one, within the simulations' SNR range, else the ε = 0 row). Bands: the 95 % interval — over images for one seed, over seeds (Student t,
on the per-seed means) for several.

Input: ``{label: [Results of seed 1, seed 2, ...]}`` for each link (:func:`build`), or a ``channelae run``
folder whose simulations include an analog and a digital one (:func:`render_run`, called by ``channelae run``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from channelae.plots.style import arr, check_formats, figure, metric_label, panel_grid, remove, save
from channelae.results import Results, load

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["NAME", "build", "link_kind", "link_label", "render", "render_run"]

NAME = "analog_vs_digital"
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple")
#: Two JSR grid points closer than this (dB) are the same budget.
JSR_TOLERANCE_DB = 0.05


def link_kind(results: Results) -> str:
    """``digital`` for results of ``simulate --link digital``, else ``analog``."""
    return "digital" if isinstance(results.extra.get("digital"), dict) else "analog"


def link_label(results: Results) -> str:
    """``analog, n = 5`` or ``digital 3 b/dim, LDPC r = 0.75, 256-QAM, n_c = 5``."""
    d = results.extra.get("digital")
    if not isinstance(d, dict):
        return f"analog, n = {results.budget.num_symbols}" if results.budget.num_symbols else "analog"
    code = f"LDPC r = {d['code_rate']:.2g}" if d.get("coded", True) else "uncoded"
    return f"digital {d['bits']} b/dim, {code}, {d['qam']}-QAM, n_c = {d['num_channel_uses']}"


def _seed_stats(curves: list[np.ndarray], los: list[np.ndarray], his: list[np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95 % band: the run's own interval for one seed, a t-interval over the seeds' means for more."""
    if len(curves) == 1:
        return curves[0], los[0], his[0]
    from channelae.curves import t_quantile

    v = np.stack(curves)
    n = v.shape[0]
    mean = v.mean(0)
    half = t_quantile(0.975, n - 1) * v.std(0, ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def _budget_index(results: Results, jsr: float) -> int | None:
    grid = arr(results.budget.jsr_db)
    hits = np.nonzero(np.abs(grid - jsr) < JSR_TOLERANCE_DB)[0]
    return int(hits[0]) if hits.size else None


def build(links: Mapping[str, Sequence[Results]], *, metric: str = "ssim",
          jsr_db: Sequence[float] | None = None) -> Figure | None:
    """The figure (module docstring), or ``None`` when there is nothing to compare (no jammed results, no
    common JSR point or no finite SNR).

    :param links: label → the results of that link (one per seed, the same grids).
    :param metric: the quality metric drawn (must be in every results).
    :param jsr_db: the JSR points (dB), one panel each; default: every finite JSR of the first results' grid
        that all links have (at most 4).
    """
    groups = {k: list(v) for k, v in links.items() if v}
    if not groups:
        return None
    first = next(iter(groups.values()))[0]
    if jsr_db is None:
        jsr_db = [j for j in first.budget.jsr_db if math.isfinite(j)]
    panels = [j for j in jsr_db if all(_budget_index(r, j) is not None for rs in groups.values() for r in rs)][:4]
    if not panels or any(metric not in r.metrics for rs in groups.values() for r in rs):
        return None
    P = len(panels)
    bottom = 0.55 + 0.16 * 3  # the legend: one column per link, its three lines
    fig = figure(0.8 + 3.0 * P + 0.3 * (P - 1), 2.9 + bottom)
    axes = panel_grid(fig, 1, P, left=0.8, right=0.15, top=0.75, bottom=bottom, wspace=0.3, hspace=0,
                      sharey=True)[0]
    handles: dict[str, Any] = {}
    for (label, runs), color in zip(groups.items(), COLORS):
        snr = runs[0].snr_grid()
        keep = np.isfinite(snr)
        if not keep.any():
            return None
        order = np.argsort(snr[keep])
        x = snr[keep][order]
        # jammer-free: the reference curve on its fine grid when every seed has one, else the ε = 0 row
        refs = [r.reference_curve for r in runs]
        if all(rc is not None and metric in rc.curves for rc in refs):
            rx = arr(refs[0].snr_db)
            rk = np.isfinite(rx) & (rx >= x[0]) & (rx <= x[-1])  # the simulations' SNR range
            parts = [c.arrays() for c in (rc.curves[metric] for rc in refs)]
            ref = _seed_stats(*[[p[i][0][rk] for p in parts] for i in range(3)])
            ref_x = rx[rk]
        else:
            parts = [r.curves[r.main_link][metric].arrays() for r in runs]
            ref = _seed_stats(*[[p[i][keep, 0][order] for p in parts] for i in range(3)])
            ref_x = x
        for ax, jsr in zip(axes, panels):
            h = ax.plot(ref_x, ref[0], ls=":", lw=1.2, color=color, label=f"{label}: no jammer")[0]
            handles.setdefault(f"{label} ref", h)
            for link, style in ((None, "-o"), ("noise", "--s")):
                name = (lambda r: r.main_link) if link is None else (lambda r: r.control_link)
                if any(name(r) is None or name(r) not in r.curves for r in runs):
                    continue
                vals = []
                for r in runs:
                    m, lo, hi = r.curves[name(r)][metric].arrays()
                    ei = _budget_index(r, jsr)
                    vals.append((m[keep, ei][order], lo[keep, ei][order], hi[keep, ei][order]))
                mean, lo, hi = _seed_stats(*[[v[i] for v in vals] for i in range(3)])
                what = "PGD jammer" if link is None else "equal-power noise"
                ax.fill_between(x, lo, hi, color=color, alpha=0.15 if link is None else 0.08, linewidth=0)
                h = ax.plot(x, mean, style, color=color, markersize=3, lw=1.4 if link is None else 1.1,
                            label=f"{label}: {what}")[0]
                handles.setdefault(f"{label} {what}", h)
    for ax, jsr in zip(axes, panels):
        ax.set_title(f"JSR {jsr:g} dB", fontsize=9)
        ax.set_xlabel("SNR (dB, Es/N0 per complex symbol)", fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7, length=2, pad=2)
    axes[0].set_ylabel(metric_label(first, metric), fontsize=8)
    seeds = max(len(v) for v in groups.values())
    band = "95 % t-interval over seeds" if seeds > 1 else "95 % interval over images"
    fig.suptitle(f"{metric.upper()} vs SNR: analog vs digital link under a jammer — {first.dataset}, "
                 f"{first.n_images} images{f' × {seeds} seeds' if seeds > 1 else ''}\nchannel {first.channel}; "
                 f"JSR = ε²/(channel uses · Es) on each link's own symbols; bands: {band}", fontsize=9, y=0.985)
    fig.legend(list(handles.values()), [h.get_label() for h in handles.values()], loc="lower center",
               ncol=len(groups), fontsize=7, frameon=False, bbox_to_anchor=(0.5, 0.0))
    return fig


def render(stem: str | os.PathLike[str], links: Mapping[str, Sequence[Results]], *, metric: str = "ssim",
           jsr_db: Sequence[float] | None = None, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write :func:`build`'s figure to ``<stem>.<format>``; returns the paths (``[]`` and stale files removed
    when there is nothing to draw)."""
    stem = Path(stem)
    formats = check_formats(formats)
    fig = build(links, metric=metric, jsr_db=jsr_db)
    remove(stem, keep=formats if fig is not None else ())
    return [] if fig is None else save(fig, stem, formats)


def render_run(folder: str | os.PathLike[str], summary: Mapping[str, Any], *, metric: str = "ssim",
               formats: Sequence[str] = ("png",)) -> list[Path]:
    """The figure of a ``channelae run`` folder with an analog and a digital simulation: one per model
    (``<folder>/analog_vs_digital[_<model>].<format>``), each simulation a link, seeds pooled; ``[]`` otherwise.

    :param summary: the run's summary (its ``runs`` list: model, seed, simulation, reference, dir).
    """
    root = Path(folder)
    first_ref: dict[str, str] = {}
    by_model: dict[str, dict[str, list[Results]]] = {}
    for run in summary.get("runs", []):
        first_ref.setdefault(run["simulation"], run.get("reference"))
        if run.get("reference") != first_ref[run["simulation"]]:
            continue
        res = load(root / run["dir"])
        by_model.setdefault(run["model"], {}).setdefault(run["simulation"], []).append(res)
    written: list[Path] = []
    for model, sims in by_model.items():
        kinds = {link_kind(rs[0]) for rs in sims.values()}
        stem = root / (NAME if len(by_model) == 1 else f"{NAME}_{model}")
        if kinds != {"analog", "digital"}:
            remove(stem)
            continue
        links = {link_label(rs[0]): rs for rs in sims.values()}
        written += render(stem, links, metric=metric, formats=formats)
    return written
