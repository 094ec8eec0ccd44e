"""Quickstart: jam an autoencoder link with a latent-space PGD jammer and measure the damage.

The autoencoder is the link: encoder = transmitter, decoder = receiver. This script

1. trains the default model (an SWT-VAE on the embedded MNIST subset, cached after the first run) or takes
   ``--checkpoint``;
2. sends a few test images over ``rayleigh+pgd-jammer`` (flat Rayleigh fading, then a white-box PGD jammer
   at the receiver, then receiver noise) for an SNR × ε grid in *one* batched ``Link`` call, and prints the
   SSIM DD-curve (mean SSIM versus the jammer budget ε) and its AADDC per SNR;
3. runs the same grid through ``channelae.simulate`` (which adds the equal-power noise-jammer control,
   confidence intervals, breaking budgets, ``results.json``/``results.csv``) and prints its report.

Units: SNR is Es/N0 in dB per complex symbol (``inf`` = noiseless); ε is the L2 norm of the jammer's
perturbation in latent units, per example. AADDC is in SSIM × ε (bigger = more robust).

    python examples/quickstart.py                       # default model, 64 images
    python examples/quickstart.py --quick --checkpoint path/to/checkpoint
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, help="trained checkpoint directory (default: train/cache one)")
    p.add_argument("--out", type=Path, default=Path("results/quickstart"), help="results directory")
    p.add_argument("--channel", default="rayleigh+pgd-jammer", help="channel spec (needs a pgd-jammer stage)")
    p.add_argument("--eps-max", type=float, default=1.0, help="largest jammer budget ε (latent L2)")
    p.add_argument("--snr-db", type=float, nargs="+", default=[math.inf, 20.0, 10.0],
                   help="SNR points, dB Es/N0 per complex symbol (inf = noiseless)")
    p.add_argument("--n-images", type=int, default=64, help="test images")
    p.add_argument("--eot", type=int, default=4, help="fading/noise draws the jammer averages per PGD step")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots of the report")
    p.add_argument("--quick", action="store_true", help="tiny settings for a smoke test (seconds on a CPU): "
                   "8 images, 3 budgets, no EOT; options given explicitly still win")
    args = p.parse_args(argv)
    if args.quick:
        p.set_defaults(n_images=8, eot=1)
        args = p.parse_args(argv)
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from channelae import report, zoo
    from channelae.curves import aaddc, mean_ci, metric_spec
    from channelae.data import load_dataset
    from channelae.link import Link
    from channelae.metrics import ssim_per_image
    from channelae.simulate import SimulationConfig, simulate

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)

    # 1. A trained model: the default one is trained on first use (about a minute on a CPU), then cached.
    ckpt = args.checkpoint or zoo.ensure_model("swt-vae", "mnist-5k", epochs=1 if args.quick else 5,
                                               device=str(device))
    print(f"checkpoint: {ckpt}")

    # 2. The link, by hand: images [B, 1, 28, 28] -> x_hat [S SNR, E budgets, B, 1, 28, 28] in one call.
    eps = torch.linspace(0.0, args.eps_max, 3 if args.quick else 6).tolist()
    x = load_dataset("mnist-5k", "test", limit=args.n_images).batch(torch.arange(args.n_images)).to(device)
    link = Link.from_checkpoint(ckpt, args.channel, device=device,
                                channel_options={"eps": eps, "eot": args.eot})
    out = link(x, snr_db=args.snr_db, generator=torch.Generator(device).manual_seed(0))
    S, E, B = out.x_hat.shape[:3]
    ssim = ssim_per_image(out.x_hat.flatten(0, 2), x.expand(S, E, *x.shape).flatten(0, 2)).reshape(S, E, B)
    dd = mean_ci(ssim.double().cpu(), dim=-1)            # mean and 95 % interval over images: [S, E]
    spec = metric_spec("ssim")                             # limit line L = 0.4, higher is better
    area = aaddc(eps, dd.mean, spec.limit, spec.higher_is_better)   # [S], SSIM × ε

    print(f"\nDD-curve: mean SSIM vs ε ({args.channel}, {B} images; limit line {spec.limit})")
    print("SNR dB   " + " ".join(f"ε={e:<5.2f}" for e in eps) + "  AADDC")
    for si, snr in enumerate(args.snr_db):
        row = " ".join(f"{v:7.3f}" for v in dd.mean[si].tolist())
        print(f"{snr:>6g}   {row}  {float(area[si]):.4f}")

    # 3. The same grid through simulate(): noise-jammer control, intervals, results.json/csv, report.
    config = SimulationConfig(channel=args.channel, eps=tuple(eps), snr_db=tuple(args.snr_db),
                              n_images=args.n_images, eot=args.eot, metrics=("ssim", "psnr", "mse", "lpips"))
    results = simulate(config, args.out, checkpoint=ckpt, device=str(device), progress=not args.quick)
    print()
    report.print_tables(results)
    if not args.no_plots:
        from channelae.plots import render_plots

        paths = render_plots(args.out, results)
        print("plots:", ", ".join(str(p) for p in paths))
    print(f"results: {args.out / 'results.json'}")
    return {"eps": eps, "snr_db": args.snr_db, "ssim": dd.mean.tolist(), "aaddc": area.tolist(),
            "results": results}


if __name__ == "__main__":
    main()
