"""Attack latent-steps per second: channelae's batched attack path vs the study's loop and the sgemm roofline.

A *latent-step* is one decoder forward + backward w.r.t. the input for one example (one PGD step on one
latent). One sweep attacks ``B`` images at every budget of an ε grid (default 0.1:1.0:0.1, 10 values; no
ε = 0, which our jammer would skip for free) with ``K`` steps: ``E·B·K`` latent-steps. Measured in one
process, each way once per repetition, repetitions interleaved, medians reported:

- **study**: the study's loop. Batches of ``--study-batch`` (8) images, one ε at a time, ``K`` sign-PGD steps
  on ``z`` directly (``δ ← Proj_ε(δ + α·sign(∇_δ MSE(dec(z0 + δ), dec(z0))))``, α = 1), the *unfolded*
  decoder (``model.decode``), fp32.
- **pgd fp32 / pgd bf16**: :func:`channelae.attacks.pgd` with an objective built the way the PGD jammer
  builds it on an ideal link (``δ`` complex on the transmitted symbols → receiver → decoder → MSE to the
  clean reconstruction), the whole ε grid in one call, the objective evaluated in pieces of whole budgets
  of at most :func:`channelae.models.fold.rows_per_pass` rows, through the Link's *folded* decoder
  (channels-last on CPU). bf16: the search's decoder passes under ``torch.autocast(bfloat16)``
  (``pgd(precision="bf16")``, or the objective wrapped in autocast where ``pgd`` has no precision option).
- **link fp32**: the whole ``Link(model, "ideal+pgd-jammer")`` call (encoding, clean reference, attack,
  final decode) with folding, the jammer's passes at ``rows_per_pass("fp32")`` rows;
  **link fp32 unfolded**: the same with ``fold=False`` and the jammer's passes at 256 rows (the code before
  folding).
- **sgemm roofline**: a 2048³ fp32 ``torch.mm`` timed in the same repetitions; its FLOP/s divided by the
  *unfolded* decoder's FLOPs per latent-step (counted analytically from the layer shapes,
  :func:`channelae.models.fold.matmul_flops`; 16.3 MFLOP for the 28×28 decoder with d = 10) is the
  roofline in latent-steps/s.

Targets (issue 13): best attack path ≥ 5× the study loop and ≥ 50 % of the roofline.

``--rows-scan`` instead measures the folded decoder alone (forward + backward w.r.t. the input, MSE loss)
for 128…4096 rows per pass, fp32 and bf16 autocast, with and without channels-last, plus the unfolded
decoder, interleaved; rows/s medians and ratios to the unfolded fp32 decoder at 256 rows.

Run::

    .venv/bin/python benchmarks/attack_throughput.py                  # trains a tiny model first (~30-60 s)
    .venv/bin/python benchmarks/attack_throughput.py --checkpoint DIR --images 32 --repeats 3
    .venv/bin/python benchmarks/attack_throughput.py --checkpoint DIR --no-link --rows 256 1024 --repeats 7
    .venv/bin/python benchmarks/attack_throughput.py --checkpoint DIR --rows-scan
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# On a shared machine OpenMP's default busy-waiting makes every multi-threaded op wait for descheduled
# threads; sleep instead. Must be set before torch starts its thread pool; the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from channelae.attacks import distance, pgd
from channelae.channels.base import ChannelState
from channelae.data import load_dataset
from channelae.link import Link
from channelae.models.fold import fold_decoder, matmul_flops, rows_per_pass


def cpu_flags() -> str:
    """CPU model and the flags that matter here (from /proc/cpuinfo)."""
    model, flags = "?", set()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    want = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")
    return f"{model}, {os.cpu_count()} CPUs; " + " ".join(f"{w}={'yes' if w in flags else 'no'}" for w in want)


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


_PGD_HAS_PRECISION = "precision" in inspect.signature(pgd).parameters


def attack_path(link: Link, x: torch.Tensor, eps_grid: list[float], steps: int, mode: str, precision: str,
                seed: int, rows: int | None = None) -> Callable[[], torch.Tensor]:
    """``pgd`` on the jammer's objective (ideal link, perturbation on the received symbols) over the whole
    grid, decoder passes of whole budgets of at most ``rows`` (default ``rows_per_pass(precision)``) rows."""
    with torch.no_grad():
        z0 = link.model.encode(x)
        s = link.transmitter(z0)  # [B, n]
        clean = link.decode_state(ChannelState.start(s))
    B, n = s.shape
    E = len(eps_grid)
    gain = link.transmitter.gain
    radius = torch.tensor(eps_grid, dtype=torch.float32).reshape(E, 1) * gain  # [E, 1] symbol units
    y = s.unsqueeze(0)  # [1, B, n]
    autocast_here = precision == "bf16" and not _PGD_HAS_PRECISION

    def objective(delta: torch.Tensor) -> torch.Tensor:  # [e, B, 2n] -> [e, B]
        st = ChannelState.start(y + torch.complex(delta[..., :n], delta[..., n:]))
        if autocast_here:
            with torch.autocast(x.device.type, dtype=torch.bfloat16):
                x_adv = link.decode_state(st)
            return distance("mse", x_adv.float(), clean)
        return distance("mse", link.decode_state(st), clean)

    chunk = (0, max(1, (rows or rows_per_pass(precision, x.device)) // B))
    kw = {"precision": precision} if _PGD_HAS_PRECISION else {}

    def run() -> torch.Tensor:
        return pgd(objective, (E, B, 2 * n), radius, mode=mode, steps=steps, alpha=gain, chunk=chunk,
                   generator=torch.Generator(x.device).manual_seed(seed), device=x.device, **kw)

    return run


def sgemm(n: int = 2048) -> tuple[Callable[[], None], float]:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return (lambda: torch.mm(a, b)), 2.0 * n ** 3


def timed(fns: dict[str, Callable[[], object]], repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall and process-CPU seconds of each function, after one warm-up each; the functions run in
    turn within each repetition (interleaved) so that load from other processes hits all of them alike.
    CPU seconds (all threads of this process) are less sensitive to other processes than wall time."""
    for fn in fns.values():
        fn()
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(repeats):
        for name, fn in fns.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
        print(f"  repetition {r + 1}/{repeats} done (load {os.getloadavg()[0]:.1f})", flush=True)
    return ({k: statistics.median(v) for k, v in wall.items()}, {k: statistics.median(v) for k, v in cpu.items()})


def rows_scan(model: torch.nn.Module, repeats: int, total: int, seed: int) -> None:
    """Folded decoder forward + backward w.r.t. the input per row, by rows per pass, precision, layout."""
    d = model.latent_dim
    g = torch.Generator().manual_seed(seed)
    z_all = torch.randn(total, d, generator=g)
    ref = torch.rand(total, *model.config.image_shape, generator=g)
    folded = {False: fold_decoder(model, channels_last=False), True: fold_decoder(model, channels_last=True)}
    rows_list = [r for r in (128, 256, 512, 1024, 2048, 4096) if r <= total]

    def sweep(dec: Callable[[torch.Tensor], torch.Tensor], rows: int, bf16: bool) -> None:
        for i in range(0, total, rows):
            z = z_all[i:i + rows].detach().requires_grad_(True)
            if bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    out = dec(z)
            else:
                out = dec(z)
            loss = (out.float() - ref[i:i + rows]).square().flatten(1).mean(1).sum()
            torch.autograd.grad(loss, z)

    fns: dict[str, Callable[[], None]] = {}
    for rows in rows_list:
        fns[f"unfolded fp32 {rows}"] = lambda r=rows: sweep(model.decoder, r, False)
        for cl in (False, True):
            for prec in ("fp32", "bf16"):
                fns[f"fold{'+cl' if cl else ''} {prec} {rows}"] = \
                    lambda r=rows, c=cl, p=prec: sweep(folded[c], r, p == "bf16")
    for kind, t in zip(("rows/s (wall)", "rows per CPU-second"), timed(fns, repeats)):
        base = t["unfolded fp32 256"] if 256 in rows_list else t[f"unfolded fp32 {rows_list[0]}"]
        print(f"\n{kind}, median of {repeats}, {total} rows per measurement; [ratio to unfolded fp32 at "
              f"256 rows]")
        print(f"{'decoder':15s}" + "".join(f"{r:>15d}" for r in rows_list))
        for label in ("unfolded fp32", "fold fp32", "fold+cl fp32", "fold bf16", "fold+cl bf16"):
            cells = [f"{total / t[f'{label} {r}']:7.0f} [{base / t[f'{label} {r}']:.2f}]" for r in rows_list]
            print(f"{label:15s}" + "".join(f"{c:>15s}" for c in cells))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, help="trained checkpoint dir (default: train a tiny one)")
    p.add_argument("--images", type=int, default=64, help="images attacked (default 64)")
    p.add_argument("--steps", type=int, default=10, help="PGD steps K (default 10)")
    p.add_argument("--eps-max", type=float, default=1.0, help="ε grid eps_max/10 : eps_max (10 values)")
    p.add_argument("--mode", default="faithful", choices=("faithful", "strong"),
                   help="our attack's mode (faithful: sign steps, like the study loop)")
    p.add_argument("--study-batch", type=int, default=8, help="the study's attack batch (8)")
    p.add_argument("--repeats", type=int, default=5, help="interleaved repetitions (medians reported)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--no-link", action="store_true", help="skip the two whole-Link variants")
    p.add_argument("--rows", type=int, nargs="*", default=[],
                   help="also time the pgd path with passes of at most these many rows (both precisions)")
    p.add_argument("--rows-scan", action="store_true", help="decoder-only scan of rows per pass instead")
    p.add_argument("--scan-rows", type=int, default=4096, help="rows per measurement of --rows-scan")
    p.add_argument("--train-images", type=int, default=2048, help="training images for the tiny model")
    p.add_argument("--epochs", type=int, default=1, help="epochs for the tiny model")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    print(f"CPU: {cpu_flags()}")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {a.device}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, load {os.getloadavg()[0]:.1f}")

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = a.checkpoint
        if ckpt is None:
            t0 = time.perf_counter()
            ckpt = train_tiny(Path(tmp) / "swt-vae", a.train_images, a.epochs, a.seed)
            print(f"trained a tiny swt-vae ({a.train_images} mnist-5k images, {a.epochs} epoch) in "
                  f"{time.perf_counter() - t0:.1f} s")
        eps_grid = [round(a.eps_max * i / 10, 10) for i in range(1, 11)]
        opts = {"eps": eps_grid, "mode": a.mode, "steps": a.steps}
        link = Link.from_checkpoint(ckpt, "ideal+pgd-jammer", device=a.device, channel_options=opts)
        model = link.model
        d = model.latent_dim
        if link.folded is None:
            print("this model's decoder cannot be folded")
            return 1
        f_unf, f_fold = matmul_flops(model.decoder, d), matmul_flops(link.folded, d)
        print(f"decoder FLOPs per latent-step (forward + backward w.r.t. the input, Linear/conv layers): "
              f"unfolded {f_unf / 1e6:.2f} M, folded {f_fold / 1e6:.2f} M (channels_last="
              f"{link.folded.channels_last})")
        if a.rows_scan:
            rows_scan(model, a.repeats, a.scan_rows, a.seed)
            return 0

        x = load_dataset("mnist-5k", "test", limit=a.images).batch(range(a.images)).to(a.device)
        B = x.shape[0]
        latent_steps = len(eps_grid) * B * a.steps
        mm, mm_flop = sgemm()
        fns: dict[str, Callable[[], object]] = {
            "study": lambda: study(model, x, eps_grid, a.steps, a.study_batch, 1.0, a.seed),
            "pgd fp32": attack_path(link, x, eps_grid, a.steps, a.mode, "fp32", a.seed),
            "pgd bf16": attack_path(link, x, eps_grid, a.steps, a.mode, "bf16", a.seed),
            "sgemm": mm,
        }
        for r in a.rows:
            for prec in ("fp32", "bf16"):
                fns[f"pgd {prec} @{r} rows"] = attack_path(link, x, eps_grid, a.steps, a.mode, prec, a.seed, r)
        if not a.no_link:
            jam = next(st for st in link.channel.stages if st.needs_decoder)
            jam.max_rows = rows_per_pass("fp32", a.device)
            unf = Link.from_checkpoint(ckpt, "ideal+pgd-jammer", device=a.device, channel_options=opts, fold=False)
            next(st for st in unf.channel.stages if st.needs_decoder).max_rows = 256
            fns["link fp32"] = lambda: link(x, generator=torch.Generator().manual_seed(a.seed))
            fns["link fp32 unfolded"] = lambda: unf(x, generator=torch.Generator().manual_seed(a.seed))
        print(f"grid: {len(eps_grid)} eps x {B} images x K={a.steps} = {latent_steps} latent-steps per sweep; "
              f"rows per pass fp32 {rows_per_pass('fp32', a.device)}, bf16 {rows_per_pass('bf16', a.device)}; "
              f"{a.repeats} interleaved repetitions")
        med, cpu = timed(fns, a.repeats)

    roof = mm_flop / med["sgemm"] / f_unf  # latent-steps/s at the sgemm rate, unfolded FLOPs
    study_rate = latent_steps / med["study"]
    roof_cpu, study_cpu = mm_flop / cpu["sgemm"] / f_unf, latent_steps / cpu["study"]
    print(f"\nsgemm 2048^3 fp32: {mm_flop / med['sgemm'] / 1e9:.1f} GFLOP/s -> roofline "
          f"{roof:.0f} latent-steps/s at {f_unf / 1e6:.2f} MFLOP per step "
          f"(per CPU-second: {mm_flop / cpu['sgemm'] / 1e9:.1f} GFLOP, {roof_cpu:.0f} latent-steps)")
    print(f"{'way':20s} {'median s':>9s} {'latent-steps/s':>15s} {'x study':>8s} {'% roofline':>11s}   "
          f"per CPU-second: {'x study':>8s} {'% roofline':>11s}")
    for name in fns:
        if name == "sgemm":
            continue
        rate, rc = latent_steps / med[name], latent_steps / cpu[name]
        print(f"{name:20s} {med[name]:9.3f} {rate:15.0f} {rate / study_rate:7.2f}x {100 * rate / roof:10.1f}%   "
              f"{'':16s}{rc / study_cpu:7.2f}x {100 * rc / roof_cpu:10.1f}%")
    for label, name in (("best (bf16 search)", "pgd bf16"), ("fp32 only", "pgd fp32")):
        rate = latent_steps / med[name]
        ok5, ok50 = rate / study_rate >= 5, rate / roof >= 0.5
        print(f"targets, {label}: {rate / study_rate:.2f}x study ({'met' if ok5 else 'NOT met'}, >= 5x); "
              f"{100 * rate / roof:.1f}% of roofline ({'met' if ok50 else 'NOT met'}, >= 50%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
