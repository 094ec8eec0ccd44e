"""Training throughput: channelae's real training loop vs. a minimal hand-written PyTorch loop.

Both loops train the same architecture (``channelae.models.build_model``, same seed, same family, same λ)
with Adam at the same learning rate and batch size, on the same device and thread count, in one process:

- **channelae**: the real :func:`channelae.training.train_model` (batches via ``ImageDataset.batch``,
  forward with the epoch's generator, ``model.loss`` with its logged terms, the finiteness check,
  backward, Adam, the Rich progress-bar update). A ``step_hook`` timestamps the end of every step; the
  time between two consecutive timestamps is exactly one iteration of the loop. Intervals that span an
  epoch boundary (validation, state saving) are left out, and the run is stopped from the hook once
  enough steps were timed (so the end-of-training latent statistics and checkpoint are not timed either).
- **minimal**: the whole training split as one float tensor in memory, ``x = X[idx]``, the encoder and
  decoder modules called directly, ``loss = F.mse_loss(x_hat, x) + λ·R`` with the same regulariser
  function, ``opt.zero_grad(); loss.backward(); opt.step()``. Nothing else.

Before timing, the script checks that both loops compute the same loss on the same batch and noise.
The two loops alternate ``--repeats`` times (channelae then minimal, minimal then channelae, ...) so
that a change in machine load hits both; the reported throughput of each is its best repeat, and the ratio is
best/best (the per-repeat paired ratios are printed too). Target: ratio ≥ 0.9. Each loop's process CPU
time per step is reported as well (``img/cpu-s``): on a busy machine the wall-clock rates mostly measure
the other load, while the CPU-time ratio still shows channelae's own overhead.

The script sets ``OMP_WAIT_POLICY=PASSIVE`` (unless the environment already sets it, or ``--omp-default``
is given) before importing torch; see the comment at the imports.

Usage (from the repository root)::

    .venv/bin/python benchmarks/train_throughput.py                      # swt-vae, mnist-5k, batch 64, CPU
    .venv/bin/python benchmarks/train_throughput.py --model ae --threads 1 --steps 100
    .venv/bin/python benchmarks/train_throughput.py --device cuda --steps 300 --warmup 20

Exit status 0, or 1 with ``--fail-below R`` when the ratio is below ``R``.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass

# On a busy machine OpenMP's default wait policy makes every multi-threaded op spin-wait for a descheduled
# worker (a 2-thread swt-vae step went from ~80 ms to ~1.5 s at load 4-8 on 2 cores). Sleep instead, for
# both loops alike. Must happen before torch starts its thread pool; an explicit OMP_WAIT_POLICY in the
# environment wins, and --omp-default keeps the library default (to measure that case).
if "--omp-default" not in sys.argv[1:]:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn.functional as F
from torch import Tensor

from channelae.data import dataset_info, load_dataset
from channelae.models import Autoencoder, build_model
from channelae.models import regularizers as R
from channelae.training import TrainConfig, train_model

TARGET_RATIO = 0.9


class _Enough(Exception):
    """Raised from the step hook to stop ``train_model`` once enough steps were timed."""


@dataclass
class LoopTiming:
    """Per-step wall and process CPU times (seconds) of one timed run of one loop."""

    steps: list[float]
    cpu: list[float]
    batch_size: int

    @property
    def images_per_second(self) -> float:
        return self.batch_size * len(self.steps) / sum(self.steps)

    @property
    def images_per_cpu_second(self) -> float:
        """Images per second of process CPU time (all threads): less sensitive to other load."""
        return self.batch_size * len(self.cpu) / sum(self.cpu)

    @property
    def median_ms(self) -> float:
        return 1e3 * statistics.median(self.steps)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ------------------------------------------------------------------------------------- minimal loop


def minimal_loss(model: Autoencoder, x: Tensor, n_train: int, generator: torch.Generator) -> Tensor:
    """``MSE(x, x̂) + λ·R(z)`` written out by hand on the model's encoder/decoder modules."""
    cfg = model.config
    h = model.encoder(x)
    mu = logvar = None
    if model.variational:
        mu, logvar = h.chunk(2, dim=-1)
        logvar = logvar.clamp(-30.0, 20.0)
        noise = torch.randn(mu.shape, dtype=mu.dtype, device=mu.device, generator=generator)
        z = mu + torch.exp(0.5 * logvar) * noise
    else:
        z = h
    x_hat = model.decoder(z)
    loss = F.mse_loss(x_hat, x)
    family = cfg.family
    if family == "ae":
        return loss
    if family == "kld-vae":
        reg = R.kld(mu, logvar).mean()
    elif family in ("mmd-vae", "mmd-dae"):
        reg = R.mmd(z, kernel=cfg.kernel, generator=generator)
    elif family in ("swt-vae", "swt-dae"):
        reg = R.swt(z)
    elif family == "tc-vae":
        t = R.tc_decomposition(z, mu, logvar, n_train, estimator="mss")
        reg = t.mi + cfg.beta * t.tc + t.dwkl
    else:  # a family added later: use its own regulariser
        from channelae.models import ModelOutput

        out = ModelOutput(recon=x_hat, z=z, mu=mu, logvar=logvar)
        reg = model.regularizer(out, dataset_size=n_train, generator=generator)[0]
    return loss + cfg.lam * reg


def time_minimal(model: Autoencoder, data: Tensor, batch_size: int, lr: float, steps: int, warmup: int,
                 seed: int, device: torch.device) -> LoopTiming:
    """The plain loop: ``x = X[idx]``, loss, ``zero_grad / backward / step``; per-step wall times."""
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen_cpu = torch.Generator().manual_seed(seed)
    gen = gen_cpu if device.type == "cpu" else torch.Generator(device=device).manual_seed(seed)
    n = data.shape[0]
    per_epoch = n // batch_size
    perm = torch.randperm(n, generator=gen_cpu).to(device)
    times: list[float] = []
    cpu: list[float] = []
    step = 0
    t_prev = c_prev = 0.0
    for i in range(warmup + steps + 1):
        if step == per_epoch:
            perm, step = torch.randperm(n, generator=gen_cpu).to(device), 0
        x = data[perm[step * batch_size:(step + 1) * batch_size]]
        loss = minimal_loss(model, x, n, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        _sync(device)
        t, c = time.perf_counter(), time.process_time()
        if i > warmup:
            times.append(t - t_prev)
            cpu.append(c - c_prev)
        t_prev, c_prev = t, c
    return LoopTiming(times, cpu, batch_size)


# ----------------------------------------------------------------------------------- channelae loop


def time_channelae(model: Autoencoder, train, val, batch_size: int, lr: float, steps: int, warmup: int,
                   seed: int, device: torch.device, progress: bool) -> LoopTiming:
    """The real ``train_model`` loop, timed by a step hook (intervals across epochs are left out)."""
    per_epoch = len(train) // batch_size
    # Every epoch contributes per_epoch - 1 clean intervals; run as many as the timed steps need.
    epochs = max(1, math.ceil((warmup + steps + 1) / max(1, per_epoch - 1)) + 1)
    stamps: list[tuple[int, int, float, float]] = []
    times: list[float] = []
    cpu: list[float] = []

    def hook(*args) -> dict[str, float]:
        # (model, [opt,] x, epoch, step, generator): only epoch and step are used, so either signature works.
        epoch, step = args[-3], args[-2]
        _sync(device)
        t, c = time.perf_counter(), time.process_time()
        same_epoch = bool(stamps) and stamps[-1][0] == epoch and step == stamps[-1][1] + 1
        if same_epoch and len(stamps) > warmup:
            times.append(t - stamps[-1][2])
            cpu.append(c - stamps[-1][3])
        stamps.append((epoch, step, t, c))
        if len(times) >= steps:
            raise _Enough
        return {}

    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, val_images=min(len(val), 64))
    with tempfile.TemporaryDirectory(prefix="channelae-bench-") as out:
        try:
            train_model(model, train, val, cfg, out, device=device, progress=progress, step_hook=hook)
        except _Enough:
            pass
    if len(times) < steps:
        raise RuntimeError(f"only {len(times)} steps were timed; the training split is too small")
    return LoopTiming(times, cpu, batch_size)


# --------------------------------------------------------------------------------------------- main


def _check_same_loss(model: Autoencoder, x: Tensor, n: int, seed: int, device: torch.device) -> float:
    """|channelae loss − minimal loss| on one batch with the same noise (BN in training mode)."""
    a, b = copy.deepcopy(model).to(device).train(), copy.deepcopy(model).to(device).train()

    def gen() -> torch.Generator:
        return torch.Generator(device=device).manual_seed(seed)

    g1 = gen()
    ref = a.loss(x, a(x, generator=g1), dataset_size=n, generator=g1).total
    mine = minimal_loss(b, x, n, gen())
    return float((ref - mine).detach().abs())


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="swt-vae", help="model family")
    p.add_argument("--dataset", default="mnist-5k", help="data set (its training split is used)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=40, help="timed steps per loop and repeat")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before the timed ones")
    p.add_argument("--repeats", type=int, default=5, help="alternating runs of each loop")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads; None leaves torch's own choice")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="directory searched first for the data set")
    p.add_argument("--no-progress", action="store_true",
                   help="channelae loop without its progress bar (like `channelae train --quiet`)")
    p.add_argument("--omp-default", action="store_true",
                   help="do not set OMP_WAIT_POLICY=PASSIVE (read before torch is imported; see above)")
    p.add_argument("--fail-below", type=float, default=None, metavar="R",
                   help="exit with status 1 when the ratio channelae/minimal is below R")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.repeats < 1 or args.batch_size < 3:
        p.error("need --steps >= 1, --warmup >= 0, --repeats >= 1, --batch-size >= 3")

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    info = dataset_info(args.dataset)
    train = load_dataset(args.dataset, "train", data_dir=args.data_dir)
    val = load_dataset(args.dataset, info.eval_split, data_dir=args.data_dir, limit=64)
    if len(train) // args.batch_size < 2:
        p.error(f"the training split ({len(train)} images) needs at least 2 batches of {args.batch_size}")

    torch.manual_seed(args.seed)
    template = build_model(args.model, info.image_shape, info.default_latent_dim)
    data = train.batch(torch.arange(len(train))).to(device)  # the minimal loop's in-memory tensor

    print(f"train_throughput: {args.model} (λ={template.config.lam:g}) on {args.dataset} "
          f"({len(train)} training images), batch {args.batch_size}, Adam lr {args.lr:g}")
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
          f"mkldnn {torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled}, "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()})")
    print(f"steps {args.steps} timed + {args.warmup} warm-up per run, {args.repeats} repeats, "
          f"progress bar {'off' if args.no_progress else 'on'}")
    print(f"load average before: {_load()}")

    diff = _check_same_loss(template, data[:args.batch_size], len(train), args.seed, device)
    print(f"same loss on one batch: |channelae − minimal| = {diff:.3g}")
    if not diff <= 1e-5:
        print("error: the two loops do not compute the same loss", file=sys.stderr)
        return 2

    rows: list[tuple[LoopTiming, LoopTiming]] = []
    print(f"\n{'':>6}  {'---------- channelae ----------':>30}  {'----------- minimal -----------':>31}  "
          f"{'--- ratio ---':>13}")
    print(f"{'repeat':>6}  {'img/s':>8} {'med ms':>7} {'img/cpu-s':>11}  {'img/s':>8} {'med ms':>7} "
          f"{'img/cpu-s':>11}   {'wall':>6} {'cpu':>6}", flush=True)

    def row(label: str, c_ips: float, c_ms: float, c_cps: float, m_ips: float, m_ms: float,
            m_cps: float) -> None:
        print(f"{label:>6}  {c_ips:>8.1f} {c_ms:>7.1f} {c_cps:>11.1f}  {m_ips:>8.1f} {m_ms:>7.1f} "
              f"{m_cps:>11.1f}   {c_ips / m_ips:>6.3f} {c_cps / m_cps:>6.3f}", flush=True)

    for r in range(args.repeats):
        def run_channelae() -> LoopTiming:
            return time_channelae(copy.deepcopy(template), train, val, args.batch_size, args.lr, args.steps,
                                  args.warmup, args.seed, device, progress=not args.no_progress)

        def run_minimal() -> LoopTiming:
            return time_minimal(copy.deepcopy(template), data, args.batch_size, args.lr, args.steps,
                                args.warmup, args.seed, device)

        # Alternate which loop goes first, so neither always runs in the other's wake.
        if r % 2 == 0:
            ca = run_channelae()
            mi = run_minimal()
        else:
            mi = run_minimal()
            ca = run_channelae()
        rows.append((ca, mi))
        row(str(r + 1), ca.images_per_second, ca.median_ms, ca.images_per_cpu_second,
            mi.images_per_second, mi.median_ms, mi.images_per_cpu_second)

    best_ca = max(c.images_per_second for c, _ in rows)
    best_mi = max(m.images_per_second for _, m in rows)
    best_ca_cpu = max(c.images_per_cpu_second for c, _ in rows)
    best_mi_cpu = max(m.images_per_cpu_second for _, m in rows)
    row("best", best_ca, min(c.median_ms for c, _ in rows), best_ca_cpu,
        best_mi, min(m.median_ms for _, m in rows), best_mi_cpu)
    ratio = best_ca / best_mi
    paired = statistics.median(c.images_per_second / m.images_per_second for c, m in rows)
    print(f"load average after:  {_load()}")
    verdict = "OK" if ratio >= TARGET_RATIO else "BELOW TARGET"
    print(f"\nchannelae: {best_ca:.1f} images/s, minimal: {best_mi:.1f} images/s, ratio channelae/minimal = "
          f"{ratio:.3f} (target >= {TARGET_RATIO}: {verdict}); median of paired repeats {paired:.3f}; "
          f"CPU-time ratio {best_ca_cpu / best_mi_cpu:.3f}")
    if args.fail_below is not None and ratio < args.fail_below:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
