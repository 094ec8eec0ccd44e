"""Jammer budgets shared by the PGD and noise jammers (SPEC §2): ε (latent L2) or JSR (dB) → symbol radius."""

from __future__ import annotations

import torch
from torch import Tensor

from channelae._validation import check_finite, check_one_of
from channelae.errors import UsageError

__all__ = ["PLACEMENTS", "add_perturbation", "budget_grid", "expand_for_grid", "symbol_radius"]

PLACEMENTS = ("rx", "tx")


def budget_grid(eps: float | list[float] | Tensor | None, jsr_db: float | list[float] | Tensor | None
                ) -> tuple[str, Tensor]:
    """``("eps", ε [E])`` or ``("jsr_db", JSR [E])`` from exactly one of the two; validated."""
    if (eps is None) == (jsr_db is None):
        raise UsageError("give exactly one jammer budget: --eps (latent L2 norm) or --jsr-db (dB)",
                         "--eps" if eps is not None else "--jsr-db")
    name, values = ("eps", eps) if eps is not None else ("jsr_db", jsr_db)
    arg = "--eps" if name == "eps" else "--jsr-db"
    t = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    if t.numel() == 0:
        raise UsageError("needs at least one value", arg)
    if name == "eps":
        for v in t.tolist():
            if not (v >= 0 and v != float("inf")):
                raise UsageError(f"budgets must be finite and >= 0; got {v}", arg)
    else:
        for v in t.tolist():
            if v != float("-inf"):
                check_finite(v, arg)
    return name, t


def symbol_radius(kind: str, values: Tensor, gain: float, n: int) -> Tensor:
    """L2 radius of the perturbation in transmitted-symbol units (real view: 2n coordinates).

    ``eps``: ``g·ε`` (ε in latent units); ``jsr_db``: ``sqrt(n·Es·10^(JSR/10))`` (Es = 1).
    """
    from channelae.definitions import jsr_db_to_eps

    if kind == "eps":
        return values * gain
    return jsr_db_to_eps(values, gain, n) * gain


def expand_for_grid(t: Tensor) -> Tensor:
    """Insert the budget dim at ``-3`` in ``h``/``no`` that carry leading dims before ``[B, n]``."""
    return t.unsqueeze(-3) if t.dim() >= 3 else t


def add_perturbation(y: Tensor, h: Tensor, delta: Tensor, placement: str) -> Tensor:
    """``y + δ`` (``rx``: at the receiver) or ``y + h·δ`` (``tx``: added to s before the fading so far)."""
    check_one_of(placement, PLACEMENTS, "--placement")
    return y + (h * delta if placement == "tx" else delta)
