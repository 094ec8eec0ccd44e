"""The digital reference link (quantiser → 5G LDPC → QAM → channel → APP demapper → BP → de-quantiser).

Independent references: closed-form BER of Gray QPSK / 16-QAM over AWGN (and QPSK over Rayleigh), the
quantiser's step bound, hand-computed segmentation and channel-use counts, L2 norms of the jammers'
perturbations recovered from the received symbols.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch

pytest.importorskip("sionna.phy")

from channelae.channels.awgn import AWGN
from channelae.channels.base import ChannelState
from channelae.channels.noise_jammer import NoiseJammer
from channelae.checkpoint import save_checkpoint
from channelae.data import load_dataset
from channelae.digital import (
    CodePlan,
    DigitalLink,
    DigitalPGDJammer,
    UniformQuantizer,
    digital_channel,
    equal_bandwidth,
    llr_surrogate,
    plan_code,
)
from channelae.digital.link import equalize_for_demapper
from channelae.digital.phy import CodedModem
from channelae.digital.quantize import from_gray, to_gray
from channelae.errors import UsageError
from channelae.models import build_model

B = 8
D = 10


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return load_dataset("mnist-5k", "test", limit=B).batch(range(B))


@pytest.fixture(scope="module")
def model_and_stats():
    """An untrained model (bits, not image quality, are under test) and its latent statistics."""
    torch.manual_seed(0)
    model = build_model("swt-vae", (1, 28, 28), D).eval()
    with torch.no_grad():
        z = model.encode(load_dataset("mnist-5k", "train", limit=64).batch(range(64)))
    return model, z.mean(0).tolist(), z.std(0).tolist()


def make_link(model_and_stats, channel: str = "awgn", **kw) -> DigitalLink:
    model, mean, std = model_and_stats
    return DigitalLink(model, channel, latent_mean=mean, latent_std=std, **kw)


def q_func(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2))


def ber_tolerance(p: float, n: int) -> float:
    """Five standard deviations of a BER estimate from n bits."""
    return 5 * math.sqrt(max(p, 10 / n) * (1 - p) / n)


# ------------------------------------------------------------------------------------------------ quantiser


@pytest.mark.parametrize("mapping", ["natural", "gray"])
@pytest.mark.parametrize("bits", [1, 3, 8])
def test_quantiser_round_trip_within_half_a_step(bits: int, mapping: str) -> None:
    mean, std = torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 0.5, 3.0])
    q = UniformQuantizer.from_statistics(mean, std, bits, clip_std=2.0, mapping=mapping)
    torch.testing.assert_close(q.low, (mean - 2 * std).double())
    torch.testing.assert_close(q.high, (mean + 2 * std).double())
    u = torch.rand(2000, 3, generator=gen(0), dtype=torch.float64)
    z = q.low + u * (q.high - q.low)  # inside the clipping range
    bitstr = q.encode(z)
    assert bitstr.shape == (2000, 3 * bits) and set(bitstr.unique().tolist()) <= {0.0, 1.0}
    z_hat = q.decode(bitstr, torch.float64)
    assert ((z_hat - z).abs() <= q.step / 2 + 1e-12).all()
    torch.testing.assert_close(q(z), z_hat)
    # outside the range values clip to the end cells' centres
    far = torch.stack([q.low - 5, q.high + 5])
    torch.testing.assert_close(q(far), torch.stack([q.low + q.step / 2, q.high - q.step / 2]))


def test_quantiser_bit_layout_by_hand() -> None:
    q = UniformQuantizer(torch.zeros(2), torch.full((2,), 8.0), bits=3)  # step 1: index = floor(z)
    bits = q.encode(torch.tensor([[5.2, 1.9]]))
    assert bits.tolist() == [[1, 0, 1, 0, 0, 1]]  # 5 = 101, 1 = 001 (MSB first, dimension after dimension)
    torch.testing.assert_close(q.decode(bits), torch.tensor([[5.5, 1.5]]))
    g = UniformQuantizer(torch.zeros(1), torch.full((1,), 8.0), bits=3, mapping="gray")
    assert g.encode(torch.tensor([[5.2]])).tolist() == [[1, 1, 1]]  # gray(5) = 5 ^ 2 = 7


def test_gray_code_neighbours_differ_in_one_bit() -> None:
    i = torch.arange(2**10)
    g = to_gray(i)
    flips = (g[1:] ^ g[:-1]).tolist()
    assert all(f & (f - 1) == 0 and f > 0 for f in flips)  # exactly one bit set
    assert torch.equal(from_gray(g, 10), i)


def test_quantiser_refuses_bad_settings() -> None:
    with pytest.raises(UsageError, match="--bits"):
        UniformQuantizer(torch.zeros(1), torch.ones(1), bits=0)
    with pytest.raises(UsageError, match="--bit-mapping"):
        UniformQuantizer(torch.zeros(1), torch.ones(1), bits=2, mapping="johnson")
    with pytest.raises(UsageError, match="--clip-std"):
        UniformQuantizer.from_statistics([0.0], [1.0], 4, clip_std=0.0)


# ------------------------------------------------------------------------------------------------ code plan


def test_code_plan_counts_by_hand() -> None:
    p = plan_code(60, 16, 0.5)  # d=10 x 6 bits, 16-QAM, rate 1/2
    assert (p.num_codewords, p.info_bits, p.codeword_bits, p.padding) == (1, 60, 120, 0)
    assert p.num_channel_uses == 30 and p.code_rate == 0.5
    p = plan_code(8, 4, 0.5)  # below 5G's 12-bit minimum: padded to 12
    assert (p.info_bits, p.padding, p.codeword_bits, p.num_channel_uses) == (12, 4, 24, 12)
    p = plan_code(60, 64, 1 / 3)  # n rounded up to whole 64-QAM symbols: 180 = 30 symbols
    assert p.codeword_bits == 180 and p.num_channel_uses == 30
    p = plan_code(50, 16, 0.6)  # 50/0.6 = 83.3 -> 84 bits = 21 symbols, actual rate <= 0.6
    assert p.codeword_bits == 84 and p.code_rate <= 0.6
    p = plan_code(20000, 16, 0.5)  # more than 8448 bits: 3 codewords of 6667 (1 padding bit)
    assert (p.num_codewords, p.info_bits, p.padding) == (3, 6667, 1)
    assert p.num_channel_uses == 3 * p.codeword_bits // 4
    p = plan_code(20000, 16, 0.25)  # below rate 1/3: base graph 2, blocks <= 3824 bits
    assert p.num_codewords == 6 and p.info_bits <= 3824
    p = plan_code(10, 4, None)  # uncoded: 10 bits -> 5 QPSK symbols
    assert not p.coded and p.num_channel_uses == 5 and p.padding == 0
    with pytest.raises(UsageError, match="--code-rate"):
        plan_code(60, 16, 0.1)
    with pytest.raises(UsageError, match="--qam"):
        plan_code(60, 8, 0.5)


@pytest.mark.parametrize("d", [3, 10, 30, 128, 4096])
def test_equal_bandwidth_fills_the_analog_channel_uses(d: int) -> None:
    bits, plan = equal_bandwidth(d)
    assert plan.num_channel_uses == math.ceil(d / 2)
    assert plan.payload_bits == d * bits
    assert 0.2 <= plan.code_rate <= 0.75
    assert plan.codeword_bits % plan.bits_per_symbol == 0
    assert plan.num_codewords * plan.info_bits >= d * bits and plan.info_bits <= 8448
    # the rule: no setting with more bits fits
    for qam in (4, 16, 64, 256, 1024):
        with pytest.raises(UsageError):
            equal_bandwidth(d, bits=bits + 1, qam=qam)


def test_equal_bandwidth_rule_by_hand() -> None:
    # d = 10 -> n = 5 symbols. 256-QAM carries 40 coded bits: 3 bits x 10 dims at rate 30/40 = 0.75.
    bits, plan = equal_bandwidth(10)
    assert (bits, plan.qam, plan.codeword_bits, plan.info_bits) == (3, 256, 40, 30)
    # 16-QAM: 20 coded bits; 1 bit/dim = 10 bits, padded to 12 -> rate 0.6
    bits, plan = equal_bandwidth(10, qam=16)
    assert (bits, plan.info_bits, plan.codeword_bits) == (1, 12, 20)
    # rate cap 0.5: 2 bits on 256-QAM (20/40) beats 1 bit
    bits, plan = equal_bandwidth(10, max_code_rate=0.5)
    assert (bits, plan.qam, plan.code_rate) == (2, 256, 0.5)


def test_equal_bandwidth_says_when_impossible() -> None:
    with pytest.raises(UsageError, match="impossible for latent_dim=1.*10 coded bits"):
        equal_bandwidth(1)  # one channel use: at most 10 coded bits, a codeword needs 12 information bits
    with pytest.raises(UsageError, match="impossible"):
        equal_bandwidth(10, bits=4, qam=4)
    with pytest.raises(UsageError) as info:
        equal_bandwidth(2)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------- uncoded BER against theory


def _uncoded_ber(qam: int, snr_db: list[float], channel, num_bits: int, seed: int) -> torch.Tensor:
    modem = CodedModem(plan_code(num_bits, qam, None))
    bits = torch.randint(0, 2, (1, num_bits), generator=gen(seed)).float()
    s = modem.modulate(bits)
    state = channel.apply(ChannelState.start(s), torch.tensor(snr_db), generator=gen(seed + 1))
    x, no = equalize_for_demapper(state)
    llr = modem.llr(x, no)
    return ((llr > 0).float() != bits).float().mean(-1)


def test_uncoded_qpsk_ber_over_awgn_matches_theory() -> None:
    n = 100_000
    snr = [0.0, 6.0]
    ber = _uncoded_ber(4, snr, AWGN(), n, seed=0)
    for b, s in zip(ber.tolist(), snr):
        p = q_func(math.sqrt(10 ** (s / 10)))  # Gray QPSK, Es = 1: Q(sqrt(Es/N0)) = Q(sqrt(2 Eb/N0))
        assert abs(b - p) < ber_tolerance(p, n), (s, b, p)


def test_uncoded_16qam_ber_over_awgn_matches_theory() -> None:
    n = 200_000
    snr = [8.0, 14.0]
    ber = _uncoded_ber(16, snr, AWGN(), n, seed=1)
    for b, s in zip(ber.tolist(), snr):
        # Gray 16-QAM, Es = 1 (levels ±1, ±3 over sqrt(10)): exact per-dimension 4-PAM bit error rate
        x = math.sqrt(10 ** (s / 10) / 5)
        p = (3 * q_func(x) + 2 * q_func(3 * x) - q_func(5 * x)) / 4
        assert abs(b - p) < ber_tolerance(p, n), (s, b, p)


def test_uncoded_qpsk_over_rayleigh_uses_the_equalised_noise() -> None:
    from channelae.channels import build_channel

    n = 60_000
    ber = _uncoded_ber(4, [10.0], build_channel("rayleigh"), n, seed=2).item()
    g = 10 ** (10.0 / 10) / 2
    p = 0.5 * (1 - math.sqrt(g / (1 + g)))
    assert abs(ber - p) < ber_tolerance(p, n)


def test_scrambled_symbols_have_unit_energy(model_and_stats, images) -> None:
    out = make_link(model_and_stats, qam=16)(images.repeat(8, 1, 1, 1))
    assert abs(out.s.abs().square().mean().item() - 1.0) < 0.08


# ----------------------------------------------------------------------------------------------- coded link


def test_link_shapes_and_channel_uses(model_and_stats, images) -> None:
    link = make_link(model_and_stats, bits=6, code_rate=0.5, qam=16)
    assert link.num_channel_uses == 30 and link.analog_channel_uses == 5
    out = link(images, [3.0, 20.0], generator=gen(0))
    assert out.x_hat.shape == (2, 1, B, 1, 28, 28)
    assert out.s.shape == (B, 30) and out.y.shape == (2, 1, B, 30)
    assert out.info_bits.shape == (B, 60) and out.coded_bits.shape == (B, 120)
    for t in (out.coded_ber, out.info_ber, out.bler, out.frame_error):
        assert t.shape == (2, 1, B)
    info = link.describe()
    assert info["num_channel_uses"] == 30 and info["analog_channel_uses"] == 5 and info["code_rate"] == 0.5
    eq = make_link(model_and_stats, equal_bandwidth=True)
    assert eq.num_channel_uses == eq.analog_channel_uses == 5
    assert eq(images, 30.0).s.shape == (B, 5)


def test_ldpc_above_threshold_delivers_the_quantised_latent_exactly(model_and_stats, images) -> None:
    link = make_link(model_and_stats, bits=6, code_rate=0.5, qam=16)
    out = link(images, [12.0, float("inf")], generator=gen(0))
    assert out.coded_ber[0].mean() > 0.005  # the channel did flip coded bits ...
    assert (out.info_ber == 0).all() and (out.bler == 0).all()  # ... and the code corrected all of them
    assert torch.equal(out.z_hat, out.z_q.expand_as(out.z_hat))  # bit-exact de-quantised latent
    assert torch.equal(out.x_hat, out.clean.expand_as(out.x_hat))
    torch.testing.assert_close(out.clean, link.model.decode(link.quantizer(out.z)))


def test_below_threshold_every_block_fails(model_and_stats, images) -> None:
    link = make_link(model_and_stats, bits=6, code_rate=0.5, qam=16)
    out = link(images.repeat(2, 1, 1, 1), [-2.0], generator=gen(1))
    assert out.bler.mean() >= 0.95 and out.frame_error.mean() >= 0.95
    assert out.info_ber.mean() > 0.1


def test_uncoded_link_reports_equal_coded_and_info_ber(model_and_stats, images) -> None:
    out = make_link(model_and_stats, bits=4, code_rate=1, qam=4)(images, 4.0, generator=gen(2))
    torch.testing.assert_close(out.coded_ber, out.info_ber)  # 40 bits, no padding
    assert out.coded_ber.mean() > 0


def test_same_generator_same_result(model_and_stats, images) -> None:
    link = make_link(model_and_stats, "rayleigh+noise-jammer", channel_options={"jsr_db": [-10.0]})
    a, b = link(images, 8.0, generator=gen(5)), link(images, 8.0, generator=gen(5))
    assert torch.equal(a.y, b.y) and torch.equal(a.x_hat, b.x_hat)


def test_sionna_is_imported_only_inside_functions() -> None:
    """Importing ``channelae.digital`` must not cost Sionna's import (seconds): no module-level import of it."""
    import channelae.digital

    for f in Path(channelae.digital.__file__).parent.glob("*.py"):
        for node in ast.parse(f.read_text(encoding="utf-8")).body:  # module-level statements only
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "sionna" for n in names), (f.name, names)


# ------------------------------------------------------------------------------------------------- jammers


def _delta(out, link: DigitalLink, placement: str) -> torch.Tensor:
    """The perturbation recovered from the noiseless received symbols (channel stages before the jammer only
    fade): rx ``y = h·s + δ``, tx ``y = h·(s + δ)``."""
    h = out.state.h
    y = out.y
    hs = h * out.s
    return (y - hs) if placement == "rx" else (y - hs) / h


@pytest.mark.parametrize("spec", ["noise-jammer", "pgd-jammer"])
@pytest.mark.parametrize("placement", ["rx", "tx"])
def test_jammers_respect_the_budget(model_and_stats, images, spec: str, placement: str) -> None:
    eps = [0.0, 0.5, 2.0]  # link units: L2 norm over the example's n_c symbols (Es = 1)
    opts = {"eps": eps, "placement": placement}
    if spec == "pgd-jammer":
        opts.update(steps=5, eot=2)  # EOT over the (noiseless) receiver noise stage: exercises the repeats
    link = make_link(model_and_stats, f"rayleigh+{spec}", channel_options=opts)
    out = link(images, float("inf"), generator=gen(3))
    assert out.y.shape == (1, 3, B, link.num_channel_uses)
    norms = _delta(out, link, placement).abs().square().sum(-1).sqrt()  # [1, E, B]
    budget = torch.tensor(eps).reshape(1, 3, 1)
    assert (norms <= budget * (1 + 1e-4) + 1e-6).all()
    if spec == "noise-jammer":
        torch.testing.assert_close(norms, budget.expand_as(norms), rtol=1e-4, atol=1e-6)
    assert (norms[:, 0] == 0).all()
    assert torch.equal(out.x_hat[:, 0], out.clean.expand_as(out.x_hat[:, 0]))  # ε = 0: the clean link


def test_jsr_budget_on_the_digital_symbols(model_and_stats, images) -> None:
    link = make_link(model_and_stats, "noise-jammer", channel_options={"jsr_db": [-6.0, 3.0]})
    out = link(images, float("inf"), generator=gen(4))
    jsr = (out.y - out.s).abs().square().sum(-1) / link.num_channel_uses  # ‖δ‖² / (n_c·Es)
    torch.testing.assert_close(10 * torch.log10(jsr), torch.tensor([-6.0, 3.0]).reshape(1, 2, 1).expand_as(jsr),
                               rtol=0, atol=1e-3)


def test_pgd_on_the_llrs_beats_equal_power_noise(model_and_stats) -> None:
    """Same budget (JSR −10 dB), same images and receiver noise: the PGD jammer flips more coded bits and
    breaks more LDPC frames than random noise of equal power (measured: noiseless 0.15 vs 0.06 coded BER and
    all frames vs 28 % of 32 images; at 10 dB 0.16 vs 0.12 and 78 % vs 47 %)."""
    x = load_dataset("mnist-5k", "test", limit=16).batch(range(16))
    opts = {"jsr_db": [-10.0]}
    snr = [float("inf"), 10.0]
    pgd = make_link(model_and_stats, "pgd-jammer", channel_options=opts)(x, snr, generator=gen(6))
    noise = make_link(model_and_stats, "noise-jammer", channel_options=opts)(x, snr, generator=gen(6))
    assert pgd.coded_ber[0].mean() > 1.5 * noise.coded_ber[0].mean()
    assert pgd.coded_ber[1].mean() > noise.coded_ber[1].mean()
    assert pgd.frame_error[0].mean() >= 0.9
    assert noise.frame_error[0].mean() < 0.6
    assert pgd.frame_error[1].mean() > noise.frame_error[1].mean()


def test_llr_surrogate_is_capped_cross_entropy() -> None:
    llr = torch.tensor([[4.0, -4.0, 0.0, -30.0]])
    bits = torch.tensor([[1.0, 0.0, 1.0, 1.0]])
    expected = torch.tensor([math.log1p(math.exp(-4)), math.log1p(math.exp(-4)), math.log(2), math.log(4)])
    torch.testing.assert_close(llr_surrogate(llr, bits), expected.mean().reshape(1))


def test_digital_channel_swaps_the_pgd_jammer_and_refuses_image_objectives() -> None:
    ch = digital_channel("rayleigh+pgd-jammer", eps=[0.5])
    assert [type(s).__name__ for s in ch.stages] == ["Rayleigh", "DigitalPGDJammer", "AWGN"]
    assert isinstance(ch.stages[1], DigitalPGDJammer)
    with pytest.raises(UsageError, match="--target"):
        digital_channel("pgd-jammer", eps=[0.5], target="black")
    with pytest.raises(UsageError, match="--distance"):
        digital_channel("pgd-jammer", eps=[0.5], distance="ssim")
    assert isinstance(digital_channel("noise-jammer", eps=[0.5]).stages[0], NoiseJammer)


# ------------------------------------------------------------------------------------------------ checkpoint


def test_from_checkpoint_uses_stored_statistics_or_computes_them(tmp_path, model_and_stats, images) -> None:
    model, mean, std = model_and_stats
    save_checkpoint(tmp_path / "with", model, {"p_ref": 1.0, "latent_mean": mean, "latent_std": std,
                                                "dataset": "mnist-5k"})
    link = DigitalLink.from_checkpoint(tmp_path / "with", "awgn", bits=4)
    torch.testing.assert_close(link.quantizer.low, torch.tensor(mean, dtype=torch.float64) - 3 * torch.tensor(
        std, dtype=torch.float64))
    assert link.range_source.startswith("checkpoint")
    save_checkpoint(tmp_path / "without", model, {"p_ref": 1.0, "dataset": "mnist-5k"})
    link = DigitalLink.from_checkpoint(tmp_path / "without", "awgn", bits=4)
    assert "training split" in link.range_source
    assert link.quantizer.latent_dim == D
    assert link(images, 30.0).x_hat.shape == (1, 1, B, 1, 28, 28)


def test_link_refuses_bad_options(model_and_stats) -> None:
    with pytest.raises(UsageError, match="--code-rate"):
        make_link(model_and_stats, code_rate=0.05)
    with pytest.raises(UsageError, match="--qam"):
        make_link(model_and_stats, qam=32)
    with pytest.raises(UsageError, match="--equal-bandwidth"):
        make_link(model_and_stats, equal_bandwidth=True, bits=8, qam=4)
    with pytest.raises(UsageError, match="--csi"):
        make_link(model_and_stats, csi="estimated")
    assert isinstance(plan_code(60, 16, 0.5), CodePlan)


@pytest.mark.parametrize("opts", [{"steps": 4}, {"steps": 3, "mode": "strong", "restarts": 2}])
def test_digital_pgd_reports_each_search_pass(model_and_stats, images, opts: dict) -> None:
    """The digital PGD jammer calls ``progress(done, total)`` once per evaluation of its search, done = 1 …
    total with the exact total (what simulate's progress bar is drawn with), and simulate finds the stage."""
    from channelae.simulate import _pgd_stage

    link = make_link(model_and_stats, "pgd-jammer", channel_options={"eps": [0.0, 0.5, 1.0], **opts})
    stage = _pgd_stage(link)
    assert stage is not None and hasattr(stage, "progress")
    calls: list[tuple[int, int]] = []
    stage.progress = lambda k, n: calls.append((k, n))
    link(images, [10.0], generator=gen(0))
    total = calls[-1][1]
    assert [k for k, _ in calls] == list(range(1, total + 1)) and {n for _, n in calls} == {total}
    assert total == opts.get("restarts", 1) * (opts["steps"] + 1)
