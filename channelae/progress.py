"""Rich progress bars used by long-running work (training, simulation); off when not wanted; and plain log
lines for messages a user should read (no timestamps, no ``file.py:123`` suffixes as ``Console.log`` adds)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["format_duration", "log_line", "make_progress", "stderr_console"]

#: Console for messages and bars (stderr, so stdout stays clean for tables and results).
stderr_console = Console(stderr=True)


def format_duration(seconds: float) -> str:
    """A rough human duration: ``"40 s"``, ``"12 min"``, ``"1.5 h"``."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def log_line(message: str, console: Console | None = None) -> None:
    """Print ``message`` as one plain line on stderr (or ``console``): no markup, highlighting or wrapping,
    and above any live progress bar of that console."""
    (console or stderr_console).print(message, markup=False, highlight=False, soft_wrap=True)


def make_progress(enabled: bool = True, console: Console | None = None, *, counts: bool = True) -> Progress:
    """A Rich progress bar with ``description``, a bar, counts (``counts``; else a percentage: for tasks whose
    units are a cost estimate, not things a user counts), elapsed time, ETA and a free ``info`` field.

    The ETA is Rich's: remaining units over the speed of the last 30 s."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if counts else TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console or stderr_console,
        disable=not enabled,
        transient=not sys.stderr.isatty(),
    )
