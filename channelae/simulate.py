"""``simulate``: quality of a link over an SNR × jammer-budget grid, with the equal-power noise control.

Owns the simulation itself: :class:`SimulationConfig` (everything that changes numbers) and :func:`simulate`,
which reads as its steps:

1. :func:`plan_grid` — budgets (ε, or JSR converted with the checkpoint's gain), SNR points, and the links
   that run over them (the requested channel and its equal-power noise control);
2. :func:`_run_chunks` — every chunk of images through every link, all SNR points and budgets in one call
   (``[S, E, B]`` rows, chunked to ``max_rows``); resumable;
3. :func:`_statistics` — per-image values → means and intervals, AADDC, breaking budgets, equivalent-SNR loss
   (:mod:`channelae.curves`);
4. :func:`_write` — ``results.json`` / ``results.csv`` (format owned by :mod:`channelae.results`) and the side
   files ``samples.safetensors`` / ``per_image.safetensors``.

Resume: each chunk's per-image values are written atomically to ``<out>/partial/`` as soon as it finishes, so
an interrupted run resumes from the finished chunks (same config, weights, data set and device type only).
Chunk ``i`` draws its randomness from a generator seeded with ``(seed, i, link)``, so a resumed run gives the
same numbers as an uninterrupted one.

Budgets: internally always ε (latent L2 per example); a ``--jsr-db`` grid is converted with the checkpoint's
gain (:mod:`channelae.definitions`). ε = 0 is always part of the grid (added when missing): it is the
jammer-free link, whose values over SNR form the noise-only curve for the equivalent-SNR loss.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from channelae._validation import check_device, check_int_range, check_one_of
from channelae.errors import UsageError
from channelae.results import (
    CSV_NAME,
    PER_IMAGE_NAME,
    RESULTS_NAME,
    SAMPLES_NAME,
    BreakingBudget,
    Budget,
    Curve,
    LatentBars,
    Manifest,
    MetricInfo,
    Results,
)

__all__ = [
    "DEFAULT_METRICS",
    "DEFAULT_SNR_DB",
    "RESULTS_NAME",
    "GridPlan",
    "SimulationConfig",
    "jammer_stages",
    "plan_grid",
    "simulate",
]
#: Default SNR points: noiseless (the study's setting) plus AWGN at 20, 10 and 5 dB.
DEFAULT_SNR_DB: tuple[float, ...] = (math.inf, 20.0, 10.0, 5.0)
DEFAULT_METRICS: tuple[str, ...] = ("ssim", "psnr", "mse", "lpips")
REFERENCES = ("input", "reconstruction")
#: PSNR cap in dB (identical images would give +inf, e.g. reference = reconstruction at ε = 0).
PSNR_MAX_DB = 100.0
N_SAMPLES = 8


@dataclass(frozen=True)
class SimulationConfig:
    """What a simulation computes (everything that changes numbers; hashed into the manifest).

    :param channel: channel spec, e.g. ``pgd-jammer``, ``awgn+pgd-jammer``, ``rayleigh+pgd-jammer``.
    :param eps: budget grid in latent L2 units per example (``None``: data set default when jammed).
    :param jsr_db: or a JSR grid in dB (converted to ε with the checkpoint's gain).
    :param highlight: the budget value singled out in tables (``--eps E`` → E).
    :param snr_db: SNR points, dB Es/N0 per complex symbol (``inf`` = noiseless).
    :param n_images: images of the evaluation split.
    :param reference: ``input`` (x, default) or ``reconstruction`` (dec(z0): isolates the channel).
    :param limits: per-metric limit-line overrides.
    :param channel_extra: further ``(name, value)`` channel options (``--channel-option NAME=VALUE``), passed
        to every stage whose factory takes ``name``: the way to set a plugin channel's parameters.
    :param max_rows: decoder rows per link call (S·E·B·eot), bounds memory.
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

    def validate(self) -> None:
        check_one_of(self.reference, REFERENCES, "--reference")
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
            if name in _CHANNEL_KEYS or name in ("eps", "jsr_db", "snr_db"):
                raise UsageError(f"{name!r} has its own option: use --{name.replace('_', '-')}",
                                 "--channel-option")
            if name in extra:
                raise UsageError(f"{name!r} given twice", "--channel-option")
            extra.add(name)

    def channel_options(self) -> dict[str, Any]:
        """The options for :func:`channelae.channels.build_channel` (``None`` = the channel's default)."""
        opts = {k: getattr(self, k) for k in _CHANNEL_KEYS if getattr(self, k) is not None}
        opts.update(self.channel_extra)
        return opts

    def digest(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


_CHANNEL_KEYS = ("target", "distance", "mode", "eot", "steps", "restarts", "norm", "placement", "k_db",
                 "block_length")


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


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_out(out: Path) -> None:
    from channelae.io import ensure_writable_dir

    ensure_writable_dir(out, "--out")


def _check_early(config: SimulationConfig, jammers: list[str], out: Path) -> None:
    """Checks that need no model: channel spec and options, budget vs. channel, metric names, ``--out``."""
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
        raise UsageError(f"channel {config.channel!r}: {exc}",
                         "--channel-option" if config.channel_extra else "--channel") from None
    for name in config.metrics:
        METRICS.get(name)
    _check_out(out)


def _prepare_out(out: Path, digest: str) -> Path:
    """``<out>/partial/`` for the chunks of the run identified by ``digest`` (a foreign one is discarded)."""
    _check_out(out)
    partial = out / "partial"
    stamp = partial / "config.sha"
    if partial.exists() and (not stamp.exists() or stamp.read_text().strip() != digest):
        shutil.rmtree(partial)  # left by a run with other settings: not resumable
    partial.mkdir(exist_ok=True)
    stamp.write_text(digest)
    return partial


# ---------------------------------------------------------------------------------------------------------
# The model and the grid


@dataclass(frozen=True)
class ModelSource:
    """The checkpoint a simulation runs (its directory and metadata) and the evaluation data set."""

    path: Path
    meta: dict[str, Any]
    dataset: str

    def weights_sha256(self) -> str:
        """SHA-256 of the checkpoint's weights file (part of the resume key and of the manifest)."""
        from channelae.checkpoint import resolve_checkpoint

        return _file_sha256(resolve_checkpoint(self.path)[0])


def _resolve_model(config: SimulationConfig, checkpoint: str | os.PathLike[str] | None, model: str | None,
                   dataset: str | None, *, device: str, progress: bool,
                   data_dir: str | os.PathLike[str] | None) -> ModelSource:
    """The checkpoint (the cached default model is trained on first use) and the data set to evaluate on."""
    from channelae import zoo
    from channelae.checkpoint import read_metadata
    from channelae.data import dataset_info

    if checkpoint is None:
        ckpt = zoo.ensure_model(model or zoo.DEFAULT_MODEL, dataset or zoo.DEFAULT_DATASET,
                                progress=progress, device=device, data_dir=data_dir)
    else:
        if model is not None:
            raise UsageError("give either --model or --checkpoint, not both", "--checkpoint")
        ckpt = Path(checkpoint)
    meta = read_metadata(ckpt)
    ds_name = dataset or meta.get("dataset", zoo.DEFAULT_DATASET)
    if ds_name != meta.get("dataset"):
        from channelae.models import ModelConfig

        if tuple(ModelConfig.from_dict(meta["config"]).image_shape) != dataset_info(ds_name).image_shape:
            raise UsageError(f"the checkpoint was trained on {meta.get('dataset')!r}; images of {ds_name!r} "
                             "have another shape", "--dataset")
    return ModelSource(path=ckpt, meta=meta, dataset=ds_name)


@dataclass(frozen=True)
class GridPlan:
    """What one simulation runs over.

    :ivar eps: ``[E]`` budgets, latent L2 norm per example, increasing, ε = 0 first.
    :ivar highlight: the budget singled out in tables (latent L2).
    :ivar snr_db: ``[S]`` SNR points, dB Es/N0 per complex symbol (``inf`` = noiseless), as given.
    :ivar gain: transmitter gain ``1/√P_ref`` of the checkpoint; ``num_symbols``: complex symbols per example.
    :ivar links: link name → channel spec: ``jammer`` (or ``link`` without a jammer) and, for a PGD jammer,
        ``noise`` (its equal-power noise control).
    """

    eps: list[float]
    highlight: float
    snr_db: Tensor
    gain: float
    num_symbols: int
    links: dict[str, str]

    @property
    def control(self) -> str | None:
        """The noise control's channel spec, or ``None``."""
        return self.links.get("noise")


def plan_grid(config: SimulationConfig, meta: dict[str, Any], dataset: str) -> GridPlan:
    """Budgets, SNR points and links of ``config`` for a checkpoint with metadata ``meta`` (no model needed).

    A ``--jsr-db`` grid is converted to ε with the checkpoint's gain; without ``--eps``/``--jsr-db`` a jammed
    channel gets the data set's default ε grid; ε = 0 is added when missing.
    """
    from channelae.data import dataset_info
    from channelae.definitions import jsr_db_to_eps, num_symbols
    from channelae.grids import eps_grid
    from channelae.link import as_snr_grid

    gain = 1.0 / math.sqrt(float(meta["p_ref"]))
    n_sym = num_symbols(int(meta["config"]["latent_dim"]))
    jammed = bool(jammer_stages(config.channel))
    if not jammed:
        eps_values, highlight = [0.0], 0.0
    elif config.jsr_db is not None:
        jsr_values, highlight_jsr = eps_grid(list(config.jsr_db), "--jsr-db")
        eps_values = [float(v) for v in jsr_db_to_eps(torch.tensor(jsr_values), gain, n_sym)]
        highlight = float(jsr_db_to_eps(highlight_jsr, gain, n_sym))
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
    return GridPlan(eps=eps_t.tolist(), highlight=highlight, snr_db=as_snr_grid(list(config.snr_db)), gain=gain,
                    num_symbols=n_sym, links=links)


def _build_links(config: SimulationConfig, plan: GridPlan, ckpt: Path, dev: torch.device) -> dict[str, Any]:
    """One :class:`channelae.link.Link` per planned link; the noise control drops the PGD-only options."""
    from channelae.link import Link

    jammed = bool(jammer_stages(config.channel))
    links = {}
    for name, spec in plan.links.items():
        o = config.channel_options()
        if jammed:
            o["eps"] = list(plan.eps)
        if name == "noise":
            o = {k: v for k, v in o.items() if k not in ("target", "distance", "mode", "eot", "steps",
                                                         "restarts", "norm")}
            takes = _stage_options(spec)
            o = {k: v for k, v in o.items()  # extras meant for the PGD jammer alone
                 if k not in dict(config.channel_extra) or any(t is None or k in t for t in takes)}
        links[name] = Link.from_checkpoint(ckpt, spec, device=dev, equalizer=config.equalizer,
                                           channel_options=o)
    return links


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
    from channelae.curves import metric_spec
    from channelae.metrics import build_metrics

    metrics, skipped = build_metrics(list(config.metrics), device=dev, lpips_net=config.lpips_net,
                                     psnr_max_db=PSNR_MAX_DB, **(overrides or {}))
    if config.distance == "lpips":
        lp = metrics.get("lpips")
        why = skipped.get("lpips")
        if lp is None and why is None:  # not among --metrics: build it for the attack only
            extra, why_d = build_metrics(["lpips"], device=dev, lpips_net=config.lpips_net, **(overrides or {}))
            lp, why = extra.get("lpips"), why_d.get("lpips")
        if lp is None:
            raise UsageError(f"the lpips distance needs LPIPS weights: {why}", "--distance")
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


def _chunk_generator(seed: int, chunk: int, link_index: int, device: torch.device) -> torch.Generator:
    """The generator of one (chunk, link): depends on nothing else, so a resumed run draws the same numbers."""
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + chunk * 7919 + link_index) % (2**63 - 1))
    return g


@dataclass
class ChunkImages:
    """Reconstructions and references kept in memory for the per-set metrics (FID): uint8, per link
    ``[S, E, B, C, H, W]`` chunks, and the references ``[B, C, H, W]`` chunks."""

    x_hat: dict[str, list[Tensor]]
    ref: list[Tensor]


def _run_chunks(config: SimulationConfig, plan: GridPlan, links: dict[str, Any], metrics: MetricSet, data: Any,
                chunk: int, partial: Path, dev: torch.device, progress: bool) -> ChunkImages:
    """Run every chunk of images through every link and write ``partial/chunk_XXXXX.safetensors``.

    Each chunk file holds, per link ``L``: ``L.<metric>`` float64 ``[S, E, B]`` per-image values,
    ``L.z_hat`` float32 ``[S, E, B, d]`` received latents; and ``z`` ``[B, d]`` clean latents; chunk 0 also
    ``L.samples`` ``[S, E, k, C, H, W]``, ``inputs`` and ``clean`` ``[k, C, H, W]`` (k ≤ 8 images for plots).
    A finished chunk is skipped, unless per-set metrics need its images again.
    """
    from safetensors.torch import save_file

    from channelae.io import atomic_path
    from channelae.progress import make_progress

    N = len(data)
    S, E = plan.snr_db.numel(), len(plan.eps)
    n_chunks = math.ceil(N / chunk)
    snr = plan.snr_db.to(dev)
    kept = ChunkImages(x_hat={k: [] for k in links} if metrics.per_set else {}, ref=[])
    with make_progress(enabled=progress) as bar:
        task = bar.add_task("simulate", total=n_chunks * len(links), info=f"{S} SNR × {E} budgets × {N} images")
        for c in range(n_chunks):
            part = partial / f"chunk_{c:05d}.safetensors"
            if part.exists() and not metrics.per_set:
                bar.update(task, advance=len(links))
                continue
            x = data.batch(torch.arange(c * chunk, min(N, (c + 1) * chunk))).to(dev)
            tensors: dict[str, Tensor] = {}
            for li, (lname, link) in enumerate(links.items()):
                o = link(x, snr, generator=_chunk_generator(config.seed, c, li, dev))
                ref = x if config.reference == "input" else o.clean
                flat = o.x_hat.reshape(-1, *o.x_hat.shape[-3:])
                ref_flat = ref.expand(o.x_hat.shape).reshape(flat.shape)
                with torch.no_grad():
                    for mname, metric in metrics.per_image.items():
                        vals = torch.cat([metric(flat[i:i + 1024], ref_flat[i:i + 1024])
                                          for i in range(0, flat.shape[0], 1024)])
                        tensors[f"{lname}.{mname}"] = vals.reshape(S, E, -1).double().cpu()
                tensors[f"{lname}.z_hat"] = o.z_hat.detach().float().cpu()  # [S, E, B, d]
                if metrics.per_set:
                    kept.x_hat[lname].append((o.x_hat.detach().cpu() * 255).round().to(torch.uint8))
                if c == 0:
                    k = min(N_SAMPLES, x.shape[0])
                    tensors[f"{lname}.samples"] = o.x_hat[:, :, :k].detach().float().cpu()
                    tensors["inputs"] = x[:k].float().cpu()
                    tensors["clean"] = o.clean[:k].float().cpu()
                tensors["z"] = o.z.float().cpu()
                bar.update(task, advance=1)
            if metrics.per_set:
                kept.ref.append((x.cpu() * 255).round().to(torch.uint8))
            with atomic_path(part) as tmp:
                save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
    return kept


@dataclass(frozen=True)
class Gathered:
    """All chunks joined: per-image values ``{link}.{metric}`` ``[S, E, N]`` and ``{link}.z_hat``
    ``[S, E, N, d]``, clean latents ``z`` ``[N, d]``, per-set values ``{link}.{metric}`` ``[S, E]``, and
    chunk 0's tensors (the samples for plots)."""

    per_image: dict[str, Tensor]
    z: Tensor
    per_set: dict[str, Tensor]
    first_chunk: dict[str, Tensor]


def _gather(partial: Path, n_chunks: int, links: list[str], metrics: MetricSet, kept: ChunkImages,
            S: int, E: int) -> Gathered:
    """Join the chunk files and compute the per-set metrics (one value per SNR × budget point)."""
    from safetensors.torch import load_file

    chunks = [load_file(str(partial / f"chunk_{c:05d}.safetensors")) for c in range(n_chunks)]
    per_image = {k: torch.cat([ch[k] for ch in chunks], dim=-1 if not k.endswith("z_hat") else -2)
                 for k in chunks[0] if k.split(".")[-1] in metrics.per_image or k.endswith("z_hat")}
    per_set: dict[str, Tensor] = {}
    for mname, metric in metrics.per_set.items():
        for lname in links:
            xs = torch.cat(kept.x_hat[lname], dim=2)  # [S, E, N, C, H, W]
            refs = torch.cat(kept.ref, dim=0)
            vals = torch.empty(S, E, dtype=torch.float64)
            for si in range(S):
                for ei in range(E):
                    vals[si, ei] = float(metric.compute(xs[si, ei].float() / 255, refs.float() / 255))
            per_set[f"{lname}.{mname}"] = vals
    return Gathered(per_image=per_image, z=torch.cat([ch["z"] for ch in chunks], dim=0), per_set=per_set,
                    first_chunk=chunks[0])


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
) -> Results:
    """Run the simulation, write ``results.json`` / ``results.csv`` / side files to ``out``; return the results.

    :param checkpoint: trained model directory; default: the cached default model for ``model``/``dataset``
        (trained on first use).
    :param metric_overrides: extra keyword arguments for :func:`channelae.metrics.build_metrics` (tests
        inject small LPIPS/FID backbones here).
    :return: the :class:`channelae.results.Results` just written to ``<out>/results.json`` (as
        :func:`channelae.results.load` would read it back).

    Side files: ``per_image.safetensors`` (``{link}.{metric}`` float64 ``[S, E, N]``) and
    ``samples.safetensors``: ``inputs``/``clean`` ``[k, C, H, W]`` and ``{link}.samples``
    ``[S, E, k, C, H, W]`` for the first k ≤ 8 images, ``z`` ``[N, d]`` clean latents and
    ``{link}.z_hat_highlight`` ``[N, d]`` received latents at the highest SNR and the highlighted budget,
    ``labels`` int64 ``[N]`` class labels (when the data set has them).
    """
    from channelae.data import dataset_info, load_dataset

    config.validate()
    dev = check_device(device)
    outp = Path(out)
    _check_early(config, jammer_stages(config.channel), outp)  # before the default model may be trained

    src = _resolve_model(config, checkpoint, model, dataset, device=device, progress=progress, data_dir=data_dir)
    plan = plan_grid(config, src.meta, src.dataset)
    links = _build_links(config, plan, src.path, dev)  # loads the weights: a broken checkpoint stops here
    metrics = _build_metrics(config, links, dev, metric_overrides)
    weights_sha = src.weights_sha256()

    data = load_dataset(src.dataset, dataset_info(src.dataset).eval_split, data_dir=data_dir,
                        limit=config.n_images)
    S, E = plan.snr_db.numel(), len(plan.eps)
    chunk = max(1, min(len(data), config.max_rows // max(1, S * E * (config.eot or 1))))
    # resumable only with the same config, model weights, data set and device type (all change numbers)
    run_key = hashlib.sha256(json.dumps([config.digest(), weights_sha, src.dataset, dev.type]).encode())
    partial = _prepare_out(outp, run_key.hexdigest()[:16])
    kept = _run_chunks(config, plan, links, metrics, data, chunk, partial, dev, progress)
    gathered = _gather(partial, math.ceil(len(data) / chunk), list(links), metrics, kept, S, E)

    stats = _statistics(plan=plan, links=list(links), specs=metrics.specs, per_image=gathered.per_image,
                        per_set=gathered.per_set, z=gathered.z)
    results = replace(stats, channel=config.channel, control=plan.control, reference=config.reference,
                      dataset=src.dataset, n_images=len(data), skipped_metrics=metrics.skipped,
                      manifest=_manifest(config, src, weights_sha, command))
    _write(outp, results, gathered, plan, list(links), labels=getattr(data, "labels", None))
    shutil.rmtree(partial, ignore_errors=True)
    return results


# ---------------------------------------------------------------------------------------------------------
# Statistics and writing


def _statistics(*, plan: GridPlan, links: list[str], specs: dict[str, Any], per_image: dict[str, Tensor],
                per_set: dict[str, Tensor], z: Tensor) -> Results:
    """Means and 95 % intervals over images, AADDC, breaking budgets, equivalent-SNR loss and the Eq. 7 bars.

    :param per_image: ``{link}.{metric}`` ``[S, E, N]`` and ``{link}.z_hat`` ``[S, E, N, d]``.
    :param per_set: ``{link}.{metric}`` ``[S, E]`` for per-set metrics (no interval: ``lo = hi = mean``).
    :param z: ``[N, d]`` clean latents.
    :return: the statistical part of the results (the run description is added by :func:`simulate`).
    """
    from channelae.curves import aaddc, breaking_budget, equivalent_snr_loss, mean_ci
    from channelae.definitions import eps_to_jsr_db

    eps = torch.tensor(plan.eps, dtype=torch.float64)
    snr, gain, n_sym = plan.snr_db, plan.gain, plan.num_symbols
    S, E = snr.numel(), eps.numel()
    hi = int(torch.argmin((eps - plan.highlight).abs()))
    order = torch.argsort(snr)  # ascending, inf last, for the noise-only curve
    curves: dict[str, dict[str, Curve]] = {}
    area: dict[str, dict[str, list[float]]] = {}
    breaking: dict[str, dict[str, BreakingBudget]] = {}
    eq_loss: dict[str, dict[str, Any]] = {}
    for lname in links:
        curves[lname], area[lname], breaking[lname], eq_loss[lname] = {}, {}, {}, {}
        for mname, spec in specs.items():
            key = f"{lname}.{mname}"
            if key in per_image:
                ci = mean_ci(per_image[key], dim=-1)
                mean, lo, hi_ = ci.mean, ci.lo, ci.hi
            else:
                mean = lo = hi_ = per_set[key]
            curves[lname][mname] = Curve(mean=mean.tolist(), lo=lo.tolist(), hi=hi_.tolist())
            if E >= 2:
                area[lname][mname] = aaddc(eps, mean, spec.limit, spec.higher_is_better).tolist()
                b = breaking_budget(eps, mean, spec.limit, spec.higher_is_better)
                breaking[lname][mname] = BreakingBudget(eps=b.tolist(), jsr_db=eps_to_jsr_db(b, gain, n_sym).tolist())
            if S >= 2:  # the noise-only curve needs two SNR points to interpolate on
                noise_curve = mean[order, 0]  # ε = 0 column: the jammer-free link over SNR
                loss = equivalent_snr_loss(snr.double().reshape(S, 1), mean, snr[order].double(), noise_curve,
                                           spec.higher_is_better)
                eq_loss[lname][mname] = loss.tolist()
    z_norm = float(z.norm(dim=-1).mean())
    bars = None
    key = f"{links[0]}.z_hat"
    if key in per_image:
        top = int(torch.argmax(snr))  # highest SNR (noiseless when present), highlighted budget
        z_hat = per_image[key][top, hi]  # [N, d]
        bars = LatentBars(snr_db=float(snr[top]), eps=float(eps[hi]), z_abs=z.abs().mean(0).tolist(),
                          z_adv_abs=z_hat.abs().mean(0).tolist(), delta_abs=(z_hat - z).abs().mean(0).tolist())
    return Results(
        snr_db=snr.tolist(),
        budget=Budget(eps=eps.tolist(), jsr_db=eps_to_jsr_db(eps, gain, n_sym).tolist(),
                      eps_relative=(eps / z_norm).tolist(), highlight=float(eps[hi]), highlight_index=hi,
                      gain=gain, num_symbols=n_sym, mean_latent_norm=z_norm),
        metrics={k: MetricInfo(higher_is_better=s.higher_is_better, limit=s.limit, unit=s.unit)
                 for k, s in specs.items()},
        metric_order=list(specs),
        link_order=list(links),
        curves=curves,
        aaddc=area,
        breaking_budget=breaking,
        equivalent_snr_loss_db=eq_loss,
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
