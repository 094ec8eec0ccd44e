"""Small ``check_*`` helpers: each raises :class:`~channelae.errors.UsageError` naming the argument."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from channelae.errors import UsageError

if TYPE_CHECKING:
    import torch

__all__ = [
    "broadcast_shapes",
    "check_device",
    "check_finite",
    "check_int_range",
    "check_non_negative",
    "check_one_of",
    "check_positive",
]


def broadcast_shapes(*shapes: Iterable[int]) -> torch.Size:
    """``torch.broadcast_shapes`` in plain Python (same result; ``RuntimeError`` when the shapes do not
    broadcast). torch's own imports its sympy-backed symbolic shapes on first use (~0.6 s at a command's start)."""
    import torch

    out: list[int] = []
    for shape in shapes:
        dims = [int(v) for v in shape]
        if len(dims) > len(out):
            out = [1] * (len(dims) - len(out)) + out
        for i, v in enumerate(dims, start=len(out) - len(dims)):
            if v != out[i] and v != 1:
                if out[i] != 1:
                    raise RuntimeError(f"shapes {[tuple(s) for s in shapes]} do not broadcast (dim {i}: {out[i]} "
                                       f"vs {v})")
                out[i] = v
    return torch.Size(out)


def check_one_of(value: Any, allowed: Iterable[Any], name: str) -> Any:
    """Return ``value`` if it is in ``allowed``, else raise ``UsageError`` listing the choices."""
    allowed = list(allowed)
    if value not in allowed:
        choices = ", ".join(str(a) for a in allowed)
        raise UsageError(f"must be one of ({choices}); got {value!r}", name)
    return value


def check_finite(value: float, name: str) -> float:
    """Return ``float(value)`` if it is a finite number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"must be a number; got {value!r}", name) from None
    if not math.isfinite(v):
        raise UsageError(f"must be a finite number; got {value!r}", name)
    return v


def check_positive(value: float, name: str) -> float:
    """Return ``value`` if it is a finite number > 0."""
    v = check_finite(value, name)
    if v <= 0:
        raise UsageError(f"must be > 0; got {value!r}", name)
    return v


def check_non_negative(value: float, name: str) -> float:
    """Return ``value`` if it is a finite number >= 0."""
    v = check_finite(value, name)
    if v < 0:
        raise UsageError(f"must be >= 0; got {value!r}", name)
    return v


def check_int_range(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """Return ``int(value)`` if it is an integer within ``[low, high]`` (either bound may be open)."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if float(value) != int(float(value)):
                raise ValueError
            value = int(float(value))
        except (TypeError, ValueError, OverflowError):
            raise UsageError(f"must be an integer; got {value!r}", name) from None
    if low is not None and value < low:
        raise UsageError(f"must be >= {low}; got {value}", name)
    if high is not None and value > high:
        raise UsageError(f"must be <= {high}; got {value}", name)
    return value


def check_device(name: str, argument: str = "--device") -> torch.device:
    """``auto`` (CUDA if available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``; never falls back silently."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise UsageError(f"unknown device {name!r}; allowed: auto, cpu, cuda, cuda:N", argument) from None
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"unsupported device {name!r}; allowed: auto, cpu, cuda, cuda:N", argument)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device {name!r} requested but CUDA is not available here; use cpu", argument)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"device {name!r} does not exist ({torch.cuda.device_count()} CUDA devices)",
                             argument)
    return dev
