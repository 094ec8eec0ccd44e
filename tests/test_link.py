"""The Link (x → encoder → Transmitter → channel → Receiver → decoder → x̂): shapes of the [S, E, B, ...]
grid, receiver noise appended to noise-free specs, SNR handling, and usage errors of the link and jammers."""

from __future__ import annotations

import math

import pytest
import torch

from channelae.channels import build_channel
from channelae.channels.awgn import AWGN
from channelae.channels.base import ChannelState
from channelae.channels.compose import Compose
from channelae.channels.ideal import Ideal
from channelae.channels.noise_jammer import NoiseJammer
from channelae.channels.pgd_jammer import PGDJammer
from channelae.channels.rayleigh import Rayleigh
from channelae.data import load_dataset
from channelae.errors import UsageError
from channelae.link import Link, LinkContext, as_snr_grid, link_channel
from channelae.models import build_model

B = 8


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return load_dataset("mnist-5k", "test", limit=B).batch(range(B))


@pytest.fixture(scope="module")
def untrained():
    """An untrained model is enough where only shapes and plumbing are checked."""
    torch.manual_seed(0)
    return build_model("swt-vae", (1, 28, 28), 10).eval()


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).square().flatten(-3).mean(-1)


# ------------------------------------------------------------------------------------ link_channel


def test_link_channel_appends_awgn_to_noise_free_specs() -> None:
    ch = link_channel("pgd-jammer", eps=0.1)
    assert isinstance(ch, Compose)
    assert [type(s) for s in ch.stages] == [PGDJammer, AWGN]
    assert ch.adds_noise and ch.needs_decoder

    ch = link_channel("rayleigh+pgd-jammer", eps=0.1)
    assert [type(s) for s in ch.stages] == [Rayleigh, PGDJammer, AWGN]
    assert ch.stages[0].add_awgn is False  # noise only once, at the end

    ch = link_channel("ideal")
    assert [type(s) for s in ch.stages] == [Ideal, AWGN]


def test_link_channel_keeps_specs_that_add_noise() -> None:
    ch = link_channel("awgn+pgd-jammer", eps=0.1)
    assert [type(s) for s in ch.stages] == [AWGN, PGDJammer]
    assert isinstance(link_channel("awgn"), AWGN)
    assert isinstance(link_channel("rayleigh"), Rayleigh)  # a lone fading stage adds its own noise
    ch = link_channel("pgd-jammer+awgn", eps=0.1)
    assert [type(s) for s in ch.stages] == [PGDJammer, AWGN]


def test_link_channel_takes_channel_objects(untrained) -> None:
    jam = NoiseJammer(eps=0.5)
    ch = link_channel(jam)
    assert isinstance(ch, Compose) and ch.stages[0] is jam and isinstance(ch.stages[1], AWGN)
    awgn = AWGN()
    assert link_channel(awgn) is awgn
    # Link built from a spec string applies the same rule.
    link = Link(untrained, "pgd-jammer", p_ref=1.0, channel_options={"eps": 0.1})
    assert [type(s) for s in link.channel.stages] == [PGDJammer, AWGN]


# ------------------------------------------------------------------------------------- SNR grid


def test_as_snr_grid_values() -> None:
    assert as_snr_grid(None).tolist() == [math.inf]
    assert as_snr_grid(10).tolist() == [10.0]
    assert as_snr_grid([0, 5, math.inf]).tolist() == [0.0, 5.0, math.inf]
    t = as_snr_grid(torch.tensor([[1.0, 2.0]]))
    assert t.shape == (2,) and t.dtype == torch.float32


@pytest.mark.parametrize("bad", ["abc", ["a"], [1.0, None], object(), [float("nan")], float("nan"),
                                 [-math.inf], []])
def test_as_snr_grid_refuses_non_numbers(bad) -> None:
    with pytest.raises(UsageError) as exc:
        as_snr_grid(bad)
    assert exc.value.argument == "snr_db"  # the library names its parameter; the CLI shows --snr-db
    assert str(exc.value).startswith("snr_db: ")


def test_link_refuses_bad_snr(untrained, images) -> None:
    link = Link(untrained, "awgn", p_ref=1.0)
    with pytest.raises(UsageError, match="snr_db"):
        link(images, float("nan"))
    with pytest.raises(UsageError, match="snr_db"):
        link(images, "ten")


def test_snr_grid_in_one_call(trained_checkpoint, images) -> None:
    link = Link.from_checkpoint(trained_checkpoint, "awgn")
    snr = [math.inf, 20.0, 0.0]
    out = link(images, snr, generator=torch.Generator().manual_seed(0))
    assert out.x_hat.shape == (3, 1, B, 1, 28, 28)
    assert out.z_hat.shape == (3, 1, B, 10) and out.y.shape == (3, 1, B, 5)
    assert out.snr_db.tolist() == snr
    # noiseless point = the clean link output, bit for bit
    assert torch.equal(out.x_hat[0, 0], out.clean)
    mse = _mse(out.x_hat[:, 0], out.clean).mean(-1)  # [S]
    assert mse[0] == 0
    assert mse[0] < mse[1] < mse[2]  # quality falls as SNR falls
    # received noise has the requested variance N0 = 10^(-snr/10) per complex symbol (Es = 1)
    w = out.y[2, 0] - out.s
    assert w.abs().square().mean().item() == pytest.approx(1.0, rel=0.5)


def test_snr_and_budget_grid_shapes(untrained, images) -> None:
    link = Link(untrained, "noise-jammer", p_ref=1.0, channel_options={"eps": [0.0, 0.5, 1.0, 2.0]})
    out = link(images, [math.inf, 10.0], generator=torch.Generator().manual_seed(1))
    assert out.x_hat.shape == (2, 4, B, 1, 28, 28)
    assert out.z_hat.shape == (2, 4, B, 10)
    assert out.clean.shape == (B, 1, 28, 28) and out.z.shape == (B, 10) and out.s.shape == (B, 5)
    assert torch.equal(out.x_hat[0, 0], out.clean)

    link = Link(untrained, "pgd-jammer", p_ref=1.0, channel_options={"eps": [0.0, 1.0], "steps": 2})
    out = link(images, [math.inf, 10.0, 0.0], generator=torch.Generator().manual_seed(1))
    assert out.x_hat.shape == (3, 2, B, 1, 28, 28)
    assert link.channel.stages[0].last_delta.shape == (3, 2, B, 5)


def test_link_without_jammer_has_budget_dim_one(untrained, images) -> None:
    out = Link(untrained, "rayleigh", p_ref=1.0)(images, [5.0, 15.0], generator=torch.Generator().manual_seed(0))
    assert out.x_hat.shape == (2, 1, B, 1, 28, 28)
    assert torch.isfinite(out.x_hat).all()


def test_link_context_reaches_the_jammer(untrained, images) -> None:
    seen = {}

    class Spy(NoiseJammer):
        def apply(self, state, snr_db=None, *, tail=None, generator=None):
            seen["ctx"], seen["tail"] = state.ctx, tail
            return super().apply(state, snr_db, tail=tail, generator=generator)

    link = Link(untrained, Spy(eps=0.5), p_ref=4.0)
    out = link(images)
    ctx = seen["ctx"]
    assert isinstance(ctx, LinkContext)
    assert ctx.gain == pytest.approx(0.5) and ctx.num_symbols == 5
    assert torch.equal(ctx.clean, out.clean) and torch.equal(ctx.z, out.z) and torch.equal(ctx.inputs, images)
    # the clean reference is dec(z0) up to the gain's rounding
    torch.testing.assert_close(out.clean, untrained.decode(out.z), atol=1e-5, rtol=0)
    assert callable(seen["tail"])


# ---------------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize("options, argument", [
    ({"eps": -0.1}, "eps"),
    ({"eps": [0.1, -1.0]}, "eps"),
    ({"eps": float("nan")}, "eps"),
    ({"eps": math.inf}, "eps"),
    ({"jsr_db": float("nan")}, "jsr_db"),
    ({"eps": 0.1, "jsr_db": -10.0}, "eps"),
    ({"eps": 0.1, "target": "purple"}, "target"),
    ({"eps": 0.1, "target": 3}, "target"),
    ({"eps": 0.1, "distance": "cosine"}, "distance"),
    ({"eps": 0.1, "mode": "fast"}, "mode"),
    ({"eps": 0.1, "placement": "middle"}, "placement"),
    ({"eps": 0.1, "norm": "l3"}, "norm"),
    ({"eps": 0.1, "steps": 0}, "steps"),
    ({"eps": 0.1, "eot": 0}, "eot"),
])
def test_pgd_jammer_bad_arguments(options, argument) -> None:
    with pytest.raises(UsageError) as exc:
        PGDJammer(**options)
    assert exc.value.argument == argument
    assert str(exc.value).startswith(argument)
    with pytest.raises(UsageError) as exc:  # the same through the channel spec
        build_channel("pgd-jammer", **options)
    assert exc.value.argument == argument


def test_jammer_budget_needs_exactly_one() -> None:
    for cls in (PGDJammer, NoiseJammer):
        with pytest.raises(UsageError) as exc:
            cls()
        assert "eps" in str(exc.value) and "jsr_db" in str(exc.value)
        with pytest.raises(UsageError) as exc:
            cls(eps=0.5, jsr_db=-3.0)
        assert "eps" in str(exc.value) and "jsr_db" in str(exc.value)
    for bad in ({"eps": -1.0}, {"eps": float("nan")}, {"placement": "tx2", "eps": 1.0}):
        with pytest.raises(UsageError):
            NoiseJammer(**bad)


def test_pgd_jammer_needs_a_link(untrained) -> None:
    # used alone from Python the jammer's error names no CLI flag (#12): it says what is missing and where to use it
    s = torch.randn(B, 5, dtype=torch.complex64)
    jam = PGDJammer(eps=0.5)
    with pytest.raises(UsageError) as exc:  # Sionna-style call: no tail, no context
        jam(s)
    assert exc.value.argument is None and "Link" in str(exc.value) and "--" not in str(exc.value)
    with pytest.raises(UsageError, match="^PGDJammer needs the link's decoder"):  # a tail but no context
        jam.apply(ChannelState.start(s), tail=lambda st: st.y.real)
    ctx = LinkContext(clean=torch.zeros(B, 1, 28, 28), inputs=torch.zeros(B, 1, 28, 28), z=torch.zeros(B, 10),
                      gain=1.0, num_symbols=5)
    with pytest.raises(UsageError, match="^PGDJammer needs the link's decoder"):  # a context but no tail
        jam.apply(ChannelState.start(s, ctx=ctx))
    with pytest.raises(UsageError, match="^PGDJammer needs the link's decoder"):
        build_channel("rayleigh+pgd-jammer", eps=0.5)(s)
    with pytest.raises(UsageError, match="^jammers need the link's gain") as exc:  # the noise jammer: the gain
        NoiseJammer(eps=0.5)(s)
    assert exc.value.argument is None and "--" not in str(exc.value)


# ------------------------------------------------------------------------- a user's own nn.Module autoencoder


class ConvDecoderAE(torch.nn.Module):
    """A user's autoencoder: its decoder only takes [N, d] (Unflatten(1, ...) + ConvTranspose2d)."""

    def __init__(self, d: int = 6) -> None:
        super().__init__()
        self.latent_dim = d
        self.encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, d))
        self.decoder = torch.nn.Sequential(torch.nn.Linear(d, 8 * 7 * 7), torch.nn.Unflatten(1, (8, 7, 7)),
                                           torch.nn.ConvTranspose2d(8, 1, 4, stride=4), torch.nn.Sigmoid())


@pytest.fixture(scope="module")
def user_ae() -> ConvDecoderAE:
    torch.manual_seed(1)
    return ConvDecoderAE()


def test_user_module_through_link_without_jammer(user_ae, images) -> None:
    from channelae.link.user_model import p_ref_from_data

    with pytest.raises(RuntimeError):  # the decoder as written cannot take the link's leading dims
        user_ae.decoder(torch.zeros(2, 3, 6))
    p_ref = p_ref_from_data(user_ae, images)
    with torch.no_grad():
        z = user_ae.encoder(images).double()
    assert p_ref == pytest.approx(float(z.square().sum(-1).mean() / 3), rel=1e-6)  # ‖z‖²/n, n = d/2 = 3
    link = Link(user_ae, "awgn", p_ref=p_ref)
    out = link(images, [float("inf"), 10.0], generator=torch.Generator().manual_seed(0))
    assert out.x_hat.shape == (2, 1, B, 1, 28, 28) and out.z.shape == (B, 6)
    with torch.no_grad():
        direct = user_ae.decoder(user_ae.encoder(images))
    torch.testing.assert_close(out.x_hat[0, 0], direct, rtol=1e-5, atol=1e-5)  # noiseless: the plain AE
    torch.testing.assert_close(out.clean, direct, rtol=1e-5, atol=1e-5)
    assert _mse(out.x_hat[1, 0], direct).mean() > 1e-6  # 10 dB of noise does something
    assert not any(p.requires_grad for p in user_ae.parameters())  # the link froze the user's weights


def test_user_module_through_link_with_pgd_jammer(user_ae, images) -> None:
    from channelae.link.user_model import p_ref_from_data

    link = Link(user_ae, "pgd-jammer", p_ref=p_ref_from_data(user_ae, images),
                channel_options={"eps": [0.0, 0.5, 2.0], "steps": 5})
    out = link(images, [float("inf"), 20.0], generator=torch.Generator().manual_seed(0))
    assert out.x_hat.shape == (2, 3, B, 1, 28, 28)
    damage = _mse(out.x_hat, out.clean).mean(-1)  # [S, E]
    assert torch.all(damage[:, 1] > damage[:, 0]) and torch.all(damage[:, 2] > damage[:, 1])
    # the budget is respected in latent units (noiseless row: z_hat - z is the jammer alone)
    assert torch.all((out.z_hat[0] - out.z).norm(dim=-1) <= torch.tensor([0.0, 0.5, 2.0])[:, None] + 1e-4)


class EncodeDecodeVAE(torch.nn.Module):
    """encode/decode methods (decode on [N, d] only) and no latent_dim attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = torch.nn.Linear(784, 8)
        self.dec = torch.nn.Linear(4, 784)

    def encode(self, x):
        mu, _logvar = self.enc(x.flatten(1)).chunk(2, dim=-1)
        return mu

    def decode(self, z):
        assert z.dim() == 2, "takes [N, d] only"
        return torch.sigmoid(self.dec(z)).view(-1, 1, 28, 28)


def test_user_module_interface_and_errors(images) -> None:
    from channelae.link.user_model import LinkModel, as_link_model

    with pytest.raises(UsageError, match="latent_dim") as info:
        Link(EncodeDecodeVAE(), "awgn", p_ref=1.0)
    assert "as_link_model(model, latent_dim=d)" in str(info.value)
    model = as_link_model(EncodeDecodeVAE(), latent_dim=4)
    assert isinstance(model, LinkModel) and model.latent_dim == 4
    out = Link(model, "pgd-jammer", p_ref=1.0, channel_options={"eps": 0.5, "steps": 2})(images, 10.0)
    assert out.x_hat.shape == (1, 1, B, 1, 28, 28)

    class NoDecoder(torch.nn.Module):
        latent_dim = 4

        def encode(self, x):
            return x.flatten(1)[:, :4]

    with pytest.raises(UsageError, match="NoDecoder has no decode\\(z\\) or a decoder"):
        Link(NoDecoder(), "awgn", p_ref=1.0)

    class WrongSize(NoDecoder):
        def encode(self, x):
            return x.flatten(1)[:, :5]

        def decode(self, z):
            return z

    with pytest.raises(UsageError, match=r"returned shape \[8, 5\] for 8 images; expected \[8, 4\]"):
        LinkModel(WrongSize()).encode(images)
    ours = build_model("ae", (1, 28, 28), 4)
    assert as_link_model(ours) is ours  # channelae's own models are used as they are


def test_inference_mode_is_a_clear_error(untrained, images) -> None:
    jammed = Link(untrained, "pgd-jammer", p_ref=1.0, channel_options={"eps": 0.5, "steps": 2})
    with torch.inference_mode(), pytest.raises(UsageError) as info:
        jammed(images, 10.0)
    assert info.value.argument == "inference_mode" and "torch.no_grad()" in str(info.value)
    assert "\n" not in str(info.value)
    with torch.inference_mode():  # without a jammer no gradient is needed: inference_mode is fine
        plain = Link(untrained, "awgn", p_ref=1.0)(images, 10.0)
        x_inf = images.clone()
    assert plain.x_hat.shape == (1, 1, B, 1, 28, 28)
    with torch.no_grad():  # and images made under inference_mode can still be attacked outside it
        out = jammed(x_inf, 10.0)
    assert out.x_hat.shape == (1, 1, B, 1, 28, 28)


# -------------------------------------------------------------- the jammer as one step of a Sionna-style flow


def test_link_jammer_matches_the_link(untrained, images) -> None:
    """LinkJammer(y, no) sees what Link gives its PGD jammer: same draws, same perturbation."""
    from channelae.definitions import snr_db_to_n0
    from channelae.link import Transmitter
    from channelae.sionna_blocks import LinkJammer

    opts = {"eps": [0.0, 0.5, 1.0], "steps": 3, "eot": 2, "attack_precision": "fp32"}  # (auto may be bf16)
    link = Link(untrained, "pgd-jammer", p_ref=2.0, channel_options=opts)
    link(images, 10.0, generator=torch.Generator().manual_seed(3))
    expected = next(st for st in link.channel.stages if isinstance(st, PGDJammer)).last_delta  # [1, E, B, n]

    jam = LinkJammer(untrained, 2.0, **opts)
    with torch.no_grad():
        s = Transmitter(2.0, 10)(untrained.encode(images))
    n0 = float(snr_db_to_n0(torch.tensor(10.0)))
    y = jam(s[None], n0, generator=torch.Generator().manual_seed(3))
    assert y.shape == (1, 3, B, 5)
    torch.testing.assert_close(y - s, expected, rtol=1e-4, atol=1e-5)
    assert torch.equal(y[:, 0], s[None])  # ε = 0: untouched
    assert torch.all((y - s).abs().square().sum(-1).sqrt()[0, 1:] <= torch.tensor([0.5, 1.0])[:, None] + 1e-5)


def test_link_jammer_with_fading_damages_more_than_noise(untrained, images) -> None:
    from channelae.link import Receiver, Transmitter
    from channelae.sionna_blocks import LinkJammer

    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        s = Transmitter(2.0, 10)(untrained.encode(images))
    h = torch.complex(torch.randn(B, 5, generator=g), torch.randn(B, 5, generator=g)) / 2**0.5
    rx = Receiver(2.0, 10)
    results = {}
    for kind in ("pgd-jammer", "noise-jammer"):
        jam = LinkJammer(untrained, 2.0, kind, eps=[0.0, 1.0], **({"steps": 5} if kind == "pgd-jammer" else {}))
        y = jam(h * s, 0.01, h[..., None, None], generator=torch.Generator().manual_seed(1))  # Sionna's h shape
        with torch.no_grad():
            x_hat = untrained.decode(rx(y, h, 0.01))  # [E, B, C, H, W]
            clean = untrained.decode(rx(h * s, h, 0.0))
        results[kind] = _mse(x_hat, clean).mean(-1)
    assert results["pgd-jammer"][1] > 2 * results["noise-jammer"][1] > 0
    with pytest.raises(UsageError, match="no"):
        LinkJammer(untrained, 2.0, eps=0.5)(s, None)
    with pytest.raises(UsageError, match="pgd-jammer or noise-jammer"):
        LinkJammer(untrained, 2.0, "awgn")
    with torch.inference_mode(), pytest.raises(UsageError, match="inference_mode"):
        LinkJammer(untrained, 2.0, eps=0.5)(s, 0.1)


def test_jammer_block_in_a_sionna_flow(untrained, images) -> None:
    pytest.importorskip("sionna.phy")
    from sionna.phy import config
    from sionna.phy.channel import AWGN as SionnaAWGN

    from channelae.link import Receiver, Transmitter
    from channelae.sionna_blocks import JammerBlock, LinkJammer

    config.seed = 7
    block = JammerBlock(untrained, 2.0, eps=[0.0, 1.0], steps=3, precision="single", device="cpu")
    with torch.no_grad():
        s = Transmitter(2.0, 10)(untrained.encode(images))
    y = block(s, 0.1)  # Sionna converts the float `no`; no fading
    assert y.shape == (2, B, 5) and y.dtype == torch.complex64 and block.last_delta is not None
    # the block's randomness is Sionna's generator: the same seed gives the same jammer as LinkJammer with it
    config.seed = 7
    again = LinkJammer(untrained, 2.0, eps=[0.0, 1.0], steps=3)(s, 0.1, generator=config.torch_rng("cpu"))
    torch.testing.assert_close(y, again)
    y = SionnaAWGN()(y, 0.1)
    z_hat = Receiver(2.0, 10)(y, None, 0.1)
    assert z_hat.shape == (2, B, 10)


def test_a_jammed_noisy_link_loads_nothing_heavy() -> None:
    """The simulate path stays off torch's sympy-backed shape machinery (``torch.broadcast_shapes`` imports it:
    ~0.6 s at a command's start) and off scipy.stats (the t quantile comes from scipy.special)."""
    code = (
        "import sys, torch\n"
        "from channelae.link import Link\n"
        "from channelae.models import build_model\n"
        "from channelae.curves import mean_ci\n"
        "m = build_model('ae', (1, 28, 28), 4).eval()\n"
        "link = Link(m, 'pgd-jammer', p_ref=1.0, channel_options={'eps': [0.0, 0.5], 'steps': 2})\n"
        "link(torch.rand(2, 1, 28, 28), [float('inf'), 10.0], generator=torch.Generator().manual_seed(0))\n"
        "mean_ci(torch.rand(3, 5))\n"
        "print([m for m in ('sympy', 'scipy.stats', 'torch.fx.experimental.symbolic_shapes') if m in sys.modules])\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
