"""``ofdm``: the latent symbols carried on an OFDM resource grid through a 3GPP TDL/CDL channel (Sionna 2.x).

What it does, per example (one example per resource grid)
---------------------------------------------------------
1. The transmitter's ``n`` complex symbols (``state.y [..., n]``, ``Es = 1``) fill the first ``n`` data resource
   elements (REs) of a Sionna :class:`~sionna.phy.ofdm.ResourceGrid` in Sionna's mapping order (OFDM symbol by
   OFDM symbol, subcarriers in increasing order), by :class:`~sionna.phy.ofdm.ResourceGridMapper`; data REs
   left over (``< ceil(n/F)·F − n`` of them, fewer than one OFDM symbol) carry zeros ("unused"). Pilot REs
   carry Sionna's Kronecker pilots: QPSK of unit energy, the same fixed sequence in every run.
2. The channel is a frequency-domain SISO link, :class:`~sionna.phy.channel.GenerateOFDMChannel` (one channel
   frequency response per RE, constant over an OFDM symbol, evolving across OFDM symbols with the Doppler of
   ``speed``) of a ``tr38901.TDL`` or ``tr38901.CDL`` model, applied by
   :class:`~sionna.phy.channel.ApplyOFDMChannel`: ``y_re = h_re · x_re``. The cyclic prefix is assumed to
   cover the channel's delays (no inter-symbol interference: the frequency-domain model); its length only
   stretches the OFDM symbol duration, i.e. how far the channel moves between OFDM symbols.
3. The state leaving this stage lives on the GRID: ``y [..., R]`` and ``h [..., R]`` (``R = T·F`` REs,
   flattened OFDM-symbol-major: RE ``r`` is OFDM symbol ``r // F``, subcarrier ``r % F``), ``no``
   unchanged, ``grid`` = a :class:`GridInfo` (kind, OFDM symbol and subcarrier of every RE) and ``rx`` =
   :meth:`OFDM.receive`. Stages after it (``awgn``, which the link appends since this stage adds no noise;
   a jammer) act on the grid per RE: receiver noise ``CN(0, N0)`` is added to every RE, pilots included.
4. The receiver (:func:`channelae.link.receiver.equalize`) first calls ``state.rx``: channel estimation
   (``estimator="perfect"``: ``ĥ = state.h``, error variance 0; ``"ls"``: Sionna's
   :class:`~sionna.phy.ofdm.LSChannelEstimator` on the received pilots, error variance ``N0/|p|² = N0``, with
   ``nn`` or ``lin`` interpolation), then Sionna's :class:`~sionna.phy.ofdm.LMMSEEqualizer`
   (``LMMSEEqualizer(y, ĥ, err_var, no)``), which also extracts the data REs, and keeps the first ``n``.
   Sionna's LMMSE output is the *unbiased* estimate, which for one antenna is ``x̃ = y/ĥ`` with effective noise
   ``no_eff = (N0 + err_var)/|ĥ|²``. ``rx`` returns ``y = x̃ [..., n]``, ``h = 1``, ``no = no_eff`` and no grid,
   so the receiver's own equaliser then acts on that symbol-level state: ``lmmse`` (default) gives
   ``x̃/(1 + no_eff) = conj(ĥ)·y/(|ĥ|² + N0 + err_var)``, the per-symbol LMMSE estimate, exactly the flat
   link's ``conj(h)·y/(|h|² + N0)`` under perfect CSI; ``zf`` gives ``x̃ = y/ĥ``; ``none`` gives ``x̃``. The
   receiver's ``csi`` option has no effect after ``rx`` (``h = 1``): CSI is chosen here with ``estimator``.

SNR and pilots
--------------
SNR keeps its meaning: Es/N0 per complex DATA symbol, ``Es = 1`` (the transmitter's fixed gain), noise
``N0 = 10^(−snr_db/10)`` per RE. Pilots have the same energy (``|p|² = 1``, equal-energy pilots), so the
pilot SNR is the same Es/N0. Pilot overhead is not charged to the data symbols (SNR is per RE, not per
information symbol). The channel has unit average power (``E|h|² = 1``: Sionna's power delay profiles are
normalised; ``normalize_channel=False``, so each realisation keeps its own power), so the average received
Es/N0 per data RE is the link SNR too.

Default grid (sized from ``n``)
-------------------------------
``fft_size = ceil(n / ceil(n/128))`` subcarriers (so the data fit in ``ceil(n/128)`` OFDM symbols, at most 128
subcarriers wide, and at most ``ceil(n/128) − 1`` data REs stay unused); one pilot OFDM symbol first
(``pilot_ofdm_symbol_indices = [0]``) for a static channel (``speed = 0``), or one first and one last
(``[0, T−1]``) when the UE moves, so that ``lin`` interpolation tracks the channel across time; then
``num_ofdm_symbols = pilot symbols + ceil(n/fft_size)``. E.g. ``n = 5`` (MNIST, d = 10): a 2 × 5 grid, OFDM
symbol 0 = 5 pilots, OFDM symbol 1 = the 5 data symbols; ``n = 64`` (CelebA): 2 × 64. One example per grid keeps
every per-example quantity (jammer budgets over the example's REs, channel realisation) per example.

Jammers on the grid
-------------------
A ``pgd-jammer`` or ``noise-jammer`` after this stage (``ofdm+pgd-jammer``) perturbs REs of the grid: the ones
its ``res`` (``data``, ``pilots``, ``all`` = data and pilots, the default; never unused REs) and
``subcarriers`` (``START:STOP``, STOP exclusive: partial-band jamming) options select (:meth:`GridInfo.mask`),
with exactly zero on every other RE. ``placement=rx`` adds ``δ`` to the received grid before the channel
estimation (so jammed pilots corrupt ``ĥ``), ``tx`` adds ``h·δ`` (the perturbation rides through the channel).
Budgets keep their definitions per example (link units): ε = ‖δ‖₂ over the example's grid, ``JSR =
‖δ‖²/(n_signal·Es)`` with ``n_signal`` = the REs that carry signal, ``n`` data + the pilots
(:attr:`GridInfo.num_transmitted`, :meth:`OFDM.signal_symbols`); see :mod:`channelae.channels._budget`. The
PGD jammer sees ``h`` (white box) and optimises through the rest of the link: noise, :meth:`OFDM.receive`
(LS estimation, LMMSE equalisation, demapping) and the decoder.

Randomness
----------
Every channel realisation comes from the ``generator`` passed to :meth:`OFDM.apply`: one per example, drawn
with size 1 along ``state.shared_dims`` and broadcast (common random numbers: inside a Link every SNR point,
and every budget, of an image sees the same channel; :mod:`channelae.channels.base`). Sionna's channel models
draw from ``sionna.phy.config.torch_rng(device)`` (a per-device ``torch.Generator``, seeded from
``config.seed``), not from an argument. So each call draws one 63-bit seed from our generator, seeds Sionna's
generator of that device with it for the duration of the draw and restores that generator's previous state
afterwards: the same generator state gives bit-identical ``h`` (common random numbers between links), our
generator advances by one draw, and Sionna's own stream (``config.seed`` users) is left where it was. The
pilot sequence is drawn the same way with the fixed seed :data:`PILOT_SEED`. Importing Sionna reseeds
torch's global generators (its ``config`` sets a random seed at import); :func:`sionna_phy` restores them.

Cost: Sionna is imported only when a grid is first built (seconds); ``channelae`` runs that do not use ``ofdm``
never import it. Sionna's ``LinearInterpolator`` gives NaN gradients when there is only one pilot OFDM symbol
(its time slope is ``torch.where(x1 != x0, (y1 − y0)/(x1 − x0), 0)``, 0/0 in the unused branch); with one
pilot OFDM symbol and one stream (pilots on every subcarrier) linear interpolation equals nearest-neighbour
interpolation (to float rounding), so ``interpolation="lin"`` then uses Sionna's ``NearestNeighborInterpolator``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from channelae._validation import (
    broadcast_shapes,
    check_int_range,
    check_non_negative,
    check_one_of,
    check_positive,
)
from channelae.channels import CHANNELS
from channelae.channels.awgn import check_complex
from channelae.channels.base import Channel, ChannelState, Tail, draw_shape
from channelae.errors import UsageError

__all__ = [
    "DATA",
    "ESTIMATORS",
    "INTERPOLATIONS",
    "MODELS",
    "OFDM",
    "PILOT",
    "PILOT_PATTERNS",
    "PILOT_SEED",
    "PROFILES",
    "RES_CHOICES",
    "UNUSED",
    "GridInfo",
    "parse_subcarriers",
    "sionna_phy",
]

#: Kinds of resource elements in :attr:`GridInfo.kind`.
DATA, PILOT, UNUSED = 0, 1, 2
#: Resource-element sets a grid jammer may select (:meth:`GridInfo.mask`).
RES_CHOICES: tuple[str, ...] = ("data", "pilots", "all")
MODELS: tuple[str, ...] = ("tdl", "cdl")
#: The scalable TR 38.901 profiles (delays scaled by ``delay_spread``), for TDL and CDL alike.
PROFILES: tuple[str, ...] = ("A", "B", "C", "D", "E")
ESTIMATORS: tuple[str, ...] = ("ls", "perfect")
INTERPOLATIONS: tuple[str, ...] = ("lin", "nn")
PILOT_PATTERNS: tuple[str, ...] = ("kronecker", "empty")
#: Seed of Sionna's generator while the Kronecker pilot sequence is drawn (fixed: the same pilots every run).
PILOT_SEED = 0
#: Widest default grid (subcarriers); larger ``n`` spread over more OFDM symbols.
MAX_DEFAULT_SUBCARRIERS = 128

_PRECISION = {torch.complex64: "single", torch.complex128: "double"}


def sionna_phy() -> Any:
    """Import ``sionna.phy`` (seconds, once) and return it, leaving torch's global RNG states as they were.

    Sionna's ``config`` reseeds torch's default CPU (and CUDA) generators at import; a run seeded with
    ``torch.manual_seed`` must not change because a channel imported Sionna.
    """
    if "sionna.phy" not in sys.modules:
        cpu = torch.random.get_rng_state()
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        try:
            import sionna.phy
            import sionna.phy.channel.tr38901
            import sionna.phy.mimo
            import sionna.phy.ofdm  # noqa: F401
        finally:
            torch.random.set_rng_state(cpu)
            if cuda is not None:
                torch.cuda.set_rng_state_all(cuda)
    return sys.modules["sionna.phy"]


def _sionna_device(device: torch.device) -> str:
    """Sionna's name of a torch device (``cpu``, ``cuda:N``)."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.current_device() if device.index is None else device.index}"
    if device.type != "cpu":
        raise ValueError(f"ofdm: Sionna runs on cpu or cuda devices; got {device}")
    return "cpu"


@contextmanager
def sionna_seeded(device: str, seed: int) -> Iterator[None]:
    """Run Sionna draws on ``device`` from ``seed``, then restore Sionna's generator of that device."""
    gen = sionna_phy().config.torch_rng(device)
    saved = gen.get_state()
    gen.manual_seed(int(seed))
    try:
        yield
    finally:
        gen.set_state(saved)


def draw_seed(generator: torch.Generator | None, device: torch.device) -> int:
    """One 63-bit seed from ``generator`` (``None``: torch's global generator of ``device``)."""
    dev = generator.device if generator is not None else device
    return int(torch.randint(0, 2**63 - 1, (), generator=generator, device=dev))


def parse_subcarriers(value: str | Sequence[int] | slice | None, fft_size: int | None,
                      argument: str = "subcarriers") -> tuple[int, int | None]:
    """``START:STOP`` (Python slice of subcarrier indices, STOP exclusive; either may be empty), a pair or a
    ``slice`` → ``(start, stop)`` with ``0 <= start < stop <= fft_size``; ``None`` → the whole band.

    ``fft_size = None`` (the grid is not known yet: a jammer's constructor) checks the syntax and
    ``0 <= START < STOP`` only, and gives ``stop = None`` for an open STOP.
    """
    if value is None:
        return 0, fft_size
    if isinstance(value, slice):
        if value.step not in (None, 1):
            raise UsageError(f"must be START:STOP without a step; got {value!r}", argument)
        parts: list[Any] = [value.start, value.stop]
    elif isinstance(value, str):
        parts = value.split(":")
        if len(parts) != 2:
            raise UsageError(f"must look like START:STOP (subcarrier indices, STOP exclusive); got {value!r}",
                             argument)
        parts = [p.strip() or None for p in parts]
    else:
        if isinstance(value, (bytes, dict)) or not isinstance(value, Sequence) or len(value) != 2:
            raise UsageError(f"must be START:STOP or a (start, stop) pair; got {value!r}", argument)
        parts = list(value)
    try:
        start = 0 if parts[0] is None else _index(parts[0])
        stop = fft_size if parts[1] is None else _index(parts[1])
    except (TypeError, ValueError):
        raise UsageError(f"START and STOP must be integers; got {value!r}", argument) from None
    if fft_size is None:
        if start < 0 or (stop is not None and stop <= start):
            raise UsageError(f"needs 0 <= START < STOP (subcarrier indices, STOP exclusive); got {value!r}",
                             argument)
        return start, stop
    if not 0 <= start < stop <= fft_size:
        raise UsageError(f"needs 0 <= START < STOP <= {fft_size} (the grid's subcarriers); got {value!r}",
                         argument)
    return start, stop


def _index(v: Any) -> int:
    """An integer index from an int or a string of one (``"3"``, not ``"3.5"`` nor ``True``)."""
    if isinstance(v, bool):
        raise TypeError(v)
    return int(v) if isinstance(v, int) else int(str(v).strip())


@dataclass(frozen=True, eq=False)
class GridInfo:
    """Layout of one example's resource grid, flattened OFDM-symbol-major to ``R = T·F`` REs.

    :ivar kind: ``int8 [R]``: :data:`DATA` (carries one of the ``n`` symbols), :data:`PILOT` or :data:`UNUSED`
        (a data RE left over, transmitting zero).
    :ivar symbol: ``int64 [R]`` OFDM symbol index of each RE; ``subcarrier``: ``int64 [R]`` subcarrier index.
    :ivar data_index: ``int64 [n]``: the RE carrying latent symbol ``k`` is ``data_index[k]``.
    :ivar num_ofdm_symbols: ``T``; ``fft_size``: ``F``; ``subcarrier_spacing`` in Hz.
    :ivar pilot_ofdm_symbol_indices: OFDM symbols carrying pilots (empty without pilots).

    Tensors live on the CPU; :meth:`mask` puts its result on a given device.
    """

    kind: Tensor
    symbol: Tensor
    subcarrier: Tensor
    data_index: Tensor
    num_ofdm_symbols: int
    fft_size: int
    subcarrier_spacing: float
    pilot_ofdm_symbol_indices: tuple[int, ...]

    @property
    def num_res(self) -> int:
        """REs per example ``R = T·F`` (the last dimension of ``y`` and ``h`` on the grid)."""
        return self.num_ofdm_symbols * self.fft_size

    @property
    def num_data(self) -> int:
        """REs carrying latent symbols (``n``)."""
        return int(self.data_index.numel())

    @property
    def num_pilots(self) -> int:
        """Pilot REs per example."""
        return int((self.kind == PILOT).sum())

    @property
    def num_transmitted(self) -> int:
        """REs carrying energy: ``n`` data + pilots (each ``Es = 1`` on average): the example's signal REs."""
        return self.num_data + self.num_pilots

    def mask(self, res: str = "all", subcarriers: str | Sequence[int] | slice | None = None,
             device: torch.device | str | None = None) -> Tensor:
        """Boolean ``[R]``: the REs of kind ``res`` (``data``, ``pilots`` or ``all`` = data and pilots; unused
        REs never) on subcarriers ``START:STOP`` (see :func:`parse_subcarriers`; ``None`` = all).

        :raises UsageError: for a bad ``res``/``subcarriers`` or a selection without any RE.
        """
        check_one_of(res, RES_CHOICES, "res")
        start, stop = parse_subcarriers(subcarriers, self.fft_size)
        kinds = {"data": (DATA,), "pilots": (PILOT,), "all": (DATA, PILOT)}[res]
        m = torch.zeros(self.num_res, dtype=torch.bool)
        for k in kinds:
            m |= self.kind == k
        m &= (self.subcarrier >= start) & (self.subcarrier < stop)
        if not bool(m.any()):
            raise UsageError(f"selects no resource element of this grid ({self.num_ofdm_symbols} OFDM symbols × "
                             f"{self.fft_size} subcarriers, {self.num_pilots} pilots): res={res!r}, "
                             f"subcarriers={start}:{stop}", "res" if res == "pilots" else "subcarriers")
        return m if device is None else m.to(device)


@dataclass(frozen=True)
class _Layout:
    fft_size: int
    num_ofdm_symbols: int
    pilots: tuple[int, ...]


class _Blocks:
    """The Sionna objects for one (n, device, precision): grid, mapper, channel, estimator, equaliser."""

    def __init__(self, ch: OFDM, n: int, layout: _Layout, device: str, precision: str) -> None:
        sionna_phy()
        import numpy as np
        from sionna.phy.channel import ApplyOFDMChannel, GenerateOFDMChannel
        from sionna.phy.channel.tr38901 import CDL, TDL, Antenna
        from sionna.phy.mimo import StreamManagement
        from sionna.phy.ofdm import (
            LMMSEEqualizer,
            LSChannelEstimator,
            ResourceGrid,
            ResourceGridMapper,
        )

        kw = {"precision": precision, "device": device}
        with sionna_seeded(device, PILOT_SEED):  # Kronecker pilots are drawn at construction
            self.rg = ResourceGrid(
                num_ofdm_symbols=layout.num_ofdm_symbols, fft_size=layout.fft_size,
                subcarrier_spacing=ch.subcarrier_spacing, cyclic_prefix_length=ch.cyclic_prefix_length,
                pilot_pattern=ch.pilot_pattern, pilot_ofdm_symbol_indices=list(layout.pilots) or None, **kw)
        self.mapper = ResourceGridMapper(self.rg, **kw)
        if ch.model == "tdl":
            cir = TDL(ch.profile, ch.delay_spread, ch.carrier_frequency, min_speed=ch.speed, max_speed=ch.speed,
                      **kw)
        else:  # SISO CDL, omnidirectional antennas at both ends (unit gain: E|h|² = 1), downlink
            ant = Antenna("single", "V", "omni", ch.carrier_frequency, **kw)
            cir = CDL(ch.profile, ch.delay_spread, ch.carrier_frequency, ut_array=ant, bs_array=ant,
                      direction="downlink", min_speed=ch.speed, max_speed=ch.speed, **kw)
        self.generate = GenerateOFDMChannel(cir, self.rg, **kw)
        self.apply = ApplyOFDMChannel(**kw)
        interpolation = ch.interpolation
        if interpolation == "lin" and len(layout.pilots) == 1:
            interpolation = "nn"  # the same estimates; Sionna's "lin" has NaN gradients here (module doc)
        self.estimator = LSChannelEstimator(self.rg, interpolation_type=interpolation, **kw) \
            if ch.estimator == "ls" else None
        # whiten_interference=False: Sionna's whitening takes a Cholesky factor of the noise covariance,
        # singular at N0 = 0 (snr_db = inf) with perfect CSI.
        self.equalizer = LMMSEEqualizer(self.rg, StreamManagement(np.ones([1, 1]), 1), whiten_interference=False, **kw)
        self.device = device

        rg_type = self.rg.build_type_grid()[0, 0].flatten().cpu()  # [R]: 0 data, 1 pilot (no guards/DC here)
        kind = torch.where(rg_type == 1, PILOT, DATA).to(torch.int8)
        data_res = (rg_type == 0).nonzero().flatten()  # Sionna's data order = raster order
        kind[data_res[n:]] = UNUSED
        R = layout.num_ofdm_symbols * layout.fft_size
        self.num_data_res = int(data_res.numel())
        self.info = GridInfo(
            kind=kind, symbol=torch.arange(R) // layout.fft_size, subcarrier=torch.arange(R) % layout.fft_size,
            data_index=data_res[:n].clone(), num_ofdm_symbols=layout.num_ofdm_symbols,
            fft_size=layout.fft_size, subcarrier_spacing=float(ch.subcarrier_spacing),
            pilot_ofdm_symbol_indices=layout.pilots)


def _parse_indices(value: Any, argument: str) -> tuple[int, ...] | None:
    """``None``, an int, ``"0,3"`` / ``"0 3"`` / ``"[0, 3]"`` or a sequence of ints → sorted unique tuple."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().strip("[]()")
        items: list[Any] = [t for t in text.replace(",", " ").split() if t]
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        items = [value]
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        raise UsageError(f"must be OFDM symbol indices like 0,3; got {value!r}", argument)
    out = [check_int_range(v, argument, low=0) for v in items]
    if not out:
        raise UsageError("needs at least one OFDM symbol index (or pilot_pattern=empty)", argument)
    if len(set(out)) != len(out):
        raise UsageError(f"indices must be distinct; got {value!r}", argument)
    return tuple(sorted(out))


def _choice(value: Any, allowed: tuple[str, ...], argument: str, upper: bool = False) -> str:
    if isinstance(value, str):
        value = value.strip().upper() if upper else value.strip().lower()
    return check_one_of(value, allowed, argument)


@CHANNELS.register("ofdm")
class OFDM(Channel):
    """The ``n`` latent symbols of each example on an OFDM resource grid through a 3GPP TDL/CDL channel.

    See the module docstring for the grid layout, the receiver processing, SNR and randomness.

    :param model: ``tdl`` (default) or ``cdl`` (3GPP TR 38.901 tapped/clustered delay line; SISO).
        Default: ``cdl`` if ``cdl`` is given, else ``tdl``.
    :param tdl: TDL profile ``A``–``E`` (default ``A``); ``cdl``: CDL profile ``A``–``E`` (default ``A``).
    :param delay_spread: RMS delay spread in s (default 100e-9; 0 = all taps at delay 0: a flat channel).
    :param carrier_frequency: in Hz (default 3.5e9); with ``speed`` it sets the Doppler
        ``f_D = speed·carrier_frequency/c``.
    :param speed: UE speed in m/s (default 0: static over the grid).
    :param estimator: ``ls`` (default; least squares on the pilots) or ``perfect`` (``ĥ = h``).
    :param interpolation: ``lin`` (default) or ``nn``: how LS estimates spread from pilots to data REs.
    :param fft_size: subcarriers ``F`` (default sized from ``n``, see the module docstring).
    :param num_ofdm_symbols: OFDM symbols ``T`` per grid (default: pilot symbols + ``ceil(n/F)``).
    :param subcarrier_spacing: in Hz (default 30e3).
    :param pilot_pattern: ``kronecker`` (default: every subcarrier of the pilot OFDM symbols) or ``empty``
        (no pilots; needs ``estimator=perfect``).
    :param pilot_ofdm_symbol_indices: OFDM symbols carrying pilots, e.g. ``0,3`` (default ``0``, or ``0`` and
        the last one when ``speed > 0``).
    :param cyclic_prefix_length: in samples, ``0 <= CP <= F`` (default 0; sets the OFDM symbol duration
        ``(F + CP)/(F·Δf)``).

    :input state: ``y`` complex ``[..., n]`` straight from the transmitter (``h = 1``, ``no = 0``); any
        leading dims (``[S, B]``) are examples, one grid and one channel draw each, except along
        ``state.shared_dims`` (one draw shared, e.g. by the SNR points of a Link).
    :output state: ``y``, ``h`` complex ``[..., R]`` on the grid, ``no`` unchanged, ``grid`` a
        :class:`GridInfo`, ``rx`` = :meth:`receive`.
    """

    def __init__(
        self,
        model: str | None = None,
        tdl: str | None = None,
        cdl: str | None = None,
        delay_spread: float = 100e-9,
        carrier_frequency: float = 3.5e9,
        speed: float = 0.0,
        estimator: str = "ls",
        interpolation: str = "lin",
        fft_size: int | None = None,
        num_ofdm_symbols: int | None = None,
        subcarrier_spacing: float = 30e3,
        pilot_pattern: str = "kronecker",
        pilot_ofdm_symbol_indices: int | str | Sequence[int] | None = None,
        cyclic_prefix_length: int = 0,
    ) -> None:
        super().__init__()
        if model is None:
            model = "cdl" if cdl is not None else "tdl"
        self.model = _choice(model, MODELS, "model")
        if self.model == "tdl" and cdl is not None:
            raise UsageError(f"is the CDL profile, but model={self.model!r}; use tdl=... or model=cdl", "cdl")
        if self.model == "cdl" and tdl is not None:
            raise UsageError(f"is the TDL profile, but model={self.model!r}; use cdl=... or model=tdl", "tdl")
        profile = tdl if self.model == "tdl" else cdl
        self.profile = _choice("A" if profile is None else profile, PROFILES, self.model, upper=True)
        self.delay_spread = check_non_negative(delay_spread, "delay_spread")
        self.carrier_frequency = check_positive(carrier_frequency, "carrier_frequency")
        self.speed = check_non_negative(speed, "speed")
        self.estimator = _choice(estimator, ESTIMATORS, "estimator")
        self.interpolation = _choice(interpolation, INTERPOLATIONS, "interpolation")
        self.subcarrier_spacing = check_positive(subcarrier_spacing, "subcarrier_spacing")
        self.fft_size = None if fft_size is None else check_int_range(fft_size, "fft_size", 1, 65536)
        self.num_ofdm_symbols = None if num_ofdm_symbols is None else \
            check_int_range(num_ofdm_symbols, "num_ofdm_symbols", 1, 10_000)
        self.pilot_pattern = _choice(pilot_pattern, PILOT_PATTERNS, "pilot_pattern")
        self.pilot_ofdm_symbol_indices = _parse_indices(pilot_ofdm_symbol_indices, "pilot_ofdm_symbol_indices")
        self.cyclic_prefix_length = check_int_range(cyclic_prefix_length, "cyclic_prefix_length", 0)
        if self.pilot_pattern == "empty":
            if self.pilot_ofdm_symbol_indices is not None:
                raise UsageError("pilot OFDM symbols given, but pilot_pattern='empty'; use kronecker",
                                 "pilot_ofdm_symbol_indices")
            if self.estimator == "ls":
                raise UsageError("LS estimation needs pilots; use pilot_pattern=kronecker or estimator=perfect",
                                 "estimator")
        if self.fft_size is not None and self.cyclic_prefix_length > self.fft_size:
            raise UsageError(f"must be <= fft_size ({self.fft_size}); got {self.cyclic_prefix_length}",
                             "cyclic_prefix_length")
        if self.num_ofdm_symbols is not None and self.pilot_ofdm_symbol_indices is not None:
            self._check_pilots(self.pilot_ofdm_symbol_indices, self.num_ofdm_symbols)
        self._blocks: dict[tuple[int, str, str], _Blocks] = {}

    # ------------------------------------------------------------------------------------------- layout

    @staticmethod
    def _check_pilots(pilots: tuple[int, ...], num_ofdm_symbols: int) -> None:
        if pilots and max(pilots) >= num_ofdm_symbols:
            raise UsageError(f"indices must be < num_ofdm_symbols ({num_ofdm_symbols}); got {list(pilots)}",
                             "pilot_ofdm_symbol_indices")
        if len(pilots) >= num_ofdm_symbols:
            raise UsageError(f"leave at least one of the {num_ofdm_symbols} OFDM symbols for data; got "
                             f"{list(pilots)}", "pilot_ofdm_symbol_indices")

    def layout(self, n: int) -> _Layout:
        """Grid for ``n`` symbols per example: explicit options, defaults sized from ``n`` (module docstring).

        :raises UsageError: when the grid has fewer data REs than ``n``, or CP > FFT size.
        """
        F = self.fft_size or math.ceil(n / math.ceil(n / MAX_DEFAULT_SUBCARRIERS))
        if self.cyclic_prefix_length > F:
            raise UsageError(f"must be <= fft_size ({F}); got {self.cyclic_prefix_length}",
                             "cyclic_prefix_length")
        data_symbols = math.ceil(n / F)
        pilots = self.pilot_ofdm_symbol_indices
        if self.pilot_pattern == "empty":
            pilots = ()
        T = self.num_ofdm_symbols
        if T is None:
            if pilots is None:
                pilots = (0,) if self.speed == 0 else (0, data_symbols + 1)
            T = max(len(pilots) + data_symbols, max(pilots, default=-1) + 1)
        elif pilots is None:
            pilots = (0,) if self.speed == 0 or T < 3 else (0, T - 1)
        self._check_pilots(pilots, T)
        capacity = (T - len(pilots)) * F
        if capacity < n:
            raise UsageError(f"the grid ({T} OFDM symbols × {F} subcarriers, {len(pilots)} pilot symbols) has "
                             f"{capacity} data REs, fewer than the {n} symbols per example; raise fft_size or "
                             "num_ofdm_symbols, or leave them to their defaults", "num_ofdm_symbols")
        return _Layout(F, T, tuple(pilots))

    def signal_symbols(self, n: int) -> int:
        """REs carrying signal per example for ``n`` symbols: the ``n`` data REs plus the pilots (Kronecker
        pattern, one stream: every subcarrier of each pilot OFDM symbol), each of energy Es = 1; the ``n`` of
        a grid jammer's ``JSR = ‖δ‖²/(n_signal·Es)`` (:attr:`GridInfo.num_transmitted`, without building the
        Sionna grid)."""
        layout = self.layout(n)
        return int(n) + len(layout.pilots) * layout.fft_size

    def blocks(self, n: int, device: torch.device, dtype: torch.dtype) -> _Blocks:
        """The (cached) Sionna objects for ``n`` symbols on ``device`` in ``dtype``'s precision."""
        precision = _PRECISION.get(dtype)
        if precision is None:
            raise TypeError(f"ofdm: symbols must be complex64 or complex128; got {dtype}")
        key = (n, _sionna_device(device), precision)
        if key not in self._blocks:
            self._blocks[key] = _Blocks(self, n, self.layout(n), key[1], precision)
        return self._blocks[key]

    def grid_info(self, n: int) -> GridInfo:
        """The :class:`GridInfo` for ``n`` symbols per example (builds the Sionna grid on the CPU)."""
        return self.blocks(n, torch.device("cpu"), torch.complex64).info

    # ------------------------------------------------------------------------------------------ channel

    def draw_channel(self, num: int, n: int, device: torch.device, dtype: torch.dtype,
                     generator: torch.Generator | None = None) -> Tensor:
        """``num`` channel frequency responses ``[num, T, F]`` (complex ``dtype``) from ``generator``."""
        b = self.blocks(n, device, dtype)
        with sionna_seeded(b.device, draw_seed(generator, device)):
            h = b.generate(num)  # [num, 1, 1, 1, 1, T, F]
        return h.reshape(num, b.info.num_ofdm_symbols, b.info.fft_size)

    def apply(
        self,
        state: ChannelState,
        snr_db: float | Tensor | None = None,
        *,
        tail: Tail | None = None,
        generator: torch.Generator | None = None,
    ) -> ChannelState:
        """Map ``state.y [..., n]`` onto the grid and apply one channel draw per example (no noise here)."""
        y = state.y
        check_complex(y, "ofdm")
        if state.grid is not None:
            raise UsageError("the signal is already on a resource grid: use one ofdm stage", "channel")
        h0, no0 = torch.as_tensor(state.h), torch.as_tensor(state.no)
        if not (bool((h0 == 1).all()) and bool((no0 == 0).all())):
            raise UsageError("ofdm maps the transmitted symbols onto its grid: put it before fading and noise "
                             "stages (e.g. ofdm+pgd-jammer, ofdm+awgn)", "channel")
        *lead, n = y.shape
        N = math.prod(lead)
        b = self.blocks(n, y.device, y.dtype)
        R = b.info.num_res
        x = torch.nn.functional.pad(y.reshape(N, n), (0, b.num_data_res - n))  # unused data REs: zeros
        xg = b.mapper(x.reshape(N, 1, 1, -1))  # [N, 1, 1, T, F] with pilots
        # one realisation per example, shared along state.shared_dims (common random numbers: the SNR points
        # and budgets of an image see the same channel; channels/base.py)
        lead_draw = draw_shape(state, [*lead, n])[:-1]
        with sionna_seeded(b.device, draw_seed(generator, y.device)):
            h = b.generate(math.prod(lead_draw))  # [N', 1, 1, 1, 1, T, F]
        h = h.reshape(*lead_draw, R).expand(*lead, R)
        yg = b.apply(xg, h.reshape(N, 1, 1, 1, 1, *xg.shape[-2:]))  # [N, 1, 1, T, F]
        return state.replace(y=yg.reshape(*lead, R), h=h, grid=b.info, rx=self.receive)

    # ----------------------------------------------------------------------------------------- receiver

    def _flat(self, state: ChannelState) -> tuple[_Blocks, list[int], Tensor, Tensor, Tensor]:
        """Blocks, leading shape, and y ``[N,1,1,T,F]``, h ``[N,1,1,1,1,T,F]``, no ``[N]`` of a grid state."""
        info = state.grid
        if not isinstance(info, GridInfo):
            raise TypeError("ofdm receiver: the state carries no OFDM grid (GridInfo)")
        y, h = state.y, torch.as_tensor(state.h, device=state.y.device)
        no = torch.as_tensor(state.no, dtype=y.real.dtype, device=y.device)
        shape = broadcast_shapes(y.shape, h.shape, no.shape)
        R = info.num_res
        if shape[-1] != R:
            raise ValueError(f"ofdm receiver: expected {R} resource elements in the last dim; got {shape[-1]}")
        lead = list(shape[:-1])
        if no.dim() and no.shape[-1] != 1 and not bool((no == no[..., :1]).all()):
            raise ValueError("ofdm receiver: the noise variance must be the same on every RE of a grid")
        no = no.broadcast_to(shape)[..., 0].reshape(-1)  # one N0 per example (Sionna's estimators take that)
        N = no.numel()
        b = self.blocks(info.num_data, y.device, y.dtype)
        T, F = info.num_ofdm_symbols, info.fft_size
        yg = y.expand(shape).reshape(N, 1, 1, T, F)
        hg = h.expand(shape).reshape(N, 1, 1, 1, 1, T, F)
        return b, lead, yg, hg, no

    def estimate_channel(self, state: ChannelState) -> tuple[Tensor, Tensor]:
        """Channel estimate ``ĥ`` and its error variance on every RE, both ``[..., R]``, from a grid state.

        ``perfect``: ``ĥ = h``, error variance 0; ``ls``: Sionna's ``LSChannelEstimator`` (``ĥ = y·p*/|p|²`` on
        the pilots, error variance ``N0/|p|²``), interpolated to the other REs.
        """
        b, lead, yg, hg, no = self._flat(state)
        h_hat, err_var = self._estimate(b, yg, hg, no)
        R = state.grid.num_res
        return h_hat.reshape(*lead, R), err_var.broadcast_to(h_hat.shape).reshape(*lead, R)

    def _estimate(self, b: _Blocks, yg: Tensor, hg: Tensor, no: Tensor) -> tuple[Tensor, Tensor]:
        if b.estimator is None:
            return hg, torch.zeros((), dtype=no.dtype, device=no.device)
        return b.estimator(yg, no)

    def receive(self, state: ChannelState) -> ChannelState:
        """``rx``: estimation, Sionna LMMSE equalisation and RE demapping; see the module docstring.

        :input state: grid state ``y``/``h`` ``[..., R]``, ``no`` per example (broadcasting to ``[..., 1]``).
        :output state: ``y = ĥ``-equalised symbols (unbiased, ``y/ĥ``) ``[..., n]``, ``h = 1``,
            ``no = (N0 + err_var)/|ĥ|²`` ``[..., n]``, ``grid = rx = None``.
        """
        b, lead, yg, hg, no = self._flat(state)
        h_hat, err_var = self._estimate(b, yg, hg, no)
        x_hat, no_eff = b.equalizer(yg, h_hat, err_var, no)  # [N, 1, 1, D]
        n = state.grid.num_data
        x_hat = x_hat[..., :n].reshape(*lead, n)
        no_eff = no_eff[..., :n].reshape(*lead, n)
        one = torch.ones((), dtype=x_hat.dtype, device=x_hat.device)
        return state.replace(y=x_hat, h=one, no=no_eff, grid=None, rx=None)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_blocks"] = {}  # Sionna objects are rebuilt on demand
        return state

    def extra_repr(self) -> str:
        return (f"model={self.model!r}, profile={self.profile!r}, delay_spread={self.delay_spread:g}, "
                f"carrier_frequency={self.carrier_frequency:g}, speed={self.speed:g}, "
                f"estimator={self.estimator!r}, interpolation={self.interpolation!r}, fft_size={self.fft_size}, "
                f"num_ofdm_symbols={self.num_ofdm_symbols}, subcarrier_spacing={self.subcarrier_spacing:g}, "
                f"pilot_pattern={self.pilot_pattern!r}, pilots={self.pilot_ofdm_symbol_indices}, "
                f"cyclic_prefix_length={self.cyclic_prefix_length}")
