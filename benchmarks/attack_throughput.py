"""Latent-steps per second of the batched ε-grid PGD attack versus the study's one-ε-at-a-time loop.

"Latent-steps" = (latents attacked) × (PGD steps); with ``E`` budgets and ``B`` images one attack sweep
is ``E·B·K`` latent-steps. Two ways of running the same sweep on the same model and images:

- **ours**: ``Link(model, "ideal+pgd-jammer")`` with the whole ε grid in one call (decoder passes of whole
  budgets, at most ``PGDJammer.max_rows`` rows each, ``--max-rows``; the ε = 0 budget needs no search),
  study-faithful sign steps or the strong mode (``--mode``);
- **study**: attack batches of ``--study-batch`` (8) images, one ε at a time, with a plain Python loop of
  sign-PGD on ``z`` directly: ``z_adv = z0 + δ``, ``δ ← Proj_ε(δ + α·sign(∇_δ MSE(dec(z_adv), dec(z0))))``,
  the same decoder, ``α = 1``. (Started at a tiny random δ, like our faithful mode, so both take the same
  number of gradient steps; the start does not change the cost.)

Run::

    .venv/bin/python benchmarks/attack_throughput.py                 # trains a tiny model first (~30-60 s)
    .venv/bin/python benchmarks/attack_throughput.py --checkpoint DIR --images 64 --steps 10

Prints both rates and the ratio (the target is ≥ 5×).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# On a shared machine OpenMP's default busy-waiting makes every multi-threaded op wait for descheduled
# threads (a 24-row transposed conv went from 2 ms to 100 ms at load 8 on 2 cores); sleep instead. Must be
# set before torch starts its thread pool; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from channelae.data import load_dataset
from channelae.link import Link


def train_tiny(out: Path, images: int, epochs: int, seed: int) -> Path:
    """A quick swt-vae on the first ``images`` mnist-5k training images (checkpoint in ``out``)."""
    from channelae.models import build_model
    from channelae.training import TrainConfig, train_model

    torch.manual_seed(seed)
    model = build_model("swt-vae", (1, 28, 28), 10)
    train = load_dataset("mnist-5k", "train", limit=images)
    val = load_dataset("mnist-5k", "test", limit=128)
    train_model(model, train, val, TrainConfig(epochs=epochs, batch_size=64, seed=seed, val_images=128),
                out, progress=False)
    return out


def ours(link: Link, x: torch.Tensor, seed: int) -> torch.Tensor:
    """One batched attack of every ε of the link's jammer on ``x``; returns x̂ ``[1, E, B, C, H, W]``."""
    return link(x, generator=torch.Generator().manual_seed(seed)).x_hat


def study(model: torch.nn.Module, x: torch.Tensor, eps_grid: list[float], steps: int, batch: int,
          alpha: float, seed: int) -> None:
    """The study's loop: for each ε, for each batch of images, K sign-PGD steps on z directly."""
    g = torch.Generator().manual_seed(seed)
    for eps in eps_grid:
        for i in range(0, x.shape[0], batch):
            xb = x[i:i + batch]
            with torch.no_grad():
                z0 = model.encode(xb)
                ref = model.decode(z0)
            delta = torch.randn(z0.shape, generator=g)
            delta = delta / delta.norm(dim=-1, keepdim=True) * 1e-3 * eps
            for _ in range(steps):
                delta.requires_grad_(True)
                loss = (model.decode(z0 + delta) - ref).square().flatten(1).mean(1).sum()
                (grad,) = torch.autograd.grad(loss, delta)
                with torch.no_grad():
                    delta = delta + alpha * grad.sign()
                    norm = delta.norm(dim=-1, keepdim=True)
                    delta = torch.where(norm > eps, delta * (eps / norm.clamp_min(1e-30)), delta)
            with torch.no_grad():
                model.decode(z0 + delta)


def timed(fns: dict[str, object], repeats: int) -> dict[str, float]:
    """Fastest of ``repeats`` runs of each function, after one warm-up each; runs are interleaved so that
    load from other processes hits both ways alike (the minimum is the least disturbed run)."""
    for fn in fns.values():
        fn()
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, help="trained checkpoint dir (default: train a tiny one)")
    p.add_argument("--images", type=int, default=64, help="images attacked (default 64)")
    p.add_argument("--steps", type=int, default=10, help="PGD steps K (default 10)")
    p.add_argument("--eps-max", type=float, default=1.0, help="ε grid 0:eps_max:eps_max/10 (11 values)")
    p.add_argument("--mode", default="faithful", choices=("faithful", "strong"), help="our jammer's mode")
    p.add_argument("--study-batch", type=int, default=8, help="the study's attack batch (8)")
    p.add_argument("--max-rows", type=int, default=0,
                   help="our jammer's decoder rows per pass (0: its default, PGDJammer.max_rows)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (the fastest is reported)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    p.add_argument("--train-images", type=int, default=2048, help="training images for the tiny model")
    p.add_argument("--epochs", type=int, default=1, help="epochs for the tiny model")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = a.checkpoint
        if ckpt is None:
            t0 = time.perf_counter()
            ckpt = train_tiny(Path(tmp) / "swt-vae", a.train_images, a.epochs, a.seed)
            print(f"trained a tiny swt-vae ({a.train_images} mnist-5k images, {a.epochs} epoch) in "
                  f"{time.perf_counter() - t0:.1f} s")
        eps_grid = [round(a.eps_max * i / 10, 10) for i in range(11)]
        link = Link.from_checkpoint(ckpt, "ideal+pgd-jammer", device=a.device,
                                    channel_options={"eps": eps_grid, "mode": a.mode, "steps": a.steps})
        jammer = next(st for st in link.channel.stages if st.needs_decoder)
        if a.max_rows:
            jammer.max_rows = a.max_rows
        x = load_dataset("mnist-5k", "test", limit=a.images).batch(range(a.images)).to(a.device)
        B = x.shape[0]
        latent_steps = len(eps_grid) * B * a.steps

        t = timed({"ours": lambda: ours(link, x, a.seed),
                   "study": lambda: study(link.model, x, eps_grid, a.steps, a.study_batch, 1.0, a.seed)},
                  a.repeats)
        t_ours, t_study = t["ours"], t["study"]

    r_ours, r_study = latent_steps / t_ours, latent_steps / t_study
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {a.device}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, best of {a.repeats}")
    print(f"grid: {len(eps_grid)} eps x {B} images x K={a.steps} steps = {latent_steps} latent-steps")
    print(f"ours  (batched grid, mode={a.mode}, max_rows={jammer.max_rows}, Link ideal+pgd-jammer): "
          f"{t_ours:8.3f} s  "
          f"{r_ours:10.0f} latent-steps/s")
    print(f"study (batch {a.study_batch}, one eps at a time, sign-PGD on z directly): {t_study:8.3f} s  "
          f"{r_study:10.0f} latent-steps/s")
    print(f"ratio ours/study: {r_ours / r_study:.2f}x (target >= 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
