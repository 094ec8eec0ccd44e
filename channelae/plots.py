"""PNG plots of a results directory (``channelae report DIR`` / ``simulate``): read-only, no recomputation.

:func:`render_plots` writes, each atomically (:func:`channelae.io.atomic_path`), and returns the paths of

* ``dd_curves.png`` — DD-curves: one row per metric, one column per SNR point. PGD-jammer mean quality vs ε
  with its 95 % interval band, the equal-power noise-jammer control (dashed), the limit line ``L`` and the
  AADDC area shaded between the jammer curve and ``L`` on the intact side (above ``L`` for higher-is-better,
  below for lower-is-better; :func:`fill_aaddc`), the highlighted ε dotted. Skipped for a single budget.
* ``heatmap.png`` — mean quality of the main link over SNR × ε, one panel per metric, limit-line contour.
* ``images.png`` — inputs, clean reconstructions, and for the first SNR point the noise-jammed and
  PGD-jammed reconstructions at up to 4 budgets (incl. the highlighted one); without a jammer, the link's
  reconstructions at up to 4 SNR points.
* ``latent_bars.png`` — the study's Eq. 7 plot: per latent dimension mean ``|z|``, ``|ẑ|``, ``|ẑ − z|``.
  Skipped when ``results["latent_bars"]`` is empty.
* ``tsne.png`` — t-SNE of clean latents vs received latents at the highlighted ε (jammer and noise control).
  Skipped for fewer than 5 images.

A skipped plot's stale PNG from an earlier run in the same directory is removed, so the directory's plots
always match its ``results.json``. Units: ε = latent L2 norm per example; SNR = Es/N0 per complex symbol
in dB. Values in ``results.json`` may be the strings ``"inf"``/``"-inf"``/``"nan"`` (strict JSON).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

__all__ = ["PLOT_NAMES", "aaddc_region", "fill_aaddc", "pick_budgets", "polygon_area", "render_plots"]

PLOT_NAMES = ("dd_curves.png", "heatmap.png", "images.png", "latent_bars.png", "tsne.png")
UNITS_NOTE = "ε: jammer budget, latent L2 norm per example; SNR: Es/N0 per complex symbol (dB)"
JAMMER_COLOR, NOISE_COLOR, AREA_COLOR, CLEAN_COLOR = "tab:red", "tab:blue", "tab:green", "0.35"
MAX_IMAGES = 8
MAX_BUDGETS = 4
MAX_TSNE_POINTS = 500
DPI = 110


# ------------------------------------------------------------------------------------------------ numbers


def _num(v: Any) -> float:
    """A results.json number: floats, ints, ``None`` (→ NaN) or the strings ``inf``/``-inf``/``nan``."""
    if v is None:
        return math.nan
    if isinstance(v, str):
        return {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "infinity": math.inf,
                "-infinity": -math.inf}.get(v.strip().lower(), math.nan)
    return float(v)


def _arr(v: Any) -> np.ndarray:
    """Nested lists of results.json numbers as a float64 array."""
    if isinstance(v, (list, tuple)):
        return np.array([_arr(x) for x in v], dtype=np.float64) if len(v) else np.zeros(0)
    return np.asarray(_num(v), dtype=np.float64)


def _snr_label(s: float) -> str:
    return "noiseless" if math.isinf(s) and s > 0 else f"SNR {s:g} dB"


def _metric_label(results: dict[str, Any], m: str) -> str:
    spec = results["metrics"].get(m, {})
    arrow = "↑" if spec.get("higher_is_better", True) else "↓"
    unit = spec.get("unit") or ""
    return f"{m.upper()}{f' ({unit})' if unit else ''} {arrow}"


def _links(results: dict[str, Any]) -> tuple[str, str | None]:
    """(main link name, noise-control link name or None) of a results dict."""
    names = list(results.get("curves", {}))
    main = next((n for n in ("jammer", "link") if n in names), names[0] if names else "link")
    control = "noise" if "noise" in names and main != "noise" else None
    return main, control


def _link_title(results: dict[str, Any], name: str) -> str:
    if name == "noise":
        return "noise jammer (equal power)"
    if name == "jammer":
        return "PGD jammer" if "pgd-jammer" in str(results.get("channel", "pgd-jammer")) else "jammer"
    return "link"


def _header(results: dict[str, Any], what: str) -> str:
    """Two title lines: what is plotted, then channel, reference, data set and image count."""
    ds = results.get("dataset")
    n = results.get("n_images")
    extra = ", ".join(x for x in (str(ds) if ds else "", f"{n} images" if n is not None else "") if x)
    return (f"{what}\nchannel {results.get('channel', '?')}, reference: {results.get('reference', '?')}"
            f"{f' ({extra})' if extra else ''}")


#: Plot order of the known metrics (results.json stores its keys sorted); unknown ones follow.
METRIC_ORDER = ("ssim", "psnr", "lpips", "mse", "fid")


def _metrics(results: dict[str, Any]) -> list[str]:
    names = list(results.get("metrics", {}))
    rank = {m: i for i, m in enumerate(METRIC_ORDER)}
    return sorted(names, key=lambda m: (rank.get(m, len(rank)), names.index(m)))


# ------------------------------------------------------------------------------------------------- AADDC


def aaddc_region(
    eps: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray, limit: float, higher_is_better: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The AADDC region of a DD-curve: the piecewise-linear curve with its exact crossings of ``L`` inserted.

    :param eps: ``[E]`` increasing ε grid (latent L2 norm).
    :param q: ``[E]`` mean quality at each ε (NaN points are left out).
    :param limit: the limit line ``L`` in the metric's unit.
    :param higher_is_better: the metric's direction.
    :return: ``(x, y, intact)``: the dense grid, the curve on it, and the mask of points on the intact side
        (``y ≥ L`` for higher-is-better, ``y ≤ L`` otherwise). Filling between ``y`` and ``L`` where
        ``intact`` gives exactly the area :func:`channelae.curves.aaddc` integrates.
    """
    x0 = np.asarray(eps, dtype=np.float64)
    y0 = np.asarray(q, dtype=np.float64)
    ok = np.isfinite(x0) & np.isfinite(y0)
    x0, y0 = x0[ok], y0[ok]
    sign = 1.0 if higher_is_better else -1.0
    margin = sign * (y0 - limit)
    xs: list[float] = []
    ys: list[float] = []
    for i in range(len(x0)):
        if i > 0 and margin[i - 1] * margin[i] < 0:  # strict sign change: insert the crossing point
            t = margin[i - 1] / (margin[i - 1] - margin[i])
            xs.append(x0[i - 1] + t * (x0[i] - x0[i - 1]))
            ys.append(float(limit))
        xs.append(x0[i])
        ys.append(y0[i])
    x, y = np.array(xs), np.array(ys)
    intact = sign * (y - limit) >= 0
    return x, y, intact


def fill_aaddc(
    ax: Axes, eps: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray, limit: float,
    higher_is_better: bool, **kwargs: Any,
) -> PolyCollection:
    """Shade the AADDC area of a DD-curve on ``ax``: between the curve and ``L``, on the intact side only.

    :return: the ``fill_between`` artist (its polygons' area equals the AADDC).
    """
    x, y, intact = aaddc_region(eps, q, limit, higher_is_better)
    kwargs.setdefault("color", AREA_COLOR)
    kwargs.setdefault("alpha", 0.22)
    kwargs.setdefault("linewidth", 0)
    return ax.fill_between(x, y, np.full_like(y, float(limit)), where=intact, interpolate=True, **kwargs)


def polygon_area(collection: PolyCollection) -> float:
    """Total area (data units) of the polygons of a ``fill_between`` artist (shoelace formula)."""
    total = 0.0
    for path in collection.get_paths():
        v = np.asarray(path.vertices, dtype=np.float64)
        if len(v) < 3:
            continue
        xs, ys = v[:, 0], v[:, 1]
        total += 0.5 * abs(float(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))))
    return total


# ------------------------------------------------------------------------------------------------ driver


def _figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # never switch the backend of an interactive session
        matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout=layout)


def _save(fig: Figure, dest: Path) -> Path:
    from channelae.io import atomic_path

    with atomic_path(dest) as tmp:
        fig.savefig(tmp, format="png")
    return dest


def _load_samples(results_dir: Path) -> dict[str, np.ndarray] | None:
    from channelae.simulate import SAMPLES_NAME

    f = results_dir / SAMPLES_NAME
    if not f.exists():
        return None
    from safetensors.numpy import load_file

    return {k: v.astype(np.float64) for k, v in load_file(str(f)).items()}


def _load_per_image(results_dir: Path) -> dict[str, np.ndarray]:
    from channelae.simulate import PER_IMAGE_NAME

    f = results_dir / PER_IMAGE_NAME
    if not f.exists():
        return {}
    from safetensors.numpy import load_file

    try:
        return dict(load_file(str(f)))
    except Exception:  # noqa: BLE001 - the per-image values only annotate the image grid
        return {}


def render_plots(results_dir: Path, results: dict[str, Any]) -> list[Path]:
    """Write the PNG plots of a results directory (module docstring); returns the paths written.

    :param results_dir: directory holding ``results.json`` and its side files (``samples.safetensors``).
    :param results: the parsed ``results.json`` (as :func:`channelae.report.load_results` returns it).
    """
    results_dir = Path(results_dir)
    samples = _load_samples(results_dir)
    builders = {
        "dd_curves.png": lambda: _dd_curves(results),
        "heatmap.png": lambda: _heatmap(results),
        "images.png": lambda: _images(results, samples, _load_per_image(results_dir)),
        "latent_bars.png": lambda: _latent_bars(results),
        "tsne.png": lambda: _tsne(results, samples),
    }
    written: list[Path] = []
    for name, build in builders.items():
        dest = results_dir / name
        fig = build()
        if fig is None:  # skipped: drop a stale plot of an earlier run
            dest.unlink(missing_ok=True)
            continue
        written.append(_save(fig, dest))
    return written


# -------------------------------------------------------------------------------------------- DD-curves


def _dd_curves(results: dict[str, Any]) -> Figure | None:
    eps = _arr(results["budget"]["eps"])
    if eps.size < 2:
        return None
    snr = _arr(results["snr_db"])
    metrics = _metrics(results)
    main, control = _links(results)
    curves = results["curves"]
    highlight = _num(results["budget"].get("highlight", eps[-1]))
    S, M = len(snr), len(metrics)
    col_w = 3.3 if S <= 6 else max(1.8, 20.0 / S)
    width = max(min(col_w * S, 40.0) + 0.6, 7.5)
    fig = _figure(width, 2.7 * M + 1.4)
    axes = fig.subplots(M, S, squeeze=False, sharex=True)
    handles: dict[str, Any] = {}
    for mi, m in enumerate(metrics):
        spec = results["metrics"][m]
        hib = bool(spec.get("higher_is_better", True))
        limit = _num(spec.get("limit"))
        c_main = curves.get(main, {}).get(m)
        c_ctrl = curves.get(control, {}).get(m) if control else None
        areas = results.get("aaddc", {}).get(main, {}).get(m)
        for si, s in enumerate(snr):
            ax = axes[mi, si]
            area_txt = ""
            if c_main is not None:
                mean = _arr(c_main["mean"])[si]
                lo = _arr(c_main.get("lo", c_main["mean"]))[si]
                hi = _arr(c_main.get("hi", c_main["mean"]))[si]
                if math.isfinite(limit):
                    h = fill_aaddc(ax, eps, mean, limit, hib, label="AADDC area (intact side of L)")
                    handles.setdefault("area", h)
                h = ax.fill_between(eps, lo, hi, color=JAMMER_COLOR, alpha=0.15, linewidth=0,
                                    label=f"{_link_title(results, main)}: 95 % interval")
                handles.setdefault("band", h)
                (h,) = ax.plot(eps, mean, "-o", color=JAMMER_COLOR, markersize=3, linewidth=1.6,
                               label=f"{_link_title(results, main)}: mean")
                handles.setdefault("main", h)
                if areas is not None:
                    a = _num(areas[si]) if isinstance(areas, list) else _num(areas)
                    area_txt = f"AADDC = {a:.4g}"
            if c_ctrl is not None:
                (h,) = ax.plot(eps, _arr(c_ctrl["mean"])[si], "--", color=NOISE_COLOR, linewidth=1.4,
                               label=_link_title(results, control))
                handles.setdefault("ctrl", h)
            if math.isfinite(limit):
                h = ax.axhline(limit, color="black", linestyle="-.", linewidth=1.0, label="limit line L")
                handles.setdefault("limit", h)
            if math.isfinite(highlight):
                h = ax.axvline(highlight, color="0.4", linestyle=":", linewidth=1.2,
                               label=f"highlighted ε = {highlight:g}")
                handles.setdefault("hl", h)
            ax.grid(True, alpha=0.3)
            ax.tick_params(labelsize=8)
            title = "\n".join(x for x in (_snr_label(s) if mi == 0 else "", area_txt) if x)
            if title:
                ax.set_title(title, fontsize=9)
            if si == 0:
                ax.set_ylabel(f"{_metric_label(results, m)}\n(L = {limit:g})", fontsize=9)
            if mi == M - 1:
                ax.set_xlabel("ε (latent L2 norm)", fontsize=9)
    fig.suptitle(_header(results, "DD-curves (mean quality vs jammer budget ε, per SNR)") + "\n" + UNITS_NOTE
                 + "\nAADDC: area between the jammer curve and L on the intact side (shaded), in metric × ε",
                 fontsize=10)
    order = [k for k in ("main", "band", "ctrl", "limit", "area", "hl") if k in handles]
    fig.legend([handles[k] for k in order], [handles[k].get_label() for k in order],
               loc="outside lower center", ncol=max(1, min(len(order), int(width // 2.4))), fontsize=8,
               frameon=False)
    return fig


# -------------------------------------------------------------------------------------------- heat-map


def _heatmap(results: dict[str, Any]) -> Figure | None:
    eps = _arr(results["budget"]["eps"])
    snr = _arr(results["snr_db"])
    main, _ = _links(results)
    metrics = [m for m in _metrics(results) if m in results["curves"].get(main, {})]
    if not metrics or eps.size == 0 or snr.size == 0:
        return None
    order = np.argsort(snr, kind="stable")  # ascending, noiseless last (drawn at the top)
    S, E = len(snr), len(eps)
    n = len(metrics)
    cell_w = max(0.4, min(0.7, 6.0 / E))
    panel_w = max(3.8, cell_w * E + 2.2)
    ncols = min(n, 2 if panel_w <= 7.0 else 1)
    nrows = math.ceil(n / ncols)
    panel_h = max(2.4, min(0.5 * S, 6.0) + 1.4)
    fig = _figure(panel_w * ncols, panel_h * nrows + 0.9)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    annotate = S * E <= 80
    for k, m in enumerate(metrics):
        ax = axes[k // ncols, k % ncols]
        spec = results["metrics"][m]
        hib = bool(spec.get("higher_is_better", True))
        limit = _num(spec.get("limit"))
        grid = _arr(results["curves"][main][m]["mean"])[order]  # [S, E]
        finite = grid[np.isfinite(grid)]
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if vmin == vmax:
            vmin, vmax = vmin - 0.5 * (abs(vmin) or 1.0), vmax + 0.5 * (abs(vmax) or 1.0)
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis" if hib else "viridis_r",
                       vmin=vmin, vmax=vmax, interpolation="nearest")
        cb = fig.colorbar(im, ax=ax, shrink=0.9)
        cb.set_label(_metric_label(results, m) + " (brighter = better)", fontsize=8)
        if not hib:
            cb.ax.invert_yaxis()  # better is up on every colour bar
        if math.isfinite(limit):
            if vmin <= limit <= vmax:
                cb.ax.axhline(limit, color="red", linewidth=1.2)
            if S >= 2 and E >= 2 and vmin < limit < vmax:
                ax.contour(np.arange(E), np.arange(S), np.nan_to_num(grid, nan=vmin), levels=[limit],
                           colors="red", linewidths=1.3)
        if annotate:
            mid = 0.5 * (vmin + vmax)
            for i in range(S):
                for j in range(E):
                    v = grid[i, j]
                    bright = (v > mid) if hib else (v < mid)
                    ax.text(j, i, "n/a" if not math.isfinite(v) else f"{v:.3g}", ha="center", va="center",
                            fontsize=6, color="black" if bright else "white")
        step = max(1, math.ceil(E / 12))
        ax.set_xticks(np.arange(0, E, step))
        ax.set_xticklabels([f"{e:g}" for e in eps[::step]], fontsize=8, rotation=45 if E > 8 else 0)
        ax.set_yticks(np.arange(S))
        ax.set_yticklabels(["noiseless" if math.isinf(s) and s > 0 else f"{s:g}" for s in snr[order]],
                           fontsize=8)
        ax.set_xlabel("ε (latent L2 norm)", fontsize=9)
        ax.set_ylabel("SNR (dB)", fontsize=9)
        lim_txt = f"; red: limit L = {limit:g}" if math.isfinite(limit) else ""
        ax.set_title(f"{m.upper()} mean, {_link_title(results, main)}{lim_txt}", fontsize=9)
    for k in range(n, nrows * ncols):
        axes[k // ncols, k % ncols].set_visible(False)
    fig.suptitle(_header(results, "Mean quality over SNR × ε") + "\n" + UNITS_NOTE, fontsize=10)
    return fig


# ----------------------------------------------------------------------------------------------- images


def pick_budgets(n_budgets: int, highlight_index: int, k: int = MAX_BUDGETS) -> list[int]:
    """Up to ``k`` budget indices evenly spread over ``range(n_budgets)``, always including the highlighted one.

    :return: sorted distinct indices; the first (ε = 0) and last budgets are included when ``k ≥ 2``.
    """
    if n_budgets <= 0:
        return []
    hi = min(max(int(highlight_index), 0), n_budgets - 1)
    if n_budgets <= k:
        return list(range(n_budgets))
    picks = sorted({int(np.rint(v)) for v in np.linspace(0, n_budgets - 1, k)})
    if hi not in picks:
        nearest = min(range(len(picks)), key=lambda i: (abs(picks[i] - hi), -picks[i]))
        picks[nearest] = hi
    return sorted(set(picks))


def _mosaic(rows: list[np.ndarray], k: int) -> tuple[np.ndarray, int, int, int, int]:
    """One canvas for the whole grid (one ``imshow`` instead of rows × k axes: much faster to draw).

    :param rows: per row ``[k, C, H, W]`` images in [0, 1].
    :return: ``(canvas, H, W, cell_h, cell_w)``; the canvas is ``[R·cell_h, k·cell_w]`` for grey (C = 1)
        or ``[..., 3]`` for RGB, white between cells, each image at the bottom of its cell (the gap above
        holds its value).
    """
    C, H, W = rows[0].shape[-3:]
    gap_y, gap_x = max(3, round(0.3 * H)), max(2, round(0.1 * W))
    cell_h, cell_w = H + gap_y, W + gap_x
    shape = (len(rows) * cell_h, k * cell_w) + (() if C == 1 else (3,))
    canvas = np.ones(shape, dtype=np.float64)
    for r, imgs in enumerate(rows):
        for c in range(k):
            img = np.clip(np.nan_to_num(imgs[c], nan=0.0), 0.0, 1.0)
            img = img[0] if C == 1 else np.transpose(img[:3], (1, 2, 0))
            y0, x0 = r * cell_h + gap_y, c * cell_w
            canvas[y0:y0 + H, x0:x0 + W] = img
    return canvas, H, W, cell_h, cell_w


def _images(results: dict[str, Any], samples: dict[str, np.ndarray] | None,
            per_image: dict[str, np.ndarray]) -> Figure | None:
    if not samples or "inputs" not in samples:
        return None
    main, control = _links(results)
    inputs = samples["inputs"]
    clean = samples.get("clean")
    k = min(MAX_IMAGES, inputs.shape[0])
    eps = _arr(results["budget"]["eps"])
    snr = _arr(results["snr_db"])
    hi = int(results["budget"].get("highlight_index", len(eps) - 1))
    first_metric = next(iter(_metrics(results)), None)
    rows: list[tuple[str, np.ndarray, np.ndarray | None]] = [("input x", inputs[:k], None)]
    if clean is not None:
        rows.append(("clean\nreconstruction", clean[:k], None))

    def values(link: str, si: int, ei: int) -> np.ndarray | None:
        v = per_image.get(f"{link}.{first_metric}") if first_metric else None
        if v is None or v.ndim != 3 or si >= v.shape[0] or ei >= v.shape[1]:
            return None
        return v[si, ei, :k]

    main_s = samples.get(f"{main}.samples")
    ctrl_s = samples.get(f"{control}.samples") if control else None
    if main_s is not None and len(eps) >= 2:
        for ei in pick_budgets(min(len(eps), main_s.shape[1]), hi):
            tag = f"ε = {eps[ei]:g}{chr(10) + '(highlighted)' if ei == hi else ''}"
            if eps[ei] == 0:
                rows.append((f"no jammer\n{tag}", main_s[0, ei, :k], values(main, 0, ei)))
                continue
            if ctrl_s is not None:
                rows.append((f"noise jammer\n{tag}", ctrl_s[0, ei, :k], values(control, 0, ei)))
            rows.append((f"{_link_title(results, main)}\n{tag}", main_s[0, ei, :k], values(main, 0, ei)))
        where = _snr_label(snr[0]) if snr.size else ""
    elif main_s is not None:  # one budget: the link over (up to 4) SNR points
        for si in pick_budgets(min(len(snr), main_s.shape[0]), 0):
            rows.append((f"{_link_title(results, main)}\n{_snr_label(snr[si])}", main_s[si, 0, :k],
                         values(main, si, 0)))
        where = "ε = 0" if not eps.size or eps[0] == 0 else f"ε = {eps[0]:g}"
    else:
        where = ""
    canvas, H, W, cell_h, cell_w = _mosaic([r[1] for r in rows], k)
    scale = 1.0 / cell_w  # inches per pixel: 1 inch per column
    left, right, top, bottom = 1.5, 0.1, 0.9, 0.1  # inches: fixed margins, the row labels sit in `left`
    grid_h = len(rows) * cell_h * scale
    width, height = max(k + left + right, 7.5), grid_h + top + bottom  # wide enough for the title
    x0 = left + (width - k - left - right) / 2
    fig = _figure(width, height, layout=None)
    ax = fig.add_axes((x0 / width, bottom / height, k / width, grid_h / height))
    ax.imshow(canvas, cmap="gray" if canvas.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    for r, (label, _, vals) in enumerate(rows):
        y0 = r * cell_h + (cell_h - H)
        ax.text(-0.08 * cell_w, y0 + H / 2, label, ha="right", va="center", fontsize=8, clip_on=False)
        for c in range(k):
            if vals is not None and math.isfinite(float(vals[c])):
                ax.text(c * cell_w + W / 2, y0 - 0.5, f"{float(vals[c]):.3g}", ha="center", va="bottom",
                        fontsize=7)
    note = f"; numbers: per-image {first_metric.upper()}" if first_metric and per_image else ""
    fig.suptitle(_header(results, "Reconstructions (columns: images)") + f"\n{where}{note}\n{UNITS_NOTE}",
                 fontsize=9, y=1.0 - 0.08 / height, va="top")
    return fig


# ---------------------------------------------------------------------------------------------- Eq. 7


def _latent_bars(results: dict[str, Any]) -> Figure | None:
    bars = results.get("latent_bars") or {}
    keys = ("z_abs", "z_adv_abs", "delta_abs")
    if not all(k in bars and len(bars[k]) for k in keys):
        return None
    z, z_adv, delta = (_arr(bars[k]) for k in keys)
    d = len(z)
    x = np.arange(d)
    width = 0.27
    fig = _figure(min(max(6.0, 0.42 * d + 1.5), 30.0), 3.8)
    ax = fig.subplots()
    ax.bar(x - width, z, width, label="mean |z| (clean latent)", color=CLEAN_COLOR)
    ax.bar(x, z_adv, width, label=r"mean $|\hat z|$ (received latent = $z_{adv}$)", color=JAMMER_COLOR)
    ax.bar(x + width, delta, width, label=r"mean $|\delta| = |\hat z - z|$", color=AREA_COLOR)
    step = max(1, math.ceil(d / 40))
    ax.set_xticks(x[::step])
    ax.set_xticklabels([str(i) for i in x[::step]], fontsize=8)
    ax.set_xlim(-0.6, d - 0.4)
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("mean absolute value (latent units)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    eps = _num(bars.get("eps"))
    snr = _num(bars.get("snr_db"))
    noise = "" if math.isinf(snr) and snr > 0 else " (δ includes channel noise)"
    fig.suptitle(_header(results, "Eq. 7: dimension-wise mean |z|, |z_adv|, |δ|")
                 + f"\n{_link_title(results, _links(results)[0])}, ε = {eps:g}, {_snr_label(snr)}{noise}"
                 + f"\n{UNITS_NOTE}", fontsize=9)
    return fig


# ----------------------------------------------------------------------------------------------- t-SNE


def _tsne(results: dict[str, Any], samples: dict[str, np.ndarray] | None) -> Figure | None:
    if not samples or "z" not in samples:
        return None
    z = samples["z"].reshape(samples["z"].shape[0], -1)
    main, control = _links(results)
    kinds: list[tuple[str, np.ndarray, str]] = [("clean z", z, CLEAN_COLOR)]
    for link, color in ((main, JAMMER_COLOR), (control, NOISE_COLOR)):
        zh = samples.get(f"{link}.z_hat_highlight") if link else None
        if zh is not None and zh.shape[0] == z.shape[0]:
            kinds.append((f"{_link_title(results, link)}: received " + r"$\hat z$", zh.reshape(len(zh), -1),
                          color))
    N = z.shape[0]
    if N < 5 or len(kinds) < 2:
        return None
    m = min(N, MAX_TSNE_POINTS // len(kinds))
    idx = np.sort(np.random.default_rng(0).permutation(N)[:m])  # the same images in every kind
    data = np.concatenate([k[1][idx] for k in kinds]).astype(np.float64)
    total = data.shape[0]
    perplexity = float(min(30.0, (total - 1) / 3.0))
    from sklearn.manifold import TSNE

    # exact gradients: at ≤ 500 points faster than Barnes-Hut here, and deterministic
    emb = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=0, method="exact",
               max_iter=500).fit_transform(data)
    fig = _figure(6.4, 5.6)
    ax = fig.subplots()
    markers = ("o", "^", "s")
    for i, (label, _, color) in enumerate(kinds):
        pts = emb[i * m:(i + 1) * m]
        ax.scatter(pts[:, 0], pts[:, 1], s=14, alpha=0.75, color=color, marker=markers[i % 3],
                   label=f"{label} ({m})", linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("t-SNE 2")
    ax.legend(fontsize=8)
    eps = _num(results["budget"].get("highlight", math.nan))
    snr = _arr(results["snr_db"])
    where = f"ε = {eps:g}, {_snr_label(float(snr[0]))}" if snr.size else f"ε = {eps:g}"
    fig.suptitle(_header(results, "t-SNE of clean vs received latents")
                 + f"\n{where} (highlighted budget, first SNR point); perplexity {perplexity:.3g}\n"
                 + UNITS_NOTE, fontsize=9)
    return fig


def render_combined(out_dir: Path, summary: dict[str, Any]) -> list[Path]:
    """``combined_<simulation>.png`` for a ``channelae run`` folder: every model's jammer DD-curve, one panel
    per metric, at the highest SNR of the simulation (noiseless when present), with the limit line."""
    from channelae.experiments import _slug
    from channelae.report import load_results

    out_dir = Path(out_dir)
    models = list(dict.fromkeys(r["model"] for r in summary["rows"]))
    sims = list(dict.fromkeys(r["simulation"] for r in summary["rows"]))
    written = []
    for sim in sims:
        runs = {}
        for m in models:
            p = out_dir / _slug(m) / _slug(sim)
            if (p / "results.json").exists():
                runs[m] = load_results(p)
        if not runs:
            continue
        first = next(iter(runs.values()))
        eps = _arr(first["budget"]["eps"])
        if eps.size < 2:
            continue
        metrics = _metrics(first)
        fig = _figure(4.2 * len(metrics), 3.4)
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        for ax, metric in zip(axes, metrics):
            spec = first["metrics"][metric]
            for m, res in runs.items():
                link, control = _links(res)
                snr = _arr(res["snr_db"])
                si = int(np.argmax(snr))
                mean = _arr(res["curves"][link][metric]["mean"])[si]
                (line,) = ax.plot(_arr(res["budget"]["eps"]), mean, marker=".", label=m)
                if control is not None:  # the equal-power noise control, same colour, dashed
                    ax.plot(_arr(res["budget"]["eps"]), _arr(res["curves"][control][metric]["mean"])[si],
                            ls="--", lw=1, color=line.get_color(), label=f"{m}, noise")
            ax.axhline(_num(spec["limit"]), color="k", ls="-.", lw=1, label="limit line L")
            ax.set_xlabel("ε (latent L2 norm per example)")
            ax.set_ylabel(_metric_label(first, metric))
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        top = _snr_label(float(np.max(_arr(first["snr_db"]))))
        fig.suptitle(f"{summary['name']} — {sim}: PGD-jammer DD-curves per model (dashed: equal-power noise)\n"
                     f"{summary['dataset']}, {top}, reference: {first.get('reference', '')}", fontsize=10)
        written.append(_save(fig, out_dir / f"combined_{_slug(sim)}.png"))
    return written
