"""The PGD and noise jammers on the link (SPEC §2): budgets in link units (default), latent units and JSR,
ε = 0 is the clean link, PGD at least as damaging as random noise of the same norm, targeted attacks, batching
over ε, EOT and placement, distances and image targets, the convergence diagnostic."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from channelae.attacks import distance, pgd, resolve_precision, resolve_target
from channelae.channels.base import ChannelState
from channelae.channels.noise_jammer import NoiseJammer
from channelae.channels.pgd_jammer import DEFAULT_CURVATURE, DEFAULT_EOT, DEFAULT_STEPS, PGDJammer
from channelae.data import load_dataset
from channelae.definitions import (
    EPS_UNITS,
    eps_to_jsr_db,
    eps_to_link,
    jsr_db_to_eps,
    jsr_db_to_link_eps,
    link_eps_to_jsr_db,
    link_to_eps,
)
from channelae.errors import UsageError
from channelae.link import Link
from channelae.metrics.ssim import ssim_per_image

N_SYM = 5  # complex symbols of a d = 10 latent


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return load_dataset("mnist-5k", "test", limit=16).batch(range(16))


def _link(ckpt, spec: str = "pgd-jammer", **options) -> Link:
    return Link.from_checkpoint(ckpt, spec, channel_options=options)


def _jammer(link: Link):
    return next(s for s in link.channel.stages if hasattr(s, "budget"))


def _run(link: Link, x: torch.Tensor, snr_db=None, seed: int = 0):
    return link(x, snr_db, generator=torch.Generator().manual_seed(seed))


def _link_norm(delta_s: torch.Tensor) -> torch.Tensor:
    """‖δ_s‖ in link units (transmitted symbols, Es = 1) of the jammer's perturbation (float64)."""
    return torch.view_as_real(delta_s).flatten(-2).double().norm(dim=-1)


def _latent_norm(link: Link, delta_s: torch.Tensor) -> torch.Tensor:
    """‖δ‖ in latent units from the jammer's symbol-space perturbation: ‖δ_s‖ / g (float64)."""
    return _link_norm(delta_s) / link.transmitter.gain


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).square().flatten(-3).mean(-1)


# ---------------------------------------------------------------------------------------- budgets

EPS = [0.0, 0.1, 0.5, 1.0, 3.0]


@pytest.mark.parametrize("mode, norm, target, unit", [
    ("apgd", "l2", None, "link"), ("strong", "l2", None, "link"), ("faithful", "l2", None, "link"),
    ("apgd", "linf", None, "link"), ("strong", "linf", None, "latent"), ("faithful", "l2", "black", "latent"),
])
def test_pgd_stays_in_its_ball_and_eps0_is_clean(trained_checkpoint, images, mode, norm, target, unit) -> None:
    x = images[:8]
    link = _link(trained_checkpoint, eps=EPS, mode=mode, norm=norm, target=target, steps=4, eps_unit=unit)
    out = _run(link, x)
    delta = _jammer(link).last_delta  # [S, E, B, n] symbols
    assert delta.shape == (1, len(EPS), 8, N_SYM) and out.x_hat.shape == (1, len(EPS), 8, 1, 28, 28)
    eps = torch.tensor(EPS, dtype=torch.float64).reshape(1, -1, 1)
    size = _link_norm(delta) if unit == "link" else _latent_norm(link, delta)
    assert (size <= eps * (1 + 1e-6)).all(), (size.amax(-1), EPS)
    if norm == "linf":  # per real coordinate bound ε/sqrt(2n) (in symbols: times g for latent units)
        scale = 1.0 if unit == "link" else link.transmitter.gain
        bound = eps.unsqueeze(-1) / math.sqrt(2 * N_SYM) * scale * (1 + 1e-6)
        assert (torch.view_as_real(delta).flatten(-2).abs() <= bound).all()
    if mode == "faithful":  # α = 1 ≫ ε: every sign step lands on the sphere
        assert torch.allclose(size[:, 1:], eps[:, 1:].expand_as(size[:, 1:]), rtol=1e-5, atol=0)
    # placement rx over the noiseless link: the received latent moves by exactly δ_s / g
    moved = out.z_hat[0] - out.z_hat[0, :1]
    expect = torch.view_as_real(delta[0]).flatten(-2) / link.transmitter.gain
    torch.testing.assert_close(moved, expect, atol=2e-6, rtol=0)
    # ε = 0: no perturbation at all and the clean link output, bit for bit
    assert torch.count_nonzero(delta[:, 0]) == 0
    assert torch.equal(out.x_hat[:, 0], out.clean.unsqueeze(0))
    assert _mse(out.x_hat[0, 1:], out.clean).gt(0).all()


def test_jsr_budgets(trained_checkpoint, images) -> None:
    """JSR = ‖δ_s‖²/(n·Es) in dB; faithful PGD and the noise jammer sit on the sphere, the others inside."""
    x = images[:8]
    jsr = [-30.0, -20.0, -10.0, 0.0]
    power = torch.tensor([10 ** (j / 10) for j in jsr], dtype=torch.float64).reshape(1, -1, 1)
    for spec, opts in [("pgd-jammer", {"mode": "faithful", "steps": 2}),
                       ("pgd-jammer", {"mode": "strong", "steps": 2}),
                       ("pgd-jammer", {"steps": 3, "starts": 2}),
                       ("noise-jammer", {})]:
        link = _link(trained_checkpoint, spec, jsr_db=jsr, **opts)
        _run(link, x)
        delta = _jammer(link).last_delta.to(torch.complex128)
        p = delta.abs().square().sum(-1) / N_SYM  # ‖δ_s‖²/n, Es = 1
        assert (p <= power * (1 + 1e-5)).all()
        if spec == "noise-jammer":
            torch.testing.assert_close(p, power.expand_as(p), rtol=1e-5, atol=0)
        elif opts.get("mode") == "faithful":  # sign steps of α = 1 symbol unit (norm √(2n) ≈ 3.16) reach the
            # sphere of every budget here (ε = √(n·10^(JSR/10)) ≈ 0.07, 0.22, 0.71, 2.24)
            torch.testing.assert_close(p, power.expand_as(p), rtol=1e-5, atol=0)
        # and the same budget given as ε = jsr_db_to_eps(JSR) in link and in latent units
        eps = jsr_db_to_eps(torch.tensor(jsr), None, N_SYM).reshape(1, -1, 1)
        assert (_link_norm(delta) <= eps * (1 + 1e-6)).all()
        eps = jsr_db_to_eps(torch.tensor(jsr), link.transmitter.gain, N_SYM, unit="latent").reshape(1, -1, 1)
        assert (_latent_norm(link, delta) <= eps * (1 + 1e-6)).all()


@pytest.mark.parametrize("unit", EPS_UNITS)
def test_noise_jammer_has_exactly_the_budget_norm(trained_checkpoint, images, unit) -> None:
    link = _link(trained_checkpoint, "noise-jammer", eps=[0.0, 0.5, 2.0], eps_unit=unit)
    out = _run(link, images[:8])
    delta = _jammer(link).last_delta
    size = _link_norm(delta) if unit == "link" else _latent_norm(link, delta)
    torch.testing.assert_close(size, torch.tensor([0.0, 0.5, 2.0], dtype=torch.float64).reshape(1, 3, 1)
                               .expand_as(size), rtol=1e-6, atol=0)
    # one random direction per image, shared by the budgets
    torch.testing.assert_close(delta[0, 1] / 0.5, delta[0, 2] / 2.0, rtol=1e-5, atol=1e-7)
    assert torch.equal(out.x_hat[:, 0], out.clean.unsqueeze(0))


def test_budget_units_and_jsr_in_float64() -> None:
    """Link units: JSR = ε²/n whatever the gain; latent units: ε_link = g·ε; round trips print exactly."""
    g, n = 0.25, 5
    e = torch.tensor([0.0, 0.5, math.sqrt(5.0)], dtype=torch.float64)
    jsr = eps_to_jsr_db(e, None, n)
    assert jsr.dtype == torch.float64 and jsr[0] == -math.inf
    assert float(jsr[1]) == pytest.approx(10 * math.log10(0.25 / 5), abs=1e-9) and float(jsr[2]) == 0.0
    for j in (0.0, -10.0, -20.0, 3.0, -13.0):
        for k in (5, 15, 64):
            back = float(link_eps_to_jsr_db(jsr_db_to_link_eps(j, k), k))
            assert back == j and f"{back:g}" == f"{j:g}", (j, k, back)
    assert float(eps_to_link(2.0, "latent", g)) == 0.5 and float(link_to_eps(0.5, "latent", g)) == 2.0
    assert float(eps_to_link(2.0)) == 2.0 and float(link_to_eps(2.0, "link", g)) == 2.0
    torch.testing.assert_close(eps_to_jsr_db(e / g, g, n, unit="latent"), jsr)
    assert float(jsr_db_to_eps(-10.0, g, n, unit="latent")) == pytest.approx(math.sqrt(0.5) / g, rel=1e-12)
    assert float(jsr_db_to_eps(-10.0, g, n)) == pytest.approx(math.sqrt(0.5), rel=1e-12)
    with pytest.raises(ValueError, match="gain"):
        eps_to_link(1.0, "latent")
    with pytest.raises(ValueError, match="link, latent"):
        eps_to_link(1.0, "furlong", 1.0)
    for cls in (PGDJammer, NoiseJammer):
        with pytest.raises(UsageError, match="eps_unit"):
            cls(eps=0.5, eps_unit="symbols")


def test_jsr_counts_the_symbols_the_signal_occupies() -> None:
    """n in JSR = ‖δ‖²/(n·Es) is the context's num_symbols unless a stage says the signal occupies more."""
    from types import SimpleNamespace

    s = torch.ones(2, 5, dtype=torch.complex64)
    for ctx, n in [(SimpleNamespace(gain=1.0, num_symbols=5), 5),
                   (SimpleNamespace(gain=1.0, num_symbols=5, signal_symbols=12), 12)]:
        st = NoiseJammer(jsr_db=[0.0, -10.0]).apply(ChannelState.start(s, ctx=ctx),
                                                   generator=torch.Generator().manual_seed(0))
        p = (st.y - s).abs().square().sum(-1).double()  # [E, B]
        torch.testing.assert_close(p, torch.tensor([[n], [n / 10]], dtype=torch.float64).expand_as(p), rtol=1e-5,
                                   atol=0)


# ------------------------------------------------------------------------------ strength of the attack


def test_pgd_beats_noise_and_strong_beats_faithful(trained_checkpoint, images) -> None:
    eps = [0.25, 0.5, 1.0, 2.0]
    noise = _run(_link(trained_checkpoint, "noise-jammer", eps=eps), images)
    d_noise = _mse(noise.x_hat[0], noise.clean).mean(-1)  # [E], reference dec(z0)
    damage = {}
    for mode in ("apgd", "strong", "faithful"):
        link = _link(trained_checkpoint, eps=eps, mode=mode)
        out = _run(link, images)
        damage[mode] = _mse(out.x_hat[0], out.clean).mean(-1)
        # untargeted faithful PGD does not stall at the zero gradient of δ = 0
        assert (damage[mode] > 0).all(), (mode, damage[mode])
        assert (damage[mode] >= d_noise).all(), (mode, damage[mode], d_noise)
    assert damage["apgd"].mean() >= damage["strong"].mean() >= damage["faithful"].mean(), damage
    # and by a margin that is not float noise: the gradient direction is far better than a random one
    assert (damage["strong"] > 1.2 * d_noise).all(), (damage["strong"], d_noise)


def test_faithful_pgd_escapes_a_zero_gradient_start() -> None:
    """Core: ‖δ‖² has exactly zero gradient at δ = 0; the faithful mode must still reach the sphere."""
    shape = (3, 4, 6)
    radius = torch.tensor([0.0, 0.5, 2.0]).reshape(3, 1)
    delta = pgd(lambda d: d.square().sum(-1), shape, radius, mode="faithful", steps=3,
                generator=torch.Generator().manual_seed(0))
    n = delta.norm(dim=-1)
    assert torch.count_nonzero(delta[0]) == 0
    torch.testing.assert_close(n[1:], radius[1:].expand(2, 4), rtol=1e-6, atol=0)


def test_strong_pgd_solves_a_linear_objective() -> None:
    """max ⟨c, δ⟩ over the L2 ball is ε·‖c‖ (at δ = ε·c/‖c‖): the strong mode gets near it per budget."""
    g = torch.Generator().manual_seed(1)
    c = torch.randn(5, 8, generator=g)
    radius = torch.tensor([0.1, 1.0, 10.0]).reshape(3, 1)
    delta = pgd(lambda d: (d * c).sum(-1), (3, 5, 8), radius, mode="strong", steps=10, generator=g)
    assert (delta.norm(dim=-1) <= radius * (1 + 1e-6)).all()
    optimum = radius * c.norm(dim=-1)  # [3, 5]
    reached = (delta * c).sum(-1)
    assert (reached >= 0.95 * optimum).all(), reached / optimum


@pytest.mark.parametrize("target", ["black", "white", "inverted"])
def test_targeted_attack_moves_towards_target(trained_checkpoint, images, target) -> None:
    eps = [0.0, 0.5, 1.0, 2.0, 3.0]
    link = _link(trained_checkpoint, eps=eps, target=target, mode="strong")
    out = _run(link, images[:8])
    t = resolve_target(target, out.clean)
    d = distance("mse", out.x_hat[0], t).mean(-1)  # [E]
    assert (d[1:] <= d[:-1] + 1e-4 * d[0]).all(), d  # monotone non-increasing (small tolerance)
    assert d[-1] < 0.98 * d[0], d  # clearly closer at the largest budget
    # and it is a *targeted* attack: the untargeted damage grows too, but distance to target falls
    assert _mse(out.x_hat[0, -1], out.clean).mean() > 0


# ----------------------------------------------------------------------------------------- batching


@pytest.mark.parametrize("mode", ["apgd", "strong", "faithful"])
def test_batched_grid_equals_each_eps_alone(trained_checkpoint, images, mode) -> None:
    eps = [0.2, 0.7, 1.5]
    x = images[:8]
    link = _link(trained_checkpoint, eps=eps, mode=mode, steps=4)
    grid = _run(link, x, seed=3)
    grid_delta = _jammer(link).last_delta
    for i, e in enumerate(eps):
        one = _link(trained_checkpoint, eps=e, mode=mode, steps=4)
        alone = _run(one, x, seed=3)
        torch.testing.assert_close(_jammer(one).last_delta[:, 0], grid_delta[:, i], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(alone.x_hat[:, 0], grid.x_hat[:, i], atol=1e-5, rtol=1e-4)
    # decoder passes chunked to one budget at a time (max_rows) give the same attack
    _jammer(link).max_rows = 1
    chunked = _run(link, x, seed=3)
    torch.testing.assert_close(_jammer(link).last_delta, grid_delta, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(chunked.x_hat, grid.x_hat, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("mode", ["strong", "faithful"])
def test_pgd_core_chunked_equals_whole(mode) -> None:
    g = torch.Generator().manual_seed(2)
    w = torch.randn(4, 6, generator=g)
    radius = torch.tensor([0.0, 0.3, 1.0, 2.0, 5.0]).reshape(5, 1)
    calls = []

    def objective(d):  # per example, non-linear, zero gradient at 0
        calls.append(d.shape[0])
        return ((d * w).sum(-1).sin().square() + 0.1 * d.square().sum(-1)).reshape(d.shape[:-1])

    whole = pgd(objective, (5, 4, 6), radius, mode=mode, steps=5, restarts=2,
                generator=torch.Generator().manual_seed(0))
    assert set(calls) == {5}
    calls.clear()
    parts = pgd(objective, (5, 4, 6), radius, mode=mode, steps=5, restarts=2,
                generator=torch.Generator().manual_seed(0), chunk=(0, 2))
    assert max(calls) == 2
    torch.testing.assert_close(parts, whole, atol=1e-6, rtol=1e-5)
    assert (parts.norm(dim=-1) <= radius * (1 + 1e-6)).all()


def test_eot_over_a_noisy_link(trained_checkpoint, images) -> None:
    x = images[:8]
    eps = [0.5, 1.0]
    link = _link(trained_checkpoint, eps=eps, eot=3, steps=2)
    calls = []
    decode = link._decode  # the link's decoder (the folded copy by default)

    def spy(z):
        calls.append(z.shape)
        return decode(z)

    link._decode = spy
    out = _run(link, x, snr_db=[10.0, 20.0])
    assert out.x_hat.shape == (2, 2, 8, 1, 28, 28)
    assert out.z_hat.shape == (2, 2, 8, 10)
    delta = _jammer(link).last_delta
    assert delta.shape == (2, 2, 8, N_SYM)
    assert (_link_norm(delta) <= torch.tensor(eps, dtype=torch.float64).reshape(1, 2, 1) * (1 + 1e-6)).all()
    # the jammer's objective saw 3 noise draws per image: [S, E, 3·B] latents per step, plus the control
    # variate's unperturbed budget row ([S, E + 1, 3·B]); two unperturbed passes told it the link is random
    assert torch.Size([2, 3, 3 * 8, 10]) in calls and calls.count(torch.Size([2, 1, 8, 10])) == 2
    assert _jammer(link).last_diagnostics["control_variate"]
    calls.clear()
    link.channel.stages[0].control_variate = False
    _run(link, x, snr_db=[10.0, 20.0])
    assert torch.Size([2, 2, 3 * 8, 10]) in calls and torch.Size([2, 1, 8, 10]) not in calls
    assert torch.isfinite(out.x_hat).all()


def test_placement_tx_and_rx_differ_under_fading(trained_checkpoint, images) -> None:
    x = images[:8]
    eps = [0.5, 1.0]
    res = {}
    for placement in ("tx", "rx"):
        link = _link(trained_checkpoint, "rayleigh+pgd-jammer", eps=eps, placement=placement, steps=3)
        out = _run(link, x, seed=5)
        delta = _jammer(link).last_delta  # [1, E, B, n]
        assert (_link_norm(delta) <= torch.tensor(eps, dtype=torch.float64).reshape(1, 2, 1) * (1 + 1e-6)).all()
        h = out.state.h  # [1, 1, B, n] fading the jammer knew
        received = out.y - h * out.s  # noiseless: exactly what the jammer added
        expect = h * delta if placement == "tx" else delta
        torch.testing.assert_close(received, expect.expand_as(received), atol=1e-5, rtol=1e-4)
        res[placement] = (out.x_hat, h)
    torch.testing.assert_close(res["tx"][1], res["rx"][1])  # same seed: same fading draw
    assert not torch.allclose(res["tx"][0], res["rx"][0], atol=1e-4)


def test_convergence_diagnostic_and_control_variate(trained_checkpoint, images) -> None:
    x = images[:8]
    link = _link(trained_checkpoint, eps=[0.0, 0.5, 1.5], steps=6, starts=2)
    out = _run(link, x, snr_db=[math.inf, 10.0])
    diag = _jammer(link).last_diagnostics
    assert (diag["mode"], diag["steps"], diag["half_steps"], diag["starts"], diag["restarts"]) == ("apgd", 6, 3, 2, 1)
    assert diag["control_variate"] and diag["eot"] == DEFAULT_EOT  # a noisy link: on, with DEFAULT_EOT draws
    assert diag["precision"] == resolve_precision("auto", "cpu")  # the default search precision
    half, final = diag["distance_half"], diag["distance_final"]
    assert half.shape == final.shape == (2, 3) and half.dtype == torch.float64
    assert torch.isnan(half[:, 0]).all() and torch.isnan(final[:, 0]).all()  # ε = 0 is not searched
    assert (final[:, 1:] > 0).all() and (half[:, 1:] > 0).all()
    # through the noisy link the values are re-evaluated on a fresh draw, not the best of the search's noisy
    # values (which overstated the damage 1.7× at 10 dB on the default model): near the link's own evaluation
    evaluated = _mse(out.x_hat[1, 1:], out.clean).mean(-1).double()
    assert ((final[1, 1:] / evaluated) > 0.67).all() and ((final[1, 1:] / evaluated) < 1.5).all(), (final, evaluated)
    noiseless = _link(trained_checkpoint, eps=[0.0, 0.5, 1.5], steps=6, starts=2)
    out = _run(noiseless, x)
    diag = _jammer(noiseless).last_diagnostics
    assert not diag["control_variate"]  # a deterministic link after the jammer: nothing to cancel
    assert (diag["distance_final"][0, 1:] >= diag["distance_half"][0, 1:]).all()  # best so far: monotone
    # the search's final value is the link's own evaluation of the perturbation it returned
    torch.testing.assert_close(diag["distance_final"][0, 1:], _mse(out.x_hat[0, 1:], out.clean).mean(-1).double(),
                               rtol=1e-5, atol=0)


def test_control_variate_cancels_the_draw_in_a_quadratic() -> None:
    """f_w(δ) = ‖A(δ + w)‖² with w shared along the budget dim: after the first call the corrected gradient is
    2AᵀAδ + mean of the earlier 2AᵀAw (no noise of its own), the value f_w(δ) − f_w(0) + mean f_w(0)."""
    from channelae.channels.pgd_jammer import _ControlVariate

    g = torch.Generator().manual_seed(0)
    A = torch.randn(4, 4, generator=g, dtype=torch.float64)
    cv, draws = _ControlVariate(), []

    def raw(d: torch.Tensor) -> torch.Tensor:  # [E, B, 4]; one draw per image shared by the budgets
        w = torch.randn(1, d.shape[1], 4, generator=g, dtype=torch.float64)
        draws.append(w)
        return ((d + w) @ A.T).square().sum(-1)

    def f(v: torch.Tensor) -> torch.Tensor:
        return (v @ A.T).square().sum(-1)

    delta = torch.randn(3, 2, 4, generator=g, dtype=torch.float64)
    for call in range(4):
        d = delta.clone().requires_grad_(True)
        value = cv(raw, d)
        (grad,) = torch.autograd.grad(value.sum(), d)
        w = draws[-1]
        base = torch.stack([f(x) for x in draws]).squeeze(1)  # [calls, B]
        torch.testing.assert_close(value, f(delta + w) - f(w) + base.mean(0))
        if call:  # 2AᵀA(δ + w) − 2AᵀAw + mean of the earlier 2AᵀAw
            earlier = torch.stack(draws[:-1]).mean(0)
            torch.testing.assert_close(grad, 2 * (delta + earlier) @ A.T @ A)


# ------------------------------------------------------------------------------- distances, targets


def test_ssim_distance_is_one_minus_ssim_and_differentiable() -> None:
    g = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 1, 28, 28, generator=g)
    pred = (target + 0.1 * torch.randn(target.shape, generator=g)).clamp(0, 1).requires_grad_(True)
    d = distance("ssim", pred, target)
    assert d.shape == (2, 3)
    ref = 1 - ssim_per_image(pred.detach().reshape(6, 1, 28, 28), target.reshape(6, 1, 28, 28))
    torch.testing.assert_close(d.detach(), ref.reshape(2, 3))
    assert (d > 0).all() and (d < 1).all()
    (grad,) = torch.autograd.grad(d.sum(), pred)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    torch.testing.assert_close(distance("ssim", target, target), torch.zeros(2, 3), atol=1e-5, rtol=0)
    # mse / l1 per image, broadcasting a single target
    black = torch.zeros(1, 1, 28, 28)
    torch.testing.assert_close(distance("mse", target, black), target.square().mean((-3, -2, -1)))
    torch.testing.assert_close(distance("l1", target, black), target.mean((-3, -2, -1)))
    with pytest.raises(UsageError, match="distance"):
        distance("lpips", target, target)  # no backbone given
    with pytest.raises(UsageError, match="distance"):
        distance("hamming", target, target)


def test_ssim_distance_drives_the_attack(trained_checkpoint, images) -> None:
    link = _link(trained_checkpoint, eps=[0.0, 2.0], distance="ssim", steps=3)
    out = _run(link, images[:8])
    d = distance("ssim", out.x_hat[0], out.clean).mean(-1)
    assert d[0] == pytest.approx(0.0, abs=1e-6) and d[1] > 1e-3


def _write_png(path, size=(40, 36), mode="L") -> None:
    img = Image.new(mode, size, 0)
    for i in range(8, 28):
        for j in range(10, 26):
            img.putpixel((i, j), 255 if mode == "L" else (255, 255, 255))
    img.save(path)


def test_image_file_target(tmp_path, trained_checkpoint, images) -> None:
    path = tmp_path / "target.png"
    _write_png(path)
    clean = torch.rand(8, 1, 28, 28)
    t = resolve_target(str(path), clean)
    assert t.shape == (1, 1, 28, 28) and t.dtype == clean.dtype
    assert 0 <= t.min() and t.max() <= 1 and t.max() > 0.9 and t.min() < 0.1
    with Image.open(path) as im:
        ref = torch.frombuffer(bytearray(im.resize((28, 28), Image.BILINEAR).tobytes()), dtype=torch.uint8)
    torch.testing.assert_close(t.flatten(), ref.float() / 255)
    rgb = tmp_path / "rgb.png"  # an RGB file for a grey model is converted to grey
    _write_png(rgb, mode="RGB")
    assert resolve_target(str(rgb), clean).shape == (1, 1, 28, 28)
    assert resolve_target(str(rgb), torch.rand(2, 3, 64, 64)).shape == (1, 3, 64, 64)

    link = _link(trained_checkpoint, eps=[0.0, 1.5, 3.0], target=str(path), steps=6)
    out = _run(link, images[:8])
    d = distance("mse", out.x_hat[0], t).mean(-1)
    assert d[2] <= d[1] + 1e-4 * d[0] and d[2] < 0.98 * d[0], d

    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(UsageError, match="target"):
        resolve_target(str(bad), clean)
    with pytest.raises(UsageError, match="target"):
        resolve_target(str(tmp_path / "missing.png"), clean)


def test_curvature_starts_by_default_untargeted_only(trained_checkpoint, images) -> None:
    """The default apgd search starts from the curvature directions (diagnostic ``curvature``); a targeted
    attack and ``curvature=0`` use random starts only; other modes refuse curvature."""
    x = images[:4]
    for kw, expected in (({}, DEFAULT_CURVATURE), ({"curvature": 0}, 0), ({"target": "black"}, 0)):
        link = _link(trained_checkpoint, eps=[0.0, 0.5], steps=3, starts=2 * DEFAULT_CURVATURE, **kw)
        _run(link, x)
        assert _jammer(link).last_diagnostics["curvature"] == expected, kw
    assert PGDJammer(eps=0.5).curvature == DEFAULT_CURVATURE
    assert PGDJammer(eps=0.5, mode="strong").curvature == 0
    with pytest.raises(UsageError, match="curvature"):
        PGDJammer(eps=0.5, mode="strong", curvature=1)


@torch.no_grad()
def _paired_damage(link: Link, out, delta: torch.Tensor, snr: float, draws: int) -> torch.Tensor:
    """Mean ``MSE(x̂, dec(z0))`` per budget ``[E]`` of perturbations ``delta [1, E, B, n]`` (rx placement, AWGN),
    over ``draws`` noise draws per image from a fixed seed: every perturbation sees the same draws."""
    from channelae.channels.awgn import AWGN

    m = 1 if math.isinf(snr) else draws
    y = (out.s + delta[0]).unsqueeze(0).expand(m, -1, -1, -1)
    state = AWGN().apply(ChannelState.start(y), torch.full((m,), snr), generator=torch.Generator().manual_seed(99))
    return _mse(link.decode_state(state), out.clean).double().mean((0, -1))


def test_default_attack_reaches_98_percent_of_a_long_search(trained_checkpoint, images) -> None:
    """The convergence bar (issue 11) on the tiny test model, noiseless: the default search's damage is at
    least 0.98 of the same attack with 10× the steps and 5 restarts at every budget. At finite SNR the bar
    needs many images to resolve (per-budget intervals of ±3 % with 32 images on the default model), so it is
    measured in ``benchmarks/attack_convergence.py``; the parts that make the noisy search converge (draws
    per step, the control variate, the iterate averaging) have their own tests."""
    eps = [0.0, 0.5, 2.0]
    damage = {}
    for name, opts in {"default": {}, "long": {"steps": 10 * DEFAULT_STEPS, "restarts": 5}}.items():
        link = _link(trained_checkpoint, eps=eps, attack_precision="fp32", **opts)
        out = _run(link, images[:8], seed=1)
        damage[name] = _paired_damage(link, out, _jammer(link).last_delta, math.inf, draws=1)
    ratio = damage["default"][1:] / damage["long"][1:]
    assert (ratio >= 0.98).all(), (ratio, damage)
