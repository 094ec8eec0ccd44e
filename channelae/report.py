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

from channelae.results import Results, format_number, load, snr_label

__all__ = ["print_tables", "render"]

#: Column suffix of each link in the tables.
_SHORT = {"jammer": "PGD", "noise": "noise", "link": ""}


def print_tables(results: Results, console: Console | None = None) -> None:
    """One Rich table per SNR: quality per budget for the jammer and the noise control, AADDC, breaking ε."""
    console = console or Console()
    budget = results.budget
    eps, jsr = budget.eps, budget.jsr_db
    hi = budget.highlight_index
    links, metrics = results.links, results.metric_names
    for si, s in enumerate(results.snr_db):
        title = f"{results.channel} — {snr_label(s)} — reference: {results.reference}"
        t = Table(title=title, title_justify="left", pad_edge=False, collapse_padding=True)
        t.add_column("ε", justify="right")
        t.add_column("JSR dB", justify="right")
        for m in metrics:
            arrow = "↑" if results.metrics[m].higher_is_better else "↓"
            for ln in links:
                t.add_column(f"{m}{arrow} {_SHORT.get(ln, ln)}".strip(), justify="right")
        for ei, e in enumerate(eps):
            row = [f"{e:.4g}", format_number(jsr[ei])]
            for m in metrics:
                for ln in links:
                    c = results.curve(ln, m)
                    row.append(format_number(c.mean[si][ei]) if c is not None else "")
            t.add_row(*row, style="bold" if ei == hi and len(eps) > 1 else None)
        if len(eps) > 1:
            t.add_row(*_summary_row("AADDC", results, links, metrics, si, breaking=False), style="cyan")
            t.add_row(*_summary_row("break ε", results, links, metrics, si, breaking=True), style="cyan")
        console.print(t)
    console.print("ε: jammer budget, latent L2 norm per example; break ε: smallest ε whose mean crosses the "
                  "limit line (— : not broken)")
    limits = ", ".join(f"{m} {results.metrics[m].limit:g}" for m in metrics)
    console.print(f"limit lines: {limits}; AADDC = ∫ max(margin to limit, 0) dε (metric × ε, bigger = more "
                  f"robust); means over {results.n_images} images (95 % intervals in results.json)")
    for m, why in results.skipped_metrics.items():
        console.print(f"[yellow]skipped {m}:[/] {why}", highlight=False)


def _summary_row(label: str, results: Results, links: Sequence[str], metrics: Sequence[str], si: int, *,
                 breaking: bool) -> list[str]:
    """The AADDC (``breaking=False``) or breaking-ε row of one SNR's table."""
    row = [label, ""]
    for m in metrics:
        for ln in links:
            if breaking:
                b = results.breaking_of(ln, m)
                row.append("" if b is None else "—" if math.isinf(b.eps[si]) else format_number(b.eps[si]))
            else:
                a = results.aaddc_of(ln, m)
                row.append("" if a is None else format_number(a[si]))
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
