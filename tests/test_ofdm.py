"""The ``ofdm`` channel (Sionna ResourceGrid + 3GPP TDL/CDL + LS/LMMSE): grid layout, equality with the flat
block-fading link under perfect CSI and a flat channel, LS error versus SNR, Es/N0 per data RE, gradients
through the estimator, reproducibility from the generator, option errors, and the link end to end."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from importlib.util import find_spec

import pytest
import torch

from channelae.channels import build_channel
from channelae.channels.awgn import AWGN, complex_normal
from channelae.channels.base import ChannelState
from channelae.channels.ofdm import DATA, OFDM, PILOT, UNUSED
from channelae.channels.rayleigh import Rayleigh
from channelae.definitions import snr_db_to_n0
from channelae.errors import UsageError
from channelae.link import Link
from channelae.link.receiver import equalize
from channelae.models import build_model

pytestmark = pytest.mark.skipif(find_spec("sionna") is None, reason="needs sionna (sionna-no-rt)")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def qpsk(shape: tuple[int, ...], seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Unit-modulus symbols (|s|² = 1 exactly), so energies measured on the grid are the channel's alone."""
    k = torch.randint(0, 4, shape, generator=gen(seed))
    return torch.polar(torch.ones(shape, dtype=dtype), (math.pi / 4 + k * (math.pi / 2)).to(dtype))


@pytest.fixture(scope="module")
def untrained():
    torch.manual_seed(0)
    return build_model("swt-vae", (1, 28, 28), 10).eval()


# ------------------------------------------------------------------------------------------ import cost


def test_sionna_is_imported_only_when_a_grid_is_built_and_leaves_torch_rng_alone() -> None:
    """Runs without ofdm never import Sionna; the lazy import does not reseed torch's global generator."""
    code = (
        "import sys, torch\n"
        "from channelae.channels import build_channel\n"
        "from channelae.channels.base import ChannelState\n"
        "build_channel('awgn')\n"
        "ch = build_channel('ofdm', tdl='C', speed=3)\n"
        "assert 'sionna' not in sys.modules, sorted(m for m in sys.modules if 'sionna' in m)\n"
        "torch.manual_seed(0); a = torch.rand(4)\n"
        "torch.manual_seed(0)\n"
        "ch.apply(ChannelState.start(torch.ones(2, 5, dtype=torch.complex64)),"
        " generator=torch.Generator().manual_seed(1))\n"
        "assert 'sionna.phy' in sys.modules\n"
        "assert torch.equal(torch.rand(4), a), 'importing Sionna reseeded torch'\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]


# ---------------------------------------------------------------------------------------------- layout


@pytest.mark.parametrize(("n", "kw", "fft", "T", "pilots"), [
    (5, {}, 5, 2, (0,)),                      # MNIST d = 10: pilots on symbol 0, data on symbol 1
    (15, {}, 15, 2, (0,)),
    (64, {}, 64, 2, (0,)),                    # CelebA d = 128
    (129, {}, 65, 3, (0,)),                   # > 128: two data symbols of 65 subcarriers (1 unused RE)
    (5, {"speed": 30.0}, 5, 3, (0, 2)),       # moving UE: pilots first and last
    (5, {"fft_size": 4}, 4, 3, (0,)),         # 8 data REs, 3 unused
    (10, {"fft_size": 8, "num_ofdm_symbols": 4, "pilot_ofdm_symbol_indices": "1,3"}, 8, 4, (1, 3)),
    (6, {"pilot_pattern": "empty", "estimator": "perfect"}, 6, 1, ()),
])
def test_grid_layout(n, kw, fft, T, pilots) -> None:
    info = OFDM(**kw).grid_info(n)
    assert (info.fft_size, info.num_ofdm_symbols, info.pilot_ofdm_symbol_indices) == (fft, T, pilots)
    R = T * fft
    assert info.num_res == R and info.kind.shape == (R,)
    assert torch.equal(info.symbol, torch.arange(R) // fft) and torch.equal(info.subcarrier, torch.arange(R) % fft)
    pilot_res = torch.isin(info.symbol, torch.tensor(pilots, dtype=torch.long))
    assert torch.equal(info.kind == PILOT, pilot_res)  # Kronecker: every subcarrier of a pilot symbol
    data_res = (~pilot_res).nonzero().flatten()
    assert torch.equal(info.data_index, data_res[:n])  # raster order, the first n data REs
    assert bool((info.kind[data_res[n:]] == UNUSED).all()) and int((info.kind == DATA).sum()) == n
    assert info.num_data == n and info.num_pilots == len(pilots) * fft
    assert info.num_transmitted == n + len(pilots) * fft


def test_masks_select_res_and_subcarriers() -> None:
    info = OFDM(fft_size=4).grid_info(5)  # 3 × 4: pilots on symbol 0, data 4 + 1, 3 unused
    assert info.mask("pilots").nonzero().flatten().tolist() == [0, 1, 2, 3]
    assert info.mask("data").nonzero().flatten().tolist() == [4, 5, 6, 7, 8]
    assert info.mask("all").nonzero().flatten().tolist() == list(range(9))  # never the unused REs
    assert info.mask("all", "1:3").nonzero().flatten().tolist() == [1, 2, 5, 6]
    assert info.mask("data", ":1").nonzero().flatten().tolist() == [4, 8]
    assert info.mask("pilots", (2, 4)).nonzero().flatten().tolist() == [2, 3]
    for bad in ("3:1", "0:5", "a:b", "1-2"):
        with pytest.raises(UsageError, match="subcarriers"):
            info.mask("all", bad)
    with pytest.raises(UsageError, match="res"):
        info.mask("guard")
    with pytest.raises(UsageError, match="no resource element"):
        OFDM(pilot_pattern="empty", estimator="perfect").grid_info(5).mask("pilots")


def test_grid_carries_data_pilots_and_zeros() -> None:
    n, B = 5, 7
    ch = OFDM(fft_size=4)  # 3 unused data REs
    s = qpsk((B, n))
    st = ch.apply(ChannelState.start(s), generator=gen(0))
    info = st.grid
    assert st.y.shape == st.h.shape == (B, info.num_res) and st.rx is not None
    assert torch.equal(st.y[:, info.data_index], st.h[:, info.data_index] * s)
    assert bool((st.y[:, info.kind == UNUSED] == 0).all())
    p = st.y[:, info.kind == PILOT] / st.h[:, info.kind == PILOT]  # the pilot symbols
    torch.testing.assert_close(p.abs(), torch.ones_like(p.real))  # equal-energy pilots, |p|² = 1 = Es
    torch.testing.assert_close(p, p[:1].expand_as(p))  # one pilot sequence for every example
    # fixed pilot sequence: another channel object, after Sionna's own generator moved, sends the same pilots
    from sionna.phy import config

    config.seed = 1234
    st2 = OFDM(fft_size=4).apply(ChannelState.start(s), generator=gen(1))
    torch.testing.assert_close(st2.y[:, info.kind == PILOT] / st2.h[:, info.kind == PILOT], p)


def test_leading_dims_broadcast_and_each_example_has_its_own_channel() -> None:
    ch = OFDM()
    s = qpsk((2, 3, 4, 5))  # [S, E, B, n]
    st = ch.apply(ChannelState.start(s), generator=gen(2))
    assert st.y.shape == st.h.shape == (2, 3, 4, 10)
    flat_h = st.h.reshape(-1, 10)
    assert torch.unique(torch.view_as_real(flat_h[:, 0]), dim=0).shape[0] == 24  # independent draws
    st = AWGN().apply(st, torch.tensor([20.0, 40.0]), generator=gen(3))
    out = st.rx(st)
    assert out.y.shape == out.no.shape == (2, 3, 4, 5) and out.grid is None and out.rx is None
    assert equalize(st).shape == (2, 3, 4, 5)


def test_one_channel_draw_per_example_along_shared_dims() -> None:
    """Common random numbers: along ``shared_dims`` (a Link's SNR dim) one realisation per example, and it is
    the same whatever the number of SNR points that share it."""
    s = qpsk((3, 4, 5))  # [S, B, n]
    st = OFDM(tdl="C", delay_spread=300e-9).apply(ChannelState.start(s, shared_dims=(0,)), generator=gen(30))
    assert torch.equal(st.h, st.h[:1].expand_as(st.h))
    assert torch.unique(torch.view_as_real(st.h[0, :, 0]), dim=0).shape[0] == 4  # images differ
    one = OFDM(tdl="C", delay_spread=300e-9).apply(ChannelState.start(s[:1], shared_dims=(0,)), generator=gen(30))
    assert torch.equal(one.h[0], st.h[0])


# ---------------------------------------------------------------------------- flat channel, perfect CSI


@pytest.mark.parametrize("snr_db", [float("inf"), 20.0, 3.0])
def test_perfect_csi_flat_channel_equals_flat_block_fading_link(untrained, snr_db) -> None:
    """delay_spread = 0 and speed = 0: one gain per example over the whole grid. Feeding the same gains (and
    the same noise on the data REs) to the flat block-fading channel gives the same reconstructions."""
    B, S = 6, 2
    x = torch.rand(B, 1, 28, 28, generator=gen(4))
    link = Link(untrained, "ofdm", p_ref=0.8, channel_options={"estimator": "perfect", "delay_spread": 0.0})
    ofdm = link.channel.stages[0]
    with torch.no_grad():
        s = link.transmitter(untrained.encode(x))  # [B, n]
    n = s.shape[-1]
    s = s.expand(S, B, n)
    grid = ofdm.apply(ChannelState.start(s), generator=gen(5))
    info = grid.grid
    h_ex = grid.h[..., info.data_index[:1]]  # [S, B, 1]
    assert torch.equal(grid.h, h_ex.expand_as(grid.h))  # flat over the grid, exactly
    n0 = snr_db_to_n0(torch.tensor(snr_db))
    w = complex_normal(grid.y.shape, grid.y.dtype, "cpu", gen(6)) * n0.sqrt()
    noisy = grid.replace(y=grid.y + w, no=n0)

    class GivenGains(Rayleigh):  # channelae's flat block fading (one gain per example), fed the OFDM gains
        def draw_blocks(self, shape, dtype, device, generator):
            return h_ex.expand(shape)

    flat = GivenGains(block_length=0, add_awgn=False).apply(ChannelState.start(s))
    flat = flat.replace(y=flat.y + w[..., info.data_index], no=flat.no + n0)
    with torch.no_grad():
        z_ofdm, z_flat = link.receiver(noisy), link.receiver(flat)
        torch.testing.assert_close(z_ofdm, z_flat, rtol=1e-5, atol=1e-5)
        x_ofdm = untrained.decode(z_ofdm.flatten(0, 1))
        x_flat = untrained.decode(z_flat.flatten(0, 1))
    torch.testing.assert_close(x_ofdm, x_flat, rtol=0, atol=1e-5)


# ------------------------------------------------------------------------------------ LS and the SNR


def test_ls_error_on_pilots_follows_one_over_snr() -> None:
    """LS at the pilots: E|ĥ − h|² = N0/|p|² = N0, i.e. slope −10 dB per 10 dB of SNR. With 2000 × 32 pilots
    per SNR the relative standard error of each MSE is 0.56 %; tolerance 4 % (7 σ) per point, slope ± 0.01."""
    N, n = 2000, 32
    ch = OFDM(fft_size=n, delay_spread=300e-9)  # LS, lin (= nn in time with one pilot symbol)
    st = ch.apply(ChannelState.start(qpsk((1, N, n))), generator=gen(7))
    snr = torch.tensor([0.0, 10.0, 20.0, 30.0])
    noisy = AWGN().apply(st, snr, generator=gen(8))
    h_hat, err_var = ch.estimate_channel(noisy)  # [4, N, R]
    pil, data = st.grid.mask("pilots"), st.grid.mask("data")
    n0 = snr_db_to_n0(snr)
    mse = (h_hat - st.h)[..., pil].abs().square().mean((1, 2))
    torch.testing.assert_close(mse / n0, torch.ones(4), rtol=0, atol=0.04)
    torch.testing.assert_close(err_var[..., pil].mean((1, 2)), n0)  # Sionna's error variance: N0
    slope = torch.linalg.lstsq(torch.stack([snr, torch.ones(4)], 1), (10 * mse.log10()).unsqueeze(1)).solution
    assert abs(float(slope[0]) + 1.0) < 0.01
    # static channel: the data REs (next OFDM symbol) get the pilot estimate, so the same error
    mse_data = (h_hat - st.h)[..., data].abs().square().mean((1, 2))
    torch.testing.assert_close(mse_data / n0, torch.ones(4), rtol=0, atol=0.04)


def test_es_n0_on_the_data_res() -> None:
    """Es/N0 per data RE = the link SNR within 0.1 dB (Es = 1 per data symbol, N0 per RE), and the channel
    keeps the average power (received Es/N0 within 4 standard errors of the SNR, grids independent)."""
    N, n = 4000, 16
    ch = OFDM(fft_size=n, delay_spread=1e-6, estimator="perfect")
    s = qpsk((1, N, n), seed=9)
    st = ch.apply(ChannelState.start(s), generator=gen(10))
    snr = torch.tensor([3.0, 17.0])
    noisy = AWGN().apply(st, snr, generator=gen(11))
    data = st.grid.mask("data")
    w = (noisy.y - st.y)[..., data]  # [2, N, n]
    n0_hat = w.abs().square().mean((1, 2))
    es = s.abs().square().mean()  # 1
    esn0_db = 10 * torch.log10(es / n0_hat)
    assert (esn0_db - snr).abs().max() < 0.1, esn0_db
    torch.testing.assert_close(noisy.no.flatten(), snr_db_to_n0(snr))
    power = st.y[0][:, data].abs().square().mean(-1)  # received data energy per RE, per grid [N]
    se_db = 10 / math.log(10) * float(power.std() / power.mean()) / math.sqrt(N)
    rx_esn0_db = 10 * torch.log10(power.mean() / n0_hat)
    assert se_db < 0.1
    assert (rx_esn0_db - snr).abs().max() < 4 * se_db, (rx_esn0_db, se_db)


# ------------------------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("kw", [{}, {"interpolation": "nn"}, {"speed": 30.0}])
def test_gradient_reaches_a_grid_perturbation_through_ls(kw) -> None:
    ch = OFDM(**kw)  # LS; speed > 0: two pilot symbols and linear interpolation in time
    st = ch.apply(ChannelState.start(qpsk((2, 5))), generator=gen(12))
    st = AWGN().apply(st, 15.0, generator=gen(13))
    delta = torch.zeros_like(st.y, requires_grad=True)
    z = equalize(st.replace(y=st.y + delta))
    (z - qpsk((2, 5))).abs().square().sum().backward()
    g = delta.grad
    assert g is not None and bool(torch.isfinite(g.real).all() and torch.isfinite(g.imag).all())
    info = st.grid
    assert bool((g[:, info.kind == PILOT].abs() > 0).all())  # jamming the pilots moves the estimate
    assert bool((g[:, info.kind == DATA].abs() > 0).all())


def test_gradient_through_ls_matches_finite_differences() -> None:
    ch = OFDM(fft_size=3)  # n = 3: 2 × 3 grid
    st = ch.apply(ChannelState.start(qpsk((1, 3), dtype=torch.float64)), generator=gen(14))
    st = AWGN().apply(st, 10.0, generator=gen(15))
    assert st.y.dtype == torch.complex128

    def f(d: torch.Tensor) -> torch.Tensor:
        return equalize(st.replace(y=st.y + d))

    delta = (0.1 * complex_normal(st.y.shape, torch.complex128, "cpu", gen(16))).requires_grad_(True)
    assert torch.autograd.gradcheck(f, (delta,))


def test_lin_with_one_pilot_symbol_equals_sionnas_linear_interpolation() -> None:
    """With one pilot OFDM symbol ``lin`` runs Sionna's nearest-neighbour interpolator (NaN-free gradients);
    the estimates are those of Sionna's LinearInterpolator."""
    from sionna.phy.ofdm import LSChannelEstimator

    ch = OFDM(fft_size=8, delay_spread=300e-9)
    st = ch.apply(ChannelState.start(qpsk((6, 13))), generator=gen(17))
    st = AWGN().apply(st, 10.0, generator=gen(18))
    assert st.grid.pilot_ofdm_symbol_indices == (0,)
    ours, _ = ch.estimate_channel(st)
    rg = ch.blocks(13, torch.device("cpu"), torch.complex64).rg
    theirs, _ = LSChannelEstimator(rg, interpolation_type="lin")(st.y.reshape(6, 1, 1, 3, 8), st.no.reshape(1))
    torch.testing.assert_close(ours, theirs.reshape(6, 24))  # equal up to float32 rounding (~3e-8)


# --------------------------------------------------------------------------------------------- randomness


@pytest.mark.parametrize("kw", [{"speed": 20.0, "tdl": "D"}, {"model": "cdl", "cdl": "C", "speed": 3.0}])
def test_channel_draws_come_from_the_generator(kw) -> None:
    from sionna.phy import config

    s = qpsk((3, 5))
    ch = OFDM(**kw)
    sionna_state = config.torch_rng("cpu").get_state()
    torch_state = torch.random.get_rng_state()
    h1 = ch.apply(ChannelState.start(s), generator=gen(19)).h
    h2 = OFDM(**kw).apply(ChannelState.start(s), generator=gen(19)).h  # a fresh object, same generator state
    h3 = ch.apply(ChannelState.start(s), generator=gen(20)).h
    assert torch.equal(h1, h2)
    assert not torch.equal(h1, h3)
    assert torch.equal(config.torch_rng("cpu").get_state(), sionna_state)  # Sionna's stream untouched
    assert torch.equal(torch.random.get_rng_state(), torch_state)  # torch's global stream untouched
    g = gen(21)
    ch.apply(ChannelState.start(s), generator=g)
    g2 = gen(21)
    torch.randint(0, 2**63 - 1, (), generator=g2)
    assert torch.equal(g.get_state(), g2.get_state())  # one draw from our generator per call
    if kw.get("speed"):  # the UE moves: the channel changes across OFDM symbols
        info = ch.grid_info(5)
        per_symbol = h1.reshape(3, info.num_ofdm_symbols, info.fft_size)
        assert not torch.equal(per_symbol[:, 0], per_symbol[:, -1])


def test_static_channel_is_constant_over_ofdm_symbols() -> None:
    ch = OFDM(fft_size=4)
    h = ch.apply(ChannelState.start(qpsk((3, 8))), generator=gen(22)).h.reshape(3, 3, 4)
    assert torch.equal(h, h[:, :1].expand_as(h))


# ------------------------------------------------------------------------------------------ bad options


@pytest.mark.parametrize(("kw", "arg"), [
    ({"model": "rayleigh"}, "model"),
    ({"tdl": "F"}, "tdl"),
    ({"model": "cdl", "cdl": "Z"}, "cdl"),
    ({"model": "cdl", "tdl": "A"}, "tdl"),
    ({"model": "tdl", "cdl": "A"}, "cdl"),
    ({"delay_spread": -1e-9}, "delay_spread"),
    ({"delay_spread": "long"}, "delay_spread"),
    ({"carrier_frequency": 0}, "carrier_frequency"),
    ({"speed": -3}, "speed"),
    ({"estimator": "mmse"}, "estimator"),
    ({"interpolation": "cubic"}, "interpolation"),
    ({"fft_size": 0}, "fft_size"),
    ({"fft_size": 2.5}, "fft_size"),
    ({"num_ofdm_symbols": 0}, "num_ofdm_symbols"),
    ({"subcarrier_spacing": -15e3}, "subcarrier_spacing"),
    ({"pilot_pattern": "comb"}, "pilot_pattern"),
    ({"pilot_ofdm_symbol_indices": "a,b"}, "pilot_ofdm_symbol_indices"),
    ({"pilot_ofdm_symbol_indices": "0,0"}, "pilot_ofdm_symbol_indices"),
    ({"pilot_ofdm_symbol_indices": -1}, "pilot_ofdm_symbol_indices"),
    ({"num_ofdm_symbols": 2, "pilot_ofdm_symbol_indices": [0, 1]}, "pilot_ofdm_symbol_indices"),
    ({"num_ofdm_symbols": 2, "pilot_ofdm_symbol_indices": 3}, "pilot_ofdm_symbol_indices"),
    ({"pilot_pattern": "empty"}, "estimator"),
    ({"pilot_pattern": "empty", "estimator": "perfect", "pilot_ofdm_symbol_indices": 0},
     "pilot_ofdm_symbol_indices"),
    ({"cyclic_prefix_length": -1}, "cyclic_prefix_length"),
    ({"fft_size": 4, "cyclic_prefix_length": 5}, "cyclic_prefix_length"),
])
def test_bad_options_are_one_line_usage_errors(kw, arg) -> None:
    with pytest.raises(UsageError) as info:
        build_channel("ofdm", **kw)
    assert info.value.argument == arg and "\n" not in str(info.value)


def test_grid_too_small_for_the_symbols() -> None:
    ch = OFDM(fft_size=2, num_ofdm_symbols=2)  # 2 data REs
    with pytest.raises(UsageError, match="fewer than the 5 symbols"):
        ch.apply(ChannelState.start(qpsk((1, 5))), generator=gen(0))


def test_ofdm_must_see_the_transmitted_symbols() -> None:
    s = qpsk((2, 5))
    faded = Rayleigh(add_awgn=False).apply(ChannelState.start(s), generator=gen(0))
    with pytest.raises(UsageError, match="before fading"):
        OFDM().apply(faded, generator=gen(1))
    grid = OFDM().apply(ChannelState.start(s), generator=gen(1))
    with pytest.raises(UsageError, match="one ofdm stage"):
        OFDM().apply(grid, generator=gen(1))


# ----------------------------------------------------------------------------------------------- link


def test_link_end_to_end(untrained) -> None:
    x = torch.rand(4, 1, 28, 28, generator=gen(23))
    link = Link(untrained, "ofdm", p_ref=0.8, channel_options={"tdl": "C", "delay_spread": 300e-9})
    assert [type(st).__name__ for st in link.channel.stages] == ["OFDM", "AWGN"]
    out = link(x, [float("inf"), 20.0, 10.0], generator=gen(24))
    assert out.x_hat.shape == (3, 1, 4, 1, 28, 28)
    assert out.z_hat.shape == (3, 1, 4, 10)
    assert out.y.shape == (3, 1, 4, 10)  # the received grid: 2 × 5 REs
    torch.testing.assert_close(out.x_hat[0, 0], out.clean, rtol=0, atol=1e-4)  # LS exact without noise
    err = (out.x_hat[:, 0] - out.clean).square().mean((1, 2, 3, 4))
    assert err[0] < err[1] < err[2]
    again = link(x, [float("inf"), 20.0, 10.0], generator=gen(24))
    assert torch.equal(again.x_hat, out.x_hat)  # reproducible from the generator
