"""Flat Rayleigh fading, per symbol, per block of symbols or per example, optionally followed by AWGN.

``y = h·x (+ w)`` elementwise with ``h ~ CN(0, 1)`` (``E|h|² = 1``, so fading keeps the average SNR).

Sionna: the fading draw is :func:`channelae.channels.awgn.complex_normal`, bit-identical to
:func:`sionna.phy.utils.complex_normal`, the call Sionna's :class:`sionna.phy.channel.GenerateFlatFadingChannel`
makes for its channel matrices. We do not use that block (nor ``RayleighBlockFading``, built for
``[batch, rx, rx_ant, tx, tx_ant, paths, time]`` tensors): it takes no ``generator`` and fixes its precision at
construction (see :mod:`channelae.channels.awgn`). Like Sionna's ``FlatFadingChannel``, AWGN at the link SNR is
added after the fading unless ``add_awgn=False``; for one transmit and one receive antenna our ``y`` and ``h``
are Sionna's ``ApplyFlatFadingChannel(x, h, no)`` with ``h`` of shape ``[..., 1, 1]``.

:class:`FlatFading` is the shared machinery (block layout, bookkeeping of ``h`` and ``no``); the Rician
channel in :mod:`channelae.channels.rician` reuses it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from channelae._validation import check_int_range
from channelae.channels import CHANNELS
from channelae.channels.awgn import add_awgn, check_complex, complex_normal
from channelae.channels.base import Channel, ChannelState, Tail, draw_shape
from channelae.errors import UsageError

__all__ = ["FlatFading", "Rayleigh", "expand_blocks"]


def _as_bool(value: bool | str, name: str) -> bool:
    """``value`` as a bool; strings from a CLI/config (``"true"``/``"false"``, ``"1"``/``"0"``) are parsed."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"must be true or false; got {value!r}", name)
    return bool(value)


def expand_blocks(g: Tensor, n: int, block_length: int) -> Tensor:
    """Repeat per-block values ``g [..., ceil(n/L)]`` over blocks of ``L`` symbols → ``[..., n]``.

    The last block is shorter when ``L`` does not divide ``n``.
    """
    return g.repeat_interleave(block_length, dim=-1)[..., :n]


class FlatFading(Channel):
    """Base of the flat-fading channels: draw ``h``, multiply, optionally add AWGN.

    :param block_length: symbols sharing one fading coefficient: ``1`` (default) draws ``h`` per symbol,
        ``L > 1`` per block of ``L`` consecutive symbols (the last block may be shorter), ``None`` or ``0``
        one ``h`` per example (the whole codeword of ``n`` symbols).
    :param add_awgn: add ``CN(0, N0)`` at the link SNR after the fading (default ``True``, as Sionna's
        ``FlatFadingChannel``); ``adds_noise`` reflects it.

    :input state: ``y`` complex ``[..., n]``. Fading is drawn with ``y``'s shape, except size 1 along
        ``state.shared_dims`` (common random numbers: inside a :class:`~channelae.link.Link` every SNR point and
        every jammer budget of an image sees the same fading; :mod:`channelae.channels.base`); with ``y`` of
        shape ``[1, B, n]`` and ``snr_db`` of shape ``[S]`` every SNR point sees the same fading too.
    :output state: ``y·h (+ w)``; ``h`` multiplied by the new coefficients (``[..., n]``, or ``[..., 1]`` per
        example); ``no`` scaled by ``|h|²`` (noise already present is faded too) ``+ N0`` if ``add_awgn``.
    """

    def __init__(self, block_length: int | None = 1, add_awgn: bool = True) -> None:
        super().__init__()
        self.block_length = 0 if block_length is None else check_int_range(block_length, "block_length", 0)
        self.add_awgn = _as_bool(add_awgn, "add_awgn")
        self.adds_noise = self.add_awgn

    def num_blocks(self, n: int) -> int:
        """Independent fading coefficients per example for ``n`` symbols."""
        return 1 if self.block_length == 0 else math.ceil(n / self.block_length)

    def draw_blocks(
        self,
        shape: tuple[int, ...],
        dtype: torch.dtype,
        device: torch.device,
        generator: torch.Generator | None,
    ) -> Tensor:
        """One fading coefficient per block: complex ``shape = [..., num_blocks]``. Subclasses implement."""
        raise NotImplementedError

    def draw(
        self,
        shape: tuple[int, ...] | torch.Size,
        dtype: torch.dtype = torch.complex64,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Fading coefficients for symbols of ``shape = [..., n]``.

        :return: complex ``[..., n]`` (constant within blocks), or ``[..., 1]`` in per-example mode.
        """
        *lead, n = tuple(shape)
        g = self.draw_blocks((*lead, self.num_blocks(n)), dtype, torch.device(device), generator)
        if self.block_length in (0, 1):
            return g
        return expand_blocks(g, n, self.block_length)

    def apply(
        self,
        state: ChannelState,
        snr_db: float | Tensor | None = None,
        *,
        tail: Tail | None = None,
        generator: torch.Generator | None = None,
    ) -> ChannelState:
        """Fade ``state.y`` (and add AWGN at ``snr_db``, dB Es/N0 per complex symbol, if ``add_awgn``)."""
        y = state.y
        check_complex(y, type(self).__name__)
        h = self.draw(draw_shape(state, y.shape), y.dtype, y.device, generator)
        state = state.replace(y=y * h, h=state.h * h, no=state.no * h.abs().square())
        if self.add_awgn:
            state = add_awgn(state, snr_db, generator)
        return state

    def extra_repr(self) -> str:
        return f"block_length={self.block_length or None}, add_awgn={self.add_awgn}"


@CHANNELS.register("rayleigh")
class Rayleigh(FlatFading):
    """Flat Rayleigh fading ``h ~ CN(0, 1)`` per symbol/block/example, then AWGN at the link SNR.

    See :class:`FlatFading` for ``block_length`` and ``add_awgn``, and shapes. ``snr_db`` is Es/N0 in dB per
    complex symbol (average over the fading, since ``E|h|² = 1``).
    """

    def draw_blocks(
        self,
        shape: tuple[int, ...],
        dtype: torch.dtype,
        device: torch.device,
        generator: torch.Generator | None,
    ) -> Tensor:
        """``CN(0, 1)`` per block (variance 1/2 per real dimension)."""
        return complex_normal(shape, dtype, device, generator)
