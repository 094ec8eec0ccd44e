"""A reader for the IDX format of MNIST and Fashion-MNIST (plain or gzip-compressed).

IDX layout (all integers big-endian): a 4-byte magic number ``0x00 0x00 <dtype code> <ndim>``, then
``ndim`` uint32 dimension sizes, then the values in C order. Dtype codes: ``0x08`` uint8, ``0x09`` int8,
``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64. MNIST images are ``0x00000803``
(uint8, ``[N, rows, cols]``) and labels ``0x00000801`` (uint8, ``[N]``).

Every problem with a file (unreadable, bad gzip stream, bad magic, size that does not match the header)
raises :class:`~channelae.errors.UsageError` naming the file.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from channelae.errors import UsageError

__all__ = ["IDX_DTYPES", "read_idx", "read_idx_images", "read_idx_labels", "write_idx"]

#: IDX dtype code → numpy dtype (big-endian).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """File contents, gunzipped when the file starts with the gzip magic (whatever its extension)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read IDX file {path}: {exc.strerror or exc}") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise UsageError(f"corrupt gzip stream in IDX file {path}: {exc}") from None
    if path.suffix == ".gz":
        raise UsageError(f"IDX file {path} ends in .gz but is not gzip-compressed")
    return raw


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (plain or gzip) into a native-endian numpy array of the header's shape.

    :param path: the file.
    :return: array with the dims from the header and the dtype from the dtype code.
    :raises UsageError: naming the file, when it cannot be read or does not match the IDX format.
    """
    path = Path(path)
    buf = _read_bytes(path)
    if len(buf) < 4:
        raise UsageError(f"IDX file {path} is truncated: {len(buf)} bytes, no header")
    if buf[0] != 0 or buf[1] != 0 or buf[2] not in IDX_DTYPES:
        raise UsageError(f"IDX file {path} has a bad magic number 0x{buf[:4].hex()}")
    dtype = IDX_DTYPES[buf[2]]
    ndim = buf[3]
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise UsageError(f"IDX file {path} is truncated: header needs {header} bytes, file has {len(buf)}")
    dims = tuple(int(d) for d in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    expected = header + math.prod(dims) * dtype.itemsize
    if len(buf) != expected:
        what = "truncated" if len(buf) < expected else "longer than its header says"
        raise UsageError(
            f"IDX file {path} is {what}: header dims {dims} need {expected} bytes, file has {len(buf)}"
        )
    arr = np.frombuffer(buf, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx_images(path: str | Path) -> np.ndarray:
    """Read an IDX image file (magic ``0x00000803``): uint8 ``[N, rows, cols]``."""
    arr = read_idx(path)
    if arr.dtype != np.uint8 or arr.ndim != 3:
        raise UsageError(
            f"IDX file {path} is not an image file (want magic 0x00000803: uint8, 3 dims); "
            f"got {arr.dtype}, {arr.ndim} dims"
        )
    return arr


def read_idx_labels(path: str | Path) -> np.ndarray:
    """Read an IDX label file (magic ``0x00000801``): uint8 ``[N]``."""
    arr = read_idx(path)
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise UsageError(
            f"IDX file {path} is not a label file (want magic 0x00000801: uint8, 1 dim); "
            f"got {arr.dtype}, {arr.ndim} dims"
        )
    return arr


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``).

    The inverse of :func:`read_idx`; used to prepare data and in tests.
    """
    path = Path(path)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    native = np.dtype(array.dtype).newbyteorder("=")
    if native not in codes:
        raise ValueError(f"dtype {array.dtype} has no IDX code")
    big = IDX_DTYPES[codes[native]]
    header = bytes([0, 0, codes[native], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=big).tobytes()
    path.write_bytes(gzip.compress(payload, mtime=0) if path.suffix == ".gz" else payload)
    return path
