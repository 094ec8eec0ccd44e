"""Packaging: the top-level ``channels/`` folder installs as ``channelae.channels`` and every package is listed."""

from __future__ import annotations

import sys
from pathlib import Path

import channelae.channels

ROOT = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_channels_live_at_the_top_level_and_install_as_channelae_channels():
    assert (ROOT / "channels" / "__init__.py").is_file()
    assert (ROOT / "channels" / "README.md").is_file()
    assert not (ROOT / "channelae" / "channels").exists()
    assert Path(channelae.channels.__file__).resolve().parent == ROOT / "channels"
    setup = _pyproject()["tool"]["setuptools"]
    assert setup["package-dir"] == {"channelae.channels": "channels"}


def test_every_package_directory_is_listed_in_pyproject():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "channelae").rglob("__init__.py")}
    found |= {"channelae.channels." + ".".join(p.parent.relative_to(ROOT / "channels").parts)
              for p in (ROOT / "channels").rglob("__init__.py") if p.parent != ROOT / "channels"}
    found.add("channelae.channels")
    found = {f for f in found if "__pycache__" not in f}
    assert listed == found


def test_no_top_level_channels_package_is_declared():
    """``channels`` is Django Channels' name on PyPI: nothing we install may claim it."""
    setup = _pyproject()["tool"]["setuptools"]
    assert all(p == "channelae" or p.startswith("channelae.") for p in setup["packages"])
    assert all(k.startswith("channelae") for k in setup["package-dir"])
