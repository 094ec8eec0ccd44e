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

__all__ = ["load_plugins", "plugins_from_env"]


def plugins_from_env() -> list[str]:
    """Plugin paths/modules listed in ``$CHANNELAE_PLUGINS`` (``os.pathsep``-separated)."""
    return [p for p in os.environ.get("CHANNELAE_PLUGINS", "").split(os.pathsep) if p]


def load_plugins(items: list[str]) -> None:
    """Import each plugin: a ``.py`` file path or an importable module name."""
    for item in items:
        if item.endswith(".py") or os.sep in item:
            path = Path(item)
            if not path.is_file():
                raise UsageError(f"no plugin file at {path}", "--plugin")
            name = f"channelae_plugin_{path.stem}"
            if name in sys.modules:
                continue
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise UsageError(f"cannot import {path}", "--plugin")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            try:
                importlib.import_module(item)
            except ModuleNotFoundError:
                raise UsageError(f"no plugin module {item!r} (give a .py file or an importable module)",
                                 "--plugin") from None
