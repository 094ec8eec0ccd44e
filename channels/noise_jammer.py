"""``noise-jammer``: the natural-noise control of the PGD jammer (SPEC §2).

A perturbation of exactly the same norm as the PGD jammer's budget, in a uniformly random direction
(a Gaussian vector normalised to that norm), added at the same placement. The direction is drawn once per
example and shared across the budgets of a grid, so the noise DD-curve is a clean function of ε.
"""

from __future__ import annotations

import torch
from torch import Tensor

from channelae._validation import check_one_of
from channelae.channels import CHANNELS
from channelae.channels._budget import (
    PLACEMENTS,
    add_perturbation,
    budget_grid,
    expand_for_grid,
    symbol_radius,
)
from channelae.channels.base import Channel, ChannelState, Tail
from channelae.errors import UsageError

__all__ = ["NoiseJammer", "jammer_radius"]


def jammer_radius(kind: str, values: Tensor, state: ChannelState, argument: str) -> Tensor:
    """Symbol-space L2 radius ``[E]`` of a budget for the link in ``state.ctx`` (needs gain and n)."""
    ctx = state.ctx
    if ctx is None:
        raise UsageError("jammers need the link's gain and symbol count: run them inside a channelae Link "
                         "(or pass ChannelState.start(s, ctx=LinkContext(...)))", argument)
    return symbol_radius(kind, values, ctx.gain, ctx.num_symbols).to(state.y.real.dtype).to(state.y.device)


@CHANNELS.register("noise-jammer")
class NoiseJammer(Channel):
    """Random-direction perturbation with the PGD budget's norm.

    :param eps: latent-space L2 norm(s) per example (one value or a grid ``[E]``).
    :param jsr_db: or the jammer-to-signal ratio(s) in dB on the transmitted symbols.
    :param placement: ``rx`` (after fading, default) or ``tx`` (added to s before the fading).

    :input state: ``y`` complex ``[..., B, n]``; ``state.ctx`` must carry ``gain`` and ``num_symbols``.
    :output state: ``y`` complex ``[..., E, B, n]`` (one slice per budget).
    """

    def __init__(self, eps: float | list[float] | Tensor | None = None,
                 jsr_db: float | list[float] | Tensor | None = None, placement: str = "rx") -> None:
        super().__init__()
        self.budget_kind, self.budget = budget_grid(eps, jsr_db)
        self.placement = check_one_of(placement, PLACEMENTS, "--placement")

    def apply(self, state: ChannelState, snr_db: float | Tensor | None = None, *, tail: Tail | None = None,
              generator: torch.Generator | None = None) -> ChannelState:
        radius = jammer_radius(self.budget_kind, self.budget, state, "--channel")  # [E]
        y = state.y.unsqueeze(-3)  # [..., 1, B, n]
        shape = list(y.shape)
        g = torch.randn(shape[:-1] + [2 * shape[-1]], generator=generator, dtype=y.real.dtype,
                        device=y.device)
        g = g / g.norm(dim=-1, keepdim=True).clamp_min(1e-30)
        delta = g * radius.reshape(-1, 1, 1)  # [..., E, B, 2n]
        n = shape[-1]
        delta_c = torch.complex(delta[..., :n], delta[..., n:])
        h = expand_for_grid(state.h)
        self.last_delta = delta_c.detach()
        return state.replace(y=add_perturbation(y, h, delta_c, self.placement), h=h,
                             no=expand_for_grid(state.no))
