"""A/B of the main job's attack before and after the SNR-group split (issue 13), in one process.

``before``: the PGD-jammed link called once over the main job's SNR grid [inf, 20, 10, 5] with bf16 search
passes of at most 1024 decoder rows (the code up to df492ad); ``now``: ``run_in_snr_groups`` (the noiseless
point apart from the finite ones) with 2048 rows. Same default model, 32 test images, ε grid 0…0.5 (11 points)
and generator seeds; the two alternate ``--repeats`` times (order alternating too); medians and their ratio
are printed, with the mean damage of each run (the two searches differ only in their private draws).
``--malloc`` first applies the command line's allocator setting (``channelae._malloc``) as ``channelae`` does.

    .venv/bin/python benchmarks/snr_split_ab.py --repeats 3       # ~3 min idle on 2 cores
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--malloc", action="store_true", help="apply channelae._malloc.keep_freed_memory() first")
    args = ap.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI sets it
    if args.malloc:
        from channelae._malloc import keep_freed_memory

        keep_freed_memory()
    import torch

    from channelae.data import load_dataset
    from channelae.link import Link
    from channelae.link.snr_groups import run_in_snr_groups
    from channelae.zoo import ensure_model

    link = Link.from_checkpoint(str(ensure_model(progress=False)), "pgd-jammer",
                                channel_options={"eps": [i * 0.05 for i in range(11)]})
    jammer = link.channel.stages[0]
    x = load_dataset("mnist-5k", "test", limit=32).batch(range(32))
    snr = torch.tensor([float("inf"), 20.0, 10.0, 5.0])

    def gen() -> torch.Generator:
        return torch.Generator().manual_seed(0)

    times: dict[str, list[tuple[float, float]]] = {"before": [], "now": []}
    print(f"# load {os.getloadavg()[0]:.2f}; malloc setting {'on' if args.malloc else 'off'}")
    for rep in range(args.repeats):
        for name in ("before", "now") if rep % 2 == 0 else ("now", "before"):
            t0, c0 = time.perf_counter(), time.process_time()
            if name == "before":
                jammer.max_rows = 1024
                out = link(x, snr, generator=gen())
            else:
                jammer.max_rows = 2048
                out = run_in_snr_groups(link, x, snr, gen, jammer)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            times[name].append((wall, cpu))
            damage = float((out.x_hat - out.clean).square().mean())
            print(f"{name}: wall {wall:.2f} s, CPU {cpu:.2f} s, mean damage {damage:.5f}", flush=True)
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    for k, (w, c) in med.items():
        print(f"{k}: median wall {w:.2f} s, CPU {c:.2f} s")
    print(f"now / before: wall {med['now'][0] / med['before'][0]:.3f}, CPU {med['now'][1] / med['before'][1]:.3f}; "
          f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
