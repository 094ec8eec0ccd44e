"""Harden a model against the latent-space jammer: adversarial vs noise training vs regular training.

Three models of the same family, data and seed are trained with ``channelae.zoo``:

- **regular**: the plain objective ``MSE(x, x̂) + λ·R(z)``;
- **noise**: after each regular step, a decoder-only update on latents perturbed by a random direction of
  norm ε_train (``HardeningConfig(kind="noise")``: the natural baseline at equal power);
- **adversarial**: the same with an untargeted PGD perturbation of norm ε_train (study Algorithm 1,
  ``HardeningConfig(kind="adversarial")``, distance 1 − SSIM, K PGD steps).

Each is then attacked with the PGD jammer over an ε grid (``channelae.simulate``, which also runs the
equal-power noise jammer), and the SSIM DD-curves of the three are drawn on one plot with the limit line
and their AADDC (SSIM × ε, bigger = more robust). ε, for training and attack alike, is the L2 norm of the
perturbation in latent units per example; SNR is Es/N0 in dB per complex symbol (``inf`` = noiseless, the
study's setting). Written to ``--out``: ``harden_dd_curves.png``, ``summary.json`` and one ``simulate``
results directory per model.

    python examples/harden_model.py                      # 5 epochs each (minutes on a CPU), cached
    python examples/harden_model.py --quick --out /tmp/harden
    python examples/harden_model.py --epochs 1 --train-images 512 --n-images 8   # smallest smoke run
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

VARIANTS = ("regular", "noise", "adversarial")
COLORS = {"regular": "tab:gray", "noise": "tab:blue", "adversarial": "tab:red"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Adversarial vs noise vs regular training under the PGD jammer.")
    p.add_argument("--out", type=Path, default=Path("results/harden"), help="output directory")
    p.add_argument("--model", default="swt-vae", help="model family")
    p.add_argument("--dataset", default="mnist-5k", help="data set")
    p.add_argument("--epochs", type=int, default=5, help="training epochs per model")
    p.add_argument("--train-images", type=int, default=None,
                   help="train on the first N training images only (smoke runs; default: all)")
    p.add_argument("--adv-eps", type=float, default=0.05, help="ε_train of the hardening (latent L2)")
    p.add_argument("--adv-k", type=int, default=10, help="PGD steps K of adversarial training")
    p.add_argument("--eps-max", type=float, default=1.0, help="largest attack budget ε (latent L2)")
    p.add_argument("--snr-db", type=float, default=math.inf, help="link SNR, dB Es/N0 per complex symbol")
    p.add_argument("--n-images", type=int, default=64, help="test images attacked")
    p.add_argument("--steps", type=int, default=None, help="PGD steps of the attack (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of training and attack")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 1 epoch on 512 images, K = 3, 8 test images, 5 budgets, 5 attack steps "
                        "(options given explicitly still win)")
    args = p.parse_args(argv)
    if args.quick:
        p.set_defaults(epochs=1, train_images=512, adv_k=3, n_images=8, steps=5)
        args = p.parse_args(argv)
    return args


def train_variant(name: str, args: argparse.Namespace) -> Path:
    """Train (or reuse) one model and return its checkpoint directory."""
    from channelae import zoo
    from channelae.hardening import HardeningConfig

    harden = None if name == "regular" else HardeningConfig(kind=name, eps=args.adv_eps, k=args.adv_k)
    if args.train_images is None:
        # The normal path: cached under the user cache dir (keyed by every setting), so a re-run is instant.
        return zoo.ensure_model(args.model, args.dataset, epochs=args.epochs, seed=args.seed, harden=harden,
                                device=args.device)
    # Smoke runs on a subset: zoo.train has no image limit, so call the training loop it wraps
    # (same model, same hardening hook) on the first N training images, writing to --out/models/NAME.
    from channelae.data import dataset_info, load_dataset
    from channelae.hardening import hardening_hook
    from channelae.models import build_model
    from channelae.training import TrainConfig, train_model

    info = dataset_info(args.dataset)
    torch.manual_seed(args.seed)
    model = build_model(args.model, info.image_shape, info.default_latent_dim)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else \
        "cpu" if args.device == "auto" else args.device
    result = train_model(
        model, load_dataset(args.dataset, "train", limit=args.train_images),
        load_dataset(args.dataset, info.eval_split, limit=128),
        TrainConfig(epochs=args.epochs, seed=args.seed, val_images=128), args.out / "models" / name,
        device=device, resume=True, progress=False, step_hook=hardening_hook(harden) if harden else None,
        extra_meta={"harden": harden.to_dict() if harden else None})
    return result.out_dir


def plot(summary: dict, path: Path) -> None:
    """SSIM DD-curves of the three models (PGD solid with 95 % band, noise jammer dashed) on one axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    for name, r in summary["models"].items():
        eps, c = r["eps"], COLORS[name]
        ax.plot(eps, r["pgd"]["mean"], "o-", color=c, label=f"{name}: PGD (AADDC {r['pgd']['aaddc']:.3f})")
        ax.fill_between(eps, r["pgd"]["lo"], r["pgd"]["hi"], color=c, alpha=0.15, linewidth=0)
        ax.plot(eps, r["noise"]["mean"], "--", color=c, alpha=0.8, label=f"{name}: noise jammer")
    ax.axhline(summary["limit"], color="k", lw=0.8, ls=":", label=f"limit line {summary['limit']:g}")
    snr = summary["snr_db"]
    ax.set(xlabel="jammer budget ε (latent L2 norm per example)", ylabel="SSIM (mean, 95 % interval)",
           title=f"{summary['model']} on {summary['dataset']}, "
                 f"{'noiseless' if math.isinf(snr) else f'SNR {snr:g} dB'}, "
                 f"ε_train = {summary['adv_eps']:g}")
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from channelae.simulate import SimulationConfig, simulate

    args.out.mkdir(parents=True, exist_ok=True)
    eps = tuple(torch.linspace(0.0, args.eps_max, 5 if args.quick else 11).tolist())
    config = SimulationConfig(channel="pgd-jammer", eps=eps, snr_db=(args.snr_db,), n_images=args.n_images,
                              steps=args.steps, metrics=("ssim",), seed=args.seed,
                              eps_unit="latent")  # the hardening budget ε_train is latent: attack in its unit
    summary: dict = {"model": args.model, "dataset": args.dataset, "adv_eps": args.adv_eps,
                     "snr_db": args.snr_db, "models": {}}
    for name in VARIANTS:
        ckpt = train_variant(name, args)
        res = simulate(config, args.out / f"simulate-{name}", checkpoint=ckpt, device=args.device,
                       progress=not args.quick)
        curve = {link: res.curve(link, "ssim") for link in ("jammer", "noise")}  # [S][E] mean, lo, hi
        summary["limit"] = res.metrics["ssim"].limit
        summary["models"][name] = {
            "checkpoint": str(ckpt), "eps": res.budget.eps,
            "pgd": {k: getattr(curve["jammer"], k)[0] for k in ("mean", "lo", "hi")}
            | {"aaddc": res.aaddc_of("jammer", "ssim")[0],
               "breaking_eps": res.breaking_of("jammer", "ssim").eps[0]},
            "noise": {k: getattr(curve["noise"], k)[0] for k in ("mean", "lo", "hi")}
            | {"aaddc": res.aaddc_of("noise", "ssim")[0]},
        }

    png = args.out / "harden_dd_curves.png"
    plot(summary, png)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"\nSSIM under the PGD jammer, ε ∈ [0, {args.eps_max:g}], {args.n_images} images "
          f"(limit line {summary['limit']:g}; AADDC in SSIM × ε, bigger = more robust)")
    print(f"{'model':<12} {'SSIM ε=0':>9} {'SSIM ε=max':>11} {'AADDC PGD':>10} {'AADDC noise':>12} {'break ε':>8}")
    for name, r in summary["models"].items():
        b = r["pgd"]["breaking_eps"]
        print(f"{name:<12} {r['pgd']['mean'][0]:9.3f} {r['pgd']['mean'][-1]:11.3f} {r['pgd']['aaddc']:10.4f} "
              f"{r['noise']['aaddc']:12.4f} {'—' if math.isinf(float(b)) else f'{float(b):.3g}':>8}")
    print(f"plot: {png}")
    return summary


if __name__ == "__main__":
    main()
