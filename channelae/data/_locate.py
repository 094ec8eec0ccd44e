"""Finding a data set's files in the search directories, and the one-line error when they are absent.

The search directories come from :func:`channelae.paths.data_search_dirs` (``--data-dir`` →
``$CHANNELAE_DATA`` → user cache dir ``data/`` → ``/usr/share/datasets``). Each data set names the
sub-folders it accepts under every search directory (e.g. ``MNIST/raw``); the first folder that holds all
the files a split needs wins. Nothing is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from channelae.errors import MissingResourceError

__all__ = ["find_first", "first_existing", "missing_dataset_error"]


def first_existing(folder: Path, names: Sequence[str]) -> Path | None:
    """The first of ``folder / name`` (``names`` in order of preference) that is a file, or ``None``."""
    for name in names:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def find_first(
    search_dirs: Sequence[Path],
    subdirs: Sequence[str],
    probe: Callable[[Path], dict[str, Path] | None],
) -> dict[str, Path] | None:
    """Try ``root / sub`` for every search root (in order) and sub-folder (in order).

    :param probe: given a folder, returns the files the split needs (a name → path mapping), or ``None``
        when the folder does not hold all of them.
    :return: the first successful probe's mapping, or ``None``.
    """
    for root in search_dirs:
        for sub in subdirs:
            folder = root / sub
            if folder.is_dir():
                found = probe(folder)
                if found is not None:
                    return found
    return None


def missing_dataset_error(
    name: str, split: str, search_dirs: Sequence[Path], subdirs: Sequence[str], how_to_get: str
) -> MissingResourceError:
    """One-line error: which data set, every directory searched (in order), and how to get it."""
    roots = ", ".join(str(d) for d in search_dirs)
    subs = ", ".join(f"{s}/" for s in subdirs)
    return MissingResourceError(
        f"data set {name!r} (split {split!r}) not found; searched, in order: {roots} "
        f"(in each: {subs}); to get it: {how_to_get} For your own <dir>, pass --data-dir <dir> "
        "or set CHANNELAE_DATA=<dir> (nothing is downloaded).",
        "--dataset",
    )
