"""The combined summary of an experiment: rows per model × seed × simulation × SNR × metric, their aggregation
over seeds (mean and 95 % t-interval), orderings of the models, and ``summary.md``.

Row values (one :class:`~channelae.results.Results` per row's simulation, the PGD jammer's link unless said):

- ``clean``: quality at ε = 0; ``at_highlight``: at the highlighted budget ε* (the largest of the grid unless
  the config picks one); ``damage``: how much worse ε* is than ε = 0, positive = worse (``clean − at ε*`` for
  higher-is-better metrics, ``at ε* − clean`` for lower-is-better ones);
- ``aaddc_<link>``, ``breaking_eps_<link>`` for the PGD jammer and its equal-power noise control;
- ``gap_at_highlight`` (``gap_lo``/``gap_hi``): the paired PGD − noise difference at ε* and its 95 % interval
  over images;
- for each further reference of the simulation (``references``), ``<key>@<reference>``, e.g.
  ``aaddc_jammer@reconstruction``: the same attack (same seeds: same perturbations) scored against it.

Aggregation over seeds: for each key, the mean over the seeds and the Student-t 95 % interval of that mean
(:func:`channelae.curves.mean_ci` over the seed dimension; ``n − 1`` degrees of freedom, quantile 4.30 for 3
seeds). A breaking budget that is not reached on the grid (∞) for some seeds has no mean; its values are listed.
Orderings are verdicts only where intervals separate: ``A > B (intervals separate)`` when A's lower end is above
B's upper end, else ``A ≈ B (intervals overlap)``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from channelae.results import BROKEN_AT_ZERO, NOT_BROKEN, Results, breaking_text, decode_number, format_number

#: How the simulation seed follows the model seed (:func:`channelae.experiments.run_experiment`).
SIMULATION_SEED = ("the simulations of seed s use simulation seed s (channel realisations and attack starts), "
                   "unless a simulation sets its own seed")

__all__ = ["SIMULATION_SEED", "aggregate_models", "aggregate_rows", "orderings", "summary_markdown", "summary_rows", "t_quantile"]

#: Row keys aggregated over seeds (with their ``@<reference>`` variants).
_AGG_KEYS = ("clean", "at_highlight", "damage", "aaddc_jammer", "aaddc_noise", "aaddc_link", "gap_at_highlight",
             "breaking_eps_jammer", "breaking_eps_noise", "breaking_eps_link")
_REF_KEYS = ("clean", "at_highlight", "damage", "aaddc_jammer", "aaddc_noise", "aaddc_link", "breaking_eps_jammer")
_REF_TEXT = {"input": "x", "reconstruction": "dec(z0)"}


def _num(v: Any) -> float | None:
    """A stored number (``"inf"`` etc. decoded), or ``None``."""
    if v is None:
        return None
    try:
        return float(decode_number(v))
    except (TypeError, ValueError):
        return None


def _values(res: Results, metric: str, si: int) -> dict[str, Any]:
    """The per-reference values of one SNR × metric of ``res`` (module docstring)."""
    link = res.main_link
    hi = res.budget.highlight_index
    mean = res.curves[link][metric].mean
    clean, at = mean[si][0], mean[si][hi]
    better = res.metrics[metric].higher_is_better
    out: dict[str, Any] = {"clean": clean, "at_highlight": at, "damage": (clean - at) if better else (at - clean)}
    for lname in res.curves:
        a = res.aaddc_of(lname, metric)
        b = res.breaking_of(lname, metric)
        out[f"aaddc_{lname}"] = a[si] if a else None
        out[f"breaking_eps_{lname}"] = b.eps[si] if b else None
    return out


def summary_rows(model: str, sim: str, res: Results, *, seed: int | None = None,
                 extra: dict[str, Results] | None = None) -> list[dict[str, Any]]:
    """The rows of one model × simulation (× seed): one per SNR and metric (module docstring).

    :param extra: the same simulation against further references (``reference → Results``).
    """
    rows = []
    hi = res.budget.highlight_index
    for si, snr in enumerate(res.snr_db):
        for metric in res.metric_names:
            row: dict[str, Any] = {"model": model, "simulation": sim, "snr_db": snr, "metric": metric,
                                   "reference": res.reference, "limit": res.metrics[metric].limit,
                                   "higher_is_better": res.metrics[metric].higher_is_better,
                                   "highlight_eps": res.budget.highlight, "eps_unit": res.budget.eps_unit,
                                   "highlight_jsr_db": res.budget.jsr_db[hi]}
            if seed is not None:
                row["seed"] = seed
            row.update(_values(res, metric, si))
            gap = res.gap_of(metric)
            if gap is not None:  # paired PGD − noise at the highlighted budget, with its 95 % interval
                row["gap_at_highlight"] = gap.mean[si][hi]
                row["gap_lo"], row["gap_hi"] = gap.lo[si][hi], gap.hi[si][hi]
            for ref, other in (extra or {}).items():
                if metric in other.metrics and si < len(other.snr_db):
                    vals = _values(other, metric, si)
                    row.update({f"{k}@{ref}": vals[k] for k in _REF_KEYS if k in vals})
            rows.append(row)
    return rows


def t_quantile(n: int, level: float = 0.95) -> float:
    """The Student-t quantile of a two-sided ``level`` interval over ``n`` values (``n − 1`` degrees of
    freedom): 4.303 for ``n = 3``, 12.71 for ``n = 2``; ``nan`` for ``n < 2``."""
    if n < 2:
        return math.nan
    from channelae.curves import t_quantile

    return t_quantile(0.5 + level / 2.0, n - 1)


def _ci(values: list[float]) -> dict[str, Any]:
    """``{"mean", "lo", "hi", "values"}``: mean over seeds and its 95 % t-interval (:func:`mean_ci`)."""
    from channelae.curves import mean_ci

    ci = mean_ci(values, dim=0)
    return {"mean": float(ci.mean), "lo": float(ci.lo), "hi": float(ci.hi), "values": list(values)}


def _stat(values: list[Any], breaking: bool) -> dict[str, Any] | None:
    nums = [_num(v) for v in values]
    if any(v is None or math.isnan(v) for v in nums):
        return None
    if breaking and not all(math.isfinite(v) for v in nums):  # not broken on the grid (∞) for some seeds
        return {"mean": None, "lo": None, "hi": None, "values": nums}
    return _ci(nums)


def aggregate_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows grouped by simulation × model × SNR × metric over their seeds; each aggregated key holds
    ``{"mean", "lo", "hi", "values"}`` (module docstring)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["simulation"], r["model"], _num(r["snr_db"]), r["metric"]), []).append(r)
    out = []
    for rs in groups.values():
        first = rs[0]
        entry: dict[str, Any] = {k: first[k] for k in ("simulation", "model", "snr_db", "metric", "reference",
                                                        "limit", "higher_is_better", "highlight_eps", "eps_unit")
                                 if k in first}
        entry["seeds"] = [r.get("seed") for r in rs]
        entry["n_seeds"] = len(rs)
        keys = [k for k in first if k.split("@")[0] in _AGG_KEYS]
        for k in keys:
            if all(k in r for r in rs):
                s = _stat([r[k] for r in rs], k.split("@")[0].startswith("breaking"))
                if s is not None:
                    entry[k] = s
        out.append(entry)
    return out


def aggregate_models(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-model statistics (one entry per model × seed) aggregated over seeds: latent norm and RMS,
    σ/std(μ), validation SSIM and, for β-TCVAEs, the exact and minibatch TC, MI and DWKL."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for m in models:
        groups.setdefault(m["model"], []).append(m)
    out = []
    for label, ms in groups.items():
        entry: dict[str, Any] = {"model": label, "seeds": [m.get("seed") for m in ms], "n_seeds": len(ms),
                                 "variational": ms[0].get("latent", {}).get("variational")}
        for key, get in _MODEL_FIELDS.items():
            vals = [get(m) for m in ms]
            if all(v is not None for v in vals):
                s = _stat(vals, False)
                if s is not None:
                    entry[key] = s
        out.append(entry)
    return out


def _tc_get(part: str, term: str):
    def get(m: dict[str, Any]) -> Any:
        tc = m.get("tc") or {}
        return (tc.get(part) or {}).get(term) if part != "kl" else tc.get("kl")

    return get


_MODEL_FIELDS: dict[str, Any] = {
    "latent_norm": lambda m: m.get("latent", {}).get("latent_norm"),
    "latent_rms": lambda m: m.get("latent", {}).get("latent_rms"),
    "sigma_over_mu_std": lambda m: m.get("latent", {}).get("sigma_over_mu_std"),
    "sigma_mean": lambda m: m.get("latent", {}).get("sigma_mean"),
    "mu_std_mean": lambda m: m.get("latent", {}).get("mu_std_mean"),
    "val_ssim": lambda m: m.get("val_ssim"),
    **{f"{part}_{term}": _tc_get(part, term) for part in ("exact", "minibatch", "minibatch_large")
       for term in ("mi", "tc", "dwkl")},
    "kl": _tc_get("kl", ""),
}


def _separate(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether the intervals of ``a`` and ``b`` do not overlap."""
    return a["lo"] > b["hi"] or b["lo"] > a["hi"]


def orderings(aggregate: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each simulation × SNR × metric: the models ordered by each AADDC of the PGD jammer (larger = more
    robust, one ordering per reference) and by damage (smaller = less damage), with for each adjacent pair
    whether their intervals separate. Only for entries with at least 2 seeds."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for e in aggregate:
        if e.get("n_seeds", 1) >= 2:
            groups.setdefault((e["simulation"], _num(e["snr_db"]), e["metric"]), []).append(e)
    out = []
    for (sim, snr, metric), es in groups.items():
        keys = [k for k in es[0] if k.split("@")[0] in ("aaddc_jammer", "aaddc_link", "damage")]
        for key in keys:
            have = [e for e in es if isinstance(e.get(key), dict) and e[key].get("mean") is not None]
            if len(have) < 2:
                continue
            larger_better = not key.startswith("damage")
            have.sort(key=lambda e: e[key]["mean"], reverse=larger_better)
            pairs = []
            for a, b in itertools.pairwise(have):
                sep = _separate(a[key], b[key])
                pairs.append({"first": a["model"], "second": b["model"], "separate": sep,
                              "relation": (">" if larger_better else "<") if sep else "≈"})
            out.append({"simulation": sim, "snr_db": snr, "metric": metric, "key": key,
                        "order": [e["model"] for e in have], "pairs": pairs})
    return out


# ------------------------------------------------------------------------------------------------ Markdown


def _pm(stat: Any, breaking: bool = False) -> str:
    """``mean ± half-width`` of an aggregated value; breaking budgets not reached for every seed list the
    seeds' values."""
    if not isinstance(stat, dict):
        return ""
    if stat.get("mean") is None:
        texts = [breaking_text(v) for v in stat.get("values", [])]
        return texts[0] if len(set(texts)) == 1 else ", ".join(texts)  # "—": not broken for any seed
    mean, lo, hi = (_num(stat[k]) for k in ("mean", "lo", "hi"))
    if breaking and mean == 0.0 and hi == 0.0:
        return BROKEN_AT_ZERO
    half = (hi - lo) / 2 if lo is not None and hi is not None else math.nan
    if mean is None or not math.isfinite(mean) or not math.isfinite(half) or half <= 0:
        return f"{format_number(mean)} ± 0"
    # the half-width to 2 significant digits, the mean to the same decimal place (0.304 ± 0.012)
    decimals = max(0, 1 - math.floor(math.log10(half)))
    return f"{mean:.{decimals}f} ± {half:.{decimals}f}"


def _ref_label(ref: str) -> str:
    return _REF_TEXT.get(ref, ref)


def _snr_text(v: Any) -> str:
    x = _num(v)
    return "∞" if x is not None and math.isinf(x) else format_number(x)


def _row_keys(rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The AADDC columns of a table (present in some row) and the extra references present."""
    keys = [k for k in ("aaddc_jammer", "aaddc_noise", "aaddc_link") if any(k in r for r in rows)]
    refs = sorted({k.split("@")[1] for r in rows for k in r if "@" in k})
    return keys, refs


def _legend(units: list[str], seeds: bool) -> str:
    agg = (" Aggregated cells: mean over the seeds ± half-width of the 95 % t-interval of that mean (Student t, "
           "n − 1 degrees of freedom: quantile 12.7 for 2 seeds, 4.30 for 3, 2.78 for 5)." if seeds else "")
    return (f"ε* = highlighted budget (ε: L2 norm per example, {' / '.join(units)} units); clean = quality at "
            "ε = 0; damage = how much worse than clean at ε* (positive = worse; clean − at ε* for ↑ metrics, "
            "at ε* − clean for ↓ ones); AADDC in metric × ε (bigger = more robust), of the PGD jammer (PGD) and "
            "the equal-power noise control (noise), against the simulation's reference x (input) or dec(z0) "
            "(the clean reconstruction; same attack, a second run with the same seed); breaking ε: smallest ε "
            f"whose mean crosses the limit ({NOT_BROKEN} = not broken on the grid, {BROKEN_AT_ZERO} = below the "
            "limit already without a jammer); Δ PGD−noise: mean per-image difference at ε* with its 95 % "
            "interval over images (paired: same images and channel realisations)." + agg)


def _models_table(summary: dict[str, Any], multi: bool) -> list[str]:
    """Per-model table: latent scale, σ/std(μ), validation SSIM (per seed, or aggregated)."""
    entries = summary.get("models_aggregate") if multi else summary.get("models")
    if not entries:
        return []
    head = ["model", *(["seeds"] if multi else ["seed"]), "mean ‖z‖", "mean ‖z‖/√d", "σ/std(μ)", "mean σ",
            "mean std(μ)", "val SSIM"]
    lines = ["## Models", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in entries:
        if multi:
            vals = [e["model"], ", ".join(str(s) for s in e.get("seeds", []))]
            vals += [_pm(e.get(k)) if e.get(k) is not None else "n/a"
                     for k in ("latent_norm", "latent_rms", "sigma_over_mu_std", "sigma_mean", "mu_std_mean")]
            vals.append(_pm(e.get("val_ssim")))
        else:
            lat = e.get("latent", {})
            vals = [e["model"], str(e.get("seed", ""))]
            vals += [format_number(lat.get(k)) if lat.get(k) is not None else "n/a"
                     for k in ("latent_norm", "latent_rms", "sigma_over_mu_std", "sigma_mean", "mu_std_mean")]
            vals.append(format_number(e.get("val_ssim")))
        lines.append("| " + " | ".join(vals) + " |")
    n = next((e.get("latent", {}).get("n_images") for e in summary.get("models", [])), None)
    lines += ["", (f"Latents μ (what the link transmits) of the {n or 'evaluated'} evaluated images; ‖z‖/√d: RMS "
              "value per latent dimension; σ/std(μ): mean over dimensions of the mean posterior σ over the spread "
              "of μ over images (VAEs; n/a: deterministic) — ≪ 1 means the encoder is effectively deterministic at "
              "the scale the images are spread over; val SSIM: the checkpoint's validation score."), ""]
    return lines


def _tc_table(summary: dict[str, Any], multi: bool) -> list[str]:
    """β-TCVAE: exact full-data-set decomposition beside the minibatch (MSS) estimates."""
    per_seed = [m for m in summary.get("models", []) if m.get("tc")]
    if not per_seed:
        return []
    first = per_seed[0]["tc"]
    b = (first.get("minibatch") or {}).get("batch_size", "B")
    bl = (first.get("minibatch_large") or {}).get("batch_size", 512)
    head = ["model", *([] if multi else ["seed"]), "TC exact", f"TC MSS B={b}", f"TC MSS B={bl}", "MI exact",
            f"MI MSS B={b}", "DWKL exact", f"DWKL MSS B={b}", "E KL (analytic)"]
    lines = ["## β-TCVAE: KL decomposition, exact vs the minibatch estimate (nats)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    if multi:
        labels = {m["model"] for m in per_seed}
        for e in summary.get("models_aggregate", []):
            if e["model"] not in labels:
                continue
            cells = [_pm(e.get(k)) for k in ("exact_tc", "minibatch_tc", "minibatch_large_tc", "exact_mi",
                                             "minibatch_mi", "exact_dwkl", "minibatch_dwkl", "kl")]
            lines.append("| " + " | ".join([e["model"], *cells]) + " |")
    else:
        for m in per_seed:
            tc = m["tc"]

            def cell(part: str, term: str, tc: dict[str, Any] = tc) -> str:
                p = tc.get(part)
                if not p:
                    return "n/a"
                se = (p.get("se") or {}).get(term)
                return format_number(p[term]) + (f" (s.e. {float(f'{se:.2g}'):g})" if se is not None else "")

            cells = [cell("exact", "tc"), cell("minibatch", "tc"), cell("minibatch_large", "tc"),
                     cell("exact", "mi"), cell("minibatch", "mi"), cell("exact", "dwkl"), cell("minibatch", "dwkl"),
                     format_number(tc.get("kl"))]
            lines.append("| " + " | ".join([m["model"], str(m.get("seed", "")), *cells]) + " |")
    ex = first.get("exact", {})
    lines += ["", (f"Exact: aggregate posterior over all N = {first.get('n_train')} training posteriors "
              f"(full_data_decomposition), Monte-Carlo over {ex.get('n_samples')} sample points in "
              f"{ex.get('replicates')} independent replicates (s.e. from their spread). MSS: the minibatch-"
              f"stratified estimator of the training loss, averaged over the training split in batches of {b} "
              f"(the training batch size) and over up to 20 batches of {bl}. Each decomposition's MI + TC + DWKL "
              "estimates E KL(q(z|x) ‖ N(0, I)), computed analytically in the last column."), ""]
    return lines


def _agg_table(summary: dict[str, Any], sim: str, compact: bool = False) -> list[str]:
    """One simulation's aggregated table and orderings; ``compact`` (the console) leaves out the limit, the
    quality at ε*, the noise control's AADDC and the damage against the further references."""
    entries = [e for e in summary.get("aggregate", []) if e["simulation"] == sim]
    if not entries:
        return []
    keys, refs = _row_keys(entries)
    if compact:
        keys = [k for k in keys if k != "aaddc_noise"]
    gap = any("gap_at_highlight" in e for e in entries)
    ref = entries[0].get("reference", "input")
    head = ["model", "SNR dB", "metric", *([] if compact else ["limit"]), "clean", *([] if compact else ["at ε*"]),
            "damage", *[f"AADDC {'PGD' if k.endswith('jammer') else k.split('_')[1]}" for k in keys],
            *[f"AADDC PGD vs {_ref_label(r)}" for r in refs],
            *([] if compact else [f"damage vs {_ref_label(r)}" for r in refs]),
            *(["Δ PGD−noise at ε*"] if gap else []), "break ε PGD"]
    lines = [f"## {sim} (reference {_ref_label(ref)}; ε* = {format_number(entries[0].get('highlight_eps'))})", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in entries:
        arrow = "↑" if e.get("higher_is_better", True) else "↓"
        vals = [e["model"], _snr_text(e["snr_db"]), f"{e['metric']} {arrow}",
                *([] if compact else [format_number(e.get("limit"))]), _pm(e.get("clean")),
                *([] if compact else [_pm(e.get("at_highlight"))]), _pm(e.get("damage")),
                *[_pm(e.get(k)) for k in keys], *[_pm(e.get(f"aaddc_jammer@{r}")) for r in refs],
                *([] if compact else [_pm(e.get(f"damage@{r}")) for r in refs])]
        if gap:
            vals.append(_pm(e.get("gap_at_highlight")))
        vals.append(_pm(e.get("breaking_eps_jammer"), breaking=True))
        lines.append("| " + " | ".join(vals) + " |")
    lines.append("")
    ords = [o for o in summary.get("orderings", []) if o["simulation"] == sim]
    if ords:
        lines += ["Orderings (verdicts only where the seeds' 95 % intervals separate):", ""]
        for o in ords:
            key = o["key"]
            what = ("damage at ε* (smaller = less damage)" if key.startswith("damage") else
                    "AADDC PGD (larger = more robust)")
            if "@" in key:
                what += f" vs {_ref_label(key.split('@')[1])}"
            elif ref:
                what += f" vs {_ref_label(ref)}"
            chain = "; ".join(f"{p['first']} {p['relation']} {p['second']} (intervals "
                              f"{'separate' if p['separate'] else 'overlap'})" for p in o["pairs"])
            lines.append(f"- {_snr_label(o['snr_db'])}, {o['metric']}, {what}: {chain}")
        lines.append("")
    return lines


def _snr_label(v: Any) -> str:
    x = _num(v)
    return "noiseless" if x is not None and math.isinf(x) else f"SNR {format_number(x)} dB"


def _rows_table(rows: list[dict[str, Any]], seeds: bool) -> list[str]:
    """The per-row table (one line per model × simulation × [seed] × SNR × metric); breaking ε is last."""
    keys, refs = _row_keys(rows)
    gap = any("gap_at_highlight" in r for r in rows)
    head = ["model", "simulation", *(["seed"] if seeds else []), "SNR dB", "metric", "limit", "clean", "at ε*",
            "damage", *(["Δ PGD−noise at ε*"] if gap else []), *keys, *[f"aaddc_jammer vs {_ref_label(r)}"
                                                                       for r in refs], "breaking_eps_jammer"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        vals = [r["model"], r["simulation"], *([str(r.get("seed", ""))] if seeds else []),
                format_number(r["snr_db"]), r["metric"], format_number(r["limit"]), format_number(r["clean"]),
                format_number(r["at_highlight"]), format_number(r.get("damage"))]
        if gap:
            g = r.get("gap_at_highlight")
            vals.append("" if g is None else f"{format_number(g)} [{format_number(r['gap_lo'])}, "
                                             f"{format_number(r['gap_hi'])}]")
        vals += [format_number(r.get(k)) for k in keys]
        vals += [format_number(r.get(f"aaddc_jammer@{ref}")) for ref in refs]
        vals.append(breaking_text(r.get("breaking_eps_jammer")))
        lines.append("| " + " | ".join(vals) + " |")
    return lines


def summary_markdown(summary: dict[str, Any], *, compact: bool = False) -> str:
    """``summary.md``: header (smoke-test warning for ``--quick``), claim, per-model table, β-TCVAE table,
    per simulation the aggregated table and orderings (several seeds), then every row, legend, skipped
    metrics. A minimal ``{"name", "dataset", "quick", "rows"}`` gives the one-seed table.

    :param compact: the console version (``channelae run``): with several seeds, fewer columns and no table of
        every seed (summary.md has them).
    """
    rows = summary["rows"]
    seeds = summary.get("seeds") or []
    multi = len(seeds) > 1
    quick = bool(summary.get("quick"))
    title = f"# {summary['name']} ({summary['dataset']}{', quick' if quick else ''})"
    if seeds:
        title += f" — seed{'s' if multi else ''} {', '.join(str(s) for s in seeds)}"
    lines = [title, ""]
    if quick:
        q = summary.get("quick_settings") or {}
        what = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in q.items())
        lines += [(f"> **Smoke test (`--quick`{': ' + what if what else ''}).** These numbers show that the "
                  "pipeline runs; they are not results and support no claim."), ""]
    if summary.get("claim"):
        lines += [summary["claim"], ""]
    if multi:
        n = len(seeds)
        lines += [(f"{n} seeds ({', '.join(map(str, seeds))}): each seed trains its own models; "
                  f"{summary.get('simulation_seed', SIMULATION_SEED)}; every seed is evaluated on the same images. "
                  f"Cells: mean over the seeds ± half-width of the 95 % t-interval of that mean (t quantile "
                  f"{t_quantile(n):.3g} with {n - 1} degree{'s' if n > 2 else ''} of freedom): the spread over "
                  "training seeds for these images, not over other images."), ""]
    lines += _models_table(summary, multi)
    lines += _tc_table(summary, multi)
    if multi:
        for sim in dict.fromkeys(r["simulation"] for r in rows):
            lines += _agg_table(summary, sim, compact)
    units = sorted({r.get("eps_unit", "latent") for r in rows})
    if not (multi and compact):
        lines += [*(["## Every seed", ""] if multi else []), *_rows_table(rows, seeds=multi)]
    lines += ["", _legend(units, multi)]
    for m, why in (summary.get("skipped_metrics") or {}).items() if not compact else ():
        lines += ["", f"Skipped metric {m}: {why}"]
    return "\n".join(lines) + "\n"
