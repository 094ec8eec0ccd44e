"""``channelae simulate`` end to end (in-process CLI and library): DD-curves, AADDC, determinism, resume,
report.

All runs use the small ``trained_checkpoint``, a few images, small grids, ``ssim,mse`` and ``--no-plots``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from _cli import run_cli

FAST = ["--n-images", "8", "--metrics", "ssim,mse", "--no-plots", "--quiet", "--device", "cpu"]
#: The issue's command, smaller: awgn + PGD jammer over SNR 0, 10, 20 dB and ε 0, 0.25, …, 1 (with the full tables).
MAIN = ["simulate", "--channel", "awgn+pgd-jammer", "--snr-db", "0:20:10", "--eps", "0:1:0.25",
        "--limit", "ssim=0.12", "--limit", "mse=0.053", *FAST, "--tables"]


@contextlib.contextmanager
def one_thread():
    """One intra-op thread: on a busy 2-core machine two threads make small convolutions ~50x slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COLUMNS", WIDTH)  # wide tables: no wrapped headers to search in
    with one_thread():
        yield


WIDTH = "250"


def load_json(path: Path) -> dict:
    return json.loads((path / "results.json").read_text(encoding="utf-8"))


def without_created(res: dict) -> dict:
    res = json.loads(json.dumps(res))
    del res["manifest"]["created"]
    return res


def num(v) -> float:
    return float(v) if not isinstance(v, str) else float(v.replace("inf", "Infinity").replace("nan", "NaN"))


@pytest.fixture(scope="module")
def main_run(trained_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The issue's simulate command, run once for this module (isolated caches, no network)."""
    root = tmp_path_factory.mktemp("main_run")
    out = root / "out"
    with pytest.MonkeyPatch.context() as mp, one_thread():
        mp.setenv("CHANNELAE_CACHE", str(root / "cache"))
        mp.setenv("TORCH_HOME", str(root / "torch"))
        mp.setenv("COLUMNS", WIDTH)
        mp.delenv("CHANNELAE_DATA", raising=False)
        mp.setattr(socket.socket, "connect", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("network")))
        code, stdout, stderr = run_cli([*MAIN, "--checkpoint", trained_checkpoint, "--out", out])
    assert code == 0, stderr
    return {"out": out, "stdout": stdout, "results": load_json(out), "argv": [*MAIN, "--checkpoint",
                                                                              trained_checkpoint, "--out", out]}


# ---------------------------------------------------------------------------------------------------------
# DD-curves and AADDC


def test_dd_curve_and_aaddc_per_snr(main_run: dict) -> None:
    res = main_run["results"]
    snr = [num(s) for s in res["snr_db"]]
    eps = res["budget"]["eps"]
    assert sorted(snr) == [0.0, 10.0, 20.0]
    assert eps == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert set(res["curves"]) == {"jammer", "noise"}
    for link in ("jammer", "noise"):
        for metric in ("ssim", "mse"):
            c = res["curves"][link][metric]
            assert len(c["mean"]) == len(snr) and all(len(row) == len(eps) for row in c["mean"])
            for si in range(len(snr)):
                for ei in range(len(eps)):
                    assert c["lo"][si][ei] <= c["mean"][si][ei] <= c["hi"][si][ei]
            area = res["aaddc"][link][metric]
            assert len(area) == len(snr) and all(a >= 0 for a in area)
    assert res["metrics"]["ssim"]["limit"] == 0.12 and res["metrics"]["mse"]["limit"] == 0.053


def test_quality_falls_with_eps_and_with_lower_snr(main_run: dict) -> None:
    res = main_run["results"]
    snr = [num(s) for s in res["snr_db"]]
    mse = np.array(res["curves"]["jammer"]["mse"]["mean"])  # [S, E]
    top, low = snr.index(max(snr)), snr.index(min(snr))
    assert mse[top, -1] > mse[top, 0], "the jammer at max ε must hurt more than no jammer (highest SNR)"
    assert mse[low, 0] > mse[top, 0], "at ε = 0 the 0 dB link must be worse than the 20 dB link"
    ssim = np.array(res["curves"]["jammer"]["ssim"]["mean"])
    assert ssim[top, -1] < ssim[top, 0]
    # PGD does at least as much damage as noise of equal power (SPEC §2 control)
    noise = np.array(res["curves"]["noise"]["mse"]["mean"])
    assert mse[top, -1] >= noise[top, -1]


def _aaddc_reference(eps: list[float], q: list[float], limit: float, higher_is_better: bool) -> float:
    """Trapezoids of max(margin, 0) with exact linear crossing points (SPEC §4), written independently."""
    m = np.asarray(q, dtype=np.float64) - limit
    if not higher_is_better:
        m = -m
    total = 0.0
    for i in range(len(eps) - 1):
        a, b, w = m[i], m[i + 1], eps[i + 1] - eps[i]
        if a >= 0 and b >= 0:
            total += w * (a + b) / 2
        elif a > 0 > b or b > 0 > a:
            t = a / (a - b)  # crossing at eps[i] + t·w
            total += 0.5 * a * t * w if a > 0 else 0.5 * b * (1 - t) * w
    return total


def test_aaddc_reference_by_hand() -> None:
    assert _aaddc_reference([0, 1], [1.0, -1.0], 0.0, True) == pytest.approx(0.25)
    assert _aaddc_reference([0, 1, 3], [0.5, 0.5, 0.5], 0.4, True) == pytest.approx(0.3)
    assert _aaddc_reference([0, 2], [0.1, 0.3], 0.2, False) == pytest.approx(0.05)  # lower is better
    assert _aaddc_reference([0, 1], [0.1, 0.2], 0.3, True) == 0.0


def test_aaddc_reproducible_from_stored_curve(main_run: dict) -> None:
    res = main_run["results"]
    eps = res["budget"]["eps"]
    nonzero = 0
    for link, by_metric in res["aaddc"].items():
        for metric, areas in by_metric.items():
            spec = res["metrics"][metric]
            for si, area in enumerate(areas):
                q = res["curves"][link][metric]["mean"][si]
                expected = _aaddc_reference(eps, q, spec["limit"], spec["higher_is_better"])
                assert area == pytest.approx(expected, rel=1e-9, abs=1e-12), (link, metric, si)
                nonzero += area > 0
    assert nonzero > 0, "choose limits that give a non-trivial area"
    assert "crossing" in res["aaddc_definition"]


def test_budget_units_follow_the_definitions(main_run: dict) -> None:
    """Link units by default: ε is the norm of the symbol perturbation (Es = 1), JSR = ε²/n, ε relative to the
    mean clean ‖s‖ = g·mean ‖z‖."""
    b = main_run["results"]["budget"]
    g, n = b["gain"], b["num_symbols"]
    assert n == 5 and b["eps_unit"] == "link" and b["axis"] == "eps"  # d = 10 latents -> 5 complex symbols
    assert b["mean_symbol_norm"] == pytest.approx(g * b["mean_latent_norm"])
    for e, j, r in zip(b["eps"], b["jsr_db"], b["eps_relative"]):
        expected = 10 * math.log10(e * e / n) if e > 0 else -math.inf
        assert num(j) == pytest.approx(expected)
        assert r == pytest.approx(e / b["mean_symbol_norm"])
    assert b["highlight"] == 1.0


def test_tables_and_csv_show_eps_jsr_and_relative_side_by_side(main_run: dict) -> None:
    text = main_run["stdout"]
    for head in ("ε (link L2)", "ε/‖s‖", "JSR dB"):
        assert head in text
    assert "L2 norm per example of the perturbation of the transmitted symbols" in text
    rows = list(csv.DictReader((main_run["out"] / "results.csv").read_text().splitlines()))
    assert {r["eps_unit"] for r in rows} == {"link"}
    b = main_run["results"]["budget"]
    r = next(r for r in rows if r["link"] == "jammer" and float(r["eps"]) == 0.5)
    assert float(r["jsr_db"]) == pytest.approx(10 * math.log10(0.25 / 5), abs=1e-5)
    assert float(r["eps_relative"]) == pytest.approx(0.5 / b["mean_symbol_norm"], rel=1e-5)


def test_results_csv_has_a_row_per_point(main_run: dict) -> None:
    res = main_run["results"]
    rows = list(csv.DictReader((main_run["out"] / "results.csv").read_text().splitlines()))
    snr, eps = res["snr_db"], res["budget"]["eps"]
    rows = [r for r in rows if r["link"] in ("jammer", "noise")]  # + the paired gap and the reference curve
    assert len(rows) == 2 * 2 * len(snr) * len(eps)
    keys = {(r["link"], r["metric"], float(r["snr_db"]), float(r["eps"])) for r in rows}
    assert len(keys) == len(rows)
    for r in rows:
        si = [num(s) for s in snr].index(float(r["snr_db"]))
        ei = eps.index(float(r["eps"]))
        stored = res["curves"][r["link"]][r["metric"]]["mean"][si][ei]
        assert float(r["mean"]) == pytest.approx(stored, rel=1e-7)


def test_results_file_round_trips_through_the_typed_object(main_run: dict) -> None:
    """channelae.results reads what simulate wrote and writes it back byte for byte (current schema)."""
    from channelae.results import SCHEMA_VERSION, load

    text = (main_run["out"] / "results.json").read_text(encoding="utf-8")
    res = load(main_run["out"])
    assert res.to_json() == text
    assert main_run["results"]["schema_version"] == SCHEMA_VERSION
    assert res.links == ["jammer", "noise"] and res.metric_names == ["ssim", "mse"]
    assert (main_run["out"] / "results.csv").read_text() == res.to_csv()


def test_samples_hold_the_class_labels_of_the_evaluated_images(main_run: dict) -> None:
    """The t-SNE plot colours by class: samples.safetensors stores the labels, aligned with ``z``."""
    from safetensors.torch import load_file

    from channelae.data import load_dataset

    samples = load_file(str(main_run["out"] / "samples.safetensors"))
    want = load_dataset("mnist-5k", "test", limit=8).labels
    assert samples["labels"].dtype == torch.int64 and torch.equal(samples["labels"], want)
    assert samples["z"].shape[0] == samples["labels"].shape[0] == 8


def test_stdout_has_one_table_per_snr(main_run: dict) -> None:
    text = main_run["stdout"]
    for label in ("SNR 0 dB", "SNR 10 dB", "SNR 20 dB"):
        assert label in text
    assert "AADDC" in text and "results:" in text


def test_report_reprints_tables_without_recomputing(main_run: dict, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # only results.json, no checkpoint reachable, simulation and model loading forbidden
    d = tmp_path / "copy"
    d.mkdir()
    shutil.copy(main_run["out"] / "results.json", d / "results.json")

    def forbidden(*a, **k):
        raise AssertionError("report must not recompute or load a model")

    import channelae.checkpoint
    import channelae.simulate

    monkeypatch.setattr(channelae.simulate, "simulate", forbidden)
    monkeypatch.setattr(channelae.checkpoint, "load_checkpoint", forbidden)
    monkeypatch.setattr(channelae.checkpoint, "read_metadata", forbidden)
    code, stdout, stderr = run_cli(["report", d, "--no-plots"])
    assert code == 0, stderr
    expected = main_run["stdout"].split("results:")[0]
    assert stdout == expected


# ---------------------------------------------------------------------------------------------------------
# Determinism


SMALL = ["simulate", "--channel", "awgn+pgd-jammer", "--snr-db", "10", "--eps", "0,0.5", "--steps", "3",
         "--n-images", "4", "--metrics", "mse", "--no-plots", "--quiet", "--device", "cpu"]


def test_same_seed_identical_other_seed_different(trained_checkpoint: Path, tmp_path: Path) -> None:
    outs = {}
    for name, out, seed in (("a", "a", 0), ("b", "b", 0), ("c", "c", 1)):  # a and b: the very same settings
        code, _, err = run_cli([*SMALL, "--seed", seed, "--checkpoint", trained_checkpoint,
                                "--out", tmp_path / out])
        assert code == 0, err
        outs[name] = without_created(load_json(tmp_path / out))
        del outs[name]["manifest"]["command"]  # it names the folder
    assert outs["a"] == outs["b"]
    assert outs["a"]["curves"] != outs["c"]["curves"]
    assert outs["a"]["manifest"]["seed"] == 0 and outs["c"]["manifest"]["seed"] == 1


def test_link_without_jammer(trained_checkpoint: Path, tmp_path: Path) -> None:
    code, stdout, err = run_cli(["simulate", "--channel", "awgn", "--snr-db", "0,inf", "--n-images", "4",
                                 "--metrics", "mse", "--no-plots", "--quiet", "--device", "cpu",
                                 "--checkpoint", trained_checkpoint, "--out", tmp_path])
    assert code == 0, err
    res = load_json(tmp_path)
    assert list(res["curves"]) == ["link"] and res["budget"]["eps"] == [0.0]
    mse = res["curves"]["link"]["mse"]["mean"]  # [inf, 0 dB] sorted as given: 0 dB first
    snr = [num(s) for s in res["snr_db"]]
    assert mse[snr.index(0.0)][0] > mse[snr.index(math.inf)][0]
    assert "noiseless" in stdout and "0 dB" in stdout and "95 % interval" in stdout


# ---------------------------------------------------------------------------------------------------------
# Resume (library: a small max_rows gives several chunks)


class Interrupted(Exception):
    pass


def _resume_config(seed: int = 0):
    from channelae.simulate import SimulationConfig

    # S = 2, E = 2, reference K = 47 SNR points -> 100 // 47 = 2 images per chunk -> 3 chunks of 6 images
    return SimulationConfig(channel="pgd-jammer", eps=(0.0, 0.5), snr_db=(math.inf, 10.0), n_images=6,
                            metrics=("mse",), steps=3, max_rows=100, seed=seed)


@pytest.fixture
def chunk_spy(monkeypatch: pytest.MonkeyPatch):
    """Counts chunk files written by simulate; ``spy.stop_after = k`` interrupts before chunk k + 1."""
    import safetensors.torch as st

    real = st.save_file

    class Spy:
        def __init__(self) -> None:
            self.writes: list[str] = []
            self.stop_after: int | None = None

        def reset(self, stop_after: int | None = None) -> None:
            self.writes, self.stop_after = [], stop_after

    spy = Spy()

    def save_file(tensors, filename, *a, **k):
        if ".chunk_" in Path(filename).name:
            if spy.stop_after is not None and len(spy.writes) >= spy.stop_after:
                raise Interrupted
            spy.writes.append(str(filename))
        return real(tensors, filename, *a, **k)

    monkeypatch.setattr(st, "save_file", save_file)
    return spy


def _sim(cfg, out: Path, ckpt: Path, log: list[str] | None = None, **kw) -> dict:
    from channelae.simulate import simulate

    res = simulate(cfg, out, checkpoint=ckpt, device="cpu", progress=False, command="test",
                   log=None if log is None else log.append, **kw)
    assert res.to_json() == (out / "results.json").read_text(encoding="utf-8")  # returns what it wrote
    return without_created(load_json(out))


def _interrupt(cfg, out: Path, ckpt: Path, spy, **kw) -> None:
    from channelae.simulate import simulate

    spy.reset(stop_after=1)
    with pytest.raises(Interrupted):
        simulate(cfg, out, checkpoint=ckpt, device="cpu", progress=False, command="test", **kw)
    assert sorted(p.name for p in (out / "partial").glob("chunk_*")) == ["chunk_00000.safetensors"]
    assert not (out / "results.json").exists()
    spy.reset()


def test_resume_gives_identical_results_and_says_so(trained_checkpoint: Path, tmp_path: Path, chunk_spy) -> None:
    from safetensors.torch import load_file

    cfg = _resume_config()
    full = _sim(cfg, tmp_path / "full", trained_checkpoint)
    assert len(chunk_spy.writes) == 3, "max_rows must split the run into chunks"

    _interrupt(cfg, tmp_path / "resumed", trained_checkpoint, chunk_spy)
    log: list[str] = []
    resumed = _sim(cfg, tmp_path / "resumed", trained_checkpoint, log)
    assert len(chunk_spy.writes) == 2, "the finished chunk must be reused"
    assert any(line.startswith("resuming: 1 of 3 chunks done") for line in log), log
    assert resumed == full
    assert not (tmp_path / "resumed" / "partial").exists()
    a = load_file(str(tmp_path / "full" / "per_image.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "per_image.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_finished_results_of_the_same_settings_are_reused_not_recomputed(trained_checkpoint: Path, tmp_path: Path,
                                                                         chunk_spy) -> None:
    cfg = _resume_config()
    first = _sim(cfg, tmp_path, trained_checkpoint)
    chunk_spy.reset()
    text = (tmp_path / "results.json").read_text()
    log: list[str] = []
    assert _sim(cfg, tmp_path, trained_checkpoint, log) == first
    assert chunk_spy.writes == [] and (tmp_path / "results.json").read_text() == text  # nothing recomputed
    assert any("already holds the results of these settings" in line and "--overwrite recomputes" in line
               for line in log), log
    again = _sim(cfg, tmp_path, trained_checkpoint, overwrite=True)  # --overwrite recomputes, same numbers
    assert len(chunk_spy.writes) == 3 and again == first


def test_other_settings_in_the_folder_are_refused_before_any_work(trained_checkpoint: Path, tmp_path: Path,
                                                                  chunk_spy, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finished results or an unfinished run of another configuration: one UsageError naming the differing
    fields, --overwrite and --out, raised before a model is even looked up; overwrite=True replaces them."""
    import channelae.simulate
    from channelae.errors import UsageError

    cfg = _resume_config()
    reference = _sim(cfg, tmp_path / "ref", trained_checkpoint)

    _interrupt(_resume_config(seed=1), tmp_path / "other_seed", trained_checkpoint, chunk_spy)
    _sim(_resume_config(), tmp_path / "finished", trained_checkpoint)

    def no_model(*a, **k):
        raise AssertionError("refused only after resolving the model")

    with monkeypatch.context() as mp:
        mp.setattr(channelae.simulate, "_resolve_model", no_model)
        with pytest.raises(UsageError, match=r"unfinished run of other settings \(differs in: seed\)") as exc:
            _sim(cfg, tmp_path / "other_seed", trained_checkpoint)
        assert exc.value.argument == "--out" and "--overwrite" in str(exc.value) and "\n" not in str(exc.value)
        with pytest.raises(UsageError, match=r"results of other settings \(differs in: eps, n_images\)"):
            _sim(replace_config(cfg, n_images=4, eps=(0.0, 0.25)), tmp_path / "finished", trained_checkpoint)
    chunk_spy.reset()
    assert _sim(cfg, tmp_path / "other_seed", trained_checkpoint, overwrite=True) == reference
    assert len(chunk_spy.writes) == 3, "the foreign partial chunk must be recomputed"


def test_partial_of_other_weights_is_refused_and_other_device_type_starts_over(trained_checkpoint: Path,
                                                                               tmp_path: Path, chunk_spy) -> None:
    import json as json_

    from safetensors.torch import load_file, save_file

    from channelae.errors import UsageError

    cfg = _resume_config()
    reference = _sim(cfg, tmp_path / "ref", trained_checkpoint)
    other = tmp_path / "other_ckpt"  # the same config with other weights
    shutil.copytree(trained_checkpoint, other)
    w = load_file(str(other / "model.safetensors"))
    save_file({k: (v + 0.05 if v.is_floating_point() else v) for k, v in w.items()}, str(other / "model.safetensors"))
    _interrupt(cfg, tmp_path / "other_model", other, chunk_spy)
    with pytest.raises(UsageError, match="unfinished run of these settings for another model"):
        _sim(cfg, tmp_path / "other_model", trained_checkpoint)
    assert _sim(cfg, tmp_path / "other_model", trained_checkpoint, overwrite=True) == reference
    assert len(chunk_spy.writes) == 3

    # chunks computed on another device type change numbers: started over, and said so
    _interrupt(cfg, tmp_path / "device", trained_checkpoint, chunk_spy)
    stamp = tmp_path / "device" / "partial" / "run.json"
    doc = json_.loads(stamp.read_text())
    stamp.write_text(json_.dumps({**doc, "device": "cuda"}))
    log: list[str] = []
    assert _sim(cfg, tmp_path / "device", trained_checkpoint, log) == reference
    assert len(chunk_spy.writes) == 3
    assert any("starting over" in line and "computed on cuda" in line for line in log), log


def replace_config(cfg, **kw):
    import dataclasses

    return dataclasses.replace(cfg, **kw)


# ---------------------------------------------------------------------------------------------------------
# Grids


def test_grid_parsing() -> None:
    from channelae.grids import eps_grid, parse_grid, parse_values

    assert parse_values("0:1:0.1", "--eps") == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert parse_values("0:20:5", "--snr-db") == [0.0, 5.0, 10.0, 15.0, 20.0]
    assert parse_grid("inf,10", "--snr-db", allow_inf=True) == [math.inf, 10.0]
    values, hi = eps_grid("0.5")
    assert values[0] == 0.0 and values[-1] == 0.5 and len(values) == 11 and hi == 0.5
    assert eps_grid("0.4,0,0.2") == ([0.0, 0.2, 0.4], 0.4)


# ---------------------------------------------------------------------------------------------------------
# Common random numbers, paired statistics, equivalent SNR, convergence (issue #11)


def _per_image(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(out / "per_image.safetensors"))


def test_jammer_and_control_eps0_rows_are_identical_at_finite_snr(main_run: dict) -> None:
    """Common random numbers: at ε = 0 the PGD link and its noise control are the same link with the same
    channel realisations, so every per-image value agrees bit for bit (here at 0, 10 and 20 dB)."""
    per = _per_image(main_run["out"])
    res = main_run["results"]
    for m in ("ssim", "mse"):
        a, b = per[f"jammer.{m}"], per[f"noise.{m}"]  # [S, E, N]
        assert torch.equal(a[:, 0], b[:, 0])
        assert not torch.equal(a[:, 1:], b[:, 1:])  # ... and only there
        assert [row[0] for row in res["curves"]["jammer"][m]["mean"]] == \
            [row[0] for row in res["curves"]["noise"][m]["mean"]]
        gap = res["paired_gap"][m]
        assert all(gap[k][si][0] == 0.0 for k in ("mean", "lo", "hi") for si in range(3))
    snr = [num(s) for s in res["snr_db"]]
    mse0 = per["jammer.mse"][:, 0].mean(-1)
    assert mse0[snr.index(0.0)] > mse0[snr.index(20.0)]  # receiver noise is really there


def test_paired_gap_has_a_t_interval_at_every_snr_and_budget(main_run: dict) -> None:
    """jammer − noise per image, its mean and 95 % t-interval (recomputed here with scipy)."""
    import scipy.stats

    per = _per_image(main_run["out"])
    res = main_run["results"]
    S, E = len(res["snr_db"]), len(res["budget"]["eps"])
    for m in ("ssim", "mse"):
        diff = (per[f"jammer.{m}"] - per[f"noise.{m}"]).numpy()  # [S, E, N]
        gap = res["paired_gap"][m]
        assert np.array(gap["mean"]).shape == (S, E)
        for si in range(S):
            for ei in range(1, E):
                d = diff[si, ei]
                lo, hi = scipy.stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=scipy.stats.sem(d))
                assert gap["mean"][si][ei] == pytest.approx(d.mean(), rel=1e-9, abs=1e-12)
                assert (gap["lo"][si][ei], gap["hi"][si][ei]) == (pytest.approx(lo, rel=1e-6, abs=1e-12),
                                                                  pytest.approx(hi, rel=1e-6, abs=1e-12))
    text = main_run["stdout"]
    assert "ssim↑ — awgn+pgd-jammer" in text and "mse↓ — awgn+pgd-jammer" in text and "PGD − noise" in text
    assert "±" in text
    rows = list(csv.DictReader((main_run["out"] / "results.csv").read_text().splitlines()))
    assert sum(r["link"] == "jammer-noise" for r in rows) == 2 * S * E


def test_equivalent_snr_loss_is_finite_within_the_reference_curve_and_marked_outside(main_run: dict) -> None:
    from channelae.curves import EQUIVALENT_SNR_STATUS
    from channelae.results import load

    res = load(main_run["out"])
    ref = res.reference_curve
    grid = np.asarray(ref.snr_db)
    assert grid[-1] == math.inf and set(range(-5, 41)) <= set(grid[:-1].tolist())
    assert np.all(np.diff(grid[:-1]) > 0) and ref.channel == "awgn+noise-jammer"
    snr = res.snr_grid()
    some_positive = False
    for link in ("jammer", "noise"):
        for m in ("ssim", "mse"):
            loss = np.asarray(res.equivalent_snr_loss_db[link][m])
            sp = np.asarray(res.equivalent_snr_db[link][m])
            status = np.asarray(res.equivalent_snr_status[link][m])
            assert set(status.ravel()) <= set(EQUIVALENT_SNR_STATUS)
            assert np.all(loss[:, 0] == 0.0)  # ε = 0 is the reference itself
            q = np.asarray(res.curve(link, m).mean)
            qref = np.asarray(ref.curves[m].mean[0])
            for si in range(len(snr)):
                for ei in range(loss.shape[1]):
                    if status[si, ei] == "ok":  # read on the curve: finite, and the curve gives the quality there
                        assert math.isfinite(loss[si, ei]) and math.isfinite(sp[si, ei])
                        assert np.interp(sp[si, ei], grid[:-1], qref[:-1]) == pytest.approx(q[si, ei], abs=1e-9)
                        some_positive |= loss[si, ei] > 0
                    elif status[si, ei] == "beyond":
                        assert loss[si, ei] == math.inf and sp[si, ei] == -math.inf
    assert some_positive, "the jammer should cost SNR somewhere on this grid"
    assert "equivalent SNR (ssim)" in main_run["stdout"]


def test_convergence_diagnostic_is_recorded(main_run: dict) -> None:
    conv = main_run["results"]["convergence"]
    S, E = len(main_run["results"]["snr_db"]), len(main_run["results"]["budget"]["eps"])
    assert conv["half_steps"] == conv["steps"] // 2 and conv["mode"] == "apgd" and conv["distance"] == "mse"
    half, final = np.array(conv["distance_half"], dtype=float), np.array(conv["distance_final"], dtype=float)
    assert half.shape == final.shape == (S, E)
    assert np.all(np.isnan(final[:, 0])) and np.all(np.isfinite(final[:, 1:]))  # ε = 0 is not searched
    assert np.all(np.isfinite(half[:, 1:])) and np.all(final[:, 1:] > 0)
    assert "attack convergence (apgd" in main_run["stdout"] and "at finite SNR" in main_run["stdout"]
    # how it searched: awgn *before* the jammer is realised and known to it, so the link after it is
    # deterministic: one draw per step, no control variate, no averaging; the curvature starts
    from channelae.attack_defaults import DEFAULT_CURVATURE

    assert (conv["eot"], conv["control_variate"], conv["average"]) == (1, False, 0.0)
    assert conv["curvature"] == DEFAULT_CURVATURE


def test_rayleigh_eps0_rows_identical_and_reference_sees_the_same_realisations(trained_checkpoint: Path,
                                                                                 tmp_path: Path) -> None:
    from channelae.simulate import SimulationConfig, simulate

    cfg = SimulationConfig(channel="rayleigh+pgd-jammer", eps=(0.0, 0.5, 1.0), snr_db=(10.0, math.inf),
                           n_images=4, metrics=("ssim", "mse"), steps=2)
    res = simulate(cfg, tmp_path, checkpoint=trained_checkpoint, device="cpu", progress=False, command="test")
    per = _per_image(tmp_path)
    k = res.reference_curve.snr_db.index(10.0)
    for m in ("ssim", "mse"):
        assert torch.equal(per[f"jammer.{m}"][:, 0], per[f"noise.{m}"][:, 0])
        # the noise-only reference run (its own SNR grid) saw the very same fading and noise at 10 dB
        torch.testing.assert_close(per[f"reference.{m}"][k, 0], per[f"jammer.{m}"][0, 0], rtol=1e-5, atol=1e-7)
    assert res.equivalent_snr_loss_db["jammer"]["mse"][0][0] == 0.0
    conv = res.convergence  # noiseless the diagnostic is exact: the best distance so far only grows
    assert np.all(np.asarray(conv.distance_final[1][1:]) >= np.asarray(conv.distance_half[1][1:]) - 1e-12)


def test_noiseless_and_finite_snr_points_are_searched_apart(trained_checkpoint: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The jammed link runs its noiseless SNR point and its finite ones as two calls (the noiseless search
    needs no channel draws), on the same realisations as the noise control: ε = 0 rows still identical."""
    from channelae.link import Link
    from channelae.simulate import SimulationConfig, simulate

    calls: list[tuple[str, list[float]]] = []
    forward = Link.forward

    def spy(self, x, snr_db=None, **kw):
        calls.append((self.channel_spec if isinstance(getattr(self, "channel_spec", None), str) else
                      type(self.channel).__name__, torch.as_tensor(snr_db).reshape(-1).tolist()))
        return forward(self, x, snr_db, **kw)

    monkeypatch.setattr(Link, "forward", spy)
    cfg = SimulationConfig(channel="pgd-jammer", eps=(0.0, 0.3), snr_db=(10.0, math.inf, 20.0), n_images=4,
                           metrics=("mse",), steps=2)
    res = simulate(cfg, tmp_path, checkpoint=trained_checkpoint, device="cpu", progress=False, command="test")
    grids = [g for _, g in calls]
    assert [math.inf] in grids and [10.0, 20.0] in grids  # the jammer link, per group
    assert [10.0, math.inf, 20.0] in grids  # the noise control: one call
    per = _per_image(tmp_path)
    assert torch.equal(per["jammer.mse"][:, 0], per["noise.mse"][:, 0])
    mse0 = per["jammer.mse"][:, 0].mean(-1)  # noise grows 20 dB -> 10 dB, none at inf: order kept
    assert mse0[1] < mse0[2] < mse0[0]
    assert (per["jammer.mse"][:, 1].mean(-1) > per["noise.mse"][:, 1].mean(-1)).all()
    conv = res.convergence  # how it searched at the finite points; the noiseless diagnostic only grows
    assert (conv.eot, conv.control_variate) == (2, True)
    assert conv.distance_final[1][1] >= conv.distance_half[1][1] - 1e-12
    code, stdout, stderr = run_cli(["report", tmp_path, "--no-plots"])
    assert code == 0, stderr
    line = next(ln for ln in stdout.splitlines() if "attack convergence" in ln)
    assert "; 2 channel draws per step, late iterates averaged through the random link" in line


def test_draws_average_each_image_over_independent_realisations(trained_checkpoint: Path, tmp_path: Path) -> None:
    from channelae.data import load_dataset
    from channelae.link import Link
    from channelae.simulate import SimulationConfig, _chunk_generator, simulate

    cfg = SimulationConfig(channel="rayleigh", snr_db=(10.0,), n_images=4, metrics=("mse",), draws=3)
    res = simulate(cfg, tmp_path, checkpoint=trained_checkpoint, device="cpu", progress=False, command="test")
    assert res.draws == 3 and load_json(tmp_path)["draws"] == 3
    got = _per_image(tmp_path)["link.mse"]  # [1, 1, 4]
    # independently: every image three times along the batch, one link call with the chunk's generator
    x = load_dataset("mnist-5k", "test", limit=4).batch(torch.arange(4)).repeat_interleave(3, dim=0)
    out = Link.from_checkpoint(trained_checkpoint, "rayleigh")(x, [10.0], generator=_chunk_generator(0, 0,
                                                                                                     torch.device("cpu")))
    mse = (out.x_hat[0, 0] - x).square().flatten(1).mean(1).double().reshape(4, 3)  # [image, draw]
    assert (mse.std(1) > 0).all(), "each copy must see its own realisation"
    torch.testing.assert_close(got[0, 0], mse.mean(1), rtol=1e-5, atol=1e-9)


def test_aaddc_does_not_change_when_grid_points_are_added_near_zero(trained_checkpoint: Path,
                                                                    tmp_path: Path) -> None:
    """Reference = dec(z0): PSNR is +inf at ε = 0 and capped at the 8-bit ceiling. Adding budgets p ≤ δ = 1e-4 to
    the grid may change an AADDC by at most δ·R (R: range of the margins) + (h/2)·|q(δ) − q(0)| (the trapezoid
    rule on the first segment of width h), and PSNR is continuous at 0: q(δ) = q(0)."""
    from channelae.curves import PSNR_CEILING_DB
    from channelae.simulate import SimulationConfig, simulate

    base = {"channel": "pgd-jammer", "snr_db": (math.inf,), "n_images": 4, "metrics": ("psnr", "ssim", "mse"),
            "reference": "reconstruction", "steps": 2}
    coarse = simulate(SimulationConfig(eps=(0.0, 0.5, 1.0), **base), tmp_path / "a",
                      checkpoint=trained_checkpoint, device="cpu", progress=False, command="test")
    fine = simulate(SimulationConfig(eps=(0.0, 1e-5, 1e-4, 0.5, 1.0), **base), tmp_path / "b",
                    checkpoint=trained_checkpoint, device="cpu", progress=False, command="test")
    delta, h = 1e-4, 0.5
    for link in ("jammer", "noise"):
        for m in ("psnr", "ssim", "mse"):
            qa, qb = np.asarray(coarse.curve(link, m).mean[0]), np.asarray(fine.curve(link, m).mean[0])
            spec = fine.metrics[m]
            margins = np.clip((qb - spec.limit) * (1 if spec.higher_is_better else -1), 0, None)
            shared = np.abs(qb[[0, 3, 4]] - qa).max()  # the common grid points (same attack, same draws)
            bound = delta * (margins.max() - margins.min()) + h / 2 * abs(qb[2] - qb[0]) + 1.0 * shared + 1e-9
            change = abs(fine.aaddc_of(link, m)[0] - coarse.aaddc_of(link, m)[0])
            assert change <= bound, (link, m, change, bound)
        q0 = fine.curve(link, "psnr").mean[0][:3]  # capped (float32 metric), continuous at 0
        assert q0[0] == q0[1] == q0[2] == pytest.approx(PSNR_CEILING_DB, rel=1e-7)
    assert fine.metrics["psnr"].cap == PSNR_CEILING_DB


def _assert_close_json(a, b, path: str = "", rtol: float = 1e-4, atol: float = 1e-6) -> None:
    """Equal structure and strings; numbers (also "inf"/"nan" strings) within ``rtol``/``atol``."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            _assert_close_json(a[k], b[k], f"{path}.{k}", rtol, atol)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close_json(x, y, f"{path}[{i}]", rtol, atol)
    elif isinstance(a, (int, float)) and not isinstance(a, bool) or a in ("inf", "-inf", "nan"):
        x, y = num(a), num(b)
        assert (math.isnan(x) and math.isnan(y)) or x == y or abs(x - y) <= atol + rtol * abs(y), (path, a, b)
    else:
        assert a == b, (path, a, b)


def test_folding_leaves_the_results_unchanged_in_fp32(trained_checkpoint: Path, tmp_path: Path) -> None:
    """The folded decoder (default) and the model's own decoder give the same results.json to float tolerance
    with an fp32 search: the attack's search, its diagnostic, every metric, interval and derived number."""
    from channelae.simulate import SimulationConfig, simulate

    base = {"channel": "pgd-jammer", "snr_db": (math.inf, 10.0), "eps": (0.0, 0.5, 1.0), "n_images": 4,
            "metrics": ("ssim", "psnr", "mse"), "steps": 4, "attack_precision": "fp32"}
    runs = {}
    for fold in (True, False):
        simulate(SimulationConfig(fold=fold, **base), tmp_path / str(fold), checkpoint=trained_checkpoint,
                 device="cpu", progress=False, command="test")
        runs[fold] = load_json(tmp_path / str(fold))
    for res in runs.values():
        del res["manifest"]
    assert runs[True]["convergence"]["precision"] == "fp32"
    # receiver noise after the jammer: the noisy search (draws per step, control variate, averaging) ran
    from channelae.attack_defaults import DEFAULT_EOT
    from channelae.channels.pgd_jammer import NOISY_AVERAGE

    conv = runs[True]["convergence"]
    assert (conv["eot"], conv["control_variate"], conv["average"]) == (DEFAULT_EOT, True, NOISY_AVERAGE)
    _assert_close_json(runs[True], runs[False])


def test_jsr_grid_is_float64_and_plots_use_jsr_as_x_axis(trained_checkpoint: Path, tmp_path: Path) -> None:
    from channelae.plots import dd_curves

    code, stdout, err = run_cli(["simulate", "--channel", "noise-jammer", "--jsr-db", "-10,0", "--snr-db", "inf",
                                 *FAST, "--tables", "--checkpoint", trained_checkpoint, "--out", tmp_path])
    assert code == 0, err
    from channelae.results import load

    res = load(tmp_path)
    assert res.budget.jsr_db == [-math.inf, -10.0, 0.0] and res.budget.axis == "jsr_db"
    assert res.budget.eps == pytest.approx([0.0, math.sqrt(0.5), math.sqrt(5.0)])  # link units: √(n·10^(J/10))
    rows = [line.split("│") for line in stdout.splitlines() if "│" in line]  # SNR, ε, ε/‖s‖, JSR dB, ...
    assert any(cells[4].strip() == "-10" for cells in rows if len(cells) > 5)
    assert any(cells[4].strip() == "0" for cells in rows if len(cells) > 5)
    # the random jammer is labelled as what it is, never "PGD", and said not to be the receiver's AWGN
    assert "PGD" not in stdout and "noise jammer" in stdout and "not the receiver's AWGN" in stdout
    fig = dd_curves.build(res)
    bottom = fig.axes[-1] if fig.axes[-1].get_xlabel() else fig.axes[0]
    assert "JSR (dB)" in {ax.get_xlabel() for ax in fig.axes} and bottom is not None
    xs = np.concatenate([line.get_xdata() for ax in fig.axes for line in ax.get_lines() if len(line.get_xdata()) > 1])
    assert np.isfinite(xs).all() and xs.min() == -10.0


def test_latent_units_on_request(trained_checkpoint: Path, tmp_path: Path) -> None:
    code, stdout, err = run_cli(["simulate", "--channel", "noise-jammer", "--eps", "0,1", "--eps-unit", "latent",
                                 "--snr-db", "inf", *FAST, "--tables", "--checkpoint", trained_checkpoint,
                                 "--out", tmp_path])
    assert code == 0, err
    b = load_json(tmp_path)["budget"]
    g, n = b["gain"], b["num_symbols"]
    assert b["eps_unit"] == "latent" and num(b["jsr_db"][1]) == pytest.approx(10 * math.log10(g * g / n))
    assert b["eps_relative"][1] == pytest.approx(1 / b["mean_latent_norm"])
    assert "ε (latent L2)" in stdout and "ε/‖z‖" in stdout and "latent L2 norm per example" in stdout


def test_linf_jammer_summary_says_how_the_budget_bounds_it(trained_checkpoint: Path, tmp_path: Path) -> None:
    code, stdout, err = run_cli(["simulate", "--channel", "pgd-jammer", "--norm", "linf", "--eps", "0,0.5",
                                 "--steps", "2", "--snr-db", "inf", *FAST, "--checkpoint", trained_checkpoint,
                                 "--out", tmp_path])
    assert code == 0, err
    flat = " ".join(stdout.split())
    assert "L∞ jammer: each real coordinate within ±ε/√(2n), so ‖δ‖₂ ≤ ε" in flat


def test_report_reads_a_version_1_results_dir(main_run: dict, tmp_path: Path) -> None:
    """An old results folder (schema 1: latent ε, no paired statistics) still prints its tables."""
    doc = load_json(main_run["out"])
    for key in ("equivalent_snr_db", "equivalent_snr_status", "paired_gap", "reference_curve", "convergence",
                "draws"):
        del doc[key]
    for key in ("eps_unit", "mean_symbol_norm", "axis"):
        del doc["budget"][key]
    doc["schema_version"] = 1
    (tmp_path / "results.json").write_text(json.dumps(doc))
    code, stdout, err = run_cli(["report", tmp_path, "--no-plots"])
    assert code == 0, err
    assert "ε (latent L2)" in stdout and "ε/‖z‖" in stdout and "SNR 10 dB" in stdout and "Δssim" not in stdout


def test_broken_at_zero_and_not_broken_read_the_same_in_simulate_report_and_run() -> None:
    """One symbol for "not broken" and one for "broken at ε = 0" in the tables (simulate, report) and in the
    experiment summary (run)."""
    from rich.console import Console
    from test_results import sample_results

    from channelae.experiments import _summary_rows, summary_markdown
    from channelae.report import print_tables
    from channelae.results import BROKEN_AT_ZERO, NOT_BROKEN, BreakingBudget

    res = sample_results()
    res.breaking_budget = {"jammer": {"ssim": BreakingBudget(eps=[0.0, math.inf], jsr_db=[-math.inf, math.inf])}}
    console = Console(record=True, width=250)
    print_tables(res, console)
    text = console.export_text()
    assert BROKEN_AT_ZERO in text and NOT_BROKEN in text
    md = summary_markdown({"name": "x", "dataset": "d", "quick": False, "rows": _summary_rows("m", "s", res)})
    lines = [line for line in md.splitlines() if line.startswith("| m |") and "| ssim |" in line]
    assert lines[0].rstrip(" |").endswith(BROKEN_AT_ZERO) and lines[1].rstrip(" |").endswith(NOT_BROKEN)


def test_equivalent_snr_table_says_why_a_value_is_outside_the_curve() -> None:
    from rich.console import Console
    from test_results import sample_results

    from channelae.report import print_tables

    res = sample_results()  # reference curve 0, 10 dB and noiseless; statuses best/ok/beyond, ok/nan/ok
    res.equivalent_snr_status["jammer"]["ssim"][1][2] = "beyond"
    console = Console(record=True, width=250)
    print_tables(res, console)
    text = console.export_text()
    table = text[text.index("equivalent SNR (ssim)"):]

    def row(e: str) -> str:
        return next(line for line in table.splitlines() if line.replace("│", " ").split()[:1] == [e])

    cells = [c.strip() for c in row("1").split("│") if c.strip()]
    assert cells[2] == "< 0ᵇ"  # noiseless: worse than noise alone at the curve's lowest SNR
    assert cells[3] == "> 10ᵇ"  # 10 dB: the loss exceeds 10 − 0 dB
    cells = [c.strip() for c in row("0.5").split("│") if c.strip()]
    assert cells[2] == "30" and cells[3] == "n/a"
    assert "beyond the curve" in text and "censored" in text


# ---------------------------------------------------------------------------------------------------------
# The console: the one-screen summary first, the full tables on request (issue #12)


def _screen_lines(print_fn, width: int = 100) -> list[str]:
    from rich.console import Console

    console = Console(record=True, width=width)
    print_fn(console)
    return console.export_text().splitlines()


def _tiled(res, k: int):
    """``res`` with its SNR grid repeated ``k`` times (every [S]-leading field tiled): a long SNR grid."""
    import dataclasses

    from channelae.results import BreakingBudget, Convergence, Curve

    def tile(rows):
        return [row for _ in range(k) for row in rows]

    def curve(c: Curve) -> Curve:
        return Curve(mean=tile(c.mean), lo=tile(c.lo), hi=tile(c.hi))

    snr = [float(10 * i) for i in range(k * len(res.snr_db))]
    return dataclasses.replace(
        res, snr_db=snr,
        curves={ln: {m: curve(c) for m, c in by.items()} for ln, by in res.curves.items()},
        aaddc={ln: {m: tile(v) for m, v in by.items()} for ln, by in res.aaddc.items()},
        breaking_budget={ln: {m: BreakingBudget(eps=tile(b.eps), jsr_db=tile(b.jsr_db)) for m, b in by.items()}
                         for ln, by in res.breaking_budget.items()},
        equivalent_snr_loss_db={ln: {m: tile(v) for m, v in by.items()} for ln, by in res.equivalent_snr_loss_db.items()},
        equivalent_snr_db={ln: {m: tile(v) for m, v in by.items()} for ln, by in res.equivalent_snr_db.items()},
        equivalent_snr_status={ln: {m: tile(v) for m, v in by.items()} for ln, by in res.equivalent_snr_status.items()},
        paired_gap={m: curve(c) for m, c in res.paired_gap.items()},
        convergence=dataclasses.replace(res.convergence, distance_half=tile(res.convergence.distance_half),
                                        distance_final=tile(res.convergence.distance_final))
        if isinstance(res.convergence, Convergence) else None)


def test_summary_fits_one_screen_of_100_columns(main_run: dict) -> None:
    from test_results import sample_results

    from channelae.report import print_outputs, print_summary
    from channelae.results import load

    plots = [main_run["out"] / f"{n}.png" for n in ("dd_curves", "heatmap", "images", "latent_bars")]
    for res in (load(main_run["out"]), sample_results(), _tiled(sample_results(), 12)):
        lines = _screen_lines(lambda c, r=res: (print_summary(r, c), print_outputs(main_run["out"], r, plots, c)))
        assert len(lines) <= 25, "\n".join(lines)
        assert max(len(line.rstrip()) for line in lines) <= 100
        text = "\n".join(lines)
        assert "no jammer" in text and "PGD − noise" in text and "break ε" in text and "SNR loss dB" in text
        assert "results:" in text and "plots: dd_curves.png" in text and "--tables" in text
    assert "(19 more SNR points in the full tables)" in text  # 24 SNR points: 5 rows shown


def test_summary_gives_the_verdict_at_the_highlighted_budget(main_run: dict) -> None:
    """Every number of the summary row is the stored one at ε = highlight (ε unit and JSR said)."""
    from channelae.report import print_summary
    from channelae.results import load

    res = load(main_run["out"])
    text = "\n".join(_screen_lines(lambda c: print_summary(res, c)))
    hi, b = res.budget.highlight_index, res.budget
    assert f"ε = {b.eps[hi]:.4g} (L2 norm per example of the symbol perturbation, Es = 1)" in text
    assert f"JSR {b.jsr_db[hi]:.1f} dB" in text and "vs the input x" in text
    assert "equal-power control" in text and "not the receiver's AWGN" in text
    row = next(line for line in text.splitlines() if line.startswith("20 dB"))
    cells = row.split()
    si = [num(s) for s in res.snr_db].index(20.0)
    c, n = res.curve("jammer", "ssim"), res.curve("noise", "ssim")
    assert [float(v) for v in cells[2:5]] == pytest.approx([c.mean[si][0], c.mean[si][hi], n.mean[si][hi]],
                                                           abs=6e-4)
    g = res.gap_of("ssim")
    mean, half = cells[5].split("±")
    assert float(mean) == pytest.approx(g.mean[si][hi], abs=1e-3)
    assert float(half) == pytest.approx((g.hi[si][hi] - g.lo[si][hi]) / 2, rel=0.05)
    loss, status = res.equivalent_snr_loss_db, res.equivalent_snr_status
    for cell, link in ((cells[-3], "jammer"), (cells[-1], "noise")):
        if status[link]["ssim"][si][hi] == "ok":
            assert float(cell) == pytest.approx(loss[link]["ssim"][si][hi], abs=0.051)
        else:
            assert cell.startswith((">", "≤", "n/a")), cell
    assert cells[-2] == "/"
    assert text.count("verdict at ε = 1:") == 1


def test_default_output_is_the_summary_and_where_things_went(main_run: dict) -> None:
    """Without --tables: the summary and the outputs, no full tables (the same command again reuses the
    finished results: nothing is recomputed)."""
    argv = [a for a in main_run["argv"] if a != "--tables"]
    stamp = (main_run["out"] / "results.json").stat().st_mtime_ns
    code, stdout, stderr = run_cli(argv)
    assert code == 0, stderr
    assert (main_run["out"] / "results.json").stat().st_mtime_ns == stamp
    assert "verdict at ε = 1" in stdout and "results:" in stdout and "--tables, or `channelae report" in stdout
    assert "AADDC" not in stdout and "ε/‖s‖" not in stdout and "equivalent SNR (ssim)" not in stdout
    assert len(stdout.splitlines()) <= 25


def test_simulate_model_goes_through_resolve_model(trained_checkpoint: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """--model FAMILY: the cache's default model is trained when missing (said why), then reused (said which);
    a cache entry's name works too; the explanation goes to stderr and into the manifest."""
    from channelae import zoo

    trained: list[Path] = []

    def fake_ensure_model(model, dataset, **kw):  # "training": copy the small checkpoint into the cache entry
        path, _ = zoo.default_cache_path(model, dataset)
        shutil.copytree(trained_checkpoint, path)
        trained.append(path)
        return path

    monkeypatch.setattr(zoo, "ensure_model", fake_ensure_model)
    base = ["simulate", "--channel", "pgd-jammer", "--eps", "0,0.5", "--steps", "2", "--snr-db", "inf",
            "--n-images", "4", "--metrics", "mse", "--no-plots", "--device", "cpu"]
    code, _, stderr = run_cli([*base, "--model", "swt-vae", "--out", tmp_path / "a"])
    assert code == 0, stderr
    assert len(trained) == 1
    assert "no cached swt-vae mnist-5k with the default settings" in stderr and "training one now" in stderr
    choice = load_json(tmp_path / "a")["manifest"]["model_choice"]
    assert choice.startswith("no cached swt-vae mnist-5k") and choice.endswith("training one now")

    code, _, stderr = run_cli([*base, "--model", "swt-vae", "--out", tmp_path / "b", "--quiet"])
    assert code == 0, stderr
    assert len(trained) == 1, "the cached model must be used, not trained again"
    assert load_json(tmp_path / "b")["manifest"]["model_choice"].startswith("using cached swt-vae mnist-5k")
    name = trained[0].name
    code, _, stderr = run_cli([*base, "--model", name, "--out", tmp_path / "c"])
    assert code == 0, stderr
    assert f"using cached {name}" in stderr
    assert load_json(tmp_path / "c")["manifest"]["checkpoint"] == str(trained[0])


def test_pgd_jammer_reports_each_search_pass(trained_checkpoint: Path) -> None:
    """The progress callback sees every decoder pass of the search, done = 1 … total, and the total it is
    given is exact (apgd with starts and the control variate, strong; budgets split over several passes)."""
    from channelae.data import load_dataset
    from channelae.link import Link

    x = load_dataset("mnist-5k", "test", limit=4).batch(torch.arange(4))
    cases = (("awgn+pgd-jammer", {"steps": 6}, 10.0),  # noise before the jammer: a deterministic search
             ("pgd-jammer", {"steps": 6}, 10.0),  # noise after: draws, control variate, averaging, re-evaluation
             ("pgd-jammer", {"steps": 5, "mode": "strong", "restarts": 2}, math.inf))
    for spec, opts, snr in cases:
        link = Link.from_checkpoint(trained_checkpoint, spec, channel_options={"eps": [0.0, 0.3, 0.6], **opts,
                                                                               "attack_precision": "fp32"})
        stage = next(s for s in getattr(link.channel, "stages", [link.channel]) if hasattr(s, "progress"))
        stage.max_rows = 4  # one budget per pass: two pieces per evaluation
        calls: list[tuple[int, int]] = []
        stage.progress = lambda k, n, seen=calls: seen.append((k, n))
        link(x, [snr], generator=torch.Generator().manual_seed(0))
        total = calls[-1][1]
        assert [k for k, _ in calls] == list(range(1, len(calls) + 1)) and calls[-1][0] == total
        assert {n for _, n in calls} == {total} and total % 2 == 0


def test_a_setting_added_later_counts_as_equal_at_its_default() -> None:
    """A folder written before a SimulationConfig field existed is not "other settings" while the field has its
    default; any other value, or a changed field, is named."""
    from channelae.outdir import config_record, differences
    from channelae.simulate import SimulationConfig

    defaults = config_record(SimulationConfig())
    current = config_record(SimulationConfig(eps=(0.0, 0.5)))
    older = {k: v for k, v in current.items() if k != "draws"}  # written before `draws` existed
    assert differences(older, current, defaults) == []
    assert differences(older, config_record(SimulationConfig(eps=(0.0, 0.5), draws=3)), defaults) == ["draws"]
    assert differences({**current, "seed": 7}, current, defaults) == ["seed"]
    assert differences(None, current, defaults) is None
