"""Atomic file writes: results and checkpoints are never left half-written.

Each writer writes to a temporary file in the destination's directory, flushes and fsyncs it, then
``os.replace``-s it over the destination (atomic on POSIX), so a reader sees the old file or the new one.

Permissions are those a plain ``open(dest, "w")`` would leave (the temporary file itself is private while it
is written): a **new** file gets ``0o666 & ~umask`` (``rw-r--r--`` under the usual umask 022, ``rw-------``
under 077); a file that **replaces** an existing one keeps the existing file's permission bits, so a mode the
user set on purpose (e.g. ``chmod 640 results.json``) survives a re-run. See :func:`target_mode`.
JSON files are written by :func:`channelae.results.write_json` (which owns the encoding of non-finite numbers).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "current_umask",
    "ensure_writable_dir",
    "target_mode",
]


def current_umask() -> int:
    """The process umask, read without changing it where possible.

    Linux reports it in ``/proc/self/status`` (``Umask:`` line); elsewhere it is read by setting and
    restoring it (``os.umask``), which is not atomic with respect to other threads creating files.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def target_mode(dest: str | os.PathLike[str]) -> int:
    """Permission bits an atomic write gives ``dest``: those of the existing file it replaces, else
    ``0o666 & ~umask`` (what ``open(dest, "w")`` would create)."""
    try:
        return os.stat(dest).st_mode & 0o777
    except OSError:
        return 0o666 & ~current_umask()


def ensure_writable_dir(path: str | os.PathLike[str], argument: str = "--out") -> Path:
    """Create ``path`` if needed and check that files can be written there (one-line ``UsageError`` if not)."""
    from channelae.errors import UsageError

    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}", argument) from None
    return out


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Context manager yielding a temporary path; on success it is renamed to ``dest``.

    Use it for writers that want a path (``safetensors.torch.save_file``, ``matplotlib.savefig``).
    On an exception the temporary file is removed and ``dest`` is untouched. The file gets the permission
    bits of :func:`target_mode` (set on the temporary file just before it is renamed).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp" + dest.suffix, dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_path, target_mode(dest))
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _write(dest: str | os.PathLike[str], mode: str, writer: Callable[[IO[Any]], None]) -> Path:
    with atomic_path(dest) as tmp, open(tmp, mode, encoding=None if "b" in mode else "utf-8") as fh:
        writer(fh)
    return Path(dest)


def atomic_write_bytes(dest: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``dest`` atomically."""
    return _write(dest, "wb", lambda fh: fh.write(data))


def atomic_write_text(dest: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``dest`` atomically."""
    return _write(dest, "w", lambda fh: fh.write(text))
