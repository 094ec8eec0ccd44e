"""The results folder of ``simulate`` (``--out``): what it holds, whether a run may write there, ``--overwrite``.

Rules (what ``simulate`` and ``channelae run`` do with a folder; :func:`channelae.simulate.simulate`):

* **channelae's files** in a results folder are :data:`OUTPUT_FILES` (``results.json``, ``results.csv``,
  ``per_image.safetensors``, ``samples.safetensors``), the plots (``dd_curves``, ``heatmap``, ``images``,
  ``latent_bars``, ``tsne`` in any of png/pdf/svg), the ``partial/`` folder of an unfinished run and the
  temporary files of an interrupted atomic write. Everything else in the folder is the user's: it is never
  deleted, never read, and does not stop a run.
* **Other settings are refused**: a folder holding the results (or an unfinished run) of another configuration
  (a field added by a later channelae counts as equal at its default, :func:`differences`),
  another model or data set, or channelae files whose settings are unknown (no readable ``results.json``) is
  refused with one line naming ``--overwrite`` and a fresh ``--out``; the configuration check needs no model,
  so it answers before a default model is trained.
* **The same settings** resume an unfinished run (``resuming: k of n chunks done``) and reuse finished results
  (nothing is recomputed; ``--overwrite`` recomputes). Finished results that lack a metric which can run now
  (e.g. LPIPS after ``channelae weights fetch``) are recomputed, and said so.
* ``--overwrite`` removes channelae's files (and only those) before the run; so does any recomputation, so a
  folder never mixes files of two runs.

"Settings" are the :class:`~channelae.simulate.SimulationConfig` (compared field by field, so a refusal names
the fields that differ), the SHA-256 of the model weights and the data set; an unfinished run's chunks are resumed only on
the same device type and with the same metrics (they change numbers), and are otherwise started over (said so).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from channelae.errors import UsageError
from channelae.results import CSV_NAME, PER_IMAGE_NAME, RESULTS_NAME, SAMPLES_NAME, Results, encode_json

__all__ = ["OUTPUT_FILES", "PARTIAL_DIR", "STAMP_NAME", "Folder", "RunKey", "check_model", "check_settings",
           "chunk_path", "clear", "config_record", "describe_removed", "differences", "inspect", "output_names", "prepare_partial",
           "reusable"]

#: The data files ``simulate`` writes into a results folder.
OUTPUT_FILES = (RESULTS_NAME, CSV_NAME, PER_IMAGE_NAME, SAMPLES_NAME)
#: The folder of an unfinished run's chunks, and its stamp (the run's settings, JSON).
PARTIAL_DIR = "partial"
STAMP_NAME = "run.json"
_WRITE_PROBE = ".write-test"  # channelae.io.ensure_writable_dir
_HOW = "add --overwrite to replace its channelae files, or choose another --out"


def output_names() -> set[str]:
    """File names channelae writes into a results folder: :data:`OUTPUT_FILES` and every plot in every format."""
    from channelae.plots import FORMATS, PLOT_NAMES  # no matplotlib import

    return {*OUTPUT_FILES, *(f"{stem}.{fmt}" for stem in PLOT_NAMES for fmt in FORMATS)}


def _is_ours(name: str, names: set[str]) -> bool:
    """A channelae output, or the temporary file of an interrupted atomic write of one (``.<name>.*.tmp*``)."""
    if name in names or name in (PARTIAL_DIR, _WRITE_PROBE):
        return True
    return name.startswith(".") and ".tmp" in name and any(name.startswith(f".{n}.") for n in names)


@dataclass(frozen=True)
class RunKey:
    """What identifies a run's numbers (module docstring).

    :ivar config: the configuration as stored (:func:`config_record`); ``config_hash`` its digest; ``defaults``
        the record of the default configuration (:func:`differences`).
    :ivar weights_sha256: SHA-256 of the model weights; ``dataset`` the evaluated data set.
    :ivar device: device type (``cpu``, ``cuda``); ``metrics`` the metrics that run; ``chunk`` images per chunk
        and ``n_chunks`` chunks: an unfinished run resumes only when all of these agree.
    """

    config: dict[str, Any]
    config_hash: str
    defaults: dict[str, Any] = field(default_factory=dict)
    weights_sha256: str = ""
    dataset: str = ""
    device: str = ""
    metrics: tuple[str, ...] = ()
    chunk: int = 0
    n_chunks: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config, "config_hash": self.config_hash, "weights_sha256": self.weights_sha256,
                "dataset": self.dataset, "device": self.device, "metrics": list(self.metrics), "chunk": self.chunk,
                "n_chunks": self.n_chunks}


@dataclass
class Folder:
    """What a results folder holds.

    :ivar outputs: channelae's entries present (files, ``partial/``), sorted by name.
    :ivar others: names of every other entry (the user's; never touched).
    :ivar finished: the ``results.json`` there (read), or ``None``; ``unreadable``: why it could not be read.
    :ivar partial: the stamp of an unfinished run in ``partial/`` (:meth:`RunKey.to_dict`), or ``None``.
    """

    path: Path
    outputs: list[Path] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    finished: Results | None = None
    unreadable: str | None = None
    partial: dict[str, Any] | None = None

    @property
    def empty(self) -> bool:
        """No channelae files (other files may be there)."""
        return not self.outputs


def inspect(out: str | Path) -> Folder:
    """Read what ``out`` holds (nothing is created or changed; a missing folder is empty)."""
    path = Path(out)
    folder = Folder(path=path)
    if not path.is_dir():
        return folder
    names = output_names()
    for entry in sorted(path.iterdir(), key=lambda p: p.name):
        if _is_ours(entry.name, names) and (entry.is_file() or (entry.name == PARTIAL_DIR and entry.is_dir())):
            folder.outputs.append(entry)
        else:
            folder.others.append(entry.name)
    if (path / RESULTS_NAME).is_file():
        from channelae.results import load

        try:
            folder.finished = load(path)
        except UsageError as exc:
            folder.unreadable = exc.message
    stamp = path / PARTIAL_DIR / STAMP_NAME
    if stamp.is_file():
        try:
            doc = json.loads(stamp.read_text(encoding="utf-8"))
            folder.partial = doc if isinstance(doc, dict) and "config_hash" in doc else None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            folder.partial = None
    return folder


def config_record(config: Any) -> dict[str, Any]:
    """A :class:`~channelae.simulate.SimulationConfig` as stored in manifests and stamps (strict-JSON values)."""
    from dataclasses import asdict

    return json.loads(json.dumps(encode_json(asdict(config)), default=str))


_ABSENT = object()


def differences(stored: dict[str, Any] | None, config: dict[str, Any], defaults: dict[str, Any]) -> list[str] | None:
    """Names of the configuration fields that differ between a stored record and ``config`` (both
    :func:`config_record`), or ``None`` when ``stored`` is not a record.

    A field the stored record lacks (written before the field existed) counts as equal when ``config`` has its
    default (``defaults``: the record of the default configuration): a channelae upgrade that adds a setting
    does not turn every earlier folder into "other settings".
    """
    if not isinstance(stored, dict):
        return None

    def norm(v: Any) -> str:
        return json.dumps(v, sort_keys=True, default=str)

    out = []
    for k in sorted(set(stored) | set(config)):
        s, c = stored.get(k, _ABSENT), config.get(k, _ABSENT)
        if s is _ABSENT and c is not _ABSENT and norm(c) == norm(defaults.get(k, _ABSENT)):
            continue
        if s is _ABSENT or c is _ABSENT or norm(s) != norm(c):
            out.append(k)
    return out


def _differs_text(names: list[str]) -> str:
    if not names:
        return ""
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return f" (differs in: {shown})"


def check_settings(folder: Folder, config: dict[str, Any], defaults: dict[str, Any], argument: str = "--out") -> None:
    """Refuse a folder that holds channelae files of another configuration, or of unknown settings (one line).

    Needs no model: ``simulate`` calls it before a default model may be trained.

    :param config: :func:`config_record` of the run's configuration; ``defaults`` that of the default one
        (:func:`differences`).
    :raises UsageError: naming the fields that differ, ``--overwrite`` and another ``--out``.
    """
    p = folder.path
    if folder.empty:
        return
    if folder.finished is not None:
        man = folder.finished.manifest
        diff = differences(man.config if man is not None else None, config, defaults)
        if diff is None:
            raise UsageError(f"{p} holds results whose settings are not recorded (an older channelae); {_HOW}",
                             argument)
        if diff:
            raise UsageError(f"{p} holds the results of other settings{_differs_text(diff)}; {_HOW}", argument)
        return
    if folder.unreadable is not None:
        raise UsageError(f"{p} holds a results.json channelae cannot read ({folder.unreadable}); {_HOW}", argument)
    if folder.partial is not None:
        diff = differences(folder.partial.get("config"), config, defaults)
        if diff is None or diff:
            raise UsageError(f"{p} holds an unfinished run of other settings{_differs_text(diff or [])}; {_HOW}",
                             argument)
        return
    shown = ", ".join(e.name + ("/" if e.is_dir() else "") for e in folder.outputs[:4])
    more = f" and {len(folder.outputs) - 4} more" if len(folder.outputs) > 4 else ""
    raise UsageError(f"{p} holds channelae files of an earlier run whose settings are unknown ({shown}{more}, no "
                     f"results.json); {_HOW}", argument)


def check_model(folder: Folder, key: RunKey, argument: str = "--out") -> None:
    """Refuse a folder whose results (or unfinished run) of the same configuration used another model or data
    set (one line, naming ``--overwrite`` and another ``--out``)."""
    p = folder.path
    if folder.finished is not None and folder.finished.manifest is not None:
        res, man = folder.finished, folder.finished.manifest
        if man.checkpoint_sha256 != key.weights_sha256:
            raise UsageError(f"{p} holds the results of these settings for another model ({man.checkpoint}); {_HOW}",
                             argument)
        if res.dataset != key.dataset:
            raise UsageError(f"{p} holds the results of these settings on data set {res.dataset!r}, not "
                             f"{key.dataset!r}; {_HOW}", argument)
    elif folder.partial is not None:
        st = folder.partial
        if st.get("weights_sha256") != key.weights_sha256:
            raise UsageError(f"{p} holds an unfinished run of these settings for another model; {_HOW}", argument)
        if st.get("dataset") != key.dataset:
            raise UsageError(f"{p} holds an unfinished run of these settings on data set {st.get('dataset')!r}, "
                             f"not {key.dataset!r}; {_HOW}", argument)


def reusable(folder: Folder, key: RunKey, log: Callable[[str], None]) -> Results | None:
    """The finished results of ``key`` in the folder, to be shown instead of recomputed, or ``None``.

    Finished results that lack a metric of ``key.metrics`` (one that could not run then and can now) are not
    reused; ``log`` says so. Call :func:`check_model` first.
    """
    res = folder.finished
    if res is None:
        return None
    missing = [m for m in key.metrics if m not in res.metrics]
    if missing:
        log(f"{folder.path} holds the results of these settings without {', '.join(missing)}, which can run now: "
            "recomputing them")
        return None
    created = res.manifest.created if res.manifest is not None else ""
    when = f" (computed {created[:16].replace('T', ' ')} UTC)" if created else ""
    log(f"{folder.path} already holds the results of these settings{when}: showing them, nothing recomputed; "
        "--overwrite recomputes")
    return res


def clear(folder: Folder, *, keep_partial: bool = False) -> list[str]:
    """Remove channelae's files from the folder (never the others); ``keep_partial`` keeps ``partial/``.

    :return: the names removed.
    """
    removed = []
    for entry in folder.outputs:
        if entry.name == PARTIAL_DIR:
            if keep_partial:
                continue
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    folder.outputs = [e for e in folder.outputs if e.exists()]
    folder.finished = None
    if not keep_partial:
        folder.partial = None
    return removed


def _chunk_name(c: int) -> str:
    return f"chunk_{c:05d}.safetensors"


def prepare_partial(folder: Folder, key: RunKey, log: Callable[[str], None]) -> tuple[Path, list[int]]:
    """``<out>/partial/`` stamped with ``key``, and the chunks already done there (resumed).

    An unfinished run of the same settings resumes (``log``: ``resuming: k of n chunks done``) unless it ran on
    another device type, with other metrics or another chunking, which change numbers: then it starts over
    (``log`` says why). Call :func:`check_settings` / :func:`check_model` first.
    """
    from channelae.io import atomic_write_text

    partial = folder.path / PARTIAL_DIR
    done: list[int] = []
    st = folder.partial
    if partial.exists():
        why = None
        if (st is None or differences(st.get("config"), key.config, key.defaults) != []
                or st.get("weights_sha256") != key.weights_sha256):
            why = "of unknown settings"
        elif st.get("device") != key.device:
            why = f"computed on {st.get('device')}, this run is on {key.device}"
        elif list(st.get("metrics", [])) != list(key.metrics):
            why = f"with metrics {', '.join(st.get('metrics', []))}, this run has {', '.join(key.metrics)}"
        elif (st.get("chunk"), st.get("n_chunks")) != (key.chunk, key.n_chunks):
            why = "with another chunking"
        if why is None:
            done = [c for c in range(key.n_chunks) if (partial / _chunk_name(c)).is_file()]
            if done:
                log(f"resuming: {len(done)} of {key.n_chunks} chunks done ({partial})")
        else:
            n = len(list(partial.glob("chunk_*.safetensors")))
            if n:
                log(f"starting over: the {n} finished chunks in {partial} were {why}")
            shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    atomic_write_text(partial / STAMP_NAME, json.dumps(key.to_dict(), sort_keys=True, indent=1))
    return partial, done


def chunk_path(partial: Path, c: int) -> Path:
    """The file of chunk ``c`` in ``partial/``."""
    return partial / _chunk_name(c)


def describe_removed(names: Iterable[str]) -> str:
    """``"results.json, results.csv, 4 plots and partial/"``: what :func:`clear` removed, in a few words."""
    names = list(names)
    plots = [n for n in names if n not in OUTPUT_FILES and n != PARTIAL_DIR and not n.startswith(".")]
    parts = [n for n in OUTPUT_FILES if n in names]
    if plots:
        parts.append(f"{len(plots)} plot{'s' if len(plots) != 1 else ''}")
    if PARTIAL_DIR in names:
        parts.append("partial/")
    return ", ".join(parts) or "temporary files"
