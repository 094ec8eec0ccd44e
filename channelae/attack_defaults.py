"""The PGD jammer's default search settings, in a module without torch so that the command line can show
them in its help without importing torch. :mod:`channelae.channels.pgd_jammer` re-exports them (use them
from there); the convergence bar they meet and their cost are in ``benchmarks/README.md``."""

from __future__ import annotations

__all__ = ["DEFAULT_ATTACK_PRECISION", "DEFAULT_STARTS", "DEFAULT_STEPS"]

#: Iterations of the default (``apgd``) search; see :mod:`channelae.channels.pgd_jammer` for the convergence bar.
DEFAULT_STEPS = 60
#: Random starts the default search explores before the best continues (``apgd``).
DEFAULT_STARTS = 10
#: Precision of the search by default; see :class:`~channelae.channels.pgd_jammer.PGDJammer`
#: (``attack_precision``) for why.
DEFAULT_ATTACK_PRECISION = "auto"
