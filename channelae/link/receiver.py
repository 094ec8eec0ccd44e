"""Receiver: equalise the channel output, then undo the transmitter (symbols → latent units).

With the final :class:`~channelae.channels.base.ChannelState` ``(y, h, no)`` (``no`` = noise variance ``N0``
per complex symbol) the equaliser estimates the transmitted symbols:

- ``"zf"``: ``x̂ = y / ĥ`` (zero forcing; amplifies noise on deep fades);
- ``"lmmse"`` (default): ``x̂ = conj(ĥ)·y / (|ĥ|² + N0)`` (per-symbol LMMSE for unit-energy symbols,
  ``Es = 1``; equals ZF when ``N0 = 0``);
- ``"none"``: ``x̂ = y``.

CSI: ``"perfect"`` (default) uses ``ĥ = state.h``; ``"none"`` assumes ``ĥ = 1``, i.e. the receiver ignores
the fading (ZF then returns ``y`` as is; LMMSE only shrinks by ``1/(1 + N0)``). ``N0`` is always known.
Then ``ẑ`` = the transmitter's exact inverse (divide by the gain ``g``, or by the per-example gain sent as
side information when the transmitter normalises per example).
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from channelae._validation import check_one_of
from channelae.channels.base import ChannelState
from channelae.link.transmitter import Normalize, Transmitter

__all__ = ["CSI", "CSI_CHOICES", "EQUALIZERS", "Equalizer", "Receiver", "equalize"]

Equalizer = Literal["lmmse", "zf", "none"]
CSI = Literal["perfect", "none"]
EQUALIZERS: tuple[str, ...] = ("lmmse", "zf", "none")
CSI_CHOICES: tuple[str, ...] = ("perfect", "none")


def equalize(state: ChannelState, equalizer: Equalizer = "lmmse", csi: CSI = "perfect") -> Tensor:
    """Estimate of the transmitted symbols from ``state`` (see the module docstring).

    :param state: ``y`` complex ``[..., n]``; ``h`` complex and ``no`` real (per complex symbol), both
        broadcasting to ``y``.
    :return: complex ``[..., n]`` (the broadcast shape of ``y``, ``h`` and ``no`` as used).
    """
    check_one_of(equalizer, EQUALIZERS, "equalizer")
    check_one_of(csi, CSI_CHOICES, "csi")
    if state.rx is not None:  # grid channels (OFDM): estimation, equalisation, demapping -> h = 1, no = no_eff
        state = state.rx(state)
    y = state.y
    if equalizer == "none":
        return y
    if equalizer == "zf":
        return y if csi == "none" else y / state.h
    no = state.no.to(y.real.dtype)
    if csi == "none":
        return y / (1.0 + no)
    h = state.h
    return h.conj() * y / (h.abs().square() + no)


class Receiver(nn.Module):
    """Equaliser plus the transmitter's inverse: ``ChannelState`` → latent estimate ``ẑ [..., d]``.

    :param p_ref: the transmitter's ``P_ref`` (mean energy per complex symbol of clean latents).
    :param latent_dim: ``d``.
    :param equalizer: ``"lmmse"`` (default), ``"zf"`` or ``"none"``.
    :param csi: ``"perfect"`` (default; uses ``state.h``) or ``"none"`` (assumes ``h = 1``).
    :param normalize: the transmitter's normalisation (``"fixed"`` or ``"per-example"``).

    :input state: final channel state, ``y`` complex ``[..., n]``.
    :input scale: per-example gain ``[..., 1]`` from :meth:`Transmitter.transmit` (side information;
        required for ``normalize="per-example"``, ignored by default for ``"fixed"``).
    :output z_hat: real ``[..., d]``.
    """

    def __init__(
        self,
        p_ref: float,
        latent_dim: int,
        equalizer: Equalizer = "lmmse",
        csi: CSI = "perfect",
        normalize: Normalize = "fixed",
    ) -> None:
        super().__init__()
        self.equalizer = check_one_of(equalizer, EQUALIZERS, "equalizer")
        self.csi = check_one_of(csi, CSI_CHOICES, "csi")
        self.tx = Transmitter(p_ref, latent_dim, normalize)

    def equalize(self, state: ChannelState) -> Tensor:
        """Equalised symbols ``x̂ [..., n]`` (complex)."""
        return equalize(state, self.equalizer, self.csi)

    def forward(self, state: ChannelState, scale: Tensor | float | None = None) -> Tensor:
        """Latent estimate ``ẑ [..., d]`` from the channel state."""
        return self.tx.to_latent(self.equalize(state), scale)

    def extra_repr(self) -> str:
        return f"equalizer={self.equalizer!r}, csi={self.csi!r}"
