"""Channels between the transmitter and the receiver, a registry of them, and composition by name.

``CHANNELS`` maps a name to a *factory*: a callable taking keyword options and returning a
:class:`~channelae.channels.base.Channel` (usually the channel class itself). :func:`build_channel` turns a
spec such as ``"rayleigh+pgd-jammer+awgn"`` into one channel (a :class:`~channelae.channels.compose.Compose`
when there are several stages), routing each option to the stages whose factory signature takes it.

Adding a channel: one file with ``@CHANNELS.register("name")`` on its class and one import line below.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from channelae.channels.base import Channel, ChannelState, Tail, snr_for
from channelae.errors import UsageError
from channelae.registry import Registry

__all__ = [
    "CHANNELS",
    "Channel",
    "ChannelState",
    "Compose",
    "Tail",
    "build_channel",
    "channel_names",
    "channel_options",
    "snr_for",
]

#: Channel factories by name (``--channel``); each takes keyword options and returns a ``Channel``.
CHANNELS: Registry[Callable[..., Channel]] = Registry("channel", "--channel")


def channel_names() -> list[str]:
    """Registered channel names, sorted."""
    return sorted(CHANNELS.names())


def channel_options(name: str) -> set[str] | None:
    """Keyword options the factory of channel ``name`` accepts (``None``: it takes any, via ``**kwargs``)."""
    factory = CHANNELS.get(name)
    if isinstance(factory, type) and factory.__init__ is nn.Module.__init__:
        return set()  # a Channel class without its own __init__ takes no options
    params = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in params if p.kind in keyword}


def _option_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


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
    :raises UsageError: for an empty or unknown stage name (the message lists the registered names), or an
        option that no stage of ``spec`` accepts (the message names the channels that do take it).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError(f"must name one or more channels joined by '+'; got {spec!r}", CHANNELS.argument)
    names = [part.strip() for part in spec.split("+")]
    if any(not n for n in names):
        raise UsageError(f"empty stage in {spec!r}; allowed: {', '.join(channel_names())}", CHANNELS.argument)
    factories = [CHANNELS.get(n) for n in names]
    accepted = [channel_options(n) for n in names]
    opts = {k: v for k, v in options.items() if v is not None}

    for key in opts:
        if not any(acc is None or key in acc for acc in accepted):
            takers = [n for n in channel_names() if (acc := channel_options(n)) is None or key in acc]
            where = f"channels that take it: {', '.join(takers)}" if takers else "no channel takes it"
            raise UsageError(f"option {key!r} is not used by channel {spec!r}; {where}", _option_flag(key))

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


from channelae.channels import awgn, ideal, noise_jammer, pgd_jammer, rayleigh, rician  # noqa: F401  # noqa: E402,F401
from channelae.channels.compose import Compose
