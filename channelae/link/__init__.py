"""Transmitter, receiver and the end-to-end :class:`Link` (SPEC §1)."""

from channelae.link.link import Link, LinkContext, LinkOutput, as_snr_grid, link_channel
from channelae.link.receiver import Receiver
from channelae.link.transmitter import Transmitter
from channelae.link.user_model import LinkModel, as_link_model, p_ref_from_data

__all__ = [
    "Link",
    "LinkContext",
    "LinkModel",
    "LinkOutput",
    "Receiver",
    "Transmitter",
    "as_link_model",
    "as_snr_grid",
    "link_channel",
    "p_ref_from_data",
]
