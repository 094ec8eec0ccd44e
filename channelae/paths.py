"""Where channelae looks for data and keeps its cache.

Data look-up order (SPEC §6): ``--data-dir`` → ``$CHANNELAE_DATA`` → user cache dir (``data/``) →
``/usr/share/datasets``. The user cache dir is ``$CHANNELAE_CACHE`` if set, else
``$XDG_CACHE_HOME/channelae``, else ``~/.cache/channelae``; trained default models live under ``models/``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SYSTEM_DATA_DIR", "cache_dir", "data_search_dirs", "model_cache_dir"]

SYSTEM_DATA_DIR = Path("/usr/share/datasets")


def cache_dir() -> Path:
    """The user cache directory (not created)."""
    env = os.environ.get("CHANNELAE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "channelae"


def model_cache_dir() -> Path:
    """Directory of cached trained models (not created)."""
    return cache_dir() / "models"


def data_search_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Directories searched for data sets, in order (see module docstring)."""
    dirs: list[Path] = []
    if data_dir is not None:
        dirs.append(Path(data_dir).expanduser())
    env = os.environ.get("CHANNELAE_DATA")
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(cache_dir() / "data")
    dirs.append(SYSTEM_DATA_DIR)
    return dirs
