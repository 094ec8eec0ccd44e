"""``DigitalLink``: the separation-based reference link over the same channels and jammers as the analog one.

```
x ─encoder─► z ─quantise─► bits ─LDPC5GEncoder─► codewords ─scramble, Mapper(QAM)─► s ∈ C^{n_c}
  ─channel─► y ─equalise (perfect CSI)─► x̂, N0/|h|² ─Demapper("app")─► LLRs ─LDPC5GDecoder─► bits
  ─de-quantise─► ẑ ─decoder─► x̂
```

Same call shape as :class:`channelae.link.Link`: ``forward(x [B, C, H, W], snr_db, generator=...)`` returns
``x_hat [S, E, B, C, H, W]`` (SNR points × jammer budgets × images), plus bit and block error rates.

- **Source code**: :class:`~channelae.digital.quantize.UniformQuantizer`, ``bits`` per latent dimension on
  ``mean ± clip_std·std`` of the training latents (the checkpoint's ``latent_mean``/``latent_std``).
- **Channel code and modulation**: :mod:`channelae.digital.plan` (segmentation, padding, channel uses) and
  :mod:`channelae.digital.phy` (Sionna blocks, scrambling). ``code_rate=1`` sends the bits uncoded.
- **Channel**: any channelae channel spec (``awgn``, ``rayleigh``, ``rician``, ``+noise-jammer``,
  ``+pgd-jammer``...), on the ``n_c`` unit-energy QAM symbols of each example; receiver noise is appended to
  specs without it, as for the analog link. A ``pgd-jammer`` stage becomes the digital PGD jammer
  (:class:`~channelae.digital.jammer.DigitalPGDJammer`, same budget and PGD options).
- **Receiver**: zero forcing with perfect CSI, ``x̂ = y/h``, and the matching noise variance ``N0/|h|²`` for
  the demapper (for a one-tap channel the bias-corrected LMMSE estimate is the same, so ``equalizer="lmmse"``
  gives identical LLRs); ``csi="none"`` uses ``x̂ = y`` and ``N0``. The receiver knows the thermal noise
  only, not the jammer.
- **Jammer budgets** are in link units on the digital symbols: ε is the L2 norm of the perturbation of the
  example's ``n_c`` symbols (``Es = 1``) and ``JSR = ε²/n_c``. The context handed to jammers has
  ``gain = 1`` and ``num_symbols = n_c``, so a budget given as ε is applied to the symbols as is.

Metrics per SNR, budget and image (``[S, E, B]``): ``coded_ber`` (hard decisions of the LLRs against the
transmitted codeword bits, before decoding), ``info_ber`` (decoded payload bits, padding excluded),
``bler`` (fraction of the example's codewords decoded with any error, padding included) and
``frame_error`` (any codeword of the example wrong). Uncoded: one block per example, ``coded_ber`` =
``info_ber`` up to padding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from channelae._validation import check_int_range, check_one_of
from channelae.channels import Channel
from channelae.channels.base import ChannelState
from channelae.definitions import num_symbols
from channelae.digital import plan as _plan
from channelae.digital.jammer import digital_channel
from channelae.digital.phy import CodedModem
from channelae.digital.plan import DEFAULT_MAX_CODE_RATE, CodePlan, plan_code
from channelae.digital.quantize import DEFAULT_CLIP_STD, BitMapping, UniformQuantizer
from channelae.errors import UsageError
from channelae.link.link import LinkContext, as_snr_grid
from channelae.models import Autoencoder

__all__ = [
    "DEFAULT_BITS",
    "DEFAULT_CODE_RATE",
    "DEFAULT_QAM",
    "DigitalContext",
    "DigitalLink",
    "DigitalOutput",
    "equalize_for_demapper",
    "resolve_plan",
]

DEFAULT_BITS: int = 6
DEFAULT_CODE_RATE: float = 0.5
DEFAULT_QAM: int = 16
EQUALIZERS: tuple[str, ...] = ("zf", "lmmse", "none")
CSI_CHOICES: tuple[str, ...] = ("perfect", "none")


@dataclass(frozen=True)
class DigitalContext(LinkContext):
    """What the digital link tells jammers: :class:`~channelae.link.LinkContext` plus the coded bits.

    ``gain = 1`` and ``num_symbols = n_c`` (budgets in link units on the digital symbols); ``clean`` is the
    noiseless digital reconstruction ``dec(Q(z))``.

    :ivar coded_bits: transmitted codeword bits ``[B, C·n_cw]`` (before scrambling).
    :ivar surrogate_no: extra noise variance per complex symbol the PGD surrogate adds to the demapper's
        (set by :class:`~channelae.digital.jammer.DigitalPGDJammer` while it optimises; ``None`` otherwise).
    """

    coded_bits: Tensor | None = None
    surrogate_no: Tensor | None = None


@dataclass
class DigitalOutput:
    """Everything a digital link run produced (``S`` SNR points, ``E`` budgets, ``B`` images).

    :ivar x_hat: reconstructions ``[S, E, B, C, H, W]``.
    :ivar clean: noiseless digital reconstructions ``dec(Q(z))`` ``[B, C, H, W]``.
    :ivar z: clean latents ``[B, d]``; ``z_q``: their de-quantised values ``[B, d]``.
    :ivar z_hat: received (decoded, de-quantised) latents ``[S, E, B, d]``.
    :ivar s: transmitted symbols ``[B, n_c]``; ``y``: received symbols ``[S, E, B, n_c]``.
    :ivar info_bits: payload bits ``[B, d·k]``; ``info_bits_hat``: decoded payload ``[S, E, B, d·k]``.
    :ivar coded_bits: codeword bits ``[B, C·n_cw]``.
    :ivar coded_ber: raw bit error rate of the coded bits before decoding ``[S, E, B]``.
    :ivar info_ber: payload bit error rate after decoding ``[S, E, B]``.
    :ivar bler: fraction of the example's codewords in error ``[S, E, B]``.
    :ivar frame_error: 1.0 where any codeword of the example is in error ``[S, E, B]``.
    :ivar snr_db: the SNR grid ``[S]`` (dB, Es/N0 per complex symbol).
    """

    x_hat: Tensor
    clean: Tensor
    z: Tensor
    z_q: Tensor
    z_hat: Tensor
    s: Tensor
    y: Tensor
    info_bits: Tensor
    info_bits_hat: Tensor
    coded_bits: Tensor
    coded_ber: Tensor
    info_ber: Tensor
    bler: Tensor
    frame_error: Tensor
    snr_db: Tensor
    state: ChannelState

    def error_rates(self) -> dict[str, Tensor]:
        """Per-image error rates ``{name: [S, E, B]}``: ``ber`` (payload bits after decoding), ``coded_ber``
        (coded bits before decoding) and ``bler`` (fraction of the example's codewords in error)."""
        return {"ber": self.info_ber, "coded_ber": self.coded_ber, "bler": self.bler}

    def rates(self) -> dict[str, Tensor]:
        """Mean error rates per (SNR, budget) point: ``{name: [S, E]}``."""
        return {k: getattr(self, k).mean(-1) for k in ("coded_ber", "info_ber", "bler", "frame_error")}


class DigitalLink(nn.Module):
    """Quantiser + 5G LDPC + QAM over a channelae channel (see the module docstring).

    :param model: trained autoencoder.
    :param channel: a :class:`~channelae.channels.Channel` or spec (``"awgn"``, ``"rayleigh+pgd-jammer"``...).
    :param latent_mean: per-dimension mean of the clean training latents ``[d]`` (checkpoint metadata).
    :param latent_std: per-dimension std ``[d]``; the clipping range is ``mean ± clip_std·std``.
    :param bits: bits per latent dimension (default 6; free under ``equal_bandwidth``).
    :param code_rate: LDPC rate in ``[0.2, 0.95]`` (default 0.5) or ``1`` for the uncoded link; under
        ``equal_bandwidth`` the *largest* rate allowed (default 0.75).
    :param qam: QAM order, 4 (QPSK), 16, 64, 256 or 1024 (default 16; free under ``equal_bandwidth``).
    :param equal_bandwidth: pick bits/rate/QAM with :func:`~channelae.digital.plan.equal_bandwidth` so the
        link uses the analog link's ``ceil(d/2)`` channel uses (``UsageError`` when impossible).
    :param clip_std: half-width of the quantiser's range in standard deviations (3).
    :param bit_mapping: ``natural`` (default) or ``gray`` labels of the quantiser levels.
    :param num_iter: BP iterations of the LDPC decoder (20).
    :param equalizer: ``zf`` (default) or ``lmmse`` (identical here, see the module docstring), or ``none``
        (no equalisation: the demapper sees ``y`` and ``N0``, as with ``csi="none"``).
    :param csi: ``perfect`` (default) or ``none``.
    :param sample: VAEs transmit a sampled z instead of μ.
    :param plan: an explicit :class:`~channelae.digital.plan.CodePlan` (overrides ``code_rate``/``qam``).
    """

    def __init__(
        self,
        model: Autoencoder,
        channel: Channel | str,
        *,
        latent_mean: Tensor | list[float],
        latent_std: Tensor | list[float],
        bits: int | None = None,
        code_rate: float | None = None,
        qam: int | None = None,
        equal_bandwidth: bool = False,
        clip_std: float = DEFAULT_CLIP_STD,
        bit_mapping: BitMapping = "natural",
        num_iter: int = 20,
        equalizer: str = "zf",
        csi: str = "perfect",
        sample: bool = False,
        plan: CodePlan | None = None,
        channel_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        d = model.latent_dim
        if plan is not None:
            if bits is None:
                bits = plan.payload_bits // d
            if plan.payload_bits != d * bits:
                raise UsageError(f"plan carries {plan.payload_bits} bits but d·bits = {d * bits}", "--bits")
        else:
            bits, plan = resolve_plan(d, bits=bits, code_rate=code_rate, qam=qam, equal_bandwidth=equal_bandwidth)
        self.quantizer = UniformQuantizer.from_statistics(latent_mean, latent_std, bits, clip_std=clip_std,
                                                          mapping=bit_mapping)
        if self.quantizer.latent_dim != d:
            raise UsageError(f"latent statistics have {self.quantizer.latent_dim} dimensions, the model {d}",
                             "--checkpoint")
        self.plan = plan
        self.clip_std = float(clip_std)
        self.modem = CodedModem(plan, num_iter=check_int_range(num_iter, "--num-iter", 1, 1000))
        self.equalizer = check_one_of(equalizer, EQUALIZERS, "--equalizer")
        self.csi = check_one_of(csi, CSI_CHOICES, "--csi")
        self.sample = sample
        self.channel = digital_channel(channel, **(channel_options or {}))
        self.range_source = "checkpoint latent_mean/latent_std"

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], channel: Channel | str, *,
                        device: str | torch.device = "cpu", data_dir: str | os.PathLike[str] | None = None,
                        **kw: Any) -> DigitalLink:
        """A digital link around the checkpoint's model, quantising on its stored latent statistics.

        Checkpoints without ``latent_mean``/``latent_std`` get them computed here from the training split of
        their data set (``data_dir`` as for ``load_dataset``); :attr:`range_source` says which was used.
        """
        from channelae.checkpoint import load_checkpoint

        model, meta = load_checkpoint(path, device=device)
        source = "checkpoint latent_mean/latent_std"
        if "latent_mean" not in meta or "latent_std" not in meta:
            from channelae.data import load_dataset
            from channelae.training import latent_statistics

            train = load_dataset(meta["dataset"], "train", data_dir=data_dir)
            stats = latent_statistics(model, train, torch.device(device))
            meta = {**meta, "latent_mean": stats["latent_mean"], "latent_std": stats["latent_std"]}
            source = f"computed from the {meta['dataset']} training split at link build time"
        link = cls(model, channel, latent_mean=meta["latent_mean"], latent_std=meta["latent_std"], **kw)
        link.meta = meta
        link.range_source = source
        return link.to(device)

    # ------------------------------------------------------------------------------------------ properties
    @property
    def bits(self) -> int:
        """Bits per latent dimension."""
        return self.quantizer.bits

    @property
    def num_channel_uses(self) -> int:
        """Complex channel uses per example ``n_c`` (see :mod:`channelae.digital.plan`)."""
        return self.plan.num_channel_uses

    @property
    def analog_channel_uses(self) -> int:
        """The analog link's channel uses per example, ``ceil(d/2)``."""
        return num_symbols(self.model.latent_dim)

    def describe(self) -> dict[str, Any]:
        """Settings for reports: quantiser, code, modulation, channel uses next to the analog link's."""
        return {
            "link": "digital", "bits": self.bits, "bit_mapping": self.quantizer.mapping,
            "clip_std": self.clip_std, "range_source": self.range_source, **self.plan.as_dict(),
            "num_iter": self.modem.num_iter, "analog_channel_uses": self.analog_channel_uses,
            "equalizer": self.equalizer, "csi": self.csi,
        }

    # -------------------------------------------------------------------------------------------- receiver
    def equalize(self, state: ChannelState) -> tuple[Tensor, Tensor]:
        """Equalised symbols ``[..., n_c]`` and their noise variance (see :func:`equalize_for_demapper`)."""
        return equalize_for_demapper(state, "none" if self.equalizer == "none" else self.csi)

    def soft_bits(self, state: ChannelState) -> Tensor:
        """The differentiable part of the receiver: LLRs ``[..., C·n_cw]`` (float64) of a channel state.

        Uses the demapper's noise variance plus ``state.ctx.surrogate_no`` when a jammer set it (the PGD
        surrogate's temperature). This is the ``tail`` jammers receive.
        """
        x, no = self.equalize(state)
        extra = getattr(state.ctx, "surrogate_no", None)
        if extra is not None:
            no = no + extra.to(no.dtype)
        return self.modem.llr(x.to(torch.complex128), no.double(), precision="double")

    # --------------------------------------------------------------------------------------------- forward
    def forward(self, x: Tensor, snr_db: float | list[float] | Tensor | None = None, *,
                generator: torch.Generator | None = None) -> DigitalOutput:
        """Send images ``x [B, C, H, W]`` over the digital link at every SNR of ``snr_db`` (dB; default inf)."""
        dev = x.device
        snr = as_snr_grid(snr_db).to(dev)
        p = self.plan
        with torch.no_grad():
            z = self.model.encode(x, sample=self.sample, generator=generator)  # [B, d]
            info = self.quantizer.encode(z)  # [B, K]
            padded = F.pad(info, (0, p.padding))  # [B, C·k_cw]
            coded = self.modem.encode(padded)  # [B, C·n_cw]
            s = self.modem.modulate(coded)  # [B, n_c]
            z_q = self.quantizer.decode(info, z.dtype)
            clean = self.model.decode(z_q)
        ctx = DigitalContext(clean=clean, inputs=x, z=z, gain=1.0, num_symbols=p.num_channel_uses,
                             coded_bits=coded)
        # [S, B, n_c]; the SNR dim is shared (one channel realisation for every SNR point), as on the analog link
        state0 = ChannelState.start(s.unsqueeze(0).expand(snr.numel(), *s.shape), ctx=ctx, shared_dims=(0,))
        state = self.channel.apply(state0, snr, tail=self.soft_bits, generator=generator)
        if state.y.dim() == 3:  # no budget dim was added: E = 1
            state = state.replace(y=state.y.unsqueeze(-3), h=_grid(state.h), no=_grid(state.no))
        with torch.no_grad():
            xe, no = self.equalize(state)
            llr = self.modem.llr(xe, no)  # [S, E, B, C·n_cw]
            decoded = self.modem.decode(llr)  # [S, E, B, C·k_cw]
            info_hat = decoded[..., :p.payload_bits]
            z_hat = self.quantizer.decode(info_hat, z.dtype)  # [S, E, B, d]
            flat = z_hat.reshape(-1, z_hat.shape[-1])
            x_hat = torch.cat([self.model.decode(flat[i:i + 1024]) for i in range(0, flat.shape[0], 1024)])
            x_hat = x_hat.reshape(*z_hat.shape[:-1], *x_hat.shape[1:])
            coded_ber = ((llr > 0).float() != coded).float().mean(-1)
            info_ber = (info_hat != info).float().mean(-1)
            cw_err = (decoded != padded).reshape(*decoded.shape[:-1], p.num_codewords, p.info_bits).any(-1)
            bler = cw_err.float().mean(-1)
            frame_error = cw_err.any(-1).float()
        return DigitalOutput(x_hat=x_hat, clean=clean, z=z, z_q=z_q, z_hat=z_hat, s=s, y=state.y, info_bits=info,
                             info_bits_hat=info_hat, coded_bits=coded, coded_ber=coded_ber, info_ber=info_ber,
                             bler=bler, frame_error=frame_error, snr_db=snr, state=state)

    def extra_repr(self) -> str:
        return (f"bits={self.bits}, n_c={self.num_channel_uses} (analog {self.analog_channel_uses}), "
                f"equalizer={self.equalizer!r}, csi={self.csi!r}")


def resolve_plan(latent_dim: int, *, bits: int | None = None, code_rate: float | None = None,
                 qam: int | None = None, equal_bandwidth: bool = False) -> tuple[int, CodePlan]:
    """Bits per dimension and code plan of a :class:`DigitalLink` with these settings (no model needed).

    ``None`` takes the defaults (:data:`DEFAULT_BITS`, :data:`DEFAULT_CODE_RATE`, :data:`DEFAULT_QAM`); under
    ``equal_bandwidth`` the free settings are picked by :func:`~channelae.digital.plan.equal_bandwidth`, with
    ``code_rate`` as the largest rate allowed (default :data:`~channelae.digital.plan.DEFAULT_MAX_CODE_RATE`).

    :raises UsageError: bits outside 1…16, unknown QAM order, rate outside 5G's range, or an equal bandwidth
        that no setting reaches.
    """
    d = check_int_range(latent_dim, "latent_dim", 1)
    if equal_bandwidth:
        cap = DEFAULT_MAX_CODE_RATE if code_rate is None else float(code_rate)
        return _plan.equal_bandwidth(d, bits=bits, qam=qam, max_code_rate=cap)
    bits = DEFAULT_BITS if bits is None else bits
    rate = DEFAULT_CODE_RATE if code_rate is None else code_rate
    return bits, plan_code(d * check_int_range(bits, "--bits", 1, 16), DEFAULT_QAM if qam is None else qam,
                           None if rate == 1 else rate)


def equalize_for_demapper(state: ChannelState, csi: str = "perfect") -> tuple[Tensor, Tensor]:
    """Zero-forcing estimate ``x̂ = y/h`` and its noise variance ``N0/|h|²`` per complex symbol.

    The pair a QAM demapper needs (``csi="none"``: ``y`` and ``N0``). ``state.no`` is the total noise variance
    in ``y`` (fading stages scale it by ``|h|²``). A state that carries its channel's receiver processing
    (``state.rx``, e.g. OFDM estimation and resource-grid demapping) is passed through it first, as the
    analog receiver does. Shapes broadcast to ``y``'s ``[..., n]``.
    """
    check_one_of(csi, CSI_CHOICES, "--csi")
    if getattr(state, "rx", None) is not None:  # grid channels (OFDM): their own receiver processing first
        state = state.rx(state)
    y = state.y
    no = state.no.to(y.real.dtype)
    if csi == "none":
        return y, no
    h = state.h.to(y.dtype)
    return y / h, no / h.abs().square().clamp_min(torch.finfo(y.real.dtype).tiny)


def _grid(t: Tensor) -> Tensor:
    return t.unsqueeze(-3) if t.dim() >= 3 else t
