"""Rich progress bars used by long-running work (training, simulation); off when not wanted."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["make_progress", "stderr_console"]

#: Console for messages and bars (stderr, so stdout stays clean for tables and results).
stderr_console = Console(stderr=True)


def make_progress(enabled: bool = True, console: Console | None = None) -> Progress:
    """A Rich progress bar with ``description``, a bar, counts, times and a free ``info`` field."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console or stderr_console,
        disable=not enabled,
        transient=not sys.stderr.isatty(),
    )
