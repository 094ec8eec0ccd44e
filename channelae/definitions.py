"""The link's physical definitions, written once (SPEC §1–§2). Everything else imports from here.

Conventions
-----------
- **Latent → symbols**: a real latent ``z`` of ``d`` values (one zero padded when ``d`` is odd) becomes
  ``n = ceil(d / 2)`` complex symbols ``s_k = g·(z_{2k} + j·z_{2k+1})`` with the fixed gain
  ``g = 1 / sqrt(P_ref)``; ``P_ref`` is the mean energy per complex symbol of the clean latents over the
  training set, so the average symbol energy is ``Es = 1``.
- **SNR** is ``Es/N0`` in dB *per complex symbol*: ``N0 = Es · 10^(−snr_db/10)``; complex AWGN
  ``w ~ CN(0, N0)`` has variance ``N0/2`` per real dimension (Sionna's ``no``). ``snr_db = +inf`` means
  no noise (``N0 = 0``).
- **ε** (the study's budget) is the L2 norm of the perturbation in *latent units*, per example:
  ``‖z_adv − z0‖₂ ≤ ε``. In symbols the same perturbation has norm ``g·ε``.
- **JSR** is the jammer-to-signal ratio on the transmitted symbols, per example, in dB:
  ``JSR = ‖δ_s‖² / (n·Es)``, so ``ε = sqrt(n·Es·10^(JSR/10)) / g``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "as_snr_tensor",
    "eps_to_jsr_db",
    "gain_from_p_ref",
    "jsr_db_to_eps",
    "n0_to_snr_db",
    "num_symbols",
    "p_ref_from_energy",
    "snr_db_to_n0",
]

#: Average transmitted energy per complex symbol after the fixed power gain.
ES: float = 1.0


def num_symbols(latent_dim: int) -> int:
    """Complex symbols per example for a real latent of ``latent_dim`` values: ``ceil(d/2)``."""
    return (int(latent_dim) + 1) // 2


def p_ref_from_energy(total_energy: float, n_examples: int, latent_dim: int) -> float:
    """``P_ref``: mean energy per complex symbol of unscaled latents, ``Σ‖z‖² / (N · ceil(d/2))``.

    ``total_energy`` is ``Σ_i ‖z_i‖²`` (L2 norm squared, summed over ``n_examples`` latents of ``latent_dim``
    real values). The zero pad of an odd ``d`` adds no energy but counts as part of a symbol, so ``Es = 1``
    after the gain :func:`gain_from_p_ref` holds for the same ``n`` that the SNR and JSR definitions use.
    """
    return float(total_energy) / int(n_examples) / num_symbols(latent_dim)


def as_snr_tensor(snr_db: float | Tensor, device: torch.device | None = None) -> Tensor:
    """``snr_db`` (dB, per complex symbol; float or tensor) as a float32 tensor (``inf`` allowed)."""
    return torch.as_tensor(snr_db, dtype=torch.float32, device=device)


def snr_db_to_n0(snr_db: float | Tensor, es: float = ES) -> Tensor:
    """Noise variance per complex symbol ``N0 = Es·10^(−snr_db/10)`` (0 for ``snr_db = +inf``).

    :param snr_db: Es/N0 in dB per complex symbol; any shape, broadcasts.
    :param es: energy per complex symbol (1 after the transmitter's gain).
    :return: ``N0``, same shape as ``snr_db`` (float32 unless a tensor of another float dtype is given).
    """
    snr = snr_db if isinstance(snr_db, Tensor) else as_snr_tensor(snr_db)
    return es * torch.pow(10.0, -snr / 10.0)


def n0_to_snr_db(n0: float | Tensor, es: float = ES) -> Tensor:
    """Inverse of :func:`snr_db_to_n0`: ``10·log10(Es/N0)`` in dB."""
    n0 = torch.as_tensor(n0, dtype=torch.float64)
    return 10.0 * torch.log10(es / n0)


def gain_from_p_ref(p_ref: float) -> float:
    """Transmitter gain ``g = 1/sqrt(P_ref)`` (``P_ref``: mean energy per complex symbol of clean latents)."""
    if not (p_ref > 0 and math.isfinite(p_ref)):
        raise ValueError(f"P_ref must be a positive finite number; got {p_ref!r}")
    return 1.0 / math.sqrt(p_ref)


def eps_to_jsr_db(eps: float | Tensor, gain: float, n: int, es: float = ES) -> Tensor:
    """JSR in dB of a perturbation with latent L2 norm ``eps`` (``-inf`` dB for ``eps = 0``).

    :param eps: latent-space L2 norm per example.
    :param gain: transmitter gain ``g``.
    :param n: complex symbols per example.
    """
    eps = torch.as_tensor(eps, dtype=torch.float64)
    return 10.0 * torch.log10((gain * eps) ** 2 / (n * es))


def jsr_db_to_eps(jsr_db: float | Tensor, gain: float, n: int, es: float = ES) -> Tensor:
    """Latent L2 norm ``ε`` of a jammer at ``jsr_db`` (dB): ``sqrt(n·Es·10^(JSR/10)) / g``."""
    jsr = torch.as_tensor(jsr_db, dtype=torch.float64)
    return torch.sqrt(n * es * torch.pow(10.0, jsr / 10.0)) / gain
