"""Transmitter, receiver and the end-to-end :class:`Link` (SPEC §1)."""

from channelae.link.link import Link, LinkContext, LinkOutput, as_snr_grid, link_channel
from channelae.link.receiver import Receiver
from channelae.link.transmitter import Transmitter

__all__ = ["Link", "LinkContext", "LinkOutput", "Receiver", "Transmitter", "as_snr_grid", "link_channel"]
