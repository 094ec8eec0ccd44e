"""``simulate``: quality of a link over an SNR × jammer-budget grid, with the equal-power noise control.

Flow (one way): data → Link(model, channel) → per-image metrics → statistics (:mod:`channelae.curves`)
→ ``results.json`` / ``results.csv`` (+ plots, :mod:`channelae.report`).

The whole grid is tensor work: every chunk of images runs all SNR points and budgets in one link call
(``[S, E, B]`` rows, chunked to ``max_rows``). Each chunk's per-image values are written atomically to
``<out>/partial/`` as soon as it finishes, so an interrupted run resumes from the finished chunks (same
config only). Chunk ``i`` draws its randomness from a generator seeded with ``(seed, i)``, so a resumed run
gives the same numbers as an uninterrupted one.

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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from channelae._validation import check_device, check_int_range, check_one_of
from channelae.errors import UsageError

__all__ = [
    "DEFAULT_METRICS",
    "DEFAULT_SNR_DB",
    "RESULTS_NAME",
    "SimulationConfig",
    "jammer_stages",
    "simulate",
]

RESULTS_NAME = "results.json"
CSV_NAME = "results.csv"
PER_IMAGE_NAME = "per_image.safetensors"
SAMPLES_NAME = "samples.safetensors"
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
    _check_out(out)
    partial = out / "partial"
    stamp = partial / "config.sha"
    if partial.exists() and (not stamp.exists() or stamp.read_text().strip() != digest):
        shutil.rmtree(partial)  # left by a run with other settings: not resumable
    partial.mkdir(exist_ok=True)
    stamp.write_text(digest)
    return partial


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
) -> dict[str, Any]:
    """Run the simulation, write ``results.json`` / ``results.csv`` / side files to ``out``; return results.

    :param checkpoint: trained model directory; default: the cached default model for ``model``/``dataset``
        (trained on first use).
    :param metric_overrides: extra keyword arguments for :func:`channelae.metrics.build_metrics` (tests
        inject small LPIPS/FID backbones here).
    """
    from safetensors.torch import load_file, save_file

    from channelae import zoo
    from channelae.checkpoint import read_metadata
    from channelae.curves import metric_spec
    from channelae.data import dataset_info, load_dataset
    from channelae.grids import eps_grid
    from channelae.io import atomic_path, atomic_write_json, atomic_write_text
    from channelae.link import Link, as_snr_grid
    from channelae.metrics import build_metrics
    from channelae.progress import make_progress

    config.validate()
    dev = check_device(device)
    jammers = jammer_stages(config.channel)
    _check_early(config, jammers, Path(out))  # before the default model may be trained (minutes)

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
    info = dataset_info(ds_name)

    # budget grid in ε (latent units), ε = 0 always included
    gain = 1.0 / math.sqrt(float(meta["p_ref"]))
    d = int(meta["config"]["latent_dim"])
    from channelae.definitions import jsr_db_to_eps, num_symbols

    n_sym = num_symbols(d)
    if jammers:
        if config.jsr_db is not None:
            jsr_values, highlight_jsr = eps_grid(list(config.jsr_db), "--jsr-db")
            eps_values = [float(v) for v in jsr_db_to_eps(torch.tensor(jsr_values), gain, n_sym)]
            highlight = float(jsr_db_to_eps(highlight_jsr, gain, n_sym))
        else:
            raw = list(config.eps) if config.eps is not None else [info.eps_max]
            if config.eps is None:
                raw = [float(v) for v in info.eps_grid()]
            eps_values, highlight = eps_grid(raw, "--eps")
            if config.highlight is not None:
                highlight = config.highlight
        if 0.0 not in eps_values:
            eps_values = [0.0, *eps_values]
    else:
        eps_values, highlight = [0.0], 0.0
    eps_t = torch.tensor(eps_values, dtype=torch.float64)
    snr = as_snr_grid(list(config.snr_db))
    S, E = snr.numel(), len(eps_values)

    # links: the requested one, and its equal-power noise control
    opts = config.channel_options()
    links: dict[str, Link] = {}
    specs = {("jammer" if jammers else "link"): config.channel}
    control = _control_spec(config.channel)
    if control is not None:
        specs["noise"] = control
    for name, spec in specs.items():
        o = dict(opts)
        if jammers:
            o["eps"] = eps_t.tolist()
        if name == "noise":
            o = {k: v for k, v in o.items() if k not in ("target", "distance", "mode", "eot", "steps",
                                                         "restarts", "norm")}
            takes = _stage_options(spec)
            o = {k: v for k, v in o.items()  # extras meant for the PGD jammer alone
                 if k not in dict(config.channel_extra) or any(t is None or k in t for t in takes)}
        links[name] = Link.from_checkpoint(ckpt, spec, device=dev, equalizer=config.equalizer,
                                           channel_options=o)

    metrics, skipped = build_metrics(list(config.metrics), device=dev, lpips_net=config.lpips_net,
                                     psnr_max_db=PSNR_MAX_DB, **(metric_overrides or {}))
    per_image_metrics = {k: m for k, m in metrics.items() if m.per_image}
    set_metrics = {k: m for k, m in metrics.items() if not m.per_image}
    if config.distance == "lpips":
        lp = metrics.get("lpips")
        why = skipped.get("lpips")
        if lp is None and why is None:  # not among --metrics: build it for the attack only
            extra, why_d = build_metrics(["lpips"], device=dev, lpips_net=config.lpips_net,
                                         **(metric_overrides or {}))
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
    specs_m = {k: metric_spec(k, limits.get(k)) for k in metrics}

    data = load_dataset(ds_name, info.eval_split, data_dir=data_dir, limit=config.n_images)
    N = len(data)
    eot = config.eot or 1
    chunk = max(1, min(N, config.max_rows // max(1, S * E * eot)))
    n_chunks = math.ceil(N / chunk)
    outp = Path(out)
    # resumable only with the same config, model weights, data set and device type (all change numbers)
    from channelae.checkpoint import resolve_checkpoint

    ckpt_sha = _file_sha256(resolve_checkpoint(ckpt)[0])
    run_key = hashlib.sha256(json.dumps([config.digest(), ckpt_sha, ds_name, dev.type]).encode())
    partial = _prepare_out(outp, run_key.hexdigest()[:16])

    fid_store: dict[str, list[Tensor]] = {k: [] for k in links} if set_metrics else {}
    ref_store: list[Tensor] = []
    with make_progress(enabled=progress) as bar:
        task = bar.add_task("simulate", total=n_chunks * len(links),
                            info=f"{S} SNR × {E} budgets × {N} images")
        for c in range(n_chunks):
            part = partial / f"chunk_{c:05d}.safetensors"
            need_images = bool(set_metrics)
            if part.exists() and not need_images:
                bar.update(task, advance=len(links))
                continue
            idx = torch.arange(c * chunk, min(N, (c + 1) * chunk))
            x = data.batch(idx).to(dev)
            tensors: dict[str, Tensor] = {}
            for li, (lname, link) in enumerate(links.items()):
                g = torch.Generator(device=dev)
                g.manual_seed((config.seed * 1_000_003 + c * 7919 + li) % (2**63 - 1))
                o = link(x, snr.to(dev), generator=g)
                ref = x if config.reference == "input" else o.clean
                flat = o.x_hat.reshape(-1, *o.x_hat.shape[-3:])
                ref_flat = ref.expand(o.x_hat.shape).reshape(flat.shape)
                with torch.no_grad():
                    for mname, metric in per_image_metrics.items():
                        vals = torch.cat([metric(flat[i:i + 1024], ref_flat[i:i + 1024])
                                          for i in range(0, flat.shape[0], 1024)])
                        tensors[f"{lname}.{mname}"] = vals.reshape(S, E, -1).double().cpu()
                tensors[f"{lname}.z_hat"] = o.z_hat.detach().float().cpu()  # [S, E, B, d]
                if set_metrics:
                    fid_store[lname].append((o.x_hat.detach().cpu() * 255).round().to(torch.uint8))
                if c == 0:
                    k = min(N_SAMPLES, x.shape[0])
                    tensors[f"{lname}.samples"] = o.x_hat[:, :, :k].detach().float().cpu()
                    tensors["inputs"] = x[:k].float().cpu()
                    tensors["clean"] = o.clean[:k].float().cpu()
                tensors["z"] = o.z.float().cpu()
                bar.update(task, advance=1)
            if set_metrics:
                ref_store.append((x.cpu() * 255).round().to(torch.uint8))
            with atomic_path(part) as tmp:
                save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))

    # gather per-image values
    chunks = [load_file(str(partial / f"chunk_{c:05d}.safetensors")) for c in range(n_chunks)]
    per_image = {k: torch.cat([ch[k] for ch in chunks], dim=-1 if not k.endswith("z_hat") else -2)
                 for k in chunks[0] if k.split(".")[-1] in per_image_metrics or k.endswith("z_hat")}
    z_all = torch.cat([ch["z"] for ch in chunks], dim=0)
    set_values: dict[str, Tensor] = {}
    for mname, metric in set_metrics.items():
        for lname in links:
            xs = torch.cat(fid_store[lname], dim=2)  # [S, E, N, C, H, W]
            refs = torch.cat(ref_store, dim=0)
            vals = torch.empty(S, E, dtype=torch.float64)
            for si in range(S):
                for ei in range(E):
                    vals[si, ei] = float(metric.compute(xs[si, ei].float() / 255, refs.float() / 255))
            set_values[f"{lname}.{mname}"] = vals

    results = _statistics(
        config=config, links=list(links), specs_m=specs_m, per_image=per_image, set_values=set_values,
        eps=eps_t, snr=snr, highlight=highlight, gain=gain, n_sym=n_sym, z=z_all,
    )
    results.update({
        "channel": config.channel,
        "control": control,
        "reference": config.reference,
        "dataset": ds_name,
        "n_images": N,
        "skipped_metrics": skipped,
        "manifest": _manifest(config, ckpt, command, meta, lambda _: ckpt_sha),
    })
    atomic_write_json(outp / RESULTS_NAME, results)
    atomic_write_text(outp / CSV_NAME, results_csv(results))
    samples = {k: v for k, v in chunks[0].items() if k.endswith("samples") or k in ("inputs", "clean")}
    hi = results["budget"]["highlight_index"]
    samples["z"] = z_all
    for lname in links:
        # latents at the highest SNR (noiseless when present) and the highlighted budget
        samples[f"{lname}.z_hat_highlight"] = per_image[f"{lname}.z_hat"][int(torch.argmax(snr)), hi]
    with atomic_path(outp / SAMPLES_NAME) as tmp:
        save_file({k: v.contiguous() for k, v in samples.items()}, str(tmp))
    with atomic_path(outp / PER_IMAGE_NAME) as tmp:
        save_file({k: v.contiguous() for k, v in per_image.items() if not k.endswith("z_hat")}, str(tmp))
    shutil.rmtree(partial, ignore_errors=True)
    return results


def _statistics(*, config: SimulationConfig, links: list[str], specs_m: dict[str, Any],
                per_image: dict[str, Tensor], set_values: dict[str, Tensor], eps: Tensor, snr: Tensor,
                highlight: float, gain: float, n_sym: int, z: Tensor) -> dict[str, Any]:
    from channelae.curves import aaddc, breaking_budget, equivalent_snr_loss, mean_ci
    from channelae.definitions import eps_to_jsr_db

    S, E = snr.numel(), eps.numel()
    hi = int(torch.argmin((eps - highlight).abs()))
    order = torch.argsort(snr)  # ascending, inf last, for the noise-only curve
    curves: dict[str, dict[str, Any]] = {}
    area: dict[str, dict[str, Any]] = {}
    breaking: dict[str, dict[str, Any]] = {}
    eq_loss: dict[str, dict[str, Any]] = {}
    for lname in links:
        curves[lname], area[lname], breaking[lname], eq_loss[lname] = {}, {}, {}, {}
        for mname, spec in specs_m.items():
            key = f"{lname}.{mname}"
            if key in per_image:
                ci = mean_ci(per_image[key], dim=-1)
                mean, lo, hi_ = ci.mean, ci.lo, ci.hi
            else:
                mean = lo = hi_ = set_values[key]
            curves[lname][mname] = {"mean": mean.tolist(), "lo": lo.tolist(), "hi": hi_.tolist()}
            if E >= 2:
                area[lname][mname] = aaddc(eps, mean, spec.limit, spec.higher_is_better).tolist()
                b = breaking_budget(eps, mean, spec.limit, spec.higher_is_better)
                breaking[lname][mname] = {"eps": b.tolist(),
                                          "jsr_db": eps_to_jsr_db(b, gain, n_sym).tolist()}
            if S >= 2:  # the noise-only curve needs two SNR points to interpolate on
                noise_curve = mean[order, 0]  # ε = 0 column: the jammer-free link over SNR
                loss = equivalent_snr_loss(snr.double().reshape(S, 1), mean, snr[order].double(), noise_curve,
                                           spec.higher_is_better)
                eq_loss[lname][mname] = loss.tolist()
    z_norm = float(z.norm(dim=-1).mean())
    eq7 = {}
    key = f"{links[0]}.z_hat"
    if key in per_image:
        top = int(torch.argmax(snr))  # highest SNR (noiseless when present), highlighted budget
        z_hat = per_image[key][top, hi]  # [N, d]
        eq7 = {"snr_db": float(snr[top]), "eps": float(eps[hi]),
               "z_abs": z.abs().mean(0).tolist(), "z_adv_abs": z_hat.abs().mean(0).tolist(),
               "delta_abs": (z_hat - z).abs().mean(0).tolist()}
    return {
        "snr_db": snr.tolist(),
        "budget": {"eps": eps.tolist(), "jsr_db": eps_to_jsr_db(eps, gain, n_sym).tolist(),
                   "eps_relative": (eps / z_norm).tolist(), "highlight": float(eps[hi]),
                   "highlight_index": hi, "gain": gain, "num_symbols": n_sym, "mean_latent_norm": z_norm},
        "metrics": {k: {"higher_is_better": s.higher_is_better, "limit": s.limit, "unit": s.unit}
                    for k, s in specs_m.items()},
        "metric_order": list(specs_m),
        "link_order": list(links),
        "curves": curves,
        "aaddc": area,
        "aaddc_definition": "sum over ε-grid segments of the area of max(q − L, 0) (higher-is-better) or "
                            "max(L − q, 0) (lower-is-better) under the piecewise-linear mean curve, with "
                            "exact crossing points; units metric × ε (see channelae.curves.aaddc)",
        "breaking_budget": breaking,
        "equivalent_snr_loss_db": eq_loss,
        "latent_bars": eq7,
    }


def _manifest(config: SimulationConfig, ckpt: Path, command: str | None, meta: dict[str, Any],
              sha) -> dict[str, Any]:
    import datetime

    import channelae
    from channelae.checkpoint import resolve_checkpoint

    weights, _ = resolve_checkpoint(ckpt)
    return {
        "versions": {"channelae": channelae.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "seed": config.seed,
        "command": command if command is not None else " ".join(sys.argv),
        "config": asdict(config),
        "config_hash": config.digest(),
        "checkpoint": str(ckpt),
        "checkpoint_sha256": sha(weights),
        "model": meta.get("config", {}),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def results_csv(results: dict[str, Any]) -> str:
    """One row per (link, metric, SNR, ε) with mean and 95 % interval."""
    lines = ["link,metric,snr_db,eps,jsr_db,mean,lo,hi"]
    eps = results["budget"]["eps"]
    jsr = results["budget"]["jsr_db"]
    for lname, by_metric in results["curves"].items():
        for mname, c in by_metric.items():
            for si, s in enumerate(results["snr_db"]):
                for ei, e in enumerate(eps):
                    lines.append(f"{lname},{mname},{s},{e:.6g},{jsr[ei]:.6g},{c['mean'][si][ei]:.8g},"
                                 f"{c['lo'][si][ei]:.8g},{c['hi'][si][ei]:.8g}")
    return "\n".join(lines) + "\n"
