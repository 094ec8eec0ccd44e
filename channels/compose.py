"""Composition of channel stages, applied in order (e.g. fading, then a jammer, then receiver noise).

The tail rule
-------------
A stage that needs the decoder (an adversarial jammer) must see the link *after* itself. When
``Compose([c0, c1, c2]).apply(state, snr_db, tail=outer)`` runs, stage ``i`` gets the tail

    ``tail_i(st) = outer(apply_stages(c_{i+1}, ..., c_last)(st, snr_db))``

i.e. the later stages (with the same ``snr_db``, so each call of a tail draws fresh fading and noise for them)
followed by the outer tail (receiver and decoder). ``tail_i(st, generator=g)`` makes the later stages draw
from ``g`` (a jammer passes its private generator, so its optimisation never consumes the link's evaluation
stream; see :mod:`channelae.channels.base`); without ``generator`` they draw from the generator the
composition was applied with. Later stages that need the decoder get their own tails by the same rule.
Without an outer tail every stage gets ``tail=None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from channelae.channels.base import Channel, ChannelState, Tail, call_tail

__all__ = ["Compose", "apply_stages"]


def apply_stages(
    stages: Sequence[Channel],
    state: ChannelState,
    snr_db: float | Tensor | None = None,
    *,
    tail: Tail | None = None,
    generator: torch.Generator | None = None,
) -> ChannelState:
    """Apply ``stages`` in order, giving stage ``i`` the tail "stages ``i+1…`` then ``tail``" (module doc)."""
    for i, stage in enumerate(stages):
        stage_tail = None if tail is None else _tail_after(stages[i + 1 :], snr_db, tail, generator)
        state = stage.apply(state, snr_db, tail=stage_tail, generator=generator)
    return state


def _tail_after(
    rest: Sequence[Channel], snr_db: float | Tensor | None, outer: Tail, generator: torch.Generator | None
) -> Tail:
    if not rest:
        return outer  # the jammer calls it through call_tail, with or without a generator argument
    default = generator

    def tail(st: ChannelState, *, generator: torch.Generator | None = None) -> Tensor:
        g = default if generator is None else generator
        return call_tail(outer, apply_stages(rest, st, snr_db, tail=outer, generator=g), g)

    return tail


class Compose(Channel):
    """Channel stages applied in order; ``needs_decoder`` and ``adds_noise`` are the OR over stages.

    :param stages: one or more :class:`Channel` objects (kept as submodules).

    :input state: ``y`` complex ``[..., n]``; ``snr_db`` (dB, Es/N0 per complex symbol) is passed unchanged
        to every stage, and so is ``generator``.
    :output state: the state after the last stage.
    """

    def __init__(self, stages: Iterable[Channel]) -> None:
        super().__init__()
        stages = list(stages)
        if not stages:
            raise ValueError("Compose needs at least one channel stage")
        for st in stages:
            if not isinstance(st, Channel):
                raise TypeError(f"Compose stages must be Channel objects; got {type(st).__name__}")
        self.stages = nn.ModuleList(stages)
        self.needs_decoder = any(st.needs_decoder for st in stages)
        self.adds_noise = any(st.adds_noise for st in stages)

    def apply(
        self,
        state: ChannelState,
        snr_db: float | Tensor | None = None,
        *,
        tail: Tail | None = None,
        generator: torch.Generator | None = None,
    ) -> ChannelState:
        """Run the stages in order; see the module docstring for the tail each stage receives."""
        return apply_stages(list(self.stages), state, snr_db, tail=tail, generator=generator)

    def __len__(self) -> int:
        return len(self.stages)

    def __getitem__(self, i: int) -> Channel:
        return self.stages[i]
