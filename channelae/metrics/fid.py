"""FID between two image sets (SPEC §4): torchmetrics' ``FrechetInceptionDistance(feature=2048)``.

``FID = ‖μ_p − μ_t‖² + Tr(Σ_p + Σ_t − 2 (Σ_p Σ_t)^{1/2})`` between Gaussians fitted (mean, unbiased
covariance) to the feature vectors of the prediction set and of the reference set. It is a *set-level* metric:
there is no per-image FID.

**Sample size.** With 2048-dimensional features the covariance needs well over 2048 images to be full rank;
FID is biased upward for small sets and only comparable between runs with the same number of images. Use at
least 2,000 images per set (10k is customary); values from a few hundred images are not meaningful.

What is loaded from where (nothing is downloaded unless asked: ``channelae weights fetch fid``, see
:mod:`channelae.weights`): the Inception-v3 weights that torch-fidelity uses
(converted from TensorFlow's 2015-12-05 graph), from the torch hub cache where torch-fidelity would keep them:
``torch.hub.get_dir()/checkpoints/weights-inception-2015-12-05-6726825d.pth`` (``$TORCH_HOME/hub/
checkpoints/``). The path is passed to torch-fidelity explicitly, so its downloader never runs; torch-fidelity
reads the file with ``torch.load(weights_only=False)``, so only place a file from its official release there.
A missing file (or a missing ``torch-fidelity`` package) raises
:class:`~channelae.errors.MissingResourceError` with one line naming the file and the path.

Images: float ``[N, C, H, W]`` in ``[0, 1]``; grey is repeated to RGB; for Inception they are rounded to
``uint8`` (``round(255·x)``) and torch-fidelity resizes them to 299×299. An injected feature extractor
(tests, or another embedding) receives the float RGB images unchanged.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn

from channelae._validation import check_int_range, check_one_of
from channelae.errors import MissingResourceError, UsageError
from channelae.metrics.base import (
    METRICS,
    MetricOptions,
    SetMetric,
    as_rgb,
    hub_checkpoint_path,
)
from channelae.weights import WEIGHT_FILES, missing_weights_message

__all__ = [
    "FID",
    "FID_FEATURE_DIMS",
    "INCEPTION_WEIGHTS_FILE",
    "INCEPTION_WEIGHTS_URL",
    "fid_unavailable_reason",
    "inception_weights_path",
]

#: torch-fidelity's Inception-v3 weight file name (the basename of its download URL).
INCEPTION_WEIGHTS_FILE = WEIGHT_FILES["fid"].file
#: Where torch-fidelity would download it from (``torch_fidelity.feature_extractor_inceptionv3``).
INCEPTION_WEIGHTS_URL = WEIGHT_FILES["fid"].url
#: Inception feature layers FID can use; 2048 (the pool layer) is the standard one.
FID_FEATURE_DIMS: tuple[int, ...] = (64, 192, 768, 2048)


def inception_weights_path() -> Path:
    """Full path of the Inception weight file FID reads (in the torch hub cache)."""
    return hub_checkpoint_path(INCEPTION_WEIGHTS_FILE)


def fid_unavailable_reason() -> str | None:
    """Why FID with the Inception network cannot run here (one line), or ``None`` if it can."""
    if importlib.util.find_spec("torch_fidelity") is None:
        return "FID needs the 'torch-fidelity' package (pip install torch-fidelity)"
    if not inception_weights_path().is_file():
        return missing_weights_message("fid", "fid")
    return None


def _to_uint8(x: Tensor) -> Tensor:
    return (x.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)


@METRICS.register("fid")
class FID(SetMetric):
    """Fréchet Inception Distance between a prediction set and a reference set (lower is better).

    Needs ≥ 2,000 images per set to mean much (see the module docstring). ``compute(pred_set, target_set)``
    returns a scalar; ``update``/``result``/``reset`` stream batches. Inputs are moved to the metric's
    device chunk by chunk, so the sets may stay on the CPU.

    :param features: inject a feature extractor (``nn.Module``: float ``[N, 3, H, W]`` in ``[0, 1]`` →
        ``[N, F]``; give it an ``int`` attribute ``num_features`` or it is probed once with a 64×64 image)
        instead of Inception; then no weight file is read.
    :param feature_dim: Inception layer to use, one of 64, 192, 768, 2048 (default, standard FID).
    :param batch_size: images per feature pass in :meth:`compute`.
    :raises MissingResourceError: Inception weights or torch-fidelity missing (checked before building).
    """

    name: ClassVar[str] = "fid"
    higher_is_better: ClassVar[bool] = False

    def __init__(
        self, *, features: nn.Module | None = None, feature_dim: int = 2048, batch_size: int = 64
    ) -> None:
        super().__init__()
        self.batch_size = check_int_range(batch_size, "batch_size", low=1)
        self.injected = features is not None
        if features is None:
            self.feature_dim = check_one_of(feature_dim, FID_FEATURE_DIMS, "feature_dim")
            reason = fid_unavailable_reason()
            if reason is not None:
                raise MissingResourceError(reason, "--metrics")
            from torchmetrics.image.fid import FrechetInceptionDistance

            path = inception_weights_path()
            try:
                self.fid = FrechetInceptionDistance(
                    feature=self.feature_dim, normalize=False, feature_extractor_weights_path=str(path)
                )
            except Exception as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise UsageError(
                    f"{path} is not a readable Inception weight file ({first}); replace it with "
                    f"{INCEPTION_WEIGHTS_URL}",
                    "--metrics",
                ) from exc
        else:
            from torchmetrics.image.fid import FrechetInceptionDistance

            self.fid = FrechetInceptionDistance(feature=features, normalize=True, input_img_size=(3, 64, 64))
            self.feature_dim = int(self.fid.real_features_sum.numel())

    @classmethod
    def check_available(cls, options: MetricOptions) -> str | None:
        return None if options.fid_features is not None else fid_unavailable_reason()

    @classmethod
    def from_options(cls, options: MetricOptions) -> FID:
        metric = cls(features=options.fid_features, batch_size=options.fid_batch_size)
        return metric.to(options.device) if options.device is not None else metric

    def _prepare(self, x: Tensor, arg: str) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim != 4 or not x.is_floating_point():
            shape = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise UsageError(f"must be a float tensor [N, C, H, W] with values in [0, 1]; got {shape}", arg)
        x = as_rgb(x.to(self.fid.device))
        return x if self.injected else _to_uint8(x)

    def reset(self) -> None:
        """Forget all accumulated features (of both sets)."""
        self.fid.reset()

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add a batch of predictions and a batch of references (either may be empty)."""
        for x, real, arg in ((pred, False, "pred_set"), (target, True, "target_set")):
            if len(x):
                self.fid.update(self._prepare(x, arg), real=real)

    @property
    def counts(self) -> tuple[int, int]:
        """Images accumulated so far: ``(pred, target)``."""
        return int(self.fid.fake_features_num_samples), int(self.fid.real_features_num_samples)

    def result(self) -> Tensor:
        """FID between everything added since the last :meth:`reset` (scalar)."""
        n_pred, n_target = self.counts
        if min(n_pred, n_target) < 2:
            raise UsageError(
                f"FID needs at least 2 images in each set (≥ 2,000 to mean much); got {n_pred} and {n_target}",
                "--metrics",
            )
        return self.fid.compute()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, feature_dim={self.feature_dim}, injected={self.injected}"
