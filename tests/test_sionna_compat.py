"""Our channels inside Sionna PHY code: same noise as Sionna, same conventions, usable in a Sionna Block.

QPSK (Sionna's unit-energy QAM-4, Gray labelled) over our AWGN and Rayleigh channels, demapped by Sionna's
Demapper, against Sionna's own AWGN / FlatFadingChannel and the closed-form bit error rates.
"""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("sionna.phy")

from sionna.phy import Block, config
from sionna.phy.channel import AWGN as SionnaAWGN
from sionna.phy.channel import FlatFadingChannel
from sionna.phy.mapping import Demapper, Mapper
from sionna.phy.utils import complex_normal as sionna_complex_normal

from channelae.channels import Channel, ChannelState, build_channel
from channelae.channels.awgn import AWGN, complex_normal
from channelae.definitions import snr_db_to_n0
from channelae.link.receiver import equalize

DEVICE = "cpu"
NUM_BITS = 40_000  # 20k QPSK symbols per SNR point


def gen(seed: int) -> torch.Generator:
    return torch.Generator(device=DEVICE).manual_seed(seed)


def random_bits(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=gen(seed)).float()


def qpsk_ber_awgn(snr_db: float) -> float:
    """Gray QPSK over AWGN at Es/N0 = snr_db: Q(sqrt(Es/N0))."""
    return 0.5 * math.erfc(math.sqrt(10 ** (snr_db / 10) / 2))


def qpsk_ber_rayleigh(snr_db: float) -> float:
    """Gray QPSK over flat Rayleigh fading (coherent, perfect CSI): 0.5(1 - sqrt(g/(1+g))), g = Eb/N0."""
    g = 10 ** (snr_db / 10) / 2
    return 0.5 * (1 - math.sqrt(g / (1 + g)))


def ber_tolerance(p: float, n: int) -> float:
    """Five standard deviations of a BER estimate from n bits (at least a few bits' worth)."""
    return 5 * math.sqrt(max(p, 10 / n) * (1 - p) / n)


class QpskLink(Block):
    """A Sionna Block: Mapper -> our channel -> (equaliser) -> Demapper with hard decisions.

    Uses ``channel.forward`` (Sionna style) for noise-only channels; for fading channels it needs ``h`` and
    ``no`` and uses ``channel.apply`` with our ZF equaliser, giving the demapper ``no / |h|^2``.
    """

    def __init__(self, channel: Channel, precision: str | None = None) -> None:
        super().__init__(precision=precision, device=DEVICE)
        self.mapper = Mapper("qam", 2, precision=precision, device=DEVICE)
        self.demapper = Demapper("app", "qam", 2, hard_out=True, precision=precision, device=DEVICE)
        self.channel = channel
        self.generator = gen(1)  # kept as an attribute: Block.__call__ casts every argument to a tensor

    def call(self, bits: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        x = self.mapper(bits)
        if isinstance(self.channel, AWGN):
            y = self.channel(x, snr_db, generator=self.generator)
            no = snr_db_to_n0(snr_db).to(y.real.dtype).reshape(-1, *([1] * (y.dim() - 1)))
            return self.demapper(y, no)
        state = self.channel.apply(ChannelState.start(x), snr_db, generator=self.generator)
        x_hat = equalize(state, "zf")
        return self.demapper(x_hat, state.no / state.h.abs().square())


def bit_errors(bits_hat: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """BER per leading (SNR) index."""
    return (bits_hat != bits).float().flatten(1).mean(-1)


def test_noise_draw_is_bit_identical_to_sionna() -> None:
    for dtype, precision in [(torch.complex64, "single"), (torch.complex128, "double")]:
        ours = complex_normal((3, 5, 7), dtype, DEVICE, gen(11))
        theirs = sionna_complex_normal((3, 5, 7), precision=precision, device=DEVICE, generator=gen(11))
        assert ours.dtype == theirs.dtype and torch.equal(ours, theirs)


def test_awgn_matches_sionna_awgn_sample_for_sample() -> None:
    """Same generator state -> the same y as Sionna's AWGN block, including its broadcasting of ``no``."""
    config.seed = 1234
    x = Mapper("qam", 4, device=DEVICE)(random_bits(1, 6, 400))  # [1, 6, 100] 16-QAM symbols
    snr_db = torch.tensor([-5.0, 3.0, 12.0])
    state = config.torch_rng(DEVICE).get_state()
    theirs = SionnaAWGN(device=DEVICE)(x.expand(3, -1, -1), snr_db_to_n0(snr_db))  # no [S] -> [S, 1, 1]
    ours = AWGN()(x, snr_db, generator=torch.Generator(device=DEVICE).set_state(state))
    assert ours.shape == theirs.shape == (3, 6, 100)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("precision", ["single", "double"])
def test_qpsk_over_our_awgn_in_a_sionna_block(precision: str) -> None:
    snr_db = torch.tensor([-2.0, 4.0, 16.0])
    bits = random_bits(1, NUM_BITS)
    link = QpskLink(build_channel("awgn"), precision=precision)
    bits_hat = link(bits, snr_db)  # one call, three SNR points: [S, NUM_BITS]
    assert bits_hat.shape == (3, NUM_BITS)
    ber = bit_errors(bits_hat, bits)
    assert ber[2] == 0.0  # 16 dB: BER ~ 1e-10
    assert ber[0] > 0.05  # -2 dB: BER ~ 0.1
    for b, s in zip(ber.tolist(), snr_db.tolist()):
        p = qpsk_ber_awgn(s)
        assert abs(b - p) < ber_tolerance(p, NUM_BITS), (s, b, p)


def test_qpsk_ber_matches_sionna_awgn() -> None:
    config.seed = 7
    snr_db = 4.0
    bits = random_bits(1, NUM_BITS, seed=3)
    ours = bit_errors(QpskLink(AWGN())(bits, torch.tensor([snr_db])), bits).item()
    mapper = Mapper("qam", 2, device=DEVICE)
    demapper = Demapper("app", "qam", 2, hard_out=True, device=DEVICE)
    no = snr_db_to_n0(snr_db)
    theirs = bit_errors(demapper(SionnaAWGN(device=DEVICE)(mapper(bits), no), no), bits).item()
    p = qpsk_ber_awgn(snr_db)
    assert abs(ours - theirs) < math.sqrt(2) * ber_tolerance(p, NUM_BITS)
    assert abs(ours - p) < ber_tolerance(p, NUM_BITS)


def test_qpsk_over_our_rayleigh_matches_sionna_flat_fading() -> None:
    config.seed = 5
    snr_db = 10.0
    bits = random_bits(1, NUM_BITS, seed=4)
    ours = bit_errors(QpskLink(build_channel("rayleigh"))(bits, torch.tensor([snr_db])), bits).item()
    # Sionna: 1x1 FlatFadingChannel per symbol ([batch, 1] inputs), perfect-CSI ZF, same demapper
    x = Mapper("qam", 2, device=DEVICE)(bits).reshape(-1, 1)
    no = snr_db_to_n0(snr_db)
    y, h = FlatFadingChannel(1, 1, return_channel=True, device=DEVICE)(x, no)
    x_hat = (y / h[..., 0]).reshape(1, -1)
    no_eff = (no / h[..., 0].abs().square()).reshape(1, -1)
    demapper = Demapper("app", "qam", 2, hard_out=True, device=DEVICE)
    theirs = bit_errors(demapper(x_hat, no_eff), bits).item()
    p = qpsk_ber_rayleigh(snr_db)  # ~0.044
    assert abs(ours - theirs) < math.sqrt(2) * ber_tolerance(p, NUM_BITS)
    assert abs(ours - p) < ber_tolerance(p, NUM_BITS)
    # fading costs a lot compared with AWGN at the same average SNR
    assert ours > 20 * qpsk_ber_awgn(snr_db)
