"""Jammers on the OFDM resource grid (``ofdm+pgd-jammer``, ``ofdm+noise-jammer``): the REs they may touch
(``res`` = data / pilots / all, ``subcarriers`` = START:STOP) and exactly zero elsewhere, budgets per example and
placement (ε = ‖δ‖₂, JSR over the example's signal REs: n data + pilots), PGD at least as damaging as
equal-power noise, the gradient through LS estimation, common random numbers, refusals, and the config."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import pytest
import torch

from channelae.channels import build_channel
from channelae.channels._budget import channel_signal_symbols, place_on_res, spec_signal_symbols
from channelae.channels.awgn import AWGN
from channelae.channels.base import ChannelState
from channelae.channels.noise_jammer import NoiseJammer
from channelae.channels.ofdm import DATA, OFDM, PILOT, UNUSED
from channelae.channels.pgd_jammer import PGDJammer
from channelae.data import load_dataset
from channelae.errors import UsageError
from channelae.link import Link
from channelae.models import build_model

pytestmark = pytest.mark.skipif(find_spec("sionna") is None, reason="needs sionna (sionna-no-rt)")

ROOT = Path(__file__).resolve().parents[1]
N = 5  # complex symbols of a d = 10 latent
#: A 3 × 4 grid for n = 5: OFDM symbol 0 = 4 pilots (REs 0-3), then 5 data REs (4-8) and 3 unused (9-11).
SMALL = {"fft_size": 4}
PILOTS_RE, DATA_RE, UNUSED_RE = [0, 1, 2, 3], [4, 5, 6, 7, 8], [9, 10, 11]
FAST = {"steps": 3, "starts": 1}  # a short search: these tests check where and how much, not how well


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def untrained():
    torch.manual_seed(0)
    return build_model("swt-vae", (1, 28, 28), 10).eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return load_dataset("mnist-5k", "test", limit=8).batch(range(8))


def _jammer(link: Link):
    return next(s for s in link.channel.stages if hasattr(s, "budget"))


def _norm(delta: torch.Tensor) -> torch.Tensor:
    """L2 norm per example over the grid (real view), float64."""
    return torch.view_as_real(delta).flatten(-2).double().norm(dim=-1)


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).square().flatten(-3).mean(-1)


# ------------------------------------------------------------------------------- where and how much


SELECTIONS = [
    ({"res": "data"}, DATA_RE),
    ({"res": "pilots"}, PILOTS_RE),
    ({"res": "all"}, PILOTS_RE + DATA_RE),
    ({}, PILOTS_RE + DATA_RE),  # default on a grid: data and pilots, never the unused REs
    ({"subcarriers": "1:3"}, [1, 2, 5, 6]),  # partial band, all kinds
    ({"res": "data", "subcarriers": "2:"}, [6, 7]),
    ({"res": "pilots", "subcarriers": (0, 1)}, [0]),
]


@pytest.mark.parametrize("placement", ["rx", "tx"])
@pytest.mark.parametrize(("sel", "touched"), SELECTIONS)
@pytest.mark.parametrize("spec", ["ofdm+pgd-jammer", "ofdm+noise-jammer"])
def test_budget_per_example_and_no_energy_outside_the_selected_res(untrained, spec, sel, touched,
                                                                   placement) -> None:
    """‖δ‖ ≤ ε per example (noise jammer: = ε), δ exactly 0 off the selected REs, and the received grid
    changes by δ (rx) or h·δ (tx) there and nowhere else (noiseless link, so y − y(ε = 0) is the jamming)."""
    eps = [0.0, 0.3, 1.5]
    opts = {**SMALL, **sel, "eps": eps, "placement": placement, "tdl": "C", "delay_spread": 300e-9}
    if "pgd" in spec:
        opts.update(FAST)
    link = Link(untrained, spec, p_ref=0.8, channel_options=opts)
    x = torch.rand(3, 1, 28, 28, generator=gen(0))
    out = link(x, [float("inf"), 10.0], generator=gen(1))
    delta = _jammer(link).last_delta  # [S, E, B, R]
    assert delta.shape == (2, 3, 3, 12)
    off = [r for r in range(12) if r not in touched]
    assert bool((delta[..., off] == 0).all())  # exactly
    norms = _norm(delta)  # [S, E, B]
    bound = torch.tensor(eps, dtype=torch.float64).reshape(1, -1, 1).expand_as(norms)
    if "noise" in spec:
        torch.testing.assert_close(norms, bound, rtol=1e-5, atol=1e-7)
        assert bool((delta[:, 1:][..., touched] != 0).all())  # the whole selection is used
    else:
        assert bool((norms <= bound * (1 + 1e-5) + 1e-7).all())
        assert bool((norms[:, 1:] > 0).all())  # it jams (the best iterate may lie inside the ball)
    assert bool((delta[:, 0] == 0).all())  # ε = 0: no jamming at all
    y = out.state.y[0]  # noiseless SNR point [E, B, R]
    h = out.state.h[0]
    added = y - y[:1]
    expect = delta[0] * h if placement == "tx" else delta[0]
    torch.testing.assert_close(added, expect, rtol=1e-5, atol=1e-6)
    assert bool((added[..., off] == 0).all())


def test_linf_pgd_on_the_grid_bounds_each_coordinate(untrained) -> None:
    """L∞: every real coordinate of the selected REs within ε/sqrt(2M) (M selected REs), so ‖δ‖₂ ≤ ε."""
    eps = 1.2
    kind = OFDM(**SMALL).grid_info(N).kind  # the layout the RE lists above assume
    assert kind.tolist() == [PILOT] * 4 + [DATA] * 5 + [UNUSED] * 3
    link = Link(untrained, "ofdm+pgd-jammer", p_ref=0.8,
                channel_options={**SMALL, "eps": [eps], "res": "pilots", "norm": "linf", **FAST})
    link(torch.rand(4, 1, 28, 28, generator=gen(2)), 20.0, generator=gen(3))
    delta = _jammer(link).last_delta
    coords = torch.view_as_real(delta[..., PILOTS_RE])
    assert float(coords.abs().max()) <= eps / (2 * len(PILOTS_RE)) ** 0.5 * (1 + 1e-6)
    assert bool((delta[..., DATA_RE + UNUSED_RE] == 0).all())
    assert bool((_norm(delta) <= eps * (1 + 1e-6)).all())


@pytest.mark.parametrize("spec", ["ofdm+pgd-jammer", "ofdm+noise-jammer"])
@pytest.mark.parametrize(("kw", "n_signal"), [
    ({}, 10),  # 2 × 5: 5 pilots + 5 data
    (SMALL, 9),  # 3 × 4: 4 pilots + 5 data (3 unused REs carry nothing and do not count)
    ({"speed": 30.0}, 15),  # moving UE: pilots on OFDM symbols 0 and 2
])
def test_jsr_is_over_the_signal_res_of_the_example(untrained, spec, kw, n_signal) -> None:
    """JSR = ‖δ‖²/(n_signal·Es), n_signal = data REs + pilot REs counted from the grid's RE kinds; the same
    count a simulation converts with (spec_signal_symbols, no Sionna grid built)."""
    info = OFDM(**kw).grid_info(N)
    assert int((info.kind == DATA).sum()) + int((info.kind == PILOT).sum()) == n_signal
    assert spec_signal_symbols(spec, N, {**kw, "res": "data"}) == n_signal
    jsr = [-10.0, 0.0, 3.0]
    opts = {**kw, "jsr_db": jsr, "res": "data"}
    if "pgd" in spec:
        opts.update(FAST)
    link = Link(untrained, spec, p_ref=0.8, channel_options=opts)
    link(torch.rand(3, 1, 28, 28, generator=gen(4)), float("inf"), generator=gen(5))
    energy = _norm(_jammer(link).last_delta)[0].square()  # [E, B]
    budget = n_signal * 10 ** (torch.tensor(jsr, dtype=torch.float64) / 10)
    if "noise" in spec:
        torch.testing.assert_close(energy, budget.reshape(-1, 1).expand_as(energy), rtol=1e-5, atol=0)
    else:
        assert bool((energy <= budget.reshape(-1, 1) * (1 + 1e-5)).all())


def test_latent_units_convert_through_the_gain_on_the_grid(untrained) -> None:
    """ε in latent units is g·ε in link units on the grid too (a unit conversion, documented)."""
    link = Link(untrained, "ofdm+noise-jammer", p_ref=0.8,
                channel_options={"eps": [0.5, 2.0], "eps_unit": "latent", "res": "pilots"})
    link(torch.rand(3, 1, 28, 28, generator=gen(12)), float("inf"), generator=gen(13))
    norms = _norm(_jammer(link).last_delta)[0]  # [E, B]
    g = link.transmitter.gain
    torch.testing.assert_close(norms, torch.tensor([[0.5 * g], [2.0 * g]], dtype=torch.float64).expand_as(norms))


def test_signal_symbols_off_a_grid_and_before_the_grid() -> None:
    assert spec_signal_symbols("awgn+pgd-jammer", N) == N
    assert spec_signal_symbols("rayleigh+noise-jammer", N, {"block_length": 0}) == N
    assert spec_signal_symbols("ofdm", N) == 2 * N  # no jammer: the REs the signal occupies
    # a jammer before the grid perturbs the n symbols themselves
    assert channel_signal_symbols(build_channel("noise-jammer+ofdm", eps=[1.0]), N) == N


def test_simulation_plan_converts_jsr_over_the_signal_res() -> None:
    """simulate's grid: JSR → ε with n_signal (10 for the default grid of n = 5), and back."""
    from channelae.simulate import SimulationConfig, plan_grid

    meta = {"p_ref": 2.0, "config": {"latent_dim": 10}}
    cfg = SimulationConfig(channel="ofdm+pgd-jammer", jsr_db=(-10.0, 0.0), snr_db=(20.0,),
                           channel_extra=(("res", "pilots"), ("tdl", "A")))
    plan = plan_grid(cfg, meta, "mnist-5k")
    assert plan.num_symbols == 10
    torch.testing.assert_close(torch.tensor(plan.eps, dtype=torch.float64),
                               torch.tensor([0.0, 1.0, 10 ** 0.5], dtype=torch.float64))
    assert plan.jsr_db == [float("-inf"), -10.0, 0.0]
    flat = plan_grid(SimulationConfig(channel="awgn+pgd-jammer", jsr_db=(0.0,)), meta, "mnist-5k")
    assert flat.num_symbols == N


# ------------------------------------------------------------------------------------- the attack


@pytest.mark.parametrize("res", ["data", "pilots"])
def test_pgd_beats_equal_power_noise_on_the_grid(trained_checkpoint, images, res) -> None:
    """Same images, channel and noise draws (same generator seed): mean damage PGD ≥ noise at every JSR."""
    jsr = [-20.0, -10.0, 0.0]
    snr = [float("inf"), 20.0]
    damage = {}
    for spec in ("ofdm+pgd-jammer", "ofdm+noise-jammer"):
        opts = {"jsr_db": jsr, "res": res, "tdl": "A"}
        if "pgd" in spec:
            opts.update(steps=10, starts=2)
        link = Link.from_checkpoint(trained_checkpoint, spec, channel_options=opts)
        out = link(images, snr, generator=gen(6))
        damage[spec] = _mse(out.x_hat, out.clean).mean(-1)  # [S, E]
    pgd, noise = damage["ofdm+pgd-jammer"], damage["ofdm+noise-jammer"]
    assert bool((pgd >= noise).all()), (pgd, noise)
    assert bool((pgd[:, -1] > 1.2 * noise[:, -1]).all()), (pgd, noise)  # by a margin at JSR 0 dB


def test_gradient_reaches_the_jammer_through_ls_estimation(trained_checkpoint, images) -> None:
    """Pilot REs reach the decoder only through the channel estimate: with LS, the gradient of the link's
    distortion w.r.t. a pilot perturbation is finite and non-zero and PGD on the pilots damages; with perfect
    CSI the pilots are never read, so the gradient is exactly 0 and pilot jamming leaves the output as it was."""
    x = images[:4]
    for estimator in ("ls", "perfect"):
        link = Link.from_checkpoint(trained_checkpoint, "ofdm", channel_options={"estimator": estimator})
        with torch.no_grad():
            s = link.transmitter(link.model.encode(x))
        st = link.channel.stages[0].apply(ChannelState.start(s), generator=gen(7))
        st = AWGN().apply(st, 20.0, generator=gen(8))
        pil = st.grid.mask("pilots").nonzero().flatten()
        d = torch.zeros(4, pil.numel(), dtype=st.y.dtype, requires_grad=True)
        clean = link.decode_state(st).detach()
        jammed = link.decode_state(st.replace(y=st.y + place_on_res(d + 0.05, pil, st.grid.num_res)))
        (g,) = torch.autograd.grad(_mse(jammed, clean).sum(), d)
        if estimator == "ls":
            assert bool(torch.isfinite(torch.view_as_real(g)).all()) and bool((g.abs() > 0).all())
        else:
            assert bool((g == 0).all())

        jam = Link.from_checkpoint(trained_checkpoint, "ofdm+pgd-jammer",
                                   channel_options={"estimator": estimator, "res": "pilots", "jsr_db": [0.0],
                                                    "steps": 10, "starts": 2})
        out = jam(x, 20.0, generator=gen(9))
        ref = Link.from_checkpoint(trained_checkpoint, "ofdm+noise-jammer",
                                   channel_options={"estimator": estimator, "eps": [0.0]})(x, 20.0, generator=gen(9))
        if estimator == "ls":
            assert float(_mse(out.x_hat, ref.x_hat).mean()) > 1e-3
        else:
            torch.testing.assert_close(out.x_hat, ref.x_hat, rtol=0, atol=1e-6)


def test_common_random_numbers_on_the_grid(untrained) -> None:
    """One channel draw per image for every SNR point and budget; the PGD link and its noise control see the
    same channel and noise, so their ε = 0 rows are bit-identical."""
    x = torch.rand(3, 1, 28, 28, generator=gen(10))
    outs = {}
    for spec in ("ofdm+pgd-jammer", "ofdm+noise-jammer"):
        opts = {"eps": [0.0, 1.0], "res": "pilots", "tdl": "C", "delay_spread": 300e-9}
        if "pgd" in spec:
            opts.update(FAST)
        outs[spec] = Link(untrained, spec, p_ref=0.8, channel_options=opts)(x, [30.0, 10.0], generator=gen(11))
    a, b = outs["ofdm+pgd-jammer"], outs["ofdm+noise-jammer"]
    h = a.state.h
    assert torch.equal(h[0], h[1].expand_as(h[0]))  # one realisation for both SNR points
    assert torch.equal(a.state.h, b.state.h)
    assert torch.equal(a.x_hat[:, 0], b.x_hat[:, 0])
    assert not torch.equal(a.x_hat[:, 1], b.x_hat[:, 1])


# ------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("spec", ["pgd-jammer", "awgn+noise-jammer", "rayleigh+pgd-jammer"])
@pytest.mark.parametrize("opt", [{"res": "pilots"}, {"subcarriers": "0:2"}])
def test_grid_options_are_refused_on_flat_channels(untrained, spec, opt) -> None:
    link = Link(untrained, spec, p_ref=0.8, channel_options={"eps": [1.0], **opt, **FAST} if "pgd" in spec
                else {"eps": [1.0], **opt})
    with pytest.raises(UsageError) as info:
        link(torch.rand(2, 1, 28, 28), 10.0, generator=gen(0))
    assert info.value.argument == next(iter(opt)) and "\n" not in str(info.value)
    assert "ofdm+" in str(info.value)
    # and early, when a simulation plans its budgets (before any image runs)
    with pytest.raises(UsageError, match="no grid"):
        spec_signal_symbols(spec, N, {**opt, "block_length": 0} if "rayleigh" in spec else opt)


@pytest.mark.parametrize("cls", [PGDJammer, NoiseJammer])
@pytest.mark.parametrize(("kw", "arg"), [
    ({"res": "guard"}, "res"),
    ({"res": 3}, "res"),
    ({"subcarriers": "3:1"}, "subcarriers"),
    ({"subcarriers": "2:2"}, "subcarriers"),
    ({"subcarriers": "-1:2"}, "subcarriers"),
    ({"subcarriers": "a:b"}, "subcarriers"),
    ({"subcarriers": "1-2"}, "subcarriers"),
    ({"subcarriers": "1:2:3"}, "subcarriers"),
    ({"subcarriers": "1.5:3"}, "subcarriers"),
    ({"subcarriers": 4}, "subcarriers"),
    ({"subcarriers": (True, 3)}, "subcarriers"),
])
def test_bad_grid_options_are_one_line_usage_errors(cls, kw, arg) -> None:
    with pytest.raises(UsageError) as info:
        cls(eps=1.0, **kw)
    assert info.value.argument == arg and "\n" not in str(info.value)


@pytest.mark.parametrize(("kw", "match"), [
    ({"subcarriers": "0:9"}, "<= 5"),  # the default grid of n = 5 has 5 subcarriers
    ({"subcarriers": "5:"}, "<= 5"),
    ({"res": "pilots", "pilot_pattern": "empty", "estimator": "perfect"}, "no resource element"),
])
def test_selections_outside_the_grid_are_refused_when_it_is_known(untrained, kw, match) -> None:
    link = Link(untrained, "ofdm+noise-jammer", p_ref=0.8, channel_options={"eps": [1.0], **kw})
    with pytest.raises(UsageError, match=match) as info:
        link(torch.rand(2, 1, 28, 28), 10.0, generator=gen(0))
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------------------------- config


def test_ofdm_jamming_config_parses() -> None:
    from channelae.experiments import _sim_config, load_config

    cfg = load_config(ROOT / "configs" / "ofdm_jamming.toml")
    assert cfg.dataset == "mnist-5k" and [m.family for m in cfg.models] == ["swt-vae"]
    by_label = {s.label: s for s in cfg.simulations}
    assert set(by_label) == {"data", "pilots", "partial-band"}
    expect = {"data": ("data", None), "pilots": ("pilots", None), "partial-band": ("all", "0:2")}
    sims = {}
    for label, sim in by_label.items():
        for quick in (False, True):
            sc = _sim_config(cfg, sim, quick=quick)
            extra = dict(sc.channel_extra)
            assert sc.channel == "ofdm+pgd-jammer" and extra["estimator"] == "ls" and extra["tdl"] == "A"
            assert (extra["res"], extra.get("subcarriers")) == expect[label]
            ch = build_channel(sc.channel, **sc.channel_options(), eps=[0.0])
            assert isinstance(ch.stages[0], OFDM) and isinstance(ch.stages[1], PGDJammer)
            assert ch.stages[1].res == expect[label][0]
        sims[label] = _sim_config(cfg, sim, quick=False)
    # paired comparisons need the same images, seed, SNR and budget grids in every simulation
    keys = ("jsr_db", "snr_db", "n_images", "seed", "placement", "metrics")
    assert len({tuple(getattr(s, k) for k in keys) for s in sims.values()}) == 1


# --------------------------------------------------------------------- simulate, paired comparison


def test_simulations_on_the_grid_are_paired_and_the_example_compares_them(trained_checkpoint, tmp_path,
                                                                          capsys) -> None:
    """Two simulations differing only in ``res`` see the same images and channel draws (their ε = 0 rows are
    identical per image), report JSR over the signal REs, and examples/ofdm_pilot_vs_data.py gives the paired
    mean difference with the t-interval scipy computes."""
    import importlib.util

    import numpy as np
    from safetensors.torch import load_file
    from scipy import stats

    from channelae.simulate import SimulationConfig, simulate

    run = tmp_path / "run" / "swt-vae"
    for res in ("data", "pilots"):
        cfg = SimulationConfig(channel="ofdm+pgd-jammer", jsr_db=(-10.0, 0.0), snr_db=(20.0,), n_images=5,
                               steps=2, metrics=("ssim", "mse"), channel_extra=(("res", res), ("starts", 1)))
        out = simulate(cfg, run / res, checkpoint=trained_checkpoint, device="cpu", progress=False)
        assert out.budget.num_symbols == 10 and out.budget.jsr_db == [float("-inf"), -10.0, 0.0]
        torch.testing.assert_close(torch.tensor(out.budget.eps), torch.tensor([0.0, 1.0, 10 ** 0.5]),
                                   check_dtype=False)
    a = load_file(str(run / "pilots" / "per_image.safetensors"))
    b = load_file(str(run / "data" / "per_image.safetensors"))
    assert torch.equal(a["jammer.ssim"][:, 0], b["jammer.ssim"][:, 0])  # same images, channel and noise
    assert torch.equal(a["noise.ssim"][:, 0], a["jammer.ssim"][:, 0])

    spec = importlib.util.spec_from_file_location("example_ofdm_pvd", ROOT / "examples" / "ofdm_pilot_vs_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    res = module.main([str(tmp_path / "run"), "--metric", "ssim"])
    assert "pilots − data" in capsys.readouterr().out
    d = (a["jammer.ssim"] - b["jammer.ssim"]).numpy()[0, 2]  # SNR 20 dB, JSR 0 dB, per image
    lo, hi = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    np.testing.assert_allclose([res["diff"][0][2], res["lo"][0][2], res["hi"][0][2]], [d.mean(), lo, hi],
                               rtol=1e-6, atol=1e-9)
    assert res["diff"][0][0] == 0.0  # ε = 0
    assert (tmp_path / "run" / "paired_pilots_vs_data_jammer_ssim.json").exists()
