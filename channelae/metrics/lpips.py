"""LPIPS per image (SPEC §4): learned perceptual distance of Zhang et al. (2018), version 0.1.

What is loaded from where (nothing is downloaded unless asked: ``channelae weights fetch lpips-alex``, see
:mod:`channelae.weights`, which holds the file names and URLs):

- **Backbone**: torchvision's ImageNet weights, read from the torch hub cache where torchvision itself would
  keep them: ``torch.hub.get_dir()/checkpoints/alexnet-owt-7be5be79.pth`` (``net="alex"``) or
  ``.../vgg16-397923af.pth`` (``net="vgg"``), i.e. ``$TORCH_HOME/hub/checkpoints/``. Only the ``features.*``
  tensors are used. A missing file raises :class:`~channelae.errors.MissingResourceError` (one line naming
  the file and the full path) *before* anything is built; there is no fallback to random weights.
- **Linear layers** (one non-negative weight per channel and layer): shipped inside the ``lpips`` package
  (``lpips/weights/v0.1/{alex,vgg}.pth``); torchmetrics ships byte-identical copies
  (``torchmetrics/functional/image/lpips_models/``), used when ``lpips`` is not installed.

The computation (:func:`lpips_distance`) is that of ``lpips.LPIPS`` / torchmetrics'
``LearnedPerceptualImagePatchSimilarity(normalize=True)``, written out here so that the backbone can be
injected: images in ``[0, 1]`` → ``2x − 1`` → per-channel scaling layer → backbone feature maps
``f_l`` → unit-normalise each feature vector over channels (``f / sqrt(ε + Σ_c f²)``, ε = 1e-8, which keeps
gradients finite at zero features) → squared difference → weighted sum over channels with the linear weights
``w_l`` → mean over pixels → sum over layers. Without linear weights (an injected backbone) the channel
*mean* is used (uniform weights ``1/C``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from channelae._validation import check_int_range, check_one_of
from channelae.errors import MissingResourceError, UsageError
from channelae.metrics.base import (
    METRICS,
    Metric,
    MetricOptions,
    as_rgb,
    check_images,
    hub_checkpoint_path,
)
from channelae.weights import WEIGHT_FILES, missing_weights_message, shipped_lpips_lin_weights

__all__ = [
    "LPIPS",
    "LPIPS_NETS",
    "LPIPSBackbone",
    "load_lpips_backbone",
    "load_lpips_lin_weights",
    "lpips_backbone_path",
    "lpips_distance",
    "lpips_lin_weights_path",
    "lpips_unavailable_reason",
]


@dataclass(frozen=True)
class _NetSpec:
    arch: str  # torchvision constructor name
    file: str  # torchvision's checkpoint file name in the hub cache
    url: str  # where torchvision would download it from
    bounds: tuple[tuple[int, int], ...]  # [start, stop) indices of `features` per LPIPS layer
    channels: tuple[int, ...]  # channels of each LPIPS layer


_NETS: dict[str, _NetSpec] = {
    "alex": _NetSpec(
        arch="alexnet",
        file=WEIGHT_FILES["lpips-alex"].file,
        url=WEIGHT_FILES["lpips-alex"].url,
        bounds=((0, 2), (2, 5), (5, 8), (8, 10), (10, 12)),  # relu1 .. relu5
        channels=(64, 192, 384, 256, 256),
    ),
    "vgg": _NetSpec(
        arch="vgg16",
        file=WEIGHT_FILES["lpips-vgg"].file,
        url=WEIGHT_FILES["lpips-vgg"].url,
        bounds=((0, 4), (4, 9), (9, 16), (16, 23), (23, 30)),  # relu1_2 .. relu5_3
        channels=(64, 128, 256, 512, 512),
    ),
}

#: Backbones with pretrained weights, in order of preference (``alex`` is the study's choice).
LPIPS_NETS: tuple[str, ...] = tuple(_NETS)

# LPIPS' input scaling after mapping [0, 1] -> [-1, 1] (lpips.ScalingLayer)
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_NORM_EPS = 1e-8


def lpips_backbone_path(net: str) -> Path:
    """Full path of the torchvision weight file that LPIPS(``net``) reads (in the torch hub cache)."""
    return hub_checkpoint_path(_NETS[check_one_of(net, LPIPS_NETS, "--lpips-net")].file)


def lpips_lin_weights_path(net: str) -> Path | None:
    """The LPIPS v0.1 linear-layer weights shipped with ``lpips`` (or torchmetrics); ``None`` if neither."""
    return shipped_lpips_lin_weights(check_one_of(net, LPIPS_NETS, "--lpips-net"))


def lpips_unavailable_reason(net: str, purpose: str = "metric") -> str | None:
    """Why LPIPS(``net``) with pretrained weights cannot run here (one line), or ``None`` if it can.

    :param purpose: ``"metric"`` (``--metrics lpips``: the fixes include leaving it out of ``--metrics``) or
        ``"distance"`` (the jammer's ``--distance lpips``: the fixes are the weight file or another distance).
    """
    check_one_of(net, LPIPS_NETS, "--lpips-net")
    what = "the lpips attack distance" if purpose == "distance" else "LPIPS"
    if importlib.util.find_spec("torchvision") is None:
        return f"{what} needs torchvision (pip install torchvision)"
    if lpips_lin_weights_path(net) is None:
        return f"{what} needs the LPIPS linear-layer weights: install the 'lpips' package (pip install lpips)"
    if not lpips_backbone_path(net).is_file():
        return missing_weights_message(f"lpips-{net}", "lpips", purpose=purpose)
    return None


class LPIPSBackbone(nn.Module):
    """A torchvision ``features`` stack cut into LPIPS layers: ``forward(x) -> [f_1, …, f_L]``.

    :param features: the ``features`` ``nn.Sequential`` of AlexNet or VGG16.
    :param bounds: ``[start, stop)`` indices into ``features`` of each LPIPS layer.
    """

    def __init__(self, features: nn.Sequential, bounds: Sequence[tuple[int, int]]) -> None:
        super().__init__()
        self.features = features
        self.bounds = tuple(bounds)

    def forward(self, x: Tensor) -> list[Tensor]:
        """:return: one feature map ``[B, C_l, H_l, W_l]`` per LPIPS layer."""
        outs = []
        for start, stop in self.bounds:
            for i in range(start, stop):
                x = self.features[i](x)
            outs.append(x)
        return outs


def load_lpips_backbone(net: str = "alex") -> LPIPSBackbone:
    """The pretrained backbone of LPIPS(``net``), read from the torch hub cache (never downloaded here).

    :raises MissingResourceError: the weight file is not in the hub cache (message names file and path).
    :raises UsageError: the file exists but is not a readable checkpoint of that architecture.
    """
    reason = lpips_unavailable_reason(net)
    if reason is not None:
        raise MissingResourceError(reason, "--metrics")
    import torchvision

    spec, path = _NETS[net], lpips_backbone_path(net)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        features_state = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
        with torch.device("meta"):  # no random init of the (large) classifier; tensors come from the file
            features = getattr(torchvision.models, spec.arch)(weights=None).features
        features.load_state_dict(features_state, strict=True, assign=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"{path} is not a readable torchvision {spec.arch} checkpoint ({first}); replace it with {spec.url}",
            "--metrics",
        ) from exc
    backbone = LPIPSBackbone(features, spec.bounds).eval()
    backbone.requires_grad_(False)
    return backbone


def load_lpips_lin_weights(net: str = "alex") -> list[Tensor]:
    """The LPIPS v0.1 linear weights of ``net``: one non-negative ``[C_l]`` tensor per layer."""
    path = lpips_lin_weights_path(net)
    if path is None:
        raise MissingResourceError(
            "LPIPS linear-layer weights not found: install the 'lpips' package (pip install lpips)",
            "--metrics",
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    weights = [state[f"lin{k}.model.1.weight"].reshape(-1).float() for k in range(len(_NETS[net].channels))]
    if tuple(w.numel() for w in weights) != _NETS[net].channels:
        raise UsageError(f"{path}: unexpected LPIPS layer sizes {[w.numel() for w in weights]}", "--metrics")
    return weights


def _prepare(x: Tensor, min_size: int, resize_to: int) -> Tensor:
    """Grey → RGB, upsample small images, then LPIPS' input scaling."""
    x = as_rgb(x)
    h, w = x.shape[-2:]
    if min(h, w) < min_size:
        factor = resize_to / min(h, w)
        x = F.interpolate(
            x, size=(round(h * factor), round(w * factor)), mode="bilinear", align_corners=False
        )
    shift = x.new_tensor(_SHIFT).view(1, 3, 1, 1)
    scale = x.new_tensor(_SCALE).view(1, 3, 1, 1)
    return (2.0 * x - 1.0 - shift) / scale


def _unit_normalise(f: Tensor) -> Tensor:
    return f / torch.sqrt(_NORM_EPS + f.square().sum(dim=1, keepdim=True))


def lpips_distance(
    pred: Tensor,
    target: Tensor,
    backbone: nn.Module,
    lin_weights: Sequence[Tensor] | None = None,
    *,
    min_size: int = 32,
    resize_to: int = 64,
) -> Tensor:
    """LPIPS of each image pair with a given feature extractor (see the module docstring for the formula).

    :param pred: ``[B, C, H, W]`` float in ``[0, 1]``, ``C`` = 1 (repeated to RGB) or 3.
    :param target: same shape as ``pred``.
    :param backbone: maps ``[N, 3, H', W']`` (LPIPS-scaled) to a list of ``L`` feature maps ``[N, C_l, ., .]``.
    :param lin_weights: ``L`` tensors ``[C_l]`` of channel weights; ``None``: mean over channels.
    :param min_size: images whose smaller side is below this are first upsampled (bilinear) so that the
        smaller side becomes ``resize_to`` (28×28 → 64×64); AlexNet needs ``H, W ≥ 32``.
    :param resize_to: see ``min_size``.
    :return: ``[B]``, ≥ 0, 0 for identical images, symmetric; differentiable with respect to ``pred``.
    """
    check_images(pred, target)
    batch = pred.shape[0]
    x = _prepare(torch.cat([pred, target]), min_size, resize_to)
    param = next(backbone.parameters(), None)
    if param is not None and x.dtype != param.dtype:
        x = x.to(param.dtype)  # run at the backbone's precision
    feats = list(backbone(x))
    if lin_weights is not None and len(lin_weights) != len(feats):
        raise UsageError(
            f"got {len(lin_weights)} linear weights for {len(feats)} feature layers", "lin_weights"
        )
    total = pred.new_zeros(batch, dtype=feats[0].dtype)
    for k, f in enumerate(feats):
        diff = (_unit_normalise(f[:batch]) - _unit_normalise(f[batch:])).square()  # [B, C_l, H_l, W_l]
        if lin_weights is None:
            per_pixel = diff.mean(dim=1)
        else:
            w = lin_weights[k]
            if w.numel() != diff.shape[1]:
                raise UsageError(
                    f"layer {k} has {diff.shape[1]} channels but its linear weights have {w.numel()}",
                    "lin_weights",
                )
            per_pixel = torch.einsum("bchw,c->bhw", diff, w.to(diff))
        total = total + per_pixel.mean(dim=(1, 2))
    return total


@METRICS.register("lpips")
class LPIPS(Metric):
    """LPIPS distance per image (lower is better; 0 for identical images).

    Inputs are ``[B, C, H, W]`` in ``[0, 1]``: grey images are repeated to 3 channels, and images whose smaller
    side is below ``min_size`` = 32 pixels (AlexNet's minimum) are **upsampled bilinearly** so that side is
    ``resize_to`` = 64 (MNIST/Fashion-MNIST 28×28 → 64×64) — the same for every backbone, so report it.

    :param net: ``"alex"`` (default, as in the study) or ``"vgg"``; selects the pretrained backbone and
        linear weights (see the module docstring for the exact files).
    :param backbone: inject a feature extractor instead (``nn.Module``: ``[N, 3, H, W]`` → list of feature
        maps); then no weight file is read and ``net`` is ignored.
    :param lin_weights: channel weights per layer for an injected backbone (``None``: channel mean).
    :raises MissingResourceError: pretrained weights are not in the torch hub cache (checked before building).
    """

    name: ClassVar[str] = "lpips"
    higher_is_better: ClassVar[bool] = False

    def __init__(
        self,
        net: str = "alex",
        *,
        backbone: nn.Module | None = None,
        lin_weights: Sequence[Tensor] | None = None,
        min_size: int = 32,
        resize_to: int = 64,
    ) -> None:
        super().__init__()
        self.min_size = check_int_range(min_size, "min_size", low=1)
        self.resize_to = check_int_range(resize_to, "resize_to", low=self.min_size)
        self.injected = backbone is not None
        if backbone is None:
            self.net = check_one_of(net, LPIPS_NETS, "--lpips-net")
            backbone = load_lpips_backbone(net)  # raises MissingResourceError first if weights are missing
            if lin_weights is None:
                lin_weights = load_lpips_lin_weights(net)
        else:
            self.net = "injected"
        self.backbone = backbone.eval()
        self._n_lin = 0 if lin_weights is None else len(lin_weights)
        for k, w in enumerate(lin_weights or []):
            self.register_buffer(f"lin{k}", torch.as_tensor(w).detach().reshape(-1).float())
        self.eval()

    @classmethod
    def check_available(cls, options: MetricOptions) -> str | None:
        if options.lpips_backbone is not None:
            return None
        return lpips_unavailable_reason(options.lpips_net)

    @classmethod
    def from_options(cls, options: MetricOptions) -> LPIPS:
        metric = cls(
            options.lpips_net, backbone=options.lpips_backbone, lin_weights=options.lpips_lin_weights
        )
        return metric.to(options.device) if options.device is not None else metric

    @property
    def lin_weights(self) -> list[Tensor] | None:
        """The per-layer channel weights, or ``None`` (channel mean)."""
        return [getattr(self, f"lin{k}") for k in range(self._n_lin)] if self._n_lin else None

    def train(self, mode: bool = True) -> LPIPS:
        """LPIPS always stays in evaluation mode (no dropout, fixed statistics)."""
        return super().train(False)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """:return: ``[B]`` LPIPS of each image pair."""
        return lpips_distance(
            pred, target, self.backbone, self.lin_weights, min_size=self.min_size, resize_to=self.resize_to
        )

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, net={self.net!r}, min_size={self.min_size}, resize_to={self.resize_to}"
        )
