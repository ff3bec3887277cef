"""File layout of the pipeline and the checked loaders that every later stage uses.

Relative to the repository root::

    data/processed/<dataset>.parquet  + .json   normalised table + provenance   (download)
    data/activations/<dataset>.npy    + .json   [n, layers, hidden] float16      (extract)
    data/importance/<dataset>.npz     + .json   q, m, ranking per seed           (importance)
    reports/tables/, reports/figures/, reports/metrics.json                     (transfer, fingerprint)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import data as D
from .errors import ConfigError, TSNSError
from .extract import layer_shape, load_activations
from .io import file_sha256

PROCESSED = Path("data/processed")
ACTIVATIONS = Path("data/activations")
IMPORTANCE = Path("data/importance")
PARTIAL = Path("data/interim/partial")
TABLES = Path("reports/tables")
FIGURES = Path("reports/figures")
METRICS = Path("reports/metrics.json")


def known(dataset: str) -> None:
    """Raise ConfigError for a dataset name the registry does not know."""
    if dataset not in D.REGISTRY:
        raise ConfigError(f"unknown dataset {dataset!r}: use one of {', '.join(sorted(D.REGISTRY))}")


def table_sha256(dataset: str, root: Path = Path(".")) -> str:
    """Checksum of a processed table, from its provenance sidecar."""
    side = root / PROCESSED / f"{dataset}.json"
    if not side.exists():
        raise TSNSError(f"dataset {dataset!r} has not been downloaded ({side} missing): run `dvc repro download@{dataset}`")
    return _sidecar(side, f"dvc repro download@{dataset}")["table_sha256"]


def _sidecar(path: Path, fix: str, required: tuple = ("table_sha256",)) -> dict:
    """A JSON sidecar, or a one-line TSNSError naming the stage to re-run."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TSNSError(f"{path} is not a readable JSON sidecar ({type(exc).__name__}): re-run `{fix}`") from None
    missing = [k for k in required if k not in meta]
    if missing:
        raise TSNSError(f"{path} lacks {', '.join(missing)}: re-run `{fix}`")
    return meta


@dataclass
class Activations:
    """A dataset's flattened activations with labels and provenance."""

    name: str
    X: np.ndarray  # (n, N) float32
    y: np.ndarray  # (n,)
    sha256: str  # table checksum
    layer_shape: tuple[int, int]
    meta: dict


def load_dataset_activations(dataset: str, *, expect: dict | None = None, root: Path = Path(".")) -> Activations:
    """Activations of a dataset, checked against its table and (optionally) current params."""
    table = root / PROCESSED / f"{dataset}.parquet"
    df = D.read_table(table)
    sha = table_sha256(dataset, root)
    X, meta = load_activations(root / ACTIVATIONS / f"{dataset}.npy", expect=expect)
    if meta.get("dataset_sha256") != sha:
        raise TSNSError(f"activations of {dataset!r} were extracted from other data than {table}: "
                        f"re-run `dvc repro extract@{dataset}`")
    if len(X) != len(df):
        raise TSNSError(f"activations of {dataset!r} have {len(X)} rows, its table {len(df)}: re-run `dvc repro`")
    ls = layer_shape(meta)
    return Activations(dataset, np.asarray(X, dtype=np.float32).reshape(len(X), -1), df["label"].to_numpy(),
                       sha, ls, meta)



def load_importance(dataset: str, root: Path = Path(".")) -> tuple[dict, dict]:
    """Arrays and sidecar of a dataset's importance, checksum-verified."""
    path = root / IMPORTANCE / f"{dataset}.npz"
    side = path.with_suffix(".json")
    if not path.exists() or not side.exists():
        raise TSNSError(f"importance of {dataset!r} is missing ({path}): run `dvc repro importance@{dataset}`")
    meta = _sidecar(side, f"dvc repro importance@{dataset}", ("npz_sha256", "fit_on", "layer_shape", "N"))
    if file_sha256(path) != meta.get("npz_sha256"):
        raise TSNSError(f"{path} does not match its sidecar checksum: re-run `dvc repro importance@{dataset}`")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, meta


