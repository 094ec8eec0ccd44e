"""Mean squared error per image (SPEC §4)."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from channelae.metrics.base import METRICS, Metric, check_images

__all__ = ["MSE", "mse_per_image"]


def mse_per_image(pred: Tensor, target: Tensor) -> Tensor:
    """Mean of ``(pred − target)²`` over channels and pixels of each image.

    :param pred: ``[B, C, H, W]`` float in ``[0, 1]``.
    :param target: same shape as ``pred``.
    :return: ``[B]``, in (intensity units)², 0 for identical images.
    """
    check_images(pred, target)
    return (pred - target).square().flatten(1).mean(dim=1)


@METRICS.register("mse")
class MSE(Metric):
    """Mean squared error per image (lower is better)."""

    name: ClassVar[str] = "mse"
    higher_is_better: ClassVar[bool] = False

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """:return: ``[B]`` MSE of each image pair."""
        return mse_per_image(pred, target)
