"""The command line: user mistakes give one line ``error: <argument>: …`` on stderr and exit code 2, no
traceback.

Every case runs ``channelae.cli.main`` in-process with ``--checkpoint`` (never the slow default model) and
fails before any simulation; one subprocess test checks the installed console script answers ``--help`` fast.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from _cli import run_cli


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def bad_paths(trained_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Broken checkpoints, a regular file, broken results directories."""
    root = tmp_path_factory.mktemp("bad")
    corrupt = root / "corrupt_ckpt"
    corrupt.mkdir()
    (corrupt / "model.json").write_text("{not json")
    shutil.copy(trained_checkpoint / "model.safetensors", corrupt / "model.safetensors")
    foreign = root / "foreign_ckpt"
    foreign.mkdir()
    (foreign / "model.json").write_text(json.dumps({"format": "something-else/3"}))
    pickled = root / "pickle_ckpt"
    pickled.mkdir()
    shutil.copy(trained_checkpoint / "model.json", pickled / "model.json")
    torch.save({"encoder.weight": torch.zeros(3)}, pickled / "model.safetensors")  # a pickle, renamed
    no_weights = root / "no_weights"
    no_weights.mkdir()
    shutil.copy(trained_checkpoint / "model.json", no_weights / "model.json")
    regular = root / "a_file"
    regular.write_text("not a directory")
    bad_json = root / "bad_json_results"
    bad_json.mkdir()
    (bad_json / "results.json").write_text("{truncated")
    no_results = root / "no_results"
    no_results.mkdir()
    wrong = root / "wrong_results"
    wrong.mkdir()
    (wrong / "results.json").write_text(json.dumps({"snr_db": [10], "budget": {"eps": [0, 1], "jsr_db": [0]},
                                                    "curves": {}, "metrics": {}}))
    ragged = root / "ragged_results"
    ragged.mkdir()
    (ragged / "results.json").write_text(json.dumps({
        "snr_db": [10, 20], "budget": {"eps": [0, 1], "jsr_db": ["-inf", -20]},
        "metrics": {"mse": {"higher_is_better": False, "limit": 0.05, "unit": ""}},
        "curves": {"jammer": {"mse": {"mean": [[0.1, 0.2]], "lo": [[0.1, 0.2]], "hi": [[0.1, 0.2]]}}}}))
    return {"ckpt": str(trained_checkpoint), "corrupt": str(corrupt), "foreign": str(foreign),
            "pickle": str(pickled), "no_weights": str(no_weights), "file": str(regular),
            "bad_json": str(bad_json), "no_results": str(no_results), "wrong": str(wrong),
            "ragged": str(ragged), "missing": str(root / "does_not_exist")}


SIM = ["simulate", "--checkpoint", "{ckpt}", "--n-images", "8", "--metrics", "ssim,mse", "--no-plots",
       "--quiet", "--device", "cpu", "--out", "{out}"]
DEFAULT = ["simulate", "--n-images", "8", "--no-plots", "--quiet", "--device", "cpu", "--out", "{out}"]
TRAIN = ["train", "--out", "{out}", "--device", "cpu", "--quiet", "--epochs", "1"]

# (id, arguments appended to SIM / TRAIN / given alone, text the one-line message must contain)
CASES = [
    # grids
    ("eps-range-reversed", [*SIM, "--eps", "1:0:0.1"], "--eps"),
    ("eps-range-zero-step", [*SIM, "--eps", "0:1:0"], "--eps"),
    ("eps-range-two-parts", [*SIM, "--eps", "0:1"], "--eps"),
    ("eps-range-four-parts", [*SIM, "--eps", "0:1:0.1:5"], "--eps"),
    ("eps-range-letters", [*SIM, "--eps", "a:b:c"], "--eps"),
    ("eps-range-too-many", [*SIM, "--eps", "0:1e9:1e-9"], "--eps"),
    ("eps-negative", [*SIM, "--eps", "-0.5"], "--eps"),
    ("eps-negative-in-list", [*SIM, "--eps", "0,-0.1,0.2"], "--eps"),
    ("eps-nan-in-list", [*SIM, "--eps", "0,nan"], "--eps"),
    ("eps-inf", [*SIM, "--eps", "inf"], "--eps"),
    ("eps-empty", [*SIM, "--eps", ""], "--eps"),
    ("eps-duplicate", [*SIM, "--eps", "0.1,0.1"], "--eps"),
    ("snr-letters", [*SIM, "--snr-db", "abc"], "--snr-db"),
    ("snr-minus-inf", [*SIM, "--snr-db", "-inf"], "--snr-db"),
    ("snr-nan", [*SIM, "--snr-db", "nan"], "--snr-db"),
    ("snr-duplicate", [*SIM, "--snr-db", "10,10"], "--snr-db"),
    ("snr-empty", [*SIM, "--snr-db", ""], "--snr-db"),
    ("jsr-nan", [*SIM, "--jsr-db", "nan"], "--jsr-db"),
    ("jsr-range-reversed", [*SIM, "--jsr-db", "0:-10:1"], "--jsr-db"),
    ("eps-and-jsr", [*SIM, "--eps", "0.5", "--jsr-db", "-10"], "--jsr-db"),
    # channel spec and options
    ("channel-unknown", [*SIM, "--channel", "foo"], "--channel"),
    ("channel-unknown-stage", [*SIM, "--channel", "awgn+foo"], "--channel"),
    ("channel-empty", [*SIM, "--channel", ""], "--channel"),
    ("channel-empty-stage", [*SIM, "--channel", "awgn++pgd-jammer"], "--channel"),
    ("eps-without-jammer", [*SIM, "--channel", "awgn", "--eps", "0.5"], "--eps"),
    ("jsr-without-jammer", [*SIM, "--channel", "rayleigh", "--jsr-db", "-10"], "--jsr-db"),
    ("k-db-not-taken", [*SIM, "--channel", "awgn+pgd-jammer", "--k-db", "3"], "--k-db"),
    ("k-db-letters", [*SIM, "--channel", "rician+pgd-jammer", "--k-db", "abc"], "--k-db"),
    ("block-length-not-taken", [*SIM, "--channel", "awgn+pgd-jammer", "--block-length", "4"],
     "--block-length"),
    ("target-unknown", [*SIM, "--target", "purple"], "--target"),
    ("target-not-an-image", [*SIM, "--target", "{file}"], "--target"),
    ("distance-unknown", [*SIM, "--distance", "cosine"], "--distance"),
    ("distance-lpips-no-weights", [*SIM, "--distance", "lpips"], "--distance"),
    ("mode-unknown", [*SIM, "--mode", "weak"], "--mode"),
    ("placement-unknown", [*SIM, "--placement", "middle"], "--placement"),
    ("eot-zero", [*SIM, "--eot", "0"], "--eot"),
    ("eot-letters", [*SIM, "--eot", "abc"], "--eot"),
    ("steps-zero", [*SIM, "--steps", "0"], "--steps"),
    ("restarts-negative", [*SIM, "--restarts", "-1"], "--restarts"),
    ("equalizer-unknown", [*SIM, "--equalizer", "mmse2"], "--equalizer"),
    # evaluation
    ("n-images-zero", [*SIM, "--n-images", "0"], "--n-images"),
    ("n-images-letters", [*SIM, "--n-images", "abc"], "--n-images"),
    ("metric-unknown", [*SIM, "--metrics", "ssim,foo"], "--metrics"),
    ("metrics-empty", [*SIM, "--metrics", ","], "--metrics"),
    ("metric-lpips-no-weights", [*SIM, "--metrics", "lpips"], "--metrics"),
    ("reference-unknown", [*SIM, "--reference", "foo"], "--reference"),
    ("limit-no-equals", [*SIM, "--limit", "ssim"], "--limit"),
    ("limit-not-a-number", [*SIM, "--limit", "ssim=abc"], "--limit"),
    ("limit-inf", [*SIM, "--limit", "ssim=inf"], "--limit"),
    ("limit-unknown-metric", [*SIM, "--limit", "psnr=30"], "--limit"),
    ("limit-twice", [*SIM, "--limit", "ssim=0.3", "--limit", "ssim=0.2"], "--limit"),
    ("seed-negative", [*SIM, "--seed", "-1"], "--seed"),
    ("dataset-unknown", [*SIM, "--dataset", "foo"], "--dataset"),
    ("option-unknown", [*SIM, "--bogus"], "--bogus"),
    # checkpoints and files
    ("checkpoint-missing", [*SIM, "--checkpoint", "{missing}"], "--checkpoint"),
    ("checkpoint-corrupt-json", [*SIM, "--checkpoint", "{corrupt}"], "--checkpoint"),
    ("checkpoint-foreign-json", [*SIM, "--checkpoint", "{foreign}"], "--checkpoint"),
    ("checkpoint-pickle", [*SIM, "--checkpoint", "{pickle}"], "--checkpoint"),
    ("checkpoint-no-weights", [*SIM, "--checkpoint", "{no_weights}"], "--checkpoint"),
    ("checkpoint-is-a-file", [*SIM, "--checkpoint", "{file}"], "--checkpoint"),
    ("checkpoint-and-model", [*SIM, "--model", "ae"], "--checkpoint"),
    ("out-under-a-file", [*SIM, "--out", "{file}/sub"], "--out"),
    ("report-bad-json", ["report", "{bad_json}", "--no-plots"], "RESULTS_DIR"),
    ("report-no-results", ["report", "{no_results}", "--no-plots"], "RESULTS_DIR"),
    ("report-missing-dir", ["report", "{missing}", "--no-plots"], "RESULTS_DIR"),
    ("report-wrong-shape", ["report", "{wrong}", "--no-plots"], "RESULTS_DIR"),
    ("report-ragged-curve", ["report", "{ragged}", "--no-plots"], "RESULTS_DIR"),
    ("report-no-argument", ["report"], "results_dir"),
    # devices
    ("device-unknown", [*SIM, "--device", "tpu"], "--device"),
    ("device-bad-index", [*SIM, "--device", "cuda:99"], "--device"),
    pytest.param("device-cuda-on-cpu", [*SIM, "--device", "cuda"], "--device",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")),
    # without --checkpoint the default model would be trained first (minutes): these must fail before it
    ("default-model-channel-unknown", [*DEFAULT, "--channel", "awgn+foo"], "--channel"),
    ("default-model-eps-without-jammer", [*DEFAULT, "--channel", "awgn", "--eps", "0.5"], "--eps"),
    ("default-model-k-db-not-taken", [*DEFAULT, "--k-db", "3"], "--k-db"),
    ("default-model-target-unknown", [*DEFAULT, "--target", "purple"], "--target"),
    ("default-model-metric-unknown", [*DEFAULT, "--metrics", "foo"], "--metrics"),
    ("default-model-out-under-a-file", [*DEFAULT, "--out", "{file}/sub"], "--out"),
    # train
    ("train-epochs-negative", [*TRAIN, "--epochs", "-1"], "--epochs"),
    ("train-model-unknown", [*TRAIN, "--model", "foo"], "--model"),
    ("train-dataset-unknown", [*TRAIN, "--dataset", "foo"], "--dataset"),
    ("train-batch-size-zero", [*TRAIN, "--batch-size", "0"], "--batch-size"),
    ("train-lr-negative", [*TRAIN, "--lr", "-1"], "--lr"),
    ("train-latent-dim-zero", [*TRAIN, "--latent-dim", "0"], "--latent-dim"),
    ("train-device-unknown", [*TRAIN, "--device", "tpu"], "--device"),
    ("command-unknown", ["bogus"], "bogus"),
]


def _ids(case) -> str:
    return case.values[0] if hasattr(case, "values") else case[0]


@pytest.mark.parametrize(("name", "argv", "argument"), CASES, ids=[_ids(c) for c in CASES])
def test_bad_input_is_one_line_exit_2(name: str, argv: list[str], argument: str, bad_paths: dict[str, str],
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import channelae.training
    import channelae.zoo  # before patching: its `from channelae.training import train_model` must bind the real one

    def no_training(*a, **k):
        raise AssertionError("a bad argument must be refused before training")

    monkeypatch.setattr(channelae.training, "train_model", no_training)
    monkeypatch.setattr(channelae.zoo, "train_model", no_training)
    args = [a.format(out=tmp_path / "out", **bad_paths) for a in argv]
    t0 = time.perf_counter()
    code, stdout, stderr = run_cli(args)
    elapsed = time.perf_counter() - t0
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert code == 2, (code, stderr, stdout)
    assert "Traceback" not in stderr + stdout
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), lines[0]
    assert argument.lower() in lines[0].lower(), lines[0]
    assert elapsed < 20, f"refused only after {elapsed:.1f} s"
    assert not (tmp_path / "out" / "results.json").exists()


def _interrupted_run(tmp_path: Path, ckpt: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    import channelae.simulate

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(channelae.simulate, "simulate", interrupted)
    return run_cli(["simulate", "--checkpoint", ckpt, "--out", tmp_path, "--quiet"])


def test_interrupt_exits_130_without_traceback(trained_checkpoint: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    code, stdout, stderr = _interrupted_run(tmp_path, trained_checkpoint, monkeypatch)
    assert code == 130
    assert "Traceback" not in stdout + stderr


def test_interrupt_says_how_to_resume(trained_checkpoint: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, stderr = _interrupted_run(tmp_path, trained_checkpoint, monkeypatch)
    assert code == 130
    assert [ln for ln in stderr.splitlines() if ln.strip()] == [
        "error: interrupted; run the same command again to resume"]


def test_list_names_the_components() -> None:
    code, stdout, stderr = run_cli(["list"])
    assert code == 0, stderr
    for name in ("swt-vae", "mnist-5k", "pgd-jammer", "noise-jammer", "awgn", "ssim", "lpips"):
        assert name in stdout


def test_console_script_help_is_fast() -> None:
    script = Path(sys.executable).parent / "channelae"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "channelae.cli"]
    env = {**os.environ, "COLUMNS": "100"}
    best = float("inf")
    for _ in range(2):  # best of two: the machine is shared
        t0 = time.perf_counter()
        proc = subprocess.run([*cmd, "--help"], check=False, capture_output=True, text=True, timeout=60,
                              env=env)
        best = min(best, time.perf_counter() - t0)
        assert proc.returncode == 0, proc.stderr
        for command in ("train", "simulate", "report", "list"):
            assert command in proc.stdout
        if best < 2.0:
            break
    assert best < 2.0, f"`channelae --help` took {best:.2f} s"
    # the reason it is fast: the CLI module imports no torch until a command runs
    probe = subprocess.run([sys.executable, "-c", "import sys, channelae.cli; print('torch' in sys.modules)"],
                           check=False, capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "False", probe.stderr
