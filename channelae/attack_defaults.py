"""The PGD jammer's default search settings, in a module without torch so that the command line can show
them in its help without importing torch. :mod:`channelae.channels.pgd_jammer` re-exports them (use them
from there); the convergence bar they meet and their cost are in ``benchmarks/README.md``."""

from __future__ import annotations

__all__ = ["DEFAULT_ATTACK_PRECISION", "DEFAULT_CURVATURE", "DEFAULT_STARTS", "DEFAULT_STEPS"]

#: Iterations of the default (``apgd``) search; see :mod:`channelae.channels.pgd_jammer` for the convergence bar.
DEFAULT_STEPS = 80
#: Starts the default search explores before the best continues (``apgd``): the first ``2·DEFAULT_CURVATURE``
#: are the curvature directions, the rest random.
DEFAULT_STARTS = 4
#: Top eigenvectors of the decoder's ``JᵀJ`` at the clean point whose ``±`` directions are the first explored
#: starts of an untargeted ``apgd`` search (:func:`channelae.attacks.curvature_directions`).
DEFAULT_CURVATURE = 2
#: Precision of the search by default; see :class:`~channelae.channels.pgd_jammer.PGDJammer`
#: (``attack_precision``) for why.
DEFAULT_ATTACK_PRECISION = "auto"
