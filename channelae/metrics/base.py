"""The metric contract: per-image metrics, set-level metrics, the registry and the options they are built from.

Every metric compares a prediction (what the link delivered, e.g. ``dec(ẑ)``) with a reference image (the
original input ``x`` by default, or the clean reconstruction ``dec(z0)``; SPEC §4). Images are float tensors
``[B, C, H, W]`` with values in ``[0, 1]`` (``C`` = 1 or 3); values are *not* range-checked on every call
(that would force a device sync inside attack loops), so keep decoder outputs in ``[0, 1]``.

- A **per-image** metric (:class:`Metric`, ``per_image = True``) is called as ``metric(pred, target)`` and
  returns one value per image, ``[B]``, in one batched pass (no loop over images).
- A **set-level** metric (:class:`SetMetric`, ``per_image = False``, e.g. FID) compares two *sets* of images:
  ``metric.compute(pred_set, target_set)`` returns a scalar, and ``update``/``result``/``reset`` stream
  batches.

Class-level facts: ``name`` (registry key), ``higher_is_better``, ``per_image``, ``is_differentiable`` (usable
as an attack objective) and ``unit``.

Metrics that need pretrained weights (LPIPS, FID) say so *before* anything is constructed:
``check_available(options)`` returns a one-line reason when they cannot run here (weights missing from the
torch hub cache), and their constructors raise :class:`~channelae.errors.MissingResourceError` with the same
line. Nothing is downloaded unless asked (``channelae weights fetch``, :mod:`channelae.weights`) and no
metric falls back to random weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn

from channelae.errors import UsageError
from channelae.metrics import METRICS  # the registry lives in the package __init__ (names without torch)

__all__ = [
    "METRICS",
    "Metric",
    "MetricOptions",
    "SetMetric",
    "as_rgb",
    "check_images",
    "hub_checkpoint_path",
    "missing_weights_message",
]

@dataclass(frozen=True)
class MetricOptions:
    """Everything :func:`~channelae.metrics.build_metrics` may pass to a metric class; each class reads its own.

    :param device: where the metric's networks and accumulators live (``None``: CPU / leave as built).
    :param lpips_net: LPIPS backbone, ``"alex"`` (default, as in the study) or ``"vgg"``.
    :param lpips_backbone: an injected LPIPS feature extractor (``nn.Module`` mapping ``[B, 3, H, W]`` to a
        list of feature maps); when given, no pretrained weights are needed.
    :param lpips_lin_weights: per-layer channel weights for the injected backbone (``None``: channel mean).
    :param fid_features: an injected FID feature extractor (``nn.Module`` mapping float ``[B, 3, H, W]`` in
        ``[0, 1]`` to ``[B, F]``); when given, the Inception weights are not needed.
    :param fid_batch_size: images per feature-extractor pass in :meth:`SetMetric.compute`.
    :param psnr_max_db: cap for PSNR in dB (``None``: identical images give ``+inf``).
    """

    device: torch.device | str | None = None
    lpips_net: str = "alex"
    lpips_backbone: nn.Module | None = None
    lpips_lin_weights: Sequence[Tensor] | None = None
    fid_features: nn.Module | None = None
    fid_batch_size: int = 64
    psnr_max_db: float | None = None


class Metric(nn.Module):
    """A per-image quality metric: ``metric(pred, target) -> Tensor[B]``.

    Subclasses set the class attributes and implement :meth:`forward`. Metrics are ``nn.Module`` s so that
    ``.to(device)`` moves whatever networks they hold; inputs are *not* moved for per-image metrics (put them
    on the metric's device).
    """

    #: registry key and column name in reports
    name: ClassVar[str] = ""
    #: True for similarities (SSIM, PSNR), False for distances (MSE, LPIPS, FID)
    higher_is_better: ClassVar[bool] = True
    #: True: one value per image; False: one value per pair of image sets (FID)
    per_image: ClassVar[bool] = True
    #: whether gradients flow to ``pred`` (usable as the jammer's objective D)
    is_differentiable: ClassVar[bool] = True
    #: unit of the values, for reports ("" when unitless)
    unit: ClassVar[str] = ""

    @classmethod
    def check_available(cls, options: MetricOptions) -> str | None:
        """Why this metric cannot run here with ``options`` (one line), or ``None`` when it can."""
        return None

    @classmethod
    def from_options(cls, options: MetricOptions) -> Metric:
        """Build the metric from ``options`` (subclasses with settings override this)."""
        metric = cls()
        return metric.to(options.device) if options.device is not None else metric

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:  # pragma: no cover - abstract
        """Per-image values ``[B]`` for ``pred``/``target`` ``[B, C, H, W]`` in ``[0, 1]``."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"name={self.name!r}, higher_is_better={self.higher_is_better}"


class SetMetric(Metric):
    """A metric of two image *sets* (e.g. FID): ``compute(pred_set, target_set) -> scalar Tensor``.

    Streaming use: ``reset()``, then ``update(pred, target)`` per batch, then ``result()``. Calling the
    metric like a per-image metric raises ``TypeError``.
    """

    per_image: ClassVar[bool] = False
    is_differentiable: ClassVar[bool] = False

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        raise TypeError(
            f"{self.name} is a set-level metric with no per-image values; use compute(pred_set, target_set)"
        )

    def reset(self) -> None:  # pragma: no cover - abstract
        """Forget all accumulated images."""
        raise NotImplementedError

    def update(self, pred: Tensor, target: Tensor) -> None:  # pragma: no cover - abstract
        """Add a batch of predictions and a batch of references (the two sets may differ in size)."""
        raise NotImplementedError

    def result(self) -> Tensor:  # pragma: no cover - abstract
        """The metric over everything added since the last :meth:`reset` (scalar)."""
        raise NotImplementedError

    def compute(self, pred_set: Tensor, target_set: Tensor, *, batch_size: int | None = None) -> Tensor:
        """The metric between two whole sets ``[N, C, H, W]`` and ``[M, C, H, W]`` (scalar tensor).

        Resets the accumulators, feeds both sets in chunks of ``batch_size`` images and returns
        :meth:`result`.
        """
        batch_size = batch_size or getattr(self, "batch_size", 64)
        self.reset()
        for start in range(0, max(len(pred_set), len(target_set)), batch_size):
            self.update(pred_set[start : start + batch_size], target_set[start : start + batch_size])
        return self.result()


def check_images(pred: Tensor, target: Tensor, *, same_shape: bool = True) -> None:
    """Raise ``UsageError`` unless ``pred`` and ``target`` are float ``[B, C, H, W]`` tensors (same shape when
    ``same_shape``); the message shows both shapes."""
    for arg, x in (("pred", pred), ("target", target)):
        if not isinstance(x, Tensor):
            raise UsageError(f"must be a torch.Tensor; got {type(x).__name__}", arg)
        if x.ndim != 4:
            raise UsageError(f"must have shape [B, C, H, W]; got {list(x.shape)}", arg)
        if not x.is_floating_point():
            raise UsageError(f"must be a float tensor with values in [0, 1]; got dtype {x.dtype}", arg)
    if same_shape and pred.shape != target.shape:
        raise UsageError(
            f"pred and target must have the same shape; got {list(pred.shape)} and {list(target.shape)}",
            "pred",
        )


def as_rgb(x: Tensor) -> Tensor:
    """``[B, 1, H, W]`` → ``[B, 3, H, W]`` by repeating the grey channel; 3-channel input is returned as is."""
    if x.shape[1] == 3:
        return x
    if x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1)
    raise UsageError(f"images must have 1 (grey) or 3 (RGB) channels; got {x.shape[1]}", "pred")


def hub_checkpoint_path(file_name: str) -> Path:
    """Where ``torch.hub`` keeps (and torchvision/torch-fidelity look for) a downloaded weight file:
    ``torch.hub.get_dir()/checkpoints/<file_name>``, i.e. ``$TORCH_HOME/hub/checkpoints/<file_name>``
    (``TORCH_HOME`` defaults to ``$XDG_CACHE_HOME/torch``, i.e. ``~/.cache/torch``). Read at call time."""
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def missing_weights_message(what: str, file_name: str, url: str, metric: str) -> str:
    """The one-line reason used when a pretrained weight file is not in the torch hub cache (files known to
    :data:`channelae.weights.WEIGHT_FILES` get its message, which names the fetch command)."""
    from channelae import weights

    for spec in weights.WEIGHT_FILES.values():
        if spec.file == file_name:
            return weights.missing_weights_message(spec.name, metric)
    path = hub_checkpoint_path(file_name)
    return (
        f"{what} weights '{file_name}' not found at {path} (the torch hub cache, $TORCH_HOME/hub/checkpoints; "
        f"nothing is downloaded): copy the file there (it is {url}) or set TORCH_HOME to a cache that has it, "
        f"or leave '{metric}' out of --metrics"
    )
