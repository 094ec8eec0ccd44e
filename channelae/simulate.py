"""``simulate``: quality of a link over an SNR × jammer-budget grid, with the equal-power noise control.

Owns the simulation itself: :class:`SimulationConfig` (everything that changes numbers) and :func:`simulate`,
which reads as its steps:

1. :func:`plan_grid` — budgets (ε in ``eps_unit``, or JSR converted with :mod:`channelae.definitions`), SNR
   points, and the links that run over them: the requested channel, its equal-power noise control, and the
   noise-only reference (the channel with a zero jammer budget) on its own fine SNR grid;
2. :func:`_run_chunks` — every chunk of images through every link, all SNR points and budgets in one call
   (``[S, E, B·draws]`` rows, chunked to ``max_rows``; the PGD-jammed link in two calls, its noiseless and its
   finite SNR points, on the same realisations: :mod:`channelae.link.snr_groups`); resumable;
3. :func:`_statistics` — per-image values → means and intervals, the paired jammer − noise differences,
   AADDC, breaking budgets, equivalent SNRs and their losses (:mod:`channelae.curves`) on the reference curve
   (whose points at the simulation's own SNRs are the jammed links' ε = 0 values: the same link and
   realisations, so the loss at ε = 0 is exactly 0), the attack's convergence diagnostic;
4. :func:`_write` — ``results.json`` / ``results.csv`` (format owned by :mod:`channelae.results`) and the side
   files ``samples.safetensors`` / ``per_image.safetensors``.

Common random numbers (:mod:`channelae.channels.base`): every link of a chunk gets a generator seeded with
``(seed, chunk)`` alone, and jammers take exactly one seed from it, so for one image the PGD jammer link, its
noise control and the reference see the same channel realisations (fading, receiver noise) at every SNR and
budget; their ε = 0 rows are bit-identical and differences between them are paired per image. ``draws``
evaluates every image under that many independent realisations (images repeated along the batch, the attack
run per realisation: it is white-box on the channel) and averages each per-image value over them. Default 1:
the comparisons the tables make are already paired (same realisation for both links and every ε), and the
t-intervals over images include the channel's randomness since every image sees its own realisation; more
draws narrow the intervals at finite SNR at ``draws`` times the cost.

Resume: each chunk's per-image values are written atomically to ``<out>/partial/`` as soon as it finishes, so
an interrupted run resumes from the finished chunks (same config, weights, data set, metrics and device type
only). Chunk ``i`` draws its randomness from a generator seeded with ``(seed, i)``, so a resumed run gives the
same numbers as an uninterrupted one. The results folder is safe to reuse (:mod:`channelae.outdir`): other
settings are refused (``overwrite`` replaces channelae's files, never the user's), the same settings resume or
reuse finished results, and files of two runs are never mixed.

Budgets: ε in ``eps_unit`` — ``link`` (default: L2 norm of the perturbation of the transmitted symbols,
Es = 1, so JSR = ε²/n for every model) or ``latent`` (the study's unit); a ``--jsr-db`` grid is converted to ε
in that unit (:mod:`channelae.definitions`). ε = 0 is always part of the grid (added when missing): it is the
jammer-free link.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from channelae._timing import lap as _lap
from channelae._validation import check_device, check_int_range, check_one_of
from channelae.errors import UsageError
from channelae.results import (
    CSV_NAME,
    PER_IMAGE_NAME,
    RESULTS_NAME,
    SAMPLES_NAME,
    BreakingBudget,
    Budget,
    Convergence,
    Curve,
    LatentBars,
    Manifest,
    MetricInfo,
    ReferenceCurve,
    Results,
)

__all__ = [
    "DEFAULT_METRICS",
    "DEFAULT_SNR_DB",
    "RESULTS_NAME",
    "GridPlan",
    "SimulationConfig",
    "check_out",
    "jammer_stages",
    "plan_grid",
    "simulate",
]
#: Default SNR points: noiseless (the study's setting) plus AWGN at 20, 10 and 5 dB.
DEFAULT_SNR_DB: tuple[float, ...] = (math.inf, 20.0, 10.0, 5.0)
DEFAULT_METRICS: tuple[str, ...] = ("ssim", "psnr", "mse", "lpips")
REFERENCES = ("input", "reconstruction")
N_SAMPLES = 8
#: Channel realisations per image by default (module docstring: why 1).
DEFAULT_DRAWS = 1


@dataclass(frozen=True)
class SimulationConfig:
    """What a simulation computes (everything that changes numbers; hashed into the manifest).

    :param channel: channel spec, e.g. ``pgd-jammer``, ``awgn+pgd-jammer``, ``rayleigh+pgd-jammer``.
    :param eps: budget grid, L2 norm per example in ``eps_unit`` (``None``: the data set's default grid
        when jammed, read in ``eps_unit``).
    :param jsr_db: or a JSR grid in dB (converted to ε in ``eps_unit``).
    :param eps_unit: ``link`` (default: transmitted-symbol perturbation, Es = 1, JSR = ε²/n) or ``latent``
        (the study's latent L2 norm; the configs reproducing the study use it).
    :param draws: channel realisations per image, averaged per image (module docstring).
    :param highlight: the budget value singled out in tables (``--eps E`` → E).
    :param snr_db: SNR points, dB Es/N0 per complex symbol (``inf`` = noiseless).
    :param n_images: images of the evaluation split.
    :param reference: ``input`` (x, default) or ``reconstruction`` (dec(z0): isolates the channel).
    :param limits: per-metric limit-line overrides.
    :param channel_extra: further ``(name, value)`` channel options (``--channel-option NAME=VALUE``), passed
        to every stage whose factory takes ``name``: the way to set a plugin channel's parameters.
    :param max_rows: decoder rows per link call (S·E·B·eot), bounds memory.
    :param attack_precision: the PGD jammer's search precision, ``fp32``, ``bf16`` or ``auto`` (``None``: the
        jammer's default, ``auto``); the link evaluates the perturbation and every metric in fp32 either way.
    :param fold: decode with the exactly folded decoder (:mod:`channelae.models.fold`; default). ``False``
        runs the model's own decoder: the same numbers up to float rounding (fp32), slower.
    :param link: ``analog`` (default: the autoencoder's latent on the channel) or ``digital`` (quantised latent
        → 5G LDPC → QAM, :mod:`channelae.digital.simulation`), with its ``bits`` per latent dimension,
        ``code_rate`` (1 = uncoded), ``qam`` order and ``equal_bandwidth`` (``None``: the digital link's
        defaults; refused on the analog link).
    """

    channel: str = "pgd-jammer"
    eps: tuple[float, ...] | None = None
    jsr_db: tuple[float, ...] | None = None
    highlight: float | None = None
    snr_db: tuple[float, ...] = DEFAULT_SNR_DB
    n_images: int = 32
    target: str | None = None
    distance: str | None = None
    mode: str | None = None
    eot: int | None = None
    steps: int | None = None
    restarts: int | None = None
    norm: str | None = None
    placement: str | None = None
    k_db: float | None = None
    block_length: int | None = None
    metrics: tuple[str, ...] = DEFAULT_METRICS
    reference: str = "input"
    equalizer: str = "lmmse"
    limits: tuple[tuple[str, float], ...] = ()
    channel_extra: tuple[tuple[str, Any], ...] = ()
    seed: int = 0
    max_rows: int = 6144
    lpips_net: str = "alex"
    eps_unit: str = "link"
    draws: int = DEFAULT_DRAWS
    attack_precision: str | None = None
    fold: bool = True
    link: str = "analog"
    bits: int | None = None
    code_rate: float | None = None
    qam: int | None = None
    equal_bandwidth: bool = False

    def validate(self) -> None:
        from channelae.definitions import EPS_UNITS
        from channelae.digital.simulation import check_config

        check_config(self)  # --link and the digital link's options

        check_one_of(self.reference, REFERENCES, "--reference")
        check_one_of(self.eps_unit, EPS_UNITS, "--eps-unit")
        check_int_range(self.draws, "--draws", low=1, high=10_000)
        check_int_range(self.n_images, "--n-images", low=1, high=1_000_000)
        check_int_range(self.seed, "--seed", low=0, high=2**63 - 1)
        check_int_range(self.max_rows, "max_rows", low=1)
        if self.eps is not None and self.jsr_db is not None:
            raise UsageError("give either --eps or --jsr-db, not both", "--jsr-db")
        from channelae.link.receiver import EQUALIZERS

        check_one_of(self.equalizer, EQUALIZERS, "--equalizer")
        seen: set[str] = set()
        for name, _ in self.limits:
            if name not in self.metrics:
                raise UsageError(f"limit for {name!r}, which is not among --metrics "
                                 f"({', '.join(self.metrics)})", "--limit")
            if name in seen:
                raise UsageError(f"limit for {name!r} given twice", "--limit")
            seen.add(name)
        extra: set[str] = set()
        for name, _ in self.channel_extra:
            if not name.isidentifier():
                raise UsageError(f"{name!r} is not an option name (letters, digits, '_')", "--channel-option")
            if name in _CHANNEL_KEYS or name in ("eps", "jsr_db", "snr_db", "eps_unit", "draws"):
                raise UsageError(f"{name!r} has its own option: use --{name.replace('_', '-')}",
                                 "--channel-option")
            if name in extra:
                raise UsageError(f"{name!r} given twice", "--channel-option")
            extra.add(name)

    def channel_options(self) -> dict[str, Any]:
        """The options for :func:`channelae.channels.build_channel` (``None`` = the channel's default);
        ``eps_unit`` for a channel with a jammer."""
        opts = {k: getattr(self, k) for k in _CHANNEL_KEYS if getattr(self, k) is not None}
        if jammer_stages(self.channel):
            opts["eps_unit"] = self.eps_unit
        opts.update(self.channel_extra)
        return opts

    def digest(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


_CHANNEL_KEYS = ("target", "distance", "mode", "eot", "steps", "restarts", "norm", "placement", "k_db",
                 "block_length", "attack_precision")


def _stage_options(spec: str) -> list[set[str] | None]:
    """Options each stage of a channel spec accepts (``None``: any), see ``channels.channel_options``."""
    from channelae.channels import channel_options

    return [channel_options(n.strip()) for n in spec.split("+") if n.strip()]


def jammer_stages(spec: str) -> list[str]:
    """Names of the jammer stages in a channel spec."""
    return [p.strip() for p in spec.split("+") if p.strip() in ("pgd-jammer", "noise-jammer")]


def _control_spec(spec: str) -> str | None:
    """The equal-power noise control of a spec: ``pgd-jammer`` replaced by ``noise-jammer``."""
    parts = [p.strip() for p in spec.split("+")]
    if "pgd-jammer" not in parts:
        return None
    return "+".join("noise-jammer" if p == "pgd-jammer" else p for p in parts)


def _reference_spec(spec: str) -> str:
    """The noise-only reference of a jammed spec: every jammer stage a ``noise-jammer`` (run with budget 0).

    A zero-budget noise jammer adds exactly nothing, and takes the one seed from the link's generator that
    the jammer it replaces takes, so the reference sees the jammed links' channel realisations (CRN)."""
    return "+".join("noise-jammer" if p.strip() in ("pgd-jammer", "noise-jammer") else p.strip()
                    for p in spec.split("+") if p.strip())


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_out(out: Path) -> None:
    from channelae.io import ensure_writable_dir

    ensure_writable_dir(out, "--out")


def check_out(config: SimulationConfig, out: str | os.PathLike[str]) -> None:
    """Refuse ``out`` when it holds channelae files of other settings (one line; :mod:`channelae.outdir`).

    Needs no model and changes nothing: ``channelae run`` checks every simulation folder with it before it
    trains anything. :func:`simulate` does the same check itself (unless ``overwrite``).

    :raises UsageError: argument ``--out``, naming ``--overwrite`` and another ``--out``.
    """
    from channelae import outdir

    outdir.check_settings(outdir.inspect(out), outdir.config_record(config), outdir.config_record(SimulationConfig()))


def _check_early(config: SimulationConfig, jammers: list[str], out: Path,
                 overrides: dict[str, Any] | None = None) -> None:
    """Checks that need no model: channel spec and options, budget vs. channel, metric names, the lpips
    distance's weights, ``--out``."""
    from channelae.link import link_channel
    from channelae.metrics import METRICS

    if not jammers and (config.eps is not None or config.jsr_db is not None):
        raise UsageError(f"channel {config.channel!r} has no jammer; add pgd-jammer or noise-jammer to "
                         "use a budget", "--eps" if config.eps is not None else "--jsr-db")
    opts = config.channel_options()
    if jammers:
        opts["eps"] = [0.0]  # placeholder: the real grid needs the checkpoint's gain
    takes = _stage_options(config.channel)
    for name, _ in config.channel_extra:
        if not any(t is None or name in t for t in takes):
            raise UsageError(f"option {name!r} is not used by channel {config.channel!r}", "--channel-option")
    try:
        link_channel(config.channel, **opts)
    except ValueError as exc:  # a (plugin) channel refusing an option value
        if isinstance(exc, UsageError) and exc.argument and exc.argument.isidentifier():  # names its parameter
            where = "" if f"channel {config.channel!r}" in exc.message else f"channel {config.channel!r}: "
            raise UsageError(f"{where}{exc.message}", exc.argument) from None
        raise UsageError(f"channel {config.channel!r}: {exc}",
                         "--channel-option" if config.channel_extra else "--channel") from None
    for name in config.metrics:
        METRICS.get(name)
    if config.distance == "lpips" and (overrides or {}).get("backbone") is None:
        from channelae.metrics.lpips import lpips_unavailable_reason

        why = lpips_unavailable_reason(config.lpips_net, purpose="distance")
        if why is not None:  # before a default model is trained
            raise UsageError(why, "--distance")
    _check_out(out)


# ---------------------------------------------------------------------------------------------------------
# The model and the grid


@dataclass(frozen=True)
class ModelSource:
    """The checkpoint a simulation runs (its directory and metadata) and the evaluation data set."""

    path: Path
    meta: dict[str, Any]
    dataset: str
    explanation: str = ""

    def weights_sha256(self) -> str:
        """SHA-256 of the checkpoint's weights file (part of the resume key and of the manifest)."""
        from channelae.checkpoint import resolve_checkpoint

        return _file_sha256(resolve_checkpoint(self.path)[0])


def _resolve_model(config: SimulationConfig, checkpoint: str | os.PathLike[str] | None, model: str | None,
                   dataset: str | None, *, device: str, progress: bool, data_dir: str | os.PathLike[str] | None,
                   log: Callable[[str], None]) -> ModelSource:
    """The checkpoint and the data set to evaluate on, with one line (to ``log``) saying which model and why.

    ``model`` goes through :func:`channelae.zoo.resolve_model`: a family (its cached default-settings model,
    trained on first use), a cached model's name or a checkpoint path; ``checkpoint`` is a checkpoint path.
    """
    from channelae import zoo
    from channelae.checkpoint import read_metadata
    from channelae.data import dataset_info

    if checkpoint is None:
        chosen = zoo.resolve_model(model, dataset, progress=progress, device=device, data_dir=data_dir, log=log)
        ckpt, explanation = chosen.path, chosen.explanation
        meta = read_metadata(ckpt)
    else:
        if model is not None:
            raise UsageError("give either --model or --checkpoint, not both", "--checkpoint")
        ckpt = Path(checkpoint).expanduser()
        meta = read_metadata(ckpt)
        epochs = meta.get("settings", {}).get("epochs", meta.get("train", {}).get("epochs", "?"))
        explanation = (f"using checkpoint {ckpt}: {meta.get('config', {}).get('family', '?')} on "
                       f"{meta.get('dataset', '?')} ({epochs} epochs, seed {meta.get('seed', '?')})")
        log(explanation)
    ds_name = dataset or meta.get("dataset", zoo.DEFAULT_DATASET)
    if ds_name != meta.get("dataset"):
        from channelae.models import ModelConfig

        if tuple(ModelConfig.from_dict(meta["config"]).image_shape) != dataset_info(ds_name).image_shape:
            raise UsageError(f"the checkpoint was trained on {meta.get('dataset')!r}; images of {ds_name!r} "
                             "have another shape", "--dataset")
    return ModelSource(path=ckpt, meta=meta, dataset=ds_name, explanation=explanation)


@dataclass(frozen=True)
class GridPlan:
    """What one simulation runs over.

    :ivar eps: ``[E]`` budgets, L2 norm per example in ``eps_unit``, increasing, ε = 0 first.
    :ivar eps_unit: ``link`` or ``latent`` (:data:`channelae.definitions.EPS_UNITS`).
    :ivar jsr_db: ``[E]`` the budgets' JSR in dB (float64, :func:`channelae.definitions.eps_to_jsr_db`).
    :ivar highlight: the budget singled out in tables (in ``eps_unit``).
    :ivar axis: ``eps``, or ``jsr_db`` when the grid was given as JSR (plots then use JSR as x axis).
    :ivar snr_db: ``[S]`` SNR points, dB Es/N0 per complex symbol (``inf`` = noiseless), as given.
    :ivar gain: transmitter gain ``1/√P_ref`` of the checkpoint; ``num_symbols``: complex symbols per example.
    :ivar links: link name → channel spec: ``jammer`` (or ``link`` without a jammer) and, for a PGD jammer,
        ``noise`` (its equal-power noise control).
    :ivar reference: the noise-only reference's channel spec (zero jammer budget), or ``None`` without a
        jammer; ``reference_snr_db`` ``[K]`` its SNR grid (:data:`channelae.curves.REFERENCE_SNR_DB` and the
        finite ``snr_db`` points, ascending, ``inf`` last).
    :ivar symbol_norm: the mean clean ‖s‖ when it is not ``gain·‖z‖`` (the digital link: nominal ``sqrt(n_c)``).
    """

    eps: list[float]
    highlight: float
    snr_db: Tensor
    gain: float
    num_symbols: int
    links: dict[str, str]
    eps_unit: str = "link"
    jsr_db: list[float] = field(default_factory=list)
    axis: str = "eps"
    reference: str | None = None
    reference_snr_db: Tensor | None = None
    symbol_norm: float | None = None

    @property
    def control(self) -> str | None:
        """The noise control's channel spec, or ``None``."""
        return self.links.get("noise")


def plan_grid(config: SimulationConfig, meta: dict[str, Any], dataset: str) -> GridPlan:
    """Budgets, SNR points and links of ``config`` for a checkpoint with metadata ``meta`` (no model needed).

    A ``--jsr-db`` grid is converted to ε in ``config.eps_unit`` with the checkpoint's gain and symbol count
    (:mod:`channelae.definitions`, the one place of these conversions); without ``--eps``/``--jsr-db`` a
    jammed channel gets the data set's default ε grid, read in ``config.eps_unit``; ε = 0 is added when
    missing.
    """
    from channelae.curves import REFERENCE_SNR_DB
    from channelae.data import dataset_info
    from channelae.definitions import eps_to_jsr_db, jsr_db_to_eps, num_symbols
    from channelae.grids import eps_grid
    from channelae.link import as_snr_grid

    unit = config.eps_unit
    gain = 1.0 / math.sqrt(float(meta["p_ref"]))
    n_sym = num_symbols(int(meta["config"]["latent_dim"]))
    if config.link == "digital":  # budgets on the digital link's QAM symbols: gain 1, n = its channel uses n_c
        from channelae.digital.simulation import grid_units

        gain, n_sym = grid_units(config, meta)
    jammed = bool(jammer_stages(config.channel))
    if jammed:  # the n of JSR: the REs carrying signal when a grid channel (ofdm) spreads the symbols
        from channelae.channels._budget import spec_signal_symbols

        n_sym = spec_signal_symbols(config.channel, n_sym, config.channel_options())
    axis = "eps"
    if not jammed:
        eps_values, highlight = [0.0], 0.0
    elif config.jsr_db is not None:
        jsr_values, highlight_jsr = eps_grid(list(config.jsr_db), "--jsr-db")
        eps_values = jsr_db_to_eps(torch.tensor(jsr_values, dtype=torch.float64), gain, n_sym, unit=unit).tolist()
        highlight = float(jsr_db_to_eps(highlight_jsr, gain, n_sym, unit=unit))
        axis = "jsr_db"
    else:
        raw = list(config.eps) if config.eps is not None else [float(v) for v in dataset_info(dataset).eps_grid()]
        eps_values, highlight = eps_grid(raw, "--eps")
        if config.highlight is not None:
            highlight = config.highlight
    if 0.0 not in eps_values:
        eps_values = [0.0, *eps_values]
    links = {("jammer" if jammed else "link"): config.channel}
    control = _control_spec(config.channel)
    if control is not None:
        links["noise"] = control
    eps_t = torch.tensor(eps_values, dtype=torch.float64)
    snr = as_snr_grid(list(config.snr_db))
    reference = ref_snr = None
    if jammed:
        reference = _reference_spec(config.channel)
        points = sorted({*REFERENCE_SNR_DB, *(float(v) for v in snr.tolist())})
        ref_snr = torch.tensor(points, dtype=torch.float32)
    return GridPlan(eps=eps_t.tolist(), highlight=highlight, snr_db=snr, gain=gain, num_symbols=n_sym, links=links,
                    eps_unit=unit, jsr_db=eps_to_jsr_db(eps_t, gain, n_sym, unit=unit).tolist(), axis=axis,
                    reference=reference, reference_snr_db=ref_snr,
                    symbol_norm=math.sqrt(n_sym) if config.link == "digital" else None)


def _build_links(config: SimulationConfig, plan: GridPlan, ckpt: Path, dev: torch.device) -> dict[str, Any]:
    """One :class:`channelae.link.Link` per planned link, plus the noise-only ``reference`` (a zero budget)
    for a jammed channel; the noise control and the reference drop the PGD-only options."""
    from channelae.link import Link

    jammed = bool(jammer_stages(config.channel))
    specs = dict(plan.links)
    if plan.reference is not None:
        specs["reference"] = plan.reference
    links = {}
    for name, spec in specs.items():
        o = config.channel_options()
        if jammed:
            o["eps"] = [0.0] if name == "reference" else list(plan.eps)
        if name in ("noise", "reference"):
            o = {k: v for k, v in o.items() if k not in _PGD_ONLY}
            takes = _stage_options(spec)
            o = {k: v for k, v in o.items()  # extras meant for the PGD jammer alone
                 if k not in dict(config.channel_extra) or any(t is None or k in t for t in takes)}
        if config.link == "digital":
            from channelae.digital.simulation import build_link

            links[name] = build_link(config, spec, ckpt, dev, o)
            continue
        links[name] = Link.from_checkpoint(ckpt, spec, device=dev, equalizer=config.equalizer,
                                           channel_options=o, fold=config.fold)
    return links


#: Options only the PGD jammer takes (the noise control and the reference drop them).
_PGD_ONLY = ("target", "distance", "mode", "eot", "steps", "restarts", "norm", "attack_precision")


@dataclass(frozen=True)
class MetricSet:
    """The metrics that run: per-image ones (averaged with intervals), per-set ones (FID: one value per
    point), the skipped ones with the reason, and each one's direction and limit line."""

    per_image: dict[str, Any]
    per_set: dict[str, Any]
    skipped: dict[str, str]
    specs: dict[str, Any]


def _build_metrics(config: SimulationConfig, links: dict[str, Any], dev: torch.device,
                   overrides: dict[str, Any] | None) -> MetricSet:
    """Build ``config.metrics`` (skipping those that cannot run here) and give an LPIPS-distance jammer its
    LPIPS network."""
    from channelae.curves import PSNR_CEILING_DB, metric_spec
    from channelae.metrics import build_metrics

    metrics, skipped = build_metrics(list(config.metrics), device=dev, lpips_net=config.lpips_net,
                                     psnr_max_db=PSNR_CEILING_DB, **(overrides or {}))
    if config.distance == "lpips":
        lp = metrics.get("lpips")
        why = skipped.get("lpips")
        if lp is None and why is None:  # not among --metrics: build it for the attack only
            extra, why_d = build_metrics(["lpips"], device=dev, lpips_net=config.lpips_net, **(overrides or {}))
            lp, why = extra.get("lpips"), why_d.get("lpips")
        if lp is None:
            from channelae.metrics.lpips import lpips_unavailable_reason

            raise UsageError(lpips_unavailable_reason(config.lpips_net, purpose="distance") or why, "--distance")
        for link in links.values():
            for stage in getattr(link.channel, "stages", [link.channel]):
                if hasattr(stage, "lpips_metric"):
                    stage.lpips_metric = lp
    if not metrics:
        raise UsageError("none of the requested metrics can run here: " +
                         "; ".join(f"{k}: {v}" for k, v in skipped.items()), "--metrics")
    limits = dict(config.limits)
    return MetricSet(per_image={k: m for k, m in metrics.items() if m.per_image},
                     per_set={k: m for k, m in metrics.items() if not m.per_image}, skipped=skipped,
                     specs={k: metric_spec(k, limits.get(k)) for k in metrics})


# ---------------------------------------------------------------------------------------------------------
# Running the chunks


def _chunk_generator(seed: int, chunk: int, device: torch.device) -> torch.Generator:
    """The generator of one chunk, the same for every link (common random numbers): it depends on nothing
    else, so a resumed run draws the same numbers."""
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + chunk * 7919) % (2**63 - 1))
    return g


def _pgd_stage(link: Any) -> Any:
    """The PGD jammer stage of a link's channel (analog, or the digital link's PGD on the LLRs), or ``None``."""
    from channelae.channels.pgd_jammer import PGDJammer

    def is_pgd(st: Any) -> bool:
        return isinstance(st, PGDJammer) or isinstance(getattr(st, "spec", None), PGDJammer)

    return next((st for st in getattr(link.channel, "stages", [link.channel]) if is_pgd(st)), None)


@dataclass
class ChunkImages:
    """Reconstructions and references kept in memory for the per-set metrics (FID): uint8, per link
    ``[S, E, B·draws, C, H, W]`` chunks, and the references ``[B·draws, C, H, W]`` chunks."""

    x_hat: dict[str, list[Tensor]]
    ref: list[Tensor]


def _per_image(metric: Any, x_hat: Tensor, ref: Tensor, lead: tuple[int, ...], draws: int) -> Tensor:
    """Per-image values of ``metric`` for reconstructions ``x_hat [*lead, B·draws, C, H, W]`` against ``ref``
    (broadcasting), averaged over each image's ``draws`` realisations: float64 ``[*lead, B]`` on the CPU."""
    flat = x_hat.reshape(-1, *x_hat.shape[-3:])
    ref_flat = ref.expand(x_hat.shape).reshape(flat.shape)
    with torch.no_grad():
        vals = torch.cat([metric(flat[i:i + 1024], ref_flat[i:i + 1024]) for i in range(0, flat.shape[0], 1024)])
    return vals.double().reshape(*lead, -1, draws).mean(-1).cpu()


#: Progress-bar units of a chunk: a PGD jammer's search (about a hundred decoder passes with gradient), and each
#: link's evaluation (one pass over S·E·B rows, or the reference's K·B, plus the per-image metrics). Measured
#: on the default job (CPU): one evaluation costs about 6 % of a search, so the ETA follows the work.
_PGD_UNITS = 100.0
_EVAL_UNITS = 6.0
#: What the progress bar says each link is doing.
_LINK_WORDS = {"jammer": "jammed link", "noise": "noise control", "reference": "noise-only reference",
               "link": "link"}


def _run_chunks(config: SimulationConfig, plan: GridPlan, links: dict[str, Any], metrics: MetricSet, data: Any,
                chunk: int, partial: Path, dev: torch.device, progress: bool,
                done: list[int] | None = None) -> ChunkImages:
    """Run every chunk of images through every link and write ``partial/chunk_XXXXX.safetensors``.

    Every link of a chunk gets the same generator (:func:`_chunk_generator`: common random numbers); with
    ``draws > 1`` every image is repeated ``draws`` times along the batch (each copy its own realisation).
    Each chunk file holds, per link ``L``: ``L.<metric>`` float64 ``[S, E, B]`` per-image values (averaged over
    the draws), ``L.z_hat`` float32 ``[S, E, B, d]`` received latents (first draw); the reference's
    ``reference.<metric>`` ``[K, 1, B]`` on its SNR grid; for a PGD jammer ``jammer.conv_half`` /
    ``jammer.conv_final`` float64 ``[S, E]`` (its convergence diagnostic, mean over the chunk's rows) and
    ``jammer.conv_rows``; and ``z`` ``[B, d]`` clean latents; chunk 0 also ``L.samples`` ``[S, E, k, C, H, W]``,
    ``inputs`` and ``clean`` ``[k, C, H, W]`` (k ≤ 8 images for plots, first draw).
    A finished chunk (``done``) is skipped, unless per-set metrics need its images again.

    Progress: one bar for the whole run, advanced per link and chunk and, inside a PGD jammer's search, per
    decoder pass (the jammer's ``progress`` callback); resumed chunks count as done from the start (no
    burst that would make the ETA too short).
    """
    from safetensors.torch import save_file

    from channelae.io import atomic_path
    from channelae.link.snr_groups import run_in_snr_groups
    from channelae.progress import make_progress

    N = len(data)
    S, E, D = plan.snr_db.numel(), len(plan.eps), config.draws
    n_chunks = math.ceil(N / chunk)
    snr = plan.snr_db.to(dev)
    main = [k for k in links if k != "reference"]
    kept = ChunkImages(x_hat={k: [] for k in main} if metrics.per_set else {}, ref=[])
    skip = set(done or []) if not metrics.per_set else set()
    units = {name: _EVAL_UNITS + (_PGD_UNITS if _pgd_stage(link) is not None else 0.0) for name, link in links.items()}
    per_chunk = sum(units.values())
    with make_progress(enabled=progress, counts=False) as bar:
        completed = len(skip) * per_chunk
        task = bar.add_task("simulate", total=n_chunks * per_chunk, completed=completed, info="")
        for c in range(n_chunks):
            part = partial / f"chunk_{c:05d}.safetensors"
            if c in skip and part.exists():
                continue
            x = data.batch(torch.arange(c * chunk, min(N, (c + 1) * chunk))).to(dev)
            B = x.shape[0]
            xr = x.repeat_interleave(D, dim=0) if D > 1 else x  # [B·D, C, H, W], copies of an image adjacent
            tensors: dict[str, Tensor] = {}
            where = f"chunk {c + 1}/{n_chunks}: " if n_chunks > 1 else ""
            for lname, link in links.items():
                bar.update(task, completed=completed, info=where + _LINK_WORDS.get(lname, lname))
                if lname == "reference":  # the noise-only curve on its own SNR grid: per-image metrics only
                    o = link(xr, plan.reference_snr_db.to(dev), generator=_chunk_generator(config.seed, c, dev))
                    _lap("reference link")
                    ref = xr if config.reference == "input" else o.clean
                    for mname, metric in metrics.per_image.items():
                        tensors[f"reference.{mname}"] = _per_image(metric, o.x_hat, ref, tuple(o.x_hat.shape[:2]), D)
                    _lap("metrics")
                    completed += units[lname]
                    continue
                stage = _pgd_stage(link)
                try:
                    if stage is not None and config.link == "analog":
                        # noiseless and finite SNR points searched apart (same realisations; snr_groups)
                        o = run_in_snr_groups(link, xr, snr, lambda c=c: _chunk_generator(config.seed, c, dev),
                                              stage, _group_progress(stage, bar, task, completed, where, snr))
                    else:
                        if stage is not None:
                            _group_progress(stage, bar, task, completed, where, snr)(0, torch.arange(S))
                        o = link(xr, snr, generator=_chunk_generator(config.seed, c, dev))
                finally:
                    if stage is not None:
                        stage.progress = None
                _lap("attack (PGD jammer link)" if stage is not None else f"{lname} link")
                ref = xr if config.reference == "input" else o.clean
                for mname, metric in metrics.per_image.items():
                    tensors[f"{lname}.{mname}"] = _per_image(metric, o.x_hat, ref, (S, E), D)
                if config.link == "digital":  # BER / BLER per image
                    from channelae.digital.simulation import rate_tensors

                    tensors.update(rate_tensors(lname, o, D))
                _lap("metrics")
                tensors[f"{lname}.z_hat"] = o.z_hat[:, :, ::D].detach().float().cpu()  # [S, E, B, d]
                diag = getattr(stage, "last_diagnostics", None) if stage is not None else None
                if diag is not None:
                    for key in ("half", "final"):
                        tensors[f"{lname}.conv_{key}"] = diag[f"distance_{key}"].double().reshape(S, E).cpu()
                    tensors[f"{lname}.conv_rows"] = torch.tensor([B * D], dtype=torch.float64)
                    tensors[f"{lname}.conv_eot"] = torch.tensor([int(diag.get("eot") or 1)], dtype=torch.int64)
                    tensors[f"{lname}.conv_cv"] = torch.tensor([bool(diag.get("control_variate"))])
                    tensors[f"{lname}.conv_curv"] = torch.tensor([int(diag.get("curvature") or 0)], dtype=torch.int64)
                    tensors[f"{lname}.conv_avg"] = torch.tensor([float(diag.get("average") or 0.0)],
                                                                dtype=torch.float64)
                if metrics.per_set:
                    kept.x_hat[lname].append((o.x_hat.detach().cpu() * 255).round().to(torch.uint8))
                if c == 0:
                    k = min(N_SAMPLES, B)
                    tensors[f"{lname}.samples"] = o.x_hat[:, :, ::D][:, :, :k].detach().float().cpu()
                    tensors["inputs"] = x[:k].float().cpu()
                    tensors["clean"] = o.clean[::D][:k].float().cpu()
                tensors["z"] = o.z[::D].float().cpu()
                completed += units[lname]
                bar.update(task, completed=completed)
            if metrics.per_set:
                kept.ref.append((xr.cpu() * 255).round().to(torch.uint8))
            with atomic_path(part) as tmp:
                save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
    return kept


def _group_progress(stage: Any, bar: Any, task: Any, base: float, info: str,
                    snr: Tensor) -> Callable[[int, Tensor], None]:
    """``before_group(i, idx)`` for :func:`run_in_snr_groups`: points the jammer's progress callback at the
    group's share of the chunk's search units (finite SNR points weigh 2: two channel draws per step)."""
    weight = torch.where(torch.isinf(snr.cpu()), 1.0, 2.0)
    total = float(weight.sum())
    done = [base]  # where the next group's share starts

    def before(i: int, idx: Tensor) -> None:
        start = done[0]
        span = _PGD_UNITS * float(weight[idx.cpu()].sum()) / total
        done[0] = start + span

        def step(k: int, n: int) -> None:
            bar.update(task, completed=start + span * min(k, n) / max(n, 1),
                       info=f"{info}PGD jammer, search pass {min(k, n)}/{n}")

        stage.progress = step

    return before


@dataclass(frozen=True)
class Gathered:
    """All chunks joined: per-image values ``{link}.{metric}`` ``[S, E, N]`` (``reference.{metric}``
    ``[K, 1, N]``) and ``{link}.z_hat`` ``[S, E, N, d]``, clean latents ``z`` ``[N, d]``, per-set values
    ``{link}.{metric}`` ``[S, E]``, the PGD jammer's convergence diagnostic ``{link}.conv_half`` /
    ``conv_final`` ``[S, E]`` (row-weighted mean over the chunks), and chunk 0's tensors (the samples)."""

    per_image: dict[str, Tensor]
    z: Tensor
    per_set: dict[str, Tensor]
    first_chunk: dict[str, Tensor]
    convergence: dict[str, Tensor] = field(default_factory=dict)


def _gather(partial: Path, n_chunks: int, links: list[str], metrics: MetricSet, kept: ChunkImages,
            S: int, E: int) -> Gathered:
    """Join the chunk files and compute the per-set metrics (one value per SNR × budget point)."""
    from safetensors.torch import load_file

    chunks = [load_file(str(partial / f"chunk_{c:05d}.safetensors")) for c in range(n_chunks)]
    per_image = {k: torch.cat([ch[k] for ch in chunks], dim=-1 if not k.endswith("z_hat") else -2)
                 for k in chunks[0] if k.split(".")[-1] in metrics.per_image or k.endswith("z_hat")
                 or (k.split(".")[-1] in metrics.specs and k.split(".")[-1] not in metrics.per_set)}
    convergence: dict[str, Tensor] = {}
    for k in chunks[0]:
        if k.endswith((".conv_eot", ".conv_cv", ".conv_curv", ".conv_avg")):
            convergence[k] = torch.cat([ch[k] for ch in chunks]).amax()
        if k.endswith((".conv_half", ".conv_final")):
            rows = torch.cat([ch[k.rsplit(".", 1)[0] + ".conv_rows"] for ch in chunks])  # [n_chunks]
            vals = torch.stack([ch[k] for ch in chunks])  # [n_chunks, S, E]
            convergence[k] = (vals * rows.reshape(-1, 1, 1)).sum(0) / rows.sum()
    per_set: dict[str, Tensor] = {}
    for mname, metric in metrics.per_set.items():
        for lname in links:
            if lname == "reference":
                continue
            xs = torch.cat(kept.x_hat[lname], dim=2)  # [S, E, N·draws, C, H, W]
            refs = torch.cat(kept.ref, dim=0)
            vals = torch.empty(S, E, dtype=torch.float64)
            for si in range(S):
                for ei in range(E):
                    vals[si, ei] = float(metric.compute(xs[si, ei].float() / 255, refs.float() / 255))
            per_set[f"{lname}.{mname}"] = vals
    return Gathered(per_image=per_image, z=torch.cat([ch["z"] for ch in chunks], dim=0), per_set=per_set,
                    first_chunk=chunks[0], convergence=convergence)


# ---------------------------------------------------------------------------------------------------------
# The orchestrator


def simulate(
    config: SimulationConfig,
    out: str | os.PathLike[str],
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    model: str | None = None,
    dataset: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    device: str = "auto",
    progress: bool = True,
    command: str | None = None,
    metric_overrides: dict[str, Any] | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
) -> Results:
    """Simulate a link over SNR × jammer budget and write the results folder ``out``; return the results.

    Runs every image of the evaluation split through the requested channel (and, for a PGD jammer, its
    equal-power noise control and the noise-only reference), then computes means and 95 % intervals, the
    paired jammer − noise gap, AADDC, breaking budgets and equivalent-SNR losses (module docstring). Nothing
    is printed except through ``log`` and the progress bar; ``channelae simulate`` renders the results.

    Args:
        config: what to compute (:class:`SimulationConfig`: channel, budgets ε in ``eps_unit`` or JSR in dB, SNR
            points in dB Es/N0 per complex symbol, images, metrics, seed, ...).
        out: results folder. It may hold other files (never touched). A folder with channelae files of other
            settings is refused (``UsageError``, see ``overwrite``); the same settings resume an interrupted run
            from its finished chunks, or return the finished results stored there without recomputing
            (:mod:`channelae.outdir`).
        checkpoint: a trained checkpoint directory (instead of ``model``).
        model: a model family (its cached default-settings model, trained on first use), a cached model's name
            (``channelae models``) or a checkpoint path; default: :data:`channelae.zoo.DEFAULT_MODEL`. Which one
            is used, and why, goes to ``log`` and into the manifest (``model_choice``).
        dataset: evaluation data set; default: the checkpoint's (for a family: also the one it is trained on).
        data_dir: directory searched first for data sets.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (no silent fallback).
        progress: show a progress bar (stderr) and, when ``log`` is ``None``, log to stderr.
        command: the command line recorded in the manifest (default: ``sys.argv``).
        metric_overrides: extra keyword arguments for :func:`channelae.metrics.build_metrics` (tests inject small
            LPIPS/FID backbones here).
        overwrite: replace the channelae files in ``out`` (results, side files, plots, an unfinished run; never
            other files) and compute afresh, whatever settings they had.
        log: where one-line messages go (which model, resuming, reusing, skipped metrics); default: stderr when
            ``progress``, else nowhere.

    Returns:
        The :class:`channelae.results.Results` in ``<out>/results.json`` (as :func:`channelae.results.load` reads
        it back): just computed, or the stored results of the same settings.

    Raises:
        UsageError: a bad configuration, model or data set (the argument named, e.g. ``--eps``), the lpips
            distance without its weights (``--distance``), or ``out`` holding channelae files of other settings
            (``--out``: pass ``overwrite=True`` or another folder). All are checked before a default model is
            trained, except a model-dependent mismatch (other weights in ``out``).

    Files written to ``out``: ``results.json`` / ``results.csv`` (format: :mod:`channelae.results`),
    ``per_image.safetensors`` (``{link}.{metric}`` float64 ``[S, E, N]``, averaged over the draws;
    ``reference.{metric}`` ``[K, 1, N]`` on the reference SNR grid) and ``samples.safetensors``:
    ``inputs``/``clean`` ``[k, C, H, W]`` and ``{link}.samples`` ``[S, E, k, C, H, W]`` for the first k ≤ 8
    images, ``z`` ``[N, d]`` clean latents and ``{link}.z_hat_highlight`` ``[N, d]`` received latents at the
    highest SNR and the highlighted budget, ``labels`` int64 ``[N]`` class labels (when the data set has them).
    Plots are drawn separately (:func:`channelae.plots.render_plots`).

    Example:
        >>> import channelae  # doctest: +SKIP
        >>> cfg = channelae.SimulationConfig(channel="awgn+pgd-jammer", eps=(0.0, 0.25, 0.5),
        ...                                  snr_db=(20.0, 10.0), n_images=32, metrics=("ssim", "mse"))
        >>> res = channelae.simulate(cfg, "results/awgn-pgd")  # trains the default model on first use
        >>> res.curve("jammer", "ssim").mean  # [S][E]: mean SSIM per SNR and budget
        >>> res.paired_gap["ssim"].mean  # PGD − equal-power noise, per image, averaged
    """
    from channelae import outdir
    from channelae.data import dataset_info, load_dataset

    config.validate()
    dev = check_device(device)
    outp = Path(out)
    say = log if log is not None else _stderr_log if progress else _no_log
    _check_early(config, jammer_stages(config.channel), outp, metric_overrides)
    folder = outdir.inspect(outp)
    record, defaults = outdir.config_record(config), outdir.config_record(SimulationConfig())
    if not overwrite:
        outdir.check_settings(folder, record, defaults)  # before the default model may be trained

    src = _resolve_model(config, checkpoint, model, dataset, device=device, progress=progress, data_dir=data_dir,
                         log=say)
    plan = plan_grid(config, src.meta, src.dataset)
    links = _build_links(config, plan, src.path, dev)  # loads the weights: a broken checkpoint stops here
    metrics = _build_metrics(config, links, dev, metric_overrides)
    if config.link == "digital":  # BER / BLER beside the quality metrics (channelae.digital.simulation)
        from channelae.digital.simulation import error_rate_specs

        metrics = replace(metrics, specs={**metrics.specs, **error_rate_specs()})
    weights_sha = src.weights_sha256()

    data = load_dataset(src.dataset, dataset_info(src.dataset).eval_split, data_dir=data_dir,
                        limit=config.n_images)
    S, E = plan.snr_db.numel(), len(plan.eps)
    K = 0 if plan.reference_snr_db is None else plan.reference_snr_db.numel()
    per_image_rows = max(S * E * (config.eot or 1), K)
    chunk = max(1, min(len(data), config.max_rows // max(1, per_image_rows * config.draws)))
    n_chunks = math.ceil(len(data) / chunk)
    key = outdir.RunKey(config=record, config_hash=config.digest(), defaults=defaults, weights_sha256=weights_sha,
                        dataset=src.dataset, device=dev.type, metrics=tuple(metrics.specs), chunk=chunk,
                        n_chunks=n_chunks)
    if overwrite:
        removed = outdir.clear(folder)
        if removed:
            kept = f"; kept {len(folder.others)} other file(s)" if folder.others else ""
            say(f"overwrite: removed the earlier channelae files from {outp} ({outdir.describe_removed(removed)}){kept}")
    else:
        outdir.check_model(folder, key)
        stored = outdir.reusable(folder, key, say)
        if stored is not None:
            return stored
        outdir.clear(folder, keep_partial=True)  # recomputing: no file of an earlier run stays beside the new ones
    for name, why in metrics.skipped.items():
        say(f"skipping {name}: {why}")
    partial, done = outdir.prepare_partial(folder, key, say)
    say(f"simulating {config.channel}: {S} SNR point{'s' if S > 1 else ''} × {E} budget{'s' if E > 1 else ''} × "
        f"{len(data)} images"
        + (f" × {config.draws} draws" if config.draws > 1 else "")
        + f", links: {', '.join(_LINK_WORDS.get(k, k) for k in links)}"
        + (f", {n_chunks} chunks of {chunk} images" if n_chunks > 1 else ""))
    _lap("setup")
    kept = _run_chunks(config, plan, links, metrics, data, chunk, partial, dev, progress, done)
    gathered = _gather(partial, n_chunks, list(links), metrics, kept, S, E)

    main_links = [k for k in links if k != "reference"]
    stats = _statistics(plan=plan, links=main_links, specs=metrics.specs, per_image=gathered.per_image,
                        per_set=gathered.per_set, z=gathered.z, convergence=_convergence(links, gathered, dev))
    results = replace(stats, channel=config.channel, control=plan.control, reference=config.reference,
                      dataset=src.dataset, n_images=len(data), skipped_metrics=metrics.skipped, draws=config.draws,
                      manifest=_manifest(config, src, weights_sha, command))
    if config.link == "digital":
        from channelae.digital.simulation import describe

        results.extra["digital"] = describe(links[main_links[0]])
    _write(outp, results, gathered, plan, main_links, labels=getattr(data, "labels", None))
    shutil.rmtree(partial, ignore_errors=True)
    _lap("statistics + write")
    return results


def _stderr_log(message: str) -> None:
    from channelae.progress import log_line

    log_line(message)


def _no_log(message: str) -> None:
    pass


# ---------------------------------------------------------------------------------------------------------
# Statistics and writing


def _convergence(links: dict[str, Any], gathered: Gathered, dev: torch.device) -> Convergence | None:
    """The PGD jammer's convergence diagnostic over all images, with how it searched, or ``None``."""
    stage = _pgd_stage(links["jammer"]) if "jammer" in links else None
    half, final = gathered.convergence.get("jammer.conv_half"), gathered.convergence.get("jammer.conv_final")
    eot = gathered.convergence.get("jammer.conv_eot")
    cv = gathered.convergence.get("jammer.conv_cv")
    curv = gathered.convergence.get("jammer.conv_curv")
    avg = gathered.convergence.get("jammer.conv_avg")
    if stage is None or half is None or final is None:
        return None
    from channelae.attacks import resolve_precision

    return Convergence(steps=int(stage.steps), half_steps=int(stage.steps) // 2, distance_half=half.tolist(),
                       distance_final=final.tolist(), restarts=int(stage.restarts), mode=str(stage.mode),
                       precision=resolve_precision(getattr(stage, "attack_precision", "fp32"), dev),
                       distance=str(stage.distance), targeted=stage.target is not None,
                       starts=int(getattr(stage, "starts", 1)), eot=int(eot) if eot is not None else None,
                       control_variate=bool(cv) if cv is not None else False,
                       curvature=int(curv) if curv is not None else 0,
                       average=float(avg) if avg is not None else 0.0)


def _statistics(*, plan: GridPlan, links: list[str], specs: dict[str, Any], per_image: dict[str, Tensor],
                per_set: dict[str, Tensor], z: Tensor, convergence: Convergence | None = None) -> Results:
    """Means and 95 % intervals over images, the paired jammer − noise differences, AADDC, breaking budgets,
    equivalent SNRs and their losses on the reference curve, and the Eq. 7 bars.

    :param per_image: ``{link}.{metric}`` ``[S, E, N]``, ``reference.{metric}`` ``[K, 1, N]`` and
        ``{link}.z_hat`` ``[S, E, N, d]``.
    :param per_set: ``{link}.{metric}`` ``[S, E]`` for per-set metrics (no interval: ``lo = hi = mean``).
    :param z: ``[N, d]`` clean latents.
    :return: the statistical part of the results (the run description is added by :func:`simulate`).
    """
    from channelae.curves import (
        EQUIVALENT_SNR_STATUS,
        PSNR_CEILING_DB,
        aaddc,
        breaking_budget,
        equivalent_snr,
        equivalent_snr_loss,
        equivalent_snr_status,
        mean_ci,
    )
    from channelae.definitions import eps_to_jsr_db

    eps = torch.tensor(plan.eps, dtype=torch.float64)
    snr, gain, n_sym, unit = plan.snr_db, plan.gain, plan.num_symbols, plan.eps_unit
    S, E = snr.numel(), eps.numel()
    hi = int(torch.argmin((eps - plan.highlight).abs()))
    main = links[0]

    # the noise-only reference curve [K] per metric; at the simulation's own SNR points it takes the ε = 0
    # values of the main link (the same link and realisations), so the loss at ε = 0 is exactly 0
    reference: ReferenceCurve | None = None
    ref_values: dict[str, Tensor] = {}
    if plan.reference_snr_db is not None:
        ref_snr = plan.reference_snr_db.double()
        curves_ref = {}
        for mname in specs:
            key = f"reference.{mname}"
            if key not in per_image:
                continue
            vals = per_image[key][:, 0].clone()  # [K, N]
            own = per_image[f"{main}.{mname}"][:, 0]  # [S, N], ε = 0
            for si, sv in enumerate(snr.double().tolist()):
                vals[int(torch.nonzero(ref_snr == sv)[0, 0])] = own[si]
            ci = mean_ci(vals, dim=-1)
            ref_values[mname] = ci.mean
            curves_ref[mname] = Curve(mean=[ci.mean.tolist()], lo=[ci.lo.tolist()], hi=[ci.hi.tolist()])
        reference = ReferenceCurve(snr_db=ref_snr.tolist(), curves=curves_ref, channel=plan.reference or "")

    curves: dict[str, dict[str, Curve]] = {}
    area: dict[str, dict[str, list[float]]] = {}
    breaking: dict[str, dict[str, BreakingBudget]] = {}
    eq_loss: dict[str, dict[str, Any]] = {}
    eq_snr: dict[str, dict[str, Any]] = {}
    eq_status: dict[str, dict[str, Any]] = {}
    for lname in links:
        curves[lname], area[lname], breaking[lname] = {}, {}, {}
        eq_loss[lname], eq_snr[lname], eq_status[lname] = {}, {}, {}
        for mname, spec in specs.items():
            key = f"{lname}.{mname}"
            if key in per_image:
                ci = mean_ci(per_image[key], dim=-1)
                mean, lo, hi_ = ci.mean, ci.lo, ci.hi
            else:
                mean = lo = hi_ = per_set[key]
            curves[lname][mname] = Curve(mean=mean.tolist(), lo=lo.tolist(), hi=hi_.tolist())
            if E >= 2 and math.isfinite(spec.limit):
                area[lname][mname] = aaddc(eps, mean, spec.limit, spec.higher_is_better).tolist()
                b = breaking_budget(eps, mean, spec.limit, spec.higher_is_better)
                breaking[lname][mname] = BreakingBudget(
                    eps=b.tolist(), jsr_db=eps_to_jsr_db(b.double(), gain, n_sym, unit=unit).tolist())
            qn = ref_values.get(mname)
            if qn is not None:
                args = (mean, reference.snr_db, qn, spec.higher_is_better)
                eq_snr[lname][mname] = equivalent_snr(*args).tolist()
                eq_loss[lname][mname] = equivalent_snr_loss(snr.double().reshape(S, 1), *args).tolist()
                codes = equivalent_snr_status(*args)
                eq_status[lname][mname] = [[EQUIVALENT_SNR_STATUS[int(c)] for c in row] for row in codes]
    gap: dict[str, Curve] = {}
    if "jammer" in links and "noise" in links:
        for mname in specs:
            a, b_ = per_image.get(f"jammer.{mname}"), per_image.get(f"noise.{mname}")
            if a is not None and b_ is not None:
                ci = mean_ci(a - b_, dim=-1)  # paired: same images, realisations and budgets
                gap[mname] = Curve(mean=ci.mean.tolist(), lo=ci.lo.tolist(), hi=ci.hi.tolist())
    z_norm = float(z.norm(dim=-1).mean())
    s_norm = gain * z_norm if plan.symbol_norm is None else plan.symbol_norm  # ‖s‖ = g·‖z‖ (odd d: zero pad)
    bars = None
    key = f"{main}.z_hat"
    if key in per_image:
        top = int(torch.argmax(snr))  # highest SNR (noiseless when present), highlighted budget
        z_hat = per_image[key][top, hi]  # [N, d]
        bars = LatentBars(snr_db=float(snr[top]), eps=float(eps[hi]), z_abs=z.abs().mean(0).tolist(),
                          z_adv_abs=z_hat.abs().mean(0).tolist(), delta_abs=(z_hat - z).abs().mean(0).tolist())
    return Results(
        snr_db=snr.tolist(),
        budget=Budget(eps=eps.tolist(), jsr_db=list(plan.jsr_db) or eps_to_jsr_db(eps, gain, n_sym, unit=unit).tolist(),
                      eps_relative=(eps / (z_norm if unit == "latent" else s_norm)).tolist(),
                      highlight=float(eps[hi]), highlight_index=hi, gain=gain, num_symbols=n_sym,
                      mean_latent_norm=z_norm, eps_unit=unit, mean_symbol_norm=s_norm, axis=plan.axis),
        metrics={k: MetricInfo(higher_is_better=s.higher_is_better, limit=s.limit, unit=s.unit,
                               cap=PSNR_CEILING_DB if k == "psnr" else None, limit_source=s.limit_source)
                 for k, s in specs.items()},
        metric_order=list(specs),
        link_order=list(links),
        curves=curves,
        aaddc=area,
        breaking_budget=breaking,
        equivalent_snr_loss_db={k: v for k, v in eq_loss.items() if v},
        equivalent_snr_db={k: v for k, v in eq_snr.items() if v},
        equivalent_snr_status={k: v for k, v in eq_status.items() if v},
        paired_gap=gap,
        reference_curve=reference,
        convergence=convergence,
        latent_bars=bars,
    )


def _manifest(config: SimulationConfig, src: ModelSource, weights_sha: str, command: str | None) -> Manifest:
    import datetime

    import channelae

    return Manifest(
        versions={"channelae": channelae.__version__, "torch": torch.__version__,
                  "python": platform.python_version()},
        seed=config.seed,
        command=command if command is not None else " ".join(sys.argv),
        config=asdict(config),
        config_hash=config.digest(),
        checkpoint=str(src.path),
        checkpoint_sha256=weights_sha,
        model=src.meta.get("config", {}),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        extra={"model_choice": src.explanation} if src.explanation else {},
    )


def _write(outp: Path, results: Results, gathered: Gathered, plan: GridPlan, links: list[str],
           labels: Tensor | None) -> None:
    """``results.json``, ``results.csv``, ``samples.safetensors`` and ``per_image.safetensors``, atomically.

    :param labels: int64 ``[N]`` class labels of the evaluated images (stored for the t-SNE plot), or ``None``.
    """
    from safetensors.torch import save_file

    from channelae.io import atomic_path, atomic_write_text

    results.save(outp / RESULTS_NAME)
    atomic_write_text(outp / CSV_NAME, results.to_csv())
    samples = {k: v for k, v in gathered.first_chunk.items() if k.endswith("samples") or k in ("inputs", "clean")}
    hi = results.budget.highlight_index
    samples["z"] = gathered.z
    if labels is not None and labels.shape == (gathered.z.shape[0],):
        samples["labels"] = labels.to(torch.int64).cpu()
    top = int(torch.argmax(plan.snr_db))
    for lname in links:
        # latents at the highest SNR (noiseless when present) and the highlighted budget
        samples[f"{lname}.z_hat_highlight"] = gathered.per_image[f"{lname}.z_hat"][top, hi]
    with atomic_path(outp / SAMPLES_NAME) as tmp:
        save_file({k: v.contiguous() for k, v in samples.items()}, str(tmp))
    with atomic_path(outp / PER_IMAGE_NAME) as tmp:
        save_file({k: v.contiguous() for k, v in gathered.per_image.items() if not k.endswith("z_hat")}, str(tmp))
