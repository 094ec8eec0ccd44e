"""SSIM per image (SPEC §4): torchmetrics' structural similarity, Gaussian 11×11 window, σ = 1.5.

Constants ``K1 = 0.01``, ``K2 = 0.03`` and ``data_range = 1`` (images in ``[0, 1]``), so ``C1 = 1e-4`` and
``C2 = 9e-4``. Borders: torchmetrics pads each image by 5 pixels with *mirror* reflection (``d c b | a b c d``,
``torch.nn.functional.pad(mode="reflect")``) and averages the SSIM map over **all** ``H × W`` pixels (and the
channels). ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1)`` computes the same map in the interior but pads symmetrically and
averages only the interior (5-pixel borders cropped), so on 28×28 images the two per-image means differ in
the second or third decimal. We follow torchmetrics, as the spec says.

The computation is ours, not torchmetrics' call (whose import pulls torchvision: seconds of start-up), and
exact: the Gaussian window is separable and the mirror padding is linear, so filtering an ``H × W`` image
(padded by 5, then the 11-tap window, valid part) is ``A_H · X · A_Wᵀ`` with ``A_H = G · P`` (``G`` the
``H × (H + 10)`` banded window matrix, ``P`` the ``(H + 10) × H`` mirror-padding matrix): two small batched
matrix products for the five filtered maps, the same numbers as torchmetrics' 2-D convolution to float
rounding (≈ 1e-7 relative in fp32; ``tests/test_metrics.py`` checks both against independent references).
"""

from __future__ import annotations

import functools
from typing import ClassVar

import torch
from torch import Tensor

from channelae.errors import UsageError
from channelae.metrics.base import METRICS, Metric, check_images

__all__ = ["SSIM", "SSIM_K1", "SSIM_K2", "SSIM_KERNEL_SIZE", "SSIM_SIGMA", "ssim_map", "ssim_per_image"]

#: Standard deviation of the Gaussian window, in pixels.
SSIM_SIGMA: float = 1.5
#: Side of the Gaussian window in pixels, ``2·int(3.5σ + 0.5) + 1`` (torchmetrics' rule).
SSIM_KERNEL_SIZE: int = 11
SSIM_K1: float = 0.01
SSIM_K2: float = 0.03


def _window_1d(size: int, sigma: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """torchmetrics' 1-D Gaussian window: taps at ``(1 − size)/2 … (size − 1)/2``, normalised to sum 1."""
    dist = torch.arange((1 - size) / 2, (1 + size) / 2, 1, dtype=dtype, device=device)
    g = torch.exp(-torch.pow(dist / sigma, 2) / 2)
    return g / g.sum()


@functools.lru_cache(maxsize=32)
def _filter_matrix(n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``[n, n]``: mirror padding by ``SSIM_KERNEL_SIZE // 2`` followed by the valid 1-D Gaussian window,
    as one matrix acting on a length-``n`` signal (``n > SSIM_KERNEL_SIZE // 2``)."""
    k, pad = SSIM_KERNEL_SIZE, SSIM_KERNEL_SIZE // 2
    g = _window_1d(k, SSIM_SIGMA, torch.float64, torch.device("cpu"))
    q = torch.arange(n + 2 * pad)
    src = (q - pad).abs()  # mirror padding without repeating the edge (d c b | a b c d)
    src = torch.where(src > n - 1, 2 * (n - 1) - src, src)
    rows = torch.arange(n).unsqueeze(1) + torch.arange(k).unsqueeze(0)  # output i reads padded i … i + k − 1
    a = torch.zeros(n, n, dtype=torch.float64)
    a.index_put_((torch.arange(n).unsqueeze(1).expand(n, k), src[rows]), g.expand(n, k), accumulate=True)
    return a.to(dtype=dtype, device=device)


def _ssim(pred: Tensor, target: Tensor) -> Tensor:
    """The SSIM map ``[B, C, H, W]`` (module docstring)."""
    if pred.dtype != target.dtype:
        target = target.to(pred.dtype)
    h, w = pred.shape[-2:]
    if min(h, w) <= SSIM_KERNEL_SIZE // 2:
        raise UsageError(f"images must be at least {SSIM_KERNEL_SIZE // 2 + 1} pixels high and wide for SSIM; "
                         f"got {h}×{w}", "pred")
    a_h = _filter_matrix(h, pred.dtype, pred.device)
    a_w = _filter_matrix(w, pred.dtype, pred.device)
    stack = torch.stack((pred, target, pred * pred, target * target, pred * target))  # [5, B, C, H, W]
    mu_p, mu_t, e_pp, e_tt, e_pt = torch.matmul(torch.matmul(a_h, stack), a_w.t()).unbind(0)
    mu_pp, mu_tt, mu_pt = mu_p.pow(2), mu_t.pow(2), mu_p * mu_t
    var_p = torch.clamp(e_pp - mu_pp, min=0.0)
    var_t = torch.clamp(e_tt - mu_tt, min=0.0)
    cov = e_pt - mu_pt
    c1, c2 = SSIM_K1**2, SSIM_K2**2  # data range 1
    return ((2 * mu_pt + c1) * (2 * cov + c2)) / ((mu_pp + mu_tt + c1) * (var_p + var_t + c2))


def ssim_per_image(pred: Tensor, target: Tensor) -> Tensor:
    """SSIM of each image pair, averaged over pixels and channels.

    :param pred: ``[B, C, H, W]`` float in ``[0, 1]`` (``H, W ≥ 6``).
    :param target: same shape as ``pred``.
    :return: ``[B]``, 1 for identical images; differentiable with respect to ``pred``.
    """
    check_images(pred, target)
    return _ssim(pred, target).flatten(1).mean(-1)


def ssim_map(pred: Tensor, target: Tensor) -> Tensor:
    """The local SSIM map whose mean over ``[C, H, W]`` is :func:`ssim_per_image`.

    :return: ``[B, C, H, W]``.
    """
    check_images(pred, target)
    return _ssim(pred, target)


@METRICS.register("ssim")
class SSIM(Metric):
    """Structural similarity per image (higher is better, at most 1). See the module docstring for the
    window, constants and border handling."""

    name: ClassVar[str] = "ssim"
    higher_is_better: ClassVar[bool] = True

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """:return: ``[B]`` SSIM of each image pair."""
        return ssim_per_image(pred, target)
