"""Transmitter: real latent ``z [..., d]`` → complex symbols ``s [..., n]``, ``n = ceil(d/2)`` (SPEC §1).

``s_k = g·(z_{2k} + j·z_{2k+1})`` (one zero padded when ``d`` is odd). Two power normalisations:

- ``"fixed"`` (default): ``g = 1/sqrt(P_ref)`` (:func:`channelae.definitions.gain_from_p_ref`), the same for
  every example, with ``P_ref`` the mean energy per complex symbol of the clean latents over the training set
  (:func:`mean_symbol_energy`). The average symbol energy over the data is ``Es = 1`` and the receiver needs
  no side information: it divides by the same ``g``.
- ``"per-example"`` (DeepJSCC style): each example is scaled to unit average energy per complex symbol,
  ``g_i = sqrt(n) / ‖u_i‖`` with ``u_i`` the unscaled symbols. The receiver must know ``g_i`` to return to
  latent units: that is *side information* sent outside the link (assumed error-free). :meth:`Transmitter.
  transmit` returns it next to ``s``; pass it to :meth:`Transmitter.to_latent` / the receiver.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from channelae._validation import check_int_range, check_one_of, check_positive
from channelae.definitions import gain_from_p_ref, num_symbols, p_ref_from_energy
from channelae.errors import UsageError

__all__ = [
    "NORMALIZE_CHOICES",
    "Normalize",
    "Transmitted",
    "Transmitter",
    "latent_to_symbols",
    "mean_symbol_energy",
    "symbols_to_latent",
]

Normalize = Literal["fixed", "per-example"]
NORMALIZE_CHOICES: tuple[str, ...] = ("fixed", "per-example")


def latent_to_symbols(z: Tensor) -> Tensor:
    """Pair real values into complex symbols, without any gain.

    :param z: real ``[..., d]`` (float32 → complex64, float64 → complex128).
    :return: complex ``[..., ceil(d/2)]`` with ``u_k = z_{2k} + j·z_{2k+1}`` (a zero imaginary part pads an
        odd ``d``).
    """
    if z.is_complex() or not z.is_floating_point():
        raise TypeError(f"latents must be a real floating tensor [..., d]; got {z.dtype}")
    if z.dim() == 0:
        raise ValueError("latents need a last dimension d; got a 0-dim tensor")
    if z.shape[-1] % 2:
        z = F.pad(z, (0, 1))
    pairs = z.reshape(*z.shape[:-1], z.shape[-1] // 2, 2)
    return torch.complex(pairs[..., 0], pairs[..., 1])


def symbols_to_latent(u: Tensor, latent_dim: int) -> Tensor:
    """Exact inverse of :func:`latent_to_symbols`: complex ``[..., n]`` → real ``[..., latent_dim]``.

    The padded imaginary part of the last symbol (odd ``latent_dim``) is dropped.
    """
    n = num_symbols(latent_dim)
    if u.shape[-1] != n:
        raise ValueError(f"expected {n} symbols for latent_dim={latent_dim}; got shape {tuple(u.shape)}")
    return torch.view_as_real(u).reshape(*u.shape[:-1], 2 * n)[..., :latent_dim]


def mean_symbol_energy(z: Tensor) -> float:
    """``P_ref``: mean energy per complex symbol ``E|u_k|²`` of latents ``z [..., d]`` (unscaled symbols).

    Averaged over every example and all ``n = ceil(d/2)`` symbols (the padded half-symbol included, so
    ``Es = 1`` holds for the same ``n`` that the SNR and JSR definitions use). Compute it over the clean
    training latents and store it with the model.
    """
    z = z.detach()
    return p_ref_from_energy(float(z.double().square().sum()), z[..., 0].numel(), z.shape[-1])


class Transmitted(NamedTuple):
    """Output of :meth:`Transmitter.transmit`.

    :ivar s: complex symbols ``[..., n]``.
    :ivar scale: real gain applied per example, ``[..., 1]`` (``g`` everywhere for ``"fixed"``; the
        per-example ``g_i``, i.e. the side information, for ``"per-example"``).
    """

    s: Tensor
    scale: Tensor


class Transmitter(nn.Module):
    """Map real latents to unit-energy complex symbols (see the module docstring).

    :param p_ref: mean energy per complex symbol of the clean training latents (:func:`mean_symbol_energy`);
        sets ``g = 1/sqrt(p_ref)`` for ``normalize="fixed"`` (unused, but still checked, for
        ``"per-example"``).
    :param latent_dim: ``d``, real values per latent.
    :param normalize: ``"fixed"`` (default; no side information) or ``"per-example"`` (unit average symbol
        energy per example; the receiver needs the per-example gain as side information).

    :input z: real ``[..., d]``.
    :output s: complex ``[..., n]``, ``n = ceil(d/2)``; complex64 for float32 latents.
    """

    def __init__(self, p_ref: float, latent_dim: int, normalize: Normalize = "fixed") -> None:
        super().__init__()
        self.p_ref = check_positive(p_ref, "p_ref")
        self.gain = gain_from_p_ref(self.p_ref)
        self.latent_dim = check_int_range(latent_dim, "latent_dim", 1)
        self.num_symbols = num_symbols(self.latent_dim)
        self.normalize = check_one_of(normalize, NORMALIZE_CHOICES, "normalize")

    def _check_latent(self, z: Tensor) -> None:
        if z.dim() == 0 or z.shape[-1] != self.latent_dim:
            raise ValueError(f"expected latents [..., {self.latent_dim}]; got shape {tuple(z.shape)}")

    def transmit(self, z: Tensor) -> Transmitted:
        """Symbols and the per-example gain: ``(s [..., n], scale [..., 1])``."""
        self._check_latent(z)
        u = latent_to_symbols(z)
        if self.normalize == "fixed":
            scale = torch.full((*u.shape[:-1], 1), self.gain, dtype=u.real.dtype, device=u.device)
        else:
            energy = u.abs().square().sum(dim=-1, keepdim=True)  # [..., 1]
            scale = torch.rsqrt(energy.clamp_min(torch.finfo(energy.dtype).tiny) / self.num_symbols)
        return Transmitted(s=u * scale, scale=scale)

    def forward(self, z: Tensor) -> Tensor:
        """Complex symbols ``s [..., n]`` for real latents ``z [..., d]``."""
        if self.normalize == "fixed":
            self._check_latent(z)
            return latent_to_symbols(z) * self.gain
        return self.transmit(z).s

    def to_latent(self, s: Tensor, scale: Tensor | float | None = None) -> Tensor:
        """Exact inverse of the transmitter: complex ``[..., n]`` → real ``[..., d]`` (divide by the gain).

        :param s: (equalised) symbols.
        :param scale: the gain from :meth:`transmit`; required for ``"per-example"`` (side information),
            defaults to ``g`` for ``"fixed"``.
        """
        if scale is None:
            if self.normalize != "fixed":
                raise UsageError(
                    "per-example normalisation needs the per-example scale (side information) to return "
                    "to latent units; pass the `scale` from Transmitter.transmit",
                    "scale",
                )
            scale = self.gain
        return symbols_to_latent(s / scale, self.latent_dim)

    def extra_repr(self) -> str:
        return f"p_ref={self.p_ref:.6g}, latent_dim={self.latent_dim}, normalize={self.normalize!r}"
