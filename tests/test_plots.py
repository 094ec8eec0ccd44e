"""Tests for channelae/plots/ on a synthetic results directory (no model, no simulation: fast)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from channelae import plots
from channelae.curves import aaddc
from channelae.plots import dd_curves, style
from channelae.results import Budget, Curve, LatentBars, MetricInfo, Results, load

ALL = {"dd_curves.png", "heatmap.png", "images.png", "latent_bars.png", "tsne.png"}


def _curve_block(mean: np.ndarray, half: float) -> Curve:
    return Curve(mean=mean.tolist(), lo=(mean - half).tolist(), hi=(mean + half).tolist())


def make_results_dir(
    root: Path,
    *,
    eps: tuple[float, ...] = (0.0, 0.5, 1.0),
    snr: tuple[float, ...] = (math.inf, 10.0),
    n_images: int = 8,
    channels: int = 1,
    jammer: bool = True,
    latent_bars: bool = True,
    samples: bool = True,
    d: int = 6,
) -> Path:
    """A results directory shaped like ``simulate``'s output: results.json (saved and read back through
    channelae.results, as simulate and report do) plus samples.safetensors and per_image.safetensors."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    S, E, N = len(snr), len(eps), n_images
    e = np.asarray(eps)
    snr_factor = np.array([1.0 if math.isinf(s) else s / 20.0 + 0.5 for s in snr])[:, None]
    links = ("jammer", "noise") if jammer else ("link",)
    curves: dict[str, dict[str, Curve]] = {}
    area: dict[str, dict[str, Any]] = {}
    per_image: dict[str, np.ndarray] = {}
    for ln in links:
        slope = 0.6 if ln == "jammer" else 0.2
        ssim = np.clip(0.8 * snr_factor - slope * e[None, :], 0.0, 1.0)  # [S, E], crosses 0.4 at 10 dB
        mse = 0.1 * (1.0 - ssim)
        ssim_imgs = ssim[:, :, None] + 0.01 * rng.standard_normal((S, E, N))
        per_image[f"{ln}.ssim"] = ssim_imgs
        per_image[f"{ln}.mse"] = mse[:, :, None] + 0.001 * rng.standard_normal((S, E, N))
        curves[ln] = {"ssim": _curve_block(ssim, 0.03), "mse": _curve_block(mse, 0.003)}
        if E >= 2:
            area[ln] = {"ssim": aaddc(e, ssim, 0.4, True).tolist(), "mse": aaddc(e, mse, 0.05, False).tolist()}
    curves[links[0]]["mse"].lo[0][0] = math.nan  # non-finite values survive the strict-JSON round trip
    hi = E - 1
    results = Results(
        snr_db=list(snr),
        budget=Budget(eps=list(eps), jsr_db=[-math.inf, *([-30.0] * (E - 1))], highlight=eps[hi],
                      highlight_index=hi),
        metrics={"ssim": MetricInfo(higher_is_better=True, limit=0.4),
                 "mse": MetricInfo(higher_is_better=False, limit=0.05)},
        metric_order=["ssim", "mse"],
        link_order=list(links),
        curves=curves,
        aaddc=area,
        latent_bars=(LatentBars(snr_db=snr[0], eps=eps[hi], z_abs=rng.random(d).tolist(),
                                z_adv_abs=rng.random(d).tolist(), delta_abs=(0.1 * rng.random(d)).tolist())
                     if latent_bars else None),
        channel="awgn+pgd-jammer" if jammer else "awgn",
        control="awgn+noise-jammer" if jammer else None,
        reference="input",
        dataset="synthetic",
        n_images=N,
    )
    root.mkdir(parents=True, exist_ok=True)
    results.save(root)
    save_file({k: v.astype(np.float64) for k, v in per_image.items()}, str(root / "per_image.safetensors"))
    if samples:
        k = min(8, N)
        img = rng.random((k, channels, 12, 12)).astype(np.float32)
        tensors = {"inputs": img, "clean": np.clip(img + 0.05, 0, 1).astype(np.float32),
                   "z": rng.standard_normal((N, d)).astype(np.float32)}
        for ln in links:
            tensors[f"{ln}.samples"] = rng.random((S, E, k, channels, 12, 12)).astype(np.float32)
            tensors[f"{ln}.z_hat_highlight"] = (tensors["z"] + 0.3 * rng.standard_normal((N, d))).astype(
                np.float32)
        save_file(tensors, str(root / "samples.safetensors"))
    return root


def _check_pngs(paths: list[Path], expected: set[str]) -> None:
    assert {p.name for p in paths} == expected
    for p in paths:
        assert p.is_file() and p.stat().st_size > 0
        with Image.open(p) as im:
            assert im.format == "PNG"
            w, h = im.size
            assert w > 100 and h > 100
            im.verify()
    leftovers = [f.name for f in paths[0].parent.iterdir() if f.name.endswith(".tmp.png")]
    assert not leftovers, leftovers


def test_render_all_plots(tmp_path: Path) -> None:
    d = make_results_dir(tmp_path / "res")
    written = plots.render_plots(d, load(d))
    _check_pngs(written, ALL)


def test_render_rgb_via_report(tmp_path: Path) -> None:
    """The ``report`` entry point (tables, then plots) on RGB samples and a 3-point SNR grid."""
    from io import StringIO

    from rich.console import Console

    from channelae.report import render

    d = make_results_dir(tmp_path / "rgb", channels=3, snr=(math.inf, 20.0, 10.0), eps=(0.0, 0.25, 0.5, 0.75,
                                                                                           1.0, 1.5))
    written = render(d, console=Console(file=StringIO(), width=200))
    _check_pngs(written, ALL)


def test_single_budget_and_no_latent_bars_are_skipped(tmp_path: Path) -> None:
    d = make_results_dir(tmp_path / "link", eps=(0.0,), jammer=False, latent_bars=False)
    for stale in ("dd_curves.png", "latent_bars.png"):  # plots of an earlier run into the same directory
        (d / stale).write_bytes(b"old")
    written = plots.render_plots(d, load(d))
    _check_pngs(written, {"heatmap.png", "images.png", "tsne.png"})
    assert not (d / "dd_curves.png").exists() and not (d / "latent_bars.png").exists()


def test_few_images_and_missing_samples(tmp_path: Path) -> None:
    few = make_results_dir(tmp_path / "few", n_images=4)
    _check_pngs(plots.render_plots(few, load(few)), ALL - {"tsne.png"})
    bare = make_results_dir(tmp_path / "bare", samples=False)
    _check_pngs(plots.render_plots(bare, load(bare)), {"dd_curves.png", "heatmap.png",
                                                               "latent_bars.png"})


# -------------------------------------------------------------------------------------- AADDC shading

EPS = np.array([0.0, 1.0, 2.0, 3.0])
Q = np.array([0.9, 0.6, 0.2, 0.1])  # crosses L = 0.4 at ε = 1.5


@pytest.mark.parametrize(("hib", "expected"), [(True, 0.4), (False, 0.3)])
def test_fill_aaddc_shades_the_intact_side(hib: bool, expected: float) -> None:
    """Intact side: area 0.35 + 0.05 above L (higher-is-better); 0.05 + 0.25 below L (lower-is-better).
    Shading the wrong side would swap the two areas."""
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    coll = plots.fill_aaddc(ax, EPS, Q, 0.4, hib)
    assert plots.polygon_area(coll) == pytest.approx(expected, abs=1e-9)
    assert plots.polygon_area(coll) == pytest.approx(float(aaddc(EPS, Q, 0.4, hib)), abs=1e-9)
    ys = np.concatenate([p.vertices[:, 1] for p in coll.get_paths()])
    xs = np.concatenate([p.vertices[:, 0] for p in coll.get_paths()])
    if hib:
        assert ys.min() >= 0.4 - 1e-12 and xs.max() == pytest.approx(1.5)
    else:
        assert ys.max() <= 0.4 + 1e-12 and xs.min() == pytest.approx(1.5)


def test_aaddc_region_matches_curves_aaddc_on_random_curves() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(2, 9))
        eps = np.concatenate([[0.0], np.cumsum(rng.uniform(0.05, 1.0, n - 1))])
        q = rng.uniform(0, 1, n)
        limit = float(rng.uniform(0.1, 0.9))
        for hib in (True, False):
            x, y, intact = plots.aaddc_region(eps, q, limit, hib)
            margin = np.where(intact, (y - limit) if hib else (limit - y), 0.0)
            seg = np.diff(x) * (margin[:-1] + margin[1:]) / 2  # exact: crossings are grid points now
            assert seg.sum() == pytest.approx(float(aaddc(eps, q, limit, hib)), abs=1e-12)
            assert np.all(intact == (((y - limit) if hib else (limit - y)) >= 0))


def test_dd_curves_panel_shades_the_jammer_curve(tmp_path: Path) -> None:
    """In the rendered figure, each panel's shaded polygon has the area of the jammer curve's AADDC."""
    d = make_results_dir(tmp_path / "dd")
    res = load(d)
    fig = dd_curves.build(res)
    assert fig is not None
    eps = res.budget.grid()
    axes = fig.axes
    order = style.ordered_metrics(res)
    assert order == ["ssim", "mse"]
    S = len(res.snr_db)
    for mi, m in enumerate(order):
        spec = res.metrics[m]
        for si in range(S):
            ax = axes[mi * S + si]
            shaded = [c for c in ax.collections if c.get_label().startswith("AADDC")]
            assert len(shaded) == 1
            mean = np.asarray(res.curves["jammer"][m].mean[si])
            want = float(aaddc(eps, mean, spec.limit, spec.higher_is_better))
            assert plots.polygon_area(shaded[0]) == pytest.approx(want, abs=1e-9)
            assert f"AADDC = {res.aaddc['jammer'][m][si]:.4g}" in ax.get_title()


def test_pick_budgets() -> None:
    assert plots.pick_budgets(3, 2) == [0, 1, 2]
    assert plots.pick_budgets(11, 10) == [0, 3, 7, 10]
    picks = plots.pick_budgets(11, 5)
    assert 5 in picks and len(picks) <= 4 and picks == sorted(picks)
    assert plots.pick_budgets(0, 0) == []
