"""The study's model families (SPEC §3): plain AE, KLD/MMD/SWT-VAE, MMD/SWT-DAE and β-TCVAE.

Each family is a small subclass of :class:`~channelae.models.base.Autoencoder` that says whether its
encoder is variational and which regulariser it adds; ``default_lam`` is the λ used when none is given
(chosen so that the regulariser and the per-pixel MSE are of similar size on MNIST-like data; configs may
override it and checkpoints record what was used).
"""

from __future__ import annotations

import torch
from torch import Tensor

from channelae.models import regularizers as R
from channelae.models.base import Autoencoder, ModelOutput

__all__ = ["KLDVAE", "MMDDAE", "MMDVAE", "SWTDAE", "SWTVAE", "BetaTCVAE", "PlainAE"]


class PlainAE(Autoencoder):
    """Deterministic autoencoder, reconstruction loss only."""

    default_lam = 0.0


class KLDVAE(Autoencoder):
    """Vanilla VAE: ``R = KL(q(z|x) ‖ N(0, I))`` per example, batch mean."""

    variational = True
    default_lam = 1e-3

    def regularizer(self, out: ModelOutput, *, dataset_size: int, generator: torch.Generator | None = None):
        kld = R.kld(out.mu, out.logvar).mean()
        return kld, {"kld": float(kld.detach())}


class _MMDMixin(Autoencoder):
    """``R = MMD²(z, z_s)``, unbiased, IMQ kernel over scales, against prior samples ``z_s ~ N(0, I)``."""

    default_lam = 1.0

    def regularizer(self, out: ModelOutput, *, dataset_size: int, generator: torch.Generator | None = None):
        m = R.mmd(out.z, kernel=self.config.kernel, generator=generator)
        return m, {"mmd": float(m.detach())}


class _SWTMixin(Autoencoder):
    """``R = 1 − W``: Shapiro–Wilk statistic per latent dimension over the batch, averaged (study Eq. 3)."""

    default_lam = 0.1

    def regularizer(self, out: ModelOutput, *, dataset_size: int, generator: torch.Generator | None = None):
        s = R.swt(out.z)
        return s, {"swt": float(s.detach())}


class MMDVAE(_MMDMixin):
    """MMD-VAE (study Eq. 2): variational encoder, MMD on the re-parameterised z."""

    variational = True


class SWTVAE(_SWTMixin):
    """SWT-VAE (study Eq. 3): variational encoder, ``1 − W`` on the re-parameterised z."""

    variational = True


class MMDDAE(_MMDMixin):
    """MMD-DAE: the encoder outputs z directly; same objective as the MMD-VAE."""


class SWTDAE(_SWTMixin):
    """SWT-DAE: the encoder outputs z directly; same objective as the SWT-VAE."""


class BetaTCVAE(Autoencoder):
    """β-TCVAE: ``R = MI + β·TC + DWKL`` with the minibatch-stratified estimator (needs the data set size).

    The TC term is estimated on the training batch itself (``[train] batch_size`` / ``--batch-size``, default
    64); there is no separate, larger batch for it. The estimator scores each sampled ``z_i`` against the
    posteriors ``q(·|x_j)`` of the *same* batch, and the TC gradient flows through both: a larger TC batch
    needs those extra examples encoded with gradients, which is the cost of a larger training batch anyway
    (``--batch-size`` gives it, with fewer steps per epoch), while posteriors kept from earlier batches
    (detached, from older parameters) would make a different estimator with no gradient through most of its
    terms, whose bias nobody has characterised. The MSS estimate is biased low when posteriors overlap, less so
    for larger batches (one check, a β = 1 Fashion-MNIST model after 2 epochs: exact TC 1.4–1.8 nats, MSS −0.4
    at B = 64 and 0.6 at B = 512); ``channelae run`` reports the exact full-data-set value beside the estimates
    at the training batch size and at 512 for every tc-vae model (:mod:`channelae.experiments.stats`).
    """

    variational = True
    default_lam = 1e-3

    def regularizer(self, out: ModelOutput, *, dataset_size: int, generator: torch.Generator | None = None):
        t = R.tc_decomposition(out.z, out.mu, out.logvar, dataset_size, estimator="mss")
        reg: Tensor = t.mi + self.config.beta * t.tc + t.dwkl
        return reg, {"mi": float(t.mi.detach()), "tc": float(t.tc.detach()), "dwkl": float(t.dwkl.detach())}
