"""Complex additive white Gaussian noise at the link's SNR, and the noise helpers other channels share.

``y = x + w`` with ``w ~ CN(0, N0)``: variance ``N0`` per complex symbol, ``N0/2`` per real dimension, and
``N0 = Es·10^(−snr_db/10)`` with ``Es = 1`` (the transmitter's fixed gain makes the average symbol energy 1),
see :func:`channelae.definitions.snr_db_to_n0`. ``snr_db = +inf`` (or ``None``) adds nothing: ``y`` is
returned unchanged, bit for bit.

Sionna: the draw is the same as Sionna's (:func:`sionna.phy.utils.complex_normal`, which
:class:`sionna.phy.channel.AWGN` calls): two ``torch.normal`` draws of std ``sqrt(1/2)`` from the given
generator joined by ``torch.complex``, then scaled by ``sqrt(N0)`` exactly as in ``AWGN.call``; with the same
generator state the noise is bit-identical (``tests/test_sionna_compat.py`` checks it). We write those few
lines instead of calling Sionna because (1) the ``AWGN`` block cannot take our ``torch.Generator``: it always
draws from ``sionna.phy.config``'s per-device generator, so no per-call reproducibility; (2) it casts inputs
to the precision fixed at construction, whereas a channel here follows its input's dtype (complex64 or
complex128); (3) importing ``sionna.phy`` (even for ``sionna.phy.utils``) pulls in ``torch._dynamo``, SciPy
and Matplotlib, several seconds on every CLI start, for a two-line draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from channelae._validation import broadcast_shapes
from channelae.channels import CHANNELS
from channelae.channels.base import Channel, ChannelState, Tail, draw_shape, snr_for
from channelae.definitions import snr_db_to_n0

__all__ = ["AWGN", "add_awgn", "check_complex", "complex_normal", "link_n0"]


def complex_normal(
    shape: Sequence[int],
    dtype: torch.dtype,
    device: torch.device | str,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw ``CN(0, 1)`` samples: unit variance per complex value, ``1/2`` per real dimension.

    Same draw as :func:`sionna.phy.utils.complex_normal` (real part first, then imaginary part), so the same
    generator state gives the same samples.

    :param shape: output shape.
    :param dtype: ``torch.complex64`` or ``torch.complex128``.
    :param device: output device (a given ``generator`` must live there).
    :param generator: source of randomness; ``None`` uses torch's global RNG (``torch.manual_seed``).
    :return: complex tensor of ``shape`` and ``dtype``.
    """
    real_dtype = _REAL.get(dtype)
    if real_dtype is None:
        raise TypeError(f"complex_normal: dtype must be complex64 or complex128; got {dtype}")
    std = math.sqrt(0.5)
    size = tuple(shape)
    re = torch.normal(0.0, std, size, dtype=real_dtype, device=device, generator=generator)
    im = torch.normal(0.0, std, size, dtype=real_dtype, device=device, generator=generator)
    return torch.complex(re, im)


_REAL = {torch.complex64: torch.float32, torch.complex128: torch.float64}


def check_complex(y: Tensor, who: str) -> None:
    """Raise ``TypeError`` unless ``y`` is a complex tensor with at least one (symbol) dimension."""
    if not (isinstance(y, Tensor) and y.is_complex()):
        dtype = y.dtype if isinstance(y, Tensor) else type(y).__name__
        raise TypeError(
            f"{who}: channels take complex symbols of shape [..., n] (see Transmitter); got {dtype}"
        )
    if y.dim() == 0:
        raise ValueError(f"{who}: symbols need a last dimension n; got a 0-dim tensor")


def link_n0(snr_db: float | Tensor | None, like: Tensor) -> Tensor:
    """Noise variance per complex symbol ``N0`` (``Es = 1``) for ``snr_db``, shaped to broadcast with ``like``.

    :param snr_db: Es/N0 in dB per complex symbol: a float, ``None`` (= ``+inf``, no noise) or a tensor whose
        dims align with the *leading* dims of ``like`` (``[S] -> [S, 1, ..., 1]``, see
        :func:`~channelae.channels.base.snr_for`).
    :param like: the complex signal ``[..., n]``; gives device, real dtype and rank.
    :return: ``N0 >= 0`` (real, ``like.real.dtype``); 0 where ``snr_db = +inf``.
    :raises ValueError: for a NaN or ``-inf`` SNR (infinite noise), or too many SNR dims.
    """
    snr = snr_for(snr_db, like)
    if bool(torch.isnan(snr).any()) or bool(torch.isneginf(snr).any()):
        raise ValueError("snr_db must be a number in dB or +inf (no noise); got NaN or -inf")
    return snr_db_to_n0(snr)


def add_awgn(
    state: ChannelState, snr_db: float | Tensor | None, generator: torch.Generator | None = None
) -> ChannelState:
    """Add ``w ~ CN(0, N0)`` at ``snr_db`` (dB, Es/N0 per complex symbol) to ``state.y``; ``no += N0``.

    ``y`` is broadcast against ``N0`` first, so ``y`` of shape ``[1, B, n]`` and ``snr_db`` of shape ``[S]``
    give ``[S, B, n]``. The noise is drawn with size 1 along ``state.shared_dims`` (common random numbers:
    one ``CN(0, 1)`` realisation per image, scaled by ``sqrt(N0)`` of each SNR point and shared by every
    budget; :mod:`channelae.channels.base`) and independently along the other dims. ``snr_db = +inf`` (a
    float or ``None``) returns ``state`` untouched without drawing; infinite entries of a tensor SNR add an
    exact zero.
    """
    y = state.y
    check_complex(y, "awgn")
    if snr_db is None or (not isinstance(snr_db, Tensor) and math.isinf(snr_db) and snr_db > 0):
        return state
    n0 = link_n0(snr_db, y)  # [S, 1, ..., 1] or []
    try:
        shape = broadcast_shapes(y.shape, n0.shape)
    except RuntimeError:
        raise ValueError(
            f"snr_db of shape {tuple(n0.shape)} (aligned with the leading dims) does not broadcast with "
            f"symbols of shape {tuple(y.shape)}; give the symbols a leading SNR dim, e.g. s[None]"
        ) from None
    w = complex_normal(draw_shape(state, shape), y.dtype, y.device, generator)
    y = y + w * n0.sqrt().to(y.dtype)  # n0 = 0 -> adds exact zeros
    return state.replace(y=y, no=state.no + n0)


@CHANNELS.register("awgn")
class AWGN(Channel):
    """Complex AWGN at the link SNR: ``y = x + w``, ``w ~ CN(0, N0)``, ``N0 = 10^(−snr_db/10)`` (``Es = 1``).

    ``snr_db`` is Es/N0 in dB per complex symbol; the noise variance is ``N0`` per complex symbol and ``N0/2``
    per real dimension (Sionna's ``no``). A tensor ``snr_db`` of shape ``[S]`` is aligned with the first
    dimension of the symbols, so pass symbols as ``[S, ..., n]`` or ``[1, ..., n]`` to evaluate ``S`` SNR
    points in one call (output ``[S, ..., n]``). ``+inf`` adds no noise (exact identity).

    :input state: :class:`ChannelState` with ``y`` complex ``[..., n]`` (complex64 or complex128).
    :output state: ``y + w``, ``h`` unchanged, ``no + N0``.
    """

    adds_noise = True

    def __init__(self) -> None:
        """No options: the SNR comes with each call."""
        super().__init__()

    def apply(
        self,
        state: ChannelState,
        snr_db: float | Tensor | None = None,
        *,
        tail: Tail | None = None,
        generator: torch.Generator | None = None,
    ) -> ChannelState:
        """Add AWGN at ``snr_db`` (dB, Es/N0 per complex symbol). ``tail`` is ignored."""
        return add_awgn(state, snr_db, generator)
