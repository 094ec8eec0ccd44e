"""``Link(model, channel)``: x → encoder → Transmitter → channel → Receiver → decoder → x̂, batched.

Layout of every tensor after the channel: ``[S, E, B, ...]`` — SNR points × jammer budgets × images
(``E = 1`` when the channel has no jammer). One call evaluates a whole SNR × ε grid.

Common random numbers: for one image, every SNR point and every jammer budget sees the same channel
realisation (one fading draw, one ``CN(0, 1)`` noise draw scaled by ``sqrt(N0)`` of each SNR): the link marks
its SNR dim as shared (``ChannelState.shared_dims``, see :mod:`channelae.channels.base`). Two links called
with identically seeded generators (a PGD jammer and its equal-power noise control) see the same
realisations, since jammers take exactly one seed from the generator whatever they draw.

Receiver noise: every link has thermal noise at the requested SNR. A channel spec with no noise-adding
stage (e.g. ``pgd-jammer`` or ``rayleigh+pgd-jammer``) gets ``awgn`` appended by :func:`link_channel`, so
``pgd-jammer`` means ``pgd-jammer+awgn`` (at ``snr_db = inf`` that stage does nothing).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from channelae.channels import Channel, build_channel
from channelae.channels.awgn import AWGN
from channelae.channels.base import ChannelState
from channelae.channels.compose import Compose
from channelae.definitions import num_symbols
from channelae.errors import UsageError
from channelae.link.receiver import Receiver
from channelae.link.transmitter import Transmitter
from channelae.models import Autoencoder
from channelae.models.fold import FoldedDecoder, FoldError, fold_decoder

__all__ = ["Link", "LinkContext", "LinkOutput", "as_snr_grid", "link_channel"]


@dataclass(frozen=True)
class LinkContext:
    """What the link tells adversarial stages (white-box knowledge).

    :ivar clean: clean reconstructions ``dec(z0)`` ``[B, C, H, W]`` (the untargeted reference; computed
        through the noiseless transmitter/receiver round trip, see :meth:`Link.forward`).
    :ivar inputs: the input images ``[B, C, H, W]``.
    :ivar z: clean latents ``[B, d]``.
    :ivar gain: transmitter gain ``g`` (symbols per latent unit).
    :ivar num_symbols: complex symbols per example ``n``.
    """

    clean: Tensor
    inputs: Tensor
    z: Tensor
    gain: float
    num_symbols: int


@dataclass
class LinkOutput:
    """Everything a link run produced (shapes with ``S`` SNR points, ``E`` budgets, ``B`` images).

    :ivar x_hat: reconstructions ``[S, E, B, C, H, W]``.
    :ivar clean: clean (noiseless, unjammed) reconstructions ``[B, C, H, W]``.
    :ivar z: clean latents ``[B, d]``; ``s``: transmitted symbols ``[B, n]``.
    :ivar z_hat: received latents ``[S, E, B, d]``; ``y``: received symbols ``[S, E, B, n]``.
    :ivar snr_db: the SNR grid ``[S]`` (dB, Es/N0 per complex symbol).
    """

    x_hat: Tensor
    clean: Tensor
    z: Tensor
    s: Tensor
    z_hat: Tensor
    y: Tensor
    snr_db: Tensor
    state: ChannelState


def as_snr_grid(snr_db: float | list[float] | Tensor | None) -> Tensor:
    """SNR values in dB as a float32 tensor ``[S]`` (``None`` → ``[inf]``, noiseless); NaN / -inf refused."""
    try:
        t = torch.as_tensor(float("inf") if snr_db is None else snr_db, dtype=torch.float32).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise UsageError(f"SNR values must be numbers in dB or inf; got {snr_db!r}", "snr_db") from None
    if t.numel() == 0:
        raise UsageError("needs at least one SNR value", "snr_db")
    bad = [v for v in t.tolist() if math.isnan(v) or v == float("-inf")]
    if bad:
        raise UsageError(f"SNR values must be numbers in dB or inf; got {bad[0]}", "snr_db")
    return t


def link_channel(spec: str | Channel, **options: Any) -> Channel:
    """Build the channel of a link from a spec, appending ``awgn`` when no stage adds receiver noise."""
    ch = build_channel(spec, **options) if isinstance(spec, str) else spec
    if not ch.adds_noise:
        stages = list(ch.stages) if isinstance(ch, Compose) else [ch]
        ch = Compose([*stages, AWGN()])
    return ch


class Link(nn.Module):
    """An autoencoder used as a communication link.

    :param model: trained autoencoder (encoder = transmitter side, decoder = receiver side): a channelae
        :class:`~channelae.models.Autoencoder` or your own ``nn.Module`` with ``encode``/``decode`` (or
        ``encoder``/``decoder``) and ``latent_dim`` (wrapped by :func:`~channelae.link.user_model.as_link_model`:
        its decoder is called on ``[N, d]``; compute ``p_ref`` with :func:`~channelae.link.user_model.
        p_ref_from_data`).
    :param channel: a :class:`~channelae.channels.Channel` or a spec such as ``"rayleigh+pgd-jammer"``
        (specs get receiver noise appended, see :func:`link_channel`).
    :param p_ref: mean energy per complex symbol of the clean training latents (checkpoint metadata).
    :param equalizer: ``lmmse`` (default), ``zf`` or ``none``; ``csi``: ``perfect`` or ``none``.
    :param sample: VAEs transmit a sampled z instead of μ.
    :param fold: decode with an exactly folded eval copy of the decoder (BatchNorms folded, the leading affine
        layers merged; :mod:`channelae.models.fold`): same outputs up to float rounding, ~1.4× faster on CPU.
        Used by the jammer's tail, the clean reference and the final decode; the model still encodes. A
        snapshot: build a new Link after changing the model's weights. Skipped for decoders it cannot fold.
    """

    def __init__(self, model: Autoencoder | nn.Module, channel: Channel | str, *, p_ref: float,
                 equalizer: str = "lmmse", csi: str = "perfect", sample: bool = False,
                 channel_options: dict[str, Any] | None = None, fold: bool = True) -> None:
        super().__init__()
        from channelae.link.user_model import as_link_model

        model = as_link_model(model)  # a user's nn.Module: the interface the link calls, decoder on [N, d]
        self.model = model.eval()
        self.channel = link_channel(channel, **(channel_options or {})) if isinstance(channel, str) else channel
        d = model.latent_dim
        self.transmitter = Transmitter(p_ref, d)
        self.receiver = Receiver(p_ref, d, equalizer=equalizer, csi=csi)
        self.sample = sample
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.folded: FoldedDecoder | None = None
        if fold:
            try:
                self.folded = fold_decoder(self.model)
            except FoldError:
                pass

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], channel: Channel | str, *,
                        device: str | torch.device = "cpu", **kw: Any) -> Link:
        """A link around the checkpoint's model, using its stored ``P_ref``."""
        from channelae.checkpoint import load_checkpoint

        model, meta = load_checkpoint(path, device=device)
        link = cls(model, channel, p_ref=float(meta["p_ref"]), **kw)
        link.meta = meta
        return link

    def decode_state(self, state: ChannelState) -> Tensor:
        """Receiver then decoder: ``x̂ [..., C, H, W]`` from a channel state (differentiable in ``y``)."""
        return self._decode(self.receiver(state))

    def _decode(self, z: Tensor) -> Tensor:
        """The decoder ``[..., d] -> [..., C, H, W]``: the folded copy when there is one."""
        return self.model.decode(z) if self.folded is None else self.folded.decode(z)

    def forward(self, x: Tensor, snr_db: float | list[float] | Tensor | None = None, *,
                generator: torch.Generator | None = None) -> LinkOutput:
        """Run images ``x [B, C, H, W]`` over the link at every SNR of ``snr_db`` (dB; default noiseless).

        ``generator``: source of every random draw (VAE sampling, channel realisations; jammers seed their own
        generator with one draw from it). Realisations are shared across SNR points and budgets (module
        docstring); repeat an image along the batch to evaluate it under several realisations.
        """
        if self.channel.needs_decoder and torch.is_inference_mode_enabled():
            raise UsageError("the jammer optimises through the decoder with autograd, which torch.inference_mode() "
                             "forbids: call the link under torch.no_grad() or without a grad context instead",
                             "inference_mode")
        if x.is_inference():  # made under inference_mode: a plain copy can enter the jammer's autograd graph
            x = x.clone()
        dev = x.device
        snr = as_snr_grid(snr_db).to(dev)
        with torch.no_grad():
            z = self.model.encode(x, sample=self.sample, generator=generator)
            s = self.transmitter(z)  # [B, n]
            # The noiseless, unjammed link output dec(rx(tx(z))): dec(z0) up to the rounding of the gain
            # round trip (~1e-7), and bit-identical to x_hat wherever the channel leaves s untouched
            # (ideal / snr_db = inf, jammer budget 0), so distortions there are exactly 0.
            clean = self._decode(self.receiver(ChannelState.start(s)))
        ctx = LinkContext(clean=clean, inputs=x, z=z, gain=self.transmitter.gain,
                          num_symbols=num_symbols(self.model.latent_dim))
        # [S, B, n]; dim 0 (SNR) shared: one channel realisation per image for every SNR point
        state0 = ChannelState.start(s.unsqueeze(0).expand(snr.numel(), *s.shape), ctx=ctx, shared_dims=(0,))
        state = self.channel.apply(state0, snr, tail=self.decode_state, generator=generator)
        if state.y.dim() == 3:  # no budget dim was added: E = 1
            state = state.replace(y=state.y.unsqueeze(-3), h=_grid(state.h), no=_grid(state.no))
        with torch.no_grad():
            z_hat = self.receiver(state)
            flat = z_hat.reshape(-1, z_hat.shape[-1])  # decode in pieces: bounds the activations' memory
            x_hat = torch.cat([self._decode(flat[i:i + 1024]) for i in range(0, flat.shape[0], 1024)])
            x_hat = x_hat.reshape(*z_hat.shape[:-1], *x_hat.shape[1:])
        return LinkOutput(x_hat=x_hat, clean=clean, z=z, s=s, z_hat=z_hat, y=state.y, snr_db=snr,
                          state=state)


def _grid(t: Tensor) -> Tensor:
    return t.unsqueeze(-3) if t.dim() >= 3 else t
