"""Tables (Rich) and plots from ``results.json`` — no recomputation (``channelae report DIR``)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from channelae.errors import UsageError

__all__ = ["LINK_TITLES", "load_results", "print_tables", "render"]

LINK_TITLES = {"jammer": "PGD jammer", "noise": "noise jammer (equal power)", "link": "link"}


def _num(v: Any) -> float:
    if isinstance(v, str):
        return {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}.get(v, math.nan)
    return float(v)


def load_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``results.json`` from a results directory (or the file itself)."""
    from channelae.simulate import RESULTS_NAME

    p = Path(path)
    f = p / RESULTS_NAME if p.is_dir() else p
    if not f.exists():
        raise UsageError(f"no {RESULTS_NAME} in {p} (run `channelae simulate --out {p}` first)", "RESULTS_DIR")
    try:
        res = json.loads(f.read_text(encoding="utf-8"))
        for key in ("snr_db", "budget", "curves", "metrics"):
            res[key]
        res["snr_db"] = [_num(v) for v in res["snr_db"]]
        _check_shapes(res)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{f} is not a channelae results file ({type(exc).__name__}: {exc})",
                         "RESULTS_DIR") from None
    return res


def _check_shapes(res: dict[str, Any]) -> None:
    """What the tables index: ``[S][E]`` mean curves per link and metric; raises KeyError/TypeError/ValueError."""
    S, E = len(res["snr_db"]), len(res["budget"]["eps"])
    if len(res["budget"]["jsr_db"]) != E or not S or not E:
        raise ValueError("snr_db / budget grids are empty or inconsistent")
    for m in res["metrics"]:
        res["metrics"][m]["higher_is_better"], float(res["metrics"][m]["limit"])
        for ln in res["curves"]:
            mean = res["curves"][ln][m]["mean"]
            if len(mean) != S or any(len(row) != E for row in mean):
                raise ValueError(f"curve {ln}/{m} is not {S} × {E}")


def _fmt(v: Any, unit: str = "") -> str:
    x = _num(v)
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if math.isnan(x):
        return "n/a"
    return f"{x:.4g}"


def _snr_label(s: float) -> str:
    return "noiseless" if math.isinf(s) else f"SNR {s:g} dB"


def print_tables(results: dict[str, Any], console: Console | None = None) -> None:
    """One Rich table per SNR: quality per budget for the jammer and the noise control, AADDC, breaking ε."""
    console = console or Console()
    budget = results["budget"]
    eps, jsr = budget["eps"], budget["jsr_db"]
    hi = budget.get("highlight_index", len(eps) - 1)
    # results.json has sorted keys: the stored orders keep the columns as `simulate` printed them
    links = [ln for ln in results.get("link_order", []) if ln in results["curves"]] or \
        list(results["curves"])
    metrics = [m for m in results.get("metric_order", []) if m in results["metrics"]] or \
        list(results["metrics"])
    for si, s in enumerate(results["snr_db"]):
        title = f"{results.get('channel', '')} — {_snr_label(s)} — reference: {results.get('reference', '')}"
        t = Table(title=title, title_justify="left", pad_edge=False, collapse_padding=True)
        t.add_column("ε", justify="right")
        t.add_column("JSR dB", justify="right")
        for m in metrics:
            arrow = "↑" if results["metrics"][m]["higher_is_better"] else "↓"
            for ln in links:
                short = {"jammer": "PGD", "noise": "noise", "link": ""}.get(ln, ln)
                t.add_column(f"{m}{arrow} {short}".strip(), justify="right")
        for ei, e in enumerate(eps):
            row = [f"{e:.4g}", _fmt(jsr[ei])]
            for m in metrics:
                for ln in links:
                    c = results["curves"][ln][m]
                    row.append(_fmt(c["mean"][si][ei]))
            t.add_row(*row, style="bold" if ei == hi and len(eps) > 1 else None)
        if len(eps) > 1:
            for label, key in (("AADDC", "aaddc"), ("break ε", "breaking_budget")):
                row = [label, ""]
                for m in metrics:
                    for ln in links:
                        v = results.get(key, {}).get(ln, {}).get(m)
                        if v is None:
                            row.append("")
                        elif key == "aaddc":
                            row.append(_fmt(v[si]))
                        else:
                            b = _num(v["eps"][si])
                            row.append("—" if math.isinf(b) else _fmt(b))
                t.add_row(*row, style="cyan")
        console.print(t)
    console.print("ε: jammer budget, latent L2 norm per example; break ε: smallest ε whose mean crosses the "
                  "limit line (— : not broken)")
    limits = ", ".join(f"{m} {results['metrics'][m]['limit']:g}" for m in metrics)
    console.print(f"limit lines: {limits}; AADDC = ∫ max(margin to limit, 0) dε (metric × ε, bigger = more "
                  f"robust); means over {results.get('n_images', '?')} images (95 % intervals in results.json)")
    for m, why in results.get("skipped_metrics", {}).items():
        console.print(f"[yellow]skipped {m}:[/] {why}", highlight=False)


def render(results_dir: str | os.PathLike[str], console: Console | None = None, plots: bool = True) -> list[Path]:
    """Print the tables and (re)write the plots of a results directory; returns the plot paths."""
    res = load_results(results_dir)
    print_tables(res, console)
    if not plots:
        return []
    from channelae.plots import render_plots

    return render_plots(Path(results_dir), res)
