"""Projected gradient attacks on the link, batched over budgets (SPEC §2).

The core :func:`attack` works on a real perturbation ``δ`` of shape ``[..., m]`` and a ``radius`` that
broadcasts against ``δ``'s leading dims (e.g. ``[1, E, 1]`` for ``[S, E, B, m]``), so all ε values of a grid
run in one pass and each is projected onto its own ball. Every quantity of the search (values, step sizes,
best iterates) is per example, and random draws (starts) are *shared* along the dims in which ``radius``
varies, so attacking a grid gives the same result as attacking each ε alone. :func:`pgd` is the same call
returning only ``δ``.

Modes
-----
- ``apgd`` (the jammer's default): Auto-PGD (Croce & Hein, ICML 2020, Alg. 1) in L2 (or L∞). Step size
  ``η = 2ε`` per example; normalised gradient steps (``η·∇/‖∇‖``; L∞: ``η·sign(∇)``) with momentum
  ``α = 0.75`` (none on the first step): ``z = P(x + η·∇/‖∇‖)``, ``x ← P(x + α(z − x) + (1 − α)(x − x_prev))``.
  At checkpoints (after ``⌊0.22K⌋`` steps, then windows shrinking by ``⌊0.03K⌋`` down to ``⌊0.06K⌋``, as in
  the paper and its reference implementation) an example halves its step and restarts from its best
  iterate (momentum reset) when at most ``ρ = 0.75`` of the window's steps increased its objective, or when
  its step was not halved at the last checkpoint and its best value has not improved since. The best
  iterate per example is returned. ``starts`` (our addition, for objectives with several local maxima, as
  the decoder's): each restart first runs APGD from ``starts`` starts for ``min(⌊0.22K⌋, 4)`` steps each,
  then the best point found (a later start only when better by more than ``APGD_EXPLORE_RTOL`` relative)
  continues for the remaining steps. The starts are random points in the ball, except that the first
  restart's first ones may be given ``directions`` (the jammer's default: :func:`curvature_directions`,
  ``±`` the top eigenvectors of the reconstruction Jacobian's ``JᵀJ``). ``restarts`` repeat all of it from
  fresh random starts and keep the best.
- ``strong``: normalised steps ``η·∇/‖∇‖`` (L2) or ``η·sign(∇)`` (L∞) with a fixed ``η = 2.5ε/K``, a
  uniformly random start inside the ball, ``restarts`` restarts, and the best iterate per example kept.
- ``faithful`` (the study's Eq. 6): ``δ ← Proj_ε(δ + α·sign(∇))``, ``α = 1`` in the budget's unit (the
  study: one latent unit), ``K = 10``, L2 projection (rescale when ‖δ‖ > ε), final iterate returned.
  **Pitfall handled**: the untargeted MSE against ``dec(z0)`` has exactly zero gradient at ``δ = 0``
  (``sign(0) = 0``, the attack would do nothing), so the faithful mode starts from a random point of norm
  ``1e-3·ε`` instead of 0 (documented deviation).

Every mode costs ``K`` objective evaluations with gradient per restart plus one without (``apgd`` with
``starts = S > 1``: ``S·k + K − k`` with gradient, ``k = min(⌊0.22K⌋, 4)``, plus ``S + 1`` without; two more
without gradient with ``average``, the iterate averaging for noisy objectives).

Precision
---------
``precision="bf16"`` runs the search's objective evaluations under ``torch.autocast(dtype=bfloat16)``
(the decoder's matrix products in bf16; ``δ``, steps and projections stay in ``dtype``). The values it
reports (:class:`AttackResult`) are then re-evaluated in full precision; the link evaluates the returned
``δ`` after the attack, in full precision. ``auto`` is bf16 where the hardware has native bf16 arithmetic
(:func:`bf16_native`), else fp32.

Distances ``D`` (per image, differentiable): ``mse``, ``l1``, ``ssim`` (1 − SSIM), ``lpips``.
Targets: ``black`` (0), ``white`` (1), ``random`` (uniform noise, seeded), ``inverted`` (1 − dec(z0)), or
the path of an image file (resized to the model's image shape).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from channelae._validation import check_int_range, check_one_of
from channelae.errors import UsageError

__all__ = [
    "APGD_INITIAL_STEP",
    "APGD_MOMENTUM",
    "APGD_RHO",
    "DISTANCES",
    "FAITHFUL_START_FRACTION",
    "MODES",
    "NORMS",
    "PRECISIONS",
    "TARGETS",
    "AttackResult",
    "apgd_checkpoints",
    "attack",
    "bf16_native",
    "curvature_directions",
    "distance",
    "pgd",
    "resolve_precision",
    "resolve_target",
]

MODES = ("apgd", "strong", "faithful")
NORMS = ("l2", "linf")
PRECISIONS = ("fp32", "bf16", "auto")
DISTANCES = ("mse", "l1", "ssim", "lpips")
TARGETS = ("black", "white", "random", "inverted")
#: Norm of the faithful mode's random start, as a fraction of ε (avoids the zero gradient at δ = 0).
FAITHFUL_START_FRACTION = 1e-3
#: APGD's momentum weight α and its success-rate threshold ρ (Croce & Hein 2020).
APGD_MOMENTUM = 0.75
APGD_RHO = 0.75
#: APGD's initial step size, as a multiple of ε (the paper: 2ε).
APGD_INITIAL_STEP = 2.0
#: Steps each of APGD's ``starts`` explores before the best continues (at most ⌊0.22K⌋, APGD's first window).
APGD_EXPLORE_STEPS = 4
#: A later explored start replaces the earlier best only when better by more than this (relative): the
#: curvature starts ``±v`` tie in the objective's quadratic model, and a strict comparison would let the
#: last bit of rounding (a folded vs the unfolded decoder, another BLAS) pick the continuing start.
APGD_EXPLORE_RTOL = 1e-4


@dataclass(frozen=True)
class AttackResult:
    """What :func:`attack` found, per example (leading dims ``[...]`` of ``δ``).

    :ivar delta: the perturbation ``[..., m]``, detached, inside its ball (best iterate; ``faithful``: last).
    :ivar value: the objective at ``delta`` ``[...]`` (full precision; the search's own value unless
        re-evaluated, see :func:`attack`).
    :ivar value_half: the objective the same run had reached after ``K // 2`` steps of each restart
        ``[...]`` (best so far; ``faithful``: the iterate after ``K // 2`` steps): ``value − value_half`` is
        the convergence diagnostic (what the second half of the steps still gained).
    :ivar steps: ``K``; ``restarts``: restarts run; ``precision``: ``fp32`` or ``bf16`` (resolved).
    """

    delta: Tensor
    value: Tensor
    value_half: Tensor
    steps: int
    restarts: int
    precision: str


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def bf16_native(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` does bf16 arithmetic natively: a CUDA GPU that supports bf16 without emulation
    (compute capability ≥ 8.0), or a CPU with the ``avx512_bf16`` or ``amx_bf16`` instructions (read from
    ``/proc/cpuinfo``; other systems: False). Emulated bf16 is slower than fp32, so it does not count."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.get_device_capability(dev)[0] >= 8
    if dev.type == "cpu":
        return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())
    return False


def resolve_precision(precision: str, device: torch.device | str = "cpu") -> str:
    """``fp32`` or ``bf16`` for the attack's search: ``auto`` → bf16 where :func:`bf16_native`, else fp32."""
    check_one_of(precision, PRECISIONS, "precision")
    if precision == "auto":
        return "bf16" if bf16_native(device) else "fp32"
    return precision


def _search_context(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _shared_shape(shape: torch.Size, radius: Tensor) -> list[int]:
    """Shape of random draws: size 1 along dims where ``radius`` varies (shared across budgets)."""
    lead = list(shape[:-1])
    rshape = [1] * (len(lead) - radius.dim()) + list(radius.shape)
    return [1 if r > 1 else s for s, r in zip(lead, rshape)] + [shape[-1]]


def _project(delta: Tensor, radius: Tensor, norm: str) -> Tensor:
    if norm == "linf":
        return torch.maximum(torch.minimum(delta, radius), -radius)
    n = delta.norm(dim=-1, keepdim=True)
    scale = torch.where(n > radius, radius / n.clamp_min(1e-30), torch.ones_like(n))
    return delta * scale


def _direction(grad: Tensor, norm: str) -> Tensor:
    """Steepest-ascent direction of unit norm: ``∇/‖∇‖₂`` (L2; 0 where ∇ = 0) or ``sign(∇)`` (L∞)."""
    if norm == "linf":
        return grad.sign()
    return grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-30)


def _random_start(shape: torch.Size, radius: Tensor, norm: str, fraction: float | None,
                  generator: torch.Generator | None, dtype: torch.dtype, device: torch.device) -> Tensor:
    draw = _shared_shape(shape, radius)
    if norm == "linf":
        u = torch.rand(draw, generator=generator, dtype=dtype, device=device) * 2 - 1
        return (u * radius * (fraction or 1.0)).expand(shape).clone()
    g = torch.randn(draw, generator=generator, dtype=dtype, device=device)
    g = g / g.norm(dim=-1, keepdim=True).clamp_min(1e-30)
    if fraction is None:  # uniform in the ball: radius · U^(1/m)
        u = torch.rand(draw[:-1] + [1], generator=generator, dtype=dtype, device=device)
        r = u.pow(1.0 / shape[-1])
    else:
        r = torch.full(draw[:-1] + [1], fraction, dtype=dtype, device=device)
    return (g * r * radius).expand(shape).clone()


def _value_and_grad(objective: Callable[[Tensor], Tensor], delta: Tensor,
                    chunk: tuple[int, int] | None) -> tuple[Tensor, Tensor]:
    """``objective(δ)`` (detached) and its gradient, evaluated in pieces of ``chunk = (dim, size)`` along a
    leading dim of ``δ`` (the objective is per example, so pieces are independent); one piece's graph at a
    time bounds memory, and smaller decoder batches run faster on CPU caches."""
    if chunk is None or delta.shape[chunk[0]] <= chunk[1]:
        delta = delta.detach().requires_grad_(True)
        val = objective(delta)
        (grad,) = torch.autograd.grad(val.sum(), delta)
        return val.detach().to(delta.dtype), grad
    dim, size = chunk
    vals, grads = [], []
    for part in delta.detach().split(size, dim=dim):
        v, g = _value_and_grad(objective, part, None)
        vals.append(v)
        grads.append(g)
    return torch.cat(vals, dim=dim), torch.cat(grads, dim=dim)


def _value(objective: Callable[[Tensor], Tensor], delta: Tensor, chunk: tuple[int, int] | None) -> Tensor:
    with torch.no_grad():
        if chunk is None or delta.shape[chunk[0]] <= chunk[1]:
            return objective(delta).to(delta.dtype)
        return torch.cat([objective(p) for p in delta.split(chunk[1], dim=chunk[0])],
                         dim=chunk[0]).to(delta.dtype)


def curvature_directions(recon: Callable[[Tensor], Tensor], shape: torch.Size | tuple[int, ...], k: int, *,
                         step: float = 0.3) -> Tensor:
    """Start directions for an untargeted attack: the top-``k`` right singular vectors of the Jacobian
    ``J = ∂recon/∂δ`` at ``δ = 0``, each with both signs.

    For an objective ``‖recon(δ) − recon(0)‖²`` the quadratic model at 0 is ``δᵀ JᵀJ δ``, whose maximisers
    over a sphere are ``±`` its top eigenvector; the next ones are the next best directions of the model.

    :param recon: maps ``δ [..., R, B, m]`` (``R`` rows along dim ``-3``, each evaluated independently: the
        budget dim of a jammer, along which a random link draws one realisation) to outputs
        ``[..., R, B, *out]``; called once, without gradient, on ``R = 2m`` rows (central differences: one
        decoder pass without gradient, any ``recon`` works).
    :param shape: ``[..., 1, B, m]`` (``δ``'s shape with a single row).
    :param k: eigenvectors (``k ≤ m``); the result has ``2k`` directions.
    :param step: the central differences' step in ``δ``'s units (``J`` column ``i`` ≈
        ``(recon(step·eᵢ) − recon(−step·eᵢ)) / 2·step``): 0.3 (in the jammer's symbol units, Es = 1) keeps
        float32 rounding, which differs between a folded and the unfolded decoder, far below the differences
        (with 0.01 it moved the eigenvectors enough to change a short search's result by 3e-4 relative), and
        the secant is at the scale of the budgets the directions start.
    :return: unit directions ``[2k, ..., 1, B, m]``, ordered ``v₁, −v₁, v₂, −v₂, …``.
    """
    shape = torch.Size(shape)
    m = shape[-1]
    k = check_int_range(k, "k", low=1, high=m)
    lead = [1] * (len(shape) - 3)
    eye = torch.eye(m, dtype=torch.float32).reshape(lead + [m, 1, m]).expand(*shape[:-3], m, shape[-2], m)
    rows = torch.cat([eye, -eye], dim=-3) * step  # row i: +step·e_i, row m + i: −step·e_i
    with torch.no_grad():
        out = recon(rows.contiguous()).double().flatten(len(shape) - 1)  # [..., 2m, B, P]
    jac = (out.narrow(-3, 0, m) - out.narrow(-3, m, m)) / (2 * step)  # [..., m, B, P]
    gram = torch.einsum("...ibp,...jbp->...bij", jac, jac)  # JᵀJ [..., B, m, m]
    _, vecs = torch.linalg.eigh(gram)  # ascending eigenvalues; eigenvectors in the columns
    top = vecs.flip(-1)[..., :k].movedim(-1, 0)  # [k, ..., B, m]
    dirs = torch.stack([top, -top], dim=1).flatten(0, 1)  # v1, -v1, v2, -v2, ...
    return dirs.unsqueeze(-3).float()  # [2k, ..., 1, B, m]


def apgd_checkpoints(steps: int) -> list[int]:
    """The iterations (1-based, ≤ ``steps``) after which APGD checks its progress: the first window is
    ``max(⌊0.22K⌋, 1)`` steps, each next one ``max(⌊0.03K⌋, 1)`` shorter, down to ``max(⌊0.06K⌋, 1)``."""
    k = max(int(0.22 * steps), 1)
    decr, k_min = max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    out, at = [], 0
    while at + k <= steps:
        at += k
        out.append(at)
        k = max(k - decr, k_min)
    return out


class _Best:
    """Best value and iterate per example (strict improvement), with an optional gradient."""

    def __init__(self, shape: torch.Size, dtype: torch.dtype, device: torch.device) -> None:
        self.delta = torch.zeros(shape, dtype=dtype, device=device)
        self.value = torch.full(shape[:-1], -torch.inf, dtype=dtype, device=device)

    def consider(self, delta: Tensor, value: Tensor, rtol: float = 0.0) -> Tensor:
        """Keep ``delta`` where ``value`` beats the best by more than ``rtol`` relative; the mask of where."""
        better = value > self.value + rtol * self.value.abs() if rtol else value > self.value
        self.value = torch.where(better, value, self.value)
        self.delta = torch.where(better.unsqueeze(-1), delta, self.delta)
        return better


def _apgd_run(objective: Callable[[Tensor], Tensor], start: Tensor, radius: Tensor, steps: int, norm: str,
              chunk: tuple[int, int] | None, best: _Best, half: _Best | None, half_at: int | None,
              rtol: float = 0.0, average: float = 0.0) -> None:
    """One APGD run of ``steps`` steps from ``start`` (module docstring), merged into ``best`` (where better by
    more than ``rtol`` relative); ``half`` gets the run's best after ``half_at`` steps (0 = the start);
    ``average``: the mean of the last ``⌊average·steps⌋`` iterates (L2: scaled to the sphere) is a candidate
    too: it and the best iterate are evaluated afresh and the better kept (two evaluations without gradient)."""
    lead = start.shape[:-1]
    checks = set(apgd_checkpoints(steps))
    x = _project(start, radius, norm)
    val, grad = _value_and_grad(objective, x, chunk)
    run = _Best(start.shape, start.dtype, start.device)
    run.consider(x, val)
    if half is not None and half_at == 0:
        half.consider(run.delta, run.value)
    g_best = grad.clone()
    eta = (APGD_INITIAL_STEP * radius).expand(*lead, 1).clone()
    x_prev = x
    last_val = val
    successes = torch.zeros(lead, dtype=torch.int64, device=start.device)
    window, reduced_last = 0, torch.ones(lead, dtype=torch.bool, device=start.device)
    best_at_check = run.value.clone()
    n_avg = min(int(average * steps), steps)
    avg = torch.zeros_like(x)
    for k in range(1, steps + 1):
        a = 1.0 if k == 1 else APGD_MOMENTUM
        z = _project(x + eta * _direction(grad, norm), radius, norm)
        x_new = _project(x + a * (z - x) + (1.0 - a) * (x - x_prev), radius, norm)
        x_prev, x = x, x_new
        if k > steps - n_avg:
            avg = avg + x
        if k < steps:
            val, grad = _value_and_grad(objective, x, chunk)
        else:  # the last gradient would never be used
            val = _value(objective, x, chunk)
        improved = run.consider(x, val)
        g_best = torch.where(improved.unsqueeze(-1), grad, g_best)
        successes += (val > last_val).long()
        last_val = val
        window += 1
        if half is not None and k == half_at:
            half.consider(run.delta, run.value)
        if k in checks and k < steps:
            stalled = successes.double() <= APGD_RHO * window
            no_gain = ~reduced_last & (best_at_check >= run.value)
            reduce = stalled | no_gain
            reduced_last, best_at_check = reduce, run.value.clone()
            eta = torch.where(reduce.unsqueeze(-1), eta / 2, eta)
            r = reduce.unsqueeze(-1)
            x = torch.where(r, run.delta, x)
            x_prev = torch.where(r, run.delta, x_prev)  # restart without momentum
            grad = torch.where(r, g_best, grad)
            last_val = torch.where(reduce, run.value, last_val)
            successes.zero_()
            window = 0
    if n_avg:  # Polyak-Ruppert: on a noisy objective the mean of the late iterates beats the luckiest one
        xa = avg / n_avg
        if norm == "l2":
            xa = xa * (radius / xa.norm(dim=-1, keepdim=True).clamp_min(1e-30))
        xa = _project(xa, radius, norm)
        # the tracked best value is the maximum of noisy values (biased up): compare the best iterate and the
        # mean on fresh evaluations instead (exact where the objective is deterministic, e.g. a noiseless row)
        kept = _Best(start.shape, start.dtype, start.device)
        kept.consider(run.delta, _value(objective, run.delta, chunk))
        kept.consider(xa, _value(objective, xa, chunk))
        run = kept
    best.consider(run.delta, run.value, rtol)


def _apgd(objective: Callable[[Tensor], Tensor], shape: torch.Size, radius: Tensor, steps: int, starts: int,
          norm: str, chunk: tuple[int, int] | None, generator: torch.Generator | None, dtype: torch.dtype,
          device: torch.device, best: _Best, half: _Best, directions: Tensor | None = None,
          average: float = 0.0) -> None:
    """One APGD restart: ``starts`` starts (the first ``radius · directions``, the others random) explored for
    the first window of ``⌊0.22K⌋`` steps each, then the best point found continues for the remaining steps
    (module docstring)."""
    given = 0 if directions is None else min(starts, directions.shape[0])

    def start_point(i: int) -> Tensor:
        if i < given:
            return (directions[i].to(dtype) * radius).expand(shape).clone()
        return _random_start(shape, radius, norm, None, generator, dtype, device)

    explore = max(min(int(0.22 * steps), APGD_EXPLORE_STEPS), 1) if starts > 1 and steps > 1 else 0
    if not explore:
        _apgd_run(objective, start_point(0), radius, steps, norm, chunk, best, half, steps // 2, average=average)
        return
    found = _Best(shape, dtype, device)
    for i in range(starts):
        _apgd_run(objective, start_point(i), radius, explore, norm, chunk, found, None, None,
                  APGD_EXPLORE_RTOL if i else 0.0)
    if steps // 2 <= explore:
        half.consider(found.delta, found.value)
    _apgd_run(objective, found.delta, radius, steps - explore, norm, chunk, best,
              half if steps // 2 > explore else None, steps // 2 - explore, average=average * steps / (steps - explore))


def attack(
    objective: Callable[[Tensor], Tensor],
    shape: torch.Size | tuple[int, ...],
    radius: Tensor,
    *,
    mode: Literal["apgd", "strong", "faithful"] = "apgd",
    steps: int = 10,
    restarts: int = 1,
    starts: int = 1,
    norm: Literal["l2", "linf"] = "l2",
    alpha: float | Tensor = 1.0,
    precision: Literal["fp32", "bf16", "auto"] = "fp32",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    chunk: tuple[int, int] | None = None,
    reevaluate: bool = False,
    directions: Tensor | None = None,
    average: float = 0.0,
) -> AttackResult:
    """Maximise ``objective(δ)`` (per example, shape ``δ.shape[:-1]``) over ``‖δ‖ ≤ radius``.

    :param objective: maps ``δ [..., m]`` to per-example values ``[...]`` to be *maximised*.
    :param shape: shape of ``δ`` ``[..., m]`` (m real values per example).
    :param radius: budget per example in δ's units (L2 norm, or per-coordinate bound for ``linf``);
        broadcasts against ``shape[:-1]``. A radius of 0 gives ``δ = 0`` exactly.
    :param mode: ``apgd``, ``strong`` or ``faithful`` (see module docstring).
    :param steps: iterations ``K`` (objective evaluations with gradient per restart).
    :param restarts: random restarts (``apgd``/``strong``; the best per example is kept).
    :param starts: ``apgd`` only: random starts explored per restart for the first ``⌊0.22K⌋`` steps each
        before the best continues (1 = plain APGD).
    :param alpha: step size of the faithful mode, in δ's units.
    :param precision: ``fp32``, ``bf16`` or ``auto`` for the search (module docstring); reported values are
        full precision.
    :param chunk: ``(dim, size)``: evaluate the objective on pieces of at most ``size`` along leading dim
        ``dim`` (≥ 0) of ``δ`` (bounds memory; the result is the same, as the objective is per example).
    :param reevaluate: report the objective re-evaluated at the returned perturbations (one more evaluation
        each) instead of the values the search tracked: for a random objective, whose best tracked value is the
        luckiest draw, not an estimate of the mean (always done for a bf16 search, in full precision).
    :param directions: ``apgd``: unit directions ``[k, ..., m]`` (each broadcasting against ``shape``, e.g. from
        :func:`curvature_directions`); the first restart's first ``min(k, starts)`` explored starts are
        ``radius · directions[i]``, the other starts (and later restarts) random.
    :param average: ``apgd``: the mean of each restart's last ``⌊average·K⌋`` iterates (L2: scaled onto the
        sphere) is a candidate too: on a random objective (a noisy link) the late iterates scatter around the
        maximiser of the expected objective, and their mean (Polyak–Ruppert averaging) lies closer to it than
        any one of them, while the best tracked value is the luckiest draw; so the mean and the best iterate are
        both evaluated afresh and the better kept (two more evaluations without gradient per restart); 0 = off.
    """
    check_one_of(mode, MODES, "mode")
    check_one_of(norm, NORMS, "norm")
    steps = check_int_range(steps, "steps", low=1)
    restarts = check_int_range(restarts, "restarts", low=1)
    starts = check_int_range(starts, "starts", low=1)
    if not 0.0 <= float(average) < 1.0:
        raise UsageError(f"must be a fraction in [0, 1); got {average!r}", "average")
    device = torch.device(device)
    precision = resolve_precision(precision, device)
    shape = torch.Size(shape)
    radius = torch.as_tensor(radius, dtype=dtype, device=device)
    radius = radius.reshape(list(radius.shape) + [1])  # trailing dim for the m coordinates
    if mode == "faithful":
        restarts = 1
    best = _Best(shape, dtype, device)
    half = _Best(shape, dtype, device)

    with torch.enable_grad(), _search_context(precision, device):
        for r in range(restarts):
            if mode == "apgd":
                _apgd(objective, shape, radius, steps, starts, norm, chunk, generator, dtype, device, best, half,
                      directions if r == 0 else None, average)
                continue
            fraction = FAITHFUL_START_FRACTION if mode == "faithful" else None
            start = _random_start(shape, radius, norm, fraction, generator, dtype, device)
            delta = _project(start, radius, norm)
            eta = 2.5 * radius / steps
            run = _Best(shape, dtype, device)
            for k in range(steps):
                val, grad = _value_and_grad(objective, delta, chunk)
                delta = delta.detach()
                if mode == "strong":
                    run.consider(delta, val)
                    if k == steps // 2:
                        half.consider(run.delta, run.value)
                    if norm == "l2":  # (written as before the APGD mode: same rounding, same numbers)
                        step = eta * grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-30)
                    else:
                        step = eta * grad.sign()
                else:
                    if k == steps // 2:
                        half.consider(delta, val)
                    step = alpha * grad.sign()
                delta = _project(delta + step, radius, norm)
            val = _value(objective, delta, chunk)
            if mode == "faithful":  # the final iterate, whatever its value
                best.delta, best.value = delta, val
                break
            run.consider(delta, val)
            best.consider(run.delta, run.value)
    value, value_half = best.value, half.value
    if precision != "fp32" or reevaluate:  # report full precision / a fresh, unselected evaluation
        value = _value(objective, best.delta, chunk)
        value_half = _value(objective, half.delta, chunk)
    return AttackResult(delta=best.delta.detach(), value=value, value_half=value_half, steps=steps,
                        restarts=restarts, precision=precision)


def pgd(
    objective: Callable[[Tensor], Tensor],
    shape: torch.Size | tuple[int, ...],
    radius: Tensor,
    *,
    mode: Literal["apgd", "strong", "faithful"] = "strong",
    steps: int = 10,
    restarts: int = 1,
    starts: int = 1,
    norm: Literal["l2", "linf"] = "l2",
    alpha: float | Tensor = 1.0,
    precision: Literal["fp32", "bf16", "auto"] = "fp32",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    chunk: tuple[int, int] | None = None,
) -> Tensor:
    """:func:`attack`'s ``δ`` only (``[..., m]``, detached, inside the ball); default mode ``strong``, as
    used by latent adversarial training (:mod:`channelae.hardening`)."""
    return attack(objective, shape, radius, mode=mode, steps=steps, restarts=restarts, starts=starts, norm=norm,
                  alpha=alpha,
                  precision=precision, generator=generator, dtype=dtype, device=device, chunk=chunk).delta


# ----------------------------------------------------------------------------------------------- distances


def distance(name: str, pred: Tensor, target: Tensor, *, lpips_metric: Callable | None = None) -> Tensor:
    """Per-image distance ``D(pred, target)`` over ``[..., C, H, W]`` → ``[...]`` (differentiable).

    ``ssim`` gives ``1 − SSIM`` (Gaussian 11×11, σ = 1.5, data range 1); ``lpips`` needs ``lpips_metric``
    (a callable on ``[N, C, H, W]`` pairs returning ``[N]``, see :mod:`channelae.metrics`).
    """
    check_one_of(name, DISTANCES, "distance")
    pred, target = torch.broadcast_tensors(pred, target)
    lead = pred.shape[:-3]
    if name == "mse":
        return (pred - target).square().flatten(-3).mean(-1)
    if name == "l1":
        return (pred - target).abs().flatten(-3).mean(-1)
    p = pred.reshape(-1, *pred.shape[-3:])
    t = target.reshape(-1, *target.shape[-3:])
    if name == "ssim":
        from channelae.metrics.ssim import ssim_per_image

        return (1.0 - ssim_per_image(p, t)).reshape(lead)
    if lpips_metric is None:
        raise UsageError("the lpips distance needs the LPIPS backbone; build it with channelae.metrics",
                         "lpips_metric")
    return lpips_metric(p, t).reshape(lead)


def resolve_target(
    target: str | os.PathLike[str] | None,
    clean: Tensor,
    *,
    generator: torch.Generator | None = None,
) -> Tensor | None:
    """Target images for a targeted attack, broadcastable to ``clean`` ``[B, C, H, W]``; None = untargeted.

    ``black`` (all 0), ``white`` (all 1), ``random`` (uniform noise per image, from ``generator``),
    ``inverted`` (``1 − clean``), or a path to an image file (grey or RGB, resized to ``H×W``).
    """
    if target is None or target == "none":
        return None
    if target == "black":
        return torch.zeros_like(clean[:1])
    if target == "white":
        return torch.ones_like(clean[:1])
    if target == "random":
        return torch.rand(clean.shape, generator=generator, dtype=clean.dtype, device=clean.device)
    if target == "inverted":
        return 1.0 - clean
    path = Path(target)
    if not path.is_file():
        raise UsageError(f"unknown target {str(target)!r}; allowed: {', '.join(TARGETS)} or an image file",
                         "target")
    return _load_target_image(path, clean)


def _load_target_image(path: Path, clean: Tensor) -> Tensor:
    from PIL import Image, UnidentifiedImageError

    c, h, w = clean.shape[-3:]
    try:
        with Image.open(path) as im:
            im = im.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
            data = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise UsageError(f"cannot read target image {path}: {exc}", "target") from None
    img = data.reshape(h, w, c).permute(2, 0, 1).to(clean.dtype) / 255.0
    return img.unsqueeze(0).to(clean.device)
