"""The ideal channel: the identity (no fading, no noise), the study's noiseless setting."""

from __future__ import annotations

import torch
from torch import Tensor

from channelae.channels import CHANNELS
from channelae.channels.base import Channel, ChannelState, Tail

__all__ = ["Ideal"]


@CHANNELS.register("ideal")
class Ideal(Channel):
    """Identity channel: ``y = x``, ``h`` and ``no`` unchanged, whatever ``snr_db`` is.

    Used alone it is the study's noiseless link (``h = 1``, ``N0 = 0``); ``adds_noise`` is ``False``, so a
    link that adds receiver noise when its channel does not will still add it at the link SNR.
    """

    def __init__(self) -> None:
        """No options."""
        super().__init__()

    def apply(
        self,
        state: ChannelState,
        snr_db: float | Tensor | None = None,
        *,
        tail: Tail | None = None,
        generator: torch.Generator | None = None,
    ) -> ChannelState:
        """Return ``state`` unchanged (``snr_db``, ``tail`` and ``generator`` are ignored)."""
        return state
