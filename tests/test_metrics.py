"""Tests for channelae.metrics: SSIM/PSNR/MSE against independent references, LPIPS and FID on injected
networks (and the real loading paths on fake weight files), and the rule that missing weights give one clear
error or a skip, never a download and never random weights."""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import linalg
from scipy.ndimage import correlate1d
from torch import Tensor, nn

from channelae.errors import MissingResourceError, UsageError
from channelae.metrics import (
    FID,
    INCEPTION_WEIGHTS_FILE,
    LPIPS,
    METRICS,
    MSE,
    PSNR,
    SSIM,
    build_metrics,
    check_available,
    inception_weights_path,
    lpips_backbone_path,
    lpips_distance,
    mse_per_image,
    psnr_per_image,
    ssim_map,
    ssim_per_image,
)

# --------------------------------------------------------------------------------------------- helpers


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _structured(h: int = 28, w: int = 28) -> Tensor:
    """Four 1-channel images with structure: a ramp, a checkerboard, a disk and bars (float64, [4,1,H,W])."""
    yy, xx = torch.meshgrid(
        torch.linspace(0, 1, h, dtype=torch.float64),
        torch.linspace(0, 1, w, dtype=torch.float64),
        indexing="ij",
    )
    ramp = 0.1 + 0.8 * xx * yy
    checker = ((torch.arange(h)[:, None] // 4 + torch.arange(w)[None, :] // 4) % 2).double() * 0.9 + 0.05
    disk = (((xx - 0.5) ** 2 + (yy - 0.4) ** 2) < 0.09).double() * 0.8 + 0.1
    bars = 0.5 + 0.4 * torch.sin(2 * math.pi * 3 * xx)
    return torch.stack([ramp, checker, disk, bars])[:, None]


def _pairs() -> list[tuple[Tensor, Tensor]]:
    """(pred, target) pairs, float64: random grey, random RGB 64x64, structured vs a blurred/noised copy."""
    g = _gen(1)
    t1 = torch.rand(5, 1, 28, 28, generator=g, dtype=torch.float64)
    p1 = (t1 + 0.15 * torch.randn(t1.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    t2 = torch.rand(3, 3, 64, 64, generator=g, dtype=torch.float64)
    p2 = torch.rand(3, 3, 64, 64, generator=g, dtype=torch.float64)
    t3 = _structured()
    p3 = (
        F.avg_pool2d(t3, 3, stride=1, padding=1, count_include_pad=False)
        + 0.05 * torch.randn(t3.shape, generator=g, dtype=torch.float64)
    ).clamp(0, 1)
    return [(p1, t1), (p2, t2), (p3, t3)]


def _numpy_ssim(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Independent SSIM (Wang et al. 2004) per image on [B, C, H, W]: separable 11-tap Gaussian (σ = 1.5)
    with mirror borders, population (co)variances, K1 = 0.01, K2 = 0.03, L = 1, mean over C, H, W."""
    r = np.arange(-5, 6)
    g = np.exp(-(r**2) / (2 * 1.5**2))
    g /= g.sum()

    def filt(a: np.ndarray) -> np.ndarray:
        return correlate1d(correlate1d(a, g, axis=-1, mode="mirror"), g, axis=-2, mode="mirror")

    c1, c2 = 0.01**2, 0.03**2
    mu_p, mu_t = filt(pred), filt(target)
    var_p = filt(pred * pred) - mu_p**2
    var_t = filt(target * target) - mu_t**2
    cov = filt(pred * target) - mu_p * mu_t
    smap = ((2 * mu_p * mu_t + c1) * (2 * cov + c2)) / ((mu_p**2 + mu_t**2 + c1) * (var_p + var_t + c2))
    return smap.mean(axis=(1, 2, 3))


class TinyBackbone(nn.Module):
    """A small LPIPS feature extractor: two conv layers, returns both ReLU maps."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> list[Tensor]:
        f1 = torch.relu(self.conv1(x))
        return [f1, torch.relu(self.conv2(f1))]


class TinyFeatures(nn.Module):
    """A small FID feature extractor: float [N, 3, H, W] -> [N, 6]."""

    num_features = 6

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, 6, 5, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.conv(x.float())).mean(dim=(2, 3))


def _random_features(arch: str) -> nn.Sequential:
    """torchvision ``arch``'s ``features`` stack with random (seeded) weights, without building the classifier."""
    import torchvision

    with torch.device("meta"):
        feats = getattr(torchvision.models, arch)(weights=None).features
    feats = feats.to_empty(device="cpu")
    torch.manual_seed(0)
    for m in feats.modules():
        if isinstance(m, nn.Conv2d):
            m.reset_parameters()
    return feats


def _write_fake_backbone(net: str, feats: nn.Sequential) -> Path:
    """Save ``feats`` where LPIPS(``net``) looks for torchvision's checkpoint (plus an unrelated key, as the
    real file also holds the classifier)."""
    state = {f"features.{k}": v for k, v in feats.state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(3)
    path = lpips_backbone_path(net)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


# --------------------------------------------------------------------------------------------- registry


def test_registry_lists_all_metrics_with_their_facts() -> None:
    assert sorted(METRICS.names()) == ["fid", "lpips", "mse", "psnr", "ssim"]
    facts = {n: (METRICS.get(n).higher_is_better, METRICS.get(n).per_image) for n in METRICS.names()}
    assert facts == {
        "ssim": (True, True),
        "psnr": (True, True),
        "mse": (False, True),
        "lpips": (False, True),
        "fid": (False, False),
    }
    for name in METRICS.names():
        assert METRICS.get(name).name == name


def test_unknown_metric_lists_allowed_names() -> None:
    with pytest.raises(UsageError, match=r"--metrics.*'ssmi'") as info:
        build_metrics(["ssim", "ssmi"])
    assert all(name in str(info.value).split("allowed:")[1] for name in METRICS.names())
    with pytest.raises(UsageError, match="ssmi"):
        check_available("ssmi")


def test_import_is_lazy() -> None:
    code = (
        "import sys, channelae.metrics\n"
        "heavy = [m for m in ('torchvision', 'torchmetrics', 'lpips', 'torch_fidelity', 'scipy') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_inputs_are_checked() -> None:
    x = torch.rand(2, 1, 28, 28)
    with pytest.raises(UsageError, match=r"same shape.*\[2, 1, 28, 28\].*\[2, 1, 28, 27\]"):
        SSIM()(x, x[..., :27])
    with pytest.raises(UsageError, match=r"\[B, C, H, W\]"):
        MSE()(x[0], x[0])
    with pytest.raises(UsageError, match="float"):
        MSE()((x * 255).to(torch.uint8), (x * 255).to(torch.uint8))


# --------------------------------------------------------------------------------------------- SSIM


@pytest.mark.parametrize("case", range(3))
def test_ssim_matches_independent_numpy_implementation(case: int) -> None:
    pred, target = _pairs()[case]
    ours = ssim_per_image(pred, target).numpy()
    ref = _numpy_ssim(pred.numpy(), target.numpy())
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)
    assert ours.shape == (pred.shape[0],)


@pytest.mark.parametrize("case", range(3))
def test_ssim_map_interior_matches_skimage(case: int) -> None:
    """skimage pads differently at the borders and crops them; the interior SSIM map must agree exactly."""
    skm = pytest.importorskip("skimage.metrics")
    pred, target = _pairs()[case]
    smap = ssim_map(pred, target)
    assert smap.shape == pred.shape
    np.testing.assert_allclose(
        ssim_per_image(pred, target).numpy(), smap.mean(dim=(1, 2, 3)).numpy(), atol=1e-12
    )
    for b in range(pred.shape[0]):
        _, full = skm.structural_similarity(
            target[b].numpy(),
            pred[b].numpy(),
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            channel_axis=0,
            full=True,
        )
        np.testing.assert_allclose(smap[b, :, 5:-5, 5:-5].numpy(), full[:, 5:-5, 5:-5], atol=1e-10)


def test_ssim_equals_torchmetrics() -> None:
    """Our separable matrix form is torchmetrics' SSIM (2-D convolution on mirror-padded images): equal in
    float64 to rounding; in float32 within the rounding noise of the formula (var = E[x²] − μ² cancels in flat
    regions: torchmetrics' own float32 map is off its float64 map by up to 2e-4 on these images)."""
    tm = pytest.importorskip("torchmetrics.functional.image")
    for pred, target in _pairs():
        mean, full = tm.structural_similarity_index_measure(
            pred, target, gaussian_kernel=True, sigma=1.5, kernel_size=11, data_range=1.0, k1=0.01, k2=0.03,
            reduction="none", return_full_image=True,
        )
        torch.testing.assert_close(ssim_per_image(pred, target), mean, rtol=0, atol=1e-12)
        torch.testing.assert_close(ssim_map(pred, target), full, rtol=0, atol=1e-12)
        p32, t32 = pred.float(), target.float()
        torch.testing.assert_close(ssim_per_image(p32, t32).double(), mean, rtol=0, atol=5e-6)
        torch.testing.assert_close(ssim_map(p32, t32).double(), full, rtol=0, atol=2e-4)


def test_ssim_refuses_images_too_small_for_the_window() -> None:
    x = torch.rand(2, 1, 5, 28)
    with pytest.raises(UsageError, match="at least 6 pixels"):
        ssim_per_image(x, x)


def test_ssim_constant_images_follow_the_luminance_formula() -> None:
    """For constant images a, b the variances vanish and SSIM = (2ab + C1) / (a² + b² + C1)."""
    a = torch.tensor([0.2, 0.5, 0.9, 0.0], dtype=torch.float64)
    b = torch.tensor([0.3, 0.5, 0.1, 1.0], dtype=torch.float64)
    pred = a.view(4, 1, 1, 1).expand(4, 1, 28, 28)
    target = b.view(4, 1, 1, 1).expand(4, 1, 28, 28)
    expected = (2 * a * b + 1e-4) / (a**2 + b**2 + 1e-4)
    torch.testing.assert_close(SSIM()(pred, target), expected, rtol=0, atol=1e-10)


def test_ssim_identity_batching_and_gradient() -> None:
    pred, target = (x.float() for x in _pairs()[0])
    torch.testing.assert_close(SSIM()(target, target), torch.ones(len(target)))
    batched = SSIM()(pred, target)
    singles = torch.cat([SSIM()(pred[i : i + 1], target[i : i + 1]) for i in range(len(pred))])
    torch.testing.assert_close(batched, singles)
    p = pred.clone().requires_grad_(True)
    SSIM()(p, target).sum().backward()
    assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


# --------------------------------------------------------------------------------------------- PSNR / MSE


@pytest.mark.parametrize("case", range(3))
def test_psnr_and_mse_match_numpy(case: int) -> None:
    pred, target = _pairs()[case]
    p, t = pred.numpy(), target.numpy()
    mse = ((p - t) ** 2).reshape(len(p), -1).mean(axis=1)
    np.testing.assert_allclose(mse_per_image(pred, target).numpy(), mse, rtol=1e-12)
    np.testing.assert_allclose(psnr_per_image(pred, target).numpy(), 10 * np.log10(1.0 / mse), rtol=1e-12)
    skm = pytest.importorskip("skimage.metrics")
    sk = [skm.peak_signal_noise_ratio(t[i], p[i], data_range=1.0) for i in range(len(p))]
    np.testing.assert_allclose(PSNR()(pred, target).numpy(), sk, rtol=1e-10)


def test_psnr_known_values_and_cap() -> None:
    target = torch.full((3, 1, 28, 28), 0.5, dtype=torch.float64)
    pred = target + torch.tensor([0.1, 0.01, 0.0], dtype=torch.float64).view(3, 1, 1, 1)
    torch.testing.assert_close(MSE()(pred, target), torch.tensor([1e-2, 1e-4, 0.0], dtype=torch.float64))
    psnr = PSNR()(pred, target)
    torch.testing.assert_close(psnr[:2], torch.tensor([20.0, 40.0], dtype=torch.float64))
    assert psnr[2] == math.inf  # identical images
    capped = PSNR(max_db=30.0)(pred, target)
    torch.testing.assert_close(capped, torch.tensor([20.0, 30.0, 30.0], dtype=torch.float64))
    with pytest.raises(UsageError, match="max_db"):
        PSNR(max_db=-1.0)


# --------------------------------------------------------------------------------------------- LPIPS


def _lpips_inputs() -> tuple[Tensor, Tensor]:
    g = _gen(3)
    x = torch.rand(4, 3, 32, 32, generator=g)
    y = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    return x, y


def test_lpips_injected_zero_positive_symmetric_batched() -> None:
    metric = LPIPS(backbone=TinyBackbone())
    metric.train()
    assert not metric.training and not metric.backbone.training
    x, y = _lpips_inputs()
    assert torch.equal(metric(x, x), torch.zeros(4))
    d = metric(x, y)
    assert d.shape == (4,) and (d > 0).all()
    torch.testing.assert_close(metric(y, x), d)
    singles = torch.cat([metric(x[i : i + 1], y[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(d, singles)


def test_lpips_channel_mean_equals_uniform_linear_weights() -> None:
    x, y = _lpips_inputs()
    backbone = TinyBackbone()
    uniform = [torch.full((8,), 1 / 8), torch.full((16,), 1 / 16)]
    torch.testing.assert_close(lpips_distance(x, y, backbone, None), lpips_distance(x, y, backbone, uniform))
    with pytest.raises(UsageError, match="16 channels.*8"):
        lpips_distance(x, y, backbone, [torch.ones(8), torch.ones(8)])


def test_lpips_grey_is_repeated_and_small_images_upsampled_to_64() -> None:
    metric = LPIPS(backbone=TinyBackbone())
    g = _gen(4)
    x = torch.rand(3, 1, 28, 28, generator=g)
    y = torch.rand(3, 1, 28, 28, generator=g)

    def up(a: Tensor) -> Tensor:
        return F.interpolate(a.repeat(1, 3, 1, 1), size=(64, 64), mode="bilinear", align_corners=False)

    torch.testing.assert_close(metric(x, y), metric(up(x), up(y)))
    torch.testing.assert_close(metric(x, y), metric(x.repeat(1, 3, 1, 1), y.repeat(1, 3, 1, 1)))


def test_lpips_gradient_is_finite_at_and_away_from_the_target() -> None:
    metric = LPIPS(backbone=TinyBackbone())
    x, y = _lpips_inputs()
    for start in (x, y):
        p = start.clone().requires_grad_(True)
        metric(p, x).sum().backward()
        assert p.grad is not None and torch.isfinite(p.grad).all()
    assert p.grad.abs().sum() > 0


@pytest.mark.parametrize("net, file", [("alex", "alexnet-owt-7be5be79.pth"), ("vgg", "vgg16-397923af.pth")])
def test_lpips_missing_weights_is_one_clear_error(net: str, file: str) -> None:
    expected = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints" / file
    assert lpips_backbone_path(net) == expected
    with pytest.raises(MissingResourceError) as info:
        LPIPS(net)
    message = str(info.value)
    assert "\n" not in message and file in message and str(expected) in message and "TORCH_HOME" in message
    assert check_available("lpips", lpips_net=net) == info.value.message
    assert not expected.exists()  # nothing was downloaded


def test_lpips_weight_file_names_are_torchvisions() -> None:
    from torchvision.models import AlexNet_Weights, VGG16_Weights

    assert lpips_backbone_path("alex").name == AlexNet_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]
    assert lpips_backbone_path("vgg").name == VGG16_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]


@pytest.mark.parametrize("net, arch, size", [("alex", "alexnet", 28), ("vgg", "vgg16", 32)])
def test_lpips_real_path_matches_torchmetrics(
    net: str, arch: str, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a (random) torchvision checkpoint in the hub cache, our LPIPS equals torchmetrics' LPIPS module
    built on the same backbone weights and its shipped linear layers, including grey → RGB and 28 → 64."""
    import torchmetrics.functional.image.lpips as tm_lpips

    feats = _random_features(arch)
    _write_fake_backbone(net, feats)
    assert check_available("lpips", lpips_net=net) is None
    ours = LPIPS(net)
    assert all(not p.requires_grad for p in ours.parameters())
    monkeypatch.setattr(tm_lpips, "_get_tv_model_features", lambda name, pretrained=False: feats)
    reference = tm_lpips._LPIPS(pretrained=True, net=net, pnet_rand=True)

    g = _gen(5)
    x = torch.rand(2, 1, size, size, generator=g)
    y = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    rgb = [a.repeat(1, 3, 1, 1) for a in (x, y)]
    if size < 32:
        rgb = [F.interpolate(a, size=(64, 64), mode="bilinear", align_corners=False) for a in rgb]
    expected = reference(*rgb, normalize=True).flatten()
    got = ours(x, y)
    assert (got > 0).all()
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)


def test_lpips_corrupt_weight_file_is_reported() -> None:
    path = lpips_backbone_path("alex")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(UsageError, match="not a readable torchvision alexnet checkpoint") as info:
        LPIPS("alex")
    assert not isinstance(info.value, MissingResourceError) and str(path) in str(info.value)


# --------------------------------------------------------------------------------------------- FID


def _fid_sets(n: int = 40, m: int = 30) -> tuple[Tensor, Tensor]:
    g = _gen(6)
    return 0.7 * torch.rand(n, 1, 28, 28, generator=g), 0.7 * torch.rand(m, 1, 28, 28, generator=g)


def _scipy_fid(features: nn.Module, a: Tensor, b: Tensor) -> float:
    with torch.no_grad():
        fa = features(a.repeat(1, 3, 1, 1)).double().numpy()
        fb = features(b.repeat(1, 3, 1, 1)).double().numpy()
    mu_a, mu_b = fa.mean(axis=0), fb.mean(axis=0)
    cov_a, cov_b = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def test_fid_matches_scipy_frechet_distance() -> None:
    features = TinyFeatures()
    fid = FID(features=features)
    a, b = _fid_sets()
    expected = _scipy_fid(features, a, b)
    got = fid.compute(a, b)
    assert got.ndim == 0 and expected > 0
    assert float(got) == pytest.approx(expected, rel=1e-4)
    assert fid.counts == (40, 30)


def test_fid_same_set_is_zero_and_grows_with_shift() -> None:
    fid = FID(features=TinyFeatures())
    a, _ = _fid_sets()
    with torch.no_grad():
        scale = float(torch.cov(TinyFeatures()(a.repeat(1, 3, 1, 1)).double().T).trace())
    assert abs(float(fid.compute(a, a))) < 1e-5 * scale
    values = [float(fid.compute(a + s, a)) for s in (0.05, 0.1, 0.2, 0.3)]
    assert values[0] > 1e-3 * scale
    assert all(v1 < v2 for v1, v2 in itertools.pairwise(values))
    noised = (a + 0.2 * torch.randn(a.shape, generator=_gen(7))).clamp(0, 1)
    assert float(fid.compute(noised, a)) > 1e-3 * scale


def test_fid_streaming_and_chunking_agree() -> None:
    features = TinyFeatures()
    a, b = _fid_sets()
    whole = FID(features=features).compute(a, b, batch_size=1000)
    chunked = FID(features=features).compute(a, b, batch_size=7)
    fid = FID(features=features)
    fid.update(a[:25], b[:5])
    fid.update(a[25:], b[5:])
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(fid.result(), whole, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(  # grey is the same as grey repeated to RGB
        FID(features=features).compute(a.repeat(1, 3, 1, 1), b.repeat(1, 3, 1, 1)),
        whole,
        rtol=1e-5,
        atol=1e-7,
    )


def test_fid_is_set_level_only() -> None:
    fid = FID(features=TinyFeatures())
    a, b = _fid_sets()
    with pytest.raises(TypeError, match="set-level"):
        fid(a, b)
    fid.update(a[:1], b)
    with pytest.raises(UsageError, match="at least 2 images"):
        fid.result()


def test_fid_missing_or_bad_weights_is_one_clear_error() -> None:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    expected = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints" / INCEPTION_WEIGHTS_FILE
    assert inception_weights_path() == expected
    assert URL_INCEPTION_V3.rsplit("/", 1)[1] == INCEPTION_WEIGHTS_FILE  # where torch-fidelity would cache it
    with pytest.raises(MissingResourceError) as info:
        FID()
    message = str(info.value)
    assert "\n" not in message and INCEPTION_WEIGHTS_FILE in message and str(expected) in message
    assert check_available("fid") == info.value.message
    assert not expected.exists()
    expected.parent.mkdir(parents=True)
    expected.write_bytes(b"not a checkpoint")
    with pytest.raises(UsageError, match="not a readable Inception weight file"):
        FID()


# --------------------------------------------------------------------------------------------- build_metrics


def test_build_metrics_skips_metrics_without_weights() -> None:
    metrics, skipped = build_metrics(["ssim", "psnr", "mse", "lpips", "fid", "ssim"])
    assert list(metrics) == ["ssim", "psnr", "mse"]
    assert isinstance(metrics["psnr"], PSNR)
    assert list(skipped) == ["lpips", "fid"]
    assert "alexnet-owt-7be5be79.pth" in skipped["lpips"] and "\n" not in skipped["lpips"]
    assert INCEPTION_WEIGHTS_FILE in skipped["fid"]
    assert check_available("ssim") is None and check_available("mse") is None


def test_build_metrics_with_injected_networks_builds_everything() -> None:
    metrics, skipped = build_metrics(
        ["ssim", "psnr", "lpips", "fid"],
        backbone=TinyBackbone(),
        fid_features=TinyFeatures(),
        psnr_max_db=50.0,
    )
    assert skipped == {} and list(metrics) == ["ssim", "psnr", "lpips", "fid"]
    assert metrics["lpips"].injected and metrics["fid"].injected and metrics["psnr"].max_db == 50.0
    assert check_available("lpips", backbone=TinyBackbone()) is None
    assert check_available("fid", fid_features=TinyFeatures()) is None
    x, y = _lpips_inputs()
    assert metrics["lpips"](x, y).shape == (4,)
    with pytest.raises(UsageError, match="--lpips-net.*alex.*vgg.*'squeeze'"):
        build_metrics(["lpips"], lpips_net="squeeze")


def test_build_metrics_uses_lpips_weights_once_present() -> None:
    _write_fake_backbone("alex", _random_features("alexnet"))
    metrics, skipped = build_metrics(["lpips"])
    assert "lpips" not in skipped and not metrics["lpips"].injected and metrics["lpips"].net == "alex"


def test_metric_facts_agree_with_the_curve_specs() -> None:
    from channelae.curves import metric_spec

    for name in METRICS.names():
        cls, spec = METRICS.get(name), metric_spec(name)
        assert (cls.higher_is_better, cls.unit) == (spec.higher_is_better, spec.unit), name
