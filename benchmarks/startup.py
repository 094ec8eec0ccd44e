"""Startup time of the command line: help, ``list``, usage errors, ``import channelae``.

Each command runs ``--repeats`` times (default 7) in a fresh subprocess, the commands interleaved (one round
runs each command once, in order), and the median wall time per command is reported with its min and max.
Two references are timed in the same rounds: ``python -c pass`` (the interpreter alone) and ``python -c
"import torch"`` (what every command cost before torch was imported lazily). The header prints the CPU model,
the core count and the 1-minute load average before and after. Nothing is asserted: the target (< 1 s for
help, ``list`` and a usage error, issue #13) is a reading of the table, not a test.

Commands (the console script next to this interpreter, else ``python -m channelae.cli``)::

    channelae --help
    channelae list
    channelae simulate --eps -1                    # usage error: a negative budget
    channelae simulate --channel pgd-jamer         # usage error: unknown channel (did you mean ...)
    python -c "import channelae"

Run::

    .venv/bin/python benchmarks/startup.py
    .venv/bin/python benchmarks/startup.py --repeats 15
    .venv/bin/python benchmarks/startup.py --tree /tmp/old-worktree   # another checkout's package instead

``--tree DIR`` measures the ``channelae`` package of another checkout (e.g. a ``git worktree`` of an older
commit; its ``channels/`` folder must also be reachable as ``channelae/channels``, e.g. through a symlink) by
putting DIR first on ``PYTHONPATH`` and running ``python -m channelae.cli`` in DIR.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def commands(tree: Path | None) -> list[tuple[str, list[str]]]:
    script = Path(sys.executable).parent / "channelae"
    cli = [str(script)] if script.exists() and tree is None else [sys.executable, "-m", "channelae.cli"]
    py = [sys.executable]
    return [
        ("python -c pass (interpreter alone)", [*py, "-c", "pass"]),
        ("python -c 'import torch' (reference)", [*py, "-c", "import torch"]),
        ("channelae --help", [*cli, "--help"]),
        ("channelae list", [*cli, "list"]),
        ("channelae simulate --eps -1", [*cli, "simulate", "--eps", "-1"]),
        ("channelae simulate --channel pgd-jamer", [*cli, "simulate", "--channel", "pgd-jamer"]),
        ("python -c 'import channelae'", [*py, "-c", "import channelae"]),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7, help="rounds; each runs every command once (default 7)")
    ap.add_argument("--tree", type=Path, default=None,
                    help="measure the channelae package of this checkout instead of the installed one")
    args = ap.parse_args()

    env = {**os.environ, "COLUMNS": "100"}
    if args.tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(args.tree.resolve()), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmds = commands(args.tree)
    # `python -m` and `-c` put the working directory first on sys.path: run where the measured package is
    cwd = args.tree.resolve() if args.tree is not None else Path.home()
    load0 = load_average()
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
          f"load {load0} before")
    print(f"package: {args.tree.resolve() if args.tree else 'installed'}; launcher: {' '.join(cmds[2][1][:-1])}")

    times: dict[str, list[float]] = {name: [] for name, _ in cmds}
    outcome: dict[str, str] = {}
    for _ in range(args.repeats):
        for name, argv in cmds:
            t0 = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, cwd=cwd)
            times[name].append(time.perf_counter() - t0)
            first = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            outcome[name] = f"exit {proc.returncode}" + (f": {first[0][:70]}" if proc.returncode and first else "")

    width = max(len(n) for n in times)
    print(f"\n{'command':<{width}}  median s   min s    max s   outcome")
    for name, ts in times.items():
        print(f"{name:<{width}}  {statistics.median(ts):7.3f}  {min(ts):6.3f}  {max(ts):7.3f}   {outcome[name]}")
    print(f"\n{args.repeats} interleaved rounds; 1-minute load {load0} before, {load_average()} after")


if __name__ == "__main__":
    main()
