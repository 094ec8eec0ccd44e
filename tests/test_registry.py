"""The registry: lazy entries (names known without importing the implementation), eager registration by
decorator (plugins), conflicts, and did-you-mean messages; the package registries list their names without
importing torch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from channelae.errors import UsageError
from channelae.registry import DuplicateNameError, Registry


@pytest.fixture
def plugin_pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh importable package name and a writer of modules into it (removed from sys.modules after)."""
    name = f"regtest_{uuid.uuid4().hex[:8]}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(module: str, source: str) -> str:
        (tmp_path / name / f"{module}.py").write_text(textwrap.dedent(source))
        return f"{name}.{module}"

    yield write
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]


REG = Registry("widget", "--widget")  # the modules written below register into this one


def _fresh() -> Registry:
    REG._items.clear()
    return REG


def test_lazy_name_is_listed_but_not_imported_until_get(plugin_pkg) -> None:
    reg = _fresh()
    mod = plugin_pkg("alpha", f"""
        from {__name__} import REG

        @REG.register("alpha")
        class Alpha:
            pass
        """)
    reg.register_lazy("alpha", f"{mod}:Alpha")
    assert reg.names() == ["alpha"] and "alpha" in reg and list(reg) == ["alpha"]
    assert not reg.is_loaded("alpha")
    assert mod not in sys.modules
    assert reg.check("alpha") == "alpha"  # checking a name imports nothing
    assert mod not in sys.modules
    cls = reg.get("alpha")  # the module registers itself with the decorator: no conflict
    assert mod in sys.modules and cls is sys.modules[mod].Alpha
    assert reg.is_loaded("alpha") and reg.get("alpha") is cls and reg.names() == ["alpha"]


def test_lazy_attr_without_decorator_and_module_only_form(plugin_pkg) -> None:
    reg = _fresh()
    plain = plugin_pkg("plain", "class Plain:\n    pass\n")
    selfreg = plugin_pkg("selfreg", f"""
        from {__name__} import REG
        REG.add("self", object())
        """)
    silent = plugin_pkg("silent", "x = 1\n")
    reg.register_lazy("plain", f"{plain}:Plain")
    reg.register_lazy("self", selfreg)
    reg.register_lazy("silent", silent)
    assert reg.get("plain") is sys.modules[plain].Plain
    assert reg.get("self") is reg.get("self")
    with pytest.raises(RuntimeError, match="did not register widget 'silent'"):
        reg.get("silent")


def test_declared_attr_must_match_what_the_module_registers(plugin_pkg) -> None:
    reg = _fresh()
    mod = plugin_pkg("mismatch", f"""
        from {__name__} import REG

        class A:
            pass

        @REG.register("m")
        class B:
            pass
        """)
    reg.register_lazy("m", f"{mod}:A")
    with pytest.raises(RuntimeError, match="not A"):
        reg.get("m")


def test_plugin_registers_after_lazy_entries_and_conflicts_are_refused(plugin_pkg) -> None:
    reg = _fresh()
    mod = plugin_pkg("beta", f"""
        from {__name__} import REG

        @REG.register("beta")
        class Beta:
            pass
        """)
    reg.register_lazy("beta", f"{mod}:Beta")
    reg.register_lazy("beta", f"{mod}:Beta")  # the same declaration twice is harmless

    @reg.register("mine")  # a plugin, eagerly
    class Mine:
        pass

    assert reg.names() == ["beta", "mine"] and reg.get("mine") is Mine
    with pytest.raises(DuplicateNameError, match="already registered"):  # someone else claiming a declared name
        reg.add("beta", object())
    with pytest.raises(DuplicateNameError, match="already registered"):
        reg.register_lazy("beta", f"{mod}:Other")
    with pytest.raises(DuplicateNameError, match="already registered"):
        reg.register_lazy("mine", f"{mod}:Beta")
    with pytest.raises(DuplicateNameError, match="already registered"):
        reg.add("mine", object())
    reg.add("mine", Mine)  # registering the same object again is fine
    with pytest.raises(ValueError, match="module"):
        reg.register_lazy("x", ":Attr")
    reg.unregister("beta")
    assert reg.names() == ["mine"] and mod not in sys.modules


@pytest.mark.parametrize(("typed", "suggested"), [("pgd-jamer", "pgd-jammer"), ("AWGN", "awgn"),
                                                  ("raleigh", "rayleigh"), ("zzz", None)])
def test_unknown_name_suggests_the_closest_and_lists_all(typed: str, suggested: str | None) -> None:
    reg = Registry("channel", "--channel")
    for n in ("awgn", "pgd-jammer", "noise-jammer", "rayleigh"):
        reg.register_lazy(n, "nowhere.at_all")  # never imported: names alone suffice
    with pytest.raises(UsageError) as err:
        reg.get(typed)
    msg = str(err.value)
    assert err.value.argument == "--channel"
    assert msg.startswith(f"--channel: unknown channel {typed!r}; ")
    if suggested:
        assert f"did you mean {suggested!r}?" in msg
    else:
        assert "did you mean" not in msg
    assert msg.endswith("allowed: awgn, pgd-jammer, noise-jammer, rayleigh")
    with pytest.raises(UsageError, match="did you mean"):
        reg.check("pgd-jamer")
    with pytest.raises(UsageError, match="no widget is registered"):
        Registry("widget", "--widget").get("x")


def test_composed_spec_names_the_unknown_stage() -> None:
    from channelae.channels import check_channel_spec

    assert check_channel_spec(" rayleigh + pgd-jammer+awgn") == ["rayleigh", "pgd-jammer", "awgn"]
    with pytest.raises(UsageError) as err:
        check_channel_spec("rayleigh+pgd-jamer+awgn")
    msg = str(err.value)
    assert "unknown channel 'pgd-jamer' (stage 2 of 'rayleigh+pgd-jamer+awgn')" in msg
    assert "did you mean 'pgd-jammer'?" in msg
    with pytest.raises(UsageError, match="empty stage"):
        check_channel_spec("awgn++rayleigh")


@pytest.mark.parametrize("registry", ["channelae.channels:CHANNELS", "channelae.models:MODELS",
                                      "channelae.metrics:METRICS", "channelae.data:DATASETS"])
def test_every_built_in_entry_resolves(registry: str) -> None:
    """Each lazily declared name imports to the object its module registers (or the declared attribute)."""
    import importlib

    module, attr = registry.split(":")
    reg = getattr(importlib.import_module(module), attr)
    assert reg.names()
    for name in reg.names():
        assert reg.get(name) is not None
        assert reg.is_loaded(name)


def test_registry_names_import_no_torch() -> None:
    """What `channelae list` and usage errors need, in a fresh interpreter: names, not implementations."""
    code = textwrap.dedent("""
        import json, sys
        import channelae.channels, channelae.models, channelae.metrics, channelae.data
        names = {
            "channels": channelae.channels.channel_names(),
            "models": channelae.models.MODELS.names(),
            "metrics": channelae.metrics.METRICS.names(),
            "datasets": channelae.data.DATASETS.names(),
        }
        channelae.channels.check_channel_spec("rayleigh+pgd-jammer+awgn")
        heavy = sorted(m for m in ("torch", "numpy", "torchmetrics", "sionna", "matplotlib") if m in sys.modules)
        print(json.dumps({"names": names, "heavy": heavy}))
        """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["heavy"] == []
    assert {"awgn", "pgd-jammer", "noise-jammer", "rayleigh", "rician"} <= set(out["names"]["channels"])
    assert {"swt-vae", "kld-vae"} <= set(out["names"]["models"])
    assert {"ssim", "psnr", "mse", "lpips", "fid"} == set(out["names"]["metrics"])
    assert "mnist-5k" in out["names"]["datasets"]


def test_plugin_adds_names_and_a_taken_name_is_one_line(tmp_path: Path) -> None:
    from _cli import run_cli

    from channelae.channels import CHANNELS

    good = tmp_path / f"good_{uuid.uuid4().hex[:6]}.py"
    good.write_text(textwrap.dedent("""
        from channelae.channels import CHANNELS
        from channelae.channels.base import Channel

        @CHANNELS.register("my-test-channel")
        class MyTest(Channel):
            def apply(self, state, snr_db=None, *, tail=None, generator=None):
                return state
        """))
    taken = tmp_path / f"taken_{uuid.uuid4().hex[:6]}.py"
    taken.write_text("from channelae.channels import CHANNELS\n\nCHANNELS.add('awgn', object())\n")
    try:
        code, stdout, stderr = run_cli(["--plugin", good, "list"])
        assert code == 0, stderr
        assert "my-test-channel" in stdout and "awgn" in stdout
        code, _, stderr = run_cli(["--plugin", taken, "list"])
        assert code == 2
        assert stderr.startswith(f"error: --plugin: plugin {taken}: channel 'awgn' is already registered")
        assert stderr.count("\n") == 1
    finally:
        CHANNELS.unregister("my-test-channel")
        for m in [m for m in sys.modules if m.startswith("channelae_plugin_good_")]:
            del sys.modules[m]
