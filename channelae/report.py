"""Rich tables of a simulation's results, and ``channelae report DIR`` (tables + plots, no recomputation).

Owns the console presentation of :class:`channelae.results.Results`; reads nothing but what
:mod:`channelae.results` gives it (the plots come from :mod:`channelae.plots`, which depends on ``results``
only, never on this module).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from channelae.results import (
    BROKEN_AT_ZERO,
    NOT_BROKEN,
    Results,
    breaking_text,
    eps_axis_label,
    eps_unit_text,
    format_number,
    load,
    snr_label,
)

__all__ = ["print_tables", "render"]

#: Column suffix of each link in the tables.
_SHORT = {"jammer": "PGD", "noise": "noise", "link": ""}


def _pm(mean: float, lo: float, hi: float) -> str:
    """``mean±half`` of a symmetric (t-)interval: the half-width to 2 significant digits, the mean to the same
    decimal place (``-0.0123±0.0041``, ``+0.4±1.3``)."""
    if not all(math.isfinite(v) for v in (mean, lo, hi)):
        return format_number(mean)
    half = (hi - lo) / 2
    if half <= 0:
        return f"{mean:+.4g}±0"
    decimals = max(0, 1 - math.floor(math.log10(half)))
    return f"{mean:+.{decimals}f}±{half:.{decimals}f}"


def print_tables(results: Results, console: Console | None = None) -> None:
    """One Rich table per SNR (quality per budget for the jammer and the noise control, their paired difference,
    AADDC, breaking ε), then the equivalent SNRs, the attack's convergence and the notes."""
    console = console or Console()
    budget = results.budget
    eps, jsr, rel = budget.eps, budget.jsr_db, budget.eps_relative
    hi = budget.highlight_index
    links, metrics = results.links, results.metric_names
    unit = budget.eps_unit
    gap = bool(results.paired_gap)
    for si, s in enumerate(results.snr_db):
        title = f"{results.channel} — {snr_label(s)} — reference: {results.reference}"
        t = Table(title=title, title_justify="left", pad_edge=False, collapse_padding=True)
        t.add_column(eps_axis_label(unit), justify="right")
        if rel is not None:
            t.add_column(f"ε/{budget.relative_to.removeprefix('mean ')}", justify="right")
        t.add_column("JSR dB", justify="right")
        for m in metrics:
            arrow = "↑" if results.metrics[m].higher_is_better else "↓"
            for ln in links:
                t.add_column(f"{m}{arrow} {_SHORT.get(ln, ln)}".strip(), justify="right")
            if results.gap_of(m) is not None:
                t.add_column(f"Δ{m} PGD−noise", justify="right")
        for ei, e in enumerate(eps):
            row = [f"{e:.4g}", *([format_number(rel[ei])] if rel is not None else []), format_number(jsr[ei])]
            for m in metrics:
                for ln in links:
                    c = results.curve(ln, m)
                    row.append(format_number(c.mean[si][ei]) if c is not None else "")
                g = results.gap_of(m)
                if g is not None:
                    row.append(_pm(g.mean[si][ei], g.lo[si][ei], g.hi[si][ei]))
            t.add_row(*row, style="bold" if ei == hi and len(eps) > 1 else None)
        if len(eps) > 1:
            t.add_row(*_summary_row("AADDC", results, links, metrics, si, breaking=False), style="cyan")
            t.add_row(*_summary_row("break ε", results, links, metrics, si, breaking=True), style="cyan")
        console.print(t)
    _equivalent_snr_table(results, console)
    rel_note = (f"; ε/{budget.relative_to.removeprefix('mean ')}: ε relative to the {budget.relative_to} of the "
                "clean examples") if rel is not None else ""
    console.print(f"ε: jammer budget, {eps_unit_text(unit)}{rel_note}; JSR = ‖δ_s‖²/(n·Es) in dB (n = "
                  f"{budget.num_symbols} symbols)" if budget.num_symbols else f"ε: jammer budget, {eps_unit_text(unit)}")
    console.print(f"break ε: smallest ε whose mean crosses the limit line ({NOT_BROKEN} : not broken on the grid; "
                  f"{BROKEN_AT_ZERO}: below the limit already without a jammer)")
    if gap:
        console.print("ΔM PGD−noise: mean over images of the per-image difference (PGD jammer − equal-power noise, "
                      "same images and channel realisations) ± 95 % t-interval half-width; the PGD jammer is "
                      "worse than noise where Δ is below 0 for ↑ metrics, above 0 for ↓ metrics and the "
                      "interval excludes 0")
    limits = ", ".join(f"{m} {format_number(results.metrics[m].limit)}" for m in metrics)
    draws = f" × {results.draws} channel draws each" if results.draws > 1 else ""
    console.print(f"limit lines: {limits}; AADDC = ∫ max(margin to limit, 0) dε (metric × ε, bigger = more "
                  f"robust); means over {results.n_images} images{draws} (95 % intervals in results.json)")
    caps = [f"{m} capped per image at {results.metrics[m].cap:.1f} {results.metrics[m].unit}".rstrip()
            for m in metrics if results.metrics[m].cap is not None]
    if caps:
        console.print("; ".join(caps) + " (8-bit images closer than that are indistinguishable)")
    _convergence_note(results, console)
    for m, why in results.skipped_metrics.items():
        console.print(f"[yellow]skipped {m}:[/] {why}", highlight=False)


def _eq_cell(results: Results, link: str, metric: str, si: int, ei: int) -> str:
    """One equivalent-SNR cell: the loss in dB at a finite SNR, the equivalent SNR ``s′`` at a noiseless one,
    with the reason when the value lies outside the reference curve."""
    loss = results.equivalent_snr_loss_db.get(link, {}).get(metric)
    sp = results.equivalent_snr_db.get(link, {}).get(metric)
    status = results.equivalent_snr_status.get(link, {}).get(metric)
    ref = results.reference_curve
    if loss is None or sp is None or ref is None:
        return ""
    st = status[si][ei] if status is not None else "ok"
    finite = [v for v in ref.snr_db if math.isfinite(v)]
    lo_snr, hi_snr = (min(finite), max(finite)) if finite else (math.nan, math.nan)
    s = results.snr_db[si]
    if st == "nan":
        return "n/a"
    if math.isinf(s):  # noiseless link: the loss is infinite whenever s′ is finite; show s′
        if st == "best":
            return "∞"
        if st == "beyond":
            return f"< {lo_snr:g}ᵇ"
        if st == "censored":
            return f"> {hi_snr:g}ᶜ"
        return format_number(sp[si][ei])
    if st == "beyond":
        return f"> {s - lo_snr:g}ᵇ"
    if st == "censored" and s > hi_snr:
        return f"≤ {loss[si][ei]:.3g}ᶜ"
    return format_number(loss[si][ei])


def _equivalent_snr_table(results: Results, console: Console) -> None:
    """Equivalent SNR of the first metric: loss (dB) at finite SNR, ``s′`` at noiseless, PGD and noise side by
    side, with markers where the value lies outside the noise-only reference curve."""
    ref = results.reference_curve
    metric = next((m for m in results.metric_names if results.equivalent_snr_db.get(results.main_link, {}).get(m)),
                  None)
    if ref is None or metric is None:
        return
    links = [ln for ln in results.links if results.equivalent_snr_db.get(ln, {}).get(metric) is not None]
    budget = results.budget
    finite = [v for v in ref.snr_db if math.isfinite(v)]
    t = Table(title=f"equivalent SNR ({metric}): noise-only link on {min(finite):g}…{max(finite):g} dB and "
                    "noiseless, same images and channel realisations", title_justify="left", pad_edge=False,
              collapse_padding=True)
    t.add_column(eps_axis_label(budget.eps_unit), justify="right")
    t.add_column("JSR dB", justify="right")
    for s in results.snr_db:
        head = "noiseless: s′ dB" if math.isinf(s) else f"{s:g} dB: loss dB"
        for ln in links:
            t.add_column(f"{head} {_SHORT.get(ln, ln)}".strip(), justify="right")
    for ei, e in enumerate(budget.eps):
        row = [f"{e:.4g}", format_number(budget.jsr_db[ei])]
        for si in range(len(results.snr_db)):
            for ln in links:
                row.append(_eq_cell(results, ln, metric, si, ei))
        t.add_row(*row, style="bold" if ei == budget.highlight_index and len(budget.eps) > 1 else None)
    console.print(t)
    console.print("equivalent SNR s′: the SNR at which the link without jammer is as good as the jammed one; loss = "
                  "SNR − s′ (0: no worse than the link's own noise); ᵇ beyond the curve: worse than noise alone "
                  f"at {min(finite):g} dB, so the loss is larger; ᶜ censored: between {max(finite):g} dB and "
                  "noiseless, no finite SNR to interpolate to; other metrics in results.json / results.csv")


def _convergence_note(results: Results, console: Console) -> None:
    """One line on the attack's convergence: what the second half of its steps still added to the mean
    distance, noiseless (exact values) and at finite SNR (estimates on channel draws, said so)."""
    conv = results.convergence
    if conv is None:
        return
    import numpy as np

    gain = conv.relative_gain()
    snr = results.snr_grid()
    clean = np.isinf(snr)
    parts = []
    for mask, what in ((clean, "noiseless"), (~clean, "at finite SNR")):
        g = gain[mask]
        if np.isfinite(g).any():
            parts.append(f"{what} {100 * float(np.nanmax(g)):.2g} %")
    if not parts:
        return
    eot = f", {conv.eot} channel draws per step" if conv.eot and conv.eot > 1 else ""
    starts = f", {conv.starts} starts" if conv.starts > 1 else ""
    noisy = (" (finite SNR: estimates on one fresh channel draw each, so the draw is part of the difference)"
             if (~clean).any() and conv.control_variate else
             " (finite SNR: the search's own noisy values)" if (~clean).any() else "")
    console.print(f"attack convergence ({conv.mode}, {conv.steps} steps × {conv.restarts} restart(s){starts}{eot}, "
                  f"{conv.precision}): largest change of the mean {conv.distance} distance between step "
                  f"{conv.half_steps} and step {conv.steps}, relative: {'; '.join(parts)}{noisy}")


def _summary_row(label: str, results: Results, links: Sequence[str], metrics: Sequence[str], si: int, *,
                 breaking: bool) -> list[str]:
    """The AADDC (``breaking=False``) or breaking-ε row of one SNR's table."""
    row = [label, *([""] if results.budget.eps_relative is not None else []), ""]
    first = results.budget.eps[0]
    for m in metrics:
        for ln in links:
            if breaking:
                b = results.breaking_of(ln, m)
                row.append("" if b is None else breaking_text(b.eps[si], first))
            else:
                a = results.aaddc_of(ln, m)
                row.append("" if a is None else format_number(a[si]))
        if results.gap_of(m) is not None:
            row.append("")
    return row


def render(results_dir: str | os.PathLike[str], console: Console | None = None, plots: bool = True, *,
           formats: Sequence[str] = ("png",), tsne: bool = False) -> list[Path]:
    """Print the tables and (re)write the plots of a results directory; returns the plot paths.

    :param formats: plot file formats (``png``, ``pdf``, ``svg``); ``tsne``: also the t-SNE plot (seconds);
        see :func:`channelae.plots.render_plots`.
    """
    res = load(results_dir)
    print_tables(res, console)
    if not plots:
        return []
    from channelae.plots import render_plots

    return render_plots(Path(results_dir), res, formats=formats, tsne=tsne)
