"""The study's convolutional encoder/decoder (SPEC §3).

Encoder: 4 conv layers with 32, 64, 128, 64 channels, each followed by BatchNorm2d and LeakyReLU, then a
linear map to ``out_features`` (``d``, or ``2d`` for a VAE's μ and log σ²). Decoder: the mirror image
(linear → 4 transposed convs with 64, 128, 64, 32 → C channels) ending in a sigmoid. Strides are chosen so
shapes come out exactly: 28×28 → 14 → 7 → 4 → 4 and 64×64 → 32 → 16 → 8 → 4.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["SUPPORTED_SIZES", "conv_decoder", "conv_encoder"]

_CHANNELS = (32, 64, 128, 64)
# (kernel, stride, padding) per layer, encoder order; the decoder uses them reversed.
_LAYERS: dict[int, tuple[tuple[int, int, int], ...]] = {
    28: ((4, 2, 1), (4, 2, 1), (3, 2, 1), (3, 1, 1)),
    64: ((4, 2, 1), (4, 2, 1), (4, 2, 1), (4, 2, 1)),
}
SUPPORTED_SIZES = tuple(_LAYERS)
_BOTTOM = 4  # spatial size after the encoder's convolutions, for both image sizes


def _check_size(height: int, width: int) -> tuple[tuple[int, int, int], ...]:
    if height != width or height not in _LAYERS:
        raise ValueError(f"image size must be one of {SUPPORTED_SIZES} (square); got {height}x{width}")
    return _LAYERS[height]


def conv_encoder(channels: int, size: int, out_features: int) -> nn.Sequential:
    """Encoder ``[B, C, S, S] -> [B, out_features]`` for ``S`` in :data:`SUPPORTED_SIZES`."""
    layers: list[nn.Module] = []
    c_in = channels
    for c_out, (k, s, p) in zip(_CHANNELS, _check_size(size, size)):
        layers += [nn.Conv2d(c_in, c_out, k, s, p), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
        c_in = c_out
    layers += [nn.Flatten(), nn.Linear(c_in * _BOTTOM * _BOTTOM, out_features)]
    return nn.Sequential(*layers)


class _Unflatten(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:
        return x.view(x.shape[0], self.channels, _BOTTOM, _BOTTOM)


def conv_decoder(channels: int, size: int, latent_dim: int) -> nn.Sequential:
    """Decoder ``[B, latent_dim] -> [B, C, S, S]`` in ``[0, 1]`` (mirror of :func:`conv_encoder`)."""
    spec = tuple(reversed(_check_size(size, size)))
    chans = tuple(reversed(_CHANNELS))  # 64, 128, 64, 32
    layers: list[nn.Module] = [nn.Linear(latent_dim, chans[0] * _BOTTOM * _BOTTOM), _Unflatten(chans[0])]
    c_in = chans[0]
    outs = (*chans[1:], channels)  # 128, 64, 32, C
    for i, (c_out, (k, s, p)) in enumerate(zip(outs, spec)):
        layers.append(nn.ConvTranspose2d(c_in, c_out, k, s, p))
        if i < len(outs) - 1:
            layers += [nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
        c_in = c_out
    layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)
