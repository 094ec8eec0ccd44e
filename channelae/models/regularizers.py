"""Latent regularisers R(z) for the loss ``MSE(x, x̂) + λ·R(z)`` (SPEC §3).

All functions are batched tensor ops (no Python loops over examples or latent dimensions), run on the
device of their inputs and are differentiable.

- :func:`kld` — KL(q(z|x) ‖ N(0, I)) of a diagonal Gaussian posterior, per example.
- :func:`mmd` — unbiased MMD² between encoded latents and prior samples, IMQ (default) or RBF kernel
  summed over seven scales as in Wasserstein autoencoders.
- :func:`shapiro_wilk`, :func:`swt` — the Shapiro–Wilk W statistic with Royston's (1992) coefficients
  (matches ``scipy.stats.shapiro``), and the study's regulariser ``mean_d (1 − W_d)``.
- :func:`tc_decomposition`, :func:`beta_tc_loss` — β-TCVAE (Chen et al., 2018): the KL split into
  index-code mutual information, total correlation and dimension-wise KL, estimated on the minibatch with
  minibatch-weighted (MWS) or minibatch-stratified (MSS) sampling.

Dimension order: latents are ``[batch, latent]`` (``[B, d]``) everywhere; the unit of every divergence is
nats.
"""

from __future__ import annotations

import functools
import math
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from channelae._validation import check_int_range, check_one_of, check_positive
from channelae.errors import UsageError

__all__ = [
    "MMD_SCALES",
    "TCTerms",
    "beta_tc_loss",
    "full_data_decomposition",
    "kld",
    "log_density_gaussian",
    "mmd",
    "mss_log_importance_weights",
    "shapiro_wilk",
    "shapiro_wilk_coefficients",
    "swt",
    "tc_decomposition",
]

#: Multipliers of the base kernel width ``C = 2·d·σ_p²`` whose kernels are summed in :func:`mmd`.
MMD_SCALES: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

_LOG_2PI = math.log(2.0 * math.pi)


def _check_latents(z: Tensor, name: str, min_batch: int = 1) -> None:
    """``z`` must be a real floating ``[B, d]`` tensor with ``B >= min_batch``."""
    if not isinstance(z, Tensor):
        raise UsageError(f"must be a torch.Tensor; got {type(z).__name__}", name)
    if not z.is_floating_point():
        raise UsageError(f"must be a real floating-point tensor; got dtype {z.dtype}", name)
    if z.dim() != 2:
        raise UsageError(f"must have shape [batch, latent]; got shape {tuple(z.shape)}", name)
    if z.shape[0] < min_batch:
        raise UsageError(f"needs a batch of at least {min_batch} examples; got {z.shape[0]}", name)


def _check_same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise UsageError(
            f"must have the same shape as `{name_a}`; got {tuple(b.shape)} vs {tuple(a.shape)}", name_b
        )


# ----------------------------------------------------------------------------------------------- KLD


def kld(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL divergence ``KL(N(μ, diag σ²) ‖ N(0, I)) = 0.5·Σ_d (μ² + σ² − log σ² − 1)`` per example.

    :param mu: posterior means, ``[B, d]``.
    :param logvar: posterior log-variances ``log σ²``, ``[B, d]``.
    :output kl: ``[B]`` in nats (sum over the latent dimension, no batch reduction).
    """
    _check_latents(mu, "mu")
    _check_same_shape(mu, logvar, "mu", "logvar")
    return 0.5 * (mu.square() + logvar.exp() - logvar - 1.0).sum(dim=-1)


# ----------------------------------------------------------------------------------------------- MMD


def _squared_distances(a: Tensor, b: Tensor) -> Tensor:
    """``‖a_i − b_j‖²`` for ``a`` ``[P, d]`` and ``b`` ``[Q, d]`` → ``[P, Q]`` (clamped at 0)."""
    sq = a.square().sum(-1)[:, None] + b.square().sum(-1)[None, :] - 2.0 * (a @ b.T)
    return sq.clamp_min(0.0)


def _multiscale_kernel(sq_dist: Tensor, base: float, kernel: str) -> Tensor:
    """Sum over :data:`MMD_SCALES` of the kernel at width ``C = base·scale``; ``[P, Q]`` → ``[P, Q]``."""
    widths = torch.tensor(MMD_SCALES, dtype=sq_dist.dtype, device=sq_dist.device) * base  # [S]
    d2 = sq_dist[..., None]  # [P, Q, 1]
    if kernel == "imq":
        k = widths / (widths + d2)
    else:  # "rbf"
        k = torch.exp(-d2 / widths)
    return k.sum(-1)


def mmd(
    z: Tensor,
    prior: Tensor | None = None,
    *,
    kernel: Literal["imq", "rbf"] = "imq",
    sigma2_prior: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Unbiased MMD² between encoded latents and samples of the prior ``N(0, σ_p² I)``.

    With the multi-scale kernel ``k(a, b) = Σ_s C_s/(C_s + ‖a − b‖²)`` (IMQ) or
    ``Σ_s exp(−‖a − b‖²/C_s)`` (RBF), ``C_s = 2·d·σ_p²·s`` for ``s`` in :data:`MMD_SCALES`::

        MMD² = Σ_{i≠j} k(z_i, z_j)/(B(B−1)) + Σ_{i≠j} k(ẑ_i, ẑ_j)/(M(M−1)) − 2·Σ_{i,j} k(z_i, ẑ_j)/(B·M)

    :param z: encoded latents, ``[B, d]`` with ``B >= 2``.
    :param prior: prior samples ``ẑ``, ``[M, d]`` with ``M >= 2``; when ``None``, ``M = B`` samples are
        drawn from ``N(0, σ_p² I)`` with ``generator`` (on the generator's device, then moved to ``z``'s).
    :param kernel: ``"imq"`` (inverse multiquadratic, default) or ``"rbf"``.
    :param sigma2_prior: prior variance per latent dimension ``σ_p²`` (sets the kernel width).
    :param generator: random generator for the prior draws (reproducibility).
    :output mmd2: scalar tensor (unbiased, so it can be slightly negative).
    """
    _check_latents(z, "z", min_batch=2)
    check_one_of(kernel, ("imq", "rbf"), "kernel")
    sigma2 = check_positive(sigma2_prior, "sigma2_prior")
    batch, dim = z.shape
    if prior is None:
        # Draw on the generator's device (a CPU generator is fine for CUDA latents), then move.
        draw_device = generator.device if generator is not None else z.device
        prior = math.sqrt(sigma2) * torch.randn(
            (batch, dim), generator=generator, dtype=z.dtype, device=draw_device
        ).to(z.device)
    else:
        _check_latents(prior, "prior", min_batch=2)
        if prior.shape[1] != dim:
            raise UsageError(f"must have {dim} latent dimensions like `z`; got {prior.shape[1]}", "prior")
    m = prior.shape[0]
    base = 2.0 * dim * sigma2
    k_zz = _multiscale_kernel(_squared_distances(z, z), base, kernel)  # [B, B]
    k_pp = _multiscale_kernel(_squared_distances(prior, prior), base, kernel)  # [M, M]
    k_zp = _multiscale_kernel(_squared_distances(z, prior), base, kernel)  # [B, M]
    # Off-diagonal sums: total minus the trace (the diagonal is k(a, a) = number of scales).
    zz = (k_zz.sum() - k_zz.diagonal().sum()) / (batch * (batch - 1))
    pp = (k_pp.sum() - k_pp.diagonal().sum()) / (m * (m - 1))
    return zz + pp - 2.0 * k_zp.mean()


# ------------------------------------------------------------------------------------ Shapiro–Wilk

# Royston (1992) polynomial corrections in u = 1/sqrt(n), ascending powers u^0 … u^5.
_SW_POLY_AN = (0.0, 0.221157, -0.147981, -2.071190, 4.434685, -2.706056)
_SW_POLY_AN1 = (0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633)


def _poly(coeffs: tuple[float, ...], u: float) -> float:
    return sum(c * u**k for k, c in enumerate(coeffs))


@functools.lru_cache(maxsize=64)
def _sw_coefficients_cpu64(n: int) -> Tensor:
    """Royston's Shapiro–Wilk coefficients for sample size ``n`` as a CPU float64 tensor ``[n]``."""
    half = n // 2
    if n == 3:
        lower = torch.tensor([-math.sqrt(0.5)], dtype=torch.float64)
    else:
        i = torch.arange(1, half + 1, dtype=torch.float64)
        m = torch.special.ndtri((i - 0.375) / (n + 0.25))  # m_1 … m_{n//2} (negative); the rest mirror
        summ2 = 2.0 * float(m.square().sum())  # ‖m‖² (the middle m of odd n is exactly 0)
        ssumm2 = math.sqrt(summ2)
        u = 1.0 / math.sqrt(n)
        a_n = -float(m[0]) / ssumm2 + _poly(_SW_POLY_AN, u)
        if n > 5:
            a_n1 = -float(m[1]) / ssumm2 + _poly(_SW_POLY_AN1, u)
            phi = (summ2 - 2.0 * float(m[0]) ** 2 - 2.0 * float(m[1]) ** 2) / (
                1.0 - 2.0 * a_n**2 - 2.0 * a_n1**2
            )
            lower = m / math.sqrt(phi)
            lower[0], lower[1] = -a_n, -a_n1
        else:  # n = 4, 5: only the extreme pair is corrected
            phi = (summ2 - 2.0 * float(m[0]) ** 2) / (1.0 - 2.0 * a_n**2)
            lower = m / math.sqrt(phi)
            lower[0] = -a_n
    middle = torch.zeros(n % 2, dtype=torch.float64)
    return torch.cat([lower, middle, -lower.flip(0)])


def shapiro_wilk_coefficients(
    n: int, *, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
) -> Tensor:
    """Shapiro–Wilk coefficients ``a`` for a sample of size ``n`` (Royston 1992; exact for ``n = 3``).

    ``m_i = Φ⁻¹((i − 3/8)/(n + 1/4))``; the two extreme pairs (one pair for ``n = 4, 5``) get Royston's
    polynomial corrections in ``u = 1/sqrt(n)`` and the middle terms are ``m_i/sqrt(φ)``, so that
    ``Σ a_i² = 1`` and ``a_i = −a_{n+1−i}``. Computed once per ``n`` (cached) in float64.
    Royston's approximation is validated for ``4 <= n <= 5000``.

    :param n: sample size, ``n >= 3``.
    :param dtype: dtype of the returned tensor.
    :param device: device of the returned tensor.
    :output a: ``[n]``, ascending (``a_1 < 0 < a_n``), to multiply the *sorted* sample.
    """
    n = check_int_range(n, "n", low=3)
    return _sw_coefficients_cpu64(n).to(dtype=dtype, device=device, copy=True)


@functools.lru_cache(maxsize=64)
def _sw_coefficients_on(n: int, device: torch.device) -> Tensor:
    """Float64 coefficients kept on ``device`` (internal, never handed out, so never mutated)."""
    return _sw_coefficients_cpu64(n).to(device=device)


def _shapiro_wilk64(x: Tensor, dim: int, name: str) -> Tensor:
    """W in float64, reduced along ``dim``; constant samples give ``W = 1`` (as scipy does)."""
    if not isinstance(x, Tensor):
        raise UsageError(f"must be a torch.Tensor; got {type(x).__name__}", name)
    if not x.is_floating_point():
        raise UsageError(f"must be a real floating-point tensor; got dtype {x.dtype}", name)
    if x.dim() == 0:
        raise UsageError("must have at least one dimension (the sample)", name)
    n = x.shape[dim]
    if n < 3:
        raise UsageError(
            f"the Shapiro–Wilk statistic needs at least 3 samples along dim {dim}; got {n}", name
        )
    xs = torch.sort(x.to(torch.float64).movedim(dim, -1), dim=-1).values  # [..., n], ascending
    a = _sw_coefficients_on(n, x.device)  # [n], float64
    centred = xs - xs.mean(dim=-1, keepdim=True)
    ss = centred.square().sum(dim=-1)  # Σ (x_i − x̄)²
    num = (centred * a).sum(dim=-1).square()  # (Σ a_i x_(i))², Σ a_i = 0 so centring is free
    constant = ss <= 0
    w = num / torch.where(constant, torch.ones_like(ss), ss)
    return torch.where(constant, torch.ones_like(w), w)


def shapiro_wilk(x: Tensor, dim: int = 0) -> Tensor:
    """Shapiro–Wilk statistic ``W = (Σ a_i x_(i))² / Σ (x_i − x̄)²`` along ``dim``, differentiable.

    Equals ``scipy.stats.shapiro(x).statistic`` (Royston's algorithm AS R94) to about 1e-9; computed in
    float64 internally and returned in ``x``'s dtype. The sort is ``torch.sort``, whose gradient routes
    each order statistic back to its element. A constant sample gives ``W = 1`` (scipy's convention)
    with zero gradient.

    :param x: samples, e.g. ``[n, k]`` for ``k`` columns of ``n >= 3`` values each.
    :param dim: the sample dimension (reduced).
    :output w: ``x.shape`` without ``dim`` (``[k]`` for ``[n, k]``), values in ``(0, 1]``.
    :raises UsageError: (argument ``"x"``) for fewer than 3 samples or a non-floating tensor.
    """
    return _shapiro_wilk64(x, dim, "x").to(x.dtype)


def swt(z: Tensor) -> Tensor:
    """The study's Shapiro–Wilk regulariser ``R = mean_d (1 − W_d)`` (Eq. 3).

    ``W_d`` is the Shapiro–Wilk statistic of latent dimension ``d`` across the batch (column-wise,
    ``n = B``); ``R = 0`` for a perfectly normal-looking batch, larger for non-normal latents.

    :param z: latents, ``[B, d]`` with ``B >= 3``.
    :output r: scalar tensor in ``z``'s dtype (dimensionless).
    :raises UsageError: (argument ``"z"``) when ``z`` is not ``[B, d]`` or ``B < 3``.
    """
    _check_latents(z, "z")
    return (1.0 - _shapiro_wilk64(z, 0, "z")).mean().to(z.dtype)


# ----------------------------------------------------------------------------------------- β-TCVAE


def log_density_gaussian(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """Elementwise ``log N(z; μ, σ²) = −½(log 2π + log σ² + (z − μ)²/σ²)`` (broadcasting).

    :param z: points; any shape broadcastable with ``mu`` and ``logvar``.
    :param mu: means.
    :param logvar: log-variances ``log σ²``.
    :output log_p: the broadcast shape, in nats.
    """
    return -0.5 * (_LOG_2PI + logvar + (z - mu).square() * torch.exp(-logvar))


def mss_log_importance_weights(
    batch_size: int,
    dataset_size: int,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Log of the minibatch-stratified sampling (MSS) weight matrix of Chen et al. (2018, App. C.2).

    Row ``i`` estimates ``q(z_i) = (1/N) Σ_n q(z_i | x_n)`` from the batch, where ``z_i`` was drawn from
    ``q(z | x_i)``. With ``M = B − 1`` other examples in the batch (the paper's notation) the weights are

    - ``W[i, i] = 1/N`` (the example ``z_i`` came from),
    - ``W[i, (i+1) mod B] = (N − M)/(N·M)`` (the stratum that holds the remaining ``(N − M)/M`` points),
    - ``1/M`` for the other ``M − 1`` columns,

    so every row sums to 1: ``1/N + (M−1)/M + (N−M)/(N·M) = 1``.

    Note: the reference code (``log_importance_weight_matrix`` in rtqichen/beta-tcvae, copied by several
    libraries) fills ``view(-1)[::B]`` with ``1/N``, i.e. **column 0** instead of the diagonal, and
    ``view(-1)[1::B]`` (column 1) with the stratum weight, then sets ``W[M−1, 0]`` to the stratum weight.
    Every row of its matrix but one still sums to 1 (63 of 64 rows at ``B = 64``; row ``M − 1`` holds the
    stratum weight twice and sums to ``2·(N−M)/(N·M) + (M−1)/M``): its defect is *where* the weights sit —
    ``z_i``'s own posterior gets the weight ``1/M`` and example 0's gets ``1/N`` — which biases that
    estimator's ``log q(z)`` upward (see that repository's PR #1). This function builds the matrix of the
    paper's formula instead.

    :param batch_size: ``B >= 2``.
    :param dataset_size: ``N >= B``, the number of training examples.
    :output log_w: ``[B, B]`` (rows: sampled ``z_i``; columns: posterior ``q(·|x_j)``).
    """
    b = check_int_range(batch_size, "batch_size", low=2)
    n = check_int_range(dataset_size, "dataset_size", low=b)
    m = b - 1
    strat_weight = (n - m) / (n * m)
    idx = torch.arange(b, device=device)
    w = torch.full((b, b), 1.0 / m, dtype=torch.float64, device=device)
    w[idx, idx] = 1.0 / n
    w[idx, (idx + 1) % b] = strat_weight
    return w.log().to(dtype)


class TCTerms(NamedTuple):
    """The three parts of the β-TCVAE KL decomposition, each a scalar batch mean in nats.

    ``mi + tc + dwkl`` is the Monte-Carlo estimate of ``E[KL(q(z|x) ‖ p(z))]`` on the batch.
    """

    mi: Tensor  #: index-code mutual information  E[log q(z|x) − log q(z)]
    tc: Tensor  #: total correlation              E[log q(z) − Σ_d log q(z_d)]
    dwkl: Tensor  #: dimension-wise KL            E[Σ_d log q(z_d) − log p(z)]


def tc_decomposition(
    z: Tensor,
    mu: Tensor,
    logvar: Tensor,
    dataset_size: int,
    *,
    estimator: Literal["mss", "mws"] = "mss",
) -> TCTerms:
    """β-TCVAE decomposition of the KL term (Chen et al., 2018) estimated on one minibatch.

    With ``L[i, j, k] = log N(z_ik; μ_jk, σ²_jk)`` for every pair of batch examples,

    - ``mws`` (minibatch-weighted sampling, the paper's Eq. S5):
      ``log q(z_i) ≈ logsumexp_j Σ_k L[i, j, k] − log(N·B)`` and
      ``log q(z_ik) ≈ logsumexp_j L[i, j, k] − log(N·B)``;
    - ``mss`` (minibatch-stratified sampling): the same sums weighted by
      :func:`mss_log_importance_weights` instead of the constant ``1/(N·B)``.

    ``log q(z|x)`` and the prior ``log p(z)`` (standard normal) are exact, so ``mi + tc + dwkl`` is the
    same for both estimators. MWS is kept as published: when the posteriors of the batch overlap, each of
    its ``log q`` terms is low by about ``log N``, which shifts TC up (and DWKL down) by about
    ``(d − 1)·log N`` nats; MSS has no such offset and is the default.

    :param z: sampled latents ``z_i ~ q(z | x_i)``, ``[B, d]``, ``B >= 2``.
    :param mu: posterior means, ``[B, d]``.
    :param logvar: posterior log-variances, ``[B, d]``.
    :param dataset_size: ``N``, number of training examples (``N >= B``).
    :param estimator: ``"mss"`` (default) or ``"mws"``.
    :output terms: :class:`TCTerms` of scalars (batch means, nats).
    """
    _check_latents(z, "z", min_batch=2)
    _check_same_shape(z, mu, "z", "mu")
    _check_same_shape(z, logvar, "z", "logvar")
    check_one_of(estimator, ("mss", "mws"), "estimator")
    batch = z.shape[0]
    n = check_int_range(dataset_size, "dataset_size", low=batch)

    log_qz_cond_x = log_density_gaussian(z, mu, logvar).sum(-1)  # [B]
    log_pz = log_density_gaussian(z, torch.zeros_like(z), torch.zeros_like(z)).sum(-1)  # [B]
    pair = log_density_gaussian(z[:, None, :], mu[None, :, :], logvar[None, :, :])  # [B x B x d]

    if estimator == "mws":
        log_norm = math.log(n * batch)
        log_qz = torch.logsumexp(pair.sum(-1), dim=1) - log_norm  # [B]
        log_prod_qzk = (torch.logsumexp(pair, dim=1) - log_norm).sum(-1)  # [B]
    else:
        log_w = mss_log_importance_weights(batch, n, dtype=z.dtype, device=z.device)  # [B x B]
        log_qz = torch.logsumexp(log_w + pair.sum(-1), dim=1)  # [B]
        log_prod_qzk = torch.logsumexp(log_w[:, :, None] + pair, dim=1).sum(-1)  # [B]

    return TCTerms(
        mi=(log_qz_cond_x - log_qz).mean(),
        tc=(log_qz - log_prod_qzk).mean(),
        dwkl=(log_prod_qzk - log_pz).mean(),
    )


def full_data_decomposition(
    mu: Tensor,
    logvar: Tensor,
    *,
    n_samples: int | None = 2000,
    generator: torch.Generator | None = None,
    chunk: int = 256,
) -> TCTerms:
    """KL decomposition with the aggregate posterior of the **whole data set** (no minibatch estimator).

    This is how the reference implementation's ELBO-decomposition script checks a trained model: with the
    posteriors ``q(z|x_n) = N(μ_n, diag σ²_n)`` of all ``N`` training examples,
    ``q(z) = (1/N) Σ_n q(z|x_n)`` and ``q(z_k) = (1/N) Σ_n q(z_k|x_n)`` are evaluated exactly at sampled
    points ``z_i ~ q(z|x_i)`` (``i`` over ``n_samples`` examples drawn without replacement, or all ``N``
    when ``n_samples`` is ``None`` or ``≥ N``), so the only error is the Monte-Carlo average over
    ``z_i`` — no ``log N`` offset (MWS) and no stratification bias (MSS). Cost ``O(n_samples·N·d)``,
    evaluated in chunks of ``chunk`` sample points (float64).

    Checks (``tests/test_regularizers.py``): a factorised aggregate posterior (posterior means on a full
    product grid, equal σ) gives TC = 0 exactly; ``K`` well-separated posteriors on the diagonal give
    TC = log K; a Gaussian cloud of tiny posteriors with correlation ρ gives ``−½·log(1 − ρ²)``.

    :param mu: posterior means of the whole training set, ``[N, d]``.
    :param logvar: their log-variances, ``[N, d]``.
    :param n_samples: sample points for the outer expectation (``None``: every example once).
    :param generator: for the choice of examples and the draws ``z_i``.
    :param chunk: sample points per chunk (bounds memory at ``chunk·N·d`` float64 values).
    :output terms: :class:`TCTerms` (mi, tc, dwkl), scalars in nats.
    """
    _check_latents(mu, "mu", min_batch=2)
    _check_same_shape(mu, logvar, "mu", "logvar")
    mu = mu.detach().double()
    logvar = logvar.detach().double()
    n, d = mu.shape
    if n_samples is None or n_samples >= n:
        idx = torch.arange(n, device=mu.device)
    else:
        check_int_range(n_samples, "n_samples", low=1)
        idx = torch.randperm(n, generator=generator, device="cpu")[:n_samples].to(mu.device)
    eps = torch.randn((idx.numel(), d), generator=generator, dtype=torch.float64, device="cpu").to(mu.device)
    z = mu[idx] + eps * torch.exp(0.5 * logvar[idx])  # [S, d], z_i ~ q(z|x_i)
    log_n = math.log(n)
    log_qz_cond_x = log_density_gaussian(z, mu[idx], logvar[idx]).sum(-1)  # [S]
    log_pz = log_density_gaussian(z, torch.zeros_like(z), torch.zeros_like(z)).sum(-1)  # [S]
    log_qz, log_prod = [], []
    for part in z.split(chunk):
        pair = log_density_gaussian(part[:, None, :], mu[None], logvar[None])  # [s x N x d]
        log_qz.append(torch.logsumexp(pair.sum(-1), dim=1) - log_n)  # [s]
        log_prod.append((torch.logsumexp(pair, dim=1) - log_n).sum(-1))  # [s]
    lq, lp = torch.cat(log_qz), torch.cat(log_prod)
    return TCTerms(mi=(log_qz_cond_x - lq).mean(), tc=(lq - lp).mean(), dwkl=(lp - log_pz).mean())


def beta_tc_loss(
    z: Tensor,
    mu: Tensor,
    logvar: Tensor,
    dataset_size: int,
    beta: float,
    *,
    alpha: float = 1.0,
    gamma: float = 1.0,
    estimator: Literal["mss", "mws"] = "mss",
) -> Tensor:
    """β-TCVAE regulariser ``α·MI + β·TC + γ·DWKL`` (β multiplies the total correlation only).

    :param z: sampled latents, ``[B, d]``.
    :param mu: posterior means, ``[B, d]``.
    :param logvar: posterior log-variances, ``[B, d]``.
    :param dataset_size: ``N``, number of training examples.
    :param beta: weight of the total correlation (the study uses 1, 5, 10, 30, 50).
    :param alpha: weight of the index-code mutual information.
    :param gamma: weight of the dimension-wise KL.
    :param estimator: ``"mss"`` (default) or ``"mws"``, see :func:`tc_decomposition`.
    :output loss: scalar tensor, nats.
    """
    terms = tc_decomposition(z, mu, logvar, dataset_size, estimator=estimator)
    return alpha * terms.mi + beta * terms.tc + gamma * terms.dwkl
