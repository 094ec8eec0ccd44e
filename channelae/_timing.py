"""Stage timings of one process, for ``benchmarks/simulate_wall.py`` (off unless asked for).

When the environment variable ``CHANNELAE_TIMINGS`` names a file, :func:`lap` attributes the wall time and the
process CPU time (user + system, all threads) elapsed since the previous lap — for the first lap: since the
process started (Linux ``/proc``; the interpreter's start-up and every import before it) — to a stage name;
a name seen again accumulates. At exit (stage ``exit``: from the last lap to the interpreter's exit handlers)
the stages are written to that file as JSON::

    {"stages": [[name, wall_s, cpu_s], ...], "process_start": epoch_s or null, "end": epoch_s}

Without the variable :func:`lap` returns at once and nothing is written: results never depend on it.
"""

from __future__ import annotations

import os
import time

__all__ = ["lap"]

_PATH = os.environ.get("CHANNELAE_TIMINGS") or None
_stages: dict[str, list[float]] = {}
_last: tuple[float, float] | None = None  # (wall clock, process CPU) at the previous lap


def _process_start() -> float | None:
    """Wall-clock time (epoch s) at which this process started, from ``/proc`` (10 ms resolution), or None."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        return time.time() - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def _write() -> None:
    import json

    from channelae.io import atomic_write_text

    lap("exit")  # after the last stage until the interpreter's exit handlers (then: its own shutdown)
    data = {"stages": [[k, v[0], v[1]] for k, v in _stages.items()], "process_start": _START, "end": time.time()}
    atomic_write_text(_PATH, json.dumps(data, indent=1) + "\n")


def lap(name: str) -> None:
    """Attribute the time since the previous lap (or the process start) to stage ``name`` (no-op when off)."""
    global _last
    if _PATH is None:
        return
    now = (time.time(), time.process_time())
    if _last is None:
        _last = (_START if _START is not None else now[0], 0.0)
    acc = _stages.setdefault(name, [0.0, 0.0])
    acc[0] += now[0] - _last[0]
    acc[1] += now[1] - _last[1]
    _last = now


_START = _process_start() if _PATH is not None else None
if _PATH is not None:
    import atexit

    atexit.register(_write)
