"""User plugins: Python files or modules that register extra channels, models or metrics.

``channelae --plugin my_channel.py simulate --channel my-channel`` (or ``CHANNELAE_PLUGINS=a.py:b.py``)
imports each plugin before the command runs; a plugin registers its components with the usual registry
decorators (e.g. ``@CHANNELS.register("my-channel")``). Plugins are your own code and run as such.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

from channelae.errors import UsageError
from channelae.registry import DuplicateNameError

__all__ = ["load_plugins", "plugins_from_env"]


def plugins_from_env() -> list[str]:
    """Plugin paths/modules listed in ``$CHANNELAE_PLUGINS`` (``os.pathsep``-separated)."""
    return [p for p in os.environ.get("CHANNELAE_PLUGINS", "").split(os.pathsep) if p]


def load_plugins(items: list[str]) -> None:
    """Import each plugin: a ``.py`` file path or an importable module name.

    :raises UsageError: for a missing file or module, or a plugin registering a name that is taken (e.g. a
        built-in channel's).
    """
    for item in items:
        try:
            _load(item)
        except DuplicateNameError as exc:
            raise UsageError(f"plugin {item}: {exc}; choose another name", "--plugin") from None


def _load(item: str) -> None:
    if item.endswith(".py") or os.sep in item:
        path = Path(item)
        if not path.is_file():
            raise UsageError(f"no plugin file at {path}", "--plugin")
        name = f"channelae_plugin_{path.stem}"
        if name in sys.modules:
            return
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise UsageError(f"cannot import {path}", "--plugin")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]  # a failed plugin is not half-loaded for the next attempt
            raise
    else:
        try:
            importlib.import_module(item)
        except ModuleNotFoundError as exc:
            if exc.name != item:  # the plugin itself imports something missing: its own error
                raise
            raise UsageError(f"no plugin module {item!r} (give a .py file or an importable module)",
                             "--plugin") from None
