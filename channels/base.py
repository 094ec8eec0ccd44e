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
optimise through it: ``tail(state, generator=g)`` draws the randomness of those later stages from ``g``
(default: the link's generator); call it through :func:`call_tail`, which also accepts tails written
without the ``generator`` argument.

Common random numbers
---------------------
For a given image, the SNR points of a link and the budgets of a jammer grid should see the *same* channel
realisation (fading, receiver noise), and two links run with identically seeded generators (a PGD jammer
and its equal-power noise control) should see the same realisations too. Three rules give that:

- ``ChannelState.shared_dims`` lists leading dims of ``y`` (counted from the front) along which random
  stages draw **one** realisation and broadcast it: :class:`channelae.link.Link` marks its SNR dim (0), a
  jammer marks the budget dim it inserts (:meth:`ChannelState.with_budget_dim`). Random stages draw with
  :func:`draw_shape` (size 1 along those dims); so receiver noise is one ``CN(0, 1)`` draw per image and
  symbol, scaled by ``sqrt(N0)`` of each SNR point.
- A stage with randomness of its own that is *not* a channel realisation (a jammer's random starts, the
  draws it averages over while optimising, the noise jammer's direction) takes exactly one 64-bit seed
  from the link's generator and draws everything from a private generator (:func:`private_generator`), so
  the link's stream is consumed identically whatever the jammer does.
- The draws a jammer makes through its ``tail`` while optimising come from that private generator too
  (``tail(state, generator=private)``), never from the link's evaluation stream.
"""

from __future__ import annotations

import inspect
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["Channel", "ChannelState", "Tail", "call_tail", "draw_shape", "private_generator", "snr_for"]


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
    #: Leading dims of ``y`` (counted from the front, so a jammer inserting its budget dim before ``[B, n]``
    #: leaves them in place) along which random stages draw one realisation and broadcast it
    #: (:func:`draw_shape`; common random numbers, see the module docstring). ``()``: independent draws.
    shared_dims: tuple[int, ...] = ()

    @classmethod
    def start(cls, s: Tensor, ctx: Any = None, shared_dims: Sequence[int] = ()) -> ChannelState:
        """State right after the transmitter: ``y = s``, ``h = 1``, ``no = 0``."""
        one = torch.ones((), dtype=s.dtype, device=s.device)
        zero = torch.zeros((), dtype=s.real.dtype, device=s.device)
        return cls(y=s, h=one, no=zero, ctx=ctx, shared_dims=tuple(int(d) for d in shared_dims))

    def replace(self, **kw: Any) -> ChannelState:
        """A copy with some fields replaced (always use this, so ``ctx``, ``grid``, ``rx`` and ``shared_dims``
        are carried)."""
        return replace(self, **kw)

    def with_budget_dim(self, **kw: Any) -> ChannelState:
        """A copy (fields ``kw`` replaced) whose ``y`` has gained a budget dim at ``-3`` (``[..., E, B, n]``):
        that dim joins :attr:`shared_dims`, so later random stages draw one realisation for every budget.

        ``kw`` must hold the new ``y``; shared dims at or after the inserted one (none in the usual
        ``[S, B, n]`` layout) move one place back.
        """
        y = kw.get("y", self.y)
        at = y.dim() - 3
        if at < 0:
            raise ValueError(f"a budget dim needs y of shape [..., E, B, n]; got {tuple(y.shape)}")
        dims = tuple(sorted({d + 1 if d >= at else d for d in self.shared_dims} | {at}))
        return replace(self, shared_dims=dims, **kw)


#: ``tail(state, generator=None) -> x_hat``: the rest of the link after a stage, returning reconstructions;
#: ``generator`` (optional) is where the later stages draw from. Call tails through :func:`call_tail`.
Tail = Callable[..., Tensor]


def call_tail(tail: Tail, state: ChannelState, generator: torch.Generator | None = None) -> Tensor:
    """``tail(state, generator=generator)``, or ``tail(state)`` for a tail that takes no ``generator``
    (written for the older one-argument contract; it then draws from wherever it draws)."""
    if generator is not None and _takes_generator(tail):
        return tail(state, generator=generator)
    return tail(state)


def _takes_generator(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "generator" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def draw_shape(state: ChannelState, shape: Sequence[int]) -> list[int]:
    """``shape`` with size 1 along ``state.shared_dims`` (leading dims only; the symbol dim is never shared):
    the shape a random stage draws its realisation with before broadcasting it to ``shape``."""
    out = [int(v) for v in shape]
    for d in state.shared_dims:
        if 0 <= d < len(out) - 1:
            out[d] = 1
    return out


def private_generator(generator: torch.Generator | None, salt: str) -> torch.Generator | None:
    """A generator for a stage's own randomness, seeded with exactly one 64-bit draw from ``generator``
    (``None`` → ``None``: the stage then draws from torch's global generator, as before).

    Taking one draw whatever the stage then does keeps the link's stream aligned between links (common
    random numbers, module docstring). ``salt`` (e.g. the stage's registry name) is mixed into the seed so two
    kinds of stage given the same draw (a PGD jammer and its noise control) do not use the same numbers.
    """
    if generator is None:
        return None
    seed = int(torch.randint(-(2**63), 2**63 - 1, (), dtype=torch.int64, generator=generator,
                             device=generator.device))
    mixed = (seed ^ zlib.crc32(salt.encode()) * 0x9E3779B1) % (2**63 - 1)
    return torch.Generator(device=generator.device).manual_seed(mixed)


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
