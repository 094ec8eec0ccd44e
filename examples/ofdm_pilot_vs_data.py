"""Paired comparison of two jammed simulations of one ``channelae run`` (default: pilot vs data jamming of
``configs/ofdm_jamming.toml``): per (SNR, JSR) the mean per-image difference A − B of a metric with its 95 %
Student-t interval, and which jammer does more damage.

Why paired: the simulations of a config run use the same images, seed and channel realisations (common random
numbers: every link of a chunk draws from a generator seeded with ``(seed, chunk)``, and the OFDM channel,
each jammer and the receiver noise take their draws in the same order whatever the jammer selects), so image
``i`` of simulation A and image ``i`` of simulation B saw the same channel and noise. The difference per
image removes the image-to-image and channel-to-channel spread from the comparison, and the t-interval of
the mean difference over images is valid. The script checks the premise: the jammer-free rows (ε = 0) of the
two simulations must agree image by image, and their SNR and JSR grids must be equal.

Reads ``<run>/<model>/<A>/per_image.safetensors`` and ``.../<B>/...`` (``{link}.{metric}``, float64
``[S, E, N]``) and the ``results.json`` next to them; prints the table and writes
``<run>/paired_<A>_vs_<B>.json``.

    python examples/ofdm_pilot_vs_data.py results/ofdm_jamming-mnist-5k
    python examples/ofdm_pilot_vs_data.py RUN --a partial-band --b data --metric mse --link noise
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import torch

from channelae.curves import mean_ci
from channelae.errors import UsageError
from channelae.results import PER_IMAGE_NAME, load, write_json


def _per_image(folder: Path, key: str) -> torch.Tensor:
    from safetensors.torch import load_file

    f = folder / PER_IMAGE_NAME
    if not f.exists():
        raise UsageError(f"no {PER_IMAGE_NAME} in {folder} (run the config first)", "RUN")
    tensors = load_file(str(f))
    if key not in tensors:
        raise UsageError(f"{f} has no {key!r}; it has {', '.join(sorted(tensors))}", "--link/--metric")
    return tensors[key].double()


def _model_dir(run: Path, model: str | None) -> Path:
    if model is not None:
        return run / model
    models = sorted(p for p in run.iterdir() if p.is_dir())
    if len(models) != 1:
        raise UsageError(f"{run} holds {len(models)} model folders; name one with --model", "--model")
    return models[0]


def compare(run: str | Path, a: str = "pilots", b: str = "data", metric: str = "ssim", link: str = "jammer",
            model: str | None = None) -> dict[str, Any]:
    """Paired A − B of ``metric`` (per image, same images and channel draws) on link ``link`` (``jammer``: the
    PGD jammer, ``noise``: its equal-power noise control), per SNR and budget.

    :return: ``snr_db [S]``, ``jsr_db [E]`` (dB), ``mean_a``, ``mean_b``, ``diff``, ``lo``, ``hi`` ``[S][E]``
        (metric units; 95 % t-interval of the mean difference over ``n_images`` images), ``more_damage``
        ``[S][E]`` (``a``, ``b`` or ``""`` where the interval contains 0), and the metric's direction.
    """
    mdir = _model_dir(Path(run), model)
    ra, rb = load(mdir / a), load(mdir / b)
    if ra.snr_db != rb.snr_db or ra.budget.jsr_db != rb.budget.jsr_db:
        raise UsageError(f"{a} and {b} have different SNR or JSR grids: not a paired comparison", "--a/--b")
    va = _per_image(mdir / a, f"{link}.{metric}")  # [S, E, N]
    vb = _per_image(mdir / b, f"{link}.{metric}")
    if va.shape != vb.shape:
        raise UsageError(f"{a} and {b} hold {tuple(va.shape)} and {tuple(vb.shape)} values: not the same images",
                         "--a/--b")
    if not torch.allclose(va[:, 0], vb[:, 0], rtol=0, atol=1e-9):  # ε = 0: the same link, images and draws
        raise UsageError(f"the jammer-free rows of {a} and {b} differ per image: not the same images and channel "
                         "draws, so a paired difference is not valid", "--a/--b")
    higher = ra.metrics[metric].higher_is_better
    d = mean_ci(va - vb, dim=-1)
    ma, mb = va.mean(-1), vb.mean(-1)
    more = []
    for lo_row, hi_row in zip(d.lo.tolist(), d.hi.tolist()):
        row = []
        for lo, hi in zip(lo_row, hi_row):
            a_worse = hi < 0 if higher else lo > 0  # A's quality lower (higher-is-better) / distortion higher
            b_worse = lo > 0 if higher else hi < 0
            row.append(a if a_worse else b if b_worse else "")
        more.append(row)
    return {"run": str(run), "model": mdir.name, "a": a, "b": b, "metric": metric, "link": link,
            "higher_is_better": higher, "n_images": int(va.shape[-1]), "snr_db": ra.snr_db,
            "jsr_db": ra.budget.jsr_db, "eps": ra.budget.eps, "eps_unit": ra.budget.eps_unit,
            "mean_a": ma.tolist(), "mean_b": mb.tolist(), "diff": d.mean.tolist(), "lo": d.lo.tolist(),
            "hi": d.hi.tolist(), "more_damage": more}


def _fmt(v: float) -> str:
    return "-inf" if v == -math.inf else "inf" if v == math.inf else f"{v:.4g}"


def table(res: dict[str, Any]) -> str:
    """The comparison as a Markdown table (budgets > 0 only: at ε = 0 the difference is 0 by construction)."""
    a, b, m = res["a"], res["b"], res["metric"]
    head = (f"{m} ({'higher' if res['higher_is_better'] else 'lower'} is better), {res['link']} link, "
            f"{res['n_images']} images, paired per image: {a} − {b}, mean [95 % t-interval]")
    lines = [head, "",
             f"| SNR dB | JSR dB | {a} | {b} | {a} − {b} | more damage |", "|---|---|---|---|---|---|"]
    for si, snr in enumerate(res["snr_db"]):
        for ei, jsr in enumerate(res["jsr_db"]):
            if jsr == -math.inf:
                continue
            lines.append(f"| {_fmt(snr)} | {_fmt(jsr)} | {res['mean_a'][si][ei]:.4f} | {res['mean_b'][si][ei]:.4f} | "
                         f"{res['diff'][si][ei]:+.4f} [{res['lo'][si][ei]:+.4f}, {res['hi'][si][ei]:+.4f}] | "
                         f"{res['more_damage'][si][ei] or 'neither (interval holds 0)'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="output folder of `channelae run configs/ofdm_jamming.toml`")
    p.add_argument("--a", default="pilots", help="simulation label A (default pilots)")
    p.add_argument("--b", default="data", help="simulation label B (default data)")
    p.add_argument("--metric", default="ssim", help="metric (default ssim)")
    p.add_argument("--link", default="jammer", choices=["jammer", "noise"],
                   help="jammer (the PGD jammer, default) or noise (its equal-power noise control)")
    p.add_argument("--model", default=None, help="model folder (default: the only one)")
    args = p.parse_args(argv)
    try:
        res = compare(args.run, args.a, args.b, args.metric, args.link, args.model)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(table(res))
    out = Path(args.run) / f"paired_{args.a}_vs_{args.b}_{args.link}_{args.metric}.json"
    write_json(out, res)  # strict JSON (inf as strings), atomically
    print(f"\nwritten: {out}")
    return res


if __name__ == "__main__":
    main()
