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
- **ε** (the jammer's budget) is an L2 norm per example, in one of two units (:data:`EPS_UNITS`):

  - ``link`` (the project's default): the norm of the perturbation of the *transmitted symbols* in units
    where ``Es = 1`` (real view: ``2n`` coordinates), ``‖δ_s‖₂ ≤ ε``. A clean example has ``‖s‖ ≈ √n``, so
    ``JSR = ε² / (n·Es)`` for every model, whatever its latent scale;
  - ``latent`` (the study's unit): ``‖z_adv − z0‖₂ ≤ ε`` in latent units; in symbols the same perturbation has
    norm ``g·ε`` (link units), so ``JSR = (g·ε)² / (n·Es)``.
- **JSR** is the jammer-to-signal ratio on the transmitted symbols, per example, in dB:
  ``JSR = ‖δ_s‖² / (n·Es)``, so ``ε_link = sqrt(n·Es·10^(JSR/10))`` and ``ε_latent = ε_link / g``.
  ``n`` is the number of complex symbols an example occupies on the channel (``ceil(d/2)`` for the
  single-carrier link; a channel that spreads an example over more resource elements says so through
  ``channelae.channels._budget.signal_symbols``). JSR values are computed in float64 and snapped to
  ``1e-10`` dB (:data:`JSR_DECIMALS`), so a round trip JSR → ε → JSR gives 0 dB as ``0.0`` and −10 dB as
  ``-10.0`` exactly.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "EPS_UNITS",
    "JSR_DECIMALS",
    "as_snr_tensor",
    "eps_to_jsr_db",
    "eps_to_link",
    "gain_from_p_ref",
    "jsr_db_to_eps",
    "jsr_db_to_link_eps",
    "link_eps_to_jsr_db",
    "link_to_eps",
    "n0_to_snr_db",
    "num_symbols",
    "p_ref_from_energy",
    "snr_db_to_n0",
]

#: Average transmitted energy per complex symbol after the fixed power gain.
ES: float = 1.0
#: Units of a jammer budget ε (L2 norm per example): ``link`` (transmitted symbols, Es = 1; the default)
#: or ``latent`` (the study's latent-space norm).
EPS_UNITS: tuple[str, ...] = ("link", "latent")
#: JSR values (dB) are rounded to this many decimals (1e-10 dB, far below any meaningful precision) so that
#: float64 round-off does not print 0 dB as 9.6e-16 or −10 dB as −9.999999999999998.
JSR_DECIMALS: int = 10


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


def _check_unit(unit: str, gain: float | None) -> None:
    if unit not in EPS_UNITS:
        raise ValueError(f"unknown ε unit {unit!r}; allowed: {', '.join(EPS_UNITS)}")
    if unit == "latent" and gain is None:
        raise ValueError("latent-unit budgets need the transmitter gain g")


def link_eps_to_jsr_db(eps_link: float | Tensor, n: int, es: float = ES) -> Tensor:
    """JSR in dB of a perturbation of link-unit L2 norm ``eps_link``: ``10·log10(ε² / (n·Es))`` (float64).

    :param eps_link: L2 norm per example of the perturbation of the transmitted symbols (Es = 1 units);
        any shape. ``0`` gives ``-inf`` dB.
    :param n: complex symbols per example the signal occupies.
    :return: JSR (dB), float64, same shape, snapped to :data:`JSR_DECIMALS` decimals.
    """
    eps = torch.as_tensor(eps_link, dtype=torch.float64)
    jsr = 10.0 * torch.log10(eps.square() / (int(n) * es))
    return torch.round(jsr, decimals=JSR_DECIMALS) + 0.0  # + 0.0: no "-0"


def jsr_db_to_link_eps(jsr_db: float | Tensor, n: int, es: float = ES) -> Tensor:
    """Link-unit L2 norm per example of a jammer at ``jsr_db`` (dB): ``sqrt(n·Es·10^(JSR/10))`` (float64).

    ``-inf`` dB gives ``0``.
    """
    jsr = torch.as_tensor(jsr_db, dtype=torch.float64)
    return torch.sqrt(int(n) * es * torch.pow(10.0, jsr / 10.0))


def eps_to_link(eps: float | Tensor, unit: str = "link", gain: float | None = None) -> Tensor:
    """A budget ε in ``unit`` (see :data:`EPS_UNITS`) as a link-unit L2 norm (float64).

    ``link``: unchanged; ``latent``: ``g·ε`` (``gain`` = transmitter gain ``g``, symbols per latent unit).
    """
    _check_unit(unit, gain)
    eps = torch.as_tensor(eps, dtype=torch.float64)
    return eps if unit == "link" else eps * float(gain)


def link_to_eps(eps_link: float | Tensor, unit: str = "link", gain: float | None = None) -> Tensor:
    """Inverse of :func:`eps_to_link`: a link-unit L2 norm in ``unit`` (``latent``: ``ε_link / g``)."""
    _check_unit(unit, gain)
    eps = torch.as_tensor(eps_link, dtype=torch.float64)
    return eps if unit == "link" else eps / float(gain)


def eps_to_jsr_db(eps: float | Tensor, gain: float | None, n: int, es: float = ES, *,
                  unit: str = "link") -> Tensor:
    """JSR in dB (float64) of a budget ``eps`` in ``unit`` (``-inf`` dB for ``eps = 0``).

    :param eps: L2 norm per example, in ``unit``: ``link`` (default; transmitted symbols, Es = 1) or
        ``latent`` (the study's latent norm).
    :param gain: transmitter gain ``g`` (needed for ``latent``; ignored for ``link``).
    :param n: complex symbols per example.
    """
    return link_eps_to_jsr_db(eps_to_link(eps, unit, gain), n, es)


def jsr_db_to_eps(jsr_db: float | Tensor, gain: float | None, n: int, es: float = ES, *,
                  unit: str = "link") -> Tensor:
    """The budget ε in ``unit`` of a jammer at ``jsr_db`` (dB), float64: ``sqrt(n·Es·10^(JSR/10))`` in
    link units, divided by ``g`` for ``latent``."""
    return link_to_eps(jsr_db_to_link_eps(jsr_db, n, es), unit, gain)
