"""Experiment configs and `channelae run`; latent adversarial / noise training."""

from __future__ import annotations

import glob
import json
import math
from pathlib import Path

import numpy as np
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
    (BASE + "[[simulations]]\nchannel = 'pgd-jammer'\nmode = 'fast'\n", r"simulation 'sim2': mode: must be one of"),
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
    """`channelae run CONFIG --quick` end to end (one seed of the config's three, to stay fast): trains the
    config's models (into a private cache), simulates against x and dec(z0), writes the combined table and plots,
    says that the numbers are smoke-test numbers and where everything went; a second run reuses the cache and
    the results."""
    from _cli import run_cli

    monkeypatch.setenv("CHANNELAE_CACHE", str(tmp_path / "cache"))
    config = Path(__file__).resolve().parents[1] / "configs" / "table1_regularizers.toml"
    out = tmp_path / "t1"
    code, stdout, err = run_cli(["run", config, "--quick", "--dataset", "mnist-5k", "--out", out, "--quiet",
                                 "--device", "cpu", "--seeds", "0"])
    assert code == 0, err
    assert "table1_regularizers (mnist-5k, quick)" in stdout
    assert "--quick: smoke-test numbers" in stdout and f"summary: {out / 'summary.md'}" in stdout
    assert "skipped metric lpips:" in stdout and "channelae weights fetch" in stdout  # no LPIPS weights here
    summary = json.loads((out / "summary.json").read_text())
    assert {r["model"] for r in summary["rows"]} == {"kld-vae", "mmd-vae", "swt-vae"}
    ssim = [r for r in summary["rows"] if r["metric"] == "ssim"]
    assert len(ssim) == 3 and all(0.0 < r["clean"] <= 1.0 for r in ssim)
    assert all(r["clean@reconstruction"] == pytest.approx(1.0) for r in ssim)
    assert (out / "combined_black.png").stat().st_size > 0
    for model in ("kld-vae", "mmd-vae", "swt-vae"):
        assert (out / model / "black" / "results.json").exists()
        assert (out / model / "black_vs_reconstruction" / "results.json").exists()
        assert (out / model / "black" / "dd_curves.png").stat().st_size > 0
    assert len(list((tmp_path / "cache").glob("models/*/model.safetensors"))) == 3
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").glob("models/*/model.safetensors")}
    code, _, err = run_cli(["run", config, "--quick", "--dataset", "mnist-5k", "--out", out, "--quiet",
                            "--device", "cpu", "--no-plots", "--seeds", "0"])
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


# ------------------------------------------------------------------------------ seeds, references, summaries


def _mini_config(tmp: Path, extra: str = "") -> Path:
    return _write(tmp, f"""name = "mini"
dataset = "mnist-5k"
claim = "a test"
[train]
seeds = [0, 1]
[[models]]
family = "swt-vae"
label = "a"
[[models]]
family = "kld-vae"
label = "b"
[[simulations]]
label = "black"
channel = "pgd-jammer"
target = "black"
mode = "faithful"
eps_unit = "latent"
snr_db = "inf"
eps = "0:1:0.5"
metrics = ["ssim", "mse"]
references = ["input", "reconstruction"]
n_images = 4
{extra}""")


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory: pytest.TempPathFactory, trained_checkpoint: Path):
    """A two-seed run of two models, both served by the small trained checkpoint (ensure_model stubbed), each
    simulation against x and dec(z0) (once per module: the tests below only read it, or re-render it)."""
    from channelae import zoo

    calls: list[dict] = []

    def fake_ensure(family, dataset, **kw):
        calls.append({"family": family, **kw})
        return trained_checkpoint

    tmp = tmp_path_factory.mktemp("seeded")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(zoo, "ensure_model", fake_ensure)
        out = tmp / "run"
        summary = run_experiment(load_config(_mini_config(tmp)), out, device="cpu", progress=False)
    return summary, out, calls


def test_seeds_train_per_seed_and_lay_out_folders_per_seed(seeded_run) -> None:
    summary, out, calls = seeded_run
    assert sorted((c["family"], c["seed"]) for c in calls) == [("kld-vae", 0), ("kld-vae", 1), ("swt-vae", 0),
                                                                ("swt-vae", 1)]
    settings = {tuple(sorted((k, str(v)) for k, v in c.items() if k != "seed")) for c in calls if c["family"] == "swt-vae"}
    assert len(settings) == 1  # training settings identical apart from the seed
    for model in ("a", "b"):
        for s in (0, 1):
            assert (out / model / f"seed{s}" / "black" / "results.json").exists()
            assert (out / model / f"seed{s}" / "black_vs_reconstruction" / "results.json").exists()
            assert (out / model / f"seed{s}" / "model_stats.json").exists()
    from channelae.results import load

    # simulation seed = model seed; the reference run is the same attack with the same seed
    a0, a1 = load(out / "a" / "seed0" / "black"), load(out / "a" / "seed1" / "black")
    r0 = load(out / "a" / "seed0" / "black_vs_reconstruction")
    assert (a0.manifest.seed, a1.manifest.seed, r0.manifest.seed) == (0, 1, 0)
    assert (a0.reference, r0.reference) == ("input", "reconstruction")
    from safetensors.torch import load_file

    z_in = load_file(str(out / "a" / "seed0" / "black" / "samples.safetensors"))["jammer.z_hat_highlight"]
    z_rec = load_file(str(out / "a" / "seed0" / "black_vs_reconstruction" / "samples.safetensors"))
    assert torch.equal(z_in, z_rec["jammer.z_hat_highlight"])  # same perturbations, scored twice
    assert (out / "combined_black_seed0.png").exists() and (out / "combined_black_vs_reconstruction_seed1.png").exists()
    assert {r["dir"] for r in summary["runs"]} >= {"a/seed0/black", "b/seed1/black_vs_reconstruction"}


def test_seed_aggregation_is_the_mean_and_t_interval_over_seeds(seeded_run) -> None:
    from scipy import stats

    summary, out, _ = seeded_run
    rows, agg = summary["rows"], summary["aggregate"]
    assert len(rows) == 2 * 2 * 2 and len(agg) == 2 * 2  # models × seeds × metrics; models × metrics
    spread = 0  # values that differ between the seeds (their attack starts differ): intervals checked
    for e in agg:
        mine = [r for r in rows if (r["model"], r["metric"]) == (e["model"], e["metric"])]
        assert sorted(r["seed"] for r in mine) == [0, 1] and e["n_seeds"] == 2
        for key in ("clean", "at_highlight", "damage", "aaddc_jammer", "aaddc_jammer@reconstruction",
                    "clean@reconstruction", "gap_at_highlight"):
            vals = np.array([r[key] for r in mine], dtype=float)
            assert e[key]["mean"] == pytest.approx(vals.mean(), abs=1e-12)
            if vals.std() > 0:
                lo, hi = stats.t.interval(0.95, len(vals) - 1, loc=vals.mean(), scale=stats.sem(vals))
                assert (e[key]["lo"], e[key]["hi"]) == (pytest.approx(lo, rel=1e-9), pytest.approx(hi, rel=1e-9))
                spread += 1
        for r in mine:  # damage: positive = worse than clean, in the metric's direction
            assert r["damage"] == pytest.approx(r["clean"] - r["at_highlight"] if r["metric"] == "ssim"
                                                else r["at_highlight"] - r["clean"])
            assert r["clean@reconstruction"] == pytest.approx(1.0 if r["metric"] == "ssim" else 0.0, abs=1e-6)
    assert spread >= 4
    md = (out / "summary.md").read_text()
    assert "mini (mnist-5k) — seeds 0, 1" in md and "t quantile 12.7 with 1 degree of freedom" in md
    assert "AADDC PGD vs dec(z0)" in md and "## Every seed" in md and "Orderings" in md
    stored = json.loads((out / "summary.json").read_text())
    assert stored["seeds"] == [0, 1] and len(stored["aggregate"]) == 4


def test_per_model_statistics_match_the_simulation_and_an_independent_computation(seeded_run,
                                                                                    trained_checkpoint) -> None:
    from channelae.checkpoint import load_checkpoint
    from channelae.data import load_dataset
    from channelae.results import load

    summary, out, _ = seeded_run
    m = next(x for x in summary["models"] if (x["model"], x["seed"]) == ("a", 0))
    res = load(out / "a" / "seed0" / "black")
    assert m["latent"]["latent_norm"] == pytest.approx(res.budget.mean_latent_norm, rel=1e-5)  # same z, same images
    model, meta = load_checkpoint(trained_checkpoint)
    x = load_dataset("mnist-5k", "test", limit=4).batch(torch.arange(4))
    with torch.no_grad():
        mu, logvar = (t.double().numpy() for t in model.encode_stats(x))
    sigma = np.exp(0.5 * logvar)
    d = mu.shape[1]
    assert m["latent"]["latent_rms"] == pytest.approx(np.mean(np.linalg.norm(mu, axis=1) / np.sqrt(d)), rel=1e-6)
    assert m["latent"]["sigma_over_mu_std"] == pytest.approx(np.mean(sigma.mean(0) / mu.std(0, ddof=1)), rel=1e-6)
    assert m["val_ssim"] == meta["val"]["val_ssim"]
    agg = next(e for e in summary["models_aggregate"] if e["model"] == "a")
    assert agg["latent_rms"]["mean"] == pytest.approx(m["latent"]["latent_rms"])  # same checkpoint for both seeds


def test_latent_report_of_a_deterministic_model_has_no_sigma() -> None:
    from channelae.experiments.stats import latent_report

    torch.manual_seed(0)
    out = latent_report(build_model("swt-dae", (1, 28, 28), 6).eval(), torch.rand(5, 1, 28, 28))
    assert out["variational"] is False and out["sigma_over_mu_std"] is None and out["latent_dim"] == 6


def test_latent_report_sigma_ratio_on_known_posteriors() -> None:
    """A stand-in encoder with known μ and σ: σ/std(μ) is the mean over dimensions of mean σ / std of μ."""
    from channelae.experiments.stats import latent_report

    mu = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]], dtype=torch.float64)
    sigma = torch.tensor([[0.1, 0.3], [0.2, 0.3], [0.3, 0.3]], dtype=torch.float64)

    class Known:
        def eval(self):
            return self

        def encode_stats(self, x):
            i = x.reshape(x.shape[0], -1)[:, 0].long()
            return mu[i], 2 * torch.log(sigma[i])

    out = latent_report(Known(), torch.arange(3, dtype=torch.float64).reshape(3, 1, 1, 1), batch_size=2)
    std = np.array([2.0, np.sqrt(3.0)])  # sample std (N − 1) of each column of mu
    assert out["sigma_over_mu_std"] == pytest.approx(np.mean(np.array([0.2, 0.3]) / std))
    assert out["latent_norm"] == pytest.approx(np.mean([1.0, np.sqrt(5.0), np.sqrt(32.0)]))


def test_tc_report_exact_matches_a_known_total_correlation() -> None:
    """Posteriors N(μ_n, σ²I) with means drawn from a correlated Gaussian: the exact decomposition's TC is
    −½·log(1 − ρ'²), ρ' = ρ/(1 + σ²); its terms sum to the analytic mean KL; the minibatch estimate is there."""
    from channelae.experiments.stats import tc_report

    g = torch.Generator().manual_seed(2)
    rho, sigma, n = 0.8, 0.5, 4000
    cov = torch.tensor([[1.0, rho], [rho, 1.0]], dtype=torch.float64)
    mu = torch.randn(n, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    logvar = torch.full_like(mu, math.log(sigma**2))
    rep = tc_report(mu, logvar, batch_size=64, n_samples=800, seed=0)
    r = rho / (1 + sigma**2)
    ex = rep["exact"]
    assert ex["n_samples"] == 800 and ex["replicates"] == 4 and 0 < ex["se"]["tc"] < 0.1
    assert ex["tc"] == pytest.approx(-0.5 * math.log(1 - r**2), abs=0.05 + 3 * ex["se"]["tc"])
    assert ex["mi"] + ex["tc"] + ex["dwkl"] == pytest.approx(rep["kl"], abs=0.15)
    assert rep["minibatch"]["batch_size"] == 64 and rep["minibatch"]["batches"] == n // 64
    assert rep["minibatch_large"]["batch_size"] == 512 and rep["minibatch_large"]["batches"] == n // 512
    mb = rep["minibatch"]
    assert mb["mi"] + mb["tc"] + mb["dwkl"] == pytest.approx(rep["kl"], abs=0.15)  # same KL, split differently


def test_tc_vae_models_report_the_exact_and_minibatch_decomposition(tmp_path: Path, monkeypatch) -> None:
    """model_statistics of a (small, untrained) tc-vae checkpoint: the decomposition on its training data (its
    train_images and batch size), cached in model_stats.json, and in summary.md."""
    from channelae.checkpoint import save_checkpoint
    from channelae.experiments import stats as st
    from channelae.experiments.summary import summary_markdown

    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "tc", build_model("tc-vae", (1, 28, 28), 10, beta=5.0),
                           {"dataset": "mnist-5k", "settings": {"train_images": 256}, "train": {"batch_size": 32},
                            "val": {"val_ssim": 0.5}, "p_ref": 1.0})
    out = st.model_statistics(ckpt, tmp_path / "folder", dataset="mnist-5k", n_images=8, tc_samples=40, device="cpu")
    tc = out["tc"]
    assert tc["n_train"] == 256 and tc["beta"] == 5.0 and tc["exact"]["n_samples"] == 40
    assert tc["minibatch"]["batch_size"] == 32 and tc["minibatch"]["batches"] == 8 and tc["minibatch_large"] is None
    monkeypatch.setattr(st, "tc_report", lambda *a, **k: pytest.fail("recomputed instead of cached"))
    assert st.model_statistics(ckpt, tmp_path / "folder", dataset="mnist-5k", n_images=8, tc_samples=40,
                               device="cpu") == json.loads(json.dumps(out))
    md = summary_markdown({"name": "x", "dataset": "mnist-5k", "quick": False, "rows": [], "seeds": [0],
                           "models": [{"model": "beta5", "seed": 0, **out}]})
    line = next(s for s in md.splitlines() if s.startswith("| beta5 | 0 |") and "s.e." in s)
    assert f"{tc['exact']['tc']:.4g}" in line


def test_orderings_flag_whether_adjacent_intervals_separate() -> None:
    from channelae.experiments.summary import orderings, summary_markdown

    def entry(model: str, aaddc: tuple[float, float, float], damage: tuple[float, float, float]) -> dict:
        ci = lambda t: {"mean": t[0], "lo": t[1], "hi": t[2], "values": []}
        return {"simulation": "black", "model": model, "snr_db": math.inf, "metric": "ssim", "n_seeds": 3,
                "reference": "input", "aaddc_jammer": ci(aaddc), "damage": ci(damage)}

    agg = [entry("A", (0.30, 0.28, 0.32), (0.10, 0.09, 0.11)), entry("B", (0.45, 0.44, 0.46), (0.05, 0.00, 0.095)),
           entry("C", (0.29, 0.27, 0.33), (0.30, 0.25, 0.35))]
    got = {o["key"]: o for o in orderings(agg)}
    assert got["aaddc_jammer"]["order"] == ["B", "A", "C"]
    assert [(p["relation"], p["separate"]) for p in got["aaddc_jammer"]["pairs"]] == [(">", True), ("≈", False)]
    assert got["damage"]["order"] == ["B", "A", "C"]
    assert [(p["relation"], p["separate"]) for p in got["damage"]["pairs"]] == [("≈", False), ("<", True)]
    rows = [{"model": e["model"], "simulation": "black", "seed": s, "snr_db": math.inf, "metric": "ssim",
             "limit": 0.4, "clean": 0.5, "at_highlight": 0.4, "damage": 0.1} for e in agg for s in (0, 1, 2)]
    md = summary_markdown({"name": "x", "dataset": "d", "quick": False, "rows": rows, "seeds": [0, 1, 2],
                           "aggregate": agg, "orderings": orderings(agg)})
    assert "B > A (intervals separate); A ≈ C (intervals overlap)" in md
    assert "B ≈ A (intervals overlap); A < C (intervals separate)" in md
    assert "t quantile 4.3 with 2 degrees of freedom" in md
    one = [dict(e, n_seeds=1) for e in agg]
    assert orderings(one) == []  # one seed: no interval, no verdict


def test_seed_aggregation_of_breaking_budgets_not_reached_for_every_seed() -> None:
    from channelae.experiments.summary import _pm, aggregate_rows

    base = {"simulation": "s", "model": "m", "snr_db": math.inf, "metric": "ssim", "clean": 0.9}
    agg = aggregate_rows([dict(base, seed=0, breaking_eps_jammer=0.4), dict(base, seed=1, breaking_eps_jammer=math.inf),
                          dict(base, seed=2, breaking_eps_jammer=0.6)])
    b = agg[0]["breaking_eps_jammer"]
    assert b["mean"] is None and b["values"] == [0.4, math.inf, 0.6]
    assert _pm(b, breaking=True) == "0.4, —, 0.6"
    assert _pm({"mean": None, "values": [math.inf, "inf"]}, breaking=True) == "—"  # broken for no seed
    assert _pm({"mean": 0.30412, "lo": 0.2921, "hi": 0.3161}) == "0.304 ± 0.012"


@pytest.mark.parametrize("text,match", [
    ("0,,1", "seeds are integers"), ("0,1,1", "must not repeat"), ("-1", "integers >= 0"), ("a", "integers"),
    (",", "at least one seed"),
])
def test_bad_seeds_are_one_line_usage_errors(text: str, match: str) -> None:
    from channelae.experiments import parse_seeds

    with pytest.raises(UsageError, match=match) as info:
        parse_seeds(text)
    assert info.value.argument == "--seeds"


def test_seeds_option_parses_and_overrides_the_config(tmp_path: Path, monkeypatch) -> None:
    from _cli import run_cli

    from channelae import experiments

    assert experiments.parse_seeds("0, 1,2") == (0, 1, 2)
    code, _, err = run_cli(["run", _mini_config(tmp_path), "--seeds", "1,x"])
    assert code == 2 and "--seeds" in err and "'x'" in err and "Traceback" not in err
    seen = {}
    monkeypatch.setattr(experiments, "run_experiment", lambda cfg, out, **kw: seen.update(kw, cfg=cfg) or {
        "name": "mini", "dataset": "mnist-5k", "quick": False, "rows": []})
    code, _, err = run_cli(["run", _mini_config(tmp_path), "--seeds", "3,4,5", "--quiet"])
    assert code == 0, err
    assert seen["seeds"] == (3, 4, 5) and seen["cfg"].seeds == (0, 1)
    code, _, err = run_cli(["run", _mini_config(tmp_path), "--quiet"])
    assert code == 0 and seen["seeds"] is None  # the config's seeds


@pytest.mark.parametrize("train,match", [
    ("seeds = []", "at least one seed"), ("seeds = [0, 0]", "must not repeat"), ("seeds = [0, -2]", ">= 0"),
    ("seeds = 3", "list of seeds"), ("seed = 0\nseeds = [1, 2]", "both 'seed' and 'seeds'"),
])
def test_bad_seeds_in_a_config(tmp_path: Path, train: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        load_config(_write(tmp_path, BASE + f"[train]\n{train}\n"))


def test_config_seeds_and_references(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, BASE + "references = ['reconstruction', 'input']\n[train]\nseeds = [2, 5]\n"))
    assert cfg.seeds == (2, 5) and cfg.simulations[0].references == ("reconstruction", "input")
    assert load_config(_write(tmp_path, BASE)).seeds == (0,)
    assert load_config(_write(tmp_path, BASE + "[train]\nseed = 4\n")).seeds == (4,)
    for text, match in (("references = ['x']\n", "unknown reference 'x'"),
                        ("references = ['input', 'input']\n", "must not repeat"),
                        ("references = ['input']\nreference = 'input'\n", "either 'reference' or 'references'")):
        with pytest.raises(UsageError, match=match):
            load_config(_write(tmp_path, BASE + text))
    # a model's beta/lam are floats as `channelae train --beta 1` stores them: the same model-cache key
    cfg = load_config(_write(tmp_path, BASE.replace('family = "ae"', 'family = "tc-vae"\nbeta = 1')))
    assert isinstance(cfg.models[0].beta, float)


def test_study_configs_run_three_seeds_with_the_pretraining_settings() -> None:
    """The settings the model cache was pre-trained with (`channelae train --epochs E --seed S`): a change here
    retrains every model."""
    want = {"table1_regularizers": 3, "table2_vae_vs_dae": 3, "fig3_untargeted": 3, "fig4_targets": 3,
            "link_snr_sweep": 3, "table3_beta_tcvae": 2}
    for name, epochs in want.items():
        path = next(c for c in CONFIGS if Path(c).stem == name)
        cfg = load_config(path)
        assert cfg.train == {"epochs": epochs, "seeds": [0, 1, 2]}, name
        assert load_config(path, dataset="mnist-5k").train == {"epochs": 10, "seeds": [0, 1, 2]}, name
    for name in ("fig10_adversarial_training", "fig10_kld_larger_budget"):
        cfg = load_config(next(c for c in CONFIGS if Path(c).stem == name))
        assert cfg.seeds == (0, 1, 2)
        labels = {s.label: s for s in cfg.simulations}
        assert labels["black"].options["target"] == "black" and labels["black"].options["distance"] == "ssim"
        assert "target" not in labels["untargeted"].options


def test_report_on_a_run_folder_rerenders_the_summary_and_combined_plots(seeded_run) -> None:
    from _cli import run_cli

    _, out, _ = seeded_run
    before = (out / "summary.md").read_text()
    (out / "summary.md").unlink()
    (out / "combined_black_seed0.png").unlink()
    code, stdout, err = run_cli(["report", out])
    assert code == 0, err
    assert (out / "summary.md").read_text() == before
    assert (out / "combined_black_seed0.png").stat().st_size > 0
    assert "mini (mnist-5k)" in stdout and "combined plots:" in stdout
    code, _, err = run_cli(["report", out / "a"])  # not a run folder, not a simulate folder
    assert code == 2 and "results.json" in err


@pytest.mark.parametrize("argv,match", [
    (["--adv-mode", "fast"], "--adv-mode"), (["--adv-mode", "faithful"], "add --adversarial"),
    (["--adv-mode", "faithful", "--noise-train"], "add --adversarial"),
])
def test_adv_mode_option_is_checked(argv: list, match: str) -> None:
    from _cli import run_cli

    code, _, err = run_cli(["train", *argv])
    assert code == 2 and match in err, err


def test_adv_mode_reaches_the_hardening_config(monkeypatch) -> None:
    from _cli import run_cli

    from channelae import zoo
    from channelae.training import TrainResult

    seen = {}

    def fake_train(model, dataset, **kw):
        seen.update(kw)
        return TrainResult(out_dir=Path("x"), meta={"p_ref": 1.0, "train_seconds": 0.0, "val": {}})

    monkeypatch.setattr(zoo, "train", fake_train)
    for argv, mode in ((["--adversarial"], "strong"), (["--adversarial", "--adv-mode", "faithful"], "faithful")):
        code, _, err = run_cli(["train", *argv, "--quiet"])
        assert code == 0, err
        assert seen["harden"].mode == mode and seen["harden"].kind == "adversarial"
    assert "mode" in HardeningConfig(mode="faithful").to_dict() and "mode" not in HardeningConfig().to_dict()
    from channelae import cli, hardening

    assert tuple(m.value for m in cli._AdvMode) == hardening.ADV_MODES


@pytest.mark.parametrize("harden,match", [
    ('{ kind = "adversarial", mode = "fast" }', "--adv-mode"),
    ('{ kind = "noise", mode = "faithful" }', "noise training has none"),
])
def test_bad_harden_mode_in_a_config(tmp_path: Path, harden: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        load_config(_write(tmp_path, BASE.replace('family = "ae"', f'family = "ae"\nharden = {harden}')))
    ok = BASE.replace('family = "ae"', 'family = "ae"\nharden = { kind = "adversarial", mode = "faithful" }')
    assert load_config(_write(tmp_path, ok)).models[0].harden["mode"] == "faithful"


def test_quick_summary_says_its_numbers_are_smoke_test_numbers() -> None:
    from channelae.experiments import outputs_lines, summary_markdown

    s = {"name": "x", "dataset": "mnist-5k", "quick": True, "rows": [], "quick_settings": {"epochs": 1},
         "skipped_metrics": {"lpips": "no weights: run `channelae weights fetch lpips-alex`"},
         "outputs": {"summary_md": "o/summary.md", "summary_json": "o/summary.json", "combined_plots": ["o/c.png"],
                     "folder": "o"},
         "runs": [{"dir": "m/sim"}]}
    md = summary_markdown(s)
    assert "Smoke test" in md.splitlines()[2] and "not results" in md
    lines = outputs_lines(s)
    assert lines[0].startswith("--quick: smoke-test numbers")
    assert any("skipped metric lpips" in x and "channelae weights fetch" in x for x in lines)
    assert any("o/summary.md" in x for x in lines) and any("o/c.png" in x for x in lines)
    assert any("o/m/sim" in x for x in lines)


def test_report_reads_a_run_folder_written_before_the_folder_index(tmp_path: Path) -> None:
    """An older summary.json (one seed, no "runs"): the <model>/<simulation> layout is assumed."""
    from test_results import sample_results

    from channelae.experiments import report_run, summary_rows
    from channelae.results import write_json

    res = sample_results()
    res.save(tmp_path / "m" / "s" / "results.json")
    write_json(tmp_path / "summary.json", {"name": "old", "dataset": "mnist-5k", "quick": False,
                                           "rows": summary_rows("m", "s", res)})
    text, paths = report_run(tmp_path)
    assert text.startswith("# old (mnist-5k)") and (tmp_path / "summary.md").read_text() == text
    assert [p.name for p in paths] == ["combined_s.png"]
