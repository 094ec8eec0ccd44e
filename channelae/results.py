"""The results format: what ``simulate`` writes to ``results.json`` and every reader reads, owned here alone.

:class:`Results` is the typed form of one simulation's results; :func:`load` reads it from a results directory
(or the file), :meth:`Results.save` writes it atomically (:mod:`channelae.io`). ``report``, ``plots`` and
``experiments`` only ever see a :class:`Results`, never the raw JSON.

This module also owns

* the **strict-JSON encoding of non-finite numbers**, used by every JSON file channelae writes (results,
  experiment summaries, checkpoint metadata): JSON has no ``Infinity``/``NaN``, so ``+∞``, ``-∞`` and NaN are
  written as the strings ``"inf"``, ``"-inf"`` and ``"nan"`` (:func:`encode_json`), and read back by
  :func:`decode_number` in the fields that hold numbers (no other string is accepted there);
* the **file names of a results directory** (:data:`RESULTS_NAME`, :data:`CSV_NAME`, :data:`SAMPLES_NAME`,
  :data:`PER_IMAGE_NAME`) and readers of its side files (:func:`read_samples`, :func:`read_per_image`);
* the **labels and number formats** shared by tables and plots (:func:`snr_label`, :func:`format_number`,
  :func:`breaking_text`, :func:`eps_axis_label`, :meth:`Results.link_title`).

Layout (``S`` SNR points, ``E`` budgets, in the stored orders): every curve is ``[S][E]`` (``curves[link][metric]``
with ``mean``/``lo``/``hi``; ``paired_gap[metric]``: the per-image difference jammer − noise), AADDCs and
breaking budgets are ``[S]``, equivalent SNRs and their losses ``[S][E]``, the noise-only reference curve
``[K]`` on its own SNR grid, the attack's convergence diagnostic ``[S][E]``. Units: SNR in dB Es/N0 per
complex symbol (``inf`` = noiseless); ε = L2 norm per example in ``budget.eps_unit`` (``link``: of the
transmitted-symbol perturbation with Es = 1; ``latent``: the study's latent norm); JSR in dB.

Versions: :data:`SCHEMA_VERSION` is written as ``schema_version``. Older files are converted on load: files
without it ("version 0", written before the field existed) and version 1 (ε in latent units, no paired
statistics, no reference curve); files of a newer version are refused with one line.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from channelae.errors import UsageError

__all__ = [
    "BROKEN_AT_ZERO",
    "CSV_NAME",
    "NOT_BROKEN",
    "PER_IMAGE_NAME",
    "RESULTS_NAME",
    "SAMPLES_NAME",
    "SCHEMA_VERSION",
    "BreakingBudget",
    "Budget",
    "Convergence",
    "Curve",
    "LatentBars",
    "Manifest",
    "MetricInfo",
    "ReferenceCurve",
    "Results",
    "breaking_text",
    "decode_number",
    "dumps_json",
    "encode_json",
    "eps_axis_label",
    "eps_unit_text",
    "format_number",
    "load",
    "read_per_image",
    "read_samples",
    "snr_label",
    "write_json",
]

#: Version of the ``results.json`` layout written by this module (``schema_version``). 2: budgets carry their
#: unit (``link`` by default), paired jammer − noise statistics, the noise-only reference curve on its own SNR
#: grid with equivalent SNRs and their status, the attack's convergence diagnostic, ``draws``.
SCHEMA_VERSION = 2
RESULTS_NAME = "results.json"
CSV_NAME = "results.csv"
#: Per-image metric values, ``{link}.{metric}``: float64 ``[S, E, N]``.
PER_IMAGE_NAME = "per_image.safetensors"
#: A few images and the latents for the plots (keys documented in :func:`channelae.simulate.simulate`).
SAMPLES_NAME = "samples.safetensors"

# ------------------------------------------------------------------------------------ non-finite numbers

#: The one encoding of non-finite floats in channelae's JSON files (strict JSON has no literal for them).
NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def encode_json(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by ``"inf"``/``"-inf"``/``"nan"`` (dict keys as str)."""
    if isinstance(obj, float):
        if math.isnan(obj):
            return "nan"
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, dict):
        return {str(k): encode_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode_json(v) for v in obj]
    return obj


def decode_number(v: Any) -> float:
    """A number field of a channelae JSON file: an int/float as is, or one of ``"inf"``, ``"-inf"``, ``"nan"``.

    :raises TypeError: for ``None``, booleans and containers; ``ValueError`` for any other string.
    """
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise TypeError(f"expected a number, got {v!r}")
    if isinstance(v, str):
        if v not in NONFINITE:
            raise ValueError(f"expected a number or one of {', '.join(NONFINITE)}; got {v!r}")
        return NONFINITE[v]
    return v


def _numbers(v: Any) -> Any:
    """Nested lists of number fields, decoded (:func:`decode_number`)."""
    if isinstance(v, list):
        return [_numbers(x) for x in v]
    return decode_number(v)


def dumps_json(obj: Any) -> str:
    """Strict, indented, key-sorted JSON of ``obj`` (non-finite floats encoded, :func:`encode_json`)."""
    return json.dumps(encode_json(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(dest: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as :func:`dumps_json` to ``dest`` atomically."""
    from channelae.io import atomic_write_text

    return atomic_write_text(dest, dumps_json(obj))


# -------------------------------------------------------------------------------------- labels, formats


def snr_label(snr_db: float) -> str:
    """``"noiseless"`` for +∞, else ``"SNR 10 dB"``."""
    return "noiseless" if math.isinf(snr_db) and snr_db > 0 else f"SNR {snr_db:g} dB"


#: What the tables print for a breaking budget that is never reached on the grid (``inf`` in the JSON), and for
#: a curve that is already below its limit line without a jammer (breaking budget = the first grid point, 0).
NOT_BROKEN = "—"
BROKEN_AT_ZERO = "at ε=0"

#: ε units (:data:`channelae.definitions.EPS_UNITS`) in words, for table notes and plot labels.
_EPS_UNIT_TEXT = {
    "link": "L2 norm per example of the perturbation of the transmitted symbols (Es = 1, a clean example has "
            "‖s‖ ≈ √n)",
    "latent": "latent L2 norm per example (the study's unit)",
}


def eps_unit_text(unit: str) -> str:
    """What ε means in ``unit`` (``link`` or ``latent``), one phrase."""
    return _EPS_UNIT_TEXT.get(unit, unit)


def eps_axis_label(unit: str) -> str:
    """Short axis/column label of ε in ``unit``: ``"ε (link L2)"`` or ``"ε (latent L2)"``."""
    return f"ε ({unit} L2)"


def breaking_text(eps_b: Any, first_eps: float = 0.0) -> str:
    """A breaking budget for a table cell: :data:`NOT_BROKEN` for ``inf``, :data:`BROKEN_AT_ZERO` when it is
    the first grid point ``first_eps`` (0: the curve is below its limit without a jammer), else the number;
    ``""`` for ``None``."""
    if eps_b is None:
        return ""
    x = float(decode_number(eps_b))
    if math.isinf(x) and x > 0:
        return NOT_BROKEN
    if x == first_eps == 0.0:
        return BROKEN_AT_ZERO
    return format_number(x)


def format_number(v: Any) -> str:
    """A number for a table cell: 4 significant digits, ``∞``/``-∞``, ``n/a`` for NaN, ``""`` for ``None``."""
    if v is None:
        return ""
    x = float(decode_number(v))
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if math.isnan(x):
        return "n/a"
    return f"{x:.4g}"


# ----------------------------------------------------------------------------------------------- types


@dataclass(frozen=True)
class MetricInfo:
    """A metric's direction, limit line ``L`` (metric units) and unit (``""``: unitless; ``"dB"`` for PSNR).

    :ivar cap: per-image values were capped at this value (PSNR: the ceiling where 8-bit images are
        indistinguishable, :data:`channelae.curves.PSNR_CEILING_DB`), or ``None``.
    :ivar limit_source: where the limit line comes from (``user``, a default's reason), ``""`` if unknown.
    """

    higher_is_better: bool
    limit: float
    unit: str = ""
    cap: float | None = None
    limit_source: str = ""


@dataclass(frozen=True)
class Curve:
    """One DD-curve family: mean and 95 % interval ``[S][E]`` (SNR × budget) of one metric on one link."""

    mean: list[list[float]]
    lo: list[list[float]]
    hi: list[list[float]]

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(mean, lo, hi)`` as float64 ``[S, E]`` arrays."""
        return (np.asarray(self.mean, dtype=np.float64), np.asarray(self.lo, dtype=np.float64),
                np.asarray(self.hi, dtype=np.float64))


@dataclass(frozen=True)
class BreakingBudget:
    """Smallest budget whose mean crosses the limit line, per SNR ``[S]`` (``inf``: not broken)."""

    eps: list[float]
    jsr_db: list[float]


@dataclass(frozen=True)
class Budget:
    """The budget grid ``[E]``: ε (L2 norm per example in ``eps_unit``, ε = 0 first), JSR (dB), relative ε.

    :ivar eps_unit: ``link`` (norm of the transmitted-symbol perturbation, Es = 1; JSR = ε²/n) or ``latent``
        (the study's latent norm); see :mod:`channelae.definitions`.
    :ivar eps_relative: ε relative to the mean clean norm in the same unit: ε / mean ‖s‖ (link) or
        ε / mean ‖z‖ (latent) — the same number either way, since ‖s‖ = g·‖z‖.
    :ivar highlight: the budget singled out in tables (``--eps E`` → E); ``highlight_index`` its index.
    :ivar gain: transmitter gain ``1/√P_ref``; ``num_symbols`` complex symbols per example; both convert ε to
        JSR (:mod:`channelae.definitions`).
    :ivar mean_latent_norm: mean clean ‖z‖₂; ``mean_symbol_norm`` mean clean ‖s‖₂ (link units) over the
        evaluated images.
    :ivar axis: how the grid was given: ``eps`` or ``jsr_db`` (``--jsr-db``: plots use JSR as x axis).
    """

    eps: list[float]
    jsr_db: list[float]
    highlight: float
    highlight_index: int
    eps_relative: list[float] | None = None
    gain: float | None = None
    num_symbols: int | None = None
    mean_latent_norm: float | None = None
    eps_unit: str = "link"
    mean_symbol_norm: float | None = None
    axis: str = "eps"

    def grid(self) -> np.ndarray:
        """ε as a float64 ``[E]`` array (in :attr:`eps_unit`)."""
        return np.asarray(self.eps, dtype=np.float64)

    @property
    def relative_to(self) -> str:
        """What ``eps_relative`` divides by: ``"mean ‖s‖"`` (link) or ``"mean ‖z‖"`` (latent)."""
        return "mean ‖z‖" if self.eps_unit == "latent" else "mean ‖s‖"


@dataclass(frozen=True)
class ReferenceCurve:
    """The jammer-free (noise-only) link on its own fine SNR grid: the curve equivalent SNRs are read on.

    :ivar snr_db: ``[K]`` strictly increasing SNR points (dB), ending in ``inf`` (noiseless).
    :ivar curves: ``metric`` → :class:`Curve` ``[1][K]`` (mean and 95 % interval over the same images).
    :ivar channel: the channel spec it ran (the requested one with zero jammer budget).
    """

    snr_db: list[float]
    curves: dict[str, Curve]
    channel: str = ""


@dataclass(frozen=True)
class Convergence:
    """The PGD jammer's convergence diagnostic: the mean distance ``D`` (to the untargeted reference
    ``dec(z0)``, growing, or to the target, shrinking) it had reached after ``half_steps`` and ``steps``
    steps, ``[S][E]`` (NaN at ε = 0, which is not searched), on its own noise draws; plus how it searched
    (``starts`` starts explored per restart, the first ``2·curvature`` of them the curvature directions,
    ``eot`` channel draws averaged per step, ``average`` the fraction of late iterates averaged into a
    candidate, 0 = none; with ``control_variate`` these describe the search where the link after the jammer is
    random: simulate searches a grid's noiseless point apart, with one draw and no averaging when the link after
    the jammer is deterministic there, :mod:`channelae.link.snr_groups`). Noiseless the two
    values are exact; through a random link they are estimates (``control_variate``: re-evaluated on one fresh
    channel draw each; else the search's own best noisy values), so their difference includes that draw."""

    steps: int
    half_steps: int
    distance_half: list[list[float]]
    distance_final: list[list[float]]
    restarts: int = 1
    mode: str = ""
    precision: str | None = None
    distance: str = ""
    targeted: bool = False
    starts: int = 1
    eot: int | None = None
    control_variate: bool = False
    curvature: int = 0
    average: float = 0.0

    def relative_gain(self) -> np.ndarray:
        """``[S, E]`` what the second half of the steps still changed, relative to the final distance:
        ``|D_K − D_{K/2}| / |D_K|`` (NaN at ε = 0)."""
        half = np.asarray(self.distance_half, dtype=np.float64)
        final = np.asarray(self.distance_final, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.abs(final - half) / np.abs(final)


@dataclass(frozen=True)
class LatentBars:
    """The study's Eq. 7 bars: per latent dimension ``[d]`` mean ``|z|``, ``|ẑ|``, ``|ẑ − z|`` (main link)
    at one SNR point (dB) and budget ε."""

    snr_db: float
    eps: float
    z_abs: list[float]
    z_adv_abs: list[float]
    delta_abs: list[float]


@dataclass(frozen=True)
class Manifest:
    """How the results were made: versions, seed, the command, the full config and its hash, the checkpoint
    (path, SHA-256 of its weights, model config) and the creation time (UTC, ISO 8601).

    ``config`` is the :class:`channelae.simulate.SimulationConfig` as a dict, stored as written (non-finite
    numbers in it stay the strings ``"inf"``/``"-inf"``/``"nan"``).
    """

    versions: dict[str, str]
    seed: int
    command: str
    config: dict[str, Any]
    config_hash: str
    checkpoint: str
    checkpoint_sha256: str
    model: dict[str, Any]
    created: str
    extra: dict[str, Any] = field(default_factory=dict)


_MANIFEST_KEYS = ("versions", "seed", "command", "config", "config_hash", "checkpoint", "checkpoint_sha256",
                  "model", "created")

AADDC_DEFINITION = ("sum over ε-grid segments of the area of max(q − L, 0) (higher-is-better) or "
                    "max(L − q, 0) (lower-is-better) under the piecewise-linear mean curve, with "
                    "exact crossing points; units metric × ε (see channelae.curves.aaddc)")

#: Link names: the requested channel with a jammer, its equal-power noise control, or a jammer-free link.
LINK_TITLES = {"jammer": "PGD jammer", "noise": "noise jammer (equal power)", "link": "link"}
#: Columns of ``results.csv`` (:meth:`Results.to_csv`).
CSV_HEADER = ("link,metric,snr_db,eps,eps_unit,jsr_db,eps_relative,mean,lo,hi,equivalent_snr_db,"
              "equivalent_snr_loss_db,equivalent_snr_status")
#: The CSV's link name of the paired difference jammer − noise.
GAP_LINK = "jammer-noise"
#: The CSV's link name of the noise-only reference curve (its rows have ε = 0 and the reference SNR grid).
REFERENCE_LINK = "noise-only"




@dataclass
class Results:
    """One simulation's results (``results.json``), numbers decoded (``inf``/``nan`` as floats).

    Maps are keyed ``[link][metric]``; links are ``jammer`` (the requested channel with its jammer),
    ``noise`` (its equal-power noise control, when the jammer is PGD) or ``link`` (no jammer).

    :ivar snr_db: ``[S]`` SNR points in dB (Es/N0 per complex symbol; ``inf`` = noiseless), as given.
    :ivar curves: ``[link][metric]`` → :class:`Curve` ``[S][E]``.
    :ivar aaddc: ``[link][metric]`` → ``[S]`` AADDC (metric × ε); empty per link for a single budget.
    :ivar breaking_budget: ``[link][metric]`` → :class:`BreakingBudget`.
    :ivar equivalent_snr_loss_db: ``[link][metric]`` → ``[S][E]`` dB (:func:`channelae.curves.equivalent_snr_loss`
        on :attr:`reference_curve`); ``equivalent_snr_db`` the equivalent SNR ``s′`` itself and
        ``equivalent_snr_status`` its status (:data:`channelae.curves.EQUIVALENT_SNR_STATUS`: ``ok``, ``best``,
        ``censored``, ``beyond``, ``nan``), same layout.
    :ivar paired_gap: ``[metric]`` → :class:`Curve` ``[S][E]``: mean and 95 % t-interval of the per-image
        difference jammer − noise control (common random numbers: the same images, channel realisations and
        budgets), empty without a noise control.
    :ivar reference_curve: the noise-only reference curve on its fine SNR grid, or ``None``.
    :ivar convergence: the PGD jammer's convergence diagnostic, or ``None``.
    :ivar draws: channel realisations per image averaged into each per-image value.
    :ivar latent_bars: Eq. 7 bars, or ``None`` when not computed.
    :ivar extra: top-level keys this version does not know (kept so that load → save round-trips).
    """

    snr_db: list[float]
    budget: Budget
    metrics: dict[str, MetricInfo]
    curves: dict[str, dict[str, Curve]]
    metric_order: list[str] = field(default_factory=list)
    link_order: list[str] = field(default_factory=list)
    aaddc: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    breaking_budget: dict[str, dict[str, BreakingBudget]] = field(default_factory=dict)
    equivalent_snr_loss_db: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)
    equivalent_snr_db: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)
    equivalent_snr_status: dict[str, dict[str, list[list[str]]]] = field(default_factory=dict)
    paired_gap: dict[str, Curve] = field(default_factory=dict)
    reference_curve: ReferenceCurve | None = None
    convergence: Convergence | None = None
    draws: int = 1
    latent_bars: LatentBars | None = None
    channel: str = ""
    control: str | None = None
    reference: str = "input"
    dataset: str = ""
    n_images: int = 0
    skipped_metrics: dict[str, str] = field(default_factory=dict)
    manifest: Manifest | None = None
    aaddc_definition: str = AADDC_DEFINITION
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------------------------- accessors

    @property
    def links(self) -> list[str]:
        """Link names in the order ``simulate`` printed them (``link_order``; else the stored order)."""
        return [ln for ln in self.link_order if ln in self.curves] or list(self.curves)

    @property
    def metric_names(self) -> list[str]:
        """Metric names in the order they were requested (``metric_order``; else the stored order)."""
        return [m for m in self.metric_order if m in self.metrics] or list(self.metrics)

    @property
    def main_link(self) -> str:
        """The link the study is about: ``jammer`` if present, else ``link`` (else the first)."""
        names = list(self.curves)
        return next((n for n in ("jammer", "link") if n in names), names[0] if names else "link")

    @property
    def control_link(self) -> str | None:
        """The equal-power noise control's link name, or ``None``."""
        return "noise" if "noise" in self.curves and self.main_link != "noise" else None

    def snr_grid(self) -> np.ndarray:
        """SNR points as a float64 ``[S]`` array (dB; ``inf`` = noiseless)."""
        return np.asarray(self.snr_db, dtype=np.float64)

    def curve(self, link: str, metric: str) -> Curve | None:
        """The ``[S][E]`` curve of ``metric`` on ``link``, or ``None``."""
        return self.curves.get(link, {}).get(metric)

    def aaddc_of(self, link: str, metric: str) -> list[float] | None:
        """``[S]`` AADDC of ``metric`` on ``link``, or ``None`` (single budget)."""
        return self.aaddc.get(link, {}).get(metric)

    def breaking_of(self, link: str, metric: str) -> BreakingBudget | None:
        """The breaking budget of ``metric`` on ``link``, or ``None`` (single budget)."""
        return self.breaking_budget.get(link, {}).get(metric)

    def gap_of(self, metric: str) -> Curve | None:
        """The ``[S][E]`` paired difference jammer − noise of ``metric``, or ``None``."""
        return self.paired_gap.get(metric)

    def _jammer_kind(self) -> str | None:
        """``pgd``, ``noise`` or ``None`` (unknown): what the ``jammer`` link's jammer is."""
        stages = [p.strip() for p in self.channel.split("+")]
        return "pgd" if "pgd-jammer" in stages else "noise" if "noise-jammer" in stages else None

    def link_title(self, link: str) -> str:
        """Human name of a link: ``jammer`` → "PGD jammer" (or "noise jammer" when the requested channel's jammer
        is the random one, "jammer" when unknown), ``noise`` → "noise jammer (equal power)", ``link`` → "link"."""
        if link == "jammer" and self.channel:
            kind = self._jammer_kind()
            return "PGD jammer" if kind == "pgd" else "noise jammer" if kind == "noise" else "jammer"
        return LINK_TITLES.get(link, link)

    def link_label(self, link: str) -> str:
        """Short column label of a link: ``PGD``, ``noise`` (the equal-power control, or the requested noise
        jammer), ``jammer``, or ``""`` for a link without jammer."""
        if link == "jammer":
            kind = self._jammer_kind() if self.channel else "pgd"
            return {"pgd": "PGD", "noise": "noise jammer"}.get(kind or "", "jammer")
        return {"noise": "noise", "link": ""}.get(link, link)

    # ---------------------------------------------------------------------------------- (de)serialise

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (numbers as Python floats; :func:`encode_json` makes it strict JSON)."""
        doc: dict[str, Any] = {
            "schema_version": self.schema_version,
            "snr_db": list(self.snr_db),
            "budget": {k: v for k, v in vars(self.budget).items()
                       if v is not None or k in ("eps", "jsr_db", "highlight", "highlight_index")},
            "metrics": {k: {"higher_is_better": m.higher_is_better, "limit": m.limit, "unit": m.unit,
                            **({"cap": m.cap} if m.cap is not None else {}),
                            **({"limit_source": m.limit_source} if m.limit_source else {})}
                        for k, m in self.metrics.items()},
            "metric_order": list(self.metric_order),
            "link_order": list(self.link_order),
            "curves": {ln: {m: _curve_dict(c) for m, c in by.items()} for ln, by in self.curves.items()},
            "aaddc": self.aaddc,
            "aaddc_definition": self.aaddc_definition,
            "breaking_budget": {ln: {m: {"eps": b.eps, "jsr_db": b.jsr_db} for m, b in by.items()}
                                for ln, by in self.breaking_budget.items()},
            "equivalent_snr_loss_db": self.equivalent_snr_loss_db,
            "equivalent_snr_db": self.equivalent_snr_db,
            "equivalent_snr_status": self.equivalent_snr_status,
            "paired_gap": {m: _curve_dict(c) for m, c in self.paired_gap.items()},
            "reference_curve": None if self.reference_curve is None else {
                "snr_db": list(self.reference_curve.snr_db), "channel": self.reference_curve.channel,
                "curves": {m: _curve_dict(c) for m, c in self.reference_curve.curves.items()}},
            "convergence": None if self.convergence is None else vars(self.convergence).copy(),
            "draws": self.draws,
            "latent_bars": vars(self.latent_bars).copy() if self.latent_bars is not None else {},
            "channel": self.channel,
            "control": self.control,
            "reference": self.reference,
            "dataset": self.dataset,
            "n_images": self.n_images,
            "skipped_metrics": dict(self.skipped_metrics),
        }
        if self.manifest is not None:
            man = self.manifest
            doc["manifest"] = {**{k: getattr(man, k) for k in _MANIFEST_KEYS}, **man.extra}
        doc.update(self.extra)
        return doc

    def to_json(self) -> str:
        """The strict-JSON text of ``results.json``."""
        return dumps_json(self.to_dict())

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``results.json`` atomically to a directory (or to the given ``.json`` file); returns the file."""
        p = Path(path)
        dest = p if p.suffix == ".json" else p / RESULTS_NAME
        from channelae.io import atomic_write_text

        return atomic_write_text(dest, self.to_json())

    def to_csv(self) -> str:
        """``results.csv``: one row per (link, metric, SNR, ε) with mean and 95 % interval (stored orders).

        Columns: ``link, metric, snr_db, eps, eps_unit, jsr_db, eps_relative, mean, lo, hi, equivalent_snr_db,
        equivalent_snr_loss_db, equivalent_snr_status`` (empty where not computed). Links: ``jammer``,
        ``noise``, ``link``, then :data:`GAP_LINK` (the paired per-image difference jammer − noise) and
        :data:`REFERENCE_LINK` (the noise-only reference curve: ε = 0, one row per reference SNR point).
        """
        lines = [CSV_HEADER]
        b = self.budget
        eps, jsr, rel, unit = b.eps, b.jsr_db, b.eps_relative, b.eps_unit

        def g(v: Any, fmt: str) -> str:
            return "" if v is None else format(v, fmt)

        def row(lname: str, mname: str, snr: float, ei: int, c: Curve, si: int, sj: int,
                eq: tuple[Any, Any, Any] = (None, None, None)) -> str:
            r = rel[ei] if rel is not None else None
            return (f"{lname},{mname},{snr},{eps[ei]:.6g},{unit},{jsr[ei]:.6g},{g(r, '.6g')},"
                    f"{c.mean[si][sj]:.8g},{c.lo[si][sj]:.8g},{c.hi[si][sj]:.8g},{g(eq[0], '.6g')},"
                    f"{g(eq[1], '.6g')},{eq[2] or ''}")

        def pick(table: dict[str, dict[str, list[list[Any]]]], ln: str, m: str, si: int, ei: int) -> Any:
            t = table.get(ln, {}).get(m)
            return None if t is None else t[si][ei]

        for lname, mname, c in self.iter_curves():
            for si, s in enumerate(self.snr_db):
                for ei in range(len(eps)):
                    eq = tuple(pick(t, lname, mname, si, ei) for t in (
                        self.equivalent_snr_db, self.equivalent_snr_loss_db, self.equivalent_snr_status))
                    lines.append(row(lname, mname, s, ei, c, si, ei, eq))
        for mname in self.metric_names:
            c = self.paired_gap.get(mname)
            if c is not None:
                for si, s in enumerate(self.snr_db):
                    for ei in range(len(eps)):
                        lines.append(row(GAP_LINK, mname, s, ei, c, si, ei))
        ref = self.reference_curve
        if ref is not None:
            for mname in self.metric_names:
                c = ref.curves.get(mname)
                if c is not None:
                    for k, s in enumerate(ref.snr_db):
                        lines.append(row(REFERENCE_LINK, mname, s, 0, c, 0, k))
        return "\n".join(lines) + "\n"

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Results:
        """Parse a JSON document (any supported schema version); raises KeyError/TypeError/ValueError."""
        if not isinstance(doc, dict):
            raise TypeError("the top level is not an object")
        doc = _upgrade(dict(doc))
        known = {"schema_version", "snr_db", "budget", "metrics", "metric_order", "link_order", "curves",
                 "aaddc", "aaddc_definition", "breaking_budget", "equivalent_snr_loss_db", "latent_bars",
                 "channel", "control", "reference", "dataset", "n_images", "skipped_metrics", "manifest",
                 "equivalent_snr_db", "equivalent_snr_status", "paired_gap", "reference_curve", "convergence",
                 "draws"}
        b = doc["budget"]
        budget = Budget(
            eps=_numbers(b["eps"]), jsr_db=_numbers(b["jsr_db"]), highlight=decode_number(b["highlight"]),
            highlight_index=int(b["highlight_index"]),
            eps_relative=_numbers(b["eps_relative"]) if "eps_relative" in b else None,
            gain=decode_number(b["gain"]) if "gain" in b else None,
            num_symbols=int(b["num_symbols"]) if "num_symbols" in b else None,
            mean_latent_norm=decode_number(b["mean_latent_norm"]) if "mean_latent_norm" in b else None,
            eps_unit=_unit(b["eps_unit"]),
            mean_symbol_norm=decode_number(b["mean_symbol_norm"]) if b.get("mean_symbol_norm") is not None else None,
            axis=str(b.get("axis", "eps")),
        )
        metrics = {k: MetricInfo(higher_is_better=_bool(m["higher_is_better"]), limit=decode_number(m["limit"]),
                                 unit=str(m.get("unit", "")),
                                 cap=decode_number(m["cap"]) if m.get("cap") is not None else None,
                                 limit_source=str(m.get("limit_source", "")))
                   for k, m in doc["metrics"].items()}
        curves = {ln: {m: _curve(c) for m, c in by.items()} for ln, by in doc["curves"].items()}
        ref = doc.get("reference_curve")
        conv = doc.get("convergence")
        bars = doc.get("latent_bars") or None
        man = doc.get("manifest")
        res = cls(
            schema_version=int(doc["schema_version"]),
            snr_db=_numbers(doc["snr_db"]), budget=budget, metrics=metrics, curves=curves,
            metric_order=[str(m) for m in doc.get("metric_order", [])],
            link_order=[str(ln) for ln in doc.get("link_order", [])],
            aaddc={ln: {m: _numbers(v) for m, v in by.items()} for ln, by in doc.get("aaddc", {}).items()},
            aaddc_definition=str(doc.get("aaddc_definition", AADDC_DEFINITION)),
            breaking_budget={ln: {m: BreakingBudget(eps=_numbers(v["eps"]), jsr_db=_numbers(v["jsr_db"]))
                                  for m, v in by.items()} for ln, by in doc.get("breaking_budget", {}).items()},
            equivalent_snr_loss_db={ln: {m: _numbers(v) for m, v in by.items()}
                                    for ln, by in doc.get("equivalent_snr_loss_db", {}).items()},
            equivalent_snr_db={ln: {m: _numbers(v) for m, v in by.items()}
                               for ln, by in doc.get("equivalent_snr_db", {}).items()},
            equivalent_snr_status={ln: {m: [[str(x) for x in row] for row in v] for m, v in by.items()}
                                   for ln, by in doc.get("equivalent_snr_status", {}).items()},
            paired_gap={m: _curve(c) for m, c in doc.get("paired_gap", {}).items()},
            reference_curve=None if not ref else ReferenceCurve(
                snr_db=_numbers(ref["snr_db"]), channel=str(ref.get("channel", "")),
                curves={m: _curve(c) for m, c in ref["curves"].items()}),
            convergence=None if not conv else Convergence(
                steps=int(conv["steps"]), half_steps=int(conv["half_steps"]),
                distance_half=_numbers(conv["distance_half"]), distance_final=_numbers(conv["distance_final"]),
                restarts=int(conv.get("restarts", 1)), mode=str(conv.get("mode", "")),
                precision=conv.get("precision"), distance=str(conv.get("distance", "")),
                targeted=bool(conv.get("targeted", False)), starts=int(conv.get("starts", 1)),
                eot=None if conv.get("eot") is None else int(conv["eot"]),
                control_variate=bool(conv.get("control_variate", False)),
                curvature=int(conv.get("curvature", 0)), average=float(conv.get("average", 0.0))),
            draws=int(doc.get("draws", 1)),
            latent_bars=None if bars is None else LatentBars(
                snr_db=decode_number(bars["snr_db"]), eps=decode_number(bars["eps"]),
                z_abs=_numbers(bars["z_abs"]), z_adv_abs=_numbers(bars["z_adv_abs"]),
                delta_abs=_numbers(bars["delta_abs"])),
            channel=str(doc.get("channel", "")), control=doc.get("control"),
            reference=str(doc.get("reference", "input")), dataset=str(doc.get("dataset", "")),
            n_images=int(doc.get("n_images", 0)), skipped_metrics=dict(doc.get("skipped_metrics", {})),
            manifest=None if man is None else Manifest(
                **{k: man[k] for k in _MANIFEST_KEYS},
                extra={k: v for k, v in man.items() if k not in _MANIFEST_KEYS}),
            extra={k: v for k, v in doc.items() if k not in known},
        )
        res.check()
        return res

    def check(self) -> None:
        """Consistency of the grids and curves (what tables and plots index); raises ValueError."""
        S, E = len(self.snr_db), len(self.budget.eps)
        if not S or not E or len(self.budget.jsr_db) != E:
            raise ValueError("snr_db / budget grids are empty or inconsistent")
        if not 0 <= self.budget.highlight_index < E:
            raise ValueError(f"highlight_index {self.budget.highlight_index} is outside the {E} budgets")
        if self.budget.eps_unit not in ("link", "latent"):
            raise ValueError(f"budget.eps_unit must be link or latent; got {self.budget.eps_unit!r}")
        named = [(f"curve {ln}/{m}", m, c) for ln, by in self.curves.items() for m, c in by.items()]
        named += [(f"paired_gap/{m}", m, c) for m, c in self.paired_gap.items()]
        for what, m, c in named:
            if m not in self.metrics:
                raise ValueError(f"{what} of an undeclared metric")
            for part in (c.mean, c.lo, c.hi):
                if len(part) != S or any(len(row) != E for row in part):
                    raise ValueError(f"{what} is not {S} × {E}")
        if self.reference_curve is not None:
            K = len(self.reference_curve.snr_db)
            for m, c in self.reference_curve.curves.items():
                if any(len(part) != 1 or len(part[0]) != K for part in (c.mean, c.lo, c.hi)):
                    raise ValueError(f"reference curve {m} is not 1 × {K}")

    def iter_curves(self) -> Iterator[tuple[str, str, Curve]]:
        """``(link, metric, curve)`` in the stored orders."""
        for ln in self.links:
            for m in self.metric_names:
                c = self.curve(ln, m)
                if c is not None:
                    yield ln, m, c


def _curve_dict(c: Curve) -> dict[str, Any]:
    return {"mean": c.mean, "lo": c.lo, "hi": c.hi}


def _curve(c: dict[str, Any]) -> Curve:
    return Curve(mean=_numbers(c["mean"]), lo=_numbers(c.get("lo", c["mean"])), hi=_numbers(c.get("hi", c["mean"])))


def _unit(v: Any) -> str:
    if v not in ("link", "latent"):
        raise ValueError(f"budget.eps_unit must be link or latent; got {v!r}")
    return str(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"expected true/false, got {v!r}")
    return v


def _upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """Convert an older document to :data:`SCHEMA_VERSION`; refuse newer ones (``UsageError``)."""
    version = doc.get("schema_version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"schema_version must be a non-negative integer; got {version!r}")
    if version > SCHEMA_VERSION:
        raise UsageError(f"results schema version {version} is newer than this channelae reads "
                         f"({SCHEMA_VERSION}): upgrade channelae, or regenerate the results with "
                         "`channelae simulate --out DIR` (same options, see manifest.command)", "RESULTS_DIR")
    if version == 0:
        # Version 0: before the field existed. The first files also lacked the stored orders (metric_order,
        # link_order): the key order is then the best guess (sorted, as the file was written).
        doc.setdefault("metric_order", list(doc.get("metrics", {})))
        doc.setdefault("link_order", list(doc.get("curves", {})))
        version = 1
    if version == 1:
        # Version 1: ε was always the latent L2 norm (eps_relative = ε / mean ‖z‖); no paired statistics,
        # reference curve, convergence diagnostic or draws (one realisation per image).
        budget = dict(doc["budget"]) if isinstance(doc.get("budget"), dict) else doc.get("budget")
        if isinstance(budget, dict):
            budget.setdefault("eps_unit", "latent")
            gain, norm = budget.get("gain"), budget.get("mean_latent_norm")
            if "mean_symbol_norm" not in budget and isinstance(gain, (int, float)) and isinstance(norm, (int, float)):
                budget["mean_symbol_norm"] = gain * norm
            doc["budget"] = budget
        version = 2
    doc["schema_version"] = version
    return doc


def load(path: str | os.PathLike[str]) -> Results:
    """Read ``results.json`` from a results directory (or the file itself).

    :raises UsageError: (one line, argument ``RESULTS_DIR``) when the file is missing, unreadable, not a
        channelae results file, or of a newer schema version.
    """
    p = Path(path)
    f = p / RESULTS_NAME if p.is_dir() else p
    if not f.exists():
        raise UsageError(f"no {RESULTS_NAME} in {p} (run `channelae simulate --out {p}` first)", "RESULTS_DIR")
    try:
        return Results.from_dict(json.loads(f.read_text(encoding="utf-8")))
    except UsageError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError,
            AttributeError) as exc:
        raise UsageError(f"{f} is not a channelae results file ({type(exc).__name__}: {exc}); regenerate it "
                         "with `channelae simulate --out DIR`", "RESULTS_DIR") from None


# ------------------------------------------------------------------------------------------ side files


def read_samples(results_dir: str | os.PathLike[str]) -> dict[str, np.ndarray] | None:
    """``samples.safetensors`` of a results directory as float64 arrays, or ``None`` when absent.

    Keys (``k`` ≤ 8 images for the image grid, ``N`` all evaluated images): ``inputs``, ``clean``
    ``[k, C, H, W]``; ``{link}.samples`` ``[S, E, k, C, H, W]``; ``z`` and ``{link}.z_hat_highlight`` ``[N, d]``;
    ``labels`` ``[N]`` class labels (absent for data sets without classes and for older results).
    """
    f = Path(results_dir) / SAMPLES_NAME
    if not f.exists():
        return None
    from safetensors.numpy import load_file

    return {k: v.astype(np.float64) for k, v in load_file(str(f)).items()}


def read_per_image(results_dir: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """``per_image.safetensors`` (``{link}.{metric}`` → ``[S, E, N]``), or ``{}`` when absent or unreadable."""
    f = Path(results_dir) / PER_IMAGE_NAME
    if not f.exists():
        return {}
    from safetensors.numpy import load_file

    try:
        return dict(load_file(str(f)))
    except Exception:  # noqa: BLE001 - the per-image values only annotate plots
        return {}
