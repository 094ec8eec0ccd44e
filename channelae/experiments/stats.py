"""Per-model statistics of an experiment: latent scale, how stochastic a VAE is, and β-TCVAE's KL decomposition.

- :func:`latent_report` — on the evaluated images (the first ``n`` of the evaluation split, the ones
  ``simulate`` transmits): the mean latent norm ``mean_n ‖μ_n‖`` (what the link transmits: μ for VAEs), the
  RMS value per dimension ``mean_n ‖μ_n‖/√d``, and for VAEs the ratio ``σ/std(μ)`` = mean over dimensions
  ``k`` of ``mean_n σ_nk / std_n μ_nk`` (posterior standard deviation against the spread of the means over
  images: ≪ 1 means the encoder is effectively deterministic at the scale the images are spread over).
- :func:`tc_report` — for a β-TCVAE, on its training split: the exact full-data-set decomposition
  (:func:`channelae.models.regularizers.full_data_decomposition`: aggregate posterior over all ``N``
  training posteriors, Monte-Carlo only over the sample points, run as independent replicates to give a
  standard error) beside the minibatch-stratified (MSS) estimate the training loss uses
  (:func:`~channelae.models.regularizers.tc_decomposition`, averaged over the training split in batches of
  the training batch size, and over a few batches of 512 to show how the estimate depends on the batch
  size), and the analytic ``E_x KL(q(z|x) ‖ N(0, I))`` that both decompositions split (MI + TC + DWKL).

:func:`model_statistics` computes both for a checkpoint and caches them in the run folder
(``model_stats.json``, keyed by the weights' SHA-256 and the settings), since the models of a re-run come
from the model cache and the exact decomposition of a 60,000-image training set takes minutes.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["STATS_NAME", "latent_report", "model_statistics", "tc_report"]

#: The cache file of :func:`model_statistics` in a model's run folder.
STATS_NAME = "model_stats.json"
#: Independent replicates of the exact decomposition (their spread gives the Monte-Carlo standard error).
TC_REPLICATES = 4
#: The larger batch of the second MSS estimate, and how many such batches are averaged.
LARGE_BATCH, LARGE_BATCHES = 512, 20
_VERSION = 1


def latent_report(model: Any, images: Any, *, batch_size: int = 256) -> dict[str, Any]:
    """Latent scale and (for VAEs) posterior σ against the spread of μ, on ``images`` ``[N, C, H, W]``.

    :return: ``n_images``, ``latent_dim``, ``latent_norm`` (mean ‖μ‖, latent L2), ``latent_rms`` (mean
        ‖μ‖/√d), and ``sigma_mean`` (mean posterior σ), ``mu_std_mean`` (mean over dimensions of the std of μ
        over images, ``N − 1`` in the denominator), ``sigma_over_mu_std`` (mean over dimensions of
        ``mean_n σ_nk / std_n μ_nk``) — ``None`` for deterministic models and for ``N < 2``.
    """
    import torch

    model.eval()
    mus, sigmas = [], []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            mu, logvar = model.encode_stats(images[start:start + batch_size])
            mus.append(mu.double().cpu())
            if logvar is not None:
                sigmas.append(torch.exp(0.5 * logvar.double()).cpu())
    mu = torch.cat(mus)
    n, d = mu.shape
    norms = mu.norm(dim=-1)
    out: dict[str, Any] = {"n_images": n, "latent_dim": d, "latent_norm": float(norms.mean()),
                           "latent_rms": float(norms.mean() / math.sqrt(d)), "variational": bool(sigmas),
                           "sigma_mean": None, "mu_std_mean": None, "sigma_over_mu_std": None}
    if sigmas and n >= 2:
        sigma = torch.cat(sigmas)
        mu_std = mu.std(dim=0, correction=1)  # [d]
        out["sigma_mean"] = float(sigma.mean())
        out["mu_std_mean"] = float(mu_std.mean())
        out["sigma_over_mu_std"] = float((sigma.mean(0) / mu_std.clamp_min(1e-300)).mean())
    return out


def _terms(t: Any) -> dict[str, float]:
    return {"mi": float(t.mi), "tc": float(t.tc), "dwkl": float(t.dwkl)}


def _mean_se(parts: list[dict[str, float]]) -> dict[str, Any]:
    """Mean of each term over ``parts`` and its standard error ``std/√k`` (``None`` for one part)."""
    k = len(parts)
    out: dict[str, Any] = {}
    se: dict[str, Any] = {}
    for key in ("mi", "tc", "dwkl"):
        vals = [p[key] for p in parts]
        mean = sum(vals) / k
        out[key] = mean
        se[key] = math.sqrt(sum((v - mean) ** 2 for v in vals) / (k - 1) / k) if k > 1 else None
    out["se"] = se
    return out


def tc_report(mu: Any, logvar: Any, *, batch_size: int, n_samples: int, seed: int = 0) -> dict[str, Any]:
    """The β-TCVAE KL decomposition of a trained model, exact and minibatch-estimated (module docstring).

    :param mu: posterior means of the whole training split, ``[N, d]``.
    :param logvar: their log-variances, ``[N, d]``.
    :param batch_size: the training batch size (the MSS estimate is averaged over batches of this size).
    :param n_samples: sample points of the exact decomposition, split into :data:`TC_REPLICATES` independent
        replicates.
    :param seed: seeds the sample points, the batches and the draws ``z ~ q(z|x)``.
    :return: ``exact`` / ``minibatch`` / ``minibatch_large`` (``mi``, ``tc``, ``dwkl`` in nats, with ``se``:
        standard errors over replicates or batches), ``kl`` (analytic batch-free mean KL; ``mi + tc + dwkl``
        of each decomposition estimates it), ``n_train``.
    """
    import torch

    from channelae.models import regularizers as R

    mu = mu.detach().double().cpu()
    logvar = logvar.detach().double().cpu()
    n, d = mu.shape
    per = max(1, n_samples // TC_REPLICATES)
    exact = []
    for r in range(TC_REPLICATES):
        g = torch.Generator().manual_seed(seed * 1_000_003 + r)
        # chunk: ~2·10⁷ float64 values per evaluation step (160 MB) whatever N is
        exact.append(_terms(R.full_data_decomposition(mu, logvar, n_samples=per, generator=g,
                                                      chunk=max(1, 20_000_000 // (n * d)))))
    out: dict[str, Any] = {"n_train": n, "latent_dim": d,
                           "exact": {**_mean_se(exact), "n_samples": min(per, n) * TC_REPLICATES,
                                     "replicates": TC_REPLICATES},
                           "kl": float(R.kld(mu, logvar).mean())}
    for key, size, limit in (("minibatch", batch_size, None), ("minibatch_large", LARGE_BATCH, LARGE_BATCHES)):
        if n < 2 * size or size < 2:
            out[key] = None
            continue
        g = torch.Generator().manual_seed(seed * 1_000_003 + 7919)
        perm = torch.randperm(n, generator=g)
        batches = n // size if limit is None else min(limit, n // size)
        parts = []
        for b in range(batches):
            i = perm[b * size:(b + 1) * size]
            z = mu[i] + torch.randn((size, d), generator=g, dtype=torch.float64) * torch.exp(0.5 * logvar[i])
            parts.append(_terms(R.tc_decomposition(z, mu[i], logvar[i], n, estimator="mss")))
        out[key] = {**_mean_se(parts), "estimator": "mss", "batch_size": size, "batches": batches}
    return out


def _weights_sha(ckpt: Path) -> str:
    import hashlib

    from channelae.checkpoint import resolve_checkpoint

    h = hashlib.sha256()
    with open(resolve_checkpoint(ckpt)[0], "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_statistics(ckpt: str | os.PathLike[str], folder: str | os.PathLike[str], *, dataset: str, n_images: int,
                     tc_samples: int, device: str = "auto", data_dir: Any = None, seed: int = 0,
                     log: Any = None) -> dict[str, Any]:
    """:func:`latent_report` on the first ``n_images`` of ``dataset``'s evaluation split, the checkpoint's
    validation scores and, for a ``tc-vae``, :func:`tc_report` on the training data it was trained on (its
    ``train_images`` and ``batch_size`` as stored in the checkpoint); cached in ``<folder>/model_stats.json``.
    """
    import torch

    from channelae._validation import check_device
    from channelae.checkpoint import load_checkpoint
    from channelae.data import dataset_info, load_dataset
    from channelae.io import atomic_write_text
    from channelae.results import dumps_json, encode_json

    folder = Path(folder)
    key = {"version": _VERSION, "weights_sha256": _weights_sha(Path(ckpt)), "dataset": dataset,
           "n_images": n_images, "tc_samples": tc_samples, "seed": seed}
    cache = folder / STATS_NAME
    if cache.is_file():
        try:
            stored = json.loads(cache.read_text(encoding="utf-8"))
            if stored.get("key") == encode_json(key):
                return stored["stats"]
        except (OSError, ValueError, KeyError):
            pass
    dev = check_device(device)
    model, meta = load_checkpoint(ckpt, device=dev)
    images = load_dataset(dataset, dataset_info(dataset).eval_split, data_dir=data_dir, limit=n_images)
    x = images.batch(torch.arange(len(images))).to(dev)
    stats: dict[str, Any] = {"latent": latent_report(model, x), "family": meta.get("config", {}).get("family"),
                             "val_ssim": meta.get("val", {}).get("val_ssim"),
                             "val_mse": meta.get("val", {}).get("val_mse"), "tc": None}
    if stats["family"] == "tc-vae":
        settings = meta.get("settings", {})
        train_ds = meta.get("dataset", dataset)
        if log is not None:
            log(f"β-TCVAE KL decomposition of {Path(ckpt).name}: exact on the training split "
                f"({tc_samples} sample points) and the minibatch estimate")
        data = load_dataset(train_ds, "train", data_dir=data_dir, limit=settings.get("train_images"))
        mus, logvars = [], []
        with torch.no_grad():
            for start in range(0, len(data), 1000):
                mu, logvar = model.encode_stats(data.batch(torch.arange(start, min(len(data), start + 1000))).to(dev))
                mus.append(mu.cpu())
                logvars.append(logvar.cpu())
        batch = int(meta.get("train", {}).get("batch_size", settings.get("batch_size", 64)))
        stats["tc"] = tc_report(torch.cat(mus), torch.cat(logvars), batch_size=batch, n_samples=tc_samples,
                                seed=seed)
        stats["tc"]["beta"] = meta.get("config", {}).get("beta")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cache, dumps_json({"key": key, "stats": stats}))
    return stats
