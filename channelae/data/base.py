"""What every data set provides: a :class:`DatasetInfo`, an :class:`ImageDataset`, and the ``DATASETS`` registry.

Images are always float32 in ``[0, 1]`` with shape ``[C, H, W]`` (one image) or ``[B, C, H, W]`` (a batch).
In-memory data sets keep a uint8 tensor ``[N, C, H, W]`` and convert only the requested rows, so
``batch(indices)`` is one indexing op and one division by 255 — pixel values round-trip exactly
(``batch(...) * 255`` gives back the stored integers).

Adding a data set means one module with ``@register_dataset(INFO)`` on its loader function
(``loader(split, search_dirs) -> ImageDataset``) and one ``DATASETS.register_lazy("name", "channelae.data.<module>")``
line in ``channelae/data/__init__.py``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from channelae.data import DATASETS as _DATASETS
from channelae.registry import Registry

__all__ = [
    "DATASETS",
    "DatasetEntry",
    "DatasetInfo",
    "DatasetLoader",
    "ImageDataset",
    "TensorImageDataset",
    "register_dataset",
]

#: Length of the hex digest returned by :meth:`ImageDataset.fingerprint`.
FINGERPRINT_LEN = 16


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about a data set that are known without loading it.

    :param name: registry name (``--dataset``).
    :param image_shape: ``(C, H, W)`` of one image as delivered (after any crop/resize).
    :param default_latent_dim: latent size ``d`` used for this data set (SPEC §3).
    :param eps_max: upper end of the default ε grid (latent L2 units; SPEC §5).
    :param eps_step: step of the default ε grid.
    :param how_to_get: one sentence saying how to put the data on this machine.
    :param splits: split names accepted by :func:`~channelae.data.load_dataset`.
    :param eval_split: the split that evaluation uses.
    :param num_classes: number of label classes, or ``None`` when the data set carries no labels.
    :param description: a short human description.
    """

    name: str
    image_shape: tuple[int, int, int]
    default_latent_dim: int
    eps_max: float = 1.0
    eps_step: float = 0.1
    how_to_get: str = ""
    splits: tuple[str, ...] = ("train", "test")
    eval_split: str = "test"
    num_classes: int | None = None
    description: str = ""

    def eps_grid(self) -> Tensor:
        """The default ε grid ``[0, eps_step, ..., eps_max]`` as float32 ``[E]`` (endpoints exact)."""
        steps = round(self.eps_max / self.eps_step)
        return torch.linspace(0.0, self.eps_max, steps + 1, dtype=torch.float32)


class ImageDataset(Dataset, ABC):
    """A split of an image data set: float32 images in ``[0, 1]``, shape ``[C, H, W]``.

    :ivar info: the data set's :class:`DatasetInfo`.
    :ivar split: which split this is (``"train"``, ``"test"``, ...).
    :ivar labels: int64 ``[N]`` class labels, or ``None``.
    :ivar source: where the data came from (a file or directory), for messages and reports.
    """

    def __init__(self, info: DatasetInfo, split: str, labels: Tensor | None, source: Path | str) -> None:
        self.info = info
        self.split = split
        self.labels = labels
        self.source = source
        self._fingerprint: str | None = None

    @abstractmethod
    def __len__(self) -> int:
        """Number of images."""

    @abstractmethod
    def batch(self, indices: Tensor | Sequence[int]) -> Tensor:
        """Images at ``indices`` as float32 ``[B, C, H, W]`` in ``[0, 1]``.

        :param indices: int64 ``[B]`` (or a sequence of ints); negative indices count from the end.
        :raises IndexError: when an index is out of range.
        """

    @abstractmethod
    def head(self, n: int) -> ImageDataset:
        """A data set with the first ``n`` items (all of them when ``n >= len(self)``)."""

    @abstractmethod
    def _fingerprint_parts(self) -> list[bytes]:
        """Byte strings that identify the data (hashed by :meth:`fingerprint`)."""

    def __getitem__(self, index: int) -> Tensor:
        """Image ``index`` as float32 ``[C, H, W]`` in ``[0, 1]``."""
        return self.batch(torch.tensor([self._check_index(index)], dtype=torch.long))[0]

    def fingerprint(self) -> str:
        """Short sha256 hex digest identifying this split's data (the checkpoint's "data hash").

        It covers the data set name, the split and the data itself (in-memory sets: the pixels and labels;
        lazy sets: the list of source files and the preprocessing). Computed once and cached.
        """
        if self._fingerprint is None:
            h = hashlib.sha256()
            for part in [self.info.name.encode(), self.split.encode(), *self._fingerprint_parts()]:
                h.update(len(part).to_bytes(8, "little"))
                h.update(part)
            self._fingerprint = h.hexdigest()[:FINGERPRINT_LEN]
        return self._fingerprint

    def _check_index(self, index: int) -> int:
        n = len(self)
        i = int(index)
        if not -n <= i < n:
            raise IndexError(f"index {index} is out of range for {self.info.name} {self.split} ({n} images)")
        return i % n

    def _as_index_tensor(self, indices: Tensor | Sequence[int]) -> Tensor:
        idx = torch.as_tensor(indices, dtype=torch.long, device="cpu").reshape(-1)
        n = len(self)
        if idx.numel() and (int(idx.min()) < -n or int(idx.max()) >= n):
            raise IndexError(f"indices out of range for {self.info.name} {self.split} ({n} images)")
        return torch.remainder(idx, n) if idx.numel() else idx

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.info.name!r}, split={self.split!r}, n={len(self)})"


class TensorImageDataset(ImageDataset):
    """An in-memory data set backed by a uint8 tensor ``[N, C, H, W]``.

    :param data: uint8 ``[N, C, H, W]`` pixel values.
    :param labels: int64 ``[N]`` or ``None``.
    """

    def __init__(
        self,
        info: DatasetInfo,
        split: str,
        data: Tensor,
        labels: Tensor | None,
        source: Path | str,
    ) -> None:
        if data.dtype != torch.uint8 or data.dim() != 4:
            raise ValueError(f"data must be uint8 [N, C, H, W]; got {data.dtype} {tuple(data.shape)}")
        if labels is not None and labels.shape != (data.shape[0],):
            raise ValueError(f"labels must have shape [{data.shape[0]}]; got {tuple(labels.shape)}")
        super().__init__(info, split, None if labels is None else labels.to(torch.long), source)
        self.data = data

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def batch(self, indices: Tensor | Sequence[int]) -> Tensor:
        idx = torch.as_tensor(indices, dtype=torch.long, device="cpu").reshape(-1)
        try:
            rows = self.data[idx]  # [B, C, H, W] uint8; raises IndexError when out of range
        except IndexError:
            raise IndexError(
                f"indices out of range for {self.info.name} {self.split} ({len(self)} images)"
            ) from None
        return rows.to(torch.float32).div_(255.0)

    def head(self, n: int) -> TensorImageDataset:
        if n >= len(self):
            return self
        labels = None if self.labels is None else self.labels[:n].clone()
        return TensorImageDataset(self.info, self.split, self.data[:n].clone(), labels, self.source)

    def _fingerprint_parts(self) -> list[bytes]:
        parts = [str(tuple(self.data.shape)).encode(), self.data.contiguous().numpy().tobytes()]
        if self.labels is not None:
            parts.append(self.labels.contiguous().numpy().tobytes())
        return parts


#: ``loader(split, search_dirs) -> ImageDataset``; ``split`` has been checked against ``info.splits``.
DatasetLoader = Callable[[str, list[Path]], ImageDataset]


@dataclass(frozen=True)
class DatasetEntry:
    """What the registry holds per data set: its facts and the function that loads a split."""

    info: DatasetInfo
    load: DatasetLoader = field(repr=False)


#: Every data set, by name (``--dataset``); defined in the package ``__init__`` (names known without torch).
DATASETS: Registry[DatasetEntry] = _DATASETS


def register_dataset(info: DatasetInfo) -> Callable[[DatasetLoader], DatasetLoader]:
    """Decorator: register ``loader`` under ``info.name`` together with ``info``."""

    def deco(loader: DatasetLoader) -> DatasetLoader:
        DATASETS.add(info.name, DatasetEntry(info, loader))
        return loader

    return deco
