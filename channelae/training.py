"""The one training loop (Adam, mini-batches, per-epoch validation), resumable and reproducible.

Reproducibility: the shuffling order and the re-parameterisation noise of epoch ``e`` come from generators
seeded with ``(seed, e)``, so a run resumed after epoch ``e`` continues exactly as an uninterrupted run
(model, optimizer and epoch are stored in ``train_state.safetensors``, one file, written atomically after
each epoch). At the end the final checkpoint is written (:mod:`channelae.checkpoint`) with ``P_ref`` and the
latent statistics the link needs.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from channelae._validation import check_int_range, check_positive
from channelae.checkpoint import save_checkpoint
from channelae.data import ImageDataset
from channelae.definitions import p_ref_from_energy
from channelae.errors import UsageError
from channelae.io import atomic_path, ensure_writable_dir
from channelae.models import Autoencoder

__all__ = [
    "STATE_NAME",
    "TrainConfig",
    "TrainResult",
    "epoch_line",
    "evaluate",
    "latent_statistics",
    "pixel_mean",
    "train_model",
]

STATE_NAME = "train_state.safetensors"


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (SPEC §3: Adam, lr 1e-3, batch 64).

    :param epochs: passes over the training split.
    :param batch_size: images per step (the last incomplete batch of an epoch is dropped).
    :param lr: Adam learning rate.
    :param seed: seeds initialisation, shuffling and sampling.
    :param val_images: images of the evaluation split used for validation MSE/SSIM per epoch.
    """

    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    val_images: int = 500

    def __post_init__(self) -> None:
        check_int_range(self.epochs, "--epochs", low=1)
        check_int_range(self.batch_size, "--batch-size", low=3)
        check_positive(self.lr, "--lr")
        check_int_range(self.seed, "--seed", low=0, high=2**63 - 1)
        check_int_range(self.val_images, "val_images", low=1)


@dataclass
class TrainResult:
    """What a finished training run produced."""

    out_dir: Path
    history: list[dict[str, float]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


#: ``hook(model, optimizer, x, epoch, step, generator) -> dict of extra log terms``, run after each regular
#: step (e.g. latent adversarial training's decoder updates; optimizer state is saved for resume).
StepHook = Callable[[Autoencoder, torch.optim.Optimizer, Tensor, int, int, torch.Generator], dict[str, float]]


def _epoch_generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + epoch * 7919) % (2**63 - 1))
    return g


@torch.no_grad()
def pixel_mean(data: ImageDataset, limit: int = 4096, batch_size: int = 512) -> Tensor:
    """Per-channel mean intensity ``[C]`` (float32) of the first ``limit`` images of ``data``."""
    n = min(limit, len(data))
    total = torch.zeros(data.info.image_shape[0], dtype=torch.float64)
    for start in range(0, n, batch_size):
        x = data.batch(torch.arange(start, min(n, start + batch_size)))
        total += x.double().mean(dim=(2, 3)).sum(0)
    return (total / n).float()


@torch.no_grad()
def latent_statistics(
    model: Autoencoder, data: ImageDataset, device: torch.device, batch_size: int = 256
) -> dict[str, Any]:
    """``P_ref`` and per-dimension mean/std of the clean latents (μ for VAEs) over ``data``.

    ``P_ref`` is the mean energy per complex symbol: ``mean_examples(‖z‖² / n)`` with ``n = ceil(d/2)``
    (the zero pad of an odd ``d`` adds no energy), see :mod:`channelae.definitions`.
    """
    model.eval()
    n = len(data)
    d = model.latent_dim
    s1 = torch.zeros(d, dtype=torch.float64)
    s2 = torch.zeros(d, dtype=torch.float64)
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(n, start + batch_size))
        z = model.encode(data.batch(idx).to(device)).double().cpu()
        s1 += z.sum(0)
        s2 += (z * z).sum(0)
    mean = s1 / n
    var = (s2 / n - mean**2).clamp_min(0.0)
    p_ref = p_ref_from_energy(float(s2.sum()), n, d)
    return {"p_ref": p_ref, "latent_mean": mean.tolist(), "latent_std": var.sqrt().tolist()}


@torch.no_grad()
def evaluate(model: Autoencoder, data: ImageDataset, device: torch.device, limit: int,
             batch_size: int = 250) -> dict[str, float]:
    """Mean reconstruction MSE and SSIM of the clean autoencoder on the first ``limit`` images."""
    from channelae.metrics import ssim_per_image

    model.eval()
    n = min(limit, len(data))
    mse_sum = ssim_sum = 0.0
    for start in range(0, n, batch_size):
        x = data.batch(torch.arange(start, min(n, start + batch_size))).to(device)
        x_hat = model.decode(model.encode(x))
        mse_sum += float(((x_hat - x) ** 2).flatten(1).mean(1).sum())
        ssim_sum += float(ssim_per_image(x_hat, x).sum())
    return {"val_mse": mse_sum / n, "val_ssim": ssim_sum / n}


def _save_state(path: Path, model: Autoencoder, opt: torch.optim.Optimizer, epoch: int,
                history: list[dict[str, float]], fingerprint: dict[str, Any]) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    osd = opt.state_dict()
    for pid, st in osd["state"].items():
        for key, val in st.items():
            t = val if isinstance(val, Tensor) else torch.tensor(val)
            tensors[f"opt.{pid}.{key}"] = t.detach().cpu().contiguous()
    meta = {"epoch": str(epoch), "param_groups": json.dumps(osd["param_groups"]),
            "history": json.dumps(history), "fingerprint": json.dumps(fingerprint, sort_keys=True)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def _load_state(path: Path, model: Autoencoder, opt: torch.optim.Optimizer,
                fingerprint: dict[str, Any]) -> tuple[int, list[dict[str, float]]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise UsageError(f"cannot resume from {path}: not a valid training state ({exc})", "--resume") from None
    saved = json.loads(meta.get("fingerprint", "{}"))
    if saved != json.loads(json.dumps(fingerprint, sort_keys=True)):
        diff = sorted(k for k in set(saved) | set(fingerprint) if saved.get(k) != fingerprint.get(k))
        raise UsageError(f"cannot resume from {path}: it was started with different settings "
                         f"({', '.join(diff)}); use another --out or the same settings", "--resume")
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    opt.load_state_dict({"state": state, "param_groups": json.loads(meta["param_groups"])})
    return int(meta["epoch"]), json.loads(meta.get("history", "[]"))


def train_model(
    model: Autoencoder,
    train_data: ImageDataset,
    val_data: ImageDataset,
    config: TrainConfig,
    out_dir: str | os.PathLike[str],
    *,
    device: torch.device | str = "cpu",
    resume: bool = False,
    progress: bool = True,
    step_hook: StepHook | None = None,
    extra_meta: dict[str, Any] | None = None,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``model`` and write its checkpoint to ``out_dir``.

    :param resume: continue from ``out_dir/train_state.safetensors`` if it exists (same settings required).
        Without it, an existing unfinished state is an error (so nothing is overwritten by accident).
    :param step_hook: extra work after each regular step (e.g. latent adversarial training); its returned
        numbers are logged with the loss terms.
    :param on_epoch_end: called with ``(epoch, log)`` after each epoch's state is saved (tests use it to
        simulate interruptions).
    """
    device = torch.device(device)
    out = Path(out_dir)
    state_path = out / STATE_NAME
    ensure_writable_dir(out, "--out")  # fail now, not after the first epoch
    torch.manual_seed(config.seed)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    fingerprint = {"model": model.config.to_dict(), "train": asdict(config), "data": train_data.fingerprint(),
                   **(extra_meta or {}).get("fingerprint_extra", {})}
    start_epoch, history = 0, []
    if state_path.exists():
        if not resume:
            raise UsageError(f"{out} holds an unfinished training run; pass --resume to continue it or "
                             "choose another --out", "--out")
        start_epoch, history = _load_state(state_path, model, opt, fingerprint)
    else:
        model.init_output_bias(pixel_mean(train_data).to(device))
    n = len(train_data)
    steps = n // config.batch_size
    if steps == 0:
        raise UsageError(f"the training split has {n} images, fewer than one batch of {config.batch_size}",
                         "--batch-size")

    from channelae.progress import make_progress

    t0 = time.perf_counter()
    with make_progress(enabled=progress) as bar:
        task = bar.add_task("train", total=(config.epochs - start_epoch) * steps, info="")
        for epoch in range(start_epoch, config.epochs):
            t_epoch = time.perf_counter()
            model.train()
            g_cpu = _epoch_generator(config.seed, epoch, torch.device("cpu"))
            g_dev = g_cpu if device.type == "cpu" else _epoch_generator(config.seed, epoch, device)
            perm = torch.randperm(n, generator=g_cpu)
            sums: dict[str, float] = {}
            for step in range(steps):
                idx = perm[step * config.batch_size:(step + 1) * config.batch_size]
                x = train_data.batch(idx).to(device, non_blocking=True)
                out_ = model(x, generator=g_dev)
                loss = model.loss(x, out_, dataset_size=n, generator=g_dev)
                if not torch.isfinite(loss.total):
                    raise FloatingPointError(f"loss became {float(loss.total)} at epoch {epoch + 1}, step "
                                             f"{step + 1}; try a smaller --lr or --lam")
                opt.zero_grad(set_to_none=True)
                loss.total.backward()
                opt.step()
                terms = {"loss": float(loss.total.detach()), **loss.terms}
                if step_hook is not None:
                    terms.update(step_hook(model, opt, x, epoch, step, g_dev))
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v
                bar.update(task, advance=1, info=f"epoch {epoch + 1}/{config.epochs} loss {terms['loss']:.4g}")
            log = {"epoch": epoch + 1, **{k: v / steps for k, v in sums.items()},
                   **evaluate(model, val_data, device, config.val_images)}
            log["seconds"] = time.perf_counter() - t_epoch
            history.append(log)
            if progress:
                from channelae.progress import log_line

                log_line(epoch_line(log, config.epochs, (config.epochs - epoch - 1) * log["seconds"]), bar.console)
            _save_state(state_path, model, opt, epoch + 1, history, fingerprint)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, log)

    stats = latent_statistics(model, train_data, device)
    if not (math.isfinite(stats["p_ref"]) and stats["p_ref"] > 0):
        raise FloatingPointError(f"the trained latents have energy {stats['p_ref']}; cannot set P_ref")
    meta = {
        **stats,
        "dataset": train_data.info.name,
        "data_fingerprint": train_data.fingerprint(),
        "seed": config.seed,
        "train": asdict(config),
        "history": history,
        "val": {k: v for k, v in history[-1].items() if k.startswith("val_")} if history else {},
        "train_seconds": time.perf_counter() - t0,
        "versions": _versions(),
        **{k: v for k, v in (extra_meta or {}).items() if k != "fingerprint_extra"},
    }
    save_checkpoint(out, model, meta)
    state_path.unlink(missing_ok=True)
    model.eval()
    return TrainResult(out_dir=out, history=history, meta=meta)


def epoch_line(log: dict[str, float], epochs: int, seconds_left: float | None = None) -> str:
    """One readable line for an epoch's log (as stored in the checkpoint's ``history``).

    ``epoch 2/5: loss 0.0283 (recon MSE 0.0263, swt 0.0196), val MSE 0.0240, val SSIM 0.572; 5.1 s/epoch,
    about 15 s left``: the training loss (batch mean of ``MSE + λ·R``) with its reconstruction MSE and the
    regulariser's named parts (``reg``, their λ-free sum, only when there are several), then the validation
    scores of the clean autoencoder, then time. Terms a step hook adds (hardening) follow the loss.
    """
    known = {"epoch", "loss", "mse", "reg", "val_mse", "val_ssim", "seconds"}
    parts = [k for k in log if k not in known]
    regs = [f"{k} {log[k]:.4g}" for k in parts if not k.endswith("_mse")]
    if "reg" in log and len(regs) != 1:
        regs.append(f"reg {log['reg']:.4g}")
    text = f"epoch {int(log['epoch'])}/{epochs}: loss {log.get('loss', float('nan')):.4g}"
    if regs:
        text += " (" + ", ".join([f"recon MSE {log['mse']:.4g}", *regs] if "mse" in log else regs) + ")"
    elif "mse" in log:  # no regulariser (plain AE): the loss is the reconstruction MSE
        text = text.replace(": loss ", ": loss = recon MSE ")
    hooks = {"adv": "adversarial", "noi": "noise"}  # hardening's "<kind[:3]>_mse" terms
    text += "".join(f", {hooks.get(k[:-4], k[:-4])} recon MSE {log[k]:.4g}" for k in parts if k.endswith("_mse"))
    if "val_mse" in log:
        text += f", val MSE {log['val_mse']:.4g}, val SSIM {log['val_ssim']:.3f}"
    if "seconds" in log:
        text += f"; {log['seconds']:.1f} s/epoch"
        if seconds_left:
            from channelae.progress import format_duration

            text += f", about {format_duration(seconds_left)} left"
    return text


def _versions() -> dict[str, str]:
    import channelae

    return {"channelae": channelae.__version__, "torch": torch.__version__}
