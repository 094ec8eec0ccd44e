"""Jammers on the digital link: the channel spec's ``pgd-jammer`` becomes a PGD on the demapper's LLRs.

The LDPC belief-propagation decoder is not a usable gradient path (its messages saturate and the gradient
vanishes at high SNR), and the image after it is a step function of the bits. So the digital PGD jammer
maximises a differentiable *surrogate* through channel, equaliser and APP demapper only, and is then
evaluated through the real hard-decision LDPC decoder:

    surrogate(δ) = mean over the example's coded bits b of  min( BCE(LLR_b(δ), b), ln 4 )

- ``LLR_b`` are Sionna's APP demapper LLRs of the equalised symbols, computed in float64 with the
  receiver's noise variance *plus* the jammer's own mean power per complex symbol ``ρ = radius² / n_c``
  (``= JSR·Es``; as if the jammer were Gaussian noise). This temperature keeps the LLRs of bits the budget
  can reach in the range where the cross-entropy has a gradient (without it, at high SNR only the single
  weakest bit would steer each step, and at ``snr_db = inf`` no bit at all: the search then stays at its
  random start, no better than the noise jammer).
- ``BCE(L, b) = softplus(−(2b−1)·L)`` is the receiver's cross-entropy of the transmitted bit (its
  information loss); the cap ``ln 4`` (reached when the surrogate gives the wrong value ≥ 75 % probability)
  stops a flipped bit from absorbing more of the budget, so the attack flips or erases many bits instead of
  a few deeply. (On a d = 10 model with 16-QAM, rate 1/2, caps ln 2, ln 4 and ln 10 did about equally well
  at finite SNR; ln 4 was at or near the best noiseless.)
- Random stages after the jammer (receiver noise, fading it does not know) are averaged over ``eot`` draws.

Budgets, placement, PGD mode/steps/restarts/norm/eot are those of the ``pgd-jammer`` stage it replaces,
with the same definitions: ε is the L2 norm of the perturbation of the example's ``n_c`` channel symbols
(``Es = 1``) and ``JSR = ε²/n_c``; the digital link's context has ``gain = 1`` and ``num_symbols = n_c``.
The optimisation itself is :func:`channelae.attacks.pgd` on a float64 perturbation (the stage's
``attack_precision`` does not apply: there is no decoder pass to speed up). ``target``/``distance`` (image
objectives) do not apply and are refused. The ``noise-jammer`` stage works unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from channelae.attacks import pgd
from channelae.channels import Channel
from channelae.channels._budget import add_perturbation, expand_for_grid
from channelae.channels.base import ChannelState, Tail, call_tail, private_generator
from channelae.channels.compose import Compose
from channelae.channels.noise_jammer import jammer_radius
from channelae.channels.pgd_jammer import PGDJammer, search_passes
from channelae.errors import UsageError

__all__ = ["BCE_CAP", "DigitalPGDJammer", "digital_channel", "llr_surrogate"]

#: Per-bit cap of the surrogate's cross-entropy: ln 4 (the wrong value at ≥ 75 % probability).
BCE_CAP: float = math.log(4.0)


def llr_surrogate(llr: Tensor, bits: Tensor, cap: float = BCE_CAP) -> Tensor:
    """Capped binary cross-entropy of LLRs (logits ``ln P(1)/P(0)``) against bits, averaged per example.

    :param llr: ``[..., N]`` LLRs of the coded bits.
    :param bits: ``[..., N]`` transmitted bits (0/1), broadcasting to ``llr``.
    :return: ``[...]``, in nats per bit, in ``[0, cap]``.
    """
    margin = (2.0 * bits.to(llr.dtype) - 1.0) * llr
    return F.softplus(-margin).clamp(max=cap).mean(-1)


class DigitalPGDJammer(Channel):
    """PGD on the digital link's LLR surrogate (module docstring), with a ``pgd-jammer``'s settings.

    :param spec: the :class:`~channelae.channels.pgd_jammer.PGDJammer` whose budget and PGD options it uses
        (``None``: build one from ``options``).
    :param options: ``pgd-jammer`` options (``eps``/``jsr_db``, ``placement``, ``mode``, ``steps``, ...),
        when ``spec`` is ``None``.

    :input state: ``y`` complex ``[..., B, n_c]``; ``state.ctx`` a :class:`~channelae.digital.link.
        DigitalContext`; ``tail(state)`` returns the LLRs ``[..., B, C·n_cw]``.
    :output state: ``y`` complex ``[..., E, B, n_c]``.
    """

    needs_decoder = True
    #: Multiplier of the jammer power ``ρ`` added to the surrogate's noise variance (the temperature).
    temperature: float = 1.0
    #: Per-bit cap of the surrogate's cross-entropy.
    cap: float = BCE_CAP

    def __init__(self, spec: PGDJammer | None = None, **options: Any) -> None:
        super().__init__()
        if spec is None:
            spec = PGDJammer(**options)
        elif options:
            raise TypeError("give either a PGDJammer or its options, not both")
        if getattr(spec, "target", None) is not None:
            raise UsageError("the digital link's PGD jammer maximises the coded bits' cross-entropy; image "
                             "targets do not apply (leave --target unset)", "--target")
        if getattr(spec, "distance", "mse") != "mse":
            raise UsageError("the digital link's PGD jammer maximises the coded bits' cross-entropy; image "
                             "distances do not apply (leave --distance at mse)", "--distance")
        self.spec = spec
        self.last_delta: Tensor | None = None
        #: ``progress(done, total)`` after each evaluation of the search (``simulate`` draws its bar with it).
        self.progress: Callable[[int, int], None] | None = None

    def apply(self, state: ChannelState, snr_db: float | Tensor | None = None, *, tail: Tail | None = None,
              generator: torch.Generator | None = None) -> ChannelState:
        ctx = state.ctx
        if tail is None or getattr(ctx, "coded_bits", None) is None:
            raise UsageError("the digital PGD jammer needs the digital link's demapper: use it inside a "
                             "DigitalLink", "channel")
        sp = self.spec
        # common random numbers: the jammer's randomness (random starts, the draws of later random stages in
        # its search) comes from a private generator seeded with exactly one draw of the link's, as for the
        # analog PGD jammer and the noise jammer, so the link's stream after it is the same in every link
        gen = private_generator(generator, "pgd-jammer")
        start_gen = private_generator(gen, "digital pgd-jammer starts")
        radius = jammer_radius(sp.budget_kind, sp.budget, state, "channel")  # [E], symbol units
        y = state.y.unsqueeze(-3)  # [..., 1, B, n]
        h = expand_for_grid(state.h)
        no = expand_for_grid(state.no)
        B, n = y.shape[-2], y.shape[-1]
        lead = list(y.shape[:-3])
        shape = torch.Size(lead + [radius.numel(), B, 2 * n])
        N = sp.eot or 1  # the digital search averages draws only when asked
        bits = ctx.coded_bits if N == 1 else ctx.coded_bits.repeat_interleave(N, dim=0)  # [N·B, C·n_cw]

        def rep(t: Tensor, dim: int) -> Tensor:
            return t if N == 1 else t.repeat_interleave(N, dim=dim)

        def rep_b(t: Tensor) -> Tensor:  # h and no carry a B dim only for some channels
            return rep(t, -2) if t.dim() >= 2 and t.shape[-2] == B else t

        wide = torch.complex128  # float64 surrogate: confident bits keep a (small) gradient
        y_e, h_e, no_e = rep(y, -2).to(wide), rep_b(h).to(wide), rep_b(no).double()

        delta = torch.zeros(shape, dtype=torch.float64, device=y.device)
        active = (radius > 0).nonzero().flatten()
        if active.numel():
            r = radius[active].double()
            rho = self.temperature * (r.square() / n).reshape(-1, 1, 1)  # jammer power per complex symbol, per budget
            ctx_s = dataclasses.replace(ctx, surrogate_no=rho)

            passes = search_passes(sp.mode, sp.steps, sp.restarts, 1, False)  # pgd: one start, fp32
            done = 0

            def objective(d: Tensor) -> Tensor:
                nonlocal done
                if self.progress is not None:
                    done += 1
                    self.progress(min(done, passes), passes)
                dc = torch.complex(d[..., :n], d[..., n:])
                st = state.with_budget_dim(y=add_perturbation(y_e, h_e, rep(dc, -2), sp.placement), h=h_e,
                                           no=no_e, ctx=ctx_s)
                v = llr_surrogate(call_tail(tail, st, gen), bits, self.cap)  # [..., E', N·B]
                return v if N == 1 else v.reshape(*v.shape[:-1], B, N).mean(-1)

            rsub = r.reshape([1] * len(lead) + [active.numel(), 1])
            if sp.norm == "linf":
                rsub = rsub / math.sqrt(2 * n)
            sub = shape[:-3] + torch.Size([active.numel()]) + shape[-2:]
            found = pgd(objective, sub, rsub, mode=sp.mode, steps=sp.steps, restarts=sp.restarts, norm=sp.norm,
                        alpha=sp.alpha, generator=start_gen, dtype=torch.float64, device=y.device)
            delta = delta.index_copy(len(lead), active, found)
        delta = delta.to(y.real.dtype)
        delta_c = torch.complex(delta[..., :n], delta[..., n:])
        self.last_delta = delta_c
        # the budget dim joins the shared dims: later random stages draw one realisation for every budget
        return state.with_budget_dim(y=add_perturbation(y, h, delta_c, sp.placement), h=h, no=no)

    def extra_repr(self) -> str:
        sp = self.spec
        return (f"{sp.budget_kind}={sp.budget.tolist()}, placement={sp.placement!r}, mode={sp.mode!r}, "
                f"steps={sp.steps}, restarts={sp.restarts}, eot={sp.eot or 1}")


def digital_channel(spec: str | Channel, **options: Any) -> Channel:
    """The digital link's channel: :func:`channelae.link.link_channel` (receiver noise appended when no stage
    adds it), with every ``pgd-jammer`` stage replaced by a :class:`DigitalPGDJammer` of the same settings.

    :raises UsageError: for other stages that need the image decoder (they cannot run on the digital link),
        and for latent-unit budgets (the digital link has no latent-space perturbation).
    """
    from channelae.link.link import link_channel

    ch = link_channel(spec, **options)
    stages = list(ch.stages) if isinstance(ch, Compose) else [ch]
    out: list[Channel] = []
    for st in stages:
        if getattr(st, "eps_unit", None) == "latent":
            raise UsageError("the digital link perturbs QAM symbols, not the latent: give --eps in link units "
                             "(symbol L2 norm, Es = 1) or --jsr-db", "--eps-unit")
        if isinstance(st, PGDJammer):
            st = DigitalPGDJammer(st)
        elif st.needs_decoder and not isinstance(st, DigitalPGDJammer):
            raise UsageError(f"channel stage {type(st).__name__} needs the image decoder; the digital link "
                             "supports pgd-jammer (on the LLRs) and noise-jammer", "channel")
        out.append(st)
    return out[0] if len(out) == 1 else Compose(out)
