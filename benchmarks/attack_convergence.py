"""Is the default jammer converged? Its damage against the same attack with 10× the steps and 5 restarts.

For each budget grid (link units: L2 norm of the symbol perturbation with Es = 1, so JSR = ε²/n) and SNR,
on the cached default model (swt-vae on mnist-5k; trained first via ``channelae.zoo.ensure_model`` when
missing) and the first ``--n-images`` test images, attacked ``--chunk`` (32, simulate's default chunk) at a
time:

- run the PGD jammer with its defaults (``PGDJammer()``: mode, steps, starts, restarts as shipped, or
  ``--steps`` / ``--starts`` / ``--restarts``), untargeted MSE against ``dec(z0)``, all budgets of the grid in
  one batched call per chunk;
- run the *same attack* with ``--ref-factor`` (10) × the steps and ``--ref-restarts`` (5) restarts (or an
  explicit reference: ``--ref-steps``), each restart exploring ``--ref-starts`` (10) *random* starts and no
  curvature directions (``--ref-curvature 0``): a reference that does not share the measured attack's
  curvature starts (the default's before they existed: 10 random starts). Reference perturbations are cached on disk
  (``--cache``, keyed by checkpoint weights, images, grid, SNR, attack settings and seed), so a reference is
  computed once and every later comparison against it costs only the default attack;
- evaluate both perturbations on the same channel draws: ``--eval-draws`` (16) independent AWGN draws per
  image at finite SNR, none noiseless (common random numbers, from their own generator, so the comparison
  is paired), as the mean over images and draws of ``MSE(x̂, dec(z0))`` (the damage);
- print, per ε: the damage of both, their ratio (the bar: ≥ 0.98 at every ε > 0), the ratio of the damage
  *above the noise-only floor* (ε = 0 row; stricter, shown for information), a paired 95 % interval of the
  ratio over images (the measurement's own noise), the search's convergence diagnostic (mean distance after
  K/2 and K steps, ``PGDJammer.last_diagnostics``), and the wall and CPU time of each attack.

``--modes apgd,strong`` measures other modes the same way (each against its own 10×/5-restart run).
``--bf16`` also runs the measured attack with a bf16 search (``attack_precision="bf16"``) and prints the
relative change of the mean damage over the grid's ε > 0 against the measured one; with ``--precision fp32``
that is the precision issue's bar (< 1 %). The search precision (resolved: ``auto`` is bf16 on a CPU with
native bf16) is part of both attacks and of the reference's cache key.

Run::

    .venv/bin/python benchmarks/attack_convergence.py                       # grid 0…0.5, inf and 10 dB
    .venv/bin/python benchmarks/attack_convergence.py --n-images 128 --snr 10 --steps 40 --starts 5
    .venv/bin/python benchmarks/attack_convergence.py --ref-steps 600 --ref-starts 10   # a fixed reference

Exit status 1 when ``--fail`` is given and a bar failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see benchmarks/README.md (thread pitfall)

import torch

from channelae.attacks import resolve_precision
from channelae.channels.awgn import AWGN
from channelae.channels.base import ChannelState
from channelae.channels.pgd_jammer import PGDJammer
from channelae.data import load_dataset
from channelae.definitions import link_eps_to_jsr_db
from channelae.link import Link

DEFAULT_CACHE = Path.home() / ".cache" / "channelae" / "bench" / "attack_convergence"


def _jammer(link: Link) -> PGDJammer:
    return next(s for s in link.channel.stages if isinstance(s, PGDJammer))


def run_attack(ckpt: str, x: torch.Tensor, eps: list[float], snr: float, seed: int, **options) -> tuple:
    """δ ``[1, E, B, n]`` (symbols), the jammer's diagnostics, the link output, the link, wall and CPU s."""
    link = Link.from_checkpoint(ckpt, "pgd-jammer", channel_options={"eps": eps, **options})
    t0, c0 = time.perf_counter(), time.process_time()
    out = link(x, [snr], generator=torch.Generator().manual_seed(seed))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    jam = _jammer(link)
    return jam.last_delta, jam.last_diagnostics, out, link, wall, cpu


@torch.no_grad()
def damage(link: Link, s: torch.Tensor, clean: torch.Tensor, delta: torch.Tensor, snr: float, draws: int,
           seed: int) -> torch.Tensor:
    """``MSE(x̂, dec(z0))`` per budget and image ``[E, B]`` (float64), averaged over ``draws`` AWGN draws
    (none noiseless) from a generator seeded with ``seed`` (the same draws for every attack: paired)."""
    y = s + delta[0]  # rx placement, no fading: [E, B, n]
    m = 1 if math.isinf(snr) else draws
    y = y.unsqueeze(0).expand(m, *y.shape)  # [M, E, B, n]
    g = torch.Generator().manual_seed(seed)
    state = AWGN().apply(ChannelState.start(y), torch.full((m,), snr), generator=g)
    xh = link.decode_state(state)  # [M, E, B, C, H, W]
    return (xh - clean).square().flatten(-3).mean(-1).double().mean(0)


def _weights_sha(ckpt: str) -> str:
    from channelae.checkpoint import resolve_checkpoint

    h = hashlib.sha256()
    with open(resolve_checkpoint(ckpt)[0], "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def reference(ckpt: str, sha: str, x: torch.Tensor, first: int, eps: list[float], snr: float, seed: int,
              cache: Path | None, **options) -> tuple[torch.Tensor, float, float, bool]:
    """The reference attack's δ ``[1, E, B, n]`` on images ``x`` (test images ``first …``), from ``cache``
    when it was computed before with the same settings; wall and CPU s of computing it; whether cached."""
    # curvature 0 and eot 1 are left out of the key: references cached before the options existed
    key = json.dumps({"weights": sha, "first": first, "n": int(x.shape[0]), "eps": eps, "snr": snr,
                      "seed": seed, **{k: options[k] for k in sorted(options)
                                       if not (k in ("curvature", "eot") and options[k] in (0, 1))}},
                     sort_keys=True)
    path = None
    if cache is not None:
        path = cache / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.safetensors"
        if path.exists():
            from safetensors import safe_open

            with safe_open(str(path), "pt") as fh:
                meta = fh.metadata() or {}
                delta = fh.get_tensor("delta")
            print(f"# reference from the cache: {path.name} (computed {meta.get('created', '?')} at commit "
                  f"{meta.get('commit', '?')}; delete it after changing the attack's code)")
            return delta, 0.0, 0.0, True
    delta, _, _, _, wall, cpu = run_attack(ckpt, x, eps, snr, seed, **options)
    if path is not None:
        from safetensors.torch import save_file

        from channelae.io import atomic_path

        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file({"delta": delta.contiguous()}, str(tmp),
                      metadata={"key": key, "created": time.strftime("%Y-%m-%d %H:%M"), "commit": _commit()})
    return delta, wall, cpu, False


def _commit() -> str:
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "channelae/attacks.py",
                                "channels/pgd_jammer.py"], check=False, capture_output=True, text=True,
                               cwd=Path(__file__).parent.parent, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return (head or "?") + ("+modified" if dirty else "")


def _fmt(v: float) -> str:
    return "-inf" if v == -math.inf else f"{v:.2f}"


def _ratio_ci(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """95 % interval of ``mean(a)/mean(b)`` over paired images (delta method, t quantile ≈ 1.96–2.04)."""
    n = a.numel()
    ma, mb = float(a.mean()), float(b.mean())
    r = ma / mb
    resid = (a - r * b) / mb  # linearisation of the ratio per image
    se = float(resid.std(unbiased=True)) / math.sqrt(n) if n > 1 else float("nan")
    t = 1.96 if n > 60 else 2.04
    return r - t * se, r + t * se


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", help="checkpoint directory (default: the cached default model)")
    ap.add_argument("--grids", default="0.5", help="largest ε of each grid 0…E in 10 steps (link units)")
    ap.add_argument("--snr", default="inf,10", help="SNR points (dB Es/N0), each its own run")
    ap.add_argument("--n-images", type=int, default=32, help="first test images (simulate's default: 32)")
    ap.add_argument("--chunk", type=int, default=32, help="images per attack call (simulate's default: 32)")
    ap.add_argument("--modes", default="", help="modes to measure (default: the jammer's default mode)")
    ap.add_argument("--steps", type=int, default=None, help="steps of the measured attack (default: its own)")
    ap.add_argument("--starts", type=int, default=None, help="explored starts of the measured attack (apgd)")
    ap.add_argument("--restarts", type=int, default=None, help="restarts of the measured attack")
    ap.add_argument("--precision", default=None, help="search precision of the measured attack (fp32, bf16, "
                    "auto; default: the jammer's); with --bf16, pass fp32 here for the precision bar")
    ap.add_argument("--ref-factor", type=int, default=10, help="reference: this many times the steps")
    ap.add_argument("--ref-restarts", type=int, default=5, help="reference: this many restarts")
    ap.add_argument("--ref-steps", type=int, default=None, help="reference steps (instead of --ref-factor)")
    ap.add_argument("--ref-starts", type=int, default=10, help="reference explored starts (random; default 10)")
    ap.add_argument("--ref-curvature", type=int, default=0, help="reference curvature directions (default 0: "
                    "random starts only, a reference independent of the measured attack's curvature starts)")
    ap.add_argument("--eot", type=int, default=None, help="channel draws per search step of the measured attack "
                    "(default: its own, 2 through a random link)")
    ap.add_argument("--ref-eot", type=int, default=1, help="reference: channel draws per search step (default 1)")
    ap.add_argument("--curvature", type=int, default=None, help="curvature directions of the measured attack")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="directory of cached reference perturbations "
                    "('' = none)")
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
    sha = _weights_sha(ckpt)
    cache = Path(args.cache).expanduser() if args.cache else None
    default = PGDJammer(eps=0.0)
    modes = [m for m in args.modes.split(",") if m] or [default.mode]
    grids = [float(g) for g in args.grids.split(",")]
    snrs = [float(s) for s in args.snr.split(",")]
    data = load_dataset("mnist-5k", "test", limit=args.n_images)
    chunks = [(c, data.batch(range(c, min(args.n_images, c + args.chunk))))
              for c in range(0, args.n_images, args.chunk)]
    n_sym = (Link.from_checkpoint(ckpt, "ideal").model.latent_dim + 1) // 2
    from channelae.attacks import _cpu_flags

    flags = sorted({"avx512_bf16", "amx_bf16", "avx512f", "avx2"} & _cpu_flags())
    print(f"# checkpoint {ckpt}; {args.n_images} images in chunks of {args.chunk}; n = {n_sym} symbols; "
          f"threads {args.threads}; torch {torch.__version__}; cpu flags {' '.join(flags)}; "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"# shipped jammer: mode={default.mode} steps={default.steps} starts={default.starts} "
          f"curvature={default.curvature} restarts={default.restarts} eot={default.eot} "
          f"precision={default.attack_precision}; "
          f"evaluation: {args.eval_draws} AWGN draws per image at finite SNR")
    failed = False
    for mode in modes:
        kw = {"steps": args.steps} if args.steps else {}
        if args.starts:
            kw["starts"] = args.starts
        if args.curvature is not None:
            kw["curvature"] = args.curvature
        if args.eot:
            kw["eot"] = args.eot
        probe = PGDJammer(eps=0.0, mode=mode, **kw)
        steps, starts, curvature, eot = probe.steps, probe.starts, probe.curvature, probe.eot
        restarts = args.restarts or probe.restarts
        ref_steps = args.ref_steps or steps * args.ref_factor
        ref_starts = args.ref_starts if mode == "apgd" else 1
        precision = resolve_precision(args.precision or default.attack_precision)
        for top in grids:
            eps = [top * i / 10 for i in range(11)]
            for snr in snrs:
                opts = {"mode": mode, "steps": steps, "restarts": restarts, "starts": starts,
                        "curvature": curvature, "attack_precision": precision, "eot": eot}
                dmg, ref, bf = [], [], []
                t_def = c_def = t_ref = c_ref = t_bf = 0.0
                cached = True
                diag_sum = None
                for first, x in chunks:
                    seed_c = args.seed + 7919 * first
                    runs = [run_attack(ckpt, x, eps, snr, seed_c + k, **opts) for k in range(args.seeds)]
                    _, diag, out, link, _, _ = runs[0]
                    t_def += sum(r[4] for r in runs) / args.seeds
                    c_def += sum(r[5] for r in runs) / args.seeds
                    w = x.shape[0]
                    half, fin = diag["distance_half"][0] * w, diag["distance_final"][0] * w
                    diag_sum = (half, fin) if diag_sum is None else (diag_sum[0] + half, diag_sum[1] + fin)
                    ev = args.seed + 1 + first

                    def dm(delta, link=link, out=out, ev=ev, snr=snr):
                        return damage(link, out.s, out.clean, delta, snr, args.eval_draws, ev)

                    dmg.append(sum(dm(r[0]) for r in runs) / args.seeds)
                    if not args.no_ref:
                        d_ref, tw, tc, hit = reference(ckpt, sha, x, first, eps, snr, args.seed + 1000 + first, cache,
                                                       mode=mode, steps=ref_steps, restarts=args.ref_restarts,
                                                       starts=ref_starts, curvature=args.ref_curvature,
                                                       eot=args.ref_eot, attack_precision=precision)
                        t_ref, c_ref, cached = t_ref + tw, c_ref + tc, cached and hit
                        ref.append(dm(d_ref))
                    if args.bf16:
                        bf_runs = [run_attack(ckpt, x, eps, snr, seed_c + k, **{**opts, "attack_precision": "bf16"})
                                   for k in range(args.seeds)]
                        t_bf += bf_runs[0][4]
                        bf.append(sum(dm(r[0]) for r in bf_runs) / args.seeds)
                dmg_i = torch.cat(dmg, dim=-1)  # [E, N]
                d_mean = dmg_i.mean(-1)
                half, fin = diag_sum[0] / args.n_images, diag_sum[1] / args.n_images
                print(f"\n## mode {mode}, K={steps}, starts={starts} (curvature {curvature}), R={restarts}, "
                      f"eot={diag['eot']}, "
                      f"precision {diag['precision']}; grid 0…{top} (link units); SNR {snr:g} dB; "
                      f"load {os.getloadavg()[0]:.2f}")
                print(f"default: wall {t_def:.2f} s, CPU {c_def:.2f} s (all chunks)")
                ref_i = None
                if ref:
                    ref_i = torch.cat(ref, dim=-1)
                    print(f"reference: K={ref_steps}, starts={ref_starts} (curvature {args.ref_curvature}), "
                          f"R={args.ref_restarts}, eot={args.ref_eot}: "
                          + ("cached" if cached else f"wall {t_ref:.1f} s, CPU {c_ref:.1f} s"))
                if bf:
                    print(f"bf16 search: wall {t_bf:.2f} s")
                head = "| ε (link) | JSR dB | damage | search K/2 → K |"
                if ref_i is not None:
                    head += " reference | ratio [95 % CI] | ratio above ε=0 |"
                if bf:
                    head += " bf16 damage | bf16/default |"
                print(head)
                print("|" + "---|" * (head.count("|") - 1))
                floor = d_mean[0]
                ratios, ex_ratios = [], []
                bf_mean = torch.cat(bf, dim=-1).mean(-1) if bf else None
                for i, e in enumerate(eps):
                    jsr = float(link_eps_to_jsr_db(e, n_sym))
                    h, f = float(half[i]), float(fin[i])
                    row = f"| {e:.3g} | {_fmt(jsr)} | {float(d_mean[i]):.5f} | "
                    row += "—" if math.isnan(h) else f"{h:.5f} → {f:.5f}"
                    row += " |"
                    if ref_i is not None:
                        r_mean = ref_i.mean(-1)
                        if e > 0:
                            r = float(d_mean[i] / r_mean[i])
                            lo, hi = _ratio_ci(dmg_i[i], ref_i[i])
                            rx = float((d_mean[i] - floor) / (r_mean[i] - floor))
                            ratios.append(r)
                            ex_ratios.append(rx)
                            row += f" {float(r_mean[i]):.5f} | {r:.4f} [{lo:.3f}, {hi:.3f}] | {rx:.4f} |"
                        else:
                            row += f" {float(r_mean[i]):.5f} | — | — |"
                    if bf_mean is not None:
                        rel = float(bf_mean[i] / d_mean[i]) if e > 0 else float("nan")
                        row += f" {float(bf_mean[i]):.5f} | {rel:.4f} |"
                    print(row)
                if ratios:
                    ok = min(ratios) >= 0.98
                    failed |= not ok
                    print(f"min ratio {min(ratios):.4f} (above the ε = 0 floor: {min(ex_ratios):.4f}); "
                          f"mean {sum(ratios) / len(ratios):.4f}  →  {'PASS' if ok else 'FAIL'} (bar ≥ 0.98)")
                if bf_mean is not None:
                    rel = float(bf_mean[1:].mean() / d_mean[1:].mean() - 1)
                    ok = abs(rel) < 0.01
                    print(f"bf16 search: mean damage over ε > 0 changed by {100 * rel:+.2f} % → "
                          f"{'PASS' if ok else 'FAIL'} (bar |change| < 1 %)")
                sys.stdout.flush()
    return 1 if (failed and args.fail) else 0


if __name__ == "__main__":
    sys.exit(main())
