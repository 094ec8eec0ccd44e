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

#: The default plots (t-SNE only on request).
ALL = {"dd_curves.png", "heatmap.png", "images.png", "latent_bars.png"}


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
    labels: bool = True,
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
        if labels:
            tensors["labels"] = (np.arange(N) % 3).astype(np.int64)
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
    stale = ["dd_curves.png", "dd_curves.pdf", "latent_bars.svg", "tsne.png", "tsne.pdf"]  # an earlier run's
    for name in stale:
        (d / name).write_bytes(b"old")
    written = plots.render_plots(d, load(d))
    _check_pngs(written, {"heatmap.png", "images.png"})
    assert not any((d / name).exists() for name in stale)


def test_few_images_and_missing_samples(tmp_path: Path) -> None:
    few = make_results_dir(tmp_path / "few", n_images=4)
    _check_pngs(plots.render_plots(few, load(few), tsne=True), ALL)  # t-SNE needs ≥ 5 images
    bare = make_results_dir(tmp_path / "bare", samples=False)
    _check_pngs(plots.render_plots(bare, load(bare), tsne=True), {"dd_curves.png", "heatmap.png",
                                                                          "latent_bars.png"})


# ------------------------------------------------------------------------------------------ file formats


def test_vector_formats_and_stale_formats(tmp_path: Path) -> None:
    """png, pdf and svg of every plot; a later png-only render removes the earlier run's pdf/svg."""
    import xml.etree.ElementTree as ET

    d = make_results_dir(tmp_path / "fmt")
    res = load(d)
    written = plots.render_plots(d, res, formats=("png", "pdf", "svg"))
    stems = {p.stem for p in written}
    assert stems == {n.removesuffix(".png") for n in ALL}
    assert {p.suffix for p in written} == {".png", ".pdf", ".svg"} and len(written) == 3 * len(stems)
    for p in written:
        head = p.read_bytes()[:64]
        if p.suffix == ".pdf":
            assert head.startswith(b"%PDF-")
            assert b"/CreationDate" not in p.read_bytes()  # re-rendering gives the same file
        elif p.suffix == ".svg":
            assert ET.parse(p).getroot().tag.endswith("svg")
        else:
            assert head.startswith(b"\x89PNG")
    pdf_before = (d / "heatmap.pdf").read_bytes()
    plots.render_plots(d, res, formats=("pdf",))
    assert (d / "heatmap.pdf").read_bytes() == pdf_before
    _check_pngs(plots.render_plots(d, res, formats="png"), ALL)
    assert not list(d.glob("*.pdf")) and not list(d.glob("*.svg"))


@pytest.mark.parametrize("bad", ["jpg", "png,tiff", "", " , "])
def test_unknown_plot_format_is_a_usage_error(tmp_path: Path, bad: str) -> None:
    from channelae.errors import UsageError

    d = make_results_dir(tmp_path / "bad", samples=False)
    with pytest.raises(UsageError, match=r"--plot-format: plot formats must be a comma list of png, pdf, svg"):
        plots.render_plots(d, load(d), formats=bad)
    assert not list(d.glob("*.png"))


def test_cli_report_plot_formats_and_tsne(tmp_path: Path) -> None:
    from _cli import run_cli

    d = make_results_dir(tmp_path / "cli")
    code, out, err = run_cli(["report", d, "--plot-format", "svg,pdf", "--tsne"])
    assert code == 0, err
    names = {p.name for p in d.iterdir() if p.suffix in (".png", ".pdf", ".svg")}
    assert names == {f"{n}.{f}" for n in ("dd_curves", "heatmap", "images", "latent_bars", "tsne")
                     for f in ("svg", "pdf")}
    assert "tsne.svg" in out
    code, out, err = run_cli(["report", d, "--plot-format", "gif"])
    assert code == 2 and "--plot-format" in err and "gif" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(["simulate", "--plot-format", "eps", "--out", tmp_path / "never"])
    assert code == 2 and "--plot-format" in err and not (tmp_path / "never").exists()


# ------------------------------------------------------------------------------------------------ t-SNE


def test_tsne_is_opt_in_and_imports_sklearn_only_when_drawn(tmp_path: Path) -> None:
    import subprocess
    import sys

    d = make_results_dir(tmp_path / "ts")
    (d / "tsne.png").write_bytes(b"stale")
    code = ("import sys; from channelae.plots import render_plots; from channelae.results import load; "
            f"w = render_plots({str(d)!r}, load({str(d)!r})); "
            "print(sorted(p.name for p in w), 'sklearn' in ' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"{sorted(ALL)} False"
    assert not (d / "tsne.png").exists()  # not requested: an earlier run's t-SNE does not stay


def test_tsne_panels_are_coloured_by_class(tmp_path: Path) -> None:
    from channelae.plots import tsne
    from channelae.results import read_samples

    d = make_results_dir(tmp_path / "lab", n_images=12)
    res, samples = load(d), read_samples(d)
    fig = tsne.build(res, samples)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("clean") and "PGD jammer" in titles[1] and "noise jammer" in titles[2]
    for ax in fig.axes:
        (sc,) = ax.collections
        assert np.array_equal(sc.get_array(), np.arange(12) % 3)  # all 12 images, in order, by class
    legend = fig.legends[0]
    assert legend.get_title().get_text() == "class"
    assert [t.get_text() for t in legend.get_texts()] == ["0", "1", "2"]
    # without labels: one colour per panel, no class legend
    fig = tsne.build(res, {k: v for k, v in samples.items() if k != "labels"})
    assert not fig.legends and all(ax.collections[0].get_array() is None for ax in fig.axes)


# ---------------------------------------------------------------------------------------------- heat-map


def test_heatmap_title_names_only_the_red_lines_drawn_and_ticks_show_jsr(tmp_path: Path) -> None:
    from matplotlib.contour import ContourSet

    from channelae.plots import heatmap

    d = make_results_dir(tmp_path / "hm", eps=(0.0, 0.5, 1.0), snr=(math.inf, 10.0))
    res = load(d)
    fig = heatmap.build(res)
    by_title = {ax.get_title().split(",")[0]: ax for ax in fig.axes if ax.get_title()}
    # SSIM spans 0.2 … 0.8 here: L = 0.4 is crossed (contour + colour-bar line)
    ssim = by_title["SSIM"]
    assert "red contour and colour bar: L = 0.4" in ssim.get_title()
    assert any(isinstance(c, ContourSet) for c in ssim.get_children())
    labels = [t.get_text() for t in ssim.get_xticklabels()]
    assert labels == ["0\n-∞", "0.5\n-30", "1\n-30"]  # ε over JSR (dB), from the stored jsr_db
    # MSE spans 0.02 … 0.08 and L = 0.05 is inside; move L out of range: nothing red, and the title says so
    res.metrics["mse"] = type(res.metrics["mse"])(higher_is_better=False, limit=5.0)
    fig = heatmap.build(res)
    mse = {ax.get_title().split(",")[0]: ax for ax in fig.axes if ax.get_title()}["MSE"]
    assert "L = 5 outside the range" in mse.get_title() and "red" not in mse.get_title()
    assert not any(isinstance(c, ContourSet) for c in mse.get_children())
    reds = [ln for a in fig.axes for ln in a.get_lines() if ln.get_color() == "red"]
    assert len(reds) == 1  # only SSIM's colour-bar line


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
    """In the rendered figure, each panel's shaded polygon has the area of the jammer curve's AADDC; both
    links get their interval band; the title gives both AADDCs."""
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
            a_j, a_n = res.aaddc["jammer"][m][si], res.aaddc["noise"][m][si]
            assert f"AADDC PGD {a_j:.3g} · noise {a_n:.3g}" in ax.get_title()
            bands = {c.get_label(): c for c in ax.collections if "95 % interval" in c.get_label()}
            assert set(bands) == {"PGD jammer: 95 % interval", "noise jammer (equal power): 95 % interval"}
            for link, band in (("jammer", bands["PGD jammer: 95 % interval"]),
                               ("noise", bands["noise jammer (equal power): 95 % interval"])):
                ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
                c = res.curves[link][m]
                lo, hi = np.asarray(c.lo[si], dtype=float), np.asarray(c.hi[si], dtype=float)
                ok = np.isfinite(lo)
                assert ys.min() == pytest.approx(lo[ok].min()) and ys.max() == pytest.approx(hi.max())
    assert len(fig.axes[0].get_title().splitlines()) == 2 and len(fig._suptitle.get_text().splitlines()) == 2


def test_pick_budgets() -> None:
    assert plots.pick_budgets(3, 2) == [0, 1, 2]
    assert plots.pick_budgets(11, 10) == [0, 3, 7, 10]
    picks = plots.pick_budgets(11, 5)
    assert 5 in picks and len(picks) <= 4 and picks == sorted(picks)
    assert plots.pick_budgets(0, 0) == []
