"""Test-wide guards: no network, isolated caches, few threads."""

from __future__ import annotations

import socket

import pytest
import torch

torch.set_num_threads(1)  # tiny models: one thread is faster and steadier on 2 shared cores


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails at once (never hangs)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkBlocked("tests must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees an empty user cache and torch hub dir unless it sets its own."""
    root = tmp_path_factory.mktemp("env")
    monkeypatch.setenv("CHANNELAE_CACHE", str(root / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
    monkeypatch.delenv("CHANNELAE_DATA", raising=False)


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """A small swt-vae trained on 1,024 mnist-5k images for 3 epochs (shared by tests; ~10-20 s)."""
    from channelae.data import load_dataset
    from channelae.models import build_model
    from channelae.training import TrainConfig, train_model

    out = tmp_path_factory.mktemp("trained") / "swt-vae"
    torch.manual_seed(0)
    model = build_model("swt-vae", (1, 28, 28), 10)
    train = load_dataset("mnist-5k", "train", limit=1024)
    val = load_dataset("mnist-5k", "test", limit=128)
    train_model(model, train, val, TrainConfig(epochs=3, batch_size=64, seed=0, val_images=128), out,
                progress=False)
    return out
