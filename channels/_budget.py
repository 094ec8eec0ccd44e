"""Jammer budgets shared by the PGD and noise jammers (SPEC §2): ε (L2 norm per example, in ``link`` or
``latent`` units) or JSR (dB) → the L2 radius of the perturbation in transmitted-symbol units (Es = 1).

The conversions themselves live in :mod:`channelae.definitions`; this module only applies them to a link
state (gain ``g`` and symbol count ``n`` from the link context).

Jammers on a resource grid
--------------------------
After a grid channel (``ofdm``) the state lives on the example's ``R`` resource elements (REs) and carries
``state.grid`` (:class:`channelae.channels.ofdm.GridInfo`). A jammer there perturbs only the REs it selects
(:func:`grid_selection`: ``res`` = ``data``, ``pilots`` or ``all`` = data and pilots, never the unused REs;
``subcarriers = "START:STOP"``, STOP exclusive, for partial-band jamming): it optimises / draws a perturbation
of the selected REs alone and places it on the grid with zeros elsewhere (:func:`place_on_res`), so there is
exactly no energy outside the selection and the L2 budget is the norm of what it adds. The budget keeps its
definitions, per example, in link units: ε = ‖δ‖₂ over the example's grid (Es = 1), and JSR = ‖δ‖² /
(n_signal·Es) with ``n_signal`` = the REs that carry signal (``n`` data REs + the pilots, each of energy Es =
1: :attr:`GridInfo.num_transmitted`; :func:`signal_symbols`). ``latent`` units convert through the gain as
everywhere (``ε_link = g·ε``): a unit conversion, not a latent-space norm once the perturbation sits on REs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from channelae._validation import check_finite, check_one_of
from channelae.definitions import EPS_UNITS
from channelae.errors import UsageError

if TYPE_CHECKING:
    from channelae.channels.base import ChannelState

__all__ = ["EPS_UNITS", "PLACEMENTS", "add_perturbation", "budget_grid", "channel_signal_symbols", "check_eps_unit",
           "check_res_options", "expand_for_grid", "grid_selection", "grid_selection_check", "place_on_res", "signal_symbols",
           "spec_signal_symbols", "symbol_radius"]

PLACEMENTS = ("rx", "tx")


def budget_grid(eps: float | list[float] | Tensor | None, jsr_db: float | list[float] | Tensor | None
                ) -> tuple[str, Tensor]:
    """``("eps", ε [E])`` or ``("jsr_db", JSR [E])`` from exactly one of the two; validated."""
    if (eps is None) == (jsr_db is None):
        raise UsageError("give exactly one jammer budget: eps (L2 norm per example) or jsr_db (dB)",
                         "eps" if eps is not None else "jsr_db")
    name, values = ("eps", eps) if eps is not None else ("jsr_db", jsr_db)
    arg = name
    t = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    if t.numel() == 0:
        raise UsageError("needs at least one value", arg)
    if name == "eps":
        for v in t.tolist():
            if not (v >= 0 and v != float("inf")):
                raise UsageError(f"budgets must be finite and >= 0; got {v}", arg)
    else:
        for v in t.tolist():
            if v != float("-inf"):
                check_finite(v, arg)
    return name, t


def check_eps_unit(unit: str) -> str:
    """``unit`` if it is one of :data:`EPS_UNITS` (``link``, ``latent``), else a one-line usage error."""
    return check_one_of(unit, EPS_UNITS, "eps_unit")


def signal_symbols(state: ChannelState) -> int:
    """Complex symbols ``n`` per example that the transmitted signal occupies: the ``n`` of
    ``JSR = ‖δ_s‖² / (n·Es)``. The one place that decides it: on a resource grid (``state.grid`` set, e.g.
    after ``ofdm``) the REs carrying signal, data and pilots (``grid.num_transmitted``); otherwise the link
    context's ``signal_symbols`` when a stage sets one, else its ``num_symbols``."""
    if state.grid is not None:
        return int(state.grid.num_transmitted)
    ctx = state.ctx
    n = getattr(ctx, "signal_symbols", None)
    return int(ctx.num_symbols if n is None else n)


def channel_signal_symbols(channel: Any, n: int) -> int:
    """The ``n`` of JSR that a jammer of ``channel`` sees, for ``n`` transmitted symbols per example, without
    running it: walking the stages in order, a stage with a ``signal_symbols(n)`` method (a grid channel:
    ``ofdm`` gives ``n`` + its pilots) sets the count, and the first jammer stage (one with a
    ``budget_kind``) sees the count so far. Agrees with :func:`signal_symbols` on the state the jammer gets.

    :raises UsageError: a jammer given ``res``/``subcarriers`` with no grid stage before it (the check
        :func:`grid_selection` makes when it runs, made here before anything runs).
    """
    count, grid = int(n), False
    for stage in getattr(channel, "stages", [channel]):
        if hasattr(stage, "budget_kind"):
            if not grid:
                grid_selection_check(getattr(stage, "res", None), getattr(stage, "subcarriers", None),
                                     _stage_name(stage))
            break
        f = getattr(stage, "signal_symbols", None)
        if callable(f):
            count, grid = int(f(int(n))), True
    return count


def _stage_name(stage: Any) -> str:
    from channelae.channels import CHANNELS

    for name in CHANNELS.names():
        if CHANNELS.is_loaded(name) and CHANNELS.get(name) is type(stage):
            return name
    return type(stage).__name__


def spec_signal_symbols(spec: str, n: int, options: dict[str, Any] | None = None) -> int:
    """:func:`channel_signal_symbols` of the channel spec ``spec`` built with ``options`` (a zero placeholder
    budget for its jammers; builds no Sionna object): what a simulation converts JSR with."""
    from channelae.channels import build_channel, channel_options, check_channel_spec

    opts = dict(options or {})
    opts.pop("jsr_db", None)
    if any((takes := channel_options(name)) is None or "eps" in takes for name in check_channel_spec(spec)):
        opts.setdefault("eps", [0.0])
    return channel_signal_symbols(build_channel(spec, **opts), n)


def check_res_options(res: str | None, subcarriers: str | Sequence[int] | None
                      ) -> tuple[str | None, str | tuple[int, int] | None]:
    """Validated ``res`` (``data``, ``pilots``, ``all`` or ``None``) and ``subcarriers`` (``"START:STOP"`` or a
    ``(start, stop)`` pair, STOP exclusive, or ``None``) of a grid jammer; the range check against the grid's
    FFT size waits for the grid (:func:`grid_selection`)."""
    from channelae.channels.ofdm import RES_CHOICES, parse_subcarriers

    if res is not None:
        res = check_one_of(res.strip().lower() if isinstance(res, str) else res, RES_CHOICES, "res")
    if subcarriers is not None:
        parse_subcarriers(subcarriers, None, "subcarriers")  # syntax and order; the range needs the grid
        if not isinstance(subcarriers, str):
            subcarriers = tuple(subcarriers)
    return res, subcarriers


def grid_selection(state: ChannelState, res: str | None, subcarriers: str | Sequence[int] | None,
                   stage: str) -> Tensor | None:
    """Indices ``[M]`` (int64, on ``y``'s device, increasing) of the REs a jammer may touch on ``state``'s grid,
    or ``None`` off a grid (the jammer then perturbs the ``n`` symbols).

    On a grid: ``res`` (default ``all``: data and pilots) on subcarriers ``START:STOP`` (default: the whole
    band); see :meth:`channelae.channels.ofdm.GridInfo.mask`.

    :raises UsageError: ``res``/``subcarriers`` given on a state without a grid (flat channels); a range
        outside the grid; a selection without any RE.
    """
    if state.grid is None:
        grid_selection_check(res, subcarriers, stage)
        return None
    mask = state.grid.mask("all" if res is None else res, subcarriers, state.y.device)
    return mask.nonzero().flatten()


def grid_selection_check(res: str | None, subcarriers: Any, stage: str) -> None:
    """Off a grid: a one-line usage error when ``res`` or ``subcarriers`` is set (they select REs of a grid)."""
    if res is not None or subcarriers is not None:
        name = "res" if res is not None else "subcarriers"
        raise UsageError(f"selects resource elements of an OFDM grid, but the {stage} sees the n transmitted "
                         f"symbols (no grid): put a grid channel before it (e.g. ofdm+{stage}) or drop the option",
                         name)


def place_on_res(delta: Tensor, index: Tensor | None, size: int) -> Tensor:
    """A perturbation ``[..., M]`` of the selected REs ``index`` ``[M]`` placed on ``[..., size]`` REs,
    exactly zero elsewhere (differentiable in ``delta``); ``index = None``: ``delta`` unchanged."""
    if index is None:
        return delta
    out = delta.new_zeros((*delta.shape[:-1], int(size)))
    return out.index_copy(delta.dim() - 1, index, delta)


def symbol_radius(kind: str, values: Tensor, gain: float, n: int, eps_unit: str = "link") -> Tensor:
    """L2 radius of the perturbation in transmitted-symbol units (Es = 1; real view: 2n coordinates), float64.

    ``eps``: ``ε`` (``eps_unit = "link"``) or ``g·ε`` (``"latent"``); ``jsr_db``: ``sqrt(n·Es·10^(JSR/10))``.
    """
    from channelae.definitions import eps_to_link, jsr_db_to_link_eps

    if kind == "eps":
        return eps_to_link(values, check_eps_unit(eps_unit), gain)
    return jsr_db_to_link_eps(values, n)


def expand_for_grid(t: Tensor) -> Tensor:
    """Insert the budget dim at ``-3`` in ``h``/``no`` that carry leading dims before ``[B, n]``."""
    return t.unsqueeze(-3) if t.dim() >= 3 else t


def add_perturbation(y: Tensor, h: Tensor, delta: Tensor, placement: str) -> Tensor:
    """``y + δ`` (``rx``: at the receiver) or ``y + h·δ`` (``tx``: added to s before the fading so far)."""
    check_one_of(placement, PLACEMENTS, "placement")
    return y + (h * delta if placement == "tx" else delta)
