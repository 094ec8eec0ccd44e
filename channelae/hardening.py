"""Latent adversarial training (study Algorithm 1) and its natural baseline, noise training (SPEC §3).

After each regular training step, ``m`` times: attack the re-parameterised latent ``z`` of the batch with an
untargeted PGD of budget ε (latent L2 per example; default ε = 0.05, distance SSIM, i.e. maximise
``1 − SSIM(dec(z + δ), dec(z))``), then update the **decoder only** on ``MSE(x, dec(z + δ))``.
``noise`` training does the same with a perturbation of the same norm in a random direction (equal power).

The inner attack (``mode``):

- ``strong`` (default, kept for the cached models): the project's strong PGD — L2-normalised steps
  ``η = 2.5ε/K``, a random start in the ball, the best iterate kept. This is *not* the study's Eq. 6.
- ``faithful``: the study's Eq. 6 inside Algorithm 1 — sign steps of ``α = 1`` latent unit, ``K`` steps,
  projection onto the L2 ball, the final iterate (started at a random point of norm ``10⁻³·ε`` because the
  untargeted objective has zero gradient at δ = 0, see :mod:`channelae.attacks`).

BatchNorm: the attack runs with the model in **eval** mode (running statistics; attacking must not move
them), the decoder update in **train** mode (batch statistics), like every regular training step. The study
does not say which mode its attack uses; with eval mode the attacked decoder is the one that is evaluated.

Optionally the perturbed latent also passes through receiver noise at ``snr_db`` (dB, Es/N0 per complex
symbol), so a model can be hardened for a given link: the noise is drawn per real latent dimension with
variance ``N0/2 · P`` where ``P`` is the batch's mean energy per complex symbol (the training-time stand-in
for the checkpoint's ``P_ref``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from channelae._validation import check_int_range, check_non_negative, check_one_of
from channelae.attacks import DISTANCES, distance, pgd
from channelae.definitions import num_symbols, snr_db_to_n0
from channelae.models import Autoencoder
from channelae.training import StepHook

__all__ = ["ADV_MODES", "KINDS", "HardeningConfig", "hardening_hook"]

KINDS = ("adversarial", "noise")
#: Inner attack of Algorithm 1: the project's strong PGD, or the study's Eq. 6.
ADV_MODES = ("strong", "faithful")


@dataclass(frozen=True)
class HardeningConfig:
    """Settings of latent adversarial / noise training.

    :param kind: ``adversarial`` (PGD) or ``noise`` (random direction, same norm).
    :param eps: budget, latent L2 norm per example.
    :param m: decoder updates per regular step (the study's ``M``).
    :param k: PGD steps (the study's ``K``).
    :param distance: PGD distance (``ssim`` in the study).
    :param snr_db: optional receiver noise during hardening (dB; ``None`` = noiseless).
    :param mode: inner attack, ``strong`` (default) or ``faithful`` (study Eq. 6); see the module docstring.
    """

    kind: str = "adversarial"
    eps: float = 0.05
    m: int = 1
    k: int = 10
    distance: str = "ssim"
    snr_db: float | None = None
    mode: str = "strong"

    def __post_init__(self) -> None:
        check_one_of(self.kind, KINDS, "--harden")
        check_one_of(self.mode, ADV_MODES, "--adv-mode")
        check_non_negative(self.eps, "--adv-eps")
        check_int_range(self.m, "--adv-m", low=1, high=1000)
        check_int_range(self.k, "--adv-k", low=1, high=1000)
        check_one_of(self.distance, tuple(d for d in DISTANCES if d != "lpips"), "--adv-distance")
        if self.snr_db is not None and math.isnan(self.snr_db):
            raise ValueError("snr_db must be a number")

    def to_dict(self) -> dict:
        """Settings as a dict (part of the model-cache key). ``mode`` is left out at its default, so the
        cache entries of models trained before the option existed keep their keys."""
        d = asdict(self)
        if d["mode"] == "strong":
            del d["mode"]
        return d


def _link_noise(z: Tensor, snr_db: float | None, generator: torch.Generator | None) -> Tensor:
    if snr_db is None or math.isinf(snr_db):
        return z
    n = num_symbols(z.shape[-1])
    p = float(z.detach().square().sum(-1).mean() / n)  # mean energy per complex symbol of the batch
    std = math.sqrt(float(snr_db_to_n0(snr_db)) / 2 * p)
    return z + std * torch.randn(z.shape, generator=generator, dtype=z.dtype, device=z.device)


def hardening_hook(cfg: HardeningConfig) -> StepHook:
    """A training step hook doing ``cfg.m`` decoder-only updates on perturbed latents (module docstring)."""

    def hook(model: Autoencoder, opt: torch.optim.Optimizer, x: Tensor, epoch: int, step: int,
             generator: torch.Generator) -> dict[str, float]:
        losses = []
        for _ in range(cfg.m):
            model.eval()  # attack without touching BatchNorm statistics
            with torch.no_grad():
                z = model(x, generator=generator).z  # re-parameterised latent (z itself for DAEs)
                ref = model.decode(z)
            radius = torch.full((1,), cfg.eps, dtype=z.dtype, device=z.device)
            if cfg.kind == "adversarial":
                def objective(delta: Tensor, z: Tensor = z, ref: Tensor = ref) -> Tensor:
                    return distance(cfg.distance, model.decode(_link_noise(z + delta, cfg.snr_db, generator)),
                                    ref)

                delta = pgd(objective, z.shape, radius, mode=cfg.mode, steps=cfg.k, alpha=1.0,
                            generator=generator, dtype=z.dtype, device=z.device)
            else:
                g = torch.randn(z.shape, generator=generator, dtype=z.dtype, device=z.device)
                delta = cfg.eps * g / g.norm(dim=-1, keepdim=True).clamp_min(1e-30)
            model.train()
            z_adv = _link_noise(z + delta, cfg.snr_db, generator).detach()
            loss = F.mse_loss(model.decode(z_adv), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # z_adv is detached: only decoder parameters get gradients
            opt.step()
            losses.append(float(loss.detach()))
        return {f"{cfg.kind[:3]}_mse": sum(losses) / len(losses)}

    return hook
