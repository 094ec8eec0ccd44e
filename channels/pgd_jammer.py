"""``pgd-jammer``: a white-box adversary on the link that perturbs the transmitted symbols (SPEC §2).

It knows the decoder, the channel realised *before* it (``h``) and the receiver, and optimises its
perturbation ``δ`` (complex, ``[..., E, B, n]``, one per budget and example) through the rest of the link
(the ``tail``: later channel stages, receiver, decoder) with :func:`channelae.attacks.attack`:

- untargeted: maximise ``D(dec(ẑ_adv), dec(z0))`` (study Eq. 4), ``dec(z0)`` the clean reconstruction;
- targeted: minimise ``D(dec(ẑ_adv), x_t)`` (Eq. 5).

Random stages after the jammer (noise, fading that it does not know) are drawn afresh at every evaluation of
the search, from the jammer's private generator, one realisation shared by all budgets (and optionally
averaged over ``eot`` draws per step: expectation over transformation); the returned state is then passed on,
so the link evaluates on draws the jammer did not see. Budget: ``eps`` (L2 norm per example; ``link`` units by
default, i.e. of the transmitted-symbol perturbation with Es = 1 so that ``JSR = ε²/n``; or the study's
``latent`` units) or ``jsr_db``; a grid of ``E`` values runs in one batched pass. On a resource grid (after
``ofdm``) it searches over the resource elements that ``res`` / ``subcarriers`` select and adds exactly zero
elsewhere (:mod:`channelae.channels._budget`); the tail then runs channel estimation and equalisation.

The default search is APGD (:mod:`channelae.attacks`) with ``DEFAULT_STEPS = 60`` steps and
``DEFAULT_STARTS = 4`` explored starts, which are (untargeted) ``±v₁, ±v₂``, the top ``DEFAULT_CURVATURE = 2``
eigenvectors of ``JᵀJ`` with ``J`` the Jacobian of the rest of the link (receiver and decoder) with respect to
the perturbation at 0 (:func:`channelae.attacks.curvature_directions`: the maximisers of the objective's
quadratic model; one pass without gradient over ``2·2n`` rows per image, by central differences). That is
72 objective evaluations with gradient and 5 without per budget and image. When the link after the jammer is
random (two unperturbed passes differ: receiver noise, fading it does not know), three things fight the noise
of the search's steps, which is what limits a short search there:

- each evaluation averages ``DEFAULT_EOT = 2`` channel draws per image (unless ``eot`` is given);
- a control variate cancels most of the draw's noise in the values and gradients (:class:`_ControlVariate`;
  one extra budget row per evaluation): without it, normalised gradient steps on single noisy draws wander
  (at 10 dB a 40-step search without it reached ~97.5 % of the damage a long search finds, with it ~100 %);
- the mean of the last half of the iterates is a candidate next to the best iterate, both evaluated afresh
  (``NOISY_AVERAGE``; Polyak–Ruppert averaging, two more evaluations without gradient).

At 10 dB on the default grid, damage per unit of compute went with steps × draws: K = 80 with one draw and
K = 40 with two fell 2-3 % short of a long search at some budgets, K = 60 with two draws did not. (Before:
K = 80 with one draw; K = 60 with 10 random starts; the ``strong`` default with K = 10 before that.) The
convergence bar and its numbers (the damage against a search with 800 steps, 10 random starts and 5 restarts,
on the default model) are in
``benchmarks/README.md`` (``benchmarks/attack_convergence.py``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import torch
from torch import Tensor

from channelae._validation import check_int_range, check_one_of
from channelae.attack_defaults import (
    DEFAULT_ATTACK_PRECISION,
    DEFAULT_CURVATURE,
    DEFAULT_EOT,
    DEFAULT_STARTS,
    DEFAULT_STEPS,
)
from channelae.attacks import (
    APGD_EXPLORE_STEPS,
    DISTANCES,
    MODES,
    NORMS,
    PRECISIONS,
    attack,
    curvature_directions,
    distance,
    resolve_precision,
    resolve_target,
)
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
)
from channelae.channels.base import Channel, ChannelState, Tail, call_tail, private_generator
from channelae.channels.noise_jammer import jammer_radius
from channelae.errors import UsageError

__all__ = ["DEFAULT_ATTACK_PRECISION", "DEFAULT_CURVATURE", "DEFAULT_EOT", "DEFAULT_STARTS", "DEFAULT_STEPS",
           "PGDJammer"]

# DEFAULT_STEPS, DEFAULT_STARTS, DEFAULT_ATTACK_PRECISION (the default search; the module docstring gives the
# convergence bar it meets) live in channelae.attack_defaults, without torch, so the command line can show them.


class _ControlVariate:
    """Cancels most of the channel noise in the search's values and gradients (``apgd`` through a random tail).

    Each evaluation appends one unperturbed row ``δ = 0`` to the budget dim; the tail draws one realisation
    ``w`` shared along that dim (``ChannelState.with_budget_dim``), so the row measures the same noise. With
    ``f_w(δ)`` the objective under draw ``w``:

    - value: ``f_w(δ) − f_w(0) + mean over calls of f_w(0)`` (an estimate of ``E_w f_w(δ)`` whose noise is
      only what ``δ`` changes in it);
    - gradient: ``∇f_w(δ) − ∇f_w(0) + mean over earlier calls of ∇f_w(0)``. Near ``δ = 0`` the draw enters
      both gradients alike (for a quadratic objective ``∇f_w(δ) − ∇f_w(0)`` does not depend on ``w`` at all).

    Per example; costs one extra budget row per evaluation. Both gradients come from one backward pass
    (:class:`_JoinZeroRow`): the caller differentiates ``value.sum()`` (as :func:`channelae.attacks.attack`
    does), and the unperturbed row's gradient is taken from that same pass rather than a second one through
    the decoder.
    """

    def __init__(self) -> None:
        self.value_sum: Tensor | None = None
        self.value_n = 0
        self.grad_sum: Tensor | None = None
        self.grad_n = 0

    def __call__(self, raw: Callable[[Tensor], Tensor], delta: Tensor) -> Tensor:
        """``raw`` maps ``δ [..., E, B, m]`` to objective values ``[..., E, B]`` (one draw shared along E)."""
        grad_on = torch.is_grad_enabled() and delta.requires_grad
        if grad_on:
            joined = _JoinZeroRow.apply(delta, self)
        else:
            joined = torch.cat([delta, torch.zeros_like(delta.narrow(-3, 0, 1))], dim=-3)
        d = raw(joined)
        base = d[..., -1:, :]
        b = base.detach()
        self.value_sum = b if self.value_sum is None else self.value_sum + b
        self.value_n += 1
        out = d[..., :-1, :] - (b - self.value_sum / self.value_n)
        if grad_on:  # adds exactly 0; routes d(sum of the values)/d(base) = 1 into the zero row's gradient
            out = out + (base - b) / out.shape[-2]
        return out

    def record_gradient(self, g0: Tensor) -> Tensor:
        """The correction ``∇f_w(0) − mean over earlier calls of ∇f_w(0)`` for the gradient ``g0`` of the
        unperturbed row ``[..., 1, B, m]`` (recorded for later calls)."""
        mean = g0 if self.grad_sum is None else self.grad_sum / self.grad_n
        self.grad_sum = g0 if self.grad_sum is None else self.grad_sum + g0
        self.grad_n += 1
        return g0 - mean


class _JoinZeroRow(torch.autograd.Function):
    """``δ [..., E, B, m] → [..., E + 1, B, m]`` with an unperturbed row appended along the budget dim.

    Backward: the budget rows' gradients minus the control variate's correction computed from the appended
    row's gradient (:meth:`_ControlVariate.record_gradient`), i.e. the corrected gradient of
    :class:`_ControlVariate` from the one backward pass that also gives the perturbed rows' gradients.
    """

    @staticmethod
    def forward(ctx, delta: Tensor, cv: _ControlVariate) -> Tensor:  # type: ignore[override]
        ctx.cv = cv
        return torch.cat([delta, torch.zeros_like(delta.narrow(-3, 0, 1))], dim=-3)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return grad[..., :-1, :, :] - ctx.cv.record_gradient(grad[..., -1:, :, :]), None


#: Through a random link the ``apgd`` search also tries the mean of the last half of its iterates
#: (:func:`channelae.attacks.attack`, ``average``): at 10 dB on the default grid (128 images, K = 60, two
#: draws) the worst budget's damage ratio to the long reference went 0.980 → 0.983 and the mean 0.990 → 0.992
#: for two evaluations without gradient (``benchmarks/README.md``).
NOISY_AVERAGE = 0.5
#: Budgets per decoder pass beside the control variate's unperturbed row, at least (even past the rows per
#: pass): with fewer, that row's share of the search's work grows to 1/2 (e.g. fp32 passes of 256 rows and
#: budgets of 128 rows: two draws of 64 images).
CV_MIN_BUDGETS = 4


def search_passes(mode: str, steps: int, restarts: int, starts: int, reevaluate: bool,
                   average: bool = False) -> int:
    """Objective evaluations of one :func:`channelae.attacks.attack` call (the count in its module docstring):
    ``K + 1`` per restart (``apgd`` with ``S > 1`` starts: ``S·(k + 1) + K − k + 1``, ``k = min(⌊0.22K⌋, 4)``),
    plus 2 per restart with the iterate averaging (``average``, apgd) and 2 when the values are re-evaluated
    (bf16 search or ``reevaluate``); ``faithful`` runs one restart."""
    if mode == "faithful":
        restarts = 1
    if mode == "apgd" and starts > 1 and steps > 1:
        k = max(min(int(0.22 * steps), APGD_EXPLORE_STEPS), 1)
        per_restart = starts * (k + 1) + steps - k + 1
    else:
        per_restart = steps + 1
    return restarts * (per_restart + (2 if average and mode == "apgd" else 0)) + (2 if reevaluate else 0)


def _random_tail(tail: Tail, state: ChannelState, generator: torch.Generator | None) -> bool:
    """Whether the rest of the link is random: two unperturbed passes (``[..., 1, B]`` rows, no gradient,
    draws from ``generator``) that differ anywhere."""
    with torch.no_grad():
        return not torch.equal(call_tail(tail, state, generator), call_tail(tail, state, generator))


@CHANNELS.register("pgd-jammer")
class PGDJammer(Channel):
    """White-box PGD jammer on the link.

    :param eps: L2 norm(s) per example (one value or a grid ``[E]``), in ``eps_unit``.
    :param jsr_db: or jammer-to-signal ratio(s) in dB on the transmitted symbols (``‖δ_s‖²/(n·Es)``).
    :param eps_unit: ``link`` (default: norm of the transmitted-symbol perturbation with Es = 1, so a clean
        example has ``‖s‖ ≈ √n`` and ``JSR = ε²/n``) or ``latent`` (the study's latent L2 norm; ``g·ε`` in
        symbols, ``g`` the transmitter gain).
    :param placement: ``rx`` (after fading; default) or ``tx`` (added to s before the fading).
    :param target: ``None`` (untargeted), ``black``, ``white``, ``random``, ``inverted`` or an image path.
    :param distance: ``mse`` (default), ``l1``, ``ssim`` (1 − SSIM) or ``lpips``.
    :param mode: ``apgd`` (default; converged, see the module docstring), ``strong`` (fixed step
        ``2.5ε/K``) or ``faithful`` (study Eq. 6); see :mod:`channelae.attacks`.
    :param steps: iterations ``K`` (``DEFAULT_STEPS`` = 60 for ``apgd``; 10 for ``strong`` and ``faithful``,
        the study's K, when not given).
    :param restarts: random restarts (``apgd`` and ``strong``; the best per example is kept).
    :param starts: ``apgd``: starts explored (``min(⌊0.22K⌋, 4)`` steps each) before the best continues
        (``DEFAULT_STARTS`` = 4; the decoder's objective has several local maxima per example): the first
        ``2·curvature`` are the curvature directions (untargeted), the others random points in the ball.
    :param curvature: ``apgd``, untargeted: start from ``±`` the top ``curvature`` eigenvectors of ``JᵀJ`` at
        the unperturbed point (``J``: Jacobian of the reconstruction with respect to the perturbation;
        :func:`channelae.attacks.curvature_directions`), scaled to each budget (``DEFAULT_CURVATURE`` = 2 for
        ``apgd``, else 0; 0 = random starts only; ignored for a targeted attack). Through a random link ``J``
        is taken under one channel draw of the search.
    :param norm: ``l2`` (default) or ``linf`` (per real coordinate bound ε/sqrt(2n)).
    :param eot: channel draws averaged per step (expectation over transformation); default ``None``:
        ``DEFAULT_EOT`` = 2 for ``apgd`` through a random link, else 1.
    :param control_variate: ``apgd`` through a random link: cancel the channel draw in the search's values
        and gradients with an unperturbed row that sees the same draw (default True; see the module docstring).
    :param alpha: faithful mode's sign-step size per real coordinate, in the budget's unit: ``1`` latent unit
        with ``eps_unit="latent"`` (the study's α), ``1`` symbol unit (Es = 1) with ``link`` units or
        ``jsr_db``. Either way ``α = 1`` is a step of norm ``√(2n)`` ≫ ε, so each step lands on the sphere.
    :param res: on a resource grid (after ``ofdm``): the REs the jammer may touch, ``data``, ``pilots`` or
        ``all`` (default on a grid: data and pilots, never unused REs); refused without a grid.
    :param subcarriers: on a grid: ``"START:STOP"`` (subcarrier indices, STOP exclusive) for partial-band
        jamming (default: the whole band); refused without a grid. The search runs over the selected REs
        alone (random starts, steps, projection, the L∞ bound ``ε/sqrt(2M)`` for ``M`` selected REs), and the
        perturbation is placed on the grid with exact zeros elsewhere; budgets as above over the example's
        grid, JSR over its signal REs (data + pilots; :mod:`channelae.channels._budget`).
    :param attack_precision: ``auto`` (default: bf16 where the CPU/GPU has native bf16, i.e. avx512_bf16 /
        AMX or CUDA compute capability ≥ 8, else fp32), ``fp32`` or ``bf16``: the precision of the search's
        decoder passes only; the link evaluates the returned perturbation, and every metric, in fp32. On the
        default model the bf16 search changed the default attack's mean damage by −0.04 % noiseless and
        −0.6 % at 10 dB (three seeds; per ε −1.4 … +0.3 %) and ran 1.4–2.3× faster (``benchmarks/README.md``),
        so ``auto`` is the default; results then depend (within that) on the machine: pass ``fp32`` for
        bit-for-bit runs across machines and the last half per cent at finite SNR.

    :input state: ``y`` complex ``[..., B, n]`` (on a grid: ``[..., B, R]`` REs); ``state.ctx`` a
        :class:`~channelae.link.LinkContext`.
    :output state: ``y`` complex ``[..., E, B, n]`` (``[..., E, B, R]``).

    After each call, ``last_delta`` holds the perturbation ``[..., E, B, n]`` (symbol units; on a grid
    ``[..., E, B, R]``, zero outside the selected REs) and
    ``last_diagnostics`` the convergence diagnostic: ``distance_half`` and ``distance_final`` ``[..., E]``
    (float64), the mean over images of the distance ``D`` to the reference (untargeted: ``dec(z0)``,
    growing) or target (shrinking) that the search had reached after ``K // 2`` and ``K`` steps (best so far;
    NaN for budgets of 0, which are not searched), with ``steps``, ``half_steps``, ``starts``, ``restarts``,
    ``eot`` (draws per step used), ``control_variate`` (whether it was used), ``curvature`` (directions used as
    starts), ``average`` (fraction of late iterates averaged; 0 = none), ``mode``, ``precision``, ``distance``
    and ``targeted``.
    Through a random link with the control variate (``apgd``) both are re-evaluated on one fresh draw (with
    the control variate's correction), i.e. unbiased estimates; otherwise (``strong``, ``faithful`` or
    ``control_variate=False`` through a random link) they are the best of the search's own noisy values,
    optimistic next to the link's evaluation on fresh draws.

    ``progress``: ``None`` (default) or a callable ``progress(done, total)`` that the search calls after each
    decoder pass (``done`` of ``total`` passes of this call; ``simulate`` draws its progress bar with it). The
    jammer itself never prints.
    """

    needs_decoder = True
    #: Decoder rows per objective evaluation (whole budgets per pass, at least one): bounds memory and sets
    #: speed, not results. ``None``: :func:`channelae.models.fold.rows_per_pass` for the search's precision
    #: and device (CPU: 256 in fp32, 2048 in bf16, measured in benchmarks/README.md).
    max_rows: int | None = None

    def __init__(
        self,
        eps: float | list[float] | Tensor | None = None,
        jsr_db: float | list[float] | Tensor | None = None,
        placement: str = "rx",
        target: str | os.PathLike[str] | None = None,
        distance: str = "mse",
        mode: str = "apgd",
        steps: int | None = None,
        restarts: int = 1,
        starts: int | None = None,
        norm: str = "l2",
        eot: int | None = None,
        alpha: float = 1.0,
        eps_unit: str = "link",
        attack_precision: str = DEFAULT_ATTACK_PRECISION,
        control_variate: bool = True,
        curvature: int | None = None,
        res: str | None = None,
        subcarriers: str | tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.budget_kind, self.budget = budget_grid(eps, jsr_db)
        self.placement = check_one_of(placement, PLACEMENTS, "placement")
        if target is not None and not isinstance(target, (str, os.PathLike)):
            raise UsageError(f"must be a target name or an image path; got {target!r}", "target")
        if isinstance(target, str) and target not in ("black", "white", "random", "inverted", "none") and \
                not os.path.isfile(target):
            raise UsageError(f"{target!r} is neither a target name nor an existing image file; allowed: black, "
                             "white, random, inverted or the path of an image file", "target")
        self.target = None if target == "none" else target
        self.distance = check_one_of(distance, DISTANCES, "distance")
        self.mode = check_one_of(mode, MODES, "mode")
        if steps is None:
            steps = DEFAULT_STEPS if self.mode == "apgd" else 10
        self.steps = check_int_range(steps, "steps", low=1, high=10_000)
        self.restarts = check_int_range(restarts, "restarts", low=1, high=1000)
        if starts is None:
            starts = DEFAULT_STARTS if self.mode == "apgd" else 1
        self.starts = check_int_range(starts, "starts", low=1, high=1000)
        if self.starts > 1 and self.mode != "apgd":
            raise UsageError(f"only the apgd mode explores several starts; got mode {self.mode!r}", "starts")
        self.norm = check_one_of(norm, NORMS, "norm")
        self.eot = None if eot is None else check_int_range(eot, "eot", low=1, high=10_000)
        self.control_variate = bool(control_variate)
        if curvature is None:
            curvature = DEFAULT_CURVATURE if self.mode == "apgd" else 0
        self.curvature = check_int_range(curvature, "curvature", low=0, high=1000)
        if self.curvature and self.mode != "apgd":
            raise UsageError(f"only the apgd mode starts from curvature directions; got mode {self.mode!r}",
                             "curvature")
        self.alpha = float(alpha)
        self.eps_unit = check_eps_unit(eps_unit)
        self.attack_precision = check_one_of(attack_precision, PRECISIONS, "attack_precision")
        self.res, self.subcarriers = check_res_options(res, subcarriers)
        self.lpips_metric = None  # set by the link builder when distance == "lpips"
        self.progress: Callable[[int, int], None] | None = None  # progress(done, total) per search pass

    def apply(self, state: ChannelState, snr_db: float | Tensor | None = None, *, tail: Tail | None = None,
              generator: torch.Generator | None = None) -> ChannelState:
        if tail is None or state.ctx is None:
            raise UsageError("PGDJammer needs the link's decoder (state.ctx and a tail): use it as a stage of a "
                             "channelae Link, or channelae.sionna_blocks.LinkJammer in a Sionna flow")
        ctx = state.ctx
        radius = jammer_radius(self.budget_kind, self.budget, state, None, self.eps_unit)  # [E] symbols
        sel = grid_selection(state, self.res, self.subcarriers, "pgd-jammer")  # REs it may touch (grid) or None
        y = state.y.unsqueeze(-3)  # [..., 1, B, n] (on a grid n = R REs)
        h = expand_for_grid(state.h)
        no = expand_for_grid(state.no)
        B, n = y.shape[-2], y.shape[-1]
        m = n if sel is None else sel.numel()  # complex coordinates searched: the selected REs
        lead = list(y.shape[:-3])
        shape = torch.Size(lead + [radius.numel(), B, 2 * m])

        def to_complex(delta: Tensor) -> Tensor:  # real [..., 2m] -> complex [..., n], zero off the selection
            return place_on_res(torch.complex(delta[..., :m], delta[..., m:]), sel, n)

        clean = ctx.clean  # [B, C, H, W]
        # every draw of the jammer (random target, starts, the channel draws of its search) comes from a
        # private generator seeded with one draw of the link's: the link's stream is consumed identically
        # whatever the attack does (common random numbers with the noise control; channels/base.py). The
        # random starts have a stream of their own, so the number or chunking of the search's channel draws
        # never changes them.
        gen = private_generator(generator, "pgd-jammer")
        start_gen = private_generator(gen, "pgd-jammer starts")
        tgt = resolve_target(self.target, clean, generator=gen)
        ref = clean if tgt is None else tgt
        sign = 1.0 if tgt is None else -1.0
        active = (radius > 0).nonzero().flatten()
        # through a random link (two unperturbed passes differ) apgd uses the control variate and, unless eot
        # is given, DEFAULT_EOT draws per step
        random_tail = (self.mode == "apgd" and (self.control_variate or self.eot is None)
                       and bool(active.numel()) and _random_tail(tail, state.with_budget_dim(y=y, h=h, no=no), gen))
        use_cv = self.control_variate and random_tail
        N = self.eot if self.eot is not None else (DEFAULT_EOT if random_tail else 1)

        def rep(t: Tensor, dim: int) -> Tensor:
            return t if N == 1 else t.repeat_interleave(N, dim=dim)

        def rep_b(t: Tensor) -> Tensor:  # h and no carry a B dim only for some channels
            return rep(t, -2) if t.dim() >= 2 and t.shape[-2] == B else t

        y_e, h_e, no_e = rep(y, -2), rep_b(h), rep_b(no)
        ref_e = rep(ref, 0) if ref.shape[0] == B else ref

        def raw(delta: Tensor) -> Tensor:  # sign · D per example [..., E, B] for δ [..., E, B, 2n]
            dc = to_complex(delta)
            st = state.with_budget_dim(y=add_perturbation(y_e, h_e, rep(dc, -2), self.placement), h=h_e,
                                       no=no_e)
            d = distance(self.distance, call_tail(tail, st, gen), ref_e, lpips_metric=self.lpips_metric)
            if N > 1:  # [..., E, N·B] -> mean over the N draws of each image
                d = d.reshape(*d.shape[:-1], B, N).mean(-1)
            return sign * d

        cv = _ControlVariate() if use_cv else None

        passes, done = 0, 0  # decoder passes of the search (set below), for the progress callback

        def objective(delta: Tensor) -> Tensor:
            nonlocal done
            value = raw(delta) if cv is None else cv(raw, delta)
            if self.progress is not None:
                done += 1
                self.progress(min(done, passes), passes)
            return value

        # α is in the budget's unit: latent units → symbol units through the gain; link units are symbols
        latent = self.budget_kind == "eps" and self.eps_unit == "latent"
        alpha = self.alpha * ctx.gain if latent else self.alpha
        if self.norm == "linf":
            radius = radius / (2 * m) ** 0.5
        # A budget of 0 admits only δ = 0: search the others alone (saves a decoder pass of B rows per
        # step for the ε = 0 point of a grid; random starts are shared along E, so results are unchanged).
        delta = torch.zeros(shape, dtype=y.real.dtype, device=y.device)
        diag_shape = list(shape[:-2])  # [..., E]
        d_half = torch.full(diag_shape, float("nan"), dtype=torch.float64, device=y.device)
        d_final = d_half.clone()
        precision = None
        directions = None
        if active.numel():
            sub = shape[:-3] + torch.Size([active.numel()]) + shape[-2:]
            rsub = radius[active].reshape([1] * len(lead) + [active.numel(), 1])
            rows = max(1, sub[:-3].numel() * B * N)  # decoder rows per budget
            max_rows = self.max_rows
            if max_rows is None:
                from channelae.models.fold import rows_per_pass

                max_rows = rows_per_pass(resolve_precision(self.attack_precision, y.device), y.device)
            # whole budgets per decoder pass, the control variate's row counted; apgd: passes of equal size
            # (strong and faithful keep their passes, which fix the order of the search's channel draws)
            per_pass = max(1, max_rows // rows - (1 if use_cv else 0))
            if use_cv:  # at least CV_MIN_BUDGETS budgets beside the control variate's row: its share ≤ 1/5
                per_pass = max(per_pass, min(active.numel(), CV_MIN_BUDGETS))
            if self.mode == "apgd":
                per_pass = math.ceil(active.numel() / math.ceil(active.numel() / per_pass))
            chunk = (len(lead), per_pass)
            reevaluate = use_cv or resolve_precision(self.attack_precision, y.device) != "fp32"
            passes = (search_passes(self.mode, self.steps, self.restarts, self.starts, reevaluate, random_tail)
                      * math.ceil(active.numel() / chunk[1]))
            if self.mode == "apgd" and self.curvature and tgt is None:
                def recon(delta: Tensor) -> Tensor:  # reconstructions [..., R, B, C, H, W] for δ [..., R, B, 2m]
                    st = state.with_budget_dim(y=add_perturbation(y, h, to_complex(delta), self.placement), h=h,
                                               no=no)
                    return call_tail(tail, st, gen)

                directions = curvature_directions(recon, shape[:-3] + torch.Size([1]) + shape[-2:],
                                                  min(self.curvature, 2 * m)).to(y.real.dtype)
            res = attack(objective, sub, rsub, mode=self.mode, steps=self.steps, restarts=self.restarts,
                         starts=self.starts, norm=self.norm, alpha=alpha, precision=self.attack_precision,
                         generator=start_gen, dtype=y.real.dtype, device=y.device, chunk=chunk,
                         reevaluate=use_cv, directions=directions,
                         average=NOISY_AVERAGE if random_tail and self.mode == "apgd" else 0.0)
            delta = delta.index_copy(len(lead), active, res.delta)
            # distance D = sign · objective, mean over images: [..., E_active]
            d_half = d_half.index_copy(len(lead), active, (sign * res.value_half.double()).mean(-1))
            d_final = d_final.index_copy(len(lead), active, (sign * res.value.double()).mean(-1))
            precision = res.precision
        delta_c = to_complex(delta)
        self.last_delta = delta_c
        self.last_diagnostics = {"distance_half": d_half, "distance_final": d_final, "steps": self.steps,
                                 "half_steps": self.steps // 2, "restarts": self.restarts, "mode": self.mode,
                                 "starts": self.starts, "curvature": 0 if directions is None else self.curvature,
                                 "average": NOISY_AVERAGE if random_tail and self.mode == "apgd" else 0.0,
                                 "eot": N, "control_variate": bool(use_cv),
                                 "precision": precision, "distance": self.distance,
                                 "targeted": tgt is not None}
        return state.with_budget_dim(y=add_perturbation(y, h, delta_c, self.placement), h=h, no=no)
