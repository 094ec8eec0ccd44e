"""The PGD jammer's default search settings, in a module without torch so that the command line can show
them in its help without importing torch. :mod:`channelae.channels.pgd_jammer` re-exports them (use them
from there); the convergence bar they meet and their cost are in ``benchmarks/README.md``."""

from __future__ import annotations

__all__ = ["DEFAULT_ATTACK_PRECISION", "DEFAULT_CURVATURE", "DEFAULT_EOT", "DEFAULT_STARTS", "DEFAULT_STEPS"]

#: Iterations of the default (``apgd``) search; see :mod:`channelae.channels.pgd_jammer` for the convergence bar.
DEFAULT_STEPS = 60
#: Channel draws averaged per search step (``apgd``) when the link after the jammer is random (receiver noise,
#: fading it does not know); 1 through a deterministic link. At 10 dB the search is limited by the noise of its
#: steps, i.e. by steps × draws: K = 60 with two draws (and the mean of the late iterates) met the convergence
#: bar, K = 80 with one draw did not (``benchmarks/README.md``).
DEFAULT_EOT = 2
#: Starts the default search explores before the best continues (``apgd``): the first ``2·DEFAULT_CURVATURE``
#: are the curvature directions, the rest random.
DEFAULT_STARTS = 4
#: Top eigenvectors of the decoder's ``JᵀJ`` at the clean point whose ``±`` directions are the first explored
#: starts of an untargeted ``apgd`` search (:func:`channelae.attacks.curvature_directions`).
DEFAULT_CURVATURE = 2
#: Precision of the search by default; see :class:`~channelae.channels.pgd_jammer.PGDJammer`
#: (``attack_precision``) for why.
DEFAULT_ATTACK_PRECISION = "auto"
