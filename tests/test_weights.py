"""Pretrained weight files: status, the explicit hash-checked fetch (through file:// URLs, never the network),
and the messages that name the file, where it goes and the fixes."""

from __future__ import annotations

import hashlib
import os
import stat
import urllib.error
from pathlib import Path

import pytest
import torch
from _cli import run_cli

from channelae import weights
from channelae.errors import MissingResourceError, UsageError
from channelae.weights import WEIGHT_FILES, WeightFile, fetch_weights, weights_status


def _hub() -> Path:
    return Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints"


def _source(tmp_path: Path, payload: bytes, name: str | None = None) -> tuple[Path, str]:
    """A file to serve through file://, named ``<name>`` or ``tiny-<sha256 prefix>.pth`` (torch's convention)."""
    digest = hashlib.sha256(payload).hexdigest()
    src = tmp_path / "srv" / (name or f"tiny-{digest[:8]}.pth")
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(payload)
    return src, digest


def test_table_matches_torchvision_and_torch_fidelity() -> None:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
    from torchvision.models import AlexNet_Weights, VGG16_Weights

    assert WEIGHT_FILES["lpips-alex"].url == AlexNet_Weights.IMAGENET1K_V1.url
    assert WEIGHT_FILES["lpips-vgg"].url == VGG16_Weights.IMAGENET1K_V1.url
    assert WEIGHT_FILES["fid"].url == URL_INCEPTION_V3
    for spec in WEIGHT_FILES.values():
        assert spec.url.rsplit("/", 1)[1] == spec.file
        # the prefix torch.hub checks with check_hash=True
        assert spec.hash_prefix == torch.hub.HASH_REGEX.search(spec.file).group(1)
        assert spec.path == _hub() / spec.file
    from channelae.metrics.fid import inception_weights_path
    from channelae.metrics.lpips import lpips_backbone_path

    assert lpips_backbone_path("alex") == WEIGHT_FILES["lpips-alex"].path  # one place for names and paths
    assert lpips_backbone_path("vgg") == WEIGHT_FILES["lpips-vgg"].path
    assert inception_weights_path() == WEIGHT_FILES["fid"].path


def test_status_lists_missing_and_present_files() -> None:
    rows = {r.name: r for r in weights_status()}
    assert {"lpips-alex", "lpips-vgg", "fid"} <= set(rows)
    assert not any(rows[n].present for n in ("lpips-alex", "lpips-vgg", "fid"))
    assert rows["lpips-alex"].path == _hub() / "alexnet-owt-7be5be79.pth"
    lin = rows["lpips-lin-alex"]  # shipped with the lpips package, not fetched
    assert lin.present and not lin.fetchable and lin.path.is_file() and "lpips" in lin.note
    _hub().mkdir(parents=True)
    (_hub() / "alexnet-owt-7be5be79.pth").write_bytes(b"x" * 10)
    rows = {r.name: r for r in weights_status()}
    assert rows["lpips-alex"].present and rows["lpips-alex"].size_bytes == 10 and not rows["fid"].present


def test_fetch_through_file_url_checks_the_hash_and_respects_umask(tmp_path: Path) -> None:
    payload = os.urandom(3000)
    src, digest = _source(tmp_path, payload)
    spec = WeightFile("tiny", src.name, src.as_uri(), "a test file", "tests", 0.003)
    assert spec.hash_prefix == digest[:8]
    lines: list[str] = []
    old = os.umask(0o022)
    try:
        (res,) = fetch_weights([spec], progress=False, log=lines.append)
    finally:
        os.umask(old)
    assert res.status == "downloaded" and res.path == _hub() / src.name
    assert res.path.read_bytes() == payload
    assert stat.S_IMODE(res.path.stat().st_mode) == 0o644
    assert len(lines) == 1 and src.name in lines[0] and str(_hub()) in lines[0]
    assert sorted(p.name for p in _hub().iterdir()) == [src.name]  # no .partial left
    (again,) = fetch_weights([spec], progress=False)
    assert again.status == "present"


def test_wrong_hash_fails_and_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a file served under the real AlexNet name: its SHA-256 cannot start with 7be5be79
    src, digest = _source(tmp_path, b"not the alexnet weights", name="alexnet-owt-7be5be79.pth")
    assert not digest.startswith("7be5be79")
    spec = WEIGHT_FILES["lpips-alex"]
    monkeypatch.setitem(WEIGHT_FILES, "lpips-alex", WeightFile(spec.name, spec.file, src.as_uri(),
                                                               spec.description, spec.used_for, spec.size_mb))
    with pytest.raises(UsageError) as info:
        fetch_weights(["lpips-alex"], progress=False)
    msg = str(info.value)
    assert "\n" not in msg and "hash check" in msg and "7be5be79" in msg and digest[:12] in msg
    assert "nothing was saved" in msg and str(spec.path) in msg
    assert not spec.path.exists()
    assert list(_hub().iterdir()) == []  # the partial download is gone too


def test_damaged_existing_file_is_not_silently_kept_or_replaced(tmp_path: Path) -> None:
    payload = b"good weights"
    src, _ = _source(tmp_path, payload)
    spec = WeightFile("tiny", src.name, src.as_uri(), "a test file", "tests", 0.0)
    spec.path.parent.mkdir(parents=True)
    spec.path.write_bytes(b"damaged")
    with pytest.raises(UsageError, match="does not start with .*--force"):
        fetch_weights([spec], progress=False)
    assert spec.path.read_bytes() == b"damaged"
    (res,) = fetch_weights([spec], progress=False, force=True)
    assert res.status == "downloaded" and spec.path.read_bytes() == payload


def test_offline_is_one_line_naming_file_url_and_where_to_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(torch.hub, "urlopen", offline)
    with pytest.raises(MissingResourceError) as info:
        fetch_weights(["fid"], progress=False)
    msg = str(info.value)
    spec = WEIGHT_FILES["fid"]
    assert "\n" not in msg and spec.file in msg and spec.url in msg and str(spec.path) in msg
    assert "name resolution" in msg and "copy it to" in msg
    assert not spec.path.exists()


def test_file_url_that_does_not_exist_is_a_clear_error(tmp_path: Path) -> None:
    spec = WeightFile("gone", "gone-00000000.pth", (tmp_path / "gone-00000000.pth").as_uri(), "x", "x", 0.0)
    with pytest.raises(MissingResourceError, match="cannot download gone-00000000.pth"):
        fetch_weights([spec], progress=False)


def test_unknown_name() -> None:
    with pytest.raises(UsageError, match="lpips-alex, lpips-vgg, fid or all"):
        fetch_weights(["alexnet"], progress=False)


def test_missing_weight_messages_for_metric_and_for_distance() -> None:
    from channelae.metrics.lpips import lpips_unavailable_reason

    path = WEIGHT_FILES["lpips-alex"].path
    metric = lpips_unavailable_reason("alex")
    distance = lpips_unavailable_reason("alex", purpose="distance")
    for msg in (metric, distance):
        assert "\n" not in msg and "alexnet-owt-7be5be79.pth" in msg and str(path) in msg
        assert "channelae weights fetch lpips-alex" in msg and "copy" in msg
    assert "--metrics" in metric
    # the attack distance needs the file: no advice about --metrics, but another --distance is a way out
    assert "--metrics" not in distance and "attack distance" in distance and "--distance" in distance
    assert "channelae weights fetch fid" in weights.missing_weights_message("fid", "fid")


# ----------------------------------------------------------------------------------------------- CLI


def test_cli_weights_status_and_fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run_cli(["weights"])
    assert code == 0, err
    assert "lpips-alex" in out and "fid" in out and "missing" in out and str(_hub()) in out.replace("\n", "")
    assert "channelae weights fetch" in out

    payload = b"\x00" * 100
    src, _ = _source(tmp_path, payload, name="alexnet-owt-7be5be79.pth")
    spec = WEIGHT_FILES["lpips-alex"]
    monkeypatch.setitem(WEIGHT_FILES, "lpips-alex", WeightFile(spec.name, spec.file, src.as_uri(),
                                                               spec.description, spec.used_for, spec.size_mb))
    code, out, err = run_cli(["weights", "fetch", "lpips-alex", "--quiet"])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2, err  # what is fetched from where, then the one-line error
    assert lines[0].startswith("fetching lpips-alex") and lines[1].startswith("error:") and "hash check" in lines[1]
    code, out, err = run_cli(["weights", "fetch", "nonsense"])
    assert code == 2 and "unknown weight file 'nonsense'" in err and len(err.strip().splitlines()) == 1

    good, _ = _source(tmp_path, b"tiny weights")
    monkeypatch.setitem(WEIGHT_FILES, "tiny", WeightFile("tiny", good.name, good.as_uri(), "t", "t", 0.0))
    code, out, err = run_cli(["weights", "fetch", "tiny", "--quiet"])
    assert code == 0, err
    assert "downloaded" in out and (_hub() / good.name).read_bytes() == b"tiny weights"
    code, out, _ = run_cli(["weights", "fetch", "tiny"])
    assert code == 0 and "already present" in out
