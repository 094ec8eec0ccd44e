"""Wall time and peak memory of a full SNR × ε jammer sweep: our batched Link versus a study-style loop.

The sweep: channel ``awgn+pgd-jammer`` (receiver noise at each SNR, then the white-box PGD jammer on the
received symbols, then the LMMSE receiver and the decoder), an SNR grid (``--snr-db``, default ``0:20:5``,
5 points) × an ε grid (``--eps``, default ``0:1:0.1``, 11 points) × ``--n-images`` (64) images, untargeted
strong PGD with K = ``--steps`` (10) normalised L2 steps. Two ways, same model, same images:

- **ours**: ``Link(model, "awgn+pgd-jammer")`` with the whole ε grid, called once per image chunk and
  with the whole SNR grid per call, chunked as :mod:`channelae.simulate` does
  (``max_rows // (S·E)`` images per call, ``--max-rows``, default ``SimulationConfig.max_rows``). Inside,
  the jammer runs decoder passes of whole budgets (``PGDJammer.max_rows`` rows each) and does not search
  the ε = 0 budget (δ = 0 is its only point).
- **study**: a plain Python loop as a study script would write it: for each SNR, for each ε, for each batch
  of ``--study-batch`` (8) images: encode, map to symbols with the same ``Transmitter``, add complex AWGN,
  then K strong-PGD steps on the perturbation δ of the received symbols through the LMMSE receiver and
  the decoder (random start uniform in the ball, step ``2.5·ε·g/K`` along ``∇/‖∇‖``, project, keep the best
  iterate per image, one final evaluation), then decode the result.

Both do, per latent and per (SNR, ε) point, K gradient passes + 1 value pass + 1 final decode (ours skips
the search at ε = 0; the study loop runs it, and its time at ε = 0 is reported separately). Each way runs
in a fresh subprocess per repeat, so its peak memory is its own: on CPU the peak RSS (``VmHWM``, reset via
``/proc/self/clear_refs`` after loading the model and data and a 2-image warm-up; ``getrusage`` maxrss where
that is unavailable) above the RSS at that point, on CUDA ``torch.cuda.max_memory_allocated`` above the
allocated level before the sweep. Both print the mean distortion they reach
(MSE(x̂, dec(z0)), the attack's objective) so a reader can see the work is equivalent.

Run::

    .venv/bin/python benchmarks/sweep.py                  # trains a tiny model first (~30-60 s)
    .venv/bin/python benchmarks/sweep.py --quick          # smoke run, seconds
    .venv/bin/python benchmarks/sweep.py --checkpoint DIR --n-images 64 --steps 10 --repeats 2

Prints both wall times, the speed ratio (target ≥ 10×), the peak memory of each and the MSE they reach.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# See attack_throughput.py / README: OpenMP busy-waiting on a shared 2-core machine. Set before torch
# starts its thread pool; the children inherit it. An explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attack_throughput import train_tiny  # the same tiny model as the other benchmark

from channelae.grids import parse_values

TARGET = 10.0
_RESULT = "SWEEP_RESULT "


# ------------------------------------------------------------------------------------------------- helpers


def _proc_status(key: str) -> float | None:
    """``VmRSS`` (current) or ``VmHWM`` (peak) resident set size of this process, MiB (Linux only)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak RSS (VmHWM) to the current RSS (Linux ≥ 4.0); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mib() -> float:
    """Peak RSS, MiB: VmHWM (resettable) where available, else getrusage's maxrss (KiB on Linux)."""
    hwm = _proc_status("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _load(spec: dict, dev: torch.device):
    from channelae.checkpoint import load_checkpoint
    from channelae.data import dataset_info, load_dataset

    model, meta = load_checkpoint(spec["checkpoint"], device=dev)
    ds = meta.get("dataset", "mnist-5k")
    data = load_dataset(ds, dataset_info(ds).eval_split, limit=spec["n_images"])
    x = data.batch(torch.arange(len(data))).to(dev)
    return model, meta, x


# -------------------------------------------------------------------------------------------------- ours


def run_ours(spec: dict, dev: torch.device) -> dict:
    """The sweep with our batched Link, chunked over images like channelae.simulate."""
    from channelae.attacks import distance
    from channelae.link import Link

    _, _, x = _load(spec, dev)
    link = Link.from_checkpoint(spec["checkpoint"], "awgn+pgd-jammer", device=dev,
                                channel_options={"eps": spec["eps"], "steps": spec["steps"], "mode": "strong"})
    snr = torch.tensor(spec["snr_db"], dtype=torch.float32, device=dev)
    S, E, N = len(spec["snr_db"]), len(spec["eps"]), x.shape[0]
    chunk = max(1, min(N, spec["max_rows"] // (S * E)))

    # warm-up (one-time kernel / allocator set-up) on two images
    link(x[:2], snr, generator=torch.Generator(device=dev).manual_seed(1))
    _sync(dev)
    base = _memory_base(dev)

    t0 = time.perf_counter()
    mse = []
    for c, i in enumerate(range(0, N, chunk)):
        g = torch.Generator(device=dev).manual_seed((spec["seed"] * 1_000_003 + c * 7919) % (2**63 - 1))
        o = link(x[i:i + chunk], snr, generator=g)
        with torch.no_grad():
            mse.append(distance("mse", o.x_hat, o.clean))  # [S, E, b]
    _sync(dev)
    wall = time.perf_counter() - t0
    per_point = torch.cat(mse, dim=-1).double().mean(-1)  # [S, E]
    jammer = next(st for st in link.channel.stages if st.needs_decoder)
    return {"wall_s": wall, "mse": per_point.tolist(), **_memory_peak(dev, base),
            "detail": f"{math.ceil(N / chunk)} Link call(s) of <= {chunk} images; "
                      f"jammer decoder passes <= {jammer.max_rows} rows"}


# ------------------------------------------------------------------------------------------------- study


def run_study(spec: dict, dev: torch.device) -> dict:
    """The sweep as a study script would write it: one SNR, one ε, one batch of 8 at a time."""
    from channelae.link.transmitter import Transmitter

    model, meta, x = _load(spec, dev)
    for p in model.parameters():
        p.requires_grad_(False)
    d = model.latent_dim
    tx = Transmitter(float(meta["p_ref"]), d)
    gain = tx.gain
    K, batch = spec["steps"], spec["study_batch"]
    gen = torch.Generator(device=dev).manual_seed(spec["seed"])

    def receive(y: torch.Tensor, n0: float) -> torch.Tensor:
        """LMMSE equaliser for h = 1 (y / (1 + N0)), then back to latent units."""
        u = y / (1.0 + n0)
        return torch.view_as_real(u).reshape(u.shape[0], -1)[:, :d] / gain

    def attack(xb: torch.Tensor, snr_db: float, eps: float) -> torch.Tensor:
        with torch.no_grad():
            z0 = model.encode(xb)
            ref = model.decode(z0)
            s = tx(z0)  # [b, n] complex
            n0 = 10.0 ** (-snr_db / 10.0)
            w = torch.complex(torch.randn(s.shape, generator=gen, device=dev),
                              torch.randn(s.shape, generator=gen, device=dev)) * math.sqrt(n0 / 2)
            y = s + w
        n = s.shape[-1]
        r = eps * gain  # budget in symbol units
        eta = 2.5 * r / K

        def to_complex(delta: torch.Tensor) -> torch.Tensor:
            return torch.complex(delta[:, :n], delta[:, n:])

        def project(delta: torch.Tensor) -> torch.Tensor:
            norm = delta.norm(dim=-1, keepdim=True)
            return torch.where(norm > r, delta * (r / norm.clamp_min(1e-30)), delta)

        # random start uniform in the L2 ball of radius r (2n real coordinates)
        g = torch.randn(y.shape[0], 2 * n, generator=gen, device=dev)
        u = torch.rand(y.shape[0], 1, generator=gen, device=dev)
        delta = project(g / g.norm(dim=-1, keepdim=True).clamp_min(1e-30) * u.pow(1 / (2 * n)) * r)
        best = torch.zeros_like(delta)
        best_val = torch.full((y.shape[0],), -math.inf, device=dev)
        for _ in range(K):
            delta.requires_grad_(True)
            x_adv = model.decode(receive(y + to_complex(delta), n0))
            val = (x_adv - ref).square().flatten(1).mean(1)
            (grad,) = torch.autograd.grad(val.sum(), delta)
            with torch.no_grad():
                better = val > best_val
                best_val = torch.where(better, val, best_val)
                best = torch.where(better[:, None], delta, best)
                step = eta * grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-30)
                delta = project(delta + step)
        with torch.no_grad():
            val = (model.decode(receive(y + to_complex(delta), n0)) - ref).square().flatten(1).mean(1)
            best = torch.where((val > best_val)[:, None], delta, best)
            x_hat = model.decode(receive(y + to_complex(best), n0))
            return (x_hat - ref).square().flatten(1).mean(1)  # MSE(x̂, dec(z0)) per image

    attack(x[:2], spec["snr_db"][0], spec["eps"][-1])  # warm-up
    _sync(dev)
    base = _memory_base(dev)

    S, E = len(spec["snr_db"]), len(spec["eps"])
    mse = torch.zeros(S, E, dtype=torch.float64)
    t_eps = [0.0] * E
    t0 = time.perf_counter()
    for si, snr_db in enumerate(spec["snr_db"]):
        for ei, eps in enumerate(spec["eps"]):
            t1 = time.perf_counter()
            vals = [attack(x[i:i + batch], snr_db, eps) for i in range(0, x.shape[0], batch)]
            mse[si, ei] = torch.cat(vals).double().mean().item()  # .item() syncs on CUDA
            t_eps[ei] += time.perf_counter() - t1
    _sync(dev)
    wall = time.perf_counter() - t0
    zero = sum(t for t, e in zip(t_eps, spec["eps"]) if e == 0)
    return {"wall_s": wall, "wall_eps0_s": zero, "mse": mse.tolist(), **_memory_peak(dev, base),
            "detail": f"batch {batch}, one SNR and one eps at a time"}


# ------------------------------------------------------------------------------------------------ memory


def _memory_base(dev: torch.device) -> dict:
    """Memory level before the sweep. The peak RSS is reset to the current RSS where the kernel allows
    (loading the data set and model has a transient peak above what stays resident); otherwise the delta is
    against the peak so far, a lower bound."""
    reset = _reset_peak_rss()
    now = _proc_status("VmRSS") if reset else None
    base = {"rss": now if now is not None else _peak_rss_mib(), "reset": reset}
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        base["cuda"] = torch.cuda.memory_allocated(dev) / 2**20
    return base


def _memory_peak(dev: torch.device, base: dict) -> dict:
    peak = _peak_rss_mib()
    out = {"rss_base_mib": base["rss"], "rss_peak_mib": peak, "rss_delta_mib": peak - base["rss"],
           "rss_peak_reset": base["reset"]}
    if dev.type == "cuda":
        out["cuda_peak_delta_mib"] = torch.cuda.max_memory_allocated(dev) / 2**20 - base["cuda"]
    return out


def child(spec: dict) -> int:
    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    dev = torch.device(spec["device"])
    torch.manual_seed(spec["seed"])
    res = (run_ours if spec["path"] == "ours" else run_study)(spec, dev)
    res["threads"] = torch.get_num_threads()
    print(_RESULT + json.dumps(res), flush=True)
    return 0


# ------------------------------------------------------------------------------------------------ parent


def _spawn(spec: dict) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                          capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(_RESULT)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"the {spec['path']} run failed (exit {proc.returncode})")
    return json.loads(lines[-1][len(_RESULT):])


def _load_str() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        return child(json.loads(argv[1]))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, help="trained checkpoint dir (default: train a tiny one)")
    p.add_argument("--n-images", type=int, default=64, help="images swept (default 64)")
    p.add_argument("--snr-db", default="0:20:5", help="SNR grid in dB (default 0:20:5, 5 points)")
    p.add_argument("--eps", default="0:1:0.1", help="jammer budget grid, latent L2 (default 0:1:0.1)")
    p.add_argument("--steps", type=int, default=10, help="PGD steps K (default 10)")
    p.add_argument("--study-batch", type=int, default=8, help="the study loop's batch (8)")
    p.add_argument("--max-rows", type=int, default=0,
                   help="our decoder rows per Link call, S·E·B (0: SimulationConfig.max_rows)")
    p.add_argument("--repeats", type=int, default=1,
                   help="runs of each way, alternating, each in a fresh process (fastest time reported)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-images", type=int, default=2048, help="training images for the tiny model")
    p.add_argument("--epochs", type=int, default=1, help="epochs for the tiny model")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 8 images, SNR 0,10, eps 0,0.5,1, K=2, a tiny model on 256 images")
    a = p.parse_args(argv)
    if a.quick:
        a.n_images, a.snr_db, a.eps, a.steps, a.train_images = 8, "0,10", "0,0.5,1", 2, 256
    from channelae.simulate import SimulationConfig

    snr = parse_values(a.snr_db, "--snr-db")
    eps = parse_values(a.eps, "--eps")
    spec = {"n_images": a.n_images, "snr_db": snr, "eps": eps, "steps": a.steps, "study_batch": a.study_batch,
            "max_rows": a.max_rows or SimulationConfig.max_rows, "device": a.device, "threads": a.threads,
            "seed": a.seed}
    load0 = _load_str()

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = a.checkpoint
        if ckpt is None:
            t0 = time.perf_counter()
            ckpt = train_tiny(Path(tmp) / "swt-vae", a.train_images, a.epochs, a.seed)
            print(f"trained a tiny swt-vae ({a.train_images} mnist-5k images, {a.epochs} epoch) in "
                  f"{time.perf_counter() - t0:.1f} s")
        spec["checkpoint"] = str(ckpt)
        runs: dict[str, list[dict]] = {"ours": [], "study": []}
        for _ in range(a.repeats):
            for path, done in runs.items():
                done.append(_spawn({**spec, "path": path}))

    S, E = len(snr), len(eps)
    best = {k: min(v, key=lambda r: r["wall_s"]) for k, v in runs.items()}
    o, s = best["ours"], best["study"]
    mse_o, mse_s = torch.tensor(o["mse"]), torch.tensor(s["mse"])
    mem = "cuda_peak_delta_mib" if a.device.startswith("cuda") else "rss_delta_mib"
    mem_name = "CUDA max_memory_allocated above base" if mem.startswith("cuda") else "peak RSS above base"

    print(f"torch {torch.__version__}, device {a.device}, threads {o['threads']}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"load avg (1/5/15 min) before {load0}, after {_load_str()}, {os.cpu_count()} CPUs")
    print(f"sweep: channel awgn+pgd-jammer (strong, L2, K={a.steps}), {S} SNR {snr} dB x {E} eps "
          f"{eps} x {a.n_images} images = {S * E * a.n_images} attacked latents; fastest of {a.repeats}")
    print(f"ours  ({o['detail']}): {o['wall_s']:8.2f} s   {mem_name} {o[mem]:8.1f} MiB "
          f"(RSS {o['rss_base_mib']:.0f} -> peak {o['rss_peak_mib']:.0f} MiB)")
    print(f"study ({s['detail']}): {s['wall_s']:8.2f} s   {mem_name} {s[mem]:8.1f} MiB "
          f"(RSS {s['rss_base_mib']:.0f} -> peak {s['rss_peak_mib']:.0f} MiB)")
    if not (o["rss_peak_reset"] and s["rss_peak_reset"]):
        print("  (peak RSS could not be reset here: deltas are against the peak after loading, lower bounds)")
    if a.repeats > 1:
        print("all runs (s): ours " + ", ".join(f"{r['wall_s']:.2f}" for r in runs["ours"]) +
              "; study " + ", ".join(f"{r['wall_s']:.2f}" for r in runs["study"]))
    print("mean MSE(x_hat, dec(z0)) per eps, averaged over SNR and images:")
    print("  eps   " + " ".join(f"{e:>9.3g}" for e in eps))
    print("  ours  " + " ".join(f"{v:9.3e}" for v in mse_o.mean(0).tolist()))
    print("  study " + " ".join(f"{v:9.3e}" for v in mse_s.mean(0).tolist()))
    print(f"  over the whole grid: ours {mse_o.mean():.4e}, study {mse_s.mean():.4e} "
          f"(ratio {float(mse_o.mean() / mse_s.mean()):.3f})")
    ratio = s["wall_s"] / o["wall_s"]
    print(f"speed ratio study/ours: {ratio:.2f}x (target >= {TARGET:g}x)")
    if s.get("wall_eps0_s"):
        print(f"  without the study's eps = 0 points ({s['wall_eps0_s']:.2f} s, which ours does not search): "
              f"{(s['wall_s'] - s['wall_eps0_s']) / o['wall_s']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
