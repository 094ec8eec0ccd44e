"""Channels: AWGN statistics against the SNR formula, fading statistics, composition and the registry."""

from __future__ import annotations

import math

import pytest
import torch

from channelae.channels import CHANNELS, Channel, ChannelState, Compose, build_channel, channel_names
from channelae.channels.awgn import AWGN
from channelae.channels.ideal import Ideal
from channelae.channels.rayleigh import Rayleigh
from channelae.channels.rician import Rician
from channelae.errors import UsageError


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def ones(*shape: int, dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    return torch.ones(shape, dtype=dtype)


def qpsk(*shape: int, seed: int = 1) -> torch.Tensor:
    """Random unit-energy QPSK symbols (an independent, nontrivial signal)."""
    g = gen(seed)
    bits = torch.randint(0, 2, (*shape, 2), generator=g).float() * 2 - 1
    return torch.complex(bits[..., 0], bits[..., 1]) / math.sqrt(2)


# ---------------------------------------------------------------- AWGN


def test_awgn_empirical_snr_matches_request_in_one_call() -> None:
    snr_db = torch.arange(-10.0, 31.0, 5.0)  # [S] = 9 points
    n = 200_000
    s = qpsk(1, n)  # [1, n]: broadcast up to [S, n]
    y = AWGN()(s, snr_db, generator=gen(3))
    assert y.shape == (len(snr_db), n)
    w = (y - s).to(torch.complex128)
    n0_expected = 10.0 ** (-snr_db.double() / 10)
    n0_measured = w.abs().square().mean(-1)
    es = s.abs().square().mean().double()
    measured_snr_db = 10 * torch.log10(es / n0_measured)
    assert torch.allclose(measured_snr_db, snr_db.double(), atol=0.1), measured_snr_db
    # N0/2 per real dimension, and the two real dimensions uncorrelated
    for part in (w.real, w.imag):
        assert torch.allclose(part.var(-1) / (n0_expected / 2), torch.ones(9, dtype=torch.float64), rtol=0.02)
    corr = (w.real * w.imag).mean(-1) / (n0_expected / 2)
    assert corr.abs().max() < 0.02
    assert w.mean(-1).abs().max() < 5 * (n0_expected / n).sqrt().max()


def test_awgn_state_bookkeeping_and_shapes() -> None:
    s = qpsk(4, 8)[None]  # [1, B, n]
    snr = torch.tensor([0.0, 10.0, 20.0])
    out = AWGN().apply(ChannelState.start(s), snr, generator=gen())
    assert out.y.shape == (3, 4, 8)
    assert out.no.shape == (3, 1, 1)
    assert torch.allclose(out.no.flatten(), 10 ** (-snr / 10))
    assert torch.equal(out.h, ChannelState.start(s).h)
    # scalar SNR keeps the input shape
    assert AWGN()(qpsk(4, 8), 5.0, generator=gen()).shape == (4, 8)
    # SNR dims that do not line up with the leading dims -> a clear error
    with pytest.raises(ValueError, match="leading"):
        AWGN()(qpsk(4, 8), snr, generator=gen())


def test_awgn_infinite_snr_is_exact_identity() -> None:
    s = qpsk(5, 7)
    y = AWGN()(s, float("inf"), generator=gen())
    assert torch.equal(y, s)
    assert torch.equal(AWGN()(s, None), s)
    # inf inside an SNR tensor: exact zeros added there, no NaN anywhere
    y = AWGN()(s[None], torch.tensor([float("inf"), 0.0]), generator=gen())
    assert torch.equal(y[0], s)
    assert not torch.equal(y[1], s)
    assert torch.isfinite(torch.view_as_real(y)).all()


def test_awgn_rejects_nan_and_minus_inf() -> None:
    with pytest.raises(ValueError, match="NaN or -inf"):
        AWGN()(qpsk(2, 3), float("-inf"))
    with pytest.raises(ValueError, match="NaN or -inf"):
        AWGN()(qpsk(1, 3), torch.tensor([1.0, float("nan")]))


def test_awgn_rejects_real_input() -> None:
    with pytest.raises(TypeError, match="complex"):
        AWGN()(torch.ones(3, 4), 10.0)


def test_awgn_reproducible_with_seed_and_seeds_differ() -> None:
    s = qpsk(3, 50)
    a = AWGN()(s, 0.0, generator=gen(7))
    b = AWGN()(s, 0.0, generator=gen(7))
    c = AWGN()(s, 0.0, generator=gen(8))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_awgn_complex128() -> None:
    s = qpsk(1, 100_000).to(torch.complex128)
    y = AWGN()(s, 10.0, generator=gen())
    assert y.dtype == torch.complex128
    assert abs((y - s).abs().square().mean().item() / 0.1 - 1) < 0.02


def test_awgn_gradient_flows_to_input() -> None:
    s = qpsk(2, 4).requires_grad_(True)
    AWGN()(s, 10.0, generator=gen()).abs().square().sum().backward()
    assert s.grad is not None and torch.isfinite(torch.view_as_real(s.grad)).all()


# ---------------------------------------------------------------- fading


def fade(channel: Channel, *shape: int, seed: int = 0) -> torch.Tensor:
    """The fading coefficients seen by all-ones symbols (no noise): y = h."""
    return channel(ones(*shape), None, generator=gen(seed))


def test_rayleigh_unit_power_and_circular() -> None:
    h = fade(Rayleigh(add_awgn=False), 100, 1000)
    assert abs(h.abs().square().mean().item() - 1) < 0.02
    assert h.mean().abs().item() < 0.01
    # |h|^2 ~ Exp(1): P(|h|^2 < 0.1) = 1 - e^-0.1
    frac = (h.abs().square() < 0.1).float().mean().item()
    assert abs(frac - (1 - math.exp(-0.1))) < 0.005
    # per symbol: neighbours are independent
    corr = (h[:, 1:] * h[:, :-1].conj()).mean().abs().item()
    assert corr < 0.01


def test_rayleigh_block_fading_constant_within_blocks_independent_across() -> None:
    n, L = 10, 4  # blocks [0:4], [4:8], [8:10] (last one shorter)
    h = fade(Rayleigh(block_length=L, add_awgn=False), 20_000, n)
    for lo, hi in [(0, 4), (4, 8), (8, 10)]:
        assert torch.equal(h[:, lo:hi], h[:, lo : lo + 1].expand(-1, hi - lo))
    first = h[:, [0, 4, 8]]  # one coefficient per block
    assert not torch.allclose(first[:, 0], first[:, 1])
    for i, j in [(0, 1), (1, 2), (0, 2)]:
        assert (first[:, i] * first[:, j].conj()).mean().abs().item() < 0.03
    assert abs(first.abs().square().mean().item() - 1) < 0.03


@pytest.mark.parametrize("block_length", [None, 0])
def test_rayleigh_per_example_one_h_per_row(block_length: int | None) -> None:
    ch = Rayleigh(block_length=block_length, add_awgn=False)
    out = ch.apply(ChannelState.start(ones(5000, 6)), generator=gen())
    assert out.h.shape == (5000, 1)
    assert torch.equal(out.y, out.h.expand(-1, 6))
    assert abs(out.h.abs().square().mean().item() - 1) < 0.06


def test_rayleigh_with_awgn_tracks_noise_and_h() -> None:
    ch = Rayleigh()
    assert ch.adds_noise and not Rayleigh(add_awgn=False).adds_noise
    s = qpsk(1, 50_000)
    out = ch.apply(ChannelState.start(s), torch.tensor([10.0]), generator=gen())
    w = out.y - out.h * s
    assert abs(w.abs().square().mean().item() / 0.1 - 1) < 0.03
    assert torch.allclose(out.no.flatten(), torch.tensor([0.1]))


def test_fading_scales_noise_already_present() -> None:
    s = qpsk(1, 1000)
    out = Compose([AWGN(), Rayleigh(add_awgn=False)]).apply(ChannelState.start(s), 0.0, generator=gen())
    assert torch.allclose(out.no, out.h.abs().square() * 1.0)


def rician_k_moment(h: torch.Tensor) -> float:
    """Moment estimator of the K-factor: |E h|^2 / Var(h)."""
    m = h.mean()
    return (m.abs().square() / (h - m).abs().square().mean()).item()


@pytest.mark.parametrize("k_db", [-3.0, 0.0, 6.0, 10.0])
def test_rician_k_factor_and_unit_power(k_db: float) -> None:
    h = fade(Rician(k_db=k_db, add_awgn=False), 200, 1000, seed=int(k_db) + 20)
    k_hat_db = 10 * math.log10(rician_k_moment(h))
    assert abs(k_hat_db - k_db) < 0.15
    assert abs(h.abs().square().mean().item() - 1) < 0.02
    # LOS phase 0 by default: the mean is real and positive
    assert h.mean().real.item() > 0 and abs(h.mean().imag.item()) < 0.01


def test_rician_los_phase_fixed_and_random() -> None:
    h = fade(Rician(k_db=10.0, los_phase=math.pi / 2, add_awgn=False), 100, 1000)
    assert abs(torch.angle(h.mean()).item() - math.pi / 2) < 0.01
    k = 10 ** (3 / 10)
    h = fade(Rician(k_db=3.0, los_phase="random", add_awgn=False), 200, 1000)
    assert h.mean().abs().item() < 0.01  # random LOS phase averages out
    assert abs(h.abs().square().mean().item() - 1) < 0.02
    # fourth moment of a Rician envelope: E|h|^4 = (2 + 4K + K^2) / (K + 1)^2 (phase-independent)
    m4 = h.abs().pow(4).mean().item()
    assert abs(m4 / ((2 + 4 * k + k * k) / (k + 1) ** 2) - 1) < 0.03


def test_rician_limits() -> None:
    h = fade(Rician(k_db=float("inf"), add_awgn=False), 10, 10)
    assert torch.allclose(h, ones(10, 10))  # pure LOS
    h = fade(Rician(k_db=float("-inf"), add_awgn=False), 100, 1000)
    assert h.mean().abs().item() < 0.01  # Rayleigh


def test_fading_reproducible_and_blocks_with_rician() -> None:
    ch = Rician(k_db=0.0, block_length=3)
    a = fade(ch, 4, 7, seed=5)
    assert torch.equal(a, fade(ch, 4, 7, seed=5))
    assert not torch.equal(a, fade(ch, 4, 7, seed=6))
    assert torch.equal(a[:, 0:3], a[:, :1].expand(-1, 3)) and torch.equal(a[:, 3:6], a[:, 3:4].expand(-1, 3))
    assert not torch.equal(a[:, 5], a[:, 6])  # last block (one symbol) is a new draw


def test_fading_shapes_with_snr_points_share_fading() -> None:
    s = ones(1, 3, 8)
    out = Rayleigh().apply(ChannelState.start(s), torch.tensor([0.0, 20.0]), generator=gen())
    assert out.y.shape == (2, 3, 8) and out.h.shape == (1, 3, 8)
    # the two SNR points see the same fading; the higher SNR is closer to h*s
    err = (out.y - out.h * s).abs().square().mean(dim=(1, 2))
    assert err[1] < err[0] / 30


def test_fading_complex128() -> None:
    h = fade(Rician(k_db=3.0, add_awgn=False), 2, 5)
    assert h.dtype == torch.complex64
    y = Rician(k_db=3.0)(ones(2, 5, dtype=torch.complex128), 10.0, generator=gen())
    assert y.dtype == torch.complex128


def test_bad_fading_options() -> None:
    with pytest.raises(UsageError, match="block_length"):
        Rayleigh(block_length=-1)
    with pytest.raises(UsageError, match="k_db"):
        Rician(k_db="lots")
    with pytest.raises(UsageError, match="los_phase"):
        Rician(los_phase="sideways")
    with pytest.raises(UsageError, match="add_awgn"):
        Rayleigh(add_awgn="maybe")  # type: ignore[arg-type]
    assert not Rayleigh(add_awgn="false").adds_noise  # type: ignore[arg-type]


# ---------------------------------------------------------------- compose


class Scale(Channel):
    def __init__(self, factor: complex) -> None:
        super().__init__()
        self.factor = factor

    def apply(self, state, snr_db=None, *, tail=None, generator=None):  # type: ignore[override]
        return state.replace(y=state.y * self.factor)


class Shift(Channel):
    def __init__(self, offset: float) -> None:
        super().__init__()
        self.offset = offset

    def apply(self, state, snr_db=None, *, tail=None, generator=None):  # type: ignore[override]
        return state.replace(y=state.y + self.offset)


class Recorder(Channel):
    """A fake adversarial stage: records the tail and the SNR it was given."""

    needs_decoder = True

    def __init__(self) -> None:
        super().__init__()
        self.tails: list = []

    def apply(self, state, snr_db=None, *, tail=None, generator=None):  # type: ignore[override]
        self.tails.append(tail)
        return state


def test_compose_applies_in_order() -> None:
    s = ones(2, 3)
    assert torch.equal(Compose([Scale(2), Shift(1)])(s), s * 2 + 1)
    assert torch.equal(Compose([Shift(1), Scale(2)])(s), (s + 1) * 2)


def test_compose_passes_the_rest_of_the_link_as_tail() -> None:
    rec = Recorder()
    ch = Compose([Scale(2), rec, Shift(1), Scale(3)])
    assert ch.needs_decoder and not ch.adds_noise

    def outer(st: ChannelState) -> torch.Tensor:
        return st.y * 10  # stands for receiver + decoder

    s = ones(2, 3)
    y = ch.apply(ChannelState.start(s), 5.0, tail=outer).y
    assert torch.equal(y, ((s * 2) + 1) * 3)
    (tail,) = rec.tails
    probe = ChannelState.start(torch.full((2, 3), 7 + 0j))
    # the recorded tail runs the LATER stages (+1, *3) and then the outer tail (*10)
    assert torch.equal(tail(probe), ((probe.y + 1) * 3) * 10)


def test_compose_last_stage_gets_outer_tail_and_nested() -> None:
    rec = Recorder()
    outer = lambda st: st.y
    Compose([Shift(1), rec]).apply(ChannelState.start(ones(1, 2)), tail=outer)
    assert rec.tails[0] is outer
    rec2 = Recorder()
    inner = Compose([rec2, Shift(1)])
    Compose([inner, Scale(2)]).apply(ChannelState.start(ones(1, 2)), tail=outer)
    assert torch.equal(rec2.tails[0](ChannelState.start(ones(1, 2))), (ones(1, 2) + 1) * 2)


def test_compose_without_outer_tail_gives_none() -> None:
    rec = Recorder()
    Compose([rec, Shift(1)]).apply(ChannelState.start(ones(1, 2)))
    assert rec.tails == [None]


def test_compose_flags_and_validation() -> None:
    assert Compose([Rayleigh(add_awgn=False), AWGN()]).adds_noise
    assert not Compose([Rayleigh(add_awgn=False), Ideal()]).adds_noise
    with pytest.raises(ValueError):
        Compose([])
    with pytest.raises(TypeError):
        Compose([torch.nn.Identity()])  # type: ignore[list-item]


# ---------------------------------------------------------------- registry / build_channel


def test_registry_has_the_basic_channels() -> None:
    assert {"ideal", "awgn", "rayleigh", "rician"} <= set(channel_names())
    assert channel_names() == sorted(channel_names())


def test_build_single_and_composed() -> None:
    assert isinstance(build_channel("awgn"), AWGN)
    assert isinstance(build_channel(" ideal "), Ideal)
    ch = build_channel("rayleigh + awgn", block_length=4)
    assert isinstance(ch, Compose) and len(ch) == 2
    assert isinstance(ch[0], Rayleigh) and ch[0].block_length == 4
    # in a composition, a fading stage that is not last leaves the noise to the end of the chain
    assert not ch[0].add_awgn and ch.adds_noise
    assert build_channel("rayleigh").add_awgn
    assert build_channel("rayleigh+awgn", add_awgn=True)[0].add_awgn  # explicit wins


def test_build_routes_options_to_the_stages_that_take_them() -> None:
    ch = build_channel("rician+rayleigh", k_db=6.0, block_length=2, los_phase=None)
    assert ch[0].k_db == 6.0 and ch[0].block_length == 2 and ch[1].block_length == 2
    assert ch[0].los_phase == 0.0  # None = the channel's default
    assert build_channel("awgn", k_db=None, block_length=None).adds_noise


def test_build_unknown_option_names_the_channels_that_take_it() -> None:
    with pytest.raises(UsageError, match="k_db.*rician") as err:
        build_channel("rayleigh+awgn", k_db=3.0)
    assert err.value.argument == "k_db"
    with pytest.raises(UsageError, match="frobnicate.*no channel takes it"):
        build_channel("awgn", frobnicate=1)


def test_build_unknown_channel_lists_allowed_names() -> None:
    with pytest.raises(UsageError, match="rayleight") as err:
        build_channel("rayleight+awgn")
    for name in ("awgn", "ideal", "rayleigh", "rician"):
        assert name in str(err.value)
    assert err.value.argument == "--channel"
    with pytest.raises(UsageError, match="empty stage"):
        build_channel("awgn++ideal")
    with pytest.raises(UsageError):
        build_channel("  ")


def test_registered_factories_return_channels() -> None:
    for name in ("ideal", "awgn", "rayleigh", "rician"):
        assert isinstance(CHANNELS.get(name)(), Channel)


# ---------------------------------------------------------------- common random numbers (shared realisations)


@pytest.mark.parametrize("stage", [AWGN(), Rayleigh(), Rayleigh(block_length=2), Rician(k_db=3.0, los_phase="random")])
def test_random_stages_draw_one_realisation_along_shared_dims(stage: Channel) -> None:
    """shared_dims = (SNR, budget): every SNR point and budget of an image sees the same fading and the same unit
    noise (scaled by sqrt(N0) of its SNR); the other dims (images, symbols) get independent draws."""
    S, E, B, n = 3, 2, 4, 6
    s = qpsk(B, n)
    y = s.expand(S, E, B, n).clone()
    snr = torch.tensor([0.0, 10.0, 20.0])
    st = ChannelState.start(y, shared_dims=(0, 1))
    out = stage.apply(st, snr, generator=gen(5))
    n0 = 10 ** (-snr / 10)
    h = torch.broadcast_to(out.h, (S, E, B, n))
    w = (out.y - h * s) / n0.sqrt().reshape(S, 1, 1, 1)  # the unit noise of every point
    assert torch.allclose(w, w[:1, :1].expand_as(w), atol=1e-5), "the same unit noise at every SNR and budget"
    assert torch.equal(h, h[:1, :1].expand_as(h))
    assert w[0, 0].std() > 0.3  # independent across images and symbols: real noise
    # without shared dims each point draws its own realisation (as before)
    free = stage.apply(ChannelState.start(y), snr, generator=gen(5))
    wf = (free.y - torch.broadcast_to(free.h, y.shape) * s) / n0.sqrt().reshape(S, 1, 1, 1)
    assert not torch.allclose(wf[0, 0], wf[1, 1], atol=1e-3)


def test_same_generator_same_realisations_whatever_the_budget_count() -> None:
    """Two links with identically seeded generators see the same receiver noise even when one has more budgets:
    the draw has size 1 along the budget dim."""
    s = qpsk(4, 6)
    outs = []
    for E in (1, 5):
        st = ChannelState.start(s.expand(2, E, 4, 6).clone(), shared_dims=(0, 1))
        outs.append(Compose([Rayleigh(), AWGN()]).apply(st, torch.tensor([5.0, 15.0]), generator=gen(2)).y)
    assert torch.equal(outs[0][:, 0], outs[1][:, 0]) and torch.equal(outs[1][:, 0], outs[1][:, 4])


def test_with_budget_dim_marks_the_inserted_dim() -> None:
    st = ChannelState.start(qpsk(3, 4, 5), shared_dims=(0,))  # [S, B, n]
    y = st.y.unsqueeze(-3).expand(3, 7, 4, 5)
    marked = st.with_budget_dim(y=y)
    assert marked.shared_dims == (0, 1) and marked.y is y
    assert marked.replace(no=torch.tensor(0.5)).shared_dims == (0, 1)  # replace carries it
    flat = ChannelState.start(qpsk(4, 5)).with_budget_dim(y=qpsk(4, 5)[None])  # [1, B, n]: budget dim 0
    assert flat.shared_dims == (0,)
    with pytest.raises(ValueError, match="budget dim"):
        ChannelState.start(qpsk(5)).with_budget_dim(y=qpsk(4, 5))


def test_private_generator_takes_exactly_one_draw_and_is_salted() -> None:
    from channelae.channels.base import private_generator

    g1, g2 = gen(7), gen(7)
    a = private_generator(g1, "pgd-jammer")
    torch.randint(-(2**63), 2**63 - 1, (), dtype=torch.int64, generator=g2)  # one 64-bit draw
    assert torch.equal(torch.rand(5, generator=g1), torch.rand(5, generator=g2))  # the link stream moved by one
    b = private_generator(gen(7), "noise-jammer")
    assert not torch.equal(torch.rand(5, generator=a), torch.rand(5, generator=b))
    assert torch.equal(torch.rand(5, generator=private_generator(gen(7), "pgd-jammer")),
                       torch.rand(5, generator=private_generator(gen(7), "pgd-jammer")))
    assert private_generator(None, "x") is None


def test_tail_draws_later_stages_from_the_generator_it_is_given() -> None:
    """A jammer's tail(state, generator=g) draws the later stages' randomness from g (its own stream), leaving
    the link's generator untouched; call_tail also serves one-argument tails."""
    from channelae.channels.base import call_tail

    rec = Recorder()
    link_gen = gen(1)
    Compose([rec, AWGN()]).apply(ChannelState.start(qpsk(4, 6)), 10.0, tail=lambda st: st.y, generator=link_gen)
    (tail,) = rec.tails
    probe = ChannelState.start(qpsk(4, 6))
    state_before = link_gen.get_state()
    a = call_tail(tail, probe, gen(9))
    b = call_tail(tail, probe, gen(9))
    assert torch.equal(a, b) and torch.equal(link_gen.get_state(), state_before)
    c = tail(probe)  # no generator: the link's, which then advances
    assert not torch.equal(c, a) and not torch.equal(link_gen.get_state(), state_before)
    assert torch.equal(call_tail(lambda st: st.y * 2, probe, gen(9)), probe.y * 2)
