"""Training entry point and the model cache that later commands reuse.

``train(...)`` is what ``channelae train`` calls. Without ``out`` the checkpoint goes to the user cache
(``<cache>/models/<family>-<dataset>-<key>``, the key a hash of everything that defines the model and its
training), and ``ensure_model(...)`` returns such a cached checkpoint, training it first when missing
(an interrupted cache entry resumes).

``list_models()`` describes the cache (``channelae models``), and ``resolve_model(model, dataset)`` turns what
a user passes as ``--model`` (a family name, a cache entry name from that list, or a checkpoint path) into a
checkpoint *and a one-line explanation* of the choice ("using cached ...", "no cached ... with the default
settings (found: ...); training one now"). Before any training, one line says what is trained, on what, for how
long (an estimate, which says whether it was measured on this machine or comes from a stored reference cost)
and where the result goes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import SafetensorError

from channelae._validation import check_device
from channelae.checkpoint import META_NAME
from channelae.data import dataset_info, load_dataset
from channelae.errors import UsageError
from channelae.models import MODELS, build_model
from channelae.paths import model_cache_dir
from channelae.progress import format_duration
from channelae.training import STATE_NAME, TrainConfig, TrainResult, train_model

if TYPE_CHECKING:
    from channelae.hardening import HardeningConfig

__all__ = [
    "DEFAULT_DATASET",
    "DEFAULT_EPOCHS",
    "DEFAULT_MODEL",
    "REFERENCE_SECONDS_PER_IMAGE",
    "CachedModel",
    "ResolvedModel",
    "cache_key",
    "default_cache_path",
    "ensure_model",
    "estimate_training_seconds",
    "list_models",
    "resolve_model",
    "train",
]

#: The default model of ``channelae simulate`` (trained on first use, then cached).
DEFAULT_MODEL = "swt-vae"
DEFAULT_DATASET = "mnist-5k"
DEFAULT_EPOCHS = 5
#: Settings of ``ensure_model`` / ``--model FAMILY`` beyond family and data set (``None``: per family / data set).
_DEFAULT_SETTINGS: dict[str, Any] = {"latent_dim": None, "epochs": DEFAULT_EPOCHS, "batch_size": 64, "lr": 1e-3,
                                     "lam": None, "beta": 1.0, "seed": 0}
#: Stored reference cost of training, seconds per 28×28 image per epoch (forward, backward, Adam step), measured
#: for the swt-vae on a 2-core CPU: the default model took 26.7 s for 5 epochs of mnist-5k's 4,500 training
#: images, 26.7 / (5 · (4,500 + 150)) with the validation's share (see below). Scaled by pixel count for other
#: image sizes; used for the first-run estimate only when no model trained here gives a measured cost.
REFERENCE_SECONDS_PER_IMAGE = 1.15e-3
#: The per-epoch validation (500 images, forward only, plus SSIM) costs about as much as training this many images.
_VALIDATION_IMAGES_COST = 150


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
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``dataset`` and write a checkpoint (to ``out`` or the model cache).

    ``harden`` adds latent adversarial (or noise) training (:mod:`channelae.hardening`); its settings become
    part of the cache key and the checkpoint metadata. ``train_images`` uses only the first images of the
    training split (quick runs). Before training starts, one line (to ``log``; default: stderr when
    ``progress`` is on) says what is trained, about how long it takes and where the checkpoint goes.
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
    cache_root = model_cache_dir()
    if out is None:
        out = cache_root / f"{model}-{dataset}-{cache_key(settings)}"
        resume = True
        if (out / META_NAME).exists() and not (out / STATE_NAME).exists():  # finished cache entry
            from channelae.checkpoint import read_metadata

            meta = read_metadata(out)
            return TrainResult(out_dir=out, history=meta.get("history", []), meta=meta)
    out = Path(out)
    import torch

    torch.manual_seed(seed)
    # built before the announcement: a bad latent_dim, lam or beta is one usage line, not "training ..." first
    net = build_model(model, info.image_shape, settings["latent_dim"], lam=settings["lam"], beta=beta)
    if log is None and progress:
        from channelae.progress import log_line as log
    if log is not None:
        state = out / STATE_NAME
        _announce(log, model, dataset, settings, len(train_set), out, out.parent == cache_root, str(dev),
                  _epochs_done(state) if resume and state.exists() else 0)
    return train_model(
        net, train_set, val_set, cfg, out, device=dev, resume=resume, progress=progress,
        step_hook=step_hook,
        extra_meta={"settings": settings, "fingerprint_extra": {"extra": extra}},
    )


def default_cache_path(
    model: str = DEFAULT_MODEL, dataset: str = DEFAULT_DATASET, **kw: Any
) -> tuple[Path, dict[str, Any]]:
    """Cache directory and settings of the model that ``ensure_model(model, dataset, **kw)`` returns.

    ``kw``: any of ``latent_dim, epochs, batch_size, lr, lam, beta, seed`` (others: the defaults of
    :func:`ensure_model`), plus ``harden`` and ``train_images``.
    """
    defaults = dict(_DEFAULT_SETTINGS)
    harden = kw.pop("harden", None)
    train_images = kw.pop("train_images", None)
    unknown = sorted(set(kw) - set(defaults))
    if unknown:
        raise TypeError(f"unknown training settings: {', '.join(unknown)}")
    defaults.update(kw)
    settings = _resolve(model, dataset, **defaults)
    if harden is not None:
        settings["harden"] = harden.to_dict()
    if train_images is not None:
        settings["train_images"] = train_images
    return model_cache_dir() / f"{model}-{dataset}-{cache_key(settings)}", settings


def ensure_model(
    model: str = DEFAULT_MODEL,
    dataset: str = DEFAULT_DATASET,
    *,
    progress: bool = True,
    device: str = "auto",
    data_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] | None = None,
    **kw: Any,
) -> Path:
    """Path of a cached checkpoint for these settings, training (or resuming) it first if needed.

    Training is announced first (one line to ``log``: model, data set, epochs, estimated time, cache path;
    default: stderr when ``progress`` is on).
    """
    path, _ = default_cache_path(model, dataset, **dict(kw))
    if (path / META_NAME).exists() and not (path / STATE_NAME).exists():
        return path
    settings = {**_DEFAULT_SETTINGS, **kw}  # the settings the path was computed from
    train(model, dataset, out=path, resume=True, progress=progress, device=device, data_dir=data_dir, log=log,
          **settings)
    return path


# ------------------------------------------------------------------------------------------ the cache


@dataclass(frozen=True)
class CachedModel:
    """One entry of the model cache (a directory under ``<cache>/models``).

    :ivar name: the directory name, ``<family>-<dataset>-<key>`` (what ``--model`` accepts).
    :ivar epochs: epochs the run was configured for; ``epochs_done``: finished epochs (= ``epochs`` when
        complete).
    :ivar complete: a finished checkpoint (``model.json``); otherwise an interrupted training run that the
        same ``channelae train`` command (or ``--model FAMILY`` for default settings) resumes.
    :ivar val_ssim: validation SSIM after the last epoch, when recorded.
    :ivar size_bytes: files in the directory, in bytes.
    :ivar is_default: these are the settings ``--model FAMILY`` (with that data set) picks.
    :ivar settings: the full training settings as stored (``model.json``'s ``settings``), when known.
    """

    name: str
    path: Path
    family: str
    dataset: str
    epochs: int | None
    epochs_done: int
    seed: int | None
    latent_dim: int | None
    complete: bool
    size_bytes: int
    val_ssim: float | None = None
    is_default: bool = False
    harden: str | None = None
    train_images: int | None = None
    train_seconds: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """Short human description, e.g. ``swt-vae on mnist-5k (5 epochs, seed 0, d=10)``."""
        return f"{self.family} on {self.dataset} ({self.summary()})"

    def summary(self) -> str:
        """The training settings in words, e.g. ``5 epochs, seed 0, d=10``."""
        parts = [_plural(self.epochs, "epoch") if self.complete else
                 f"interrupted after {self.epochs_done} of {_plural(self.epochs, 'epoch')}"]
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        if self.latent_dim is not None:
            parts.append(f"d={self.latent_dim}")
        if self.harden:
            parts.append(f"{self.harden} training")
        if self.train_images:
            parts.append(f"first {self.train_images} training images")
        return ", ".join(parts)


def _plural(n: int | None, word: str) -> str:
    return f"? {word}s" if n is None else f"{n} {word}" + ("" if n == 1 else "s")


def _split_name(name: str) -> tuple[str, str] | None:
    """``(family, dataset)`` from ``<family>-<dataset>-<key>``, or ``None``."""
    stem, _, key = name.rpartition("-")
    if not stem or len(key) != 12:
        return None
    for family in sorted(MODELS.names(), key=len, reverse=True):
        if stem.startswith(family + "-"):
            return family, stem[len(family) + 1:]
    return None


def _entry(path: Path) -> CachedModel | None:
    """The cache entry in ``path``, or ``None`` when it is neither a checkpoint nor a training state."""
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    parsed = _split_name(path.name)
    meta_path, state_path = path / META_NAME, path / STATE_NAME
    if meta_path.is_file() and not state_path.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            cfg, settings = meta.get("config", {}), meta.get("settings", {})
            epochs = settings.get("epochs", meta.get("train", {}).get("epochs"))
            harden = meta.get("harden") or settings.get("harden")
            family = cfg.get("family") or (parsed or ("?", "?"))[0]
            dataset = meta.get("dataset") or (parsed or ("?", "?"))[1]
            default = _default_name(family, dataset)
            return CachedModel(
                name=path.name, path=path, family=family, dataset=dataset, epochs=epochs,
                epochs_done=len(meta.get("history", [])) or (epochs or 0), seed=meta.get("seed"),
                latent_dim=cfg.get("latent_dim"), complete=True, size_bytes=size,
                val_ssim=meta.get("val", {}).get("val_ssim"), is_default=path.name == default,
                harden=harden.get("kind") if isinstance(harden, dict) else None,
                train_images=settings.get("train_images"), train_seconds=meta.get("train_seconds"),
                settings=settings)
        except (OSError, ValueError, AttributeError):
            return None
    if state_path.is_file() and parsed is not None:
        try:
            from safetensors import safe_open

            with safe_open(str(state_path), framework="pt") as fh:
                smeta = fh.metadata() or {}
            fingerprint = json.loads(smeta.get("fingerprint", "{}"))
            train_cfg, model_cfg = fingerprint.get("train", {}), fingerprint.get("model", {})
            extra = fingerprint.get("extra", {})
            harden = extra.get("harden")
            history = json.loads(smeta.get("history", "[]"))
            return CachedModel(
                name=path.name, path=path, family=model_cfg.get("family", parsed[0]), dataset=parsed[1],
                epochs=train_cfg.get("epochs"), epochs_done=int(smeta.get("epoch", 0)), seed=train_cfg.get("seed"),
                latent_dim=model_cfg.get("latent_dim"), complete=False, size_bytes=size,
                val_ssim=history[-1].get("val_ssim") if history else None,
                is_default=path.name == _default_name(parsed[0], parsed[1]),
                harden=harden.get("kind") if isinstance(harden, dict) else None,
                train_images=extra.get("train_images"))
        except (SafetensorError, OSError, ValueError, TypeError, AttributeError):  # unreadable: not listed
            return None
    return None


def _default_name(family: str, dataset: str) -> str | None:
    try:
        return default_cache_path(family, dataset)[0].name
    except UsageError:  # a family or data set that is not registered (any more)
        return None


def list_models(cache: str | os.PathLike[str] | None = None) -> list[CachedModel]:
    """The entries of the model cache (``<cache>/models``, see :mod:`channelae.paths`), complete and
    interrupted, sorted by family, data set, epochs and name. Reads only metadata (no weights)."""
    root = Path(cache) if cache is not None else model_cache_dir()
    if not root.is_dir():
        return []
    found = [e for p in root.iterdir() if p.is_dir() and (e := _entry(p)) is not None]
    return sorted(found, key=lambda e: (e.family, e.dataset, e.epochs or 0, e.name))


# ------------------------------------------------------------------------------------ choosing a model


@dataclass(frozen=True)
class ResolvedModel:
    """What :func:`resolve_model` chose.

    :ivar path: the checkpoint directory (or file) to load.
    :ivar explanation: one line saying which model is used and why (or why one is trained).
    :ivar source: ``"path"`` (a checkpoint path), ``"cache"`` (a cache entry, by name or as the family's
        default-settings model) or ``"trained"`` (trained or resumed just now).
    :ivar entry: the cache entry, when the model lives in the cache.
    """

    path: Path
    explanation: str
    source: str
    entry: CachedModel | None = None


def _looks_like_path(text: str) -> bool:
    return os.sep in text or text.startswith((".", "~")) or text.endswith((".json", ".safetensors"))


def resolve_model(
    model: str | os.PathLike[str] | None = None,
    dataset: str | None = None,
    *,
    train_missing: bool = True,
    progress: bool = True,
    device: str = "auto",
    data_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] | None = None,
    option: str = "--model",
    **settings: Any,
) -> ResolvedModel:
    """Turn ``--model`` into a checkpoint, with a one-line explanation of the choice.

    ``model`` may be

    - a **family** (``swt-vae``, ``kld-vae``, ...; ``None`` = :data:`DEFAULT_MODEL`): the cached model with the
      default settings (:data:`DEFAULT_EPOCHS` epochs, seed 0, ... or ``settings``) on ``dataset``
      (default :data:`DEFAULT_DATASET`), trained (or resumed) first when missing, after an announcement; the
      explanation names other cached models of that family and data set when the default one is missing;
    - the **name of a cache entry** (``channelae models``; a unique prefix is enough);
    - a **checkpoint path** (a directory with ``model.json``, or that file).

    :param dataset: for a family: the data set to train on / look up. Ignored for names and paths (the
        checkpoint knows its data set).
    :param train_missing: train a missing default model (``False``: return the path it would have, with
        ``source="trained"`` and an explanation ending in "training one now" — nothing is trained).
    :param log: where the explanation (and the training announcement) go; default: one line on stderr when
        ``progress`` is on, nothing otherwise.
    :param option: the option name used in explanations and errors.
    :param settings: training settings for a family (``epochs``, ``seed``, ``latent_dim``, ``lam``, ...).
    :raises UsageError: ``model`` is none of the above (the message lists the families and cached names).
    """
    if log is None and progress:
        from channelae.progress import log_line as log
    say = log or (lambda _msg: None)
    text = DEFAULT_MODEL if model is None else os.fspath(model)
    cache = list_models()
    if text in MODELS:
        ds = dataset or DEFAULT_DATASET
        dataset_info(ds)  # unknown data set: one line now, not after training
        path, wanted = default_cache_path(text, ds, **settings)
        entry = next((e for e in cache if e.path == path), None)
        how = f"{_plural(wanted['epochs'], 'epoch')}, seed {wanted['seed']}"
        if entry is not None and entry.complete:
            res = ResolvedModel(path, f"using cached {text} {ds} ({how}) at {path}", "cache", entry)
            say(res.explanation)
            return res
        if entry is not None:
            why = (f"resuming the interrupted training of {text} {ds} ({how}; {entry.epochs_done} of "
                   f"{_plural(entry.epochs, 'epoch')} done) at {path}")
        else:
            others = [e for e in cache if e.family == text and e.dataset == ds]
            found = ""
            if len(others) == 1:
                found = (f"; found {others[0].name} ({others[0].summary()}): use {option} {others[0].name} "
                         "to use it")
            elif others:
                shown = ", ".join(f"{e.name} ({e.summary()})" for e in others[:3])
                more = f" and {len(others) - 3} more" if len(others) > 3 else ""
                found = f"; found {shown}{more}: use {option} <name> to use one (`channelae models` lists them)"
            setting = "the default settings" if not settings else "the requested settings"
            why = f"no cached {text} {ds} with {setting} ({how}){found}; training one now"
        say(why)
        if train_missing:
            ensure_model(text, ds, progress=progress, device=device, data_dir=data_dir, log=log, **settings)
            entry = _entry(path)
        return ResolvedModel(path, why, "trained", entry)
    by_name = [e for e in cache if e.name == text] or [e for e in cache if e.name.startswith(text)]
    if len(by_name) == 1 and not _looks_like_path(text) and not Path(text).exists():
        entry = by_name[0]
        if not entry.complete:
            raise UsageError(f"cached model {entry.name} is an interrupted training run ({entry.describe()}); "
                             f"resume it with `{_resume_command(entry)}`", option)
        res = ResolvedModel(entry.path, f"using cached {entry.name}: {entry.describe()}", "cache", entry)
        say(res.explanation)
        return res
    if len(by_name) > 1 and not _looks_like_path(text):
        raise UsageError(f"{text!r} matches {len(by_name)} cached models ({', '.join(e.name for e in by_name)}); "
                         "give more of the name", option)
    if _looks_like_path(text) or Path(text).expanduser().exists():
        from channelae.checkpoint import read_metadata

        p = Path(text).expanduser()
        try:
            meta = read_metadata(p)  # a missing or foreign checkpoint: one line naming the real cause
        except UsageError as exc:
            raise UsageError(exc.message, option) from None
        cfg = meta.get("config", {})
        epochs = meta.get("settings", {}).get("epochs", meta.get("train", {}).get("epochs"))
        res = ResolvedModel(p, f"using checkpoint {p}: {cfg.get('family', '?')} on {meta.get('dataset', '?')} "
                               f"({_plural(epochs, 'epoch')}, seed {meta.get('seed', '?')})", "path")
        say(res.explanation)
        return res
    names = ", ".join(e.name for e in cache[:5]) + (", ..." if len(cache) > 5 else "")
    cached = f"a cached model ({names})" if cache else "a cached model (none yet)"
    hint = MODELS.unknown(text).message.split(";")[1].strip() if ";" in MODELS.unknown(text).message else ""
    raise UsageError(f"{text!r} is not a model family ({hint}), {cached} or a checkpoint path; "
                     "`channelae models` lists the cached ones", option)


def _resume_command(entry: CachedModel) -> str:
    cmd = f"channelae train --model {entry.family} --dataset {entry.dataset}"
    if entry.epochs is not None:
        cmd += f" --epochs {entry.epochs}"
    if entry.seed:
        cmd += f" --seed {entry.seed}"
    if entry.latent_dim is not None and entry.latent_dim != _default_latent_dim(entry.dataset):
        cmd += f" --latent-dim {entry.latent_dim}"
    return cmd


def _default_latent_dim(dataset: str) -> int | None:
    try:
        return dataset_info(dataset).default_latent_dim
    except UsageError:
        return None


# ------------------------------------------------------------------------------------ training time


def estimate_training_seconds(
    dataset: str, image_shape: tuple[int, int, int], n_images: int, epochs: int, device: str = "cpu"
) -> tuple[float, str]:
    """Rough wall time of training ``epochs`` epochs over ``n_images`` images, and where the estimate comes from.

    Measured when a finished model on the same data set is in the cache (its recorded training time per
    image and epoch, on this machine); otherwise :data:`REFERENCE_SECONDS_PER_IMAGE` (a stored 2-core CPU
    cost) scaled by the image's pixel count.

    :return: ``(seconds, source)``, ``source`` a short phrase for the announcement.
    """
    for e in sorted(list_models(), key=lambda e: e.path.stat().st_mtime, reverse=True):
        if e.complete and e.dataset == dataset and e.train_seconds and e.epochs and not e.harden:
            n = e.train_images or n_images
            per = e.train_seconds / (e.epochs * (n + _VALIDATION_IMAGES_COST))
            return per * (n_images + _VALIDATION_IMAGES_COST) * epochs, (
                f"measured here: {e.name} took {format_duration(e.train_seconds)} for {_plural(e.epochs, 'epoch')}")
    pixels = image_shape[-1] * image_shape[-2]
    per = REFERENCE_SECONDS_PER_IMAGE * pixels / (28 * 28)
    where = "on a 2-core CPU" + ("; a GPU is faster" if not str(device).startswith("cpu") else "")
    return per * (n_images + _VALIDATION_IMAGES_COST) * epochs, (
        f"rough: a stored reference cost of {per * 1e3:.1f} ms per image and epoch {where}")


def _announce(log: Callable[[str], None], model: str, dataset: str, settings: dict[str, Any], n_images: int,
              out: Path, cached: bool, device: str, resume_from: int) -> None:
    epochs = settings["epochs"]
    left = epochs - resume_from
    info = dataset_info(dataset)
    seconds, source = estimate_training_seconds(dataset, info.image_shape, n_images, left, device)
    what = (f"training {model} on {dataset}: {_plural(epochs, 'epoch')} over {n_images:,} images, seed "
            f"{settings['seed']}, latent d={settings['latent_dim']}")
    if resume_from:
        what = f"resuming {what} ({resume_from} done)"
    where = f"cached at {out} (reused by later runs)" if cached else f"written to {out}"
    log(f"{what}; about {format_duration(seconds)} on {device} ({source}); {where}")


def _epochs_done(state: Path) -> int:
    try:
        from safetensors import safe_open

        with safe_open(str(state), framework="pt") as fh:
            return int((fh.metadata() or {}).get("epoch", 0))
    except (SafetensorError, OSError, ValueError):
        return 0
