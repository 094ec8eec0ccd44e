"""Base autoencoder: the study's architecture, the encode/decode interface the link calls, and the loss.

Every family is a :class:`Autoencoder` with a :class:`ModelConfig`; families differ only in whether the
encoder is variational and which regulariser ``R(z)`` the loss adds:
``loss = MSE(x, x̂) + λ·R`` (MSE: mean over pixels and batch). The training loop exists once
(:mod:`channelae.training`); models provide ``forward`` and ``loss``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from channelae.models.architecture import conv_decoder, conv_encoder

__all__ = ["Autoencoder", "LossOutput", "ModelConfig", "ModelOutput"]


@dataclass(frozen=True)
class ModelConfig:
    """What defines a model (saved in checkpoints).

    :param family: registered family name (``ae``, ``kld-vae``, ...).
    :param image_shape: ``(C, H, W)``; H = W ∈ {28, 64}.
    :param latent_dim: ``d``, real latent values per example.
    :param lam: λ, weight of the regulariser.
    :param beta: β, weight of the total-correlation term (``tc-vae`` only).
    :param kernel: MMD kernel (``imq`` or ``rbf``; MMD families only).
    """

    family: str
    image_shape: tuple[int, int, int]
    latent_dim: int
    lam: float = 0.0
    beta: float = 1.0
    kernel: str = "imq"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["image_shape"] = list(self.image_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        d = dict(d)
        d["image_shape"] = tuple(int(v) for v in d["image_shape"])
        return cls(**d)


@dataclass
class ModelOutput:
    """Named outputs of a forward pass. ``z`` is what was decoded (sampled for VAEs in training)."""

    recon: Tensor
    z: Tensor
    mu: Tensor | None = None
    logvar: Tensor | None = None


@dataclass
class LossOutput:
    """Total loss plus its named terms (detached floats for logging)."""

    total: Tensor
    terms: dict[str, float] = field(default_factory=dict)


class Autoencoder(nn.Module):
    """The study's conv autoencoder. Subclasses set ``variational`` and implement :meth:`regularizer`."""

    #: VAEs' encoders output (μ, log σ²); deterministic ones output z.
    variational: bool = False

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c, h, w = config.image_shape
        if h != w:
            raise ValueError(f"images must be square; got {h}x{w}")
        self.config = config
        out = 2 * config.latent_dim if self.variational else config.latent_dim
        self.encoder = conv_encoder(c, h, out)
        self.decoder = conv_decoder(c, h, config.latent_dim)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @torch.no_grad()
    def init_output_bias(self, pixel_mean: Tensor) -> None:
        """Set the bias of the decoder's last layer to ``logit(pixel_mean)`` (per channel, ``[C]``).

        An untrained decoder then outputs the data's mean intensity instead of sigmoid(0) = 0.5. Adam moves a
        bias by about ``lr`` per step, so from 0 it would take ~2000 steps at lr 1e-3 to reach MNIST's
        logit(0.13) ≈ −1.9; with this start a 5-epoch mnist-5k swt-vae reaches val SSIM ≈ 0.73 instead of 0.56.
        """
        last = self.decoder[-2]  # the final ConvTranspose2d, followed by the sigmoid
        p = pixel_mean.to(dtype=last.bias.dtype, device=last.bias.device).reshape(-1)
        if p.numel() != last.bias.numel():
            raise ValueError(f"pixel_mean has {p.numel()} channels; the decoder outputs {last.bias.numel()}")
        p = p.clamp(1e-3, 1.0 - 1e-3)
        last.bias.copy_(torch.log(p) - torch.log1p(-p))

    def encode_stats(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(μ, log σ²)`` for VAEs, ``(z, None)`` for deterministic models. x: ``[B, C, H, W]``."""
        h = self.encoder(x)
        if self.variational:
            mu, logvar = h.chunk(2, dim=-1)
            return mu, logvar.clamp(-30.0, 20.0)
        return h, None

    def encode(self, x: Tensor, *, sample: bool = False, generator: torch.Generator | None = None) -> Tensor:
        """Latent ``z`` ``[B, d]`` for images ``x`` ``[B, C, H, W]``: μ for VAEs unless ``sample``."""
        mu, logvar = self.encode_stats(x)
        if sample and logvar is not None:
            return mu + torch.exp(0.5 * logvar) * _randn_like(mu, generator)
        return mu

    def decode(self, z: Tensor) -> Tensor:
        """Reconstruction ``[..., C, H, W]`` in ``[0, 1]`` for latents ``z`` ``[..., d]`` (any leading dims)."""
        lead = z.shape[:-1]
        x = self.decoder(z.reshape(-1, z.shape[-1]))
        return x.reshape(*lead, *x.shape[1:])

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> ModelOutput:
        """Training forward pass: VAEs decode a re-parameterised sample ``z = μ + σ·ζ``."""
        mu, logvar = self.encode_stats(x)
        z = mu + torch.exp(0.5 * logvar) * _randn_like(mu, generator) if logvar is not None else mu
        return ModelOutput(recon=self.decode(z), z=z, mu=mu if logvar is not None else None, logvar=logvar)

    def regularizer(
        self, out: ModelOutput, *, dataset_size: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        """``R`` (scalar, batch mean) and named parts for logging. The plain AE has none."""
        return out.recon.new_zeros(()), {}

    def loss(
        self, x: Tensor, out: ModelOutput, *, dataset_size: int, generator: torch.Generator | None = None
    ) -> LossOutput:
        """``MSE(x, x̂) + λ·R`` with MSE the mean over pixels and batch."""
        mse = F.mse_loss(out.recon, x)
        reg, parts = self.regularizer(out, dataset_size=dataset_size, generator=generator)
        total = mse + self.config.lam * reg
        terms = {"mse": float(mse.detach()), **parts}
        if parts:
            terms["reg"] = float(reg.detach())
        return LossOutput(total=total, terms=terms)


def _randn_like(t: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.randn(t.shape, dtype=t.dtype, device=t.device, generator=generator)
