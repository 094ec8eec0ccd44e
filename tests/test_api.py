"""``import channelae`` exports the main objects, lazily: every listed name resolves to the library object, the
import itself loads no torch, and ``channelae.simulate`` is both the module and a call of its function."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import metadata

import pytest

import channelae

EXPECTED = {
    "Link": ("channelae.link", "Link"),
    "Transmitter": ("channelae.link", "Transmitter"),
    "Receiver": ("channelae.link", "Receiver"),
    "load_checkpoint": ("channelae.checkpoint", "load_checkpoint"),
    "SimulationConfig": ("channelae.simulate", "SimulationConfig"),
    "build_channel": ("channelae.channels", "build_channel"),
    "load_results": ("channelae.results", "load"),
    "Results": ("channelae.results", "Results"),
    "UsageError": ("channelae.errors", "UsageError"),
}


def _run(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_all_and_dir_list_the_exports() -> None:
    assert set(EXPECTED) | {"simulate", "__version__"} == set(channelae.__all__)
    assert set(channelae.__all__) <= set(dir(channelae))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_export_is_the_library_object(name: str) -> None:
    import importlib

    module, attr = EXPECTED[name]
    assert getattr(channelae, name) is getattr(importlib.import_module(module), attr)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        channelae.nothing_here  # noqa: B018


def test_simulate_is_the_module_and_calls_its_function(monkeypatch: pytest.MonkeyPatch) -> None:
    import channelae.simulate as module

    assert channelae.simulate is module
    assert channelae.simulate.SimulationConfig is channelae.SimulationConfig
    calls = []
    monkeypatch.setattr(module, "simulate", lambda *a, **k: calls.append((a, k)) or "done")
    assert channelae.simulate("cfg", "out", device="cpu") == "done"
    assert calls == [(("cfg", "out"), {"device": "cpu"})]


def test_version_matches_the_installed_distribution() -> None:
    assert channelae.__version__ == metadata.version("channelae")


def test_import_is_cheap_and_simulate_callable_whichever_import_comes_first() -> None:
    out = _run("""
        import json, sys
        import channelae
        light = "torch" not in sys.modules
        names = sorted(n for n in channelae.__all__ if n != "__version__")
        import channelae.simulate  # the submodule first, as library code does
        ok = callable(channelae.simulate) and callable(channelae.simulate.simulate)
        from channelae import simulate
        print(json.dumps({"light": light, "names": names, "ok": ok and simulate is channelae.simulate}))
        """)
    assert out["light"], "import channelae imported torch"
    assert out["ok"]
    assert "simulate" in out["names"]
