"""The channel contract.

A channel is a small ``nn.Module``. Its core is :meth:`Channel.apply`, which takes the link state so far,
a :class:`ChannelState` ``(y, h, no)`` on complex tensors of shape ``[..., n]``, and returns the next state:

- ``y``: what the receiver would see so far (complex, ``[..., n]``);
- ``h``: the effective complex channel gain applied to the transmitted symbols so far (broadcasts to ``y``);
- ``no``: the noise variance per complex symbol added so far (real, broadcasts to ``y``).

The transmitter starts the chain with ``ChannelState(y=s, h=1, no=0)``; the receiver equalises the final
state with ``h`` and ``no`` (perfect CSI). ``forward(s, snr_db) -> y`` runs ``apply`` from a fresh state so a
channel drops into Sionna-style code that passes tensors around.

``snr_db`` (dB, Es/N0 per complex symbol, see :mod:`channelae.definitions`) may be a float or a tensor that
broadcasts against the *leading* dimensions of ``y``: give ``snr_db`` shape ``[S, 1, ..., 1]`` and ``y`` shape
``[S, ..., n]`` (or ``[..., n]``, which broadcasts up) and one call evaluates ``S`` SNR points.

Channels that need the decoder (adversarial jammers) set ``needs_decoder = True``; the link passes them a
``tail`` callable that runs the rest of the link (later channel stages, receiver, decoder) so they can
optimise through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["Channel", "ChannelState", "Tail", "snr_for"]


@dataclass(frozen=True)
class ChannelState:
    """Link state between channel stages (see module docstring). Shapes broadcast to ``y``'s ``[..., n]``."""

    y: Tensor
    h: Tensor
    no: Tensor
    #: What the link tells adversarial stages (clean reconstruction, gain, ...); carried unchanged.
    ctx: Any = None
    #: Resource-grid layout when ``y``/``h`` live on a multicarrier grid (``[..., R]`` resource elements of the
    #: example's grid) instead of on the ``n`` symbols, e.g. :class:`channelae.channels.ofdm.GridInfo`
    #: (kind, OFDM symbol and subcarrier of each resource element); ``None`` for symbol-level channels.
    grid: Any = None
    #: ``rx(state) -> state``: receiver processing the channel needs before the equaliser (OFDM: channel
    #: estimation, equalisation, resource-grid demapping). It returns a state on the ``n`` symbols with
    #: ``rx = None``; the receiver applies it first (:func:`channelae.link.receiver.equalize`). ``None``: none.
    rx: Callable[[ChannelState], ChannelState] | None = None

    @classmethod
    def start(cls, s: Tensor, ctx: Any = None) -> ChannelState:
        """State right after the transmitter: ``y = s``, ``h = 1``, ``no = 0``."""
        one = torch.ones((), dtype=s.dtype, device=s.device)
        zero = torch.zeros((), dtype=s.real.dtype, device=s.device)
        return cls(y=s, h=one, no=zero, ctx=ctx)

    def replace(self, **kw: Any) -> ChannelState:
        """A copy with some fields replaced (always use this, so ``ctx``, ``grid`` and ``rx`` are carried)."""
        return replace(self, **kw)


#: ``tail(state) -> x_hat``: the rest of the link after a stage, returning reconstructions.
Tail = Callable[[ChannelState], Tensor]


def snr_for(snr_db: float | Tensor | None, like: Tensor) -> Tensor:
    """``snr_db`` as a real tensor on ``like``'s device, with trailing singleton dims so it broadcasts
    against the leading dimensions of ``like`` (``[S] -> [S, 1, ..., 1]``). ``None`` means ``+inf``."""
    if snr_db is None:
        snr_db = float("inf")
    t = torch.as_tensor(snr_db, dtype=like.real.dtype, device=like.device)
    if t.dim() > 0:
        extra = like.dim() - t.dim()
        if extra < 0:
            raise ValueError(f"snr_db has {t.dim()} dims but the signal only {like.dim()}")
        t = t.reshape(t.shape + (1,) * extra)
    return t


class Channel(nn.Module):
    """Base class of all channels. Subclasses implement :meth:`apply`."""

    #: Adversarial channels need the decoder (a ``tail``) to compute their perturbation.
    needs_decoder: bool = False
    #: Channels that add receiver noise at the link's SNR (used to decide whether the link adds AWGN).
    adds_noise: bool = False

    def apply(
        self,
        state: ChannelState,
        snr_db: float | Tensor | None = None,
        *,
        tail: Tail | None = None,
        generator: torch.Generator | None = None,
    ) -> ChannelState:
        """Return the state after this channel. ``snr_db`` in dB (Es/N0 per complex symbol)."""
        raise NotImplementedError

    def forward(
        self, s: Tensor, snr_db: float | Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """``y`` for transmitted complex symbols ``s`` of shape ``[..., n]`` (Sionna-style call)."""
        return self.apply(ChannelState.start(s), snr_db, generator=generator).y
