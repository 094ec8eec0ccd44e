"""Reconstruction-quality metrics (SPEC §4): per-image SSIM, PSNR, MSE, LPIPS and set-level FID.

``METRICS`` maps each ``--metrics`` name to its class; :func:`build_metrics` builds the requested ones and
reports those that cannot run here (pretrained weights not in the torch hub cache) instead of failing.
Per-image metrics are called as ``metric(pred, target) -> Tensor[B]`` on ``[B, C, H, W]`` images in
``[0, 1]``; FID (``per_image = False``) as ``fid.compute(pred_set, target_set) -> scalar``.

Importing this package is cheap (no torch): the metrics are declared lazily below (a metric's module is
imported on the first ``METRICS.get``), the public names are imported on first access (PEP 562), and
torchmetrics, lpips, torch-fidelity and torchvision only when a metric first needs them.

Adding a metric: one module with ``@METRICS.register("name")`` on its class, one
``METRICS.register_lazy("name", "channelae.metrics.<module>:<Class>")`` line below (declaration order is the
order of ``METRICS.names()`` in help and messages) and its public names in ``_LAZY_EXPORTS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from channelae.registry import Registry, lazy_exports

if TYPE_CHECKING:
    from channelae.metrics.base import Metric

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

#: Name -> metric class. Keys are the values of ``--metrics``.
METRICS: Registry[type[Metric]] = Registry("metric", "--metrics")
METRICS.register_lazy("ssim", "channelae.metrics.ssim:SSIM")
METRICS.register_lazy("mse", "channelae.metrics.mse:MSE")
METRICS.register_lazy("psnr", "channelae.metrics.psnr:PSNR")
METRICS.register_lazy("lpips", "channelae.metrics.lpips:LPIPS")
METRICS.register_lazy("fid", "channelae.metrics.fid:FID")

_LAZY_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("Metric", "MetricOptions", "SetMetric", "as_rgb", "check_images", "hub_checkpoint_path"),
                    "channelae.metrics.base"),
    **dict.fromkeys(("SSIM", "ssim_map", "ssim_per_image"), "channelae.metrics.ssim"),
    **dict.fromkeys(("MSE", "mse_per_image"), "channelae.metrics.mse"),
    **dict.fromkeys(("PSNR", "psnr_per_image"), "channelae.metrics.psnr"),
    **dict.fromkeys(("LPIPS", "LPIPS_NETS", "LPIPSBackbone", "load_lpips_backbone", "load_lpips_lin_weights",
                     "lpips_backbone_path", "lpips_distance", "lpips_lin_weights_path"), "channelae.metrics.lpips"),
    **dict.fromkeys(("FID", "INCEPTION_WEIGHTS_FILE", "inception_weights_path"), "channelae.metrics.fid"),
    **dict.fromkeys(("build_metrics", "check_available"), "channelae.metrics.build"),
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY_EXPORTS, __all__)
