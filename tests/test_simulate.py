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
#: The issue's command, smaller: awgn + PGD jammer over SNR 0, 10, 20 dB and ε 0, 0.25, …, 1.
MAIN = ["simulate", "--channel", "awgn+pgd-jammer", "--snr-db", "0:20:10", "--eps", "0:1:0.25",
        "--limit", "ssim=0.12", "--limit", "mse=0.053", *FAST]


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
def _one_thread():
    with one_thread():
        yield


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
        mp.delenv("CHANNELAE_DATA", raising=False)
        mp.setattr(socket.socket, "connect", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("network")))
        code, stdout, stderr = run_cli([*MAIN, "--checkpoint", trained_checkpoint, "--out", out])
    assert code == 0, stderr
    return {"out": out, "stdout": stdout, "results": load_json(out)}


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
    b = main_run["results"]["budget"]
    g, n = b["gain"], b["num_symbols"]
    assert n == 5  # d = 10 latents -> 5 complex symbols
    for e, j in zip(b["eps"], b["jsr_db"]):
        expected = 10 * math.log10(g * g * e * e / n) if e > 0 else -math.inf
        assert num(j) == pytest.approx(expected)
    assert b["highlight"] == 1.0


def test_results_csv_has_a_row_per_point(main_run: dict) -> None:
    res = main_run["results"]
    rows = list(csv.DictReader((main_run["out"] / "results.csv").read_text().splitlines()))
    snr, eps = res["snr_db"], res["budget"]["eps"]
    assert len(rows) == 2 * 2 * len(snr) * len(eps)
    keys = {(r["link"], r["metric"], float(r["snr_db"]), float(r["eps"])) for r in rows}
    assert len(keys) == len(rows)
    for r in rows:
        si = [num(s) for s in snr].index(float(r["snr_db"]))
        ei = eps.index(float(r["eps"]))
        stored = res["curves"][r["link"]][r["metric"]]["mean"][si][ei]
        assert float(r["mean"]) == pytest.approx(stored, rel=1e-7)


def test_results_file_round_trips_through_the_typed_object(main_run: dict) -> None:
    """channelae.results reads what simulate wrote and writes it back byte for byte (schema version 1)."""
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
    for name, out, seed in (("a", "a", 0), ("b", "a", 0), ("c", "c", 1)):  # a and b: the very same command
        code, _, err = run_cli([*SMALL, "--seed", seed, "--checkpoint", trained_checkpoint,
                                "--out", tmp_path / out])
        assert code == 0, err
        outs[name] = without_created(load_json(tmp_path / out))
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
    assert "noiseless" in stdout and "SNR 0 dB" in stdout


# ---------------------------------------------------------------------------------------------------------
# Resume (library: a small max_rows gives several chunks)


class Interrupted(Exception):
    pass


def _resume_config(seed: int = 0):
    from channelae.simulate import SimulationConfig

    # S = 2, E = 2 -> 8 // 4 = 2 images per chunk -> 3 chunks of 6 images
    return SimulationConfig(channel="pgd-jammer", eps=(0.0, 0.5), snr_db=(math.inf, 10.0), n_images=6,
                            metrics=("mse",), steps=3, max_rows=8, seed=seed)


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


def _sim(cfg, out: Path, ckpt: Path) -> dict:
    from channelae.simulate import simulate

    res = simulate(cfg, out, checkpoint=ckpt, device="cpu", progress=False, command="test")
    assert res.to_json() == (out / "results.json").read_text(encoding="utf-8")  # returns what it wrote
    return without_created(load_json(out))


def _interrupt(cfg, out: Path, ckpt: Path, spy) -> None:
    from channelae.simulate import simulate

    spy.reset(stop_after=1)
    with pytest.raises(Interrupted):
        simulate(cfg, out, checkpoint=ckpt, device="cpu", progress=False, command="test")
    assert sorted(p.name for p in (out / "partial").glob("chunk_*")) == ["chunk_00000.safetensors"]
    assert not (out / "results.json").exists()
    spy.reset()


def test_resume_gives_identical_results(trained_checkpoint: Path, tmp_path: Path, chunk_spy) -> None:
    from safetensors.torch import load_file

    cfg = _resume_config()
    full = _sim(cfg, tmp_path / "full", trained_checkpoint)
    assert len(chunk_spy.writes) == 3, "max_rows must split the run into chunks"

    _interrupt(cfg, tmp_path / "resumed", trained_checkpoint, chunk_spy)
    resumed = _sim(cfg, tmp_path / "resumed", trained_checkpoint)
    assert len(chunk_spy.writes) == 2, "the finished chunk must be reused"
    assert resumed == full
    assert not (tmp_path / "resumed" / "partial").exists()
    a = load_file(str(tmp_path / "full" / "per_image.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "per_image.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_partial_from_other_config_or_model_is_discarded(trained_checkpoint: Path, tmp_path: Path,
                                                         chunk_spy) -> None:
    from safetensors.torch import load_file, save_file

    cfg = _resume_config()
    reference = _sim(cfg, tmp_path / "ref", trained_checkpoint)

    # a partial run with another seed
    _interrupt(_resume_config(seed=1), tmp_path / "other_seed", trained_checkpoint, chunk_spy)
    assert _sim(cfg, tmp_path / "other_seed", trained_checkpoint) == reference
    assert len(chunk_spy.writes) == 3, "a foreign partial chunk must be recomputed"

    # a partial run with other weights (same config)
    other = tmp_path / "other_ckpt"
    shutil.copytree(trained_checkpoint, other)
    w = load_file(str(other / "model.safetensors"))
    w = {k: (v + 0.05 if v.is_floating_point() else v) for k, v in w.items()}
    save_file(w, str(other / "model.safetensors"))
    _interrupt(cfg, tmp_path / "other_model", other, chunk_spy)
    assert _sim(cfg, tmp_path / "other_model", trained_checkpoint) == reference
    assert len(chunk_spy.writes) == 3


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
