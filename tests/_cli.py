"""Shared test helper: run the CLI in-process."""

from __future__ import annotations

import contextlib
import io

from channelae.cli import main


def run_cli(argv: list) -> tuple[int, str, str]:
    """``main(argv)`` in-process: (exit code, stdout, stderr). Other exceptions propagate (a bug)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()
