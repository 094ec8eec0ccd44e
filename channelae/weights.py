"""Pretrained weight files (LPIPS backbones, FID's Inception): the one table of names, files and URLs, where
they live, and an explicit, hash-checked download.

Nothing in channelae downloads on its own: metrics read these files from the torch hub cache,
``torch.hub.get_dir()/checkpoints/`` (``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch/hub/
checkpoints``), exactly where torchvision and torch-fidelity would keep them, and a missing file is a one-line
error naming it. ``channelae weights`` shows what is present; ``channelae weights fetch NAME`` (or
:func:`fetch_weights`) downloads a file with :func:`torch.hub.download_url_to_file` and the hash check that
``torch.hub.load_state_dict_from_url(..., check_hash=True)`` applies: the file name ends in ``-<hex>.pth`` and
the SHA-256 of the download must start with that ``<hex>`` (torchvision's convention; torch-fidelity's Inception
file follows it too). A download that fails the check, or breaks off, leaves no file behind (torch writes to a
``.partial`` file and only moves it into place once verified).

The LPIPS linear-layer weights (a few kB) are not fetched: they ship inside the ``lpips`` package (and
torchmetrics), see :func:`shipped_lpips_lin_weights`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from channelae.errors import MissingResourceError, UsageError

__all__ = [
    "DEFAULT_FETCH",
    "WEIGHT_FILES",
    "FetchResult",
    "WeightFile",
    "WeightStatus",
    "fetch_weights",
    "hub_checkpoints_dir",
    "missing_weights_message",
    "shipped_lpips_lin_weights",
    "weight_file",
    "weights_status",
]

#: torch.hub's pattern for the hash prefix in a file name (``torch.hub.HASH_REGEX``): ``name-<hex>.ext``.
_HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")


@dataclass(frozen=True)
class WeightFile:
    """One pretrained weight file channelae can use.

    :ivar name: what ``channelae weights fetch`` calls it (``lpips-alex``, ``lpips-vgg``, ``fid``).
    :ivar file: the file name in the torch hub cache (the basename of ``url``).
    :ivar url: where torchvision / torch-fidelity download it from.
    :ivar description: what the file is.
    :ivar used_for: which options need it.
    :ivar size_mb: download size in MB (10^6 bytes), for messages.
    """

    name: str
    file: str
    url: str
    description: str
    used_for: str
    size_mb: float

    @property
    def hash_prefix(self) -> str | None:
        """The SHA-256 prefix in the file name (what ``check_hash=True`` verifies), or ``None``."""
        m = _HASH_REGEX.search(self.file)
        return m.group(1) if m and m.group(1) else None

    @property
    def path(self) -> Path:
        """Where the file is read from: ``$TORCH_HOME/hub/checkpoints/<file>`` (read at call time)."""
        return hub_checkpoints_dir() / self.file


WEIGHT_FILES: dict[str, WeightFile] = {
    w.name: w
    for w in (
        WeightFile(
            name="lpips-alex",
            file="alexnet-owt-7be5be79.pth",
            url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            description="torchvision AlexNet (ImageNet), the backbone of LPIPS(alex)",
            used_for="--metrics lpips, --distance lpips (alex, the default backbone)",
            size_mb=244.4,
        ),
        WeightFile(
            name="lpips-vgg",
            file="vgg16-397923af.pth",
            url="https://download.pytorch.org/models/vgg16-397923af.pth",
            description="torchvision VGG16 (ImageNet), the backbone of LPIPS(vgg)",
            used_for="lpips with the vgg backbone (lpips_net='vgg')",
            size_mb=553.4,
        ),
        WeightFile(
            name="fid",
            file="weights-inception-2015-12-05-6726825d.pth",
            url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
            "weights-inception-2015-12-05-6726825d.pth",
            description="Inception-v3 of torch-fidelity (TensorFlow's 2015-12-05 graph), the FID feature network",
            used_for="--metrics fid",
            size_mb=95.6,
        ),
    )
}

#: What ``channelae weights fetch`` fetches without a name: the file the default ``--metrics`` need.
DEFAULT_FETCH: tuple[str, ...] = ("lpips-alex",)


def hub_checkpoints_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints``, i.e. ``$TORCH_HOME/hub/checkpoints`` (not created)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def weight_file(name: str | WeightFile) -> WeightFile:
    """The :class:`WeightFile` called ``name`` (one-line ``UsageError`` listing the names otherwise)."""
    if isinstance(name, WeightFile):
        return name
    spec = WEIGHT_FILES.get(name)
    if spec is None:
        raise UsageError(f"unknown weight file {name!r}; allowed: {', '.join(WEIGHT_FILES)} or all", "NAME")
    return spec


def missing_weights_message(name: str, metric: str, *, purpose: str = "metric") -> str:
    """The one line used when weight file ``name`` is not in the torch hub cache.

    :param name: a key of :data:`WEIGHT_FILES`.
    :param metric: the metric that needs it (``lpips``, ``fid``).
    :param purpose: ``"metric"`` (the fix includes leaving it out of ``--metrics``) or ``"distance"`` (the
        jammer's attack distance needs it: the fix is the file or another ``--distance``).
    """
    spec = weight_file(name)
    path = spec.path
    fetch = f"`channelae weights fetch {spec.name}` (downloads {spec.size_mb:.0f} MB from {spec.url}, checks its hash)"
    if purpose == "distance":
        return (f"the {metric} attack distance needs {spec.description}: '{spec.file}' is not at {path} "
                f"(the torch hub cache, $TORCH_HOME/hub/checkpoints): run {fetch}, or copy that file there, "
                "or choose another --distance (mse, l1, ssim)")
    return (f"{metric} needs {spec.description}: '{spec.file}' is not at {path} (the torch hub cache, "
            f"$TORCH_HOME/hub/checkpoints; nothing is downloaded unasked): run {fetch}, or copy the file there "
            f"or set TORCH_HOME to a cache that has it, or leave '{metric}' out of --metrics")


def shipped_lpips_lin_weights(net: str) -> Path | None:
    """The LPIPS v0.1 linear-layer weights of ``net`` (``alex``, ``vgg``) shipped inside the ``lpips`` package,
    or torchmetrics' byte-identical copy; ``None`` when neither is installed (packages are located, not imported)."""
    for package, sub in (("lpips", ("weights", "v0.1")), ("torchmetrics", ("functional", "image", "lpips_models"))):
        spec = importlib.util.find_spec(package)
        for root in (spec.submodule_search_locations or []) if spec else []:
            path = Path(root).joinpath(*sub, f"{net}.pth")
            if path.is_file():
                return path
    return None


@dataclass(frozen=True)
class WeightStatus:
    """Whether a weight file is on this machine.

    :ivar name: table key, or ``lpips-lin-<net>`` for the LPIPS linear layers (shipped, not fetched).
    :ivar file: file name; ``path``: where it is (or would be) read from; ``present``: it is there.
    :ivar size_bytes: its size when present; ``fetchable``: ``channelae weights fetch`` can download it.
    :ivar note: how it gets there when it is not fetchable.
    """

    name: str
    file: str
    path: Path | None
    present: bool
    size_bytes: int | None
    used_for: str
    fetchable: bool = True
    note: str = ""


def weights_status() -> list[WeightStatus]:
    """Presence of every weight file (only looks at files; never touches the network)."""
    rows = []
    for spec in WEIGHT_FILES.values():
        p = spec.path
        present = p.is_file()
        rows.append(WeightStatus(spec.name, spec.file, p, present, p.stat().st_size if present else None,
                                 spec.used_for))
    for net in ("alex", "vgg"):
        p = shipped_lpips_lin_weights(net)
        rows.append(WeightStatus(
            f"lpips-lin-{net}", f"{net}.pth", p, p is not None, p.stat().st_size if p is not None else None,
            f"LPIPS({net}) linear layers", fetchable=False,
            note="shipped with the lpips package" if p is not None else "install the lpips package (pip install lpips)",
        ))
    return rows


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_weights` did for one file: ``status`` is ``"downloaded"`` or ``"present"``."""

    name: str
    path: Path
    status: str


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch_one(spec: WeightFile, *, force: bool, progress: bool) -> FetchResult:
    import urllib.error

    import torch

    dst = spec.path
    prefix = spec.hash_prefix
    if dst.is_file() and not force:
        if prefix is not None and not _sha256(dst).startswith(prefix):
            raise UsageError(f"{dst} exists but its SHA-256 does not start with {prefix} (a damaged or different "
                             f"file): remove it and fetch again, or fetch with --force", "NAME")
        return FetchResult(spec.name, dst, "present")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {dst.parent}: {exc.strerror or exc}; set TORCH_HOME to a writable "
                         "directory", "NAME") from None
    try:
        torch.hub.download_url_to_file(spec.url, str(dst), hash_prefix=prefix, progress=progress)
    except RuntimeError as exc:
        got = re.search(r'got "([0-9a-f]+)"', str(exc))
        if "invalid hash value" in str(exc):
            raise UsageError(f"the download of {spec.file} from {spec.url} failed its hash check (its SHA-256 "
                             f"{got.group(1)[:12] if got else '?'}… does not start with {prefix}): nothing was "
                             f"saved; try again, or copy a good copy of the file to {dst}", "NAME") from None
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise MissingResourceError(f"cannot download {spec.file} from {spec.url} ({reason}); on a machine "
                                   f"without internet access, download it elsewhere and copy it to {dst}",
                                   "NAME") from None
    return FetchResult(spec.name, dst, "downloaded")


def fetch_weights(
    names: Iterable[str | WeightFile] = DEFAULT_FETCH,
    *,
    force: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> list[FetchResult]:
    """Download weight files into the torch hub cache with the SHA-256 prefix check; skip those present.

    :param names: keys of :data:`WEIGHT_FILES` (or ``"all"``), or :class:`WeightFile` objects.
    :param force: download again even when the file is present (replaces it only once the new one passed).
    :param progress: torch's download progress bar on stderr.
    :param log: called with one line per file before it is fetched.
    :raises MissingResourceError: no connection (one line: the file, its URL and where to copy it by hand).
    :raises UsageError: unknown name; the download or an existing file fails the hash check (nothing kept).
    """
    items = list(names)
    specs = list(WEIGHT_FILES.values()) if "all" in items else [weight_file(n) for n in items]
    results = []
    for spec in dict.fromkeys(specs):
        if log is not None and (force or not spec.path.is_file()):
            log(f"fetching {spec.name}: {spec.file} ({spec.size_mb:.0f} MB) from {spec.url} into {spec.path.parent}")
        results.append(_fetch_one(spec, force=force, progress=progress))
    return results
