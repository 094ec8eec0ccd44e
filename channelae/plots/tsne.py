"""``tsne.png``: t-SNE of clean latents vs received latents at the highlighted ε (jammer and noise control).

Skipped (``None``) for fewer than 5 images or without ``samples.safetensors``. scikit-learn is imported only
here, when the figure is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from channelae.plots.style import CLEAN_COLOR, JAMMER_COLOR, NOISE_COLOR, UNITS_NOTE, figure, header
from channelae.results import Results, snr_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["MAX_POINTS", "NAME", "build"]

NAME = "tsne"
MAX_POINTS = 500


def build(results: Results, samples: dict[str, np.ndarray] | None) -> Figure | None:
    """The t-SNE figure of ``results`` from its ``samples``, or ``None``."""
    if not samples or "z" not in samples:
        return None
    z = samples["z"].reshape(samples["z"].shape[0], -1)
    main, control = results.main_link, results.control_link
    kinds: list[tuple[str, np.ndarray, str]] = [("clean z", z, CLEAN_COLOR)]
    for link, color in ((main, JAMMER_COLOR), (control, NOISE_COLOR)):
        zh = samples.get(f"{link}.z_hat_highlight") if link else None
        if zh is not None and zh.shape[0] == z.shape[0]:
            kinds.append((f"{results.link_title(link)}: received " + r"$\hat z$", zh.reshape(len(zh), -1),
                          color))
    N = z.shape[0]
    if N < 5 or len(kinds) < 2:
        return None
    m = min(N, MAX_POINTS // len(kinds))
    idx = np.sort(np.random.default_rng(0).permutation(N)[:m])  # the same images in every kind
    data = np.concatenate([k[1][idx] for k in kinds]).astype(np.float64)
    total = data.shape[0]
    perplexity = float(min(30.0, (total - 1) / 3.0))
    from sklearn.manifold import TSNE

    # exact gradients: at ≤ 500 points faster than Barnes-Hut here, and deterministic
    emb = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=0, method="exact",
               max_iter=500).fit_transform(data)
    fig = figure(6.4, 5.6)
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
    eps = results.budget.highlight
    snr = results.snr_grid()
    where = f"ε = {eps:g}, {snr_label(float(snr[0]))}" if snr.size else f"ε = {eps:g}"
    fig.suptitle(header(results, "t-SNE of clean vs received latents")
                 + f"\n{where} (highlighted budget, first SNR point); perplexity {perplexity:.3g}\n"
                 + UNITS_NOTE, fontsize=9)
    return fig
