"""Flat Rician fading: a line-of-sight component plus Rayleigh scatter, optionally followed by AWGN.

``h = sqrt(K/(K+1))·e^{jθ} + sqrt(1/(K+1))·CN(0, 1)`` with the K-factor ``K = 10^(k_db/10)`` (LOS power over
scattered power), so ``E|h|² = 1``. The scattered part is the same ``CN(0, 1)`` draw as Sionna's
:func:`sionna.phy.utils.complex_normal` (see :mod:`channelae.channels.rayleigh`); block layout and AWGN as in
:class:`~channelae.channels.rayleigh.FlatFading`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from channelae._validation import check_finite
from channelae.channels import CHANNELS
from channelae.channels.awgn import complex_normal
from channelae.channels.rayleigh import FlatFading
from channelae.errors import UsageError

__all__ = ["Rician", "rician_powers"]


def rician_powers(k_db: float) -> tuple[float, float]:
    """LOS and scattered powers ``(K/(K+1), 1/(K+1))`` for a K-factor of ``k_db`` dB (``±inf`` allowed).

    Written as a logistic function of ``k_db`` so that huge or infinite K-factors do not overflow:
    ``K/(K+1) = 1/(1 + 10^(−k_db/10)) = (1 + tanh(k_db·ln10/20))/2``.
    """
    t = math.tanh(k_db * math.log(10.0) / 20.0)
    return 0.5 * (1.0 + t), 0.5 * (1.0 - t)


@CHANNELS.register("rician")
class Rician(FlatFading):
    """Flat Rician fading with K-factor ``k_db`` (dB), then AWGN at the link SNR.

    :param k_db: K-factor in dB (LOS power / scattered power); ``-inf`` is Rayleigh, ``+inf`` pure LOS.
        Default 10 dB.
    :param los_phase: phase ``θ`` of the LOS component in radians (default 0), or ``"random"``: uniform in
        ``[0, 2π)``, drawn independently per fading block (like the scatter).
    :param block_length: see :class:`~channelae.channels.rayleigh.FlatFading` (1: per symbol; ``L``: per block
        of ``L`` symbols; ``None``/0: per example).
    :param add_awgn: add ``CN(0, N0)`` at the link SNR after the fading (default ``True``).
    """

    def __init__(
        self,
        k_db: float = 10.0,
        los_phase: float | str = 0.0,
        block_length: int | None = 1,
        add_awgn: bool = True,
    ) -> None:
        super().__init__(block_length=block_length, add_awgn=add_awgn)
        k_db = _parse_float(k_db, "k_db")
        if math.isnan(k_db):
            raise UsageError(f"must be a K-factor in dB (or ±inf); got {k_db!r}", "k_db")
        self.k_db = k_db
        self.los_power, self.scatter_power = rician_powers(k_db)
        if isinstance(los_phase, str) and los_phase.strip().lower() == "random":
            self.los_phase: float | None = None
        else:
            self.los_phase = check_finite(los_phase, "los_phase")

    def draw_blocks(
        self,
        shape: tuple[int, ...],
        dtype: torch.dtype,
        device: torch.device,
        generator: torch.Generator | None,
    ) -> Tensor:
        """``sqrt(K/(K+1))·e^{jθ} + sqrt(1/(K+1))·CN(0, 1)`` per block."""
        h = complex_normal(shape, dtype, device, generator) * math.sqrt(self.scatter_power)
        if self.los_phase is None:
            theta = torch.rand(shape, dtype=h.real.dtype, device=device, generator=generator) * (2 * math.pi)
            los = torch.polar(torch.full_like(theta, math.sqrt(self.los_power)), theta)
        else:
            los = torch.tensor(
                math.sqrt(self.los_power) * complex(math.cos(self.los_phase), math.sin(self.los_phase)),
                dtype=dtype,
                device=device,
            )
        return h + los

    def extra_repr(self) -> str:
        phase = "random" if self.los_phase is None else self.los_phase
        return f"k_db={self.k_db}, los_phase={phase}, " + super().extra_repr()


def _parse_float(value: float | str, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"must be a number; got {value!r}", name) from None
