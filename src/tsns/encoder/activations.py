"""The activation file format: ``<name>.npy`` (float16, shape ``(n, n_layers, hidden)``) beside a
JSON sidecar that says how it was made, and the checked loader every later stage uses.

No torch here: reading activations never loads the encoder.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ActivationFileError
from ..io import file_sha256

__all__ = ["SIDECAR_VERSION", "Sidecar", "ids_sha256", "load_activations", "layer_shape", "layer_labels"]

SIDECAR_VERSION = 1


@dataclass
class Sidecar:
    """What an activation file holds and how it was made (``<name>.json`` beside ``<name>.npy``)."""

    dataset: str
    dataset_sha256: str
    shape: list
    dtype: str
    layers: list
    config: dict
    model_info: dict
    precision_used: str
    device_used: str
    array_sha256: str
    ids_sha256: str
    versions: dict = field(default_factory=dict)
    seconds: float = 0.0  # of the run that returned it; not written to the file
    format_version: int = SIDECAR_VERSION


def ids_sha256(ids: Sequence[str]) -> str:
    """sha256 of the row ids in order (the sidecar ties an array to its table's rows)."""
    return hashlib.sha256("\n".join(map(str, ids)).encode()).hexdigest()


def load_activations(path: str | Path, *, expect: dict | None = None, verify: bool = True, mmap: bool = True,
                     fix: str | None = None):
    """Open an activation file and check it against its sidecar.

    Parameters
    ----------
    path : path to ``<name>.npy``
    expect : dict, optional
        Keys of the sidecar's ``config`` (model, pooling, max_length, truncation...)
        and/or ``dataset_sha256`` that must match, e.g. the current params.
    verify : bool
        Recompute the array checksum (detects corruption and foreign files).
    fix : str, optional
        The command that rebuilds the file, named in every error.

    Returns
    -------
    X : numpy.ndarray (memory-mapped), shape (n, n_layers, hidden), float16
    sidecar : dict
    """
    path = Path(path)
    side = path.with_suffix(".json")
    missing_fix = f"run `{fix}`" if fix else "run the extract stage (`dvc repro`)"
    fix = f"re-run `{fix}`" if fix else f"delete {path} and re-run `dvc repro` (stage extract)"
    if not path.exists() or not side.exists():
        raise ActivationFileError(f"activation file {path} or its sidecar is missing: {missing_fix}")
    try:
        meta = json.loads(side.read_text())
    except ValueError as exc:
        raise ActivationFileError(f"sidecar {side} is not valid JSON: {fix}") from exc
    try:
        X = np.load(path, mmap_mode="r" if mmap else None)
    except (ValueError, OSError, EOFError) as exc:
        raise ActivationFileError(f"activation file {path} is truncated or corrupt ({exc}): {fix}") from exc
    if list(X.shape) != list(meta.get("shape", [])):
        raise ActivationFileError(f"activation file {path} has shape {list(X.shape)} but its sidecar says {meta.get('shape')}: {fix}")
    if verify and file_sha256(path) != meta.get("array_sha256"):
        raise ActivationFileError(f"activation file {path} does not match the checksum in its sidecar: {fix}")
    for k, v in (expect or {}).items():
        have = meta.get(k, meta.get("config", {}).get(k))
        if have != v:
            raise ActivationFileError(
                f"activation file {path} was made with {k}={have!r} but the current params say {v!r}: {fix}")
    return X, meta


def layer_labels(meta: dict) -> list[str]:
    """Short names of the stored layers: ``emb`` for the embedding output, ``1``, ``2``, ... for the blocks."""
    layers = meta.get("layers") or ["embeddings"] + [f"layer_{i}" for i in range(1, int(meta["shape"][1]))]
    return ["emb" if name == "embeddings" else name.removeprefix("layer_") for name in layers]


def layer_shape(meta: dict) -> tuple[int, int]:
    """(n_layers, hidden) of an activation file, from its sidecar."""
    return int(meta["shape"][1]), int(meta["shape"][2])
