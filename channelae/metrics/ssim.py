"""SSIM per image (SPEC §4): torchmetrics' structural similarity, Gaussian 11×11 window, σ = 1.5.

Constants ``K1 = 0.01``, ``K2 = 0.03`` and ``data_range = 1`` (images in ``[0, 1]``), so ``C1 = 1e-4`` and
``C2 = 9e-4``. Borders: torchmetrics pads each image by 5 pixels with *mirror* reflection (``d c b | a b c d``,
``torch.nn.functional.pad(mode="reflect")``) and averages the SSIM map over **all** ``H × W`` pixels (and the
channels). ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1)`` computes the same map in the interior but pads symmetrically and
averages only the interior (5-pixel borders cropped), so on 28×28 images the two per-image means differ in
the second or third decimal. We follow torchmetrics, as the spec says.
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from channelae.metrics.base import METRICS, Metric, check_images

__all__ = ["SSIM", "SSIM_K1", "SSIM_K2", "SSIM_KERNEL_SIZE", "SSIM_SIGMA", "ssim_map", "ssim_per_image"]

#: Standard deviation of the Gaussian window, in pixels.
SSIM_SIGMA: float = 1.5
#: Side of the Gaussian window in pixels, ``2·int(3.5σ + 0.5) + 1`` (torchmetrics' rule).
SSIM_KERNEL_SIZE: int = 11
SSIM_K1: float = 0.01
SSIM_K2: float = 0.03


def _tm_ssim(pred: Tensor, target: Tensor, full: bool) -> Tensor | tuple[Tensor, Tensor]:
    from torchmetrics.functional.image import structural_similarity_index_measure

    return structural_similarity_index_measure(
        pred,
        target,
        gaussian_kernel=True,
        sigma=SSIM_SIGMA,
        kernel_size=SSIM_KERNEL_SIZE,
        data_range=1.0,
        k1=SSIM_K1,
        k2=SSIM_K2,
        reduction="none",
        return_full_image=full,
    )


def ssim_per_image(pred: Tensor, target: Tensor) -> Tensor:
    """SSIM of each image pair, averaged over pixels and channels.

    :param pred: ``[B, C, H, W]`` float in ``[0, 1]`` (``H, W ≥ 6``).
    :param target: same shape as ``pred``.
    :return: ``[B]``, 1 for identical images; differentiable with respect to ``pred``.
    """
    check_images(pred, target)
    return _tm_ssim(pred, target, full=False)  # type: ignore[return-value]


def ssim_map(pred: Tensor, target: Tensor) -> Tensor:
    """The local SSIM map whose mean over ``[C, H, W]`` is :func:`ssim_per_image`.

    :return: ``[B, C, H, W]``.
    """
    check_images(pred, target)
    _, full = _tm_ssim(pred, target, full=True)  # type: ignore[misc]
    return full


@METRICS.register("ssim")
class SSIM(Metric):
    """Structural similarity per image (higher is better, at most 1). See the module docstring for the
    window, constants and border handling."""

    name: ClassVar[str] = "ssim"
    higher_is_better: ClassVar[bool] = True

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """:return: ``[B]`` SSIM of each image pair."""
        return ssim_per_image(pred, target)
