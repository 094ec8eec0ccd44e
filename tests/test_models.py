"""Model families: shapes, the encode/decode interface, losses and the registry."""

from __future__ import annotations

import pytest
import torch

from channelae.errors import UsageError
from channelae.models import MODELS, build_model

FAMILIES = MODELS.names()


def test_registry_has_study_families() -> None:
    assert set(FAMILIES) == {"ae", "kld-vae", "mmd-vae", "swt-vae", "mmd-dae", "swt-dae", "tc-vae"}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape,d", [((1, 28, 28), 10), ((3, 64, 64), 16)])
def test_shapes_and_loss(family: str, shape: tuple[int, int, int], d: int) -> None:
    torch.manual_seed(0)
    model = build_model(family, shape, d)
    x = torch.rand(8, *shape)
    z = model.encode(x)
    assert z.shape == (8, d)
    x_hat = model.decode(z)
    assert x_hat.shape == (8, *shape)
    assert float(x_hat.detach().min()) >= 0.0 and float(x_hat.detach().max()) <= 1.0
    out = model(x, generator=torch.Generator().manual_seed(1))
    loss = model.loss(x, out, dataset_size=1000, generator=torch.Generator().manual_seed(2))
    assert torch.isfinite(loss.total)
    loss.total.backward()
    grads = [p.grad for p in model.decoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    if family != "ae":
        assert "reg" in loss.terms


def test_vae_encodes_mean_by_default_and_samples_on_request() -> None:
    torch.manual_seed(0)
    model = build_model("kld-vae", (1, 28, 28), 10).eval()
    x = torch.rand(4, 1, 28, 28)
    mu, _ = model.encode_stats(x)
    assert torch.equal(model.encode(x), mu)
    s1 = model.encode(x, sample=True, generator=torch.Generator().manual_seed(0))
    s2 = model.encode(x, sample=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(s1, s2) and not torch.equal(s1, mu)


def test_decode_accepts_leading_dims() -> None:
    model = build_model("ae", (1, 28, 28), 10).eval()
    z = torch.randn(3, 5, 10)
    flat = model.decode(z.reshape(15, 10)).reshape(3, 5, 1, 28, 28)
    assert torch.allclose(model.decode(z), flat)


def test_deterministic_families_have_no_logvar() -> None:
    model = build_model("mmd-dae", (1, 28, 28), 10)
    out = model(torch.rand(4, 1, 28, 28))
    assert out.logvar is None and out.mu is None


def test_default_lambda_and_overrides() -> None:
    assert build_model("swt-vae", (1, 28, 28), 10).config.lam == MODELS.get("swt-vae").default_lam
    assert build_model("swt-vae", (1, 28, 28), 10, lam=0.5).config.lam == 0.5
    with pytest.raises(UsageError, match="--lam"):
        build_model("swt-vae", (1, 28, 28), 10, lam=-1)
    with pytest.raises(UsageError, match="--latent-dim"):
        build_model("swt-vae", (1, 28, 28), 0)
    with pytest.raises(UsageError, match=r"--model.*unknown model 'vae'.*swt-vae"):
        build_model("vae", (1, 28, 28), 10)


def test_beta_weights_only_total_correlation() -> None:
    torch.manual_seed(0)
    m1 = build_model("tc-vae", (1, 28, 28), 10, beta=1.0, lam=1.0)
    m5 = build_model("tc-vae", (1, 28, 28), 10, beta=5.0, lam=1.0)
    m5.load_state_dict(m1.state_dict())
    x = torch.rand(16, 1, 28, 28)
    o1 = m1(x, generator=torch.Generator().manual_seed(0))
    o5 = m5(x, generator=torch.Generator().manual_seed(0))
    l1 = m1.loss(x, o1, dataset_size=100)
    l5 = m5.loss(x, o5, dataset_size=100)
    t = l1.terms
    assert l5.terms["reg"] == pytest.approx(t["mi"] + 5 * t["tc"] + t["dwkl"], rel=1e-4, abs=1e-5)
    assert l1.terms["reg"] == pytest.approx(t["mi"] + t["tc"] + t["dwkl"], rel=1e-4, abs=1e-5)
