"""Test-wide guards: no network, isolated caches, few threads."""

from __future__ import annotations

import socket

import pytest
import torch

torch.set_num_threads(2)


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
