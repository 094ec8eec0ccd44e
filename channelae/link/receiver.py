"""Receiver: equalise the channel output, then undo the transmitter (symbols → latent units).

With the final :class:`~channelae.channels.base.ChannelState` ``(y, h, no)`` (``no`` = noise variance ``N0``
per complex symbol) the equaliser estimates the transmitted symbols:

- ``"zf"``: ``x̂ = y / ĥ`` (zero forcing; amplifies noise on deep fades);
- ``"lmmse"`` (default): ``x̂ = conj(ĥ)·y / (|ĥ|² + N0)`` (per-symbol LMMSE for unit-energy symbols,
  ``Es = 1``; equals ZF when ``N0 = 0``);
- ``"none"``: ``x̂ = y``.

CSI: ``"perfect"`` (default) uses ``ĥ = state.h``; ``"none"`` assumes ``ĥ = 1``, i.e. the receiver ignores
the fading (ZF then returns ``y`` as is; LMMSE only shrinks by ``1/(1 + N0)``). ``N0`` is always known.
Then ``ẑ`` = the transmitter's exact inverse (divide by the gain ``g``, or by the per-example gain sent as
side information when the transmitter normalises per example).

Two ways to call a :class:`Receiver`: with a channel state, ``receiver(state)`` (what :class:`~channelae.link.
Link` does; ``receiver(state, scale)`` for per-example normalisation), or Sionna style with tensors,
``receiver(y, h, no)``: ``y`` complex ``[..., n]``, ``h`` the channel gain (``None`` = no fading, ``h = 1``;
Sionna's 1×1 channel matrices ``[..., n, 1, 1]`` are accepted) and ``no`` the noise variance ``N0`` per complex
symbol (a float or a tensor broadcasting to ``y``; Sionna's ``no``).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from channelae._validation import broadcast_shapes, check_one_of
from channelae.channels.base import ChannelState
from channelae.errors import UsageError
from channelae.link.transmitter import Normalize, Transmitter

__all__ = ["CSI", "CSI_CHOICES", "EQUALIZERS", "Equalizer", "Receiver", "equalize"]

Equalizer = Literal["lmmse", "zf", "none"]
CSI = Literal["perfect", "none"]
EQUALIZERS: tuple[str, ...] = ("lmmse", "zf", "none")
CSI_CHOICES: tuple[str, ...] = ("perfect", "none")


def equalize(state: ChannelState, equalizer: Equalizer = "lmmse", csi: CSI = "perfect") -> Tensor:
    """Estimate of the transmitted symbols from ``state`` (see the module docstring).

    :param state: ``y`` complex ``[..., n]``; ``h`` complex and ``no`` real (per complex symbol), both
        broadcasting to ``y``.
    :return: complex ``[..., n]`` (the broadcast shape of ``y``, ``h`` and ``no`` as used).
    """
    check_one_of(equalizer, EQUALIZERS, "equalizer")
    check_one_of(csi, CSI_CHOICES, "csi")
    if state.rx is not None:  # grid channels (OFDM): estimation, equalisation, demapping -> h = 1, no = no_eff
        state = state.rx(state)
    y = state.y
    if equalizer == "none":
        return y
    if equalizer == "zf":
        return y if csi == "none" else y / state.h
    no = state.no.to(y.real.dtype)
    if csi == "none":
        return y / (1.0 + no)
    h = state.h
    return h.conj() * y / (h.abs().square() + no)


class Receiver(nn.Module):
    """Equaliser plus the transmitter's inverse: ``ChannelState`` → latent estimate ``ẑ [..., d]``.

    :param p_ref: the transmitter's ``P_ref`` (mean energy per complex symbol of clean latents).
    :param latent_dim: ``d``.
    :param equalizer: ``"lmmse"`` (default), ``"zf"`` or ``"none"``.
    :param csi: ``"perfect"`` (default; uses ``state.h``) or ``"none"`` (assumes ``h = 1``).
    :param normalize: the transmitter's normalisation (``"fixed"`` or ``"per-example"``).

    :input state: final channel state, ``y`` complex ``[..., n]`` — or Sionna-style tensors ``(y, h, no)``,
        see :meth:`forward`.
    :input scale: per-example gain ``[..., 1]`` from :meth:`Transmitter.transmit` (side information;
        required for ``normalize="per-example"``, ignored by default for ``"fixed"``).
    :output z_hat: real ``[..., d]``.
    """

    def __init__(
        self,
        p_ref: float,
        latent_dim: int,
        equalizer: Equalizer = "lmmse",
        csi: CSI = "perfect",
        normalize: Normalize = "fixed",
    ) -> None:
        super().__init__()
        self.equalizer = check_one_of(equalizer, EQUALIZERS, "equalizer")
        self.csi = check_one_of(csi, CSI_CHOICES, "csi")
        self.tx = Transmitter(p_ref, latent_dim, normalize)

    def equalize(self, state: ChannelState) -> Tensor:
        """Equalised symbols ``x̂ [..., n]`` (complex)."""
        return equalize(state, self.equalizer, self.csi)

    def forward(
        self,
        y: ChannelState | Tensor,
        h: Tensor | complex | None = None,
        no: Tensor | float | None = None,
        scale: Tensor | float | None = None,
    ) -> Tensor:
        """Latent estimate ``ẑ [..., d]``, from a channel state or Sionna-style tensors.

        :param y: a :class:`~channelae.channels.base.ChannelState` (``h`` and ``no`` come from it; a second
            positional argument is then the ``scale``, as before), or the received symbols, complex ``[..., n]``.
        :param h: channel gain per symbol (complex, broadcasting to ``y``); ``None``: no fading (``h = 1``).
        :param no: noise variance ``N0`` per complex symbol (float or real tensor broadcasting to ``y``);
            required for the LMMSE equaliser (``0`` for a noiseless link), ``0`` by default otherwise.
        :param scale: per-example gain for ``normalize="per-example"`` (side information).
        """
        if isinstance(y, ChannelState):
            if no is not None:
                raise TypeError("Receiver(state): h and no come from the state; pass tensors as (y, h, no)")
            if h is not None:  # receiver(state, scale)
                if scale is not None:
                    raise TypeError("Receiver(state, scale): scale given twice")
                scale = h  # type: ignore[assignment]
            return self.tx.to_latent(self.equalize(y), scale)
        return self.tx.to_latent(self.equalize(self.state_from(y, h, no)), scale)

    def state_from(self, y: Tensor, h: Tensor | complex | None = None,
                   no: Tensor | float | None = None) -> ChannelState:
        """A :class:`~channelae.channels.base.ChannelState` from Sionna-style ``(y, h, no)`` (see :meth:`forward`),
        checked: complex ``y [..., n]`` with the receiver's ``n``; ``h`` and ``no`` broadcasting to it."""
        n = self.tx.num_symbols
        if not isinstance(y, Tensor) or not y.is_complex() or y.dim() == 0 or y.shape[-1] != n:
            got = f"shape {list(y.shape)}, {y.dtype}" if isinstance(y, Tensor) else type(y).__name__
            raise UsageError(f"must be complex received symbols [..., {n}] (latent_dim {self.tx.latent_dim}); "
                             f"got {got}", "y")
        if h is None:
            h_t = torch.ones((), dtype=y.dtype, device=y.device)
        else:
            h_t = torch.as_tensor(h, device=y.device)
            while h_t.dim() > y.dim() and h_t.shape[-1] == 1:  # Sionna's 1x1 channel matrices [..., n, 1, 1]
                h_t = h_t.squeeze(-1)
            h_t = h_t.to(y.dtype)
        if no is None:
            if self.equalizer == "lmmse":
                raise UsageError("the LMMSE equaliser needs the noise variance N0 per complex symbol (Sionna's "
                                 "`no`; 0 for a noiseless link): call receiver(y, h, no)", "no")
            no = 0.0
        if not isinstance(no, Tensor) and not no >= 0:
            raise UsageError(f"must be a noise variance >= 0 (N0 per complex symbol); got {no}", "no")
        no_t = torch.as_tensor(no, dtype=y.real.dtype, device=y.device)
        for name, t in (("h", h_t), ("no", no_t)):
            try:
                broadcast_shapes(t.shape, y.shape)
            except RuntimeError:
                raise UsageError(f"shape {list(t.shape)} does not broadcast to y {list(y.shape)}", name) from None
        return ChannelState(y=y, h=h_t, no=no_t)

    def extra_repr(self) -> str:
        return f"equalizer={self.equalizer!r}, csi={self.csi!r}"
