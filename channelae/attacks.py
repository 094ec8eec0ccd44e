"""Projected gradient attacks on the link, batched over budgets (SPEC §2).

The core :func:`pgd` works on a real perturbation ``δ`` of shape ``[..., m]`` and a ``radius`` that
broadcasts against ``δ``'s leading dims (e.g. ``[1, E, 1]`` for ``[S, E, B, m]``), so all ε values of a grid
run in one pass and each is projected onto its own ball. Random draws (starts) are *shared* along the dims in
which ``radius`` varies, so attacking a grid gives the same result as attacking each ε alone.

Modes
-----
- ``faithful`` (the study's Eq. 6): ``δ ← Proj_ε(δ + α·sign(∇))``, ``α = 1`` latent unit, ``K = 10``, L2
  projection (rescale when ‖δ‖ > ε), final iterate returned. **Pitfall handled**: the untargeted MSE
  against ``dec(z0)`` has exactly zero gradient at ``δ = 0`` (``sign(0) = 0``, the attack would do nothing),
  so the faithful mode starts from a random point of norm ``1e-3·ε`` instead of 0 (documented deviation).
- ``strong`` (default): normalised steps ``η·∇/‖∇‖`` (L2) or ``η·sign(∇)`` (L∞) with ``η = 2.5ε/K``, a
  uniformly random start inside the ball, ``restarts`` restarts, and the best iterate per example kept.

Distances ``D`` (per image, differentiable): ``mse``, ``l1``, ``ssim`` (1 − SSIM), ``lpips``.
Targets: ``black`` (0), ``white`` (1), ``random`` (uniform noise, seeded), ``inverted`` (1 − dec(z0)), or
the path of an image file (resized to the model's image shape).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from channelae._validation import check_int_range, check_one_of
from channelae.errors import UsageError

__all__ = [
    "DISTANCES",
    "FAITHFUL_START_FRACTION",
    "MODES",
    "NORMS",
    "TARGETS",
    "distance",
    "pgd",
    "resolve_target",
]

MODES = ("strong", "faithful")
NORMS = ("l2", "linf")
DISTANCES = ("mse", "l1", "ssim", "lpips")
TARGETS = ("black", "white", "random", "inverted")
#: Norm of the faithful mode's random start, as a fraction of ε (avoids the zero gradient at δ = 0).
FAITHFUL_START_FRACTION = 1e-3


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
        return val.detach(), grad
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
            return objective(delta)
        return torch.cat([objective(p) for p in delta.split(chunk[1], dim=chunk[0])], dim=chunk[0])


def pgd(
    objective: Callable[[Tensor], Tensor],
    shape: torch.Size | tuple[int, ...],
    radius: Tensor,
    *,
    mode: Literal["strong", "faithful"] = "strong",
    steps: int = 10,
    restarts: int = 1,
    norm: Literal["l2", "linf"] = "l2",
    alpha: float | Tensor = 1.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    chunk: tuple[int, int] | None = None,
) -> Tensor:
    """Maximise ``objective(δ)`` (per example, shape ``δ.shape[:-1]``) over ``‖δ‖ ≤ radius``.

    :param objective: maps ``δ [..., m]`` to per-example values ``[...]`` to be *maximised*.
    :param shape: shape of ``δ`` ``[..., m]`` (m real values per example).
    :param radius: budget per example in δ's units (L2 norm, or per-coordinate bound for ``linf``);
        broadcasts against ``shape[:-1]``. A radius of 0 gives ``δ = 0`` exactly.
    :param mode: ``strong`` or ``faithful`` (see module docstring).
    :param steps: iterations ``K``.
    :param restarts: random restarts (``strong`` only; the best per example is kept).
    :param alpha: step size of the faithful mode, in δ's units.
    :param chunk: ``(dim, size)``: evaluate the objective on pieces of at most ``size`` along leading dim
        ``dim`` (≥ 0) of ``δ`` (bounds memory; the result is the same, as the objective is per example).
    :return: ``δ`` of ``shape``, detached, inside the ball.
    """
    check_one_of(mode, MODES, "--mode")
    check_one_of(norm, NORMS, "--norm")
    steps = check_int_range(steps, "--steps", low=1)
    restarts = check_int_range(restarts, "--restarts", low=1)
    shape = torch.Size(shape)
    radius = torch.as_tensor(radius, dtype=dtype, device=device)
    radius = radius.reshape(list(radius.shape) + [1])  # trailing dim for the m coordinates
    if mode == "faithful":
        restarts = 1
    best_delta = torch.zeros(shape, dtype=dtype, device=device)
    best_val = torch.full(shape[:-1], -torch.inf, dtype=dtype, device=device)

    def consider(delta: Tensor, val: Tensor) -> None:
        nonlocal best_delta, best_val
        better = val > best_val
        best_val = torch.where(better, val, best_val)
        best_delta = torch.where(better.unsqueeze(-1), delta, best_delta)

    with torch.enable_grad():
        for _ in range(restarts):
            fraction = FAITHFUL_START_FRACTION if mode == "faithful" else None
            delta = _project(_random_start(shape, radius, norm, fraction, generator, dtype, device), radius, norm)
            eta = 2.5 * radius / steps
            for _k in range(steps):
                val, grad = _value_and_grad(objective, delta, chunk)
                delta = delta.detach()
                if mode == "strong":
                    consider(delta, val)
                    if norm == "l2":
                        step = eta * grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-30)
                    else:
                        step = eta * grad.sign()
                else:
                    step = alpha * grad.sign()
                delta = _project(delta + step, radius, norm)
            if mode == "faithful":
                return delta.detach()
            consider(delta, _value(objective, delta, chunk))
    return best_delta.detach()


# ----------------------------------------------------------------------------------------------- distances


def distance(name: str, pred: Tensor, target: Tensor, *, lpips_metric: Callable | None = None) -> Tensor:
    """Per-image distance ``D(pred, target)`` over ``[..., C, H, W]`` → ``[...]`` (differentiable).

    ``ssim`` gives ``1 − SSIM`` (Gaussian 11×11, σ = 1.5, data range 1); ``lpips`` needs ``lpips_metric``
    (a callable on ``[N, C, H, W]`` pairs returning ``[N]``, see :mod:`channelae.metrics`).
    """
    check_one_of(name, DISTANCES, "--distance")
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
                         "--distance")
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
                         "--target")
    return _load_target_image(path, clean)


def _load_target_image(path: Path, clean: Tensor) -> Tensor:
    from PIL import Image, UnidentifiedImageError

    c, h, w = clean.shape[-3:]
    try:
        with Image.open(path) as im:
            im = im.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
            data = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise UsageError(f"cannot read target image {path}: {exc}", "--target") from None
    img = data.reshape(h, w, c).permute(2, 0, 1).to(clean.dtype) / 255.0
    return img.unsqueeze(0).to(clean.device)
