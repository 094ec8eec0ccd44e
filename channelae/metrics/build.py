"""Build the metrics a run asked for; report, rather than fail on, those whose weights are missing."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from channelae._validation import check_one_of
from channelae.errors import MissingResourceError
from channelae.metrics.base import METRICS, Metric, MetricOptions
from channelae.metrics.lpips import LPIPS_NETS

__all__ = ["build_metrics", "check_available"]


def _options(
    device: torch.device | str | None,
    lpips_net: str,
    backbone: nn.Module | None,
    lin_weights: Sequence[Tensor] | None,
    fid_features: nn.Module | None,
    fid_batch_size: int,
    psnr_max_db: float | None,
) -> MetricOptions:
    return MetricOptions(
        device=device,
        lpips_net=check_one_of(lpips_net, LPIPS_NETS, "--lpips-net"),
        lpips_backbone=backbone,
        lpips_lin_weights=lin_weights,
        fid_features=fid_features,
        fid_batch_size=fid_batch_size,
        psnr_max_db=psnr_max_db,
    )


def check_available(
    name: str,
    *,
    lpips_net: str = "alex",
    backbone: nn.Module | None = None,
    fid_features: nn.Module | None = None,
) -> str | None:
    """Why metric ``name`` cannot run on this machine (one line), or ``None`` if it can.

    Only looks for files and packages; builds nothing and never touches the network.

    :raises UsageError: ``name`` is not a registered metric (the message lists them).
    """
    options = _options(None, lpips_net, backbone, None, fid_features, 64, None)
    return METRICS.get(name).check_available(options)


def build_metrics(
    names: Sequence[str],
    *,
    device: torch.device | str | None = None,
    lpips_net: str = "alex",
    backbone: nn.Module | None = None,
    lin_weights: Sequence[Tensor] | None = None,
    fid_features: nn.Module | None = None,
    fid_batch_size: int = 64,
    psnr_max_db: float | None = None,
) -> tuple[dict[str, Metric], dict[str, str]]:
    """Build each named metric, in order (duplicates once).

    A metric whose pretrained weights (or package) are missing is not built: it goes into ``skipped`` with its
    one-line reason, for the caller to report. Unknown names and invalid options raise ``UsageError``.

    :param names: registry keys (``--metrics``), e.g. ``["ssim", "psnr", "lpips"]``.
    :param device: where networks and accumulators live.
    :param lpips_net: LPIPS backbone, ``"alex"`` or ``"vgg"``.
    :param backbone: injected LPIPS feature extractor (no weights needed), see :class:`~channelae.metrics.LPIPS`.
    :param lin_weights: channel weights for the injected LPIPS backbone (``None``: channel mean).
    :param fid_features: injected FID feature extractor (no weights needed), see :class:`~channelae.metrics.FID`.
    :param fid_batch_size: images per FID feature pass.
    :param psnr_max_db: cap for PSNR in dB (``None``: ``+inf`` for identical images).
    :return: ``(metrics, skipped)``: name → built metric, and name → reason it was skipped.
    """
    options = _options(device, lpips_net, backbone, lin_weights, fid_features, fid_batch_size, psnr_max_db)
    classes = {name: METRICS.get(name) for name in dict.fromkeys(names)}  # validate all names first
    metrics: dict[str, Metric] = {}
    skipped: dict[str, str] = {}
    for name, cls in classes.items():
        reason = cls.check_available(options)
        if reason is None:
            try:
                metrics[name] = cls.from_options(options)
                continue
            except MissingResourceError as exc:
                reason = exc.message
        skipped[name] = reason
    return metrics, skipped
