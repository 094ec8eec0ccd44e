"""``celeba``: aligned CelebA faces, center-cropped 140×140 and resized to 64×64 RGB, from torchvision's files.

Layout under each search directory (what ``torchvision.datasets.CelebA(root)`` writes)::

    celeba/img_align_celeba/000001.jpg ... 202599.jpg     (178×218 JPEGs)
    celeba/list_eval_partition.txt                         (lines "000001.jpg 0"; 0 train, 1 valid, 2 test)

Splits are ``train`` (162,770 images), ``valid`` (19,867) and ``test`` (19,962); evaluation uses ``test``.
The data set is lazy: loading reads only the partition file, and :meth:`CelebADataset.batch` decodes just
the requested JPEGs (decoded images are kept in a small shared LRU cache). Preprocessing equals
``torchvision.transforms.Compose([CenterCrop(140), Resize(64)])`` on the PIL image (bilinear, PIL's
filter). Nothing is downloaded.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from channelae.data._locate import find_first, missing_dataset_error
from channelae.data.base import DatasetInfo, ImageDataset, register_dataset
from channelae.errors import MissingResourceError, UsageError

__all__ = [
    "CACHE_SIZE",
    "CROP",
    "INFO",
    "PARTITION_CODES",
    "SIZE",
    "CelebADataset",
    "decode_celeba_image",
    "load_celeba",
    "read_partition",
]

#: Side of the center crop applied to the 178×218 aligned images [pixels].
CROP = 140
#: Side of the delivered images after resizing [pixels].
SIZE = 64
#: Decoded images kept in memory (uint8, 12 KiB each), shared by all CelebA data sets.
CACHE_SIZE = 4096
#: Split name → code in ``list_eval_partition.txt``.
PARTITION_CODES: dict[str, int] = {"train": 0, "valid": 1, "test": 2}

_FOLDER = "celeba"
_IMAGES = "img_align_celeba"
_PARTITION = "list_eval_partition.txt"
_TRANSFORM = f"center-crop {CROP} -> resize {SIZE}x{SIZE} bilinear (PIL)"

INFO = DatasetInfo(
    name="celeba",
    image_shape=(3, SIZE, SIZE),
    default_latent_dim=128,
    eps_max=2.0,
    eps_step=0.2,
    how_to_get=(
        "put torchvision's CelebA files in <dir>/celeba/ — the aligned JPEGs in "
        "<dir>/celeba/img_align_celeba/ (from img_align_celeba.zip) and <dir>/celeba/list_eval_partition.txt."
    ),
    splits=("train", "valid", "test"),
    eval_split="test",
    num_classes=None,
    description="CelebA aligned faces, center-crop 140 -> 64x64 RGB; 162,770 / 19,867 / 19,962 images",
)


def read_partition(path: Path) -> dict[int, list[str]]:
    """Parse ``list_eval_partition.txt``: partition code (0, 1, 2) → image file names, in file order.

    :raises UsageError: naming the file and line when a line is not ``<name>.jpg <0|1|2>``.
    """
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read CelebA partition file {path}: {exc}") from None
    parts: dict[int, list[str]] = {0: [], 1: [], 2: []}
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2") or "/" in fields[0]:
            raise UsageError(
                f"CelebA partition file {path} line {lineno} is not '<image> <0|1|2>': {line.strip()!r}"
            )
        parts[int(fields[1])].append(fields[0])
    return parts


def decode_celeba_image(path: Path) -> Tensor:
    """Decode one aligned CelebA JPEG: center-crop ``CROP``, resize to ``SIZE``; uint8 ``[3, SIZE, SIZE]``.

    Results are cached (``CACHE_SIZE`` images, keyed by path, size and modification time).

    :raises MissingResourceError: when the file is absent.
    :raises UsageError: when it is not a readable image or is smaller than the crop.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise MissingResourceError(
            f"CelebA image {path} is listed in {_PARTITION} but missing; re-extract img_align_celeba.zip",
            "--dataset",
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read CelebA image {path}: {exc}") from None
    return _decode_cached(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _decode_cached(path: Path, size: int, mtime_ns: int) -> Tensor:
    """The uncached decoder behind :func:`decode_celeba_image` (``size``/``mtime_ns`` only key the cache)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            img = opened.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise UsageError(f"cannot decode CelebA image {path}: {exc}") from None
    width, height = img.size
    if width < CROP or height < CROP:
        raise UsageError(f"CelebA image {path} is {width}x{height}, smaller than the {CROP}x{CROP} crop")
    left = round((width - CROP) / 2.0)  # same rounding as torchvision's center_crop
    top = round((height - CROP) / 2.0)
    img = img.crop((left, top, left + CROP, top + CROP)).resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    pixels = np.array(img, dtype=np.uint8)  # [H, W, 3]
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


class CelebADataset(ImageDataset):
    """A lazy CelebA split: image files on disk, decoded on demand (``labels`` is ``None``).

    :param image_dir: the ``img_align_celeba`` folder.
    :param files: image file names of this split, in partition-file order.
    """

    def __init__(self, split: str, image_dir: Path, files: Sequence[str]) -> None:
        super().__init__(INFO, split, None, image_dir.parent)
        self.image_dir = image_dir
        self.files = list(files)

    def __len__(self) -> int:
        return len(self.files)

    def batch(self, indices: Tensor | Sequence[int]) -> Tensor:
        idx = self._as_index_tensor(indices)
        if idx.numel() == 0:
            return torch.empty((0, *INFO.image_shape), dtype=torch.float32)
        rows = [decode_celeba_image(self.image_dir / self.files[i]) for i in idx.tolist()]
        return torch.stack(rows).to(torch.float32).div_(255.0)  # [B, 3, SIZE, SIZE]

    def head(self, n: int) -> CelebADataset:
        if n >= len(self):
            return self
        return CelebADataset(self.split, self.image_dir, self.files[:n])

    def _fingerprint_parts(self) -> list[bytes]:
        return [_TRANSFORM.encode(), "\n".join(self.files).encode()]


def _probe(folder: Path) -> dict[str, Path] | None:
    images, partition = folder / _IMAGES, folder / _PARTITION
    if images.is_dir() and partition.is_file():
        return {"images": images, "partition": partition}
    return None


@register_dataset(INFO)
def load_celeba(split: str, search_dirs: list[Path]) -> CelebADataset:
    """Find CelebA and return the lazy ``split`` (``"train"``, ``"valid"`` or ``"test"``).

    :raises MissingResourceError: when no search directory holds ``celeba/img_align_celeba/`` and
        ``celeba/list_eval_partition.txt``, or when the split's first or last image is missing.
    """
    found = find_first(search_dirs, (_FOLDER,), _probe)
    if found is None:
        raise missing_dataset_error(INFO.name, split, search_dirs, (_FOLDER,), INFO.how_to_get)
    files = read_partition(found["partition"])[PARTITION_CODES[split]]
    if not files:
        raise UsageError(f"CelebA partition file {found['partition']} lists no images for split {split!r}")
    for name in {files[0], files[-1]}:  # cheap check for a partial extraction
        if not (found["images"] / name).is_file():
            raise MissingResourceError(
                f"CelebA image {found['images'] / name} is listed in {found['partition']} but missing; "
                "re-extract img_align_celeba.zip",
                "--dataset",
            )
    return CelebADataset(split, found["images"], files)
