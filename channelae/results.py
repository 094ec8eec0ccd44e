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
  :meth:`Results.link_title`).

Layout (``S`` SNR points, ``E`` budgets, in the stored orders): every curve is ``[S][E]`` (``curves[link][metric]``
with ``mean``/``lo``/``hi``), AADDCs and breaking budgets are ``[S]``, equivalent-SNR losses ``[S][E]``. Units:
SNR in dB Es/N0 per complex symbol (``inf`` = noiseless); ε = latent L2 norm per example; JSR in dB.

Versions: :data:`SCHEMA_VERSION` is written as ``schema_version``. Files without it (written before the field
existed, "version 0") are converted on load; files of a newer version are refused with one line.
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
    "CSV_NAME",
    "PER_IMAGE_NAME",
    "RESULTS_NAME",
    "SAMPLES_NAME",
    "SCHEMA_VERSION",
    "BreakingBudget",
    "Budget",
    "Curve",
    "LatentBars",
    "Manifest",
    "MetricInfo",
    "Results",
    "decode_number",
    "dumps_json",
    "encode_json",
    "format_number",
    "load",
    "read_per_image",
    "read_samples",
    "snr_label",
    "write_json",
]

#: Version of the ``results.json`` layout written by this module (``schema_version``).
SCHEMA_VERSION = 1
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
    """A metric's direction, limit line ``L`` (metric units) and unit (``""``: unitless; ``"dB"`` for PSNR)."""

    higher_is_better: bool
    limit: float
    unit: str = ""


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
    """The budget grid ``[E]``: ε (latent L2 norm per example, ε = 0 first), JSR (dB), ε / mean ‖z‖.

    :ivar highlight: the budget singled out in tables (``--eps E`` → E); ``highlight_index`` its index.
    :ivar gain: transmitter gain ``1/√P_ref``; ``num_symbols`` complex symbols per example; both convert ε to
        JSR (:mod:`channelae.definitions`).
    :ivar mean_latent_norm: mean clean ‖z‖₂ over the evaluated images (the unit of ``eps_relative``).
    """

    eps: list[float]
    jsr_db: list[float]
    highlight: float
    highlight_index: int
    eps_relative: list[float] | None = None
    gain: float | None = None
    num_symbols: int | None = None
    mean_latent_norm: float | None = None

    def grid(self) -> np.ndarray:
        """ε as a float64 ``[E]`` array."""
        return np.asarray(self.eps, dtype=np.float64)


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


@dataclass
class Results:
    """One simulation's results (``results.json``), numbers decoded (``inf``/``nan`` as floats).

    Maps are keyed ``[link][metric]``; links are ``jammer`` (the requested channel with its jammer),
    ``noise`` (its equal-power noise control, when the jammer is PGD) or ``link`` (no jammer).

    :ivar snr_db: ``[S]`` SNR points in dB (Es/N0 per complex symbol; ``inf`` = noiseless), as given.
    :ivar curves: ``[link][metric]`` → :class:`Curve` ``[S][E]``.
    :ivar aaddc: ``[link][metric]`` → ``[S]`` AADDC (metric × ε); empty per link for a single budget.
    :ivar breaking_budget: ``[link][metric]`` → :class:`BreakingBudget`.
    :ivar equivalent_snr_loss_db: ``[link][metric]`` → ``[S][E]`` dB (needs ≥ 2 SNR points).
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

    def link_title(self, link: str) -> str:
        """Human name of a link (``jammer`` → "PGD jammer" when the jammer is PGD, else "jammer")."""
        if link == "jammer" and self.channel and "pgd-jammer" not in self.channel:
            return "jammer"
        return LINK_TITLES.get(link, link)

    # ---------------------------------------------------------------------------------- (de)serialise

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (numbers as Python floats; :func:`encode_json` makes it strict JSON)."""
        doc: dict[str, Any] = {
            "schema_version": self.schema_version,
            "snr_db": list(self.snr_db),
            "budget": {k: v for k, v in vars(self.budget).items()
                       if v is not None or k in ("eps", "jsr_db", "highlight", "highlight_index")},
            "metrics": {k: {"higher_is_better": m.higher_is_better, "limit": m.limit, "unit": m.unit}
                        for k, m in self.metrics.items()},
            "metric_order": list(self.metric_order),
            "link_order": list(self.link_order),
            "curves": {ln: {m: {"mean": c.mean, "lo": c.lo, "hi": c.hi} for m, c in by.items()}
                       for ln, by in self.curves.items()},
            "aaddc": self.aaddc,
            "aaddc_definition": self.aaddc_definition,
            "breaking_budget": {ln: {m: {"eps": b.eps, "jsr_db": b.jsr_db} for m, b in by.items()}
                                for ln, by in self.breaking_budget.items()},
            "equivalent_snr_loss_db": self.equivalent_snr_loss_db,
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
        """``results.csv``: one row per (link, metric, SNR, ε) with mean and 95 % interval (stored orders)."""
        lines = ["link,metric,snr_db,eps,jsr_db,mean,lo,hi"]
        eps, jsr = self.budget.eps, self.budget.jsr_db
        for lname, mname, c in self.iter_curves():
            for si, s in enumerate(self.snr_db):
                for ei, e in enumerate(eps):
                    lines.append(f"{lname},{mname},{s},{e:.6g},{jsr[ei]:.6g},{c.mean[si][ei]:.8g},"
                                 f"{c.lo[si][ei]:.8g},{c.hi[si][ei]:.8g}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Results:
        """Parse a JSON document (any supported schema version); raises KeyError/TypeError/ValueError."""
        if not isinstance(doc, dict):
            raise TypeError("the top level is not an object")
        doc = _upgrade(dict(doc))
        known = {"schema_version", "snr_db", "budget", "metrics", "metric_order", "link_order", "curves",
                 "aaddc", "aaddc_definition", "breaking_budget", "equivalent_snr_loss_db", "latent_bars",
                 "channel", "control", "reference", "dataset", "n_images", "skipped_metrics", "manifest"}
        b = doc["budget"]
        budget = Budget(
            eps=_numbers(b["eps"]), jsr_db=_numbers(b["jsr_db"]), highlight=decode_number(b["highlight"]),
            highlight_index=int(b["highlight_index"]),
            eps_relative=_numbers(b["eps_relative"]) if "eps_relative" in b else None,
            gain=decode_number(b["gain"]) if "gain" in b else None,
            num_symbols=int(b["num_symbols"]) if "num_symbols" in b else None,
            mean_latent_norm=decode_number(b["mean_latent_norm"]) if "mean_latent_norm" in b else None,
        )
        metrics = {k: MetricInfo(higher_is_better=_bool(m["higher_is_better"]), limit=decode_number(m["limit"]),
                                 unit=str(m.get("unit", "")))
                   for k, m in doc["metrics"].items()}
        curves = {ln: {m: Curve(mean=_numbers(c["mean"]), lo=_numbers(c.get("lo", c["mean"])),
                                hi=_numbers(c.get("hi", c["mean"])))
                       for m, c in by.items()} for ln, by in doc["curves"].items()}
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
        for ln, by in self.curves.items():
            for m, c in by.items():
                if m not in self.metrics:
                    raise ValueError(f"curve {ln}/{m} of an undeclared metric")
                for part in (c.mean, c.lo, c.hi):
                    if len(part) != S or any(len(row) != E for row in part):
                        raise ValueError(f"curve {ln}/{m} is not {S} × {E}")

    def iter_curves(self) -> Iterator[tuple[str, str, Curve]]:
        """``(link, metric, curve)`` in the stored orders."""
        for ln in self.links:
            for m in self.metric_names:
                c = self.curve(ln, m)
                if c is not None:
                    yield ln, m, c


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
        doc["schema_version"] = 1
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
