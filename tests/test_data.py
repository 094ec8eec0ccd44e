"""Tests for channelae.data: genuine tiny files on disk, loaded through the public API.

IDX files are written here with ``struct`` (independently of ``channelae.data._idx``); CelebA images are
compared with an independent crop-by-slicing + ``torch.nn.functional.interpolate(antialias=True)``
(importing torchvision just for a reference costs seconds); the mnist-5k split is checked against the CSV
parsed with the ``csv`` module.
"""

from __future__ import annotations

import csv
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import channelae.paths
from channelae.data import DATASETS, ImageDataset, dataset_info, load_dataset
from channelae.data._idx import read_idx, write_idx
from channelae.data.mnist5k import NUM_IMAGES, TRAIN_SIZE, mnist_5k_path, split_indices
from channelae.errors import MissingResourceError, UsageError

DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")

# --------------------------------------------------------------------------------------------- helpers


def idx_bytes(array: np.ndarray, magic_type: int = 0x08) -> bytes:
    """IDX encoding of a uint8 array, written by hand: magic 0x0000<type><ndim>, big-endian dims."""
    header = struct.pack(">BBBB", 0, 0, magic_type, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_split(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray, gz: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    for name, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        payload = idx_bytes(arr)
        (folder / (name + ext)).write_bytes(gzip.compress(payload) if gz else payload)


def make_mnist_like(folder: Path, gz: bool, seed: int, n_train: int = 7, n_test: int = 3) -> dict:
    """Write a tiny train/t10k pair into ``folder``; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[0, 0, 1] = 0, 255  # both ends of the range
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_split(folder, prefix, images, labels, gz)
        arrays[split] = (images, labels)
    return arrays


@pytest.fixture
def no_system_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the last search directory (normally /usr/share/datasets) at an empty folder."""
    empty = tmp_path / "system-datasets"
    empty.mkdir()
    monkeypatch.setattr(channelae.paths, "SYSTEM_DATA_DIR", empty)
    return empty


def assert_matches(ds: ImageDataset, images: np.ndarray, labels: np.ndarray | None) -> None:
    """``ds`` holds exactly ``images`` (uint8 [N, H, W] or [N, C, H, W]) as float32 / 255."""
    n = images.shape[0]
    assert len(ds) == n
    x = ds.batch(torch.arange(n))
    assert x.dtype == torch.float32
    assert x.shape == (n, *ds.info.image_shape)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    want = torch.from_numpy(images).reshape(x.shape)
    assert torch.equal((x * 255).round().to(torch.uint8), want)
    assert torch.equal(ds[n - 1], x[n - 1])
    if labels is not None:
        assert ds.labels is not None and ds.labels.dtype == torch.int64
        assert torch.equal(ds.labels, torch.from_numpy(labels).long())


# --------------------------------------------------------------------------------------------- registry


def test_registry_and_info() -> None:
    assert set(DATASETS.names()) == {"mnist-5k", "mnist", "fashion-mnist", "celeba"}
    assert dataset_info("mnist-5k").default_latent_dim == 10
    assert dataset_info("mnist").default_latent_dim == 10
    assert dataset_info("fashion-mnist").default_latent_dim == 30
    celeba = dataset_info("celeba")
    assert (celeba.default_latent_dim, celeba.image_shape, celeba.eval_split) == (128, (3, 64, 64), "test")
    assert celeba.splits == ("train", "valid", "test")
    assert dataset_info("mnist").image_shape == (1, 28, 28)
    assert torch.allclose(dataset_info("mnist").eps_grid(), torch.arange(11) / 10)
    assert torch.allclose(celeba.eps_grid(), torch.arange(11) * 0.2)
    assert "apt-get install dataset-fashion-mnist" in dataset_info("fashion-mnist").how_to_get
    with pytest.raises(UsageError, match="celeba, fashion-mnist, mnist, mnist-5k") as err:
        dataset_info("mnist5k")
    assert err.value.argument == "--dataset"


def test_unknown_split_limit_and_data_dir_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"must be one of \(train, valid, test\); got 'val'"):
        load_dataset("celeba", "val", data_dir=tmp_path)
    for bad in (0, -3, 2.5, "many"):
        with pytest.raises(UsageError) as err:
            load_dataset("mnist-5k", limit=bad)  # type: ignore[arg-type]
        assert err.value.argument == "--n-images"
    with pytest.raises(UsageError, match="not a directory") as err:
        load_dataset("mnist", data_dir=tmp_path / "nope")
    assert err.value.argument == "--data-dir"
    assert not isinstance(err.value, MissingResourceError)


# --------------------------------------------------------------------------------------------- IDX reader


def test_idx_reader_round_trip_gz_and_plain(tmp_path: Path) -> None:
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(arr))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    for name in ("a", "a.gz"):
        got = read_idx(tmp_path / name)
        assert got.dtype == np.uint8 and got.shape == (2, 3, 4) and np.array_equal(got, arr)
    wide = np.array([[1, -2], [70000, 3]], dtype=np.int32)  # big-endian int32 (code 0x0C)
    write_idx(tmp_path / "w.gz", wide)
    raw = gzip.decompress((tmp_path / "w.gz").read_bytes())
    assert raw[:4] == bytes([0, 0, 0x0C, 2]) and struct.unpack(">2I", raw[4:12]) == (2, 2)
    assert np.array_equal(read_idx(tmp_path / "w.gz"), wide)


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda b: b"\x00\x00\x07\x03" + b[4:], "bad magic number 0x00000703"),
        (lambda b: b"\x01" + b[1:], "bad magic number"),
        (lambda b: b[:-5], "truncated"),
        (lambda b: b[:6], "truncated"),
        (lambda b: b + b"\x00", "longer than its header"),
        (lambda b: b[:4] + struct.pack(">I", 9) + b[8:], "truncated"),
    ],
)
@pytest.mark.parametrize("gz", [False, True])
def test_corrupt_idx_is_usage_error_naming_file(tmp_path: Path, mangle, message: str, gz: bool) -> None:
    rng = np.random.default_rng(1)
    good = idx_bytes(rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8))
    folder = tmp_path / "MNIST" / "raw"
    make_mnist_like(folder, gz=gz, seed=2)
    ext = ".gz" if gz else ""
    bad = folder / f"train-images-idx3-ubyte{ext}"
    payload = mangle(good)
    bad.write_bytes(gzip.compress(payload) if gz else payload)
    with pytest.raises(UsageError, match=message) as err:
        load_dataset("mnist", "train", data_dir=tmp_path)
    assert str(bad) in str(err.value) and not isinstance(err.value, MissingResourceError)
    assert len(load_dataset("mnist", "test", data_dir=tmp_path)) == 3  # the other split is intact


def test_broken_gzip_and_swapped_files(tmp_path: Path) -> None:
    folder = tmp_path / "MNIST" / "raw"
    make_mnist_like(folder, gz=True, seed=3)
    images = folder / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:40])  # truncated gzip stream
    with pytest.raises(UsageError, match="corrupt gzip") as err:
        load_dataset("mnist", data_dir=tmp_path)
    assert str(images) in str(err.value)
    # a label file where the images belong: valid IDX, wrong kind
    images.write_bytes((folder / "train-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(UsageError, match="not an image file"):
        load_dataset("mnist", data_dir=tmp_path)


def test_image_label_count_mismatch_and_bad_labels(tmp_path: Path) -> None:
    folder = tmp_path / "MNIST" / "raw"
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    write_split(folder, "train", images, np.zeros(4, dtype=np.uint8), gz=False)
    with pytest.raises(UsageError, match="5 images but .* 4 labels"):
        load_dataset("mnist", data_dir=tmp_path)
    write_split(folder, "train", images, np.array([0, 1, 2, 3, 10], dtype=np.uint8), gz=False)
    with pytest.raises(UsageError, match="label 10"):
        load_dataset("mnist", data_dir=tmp_path)


# --------------------------------------------------------------------------------------------- mnist / fashion-mnist


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_torchvision_layout(tmp_path: Path, gz: bool) -> None:
    arrays = make_mnist_like(tmp_path / "MNIST" / "raw", gz=gz, seed=5)
    for split in ("train", "test"):
        ds = load_dataset("mnist", split, data_dir=tmp_path)
        assert ds.split == split and ds.info.name == "mnist"
        assert_matches(ds, *arrays[split])


def test_mnist_flat_folder_via_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = make_mnist_like(tmp_path / "mnist", gz=False, seed=6)
    monkeypatch.setenv("CHANNELAE_DATA", str(tmp_path))
    assert_matches(load_dataset("mnist", "test"), *arrays["test"])


def test_search_order_data_dir_before_env_before_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_mnist_like(tmp_path / "cli" / "MNIST" / "raw", gz=True, seed=7)
    second = make_mnist_like(tmp_path / "env" / "MNIST", gz=False, seed=8)
    third = make_mnist_like(Path(channelae.paths.cache_dir()) / "data" / "mnist", gz=True, seed=9)
    monkeypatch.setenv("CHANNELAE_DATA", str(tmp_path / "env"))
    assert_matches(load_dataset("mnist", data_dir=tmp_path / "cli"), *first["train"])
    assert_matches(load_dataset("mnist"), *second["train"])
    monkeypatch.delenv("CHANNELAE_DATA")
    assert_matches(load_dataset("mnist"), *third["train"])


def test_fashion_mnist_debian_and_torchvision_layouts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_system_data: Path
) -> None:
    debian = make_mnist_like(tmp_path / "deb" / "fashion-mnist", gz=True, seed=10)
    assert_matches(load_dataset("fashion-mnist", "train", data_dir=tmp_path / "deb"), *debian["train"])
    tv = make_mnist_like(tmp_path / "tv" / "FashionMNIST" / "raw", gz=False, seed=11)
    monkeypatch.setenv("CHANNELAE_DATA", str(tmp_path / "tv"))
    ds = load_dataset("fashion-mnist", "test")
    assert_matches(ds, *tv["test"])
    assert ds.info.default_latent_dim == 30
    # MNIST files are not Fashion-MNIST files: a MNIST/ folder is not picked up for fashion-mnist
    monkeypatch.delenv("CHANNELAE_DATA")
    make_mnist_like(tmp_path / "m" / "MNIST" / "raw", gz=True, seed=12)
    with pytest.raises(MissingResourceError):
        load_dataset("fashion-mnist", data_dir=tmp_path / "m")


def test_limit_takes_first_items_and_changes_fingerprint(tmp_path: Path) -> None:
    arrays = make_mnist_like(tmp_path / "MNIST" / "raw", gz=True, seed=13)
    full = load_dataset("mnist", data_dir=tmp_path)
    four = load_dataset("mnist", data_dir=tmp_path, limit=4)
    assert_matches(four, arrays["train"][0][:4], arrays["train"][1][:4])
    assert load_dataset("mnist", data_dir=tmp_path, limit=1000).fingerprint() == full.fingerprint()
    assert four.fingerprint() != full.fingerprint()
    assert full.fingerprint() == load_dataset("mnist", data_dir=tmp_path).fingerprint()
    assert full.fingerprint() != load_dataset("mnist", "test", data_dir=tmp_path).fingerprint()
    assert len(full.fingerprint()) == 16 and int(full.fingerprint(), 16) >= 0
    # one changed pixel changes the fingerprint
    images, labels = arrays["train"]
    images = images.copy()
    images[3, 10, 10] ^= 1
    write_split(tmp_path / "MNIST" / "raw", "train", images, labels, gz=True)
    assert load_dataset("mnist", data_dir=tmp_path).fingerprint() != full.fingerprint()


def test_batch_indexing_and_dataloader(tmp_path: Path) -> None:
    make_mnist_like(tmp_path / "MNIST" / "raw", gz=True, seed=14)
    ds = load_dataset("mnist", data_dir=tmp_path)
    x = ds.batch(torch.tensor([6, 0, 6]))
    assert torch.equal(x[0], x[2]) and torch.equal(x[1], ds[0]) and torch.equal(ds[-1], ds[6])
    assert ds.batch([]).shape == (0, 1, 28, 28)
    with pytest.raises(IndexError):
        ds.batch(torch.tensor([7]))
    with pytest.raises(IndexError):
        ds[7]
    batches = list(torch.utils.data.DataLoader(ds, batch_size=4))
    assert [tuple(b.shape) for b in batches] == [(4, 1, 28, 28), (3, 1, 28, 28)]
    assert torch.equal(torch.cat(batches), ds.batch(torch.arange(7)))


# --------------------------------------------------------------------------------------------- missing data


@pytest.mark.parametrize(
    "name, hint",
    [
        ("fashion-mnist", "apt-get install dataset-fashion-mnist"),
        ("mnist", "MNIST/raw/"),
        ("celeba", "img_align_celeba"),
    ],
)
def test_missing_dataset_names_every_searched_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_system_data: Path, name: str, hint: str
) -> None:
    cli, env = tmp_path / "cli", tmp_path / "env"
    cli.mkdir()
    env.mkdir()
    monkeypatch.setenv("CHANNELAE_DATA", str(env))
    with pytest.raises(MissingResourceError) as err:
        load_dataset(name, "test", data_dir=cli)
    msg = str(err.value)
    assert "\n" not in msg and name in msg and hint in msg
    assert "CHANNELAE_DATA" in msg and "--data-dir" in msg
    searched = [str(cli), str(env), str(channelae.paths.cache_dir() / "data"), str(no_system_data)]
    positions = [msg.index(d) for d in searched]
    assert positions == sorted(positions)


def test_half_present_split_is_missing(tmp_path: Path, no_system_data: Path) -> None:
    folder = tmp_path / "MNIST" / "raw"
    make_mnist_like(folder, gz=True, seed=15)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    assert len(load_dataset("mnist", "train", data_dir=tmp_path)) == 7
    with pytest.raises(MissingResourceError, match="split 'test'"):
        load_dataset("mnist", "test", data_dir=tmp_path)


# --------------------------------------------------------------------------------------------- mnist-5k


def test_mnist_5k_fixed_disjoint_split_matches_csv() -> None:
    train, test = load_dataset("mnist-5k", "train"), load_dataset("mnist-5k", "test")
    assert (len(train), len(test)) == (TRAIN_SIZE, NUM_IMAGES - TRAIN_SIZE) == (4500, 500)
    assert train.batch(torch.arange(8)).shape == (8, 1, 28, 28)
    tr, te = split_indices("train"), split_indices("test")
    assert torch.equal(tr, split_indices("train"))  # deterministic
    assert set(tr.tolist()).isdisjoint(te.tolist())
    assert sorted(tr.tolist() + te.tolist()) == list(range(NUM_IMAGES))
    assert not torch.equal(tr[:100], torch.arange(100))  # really permuted
    # independent parse of the rows that the first test image and last train image should be
    with gzip.open(mnist_5k_path(), "rt") as fh:
        wanted = {int(te[0]), int(tr[-1])}
        rows = {i: row for i, row in enumerate(csv.reader(fh)) if i in wanted}
    for ds, k, row in ((test, 0, int(te[0])), (train, len(train) - 1, int(tr[-1]))):
        values = np.array(rows[row], dtype=np.int64)
        assert torch.equal((ds[k] * 255).round().long().flatten(), torch.from_numpy(values[:-1]))
        assert int(ds.labels[k]) == values[-1]
    assert set(torch.unique(test.labels).tolist()) == set(range(10))
    again = load_dataset("mnist-5k", "train")
    assert again.fingerprint() == train.fingerprint() != test.fingerprint()
    assert torch.equal(again.batch(torch.arange(50)), train.batch(torch.arange(50)))
    five = load_dataset("mnist-5k", "test", limit=5, data_dir=None)
    assert torch.equal(five.batch(torch.arange(5)), test.batch(torch.arange(5)))


# --------------------------------------------------------------------------------------------- celeba


def make_celeba(root: Path, codes: list[int]) -> list[Path]:
    """Write ``len(codes)`` 178×218 noisy JPEGs and a partition file under ``root/celeba``."""
    from PIL import Image

    folder = root / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(20)
    paths, lines = [], []
    for i, code in enumerate(codes, start=1):
        rgb = rng.integers(0, 256, size=(218, 178, 3), dtype=np.uint8)
        path = folder / f"{i:06d}.jpg"
        Image.fromarray(rgb).save(path, quality=95)
        paths.append(path)
        lines.append(f"{path.name} {code}")
    (root / "celeba" / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return paths


def reference_64(path: Path, top: int = 39, left: int = 19) -> torch.Tensor:
    """Independent preprocessing: crop the decoded array by slicing (178×218 → 140×140 at (39, 19)), then
    torch's antialiased bilinear resize, which approximates PIL's to about one grey level; float [3, 64, 64]."""
    from PIL import Image

    with Image.open(path) as img:
        pixels = np.array(img.convert("RGB"))  # [218, 178, 3]
    crop = torch.from_numpy(pixels[top : top + 140, left : left + 140]).permute(2, 0, 1).float()
    out = torch.nn.functional.interpolate(
        crop[None], size=(64, 64), mode="bilinear", antialias=True, align_corners=False
    )
    return out[0]


def test_celeba_splits_and_preprocessing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_celeba(tmp_path, [0, 0, 1, 2, 0, 2])
    monkeypatch.setenv("CHANNELAE_DATA", str(tmp_path))
    sizes = {"train": 3, "valid": 1, "test": 2}
    for split, n in sizes.items():
        assert len(load_dataset("celeba", split)) == n
    test = load_dataset("celeba", "test")
    assert test.labels is None
    x = test.batch(torch.tensor([1, 0]))
    assert x.shape == (2, 3, 64, 64) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert torch.equal(x * 255, (x * 255).round())  # uint8 levels / 255
    for row, path in ((0, paths[5]), (1, paths[3])):
        err = (x[row] * 255 - reference_64(path)).abs()
        assert float(err.mean()) < 0.5 and float(err.max()) <= 2.0
        shifted = (x[row] * 255 - reference_64(path, top=40, left=20)).abs()
        assert float(shifted.mean()) > 5.0  # the comparison does see a one-pixel crop offset
    assert torch.equal(test[0], x[1])
    train = load_dataset("celeba", "train", data_dir=tmp_path, limit=2)
    assert len(train) == 2
    assert float((train[1] * 255 - reference_64(paths[1])).abs().max()) <= 2.0
    assert train.fingerprint() != load_dataset("celeba", "train").fingerprint() != test.fingerprint()


def test_celeba_broken_inputs(tmp_path: Path, no_system_data: Path) -> None:
    paths = make_celeba(tmp_path, [0, 2, 2])
    paths[2].unlink()
    with pytest.raises(MissingResourceError, match="000003.jpg"):
        load_dataset("celeba", "test", data_dir=tmp_path)
    paths[0].write_bytes(b"not a jpeg")
    with pytest.raises(UsageError, match="cannot decode CelebA image .*000001.jpg"):
        load_dataset("celeba", "train", data_dir=tmp_path)[0]
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 7\n")
    with pytest.raises(UsageError, match="line 2"):
        load_dataset("celeba", "train", data_dir=tmp_path)


# --------------------------------------------------------------------------------------------- real files


@pytest.mark.skipif(
    not (DEBIAN_FMNIST / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist is not installed",
)
def test_real_debian_fashion_mnist() -> None:
    for split, n in (("train", 60000), ("test", 10000)):
        ds = load_dataset("fashion-mnist", split)
        assert len(ds) == n and ds.source == DEBIAN_FMNIST
        assert ds.labels is not None and int(ds.labels.min()) == 0 and int(ds.labels.max()) == 9
        assert torch.equal(torch.bincount(ds.labels), torch.full((10,), n // 10))  # balanced classes
        x = ds.batch(torch.arange(0, n, 997))
        assert x.shape == (len(range(0, n, 997)), 1, 28, 28)
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
