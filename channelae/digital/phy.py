"""The digital link's physical layer, built from Sionna PHY blocks (imported lazily, on first use).

Transmit: information bits ``[..., C·k_cw]`` → :class:`sionna.phy.fec.ldpc.LDPC5GEncoder` ``(k_cw, n_cw)``
per codeword (5G rate matching, and the 5G output interleaver for ``m``-bit symbols) → scrambling →
:class:`sionna.phy.mapping.Mapper` ``("qam", m)`` → complex symbols ``[..., n_c]`` with unit average energy
(Sionna's normalised Gray-labelled QAM, ``Es = 1`` over uniform symbols).

Receive: equalised symbols and their noise variance → :class:`sionna.phy.mapping.Demapper` ``("app", "qam",
m)`` → LLRs ``[..., C·n_cw]`` (Sionna's logit convention ``ln P(b=1)/P(b=0)``) → descrambling →
:class:`sionna.phy.fec.ldpc.LDPC5GDecoder` (belief propagation, ``num_iter`` flooding iterations, hard
decisions on the information bits).

Scrambling: the coded bits are XORed with a fixed pseudo-random sequence (seed :data:`SCRAMBLER_SEED`, the
same for every example and known to the receiver, as 5G scrambles before modulation), so the QAM symbols are
close to uniform even though quantised latents are not, and ``Es = 1`` holds on average. Descrambling flips
the sign of the LLRs of scrambled positions.

Noise-variance floor: the demapper gets ``max(no, NO_FLOOR)`` so LLRs stay finite at ``snr_db = inf``
(``no = 0``); hard decisions are the nearest-symbol ones either way.

The BP decoder is *not* differentiated through (its gradient vanishes at high SNR); the PGD jammer
(:mod:`channelae.digital.jammer`) attacks the demapper's LLRs instead.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from channelae.digital.plan import CodePlan

__all__ = ["NO_FLOOR", "SCRAMBLER_SEED", "CodedModem", "sionna_device"]

#: Seed of the fixed scrambling sequence (both ends know it).
SCRAMBLER_SEED: int = 0x5EED
#: Smallest noise variance per complex symbol given to the demapper (Es/N0 = 60 dB).
NO_FLOOR: float = 1e-6
#: Coded bits per BP decoder call (bounds the decoder's memory: messages scale with codewords × edges).
DECODE_BITS: int = 2**22


def sionna_device(device: torch.device | str) -> str:
    """Sionna's device string for a torch device (``"cpu"`` or ``"cuda:N"``)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda:{dev.index if dev.index is not None else torch.cuda.current_device()}"
    return dev.type


class CodedModem(nn.Module):
    """LDPC + scrambling + QAM for a :class:`~channelae.digital.plan.CodePlan` (see the module docstring).

    :param plan: bits per example, codewords, QAM order.
    :param num_iter: BP iterations of the LDPC decoder (20).

    Sionna blocks are built on first use for each device and cached.
    """

    def __init__(self, plan: CodePlan, num_iter: int = 20) -> None:
        super().__init__()
        self.plan = plan
        self.num_iter = int(num_iter)
        g = torch.Generator().manual_seed(SCRAMBLER_SEED)
        self.register_buffer("scrambler", torch.randint(0, 2, (plan.coded_bits,), generator=g).float())
        self._blocks: dict[tuple[str, str], Any] = {}

    # ------------------------------------------------------------------------------------- Sionna blocks
    def _block(self, kind: str, device: torch.device | str, precision: str = "single") -> Any:
        key = (kind, f"{sionna_device(device)}/{precision}")
        if key not in self._blocks:
            self._blocks[key] = self._build(kind, sionna_device(device), precision)
        return self._blocks[key]

    def _build(self, kind: str, device: str, precision: str) -> Any:
        p = self.plan
        if kind == "mapper":
            from sionna.phy.mapping import Mapper

            return Mapper("qam", p.bits_per_symbol, precision=precision, device=device)
        if kind == "demapper":
            from sionna.phy.mapping import Demapper

            return Demapper("app", "qam", p.bits_per_symbol, precision=precision, device=device)
        from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder

        enc = self._block("encoder", device) if kind == "decoder" else None
        if kind == "encoder":
            return LDPC5GEncoder(p.info_bits, p.codeword_bits, num_bits_per_symbol=p.bits_per_symbol,
                                 precision=precision, device=device)
        return LDPC5GDecoder(enc, hard_out=True, return_infobits=True, num_iter=self.num_iter,
                             precision=precision, device=device)

    # --------------------------------------------------------------------------------------------- transmit
    def encode(self, info: Tensor) -> Tensor:
        """Codewords ``[..., C·n_cw]`` of information bits ``[..., C·k_cw]`` (identity when uncoded)."""
        p = self.plan
        if not p.coded:
            return info
        u = info.reshape(*info.shape[:-1], p.num_codewords, p.info_bits)
        c = self._block("encoder", info.device)(u)
        return c.reshape(*info.shape[:-1], p.coded_bits).to(info.dtype)

    def modulate(self, coded: Tensor) -> Tensor:
        """Unit-energy QAM symbols ``[..., n_c]`` (complex64) of coded bits ``[..., C·n_cw]`` (scrambled)."""
        scrambled = (coded + self.scrambler) % 2
        return self._block("mapper", coded.device)(scrambled)

    # ---------------------------------------------------------------------------------------------- receive
    def llr(self, x: Tensor, no: Tensor | float, precision: str = "single") -> Tensor:
        """Descrambled APP LLRs ``[..., C·n_cw]`` (logits ``ln P(1)/P(0)``) of equalised symbols ``x [..., n_c]``.

        :param no: noise variance per complex symbol of ``x`` (after equalisation), broadcasting to ``x``;
            floored at :data:`NO_FLOOR`.
        :param precision: ``"single"`` (receiver) or ``"double"`` (the jammer's surrogate: float64 keeps the
            gradients of confident bits from underflowing). Differentiable in ``x``.
        """
        no_t = torch.as_tensor(no, device=x.device)
        no_t = no_t.to(torch.float64 if precision == "double" else torch.float32).clamp_min(NO_FLOOR)
        llr = self._block("demapper", x.device, precision)(x, no_t)
        return llr * (1.0 - 2.0 * self.scrambler.to(llr.dtype))

    def decode(self, llr: Tensor) -> Tensor:
        """Hard-decided information bits ``[..., C·k_cw]`` (float 0/1) from LLRs ``[..., C·n_cw]`` (BP)."""
        p = self.plan
        if not p.coded:
            return (llr > 0).to(torch.float32)
        lead = llr.shape[:-1]
        rows = llr.detach().reshape(-1, p.codeword_bits).float()
        dec = self._block("decoder", llr.device)
        step = max(1, DECODE_BITS // p.codeword_bits)
        with torch.no_grad():
            out = torch.cat([dec(rows[i:i + step]) for i in range(0, rows.shape[0], step)])
        return out.reshape(*lead, p.num_codewords * p.info_bits).to(torch.float32)

    def extra_repr(self) -> str:
        p = self.plan
        code = f"LDPC({p.info_bits}, {p.codeword_bits}) x{p.num_codewords}" if p.coded else "uncoded"
        return f"{code}, {p.qam}-QAM, num_iter={self.num_iter}"
