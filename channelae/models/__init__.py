"""Model families and the one registry that names them.

``build_model(family, image_shape, latent_dim, lam=None, beta=1.0)`` returns an
:class:`~channelae.models.base.Autoencoder`; ``MODELS.names()`` lists the families.

Importing this package is cheap (no torch): the families are declared lazily below (imported on the first
``MODELS.get``), and ``Autoencoder``, ``ModelConfig``, ... are imported on first access (PEP 562). Adding a
family: its class (e.g. in ``families.py``) and one ``MODELS.register_lazy`` line below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from channelae._validation import check_int_range, check_non_negative
from channelae.registry import Registry, lazy_exports

if TYPE_CHECKING:
    from channelae.models.base import Autoencoder, LossOutput, ModelConfig, ModelOutput

__all__ = [
    "MODELS",
    "Autoencoder",
    "LossOutput",
    "ModelConfig",
    "ModelOutput",
    "build_model",
    "model_from_config",
]

#: Model classes by family name (``--model``).
MODELS: Registry[type[Autoencoder]] = Registry("model", "--model")
MODELS.register_lazy("ae", "channelae.models.families:PlainAE")
MODELS.register_lazy("kld-vae", "channelae.models.families:KLDVAE")
MODELS.register_lazy("mmd-vae", "channelae.models.families:MMDVAE")
MODELS.register_lazy("swt-vae", "channelae.models.families:SWTVAE")
MODELS.register_lazy("mmd-dae", "channelae.models.families:MMDDAE")
MODELS.register_lazy("swt-dae", "channelae.models.families:SWTDAE")
MODELS.register_lazy("tc-vae", "channelae.models.families:BetaTCVAE")

_LAZY_EXPORTS = {name: "channelae.models.base" for name in ("Autoencoder", "LossOutput", "ModelConfig",
                                                              "ModelOutput")}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY_EXPORTS, __all__)


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
    from channelae.models.base import ModelConfig

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
