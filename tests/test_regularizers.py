"""Tests for channelae/models/regularizers.py against independent references (scipy, numpy loops, hand maths)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import logsumexp

from channelae.errors import UsageError
from channelae.models.regularizers import (
    MMD_SCALES,
    beta_tc_loss,
    full_data_decomposition,
    kld,
    log_density_gaussian,
    mmd,
    mss_log_importance_weights,
    shapiro_wilk,
    shapiro_wilk_coefficients,
    swt,
    tc_decomposition,
)

# ------------------------------------------------------------------------------------------------ KLD


def test_kld_hand_value() -> None:
    # example 0: μ=(0,0), σ²=(1,1)      → 0
    # example 1: μ=(1,2), σ²=(1,4)      → 0.5·[(1+1−0−1) + (4+4−log 4−1)] = 0.5·(8 − log 4)
    mu = torch.tensor([[0.0, 0.0], [1.0, 2.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, 0.0], [0.0, math.log(4.0)]], dtype=torch.float64)
    expected = torch.tensor([0.0, 0.5 * (8.0 - math.log(4.0))], dtype=torch.float64)
    torch.testing.assert_close(kld(mu, logvar), expected)


def test_kld_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 7, generator=g, dtype=torch.float64)
    logvar = torch.randn(5, 7, generator=g, dtype=torch.float64)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    ref = torch.distributions.kl_divergence(q, p).sum(-1)
    out = kld(mu, logvar)
    assert out.shape == (5,)
    torch.testing.assert_close(out, ref)


def test_kld_shape_mismatch_raises() -> None:
    with pytest.raises(UsageError, match="logvar"):
        kld(torch.zeros(3, 2), torch.zeros(3, 4))


# ------------------------------------------------------------------------------------------------ MMD


def _mmd_loops(z: np.ndarray, zs: np.ndarray, kernel: str, sigma2: float) -> float:
    """Unbiased MMD² written as plain double loops (independent of the vectorised code)."""
    b, d = z.shape
    m = zs.shape[0]
    base = 2.0 * d * sigma2

    def k(a: np.ndarray, c: np.ndarray) -> float:
        dist2 = float(np.sum((a - c) ** 2))
        total = 0.0
        for s in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0):
            cs = base * s
            total += cs / (cs + dist2) if kernel == "imq" else math.exp(-dist2 / cs)
        return total

    zz = sum(k(z[i], z[j]) for i in range(b) for j in range(b) if i != j) / (b * (b - 1))
    pp = sum(k(zs[i], zs[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    zp = sum(k(z[i], zs[j]) for i in range(b) for j in range(m)) / (b * m)
    return zz + pp - 2.0 * zp


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
@pytest.mark.parametrize("sigma2", [1.0, 2.5])
def test_mmd_matches_double_loop(kernel: str, sigma2: float) -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(4, 3)) + 0.3
    zs = rng.normal(size=(5, 3)) * math.sqrt(sigma2)
    out = mmd(torch.from_numpy(z), torch.from_numpy(zs), kernel=kernel, sigma2_prior=sigma2)
    assert out.shape == ()
    assert out.item() == pytest.approx(_mmd_loops(z, zs, kernel, sigma2), rel=1e-10, abs=1e-12)


def test_mmd_scales_are_the_wae_ones() -> None:
    assert MMD_SCALES == (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_near_zero_for_prior_and_positive_for_shifted(kernel: str) -> None:
    clean, shifted = [], []
    for seed in range(16):
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(64, 8, generator=g, dtype=torch.float64)
        clean.append(mmd(z, kernel=kernel, generator=g).item())
        shifted.append(mmd(z + 0.5, kernel=kernel, generator=g).item())
    clean_a, shifted_a = np.array(clean), np.array(shifted)
    # unbiased: the mean over seeds is within 4 standard errors of 0
    assert abs(clean_a.mean()) < 4.0 * clean_a.std() / math.sqrt(len(clean_a))
    assert shifted_a.mean() > 10.0 * clean_a.std()
    assert (shifted_a > 0).all()


def test_mmd_prior_variance_sets_the_reference() -> None:
    # z ~ N(0, 4 I): close to a σ_p² = 4 prior, far from the unit prior
    vals4, vals1 = [], []
    for seed in range(6):
        g = torch.Generator().manual_seed(seed)
        z = 2.0 * torch.randn(64, 4, generator=g, dtype=torch.float64)
        vals4.append(mmd(z, sigma2_prior=4.0, generator=g).item())
        vals1.append(mmd(z, sigma2_prior=1.0, generator=g).item())
    assert np.mean(vals1) > 5 * abs(np.mean(vals4))


def test_mmd_generator_reproducible_and_gradcheck() -> None:
    z = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    a = mmd(z, generator=torch.Generator().manual_seed(7))
    b = mmd(z, generator=torch.Generator().manual_seed(7))
    assert a.item() == b.item()
    prior = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    zg = z.clone().requires_grad_(True)
    for kernel in ("imq", "rbf"):
        assert torch.autograd.gradcheck(lambda t, k=kernel: mmd(t, prior, kernel=k), (zg,))


def test_mmd_errors() -> None:
    z = torch.zeros(4, 3)
    with pytest.raises(UsageError, match=r"kernel.*imq, rbf.*'gauss'"):
        mmd(z, kernel="gauss")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="z"):
        mmd(torch.zeros(1, 3))
    with pytest.raises(UsageError, match="prior"):
        mmd(z, torch.zeros(4, 2))
    with pytest.raises(UsageError, match="sigma2_prior"):
        mmd(z, sigma2_prior=0.0)


# ------------------------------------------------------------------------------------- Shapiro–Wilk

SW_SIZES = [3, 4, 5, 6, 7, 10, 11, 20, 50, 100, 500, 1000, 2000, 5000]


def _sample(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "normal":
        x = rng.normal(size=n)
    elif kind == "uniform":
        x = rng.uniform(size=n)
    elif kind == "exponential":
        x = rng.exponential(size=n)
    else:  # bimodal: equal mixture of N(−3, 1) and N(3, 1)
        x = rng.normal(size=n) + np.where(rng.uniform(size=n) < 0.5, -3.0, 3.0)
    return x.astype(np.float32)


@pytest.mark.parametrize("n", SW_SIZES)
def test_shapiro_wilk_matches_scipy(n: int) -> None:
    rng = np.random.default_rng(n)
    kinds = ["normal", "uniform", "exponential", "bimodal"]
    cols = np.stack([_sample(kind, n, rng) for kind in kinds for _ in range(2)], axis=1)  # [n, 8] float32
    w = shapiro_wilk(torch.from_numpy(cols))
    assert w.dtype == torch.float32 and w.shape == (cols.shape[1],)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about its p-value for n > 5000 only
        ref = np.array([stats.shapiro(cols[:, k]).statistic for k in range(cols.shape[1])])
    np.testing.assert_allclose(w.numpy(), ref, rtol=0, atol=1e-6)


def test_shapiro_wilk_coefficients_match_scipy_swilk() -> None:
    swilk = pytest.importorskip("scipy.stats._ansari_swilk_statistics").swilk
    for n in [4, 5, 6, 7, 11, 50, 1000]:
        upper = np.zeros(n // 2)  # swilk fills a_n, a_{n−1}, … (positive half)
        swilk(np.arange(n, dtype=np.float64), upper, False)
        a = shapiro_wilk_coefficients(n).numpy()
        # scipy uses the AS 111 normal quantile (about 1e-9 off Φ⁻¹); we use the exact Φ⁻¹
        np.testing.assert_allclose(a[::-1][: n // 2], upper, rtol=0, atol=1e-8)


def test_shapiro_wilk_coefficients_structure() -> None:
    a3 = shapiro_wilk_coefficients(3)
    torch.testing.assert_close(a3, torch.tensor([-math.sqrt(0.5), 0.0, math.sqrt(0.5)], dtype=torch.float64))
    for n in [4, 5, 6, 9, 200]:
        a = shapiro_wilk_coefficients(n)
        assert a.dtype == torch.float64 and a.shape == (n,)
        torch.testing.assert_close(a, -a.flip(0))  # antisymmetric
        assert a.square().sum().item() == pytest.approx(1.0, abs=1e-12)  # normalised by φ
        assert bool((a.diff() >= 0).all())
    assert shapiro_wilk_coefficients(8, dtype=torch.float32).dtype == torch.float32
    # the cache hands out copies: mutating one must not change the next
    a = shapiro_wilk_coefficients(10)
    a.zero_()
    assert shapiro_wilk_coefficients(10).abs().sum() > 0


def test_shapiro_wilk_hand_values_n3() -> None:
    # a = (−√½, 0, √½). Equally spaced (0,1,2): (√½·2)² / 2 = 1.  (0,0,1): (√½)² / (2/3) = 0.75.
    x = torch.tensor([[2.0, 1.0], [0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(shapiro_wilk(x), torch.tensor([1.0, 0.75], dtype=torch.float64))


def test_shapiro_wilk_dim_dtype_and_constant_column() -> None:
    rng = np.random.default_rng(5)
    x = rng.exponential(size=(3, 40))  # three rows of 40 samples
    w = shapiro_wilk(torch.from_numpy(x), dim=1)
    assert w.dtype == torch.float64 and w.shape == (3,)
    np.testing.assert_allclose(w.numpy(), [stats.shapiro(r).statistic for r in x], rtol=0, atol=1e-9)
    # 1-D input gives a scalar; a constant sample gives W = 1 like scipy (which also warns)
    assert shapiro_wilk(torch.from_numpy(x[0])).shape == ()
    with pytest.warns(UserWarning):
        ref_const = stats.shapiro(np.full(10, 3.0)).statistic
    assert shapiro_wilk(torch.full((10,), 3.0)).item() == ref_const == 1.0


def test_shapiro_wilk_gradcheck() -> None:
    x = torch.randn(9, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert torch.autograd.gradcheck(shapiro_wilk, (x.requires_grad_(True),))
    z = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    assert torch.autograd.gradcheck(swt, (z.requires_grad_(True),))


def test_swt_is_mean_of_one_minus_w() -> None:
    rng = np.random.default_rng(6)
    z = np.concatenate(
        [
            _sample("normal", 64, rng)[:, None],
            _sample("uniform", 64, rng)[:, None],
            _sample("bimodal", 64, rng)[:, None],
        ],
        axis=1,
    )
    expected = np.mean([1.0 - stats.shapiro(z[:, k]).statistic for k in range(3)])
    out = swt(torch.from_numpy(z))
    assert out.dtype == torch.float32 and out.shape == ()
    assert out.item() == pytest.approx(expected, abs=1e-6)


def test_swt_gradient_finite_with_constant_column() -> None:
    z = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    z[:, 1] = 0.5
    z.requires_grad_(True)
    swt(z).backward()
    assert torch.isfinite(z.grad).all()
    assert torch.all(z.grad[:, 1] == 0)


def test_shapiro_wilk_errors() -> None:
    with pytest.raises(UsageError, match=r"^x: .*at least 3 samples.*got 2"):
        shapiro_wilk(torch.zeros(2, 4))
    with pytest.raises(UsageError, match=r"^z: .*at least 3 samples.*got 2"):
        swt(torch.zeros(2, 4))
    with pytest.raises(UsageError, match=r"^z: .*\[batch, latent\]"):
        swt(torch.zeros(10))
    with pytest.raises(UsageError, match=r"^x: .*floating"):
        shapiro_wilk(torch.arange(10))
    with pytest.raises(UsageError, match=r"^n: "):
        shapiro_wilk_coefficients(2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_regularizers_on_cuda() -> None:
    rng = np.random.default_rng(8)
    z_np = rng.normal(size=(256, 4)).astype(np.float32)
    z = torch.from_numpy(z_np).cuda()
    w = shapiro_wilk(z)
    assert w.device.type == "cuda"
    ref = [stats.shapiro(z_np[:, k]).statistic for k in range(4)]
    np.testing.assert_allclose(w.cpu().numpy(), ref, rtol=0, atol=1e-6)
    assert mmd(z, generator=torch.Generator().manual_seed(0)).device.type == "cuda"
    terms = tc_decomposition(z, z, torch.zeros_like(z), 1000)
    assert terms.tc.device.type == "cuda"


# ------------------------------------------------------------------------------------------- β-TCVAE


def test_log_density_gaussian_matches_scipy() -> None:
    rng = np.random.default_rng(9)
    z = rng.normal(size=(4, 1, 3))
    mu = rng.normal(size=(1, 5, 3))
    logvar = rng.normal(size=(1, 5, 3))
    out = log_density_gaussian(torch.from_numpy(z), torch.from_numpy(mu), torch.from_numpy(logvar))
    ref = stats.norm.logpdf(z, loc=mu, scale=np.exp(0.5 * logvar))
    assert out.shape == (4, 5, 3)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_mss_weight_matrix_by_hand() -> None:
    # B = 4, N = 10, M = B − 1 = 3:
    #   own example (diagonal)      1/N = 1/10           = 3/30
    #   next example (i+1 mod B)    (N − M)/(N·M) = 7/30
    #   the other M − 1 = 2         1/M = 1/3            = 10/30
    # every row: 3/30 + 7/30 + 10/30 + 10/30 = 1
    expected = (
        np.array(
            [
                [3, 7, 10, 10],
                [10, 3, 7, 10],
                [10, 10, 3, 7],
                [7, 10, 10, 3],
            ],
            dtype=np.float64,
        )
        / 30.0
    )
    log_w = mss_log_importance_weights(4, 10, dtype=torch.float64)
    assert log_w.shape == (4, 4) and log_w.dtype == torch.float64
    np.testing.assert_allclose(log_w.exp().numpy(), expected, rtol=1e-14)


@pytest.mark.parametrize(("b", "n"), [(2, 2), (2, 50), (5, 5), (16, 60000)])
def test_mss_weight_rows_sum_to_one(b: int, n: int) -> None:
    w = mss_log_importance_weights(b, n, dtype=torch.float64).exp()
    torch.testing.assert_close(w.sum(1), torch.ones(b, dtype=torch.float64))
    torch.testing.assert_close(w.diagonal(), torch.full((b,), 1.0 / n, dtype=torch.float64))


def _brute_force_terms(z: np.ndarray, mu: np.ndarray, logvar: np.ndarray, n_data: int, estimator: str):
    """MI, TC, DWKL by explicit loops with scipy densities (independent of the tensor code)."""
    b, d = z.shape
    sd = np.exp(0.5 * logvar)
    m = b - 1
    mi, tc, dw = [], [], []
    for i in range(b):
        # log-weights of the B posteriors for sample i
        if estimator == "mws":
            logw = [-math.log(n_data * b)] * b
        else:
            logw = []
            for j in range(b):
                if j == i:
                    w = 1.0 / n_data
                elif j == (i + 1) % b:
                    w = (n_data - m) / (n_data * m)
                else:
                    w = 1.0 / m
                logw.append(math.log(w))
        log_qzx = sum(stats.norm.logpdf(z[i, k], mu[i, k], sd[i, k]) for k in range(d))
        log_pz = sum(stats.norm.logpdf(z[i, k]) for k in range(d))
        joint = [
            logw[j] + sum(stats.norm.logpdf(z[i, k], mu[j, k], sd[j, k]) for k in range(d)) for j in range(b)
        ]
        log_qz = logsumexp(joint)
        log_prod = 0.0
        for k in range(d):
            log_prod += logsumexp(
                [logw[j] + stats.norm.logpdf(z[i, k], mu[j, k], sd[j, k]) for j in range(b)]
            )
        mi.append(log_qzx - log_qz)
        tc.append(log_qz - log_prod)
        dw.append(log_prod - log_pz)
    return float(np.mean(mi)), float(np.mean(tc)), float(np.mean(dw))


def _tiny_batch(seed: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(5, 3))
    logvar = rng.normal(scale=0.5, size=(5, 3))
    z = mu + np.exp(0.5 * logvar) * rng.normal(size=(5, 3))
    return z, mu, logvar


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_tc_decomposition_matches_brute_force(estimator: str) -> None:
    z, mu, logvar = _tiny_batch()
    terms = tc_decomposition(
        torch.from_numpy(z), torch.from_numpy(mu), torch.from_numpy(logvar), 20, estimator=estimator
    )
    mi, tc, dw = _brute_force_terms(z, mu, logvar, 20, estimator)
    assert terms.mi.shape == terms.tc.shape == terms.dwkl.shape == ()
    assert terms.mi.item() == pytest.approx(mi, rel=1e-10, abs=1e-10)
    assert terms.tc.item() == pytest.approx(tc, rel=1e-10, abs=1e-10)
    assert terms.dwkl.item() == pytest.approx(dw, rel=1e-10, abs=1e-10)
    # the three parts telescope to the Monte-Carlo KL  E[log q(z|x) − log p(z)]
    sd = np.exp(0.5 * logvar)
    mc_kl = np.mean(np.sum(stats.norm.logpdf(z, mu, sd) - stats.norm.logpdf(z), axis=1))
    assert (terms.mi + terms.tc + terms.dwkl).item() == pytest.approx(mc_kl, rel=1e-10)


def test_beta_tc_loss_weights() -> None:
    z, mu, logvar = _tiny_batch(11)
    args = (torch.from_numpy(z), torch.from_numpy(mu), torch.from_numpy(logvar), 30)
    mi, tc, dw = _brute_force_terms(z, mu, logvar, 30, "mss")
    assert beta_tc_loss(*args, 1.0).item() == pytest.approx(mi + tc + dw, rel=1e-10)
    loss = beta_tc_loss(*args, 5.0, alpha=0.5, gamma=2.0, estimator="mss")
    assert loss.item() == pytest.approx(0.5 * mi + 5.0 * tc + 2.0 * dw, rel=1e-10)
    mi_w, tc_w, dw_w = _brute_force_terms(z, mu, logvar, 30, "mws")
    assert beta_tc_loss(*args, 10.0, estimator="mws").item() == pytest.approx(
        mi_w + 10 * tc_w + dw_w, rel=1e-10
    )


def test_tc_near_zero_for_independent_and_large_for_correlated_latents() -> None:
    b, d = 256, 3
    ind, cor = [], []
    for seed in range(4):
        g = torch.Generator().manual_seed(seed)
        # aggregate posterior N(0, I): μ ~ N(0, 0.7 I), σ² = 0.3 → independent dimensions
        mu = math.sqrt(0.7) * torch.randn(b, d, generator=g, dtype=torch.float64)
        logvar = torch.full((b, d), math.log(0.3), dtype=torch.float64)
        z = mu + math.sqrt(0.3) * torch.randn(b, d, generator=g, dtype=torch.float64)
        ind.append(tc_decomposition(z, mu, logvar, 10_000).tc.item())
        # all dimensions share one factor: μ_k = sqrt(0.95)·u, σ² = 0.05 → correlation ρ = 0.95
        u = torch.randn(b, 1, generator=g, dtype=torch.float64).expand(b, d)
        mu_c = math.sqrt(0.95) * u
        logvar_c = torch.full((b, d), math.log(0.05), dtype=torch.float64)
        z_c = mu_c + math.sqrt(0.05) * torch.randn(b, d, generator=g, dtype=torch.float64)
        cor.append(tc_decomposition(z_c, mu_c, logvar_c, 10_000).tc.item())
    # Gaussian total correlation −½ log det R, R equicorrelated: det = (1 − ρ)^(d−1)·(1 + (d−1)ρ)
    rho = 0.95
    tc_gauss = -0.5 * math.log((1 - rho) ** (d - 1) * (1 + (d - 1) * rho))  # ≈ 2.46 nats
    assert abs(np.mean(ind)) < 0.1
    assert np.mean(cor) == pytest.approx(tc_gauss, abs=0.3)


def test_tc_decomposition_gradcheck() -> None:
    z, mu, logvar = (torch.from_numpy(a).requires_grad_(True) for a in _tiny_batch(12))

    def total(zz: torch.Tensor, m: torch.Tensor, lv: torch.Tensor) -> torch.Tensor:
        t = tc_decomposition(zz, m, lv, 40)
        return torch.stack([t.mi, t.tc, t.dwkl])

    assert torch.autograd.gradcheck(total, (z, mu, logvar))


def test_tc_errors() -> None:
    z = torch.zeros(4, 3)
    with pytest.raises(UsageError, match=r"estimator.*mss, mws"):
        tc_decomposition(z, z, z, 10, estimator="exact")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"^dataset_size: must be >= 4"):
        tc_decomposition(z, z, z, 3)
    with pytest.raises(UsageError, match="logvar"):
        tc_decomposition(z, z, torch.zeros(4, 2), 10)
    with pytest.raises(UsageError, match="batch_size"):
        mss_log_importance_weights(1, 10)


# ------------------------------------------------------------------- full-data-set decomposition (exact q(z))


def test_full_data_tc_is_zero_for_a_factorised_aggregate_posterior() -> None:
    """Means on a full product grid with equal σ: q(z) = q(z_1)·q(z_2) exactly, so TC = 0 pointwise."""
    a = torch.tensor([-2.0, 0.5, 3.0])
    b = torch.tensor([-1.0, 1.5])
    mu = torch.cartesian_prod(a, b)  # [6, 2]
    logvar = torch.full_like(mu, math.log(0.7**2))
    terms = full_data_decomposition(mu, logvar, n_samples=None, generator=torch.Generator().manual_seed(0))
    assert abs(float(terms.tc)) < 1e-12


def test_full_data_tc_of_separated_diagonal_posteriors_is_log_k() -> None:
    """K posteriors far apart on the diagonal: TC = H(z1) + H(z2) − H(z) = log K (discrete limit)."""
    k = 7
    centres = torch.arange(k, dtype=torch.float64) * 50.0
    mu = torch.stack([centres, centres], dim=1)
    logvar = torch.zeros_like(mu)
    terms = full_data_decomposition(mu, logvar, n_samples=None, generator=torch.Generator().manual_seed(1))
    assert float(terms.tc) == pytest.approx(math.log(k), abs=1e-6)


def test_full_data_tc_of_a_correlated_gaussian_cloud() -> None:
    """Posteriors N(μ_n, σ²I) with means from N(0, Σ), Σ = [[1, ρ], [ρ, 1]]: the aggregate posterior tends to
    N(0, Σ + σ²I), whose TC is −½·log(1 − ρ'²) with ρ' = ρ/(1 + σ²) (0.263 nats here; Monte-Carlo)."""
    g = torch.Generator().manual_seed(2)
    rho, sigma, n = 0.8, 0.5, 4000
    cov = torch.tensor([[1.0, rho], [rho, 1.0]], dtype=torch.float64)
    mu = torch.randn(n, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    logvar = torch.full_like(mu, math.log(sigma**2))
    terms = full_data_decomposition(mu, logvar, n_samples=None, generator=g)
    r = rho / (1 + sigma**2)
    assert float(terms.tc) == pytest.approx(-0.5 * math.log(1 - r**2), abs=0.03)


def test_full_data_terms_sum_to_the_kl() -> None:
    """mi + tc + dwkl = E[KL(q(z|x) ‖ p(z))] up to Monte-Carlo error; independent dimensions give TC ≈ 0."""
    g = torch.Generator().manual_seed(3)
    n, d = 2048, 4
    mu = 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
    logvar = torch.full((n, d), math.log(0.6**2), dtype=torch.float64)
    full = full_data_decomposition(mu, logvar, n_samples=None, generator=g)
    assert float(full.mi + full.tc + full.dwkl) == pytest.approx(float(kld(mu, logvar).mean()), abs=0.1)
    assert abs(float(full.tc)) < 0.05
    sub = full_data_decomposition(mu, logvar, n_samples=512, generator=g)  # subsampled outer average
    assert float(sub.tc) == pytest.approx(float(full.tc), abs=0.05)


def test_full_data_decomposition_errors() -> None:
    with pytest.raises(UsageError):
        full_data_decomposition(torch.zeros(5, 2), torch.zeros(5, 3))
