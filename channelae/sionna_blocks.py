"""A channelae jammer as one step of a Sionna PHY flow: no ``LinkContext``, no ``tail`` closure to build.

Inside :class:`~channelae.link.Link` the PGD jammer is told the clean reconstruction, the transmitter's gain
and "the rest of the link" (receiver noise, receiver, decoder) through which it optimises. In a Sionna flow
that plumbing is what :class:`LinkJammer` (plain PyTorch) and :class:`JammerBlock` (a ``sionna.phy.Block``
around it) do for you::

    jam = JammerBlock(model, p_ref, eps=[0.0, 0.5, 1.0], eot=4)    # or LinkJammer(...) outside Sionna
    ...
    y = apply_fading(s, h)                  # Sionna: channel, no noise yet          [B, n]
    y = jam(y, no, h)                       # jammed, one slice per budget           [E, B, n]
    y = awgn(y, no)                         # Sionna: receiver noise
    z_hat = Receiver(p_ref, d)(y, h, no)    # channelae receiver, Sionna-style call  [E, B, d]

Call: ``jam(y, no, h=None, *, clean=None)``

- ``y``: complex ``[..., B, n]``, the received symbols *before* the receiver noise (the jammer sits at the
  receiver front end, as ``placement="rx"`` in a Link; ``n = ceil(d/2)``);
- ``no``: the noise variance ``N0`` per complex symbol that the flow adds *after* the jammer (Sionna's ``no``;
  a float or a tensor broadcasting to ``y``): the jammer averages its objective over ``eot`` draws of that
  noise, drawn with channelae's sampler (the same draw as Sionna's ``complex_normal``) from the block's
  generator;
- ``h``: the channel gain applied so far (``None``: no fading; Sionna's ``[..., n, 1, 1]`` accepted), known to
  the white-box jammer and used by the receiver (perfect CSI unless ``csi="none"``);
- ``clean``: the untargeted reference ``dec(z0)`` ``[B, C, H, W]``; by default it is decoded from ``y``
  zero-forced by ``h`` (exact when ``y`` is noise-free, the usual place of a receiver-side jammer; the first
  slice of any leading dims is used).

Returns the jammed symbols ``[..., E, B, n]`` (``E`` budgets). The jammer's options (``eps``/``jsr_db`` and
its units, ``steps``, ``restarts``, ``eot``, ``target``, ``distance``, ...) are those of
:class:`~channelae.channels.pgd_jammer.PGDJammer` (or ``jammer="noise-jammer"``, the equal-power control).
The model is a channelae autoencoder or any ``nn.Module`` with the interface of
:mod:`channelae.link.user_model`; its weights are frozen.

Sionna is imported only when :class:`JammerBlock` is first used (importing this module does not).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from channelae.errors import UsageError

if TYPE_CHECKING:
    from channelae.channels import Channel

__all__ = ["JammerBlock", "LinkJammer"]  # noqa: F822 (JammerBlock: module __getattr__, imports Sionna)


class LinkJammer(nn.Module):
    """A channelae jammer with the link plumbing built in (see the module docstring); plain PyTorch.

    :param model: trained autoencoder (channelae's or your ``nn.Module``, see :mod:`channelae.link.user_model`).
    :param p_ref: the model's ``P_ref`` (checkpoint metadata, or :func:`~channelae.link.user_model.p_ref_from_data`).
    :param jammer: ``"pgd-jammer"`` (default), ``"noise-jammer"`` or a jammer :class:`~channelae.channels.Channel`.
    :param equalizer: the receiver's equaliser in the jammer's objective (``lmmse``, ``zf``, ``none``).
    :param csi: ``perfect`` or ``none``.
    :param jammer_options: options of the jammer when it is given by name (``eps=...``, ``steps=...``, ...).
    """

    def __init__(self, model: nn.Module, p_ref: float, jammer: str | Channel = "pgd-jammer", *,
                 equalizer: str = "lmmse", csi: str = "perfect", **jammer_options: Any) -> None:
        super().__init__()
        from channelae.channels import Channel, build_channel
        from channelae.link.receiver import Receiver
        from channelae.link.user_model import as_link_model

        self.model = as_link_model(model).eval().requires_grad_(False)
        d = self.model.latent_dim
        self.receiver = Receiver(p_ref, d, equalizer=equalizer, csi=csi)
        self.zf = Receiver(p_ref, d, equalizer="zf")
        if isinstance(jammer, str):
            if jammer not in ("pgd-jammer", "noise-jammer"):
                raise UsageError(f"expected pgd-jammer or noise-jammer (or a jammer Channel); got {jammer!r}",
                                 "jammer")
            jammer = build_channel(jammer, **jammer_options)
        elif jammer_options:
            raise UsageError("options are for a jammer given by name; configure the Channel object instead",
                             "jammer")
        if not isinstance(jammer, Channel):
            raise UsageError(f"must be a channelae jammer Channel or its name; got {type(jammer).__name__}", "jammer")
        self.jammer = jammer

    @property
    def gain(self) -> float:
        """The transmitter's gain ``g = 1/sqrt(P_ref)`` (symbols per latent unit)."""
        return self.receiver.tx.gain

    def context(self, y: Tensor, h: Tensor, clean: Tensor | None = None) -> Any:
        """The :class:`~channelae.link.LinkContext` a Link would give the jammer (clean reference from ``y``)."""
        from channelae.link import LinkContext

        B, n = y.shape[-2], y.shape[-1]
        with torch.no_grad():
            y0 = y.reshape(-1, B, n)[0]
            h0 = torch.broadcast_to(h, y.shape).reshape(-1, B, n)[0]
            z0 = self.zf.tx.to_latent(y0 / h0).to(y.real.dtype)
            if clean is None:
                clean = self.model.decode(z0)
        if clean.shape[0] != B:
            raise UsageError(f"clean must hold one reference image per example ([{B}, C, H, W]); got "
                             f"{list(clean.shape)}", "clean")
        return LinkContext(clean=clean, inputs=clean, z=z0, gain=self.gain, num_symbols=self.zf.tx.num_symbols)

    def forward(self, y: Tensor, no: Tensor | float, h: Tensor | complex | None = None, *,
                clean: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Jammed symbols ``[..., E, B, n]`` for ``y [..., B, n]`` (see the module docstring)."""
        from channelae.channels.awgn import complex_normal
        from channelae.channels.base import draw_shape

        if torch.is_inference_mode_enabled() and self.jammer.needs_decoder:
            raise UsageError("the jammer optimises through the decoder with autograd, which torch.inference_mode() "
                             "forbids: call it under torch.no_grad() or without a grad context", "inference_mode")
        if no is None:
            raise UsageError("needs the receiver noise variance N0 per complex symbol that follows the jammer "
                             "(Sionna's `no`; 0 for none)", "no")
        # state.no carries the noise variance *to be added* after the jammer: the tail draws it, the receiver
        # uses it (the jammer only repeats it along its budget / EOT dims)
        state = self.receiver.state_from(y, h, no)
        state = state.replace(ctx=self.context(state.y, state.h, clean))

        def tail(st: Any, *, generator: torch.Generator | None = generator) -> Tensor:
            # draws from the generator the jammer passes (its private one), shared along st.shared_dims
            w = complex_normal(draw_shape(st, st.y.shape), st.y.dtype, st.y.device, generator)
            noisy = st.replace(y=st.y + w * st.no.sqrt().to(st.y.dtype))
            return self.model.decode(self.receiver(noisy))

        return self.jammer.apply(state, tail=tail, generator=generator).y


_BLOCK: type | None = None


def _block_class() -> type:
    """Build :class:`JammerBlock` on first use (imports Sionna: seconds)."""
    global _BLOCK
    if _BLOCK is not None:
        return _BLOCK
    from sionna.phy import Block

    class JammerBlock(Block):
        """``sionna.phy.Block``: a channelae jammer between Sionna's channel and its receiver noise.

        Same arguments as :class:`LinkJammer` plus Sionna's ``precision`` and ``device``; ``call(y, no, h=None,
        clean=None)`` returns the jammed symbols ``[..., E, B, n]``. Its randomness (random starts, the noise
        draws it averages over) comes from the block's ``torch_rng``, i.e. ``sionna.phy.config.seed``.
        """

        def __init__(self, model: nn.Module, p_ref: float, jammer: str | Channel = "pgd-jammer", *,
                     equalizer: str = "lmmse", csi: str = "perfect", precision: str | None = None,
                     device: str | None = None, **jammer_options: Any) -> None:
            super().__init__(precision=precision, device=device)
            core = LinkJammer(model, p_ref, jammer, equalizer=equalizer, csi=csi, **jammer_options)
            self.core = core.to(self.device)

        @property
        def last_delta(self) -> Tensor | None:
            """The jammer's last perturbation (complex ``[..., E, B, n]``), when it records one."""
            return getattr(self.core.jammer, "last_delta", None)

        def call(self, y: Tensor, no: Tensor | float, h: Tensor | None = None,
                 clean: Tensor | None = None) -> Tensor:
            return self.core(y, no, h, clean=clean, generator=self.torch_rng)

    _BLOCK = JammerBlock
    return JammerBlock


def __getattr__(name: str) -> Any:
    if name == "JammerBlock":
        return _block_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
