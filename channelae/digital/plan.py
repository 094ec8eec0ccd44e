"""How one example's bits become channel uses: LDPC codeword segmentation, padding, QAM symbols.

An example carries ``K = d·k`` payload bits (``d`` latent dimensions, ``k`` bits each). With the 5G LDPC code
of requested rate ``r`` and ``M``-QAM (``m = log2 M`` bits per symbol):

- **Segmentation**: ``C = ceil(K / k_max)`` codewords per example, with ``k_max`` = :data:`LDPC_K_MAX` (8448,
  the largest 5G block, base graph 1) — or :data:`LDPC_K_MAX_LOW_RATE` (3824) when the rate is below 1/3,
  where 5G requires base graph 2 (blocks ≤ 3840). Each codeword carries ``k_cw = max(12, ceil(K / C))``
  information bits (5G's smallest block is 12 bits).
- **Padding**: the last ``C·k_cw − K`` information bits are zeros (transmitted and discarded by the
  receiver; at most ``C − 1`` bits, or up to 11 for a payload under 12 bits).
- **Codeword length**: ``n_cw = m·ceil(k_cw / (r·m))`` — rounded *up* to whole QAM symbols, so the actual rate
  ``k_cw / n_cw`` is at most the requested one (:attr:`CodePlan.code_rate` reports it). 5G allows actual rates
  in ``[1/5, 0.95]``.
- **Channel uses** per example: ``n_c = C·n_cw / m`` complex symbols (:attr:`CodePlan.num_channel_uses`);
  the analog link uses ``n = ceil(d/2)``.

Uncoded (``code_rate=None``): one block of ``K`` bits padded with zeros to a multiple of ``m``.

:func:`equal_bandwidth` picks bits/rate/QAM so that ``n_c`` equals the analog ``n`` exactly (rule in its doc).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from channelae._validation import check_int_range, check_one_of
from channelae.definitions import num_symbols
from channelae.errors import UsageError

__all__ = [
    "DEFAULT_MAX_CODE_RATE",
    "LDPC_K_MAX",
    "LDPC_K_MAX_LOW_RATE",
    "LDPC_K_MIN",
    "LDPC_RATE_MAX",
    "LDPC_RATE_MIN",
    "QAM_ORDERS",
    "CodePlan",
    "equal_bandwidth",
    "plan_code",
]

#: Largest information block of a 5G LDPC codeword (base graph 1).
LDPC_K_MAX: int = 8448
#: Largest block used below rate 1/3 (5G then needs base graph 2, which takes at most 3840 bits; 3824 keeps
#: Sionna's base-graph selection on BG2 for every rate < 1/3).
LDPC_K_MAX_LOW_RATE: int = 3824
#: Smallest information block of a 5G LDPC codeword.
LDPC_K_MIN: int = 12
#: Code-rate limits of 5G LDPC with rate matching (no repetition below 1/5).
LDPC_RATE_MIN: float = 0.2
LDPC_RATE_MAX: float = 0.95
#: QAM orders the link accepts (Sionna's square Gray-labelled QAM, unit average energy).
QAM_ORDERS: tuple[int, ...] = (4, 16, 64, 256, 1024)
#: Default rate cap of :func:`equal_bandwidth`.
DEFAULT_MAX_CODE_RATE: float = 0.75


@dataclass(frozen=True)
class CodePlan:
    """Bits → codewords → symbols of one example (see the module docstring).

    :ivar payload_bits: ``K = d·k`` information bits of the latent.
    :ivar bits_per_symbol: ``m = log2(QAM order)``.
    :ivar num_codewords: ``C`` codewords per example (1 when uncoded).
    :ivar info_bits: ``k_cw`` information bits per codeword, padding included.
    :ivar codeword_bits: ``n_cw`` coded bits per codeword (``= k_cw`` when uncoded).
    :ivar coded: ``False`` for the uncoded link.
    """

    payload_bits: int
    bits_per_symbol: int
    num_codewords: int
    info_bits: int
    codeword_bits: int
    coded: bool = True

    @property
    def qam(self) -> int:
        """QAM order ``2^m``."""
        return 2**self.bits_per_symbol

    @property
    def padding(self) -> int:
        """Zero bits appended to the payload: ``C·k_cw − K``."""
        return self.num_codewords * self.info_bits - self.payload_bits

    @property
    def code_rate(self) -> float:
        """Actual code rate ``k_cw / n_cw`` (1 when uncoded)."""
        return self.info_bits / self.codeword_bits

    @property
    def coded_bits(self) -> int:
        """Coded bits per example ``C·n_cw``."""
        return self.num_codewords * self.codeword_bits

    @property
    def symbols_per_codeword(self) -> int:
        """Complex symbols per codeword ``n_cw / m``."""
        return self.codeword_bits // self.bits_per_symbol

    @property
    def num_channel_uses(self) -> int:
        """Complex channel uses (symbols) per example ``n_c = C·n_cw / m``."""
        return self.coded_bits // self.bits_per_symbol

    def as_dict(self) -> dict[str, Any]:
        """Fields and derived values, for reports."""
        return {**asdict(self), "qam": self.qam, "padding": self.padding, "code_rate": self.code_rate,
                "coded_bits": self.coded_bits, "num_channel_uses": self.num_channel_uses}


def bits_per_symbol(qam: int) -> int:
    """``log2(qam)`` for an accepted QAM order (:data:`QAM_ORDERS`)."""
    check_one_of(qam, QAM_ORDERS, "--qam")
    return int(qam).bit_length() - 1


def _check_rate(code_rate: float | None) -> float | None:
    if code_rate is None:
        return None
    try:
        r = float(code_rate)
    except (TypeError, ValueError):
        raise UsageError(f"must be a number in [{LDPC_RATE_MIN}, {LDPC_RATE_MAX}] or 1 (uncoded); got "
                         f"{code_rate!r}", "--code-rate") from None
    if r == 1.0:
        return None
    if not (LDPC_RATE_MIN <= r <= LDPC_RATE_MAX):
        raise UsageError(f"5G LDPC rates must lie in [{LDPC_RATE_MIN}, {LDPC_RATE_MAX}] (or 1 = uncoded); got "
                         f"{code_rate!r}", "--code-rate")
    return r


def plan_code(payload_bits: int, qam: int, code_rate: float | None) -> CodePlan:
    """The segmentation of ``payload_bits`` for ``qam`` and ``code_rate`` (``None`` or 1: uncoded).

    :raises UsageError: rate outside ``[0.2, 0.95]``, unknown QAM order.
    """
    K = check_int_range(payload_bits, "payload_bits", 1)
    m = bits_per_symbol(qam)
    r = _check_rate(code_rate)
    if r is None:
        n = m * math.ceil(K / m)
        return CodePlan(K, m, 1, n, n, coded=False)
    k_max = LDPC_K_MAX
    while True:
        C = math.ceil(K / k_max)
        k_cw = max(LDPC_K_MIN, math.ceil(K / C))
        n_cw = m * math.ceil(k_cw / (r * m) - 1e-9)
        if k_cw / n_cw < LDPC_RATE_MIN:  # rounding up to whole symbols went below 5G's lowest rate
            n_cw -= m
        if k_cw / n_cw < 1 / 3 and k_cw > LDPC_K_MAX_LOW_RATE:
            k_max = LDPC_K_MAX_LOW_RATE
            continue
        return CodePlan(K, m, C, k_cw, n_cw)


def _fits(K: int, m: int, n: int, max_rate: float) -> CodePlan | None:
    """A coded plan of exactly ``n`` symbols for ``K`` bits on ``2^m``-QAM with rate ≤ ``max_rate``, if any."""
    for C in range(max(1, math.ceil(K / LDPC_K_MAX)), n + 1):
        if n % C:
            continue
        k_cw = max(LDPC_K_MIN, math.ceil(K / C))
        n_cw = (n // C) * m
        r = k_cw / n_cw
        if r > min(max_rate, LDPC_RATE_MAX):
            return None  # more codewords only shorten them further
        if r < LDPC_RATE_MIN or k_cw > LDPC_K_MAX or (r < 1 / 3 and k_cw > LDPC_K_MAX_LOW_RATE):
            continue
        return CodePlan(K, m, C, k_cw, n_cw)
    return None


def equal_bandwidth(
    latent_dim: int,
    *,
    bits: int | None = None,
    qam: int | None = None,
    max_code_rate: float = DEFAULT_MAX_CODE_RATE,
    max_bits: int = 12,
) -> tuple[int, CodePlan]:
    """Bits per dimension and code plan that use exactly the analog link's ``n = ceil(d/2)`` channel uses.

    Rule: among bits ``k ∈ [1, max_bits]`` (or the given ``bits``) and QAM orders :data:`QAM_ORDERS` (or the
    given ``qam``), keep the settings whose LDPC code fills exactly ``n`` symbols (``C`` codewords of
    ``n/C`` symbols each, ``C`` dividing ``n``, ``k_cw = max(12, ceil(d·k/C))`` information bits, actual
    rate ``k_cw/n_cw`` within 5G's ``[0.2, 0.95]`` and at most ``max_code_rate``); pick the most bits per
    dimension, then the smallest QAM order (the highest rate that is allowed — as 5G's MCS tables prefer a
    lower-order constellation at equal spectral efficiency). ``max_code_rate ≥ 1`` also admits the uncoded
    link (``d·k`` bits padded to ``n·m``).

    :return: ``(bits, plan)``; ``plan.num_channel_uses == ceil(d/2)``.
    :raises UsageError: when no setting fits (the message says why).
    """
    d = check_int_range(latent_dim, "latent_dim", 1)
    n = num_symbols(d)
    if not (isinstance(max_code_rate, (int, float)) and max_code_rate >= LDPC_RATE_MIN):
        raise UsageError(f"must be a number >= {LDPC_RATE_MIN}; got {max_code_rate!r}", "--code-rate")
    ks = [check_int_range(bits, "--bits", 1, 16)] if bits is not None else list(range(max_bits, 0, -1))
    qams = [qam] if qam is not None else list(QAM_ORDERS)
    ms = [bits_per_symbol(q) for q in qams]
    for k in ks:
        for m in sorted(ms):
            plan = _fits(d * k, m, n, max_code_rate)
            if plan is None and max_code_rate >= 1 and d * k <= n * m:
                plan = CodePlan(d * k, m, 1, n * m, n * m, coded=False)
            if plan is not None:
                return k, plan
    # Nothing fits: say why, with the densest constellation and the fewest bits allowed.
    m_top, k_low = max(ms), min(ks)
    cap = min(max_code_rate, LDPC_RATE_MAX)
    need = max(LDPC_K_MIN, d * k_low)
    what = f"bits={k_low}" if bits is not None else "1 bit per dimension"
    if need > cap * n * m_top:
        why = (f"the analog link's n={n} channel uses carry at most {n * m_top} coded bits on {2**m_top}-QAM, "
               f"but {what} needs {need} information bits per codeword (5G LDPC: k >= {LDPC_K_MIN}) at a rate "
               f"<= {cap:g}; allow more QAM orders, fewer bits or a higher --code-rate")
    else:
        why = (f"every allowed setting either exceeds the rate cap {cap:g} or falls below 5G's lowest rate "
               f"{LDPC_RATE_MIN} on n={n} channel uses; allow other QAM orders or bits")
    raise UsageError(f"equal bandwidth is impossible for latent_dim={d}: {why}", "--equal-bandwidth")
