"""Training loop, resume, checkpoints (never unpickled), latent statistics."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from channelae.checkpoint import load_checkpoint, read_metadata
from channelae.data import load_dataset
from channelae.definitions import num_symbols
from channelae.errors import UsageError
from channelae.models import build_model
from channelae.training import STATE_NAME, TrainConfig, latent_statistics, train_model


@pytest.fixture(scope="module")
def tiny_data():
    return load_dataset("mnist-5k", "train", limit=192), load_dataset("mnist-5k", "test", limit=64)


def _train(tmp: Path, data, epochs: int = 2, **kw):
    torch.manual_seed(0)
    model = build_model("swt-vae", (1, 28, 28), 10)
    cfg = TrainConfig(epochs=epochs, batch_size=32, seed=3, val_images=32)
    return model, train_model(model, data[0], data[1], cfg, tmp, progress=False, **kw)


def test_checkpoint_round_trip(tmp_path: Path, tiny_data) -> None:
    model, _ = _train(tmp_path / "a", tiny_data, epochs=1)
    loaded, meta = load_checkpoint(tmp_path / "a")
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    assert meta["config"]["family"] == "swt-vae"
    assert meta["p_ref"] > 0 and len(meta["latent_mean"]) == 10 and len(meta["latent_std"]) == 10
    assert set(meta["val"]) == {"val_mse", "val_ssim"}
    assert not (tmp_path / "a" / STATE_NAME).exists()  # finished runs leave no training state


def test_p_ref_is_mean_symbol_energy(tmp_path: Path, tiny_data) -> None:
    model, res = _train(tmp_path / "a", tiny_data, epochs=1)
    model.eval()
    with torch.no_grad():
        z = model.encode(tiny_data[0].batch(torch.arange(len(tiny_data[0]))))
    # independent computation: pair up into complex symbols (pad odd d) and average |s|^2
    zp = torch.nn.functional.pad(z, (0, z.shape[1] % 2)).double()
    s = torch.complex(zp[:, 0::2], zp[:, 1::2])
    assert res.meta["p_ref"] == pytest.approx(float((s.abs() ** 2).mean()), rel=1e-5)
    assert num_symbols(10) == s.shape[1]
    stats = latent_statistics(model, tiny_data[0], torch.device("cpu"))
    assert stats["latent_std"] == pytest.approx(z.double().std(0, unbiased=False).tolist(), rel=1e-4)


def test_resume_gives_same_weights_as_uninterrupted(tmp_path: Path, tiny_data) -> None:
    full, _ = _train(tmp_path / "full", tiny_data, epochs=3)

    class Interrupt(Exception):
        pass

    def stop_after_first(epoch: int, log: dict) -> None:
        if epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        _train(tmp_path / "cut", tiny_data, epochs=3, on_epoch_end=stop_after_first)
    assert (tmp_path / "cut" / STATE_NAME).exists()
    assert not (tmp_path / "cut" / "model.json").exists()
    with pytest.raises(UsageError, match="--resume"):
        _train(tmp_path / "cut", tiny_data, epochs=3)
    resumed, res = _train(tmp_path / "cut", tiny_data, epochs=3, resume=True)
    for k, v in full.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k
    assert [h["epoch"] for h in res.history] == [1, 2, 3]


def test_resume_with_other_settings_is_refused(tmp_path: Path, tiny_data) -> None:
    class Interrupt(Exception):
        pass

    def stop(epoch: int, log: dict) -> None:
        raise Interrupt

    with pytest.raises(Interrupt):
        _train(tmp_path / "cut", tiny_data, epochs=3, on_epoch_end=stop)
    torch.manual_seed(0)
    other = build_model("swt-vae", (1, 28, 28), 10, lam=0.7)
    with pytest.raises(UsageError, match="different settings"):
        train_model(other, tiny_data[0], tiny_data[1], TrainConfig(epochs=3, batch_size=32, seed=3),
                    tmp_path / "cut", progress=False, resume=True)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/channelae_pwned_marker",))


def test_crafted_pickle_is_refused(tmp_path: Path, tiny_data) -> None:
    marker = Path("/tmp/channelae_pwned_marker")
    marker.unlink(missing_ok=True)
    _train(tmp_path / "ck", tiny_data, epochs=1)
    # replace the weights by a malicious pickle (what torch.save would write), keep valid metadata
    with open(tmp_path / "ck" / "model.safetensors", "wb") as fh:
        pickle.dump({"x": _Evil()}, fh)
    with pytest.raises(UsageError, match="not a safetensors file"):
        load_checkpoint(tmp_path / "ck")
    # a bare .pt pickle given as checkpoint
    pt = tmp_path / "evil.pt"
    with open(pt, "wb") as fh:
        pickle.dump(_Evil(), fh)
    with pytest.raises(UsageError, match="--checkpoint"):
        load_checkpoint(pt)
    assert not marker.exists()


def test_foreign_and_corrupt_metadata(tmp_path: Path, tiny_data) -> None:
    _train(tmp_path / "ck", tiny_data, epochs=1)
    meta_path = tmp_path / "ck" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["format"] = "something-else"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(UsageError, match="not a channelae checkpoint"):
        read_metadata(tmp_path / "ck")
    meta_path.write_text("{not json")
    with pytest.raises(UsageError, match="cannot read"):
        load_checkpoint(tmp_path / "ck")
    with pytest.raises(UsageError, match="missing does not exist"):
        load_checkpoint(tmp_path / "missing")


def test_weights_not_matching_metadata(tmp_path: Path, tiny_data) -> None:
    _train(tmp_path / "ck", tiny_data, epochs=1)
    meta_path = tmp_path / "ck" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["config"]["latent_dim"] = 12
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(UsageError, match="does not match"):
        load_checkpoint(tmp_path / "ck")


def test_bad_train_config() -> None:
    with pytest.raises(UsageError, match="--epochs"):
        TrainConfig(epochs=-1)
    with pytest.raises(UsageError, match="--lr"):
        TrainConfig(lr=0)
    with pytest.raises(UsageError, match="--batch-size"):
        TrainConfig(batch_size=1)


def test_training_reduces_reconstruction_error(tmp_path: Path, tiny_data) -> None:
    _, res = _train(tmp_path / "ck", tiny_data, epochs=3)
    assert res.history[-1]["val_mse"] < res.history[0]["val_mse"]
    assert math.isfinite(res.meta["p_ref"])
    # training state weights are a valid safetensors dict (no pickle anywhere)
    assert "encoder.0.weight" in load_file(str(tmp_path / "ck" / "model.safetensors"))


# ------------------------------------------------------------------------------------ errors and file modes


def test_checkpoint_errors_name_the_real_cause(tmp_path: Path, tiny_data) -> None:
    def reason(path) -> str:
        with pytest.raises(UsageError) as info:
            load_checkpoint(path)
        assert info.value.argument == "--checkpoint" and "\n" not in str(info.value)
        return info.value.message

    msg = reason("/nonexistent/ckpt")
    assert msg.startswith("/nonexistent/ckpt does not exist; /nonexistent does not exist either")
    assert "ckpt.json" not in msg
    assert reason(tmp_path / "nope").startswith(f"{tmp_path / 'nope'} does not exist (")
    (tmp_path / "empty").mkdir()
    assert reason(tmp_path / "empty").startswith(f"{tmp_path / 'empty'} is a directory without model.json")
    (tmp_path / "weights.pt").write_bytes(b"\x80\x04")
    assert "is a file but not a channelae checkpoint" in reason(tmp_path / "weights.pt")

    class Interrupt(Exception):
        pass

    def stop(epoch: int, log: dict) -> None:
        raise Interrupt

    with pytest.raises(Interrupt):
        _train(tmp_path / "cut", tiny_data, epochs=2, on_epoch_end=stop)
    assert "holds an unfinished training run" in reason(tmp_path / "cut") and "--resume" in reason(tmp_path / "cut")


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_respect_umask(tmp_path: Path, tiny_data, umask: int, mode: int) -> None:
    import os
    import stat

    from channelae.io import atomic_write_bytes, atomic_write_text, current_umask

    old = os.umask(umask)
    try:
        assert current_umask() == umask
        atomic_write_text(tmp_path / "a.txt", "x")
        atomic_write_bytes(tmp_path / "b.bin", b"x")
        _train(tmp_path / "ck", tiny_data, epochs=1)
    finally:
        os.umask(old)
    files = [tmp_path / "a.txt", tmp_path / "b.bin", tmp_path / "ck" / "model.json", tmp_path / "ck" / "model.safetensors"]
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: mode for f in files}


def test_replacing_a_file_keeps_its_mode(tmp_path: Path) -> None:
    import os
    import stat

    from channelae.io import atomic_write_text

    dest = tmp_path / "results.json"
    old = os.umask(0o022)
    try:
        atomic_write_text(dest, "1")
        dest.chmod(0o640)  # chosen by the user
        atomic_write_text(dest, "2")
    finally:
        os.umask(old)
    assert dest.read_text() == "2" and stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left
