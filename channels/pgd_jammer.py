"""``pgd-jammer``: a white-box adversary on the link that perturbs the transmitted latent (SPEC §2).

It knows the decoder, the channel realised *before* it (``h``) and the receiver, and optimises its
perturbation ``δ`` (complex, ``[..., E, B, n]``, one per budget and example) through the rest of the link
(the ``tail``: later channel stages, receiver, decoder) with :func:`channelae.attacks.pgd`:

- untargeted: maximise ``D(dec(ẑ_adv), dec(z0))`` (study Eq. 4), ``dec(z0)`` the clean reconstruction;
- targeted: minimise ``D(dec(ẑ_adv), x_t)`` (Eq. 5).

Random stages after the jammer (noise, fading that it does not know) are averaged over ``eot`` draws per
step (expectation over transformation); the returned state is then passed on, so the evaluation uses fresh
draws the jammer did not see. Budget: ``eps`` (latent L2 per example) or ``jsr_db``; a grid of ``E`` values
runs in one batched pass.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from channelae._validation import check_int_range, check_one_of
from channelae.attacks import DISTANCES, MODES, NORMS, distance, pgd, resolve_target
from channelae.channels import CHANNELS
from channelae.channels._budget import PLACEMENTS, add_perturbation, budget_grid, expand_for_grid
from channelae.channels.base import Channel, ChannelState, Tail
from channelae.channels.noise_jammer import jammer_radius
from channelae.errors import UsageError

__all__ = ["PGDJammer"]


@CHANNELS.register("pgd-jammer")
class PGDJammer(Channel):
    """Latent-space PGD jammer on the link.

    :param eps: latent-space L2 norm(s) per example (one value or a grid ``[E]``).
    :param jsr_db: or jammer-to-signal ratio(s) in dB on the transmitted symbols.
    :param placement: ``rx`` (after fading; default) or ``tx`` (added to s before the fading).
    :param target: ``None`` (untargeted), ``black``, ``white``, ``random``, ``inverted`` or an image path.
    :param distance: ``mse`` (default), ``l1``, ``ssim`` (1 − SSIM) or ``lpips``.
    :param mode: ``strong`` (default) or ``faithful`` (study Eq. 6).
    :param steps: PGD iterations ``K`` (10).
    :param restarts: random restarts (strong mode).
    :param norm: ``l2`` (default) or ``linf`` (strong mode; per real coordinate bound ε/sqrt(2n)).
    :param eot: channel draws averaged per step (expectation over transformation).
    :param alpha: faithful mode's step in latent units (1).

    :input state: ``y`` complex ``[..., B, n]``; ``state.ctx`` a :class:`~channelae.link.LinkContext`.
    :output state: ``y`` complex ``[..., E, B, n]``.
    """

    needs_decoder = True
    #: Decoder rows per objective evaluation (whole budgets per pass, at least one): bounds memory, and on
    #: CPU passes of ~128-256 rows of the 28×28 decoder are ~25% faster per row than one pass of ~700.
    max_rows: int = 256

    def __init__(
        self,
        eps: float | list[float] | Tensor | None = None,
        jsr_db: float | list[float] | Tensor | None = None,
        placement: str = "rx",
        target: str | os.PathLike[str] | None = None,
        distance: str = "mse",
        mode: str = "strong",
        steps: int = 10,
        restarts: int = 1,
        norm: str = "l2",
        eot: int = 1,
        alpha: float = 1.0,
    ) -> None:
        super().__init__()
        self.budget_kind, self.budget = budget_grid(eps, jsr_db)
        self.placement = check_one_of(placement, PLACEMENTS, "--placement")
        if target is not None and not isinstance(target, (str, os.PathLike)):
            raise UsageError(f"must be a target name or an image path; got {target!r}", "--target")
        if isinstance(target, str) and target not in ("black", "white", "random", "inverted", "none") and \
                not os.path.isfile(target):
            raise UsageError(f"unknown target {target!r}; allowed: black, white, random, inverted or an "
                             "image file", "--target")
        self.target = None if target == "none" else target
        self.distance = check_one_of(distance, DISTANCES, "--distance")
        self.mode = check_one_of(mode, MODES, "--mode")
        self.steps = check_int_range(steps, "--steps", low=1, high=10_000)
        self.restarts = check_int_range(restarts, "--restarts", low=1, high=1000)
        self.norm = check_one_of(norm, NORMS, "--norm")
        self.eot = check_int_range(eot, "--eot", low=1, high=10_000)
        self.alpha = float(alpha)
        self.lpips_metric = None  # set by the link builder when distance == "lpips"

    def apply(self, state: ChannelState, snr_db: float | Tensor | None = None, *, tail: Tail | None = None,
              generator: torch.Generator | None = None) -> ChannelState:
        if tail is None or state.ctx is None:
            raise UsageError("pgd-jammer needs the decoder: use it inside a channelae Link", "--channel")
        ctx = state.ctx
        radius = jammer_radius(self.budget_kind, self.budget, state, "--channel")  # [E] symbol units
        y = state.y.unsqueeze(-3)  # [..., 1, B, n]
        h = expand_for_grid(state.h)
        no = expand_for_grid(state.no)
        B, n = y.shape[-2], y.shape[-1]
        lead = list(y.shape[:-3])
        shape = torch.Size(lead + [radius.numel(), B, 2 * n])

        clean = ctx.clean  # [B, C, H, W]
        tgt = resolve_target(self.target, clean, generator=generator)
        ref = clean if tgt is None else tgt
        sign = 1.0 if tgt is None else -1.0
        N = self.eot

        def rep(t: Tensor, dim: int) -> Tensor:
            return t if N == 1 else t.repeat_interleave(N, dim=dim)

        def rep_b(t: Tensor) -> Tensor:  # h and no carry a B dim only for some channels
            return rep(t, -2) if t.dim() >= 2 and t.shape[-2] == B else t

        y_e, h_e, no_e = rep(y, -2), rep_b(h), rep_b(no)
        ref_e = rep(ref, 0) if ref.shape[0] == B else ref

        def objective(delta: Tensor) -> Tensor:
            dc = torch.complex(delta[..., :n], delta[..., n:])
            st = state.replace(y=add_perturbation(y_e, h_e, rep(dc, -2), self.placement), h=h_e, no=no_e)
            d = distance(self.distance, tail(st), ref_e, lpips_metric=self.lpips_metric)  # [..., E, N·B]
            if N > 1:
                d = d.reshape(*d.shape[:-1], B, N).mean(-1)
            return sign * d

        alpha = self.alpha * ctx.gain  # latent units -> symbol units
        if self.norm == "linf":
            radius = radius / (2 * n) ** 0.5
        # A budget of 0 admits only δ = 0: search the others alone (saves a decoder pass of B rows per
        # step for the ε = 0 point of a grid; random starts are shared along E, so results are unchanged).
        delta = torch.zeros(shape, dtype=y.real.dtype, device=y.device)
        active = (radius > 0).nonzero().flatten()
        if active.numel():
            sub = shape[:-3] + torch.Size([active.numel()]) + shape[-2:]
            rsub = radius[active].reshape([1] * len(lead) + [active.numel(), 1])
            rows = max(1, sub[:-3].numel() * B * N)  # decoder rows per budget
            chunk = (len(lead), max(1, self.max_rows // rows))  # whole budgets per decoder pass
            found = pgd(objective, sub, rsub, mode=self.mode, steps=self.steps, restarts=self.restarts,
                        norm=self.norm, alpha=alpha, generator=generator, dtype=y.real.dtype, device=y.device,
                        chunk=chunk)
            delta = delta.index_copy(len(lead), active, found)
        delta_c = torch.complex(delta[..., :n], delta[..., n:])
        self.last_delta = delta_c
        return state.replace(y=add_perturbation(y, h, delta_c, self.placement), h=h, no=no)
