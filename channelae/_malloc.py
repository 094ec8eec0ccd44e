"""The command line's allocator setting: keep freed memory for reuse instead of handing it back (glibc).

torch's CPU tensors come from the C library's ``malloc``. glibc serves blocks above its mmap threshold (at
most 32 MiB, adjusted as the process runs) with fresh ``mmap`` calls and returns them on ``free``, so a loop
that allocates the same large activations at every step (the PGD jammer's decoder passes: tens of MiB per
layer) page-faults every one of them in again. Measured on the main job's attack (2-core VM, glibc 2.36,
``run_in_snr_groups`` over its SNR grid, a fresh process per run, four runs each way, alternating): ~2 million
minor page faults and 3.4-7 s of system time per attack, against ~40 thousand and 0.5-0.9 s with the
thresholds below, i.e. 19.0-21.7 s instead of 22.5-25.6 s wall (peak RSS unchanged, ~0.75-0.8 GB).

Only :func:`channelae.cli.main` calls :func:`keep_freed_memory` (a library should not change its host
process's allocator); an explicit ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` in the environment,
or another C library, leaves everything as it is.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["THRESHOLD", "keep_freed_memory"]

#: Blocks up to this size come from the heap, and up to this much free memory at its top is kept (bytes).
THRESHOLD = 256 << 20
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(threshold: int = THRESHOLD) -> bool:
    """Set glibc's mmap and trim thresholds to ``threshold`` bytes; whether it was done."""
    if not sys.platform.startswith("linux"):
        return False
    if any(k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return False
    try:
        libc = ctypes.CDLL(None)
        if not libc.gnu_get_libc_version:  # glibc only (musl's mallopt does nothing)
            return False
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, int(threshold)) and mallopt(_M_TRIM_THRESHOLD, int(threshold)))
