"""The scripts in examples/ run end to end with their quick settings (tiny image counts, the shared small
checkpoint) and produce what they promise; the custom channel also works as a CLI plugin."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def load_example(name: str):
    """Import examples/NAME.py as a fresh module (its ``main(argv)`` returns what it printed)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def restore_registry():
    """Forget channels and plugin modules an example registered, so each test starts from the built-ins."""
    from channelae.channels import CHANNELS

    before, modules = set(CHANNELS.names()), set(sys.modules)
    yield
    for name in set(CHANNELS.names()) - before:
        CHANNELS._items.pop(name)  # the registry has no public unregister
    for mod in set(sys.modules) - modules:
        if mod.startswith(("channelae_plugin_", "example_")):
            del sys.modules[mod]


def test_quickstart(trained_checkpoint, tmp_path, capsys):
    out = tmp_path / "qs"
    res = load_example("quickstart").main([
        "--quick", "--checkpoint", str(trained_checkpoint), "--out", str(out), "--n-images", "4",
        "--snr-db", "inf", "10", "--device", "cpu", "--no-plots"])
    printed = capsys.readouterr().out
    assert "DD-curve: mean SSIM vs ε (rayleigh+pgd-jammer, 4 images" in printed
    assert "AADDC" in printed and "results:" in printed
    assert res["eps"][0] == 0.0 and len(res["eps"]) == 3
    assert len(res["ssim"]) == 2 and all(len(row) == 3 for row in res["ssim"])
    assert all(0.0 <= v <= 1.0 for row in res["ssim"] for v in row)
    assert all(a >= 0 for a in res["aaddc"])
    results = json.loads((out / "results.json").read_text())
    assert results["channel"] == "rayleigh+pgd-jammer" and results["n_images"] == 4
    assert set(results["curves"]) == {"jammer", "noise"}
    assert (out / "results.csv").exists()
    # the noiseless ε = 0 column is the same link with the same images in both computations
    assert results["curves"]["jammer"]["ssim"]["mean"][0][0] == pytest.approx(res["ssim"][0][0], abs=1e-5)


def test_custom_channel_script(trained_checkpoint, restore_registry, capsys):
    mod = load_example("custom_channel")
    res = mod.main(["--quick", "--checkpoint", str(trained_checkpoint), "--n-images", "4",
                    "--phase-std-deg", "0", "45"])
    printed = capsys.readouterr().out
    assert "measured rms phase error" in printed and "channelae --plugin examples/custom_channel.py" in printed
    assert set(res["ssim"]) == {0.0, 45.0} and all(len(v) == 3 for v in res["ssim"].values())
    # 45° of phase error hurts the jammer-free link
    assert res["ssim"][45.0][0] < res["ssim"][0.0][0]


def test_phase_noise_channel(restore_registry):
    import torch

    from channelae.channels import CHANNELS, ChannelState, build_channel

    mod = load_example("custom_channel")
    assert CHANNELS.get("phase-noise") is mod.PhaseNoise
    ch = build_channel("phase-noise", phase_std_deg=20.0)
    s = torch.polar(torch.ones(3, 5000), torch.rand(3, 5000) * 6.28)
    st = ch.apply(ChannelState.start(s), None, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(st.y.abs(), s.abs(), atol=1e-5)  # energy kept
    assert float(st.h) == 1.0 and float(st.no) == 0.0  # unknown to the receiver, adds no noise
    rms = float(torch.angle(st.y / s).square().mean().sqrt())
    assert rms == pytest.approx(math.radians(20.0), rel=0.05)
    assert torch.equal(build_channel("phase-noise", phase_std_deg=0.0)(s), s)


def test_custom_channel_cli_plugin(trained_checkpoint, tmp_path, restore_registry, monkeypatch, capsys):
    from channelae.cli import main

    monkeypatch.chdir(ROOT)  # the documented command uses the repository-relative path
    out = tmp_path / "pn"
    main(["--plugin", "examples/custom_channel.py", "simulate", "--channel", "phase-noise+pgd-jammer",
          "--eps", "0,0.5,1", "--snr-db", "inf,10", "--steps", "3", "--metrics", "ssim,mse",
          "--checkpoint", str(trained_checkpoint), "--n-images", "4", "--out", str(out),
          "--no-plots", "--quiet", "--device", "cpu"])
    assert "results:" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["channel"] == "phase-noise+pgd-jammer"
    assert results["control"] == "phase-noise+noise-jammer"
    mean = results["curves"]["jammer"]["ssim"]["mean"]
    assert len(mean) == 2 and all(len(row) == 3 for row in mean)

    # --channel-option reaches the plugin's factory: 0° of phase noise is a clean link, 90° wrecks it
    ssim_at = {}
    for deg in ("0", "90"):
        main(["--plugin", "examples/custom_channel.py", "simulate", "--channel", "phase-noise+pgd-jammer",
              "--channel-option", f"phase_std_deg={deg}", "--eps", "0,0.5", "--snr-db", "inf",
              "--steps", "2", "--metrics", "ssim", "--checkpoint", str(trained_checkpoint), "--n-images", "4",
              "--out", str(tmp_path / deg), "--no-plots", "--quiet", "--device", "cpu"])
        res = json.loads((tmp_path / deg / "results.json").read_text())
        assert res["manifest"]["config"]["channel_extra"] == [["phase_std_deg", int(deg)]]
        ssim_at[deg] = res["curves"]["jammer"]["ssim"]["mean"][0][0]
    assert ssim_at["0"] > ssim_at["90"] + 0.05


@pytest.mark.parametrize("option,match", [
    ("phase_std_deg", "must look like NAME=VALUE"),
    ("colour=3", "option 'colour' is not used by channel"),
    ("phase_std_deg=-5", "phase_std_deg must be a finite number >= 0"),
    ("k_db=3", "use --k-db"),
])
def test_custom_channel_bad_channel_option(option, match, trained_checkpoint, tmp_path, restore_registry,
                                           monkeypatch, capsys):
    from _cli import run_cli

    monkeypatch.chdir(ROOT)
    code, _, err = run_cli(["--plugin", "examples/custom_channel.py", "simulate", "--channel", "phase-noise+pgd-jammer",
                 "--channel-option", option, "--checkpoint", str(trained_checkpoint), "--n-images", "2",
                 "--out", str(tmp_path / "x"), "--no-plots", "--quiet", "--device", "cpu"])
    assert code == 2 and "--channel-option" in err and re.search(match, err), err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x" / "results.json").exists()


def test_sionna_link(trained_checkpoint):
    pytest.importorskip("sionna.phy")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "sionna_link.py"), "--quick", "--checkpoint", str(trained_checkpoint),
         "--eps", "0", "1"],
        check=False, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split() for line in proc.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [r[0] for r in rows] == ["20", "10"]
    for r in rows:  # SNR | Sionna flow: ε=0, ε=1 | channelae Link: ε=0, ε=1
        sionna, _, link = [float(v) for v in r[1:3]], r[3], [float(v) for v in r[4:6]]
        assert all(0.0 <= v <= 1.0 for v in sionna)
        # same seed, same draws in the same order on the CPU: the two flows see the same channel
        assert sionna == pytest.approx(link, abs=2e-3)


def test_harden_model(tmp_path, capsys):
    out = tmp_path / "harden"
    summary = load_example("harden_model").main([
        "--quick", "--out", str(out), "--train-images", "192", "--adv-k", "2", "--n-images", "4",
        "--steps", "2", "--device", "cpu"])
    printed = capsys.readouterr().out
    png = out / "harden_dd_curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot: {png}" in printed
    assert list(summary["models"]) == ["regular", "noise", "adversarial"]
    for name, r in summary["models"].items():
        assert name in printed
        assert len(r["eps"]) == 5 and len(r["pgd"]["mean"]) == 5 and r["pgd"]["aaddc"] >= 0
        meta = json.loads((Path(r["checkpoint"]) / "model.json").read_text())
        assert meta["harden"] == (None if name == "regular" else
                                  {"kind": name, "eps": 0.05, "m": 1, "k": 2, "distance": "ssim",
                                   "snr_db": None})
    assert json.loads((out / "summary.json").read_text())["models"].keys() == summary["models"].keys()
