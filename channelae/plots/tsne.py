"""``tsne.png`` (on request: ``--tsne``): one joint t-SNE of clean latents and received latents at the
highlighted ε, drawn as side-by-side panels (clean, jammer, noise control) coloured by class label.

The question it answers: does the jammer move latents across class clusters (PGD) where equal-power noise
only blurs them? Skipped (``None``) for fewer than 5 images or without ``samples.safetensors``; without stored
labels (data sets without classes, results written before labels were stored) the points are one colour per
panel. Off by default: the embedding (exact t-SNE, up to :data:`MAX_POINTS` points) and scikit-learn's import
cost seconds, more than all other plots together; scikit-learn is imported only here, when it is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from channelae.plots.style import CLEAN_COLOR, JAMMER_COLOR, NOISE_COLOR, figure, header, panel_grid
from channelae.results import Results, snr_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["MAX_POINTS", "NAME", "build", "embed"]

NAME = "tsne"
#: Points embedded at most (all panels together): the same images subsampled in every panel.
MAX_POINTS = 500


def embed(data: np.ndarray, seed: int = 0) -> tuple[np.ndarray, float]:
    """Exact t-SNE of ``data`` ``[n, d]`` → ``([n, 2], perplexity)``; perplexity min(30, (n − 1)/3)."""
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, (data.shape[0] - 1) / 3.0))
    # exact gradients: at ≤ 500 points faster than Barnes-Hut here, and deterministic
    emb = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, method="exact",
               max_iter=500).fit_transform(data.astype(np.float64))
    return emb, perplexity


def build(results: Results, samples: dict[str, np.ndarray] | None) -> Figure | None:
    """The t-SNE figure of ``results`` from its ``samples`` (``z``, ``{link}.z_hat_highlight``, ``labels``)."""
    if not samples or "z" not in samples:
        return None
    z = samples["z"].reshape(samples["z"].shape[0], -1)
    N = z.shape[0]
    main, control = results.main_link, results.control_link
    kinds: list[tuple[str, np.ndarray, str]] = [("clean latent z", z, CLEAN_COLOR)]
    for link, color in ((main, JAMMER_COLOR), (control, NOISE_COLOR)):
        zh = samples.get(f"{link}.z_hat_highlight") if link else None
        if zh is not None and zh.shape[0] == N:
            kinds.append(("received " + r"$\hat z$" + f", {results.link_title(link)}", zh.reshape(N, -1), color))
    if N < 5 or len(kinds) < 2:
        return None
    labels = samples.get("labels")
    labels = labels.astype(np.int64).reshape(-1) if labels is not None and labels.size == N else None
    m = min(N, MAX_POINTS // len(kinds))
    idx = np.sort(np.random.default_rng(0).permutation(N)[:m])  # the same images in every panel
    emb, perplexity = embed(np.concatenate([k[1][idx] for k in kinds]))
    K = len(kinds)
    fig = figure(0.4 + 2.6 * K + 0.15 * (K - 1) + (1.0 if labels is not None else 0.2), 3.6)
    axes = panel_grid(fig, 1, K, left=0.2, right=1.0 if labels is not None else 0.2, top=0.7, bottom=0.2,
                      wspace=0.15, hspace=0, sharex=True, sharey=True)[0]
    scatter = None
    for i, (label, _, color) in enumerate(kinds):
        pts = emb[i * m:(i + 1) * m]
        ax = axes[i]
        if labels is not None:
            scatter = ax.scatter(pts[:, 0], pts[:, 1], s=9, c=labels[idx], cmap="tab10", vmin=-0.5, vmax=9.5,
                                 linewidths=0, alpha=0.85)
        else:
            ax.scatter(pts[:, 0], pts[:, 1], s=9, color=color, linewidths=0, alpha=0.85)
        ax.set_title(label, fontsize=8, pad=3)
        ax.set_xticks([])
        ax.set_yticks([])
    if scatter is not None:
        handles, names = scatter.legend_elements(num=None)
        fig.legend(handles, [n.replace("$\\mathdefault{", "").replace("}$", "") for n in names], title="class",
                   loc="center right", fontsize=7, title_fontsize=7, frameon=False, markerscale=0.8)
    snr = results.snr_grid()
    where = f"ε = {results.budget.highlight:g}, {snr_label(float(snr.max()))}" if snr.size else ""
    fig.suptitle(header(results, f"t-SNE of clean vs received latents ({m} images per panel, {where}, "
                                 f"perplexity {perplexity:.3g})"), fontsize=8, y=1 - 0.05 / 3.6, va="top")
    return fig
