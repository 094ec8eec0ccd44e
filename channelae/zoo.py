"""Training entry point and the model cache that later commands reuse.

``train(...)`` is what ``channelae train`` calls. Without ``out`` the checkpoint goes to the user cache
(``<cache>/models/<family>-<dataset>-<key>``, the key a hash of everything that defines the model and its
training), and ``ensure_model(...)`` returns such a cached checkpoint, training it first when missing
(an interrupted cache entry resumes).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from channelae._validation import check_device
from channelae.checkpoint import META_NAME
from channelae.data import dataset_info, load_dataset
from channelae.models import MODELS, build_model
from channelae.paths import model_cache_dir
from channelae.training import STATE_NAME, TrainConfig, TrainResult, train_model

if TYPE_CHECKING:
    from channelae.hardening import HardeningConfig

__all__ = ["DEFAULT_DATASET", "DEFAULT_EPOCHS", "DEFAULT_MODEL", "cache_key", "ensure_model", "train"]

#: The default model of ``channelae simulate`` (trained on first use, then cached).
DEFAULT_MODEL = "swt-vae"
DEFAULT_DATASET = "mnist-5k"
DEFAULT_EPOCHS = 5


def cache_key(settings: dict[str, Any]) -> str:
    """Short stable hash of the settings that define a trained model."""
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _resolve(model: str, dataset: str, latent_dim: int | None, lam: float | None, beta: float,
             epochs: int, batch_size: int, lr: float, seed: int) -> dict[str, Any]:
    cls = MODELS.get(model)
    info = dataset_info(dataset)
    return {
        "model": model, "dataset": dataset,
        "latent_dim": info.default_latent_dim if latent_dim is None else latent_dim,
        "lam": cls.default_lam if lam is None else lam, "beta": beta,
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
        "init": "output-bias",  # decoder output bias = logit(mean pixel); part of the key since it changes results
    }


def train(
    model: str = DEFAULT_MODEL,
    dataset: str = DEFAULT_DATASET,
    *,
    latent_dim: int | None = None,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = 64,
    lr: float = 1e-3,
    lam: float | None = None,
    beta: float = 1.0,
    seed: int = 0,
    out: str | os.PathLike[str] | None = None,
    device: str = "auto",
    resume: bool = False,
    progress: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
    harden: HardeningConfig | None = None,
    train_images: int | None = None,
) -> TrainResult:
    """Train ``model`` on ``dataset`` and write a checkpoint (to ``out`` or the model cache).

    ``harden`` adds latent adversarial (or noise) training (:mod:`channelae.hardening`); its settings become
    part of the cache key and the checkpoint metadata. ``train_images`` uses only the first images of the
    training split (quick runs).
    """
    dev = check_device(device)
    step_hook = None
    extra: dict[str, Any] = {}
    if harden is not None:
        from channelae.hardening import hardening_hook

        step_hook = hardening_hook(harden)
        extra = {"harden": harden.to_dict()}
    if train_images is not None:
        extra["train_images"] = train_images
    settings = _resolve(model, dataset, latent_dim, lam, beta, epochs, batch_size, lr, seed)
    settings.update(extra)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    info = dataset_info(dataset)
    train_set = load_dataset(dataset, "train", data_dir=data_dir, limit=train_images)
    val_set = load_dataset(dataset, info.eval_split, data_dir=data_dir)
    if out is None:
        out = model_cache_dir() / f"{model}-{dataset}-{cache_key(settings)}"
        resume = True
        if (out / META_NAME).exists() and not (out / STATE_NAME).exists():  # finished cache entry
            from channelae.checkpoint import read_metadata

            meta = read_metadata(out)
            return TrainResult(out_dir=out, history=meta.get("history", []), meta=meta)
    import torch

    torch.manual_seed(seed)
    net = build_model(model, info.image_shape, settings["latent_dim"], lam=settings["lam"], beta=beta)
    return train_model(
        net, train_set, val_set, cfg, out, device=dev, resume=resume, progress=progress,
        step_hook=step_hook,
        extra_meta={"settings": settings, "fingerprint_extra": {"extra": extra}},
    )


def ensure_model(
    model: str = DEFAULT_MODEL,
    dataset: str = DEFAULT_DATASET,
    *,
    progress: bool = True,
    device: str = "auto",
    data_dir: str | os.PathLike[str] | None = None,
    **kw: Any,
) -> Path:
    """Path of a cached checkpoint for these settings, training (or resuming) it first if needed."""
    defaults = {"latent_dim": None, "epochs": DEFAULT_EPOCHS, "batch_size": 64, "lr": 1e-3, "lam": None,
                "beta": 1.0, "seed": 0}
    harden = kw.pop("harden", None)
    train_images = kw.pop("train_images", None)
    defaults.update(kw)
    settings = _resolve(model, dataset, **defaults)
    if harden is not None:
        settings["harden"] = harden.to_dict()
    if train_images is not None:
        settings["train_images"] = train_images
    path = model_cache_dir() / f"{model}-{dataset}-{cache_key(settings)}"
    if (path / META_NAME).exists() and not (path / STATE_NAME).exists():
        return path
    train(model, dataset, out=path, resume=True, progress=progress, device=device, data_dir=data_dir,
          harden=harden, train_images=train_images, **defaults)
    return path
