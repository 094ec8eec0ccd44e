"""A new channel in one file: residual carrier **phase noise**, registered as ``phase-noise``.

Every received symbol is rotated by a random phase error the receiver does not know:

    y_k = x_k · exp(j·φ_k),   φ_k ~ N(0, σ²)   (i.i.d. per complex symbol, σ = ``phase_std_deg`` degrees)

or, with ``wiener=True``, a random walk along the symbols of each example (``φ_k = φ_{k-1} + N(0, σ²)``,
the usual model of oscillator phase noise). The rotation keeps the symbol energy (``|exp(jφ)| = 1``), so
the SNR is unchanged; the channel adds no noise of its own (the link appends receiver AWGN). Because the
phase error is unknown to the receiver, ``h`` is left unchanged and the equaliser cannot undo it.

Use it from the command line as a plugin, composed with the other channels (stages before the jammer are
realised and known to it, random stages after it are averaged over ``--eot`` draws):

    channelae --plugin examples/custom_channel.py simulate --channel phase-noise+pgd-jammer \\
        --channel-option phase_std_deg=20 --eps 1.0 --snr-db inf,20,10 --n-images 64 --out results/phase-noise

(``--channel-option NAME=VALUE`` reaches every stage whose constructor takes ``NAME``; without it the
channel's defaults apply, σ = 10°. In an experiment config: ``channel_options = { phase_std_deg = 20 }``.)

Run this file as a script to use it from Python: it prints the phase error of the channel on random
symbols (the Sionna-style ``forward(s, snr_db) -> y`` call), then the SSIM of a trained model's link over
``phase-noise+pgd-jammer`` for a few σ values and jammer budgets:

    python examples/custom_channel.py --checkpoint path/to/checkpoint
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from torch import Tensor

from channelae.channels import CHANNELS, Channel, ChannelState, Tail


@CHANNELS.register("phase-noise")
class PhaseNoise(Channel):
    """Random phase rotation of every symbol, unknown to the receiver.

    :param phase_std_deg: standard deviation σ of the phase error per symbol, in degrees (default 10°);
        with ``wiener=True`` the standard deviation of each increment of the random walk.
    :param wiener: draw the phase as a random walk along the symbols of each example (oscillator phase
        noise) instead of independently per symbol.

    :input state: ``y`` complex ``[..., n]`` (any leading dims, e.g. ``[S, E, B, n]``); ``snr_db`` is not used.
    :output state: ``y·exp(jφ)``; ``h`` and ``no`` unchanged (the receiver does not know φ; a unit-modulus
        rotation of circular Gaussian noise leaves its variance unchanged).
    """

    def __init__(self, phase_std_deg: float = 10.0, wiener: bool = False) -> None:
        super().__init__()
        if not (math.isfinite(phase_std_deg) and phase_std_deg >= 0):
            raise ValueError(f"phase_std_deg must be a finite number >= 0 (degrees); got {phase_std_deg}")
        self.phase_std = math.radians(phase_std_deg)  # radians
        self.wiener = bool(wiener)

    def apply(self, state: ChannelState, snr_db: float | Tensor | None = None, *, tail: Tail | None = None,
              generator: torch.Generator | None = None) -> ChannelState:
        y = state.y
        phi = self.phase_std * torch.randn(y.shape, generator=generator, dtype=y.real.dtype, device=y.device)
        if self.wiener:
            phi = phi.cumsum(dim=-1)
        return state.replace(y=y * torch.polar(torch.ones_like(phi), phi))

    def extra_repr(self) -> str:
        return f"phase_std_deg={math.degrees(self.phase_std):g}, wiener={self.wiener}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Phase noise as a custom channel, with and without a PGD jammer.")
    p.add_argument("--checkpoint", type=Path, help="trained checkpoint directory (default: train/cache one)")
    p.add_argument("--phase-std-deg", type=float, nargs="+", default=[0.0, 10.0, 30.0],
                   help="phase error standard deviations σ to compare, degrees")
    p.add_argument("--eps-max", type=float, default=1.0, help="largest jammer budget ε (latent L2)")
    p.add_argument("--snr-db", type=float, default=20.0, help="SNR, dB Es/N0 per complex symbol")
    p.add_argument("--n-images", type=int, default=64, help="test images")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--quick", action="store_true", help="tiny settings for a smoke test (8 images)")
    args = p.parse_args(argv)
    if args.quick:
        p.set_defaults(n_images=8)
        args = p.parse_args(argv)
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from channelae import zoo
    from channelae.curves import mean_ci
    from channelae.data import load_dataset
    from channelae.link import Link
    from channelae.metrics import ssim_per_image

    gen = torch.Generator().manual_seed(0)

    # 1. Sionna-style: the channel alone on unit-energy symbols (forward(s, snr_db) -> y).
    s = torch.polar(torch.ones(4096), 2 * math.pi * torch.rand(4096, generator=gen))
    print("phase-noise on random unit symbols (noiseless):")
    for std in args.phase_std_deg:
        err = torch.angle(PhaseNoise(std)(s, float("inf"), generator=gen) / s).rad2deg()
        print(f"  σ = {std:5.1f}°  measured rms phase error {float(err.square().mean().sqrt()):5.2f}°")

    # 2. In a link: the registered name composes with the built-in channels ("phase-noise+pgd-jammer").
    ckpt = args.checkpoint or zoo.ensure_model("swt-vae", "mnist-5k", epochs=1 if args.quick else 5)
    x = load_dataset("mnist-5k", "test", limit=args.n_images).batch(torch.arange(args.n_images)).to(args.device)
    eps = torch.linspace(0.0, args.eps_max, 3).tolist()
    table: dict[float, list[float]] = {}
    print(f"\nmean SSIM, phase-noise+pgd-jammer at SNR {args.snr_db:g} dB ({len(x)} images)")
    print("σ deg   " + " ".join(f"ε={e:<5.2f}" for e in eps))
    for std in args.phase_std_deg:
        link = Link.from_checkpoint(ckpt, "phase-noise+pgd-jammer", device=args.device,
                                    channel_options={"phase_std_deg": std, "eps": eps})
        out = link(x, snr_db=args.snr_db, generator=torch.Generator(args.device).manual_seed(1))
        _, E, B = out.x_hat.shape[:3]
        ssim = ssim_per_image(out.x_hat[0].flatten(0, 1), x.expand(E, *x.shape).flatten(0, 1)).reshape(E, B)
        table[std] = mean_ci(ssim.double().cpu()).mean.tolist()
        print(f"{std:5.1f}   " + " ".join(f"{v:7.3f}" for v in table[std]))
    print("\nfrom the command line:\n  channelae --plugin examples/custom_channel.py simulate "
          "--channel phase-noise+pgd-jammer --eps 1.0 --snr-db inf,20,10")
    return {"eps": eps, "ssim": table}


if __name__ == "__main__":
    main()
