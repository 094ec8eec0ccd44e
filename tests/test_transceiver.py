"""Transmitter and receiver: latent <-> symbols, power normalisation, equalisers and CSI."""

from __future__ import annotations

import pytest
import torch

from channelae.channels import ChannelState
from channelae.channels.awgn import AWGN
from channelae.channels.rayleigh import Rayleigh
from channelae.errors import UsageError
from channelae.link.receiver import Receiver, equalize
from channelae.link.transmitter import Transmitter, latent_to_symbols, mean_symbol_energy, symbols_to_latent


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("d", [1, 2, 5, 10, 31])
def test_pairing_layout_and_exact_inverse(d: int) -> None:
    z = torch.randn(3, 4, d, generator=gen(d))
    u = latent_to_symbols(z)
    assert u.shape == (3, 4, (d + 1) // 2) and u.dtype == torch.complex64
    assert torch.equal(u[..., 0].real, z[..., 0])
    if d > 1:
        assert torch.equal(u[..., 0].imag, z[..., 1])
    if d % 2:
        assert torch.all(u[..., -1].imag == 0)  # the padded zero
    assert torch.equal(symbols_to_latent(u, d), z)


@pytest.mark.parametrize("d", [4, 7])
def test_transmitter_round_trip(d: int) -> None:
    z = torch.randn(16, d, generator=gen())
    tx = Transmitter(p_ref=4.0, latent_dim=d)  # g = 1/2: a power of two, so the round trip is bit-exact
    s = tx(z)
    assert s.shape == (16, (d + 1) // 2)
    assert torch.equal(s, latent_to_symbols(z) * 0.5)
    assert torch.equal(tx.to_latent(s), z)
    tx = Transmitter(p_ref=2.7, latent_dim=d)
    assert torch.allclose(tx.to_latent(tx(z)), z, rtol=1e-6, atol=1e-7)
    z64 = z.double()
    assert tx(z64).dtype == torch.complex128
    assert torch.allclose(tx.to_latent(tx(z64)), z64, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("d", [10, 9])
def test_average_symbol_energy_is_one_with_the_right_p_ref(d: int) -> None:
    sigma = 1.7
    n = (d + 1) // 2
    # z ~ N(0, sigma^2 I): each symbol has E|u|^2 = 2 sigma^2, the padded one sigma^2
    p_ref = sigma**2 * d / n
    z = sigma * torch.randn(20_000, d, generator=gen())
    assert mean_symbol_energy(z) == pytest.approx(p_ref, rel=0.01)
    s = Transmitter(p_ref, d)(z)
    assert s.abs().square().mean().item() == pytest.approx(1.0, rel=0.01)
    # with P_ref measured on the data itself Es is 1 on that data (up to float rounding)
    s = Transmitter(mean_symbol_energy(z), d)(z)
    assert s.abs().square().mean().item() == pytest.approx(1.0, rel=1e-5)


def test_per_example_normalisation_needs_the_scale() -> None:
    d = 7
    z = torch.randn(8, d, generator=gen()) * torch.linspace(0.1, 10, 8)[:, None]
    tx = Transmitter(p_ref=1.0, latent_dim=d, normalize="per-example")
    s, scale = tx.transmit(z)
    assert scale.shape == (8, 1)
    assert torch.allclose(s.abs().square().mean(-1), torch.ones(8), rtol=1e-5)
    assert torch.equal(tx(z), s)
    assert torch.allclose(tx.to_latent(s, scale), z, rtol=1e-5, atol=1e-6)
    with pytest.raises(UsageError, match="side information"):
        tx.to_latent(s)
    rx = Receiver(1.0, d, normalize="per-example")
    assert torch.allclose(rx(ChannelState.start(s), scale), z, rtol=1e-5, atol=1e-6)
    # fixed normalisation: scale is g everywhere
    s2, scale2 = Transmitter(4.0, d).transmit(z)
    assert torch.all(scale2 == 0.5) and torch.equal(s2, Transmitter(4.0, d)(z))


def test_transmitter_validation() -> None:
    with pytest.raises(UsageError, match="p_ref"):
        Transmitter(0.0, 4)
    with pytest.raises(UsageError, match="latent_dim"):
        Transmitter(1.0, 0)
    with pytest.raises(UsageError, match="normalize"):
        Transmitter(1.0, 4, normalize="peak")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\[\.\.\., 4\]"):
        Transmitter(1.0, 4)(torch.zeros(2, 5))


def test_receiver_validation() -> None:
    with pytest.raises(UsageError, match="equalizer.*lmmse"):
        Receiver(1.0, 4, equalizer="mmse")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="csi.*perfect"):
        Receiver(1.0, 4, csi="estimated")  # type: ignore[arg-type]


def faded(z: torch.Tensor, p_ref: float, snr_db: float | None, seed: int = 0) -> ChannelState:
    tx = Transmitter(p_ref, z.shape[-1])
    ch = Rayleigh(add_awgn=snr_db is not None)
    return ch.apply(ChannelState.start(tx(z)), snr_db, generator=gen(seed))


@pytest.mark.parametrize("d", [6, 5])
def test_zf_on_noiseless_fading_recovers_z(d: int) -> None:
    z = torch.randn(32, d, generator=gen(1), dtype=torch.float64)
    state = faded(z, 2.0, None)
    assert not torch.allclose(state.y, Transmitter(2.0, d)(z))  # the channel did fade
    for eq in ("zf", "lmmse"):  # LMMSE = ZF when N0 = 0
        z_hat = Receiver(2.0, d, equalizer=eq)(state)
        assert torch.allclose(z_hat, z, rtol=1e-10, atol=1e-12)


def test_lmmse_beats_zf_on_deep_fades() -> None:
    d = 20
    z = torch.randn(5000, d, generator=gen(2))
    state = faded(z, 2.0, 10.0)
    deep = state.h.abs().square() < 0.1  # [B, n] symbols in a deep fade
    assert deep.sum() > 1000
    err = {}
    for eq in ("zf", "lmmse"):
        x_hat = Receiver(2.0, d, equalizer=eq).equalize(state)
        err[eq] = (x_hat - Transmitter(2.0, d)(z)).abs().square()[deep].mean().item()
    assert err["lmmse"] < err["zf"] / 3
    # and overall as well, in latent units
    mse = {eq: (Receiver(2.0, d, equalizer=eq)(state) - z).square().mean().item() for eq in ("zf", "lmmse")}
    assert mse["lmmse"] < mse["zf"]


def test_lmmse_formula_and_awgn_only() -> None:
    s = Transmitter(1.0, 4)(torch.randn(10, 4, generator=gen()))
    state = AWGN().apply(ChannelState.start(s), torch.tensor(0.0), generator=gen())
    # h = 1, N0 = 1: LMMSE halves y
    assert torch.allclose(equalize(state, "lmmse"), state.y / 2)
    assert torch.equal(equalize(state, "zf"), state.y)


def test_csi_none_does_not_equalise() -> None:
    d = 6
    z = torch.randn(64, d, generator=gen(3))
    state = faded(z, 1.0, None)
    assert torch.equal(Receiver(1.0, d, equalizer="zf", csi="none").equalize(state), state.y)
    assert torch.equal(Receiver(1.0, d, equalizer="none").equalize(state), state.y)
    z_blind = Receiver(1.0, d, equalizer="zf", csi="none")(state)
    assert torch.equal(z_blind, Transmitter(1.0, d).to_latent(state.y))
    assert not torch.allclose(z_blind, z, atol=1e-2)
    noisy = faded(z, 1.0, 0.0)  # N0 = 1: LMMSE without CSI only shrinks by 1/(1 + N0)
    assert torch.allclose(Receiver(1.0, d, csi="none").equalize(noisy), noisy.y / 2)


def test_receiver_over_snr_points() -> None:
    d = 8
    z = torch.randn(4, d, generator=gen())
    s = Transmitter(1.0, d)(z)[None]  # [1, B, n]
    snr = torch.tensor([0.0, 40.0])
    state = Rayleigh().apply(ChannelState.start(s), snr, generator=gen())
    z_hat = Receiver(1.0, d, equalizer="zf")(state)
    assert z_hat.shape == (2, 4, d)
    err = (z_hat - z).square().mean(dim=(1, 2))
    assert err[1] < 1e-2 < err[0]


def test_gradients_flow_through_the_link() -> None:
    z = torch.randn(3, 5, generator=gen(), requires_grad=True)
    tx, rx = Transmitter(1.5, 5), Receiver(1.5, 5)
    state = Rayleigh().apply(ChannelState.start(tx(z)), 10.0, generator=gen())
    rx(state).square().sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


# ------------------------------------------------------------------------ Sionna-style (y, h, no) calls


def test_receiver_takes_sionna_style_tensors() -> None:
    d, p_ref = 7, 2.0
    z = torch.randn(16, d, generator=gen(4), dtype=torch.float64)
    state = faded(z, p_ref, 5.0, seed=4)  # y = h·s + w, h complex [B, n], no = N0
    n0 = float(state.no.flatten()[0])
    assert torch.all(state.no == n0) and n0 == pytest.approx(10 ** -0.5)
    # independent reference: per-symbol LMMSE written out, then undo the gain and the pairing
    x_ref = state.h.conj() * state.y / (state.h.abs() ** 2 + n0)
    z_ref = symbols_to_latent(x_ref * p_ref**0.5, d)
    rx = Receiver(p_ref, d)
    assert torch.allclose(rx(state.y, state.h, n0), z_ref, rtol=1e-12, atol=1e-12)
    assert torch.allclose(rx(state), z_ref, rtol=1e-12, atol=1e-12)  # same as the ChannelState call
    assert torch.equal(rx(state.y, state.h, n0), rx(state.y, state.h, torch.tensor(n0, dtype=torch.float64)))
    # Sionna's flat-fading h: 1x1 channel matrices [B, n, 1, 1]
    assert torch.equal(rx(state.y, state.h[..., None, None], n0), rx(state.y, state.h, n0))
    # per-example noise variance [B, 1]
    no_b = torch.full((16, 1), n0, dtype=torch.float64)
    assert torch.allclose(rx(state.y, state.h, no_b), z_ref, rtol=1e-12, atol=1e-12)


def test_receiver_without_fading_and_defaults() -> None:
    d = 6
    z = torch.randn(8, d, generator=gen(5))
    s = Transmitter(1.0, d)(z)
    # h=None: no fading (h = 1); LMMSE with no = 1 halves y
    assert torch.allclose(Receiver(1.0, d)(s, None, 1.0), Transmitter(1.0, d).to_latent(s / 2))
    assert torch.allclose(Receiver(1.0, d)(s, no=0.0), z, atol=1e-6)
    # ZF and no equaliser need no noise variance
    assert torch.allclose(Receiver(1.0, d, equalizer="zf")(s), z, atol=1e-6)
    assert torch.allclose(Receiver(1.0, d, equalizer="none")(2 * s, 2.0), 2 * z, atol=1e-6)
    # per-example normalisation: scale by keyword with tensors, positionally with a state (as before)
    tx = Transmitter(1.0, d, normalize="per-example")
    s2, scale = tx.transmit(z)
    rx = Receiver(1.0, d, normalize="per-example")
    assert torch.allclose(rx(s2, None, 0.0, scale=scale), z, atol=1e-5)
    assert torch.allclose(rx(ChannelState.start(s2), scale), z, atol=1e-5)


@pytest.mark.parametrize("args, kwargs, argument, match", [
    ((torch.ones(4, 3, dtype=torch.complex64), None), {}, "no", "noise variance"),
    ((torch.ones(4, 2, dtype=torch.complex64), None, 0.1), {}, "y", r"\[\.\.\., 3\]"),
    ((torch.ones(4, 3), None, 0.1), {}, "y", "complex"),
    ((torch.ones(4, 3, dtype=torch.complex64), torch.ones(5, 3, dtype=torch.complex64), 0.1), {}, "h", "broadcast"),
    ((torch.ones(4, 3, dtype=torch.complex64), None, torch.ones(2, 1)), {}, "no", "broadcast"),
    ((torch.ones(4, 3, dtype=torch.complex64), None, -1.0), {}, "no", ">= 0"),
])
def test_receiver_tensor_call_errors(args, kwargs, argument, match) -> None:
    with pytest.raises(UsageError, match=match) as info:
        Receiver(1.0, 5)(*args, **kwargs)
    assert info.value.argument == argument and "\n" not in str(info.value)
