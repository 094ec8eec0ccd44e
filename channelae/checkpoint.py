"""Checkpoints: ``model.safetensors`` (tensors) + ``model.json`` (metadata), written atomically.

Loading never unpickles: tensors come from safetensors, metadata from JSON, so a crafted file cannot run
code. The metadata (SPEC §6) holds the model config, ``P_ref`` (mean energy per complex symbol of the clean
latents over the training set, used by the transmitter's fixed gain), per-dimension latent mean/std, the data
set and its fingerprint, seed, training settings, validation scores and library versions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from channelae.errors import UsageError
from channelae.io import atomic_path
from channelae.models import Autoencoder, ModelConfig, model_from_config
from channelae.results import write_json

__all__ = [
    "FORMAT",
    "META_NAME",
    "WEIGHTS_NAME",
    "load_checkpoint",
    "read_metadata",
    "resolve_checkpoint",
    "save_checkpoint",
]

FORMAT = "channelae-checkpoint/1"
WEIGHTS_NAME = "model.safetensors"
META_NAME = "model.json"


def resolve_checkpoint(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(weights, metadata)`` paths for a checkpoint directory or its ``.safetensors``/``.json`` file."""
    p = Path(path).expanduser()
    if p.is_dir():
        return p / WEIGHTS_NAME, p / META_NAME
    if p.suffix == ".json":
        return p.with_suffix(".safetensors"), p
    return p, p.with_suffix(".json")


def save_checkpoint(out_dir: str | os.PathLike[str], model: Autoencoder, meta: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` then ``model.json`` into ``out_dir`` atomically; returns ``out_dir``.

    The JSON is written last, so a directory with a JSON always has matching weights.
    """
    out = Path(out_dir)
    weights, meta_path = out / WEIGHTS_NAME, out / META_NAME
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp))
    full = {"format": FORMAT, "config": model.config.to_dict(), **meta}
    write_json(meta_path, full)
    return out


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON metadata of a checkpoint, validated; foreign or unreadable files raise ``UsageError``."""
    _, meta_path = resolve_checkpoint(path)
    if not meta_path.exists():
        raise UsageError(_missing_checkpoint_reason(Path(path).expanduser()), "--checkpoint")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read {meta_path}: {exc}", "--checkpoint") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UsageError(f"{meta_path} is not a channelae checkpoint (expected format {FORMAT!r})",
                         "--checkpoint")
    return meta


def _missing_checkpoint_reason(p: Path) -> str:
    """Why ``p`` is not a readable checkpoint, naming the real cause (no such path, an unfinished run, ...)."""
    what = (f"a channelae checkpoint is a directory with {WEIGHTS_NAME} and {META_NAME}, written by "
            "`channelae train`; `channelae models` lists the cached ones")
    if not p.exists():
        parent = next((a for a in p.parents if a.exists()), None)
        where = "" if parent is None or parent == p.parent else f"; {p.parent} does not exist either"
        return f"{p} does not exist{where} ({what})"
    if p.is_dir():
        if (p / "train_state.safetensors").exists():  # training.STATE_NAME (not imported: circular)
            return (f"{p} holds an unfinished training run (no {META_NAME} yet): finish it with `channelae train "
                    f"--resume --out {p}` and the same settings")
        return f"{p} is a directory without {META_NAME}, so not a channelae checkpoint ({what})"
    return f"{p} is a file but not a channelae checkpoint and has no {p.with_suffix('.json').name} beside it ({what})"


def load_checkpoint(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[Autoencoder, dict[str, Any]]:
    """Load a checkpoint (directory or file); returns ``(model in eval mode, metadata)``.

    Never executes code from the file: pickles and other foreign files are refused with ``UsageError``.
    """
    weights, _ = resolve_checkpoint(path)
    meta = read_metadata(path)
    if not weights.exists():
        raise UsageError(f"checkpoint weights {weights} are missing", "--checkpoint")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise UsageError(f"{weights} is not a safetensors file ({exc}); refusing to load it "
                         "(checkpoints are never unpickled)", "--checkpoint") from None
    try:
        model = model_from_config(ModelConfig.from_dict(meta["config"]))
        model.load_state_dict(state, strict=True)
    except UsageError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{weights} does not match its metadata: {first}", "--checkpoint") from None
    return model.to(device).eval(), meta
