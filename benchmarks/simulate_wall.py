"""Wall time of the default main job, ``channelae simulate --channel pgd-jammer --eps 0.5``, split into stages.

Runs the installed ``channelae`` command in a fresh subprocess ``--repeats`` times, one after the other (nothing
else interleaved), each into a new temporary results folder, with the cached default model (trained first if
missing, before any timing). The command is the README's main job as a user types it (plots, summary and
all); only ``--out`` is added. Stage timings come from the command itself: with the environment variable
``CHANNELAE_TIMINGS`` set, ``channelae._timing.lap`` attributes wall and process CPU time to the stages
(import → setup → reference link → attack → metrics → noise link → statistics + write → summary → plots → exit; the
links and metrics accumulate over chunks; "exit": the last lines up to the exit handlers; "other": what no stage claims,
i.e. the interpreter's own shutdown)
and writes them at exit; without the variable nothing is recorded. Per run it prints the 1-minute load
average at the start, the total wall time, the CPU time (user + sys of the process and its threads, from
``wait4``), and each stage's wall and CPU seconds; then the medians.

On a shared machine the wall times measure the load; the CPU times much less so. The implied idle wall time
on ``--cores`` (2) cores is given as a range: single-threaded stages (import, setup, statistics, summary,
plots, other) take their CPU time; torch's stages (the links and the attack, the metrics) between their CPU
time divided by the cores (perfect scaling) and their CPU time (none).

Run::

    .venv/bin/python benchmarks/simulate_wall.py                  # 3 runs, ~1-3 min each on 2 busy cores
    .venv/bin/python benchmarks/simulate_wall.py --repeats 5 -- --n-images 64   # extra simulate options
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMAND = ["simulate", "--channel", "pgd-jammer", "--eps", "0.5"]
#: Stages whose work runs in torch's intra-op threads (the rest are single-threaded Python).
PARALLEL = ("reference link", "attack (PGD jammer link)", "noise link", "metrics")
ORDER = ("import", "setup", "reference link", "attack (PGD jammer link)", "noise link", "metrics",
         "statistics + write", "summary", "plots", "exit", "other")


def _channelae() -> list[str]:
    exe = shutil.which("channelae", path=str(Path(sys.executable).parent)) or shutil.which("channelae")
    return [exe] if exe else [sys.executable, "-m", "channelae.cli"]


def run_once(extra: list[str], workdir: Path, env: dict[str, str]) -> dict:
    """One run: load at start, wall and CPU seconds, the stages ``{name: (wall, cpu)}``, the exit code."""
    out = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    timings = out.parent / (out.name + ".timings.json")
    load = os.getloadavg()[0]
    t0 = time.time()
    with open(out.parent / (out.name + ".log"), "w") as log:
        proc = subprocess.Popen([*_channelae(), *COMMAND, *extra, "--out", str(out / "results")], stdout=log,
                                stderr=subprocess.STDOUT, env={**env, "CHANNELAE_TIMINGS": str(timings)})
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stages: dict[str, tuple[float, float]] = {}
    if timings.exists():
        data = json.loads(timings.read_text())
        for name, w, c in data["stages"]:
            stages[name] = (w, c)
        start = data.get("process_start")
        if start is not None and "import" in stages:  # the exec itself (from Popen to the process start)
            w, c = stages["import"]
            stages["import"] = (w + max(0.0, start - t0), c)
    cpu = usage.ru_utime + usage.ru_stime
    claimed_w = sum(w for w, _ in stages.values())
    claimed_c = sum(c for _, c in stages.values())
    stages["other"] = (max(0.0, wall - claimed_w), max(0.0, cpu - claimed_c))
    return {"load": load, "wall": wall, "cpu": cpu, "stages": stages, "code": proc.returncode, "out": out}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs, one after the other (default 3)")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 2, help="cores for the idle estimate")
    ap.add_argument("--keep", action="store_true", help="keep the results folders and logs (printed)")
    ap.add_argument("extra", nargs="*", help="further simulate options, after --")
    args = ap.parse_args(argv)

    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI sets it (benchmarks/README.md: thread pitfall)
    env.setdefault("COLUMNS", "100")
    from channelae.zoo import ensure_model

    ensure_model(progress=False)  # a first run would otherwise train the default model
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            cpu_model = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu_model = "?"
    print(f"# channelae {' '.join(COMMAND + args.extra)} --out <fresh folder>; {args.repeats} runs; "
          f"{os.cpu_count()} cores ({cpu_model}); OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}")
    workdir = Path(tempfile.mkdtemp(prefix="channelae-simulate-wall-"))
    runs = []
    try:
        for i in range(args.repeats):
            r = run_once(args.extra, workdir, env)
            runs.append(r)
            parts = ", ".join(f"{k} {r['stages'][k][0]:.2f} ({r['stages'][k][1]:.2f})"
                              for k in ORDER if k in r["stages"])
            extra = sorted(set(r["stages"]) - set(ORDER))
            parts += "".join(f", {k} {r['stages'][k][0]:.2f} ({r['stages'][k][1]:.2f})" for k in extra)
            code = "" if r["code"] == 0 else f", EXIT {r['code']}"
            print(f"run {i + 1}: load {r['load']:.2f}, wall {r['wall']:.2f} s, CPU {r['cpu']:.2f} s{code}; "
                  f"wall (CPU) s: {parts}", flush=True)
            if r["code"] != 0:
                print((r["out"].parent / (r["out"].name + ".log")).read_text()[-3000:])
                return 1
    finally:
        if args.keep:
            print(f"# kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    def med(xs: list[float]) -> float:
        return statistics.median(xs)

    names = [k for k in ORDER if any(k in r["stages"] for r in runs)]
    names += sorted({k for r in runs for k in r["stages"]} - set(names))
    loads = ", ".join(f"{r['load']:.2f}" for r in runs)
    print(f"\nmedian of {len(runs)} runs (load at start {loads}; after {os.getloadavg()[0]:.2f}):")
    print("| stage | wall s | CPU s | idle wall s on " + f"{args.cores} cores (estimate) |")
    print("|---|---|---|---|")
    lo_sum = hi_sum = 0.0
    for k in names:
        w = med([r["stages"].get(k, (0.0, 0.0))[0] for r in runs])
        c = med([r["stages"].get(k, (0.0, 0.0))[1] for r in runs])
        lo, hi = (c / args.cores, c) if k in PARALLEL else (c, c)
        lo_sum, hi_sum = lo_sum + lo, hi_sum + hi
        est = f"{lo:.2f} – {hi:.2f}" if k in PARALLEL else f"{c:.2f}"
        print(f"| {k} | {w:.2f} | {c:.2f} | {est} |")
    total_w, total_c = med([r["wall"] for r in runs]), med([r["cpu"] for r in runs])
    print(f"| **total** | **{total_w:.2f}** | **{total_c:.2f}** | **{lo_sum:.1f} – {hi_sum:.1f}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
