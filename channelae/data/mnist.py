"""``mnist``: the full MNIST digits (60,000 train / 10,000 test, 28×28 grey) from torchvision's files.

Accepted layouts under each search directory (first match wins; plain or ``.gz`` IDX files):
``MNIST/raw/`` (what ``torchvision.datasets.MNIST(root)`` writes), ``MNIST/`` and ``mnist/``, each holding
``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
``t10k-labels-idx1-ubyte``. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

from channelae.data._mnist_format import load_idx_dataset
from channelae.data.base import DatasetInfo, TensorImageDataset, register_dataset

__all__ = ["INFO", "SUBDIRS", "load_mnist"]

#: Folders accepted under each search directory, in order.
SUBDIRS: tuple[str, ...] = ("MNIST/raw", "MNIST", "mnist")

INFO = DatasetInfo(
    name="mnist",
    image_shape=(1, 28, 28),
    default_latent_dim=10,
    eps_max=1.0,
    eps_step=0.1,
    how_to_get=(
        "put torchvision's MNIST files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, plain or .gz) in <dir>/MNIST/raw/, e.g. "
        "by running torchvision.datasets.MNIST('<dir>', download=True) on a machine with internet access."
    ),
    splits=("train", "test"),
    num_classes=10,
    description="MNIST handwritten digits, 60,000 train / 10,000 test, 28x28 grey",
)


@register_dataset(INFO)
def load_mnist(split: str, search_dirs: list[Path]) -> TensorImageDataset:
    """Load ``split`` (``"train"`` or ``"test"``) of MNIST from the first folder that has it."""
    return load_idx_dataset(INFO, split, search_dirs, SUBDIRS)
