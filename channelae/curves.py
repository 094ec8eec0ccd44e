"""DD-curve statistics, written once (SPEC §4). Every other module imports these definitions.

Notation
--------
A **DD-curve** is the mean quality ``q(ε)`` of one metric on a strictly increasing grid
``ε_0 < ε_1 < … < ε_{E−1}`` (ε: the jammer's L2 budget per example, in link units by default or the study's
latent units, :mod:`channelae.definitions`), read as the piecewise-linear interpolant of its grid values. Each metric has a direction and a **limit line** ``L``
(:data:`METRIC_LIMITS`; every function takes ``limit=`` to override it). The **margin** is

- ``m(ε) = q(ε) − L`` for a higher-is-better metric (SSIM, PSNR),
- ``m(ε) = L − q(ε)`` for a lower-is-better metric (LPIPS, MSE, FID);

the link is *intact* where ``m ≥ 0`` and *broken* where ``m < 0``.

Formulas
--------
- **Mean and interval** per grid point over ``n`` per-image values ``x_i``:
  ``x̄ ± t_{n−1}((1 + level)/2) · s/√n`` with ``s² = Σ(x_i − x̄)²/(n − 1)`` and ``t_{n−1}`` Student's
  quantile (:func:`t_quantile`). ``n = 1`` (or an infinite mean, e.g. PSNR of a perfect image) gives
  ``lo = hi = x̄``.
- **AADDC** (study §3.1.2): ``AADDC = ∫_{ε_0}^{ε_{E−1}} max(m(ε), 0) dε``, exact for the piecewise-linear
  curve. On a segment of width ``h = ε_{k+1} − ε_k`` with end margins ``a = m(ε_k)``, ``b = m(ε_{k+1})``
  the area is ``h·(a + b)/2`` if ``a, b ≥ 0``; ``0`` if ``a, b ≤ 0``; and ``h·p²/(2(|a| + |b|))`` with
  ``p = max(a, b)`` if the segment crosses ``L`` — the triangle on the intact side of the exact crossing
  point ``ε_k + h·a/(a − b)``. Units: metric × ε. ``normalize=True`` divides by ``ε_{E−1} − ε_0``
  (units: metric). Bigger = more robust.
- **Breaking budget** ``ε_b = inf{ε ∈ [ε_0, ε_{E−1}] : m(ε) < 0}``: the exact crossing point
  ``ε_k + h·a/(a − b)`` in the first segment that ends broken (``b < 0``); ``ε_0`` if the curve is already
  broken at the first grid point (``0`` on the usual grid that starts at ε = 0: "broken at ε = 0", the limit
  is stricter than the jammer-free link); ``+inf`` ("not broken") if ``m ≥ 0`` on the whole grid. Touching
  ``L`` is not breaking. Tables print these two cases as ``channelae.results.BROKEN_AT_ZERO`` and
  ``NOT_BROKEN``. (JSR: ``definitions.eps_to_jsr_db``.)
- **Equivalent SNR** of a jammed link with mean quality ``v``: on the noise-only curve ``q_N(σ)``, given at
  SNRs ``σ_0 < … < σ_{S−1}`` (dB, Es/N0 per complex symbol) and linear in dB between them,
  ``s′ = sup{σ : q_N(σ) is no better than v}`` — the highest SNR at which noise alone does at least as
  much harm. For a monotone curve this is the inverse interpolation ``q_N(s′) = v``. Edge cases:
  ``v`` worse than every point of the curve → ``s′ = −inf``; ``v`` at least as good as the last point →
  ``s′ = σ_{S−1}``. The grid may end with ``σ_{S−1} = +inf`` (noiseless): that point is the top end of
  the curve but has no position in dB, so a value that falls inside the last segment
  ``(σ_{S−2}, +inf)`` is *censored* and reported as ``s′ = σ_{S−2}`` (the truth is higher).
- **Equivalent SNR loss** of a jammed link at SNR ``s`` (dB, may be ``+inf``): ``Δ = max(s − s′, 0)`` dB,
  with ``Δ = 0`` when ``v`` is at least as good as the best point of the noise-only curve or ``s′ = s``
  (both ``+inf`` included), and ``Δ = +inf`` when ``s′ = −inf`` ("more than the curve spans") or when
  ``s = +inf`` and ``s′`` is finite. Negative values (a jammed link measured better than noise alone at
  its own SNR: sampling noise at small ε) are reported as 0. Censored ``s′`` makes ``Δ`` an upper bound.
- The **noise-only reference curve** for these is the jammer-free link on its own fine SNR grid
  (:data:`REFERENCE_SNR_DB`: −5 … 40 dB in 1 dB steps plus ``inf``, and the simulation's own SNR points),
  over the same images with the same channel realisations (``channelae.simulate``), so ``s′`` is finite
  wherever the jammed quality lies within the noise-only range. :func:`equivalent_snr_status` says where it
  does not (:data:`EQUIVALENT_SNR_STATUS`).

Limit lines and PSNR
--------------------
The default limit lines (:data:`METRIC_LIMITS`) are one set for every data set, chosen so that a clean
default model sits above each of them, and consistent across metrics: MSE 0.05 per pixel (images in
[0, 1]) is PSNR ``10·log10(1/0.05) = 13.0`` dB, where a reconstruction no longer shows the input's content;
SSIM 0.4 and LPIPS 0.15 are the study's (Tables 1–2). Measured clean quality (reference = input), means with
the 5th percentile of the images (95th for MSE): the default model (``swt-vae`` on ``mnist-5k``, all 500 test
images) SSIM 0.728 (0.569), PSNR 17.9 dB (14.0), MSE 0.0193 (0.040); an ``swt-vae`` on ``fashion-mnist``
trained on a fifth of the data (12,000 images, 5 epochs: below what the default model there reaches; 2,000
test images) SSIM 0.776 (0.569), PSNR 20.4 dB (16.2), MSE 0.0109 (0.024) — above every default limit. MNIST
(full) and CelebA were not available to measure here; LPIPS needs pretrained weights that were not either.
FID has no default (``nan``): its value depends on the number of images and on the Inception features,
so a limit must be given (``--limit fid=…``; the study's Table 3 value 3e-4 is set by its config). The
study's stricter Table 3 lines are :data:`STUDY_TABLE3_LIMITS`; the study's configs set them explicitly.

PSNR of identical images is ``+inf`` (e.g. reference = reconstruction at ε = 0). Per-image PSNR is capped at
:data:`PSNR_CEILING_DB` = ``10·log10(12·255²)`` ≈ 58.9 dB, the PSNR of uniform 8-bit quantisation noise
(MSE ``(1/255)²/12``): closer images are indistinguishable once stored as 8-bit images. The cap is a value the
curve reaches continuously as ε → 0, so it does not feed AADDC an artificial spike: adding grid points near
ε = 0 changes the AADDC only by what the trapezoid rule allows (a fixed cap such as 100 dB made the first
segment's area depend on how close to 0 the second grid point was).

Shapes: curves are ``[..., E]`` (ε last, e.g. ``[snr, metric, eps]``); results drop the last dimension and
broadcast over the leading ones. NaN in a curve gives NaN for that curve.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from channelae._validation import broadcast_shapes, check_finite
from channelae.errors import UsageError

__all__ = [
    "EQUIVALENT_SNR_STATUS",
    "METRIC_LIMITS",
    "PSNR_CEILING_DB",
    "REFERENCE_SNR_DB",
    "STUDY_TABLE3_LIMITS",
    "MeanCI",
    "MetricSpec",
    "aaddc",
    "breaking_budget",
    "equivalent_snr",
    "equivalent_snr_loss",
    "equivalent_snr_status",
    "mean_ci",
    "metric_spec",
    "t_quantile",
]

TensorLike = Tensor | float | list | tuple


@dataclass(frozen=True)
class MetricSpec:
    """Facts about one quality metric that the curve statistics need.

    :param name: metric name as used on the command line (``--metrics``).
    :param higher_is_better: ``True`` for SSIM/PSNR, ``False`` for LPIPS/MSE/FID.
    :param limit: default limit line ``L``, in the metric's own unit.
    :param unit: unit of the metric (``""`` when dimensionless).
    :param limit_source: where ``limit`` comes from.
    """

    name: str
    higher_is_better: bool
    limit: float
    unit: str = ""
    limit_source: str = ""

    def with_limit(self, limit: float | None) -> MetricSpec:
        """This spec with the limit line replaced (``None`` keeps the default)."""
        if limit is None:
            return self
        return dataclasses.replace(self, limit=check_finite(limit, "limit"), limit_source="user")


#: PSNR ceiling in dB: ``10·log10(12·255²)``, the PSNR of uniform 8-bit quantisation noise (MSE (1/255)²/12).
#: Per-image PSNR is capped here (module docstring: identical images would give ``+inf``).
PSNR_CEILING_DB: float = 10.0 * math.log10(12.0 * 255.0**2)

#: Metric name -> :class:`MetricSpec` with the default limit line (module docstring: where the values come
#: from and the clean quality of the default model they were checked against). MSE is per pixel on images in
#: [0, 1]; MSE 0.05 ≡ PSNR 13.0 dB. FID: no default (``nan``), give ``--limit fid=…``.
METRIC_LIMITS: Mapping[str, MetricSpec] = MappingProxyType(
    {
        "ssim": MetricSpec("ssim", True, 0.4, "", "study Tables 1-2; clean default model 0.73"),
        "psnr": MetricSpec("psnr", True, round(10.0 * math.log10(1.0 / 0.05), 2), "dB",
                           "= MSE 0.05; clean default model 17.9 dB"),
        "lpips": MetricSpec("lpips", False, 0.15, "", "study Tables 1-2"),
        "mse": MetricSpec("mse", False, 0.05, "", "project choice (= PSNR 13 dB); clean default model 0.019"),
        "fid": MetricSpec("fid", False, math.nan, "", "no default: depends on the image count; give --limit"),
    }
)

#: Fine SNR grid (dB) of the noise-only reference curve for the equivalent SNR: −5 … 40 dB in 1 dB steps,
#: then noiseless. ``channelae.simulate`` adds the simulation's own SNR points.
REFERENCE_SNR_DB: tuple[float, ...] = (*(float(v) for v in range(-5, 41)), math.inf)

#: Status of an equivalent SNR ``s′`` read on the noise-only curve (:func:`equivalent_snr_status`):
#: ``ok`` inside the curve's range; ``best`` at least as good as the curve's best point (loss 0, ``s′`` its
#: SNR); ``censored`` inside the last segment to the noiseless point (``s′`` stored as the last finite SNR
#: ``σ_{S−2}``: the truth is higher); ``beyond`` worse than the curve's lowest SNR point (``s′ = −inf`` stored:
#: the truth is below ``σ_0``, and the loss above ``s − σ_0``); ``nan`` undefined.
EQUIVALENT_SNR_STATUS: tuple[str, ...] = ("ok", "best", "censored", "beyond", "nan")

#: The stricter limit lines of the study's Table 3 (beta-TCVAE on MNIST), for reproducing it.
STUDY_TABLE3_LIMITS: Mapping[str, float] = MappingProxyType(
    {"ssim": 0.75, "lpips": 0.06, "fid": 3e-4, "psnr": 34.0}
)


def metric_spec(name: str, limit: float | None = None) -> MetricSpec:
    """The :class:`MetricSpec` of ``name``, with its limit line replaced by ``limit`` when given.

    :raises UsageError: (argument ``--metrics``) for an unknown name, listing the known ones;
        (argument ``limit``) for a non-finite limit.
    """
    try:
        spec = METRIC_LIMITS[name]
    except (KeyError, TypeError):
        raise UsageError(
            f"unknown metric {name!r}; allowed: {', '.join(sorted(METRIC_LIMITS))}", "--metrics"
        ) from None
    return spec.with_limit(limit)


class MeanCI(NamedTuple):
    """Mean and two-sided confidence interval, each with the reduced dimension removed."""

    mean: Tensor
    lo: Tensor
    hi: Tensor


def mean_ci(values: TensorLike, dim: int = -1, level: float = 0.95) -> MeanCI:
    """Mean and Student-t interval of ``values`` along ``dim`` (e.g. over the images of each point).

    :param values: per-image values, e.g. ``[snr, eps, batch]``; any unit.
    :param dim: the dimension holding the ``n`` samples.
    :param level: coverage of the interval, in (0, 1).
    :return: ``MeanCI(mean, lo, hi)`` in the unit of ``values``; ``lo = hi = mean`` for ``n = 1``.
    :raises UsageError: for an empty sample, a bad ``dim`` or ``level`` outside (0, 1).
    """
    x = _float_tensor(values, "values")
    level = check_finite(level, "level")
    if not 0.0 < level < 1.0:
        raise UsageError(f"must be in (0, 1); got {level!r}", "level")
    if x.dim() == 0 or not -x.dim() <= dim < x.dim():
        raise UsageError(f"must index a dimension of values with shape {tuple(x.shape)}; got {dim}", "dim")
    n = x.shape[dim]
    if n == 0:
        raise UsageError(f"needs at least one sample along dim {dim}; got shape {tuple(x.shape)}", "values")
    mean = x.mean(dim)
    if n == 1:
        return MeanCI(mean, mean.clone(), mean.clone())
    quantile = t_quantile(0.5 + level / 2.0, n - 1)
    half = quantile * x.std(dim, correction=1) / math.sqrt(n)
    half = torch.where(torch.isinf(mean), torch.zeros_like(half), half)
    return MeanCI(mean, mean - half, mean + half)


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (``scipy.stats.t.ppf(p, df)``, via
    ``scipy.special.stdtrit``: the same numbers without the ~0.7 s import of ``scipy.stats``)."""
    from scipy.special import stdtrit

    return float(stdtrit(df, p))


def aaddc(
    eps: TensorLike,
    q: TensorLike,
    limit: float | Tensor,
    higher_is_better: bool,
    *,
    normalize: bool = False,
) -> Tensor:
    """Area between the DD-curve and its limit line on the intact side, ``∫ max(m(ε), 0) dε``.

    Trapezoids with exact linear crossing points (module docstring gives the formula).

    :param eps: ``[E]`` strictly increasing ε grid (latent L2 norm), ``E ≥ 2``, any spacing.
    :param q: ``[..., E]`` mean quality at each ε.
    :param limit: limit line ``L`` (metric unit); a float or a tensor broadcasting against ``q[..., 0]``.
    :param higher_is_better: the metric's direction (:attr:`MetricSpec.higher_is_better`).
    :param normalize: divide by the span ``ε_{E−1} − ε_0``.
    :return: ``[...]`` AADDC in metric × ε units (metric units when normalised), dtype of ``q``.
    :raises UsageError: naming ``eps``, ``q``, ``limit`` or ``higher_is_better`` for bad inputs.
    """
    grid, values, dtype = _curve_inputs(eps, q)
    m = _margin(values, limit, higher_is_better)
    a, b = m[..., :-1], m[..., 1:]
    width = torch.diff(grid)
    pos = torch.maximum(a, b).clamp_min(0.0)
    spread = a.abs() + b.abs()
    triangle = pos * pos / (2.0 * torch.where(spread > 0, spread, torch.ones_like(spread)))
    per_width = torch.where(
        (a >= 0) & (b >= 0), (a + b) / 2.0, torch.where((a <= 0) & (b <= 0), torch.zeros_like(a), triangle)
    )
    area = (per_width * width).sum(-1)
    if normalize:
        area = area / (grid[-1] - grid[0])
    return area.to(dtype)


def breaking_budget(eps: TensorLike, q: TensorLike, limit: float | Tensor, higher_is_better: bool) -> Tensor:
    """Smallest ε at which the DD-curve is on the wrong side of its limit line.

    :param eps: ``[E]`` strictly increasing ε grid (latent L2 norm), ``E ≥ 2``.
    :param q: ``[..., E]`` mean quality at each ε.
    :param limit: limit line ``L`` (metric unit); a float or a tensor broadcasting against ``q[..., 0]``.
    :param higher_is_better: the metric's direction.
    :return: ``[...]`` breaking budget in ε units: the linearly interpolated crossing point, ``eps[0]`` if
        broken at the first grid point, ``+inf`` if never broken on the grid; dtype of ``q``.
    :raises UsageError: naming the argument for bad inputs.
    """
    grid, values, dtype = _curve_inputs(eps, q)
    m = _margin(values, limit, higher_is_better)
    a, b = m[..., :-1], m[..., 1:]
    start, width = grid[:-1], torch.diff(grid)
    drop = torch.where(a - b > 0, a - b, torch.ones_like(a))
    crossing = torch.where(a > 0, start + width * a / drop, start.expand_as(a))
    first = torch.where(b < 0, crossing, torch.full_like(a, math.inf)).amin(-1)
    first = torch.where(m[..., 0] < 0, grid[0].expand_as(first), first)
    first = torch.where(torch.isnan(m).any(-1), torch.full_like(first, math.nan), first)
    return first.to(dtype)


def equivalent_snr(
    q_jam: TensorLike, noise_snr_db: TensorLike, q_noise: TensorLike, higher_is_better: bool
) -> Tensor:
    """SNR at which the noise-only link is as good as a jammed link (``s′`` in the module docstring).

    :param q_jam: ``[...]`` mean quality of the jammed link.
    :param noise_snr_db: ``[S]`` strictly increasing SNR grid of the noise-only curve (dB, Es/N0 per
        complex symbol), ``S ≥ 2``; the last entry may be ``+inf`` (noiseless).
    :param q_noise: ``[S]`` or ``[..., S]`` noise-only mean quality, broadcasting against ``q_jam``.
    :param higher_is_better: the metric's direction.
    :return: ``s′`` in dB, shape ``broadcast(q_jam, q_noise[..., 0])``: ``−inf`` when ``q_jam`` is worse
        than the whole curve, ``noise_snr_db[-2]`` when censored in a last segment ending at ``+inf``.
    :raises UsageError: naming the argument for bad inputs.
    """
    grid, v, qn, dtype = _snr_inputs(q_jam, noise_snr_db, q_noise, higher_is_better)
    return _equivalent_snr(grid, v, qn).to(dtype)


def equivalent_snr_loss(
    snr_db: float | Tensor,
    q_jam: TensorLike,
    noise_snr_db: TensorLike,
    q_noise: TensorLike,
    higher_is_better: bool,
) -> Tensor:
    """Equivalent SNR loss ``Δ = max(s − s′, 0)`` dB of a jammed link (module docstring has the rules).

    :param snr_db: ``s``, the jammed link's SNR in dB (Es/N0 per complex symbol); float or tensor
        broadcasting against ``q_jam``; ``+inf`` for a noiseless link.
    :param q_jam: ``[...]`` mean quality of the jammed link at ``snr_db``.
    :param noise_snr_db: ``[S]`` strictly increasing SNR grid of the noise-only curve (dB); may end in ``+inf``.
    :param q_noise: ``[S]`` or ``[..., S]`` noise-only mean quality.
    :param higher_is_better: the metric's direction.
    :return: ``Δ`` in dB, ``≥ 0``; ``+inf`` when the jammer does more harm than the curve spans.
    :raises UsageError: naming the argument for bad inputs.
    """
    s = _float_tensor(snr_db, "snr_db").to(torch.float64)
    if torch.isnan(s).any() or (s == -math.inf).any():
        raise UsageError("must be SNR values in dB (finite or +inf); got NaN or -inf", "snr_db")
    grid, v, qn, dtype = _snr_inputs(q_jam, noise_snr_db, q_noise, higher_is_better)
    s_prime = _equivalent_snr(grid, v, qn)
    s = s.to(s_prime.device)
    loss = torch.where(s == s_prime, torch.zeros_like(s_prime), s - s_prime).clamp_min(0.0)
    loss = torch.where(v >= qn.amax(-1), torch.zeros_like(loss), loss)
    return loss.to(dtype)


def equivalent_snr_status(
    q_jam: TensorLike, noise_snr_db: TensorLike, q_noise: TensorLike, higher_is_better: bool
) -> Tensor:
    """Where the equivalent SNR ``s′`` of ``q_jam`` lies on the noise-only curve, as an index into
    :data:`EQUIVALENT_SNR_STATUS` (int64, shape of :func:`equivalent_snr`'s result).

    Same arguments as :func:`equivalent_snr`. ``best`` takes precedence over ``censored``.
    """
    grid, v, qn, _ = _snr_inputs(q_jam, noise_snr_db, q_noise, higher_is_better)
    size = grid.numel()
    index = torch.arange(size, device=grid.device)
    last = torch.where(qn <= v.unsqueeze(-1), index, torch.full_like(index, -1)).amax(-1)
    code = torch.zeros(v.shape, dtype=torch.int64, device=v.device)
    if bool(torch.isinf(grid[-1])):
        code = torch.where(last == size - 2, torch.full_like(code, 2), code)
    code = torch.where(last < 0, torch.full_like(code, 3), code)
    code = torch.where(v >= qn.amax(-1), torch.full_like(code, 1), code)
    undefined = torch.isnan(v) | torch.isnan(qn).any(-1)
    return torch.where(undefined, torch.full_like(code, 4), code)


# ----------------------------------------------------------------------------------------------- helpers


def _float_tensor(x: TensorLike, name: str) -> Tensor:
    """``x`` as a floating tensor: tensors keep a float dtype (integers become the default float dtype);
    Python numbers and lists become float64, so a limit such as ``0.4`` is not rounded to float32."""
    try:
        t = x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float64))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise UsageError(
            f"must be numbers (a tensor or a list); got {type(x).__name__}: {exc}", name
        ) from None
    if t.is_complex() or t.dtype == torch.bool:
        raise UsageError(f"must be real numbers; got dtype {t.dtype}", name)
    return t if t.is_floating_point() else t.to(torch.get_default_dtype())


def _increasing_grid(x: TensorLike, name: str, allow_top_inf: bool = False) -> Tensor:
    """A 1-D float64 grid with ≥ 2 strictly increasing entries (finite, or ending in ``+inf`` if allowed)."""
    grid = _float_tensor(x, name).to(torch.float64)
    if grid.dim() != 1 or grid.numel() < 2:
        raise UsageError(f"must be a 1-D grid of at least 2 points; got shape {tuple(grid.shape)}", name)
    body = grid[:-1] if allow_top_inf and grid[-1] == math.inf else grid
    if not torch.isfinite(body).all():
        what = "finite (only the last entry may be +inf)" if allow_top_inf else "finite"
        raise UsageError(f"must be {what}; got {grid.tolist()}", name)
    if not (torch.diff(grid) > 0).all():
        raise UsageError(f"must be strictly increasing; got {grid.tolist()}", name)
    return grid


def _check_direction(higher_is_better: object) -> bool:
    if not isinstance(higher_is_better, bool):
        raise UsageError(f"must be True or False; got {higher_is_better!r}", "higher_is_better")
    return higher_is_better


def _curve_inputs(eps: TensorLike, q: TensorLike) -> tuple[Tensor, Tensor, torch.dtype]:
    """Validated ``(grid [E] float64, q [..., E] float64, output dtype)`` on ``q``'s device."""
    values = _float_tensor(q, "q")
    grid = _increasing_grid(eps, "eps").to(values.device)
    if values.dim() == 0 or values.shape[-1] != grid.numel():
        raise UsageError(
            f"must have the eps grid ({grid.numel()} points) as its last dimension; got shape "
            f"{tuple(values.shape)}",
            "q",
        )
    return grid, values.to(torch.float64), values.dtype


def _margin(values: Tensor, limit: float | Tensor, higher_is_better: bool) -> Tensor:
    """``q − L`` (higher-is-better) or ``L − q``, with ``L`` broadcast over the leading dimensions."""
    hib = _check_direction(higher_is_better)
    line = _float_tensor(limit, "limit").to(device=values.device, dtype=torch.float64)
    if not torch.isfinite(line).all():
        raise UsageError(f"must be finite; got {line.tolist()}", "limit")
    try:
        broadcast_shapes(line.shape, values.shape[:-1])
    except RuntimeError:
        raise UsageError(
            f"shape {tuple(line.shape)} does not broadcast against q's leading shape {tuple(values.shape[:-1])}",
            "limit",
        ) from None
    line = line.unsqueeze(-1)
    return values - line if hib else line - values


def _equivalent_snr(grid: Tensor, v: Tensor, qn: Tensor) -> Tensor:
    """``s′`` (float64 dB) for signed qualities ``v [...]`` on the curve ``qn [..., S]`` at SNRs ``grid [S]``."""
    size = grid.numel()
    index = torch.arange(size, device=grid.device)
    # last grid index where the noise-only link is no better than v; -1 when there is none
    last = torch.where(qn <= v.unsqueeze(-1), index, torch.full_like(index, -1)).amax(-1)
    lower = last.clamp(0, size - 2).unsqueeze(-1)
    q0, q1 = qn.gather(-1, lower).squeeze(-1), qn.gather(-1, lower + 1).squeeze(-1)
    s0, s1 = grid[lower.squeeze(-1)], grid[lower.squeeze(-1) + 1]
    rise = torch.where(q1 - q0 > 0, q1 - q0, torch.ones_like(q0))
    # inside a segment ending at +inf there is no dB position to interpolate to: censored at s0
    inside = torch.where(torch.isinf(s1), s0, s0 + (s1 - s0).nan_to_num(posinf=0.0) * (v - q0) / rise)
    s_prime = torch.where(last == size - 1, grid[-1].expand_as(inside), inside)
    s_prime = torch.where(last < 0, torch.full_like(s_prime, -math.inf), s_prime)
    undefined = torch.isnan(v) | torch.isnan(qn).any(-1)
    return torch.where(undefined, torch.full_like(s_prime, math.nan), s_prime)


def _snr_inputs(
    q_jam: TensorLike, noise_snr_db: TensorLike, q_noise: TensorLike, higher_is_better: bool
) -> tuple[Tensor, Tensor, Tensor, torch.dtype]:
    """Validated ``(grid [S], v [...], qn [..., S], dtype)`` in float64, signed so higher is better."""
    sign = 1.0 if _check_direction(higher_is_better) else -1.0
    v = _float_tensor(q_jam, "q_jam")
    dtype = v.dtype
    grid = _increasing_grid(noise_snr_db, "noise_snr_db", allow_top_inf=True).to(v.device)
    qn = _float_tensor(q_noise, "q_noise").to(device=v.device, dtype=torch.float64)
    if qn.dim() == 0 or qn.shape[-1] != grid.numel():
        raise UsageError(
            f"must have the noise_snr_db grid ({grid.numel()} points) as its last dimension; got shape "
            f"{tuple(qn.shape)}",
            "q_noise",
        )
    try:
        batch = broadcast_shapes(v.shape, qn.shape[:-1])
    except RuntimeError:
        raise UsageError(
            f"leading shape {tuple(qn.shape[:-1])} does not broadcast against q_jam's {tuple(v.shape)}",
            "q_noise",
        ) from None
    v = sign * v.to(torch.float64).expand(batch)
    qn = sign * qn.expand(*batch, grid.numel())
    return grid, v, qn, dtype
