"""Model families and the one registry that names them.

``build_model(family, image_shape, latent_dim, lam=None, beta=1.0)`` returns an
:class:`~channelae.models.base.Autoencoder`; ``MODELS.names()`` lists the families.
"""

from __future__ import annotations

from channelae._validation import check_int_range, check_non_negative
from channelae.models.base import Autoencoder, LossOutput, ModelConfig, ModelOutput
from channelae.models.families import KLDVAE, MMDDAE, MMDVAE, SWTDAE, SWTVAE, BetaTCVAE, PlainAE
from channelae.registry import Registry

__all__ = [
    "MODELS",
    "Autoencoder",
    "LossOutput",
    "ModelConfig",
    "ModelOutput",
    "build_model",
    "model_from_config",
]

MODELS: Registry[type[Autoencoder]] = Registry("model", "--model")
MODELS.add("ae", PlainAE)
MODELS.add("kld-vae", KLDVAE)
MODELS.add("mmd-vae", MMDVAE)
MODELS.add("swt-vae", SWTVAE)
MODELS.add("mmd-dae", MMDDAE)
MODELS.add("swt-dae", SWTDAE)
MODELS.add("tc-vae", BetaTCVAE)


def build_model(
    family: str,
    image_shape: tuple[int, int, int],
    latent_dim: int,
    *,
    lam: float | None = None,
    beta: float = 1.0,
    kernel: str = "imq",
) -> Autoencoder:
    """A fresh model of ``family`` (``lam=None`` takes the family's default λ)."""
    cls = MODELS.get(family)
    latent_dim = check_int_range(latent_dim, "--latent-dim", low=1, high=4096)
    lam = cls.default_lam if lam is None else check_non_negative(lam, "--lam")
    beta = check_non_negative(beta, "--beta")
    cfg = ModelConfig(family=family, image_shape=tuple(image_shape), latent_dim=latent_dim, lam=lam,
                      beta=beta, kernel=kernel)
    return cls(cfg)


def model_from_config(cfg: ModelConfig) -> Autoencoder:
    """Model of the family in ``cfg`` with exactly that configuration (used when loading checkpoints)."""
    return MODELS.get(cfg.family)(cfg)
