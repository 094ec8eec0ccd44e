"""``channelae run``: train what is missing (cached), simulate every model × seed × simulation × reference,
write ``summary.json``/``summary.md`` and the combined plots; ``channelae report`` on such a folder.

Folder layout (:func:`run_dir`): ``<out>/<model>/<simulation>/`` with one seed, ``<out>/<model>/seed<s>/
<simulation>/`` with several; a further reference of a simulation goes to ``<simulation>_vs_<reference>``
beside it; ``model_stats.json`` (:mod:`channelae.experiments.stats`) sits in the model's (seed's) folder;
``combined_<simulation>[_vs_<reference>][_seed<s>].<format>`` at the top.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from channelae.errors import UsageError
from channelae.experiments.config import ExperimentConfig, ModelSpec, sim_config
from channelae.experiments.summary import (
    SIMULATION_SEED,
    aggregate_models,
    aggregate_rows,
    orderings,
    summary_markdown,
    summary_rows,
)
from channelae.results import Results

__all__ = ["SUMMARY_JSON", "SUMMARY_MD", "model_checkpoint", "outputs_lines", "report_run", "run_dir",
           "run_experiment"]

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"


def model_checkpoint(cfg: ExperimentConfig, m: ModelSpec, *, quick: bool, progress: bool, device: str,
                     data_dir: Any, seed: int | None = None) -> Path:
    """The checkpoint of model ``m`` for model seed ``seed`` (default: the config's first): a given checkpoint
    path as is, else the cached model with the config's training settings (trained first when missing)."""
    from channelae import zoo

    if m.checkpoint is not None:
        p = Path(m.checkpoint)
        return p if p.is_absolute() else (cfg.path.parent / p)
    harden = None
    if m.harden:
        from channelae.hardening import HardeningConfig

        harden = HardeningConfig(**m.harden)
    epochs = m.epochs or cfg.train.get("epochs", zoo.DEFAULT_EPOCHS)
    train_images = cfg.train.get("train_images")
    if quick:
        epochs = cfg.quick.get("epochs", 1)
        train_images = cfg.quick.get("train_images")
    return zoo.ensure_model(m.family, cfg.dataset, progress=progress, device=device, data_dir=data_dir,
                            latent_dim=m.latent_dim, epochs=epochs, lam=m.lam, beta=m.beta,
                            seed=cfg.seeds[0] if seed is None else seed, batch_size=cfg.train.get("batch_size", 64),
                            lr=cfg.train.get("lr", 1e-3), harden=harden, train_images=train_images)


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def run_dir(out: str | os.PathLike[str], model: str, simulation: str, seed: int | None = None,
            reference: str | None = None) -> Path:
    """The results directory of one model × simulation (× seed, × further reference) of an experiment:
    ``<out>/<model>[/seed<s>]/<simulation>[_vs_<reference>]`` (module docstring)."""
    base = Path(out) / _slug(model)
    if seed is not None:
        base = base / f"seed{seed}"
    return base / (_slug(simulation) + (f"_vs_{reference}" if reference else ""))


def _combined_stem(out: Path, simulation: str, reference: str | None, seed: int | None) -> Path:
    return out / (f"combined_{_slug(simulation)}" + (f"_vs_{reference}" if reference else "")
                  + (f"_seed{seed}" if seed is not None else ""))


def _quick_settings(cfg: ExperimentConfig) -> dict[str, Any]:
    q = {"epochs": cfg.quick.get("epochs", 1)}
    for k in ("train_images", "n_images", "eps", "snr_db"):
        if k in cfg.quick:
            q[k] = cfg.quick[k]
    return q


def run_experiment(cfg: ExperimentConfig, out: str | os.PathLike[str] | None = None, *, quick: bool = False,
                   seeds: Sequence[int] | None = None, device: str = "auto", progress: bool = True,
                   data_dir: Any = None, metric_overrides: dict[str, Any] | None = None, plots: bool = True,
                   plot_formats: Sequence[str] = ("png",), tsne: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Train (cached), simulate every model × seed × simulation × reference, write ``summary.json`` /
    ``summary.md`` and the combined plots; return the summary.

    :param seeds: model seeds (default: the config's ``seeds``, else its ``seed``, else 0). Each seed trains its
        own models (the cache key holds the seed; training settings otherwise identical) and seeds its
        simulations with the same number, unless a simulation sets ``seed`` (:data:`SIMULATION_SEED`).
    :param plots: the ``simulate`` plots in every simulation folder (the combined DD-curves are always written);
        ``plot_formats``: any of ``png``, ``pdf``, ``svg`` (checked before anything runs).
    :param overwrite: replace the channelae files of every simulation folder (:func:`channelae.simulate.simulate`);
        without it a folder of other settings is refused before anything is trained, and a folder of the same
        settings resumes (unfinished) or is reused (finished).
    :return: the summary (:mod:`channelae.experiments.summary`): ``rows`` (every seed), ``aggregate`` and
        ``orderings`` (several seeds), ``models`` / ``models_aggregate`` (:mod:`channelae.experiments.stats`),
        ``runs`` (each results folder, relative to ``out``), ``outputs``, ``skipped_metrics``.
    """
    from channelae.experiments.stats import model_statistics
    from channelae.io import atomic_write_text
    from channelae.plots import check_formats, render_analog_digital, render_combined, render_plots
    from channelae.progress import log_line
    from channelae.results import write_json
    from channelae.simulate import simulate

    plot_formats = check_formats(plot_formats)
    seeds = tuple(seeds) if seeds is not None else cfg.seeds
    if not seeds:
        raise UsageError("needs at least one seed", "--seeds")
    multi = len(seeds) > 1
    outp = Path(out) if out is not None else Path("results") / f"{cfg.name}-{cfg.dataset}{'-quick' if quick else ''}"
    command = f"channelae run {cfg.path}{' --quick' if quick else ''}"
    rows: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    by_sim: dict[tuple[str, str | None, int | None], dict[str, Results]] = {}
    if not overwrite:  # a simulation folder of other settings: refused before any model is trained
        from channelae.simulate import check_out

        for m in cfg.models:
            for s in seeds:
                for sim in cfg.simulations:
                    for ref in sim.references:
                        check_out(sim_config(cfg, sim, quick=quick, reference=ref, seed=s),
                                  run_dir(outp, m.label, sim.label, s if multi else None,
                                          ref if ref != sim.references[0] else None))
    for m in cfg.models:
        for s in seeds:
            seed_dir = s if multi else None
            if progress:
                log_line(f"{cfg.name}: model {m.label}" + (f", seed {s}" if multi else ""))
            ckpt = model_checkpoint(cfg, m, quick=quick, progress=progress, device=device, data_dir=data_dir, seed=s)
            scs = {sim.label: {ref: sim_config(cfg, sim, quick=quick, reference=ref, seed=s) for ref in sim.references}
                   for sim in cfg.simulations}
            n_images = max(sc.n_images for per in scs.values() for sc in per.values())
            folder = run_dir(outp, m.label, "x", seed_dir).parent
            stats = model_statistics(ckpt, folder, dataset=cfg.dataset, n_images=n_images, tc_samples=cfg.tc_samples,
                                     device=device, data_dir=data_dir, seed=s,
                                     log=log_line if progress else None)
            models.append({"model": m.label, "seed": s, "checkpoint": str(ckpt), **stats})
            for sim in cfg.simulations:
                results: dict[str, Results] = {}
                for ref in sim.references:
                    extra_ref = ref if ref != sim.references[0] else None
                    where = run_dir(outp, m.label, sim.label, seed_dir, extra_ref)
                    res = simulate(scs[sim.label][ref], where, checkpoint=ckpt, dataset=cfg.dataset,
                                   data_dir=data_dir, device=device, progress=progress, command=command,
                                   metric_overrides=metric_overrides, overwrite=overwrite)
                    if plots:
                        render_plots(where, res, formats=plot_formats, tsne=tsne)
                    results[ref] = res
                    by_sim.setdefault((sim.label, extra_ref, seed_dir), {})[m.label] = res
                    runs.append({"model": m.label, "seed": s, "simulation": sim.label, "reference": ref,
                                 "dir": str(where.relative_to(outp))})
                    skipped.update(res.skipped_metrics)
                main = results[sim.references[0]]
                rows.extend(summary_rows(m.label, sim.label, main, seed=s,
                                         extra={r: v for r, v in results.items() if r != sim.references[0]}))
    summary: dict[str, Any] = {
        "name": cfg.name, "dataset": cfg.dataset, "quick": quick, "claim": cfg.claim,
        "description": cfg.description, "config": str(cfg.path), "seeds": list(seeds),
        "simulation_seed": SIMULATION_SEED, "rows": rows, "models": models, "runs": runs,
        "skipped_metrics": skipped,
    }
    if quick:
        summary["quick_settings"] = _quick_settings(cfg)
    if multi:
        summary["aggregate"] = aggregate_rows(rows)
        summary["orderings"] = orderings(summary["aggregate"])
        summary["models_aggregate"] = aggregate_models(models)
    combined = []
    for (sim_label, ref, seed_dir), by_model in by_sim.items():
        title = f"{cfg.name} — {sim_label}" + (f" vs {ref}" if ref else "") + (f", seed {seed_dir}" if multi else "")
        combined += render_combined(_combined_stem(outp, sim_label, ref, seed_dir), by_model, title=title,
                                    dataset=cfg.dataset, formats=plot_formats)
    combined += render_analog_digital(outp, {"runs": runs}, formats=plot_formats)  # analog and digital simulations
    summary["outputs"] = {"summary_md": str(outp / SUMMARY_MD), "summary_json": str(outp / SUMMARY_JSON),
                          "combined_plots": [str(p) for p in combined], "folder": str(outp)}
    write_json(outp / SUMMARY_JSON, summary)
    atomic_write_text(outp / SUMMARY_MD, summary_markdown(summary))
    return summary


def outputs_lines(summary: dict[str, Any]) -> list[str]:
    """What ``channelae run`` prints after the table: the smoke-test warning (``--quick``), skipped metrics
    with the reason (e.g. how to fetch LPIPS weights), and where everything went."""
    lines = []
    if summary.get("quick"):
        q = summary.get("quick_settings") or {}
        what = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in q.items())
        lines.append(f"--quick: smoke-test numbers ({what}): they show that the pipeline runs, not how the models "
                     "compare")
    for m, why in (summary.get("skipped_metrics") or {}).items():
        lines.append(f"skipped metric {m}: {why}")
    o = summary.get("outputs") or {}
    runs = summary.get("runs") or []
    if o:
        lines.append(f"summary: {o['summary_md']} and {o['summary_json']}")
        if o.get("combined_plots"):
            lines.append("combined plots: " + ", ".join(o["combined_plots"]))
        if runs:
            folder = Path(o.get("folder", "."))
            lines.append(f"per-simulation results ({len(runs)} `channelae simulate` folders; `channelae report` reads "
                         "each): "
                         + ", ".join(str(folder / r["dir"]) for r in runs[:4]) + (", ..." if len(runs) > 4 else ""))
    return lines


def report_run(folder: str | os.PathLike[str], *, plots: bool = True,
               formats: Sequence[str] = ("png",)) -> tuple[str, list[Path]]:
    """Re-render a ``channelae run`` folder from its files: ``summary.md`` from ``summary.json`` and the
    combined plots from each simulation folder's ``results.json``. Returns the Markdown and the plot paths.

    :raises UsageError: when ``folder`` has no readable ``summary.json``, or a simulation folder it lists is gone.
    """
    import json

    from channelae.io import atomic_write_text
    from channelae.results import load

    root = Path(folder)
    try:
        summary = json.loads((root / SUMMARY_JSON).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{root} has no {SUMMARY_JSON} (not a `channelae run` folder)", "RESULTS_DIR") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {root / SUMMARY_JSON}: {exc}", "RESULTS_DIR") from None
    text = summary_markdown(summary)
    atomic_write_text(root / SUMMARY_MD, text)
    if not plots:
        return text, []
    from channelae.plots import render_analog_digital, render_combined

    runs = summary.get("runs")
    if runs is None:  # written before the folder index existed: the one-seed layout <model>/<simulation>
        runs = [{"model": r["model"], "simulation": r["simulation"], "seed": None, "reference": None,
                 "dir": str(run_dir(".", r["model"], r["simulation"]))} for r in summary.get("rows", [])]
    multi = len(summary.get("seeds") or []) > 1
    first_ref: dict[str, str] = {}
    groups: dict[tuple[str, str | None, int | None], dict[str, Results]] = {}
    for r in runs:
        sim = r["simulation"]
        ref = r.get("reference")
        first_ref.setdefault(sim, ref)
        extra = ref if ref != first_ref[sim] else None
        key = (sim, extra, r.get("seed") if multi else None)
        if r["model"] in groups.get(key, {}):
            continue
        where = root / r["dir"]
        try:
            groups.setdefault(key, {})[r["model"]] = load(where)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read the results of {r['model']} / {sim} in {where}: "
                             f"{getattr(exc, 'message', exc)}", "RESULTS_DIR") from None
    paths: list[Path] = []
    for (sim, ref, seed), by_model in groups.items():
        title = f"{summary['name']} — {sim}" + (f" vs {ref}" if ref else "") + (f", seed {seed}" if multi else "")
        paths += render_combined(_combined_stem(root, sim, ref, seed), by_model, title=title,
                                 dataset=summary.get("dataset", ""), formats=formats)
    paths += render_analog_digital(root, {"runs": runs}, formats=formats)
    return text, paths
