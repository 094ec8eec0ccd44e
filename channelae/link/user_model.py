"""Your own autoencoder in a :class:`~channelae.link.Link`: the interface the link needs, and ``P_ref``.

The link needs three things from a model:

- ``encode(x) -> z``: images ``[B, C, H, W]`` (values in ``[0, 1]``) to real latents ``[B, d]`` (for a VAE,
  return the mean μ);
- ``decode(z) -> x̂``: latents to images in ``[0, 1]``. The link calls it with **leading dimensions**:
  ``z`` is ``[..., d]`` (e.g. ``[S, E, B, d]`` for SNR points × jammer budgets × images, or more rows during
  a PGD step), and expects ``[..., C, H, W]`` back;
- ``latent_dim``: ``d``.

channelae's own :class:`~channelae.models.Autoencoder` provides exactly that. Any other ``nn.Module`` is
wrapped by :func:`as_link_model` (``Link`` does it for you) into a :class:`LinkModel`, which takes the
encoder and decoder from ``encode``/``decode`` methods or else from ``encoder``/``decoder`` submodules, and
calls the decoder on ``[N, d]`` only (it flattens the leading dims around the call and restores them), so a
decoder written for ``[N, d]`` batches works as is. ``d`` comes from a ``latent_dim`` attribute, or pass it:
``Link(as_link_model(net, latent_dim=16), "awgn", p_ref=...)``.

``P_ref`` (the mean energy per complex symbol of the clean latents, which fixes the transmitter's gain so
that ``Es = 1``) is stored in channelae checkpoints; for your own model compute it once over training images
with :func:`p_ref_from_data`.

Gradients: a PGD jammer differentiates through ``decode`` (not through your parameters, which the link
freezes), so ``decode`` must be differentiable in ``z`` and the link must not run under
``torch.inference_mode()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from channelae.errors import UsageError

__all__ = ["LinkModel", "as_link_model", "p_ref_from_data"]


def _part(module: nn.Module, method: str, attr: str) -> Callable[[Tensor], Tensor] | None:
    fn = getattr(module, method, None)
    if callable(fn):
        return fn
    sub = getattr(module, attr, None)
    return sub if callable(sub) else None


class LinkModel(nn.Module):
    """A user's autoencoder with the interface :class:`~channelae.link.Link` calls (see the module docstring).

    :param module: an ``nn.Module`` with ``encode``/``decode`` methods or ``encoder``/``decoder`` submodules.
    :param latent_dim: ``d``; default: ``module.latent_dim``.
    :raises UsageError: something the link needs is missing (one line saying what and how to provide it).
    """

    #: The link treats the encoder as deterministic (VAEs: return μ from ``encode``).
    variational = False

    def __init__(self, module: nn.Module, latent_dim: int | None = None) -> None:
        super().__init__()
        name = type(module).__name__
        enc = _part(module, "encode", "encoder")
        dec = _part(module, "decode", "decoder")
        missing = [what for what, part in (("encode(x) or an encoder", enc), ("decode(z) or a decoder", dec))
                   if part is None]
        if missing:
            raise UsageError(f"{name} has no {' and no '.join(missing)}: the link needs encode(x) -> z [B, d] and "
                             "decode(z) -> images, as methods or as encoder/decoder submodules", "model")
        d = latent_dim if latent_dim is not None else getattr(module, "latent_dim", None)
        if not isinstance(d, int) or isinstance(d, bool) or d < 1:
            raise UsageError(f"cannot tell the latent size d of {name} (got latent_dim={d!r}): give it an int "
                             "attribute latent_dim, or wrap it as channelae.link.as_link_model(model, latent_dim=d)",
                             "latent_dim")
        self.module = module
        self._parts = (enc, dec)  # a tuple: not registered twice as submodules
        self._latent_dim = d

    @property
    def latent_dim(self) -> int:
        return self._latent_dim

    def encode(self, x: Tensor, *, sample: bool = False, generator: torch.Generator | None = None) -> Tensor:
        """Latents ``[B, d]`` of images ``x [B, C, H, W]`` (``sample``/``generator`` are not used)."""
        z = self._parts[0](x)
        if not isinstance(z, Tensor):
            raise UsageError(f"encode(x) returned {type(z).__name__}; the link needs the latent tensor z [B, d] "
                             "(for a VAE: return the mean μ)", "model")
        if z.dim() != 2 or z.shape[-1] != self._latent_dim or z.shape[0] != x.shape[0]:
            raise UsageError(f"encode(x) returned shape {list(z.shape)} for {x.shape[0]} images; expected "
                             f"[{x.shape[0]}, {self._latent_dim}] (latent_dim {self._latent_dim})", "model")
        return z

    def decode(self, z: Tensor) -> Tensor:
        """Images ``[..., C, H, W]`` for latents ``[..., d]``: the decoder sees ``[N, d]`` (leading dims flattened)."""
        if z.shape[-1] != self._latent_dim:
            raise UsageError(f"expected latents [..., {self._latent_dim}]; got shape {list(z.shape)}", "z")
        lead = z.shape[:-1]
        flat = z.reshape(-1, self._latent_dim)
        out = self._parts[1](flat)
        if not isinstance(out, Tensor) or out.dim() < 2 or out.shape[0] != flat.shape[0]:
            got = list(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise UsageError(f"decode(z) returned {got} for {flat.shape[0]} latents; expected images "
                             f"[{flat.shape[0]}, C, H, W]", "model")
        return out.reshape(*lead, *out.shape[1:])

    def extra_repr(self) -> str:
        return f"latent_dim={self._latent_dim}"


def as_link_model(model: nn.Module, latent_dim: int | None = None) -> nn.Module:
    """``model`` itself when it is a channelae :class:`~channelae.models.Autoencoder` (or already a
    :class:`LinkModel`), else a :class:`LinkModel` around it."""
    from channelae.models import Autoencoder

    if isinstance(model, (Autoencoder, LinkModel)) and latent_dim in (None, model.latent_dim):
        return model
    if not isinstance(model, nn.Module):
        raise UsageError(f"must be a torch.nn.Module autoencoder; got {type(model).__name__}", "model")
    return LinkModel(model, latent_dim)


@torch.no_grad()
def p_ref_from_data(model: nn.Module, images: Tensor | Iterable[Tensor], *, batch_size: int = 256,
                    latent_dim: int | None = None) -> float:
    """``P_ref`` of ``model`` over ``images``: the mean energy per complex symbol of the clean latents.

    ``mean over examples of ‖z‖² / n`` with ``n = ceil(d/2)`` (:func:`channelae.definitions.p_ref_from_energy`,
    the definition training uses), computed in float64 with the model in eval mode. Use training images.

    :param images: a tensor ``[N, C, H, W]`` or an iterable of such batches (or of ``(images, labels)``).
    :return: ``P_ref`` (> 0) for ``Link(model, channel, p_ref=...)``.
    """
    from channelae.definitions import p_ref_from_energy

    m = as_link_model(model, latent_dim)
    was_training = m.training
    m.eval()
    try:
        batches = images.split(batch_size) if isinstance(images, Tensor) else images
        total, count = 0.0, 0
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            z = m.encode(x).double()
            total += float(z.square().sum())
            count += z.shape[0]
    finally:
        m.train(was_training)
    if count == 0:
        raise UsageError("no images given", "images")
    p_ref = p_ref_from_energy(total, count, m.latent_dim)
    if not p_ref > 0:
        raise UsageError(f"the latents have no energy (P_ref = {p_ref}); is the encoder constant?", "model")
    return p_ref
