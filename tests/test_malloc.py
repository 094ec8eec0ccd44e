"""The command line keeps freed memory for reuse (channelae._malloc): a loop of large allocations stops
page-faulting them in again."""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import resource, sys
from channelae._malloc import keep_freed_memory
done = keep_freed_memory() if sys.argv[1] == "on" else False
import torch
x = torch.ones(1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    t = torch.ones(12 << 20)  # 48 MiB, above glibc's largest dynamic mmap threshold
    float(t.sum())
    del t
print(done, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", CODE, mode], capture_output=True, text=True, check=True, timeout=120)
    done, faults = out.stdout.split()
    return done == "True", int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_blocks_are_reused_instead_of_faulted_in_again() -> None:
    done, kept = _faults("on")
    if not done:
        pytest.skip("not glibc")
    _, plain = _faults("off")
    assert plain > 40 * 12_000 * 0.5  # 48 MiB = 12k pages, faulted in each time
    assert kept < plain / 5


def test_an_explicit_environment_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from channelae._malloc import keep_freed_memory

    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert keep_freed_memory() is False
