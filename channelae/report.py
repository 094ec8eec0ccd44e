"""Console presentation of a simulation's results, and ``channelae report DIR`` (no recomputation).

Owns what ``simulate`` and ``report`` print from a :class:`channelae.results.Results`; reads nothing but what
:mod:`channelae.results` gives it (the plots come from :mod:`channelae.plots`, which depends on ``results``
only, never on this module). Everything fits a 100-column terminal:

* :func:`print_summary` — the one-screen verdict, printed first (at most 25 lines at 100 columns): per SNR the
  first metric without jammer, under the jammer and under equal-power noise at the highlighted budget (ε with
  its unit and JSR), the paired gap jammer − noise with its 95 % interval, the breaking budget and the
  equivalent-SNR loss, what the columns are, and a one-line verdict;
* :func:`print_outputs` — where everything went (results folder, files, plots) and how to see the full tables;
* :func:`print_tables` — the full tables (``simulate --tables``, ``report``): one table per metric with a
  section per SNR (every budget, ε / relative ε / JSR, each link, the paired gap, AADDC and breaking ε), the
  equivalent-SNR table and the notes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from channelae.results import (
    BROKEN_AT_ZERO,
    CSV_NAME,
    NOT_BROKEN,
    PER_IMAGE_NAME,
    RESULTS_NAME,
    SAMPLES_NAME,
    Results,
    breaking_text,
    eps_axis_label,
    eps_unit_text,
    format_number,
    load,
    snr_label,
)

__all__ = ["SUMMARY_MAX_SNR_ROWS", "print_outputs", "print_summary", "print_tables", "render"]

#: At most this many SNR rows in the summary (evenly spread, first and last kept); the rest in the full tables.
SUMMARY_MAX_SNR_ROWS = 5


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


def _quality_format(values: Sequence[float]) -> Callable[[float], str]:
    """A formatter giving 3 significant digits to the largest of ``values`` and the same decimals to all
    (``0.730``, ``0.652``; ``17.7``; ``0.0312``)."""
    finite = [abs(v) for v in values if math.isfinite(v) and v != 0]
    decimals = max(0, 2 - math.floor(math.log10(max(finite)))) if finite else 3

    def fmt(v: float) -> str:
        return f"{v:.{decimals}f}" if math.isfinite(v) else format_number(v)

    return fmt


def _n3(v: float | None) -> str:
    """A number to 3 significant digits for the summary (``∞``, ``n/a`` as :func:`format_number`)."""
    if v is None:
        return ""
    if not math.isfinite(v):
        return format_number(v)
    return f"{v:.3g}"


def _metric_head(results: Results, m: str) -> str:
    """``ssim↑`` / ``psnr↑ dB``: a metric with its direction and unit."""
    info = results.metrics[m]
    return f"{m}{'↑' if info.higher_is_better else '↓'}" + (f" {info.unit}" if info.unit else "")


def _reference_text(results: Results) -> str:
    return "the input x" if results.reference == "input" else "the jammer-free reconstruction dec(z0)"


def _model_text(results: Results) -> str:
    family = (results.manifest.model or {}).get("family") if results.manifest is not None else None
    return f"{family} on {results.dataset}" if family else results.dataset or "the model"


def _summary_metric(results: Results) -> str:
    """The metric the summary shows: the first requested one with a curve on the main link."""
    return next((m for m in results.metric_names if results.curve(results.main_link, m) is not None),
                results.metric_names[0])


def _summary_rows(n: int) -> list[int]:
    """SNR indices the summary shows: all, or :data:`SUMMARY_MAX_SNR_ROWS` evenly spread (first and last)."""
    if n <= SUMMARY_MAX_SNR_ROWS:
        return list(range(n))
    return sorted({round(i * (n - 1) / (SUMMARY_MAX_SNR_ROWS - 1)) for i in range(SUMMARY_MAX_SNR_ROWS)})


def _eq_case(results: Results, link: str, metric: str, si: int, ei: int) -> tuple[str, float] | None:
    """What an equivalent-SNR cell shows, as ``(case, number)``: at a noiseless SNR ``best`` (as good as the
    noiseless reference), ``below``/``above`` (``s′`` below / above the reference curve's finite SNRs: the number
    is that bound) or ``as`` (``s′`` in dB); at a finite SNR ``beyond`` (the loss exceeds ``s`` − lowest
    reference SNR: that number), ``censored`` (an upper bound on the loss) or ``loss`` (in dB); ``nan``; None
    when the results have no equivalent SNR for this link and metric."""
    loss = results.equivalent_snr_loss_db.get(link, {}).get(metric)
    sp = results.equivalent_snr_db.get(link, {}).get(metric)
    status = results.equivalent_snr_status.get(link, {}).get(metric)
    ref = results.reference_curve
    if loss is None or sp is None or ref is None:
        return None
    st = status[si][ei] if status is not None else "ok"
    finite = [v for v in ref.snr_db if math.isfinite(v)]
    lo_snr, hi_snr = (min(finite), max(finite)) if finite else (math.nan, math.nan)
    s = results.snr_db[si]
    if st == "nan":
        return "nan", math.nan
    if math.isinf(s):  # noiseless link: the loss is infinite whenever s′ is finite; show s′
        if st == "best":
            return "best", math.inf
        if st == "beyond":
            return "below", lo_snr
        if st == "censored":
            return "above", hi_snr
        return "as", sp[si][ei]
    if st == "beyond":
        return "beyond", s - lo_snr
    if st == "censored" and s > hi_snr:
        return "censored", loss[si][ei]
    return "loss", loss[si][ei]


def _eq_short(results: Results, link: str, metric: str, si: int, ei: int) -> str:
    """The summary's equivalent-SNR cell: the loss in dB at a finite SNR; at a noiseless one the SNR ``s′`` the
    jammed link is as good as (``as 8.1``); bounds where the value lies outside the reference curve."""
    case = _eq_case(results, link, metric, si, ei)
    if case is None:
        return ""
    kind, v = case
    return {"nan": "n/a", "best": "0", "below": f"as <{v:g}", "above": f"as >{v:g}", "beyond": f">{v:g}",
            "censored": f"≤{v:.1f}"}.get(kind, f"as {v:.1f}" if kind == "as" else f"{v:.1f}")


def _verdict(results: Results, m: str) -> str | None:
    """One line: at how many SNR points the jammer hurts more than / as much as / less than equal-power noise at
    the highlighted budget, judged by the 95 % interval of the paired gap."""
    gap = results.gap_of(m)
    if gap is None:
        return None
    hi = results.budget.highlight_index
    sign = -1.0 if results.metrics[m].higher_is_better else 1.0  # sign · gap > 0: the jammer hurts more
    worse = same = better = 0
    for si in range(len(results.snr_db)):
        a, b = sign * gap.lo[si][hi], sign * gap.hi[si][hi]
        if math.isfinite(a) and math.isfinite(b) and min(a, b) > 0:
            worse += 1
        elif math.isfinite(a) and math.isfinite(b) and max(a, b) < 0:
            better += 1
        else:
            same += 1
    n = len(results.snr_db)

    def count(k: int) -> str:
        return ("both" if n == 2 else f"all {k}") if k == n and n > 1 else f"{k}" if k == n else f"{k} of {n}"

    parts = []
    if worse:
        parts.append(f"hurts {m} more than equal-power noise at {count(worse)} SNR point{'s' if worse > 1 else ''}")
    if same:
        parts.append(f"no differently from it at {same}" if worse else
                     f"hurts {m} no differently from equal-power noise at {count(same)} SNR point"
                     f"{'s' if same > 1 else ''}")
    if better:
        parts.append(f"less than noise at {better}")
    e = results.budget.eps[hi]
    return (f"verdict at ε = {e:.4g}: the {results.link_title(results.main_link)} " + ", ".join(parts)
            + " (95 % intervals)")


def print_summary(results: Results, console: Console | None = None) -> None:
    """The one-screen verdict (module docstring): at most 25 lines on a 100-column console, any grid."""
    console = console or Console()
    m = _summary_metric(results)
    info = results.metrics[m]
    b = results.budget
    main, ctrl = results.main_link, results.control_link
    hi = b.highlight_index
    jammed = main == "jammer" and len(b.eps) > 1
    draws = f" × {results.draws} draws" if results.draws > 1 else ""
    better = "higher is better" if info.higher_is_better else "lower is better"
    unit = f", in {info.unit}" if info.unit else ""

    def say(text: str) -> None:
        console.print(text, highlight=False, markup=False)

    say(f"{results.channel} · {_model_text(results)} · {results.n_images} images{draws} · {m} ({better}{unit}) "
        f"vs {_reference_text(results)}")
    digital = results.extra.get("digital")
    if isinstance(digital, dict):  # simulate --link digital (channelae.digital.simulation)
        code = (f"LDPC rate {digital['code_rate']:.3g}" if digital.get("coded", True) else "uncoded")
        say(f"digital link: {digital['bits']} bits per latent dimension, {code}, {digital['qam']}-QAM: n_c = "
            f"{digital['num_channel_uses']} channel uses per image (analog link: n = "
            f"{digital['analog_channel_uses']}); BER/BLER in the full tables")
    if jammed:
        rel = b.eps_relative[hi] if b.eps_relative is not None else None
        share = f" = {100 * rel:.3g} % of the mean clean {b.relative_to.removeprefix('mean ')}" if rel else ""
        what = ("L2 norm per example of the symbol perturbation, Es = 1" if b.eps_unit == "link"
                else "latent L2 norm per example")
        config = results.manifest.config if results.manifest is not None else {}
        if (config or {}).get("norm") == "linf":  # the jammer's box ±ε/√(2n) per real coordinate: inside the ball
            what += "; L∞ jammer: each real coordinate within ±ε/√(2n), so ‖δ‖₂ ≤ ε"
        say(f"budget shown: ε = {b.eps[hi]:.4g} ({what}){share}, JSR {b.jsr_db[hi]:.1f} dB; grid "
            f"{b.eps[0]:.4g}…{b.eps[-1]:.4g} ({len(b.eps)} budgets)")
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    t.add_column("SNR", justify="left", no_wrap=True)
    labels = {ln: results.link_label(ln) for ln in results.links}
    rows = _summary_rows(len(results.snr_db))
    c = results.curve(main, m)
    links = [main] + ([ctrl] if ctrl is not None and jammed else [])
    shown = [results.curve(ln, m).mean[si][ei] for ln in links for si in rows for ei in {0, hi}]
    q = _quality_format(shown)
    gap = results.gap_of(m) if jammed else None
    eq = jammed and results.equivalent_snr_db.get(main, {}).get(m) is not None
    if jammed:
        pair = f"\n{labels[main]} / {labels[ctrl]}" if ctrl is not None else ""
        t.add_column("no jammer", justify="right", no_wrap=True)
        for ln in links:
            t.add_column(labels[ln], justify="right", no_wrap=True)
        if gap is not None:
            t.add_column(f"{labels[main]} − {labels[ctrl]}", justify="right", no_wrap=True)
        t.add_column(f"break ε{pair}", justify="right", no_wrap=True)
        if eq:
            t.add_column(f"SNR loss dB{pair}", justify="right", no_wrap=True)
    else:
        t.add_column(m, justify="right")
        t.add_column("95 % interval", justify="right")
    first = b.eps[0]
    for si in rows:
        s = results.snr_db[si]
        cells = ["noiseless" if math.isinf(s) else f"{s:g} dB"]
        if not jammed:
            cells += [q(c.mean[si][0]), f"{q(c.lo[si][0])} … {q(c.hi[si][0])}"]
            t.add_row(*cells)
            continue
        cells += [q(c.mean[si][0]), *(q(results.curve(ln, m).mean[si][hi]) for ln in links)]
        if gap is not None:
            cells.append(_pm(gap.mean[si][hi], gap.lo[si][hi], gap.hi[si][hi]))
        brk = []
        for ln in links:
            bb = results.breaking_of(ln, m)
            txt = "" if bb is None else breaking_text(bb.eps[si], first)
            brk.append(_n3(float(txt)) if txt and txt not in (NOT_BROKEN, BROKEN_AT_ZERO) else txt or "n/a")
        cells.append(" / ".join(brk))
        if eq:
            cells.append(" / ".join(_eq_short(results, ln, m, si, hi) or "n/a" for ln in links))
        t.add_row(*cells)
    console.print(t)
    if len(rows) < len(results.snr_db):
        say(f"({len(results.snr_db) - len(rows)} more SNR points in the full tables)")
    if jammed:
        if ctrl is not None:
            worse = "< 0" if info.higher_is_better else "> 0"
            say(f"{labels[ctrl]}: the equal-power control, a random perturbation of the same ε, not the receiver's "
                f"AWGN (the SNR sets that); {labels[main]} − {labels[ctrl]}: per image (paired) ± 95 % half-width, "
                f"{worse}: {labels[main]} worse")
        elif labels[main] == "noise jammer":
            say("noise jammer: a random perturbation of norm ε, not the receiver's AWGN (the SNR sets that)")
        say(f"break ε: smallest ε whose mean {m} crosses its limit {format_number(info.limit)} ({NOT_BROKEN}: not up "
            f"to {b.eps[-1]:.4g})" + ("; SNR loss: dB of SNR the jammer costs (noiseless: the SNR it equals)"
                                      if eq else ""))
        verdict = _verdict(results, m)
        if verdict:
            say(verdict)
    if results.skipped_metrics:
        say(f"skipped: {', '.join(results.skipped_metrics)} (could not run here; the reason is in the full "
            "tables and in results.json)")


def print_outputs(results_dir: str | os.PathLike[str], results: Results, plots: Sequence[Path] = (),
                  console: Console | None = None, *, tables_shown: bool = False) -> None:
    """Where everything went: the results folder and its files, the plots, and how to see the full tables."""
    console = console or Console()
    d = Path(results_dir)

    def say(text: str) -> None:
        console.print(text, highlight=False, markup=False)

    files = [n for n in (RESULTS_NAME, CSV_NAME, PER_IMAGE_NAME, SAMPLES_NAME) if (d / n).exists()]
    say(f"results: {d}/ — " + ", ".join(files))
    if plots:
        say(f"plots: {', '.join(p.name for p in plots)}")
    if not tables_shown:
        say(f"full tables (every budget, SNR and metric): --tables, or `channelae report {d} --no-plots`")


def print_tables(results: Results, console: Console | None = None) -> None:
    """The full tables: one per metric with a section per SNR (quality per budget for each link, the paired
    difference, AADDC, breaking ε), then the equivalent SNRs, the attack's convergence and the notes."""
    console = console or Console()
    budget = results.budget
    eps, jsr, rel = budget.eps, budget.jsr_db, budget.eps_relative
    hi = budget.highlight_index
    links, metrics = results.links, results.metric_names
    labels = {ln: results.link_label(ln) or results.link_title(ln) for ln in links}
    unit = budget.eps_unit
    many = len(eps) > 1
    main, ctrl = results.main_link, results.control_link
    for m in metrics:
        title = f"{_metric_head(results, m)} — {results.channel} — reference: {results.reference}"
        t = Table(title=title, title_justify="left", pad_edge=False, collapse_padding=True)
        t.add_column("SNR", justify="left")
        if many:
            t.add_column(eps_axis_label(unit), justify="right")
            if rel is not None:
                t.add_column(f"ε/{budget.relative_to.removeprefix('mean ')}", justify="right")
            t.add_column("JSR dB", justify="right")
        for ln in links:
            t.add_column(labels[ln] or m, justify="right")
        g = results.gap_of(m)
        if g is not None:
            t.add_column(f"{labels[main]} − {labels[ctrl]}", justify="right")
        for si, s in enumerate(results.snr_db):
            for ei, e in enumerate(eps):
                row = [snr_label(s) if ei == 0 else ""]
                if many:
                    row += [f"{e:.4g}", *([format_number(rel[ei])] if rel is not None else []), format_number(jsr[ei])]
                for ln in links:
                    c = results.curve(ln, m)
                    row.append(format_number(c.mean[si][ei]) if c is not None else "")
                if g is not None:
                    row.append(_pm(g.mean[si][ei], g.lo[si][ei], g.hi[si][ei]))
                last = ei == len(eps) - 1 and not many
                t.add_row(*row, style="bold" if ei == hi and many else None, end_section=last)
            if many:
                t.add_row(*_summary_row("AADDC", results, links, m, si, breaking=False), style="cyan")
                t.add_row(*_summary_row("break ε", results, links, m, si, breaking=True), style="cyan",
                          end_section=True)
        console.print(t)
    _equivalent_snr_table(results, console)
    rel_note = (f"; ε/{budget.relative_to.removeprefix('mean ')}: ε relative to the {budget.relative_to} of the "
                "clean examples") if rel is not None else ""
    if many:
        console.print(f"ε: jammer budget, {eps_unit_text(unit)}{rel_note}; JSR = ‖δ_s‖²/(n·Es) in dB (n = "
                      f"{budget.num_symbols} symbols)" if budget.num_symbols else
                      f"ε: jammer budget, {eps_unit_text(unit)}", highlight=False)
        console.print(f"break ε: smallest ε whose mean crosses the limit line ({NOT_BROKEN} : not broken on the grid; "
                      f"{BROKEN_AT_ZERO}: below the limit already without a jammer)", highlight=False)
    if ctrl is not None:
        console.print(f"{labels[ctrl]}: the equal-power control (a random-direction perturbation of the same ε, not "
                      "the receiver's AWGN); "
                      f"{labels[main]} − {labels[ctrl]}: mean over images of the per-image difference (same images "
                      "and channel realisations) ± 95 % t-interval half-width; the jammer is worse than noise where "
                      "it is below 0 for ↑ metrics, above 0 for ↓ metrics and the interval excludes 0",
                      highlight=False)
    elif labels.get(main) == "noise jammer":
        console.print("noise jammer: a random-direction perturbation of norm ε (not the receiver's AWGN, which the "
                      "SNR sets)", highlight=False)
    limits = ", ".join(f"{m} {format_number(results.metrics[m].limit)}" for m in metrics)
    draws = f" × {results.draws} channel draws each" if results.draws > 1 else ""
    aaddc = ("; AADDC = ∫ max(margin to limit, 0) dε (metric × ε, bigger = more robust)" if many else "")
    console.print(f"limit lines: {limits}{aaddc}; means over {results.n_images} images{draws} against "
                  f"{_reference_text(results)} (95 % intervals in results.json)", highlight=False)
    caps = [f"{m} capped per image at {results.metrics[m].cap:.1f} {results.metrics[m].unit}".rstrip()
            for m in metrics if results.metrics[m].cap is not None]
    if caps:
        console.print("; ".join(caps) + " (8-bit images closer than that are indistinguishable)", highlight=False)
    _convergence_note(results, console)
    for m, why in results.skipped_metrics.items():
        console.print(f"[yellow]skipped {m}:[/] {why}", highlight=False)


def _eq_cell(results: Results, link: str, metric: str, si: int, ei: int) -> str:
    """One equivalent-SNR cell: the loss in dB at a finite SNR, the equivalent SNR ``s′`` at a noiseless one,
    with the reason when the value lies outside the reference curve."""
    case = _eq_case(results, link, metric, si, ei)
    if case is None:
        return ""
    kind, v = case
    return {"nan": "n/a", "best": "∞", "below": f"< {v:g}ᵇ", "above": f"> {v:g}ᶜ", "beyond": f"> {v:g}ᵇ",
            "censored": f"≤ {v:.3g}ᶜ"}.get(kind, format_number(v))


def _equivalent_snr_table(results: Results, console: Console) -> None:
    """Equivalent SNR of the first metric: loss (dB) at finite SNR, ``s′`` at noiseless, jammer and noise side by
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
        head = "noiseless\ns′ dB" if math.isinf(s) else f"{s:g} dB\nloss dB"
        for ln in links:
            t.add_column(f"{head}\n{results.link_label(ln)}".strip(), justify="right")
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
                  "noiseless, no finite SNR to interpolate to; other metrics in results.json / results.csv",
                  highlight=False)


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
    noisy_parts = [f"{conv.eot} channel draws per step"] if conv.eot and conv.eot > 1 else []
    noisy_parts += ["late iterates averaged"] if conv.average else []
    # simulate searches noiseless SNR points apart (channelae.link.snr_groups): these describe the random link
    eot = (f"; {', '.join(noisy_parts)} through the random link" if conv.control_variate else
           f", {', '.join(noisy_parts)}") if noisy_parts else ""
    rest = ", the rest random" if conv.starts > 2 * conv.curvature else ""
    curv = f" (± the top {conv.curvature} curvature directions{rest})" if conv.curvature else ""
    starts = f", {conv.starts} starts{curv}" if conv.starts > 1 else ""
    noisy = (" (finite SNR: estimates on one fresh channel draw each, so the draw is part of the difference)"
             if (~clean).any() and conv.control_variate else
             " (finite SNR: the search's own noisy values)" if (~clean).any() else "")
    console.print(f"attack convergence ({conv.mode}, {conv.steps} steps × {conv.restarts} restart(s){starts}{eot}, "
                  f"{conv.precision}): largest change of the mean {conv.distance} distance between step "
                  f"{conv.half_steps} and step {conv.steps}, relative: {'; '.join(parts)}{noisy}", highlight=False)


def _summary_row(label: str, results: Results, links: Sequence[str], metric: str, si: int, *,
                 breaking: bool) -> list[str]:
    """The AADDC (``breaking=False``) or breaking-ε row of one SNR's section of a metric's table."""
    row = ["", label, *([""] if results.budget.eps_relative is not None else []), ""]
    first = results.budget.eps[0]
    for ln in links:
        if breaking:
            b = results.breaking_of(ln, metric)
            row.append("" if b is None else breaking_text(b.eps[si], first))
        else:
            a = results.aaddc_of(ln, metric)
            row.append("" if a is None else format_number(a[si]))
    if results.gap_of(metric) is not None:
        row.append("")
    return row


def render(results_dir: str | os.PathLike[str], console: Console | None = None, plots: bool = True, *,
           formats: Sequence[str] = ("png",), tsne: bool = False, tables: bool = True) -> list[Path]:
    """``channelae report``: print the summary, then the full tables (``tables``), and (re)write the plots of a
    results directory; returns the plot paths.

    :param formats: plot file formats (``png``, ``pdf``, ``svg``); ``tsne``: also the t-SNE plot (seconds);
        see :func:`channelae.plots.render_plots`.
    """
    res = load(results_dir)
    console = console or Console()
    print_summary(res, console)
    if tables:
        console.print()
        print_tables(res, console)
    if not plots:
        return []
    from channelae.plots import render_plots

    return render_plots(Path(results_dir), res, formats=formats, tsne=tsne)
