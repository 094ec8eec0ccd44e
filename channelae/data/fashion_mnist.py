"""``fashion-mnist``: Zalando's Fashion-MNIST (60,000 train / 10,000 test, 28×28 grey, 10 classes).

Accepted layouts under each search directory (first match wins; plain or ``.gz`` IDX files):

- ``fashion-mnist/`` — the Debian/Ubuntu package ``dataset-fashion-mnist`` installs the original files as
  ``/usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``, and
  ``/usr/share/datasets`` is the last search directory, so ``apt-get install dataset-fashion-mnist`` is all
  it takes;
- ``FashionMNIST/raw/`` (what ``torchvision.datasets.FashionMNIST(root)`` writes) and ``FashionMNIST/``.

Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

from channelae.data._mnist_format import load_idx_dataset
from channelae.data.base import DatasetInfo, TensorImageDataset, register_dataset

__all__ = ["INFO", "SUBDIRS", "load_fashion_mnist"]

#: Folders accepted under each search directory, in order.
SUBDIRS: tuple[str, ...] = ("fashion-mnist", "FashionMNIST/raw", "FashionMNIST")

INFO = DatasetInfo(
    name="fashion-mnist",
    image_shape=(1, 28, 28),
    default_latent_dim=30,
    eps_max=1.0,
    eps_step=0.1,
    how_to_get=(
        "`apt-get install dataset-fashion-mnist` (installs /usr/share/datasets/fashion-mnist/), "
        "or put the original files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz in <dir>/fashion-mnist/ "
        "(or torchvision's <dir>/FashionMNIST/raw/)."
    ),
    splits=("train", "test"),
    num_classes=10,
    description="Fashion-MNIST clothing images, 60,000 train / 10,000 test, 28x28 grey",
)


@register_dataset(INFO)
def load_fashion_mnist(split: str, search_dirs: list[Path]) -> TensorImageDataset:
    """Load ``split`` (``"train"`` or ``"test"``) of Fashion-MNIST from the first folder that has it."""
    return load_idx_dataset(INFO, split, search_dirs, SUBDIRS)
