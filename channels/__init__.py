"""Channels between the transmitter and the receiver, a registry of them, and composition by name.

``CHANNELS`` maps a name to a *factory*: a callable taking keyword options and returning a
:class:`~channelae.channels.base.Channel` (usually the channel class itself). :func:`build_channel` turns a
spec such as ``"rayleigh+pgd-jammer+awgn"`` into one channel (a :class:`~channelae.channels.compose.Compose`
when there are several stages), routing each option to the stages whose factory signature takes it.

Importing this package is cheap (no torch): the built-in channels are declared lazily below and their
module is imported on the first ``CHANNELS.get(name)``; ``Channel``, ``ChannelState``, ``Compose``, ... are
imported on first access (PEP 562).

Adding a built-in channel: one file ``channels/<name>.py`` with ``@CHANNELS.register("name")`` on its class
and one ``CHANNELS.register_lazy("name", "channelae.channels.<file>:<Class>")`` line below (never an import
line: that would import torch for ``channelae --help``). Plugins register with the decorator alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from channelae.errors import UsageError
from channelae.registry import Registry, lazy_exports

if TYPE_CHECKING:
    from channelae.channels.base import Channel, ChannelState, Tail, snr_for
    from channelae.channels.compose import Compose

__all__ = [
    "CHANNELS",
    "Channel",
    "ChannelState",
    "Compose",
    "Tail",
    "build_channel",
    "channel_names",
    "channel_options",
    "check_channel_spec",
    "snr_for",
]

#: Channel factories by name (``--channel``); each takes keyword options and returns a ``Channel``.
CHANNELS: Registry[Callable[..., Channel]] = Registry("channel", "--channel")

# Built-in channels, one line each: name -> "module:factory" (imported on first use).
CHANNELS.register_lazy("awgn", "channelae.channels.awgn:AWGN")
CHANNELS.register_lazy("ideal", "channelae.channels.ideal:Ideal")
CHANNELS.register_lazy("noise-jammer", "channelae.channels.noise_jammer:NoiseJammer")
CHANNELS.register_lazy("ofdm", "channelae.channels.ofdm:OFDM")
CHANNELS.register_lazy("pgd-jammer", "channelae.channels.pgd_jammer:PGDJammer")
CHANNELS.register_lazy("rayleigh", "channelae.channels.rayleigh:Rayleigh")
CHANNELS.register_lazy("rician", "channelae.channels.rician:Rician")

_LAZY_EXPORTS = {
    "Channel": "channelae.channels.base",
    "ChannelState": "channelae.channels.base",
    "Tail": "channelae.channels.base",
    "snr_for": "channelae.channels.base",
    "Compose": "channelae.channels.compose",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY_EXPORTS, __all__)


def channel_names() -> list[str]:
    """Registered channel names, sorted (imports no channel implementation)."""
    return sorted(CHANNELS.names())


def check_channel_spec(spec: str) -> list[str]:
    """The stage names of ``spec`` (``"a+b+c"``), each checked against the registry without importing it.

    :raises UsageError: for an empty spec or stage, or an unknown stage (the message names the stage, its
        position, the closest registered name and all of them).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError(f"must name one or more channels joined by '+'; got {spec!r}", CHANNELS.argument)
    names = [part.strip() for part in spec.split("+")]
    if any(not n for n in names):
        raise UsageError(f"empty stage in {spec!r}; allowed: {', '.join(channel_names())}", CHANNELS.argument)
    for i, name in enumerate(names):
        CHANNELS.check(name, f" (stage {i + 1} of {spec!r})" if len(names) > 1 else "")
    return names


def channel_options(name: str) -> set[str] | None:
    """Keyword options the factory of channel ``name`` accepts (``None``: it takes any, via ``**kwargs``)."""
    from torch import nn

    factory = CHANNELS.get(name)
    if isinstance(factory, type) and factory.__init__ is nn.Module.__init__:
        return set()  # a Channel class without its own __init__ takes no options
    params = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in params if p.kind in keyword}


def build_channel(spec: str, **options: Any) -> Channel:
    """Build the channel described by ``spec``: stage names joined by ``+``, applied left to right.

    Each stage's factory receives exactly the options its signature accepts; options whose value is
    ``None`` are ignored (so CLI defaults of ``None`` mean "the channel's own default").

    In a composition, a fading stage (a factory taking ``add_awgn``) that is *not the last stage* defaults to
    ``add_awgn=False``: the receiver noise belongs at the end of the chain, after e.g. a jammer, and
    ``"rayleigh+awgn"`` must add noise once. Pass ``add_awgn`` explicitly to override (it then applies to
    every stage that takes it). A lone fading stage keeps its own default (``add_awgn=True``).

    :param spec: e.g. ``"awgn"``, ``"rayleigh+awgn"``, ``"rayleigh+pgd-jammer+awgn"`` (spaces around ``+``
        are ignored).
    :param options: channel options (e.g. ``block_length=4``, ``k_db=6.0``).
    :return: the single stage's channel, or a :class:`Compose` of the stages.
    :raises UsageError: for an empty or unknown stage name (the message names the stage and lists the
        registered names), or an option that no stage of ``spec`` accepts (the message names the channels
        that do take it).
    """
    from channelae.channels.base import Channel
    from channelae.channels.compose import Compose

    names = check_channel_spec(spec)
    factories = [CHANNELS.get(n) for n in names]
    accepted = [channel_options(n) for n in names]
    opts = {k: v for k, v in options.items() if v is not None}

    for key in opts:
        if not any(acc is None or key in acc for acc in accepted):
            takers = [n for n in channel_names() if (acc := channel_options(n)) is None or key in acc]
            where = f"channels that take it: {', '.join(takers)}" if takers else "no channel takes it"
            raise UsageError(f"option {key!r} is not used by channel {spec!r}; {where}", key)

    stages: list[Channel] = []
    for i, (name, factory, acc) in enumerate(zip(names, factories, accepted)):
        kw = {k: v for k, v in opts.items() if acc is None or k in acc}
        if acc is not None and "add_awgn" in acc and "add_awgn" not in opts and i < len(names) - 1:
            kw["add_awgn"] = False
        stage = factory(**kw)
        if not isinstance(stage, Channel):
            raise TypeError(f"factory of channel {name!r} returned {type(stage).__name__}, not a Channel")
        stages.append(stage)
    return stages[0] if len(stages) == 1 else Compose(stages)
