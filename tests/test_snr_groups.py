"""Noiseless and finite SNR points of a jammed link run as two calls (channelae.link.snr_groups): the same
channel realisations as one call over the whole grid, results joined in grid order, and the noiseless points
searched without channel draws."""

from __future__ import annotations

import math

import torch

from channelae.data import load_dataset
from channelae.link import Link
from channelae.link.snr_groups import run_in_snr_groups, snr_groups

B = 4
GRID = torch.tensor([10.0, math.inf, 20.0])  # mixed on purpose: the join must restore this order


def _images() -> torch.Tensor:
    return load_dataset("mnist-5k", "test", limit=B).batch(range(B))


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(7)


def _jammer(link: Link):
    return next(s for s in link.channel.stages if hasattr(s, "last_diagnostics") or hasattr(s, "progress"))


def test_groups() -> None:
    assert [g.tolist() for g in snr_groups(GRID)] == [[1], [0, 2]]
    assert [g.tolist() for g in snr_groups(torch.tensor([0.0, 5.0]))] == [[0, 1]]
    assert [g.tolist() for g in snr_groups(torch.tensor([math.inf]))] == [[0]]


def test_zero_budget_gives_exactly_the_one_call_link(trained_checkpoint) -> None:
    """With ε = 0 the jammer adds nothing, so what is left is the link's own randomness: the grouped run must
    reproduce one call over the whole grid bit for bit (the same receiver noise at every SNR point)."""
    x = _images()
    link = Link.from_checkpoint(trained_checkpoint, "pgd-jammer", channel_options={"eps": [0.0]})
    whole = link(x, GRID, generator=_gen())
    grouped = run_in_snr_groups(link, x, GRID, _gen, _jammer(link))
    for name in ("x_hat", "z_hat", "y"):
        assert torch.equal(getattr(grouped, name), getattr(whole, name)), name
    assert torch.equal(grouped.clean, whole.clean) and grouped.snr_db.tolist() == GRID.tolist()
    assert not torch.equal(whole.x_hat[0], whole.x_hat[2])  # different noise levels really differ


def test_each_group_is_its_own_call_joined_in_grid_order(trained_checkpoint) -> None:
    x = _images()
    opts = {"eps": [0.0, 0.4], "steps": 3, "attack_precision": "fp32"}
    link = Link.from_checkpoint(trained_checkpoint, "pgd-jammer", channel_options=opts)
    jammer = _jammer(link)
    seen: list[list[float]] = []
    grouped = run_in_snr_groups(link, x, GRID, _gen, jammer, lambda i, idx: seen.append(GRID[idx].tolist()))
    assert seen == [[math.inf], [10.0, 20.0]]
    diag, delta = jammer.last_diagnostics, jammer.last_delta
    assert diag["distance_final"].shape == (3, 2) and delta.shape[:2] == (3, 2)
    # how it searched where the link after the jammer is random (receiver noise): draws, control variate
    assert diag["eot"] == 2 and diag["control_variate"] is True

    noiseless = link(x, [math.inf], generator=_gen())
    assert jammer.last_diagnostics["eot"] == 1 and jammer.last_diagnostics["control_variate"] is False
    d_inf = jammer.last_diagnostics["distance_final"]
    noisy = link(x, [10.0, 20.0], generator=_gen())
    d_noisy = jammer.last_diagnostics["distance_final"]
    assert torch.equal(grouped.x_hat[1], noiseless.x_hat[0])
    assert torch.equal(grouped.x_hat[0], noisy.x_hat[0]) and torch.equal(grouped.x_hat[2], noisy.x_hat[1])
    torch.testing.assert_close(diag["distance_final"], torch.stack([d_noisy[0], d_inf[0], d_noisy[1]]),
                               equal_nan=True, rtol=0, atol=0)
    assert grouped.x_hat.shape == (3, 2, B, 1, 28, 28) and grouped.state.y.shape[0] == 3
