"""Decoder folding (channelae.models.fold): the folded eval decoder reproduces the unfolded decoder's output
and input gradient for every family and image shape (with randomised BatchNorm statistics and affine
parameters, so a wrong fold fails), its FLOP count against a hand count, training mode untouched, and the
Link with and without folding.

Tolerances (float32): outputs (sigmoid, in [0, 1]) to 2e-6 absolute; input gradients to 1e-5 of their
largest entry (element-wise) — observed errors are ~2e-7 and ~1e-6 relative. In float64: 1e-12.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from channelae.link import Link
from channelae.models import MODELS, build_model
from channelae.models.fold import (
    FoldedDecoder,
    FoldError,
    default_channels_last,
    fold_decoder,
    matmul_flops,
    rows_per_pass,
)

SHAPES = {(1, 28, 28): 6, (3, 64, 64): 8}  # image shape -> latent dim used here


def _randomise_bn(model: nn.Module, seed: int) -> None:
    """Non-trivial eval-mode BatchNorm: random running statistics and affine parameters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.3)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.3)


def _model(family: str, shape: tuple[int, int, int], seed: int = 0, dtype=torch.float32) -> nn.Module:
    torch.manual_seed(seed)
    m = build_model(family, shape, SHAPES[shape])
    _randomise_bn(m, seed + 1)
    return m.to(dtype).eval()


def _out_and_grad(decode, z: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Output and d loss / d z for loss = Σ w·x (a generic linear functional of the output)."""
    z = z.detach().clone().requires_grad_(True)
    x = decode(z)
    (g,) = torch.autograd.grad((x * w).sum(), z)
    return x.detach(), g


@pytest.mark.parametrize("shape", list(SHAPES), ids=lambda s: f"{s[1]}x{s[2]}")
@pytest.mark.parametrize("family", MODELS.names())
def test_folded_decoder_matches_output_and_input_gradient(family: str, shape) -> None:
    model = _model(family, shape)
    d = SHAPES[shape]
    g = torch.Generator().manual_seed(3)
    z = torch.randn(2, 3, d, generator=g) * 2  # leading dims, like decode's callers
    w = torch.randn(2, 3, *shape, generator=g)
    x_ref, g_ref = _out_and_grad(model.decode, z, w)
    # The randomised BatchNorms matter (so the comparison below can fail): default statistics differ a lot.
    plain = copy.deepcopy(model)
    for m in plain.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()
    assert (plain.decode(z) - x_ref).abs().max() > 1e-2
    for cl in (False, True):
        folded = fold_decoder(model, channels_last=cl)
        assert isinstance(folded, FoldedDecoder) and folded.channels_last is cl
        assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
        x, grad = _out_and_grad(folded.decode, z, w)
        assert x.shape == x_ref.shape == (2, 3, *shape)
        torch.testing.assert_close(x, x_ref, atol=2e-6, rtol=0)
        torch.testing.assert_close(grad, g_ref, atol=1e-5 * g_ref.abs().max().item(), rtol=0)


@pytest.mark.parametrize("shape", list(SHAPES), ids=lambda s: f"{s[1]}x{s[2]}")
def test_folding_is_exact_in_float64(shape) -> None:
    model = _model("ae", shape, dtype=torch.float64)
    z = torch.randn(7, SHAPES[shape], dtype=torch.float64)
    w = torch.randn(7, *shape, dtype=torch.float64)
    x_ref, g_ref = _out_and_grad(model.decode, z, w)
    folded = fold_decoder(model)
    assert folded.head.weight.dtype == torch.float64
    x, grad = _out_and_grad(folded.decode, z, w)
    torch.testing.assert_close(x, x_ref, atol=1e-12, rtol=0)
    torch.testing.assert_close(grad, g_ref, atol=1e-12 * g_ref.abs().max().item(), rtol=0)


def test_structure_and_flop_counts_28x28() -> None:
    """Linear → ConvT → BN becomes one Linear(d → 128·4·4); FLOPs against a hand count from the shapes."""
    model = _model("swt-vae", (1, 28, 28))
    folded = fold_decoder(model, channels_last=False)
    assert (folded.head.in_features, folded.head.out_features) == (6, 128 * 4 * 4)
    assert folded.head_shape == (128, 4, 4)
    kinds = [type(m).__name__ for m in folded.body]
    assert kinds == ["LeakyReLU", "CPUFloat32", "LeakyReLU", "ConvTranspose2d", "LeakyReLU",
                     "ColumnConvTranspose2d", "Sigmoid"]
    assert folded.body[1].layer.kernel_size == (3, 3)  # k = 3, s = 2: kept in fp32 under CPU autocast
    # multiply-adds per example: C_in·C_out·k²·H_in·W_in per transposed conv (28x28 spec, reversed).
    convs = [64 * 128 * 9 * 4 * 4, 128 * 64 * 9 * 4 * 4, 64 * 32 * 16 * 7 * 7, 32 * 1 * 16 * 14 * 14]
    for d in (6, 10):
        m = build_model("ae", (1, 28, 28), d).eval()
        f = fold_decoder(m)
        assert matmul_flops(m.decoder, d) == 4 * (d * 64 * 16 + sum(convs))
        assert matmul_flops(f, d) == 4 * (d * 128 * 16 + sum(convs[1:]))
    # The study's d = 10 decoder: 16.3 MFLOP per example per PGD step unfolded, 11.6 folded.
    assert round(matmul_flops(m.decoder, 10) / 1e6, 1) == 16.3
    assert round(matmul_flops(f, 10) / 1e6, 1) == 11.6


def test_structure_64x64() -> None:
    model = _model("kld-vae", (3, 64, 64))
    folded = fold_decoder(model)
    assert (folded.head.out_features, folded.head_shape) == (128 * 8 * 8, (128, 8, 8))
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in folded.body) == 3


def test_training_mode_is_refused_and_the_model_untouched() -> None:
    model = _model("swt-vae", (1, 28, 28))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.random.get_rng_state()
    folded = fold_decoder(model)
    assert torch.equal(torch.random.get_rng_state(), rng)  # folding draws no random numbers
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.requires_grad for p in model.parameters())  # the model's parameters keep training
    assert not any(p.requires_grad for p in folded.parameters())
    assert not model.training and not folded.training

    with pytest.raises(RuntimeError, match="eval-only"):
        folded.train()
    folded.eval()  # allowed
    model.train()
    with pytest.raises(FoldError, match="training mode"):
        fold_decoder(model)
    assert model.training  # refusing does not switch modes either

    # A training step changes the model; the folded decoder is a snapshot and does not follow it.
    z = torch.randn(4, 6)
    x_before = folded(z)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.decode(z).sum().backward()
    opt.step()
    model.eval()
    assert (model.decode(z) - x_before).abs().max() > 1e-4
    torch.testing.assert_close(folded(z), x_before, atol=0, rtol=0)


def test_unknown_decoders_are_refused() -> None:
    class Custom(nn.Module):
        latent_dim = 4

        def __init__(self) -> None:
            super().__init__()
            self.decoder = nn.Linear(4, 8)

        def decode(self, z: torch.Tensor) -> torch.Tensor:
            return self.decoder(z)

    with pytest.raises(FoldError):
        fold_decoder(Custom().eval())

    base = type(build_model("ae", (1, 28, 28), 4))

    class OwnDecode(base):
        def decode(self, z: torch.Tensor) -> torch.Tensor:
            return super().decode(z) * 0.5

    with pytest.raises(FoldError):
        fold_decoder(OwnDecode(build_model("ae", (1, 28, 28), 4).config).eval())


def test_bf16_autocast_is_close_to_fp32() -> None:
    """The folded decoder under CPU bf16 autocast: outputs within bf16 rounding, gradients aligned."""
    model = _model("ae", (1, 28, 28))
    folded = fold_decoder(model)
    z = torch.randn(16, 6)
    w = torch.randn(16, 1, 28, 28)
    x32, g32 = _out_and_grad(folded, z, w)

    def bf16(t: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return folded(t).float()

    x16, g16 = _out_and_grad(bf16, z, w)
    assert (x16 - x32).abs().max() < 2e-2
    # which layers ran in bf16: the k=3, s=2 transposed convolution stays fp32 (CPUFloat32), k=4 ones do not
    dtypes = {}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: dtypes.__setitem__(n, o.dtype))
             for n, m in folded.body.named_children() if n in ("1", "3", "5")]
    bf16(z)
    for h in hooks:
        h.remove()
    assert dtypes == {"1": torch.float32, "3": torch.bfloat16, "5": torch.bfloat16}
    cos = torch.nn.functional.cosine_similarity(g16, g32, dim=-1)
    assert cos.min() > 0.99


def test_column_conv_transpose_matches_the_layer() -> None:
    """ColumnConvTranspose2d (one output channel: a matrix product and a col2im) computes the transposed
    convolution and its input gradient; with trainable weights it is the layer itself."""
    from channelae.models.fold import ColumnConvTranspose2d

    torch.manual_seed(0)
    for k, s, p, hw in ((4, 2, 1, 14), (3, 2, 1, 5), (5, 1, 2, 6), (4, 3, 0, 4)):
        layer = nn.ConvTranspose2d(7, 1, k, stride=s, padding=p).double().requires_grad_(False)
        col = ColumnConvTranspose2d(layer)
        x = torch.randn(5, 7, hw, hw, dtype=torch.float64)
        w = torch.randn_like(layer(x))
        for fmt in (torch.contiguous_format, torch.channels_last):
            xf = x.contiguous(memory_format=fmt)
            (out, g), (out_ref, g_ref) = _out_and_grad(col, xf, w), _out_and_grad(layer, xf, w)
            torch.testing.assert_close(out, out_ref, atol=1e-12, rtol=0)
            torch.testing.assert_close(g, g_ref, atol=1e-12, rtol=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # like the layer: the product in bf16
        assert col(x.float()).dtype == torch.bfloat16
    layer.requires_grad_(True)  # trainable weights: the layer's own forward and weight gradients
    x = torch.randn(2, 7, 4, 4, dtype=torch.float64)
    col(x).sum().backward()
    assert layer.weight.grad is not None


def test_rows_per_pass_and_channels_last_defaults() -> None:
    assert rows_per_pass("fp32") >= 128 and rows_per_pass("bf16") >= rows_per_pass("fp32")
    assert rows_per_pass("fp32", "cuda") >= rows_per_pass("fp32", "cpu")
    with pytest.raises(ValueError, match="precision"):
        rows_per_pass("fp16")
    assert default_channels_last("cpu") is True


# ------------------------------------------------------------------------------------------ the Link


@pytest.fixture(scope="module")
def tiny() -> nn.Module:
    return _model("swt-vae", (1, 28, 28), seed=5)


def test_link_builds_a_folded_decoder_and_can_skip_it(tiny) -> None:
    assert isinstance(Link(tiny, "awgn", p_ref=1.0).folded, FoldedDecoder)
    assert Link(tiny, "awgn", p_ref=1.0, fold=False).folded is None


def test_link_outputs_with_and_without_folding(tiny) -> None:
    """No jammer: x̂ agrees to float rounding. PGD jammer over an SNR × ε grid: the search may take a
    different last-bit path, so per-(SNR, ε) mean damage MSE(x̂, dec(z0)) is compared to 1e-4 relative
    (observed: ≤ 2e-6) and x̂ at ε = 0 / the noiseless ideal link tightly."""
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    snr = [0.0, 10.0, float("inf")]
    outs = {}
    for fold in (True, False):
        link = Link(tiny, "awgn", p_ref=1.0, fold=fold)
        outs[fold] = link(x, snr, generator=torch.Generator().manual_seed(1))
    a, b = outs[True], outs[False]
    torch.testing.assert_close(a.clean, b.clean, atol=2e-6, rtol=0)
    torch.testing.assert_close(a.x_hat, b.x_hat, atol=2e-6, rtol=0)
    torch.testing.assert_close(a.y, b.y, atol=0, rtol=0)

    eps = [0.0, 5.0, 20.0]  # latent L2 (an untrained decoder needs large budgets to be hurt)
    outs = {}
    for fold in (True, False):
        link = Link(tiny, "pgd-jammer", p_ref=1.0, fold=fold,  # fp32 search: the default auto may be bf16
                    channel_options={"eps": eps, "steps": 5, "attack_precision": "fp32"})
        outs[fold] = link(x, snr, generator=torch.Generator().manual_seed(2))
    a, b = outs[True], outs[False]
    assert a.x_hat.shape == (3, 3, 6, 1, 28, 28)
    dmg_a = (a.x_hat - a.clean).square().flatten(-3).mean(-1).mean(-1)  # [S, E]
    dmg_b = (b.x_hat - b.clean).square().flatten(-3).mean(-1).mean(-1)
    assert dmg_a[:, 2].min() > 10 * dmg_a[:, 0].max()  # the jammer does damage (the comparison is not empty)
    torch.testing.assert_close(dmg_a, dmg_b, rtol=1e-4, atol=1e-9)
    torch.testing.assert_close(a.x_hat[:, 0], b.x_hat[:, 0], atol=2e-6, rtol=0)  # ε = 0: no search
    assert a.x_hat[-1, 0].sub(a.clean).abs().max() == 0  # noiseless, unjammed: exactly the clean output
