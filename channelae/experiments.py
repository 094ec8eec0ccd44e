"""Experiment configs (``configs/*.toml``) and ``channelae run``: train what is missing, simulate, combine.

A config names the models (families and settings, or checkpoints), the data set, and one or more
simulations (channel, SNR and ε grids, target, metrics, limit lines). ``run`` trains missing models into
the model cache, runs every simulation for every model into ``<out>/<model>/<simulation>/`` (each a normal
``simulate`` results directory) and writes ``summary.json`` / ``summary.md`` with the combined table (AADDC
and breaking ε per model, simulation, SNR and metric) plus combined DD-curve plots.

``--quick`` replaces epochs and image counts by the config's ``[quick]`` values so a whole config finishes in
minutes on 2 CPU cores (used by the tests). Unknown keys are errors naming the key and the file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from channelae.errors import UsageError
from channelae.results import BROKEN_AT_ZERO, NOT_BROKEN, Results, breaking_text, format_number

__all__ = ["ExperimentConfig", "ModelSpec", "SimSpec", "load_config", "run_dir", "run_experiment", "summary_markdown"]

_TOP_KEYS = {"name", "description", "claim", "dataset", "datasets", "train", "models", "simulations", "quick"}
_TRAIN_KEYS = {"epochs", "seed", "batch_size", "lr", "train_images"}
_MODEL_KEYS = {"label", "family", "lam", "beta", "latent_dim", "harden", "checkpoint", "epochs"}
_HARDEN_KEYS = {"kind", "eps", "m", "k", "distance", "snr_db"}
_SIM_KEYS = {"label", "channel", "eps", "jsr_db", "snr_db", "target", "distance", "mode", "eot", "steps",
             "restarts", "norm", "placement", "k_db", "block_length", "metrics", "limits", "n_images",
             "reference", "equalizer", "seed", "channel_options", "eps_unit", "draws"}
_QUICK_KEYS = {"epochs", "n_images", "eps", "snr_db", "train_images"}


@dataclass(frozen=True)
class ModelSpec:
    """One model of an experiment: a family with settings (trained into the cache) or a checkpoint."""

    label: str
    family: str | None = None
    lam: float | None = None
    beta: float = 1.0
    latent_dim: int | None = None
    harden: dict[str, Any] | None = None
    checkpoint: str | None = None
    epochs: int | None = None


@dataclass(frozen=True)
class SimSpec:
    """One simulation of an experiment (``simulate`` options)."""

    label: str
    options: dict[str, Any]


@dataclass(frozen=True)
class ExperimentConfig:
    """A parsed, validated experiment config."""

    name: str
    path: Path
    dataset: str
    datasets: tuple[str, ...]
    description: str = ""
    claim: str = ""
    train: dict[str, Any] = field(default_factory=dict)
    models: tuple[ModelSpec, ...] = ()
    simulations: tuple[SimSpec, ...] = ()
    quick: dict[str, Any] = field(default_factory=dict)


def _check_keys(d: Any, allowed: set[str], where: str, path: Path) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise UsageError(f"{path}: {where} must be a table", "CONFIG")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise UsageError(f"{path}: unknown key {unknown[0]!r} in {where}; allowed: {', '.join(sorted(allowed))}",
                         "CONFIG")
    return d


def load_config(path: str | os.PathLike[str], dataset: str | None = None) -> ExperimentConfig:
    """Read and validate a TOML experiment config (``dataset`` overrides the config's default)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    from channelae.data import DATASETS
    from channelae.models import MODELS

    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no config file at {p}", "CONFIG") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {p}: {exc}", "CONFIG") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{p} is not valid TOML: {exc}", "CONFIG") from None
    _check_keys(raw, _TOP_KEYS, "the top level", p)
    for req in ("name", "models", "simulations"):
        if req not in raw:
            raise UsageError(f"{p}: missing key {req!r}", "CONFIG")
    datasets = tuple(raw.get("datasets", [raw.get("dataset", "mnist-5k")]))
    default = raw.get("dataset", datasets[0])
    ds = dataset or default
    if ds not in DATASETS:
        DATASETS.get(ds)  # raises the usual "unknown dataset" error
    if dataset is not None and dataset not in datasets:
        raise UsageError(f"{p} is written for {', '.join(datasets)}; got {dataset!r}", "--dataset")
    train = _train_settings(raw.get("train", {}), datasets, ds, p)
    quick = _check_keys(raw.get("quick", {}), _QUICK_KEYS, "[quick]", p)
    models = []
    if not isinstance(raw["models"], list) or not raw["models"]:
        raise UsageError(f"{p}: [[models]] needs at least one entry", "CONFIG")
    for i, m in enumerate(raw["models"]):
        _check_keys(m, _MODEL_KEYS, f"[[models]] #{i + 1}", p)
        if "harden" in m:
            _check_keys(m["harden"], _HARDEN_KEYS, f"[[models]] #{i + 1} harden", p)
        if ("family" in m) == ("checkpoint" in m):
            raise UsageError(f"{p}: [[models]] #{i + 1} needs exactly one of 'family' and 'checkpoint'", "CONFIG")
        if "family" in m:
            MODELS.get(m["family"])
        label = m.get("label", m.get("family", f"model{i + 1}"))
        models.append(ModelSpec(label=label, **{k: v for k, v in m.items() if k != "label"}))
    if len({m.label for m in models}) != len(models):
        raise UsageError(f"{p}: model labels must be unique", "CONFIG")
    sims = []
    if not isinstance(raw["simulations"], list) or not raw["simulations"]:
        raise UsageError(f"{p}: [[simulations]] needs at least one entry", "CONFIG")
    for i, s in enumerate(raw["simulations"]):
        _check_keys(s, _SIM_KEYS, f"[[simulations]] #{i + 1}", p)
        if "limits" in s:
            from channelae.curves import metric_spec

            for k in s["limits"]:
                metric_spec(k)
        sims.append(SimSpec(label=s.get("label", f"sim{i + 1}"), options={k: v for k, v in s.items()
                                                                          if k != "label"}))
    cfg = ExperimentConfig(name=str(raw["name"]), path=p, dataset=ds, datasets=datasets,
                           description=raw.get("description", ""), claim=raw.get("claim", ""), train=train,
                           models=tuple(models), simulations=tuple(sims), quick=quick)
    for sim in cfg.simulations:  # validate every simulation's options now, not after an hour of training
        sc = _sim_config(cfg, sim, quick=False)
        _sim_config(cfg, sim, quick=True)
        from channelae.channels import build_channel
        from channelae.metrics import METRICS
        from channelae.simulate import jammer_stages

        budget = {"eps": [0.0, 1.0]} if jammer_stages(sc.channel) else {}
        build_channel(sc.channel, **sc.channel_options(), **budget)  # checks mode, target, distance, ...
        for name in sc.metrics:
            METRICS.get(name)
    return cfg


def _train_settings(raw: Any, datasets: tuple[str, ...], dataset: str, path: Path) -> dict[str, Any]:
    """``[train]`` with the ``[train.<dataset>]`` sub-table of the selected data set merged over it.

    A config written for several data sets can train longer on the small one (``mnist-5k``: 4,500 images)
    than on the 60,000-image ones without a second file.
    """
    train = dict(_check_keys(raw, _TRAIN_KEYS | set(datasets), "[train]", path))
    per_dataset = {name: train.pop(name) for name in datasets if name in train}
    for name, sub in per_dataset.items():
        _check_keys(sub, _TRAIN_KEYS, f"[train.{name}]", path)
    train.update(per_dataset.get(dataset, {}))
    for key in ("epochs", "train_images", "batch_size"):
        if key in train and (not isinstance(train[key], int) or isinstance(train[key], bool) or train[key] < 1):
            raise UsageError(f"{path}: [train] {key} must be a positive integer; got {train[key]!r}", "CONFIG")
    return train


def _grid(value: Any, argument: str, *, allow_inf: bool = False) -> tuple[float, ...]:
    from channelae.grids import parse_grid

    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    return tuple(parse_grid(str(value), argument, allow_inf=allow_inf, non_negative=argument == "--eps"))


def _sim_config(cfg: ExperimentConfig, sim: SimSpec, *, quick: bool):
    from channelae.simulate import DEFAULT_SNR_DB, SimulationConfig

    o = dict(sim.options)
    if quick:
        for k in ("n_images", "eps", "snr_db"):
            if k in cfg.quick:
                o[k] = cfg.quick[k]
    kw: dict[str, Any] = {}
    if "eps" in o and o["eps"] != "default":
        kw["eps"] = _grid(o.pop("eps"), "--eps")
    else:
        o.pop("eps", None)
    if "jsr_db" in o:
        kw["jsr_db"] = _grid(o.pop("jsr_db"), "--jsr-db")
    kw["snr_db"] = _grid(o.pop("snr_db"), "--snr-db", allow_inf=True) if "snr_db" in o else DEFAULT_SNR_DB
    if "metrics" in o:
        kw["metrics"] = tuple(o.pop("metrics"))
    if "limits" in o:
        kw["limits"] = tuple(sorted((k, float(v)) for k, v in o.pop("limits").items()))
    if "channel_options" in o:  # e.g. { phase_std_deg = 20 } for a plugin channel
        extra = o.pop("channel_options")
        if not isinstance(extra, dict):
            raise UsageError(f"{cfg.path}: simulation {sim.label!r}: channel_options must be a table", "CONFIG")
        kw["channel_extra"] = tuple(sorted(extra.items()))
    kw.update(o)
    try:
        sc = SimulationConfig(**kw)
    except TypeError as exc:
        raise UsageError(f"{cfg.path}: simulation {sim.label!r}: {exc}", "CONFIG") from None
    sc.validate()
    return sc


def _model_checkpoint(cfg: ExperimentConfig, m: ModelSpec, *, quick: bool, progress: bool, device: str,
                      data_dir: Any) -> Path:
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
                            seed=cfg.train.get("seed", 0), batch_size=cfg.train.get("batch_size", 64),
                            lr=cfg.train.get("lr", 1e-3), harden=harden, train_images=train_images)


def run_experiment(cfg: ExperimentConfig, out: str | os.PathLike[str] | None = None, *, quick: bool = False,
                   device: str = "auto", progress: bool = True, data_dir: Any = None,
                   metric_overrides: dict[str, Any] | None = None, plots: bool = True,
                   plot_formats: Sequence[str] = ("png",), tsne: bool = False) -> dict[str, Any]:
    """Train (cached), simulate every model × simulation, write ``summary.json``/``summary.md``; return it.

    Each simulation goes to ``<out>/<model>/<simulation>/`` (:func:`run_dir`). With ``plots`` every simulation
    folder also gets the ``simulate`` plots (DD-curves per SNR, heat-map, images, Eq. 7 bars; t-SNE with
    ``tsne``); the combined DD-curve plots of all models are always written. ``plot_formats``: any of ``png``,
    ``pdf``, ``svg`` (checked before anything runs).
    """
    from channelae.io import atomic_write_text
    from channelae.plots import check_formats, render_combined, render_plots
    from channelae.progress import stderr_console
    from channelae.results import write_json
    from channelae.simulate import simulate

    plot_formats = check_formats(plot_formats)
    outp = Path(out) if out is not None else Path("results") / f"{cfg.name}-{cfg.dataset}{'-quick' if quick else ''}"
    rows = []
    runs: dict[str, dict[str, Results]] = {sim.label: {} for sim in cfg.simulations}
    for m in cfg.models:
        stderr_console.log(f"[bold]{cfg.name}[/]: model {m.label}")
        ckpt = _model_checkpoint(cfg, m, quick=quick, progress=progress, device=device, data_dir=data_dir)
        for sim in cfg.simulations:
            sc = _sim_config(cfg, sim, quick=quick)
            where = run_dir(outp, m.label, sim.label)
            res = simulate(sc, where, checkpoint=ckpt, dataset=cfg.dataset, data_dir=data_dir, device=device,
                           progress=progress, command=f"channelae run {cfg.path}{' --quick' if quick else ''}",
                           metric_overrides=metric_overrides)
            if plots:
                render_plots(where, res, formats=plot_formats, tsne=tsne)
            runs[sim.label][m.label] = res
            rows.extend(_summary_rows(m.label, sim.label, res))
    summary = {"name": cfg.name, "dataset": cfg.dataset, "quick": quick, "claim": cfg.claim,
               "description": cfg.description, "config": str(cfg.path), "rows": rows}
    write_json(outp / "summary.json", summary)
    atomic_write_text(outp / "summary.md", summary_markdown(summary))
    for sim_label, by_model in runs.items():
        render_combined(outp / f"combined_{_slug(sim_label)}", by_model, title=f"{cfg.name} — {sim_label}",
                        dataset=cfg.dataset, formats=plot_formats)
    return summary


def run_dir(out: str | os.PathLike[str], model: str, simulation: str) -> Path:
    """The results directory of one model × simulation of an experiment: ``<out>/<model>/<simulation>``."""
    return Path(out) / _slug(model) / _slug(simulation)


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def _summary_rows(model: str, sim: str, res: Results) -> list[dict[str, Any]]:
    rows = []
    link = "jammer" if "jammer" in res.curves else next(iter(res.curves))
    hi = res.budget.highlight_index
    for si, snr in enumerate(res.snr_db):
        for metric in res.metrics:
            mean = res.curves[link][metric].mean
            row = {"model": model, "simulation": sim, "snr_db": snr, "metric": metric,
                   "limit": res.metrics[metric].limit, "clean": mean[si][0], "at_highlight": mean[si][hi],
                   "highlight_eps": res.budget.highlight, "eps_unit": res.budget.eps_unit,
                   "highlight_jsr_db": res.budget.jsr_db[hi]}
            gap = res.gap_of(metric)
            if gap is not None:  # paired PGD − noise at the highlighted budget, with its 95 % interval
                row["gap_at_highlight"] = gap.mean[si][hi]
                row["gap_lo"], row["gap_hi"] = gap.lo[si][hi], gap.hi[si][hi]
            for lname in res.curves:
                a = res.aaddc_of(lname, metric)
                b = res.breaking_of(lname, metric)
                row[f"aaddc_{lname}"] = a[si] if a else None
                row[f"breaking_eps_{lname}"] = b.eps[si] if b else None
            rows.append(row)
    return rows


def summary_markdown(summary: dict[str, Any]) -> str:
    """The combined table as Markdown."""
    rows = summary["rows"]
    keys = [k for k in ("aaddc_jammer", "aaddc_noise", "aaddc_link", "breaking_eps_jammer") if any(k in r for r in rows)]
    gap = any("gap_at_highlight" in r for r in rows)

    head = ["model", "simulation", "SNR dB", "metric", "limit", "clean", "at ε*", *(["Δ PGD−noise at ε*"] if gap else []),
            *keys]
    lines = [f"# {summary['name']} ({summary['dataset']}{', quick' if summary['quick'] else ''})", "",
             summary.get("claim", ""), "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    units = sorted({r.get("eps_unit", "latent") for r in rows})
    for r in rows:
        vals = [r["model"], r["simulation"], format_number(r["snr_db"]), r["metric"], format_number(r["limit"]),
                format_number(r["clean"]), format_number(r["at_highlight"])]
        if gap:
            g = r.get("gap_at_highlight")
            vals.append("" if g is None else f"{format_number(g)} [{format_number(r['gap_lo'])}, "
                                             f"{format_number(r['gap_hi'])}]")
        vals += [breaking_text(r.get(k)) if k.startswith("breaking") else format_number(r.get(k)) for k in keys]
        lines.append("| " + " | ".join(vals) + " |")
    lines += ["", (f"ε* = highlighted budget (ε: L2 norm per example, {' / '.join(units)} units); AADDC in metric × ε "
                   "(bigger = more robust); breaking ε: smallest ε whose mean crosses the limit "
                   f"({NOT_BROKEN} = not broken on the grid, {BROKEN_AT_ZERO} = below the limit already without a "
                   "jammer); Δ PGD−noise: mean per-image difference with its 95 % interval (paired: same images and "
                   "channel realisations).")]
    return "\n".join(lines) + "\n"
