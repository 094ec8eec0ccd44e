"""Run a jammed link over an SNR grid in two groups: the noiseless points and the finite ones.

A white-box jammer optimises through the rest of the link. Where receiver noise follows it (the default
``pgd-jammer`` link, which appends AWGN), that rest is random at a finite SNR and deterministic at
``snr_db = inf``; in one batched call the whole grid shares one search, so the noiseless rows pay for the
noisy search too (two channel draws per step, the control variate's row, iterate averaging:
:mod:`channelae.channels.pgd_jammer`), about 15 % of the default job's attack. Calling the link once per
group lets the jammer see, per group, whether its link is random, and search the noiseless points without
draws.

Nothing else changes: each group's call gets a generator in the same state (``make_generator()``), and the
link's random stages draw one realisation along the SNR dim (common random numbers,
:mod:`channelae.channels.base`), so every SNR point sees exactly the channel realisations it would see in one
call over the whole grid, the same as the noise control's. Only the jammer's private search draws (a function of
the seed it takes from the link's generator and of its search's shape) differ from a single call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from channelae.link.link import Link, LinkOutput

__all__ = ["merge_diagnostics", "run_in_snr_groups", "snr_groups"]


def snr_groups(snr_db: Tensor) -> list[Tensor]:
    """Index tensors of the noiseless (``inf``) and the finite points of ``snr_db [S]``, in that order; one
    group (all points) when the grid has only one kind."""
    noiseless = torch.isinf(snr_db)
    if bool(noiseless.all()) or not bool(noiseless.any()):
        return [torch.arange(snr_db.numel(), device=snr_db.device)]
    return [noiseless.nonzero().flatten(), (~noiseless).nonzero().flatten()]


def _cat_along_snr(parts: list[Tensor], sizes: list[int], order: Tensor, ndim: int | None = None) -> Tensor:
    """Join per-group tensors along dim 0 in grid order; a tensor without the SNR dim (it broadcasts, e.g.
    ``h = 1``, or has fewer than ``ndim`` dims, so its dim 0 is not the SNR dim) is taken from the first group
    when all groups agree on it."""
    if all(p.dim() > 0 and p.shape[0] == s and (ndim is None or p.dim() == ndim) for p, s in zip(parts, sizes)):
        return torch.cat(parts).index_select(0, order)
    if all(p.shape == parts[0].shape and torch.equal(p, parts[0]) for p in parts[1:]):
        return parts[0]
    raise ValueError("cannot join link states whose tensors neither carry the SNR dim nor agree")


def merge_diagnostics(diags: list[dict[str, Any]], sizes: list[int], order: Tensor) -> dict[str, Any]:
    """One jammer diagnostic (``PGDJammer.last_diagnostics``) from the groups' own: ``distance_half`` /
    ``distance_final`` ``[S_g, E]`` joined in grid order; ``eot``, ``control_variate``, ``average`` and
    ``curvature``: the largest over the groups (how the search ran where the link after the jammer is random;
    a noiseless group used one draw, no control variate and no averaging); the rest from the first group."""
    out = dict(diags[0])
    for key in ("distance_half", "distance_final"):
        out[key] = torch.cat([d[key].reshape(s, -1) for d, s in zip(diags, sizes)]).index_select(
            0, order.to(diags[0][key].device))
    for key in ("eot", "curvature", "average"):
        vals = [d.get(key) for d in diags if d.get(key) is not None]
        if vals:
            out[key] = max(vals)
    out["control_variate"] = any(bool(d.get("control_variate")) for d in diags)
    return out


def run_in_snr_groups(link: Link, x: Tensor, snr_db: Tensor, make_generator: Callable[[], torch.Generator],
                      jammer: Any = None,
                      before_group: Callable[[int, Tensor], None] | None = None) -> LinkOutput:
    """``link(x, snr_db)`` run as one call per group of :func:`snr_groups`, each with a fresh
    ``make_generator()`` (which must return generators in the same state), joined in grid order.

    :param jammer: the link's jammer stage; its ``last_diagnostics`` and ``last_delta`` ``[S, E, B, n]``
        are set to the whole grid's (joined) after the calls.
    :param before_group: called as ``before_group(i, idx)`` before group ``i`` (SNR indices ``idx``), e.g. to
        point a progress callback at that group's share of the work.
    :returns: the :class:`LinkOutput` of one call over the whole grid (``state``: ``y``, ``h`` and ``no``
        joined along the SNR dim, the rest from the last group).
    """
    groups = snr_groups(snr_db)
    if len(groups) == 1:
        if before_group is not None:
            before_group(0, groups[0])
        return link(x, snr_db, generator=make_generator())
    outs: list[LinkOutput] = []
    diags: list[dict[str, Any]] = []
    deltas: list[Tensor] = []
    for i, idx in enumerate(groups):
        if before_group is not None:
            before_group(i, idx)
        outs.append(link(x, snr_db.index_select(0, idx), generator=make_generator()))
        if jammer is not None and getattr(jammer, "last_diagnostics", None) is not None:
            diags.append(jammer.last_diagnostics)
            deltas.append(jammer.last_delta)
    sizes = [int(idx.numel()) for idx in groups]
    order = torch.argsort(torch.cat(groups))  # position in the joined tensor of each grid point
    if len(diags) == len(groups):
        jammer.last_diagnostics = merge_diagnostics(diags, sizes, order)
        jammer.last_delta = _cat_along_snr(deltas, sizes, order.to(deltas[0].device))
    o = outs[-1]
    order = order.to(o.x_hat.device)
    st = o.state
    state = st.replace(**{k: _cat_along_snr([getattr(p.state, k) for p in outs], sizes, order, st.y.dim())
                          for k in ("y", "h", "no")})
    return LinkOutput(x_hat=_cat_along_snr([p.x_hat for p in outs], sizes, order), clean=outs[0].clean,
                      z=outs[0].z, s=outs[0].s, z_hat=_cat_along_snr([p.z_hat for p in outs], sizes, order),
                      y=_cat_along_snr([p.y for p in outs], sizes, order), snr_db=snr_db, state=state)
