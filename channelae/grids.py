"""Parsing of grid arguments: one value, a comma list, or an inclusive range ``start:stop:step``.

``--eps 0.5`` (one value E) means the grid ``0 … E`` in ten steps (so a DD-curve and its AADDC exist),
with E itself highlighted; ``--eps 0:1:0.1`` and ``--eps 0,0.2,0.5`` are taken as written.
``--snr-db`` accepts the same forms plus ``inf`` (noiseless).
"""

from __future__ import annotations

import math

from channelae.errors import UsageError

__all__ = ["MAX_POINTS", "eps_grid", "parse_grid", "parse_values"]

MAX_POINTS = 10_000


def _number(text: str, argument: str, allow_inf: bool) -> float:
    t = text.strip().lower()
    if t in ("inf", "+inf", "noiseless") and allow_inf:
        return math.inf
    try:
        v = float(t)
    except ValueError:
        raise UsageError(f"{text.strip()!r} is not a number", argument) from None
    if math.isnan(v):
        raise UsageError("NaN is not allowed", argument)
    if math.isinf(v) and (not allow_inf or v < 0):
        raise UsageError(f"{text.strip()!r} is not allowed here; give finite numbers", argument)
    return v


def parse_values(text: str | float | list[float], argument: str, *, allow_inf: bool = False) -> list[float]:
    """Values of a grid argument as written (``a``, ``a,b,c`` or ``start:stop:step`` inclusive)."""
    if isinstance(text, (int, float)):
        return [_number(str(text), argument, allow_inf)]
    if isinstance(text, (list, tuple)):
        return [v for item in text for v in parse_values(item, argument, allow_inf=allow_inf)]
    s = str(text).strip()
    if not s:
        raise UsageError("is empty; give a value, a list a,b,c or a range start:stop:step", argument)
    if ":" in s:
        parts = s.split(":")
        if len(parts) != 3:
            raise UsageError(f"range {s!r} must be start:stop:step", argument)
        start, stop, step = (_number(p, argument, False) for p in parts)
        if step <= 0:
            raise UsageError(f"range step must be > 0; got {step:g}", argument)
        if stop < start:
            raise UsageError(f"range stop {stop:g} is below its start {start:g}", argument)
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_POINTS:
            raise UsageError(f"range has {count} points; at most {MAX_POINTS}", argument)
        values = [start + i * step for i in range(count)]
        # snap to the step's decimal precision so 0:1:0.1 gives 0.3, not 0.30000000000000004
        digits = max(0, -math.floor(math.log10(step)) + 6)
        return [round(v, digits) for v in values]
    return [_number(p, argument, allow_inf) for p in s.split(",") if p.strip() != ""] or \
        parse_values("", argument)


def parse_grid(text: str | float | list[float], argument: str, *, allow_inf: bool = False,
               non_negative: bool = False) -> list[float]:
    """Values as written, checked: no duplicates, ``>= 0`` when ``non_negative``."""
    values = parse_values(text, argument, allow_inf=allow_inf)
    if non_negative and any(v < 0 for v in values):
        raise UsageError(f"values must be >= 0; got {min(values):g}", argument)
    if len(set(values)) != len(values):
        raise UsageError("values must not repeat", argument)
    return values


def eps_grid(text: str | float | list[float], argument: str = "--eps") -> tuple[list[float], float]:
    """Budget grid (sorted ascending) and the highlighted value.

    One value ``E > 0`` expands to ``0, E/10, …, E``; lists and ranges are taken as written (sorted). The
    highlighted value is ``E`` for one value, else the largest budget.
    """
    values = parse_grid(text, argument, non_negative=argument == "--eps")
    if len(values) == 1:
        e = values[0]
        if argument == "--eps" and e > 0:
            return [round(e * i / 10, 12) for i in range(11)], e
        return values, e
    values = sorted(values)
    return values, values[-1]
