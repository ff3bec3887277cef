"""Atomic file writes and checksums shared by every stage.

Every output is written to a temporary file in the destination folder and moved
into place with :func:`os.replace`, so a killed stage never leaves a partial file
under the final name.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


#: Mode of every output file: readable by all, writable by its owner (mkstemp alone would give 0600).
FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` (mode 0644) on success.

    On an exception the temporary file is removed and ``path`` is untouched. The temporary name carries
    the writer's process id (``.<name>.<pid>.<random><suffix>.tmp``), so two writers of the same path never
    remove each other's file: only the temporaries of processes that no longer run are cleaned up.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=(suffix or path.suffix) + ".tmp",
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's live process
        return True
    return True


def remove_stale_temps(path: str | os.PathLike) -> None:
    """Delete temporary files that a killed writer of ``path`` left beside it (``.<name>.<pid>.*.tmp``).

    A temporary file whose writer is still running (its pid is alive, and it is not this process) is left alone.
    """
    path = Path(path)
    me = os.getpid()
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid_part = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if not pid_part.isdigit():  # another file's temporary (e.g. of `<name>.json` beside `<name>`)
            continue
        if int(pid_part) != me and _pid_alive(int(pid_part)):
            continue
        try:
            tmp.unlink()
        except OSError:  # pragma: no cover - removed concurrently
            pass


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def atomic_save_npy(path: str | os.PathLike, arr: np.ndarray) -> str:
    """Save an array as ``.npy`` atomically; return the file's sha256."""
    with atomic_path(path, suffix=".npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(arr))
            fh.flush()
            os.fsync(fh.fileno())
        digest = file_sha256(tmp)
    return digest


def atomic_savez(path: str | os.PathLike, **arrays) -> str:
    """Save several arrays as a compressed ``.npz`` atomically; return the file's sha256.

    Unlike :func:`numpy.savez_compressed`, the zip entries carry a fixed
    timestamp, so the same arrays always give the same bytes (and DVC sees an
    unchanged output when a stage re-runs with the same result).
    """
    import io as _io
    import zipfile

    with atomic_path(path, suffix=".npz") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(arrays):
                buf = _io.BytesIO()
                np.lib.format.write_array(buf, np.asanyarray(arrays[name]), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, buf.getvalue())
        digest = file_sha256(tmp)
    return digest


def checksum_path(path: str | os.PathLike) -> Path:
    """Where the checksum of a cache file lives: ``<name>.sha256`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def record_checksum(path: str | os.PathLike, sha256: str) -> None:
    """Write ``sha256`` (of ``path``'s bytes, as the atomic savers return it) beside ``path``, after ``path``."""
    atomic_write_text(checksum_path(path), sha256 + "\n")


def verified(path: str | os.PathLike) -> bool:
    """True when ``path`` and its recorded checksum exist and agree. A cache file that fails is recomputed by
    its reader (with a warning), never read: a flipped byte cannot come back as a silently wrong value."""
    import logging

    path, side = Path(path), checksum_path(path)
    if not path.exists():
        return False
    if not side.exists():
        logging.getLogger(__name__).warning("cache file %s has no checksum: recomputing it", path)
        return False
    if file_sha256(path) != side.read_text().strip():
        logging.getLogger(__name__).warning("cache file %s does not match its checksum: recomputing it", path)
        return False
    return True


def load_checked_npz(path: str | os.PathLike, what: str, fix: str) -> tuple[dict, dict]:
    """Arrays of ``path`` (.npz) and its JSON sidecar, after checking the sidecar's ``npz_sha256``.

    ``what`` names the output in the error, ``fix`` is the command that rebuilds it.
    """
    from .errors import TSNSError

    path = Path(path)
    side = path.with_suffix(".json")
    if not path.exists() or not side.exists():
        raise TSNSError(f"{what} is missing ({path}): run `{fix}`")
    meta = json.loads(side.read_text())
    if file_sha256(path) != meta.get("npz_sha256"):
        raise TSNSError(f"{path} does not match its sidecar checksum: re-run `{fix}`")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}, meta


def versions() -> dict:
    """Versions of Python and the libraries that shape the numbers (recorded in every sidecar).

    Read from the installed packages' metadata, so recording them imports none of them.
    """
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name, dist in (("torch", "torch"), ("transformers", "transformers"), ("scikit-learn", "scikit-learn"),
                       ("tsns", "tsns")):
        try:
            out[name] = version(dist)
        except PackageNotFoundError:
            out[name] = None
    return out


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
