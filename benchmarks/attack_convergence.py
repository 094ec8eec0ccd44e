"""Is the default jammer converged? Its damage against the same attack with 10× the steps and 5 restarts.

For each budget grid (link units: L2 norm of the symbol perturbation with Es = 1, so JSR = ε²/n) and SNR,
on the cached default model (swt-vae on mnist-5k; trained first via ``channelae.zoo.ensure_model`` when
missing) and the first ``--n-images`` test images:

- run the PGD jammer with its defaults (``PGDJammer()``: mode, steps, restarts as shipped), untargeted MSE
  against ``dec(z0)``, all budgets of the grid in one batched call;
- run the *same attack* with ``--ref-factor`` (10) × the steps and ``--ref-restarts`` (5) restarts;
- evaluate both perturbations on the same channel draws: ``--eval-draws`` (16) independent AWGN draws per
  image at finite SNR, none noiseless (common random numbers, from their own generator, so the comparison
  is paired), as the mean over images and draws of ``MSE(x̂, dec(z0))`` (the damage);
- print, per ε: the damage of both, their ratio (the bar: ≥ 0.98 at every ε > 0), the ratio of the damage
  *above the noise-only floor* (ε = 0 row; stricter, shown for information), the search's own convergence
  diagnostic (mean distance after K/2 and K steps, ``PGDJammer.last_diagnostics``), and the wall time of
  each attack.

``--modes apgd,strong`` measures other modes the same way (each against its own 10×/5-restart run).
``--bf16`` also runs the default attack with a bf16 search (``attack_precision="bf16"``) and prints the
relative change of the mean damage over the grid's ε > 0 (the precision issue's bar: < 1 %).

Run::

    .venv/bin/python benchmarks/attack_convergence.py                       # grids 0…0.5 and 0…2, inf and 10 dB
    .venv/bin/python benchmarks/attack_convergence.py --grids 0.5 --snr inf --bf16

Exit status 1 when ``--fail`` is given and a bar failed.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see benchmarks/README.md (thread pitfall)

import torch

from channelae.channels.awgn import AWGN
from channelae.channels.base import ChannelState
from channelae.channels.pgd_jammer import PGDJammer
from channelae.data import load_dataset
from channelae.definitions import link_eps_to_jsr_db
from channelae.link import Link


def _jammer(link: Link) -> PGDJammer:
    return next(s for s in link.channel.stages if isinstance(s, PGDJammer))


def run_attack(ckpt: str, x: torch.Tensor, eps: list[float], snr: float, seed: int, **options) -> tuple:
    """δ ``[1, E, B, n]`` (symbols), the jammer's diagnostics, the link output and the wall time (s)."""
    link = Link.from_checkpoint(ckpt, "pgd-jammer", channel_options={"eps": eps, **options})
    t0 = time.perf_counter()
    out = link(x, [snr], generator=torch.Generator().manual_seed(seed))
    wall = time.perf_counter() - t0
    jam = _jammer(link)
    return jam.last_delta, jam.last_diagnostics, out, link, wall


@torch.no_grad()
def damage(link: Link, out, delta: torch.Tensor, snr: float, draws: int, seed: int) -> torch.Tensor:
    """Mean over images and ``draws`` AWGN draws of ``MSE(x̂, dec(z0))`` per budget ``[E]`` (float64)."""
    s = out.s  # [B, n]
    y = s + delta[0]  # rx placement, no fading: [E, B, n]
    m = 1 if math.isinf(snr) else draws
    y = y.unsqueeze(0).expand(m, *y.shape)  # [M, E, B, n]
    state = ChannelState.start(y)
    g = torch.Generator().manual_seed(seed)  # the same draws for every attack (paired comparison)
    snr_t = torch.full((m,), snr)
    state = AWGN().apply(state, snr_t, generator=g)
    xh = link.decode_state(state)  # [M, E, B, C, H, W]
    mse = (xh - out.clean).square().flatten(-3).mean(-1)  # [M, E, B]
    return mse.double().mean((0, 2))


def _fmt(v: float) -> str:
    return "-inf" if v == -math.inf else f"{v:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", help="checkpoint directory (default: the cached default model)")
    ap.add_argument("--grids", default="0.5,2", help="largest ε of each grid 0…E in 10 steps (link units)")
    ap.add_argument("--snr", default="inf,10", help="SNR points (dB Es/N0), each its own run")
    ap.add_argument("--n-images", type=int, default=32, help="first test images (simulate's default: 32)")
    ap.add_argument("--modes", default="", help="modes to measure (default: the jammer's default mode)")
    ap.add_argument("--steps", type=int, default=None, help="steps of the measured attack (default: its own)")
    ap.add_argument("--restarts", type=int, default=None, help="restarts of the measured attack")
    ap.add_argument("--ref-factor", type=int, default=10, help="reference: this many times the steps")
    ap.add_argument("--ref-restarts", type=int, default=5, help="reference: this many restarts")
    ap.add_argument("--eval-draws", type=int, default=16, help="AWGN draws per image in the evaluation")
    ap.add_argument("--bf16", action="store_true", help="also run the default attack with a bf16 search")
    ap.add_argument("--no-ref", action="store_true", help="skip the reference runs (e.g. only --bf16)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=1,
                    help="runs of the default (and bf16) attack with seeds seed, seed+1, ...: damage averaged")
    ap.add_argument("--fail", action="store_true", help="exit 1 when a bar failed")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    if args.checkpoint:
        ckpt = args.checkpoint
    else:
        from channelae.zoo import ensure_model

        ckpt = str(ensure_model(progress=False))
    default = PGDJammer(eps=0.0)
    modes = [m for m in args.modes.split(",") if m] or [default.mode]
    grids = [float(g) for g in args.grids.split(",")]
    snrs = [float(s) for s in args.snr.split(",")]
    x = load_dataset("mnist-5k", "test", limit=args.n_images).batch(range(args.n_images))
    n_sym = (Link.from_checkpoint(ckpt, "ideal").model.latent_dim + 1) // 2
    from channelae.attacks import _cpu_flags

    flags = sorted({"avx512_bf16", "amx_bf16", "avx512f", "avx2"} & _cpu_flags())
    print(f"# checkpoint {ckpt}; {args.n_images} images; n = {n_sym} symbols; threads {args.threads}; "
          f"torch {torch.__version__}; cpu flags {' '.join(flags)}; load {os.getloadavg()[0]:.2f}")
    print(f"# default jammer: mode={default.mode} steps={default.steps} starts={default.starts} "
          f"restarts={default.restarts} eot={default.eot} precision={default.attack_precision}; "
          f"reference: the same with {args.ref_factor}x steps, "
          f"{args.ref_restarts} restarts; evaluation: {args.eval_draws} AWGN draws per image at finite SNR")
    failed = False
    for mode in modes:
        probe = PGDJammer(eps=0.0, mode=mode, **({"steps": args.steps} if args.steps else {}))
        steps = probe.steps
        restarts = args.restarts or probe.restarts
        for top in grids:
            eps = [top * i / 10 for i in range(11)]
            for snr in snrs:
                opts = {"mode": mode, "steps": steps, "restarts": restarts}
                runs = [run_attack(ckpt, x, eps, snr, args.seed + k, **opts) for k in range(args.seeds)]
                _, diag, out, link, t_def = runs[0]
                dmg = sum(damage(link, out, r[0], snr, args.eval_draws, args.seed + 1) for r in runs) / args.seeds
                line = (f"\n## mode {mode}, K={steps}, R={restarts}, starts={diag['starts']}, eot={diag['eot']}; "
                        f"grid 0…{top} (link units); SNR {snr:g} dB")
                print(line)
                ref = None
                if not args.no_ref:
                    d_ref, _, _, _, t_ref = run_attack(ckpt, x, eps, snr, args.seed + 1000, mode=mode,
                                                       steps=steps * args.ref_factor,
                                                       restarts=args.ref_restarts)
                    ref = damage(link, out, d_ref, snr, args.eval_draws, args.seed + 1)
                    print(f"wall: default {t_def:.2f} s, reference {t_ref:.2f} s")
                else:
                    print(f"wall: default {t_def:.2f} s")
                bf = None
                if args.bf16:
                    bf_runs = [run_attack(ckpt, x, eps, snr, args.seed + k, attack_precision="bf16", **opts)
                               for k in range(args.seeds)]
                    t_bf = bf_runs[0][4]
                    bf = sum(damage(link, out, r[0], snr, args.eval_draws, args.seed + 1)
                             for r in bf_runs) / args.seeds
                    print(f"wall: bf16 search {t_bf:.2f} s")
                head = "| ε (link) | JSR dB | damage | search K/2 → K |"
                if ref is not None:
                    head += " reference | ratio | ratio above ε=0 |"
                if bf is not None:
                    head += " bf16 damage | bf16/fp32 |"
                print(head)
                print("|" + "---|" * (head.count("|") - 1))
                floor = dmg[0]
                ratios, ex_ratios = [], []
                for i, e in enumerate(eps):
                    jsr = float(link_eps_to_jsr_db(e, n_sym))
                    half = float(diag["distance_half"][0, i])
                    fin = float(diag["distance_final"][0, i])
                    row = f"| {e:.3g} | {_fmt(jsr)} | {float(dmg[i]):.5f} | "
                    row += "—" if math.isnan(half) else f"{half:.5f} → {fin:.5f}"
                    row += " |"
                    if ref is not None:
                        if e > 0:
                            r = float(dmg[i] / ref[i])
                            rx = float((dmg[i] - floor) / (ref[i] - floor))
                            ratios.append(r)
                            ex_ratios.append(rx)
                            row += f" {float(ref[i]):.5f} | {r:.4f} | {rx:.4f} |"
                        else:
                            row += f" {float(ref[i]):.5f} | — | — |"
                    if bf is not None:
                        row += f" {float(bf[i]):.5f} | {float(bf[i] / dmg[i]) if e > 0 else float('nan'):.4f} |"
                    print(row)
                if ratios:
                    ok = min(ratios) >= 0.98
                    failed |= not ok
                    print(f"min ratio {min(ratios):.4f} (above the ε = 0 floor: {min(ex_ratios):.4f}); "
                          f"mean {sum(ratios) / len(ratios):.4f}  →  {'PASS' if ok else 'FAIL'} (bar ≥ 0.98)")
                if bf is not None:
                    rel = float(bf[1:].mean() / dmg[1:].mean() - 1)
                    ok = abs(rel) < 0.01
                    print(f"bf16 search: mean damage over ε > 0 changed by {100 * rel:+.2f} % → "
                          f"{'PASS' if ok else 'FAIL'} (bar |change| < 1 %)")
                sys.stdout.flush()
    return 1 if (failed and args.fail) else 0


if __name__ == "__main__":
    sys.exit(main())
