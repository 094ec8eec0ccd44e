"""``noise-jammer``: the natural-noise control of the PGD jammer (SPEC §2).

A perturbation of exactly the same norm as the PGD jammer's budget, in a uniformly random direction
(a Gaussian vector normalised to that norm), added at the same placement. The direction is drawn once per
example and shared across the budgets of a grid, so the noise DD-curve is a clean function of ε.
Budgets as for the PGD jammer: ε in ``link`` units (default: L2 norm of the symbol perturbation, Es = 1, so
``JSR = ε²/n``) or ``latent`` units (the study's), or ``jsr_db``. On a resource grid (after ``ofdm``) the
direction is drawn over the REs selected by ``res`` / ``subcarriers`` alone (:mod:`channelae.channels._budget`).
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
    check_eps_unit,
    check_res_options,
    expand_for_grid,
    grid_selection,
    place_on_res,
    signal_symbols,
    symbol_radius,
)
from channelae.channels.base import Channel, ChannelState, Tail, draw_shape, private_generator
from channelae.errors import UsageError

__all__ = ["NoiseJammer", "jammer_radius"]


def jammer_radius(kind: str, values: Tensor, state: ChannelState, argument: str | None = None,
                  eps_unit: str = "link") -> Tensor:
    """Symbol-space L2 radius ``[E]`` (link units, Es = 1) of a budget for the link in ``state.ctx``.

    :param kind: ``eps`` (``values`` in ``eps_unit``: ``link`` or ``latent``) or ``jsr_db`` (dB).
    :param state: needs ``ctx.gain`` (latent units) and the symbol count (:func:`signal_symbols`).
    """
    ctx = state.ctx
    if ctx is None:
        raise UsageError("jammers need the link's gain and symbol count: run them inside a channelae Link "
                         "(or pass ChannelState.start(s, ctx=LinkContext(...)))", argument)
    radius = symbol_radius(kind, values, ctx.gain, signal_symbols(state), eps_unit)
    return radius.to(dtype=state.y.real.dtype, device=state.y.device)


@CHANNELS.register("noise-jammer")
class NoiseJammer(Channel):
    """Random-direction perturbation with the PGD budget's norm.

    :param eps: L2 norm(s) per example (one value or a grid ``[E]``), in ``eps_unit``.
    :param jsr_db: or the jammer-to-signal ratio(s) in dB on the transmitted symbols.
    :param placement: ``rx`` (after fading, default) or ``tx`` (added to s before the fading).
    :param eps_unit: ``link`` (default: transmitted symbols with Es = 1, ``JSR = ε²/n``) or ``latent``
        (the study's latent L2 norm, ``g·ε`` in symbols).
    :param res: on a resource grid (after ``ofdm``): ``data``, ``pilots`` or ``all`` (default on a grid: data
        and pilots); ``subcarriers``: ``"START:STOP"`` (STOP exclusive; default the whole band). The Gaussian
        direction is drawn over the selected REs alone and normalised there, so the norm is exactly the
        budget and every other RE gets exactly 0. Both refused without a grid.

    :input state: ``y`` complex ``[..., B, n]`` (on a grid ``[..., B, R]``); ``state.ctx`` must carry
        ``gain`` and ``num_symbols``.
    :output state: ``y`` complex ``[..., E, B, n]`` (one slice per budget; on a grid ``[..., E, B, R]``).
    """

    def __init__(self, eps: float | list[float] | Tensor | None = None,
                 jsr_db: float | list[float] | Tensor | None = None, placement: str = "rx",
                 eps_unit: str = "link", res: str | None = None,
                 subcarriers: str | tuple[int, int] | None = None) -> None:
        super().__init__()
        self.budget_kind, self.budget = budget_grid(eps, jsr_db)
        self.placement = check_one_of(placement, PLACEMENTS, "placement")
        self.eps_unit = check_eps_unit(eps_unit)
        self.res, self.subcarriers = check_res_options(res, subcarriers)

    def apply(self, state: ChannelState, snr_db: float | Tensor | None = None, *, tail: Tail | None = None,
              generator: torch.Generator | None = None) -> ChannelState:
        radius = jammer_radius(self.budget_kind, self.budget, state, None, self.eps_unit)  # [E]
        sel = grid_selection(state, self.res, self.subcarriers, "noise-jammer")  # REs it may touch, or None
        y = state.y.unsqueeze(-3)  # [..., 1, B, n] (on a grid n = R REs)
        shape = list(y.shape)
        n = shape[-1]
        m = n if sel is None else sel.numel()  # complex coordinates drawn: the selected REs
        shape[-1] = m
        # the direction is the jammer's own draw, from a private generator seeded with one draw of the link's
        # (the link's stream is consumed as by the PGD jammer: common random numbers; channels/base.py), one
        # per image, shared along the state's shared dims (SNR points) and the budgets
        g = torch.randn(draw_shape(state, shape[:-1] + [2 * shape[-1]]),
                        generator=private_generator(generator, "noise-jammer"), dtype=y.real.dtype,
                        device=y.device)
        g = g / g.norm(dim=-1, keepdim=True).clamp_min(1e-30)
        delta = g.expand(shape[:-1] + [2 * m]) * radius.reshape(-1, 1, 1)  # [..., E, B, 2m]
        delta_c = place_on_res(torch.complex(delta[..., :m], delta[..., m:]), sel, n)
        h = expand_for_grid(state.h)
        self.last_delta = delta_c.detach()
        return state.with_budget_dim(y=add_perturbation(y, h, delta_c, self.placement), h=h,
                                     no=expand_for_grid(state.no))
