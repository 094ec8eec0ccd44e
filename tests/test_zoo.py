"""The model cache as a user sees it: `channelae models`, and `--model` choices that explain themselves
(cached default, a cache entry by name, a checkpoint path, or why a model is trained now)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from _cli import run_cli

from channelae import zoo
from channelae.data import load_dataset
from channelae.errors import UsageError
from channelae.models import build_model
from channelae.paths import model_cache_dir
from channelae.training import STATE_NAME, TrainConfig, epoch_line, train_model

TINY = {"epochs": 1, "train_images": 128}  # a 2-step training run: seconds


class _Stop(Exception):
    pass


def _interrupted_entry(family: str = "kld-vae", epochs: int = 3) -> Path:
    """An interrupted cache entry (1 of ``epochs`` epochs done) under the name zoo would give it."""
    path, settings = zoo.default_cache_path(family, "mnist-5k", epochs=epochs, train_images=128)
    torch.manual_seed(0)
    model = build_model(family, (1, 28, 28), settings["latent_dim"])

    def stop(epoch: int, log: dict) -> None:
        raise _Stop

    with pytest.raises(_Stop):
        train_model(model, load_dataset("mnist-5k", "train", limit=128), load_dataset("mnist-5k", "test", limit=32),
                    TrainConfig(epochs=epochs, batch_size=64, seed=0, val_images=32), path, progress=False,
                    on_epoch_end=stop, extra_meta={"fingerprint_extra": {"extra": {"train_images": 128}}})
    assert (path / STATE_NAME).exists()
    return path


def test_empty_cache() -> None:
    assert zoo.list_models() == []
    code, out, _ = run_cli(["models"])
    assert code == 0 and "no cached models" in out and str(model_cache_dir()) in out


def test_explanations_train_announce_then_reuse() -> None:
    lines: list[str] = []
    # nothing cached: says so, and what it would train
    res = zoo.resolve_model("swt-vae", train_missing=False, log=lines.append, **TINY)
    assert res.source == "trained" and not res.path.exists()
    assert res.explanation == ("no cached swt-vae mnist-5k with the requested settings (1 epoch, seed 0); "
                               "training one now")
    # trains it: the announcement names model, data, epochs, images, a time estimate and its source, the path
    lines.clear()
    res = zoo.resolve_model("swt-vae", log=lines.append, **TINY)
    assert (res.path / "model.json").exists() and res.entry is not None and res.entry.complete
    announce = [line for line in lines if line.startswith("training ")]
    assert len(announce) == 1, lines
    a = announce[0]
    assert "training swt-vae on mnist-5k: 1 epoch over 128 images, seed 0, latent d=10" in a
    assert "about " in a and "stored reference cost" in a and f"cached at {res.path}" in a
    # the second time it is found, and says where
    lines.clear()
    again = zoo.resolve_model("swt-vae", log=lines.append, **TINY)
    assert again.source == "cache" and again.path == res.path
    assert lines == [f"using cached swt-vae mnist-5k (1 epoch, seed 0) at {res.path}"]
    # a second model on the same data set: the estimate is now measured on this machine
    lines.clear()
    zoo.resolve_model("ae", log=lines.append, **TINY)
    assert any("measured here: " + res.path.name in line for line in lines), lines


def test_bad_model_settings_refused_before_the_announcement(tmp_path: Path) -> None:
    # `channelae train --beta -1` printed "training ... about 15 s" and only then the usage error (#12)
    for kw, arg in (({"beta": -1.0}, "beta"), ({"lam": -1.0}, "lam"), ({"latent_dim": 0}, "latent")):
        lines: list[str] = []
        with pytest.raises(UsageError, match=arg):
            zoo.train("tc-vae", "mnist-5k", out=tmp_path / "ckpt", log=lines.append, **TINY, **kw)
        assert lines == [] and not (tmp_path / "ckpt").exists()


def test_missing_default_names_the_cached_alternative() -> None:
    one = zoo.resolve_model("ae", progress=False, **TINY).path  # 1 epoch, 128 images
    res = zoo.resolve_model("ae", train_missing=False, progress=False)  # default settings: 5 epochs
    assert res.source == "trained" and res.path != one
    assert res.explanation.startswith("no cached ae mnist-5k with the default settings (5 epochs, seed 0); "
                                      f"found {one.name} (1 epoch, seed 0, d=10, first 128 training images): "
                                      f"use --model {one.name} to use it; training one now")
    # ... and that name is accepted, as is a unique prefix, and the path
    by_name = zoo.resolve_model(one.name, progress=False)
    assert by_name.path == one and by_name.source == "cache"
    assert by_name.explanation == f"using cached {one.name}: ae on mnist-5k (1 epoch, seed 0, d=10, first 128 " \
                                  "training images)"
    assert zoo.resolve_model(one.name[:10], progress=False).path == one
    by_path = zoo.resolve_model(str(one), progress=False)
    assert by_path.source == "path" and by_path.explanation == f"using checkpoint {one}: ae on mnist-5k (1 epoch, seed 0)"


def test_unknown_model_and_bad_paths_are_one_line() -> None:
    with pytest.raises(UsageError) as info:
        zoo.resolve_model("swt-vea", progress=False)
    msg = str(info.value)
    assert info.value.argument == "--model" and "did you mean 'swt-vae'" in msg and "checkpoint path" in msg
    assert "channelae models" in msg and "\n" not in msg
    with pytest.raises(UsageError, match="/nonexistent/ckpt does not exist") as info:
        zoo.resolve_model("/nonexistent/ckpt", progress=False)
    assert info.value.argument == "--model"
    with pytest.raises(UsageError, match="--dataset"):
        zoo.resolve_model("ae", "mnist-6k", progress=False)


def test_interrupted_entries_listed_and_explained() -> None:
    path = _interrupted_entry()
    (entry,) = zoo.list_models()
    assert entry.name == path.name and not entry.complete and (entry.epochs_done, entry.epochs) == (1, 3)
    assert entry.family == "kld-vae" and entry.dataset == "mnist-5k" and entry.latent_dim == 10
    assert entry.train_images == 128 and entry.val_ssim is not None
    with pytest.raises(UsageError, match="interrupted training run .* resume it with `channelae train --model "
                                         "kld-vae --dataset mnist-5k --epochs 3`"):
        zoo.resolve_model(path.name, progress=False)
    # the family with these settings resumes it (and says so)
    res = zoo.resolve_model("kld-vae", train_missing=False, progress=False, epochs=3, train_images=128)
    assert res.path == path and "resuming the interrupted training" in res.explanation
    assert "1 of 3 epochs done" in res.explanation


def test_list_models_and_cli_table() -> None:
    done = zoo.resolve_model("ae", progress=False, **TINY).path
    meta = json.loads((done / "model.json").read_text())
    stopped = _interrupted_entry()
    (bad := model_cache_dir() / "not-a-model").mkdir()  # foreign directories are ignored
    (bad / "notes.txt").write_text("x")
    entries = {e.name: e for e in zoo.list_models()}
    assert set(entries) == {done.name, stopped.name}
    e = entries[done.name]
    assert (e.family, e.dataset, e.epochs, e.seed, e.latent_dim, e.complete) == ("ae", "mnist-5k", 1, 0, 10, True)
    assert e.val_ssim == pytest.approx(meta["val"]["val_ssim"]) and e.path == done
    assert e.size_bytes == sum(f.stat().st_size for f in done.iterdir()) and not e.is_default

    code, out, err = run_cli(["models"])
    assert code == 0, err
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip().startswith(("ae-", "kld-"))}
    assert rows[done.name][1:6] == ["ae", "mnist-5k", "1", "0", "10"]
    assert rows[done.name][6] == f"{meta['val']['val_ssim']:.3f}" and "complete" in rows[done.name]
    assert rows[stopped.name][3] == "1/3" and "interrupted" in rows[stopped.name]
    assert str(model_cache_dir()) in out


def test_default_marker() -> None:
    # the entry under the default-settings name is what `--model FAMILY` picks: listed as the default
    import shutil

    one = zoo.resolve_model("ae", progress=False, **TINY).path
    default = zoo.default_cache_path("ae", "mnist-5k")[0]
    shutil.copytree(one, default)  # (training the real default, 5 epochs on 4,500 images, is too slow here)
    marks = {e.name: e.is_default for e in zoo.list_models()}
    assert marks == {one.name: False, default.name: True}
    code, out, _ = run_cli(["models"])
    assert code == 0 and "complete (default)" in next(line for line in out.splitlines() if default.name in line)
    assert zoo.resolve_model("ae", progress=False).path == default


# ----------------------------------------------------------------------------------------- epoch lines


def test_epoch_line_is_readable() -> None:
    log = {"epoch": 2, "loss": 0.02835, "mse": 0.02633, "swt": 0.0196, "reg": 0.0196, "val_mse": 0.0240,
           "val_ssim": 0.5720, "seconds": 5.12}
    assert epoch_line(log, 5, 15.4) == ("epoch 2/5: loss 0.02835 (recon MSE 0.02633, swt 0.0196), val MSE 0.024, "
                                        "val SSIM 0.572; 5.1 s/epoch, about 15 s left")
    tc = {"epoch": 1, "loss": 0.1, "mse": 0.05, "mi": 0.1, "tc": 0.2, "dwkl": 0.3, "reg": 0.6, "adv_mse": 0.07}
    assert epoch_line(tc, 3) == ("epoch 1/3: loss 0.1 (recon MSE 0.05, mi 0.1, tc 0.2, dwkl 0.3, reg 0.6), "
                                 "adversarial recon MSE 0.07")
    assert epoch_line({"epoch": 1, "loss": 0.1, "mse": 0.1}, 1) == "epoch 1/1: loss = recon MSE 0.1"  # plain AE


def test_training_prints_epoch_lines_without_source_locations(tmp_path: Path, capsys) -> None:
    torch.manual_seed(0)
    model = build_model("swt-vae", (1, 28, 28), 10)
    res = train_model(model, load_dataset("mnist-5k", "train", limit=128), load_dataset("mnist-5k", "test", limit=32),
                      TrainConfig(epochs=2, batch_size=64, seed=0, val_images=32), tmp_path / "m", progress=True)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert ".py:" not in err and "swt=" not in err and "reg=" not in err
    h = res.history[0]
    assert f"loss {h['loss']:.4g}" in lines[0] and f"val SSIM {h['val_ssim']:.3f}" in lines[0]
    assert "about" in lines[0] and "about" not in lines[1] and "s/epoch" in lines[1]
    assert h["seconds"] > 0 and h["loss"] == pytest.approx(h["mse"] + 0.1 * h["swt"], rel=1e-4)
