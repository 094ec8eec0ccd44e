"""Tests for channelae/curves.py: hand-computed cases, independent references (numpy, scipy), properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from channelae.curves import (
    EQUIVALENT_SNR_STATUS,
    METRIC_LIMITS,
    PSNR_CEILING_DB,
    REFERENCE_SNR_DB,
    STUDY_TABLE3_LIMITS,
    MetricSpec,
    aaddc,
    breaking_budget,
    equivalent_snr,
    equivalent_snr_loss,
    equivalent_snr_status,
    mean_ci,
    metric_spec,
)
from channelae.errors import UsageError

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def curves(draw: st.DrawFn, max_points: int = 10) -> tuple[np.ndarray, np.ndarray, float]:
    """A random DD-curve: (eps [E] strictly increasing, q [E] in [0, 1], limit in [0, 1])."""
    n = draw(st.integers(2, max_points))
    start = draw(st.floats(-1.0, 1.0))
    steps = draw(st.lists(st.floats(0.01, 1.0), min_size=n - 1, max_size=n - 1))
    eps = start + np.concatenate([[0.0], np.cumsum(steps)])
    q = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    limit = draw(st.floats(0.0, 1.0))
    return eps, q, limit


def dense_area(eps: np.ndarray, q: np.ndarray, limit: float, hib: bool, points: int = 100_001) -> float:
    """∫ max(m, 0) dε by brute force on a fine grid of the piecewise-linear curve (independent reference)."""
    x = np.linspace(eps[0], eps[-1], points)
    y = np.interp(x, eps, q)
    margin = y - limit if hib else limit - y
    return float(np.trapezoid(np.maximum(margin, 0.0), x))


# ------------------------------------------------------------------------------------------- metric specs


def test_metric_directions_and_default_limits() -> None:
    expected = {"ssim": (True, 0.4), "psnr": (True, 13.01), "lpips": (False, 0.15), "mse": (False, 0.05)}
    assert set(METRIC_LIMITS) == set(expected) | {"fid"}
    for name, (hib, limit) in expected.items():
        spec = metric_spec(name)
        assert isinstance(spec, MetricSpec)
        assert (spec.name, spec.higher_is_better, spec.limit) == (name, hib, limit)
        assert spec.limit_source
    assert metric_spec("psnr").unit == "dB"
    # PSNR's default line is MSE's: 10·log10(1/0.05) dB (consistent across metrics)
    assert metric_spec("psnr").limit == pytest.approx(10 * math.log10(1 / metric_spec("mse").limit), abs=0.005)
    fid = metric_spec("fid")
    assert not fid.higher_is_better and math.isnan(fid.limit)  # no default: it must be given
    assert metric_spec("fid", limit=3e-4).limit == 3e-4
    assert set(STUDY_TABLE3_LIMITS) <= set(METRIC_LIMITS)


def test_psnr_ceiling_is_the_psnr_of_8_bit_quantisation_noise() -> None:
    from channelae.metrics.psnr import psnr_per_image

    assert PSNR_CEILING_DB == pytest.approx(10 * math.log10(12 * 255**2)) and 58.9 < PSNR_CEILING_DB < 59.0
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 512, 512, generator=gen, dtype=torch.float64)
    quantised = (x * 255).round() / 255  # what storing x as an 8-bit image does
    assert float(psnr_per_image(quantised, x)[0]) == pytest.approx(PSNR_CEILING_DB, abs=0.05)
    assert float(psnr_per_image(x, x, max_db=PSNR_CEILING_DB)[0]) == PSNR_CEILING_DB


def _psnr_curve(eps: np.ndarray, cap: float) -> torch.Tensor:
    """Mean over images of per-image PSNR capped at ``cap`` for image errors growing linearly with ε:
    MSE_i(ε) = c_i·ε² (a decoder locally linear in its input), c_i in [0.1, 1]."""
    c = torch.linspace(0.1, 1.0, 16, dtype=torch.float64)[:, None]
    mse = c * torch.as_tensor(eps, dtype=torch.float64)[None] ** 2
    return (-10 * torch.log10(mse)).clamp(max=cap).mean(0)  # ε = 0: +inf, capped


@pytest.mark.parametrize("limit", [13.01, 25.0, 40.0])
def test_aaddc_of_capped_psnr_does_not_change_with_grid_points_near_zero(limit: float) -> None:
    """Adding grid points p ≤ δ inside the first segment [0, h] changes a trapezoid AADDC by at most δ·R (R: the
    margins' range) plus (h/2)·|q(δ) − q(0)|, the curve's own variation at scale δ. With the 8-bit ceiling the
    PSNR curve is continuous at ε = 0 (q(δ) = q(0): every image is capped there), so the change is O(δ); a fixed
    cap far above every reachable value (100 dB, the former cap) made it O(h)."""
    coarse = np.linspace(0.0, 1.0, 11)
    added = np.array([1e-4, 1e-3])
    fine = np.sort(np.concatenate([coarse, added]))
    h, delta = coarse[1], added.max()
    for cap, continuous in ((PSNR_CEILING_DB, True), (100.0, False)):
        q_coarse, q_fine = _psnr_curve(coarse, cap), _psnr_curve(fine, cap)
        change = abs(float(aaddc(fine, q_fine, limit, True) - aaddc(coarse, q_coarse, limit, True)))
        margins = (q_fine - limit).clamp_min(0)
        jump = abs(float(q_fine[2] - q_fine[0]))  # q(δ) − q(0)
        bound = delta * float(margins.max() - margins.min()) + h / 2 * jump + 1e-12
        if continuous:
            assert jump == 0.0 and change <= bound
        else:
            assert jump > 10 and change > 10 * delta * float(margins.max() - margins.min())


def test_metric_limit_override() -> None:
    spec = metric_spec("ssim", limit=0.75)
    assert spec.limit == 0.75 and spec.higher_is_better
    assert metric_spec("ssim").limit == 0.4  # the table is not modified
    assert metric_spec("lpips", limit=None).limit == 0.15
    with pytest.raises(UsageError, match="limit"):
        metric_spec("ssim", limit=float("nan"))


def test_unknown_metric_names_option_and_choices() -> None:
    with pytest.raises(UsageError, match=r"--metrics.*'sim'.*fid, lpips, mse, psnr, ssim") as info:
        metric_spec("sim")
    assert info.value.argument == "--metrics"


# ----------------------------------------------------------------------------------------------- mean_ci


@pytest.mark.parametrize("n", [2, 3, 7, 50])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_mean_ci_matches_scipy_t_interval(n: int, level: float) -> None:
    gen = torch.Generator().manual_seed(n)
    values = torch.rand(4, 3, n, generator=gen, dtype=torch.float64)
    mean, lo, hi = mean_ci(values, level=level)
    assert mean.shape == lo.shape == hi.shape == (4, 3)
    x = values.numpy()
    ref_lo, ref_hi = scipy.stats.t.interval(
        level, n - 1, loc=x.mean(-1), scale=scipy.stats.sem(x, axis=-1, ddof=1)
    )
    np.testing.assert_allclose(mean.numpy(), x.mean(-1), rtol=1e-12)
    np.testing.assert_allclose(lo.numpy(), ref_lo, rtol=1e-10)
    np.testing.assert_allclose(hi.numpy(), ref_hi, rtol=1e-10)


def test_mean_ci_other_dim_and_wider_at_higher_level() -> None:
    values = torch.tensor([[0.1, 0.5], [0.3, 0.9], [0.2, 0.4]])
    mean, lo, hi = mean_ci(values, dim=0)
    np.testing.assert_allclose(mean.numpy(), [0.2, 0.6], rtol=1e-6)
    _, lo99, hi99 = mean_ci(values, dim=0, level=0.99)
    assert torch.all(lo99 < lo) and torch.all(hi99 > hi)


def test_mean_ci_single_sample_and_constant_are_nan_free() -> None:
    one = mean_ci(torch.tensor([[0.7], [0.2]]))
    assert torch.equal(one.lo, one.mean) and torch.equal(one.hi, one.mean)
    assert torch.allclose(one.mean, torch.tensor([0.7, 0.2]))
    const = mean_ci(torch.full((5,), 0.3))
    assert float(const.hi - const.lo) == pytest.approx(0.0, abs=1e-7)
    perfect = mean_ci(torch.tensor([40.0, math.inf]))  # PSNR of a perfect reconstruction is +inf
    assert not any(torch.isnan(t).any() for t in perfect)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"values": torch.zeros(3, 0)}, "values"), ({"level": 1.0}, "level"), ({"dim": 2}, "dim")],
)
def test_mean_ci_bad_inputs(kwargs: dict, argument: str) -> None:
    args = {"values": torch.zeros(3, 4), **kwargs}
    with pytest.raises(UsageError, match=argument):
        mean_ci(**args)


# ------------------------------------------------------------------------------------------------ AADDC


def test_aaddc_hand_triangle_one_crossing() -> None:
    # margin 0.2 -> -0.2, crossing at 0.5: triangle 0.5 * 0.5 * 0.2
    assert float(aaddc([0.0, 1.0], [0.6, 0.2], 0.4, True)) == pytest.approx(0.05)
    # lower-is-better: LPIPS 0.05 -> 0.25 with L = 0.15: margin 0.1 -> -0.1, crossing at 0.5
    assert float(aaddc([0.0, 1.0], [0.05, 0.25], 0.15, False)) == pytest.approx(0.025)
    # crossing upwards: margin -0.1 -> 0.3 on [0, 2], crossing at 0.5: triangle 0.5 * 1.5 * 0.3
    assert float(aaddc([0.0, 2.0], [0.3, 0.7], 0.4, True)) == pytest.approx(0.225)


def test_aaddc_constant_curve_above_and_below() -> None:
    eps = torch.tensor([0.0, 0.1, 0.35, 1.2])  # uneven spacing
    above = aaddc(eps, torch.full((4,), 0.9), 0.4, True)
    assert float(above) == pytest.approx(0.5 * 1.2)
    assert float(aaddc(eps, torch.full((4,), 0.3), 0.4, True)) == 0.0
    assert float(aaddc(eps, torch.full((4,), 0.3), 0.4, False)) == pytest.approx(0.1 * 1.2)
    assert float(aaddc(eps, torch.tensor([0.39, 0.1, 0.0, 0.2]), 0.4, True)) == 0.0


def test_aaddc_normalize_divides_by_span() -> None:
    eps, q = torch.tensor([0.5, 1.0, 2.5]), torch.tensor([0.9, 0.5, 0.1])
    raw = aaddc(eps, q, 0.4, True)
    assert float(aaddc(eps, q, 0.4, True, normalize=True)) == pytest.approx(float(raw) / 2.0)
    assert float(aaddc(eps, torch.full((3,), 0.9), 0.4, True, normalize=True)) == pytest.approx(0.5)


def test_aaddc_without_crossings_matches_numpy_trapezoid() -> None:
    gen = torch.Generator().manual_seed(0)
    eps = torch.cumsum(torch.rand(9, generator=gen, dtype=torch.float64) + 0.05, 0)
    q = 0.5 + 0.5 * torch.rand(6, 9, generator=gen, dtype=torch.float64)
    expected = np.trapezoid(q.numpy() - 0.4, eps.numpy(), axis=-1)
    np.testing.assert_allclose(aaddc(eps, q, 0.4, True).numpy(), expected, rtol=1e-12)


@SETTINGS
@given(curves(), st.booleans())
def test_aaddc_matches_dense_integration(curve: tuple, hib: bool) -> None:
    eps, q, limit = curve
    got = float(aaddc(torch.from_numpy(eps), torch.from_numpy(q), limit, hib))
    assert got == pytest.approx(dense_area(eps, q, limit, hib), abs=1e-7)


@SETTINGS
@given(curves(), st.lists(st.floats(0.0, 0.5), min_size=10, max_size=10), st.booleans())
def test_aaddc_monotone_in_the_curve(curve: tuple, raise_by: list, hib: bool) -> None:
    eps, q, limit = curve
    q_low = torch.from_numpy(q)
    q_high = q_low + torch.tensor(raise_by[: len(q)], dtype=torch.float64)
    low, high = aaddc(eps, q_low, limit, hib), aaddc(eps, q_high, limit, hib)
    if hib:
        assert float(high) >= float(low) - 1e-12
    else:
        assert float(high) <= float(low) + 1e-12


@SETTINGS
@given(curves(), st.floats(0.01, 0.99), st.booleans())
def test_aaddc_unchanged_by_inserting_points_on_the_curve(curve: tuple, where: float, hib: bool) -> None:
    """The area belongs to the piecewise-linear curve, not to the grid: refining the grid changes nothing."""
    eps, q, limit = curve
    k = int(where * (len(eps) - 1))
    new_eps = eps[k] + (where * (len(eps) - 1) - k) * (eps[k + 1] - eps[k])
    fine_eps = np.insert(eps, k + 1, new_eps)
    if not np.all(np.diff(fine_eps) > 0):
        return
    fine_q = np.interp(fine_eps, eps, q)
    coarse = float(aaddc(eps, q, limit, hib))
    assert float(aaddc(fine_eps, fine_q, limit, hib)) == pytest.approx(coarse, abs=1e-12)
    # and the pieces of a split grid add up to the whole
    left = float(aaddc(fine_eps[: k + 2], fine_q[: k + 2], limit, hib))
    right = float(aaddc(fine_eps[k + 1 :], fine_q[k + 1 :], limit, hib))
    assert left + right == pytest.approx(coarse, abs=1e-12)


def test_aaddc_batched_equals_per_curve_with_per_metric_limits() -> None:
    gen = torch.Generator().manual_seed(1)
    eps = torch.linspace(0.0, 1.0, 11)
    q = torch.rand(3, 2, 11, generator=gen)  # [snr, metric, eps]
    limits = torch.tensor([0.4, 0.6])  # one limit line per metric
    batched = aaddc(eps, q, limits, True)
    assert batched.shape == (3, 2) and batched.dtype == torch.float32
    for s in range(3):
        for m in range(2):
            single = aaddc(eps, q[s, m], float(limits[m]), True)
            assert float(batched[s, m]) == pytest.approx(float(single), rel=1e-6)


def test_aaddc_nan_curve_gives_nan_only_for_that_curve() -> None:
    q = torch.tensor([[0.9, float("nan"), 0.2], [0.9, 0.5, 0.2]])
    out = aaddc([0.0, 0.5, 1.0], q, 0.4, True)
    assert torch.isnan(out[0]) and torch.isfinite(out[1])


@pytest.mark.parametrize(
    ("eps", "q", "limit", "hib", "argument"),
    [
        ([0.0, 0.5, 0.5], [0.1, 0.2, 0.3], 0.4, True, "eps"),  # not strictly increasing
        ([1.0, 0.0], [0.1, 0.2], 0.4, True, "eps"),  # decreasing
        ([0.0], [0.1], 0.4, True, "eps"),  # one point
        ([[0.0, 1.0]], [0.1, 0.2], 0.4, True, "eps"),  # 2-D grid
        ([0.0, math.inf], [0.1, 0.2], 0.4, True, "eps"),  # infinite budget
        ([0.0, 1.0], [0.1, 0.2, 0.3], 0.4, True, "q"),  # length mismatch
        ([0.0, 1.0], 0.5, 0.4, True, "q"),  # scalar curve
        ([0.0, 1.0], [0.1, 0.2], float("nan"), True, "limit"),
        ([0.0, 1.0], [[0.1, 0.2]] * 2, [0.4, 0.5, 0.6], True, "limit"),  # does not broadcast
        ([0.0, 1.0], [0.1, 0.2], 0.4, "yes", "higher_is_better"),
    ],
)
def test_curve_functions_reject_bad_inputs(
    eps: list, q: list, limit: object, hib: object, argument: str
) -> None:
    for fn in (aaddc, breaking_budget):
        with pytest.raises(UsageError, match=argument) as info:
            fn(eps, q, limit, hib)
        assert info.value.argument == argument


# -------------------------------------------------------------------------------------- breaking budget


def test_broken_at_zero_is_not_not_broken() -> None:
    """A curve below its limit without a jammer breaks at ε = 0 (the first grid point), a curve that never
    crosses is not broken (+inf); the tables print the two differently."""
    from channelae.results import BROKEN_AT_ZERO, NOT_BROKEN, breaking_text

    eps = [0.0, 0.5, 1.0]
    below = breaking_budget(eps, [0.3, 0.2, 0.1], 0.4, True)
    above = breaking_budget(eps, [0.9, 0.8, 0.7], 0.4, True)
    crossing = breaking_budget(eps, [0.9, 0.5, 0.1], 0.4, True)
    assert float(below) == 0.0 and float(above) == math.inf and float(crossing) == pytest.approx(0.625)
    assert breaking_text(float(below)) == BROKEN_AT_ZERO and breaking_text(float(above)) == NOT_BROKEN
    assert breaking_text(float(crossing)) == "0.625" and breaking_text("inf") == NOT_BROKEN
    assert BROKEN_AT_ZERO != NOT_BROKEN and breaking_text(None) == ""


def test_breaking_budget_hand_cases() -> None:
    assert float(breaking_budget([0.0, 1.0], [0.6, 0.2], 0.4, True)) == pytest.approx(0.5)
    assert float(breaking_budget([0.0, 1.0], [0.6, 0.5], 0.4, True)) == math.inf  # never broken
    assert float(breaking_budget([0.0, 1.0], [0.3, 0.9], 0.4, True)) == 0.0  # broken at the start
    assert float(breaking_budget([0.2, 1.0], [0.3, 0.9], 0.4, True)) == pytest.approx(0.2)  # grid start
    # lower-is-better: LPIPS crosses 0.15 a quarter of the way through the second segment
    eps, lpips = [0.0, 0.4, 0.8, 1.2], [0.05, 0.1, 0.3, 0.4]
    assert float(breaking_budget(eps, lpips, 0.15, False)) == pytest.approx(0.5)
    # touching the line is not breaking; leaving it from a grid point breaks exactly there
    assert float(breaking_budget([0.0, 1.0, 2.0], [0.6, 0.4, 0.7], 0.4, True)) == math.inf
    assert float(breaking_budget([0.0, 1.0, 2.0], [0.6, 0.4, 0.3], 0.4, True)) == pytest.approx(1.0)
    # the first of two crossings counts
    assert float(breaking_budget([0.0, 1.0, 2.0, 3.0], [0.5, 0.3, 0.9, 0.1], 0.4, True)) == pytest.approx(0.5)


@SETTINGS
@given(curves(), st.booleans())
def test_breaking_budget_is_where_the_curve_first_leaves_the_intact_side(curve: tuple, hib: bool) -> None:
    eps, q, limit = curve
    budget = float(breaking_budget(eps, q, limit, hib))
    x = np.linspace(eps[0], eps[-1], 20_001)
    margin = np.interp(x, eps, q) - limit
    margin = margin if hib else -margin
    if budget == math.inf:
        assert np.all(margin >= -1e-12)
        return
    assert eps[0] <= budget <= eps[-1]
    assert np.all(margin[x < budget - 1e-9] >= -1e-9)  # intact before
    if budget > eps[0]:
        assert float(np.interp(budget, eps, q)) == pytest.approx(limit, abs=1e-9)  # on the line
    grid_margin = q - limit if hib else limit - q
    assert np.any(grid_margin[eps >= budget - 1e-12] < 0)  # broken at or after it


def test_breaking_budget_batched_and_nan() -> None:
    gen = torch.Generator().manual_seed(2)
    eps = torch.tensor([0.0, 0.2, 0.5, 1.0])
    q = torch.rand(4, 3, 4, generator=gen, dtype=torch.float64)
    batched = breaking_budget(eps, q, 0.5, False)
    assert batched.shape == (4, 3) and batched.dtype == torch.float64
    for s in range(4):
        for m in range(3):
            assert float(batched[s, m]) == float(breaking_budget(eps, q[s, m], 0.5, False))
    q[1, 2, 1] = float("nan")
    assert torch.isnan(breaking_budget(eps, q, 0.5, False)[1, 2])


# --------------------------------------------------------------------------------- equivalent SNR loss

# noise-only SSIM curve linear in dB: q = 0.2 + 0.02 * snr_db
GRID = [0.0, 10.0, 20.0, 30.0]
Q_NOISE = [0.2, 0.4, 0.6, 0.8]


def test_equivalent_snr_loss_hand_case_linear_in_db() -> None:
    assert float(equivalent_snr([0.5], GRID, Q_NOISE, True)[0]) == pytest.approx(15.0)
    assert float(equivalent_snr_loss(20.0, 0.5, GRID, Q_NOISE, True)) == pytest.approx(5.0)
    assert float(equivalent_snr_loss(30.0, 0.27, GRID, Q_NOISE, True)) == pytest.approx(26.5)
    # lower-is-better mirror: LPIPS = 0.5 - 0.01 * snr_db
    lpips = [0.5, 0.4, 0.3, 0.2]
    assert float(equivalent_snr_loss(25.0, 0.38, GRID, lpips, False)) == pytest.approx(13.0)


def test_equivalent_snr_loss_edges() -> None:
    assert float(equivalent_snr_loss(20.0, 0.1, GRID, Q_NOISE, True)) == math.inf  # worse than the curve
    assert float(equivalent_snr(0.1, GRID, Q_NOISE, True)) == -math.inf
    assert float(equivalent_snr_loss(20.0, 0.2, GRID, Q_NOISE, True)) == pytest.approx(20.0)  # = worst
    assert float(equivalent_snr_loss(20.0, 0.8, GRID, Q_NOISE, True)) == 0.0  # = best
    assert float(equivalent_snr_loss(20.0, 0.95, GRID, Q_NOISE, True)) == 0.0  # better than best
    assert float(equivalent_snr_loss(20.0, 0.65, GRID, Q_NOISE, True)) == 0.0  # better than noise at 20 dB
    assert float(equivalent_snr_loss(20.0, 0.6, GRID, Q_NOISE, True)) == 0.0  # no harm at all
    assert float(equivalent_snr_loss(40.0, 0.5, GRID, Q_NOISE, True)) == pytest.approx(25.0)  # s off grid


def test_equivalent_snr_loss_with_noiseless_grid_point() -> None:
    grid, q = [0.0, 10.0, 20.0, math.inf], [0.2, 0.4, 0.6, 0.9]
    q_jam = torch.tensor([0.5, 0.6, 0.7, 0.9, 0.95], dtype=torch.float64)
    # 0.7 lies between the 20 dB point and the noiseless one: censored at 20 dB
    np.testing.assert_allclose(
        equivalent_snr(q_jam, grid, q, True).numpy(), [15.0, 20.0, 20.0, math.inf, math.inf]
    )
    noiseless = equivalent_snr_loss(math.inf, q_jam, grid, q, True)
    np.testing.assert_array_equal(noiseless.numpy(), [math.inf, math.inf, math.inf, 0.0, 0.0])
    at_20 = equivalent_snr_loss(20.0, q_jam, grid, q, True)
    np.testing.assert_allclose(at_20.numpy(), [5.0, 0.0, 0.0, 0.0, 0.0])
    assert not torch.isnan(noiseless).any()


def test_equivalent_snr_non_monotone_plateau_takes_highest_snr() -> None:
    # saturated curve: the jammed link at the saturation level costs nothing, whatever its SNR on the plateau
    grid, q = [0.0, 10.0, 20.0, 30.0], [0.2, 0.8, 0.8, 0.8]
    assert float(equivalent_snr_loss(30.0, 0.8, grid, q, True)) == 0.0
    # a dip: highest SNR at which noise alone is no better than v
    grid, q = [0.0, 10.0, 20.0, 30.0], [0.2, 0.6, 0.5, 0.9]
    assert float(equivalent_snr(0.55, grid, q, True)) == pytest.approx(21.25)


@SETTINGS
@given(
    st.lists(st.floats(0.05, 5.0), min_size=2, max_size=8),
    st.lists(st.floats(0.01, 0.2), min_size=8, max_size=8),
    st.floats(0.0, 1.0),
    st.booleans(),
)
def test_equivalent_snr_inverts_a_monotone_curve(steps: list, rises: list, where: float, hib: bool) -> None:
    grid = np.concatenate([[-5.0], -5.0 + np.cumsum(steps)])
    q = 0.1 + np.concatenate([[0.0], np.cumsum(rises[: len(steps)])])  # increasing in SNR
    q_jam = q[0] + where * (q[-1] - q[0])
    if not hib:  # a lower-is-better metric falls with SNR
        q, q_jam = 1.0 - q, 1.0 - q_jam
    s_prime = float(equivalent_snr(q_jam, grid, q, hib))
    assert grid[0] - 1e-9 <= s_prime <= grid[-1] + 1e-9
    assert float(np.interp(s_prime, grid, q if hib else -q)) == pytest.approx(
        q_jam if hib else -q_jam, abs=1e-9
    )


def test_equivalent_snr_status_hand_cases() -> None:
    grid, q = [0.0, 10.0, 20.0, math.inf], [0.2, 0.4, 0.6, 0.9]
    q_jam = torch.tensor([0.5, 0.1, 0.7, 0.9, 0.95, math.nan], dtype=torch.float64)
    codes = equivalent_snr_status(q_jam, grid, q, True)
    assert [EQUIVALENT_SNR_STATUS[int(c)] for c in codes] == ["ok", "beyond", "censored", "best", "best", "nan"]
    # lower-is-better mirror; a finite grid has no censored segment
    codes = equivalent_snr_status(torch.tensor([0.45, 0.9]), [0.0, 10.0, 20.0], [0.5, 0.3, 0.1], False)
    assert [EQUIVALENT_SNR_STATUS[int(c)] for c in codes] == ["ok", "beyond"]
    codes = equivalent_snr_status(0.55, [0.0, 10.0, 20.0], [0.2, 0.4, 0.6], True)
    assert EQUIVALENT_SNR_STATUS[int(codes)] == "ok"


def test_reference_snr_grid_is_fine_and_ends_noiseless() -> None:
    grid = np.asarray(REFERENCE_SNR_DB)
    assert grid[0] == -5 and grid[-2] == 40 and grid[-1] == math.inf
    assert np.all(np.diff(grid[:-1]) == 1.0)


def test_equivalent_snr_loss_batched_over_snr_and_eps() -> None:
    gen = torch.Generator().manual_seed(3)
    snr = torch.tensor([0.0, 10.0, 30.0])
    q_jam = 0.2 + 0.6 * torch.rand(3, 5, generator=gen)  # [snr, eps]
    batched = equivalent_snr_loss(snr[:, None], q_jam, GRID, Q_NOISE, True)
    assert batched.shape == (3, 5)
    for i in range(3):
        for j in range(5):
            single = equivalent_snr_loss(float(snr[i]), float(q_jam[i, j]), GRID, Q_NOISE, True)
            assert float(batched[i, j]) == pytest.approx(float(single), rel=1e-6, abs=1e-6)
    # a noise-only curve per model: q_noise [model, S] against q_jam [model]
    per_model = equivalent_snr(
        torch.tensor([0.5, 0.5]), GRID, torch.tensor([Q_NOISE, [0.1, 0.3, 0.5, 0.7]]), True
    )
    np.testing.assert_allclose(per_model.numpy(), [15.0, 20.0], rtol=1e-6)


@pytest.mark.parametrize(
    ("snr_db", "grid", "q_noise", "hib", "argument"),
    [
        (10.0, [0.0, math.inf, 20.0], [0.1, 0.2, 0.3], True, "noise_snr_db"),  # inf not last
        (10.0, [20.0, 10.0, 0.0], [0.1, 0.2, 0.3], True, "noise_snr_db"),  # decreasing
        (10.0, [-math.inf, 10.0], [0.1, 0.2], True, "noise_snr_db"),
        (10.0, [0.0, 10.0], [0.1, 0.2, 0.3], True, "q_noise"),
        (float("nan"), [0.0, 10.0], [0.1, 0.2], True, "snr_db"),
        (-math.inf, [0.0, 10.0], [0.1, 0.2], True, "snr_db"),
        (10.0, [0.0, 10.0], [0.1, 0.2], 1, "higher_is_better"),
    ],
)
def test_equivalent_snr_loss_rejects_bad_inputs(
    snr_db: float, grid: list, q_noise: list, hib: object, argument: str
) -> None:
    with pytest.raises(UsageError, match=argument):
        equivalent_snr_loss(snr_db, 0.15, grid, q_noise, hib)


def test_t_quantile_is_scipys_student_t() -> None:
    from scipy.stats import t as student_t

    from channelae.curves import t_quantile

    for df in (1, 2, 4, 31, 199):
        for p in (0.975, 0.995, 0.9):
            assert t_quantile(p, df) == pytest.approx(float(student_t.ppf(p, df)), rel=1e-12)
    assert t_quantile(0.975, 2) == pytest.approx(4.302652729911275)
