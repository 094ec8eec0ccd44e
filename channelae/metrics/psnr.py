"""PSNR per image (SPEC §4): ``10·log10(data_range² / MSE)`` dB with ``data_range = 1`` (images in ``[0, 1]``).

The MSE is taken per image over channels and pixels (torchmetrics' ``peak_signal_noise_ratio`` would need
``dim=(1, 2, 3), reduction="none"`` for the same thing). Identical images have ``MSE = 0`` and a PSNR of
``+inf``; this happens in practice when the reference is the clean reconstruction ``dec(z0)`` and ε = 0.
Means and areas over such points are infinite, so pass ``max_db`` to cap the value (the cap is applied to every
image, documented in reports as "PSNR capped at max_db dB").
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from channelae._validation import check_positive
from channelae.metrics.base import METRICS, Metric, MetricOptions
from channelae.metrics.mse import mse_per_image

__all__ = ["PSNR", "psnr_per_image"]


def psnr_per_image(pred: Tensor, target: Tensor, *, max_db: float | None = None) -> Tensor:
    """Peak signal-to-noise ratio of each image pair, in dB, with a peak value of 1.

    :param pred: ``[B, C, H, W]`` float in ``[0, 1]``.
    :param target: same shape as ``pred``.
    :param max_db: optional cap in dB; ``None`` leaves ``+inf`` for identical images.
    :return: ``[B]`` in dB.
    """
    psnr = -10.0 * torch.log10(mse_per_image(pred, target))  # 10·log10(1/mse); mse = 0 -> +inf
    if max_db is not None:
        psnr = psnr.clamp(max=max_db)
    return psnr


@METRICS.register("psnr")
class PSNR(Metric):
    """Peak signal-to-noise ratio per image in dB (higher is better); see the module docstring for ``max_db``.

    :param max_db: cap in dB (``None``: identical images give ``+inf``).
    """

    name: ClassVar[str] = "psnr"
    higher_is_better: ClassVar[bool] = True
    unit: ClassVar[str] = "dB"

    def __init__(self, max_db: float | None = None) -> None:
        super().__init__()
        self.max_db = None if max_db is None else check_positive(max_db, "max_db")

    @classmethod
    def from_options(cls, options: MetricOptions) -> PSNR:
        return cls(max_db=options.psnr_max_db)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """:return: ``[B]`` PSNR of each image pair in dB."""
        return psnr_per_image(pred, target, max_db=self.max_db)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, max_db={self.max_db}"
