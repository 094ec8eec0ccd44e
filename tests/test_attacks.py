"""The attack core (channelae.attacks): APGD (the jammer's default), the fixed-step ``strong`` PGD and the study's
``faithful`` PGD, batched over budgets; the search precision option. Tiny objectives and a tiny decoder."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from channelae import attacks as A
from channelae.attacks import apgd_checkpoints, attack, pgd, resolve_precision
from channelae.errors import UsageError

M = 6  # real coordinates per example


def _decoder(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    dec = nn.Sequential(nn.Linear(M, 32), nn.LeakyReLU(0.2), nn.Linear(32, 64), nn.Sigmoid()).eval()
    for p in dec.parameters():
        p.requires_grad_(False)
    return dec


def _untargeted(dec: nn.Module, z: torch.Tensor):
    """MSE between dec(z + δ) and dec(z) per example (zero gradient at δ = 0, like the jammer's)."""
    ref = dec(z)

    def objective(d: torch.Tensor) -> torch.Tensor:
        return (dec(z + d) - ref).square().mean(-1)

    return objective


@pytest.fixture(scope="module")
def tiny():
    g = torch.Generator().manual_seed(0)
    return _untargeted(_decoder(), torch.randn(8, M, generator=g))


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_apgd_checkpoints_follow_the_paper() -> None:
    """Croce & Hein: p0 = 0, p1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06), checks at p_j·K."""
    assert apgd_checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    for k in (1, 2, 7, 40, 1000):
        c = apgd_checkpoints(k)
        assert c == sorted(set(c)) and all(1 <= v <= k for v in c)


@pytest.mark.parametrize("mode, norm", [("apgd", "l2"), ("apgd", "linf"), ("strong", "l2"), ("strong", "linf"),
                                        ("faithful", "l2")])
def test_each_budget_in_its_own_ball_and_zero_is_exactly_zero(tiny, mode, norm) -> None:
    radius = torch.tensor([0.0, 0.05, 0.5, 3.0]).reshape(4, 1)
    res = attack(tiny, (4, 8, M), radius, mode=mode, norm=norm, steps=6, starts=2 if mode == "apgd" else 1,
                 generator=_gen())
    assert res.delta.shape == (4, 8, M)
    assert torch.count_nonzero(res.delta[0]) == 0 and torch.count_nonzero(res.value[0]) == 0
    size = res.delta.abs().amax(-1) if norm == "linf" else res.delta.norm(dim=-1)
    assert (size <= radius * (1 + 1e-6)).all(), (size.amax(-1), radius.flatten())
    if norm == "l2" and mode != "faithful":  # a convex objective: the maximum lies on the sphere
        torch.testing.assert_close(size[1:], radius[1:].expand_as(size[1:]), rtol=1e-3, atol=0)


@pytest.mark.parametrize("mode", ["apgd", "strong"])
def test_best_value_is_monotone_and_reported(tiny, mode) -> None:
    radius = torch.tensor([0.2, 1.0, 2.5]).reshape(3, 1)
    one = attack(tiny, (3, 8, M), radius, mode=mode, steps=8, restarts=1, generator=_gen(4))
    three = attack(tiny, (3, 8, M), radius, mode=mode, steps=8, restarts=3, generator=_gen(4))
    for res in (one, three):
        # the value is the objective at the returned δ, and never below what the run had after K/2 steps
        torch.testing.assert_close(res.value, tiny(res.delta), rtol=1e-6, atol=1e-9)
        assert (res.value >= res.value_half).all()
        assert res.steps == 8 and res.precision == "fp32"
    # restarts only add candidates: the first restart draws the same start, the best can only improve
    assert (three.value >= one.value).all() and (three.value > one.value).any()


@pytest.mark.parametrize("mode, starts, restarts", [("apgd", 1, 1), ("apgd", 3, 2), ("strong", 1, 2),
                                                     ("faithful", 1, 1)])
def test_batched_grid_equals_each_eps_alone(tiny, mode, starts, restarts) -> None:
    radius = torch.tensor([0.1, 0.7, 2.0])
    kw = {"mode": mode, "steps": 7, "starts": starts, "restarts": restarts}
    grid = attack(tiny, (3, 8, M), radius.reshape(3, 1), generator=_gen(3), **kw)
    for i, r in enumerate(radius.tolist()):
        alone = attack(tiny, (1, 8, M), torch.tensor([[r]]), generator=_gen(3), **kw)
        torch.testing.assert_close(alone.delta[0], grid.delta[i], rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(alone.value[0], grid.value[i], rtol=1e-4, atol=1e-9)
    # evaluated in pieces of one budget per pass: the same attack
    calls = []

    def spy(d: torch.Tensor) -> torch.Tensor:
        calls.append(d.shape[0])
        return tiny(d)

    parts = attack(spy, (3, 8, M), radius.reshape(3, 1), generator=_gen(3), chunk=(0, 1), **kw)
    assert set(calls) == {1}
    torch.testing.assert_close(parts.delta, grid.delta, rtol=1e-4, atol=1e-6)


def test_apgd_converges_to_an_interior_maximum() -> None:
    """max −‖δ − c‖² with ‖c‖ = ε/2: the step-size halving lets APGD settle on c; fixed steps keep circling."""
    g = _gen(0)
    c = torch.randn(8, M, generator=g)
    c = 0.5 * c / c.norm(dim=-1, keepdim=True)

    def objective(d: torch.Tensor) -> torch.Tensor:
        return -(d - c).square().sum(-1)

    err = {}
    for mode in ("apgd", "strong"):
        res = attack(objective, (8, M), torch.tensor([1.0]), mode=mode, steps=20, generator=_gen(1))
        err[mode] = float((res.delta - c).norm(dim=-1).max())
    assert err["apgd"] < 0.01 and err["apgd"] < err["strong"] / 5, err


def test_apgd_solves_a_linear_objective() -> None:
    """max ⟨c, δ⟩ over the L2 ball is ε·‖c‖: reached per budget in 10 steps to 1e-5 (L∞: ε·‖c‖₁ at ε·sign(c))."""
    c = torch.randn(5, 8, generator=_gen(1))
    radius = torch.tensor([0.1, 1.0, 10.0]).reshape(3, 1)
    res = attack(lambda d: (d * c).sum(-1), (3, 5, 8), radius, mode="apgd", steps=10, generator=_gen(2))
    torch.testing.assert_close(res.value, radius * c.norm(dim=-1), rtol=1e-5, atol=0)
    res = attack(lambda d: (d * c).sum(-1), (3, 5, 8), radius, mode="apgd", norm="linf", steps=10,
                 generator=_gen(2))
    torch.testing.assert_close(res.value, radius * c.abs().sum(-1), rtol=1e-5, atol=0)


def test_apgd_beats_strong_at_equal_steps_on_average() -> None:
    """On tiny decoders (several seeds), APGD's mean damage at K = 10 is at least the strong mode's."""
    radius = torch.tensor([0.5, 1.0, 2.0, 4.0]).reshape(4, 1)
    totals = {"apgd": 0.0, "strong": 0.0}
    for seed in range(4):
        obj = _untargeted(_decoder(seed), torch.randn(16, M, generator=_gen(10 + seed)))
        for mode in totals:
            totals[mode] += float(attack(obj, (4, 16, M), radius, mode=mode, steps=10, starts=1,
                                         generator=_gen(seed)).value.mean())
    assert totals["apgd"] >= totals["strong"], totals


# ------------------------------------------------------------------- the older modes are unchanged


def _old_pgd(objective, shape, radius, mode, steps, restarts, alpha, generator):
    """The strong and faithful modes as written before APGD (verbatim algorithm, one piece)."""
    radius = radius.reshape(list(radius.shape) + [1])
    shape = torch.Size(shape)

    def project(d):
        n = d.norm(dim=-1, keepdim=True)
        return d * torch.where(n > radius, radius / n.clamp_min(1e-30), torch.ones_like(n))

    def start(fraction):
        lead, rshape = list(shape[:-1]), [1] * (len(shape) - 1 - radius.dim()) + list(radius.shape)
        draw = [1 if r > 1 else s for s, r in zip(lead, rshape)] + [shape[-1]]
        g = torch.randn(draw, generator=generator)
        g = g / g.norm(dim=-1, keepdim=True).clamp_min(1e-30)
        if fraction is None:
            r = torch.rand(draw[:-1] + [1], generator=generator).pow(1.0 / shape[-1])
        else:
            r = torch.full(draw[:-1] + [1], fraction)
        return (g * r * radius).expand(shape).clone()

    best_d, best_v = torch.zeros(shape), torch.full(shape[:-1], -torch.inf)
    for _ in range(1 if mode == "faithful" else restarts):
        d = project(start(1e-3 if mode == "faithful" else None))
        for _k in range(steps):
            d = d.detach().requires_grad_(True)
            v = objective(d)
            (grad,) = torch.autograd.grad(v.sum(), d)
            d, v = d.detach(), v.detach()
            if mode == "strong":
                better = v > best_v
                best_v, best_d = torch.where(better, v, best_v), torch.where(better.unsqueeze(-1), d, best_d)
                step = (2.5 * radius / steps) * grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-30)
            else:
                step = alpha * grad.sign()
            d = project(d + step)
        if mode == "faithful":
            return d
        v = objective(d).detach()
        better = v > best_v
        best_v, best_d = torch.where(better, v, best_v), torch.where(better.unsqueeze(-1), d, best_d)
    return best_d


@pytest.mark.parametrize("mode", ["strong", "faithful"])
def test_strong_and_faithful_modes_are_unchanged(tiny, mode) -> None:
    radius = torch.tensor([0.3, 1.0, 2.0]).reshape(3, 1)
    new = pgd(tiny, (3, 8, M), radius, mode=mode, steps=6, restarts=2, generator=_gen(5))
    with torch.enable_grad():
        old = _old_pgd(tiny, (3, 8, M), radius, mode, 6, 2, 1.0, _gen(5))
    assert torch.equal(new, old)


# --------------------------------------------------------------------------------------- precision


def test_bf16_search_reports_full_precision_values(tiny) -> None:
    radius = torch.tensor([0.5, 2.0]).reshape(2, 1)
    res = attack(tiny, (2, 8, M), radius, mode="apgd", steps=6, precision="bf16", generator=_gen(0))
    assert res.precision == "bf16" and res.delta.dtype == torch.float32
    assert (res.delta.norm(dim=-1) <= radius * (1 + 1e-6)).all()
    with torch.no_grad():  # the reported values are fp32 evaluations of the returned perturbations
        assert torch.equal(res.value, tiny(res.delta))
    fp32 = attack(tiny, (2, 8, M), radius, mode="apgd", steps=6, generator=_gen(0))
    assert float(res.value.mean()) == pytest.approx(float(fp32.value.mean()), rel=0.1)


def test_auto_precision_follows_native_bf16(monkeypatch) -> None:
    monkeypatch.setattr(A, "_cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(A, "_cpu_flags", lambda: frozenset({"avx512f", "avx2"}))
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16" and resolve_precision("fp32", "cpu") == "fp32"
    with pytest.raises(UsageError, match="precision"):
        resolve_precision("fp16", "cpu")


@pytest.mark.parametrize("kw, arg", [({"mode": "adam"}, "mode"), ({"norm": "l1"}, "norm"),
                                     ({"steps": 0}, "steps"), ({"starts": 0}, "starts"),
                                     ({"precision": "int8"}, "precision"), ({"average": 1.0}, "average"),
                                     ({"average": -0.1}, "average")])
def test_bad_options_are_one_line_usage_errors(tiny, kw, arg) -> None:
    with pytest.raises(UsageError, match=arg):
        attack(tiny, (1, 8, M), torch.tensor([[1.0]]), **kw)


def test_curvature_directions_are_the_top_right_singular_vectors() -> None:
    """For a linear reconstruction ``A δ`` (per example its own A) the directions are ``±`` the top right
    singular vectors of A (central differences are exact for a linear map), in the order v1, −v1, v2, −v2."""
    g = _gen(7)
    a = torch.randn(3, 4, 20, M, generator=g)  # [S, B, P, M]

    def recon(d: torch.Tensor) -> torch.Tensor:  # δ [S, R, B, M] -> [S, R, B, P]
        return torch.einsum("sbpm,srbm->srbp", a, d)

    dirs = A.curvature_directions(recon, (3, 1, 4, M), 2)
    assert dirs.shape == (4, 3, 1, 4, M)
    _, _, vh = torch.linalg.svd(a.double())  # rows of vh: right singular vectors, descending
    for i in range(2):
        v = dirs[2 * i, :, 0].double()
        torch.testing.assert_close(dirs[2 * i + 1], -dirs[2 * i])
        cos = (v * vh[..., i, :]).sum(-1).abs()
        torch.testing.assert_close(cos, torch.ones_like(cos), atol=1e-5, rtol=0)
    with pytest.raises(UsageError, match="k"):
        A.curvature_directions(recon, (3, 1, 4, M), M + 1)


def test_curvature_start_finds_the_maximum_of_a_quadratic_objective() -> None:
    """``‖A δ‖²`` over the ball: the maximum ``σ₁² ε²`` sits at ``±ε v₁``; starting there APGD keeps it, and a
    search of a single step (no exploration) from the curvature start already has it."""
    g = _gen(8)
    a = torch.randn(5, 12, M, generator=g)

    def recon(d: torch.Tensor) -> torch.Tensor:  # [R, B, M] -> [R, B, P]
        return torch.einsum("bpm,rbm->rbp", a, d)

    def objective(d: torch.Tensor) -> torch.Tensor:  # [E, B, M] -> [E, B]
        return recon(d).square().sum(-1)

    dirs = A.curvature_directions(recon, (1, 5, M), 1)
    radius = torch.tensor([0.5, 2.0]).view(2, 1)
    best = torch.linalg.svdvals(a)[:, 0].square() * radius.square()  # [2, 5]
    res = attack(objective, (2, 5, M), radius, mode="apgd", steps=1, starts=1, directions=dirs)
    torch.testing.assert_close(res.value, best, rtol=1e-5, atol=0)
    random = attack(objective, (2, 5, M), radius, mode="apgd", steps=1, starts=1, generator=_gen(1))
    assert (random.value < best * (1 - 1e-3)).any()


def test_iterate_averaging_finds_the_maximiser_of_a_noisy_objective() -> None:
    """max E[⟨c, δ⟩ + ⟨w, δ⟩·σ] over the unit ball, a fresh w ~ N(0, I) per evaluation: the maximiser is
    c/‖c‖. Normalised steps on single draws scatter around it; the mean of the late iterates (``average``) is
    closer on average over many examples, and on a deterministic objective averaging never loses (the two
    candidates are compared exactly)."""
    n = 1024
    c = torch.randn(n, M, generator=_gen(3))
    target = c / c.norm(dim=-1, keepdim=True)
    cos = {}
    for average in (0.0, 0.5):
        noise = _gen(4)

        def noisy(d: torch.Tensor, noise=noise) -> torch.Tensor:
            return (d * (c + 3.0 * torch.randn(d.shape, generator=noise))).sum(-1)

        res = attack(noisy, (n, M), torch.tensor([1.0]), mode="apgd", steps=30, generator=_gen(5), average=average)
        cos[average] = float((res.delta * target).sum(-1).mean())
    # five seeds of this set-up: +0.012 ± 0.001 (cosine to the maximiser, mean over 1024 examples)
    assert cos[0.5] > cos[0.0] + 0.005, cos

    quad = _untargeted(_decoder(0), torch.randn(16, M, generator=_gen(6)))
    radius = torch.tensor([0.5, 2.0]).reshape(2, 1)
    plain = attack(quad, (2, 16, M), radius, mode="apgd", steps=12, generator=_gen(7))
    averaged = attack(quad, (2, 16, M), radius, mode="apgd", steps=12, generator=_gen(7), average=0.5)
    assert (averaged.value >= plain.value - 1e-6).all()
