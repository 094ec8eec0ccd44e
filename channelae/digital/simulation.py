"""``simulate --link digital``: what :mod:`channelae.simulate` calls to run its steps on the digital link.

``channelae simulate`` (and a config's ``[[simulations]]`` table, key ``link``) runs the same plan on either
link: the requested channel, its equal-power noise control and the noise-only reference. With
``link = "digital"`` every one of them is a :class:`~channelae.digital.link.DigitalLink` with the same
settings (``bits``, ``code_rate``, ``qam``, ``equal_bandwidth``), and:

- **Budgets** are in link units on the digital link's QAM symbols: ε is the L2 norm of the perturbation of
  the example's ``n_c`` = :attr:`~channelae.digital.link.DigitalLink.num_channel_uses` unit-energy symbols,
  ``JSR = ε²/n_c`` (gain 1; on an ``ofdm`` grid the n of JSR is the grid's signal REs, as on the analog
  link). The plan computes ``n_c`` from the checkpoint's ``latent_dim`` and these settings
  (:func:`grid_units`), before any weights are loaded. Latent-unit budgets do not exist here (refused).
- **Common random numbers**: the three links get the chunk's generator; each jammer (the digital PGD jammer,
  the noise jammer, the reference's zero-budget noise jammer) takes exactly one seed from it, and receiver
  noise and fading draw one realisation shared by every SNR point and budget, so for one image the PGD
  link, the noise control and the reference see the same channel realisations, and their ε = 0 rows are
  bit-identical. Not shared: the PGD jammer's own search draws (its random starts and the receiver-noise
  draws inside its search) come from its private generator, as on the analog link.
- **Metrics**: image quality as on the analog link (against ``x``, or ``dec(Q(z))`` for ``reference =
  reconstruction``), plus the per-image error rates :data:`ERROR_RATES` (``ber``: payload bits after LDPC
  decoding; ``coded_ber``: coded bits before decoding, hard decisions of the demapper's LLRs; ``bler``: the
  fraction of the example's codewords decoded with an error). They are stored like metrics (``[S, E]``
  curves with 95 % t-intervals over images, the paired PGD − noise difference, per-image values in
  ``per_image.safetensors``), lower is better, without a limit line (no AADDC or breaking budget). The
  noise-only reference curve carries image quality only.
- **Reported**: ``results.json`` gains a top-level ``digital`` entry (:func:`describe`: bits, code, QAM,
  ``num_channel_uses`` beside ``analog_channel_uses``, the quantiser's range); ``budget.num_symbols`` is
  ``n_c`` and ``budget.mean_symbol_norm`` the nominal ``sqrt(n_c)`` (scrambled QAM has ``Es = 1`` on average).

Refused (one :class:`~channelae.errors.UsageError` line, exit code 2): the digital options on the analog link,
``eps_unit = latent``, image objectives of the PGD jammer (``target``, ``distance``), ``res``/``subcarriers``
(the digital PGD jammer perturbs every symbol of the example), bits outside 1…16, QAM orders other than
4…1024, LDPC rates outside ``[0.2, 0.95]`` (or 1 = uncoded), and an equal bandwidth no setting reaches.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from channelae._validation import check_int_range, check_one_of
from channelae.errors import UsageError

__all__ = [
    "DIGITAL_OPTIONS",
    "ERROR_RATES",
    "LINKS",
    "build_link",
    "check_config",
    "describe",
    "error_rate_specs",
    "grid_units",
    "rate_tensors",
]

#: The links ``simulate`` can run (``--link``).
LINKS: tuple[str, ...] = ("analog", "digital")
#: SimulationConfig fields (CLI options) that only the digital link takes.
DIGITAL_OPTIONS: tuple[str, ...] = ("bits", "code_rate", "qam", "equal_bandwidth")
#: Per-image error rates of the digital link, stored beside the quality metrics (module docstring).
ERROR_RATES: dict[str, str] = {
    "ber": "bit error rate of the payload after LDPC decoding",
    "coded_ber": "bit error rate of the coded bits before decoding (hard decisions of the demapper's LLRs)",
    "bler": "fraction of the example's LDPC codewords decoded with an error",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_config(config: Any) -> None:
    """The link choice and the digital options of a :class:`~channelae.simulate.SimulationConfig` (no model).

    :raises UsageError: one line naming the option (module docstring: what is refused).
    """
    from channelae.digital.plan import QAM_ORDERS, _check_rate
    from channelae.digital.quantize import MAX_BITS

    link = check_one_of(config.link, LINKS, "--link")
    if link == "analog":
        for name in DIGITAL_OPTIONS:
            value = getattr(config, name)
            if value is not None and value is not False:
                raise UsageError(f"applies to the digital link only; add --link digital or drop {_flag(name)}",
                                 _flag(name))
        return
    if config.bits is not None:
        check_int_range(config.bits, "--bits", 1, MAX_BITS)
    if config.qam is not None:
        check_one_of(config.qam, QAM_ORDERS, "--qam")
    if config.code_rate is not None:
        _check_rate(config.code_rate)
    if config.eps_unit != "link":
        raise UsageError("the digital link has no latent perturbation: its budgets are link units on the QAM "
                         "symbols (ε: L2 norm per example, Es = 1; JSR = ε²/n_c); use --eps-unit link",
                         "--eps-unit")
    for name in ("target", "distance"):
        if getattr(config, name) is not None:
            raise UsageError("the digital link's PGD jammer maximises the coded bits' cross-entropy of the "
                             f"demapper's LLRs; image objectives do not apply (drop --{name})", f"--{name}")
    for name, _ in config.channel_extra:
        if name in ("res", "subcarriers"):
            raise UsageError(f"{name} selects OFDM resource elements for the analog link's jammers; the digital "
                             "link's jammers perturb every symbol of the example (drop it or use --link analog)",
                             "--channel-option")


def grid_units(config: Any, meta: dict[str, Any]) -> tuple[float, int]:
    """``(gain, n_c)`` of the digital link for a checkpoint's metadata: gain 1 and its channel uses per example.

    :raises UsageError: ``--equal-bandwidth`` impossible for the model's latent size (the reason), or a bad
        setting (as :func:`~channelae.digital.link.resolve_plan`).
    """
    from channelae.digital.link import resolve_plan

    _, plan = resolve_plan(int(meta["config"]["latent_dim"]), bits=config.bits, code_rate=config.code_rate,
                           qam=config.qam, equal_bandwidth=bool(config.equal_bandwidth))
    return 1.0, plan.num_channel_uses


def build_link(config: Any, spec: str, ckpt: str | Path, device: torch.device,
               channel_options: dict[str, Any]) -> Any:
    """The :class:`~channelae.digital.link.DigitalLink` of one planned link (``spec``: its channel spec).

    ``config.equalizer`` ``lmmse`` and ``zf`` give the same LLRs on the digital link (one-tap channels); the
    analog-only ``attack_precision`` is dropped (the digital jammer searches in float64).
    """
    from channelae.digital.link import DigitalLink

    opts = {k: v for k, v in channel_options.items() if k != "attack_precision"}
    return DigitalLink.from_checkpoint(ckpt, spec, device=device, bits=config.bits, code_rate=config.code_rate,
                                       qam=config.qam, equal_bandwidth=bool(config.equal_bandwidth),
                                       equalizer=config.equalizer, channel_options=opts)


def error_rate_specs() -> dict[str, Any]:
    """:class:`~channelae.curves.MetricSpec` of each error rate: lower is better, no limit line (NaN)."""
    from channelae.curves import MetricSpec

    return {name: MetricSpec(name=name, higher_is_better=False, limit=math.nan, unit="",
                             limit_source=f"digital link: {why}; no limit line")
            for name, why in ERROR_RATES.items()}


def rate_tensors(link_name: str, output: Any, draws: int) -> dict[str, Tensor]:
    """``{link}.{rate}`` float64 ``[S, E, B]`` per-image error rates of a digital link's output (averaged over
    each image's ``draws`` realisations, which lie adjacent along the batch), on the CPU; ``{}`` for an
    output without error rates (the analog link)."""
    rates = getattr(output, "error_rates", None)
    if rates is None:
        return {}
    out = {}
    for name, v in rates().items():
        v = v.double()
        out[f"{link_name}.{name}"] = v.reshape(*v.shape[:-1], -1, draws).mean(-1).cpu()
    return out


def describe(link: Any) -> dict[str, Any]:
    """The ``digital`` entry of ``results.json``: :meth:`~channelae.digital.link.DigitalLink.describe` (bits,
    code plan with ``num_channel_uses`` and ``analog_channel_uses``, QAM, quantiser range, receiver) and the
    error rates' definitions."""
    return {**link.describe(), "error_rates": dict(ERROR_RATES)}
