"""Jammer budgets shared by the PGD and noise jammers (SPEC §2): ε (L2 norm per example, in ``link`` or
``latent`` units) or JSR (dB) → the L2 radius of the perturbation in transmitted-symbol units (Es = 1).

The conversions themselves live in :mod:`channelae.definitions`; this module only applies them to a link
state (gain ``g`` and symbol count ``n`` from the link context).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from channelae._validation import check_finite, check_one_of
from channelae.definitions import EPS_UNITS
from channelae.errors import UsageError

if TYPE_CHECKING:
    from channelae.channels.base import ChannelState

__all__ = ["EPS_UNITS", "PLACEMENTS", "add_perturbation", "budget_grid", "check_eps_unit", "expand_for_grid",
           "signal_symbols", "symbol_radius"]

PLACEMENTS = ("rx", "tx")


def budget_grid(eps: float | list[float] | Tensor | None, jsr_db: float | list[float] | Tensor | None
                ) -> tuple[str, Tensor]:
    """``("eps", ε [E])`` or ``("jsr_db", JSR [E])`` from exactly one of the two; validated."""
    if (eps is None) == (jsr_db is None):
        raise UsageError("give exactly one jammer budget: --eps (L2 norm per example) or --jsr-db (dB)",
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


def check_eps_unit(unit: str) -> str:
    """``unit`` if it is one of :data:`EPS_UNITS` (``link``, ``latent``), else a one-line usage error."""
    return check_one_of(unit, EPS_UNITS, "--eps-unit")


def signal_symbols(state: ChannelState) -> int:
    """Complex symbols ``n`` per example that the transmitted signal occupies: the ``n`` of
    ``JSR = ‖δ_s‖² / (n·Es)``. The one place that decides it: the link context's ``signal_symbols`` when a
    stage sets one (a channel that spreads an example over more resource elements than ``ceil(d/2)``, e.g.
    OFDM with pilots, passes on a context that carries it), otherwise its ``num_symbols``."""
    ctx = state.ctx
    n = getattr(ctx, "signal_symbols", None)
    return int(ctx.num_symbols if n is None else n)


def symbol_radius(kind: str, values: Tensor, gain: float, n: int, eps_unit: str = "link") -> Tensor:
    """L2 radius of the perturbation in transmitted-symbol units (Es = 1; real view: 2n coordinates), float64.

    ``eps``: ``ε`` (``eps_unit = "link"``) or ``g·ε`` (``"latent"``); ``jsr_db``: ``sqrt(n·Es·10^(JSR/10))``.
    """
    from channelae.definitions import eps_to_link, jsr_db_to_link_eps

    if kind == "eps":
        return eps_to_link(values, check_eps_unit(eps_unit), gain)
    return jsr_db_to_link_eps(values, n)


def expand_for_grid(t: Tensor) -> Tensor:
    """Insert the budget dim at ``-3`` in ``h``/``no`` that carry leading dims before ``[B, n]``."""
    return t.unsqueeze(-3) if t.dim() >= 3 else t


def add_perturbation(y: Tensor, h: Tensor, delta: Tensor, placement: str) -> Tensor:
    """``y + δ`` (``rx``: at the receiver) or ``y + h·δ`` (``tx``: added to s before the fading so far)."""
    check_one_of(placement, PLACEMENTS, "--placement")
    return y + (h * delta if placement == "tx" else delta)
