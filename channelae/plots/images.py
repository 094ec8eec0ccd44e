"""``images.png``: inputs, clean reconstructions, and jammed reconstructions, as one mosaic.

For the first SNR point: the noise-jammed and PGD-jammed reconstructions at up to 4 budgets (incl. the
highlighted one), each image annotated with its per-image value of the first metric; without a jammer, the
link's reconstructions at up to 4 SNR points. Skipped (``None``) without ``samples.safetensors``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from channelae.plots.style import figure, header, ordered_metrics, units_note
from channelae.results import Results, snr_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["MAX_BUDGETS", "MAX_IMAGES", "NAME", "build", "pick_budgets"]

NAME = "images"
MAX_IMAGES = 8
MAX_BUDGETS = 4


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


def build(results: Results, samples: dict[str, np.ndarray] | None,
          per_image: dict[str, np.ndarray]) -> Figure | None:
    """The image grid of ``results`` from its ``samples`` (and ``per_image`` values), or ``None``."""
    if not samples or "inputs" not in samples:
        return None
    main, control = results.main_link, results.control_link
    inputs = samples["inputs"]
    clean = samples.get("clean")
    k = min(MAX_IMAGES, inputs.shape[0])
    eps = results.budget.grid()
    snr = results.snr_grid()
    hi = results.budget.highlight_index
    first_metric = next(iter(ordered_metrics(results)), None)
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
            rows.append((f"{results.link_title(main)}\n{tag}", main_s[0, ei, :k], values(main, 0, ei)))
        where = snr_label(snr[0]) if snr.size else ""
    elif main_s is not None:  # one budget: the link over (up to 4) SNR points
        for si in pick_budgets(min(len(snr), main_s.shape[0]), 0):
            rows.append((f"{results.link_title(main)}\n{snr_label(snr[si])}", main_s[si, 0, :k],
                         values(main, si, 0)))
        where = "ε = 0" if not eps.size or eps[0] == 0 else f"ε = {eps[0]:g}"
    else:
        where = ""
    canvas, H, W, cell_h, cell_w = _mosaic([r[1] for r in rows], k)
    col = 0.75  # inches per image column
    scale = col / cell_w  # inches per pixel
    left, right, top, bottom = 1.3, 0.1, 0.65, 0.1  # inches: fixed margins, the row labels sit in `left`
    grid_h = len(rows) * cell_h * scale
    width, height = max(k * col + left + right, 6.5), grid_h + top + bottom  # wide enough for the title
    x0 = left + (width - k * col - left - right) / 2
    fig = figure(width, height)
    ax = fig.add_axes((x0 / width, bottom / height, k * col / width, grid_h / height))
    ax.imshow(canvas, cmap="gray" if canvas.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    for r, (label, _, vals) in enumerate(rows):
        y0 = r * cell_h + (cell_h - H)
        ax.text(-0.08 * cell_w, y0 + H / 2, label, ha="right", va="center", fontsize=7, clip_on=False)
        for c in range(k):
            if vals is not None and math.isfinite(float(vals[c])):
                ax.text(c * cell_w + W / 2, y0 - 0.5, f"{float(vals[c]):.3g}", ha="center", va="bottom",
                        fontsize=6)
    note = f"; numbers: per-image {first_metric.upper()}" if first_metric and per_image else ""
    fig.suptitle(header(results, "Reconstructions (columns: images)") + f"\n{where}{note}; {units_note(results)}",
                 fontsize=8, y=1.0 - 0.06 / height, va="top")
    return fig
