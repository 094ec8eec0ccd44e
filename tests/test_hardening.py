"""Latent adversarial training (Algorithm 1): the inner attack's mode and the model-cache key."""

from __future__ import annotations

import pytest
import torch

from channelae import hardening
from channelae.errors import UsageError
from channelae.hardening import HardeningConfig, hardening_hook
from channelae.models import build_model


def test_default_mode_keeps_the_cache_key_of_older_models() -> None:
    assert "mode" not in HardeningConfig().to_dict()
    assert HardeningConfig(mode="faithful").to_dict()["mode"] == "faithful"
    with pytest.raises(UsageError, match="--adv-mode"):
        HardeningConfig(mode="apgd-ish")


@pytest.mark.parametrize("mode", ["strong", "faithful"])
def test_inner_attack_uses_the_requested_mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """The hook hands its mode to the PGD; faithful (Eq. 6: α = 1 ≫ ε sign steps) ends on the ε-sphere."""
    seen: dict[str, object] = {}
    real = hardening.pgd

    def spy(*args, **kw):
        seen.update(kw)
        out = real(*args, **kw)
        seen["norms"] = out.norm(dim=-1)
        return out

    monkeypatch.setattr(hardening, "pgd", spy)
    torch.manual_seed(0)
    model = build_model("ae", (1, 28, 28), 10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    eps = 0.3
    hook = hardening_hook(HardeningConfig(eps=eps, m=1, k=4, distance="mse", mode=mode))
    hook(model, opt, torch.rand(8, 1, 28, 28), 0, 0, torch.Generator().manual_seed(0))
    assert seen["mode"] == mode and seen["steps"] == 4
    norms = seen["norms"]
    assert float(norms.max()) <= eps * (1 + 1e-5)
    if mode == "faithful":
        assert torch.allclose(norms, torch.full_like(norms, eps), rtol=1e-5)
