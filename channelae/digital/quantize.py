"""Uniform scalar quantiser of the latent: real ``z [..., d]`` ↔ bits ``[..., d·k]`` (the digital link's source code).

Each latent dimension ``i`` is quantised on its own clipping range ``[low_i, high_i]`` with ``L = 2^k`` levels
of width ``Δ_i = (high_i − low_i) / L``:

- index ``q_i = clamp(floor((z_i − low_i) / Δ_i), 0, L − 1)`` (values outside the range clip to the end cells);
- mid-rise reconstruction ``ẑ_i = low_i + (q_i + ½)·Δ_i``, so ``|ẑ_i − z_i| ≤ Δ_i / 2`` inside the range.

The range comes from the checkpoint's latent statistics (:meth:`UniformQuantizer.from_statistics`):
``low = mean − c·std``, ``high = mean + c·std`` per dimension with ``c = clip_std`` (3 by default, about 99.7 %
of a Gaussian; checkpoints store the per-dimension mean and std of the clean training latents — μ for VAEs —
not min/max). A dimension with zero spread gets a half-width of :data:`MIN_HALF_WIDTH`.

Bits: ``k`` bits per dimension, most significant bit first, dimension after dimension (bits
``[i·k, (i+1)·k)`` belong to dimension ``i``). ``mapping="natural"`` (default) sends the index in natural
binary, ``"gray"`` its Gray code ``q ⊕ (q >> 1)`` (neighbouring levels differ in one bit). Bits are float
tensors of 0.0/1.0 (Sionna's convention).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from channelae._validation import check_int_range, check_one_of
from channelae.errors import UsageError

__all__ = [
    "BIT_MAPPINGS",
    "DEFAULT_CLIP_STD",
    "MAX_BITS",
    "MIN_HALF_WIDTH",
    "BitMapping",
    "UniformQuantizer",
    "from_gray",
    "to_gray",
]

BitMapping = Literal["natural", "gray"]
BIT_MAPPINGS: tuple[str, ...] = ("natural", "gray")
#: Default clipping range: mean ± 3 std per latent dimension.
DEFAULT_CLIP_STD: float = 3.0
#: Most bits per dimension (indices are int64; more than 16 bits exceed a float32 latent's resolution).
MAX_BITS: int = 16
#: Half-width of the range of a dimension whose training std is 0 (latent units).
MIN_HALF_WIDTH: float = 1e-6


def to_gray(q: Tensor) -> Tensor:
    """Gray code ``q ⊕ (q >> 1)`` of non-negative integer indices."""
    return q ^ (q >> 1)


def from_gray(g: Tensor, bits: int) -> Tensor:
    """Inverse of :func:`to_gray` for ``bits``-bit codes (prefix XOR)."""
    q = g.clone()
    shift = 1
    while shift < bits:
        q = q ^ (q >> shift)
        shift <<= 1
    return q


class UniformQuantizer(nn.Module):
    """``k``-bit uniform quantiser per latent dimension over ``[low, high]`` (see the module docstring).

    :param low: lower ends of the clipping ranges ``[d]`` (latent units).
    :param high: upper ends ``[d]`` (each ``> low``).
    :param bits: bits per dimension ``k`` (1…16).
    :param mapping: ``"natural"`` (default) or ``"gray"`` binary labels of the levels.
    """

    def __init__(self, low: Tensor | list[float], high: Tensor | list[float], bits: int,
                 mapping: BitMapping = "natural") -> None:
        super().__init__()
        low_t = torch.as_tensor(low, dtype=torch.float64).reshape(-1)
        high_t = torch.as_tensor(high, dtype=torch.float64).reshape(-1)
        if low_t.shape != high_t.shape or low_t.numel() == 0:
            raise ValueError(f"low and high must be two non-empty [d] ranges; got {tuple(low_t.shape)} and "
                             f"{tuple(high_t.shape)}")
        if not (torch.isfinite(low_t).all() and torch.isfinite(high_t).all() and (high_t > low_t).all()):
            raise UsageError("latent clipping ranges must be finite with high > low", "--bits")
        self.bits = check_int_range(bits, "--bits", 1, MAX_BITS)
        self.mapping = check_one_of(mapping, BIT_MAPPINGS, "--bit-mapping")
        self.levels = 2**self.bits
        self.register_buffer("low", low_t)
        self.register_buffer("high", high_t)
        self.register_buffer("step", (high_t - low_t) / self.levels)
        self.register_buffer("_weights", 2 ** torch.arange(self.bits - 1, -1, -1, dtype=torch.int64))

    @classmethod
    def from_statistics(cls, mean: Tensor | list[float], std: Tensor | list[float], bits: int, *,
                        clip_std: float = DEFAULT_CLIP_STD, mapping: BitMapping = "natural") -> UniformQuantizer:
        """Quantiser on ``mean ± clip_std·std`` per dimension (latent statistics of the training set).

        :param mean: per-dimension mean of the clean training latents ``[d]``.
        :param std: per-dimension standard deviation ``[d]`` (≥ 0).
        :param clip_std: half-width of the range in standard deviations (> 0).
        """
        if not (isinstance(clip_std, (int, float)) and math.isfinite(clip_std) and clip_std > 0):
            raise UsageError(f"must be a positive number of standard deviations; got {clip_std!r}", "--clip-std")
        mean_t = torch.as_tensor(mean, dtype=torch.float64).reshape(-1)
        std_t = torch.as_tensor(std, dtype=torch.float64).reshape(-1)
        if mean_t.shape != std_t.shape:
            raise ValueError(f"latent mean and std differ in size: {mean_t.numel()} vs {std_t.numel()}")
        half = (clip_std * std_t).clamp_min(MIN_HALF_WIDTH)
        return cls(mean_t - half, mean_t + half, bits, mapping)

    @property
    def latent_dim(self) -> int:
        """``d``: latent dimensions."""
        return self.low.numel()

    @property
    def num_bits(self) -> int:
        """Bits per example ``d·k``."""
        return self.latent_dim * self.bits

    def indices(self, z: Tensor) -> Tensor:
        """Level indices ``q [..., d]`` (int64 in ``[0, 2^k − 1]``) of latents ``z [..., d]``."""
        self._check(z, self.latent_dim, "latents")
        u = (z.detach().double() - self.low) / self.step
        return u.floor().clamp(0, self.levels - 1).to(torch.int64)

    def reconstruct(self, q: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """Mid-rise reconstruction ``low + (q + ½)·Δ`` of indices ``q [..., d]`` (latent units)."""
        return (self.low + (q.double() + 0.5) * self.step).to(dtype)

    def encode(self, z: Tensor) -> Tensor:
        """Bits ``[..., d·k]`` (float 0/1, MSB first, dimension after dimension) of latents ``z [..., d]``."""
        q = self.indices(z)
        code = to_gray(q) if self.mapping == "gray" else q
        bits = (code.unsqueeze(-1) // self._weights) % 2  # [..., d, k]
        return bits.reshape(*z.shape[:-1], self.num_bits).to(z.dtype if z.is_floating_point() else torch.float32)

    def decode(self, bits: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """De-quantised latents ``[..., d]`` from bits ``[..., d·k]`` (any value > 0.5 counts as 1)."""
        self._check(bits, self.num_bits, "bits")
        b = (bits > 0.5).to(torch.int64).reshape(*bits.shape[:-1], self.latent_dim, self.bits)
        code = (b * self._weights).sum(-1)
        q = from_gray(code, self.bits) if self.mapping == "gray" else code
        return self.reconstruct(q, dtype)

    def forward(self, z: Tensor) -> Tensor:
        """The quantised latent ``decode(encode(z))`` (same dtype as ``z``)."""
        return self.reconstruct(self.indices(z), z.dtype)

    @staticmethod
    def _check(t: Tensor, size: int, what: str) -> None:
        if t.dim() == 0 or t.shape[-1] != size:
            raise ValueError(f"expected {what} [..., {size}]; got shape {tuple(t.shape)}")

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, bits={self.bits}, mapping={self.mapping!r}"
