"""Experiment configs (``configs/*.toml``): parsing and validation, before anything is trained.

A config names the models (families and settings, or checkpoints), the data set, the training settings
(``[train]``, with ``[train.<dataset>]`` overrides and the model ``seeds``), one or more simulations
(``simulate`` options, plus ``references``) and the ``[quick]`` values of a smoke test. Unknown keys are errors
naming the key and the file; every simulation's options are checked now, not after an hour of training.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from channelae.errors import UsageError

__all__ = ["DEFAULT_TC_SAMPLES", "ExperimentConfig", "ModelSpec", "SimSpec", "load_config", "parse_seeds"]

_TOP_KEYS = {"name", "description", "claim", "dataset", "datasets", "train", "models", "simulations", "quick",
             "analysis"}
_TRAIN_KEYS = {"epochs", "seed", "seeds", "batch_size", "lr", "train_images"}
_MODEL_KEYS = {"label", "family", "lam", "beta", "latent_dim", "harden", "checkpoint", "epochs"}
_HARDEN_KEYS = {"kind", "eps", "m", "k", "distance", "snr_db", "mode"}
_SIM_KEYS = {"label", "channel", "eps", "jsr_db", "snr_db", "target", "distance", "mode", "eot", "steps",
             "restarts", "norm", "placement", "k_db", "block_length", "metrics", "limits", "n_images",
             "reference", "references", "equalizer", "seed", "channel_options", "eps_unit", "draws",
             "link", "bits", "code_rate", "qam", "equal_bandwidth"}
_QUICK_KEYS = {"epochs", "n_images", "eps", "snr_db", "train_images"}
_ANALYSIS_KEYS = {"tc_samples"}
#: Sample points of the exact full-data-set KL decomposition of a β-TCVAE (``[analysis] tc_samples``). Its cost
#: grows as tc_samples · N · d: with 500, the statistics of a Fashion-MNIST model (N = 60,000, d = 30) took
#: 4.7 min on 2 busy cores (load 9), with a Monte-Carlo s.e. of TC of 0.08 nats; 200 gives about 0.12.
DEFAULT_TC_SAMPLES = 200
_MAX_SEEDS = 100


@dataclass(frozen=True)
class ModelSpec:
    """One model of an experiment: a family with settings (trained into the cache) or a checkpoint.

    ``lam`` and ``beta`` are floats (a TOML ``beta = 1`` is ``1.0``): they are part of the model-cache key,
    and ``channelae train --beta 1`` stores ``1.0``.
    """

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
    """One simulation of an experiment: ``simulate`` options, and the quality references it is reported
    against (``references[0]`` is the simulation's own ``reference``; each further one is a second
    ``simulate`` run of the same attack, see :mod:`channelae.experiments`)."""

    label: str
    options: dict[str, Any]
    references: tuple[str, ...] = ("input",)


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
    analysis: dict[str, Any] = field(default_factory=dict)

    @property
    def seeds(self) -> tuple[int, ...]:
        """The model seeds: ``[train] seeds``, else ``(seed,)`` (default ``(0,)``)."""
        if "seeds" in self.train:
            return tuple(self.train["seeds"])
        return (int(self.train.get("seed", 0)),)

    @property
    def tc_samples(self) -> int:
        """Sample points of the exact β-TCVAE decomposition (``[analysis] tc_samples``)."""
        return int(self.analysis.get("tc_samples", DEFAULT_TC_SAMPLES))


def parse_seeds(value: Any, argument: str = "--seeds") -> tuple[int, ...]:
    """Model seeds from ``"0,1,2"`` (``--seeds``) or a TOML list ``[0, 1, 2]``: distinct integers ``>= 0``.

    :raises UsageError: (``argument``) for an empty list, a non-integer, a negative value or a repeat.
    """
    if isinstance(value, str):
        items: list[Any] = [t.strip() for t in value.split(",")]
        if not any(items):
            raise UsageError("needs at least one seed, e.g. 0,1,2", argument)
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise UsageError(f"must be a list of seeds like [0, 1, 2]; got {value!r}", argument)
    seeds = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise UsageError(f"seeds are integers >= 0; got {item!r}", argument)
        try:
            s = int(item)
        except ValueError:
            raise UsageError(f"seeds are integers >= 0 separated by commas, e.g. 0,1,2; got {item!r}",
                             argument) from None
        if s < 0 or s > 2**63 - 1:
            raise UsageError(f"seeds are integers >= 0; got {s}", argument)
        seeds.append(s)
    if not seeds:
        raise UsageError("needs at least one seed, e.g. [0, 1, 2]", argument)
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"seeds must not repeat; got {', '.join(map(str, seeds))}", argument)
    if len(seeds) > _MAX_SEEDS:
        raise UsageError(f"at most {_MAX_SEEDS} seeds; got {len(seeds)}", argument)
    return tuple(seeds)


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
    analysis = _check_keys(raw.get("analysis", {}), _ANALYSIS_KEYS, "[analysis]", p)
    tc = analysis.get("tc_samples", DEFAULT_TC_SAMPLES)
    if not isinstance(tc, int) or isinstance(tc, bool) or tc < 4:
        raise UsageError(f"{p}: [analysis] tc_samples must be an integer >= 4; got {tc!r}", "CONFIG")
    models = []
    if not isinstance(raw["models"], list) or not raw["models"]:
        raise UsageError(f"{p}: [[models]] needs at least one entry", "CONFIG")
    for i, m in enumerate(raw["models"]):
        _check_keys(m, _MODEL_KEYS, f"[[models]] #{i + 1}", p)
        if "harden" in m:
            _check_keys(m["harden"], _HARDEN_KEYS, f"[[models]] #{i + 1} harden", p)
            from channelae.hardening import HardeningConfig

            try:
                HardeningConfig(**m["harden"])  # kind, mode, distance, ... checked now
            except UsageError as exc:
                raise UsageError(f"{p}: [[models]] #{i + 1} harden: {exc}", "CONFIG") from None
            if m["harden"].get("kind", "adversarial") != "adversarial" and "mode" in m["harden"]:
                raise UsageError(f"{p}: [[models]] #{i + 1} harden: 'mode' is the inner attack of adversarial "
                                 "training; noise training has none", "CONFIG")
        if ("family" in m) == ("checkpoint" in m):
            raise UsageError(f"{p}: [[models]] #{i + 1} needs exactly one of 'family' and 'checkpoint'", "CONFIG")
        if "family" in m:
            MODELS.get(m["family"])
        label = m.get("label", m.get("family", f"model{i + 1}"))
        kw = {k: v for k, v in m.items() if k != "label"}
        for key in ("lam", "beta"):  # floats, as the CLI passes them: the model-cache key depends on it
            if key in kw:
                if isinstance(kw[key], bool) or not isinstance(kw[key], (int, float)):
                    raise UsageError(f"{p}: [[models]] #{i + 1} {key} must be a number; got {kw[key]!r}", "CONFIG")
                kw[key] = float(kw[key])
        models.append(ModelSpec(label=label, **kw))
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
        label = s.get("label", f"sim{i + 1}")
        refs = _references(s, label, p)
        options = {k: v for k, v in s.items() if k not in ("label", "references")}
        options["reference"] = refs[0]
        sims.append(SimSpec(label=label, options=options, references=refs))
    if len({s.label for s in sims}) != len(sims):
        raise UsageError(f"{p}: simulation labels must be unique", "CONFIG")
    cfg = ExperimentConfig(name=str(raw["name"]), path=p, dataset=ds, datasets=datasets,
                           description=raw.get("description", ""), claim=raw.get("claim", ""), train=train,
                           models=tuple(models), simulations=tuple(sims), quick=quick, analysis=analysis)
    for sim in cfg.simulations:  # validate every simulation's options now, not after an hour of training
        try:
            _check_simulation(cfg, sim)
        except UsageError as exc:
            if str(p) in str(exc):
                raise
            # the library names its parameter (e.g. "mode: ..."), which is the config key: say where it is
            raise UsageError(f"{p}: simulation {sim.label!r}: {exc}", "CONFIG") from None
    return cfg


def _check_simulation(cfg: ExperimentConfig, sim: SimSpec) -> None:
    """Build a simulation's settings and channel once (no model, no data) so a bad value fails at load time."""
    from channelae.channels import build_channel
    from channelae.metrics import METRICS
    from channelae.simulate import jammer_stages

    sc = sim_config(cfg, sim, quick=False)
    sim_config(cfg, sim, quick=True)
    budget = {"eps": [0.0, 1.0]} if jammer_stages(sc.channel) else {}
    build_channel(sc.channel, **sc.channel_options(), **budget)  # checks mode, target, distance, ...
    for name in sc.metrics:
        METRICS.get(name)


def _references(s: dict[str, Any], label: str, path: Path) -> tuple[str, ...]:
    """A simulation's quality references: ``references = [...]`` or ``reference = "..."`` (default input)."""
    from channelae.simulate import REFERENCES

    if "references" in s and "reference" in s:
        raise UsageError(f"{path}: simulation {label!r}: give either 'reference' or 'references', not both",
                         "CONFIG")
    refs = s.get("references", [s.get("reference", "input")])
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
        raise UsageError(f"{path}: simulation {label!r}: references must be a list like ['input', "
                         f"'reconstruction']; got {refs!r}", "CONFIG")
    for r in refs:
        if r not in REFERENCES:
            raise UsageError(f"{path}: simulation {label!r}: unknown reference {r!r}; allowed: "
                             f"{', '.join(REFERENCES)}", "CONFIG")
    if len(set(refs)) != len(refs):
        raise UsageError(f"{path}: simulation {label!r}: references must not repeat", "CONFIG")
    return tuple(refs)


def _train_settings(raw: Any, datasets: tuple[str, ...], dataset: str, path: Path) -> dict[str, Any]:
    """``[train]`` with the ``[train.<dataset>]`` sub-table of the selected data set merged over it.

    A config written for several data sets can train longer on the small one (``mnist-5k``: 4,500 images)
    than on the 60,000-image ones without a second file. ``seeds`` (a list) and ``seed`` (one) exclude each
    other within a table; a data set's table overrides either.
    """
    train = dict(_check_keys(raw, _TRAIN_KEYS | set(datasets), "[train]", path))
    per_dataset = {name: train.pop(name) for name in datasets if name in train}
    for name, sub in per_dataset.items():
        _check_keys(sub, _TRAIN_KEYS, f"[train.{name}]", path)
    for where, table in (("[train]", train), *((f"[train.{n}]", t) for n, t in per_dataset.items())):
        if "seed" in table and "seeds" in table:
            raise UsageError(f"{path}: {where} has both 'seed' and 'seeds'; give one", "CONFIG")
    sub = per_dataset.get(dataset, {})
    if "seed" in sub:
        train.pop("seeds", None)
    if "seeds" in sub:
        train.pop("seed", None)
    train.update(sub)
    for key in ("epochs", "train_images", "batch_size"):
        if key in train and (not isinstance(train[key], int) or isinstance(train[key], bool) or train[key] < 1):
            raise UsageError(f"{path}: [train] {key} must be a positive integer; got {train[key]!r}", "CONFIG")
    if "seed" in train and (not isinstance(train["seed"], int) or isinstance(train["seed"], bool)
                            or train["seed"] < 0):
        raise UsageError(f"{path}: [train] seed must be an integer >= 0; got {train['seed']!r}", "CONFIG")
    if "seeds" in train:
        try:
            train["seeds"] = list(parse_seeds(train["seeds"]))
        except UsageError as exc:
            raise UsageError(f"{path}: [train] seeds: {exc.message}", "CONFIG") from None
    return train


def _grid(value: Any, argument: str, *, allow_inf: bool = False) -> tuple[float, ...]:
    from channelae.grids import parse_grid

    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    return tuple(parse_grid(str(value), argument, allow_inf=allow_inf, non_negative=argument == "--eps"))


def sim_config(cfg: ExperimentConfig, sim: SimSpec, *, quick: bool, reference: str | None = None,
               seed: int | None = None):
    """The :class:`~channelae.simulate.SimulationConfig` of ``sim`` (with the ``[quick]`` values when
    ``quick``), against ``reference`` (default: the simulation's first) and with the simulation seed ``seed``
    (default: the simulation's ``seed`` key, else 0)."""
    from channelae.simulate import DEFAULT_SNR_DB, SimulationConfig

    o = dict(sim.options)
    if quick:
        for k in ("n_images", "eps", "snr_db"):
            if k in cfg.quick:
                o[k] = cfg.quick[k]
    if reference is not None:
        o["reference"] = reference
    if seed is not None and "seed" not in sim.options:
        o["seed"] = seed
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
