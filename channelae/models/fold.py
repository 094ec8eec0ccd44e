"""Exact folding of a trained decoder for the attack / evaluation path (eval mode only).

In eval mode a BatchNorm is a fixed per-channel affine map, so the study's decoder (SPEC §3,
:func:`~channelae.models.architecture.conv_decoder`)::

    Linear(d → 64·4·4) → reshape → ConvT(64 → 128) → BN → LeakyReLU → ConvT → BN → LeakyReLU
    → ConvT → BN → LeakyReLU → ConvT(32 → C) → Sigmoid

computes the same function as::

    Linear(d → 128·H₁·W₁) → reshape → LeakyReLU → ConvT' → LeakyReLU → ConvT' → LeakyReLU → ConvT → Sigmoid

(a) the leading run Linear → reshape → ConvT → BN has no nonlinearity in it: it is one affine map
``z ↦ A z + b`` (``A`` is ``[128·H₁·W₁, d]``, ``H₁ = 4`` at 28×28 and ``8`` at 64×64), found exactly by
evaluating the run in float64 at ``0`` and the unit vectors, and replaced by one ``Linear``;
(b) every other BatchNorm is folded into the (transposed) convolution before it
(``W' = W·γ/√(σ²+ε)`` per output channel, ``b' = (b − μ)·γ/√(σ²+ε) + β``, computed in float64).
The remaining layers (LeakyReLU, the last ConvT, the sigmoid) are copied unchanged. Under a CPU bf16
autocast, transposed convolutions whose kernel is not a multiple of their stride run in fp32 instead
(:class:`CPUFloat32`: oneDNN's bf16 kernel for them is slower than its fp32 one; measured).

Cost (multiply-add counts of Linear/conv layers, forward; see :func:`matmul_flops`): the 28×28 decoder
with ``d = 10`` goes from 4.07 M to 2.91 M multiply-adds per example, i.e. from 16.3 to 11.6 MFLOP per
example for one forward + backward w.r.t. the input (a PGD step). The merge (a) is only made where it
does not cost more than the run it replaces (``d·128·H₁·W₁`` multiply-adds); otherwise only (b) applies.

Exactness: the folded decoder computes the same function; outputs and input gradients differ from the
unfolded decoder only by float rounding (≲ 1e-6 relative in float32, ≲ 1e-13 in float64; tested in
``tests/test_fold.py``).

Training mode: :func:`fold_decoder` **refuses** a model in training mode (BatchNorm then uses batch
statistics, which cannot be folded) and never modifies the model; the folded module is eval-only
(``folded.train()`` raises). It is a snapshot: fold again after changing the model's weights.

Memory format: with ``channels_last=True`` the merged Linear's output rows are stored in (H, W, C) order, so
its output *is* a channels-last ``[N, C, H, W]`` tensor without a copy, and the convolutions' weights are
channels-last too (:func:`default_channels_last` says where that pays).

Rows per pass: :func:`rows_per_pass` gives the number of decoder rows per forward + backward pass that
ran fastest per row (measured on CPU, ``benchmarks/attack_throughput.py`` and ``benchmarks/README.md``).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from channelae.models.architecture import _Unflatten

__all__ = [
    "ROWS_PER_PASS",
    "CPUFloat32",
    "ColumnConvTranspose2d",
    "FoldError",
    "FoldedDecoder",
    "default_channels_last",
    "fold_decoder",
    "matmul_flops",
    "rows_per_pass",
]

_BN = (nn.BatchNorm1d, nn.BatchNorm2d)
_CONV = (nn.Conv2d, nn.ConvTranspose2d)
_RESHAPE = (nn.Flatten, nn.Unflatten, _Unflatten, nn.Identity)

#: Decoder rows per forward + backward pass (per precision, CPU), measured with the folded, channels-last
#: 28×28 decoder on a 2-core AMD EPYC (Zen 4, avx512_bf16, no AMX) shared with other jobs, torch 2.14
#: (benchmarks/README.md). fp32: the decoder alone (``attack_throughput.py --rows-scan``) is flat from 128 to
#: 1024 rows (per CPU-second up to ~10 % better at 1024) and falls off from 2048, but through the attack
#: (64 images × 10 budgets) passes of 256 rows beat passes of 640 by 8-32 % in two A/B runs at load ~6, and
#: use less memory. bf16: best at 1024-2048 rows alone, 1024 ≥ 256 through the attack; 4096 falls off. Through
#: the main job's noisy search (3 SNR points × 32 images × 2 draws = 192 rows per budget, the control variate's
#: row in every pass) 2048 rows (two passes of 5 + 1 budgets) ran ~7 % faster than 1024 (three of 4 + 1) in four
#: alternating runs each, idle: fewer control-variate rows for the same per-row speed; one pass of 2112 rows was
#: slower again.
ROWS_PER_PASS: dict[str, int] = {"fp32": 256, "bf16": 2048}
#: On CUDA small passes are launch-bound, so passes are as large as memory allows; not measured here.
CUDA_ROWS_PER_PASS = 4096


def rows_per_pass(precision: str = "fp32", device: torch.device | str = "cpu") -> int:
    """Decoder rows per forward + backward pass for the attack's search (``precision``: fp32 or bf16).

    The PGD jammer evaluates its objective in pieces of at most this many decoder rows (whole budgets per
    piece); the result does not depend on it, only speed and memory do (the autograd graph of one pass
    holds ≈ 0.1-0.2 MiB per row of the 28×28 decoder and 0.5-1 MiB at 64×64, estimated from the layer sizes).
    """
    if precision not in ROWS_PER_PASS:
        raise ValueError(f"precision must be one of {tuple(ROWS_PER_PASS)}; got {precision!r}")
    if torch.device(device).type == "cuda":
        return CUDA_ROWS_PER_PASS
    return ROWS_PER_PASS[precision]


def default_channels_last(device: torch.device | str = "cpu") -> bool:
    """Whether the folded decoder uses channels-last activations by default on ``device``.

    On CPU (oneDNN) channels-last transposed convolutions were faster in fp32 and bf16 (measured; see
    ``benchmarks/README.md``); on CUDA it is left off (not measured here).
    """
    return torch.device(device).type == "cpu"


class FoldError(ValueError):
    """The model cannot be folded (training mode, or a decoder this module does not know)."""


class CPUFloat32(nn.Module):
    """Runs ``layer`` in float32 on CPU even under ``torch.autocast`` (elsewhere: unchanged).

    On CPU (oneDNN, torch 2.14) a bf16 ConvTranspose2d whose kernel is not a multiple of its stride (the
    28×28 decoder's k=3, s=2 layer) ran 1.4-2.7× *slower* than in fp32, while k=4, s=2 and s=1 layers ran
    ~1.7× faster in bf16 (benchmarks/README.md); so under a bf16 autocast search such layers stay in fp32.
    Without autocast this wrapper changes nothing (the input is already float32).
    """

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type != "cpu" or not torch.is_autocast_enabled("cpu"):
            return self.layer(x)
        with torch.autocast("cpu", enabled=False):
            return self.layer(x.float())


class _ColumnConvTransposeFn(torch.autograd.Function):
    """``conv_transpose2d(x, w, b)`` as one matrix product and a col2im (groups 1, dilation 1); the input
    gradient is the strided ``conv2d`` of the output gradient (its exact adjoint). No weight gradients."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b: Tensor | None, stride: tuple[int, int],  # type: ignore[override]
                padding: tuple[int, int], out_hw: tuple[int, int]) -> Tensor:
        n, c_in, h, wd = x.shape
        c_out, kh, kw = w.shape[1], w.shape[2], w.shape[3]
        cols = x.permute(0, 2, 3, 1).reshape(n * h * wd, c_in) @ w.reshape(c_in, c_out * kh * kw)
        cols = cols.view(n, h * wd, c_out * kh * kw).transpose(1, 2)
        out = torch.nn.functional.fold(cols, out_hw, (kh, kw), stride=stride, padding=padding)
        if b is not None:
            out = out + b.view(1, -1, 1, 1)
        ctx.save_for_backward(w)
        ctx.geometry = (stride, padding, x.is_contiguous(memory_format=torch.channels_last))
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        (w,) = ctx.saved_tensors
        stride, padding, cl = ctx.geometry
        gx = torch.nn.functional.conv2d(grad.to(w.dtype), w, None, stride=stride, padding=padding)
        if cl:
            gx = gx.contiguous(memory_format=torch.channels_last)
        return gx, None, None, None, None, None


class ColumnConvTranspose2d(nn.Module):
    """A ``ConvTranspose2d`` with one output channel, computed on CPU as one matrix product
    ``[N·H·W, C_in] @ [C_in, k_h·k_w]`` and a col2im (``F.fold``); its input gradient is the strided
    ``conv2d`` of the output gradient. Same function (float rounding aside) as ``layer``; used where the
    weights need no gradient (the folded decoder) and otherwise falls back to ``layer``.

    Why: oneDNN's forward transposed convolution with a single output channel (the 28×28 decoder's last
    layer, 32 → 1 channels) ran 3-4× slower than this (1024 rows: 46 → 12 ms fp32, 29 → 9 ms bf16), while
    its input gradient, a plain convolution, is fast; with 2 output channels it was 1.2-1.5× faster, with
    3-8 channels slower (measured; ``benchmarks/README.md``), hence one channel only. Under a CPU autocast the
    product runs in the autocast dtype, as ``conv_transpose2d`` would.
    """

    def __init__(self, layer: nn.ConvTranspose2d) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Tensor) -> Tensor:
        c = self.layer
        if x.device.type != "cpu" or x.dim() != 4 or (torch.is_grad_enabled() and c.weight.requires_grad):
            return c(x)
        dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
        out_hw = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(x.shape[-2:], c.stride, c.padding,
                                                                        c.kernel_size))
        with torch.autocast("cpu", enabled=False):
            bias = None if c.bias is None else c.bias.to(dtype)
            return _ColumnConvTransposeFn.apply(x.to(dtype), c.weight.to(dtype), bias, c.stride, c.padding, out_hw)


def _column_conv(m: nn.Module) -> bool:
    """Whether a transposed convolution runs faster as :class:`ColumnConvTranspose2d` (one output channel)."""
    return (isinstance(m, nn.ConvTranspose2d) and m.out_channels == 1 and m.groups == 1
            and m.dilation == (1, 1) and tuple(m.output_padding) == (0, 0) and m.padding_mode == "zeros")


def _slow_in_bf16(m: nn.Module) -> bool:
    return isinstance(m, nn.ConvTranspose2d) and any(k % s for k, s in zip(m.kernel_size, m.stride))


class FoldedDecoder(nn.Module):
    """Eval-only decoder equivalent to a model's ``decode`` (see the module docstring).

    :ivar head: the merged affine map ``Linear(d → prod(head_shape))`` or ``None`` (nothing merged).
    :ivar head_shape: shape of one example after the head, e.g. ``(128, 4, 4)``.
    :ivar body: the remaining layers, BatchNorms folded into their convolutions.
    :ivar channels_last: whether activations are channels-last (head rows in (H, W, C) order).

    :input z: ``[N, d]`` (:meth:`forward`) or ``[..., d]`` (:meth:`decode`).
    :output x: ``[N, C, H, W]`` / ``[..., C, H, W]``, the same values as the model's decoder.
    """

    def __init__(self, head: nn.Linear | None, head_shape: tuple[int, ...], body: nn.Sequential,
                 latent_dim: int, channels_last: bool) -> None:
        super().__init__()
        self.head = head
        self.head_shape = tuple(head_shape)
        self.body = body
        self.latent_dim = latent_dim
        self.channels_last = channels_last
        self.training = False
        for p in self.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> FoldedDecoder:
        if mode:
            raise RuntimeError("a folded decoder is eval-only: train the original model instead")
        return super().train(False)

    def forward(self, z: Tensor) -> Tensor:
        h = z
        if self.head is not None:
            h = self.head(z)
            if self.channels_last and len(self.head_shape) == 3:
                c, hh, ww = self.head_shape
                h = h.view(h.shape[0], hh, ww, c).permute(0, 3, 1, 2)  # channels-last strides, no copy
            else:
                h = h.view(h.shape[0], *self.head_shape)
        return self.body(h)

    def decode(self, z: Tensor) -> Tensor:
        """Like :meth:`Autoencoder.decode`: ``[..., d]`` → ``[..., C, H, W]`` (any leading dims)."""
        lead = z.shape[:-1]
        x = self(z.reshape(-1, z.shape[-1]))
        return x.reshape(*lead, *x.shape[1:])


# ---------------------------------------------------------------------------------------- folding


def _foldable_bn(m: nn.Module) -> bool:
    return isinstance(m, _BN) and m.running_mean is not None and m.running_var is not None


def _is_affine(m: nn.Module) -> bool:
    """Whether ``m`` is an affine map in eval mode (so that a run of such layers can be merged)."""
    if isinstance(m, _BN):
        return _foldable_bn(m)
    return isinstance(m, (nn.Linear, *_CONV, *_RESHAPE, nn.Dropout))


def _bn_scale_shift(bn: nn.Module) -> tuple[Tensor, Tensor]:
    """Per-channel ``(s, t)`` in float64 with ``bn(x) = s·x + t`` (eval mode)."""
    s = torch.rsqrt(bn.running_var.double() + bn.eps)
    t = -bn.running_mean.double() * s
    if bn.weight is not None:
        s = s * bn.weight.double()
        t = t * bn.weight.double()
    if bn.bias is not None:
        t = t + bn.bias.double()
    return s, t


def _fold_bn_into_conv(conv: nn.Module, bn: nn.Module) -> nn.Module:
    """A copy of ``conv`` whose output equals ``bn(conv(x))`` in eval mode."""
    out = copy.deepcopy(conv)
    s, t = _bn_scale_shift(bn)
    w = conv.weight.detach().double()
    if isinstance(conv, nn.ConvTranspose2d):  # weight [C_in, C_out / groups, k, k]
        g = conv.groups
        w = w.reshape(g, w.shape[0] // g, w.shape[1], *w.shape[2:]) * s.reshape(g, 1, -1, 1, 1)
        w = w.reshape(conv.weight.shape)
    else:  # Conv2d: weight [C_out, C_in / groups, k, k]
        w = w * s.reshape(-1, 1, 1, 1)
    b = conv.bias.detach().double() if conv.bias is not None else torch.zeros_like(s)
    dtype = conv.weight.dtype
    out.weight = nn.Parameter(w.to(dtype), requires_grad=False)
    out.bias = nn.Parameter((b * s + t).to(dtype=dtype, device=conv.weight.device), requires_grad=False)
    return out


def _run_macs(layers: list[nn.Module], x: Tensor) -> int:
    return matmul_flops(nn.Sequential(*layers), x.shape[-1], example=x[:1]) // 4


def _merge_affine_run(layers: list[nn.Module], d: int, ref: Tensor) -> tuple[nn.Linear, tuple[int, ...]]:
    """One ``Linear(d → prod(shape))`` equal to the affine run ``layers`` (exact, probed in float64)."""
    run = copy.deepcopy(nn.Sequential(*layers)).double().eval()
    probe = torch.cat([torch.zeros(1, d, dtype=torch.float64, device=ref.device),
                       torch.eye(d, dtype=torch.float64, device=ref.device)])  # [1 + d, d]
    with torch.no_grad():
        out = run(probe)  # [1 + d, *shape]
    shape = tuple(out.shape[1:])
    flat = out.reshape(1 + d, -1)
    bias, weight = flat[0], (flat[1:] - flat[0]).T  # [F], [F, d]
    # built on the CPU under a forked RNG: its random initialisation must not consume the global generator
    # (later draws would change); torch.nn.utils.skip_init would avoid it too, but imports torch._refs (~0.5 s)
    with torch.random.fork_rng(devices=[]):
        lin = nn.Linear(d, weight.shape[0], dtype=ref.dtype)
    with torch.no_grad():
        lin.weight.copy_(weight)
        lin.bias.copy_(bias)
    return lin.to(ref.device), shape


def fold_decoder(model: nn.Module, *, channels_last: bool | None = None) -> FoldedDecoder:
    """An eval-only :class:`FoldedDecoder` computing ``model.decode`` (the model is not modified).

    :param model: an :class:`~channelae.models.Autoencoder` (any family) in eval mode, whose ``decoder`` is
        an ``nn.Sequential`` of Linear / reshape / (transposed) convolution / BatchNorm / elementwise layers.
    :param channels_last: channels-last activations (default: :func:`default_channels_last` for the
        model's device).
    :raises FoldError: the model is in training mode, or its decoder is not of that form (callers such as
        :class:`~channelae.link.Link` then use ``model.decode`` as is).
    """
    from channelae.models.base import Autoencoder

    dec = getattr(model, "decoder", None)
    if not isinstance(model, Autoencoder) or type(model).decode is not Autoencoder.decode \
            or not isinstance(dec, nn.Sequential):
        raise FoldError("only channelae Autoencoders with a sequential decoder can be folded")
    if any(m.training for m in dec.modules()):
        raise FoldError("the model is in training mode (BatchNorm uses batch statistics there): "
                        "call model.eval() before folding")
    layers = list(dec)
    try:
        ref = next(dec.parameters())
    except StopIteration:
        raise FoldError("the decoder has no parameters") from None
    if channels_last is None:
        channels_last = default_channels_last(ref.device)

    # (a) the leading affine run starting with a Linear, merged when that does not cost more.
    head, head_shape, start = None, (), 0
    if layers and isinstance(layers[0], nn.Linear):
        d = layers[0].in_features
        end = 0
        while end < len(layers) and _is_affine(layers[end]):
            end += 1
        run = layers[:end]
        x0 = torch.zeros(1, d, dtype=ref.dtype, device=ref.device)
        with torch.no_grad():
            out_numel = nn.Sequential(*run)(x0)[0].numel()
        if d * out_numel <= _run_macs(run, x0):
            head, head_shape = _merge_affine_run(run, d, ref)
            start = end
    # (b) BatchNorms into the convolution before them; everything else copied.
    body: list[nn.Module] = []
    i = start
    while i < len(layers):
        m = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(m, _CONV) and nxt is not None and _foldable_bn(nxt) and nxt.num_features == m.out_channels:
            body.append(_fold_bn_into_conv(m, nxt))
            i += 2
            continue
        body.append(copy.deepcopy(m))
        i += 1
    use_cl = bool(channels_last) and head is not None and len(head_shape) == 3
    if use_cl:
        c, hh, ww = head_shape  # rows (C, H, W) -> (H, W, C): the head's output is channels-last as is
        perm = torch.arange(c * hh * ww, device=ref.device).reshape(c, hh, ww).permute(1, 2, 0).reshape(-1)
        with torch.no_grad():
            head.weight.copy_(head.weight[perm])
            head.bias.copy_(head.bias[perm])
        for m in body:
            if isinstance(m, _CONV):
                m.weight.data = m.weight.data.contiguous(memory_format=torch.channels_last)
    body = [CPUFloat32(m) if _slow_in_bf16(m) else ColumnConvTranspose2d(m) if _column_conv(m) else m
            for m in body]
    d = layers[0].in_features if isinstance(layers[0], nn.Linear) else model.latent_dim
    folded = FoldedDecoder(head, head_shape, nn.Sequential(*body), d, use_cl)
    return folded.eval()


# ---------------------------------------------------------------------------------------- FLOP count


def matmul_flops(decoder: nn.Module, latent_dim: int, *, example: Tensor | None = None) -> int:
    """FLOPs per example of one forward + backward w.r.t. the input of ``decoder`` (a PGD step).

    Counted analytically from the layer shapes (one forward of one example records them): multiply-adds
    of every Linear (``in·out``), Conv2d (``C_in/g · C_out · k_h·k_w · H_out·W_out``) and ConvTranspose2d
    (``C_in · C_out/g · k_h·k_w · H_in·W_in``); the backward w.r.t. the input costs as many as the forward
    (weight gradients are not needed), and one multiply-add is 2 FLOPs, so FLOPs = 4 × multiply-adds.
    Elementwise layers (BatchNorm, LeakyReLU, sigmoid; < 1 % here) are not counted.
    """
    macs = 0

    def hook(m: nn.Module, inp: tuple[Tensor, ...], out: Tensor) -> None:
        nonlocal macs
        if isinstance(m, ColumnConvTranspose2d):  # counted as the transposed convolution it computes
            m = m.layer
        if isinstance(m, nn.Linear):
            macs += m.in_features * m.out_features
        elif isinstance(m, nn.ConvTranspose2d):
            kh, kw = m.kernel_size
            macs += m.in_channels * (m.out_channels // m.groups) * kh * kw * inp[0].shape[-2] * inp[0].shape[-1]
        elif isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            macs += (m.in_channels // m.groups) * m.out_channels * kh * kw * out.shape[-2] * out.shape[-1]

    inner = {id(m.layer) for m in decoder.modules() if isinstance(m, ColumnConvTranspose2d)}
    handles = [m.register_forward_hook(hook) for m in decoder.modules()
               if isinstance(m, (nn.Linear, *_CONV, ColumnConvTranspose2d)) and id(m) not in inner]
    try:
        p = next(decoder.parameters())
        x = example if example is not None else torch.zeros(1, latent_dim, dtype=p.dtype, device=p.device)
        with torch.no_grad():
            decoder(x[:1])
    finally:
        for h in handles:
            h.remove()
    return 4 * macs
