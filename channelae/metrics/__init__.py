"""Reconstruction-quality metrics (SPEC §4): per-image SSIM, PSNR, MSE, LPIPS and set-level FID.

``METRICS`` maps each ``--metrics`` name to its class; :func:`build_metrics` builds the requested ones and
reports those that cannot run here (pretrained weights not in the torch hub cache) instead of failing.
Per-image metrics are called as ``metric(pred, target) -> Tensor[B]`` on ``[B, C, H, W]`` images in
``[0, 1]``; FID (``per_image = False``) as ``fid.compute(pred_set, target_set) -> scalar``.

Importing this package is cheap: torchmetrics, lpips, torch-fidelity and torchvision are imported only when
a metric first needs them.
"""

# Import order is registration order, i.e. the order of METRICS.names() in help and messages.
from channelae.metrics.base import (  # noqa: I001
    METRICS,
    Metric,
    MetricOptions,
    SetMetric,
    as_rgb,
    check_images,
    hub_checkpoint_path,
)
from channelae.metrics.ssim import SSIM, ssim_map, ssim_per_image
from channelae.metrics.mse import MSE, mse_per_image
from channelae.metrics.psnr import PSNR, psnr_per_image
from channelae.metrics.lpips import (
    LPIPS,
    LPIPS_NETS,
    LPIPSBackbone,
    load_lpips_backbone,
    load_lpips_lin_weights,
    lpips_backbone_path,
    lpips_distance,
    lpips_lin_weights_path,
)
from channelae.metrics.fid import FID, INCEPTION_WEIGHTS_FILE, inception_weights_path
from channelae.metrics.build import build_metrics, check_available

__all__ = [
    "FID",
    "INCEPTION_WEIGHTS_FILE",
    "LPIPS",
    "LPIPS_NETS",
    "METRICS",
    "MSE",
    "PSNR",
    "SSIM",
    "LPIPSBackbone",
    "Metric",
    "MetricOptions",
    "SetMetric",
    "as_rgb",
    "build_metrics",
    "check_available",
    "check_images",
    "hub_checkpoint_path",
    "inception_weights_path",
    "load_lpips_backbone",
    "load_lpips_lin_weights",
    "lpips_backbone_path",
    "lpips_distance",
    "lpips_lin_weights_path",
    "mse_per_image",
    "psnr_per_image",
    "ssim_map",
    "ssim_per_image",
]
