"""Reconstruction-quality metrics (SPEC §4): per-image SSIM, PSNR, MSE, LPIPS and set-level FID.

``METRICS`` maps each ``--metrics`` name to its class; :func:`build_metrics` builds the requested ones and
reports those that cannot run here (pretrained weights not in the torch hub cache) instead of failing.
Per-image metrics are called as ``metric(pred, target) -> Tensor[B]`` on ``[B, C, H, W]`` images in
``[0, 1]``; FID (``per_image = False``) as ``fid.compute(pred_set, target_set) -> scalar``.

Importing this package is cheap: torchmetrics, lpips, torch-fidelity and torchvision are imported only when
a metric first needs them.
"""

from channelae.metrics.base import METRICS, Metric, MetricOptions, SetMetric, as_rgb, check_images, hub_checkpoint_path
from channelae.metrics.ssim import SSIM, ssim_map, ssim_per_image
from channelae.metrics.psnr import PSNR, psnr_per_image
from channelae.metrics.mse import MSE, mse_per_image
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
    "METRICS",
    "Metric",
    "SetMetric",
    "MetricOptions",
    "build_metrics",
    "check_available",
    "check_images",
    "as_rgb",
    "hub_checkpoint_path",
    "SSIM",
    "ssim_per_image",
    "ssim_map",
    "PSNR",
    "psnr_per_image",
    "MSE",
    "mse_per_image",
    "LPIPS",
    "LPIPS_NETS",
    "LPIPSBackbone",
    "lpips_distance",
    "lpips_backbone_path",
    "lpips_lin_weights_path",
    "load_lpips_backbone",
    "load_lpips_lin_weights",
    "FID",
    "INCEPTION_WEIGHTS_FILE",
    "inception_weights_path",
]
