"""Experiment configs and `channelae run`; latent adversarial / noise training."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import pytest
import torch

from channelae.errors import UsageError
from channelae.experiments import load_config, run_experiment
from channelae.hardening import HardeningConfig, hardening_hook
from channelae.models import build_model

CONFIGS = sorted(glob.glob(str(Path(__file__).resolve().parents[1] / "configs" / "*.toml")))


def test_study_configs_exist() -> None:
    names = {Path(c).stem for c in CONFIGS}
    assert {"table1_regularizers", "table2_vae_vs_dae", "table3_beta_tcvae", "fig3_untargeted", "fig4_targets",
            "fig10_adversarial_training", "link_snr_sweep"} <= names


@pytest.mark.parametrize("path", CONFIGS)
@pytest.mark.parametrize("dataset", ["fashion-mnist", "mnist", "celeba", "mnist-5k"])
def test_every_config_parses_for_every_dataset(path: str, dataset: str) -> None:
    cfg = load_config(path, dataset=dataset)
    assert cfg.dataset == dataset and cfg.models and cfg.simulations


#: The configs that reproduce the study: their ε grids are the study's latent budgets.
STUDY = ("table1_regularizers", "table2_vae_vs_dae", "table3_beta_tcvae", "fig3_untargeted", "fig4_targets",
         "fig10_adversarial_training", "fig10_kld_larger_budget", "link_snr_sweep")


@pytest.mark.parametrize("name", STUDY)
def test_study_configs_keep_the_study_latent_units_and_limits(name: str) -> None:
    """Link units are the default; the study's configs set eps_unit = "latent" (numbers unchanged) and the
    study's limit lines explicitly."""
    from channelae.experiments import _sim_config

    path = next(c for c in CONFIGS if Path(c).stem == name)
    cfg = load_config(path)
    for sim in cfg.simulations:
        for quick in (False, True):
            sc = _sim_config(cfg, sim, quick=quick)
            assert sc.eps_unit == "latent", (name, sim.label)
            assert sc.channel_options()["eps_unit"] == "latent"
            limits = dict(sc.limits)
            assert limits.get("ssim") in (0.4, 0.75) and limits.get("lpips") in (0.15, 0.06), (name, sim.label)


def test_eps_unit_and_draws_are_config_keys(tmp_path: Path) -> None:
    from channelae.experiments import _sim_config

    cfg = load_config(_write(tmp_path, BASE + 'eps_unit = "latent"\ndraws = 3\n'))
    sc = _sim_config(cfg, cfg.simulations[0], quick=False)
    assert (sc.eps_unit, sc.draws) == ("latent", 3)
    cfg = load_config(_write(tmp_path, BASE))
    assert _sim_config(cfg, cfg.simulations[0], quick=False).eps_unit == "link"  # the default
    with pytest.raises(UsageError, match="--eps-unit"):
        load_config(_write(tmp_path, BASE + 'eps_unit = "symbols"\n'))
    with pytest.raises(UsageError, match="--draws"):
        load_config(_write(tmp_path, BASE + "draws = 0\n"))


def _write(tmp: Path, text: str) -> Path:
    p = tmp / "exp.toml"
    p.write_text(text)
    return p


BASE = """name = "t"
dataset = "mnist-5k"
[[models]]
family = "ae"
[[simulations]]
channel = "pgd-jammer"
"""


@pytest.mark.parametrize("text,match", [
    ("colour = 1\n" + BASE, "unknown key 'colour' in the top level"),
    (BASE.replace('family = "ae"', 'family = "ae"\nlamda = 2'), r"unknown key 'lamda' in \[\[models\]\] #1"),
    (BASE + "[[simulations]]\nchanel = 'awgn'\n", r"unknown key 'chanel' in \[\[simulations\]\] #2"),
    (BASE + "[train]\nepoch = 3\n", r"unknown key 'epoch' in \[train\]"),
    (BASE.replace('"ae"', '"vae"'), "unknown model 'vae'"),
    (BASE + "[[simulations]]\nchannel = 'pgd-jammer'\nmode = 'fast'\n", "--mode"),
    (BASE + "[[simulations]]\nchannel = 'pgd-jammer'\neps = '1:0:0.1'\n", "--eps"),
    ("name = 't'\n[[models]\n", "not valid TOML"),
    (BASE + "[train.mnist-5k]\nepoch = 3\n", r"unknown key 'epoch' in \[train.mnist-5k\]"),
    (BASE + "[train.fashion-mnist]\nepochs = 3\n", r"unknown key 'fashion-mnist' in \[train\]"),
    (BASE + "[[simulations]]\nchannel = 'awgn+pgd-jammer'\nchannel_options = { colour = 1 }\n",
     "option 'colour' is not used by channel"),
    (BASE + "[[simulations]]\nchannel = 'pgd-jammer'\nchannel_options = 3\n", "channel_options must be a table"),
    (BASE + "[train]\nepochs = 0\n", r"\[train\] epochs must be a positive integer"),
    (BASE + "[train]\ntrain_images = 2.5\n", r"\[train\] train_images must be a positive integer"),
])
def test_bad_configs_name_the_key_and_file(tmp_path: Path, text: str, match: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(UsageError, match=match) as info:
        load_config(p)
    assert "exp.toml" in str(info.value) or "--" in str(info.value)


def test_per_dataset_train_settings_override_the_base(tmp_path: Path) -> None:
    text = BASE.replace('dataset = "mnist-5k"', 'datasets = ["mnist-5k", "fashion-mnist"]\ndataset = "mnist-5k"')
    p = _write(tmp_path, text + "[train]\nepochs = 5\nseed = 3\n[train.mnist-5k]\nepochs = 10\n"
                                "[train.fashion-mnist]\ntrain_images = 12000\n")
    assert load_config(p).train == {"epochs": 10, "seed": 3}
    assert load_config(p, dataset="fashion-mnist").train == {"epochs": 5, "seed": 3, "train_images": 12000}

    from channelae import experiments, zoo

    seen: dict = {}
    monkey = pytest.MonkeyPatch()
    monkey.setattr(zoo, "ensure_model", lambda family, dataset, **kw: seen.update(kw) or tmp_path)
    try:
        cfg = load_config(p, dataset="fashion-mnist")
        experiments._model_checkpoint(cfg, cfg.models[0], quick=False, progress=False, device="cpu", data_dir=None)
    finally:
        monkey.undo()
    assert (seen["epochs"], seen["train_images"], seen["seed"]) == (5, 12000, 3)


def test_run_writes_combined_table(tmp_path: Path, trained_checkpoint: Path) -> None:
    p = _write(tmp_path, f"""name = "mini"
dataset = "mnist-5k"
claim = "a test"
[[models]]
label = "given"
checkpoint = "{trained_checkpoint}"
[[simulations]]
label = "black"
channel = "pgd-jammer"
target = "black"
snr_db = "inf,10"
eps = "0:1:0.5"
metrics = ["ssim", "mse"]
n_images = 4
""")
    summary = run_experiment(load_config(p), tmp_path / "out", device="cpu", progress=False)
    assert (tmp_path / "out" / "summary.md").read_text().count("| given | black |") == 4  # 2 SNR × 2 metrics
    stored = json.loads((tmp_path / "out" / "summary.json").read_text())
    from channelae.results import encode_json

    assert stored["rows"] == encode_json(summary["rows"])  # inf stored as "inf" (strict JSON)
    assert (tmp_path / "out" / "given" / "black" / "results.json").exists()
    assert (tmp_path / "out" / "combined_black.png").stat().st_size > 0


def test_cli_run_quick_trains_simulates_and_writes_everything(tmp_path: Path, monkeypatch) -> None:
    """`channelae run CONFIG --quick` end to end: trains the config's models (into a private cache),
    simulates, writes the combined table and plots; a second run reuses the cache and the results."""
    from _cli import run_cli

    monkeypatch.setenv("CHANNELAE_CACHE", str(tmp_path / "cache"))
    config = Path(__file__).resolve().parents[1] / "configs" / "table1_regularizers.toml"
    out = tmp_path / "t1"
    code, stdout, err = run_cli(["run", config, "--quick", "--dataset", "mnist-5k", "--out", out, "--quiet",
                                 "--device", "cpu"])
    assert code == 0, err
    assert "table1_regularizers (mnist-5k, quick)" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert {r["model"] for r in summary["rows"]} == {"kld-vae", "mmd-vae", "swt-vae"}
    ssim = [r for r in summary["rows"] if r["metric"] == "ssim"]
    assert len(ssim) == 3 and all(0.0 < r["clean"] <= 1.0 for r in ssim)
    assert (out / "combined_black.png").stat().st_size > 0
    for model in ("kld-vae", "mmd-vae", "swt-vae"):
        assert (out / model / "black" / "results.json").exists()
        assert (out / model / "black" / "dd_curves.png").stat().st_size > 0
    assert len(list((tmp_path / "cache").glob("models/*/model.safetensors"))) == 3
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").glob("models/*/model.safetensors")}
    code, _, err = run_cli(["run", config, "--quick", "--dataset", "mnist-5k", "--out", out, "--quiet",
                            "--device", "cpu", "--no-plots"])
    assert code == 0, err
    assert {p: p.stat().st_mtime_ns for p in stamp} == stamp  # cached models reused, not retrained
    assert json.loads((out / "summary.json").read_text())["rows"] == summary["rows"]  # same seed, same numbers


def test_hardening_hook_updates_decoder_only() -> None:
    torch.manual_seed(0)
    model = build_model("kld-vae", (1, 28, 28), 10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(16, 1, 28, 28)
    enc = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    dec = {k: v.clone() for k, v in model.decoder.state_dict().items() if "running" not in k}
    for kind in ("adversarial", "noise"):
        hook = hardening_hook(HardeningConfig(kind=kind, eps=0.5, m=2, k=3, distance="mse"))
        log = hook(model, opt, x, 0, 0, torch.Generator().manual_seed(0))
        assert all(v > 0 for v in log.values())
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(v, enc[k]), k
    changed = [k for k, v in model.decoder.state_dict().items() if k in dec and not torch.equal(v, dec[k])]
    assert changed


def test_adversarial_perturbation_hurts_more_than_noise() -> None:
    """The hook's PGD finds latent perturbations that damage more than random ones of the same norm."""
    from channelae.attacks import distance, pgd

    torch.manual_seed(0)
    model = build_model("ae", (1, 28, 28), 10).eval()
    z = torch.randn(8, 10)
    ref = model.decode(z).detach()
    radius = torch.full((1,), 1.0)
    delta = pgd(lambda d: distance("mse", model.decode(z + d), ref), z.shape, radius, steps=10,
                generator=torch.Generator().manual_seed(0))
    g = torch.randn(z.shape, generator=torch.Generator().manual_seed(1))
    noise = g / g.norm(dim=-1, keepdim=True)
    with torch.no_grad():
        adv = distance("mse", model.decode(z + delta), ref)
        rnd = distance("mse", model.decode(z + noise), ref)
    assert float(delta.norm(dim=-1).max()) <= 1.0 + 1e-5
    assert float(adv.mean()) > float(rnd.mean())


def test_bad_hardening_settings() -> None:
    with pytest.raises(UsageError, match="--harden"):
        HardeningConfig(kind="pgd")
    with pytest.raises(UsageError, match="--adv-eps"):
        HardeningConfig(eps=-1)
    with pytest.raises(UsageError, match="--adv-distance"):
        HardeningConfig(distance="lpips")
