"""Shared loader for the MNIST family's four IDX files (MNIST, Fashion-MNIST).

A split is a pair of files in one folder: ``{prefix}-images-idx3-ubyte`` and ``{prefix}-labels-idx1-ubyte``,
each either plain or ``.gz`` (the plain file is preferred when both exist), with prefix ``train`` for the
60,000-image training split and ``t10k`` for the 10,000-image test split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from channelae.data._idx import read_idx_images, read_idx_labels
from channelae.data._locate import find_first, first_existing, missing_dataset_error
from channelae.data.base import DatasetInfo, TensorImageDataset
from channelae.errors import UsageError

__all__ = ["SPLIT_PREFIX", "idx_file_names", "load_idx_dataset"]

#: Split name → file-name prefix of the original distribution.
SPLIT_PREFIX: dict[str, str] = {"train": "train", "test": "t10k"}


def idx_file_names(split: str) -> dict[str, list[str]]:
    """Accepted file names for ``split``: ``{"images": [plain, gz], "labels": [plain, gz]}``."""
    prefix = SPLIT_PREFIX[split]
    images = f"{prefix}-images-idx3-ubyte"
    labels = f"{prefix}-labels-idx1-ubyte"
    return {"images": [images, images + ".gz"], "labels": [labels, labels + ".gz"]}


def _probe(split: str) -> Callable[[Path], dict[str, Path] | None]:
    names = idx_file_names(split)

    def probe(folder: Path) -> dict[str, Path] | None:
        images = first_existing(folder, names["images"])
        labels = first_existing(folder, names["labels"])
        if images is None or labels is None:
            return None
        return {"images": images, "labels": labels}

    return probe


def load_idx_dataset(
    info: DatasetInfo, split: str, search_dirs: Sequence[Path], subdirs: Sequence[str]
) -> TensorImageDataset:
    """Find and read ``split`` of an MNIST-format data set.

    :param info: the data set's facts (its ``image_shape`` is checked against the files).
    :param search_dirs: search roots, in order.
    :param subdirs: folders accepted under each root, in order.
    :raises MissingResourceError: when no folder holds both files of the split.
    :raises UsageError: when the files are corrupt or do not fit together.
    """
    found = find_first(search_dirs, subdirs, _probe(split))
    if found is None:
        raise missing_dataset_error(info.name, split, search_dirs, subdirs, info.how_to_get)
    images = read_idx_images(found["images"])  # uint8 [N, H, W]
    labels = read_idx_labels(found["labels"])  # uint8 [N]
    if images.shape[0] != labels.shape[0]:
        raise UsageError(
            f"{found['images']} holds {images.shape[0]} images but {found['labels']} "
            f"holds {labels.shape[0]} labels"
        )
    if tuple(images.shape[1:]) != info.image_shape[1:]:
        raise UsageError(
            f"{found['images']} holds {images.shape[1]}x{images.shape[2]} images; "
            f"{info.name} images are {info.image_shape[1]}x{info.image_shape[2]}"
        )
    if info.num_classes is not None and labels.size and int(labels.max()) >= info.num_classes:
        raise UsageError(
            f"{found['labels']} holds label {int(labels.max())}; {info.name} labels are "
            f"0..{info.num_classes - 1}"
        )
    data = torch.from_numpy(images).unsqueeze(1)  # [N, 1, H, W]
    return TensorImageDataset(
        info, split, data, torch.from_numpy(labels).to(torch.long), found["images"].parent
    )
