"""Verified loading: every stage reads the pipeline's files through these functions.

Each loader checks what it reads against the sidecar written beside it (checksums,
the data it was made from, the settings it was made with) and raises a one-line
:class:`~tsns.errors.TSNSError` that names the stage to re-run. Data of a
dataset comes back as :class:`Activations`, which builds the method's
:class:`~tsns.method.transfer.LabelledSource` (a source) or
:class:`~tsns.method.transfer.HeldOutTarget` (a target, labels private).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, TSNSError
from ..io import file_sha256, load_checked_npz
from ..method.transfer import HeldOutTarget, LabelledSource
from .paths import Store

__all__ = ["Activations", "known", "sidecar", "table", "table_sha256", "activations", "variant", "same_shape",
           "importance", "meta", "meta_nli"]


def known(dataset: str) -> None:
    """Raise ConfigError for a dataset name the registry does not know."""
    from ..datasets.registry import REGISTRY

    if dataset not in REGISTRY:
        raise ConfigError(f"unknown dataset {dataset!r}: use one of {', '.join(sorted(REGISTRY))}")


def sidecar(path: Path, fix: str, required: Sequence[str] = ()) -> dict:
    """A JSON sidecar, or a one-line TSNSError naming the command to re-run."""
    try:
        side = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise TSNSError(f"{path} is not a readable JSON sidecar ({type(exc).__name__}): re-run `{fix}`") from None
    missing = [k for k in required if k not in side]
    if missing:
        raise TSNSError(f"{path} lacks {', '.join(missing)}: re-run `{fix}`")
    return side


def table_sha256(store: Store, dataset: str) -> str:
    """Checksum of a processed table, from its provenance sidecar."""
    side = store.table(dataset).with_suffix(".json")
    if not side.exists():
        raise TSNSError(f"dataset {dataset!r} has not been downloaded ({side} missing): "
                        f"run `dvc repro download@{dataset}`")
    return sidecar(side, f"dvc repro download@{dataset}", ("table_sha256",))["table_sha256"]


def table(store: Store, dataset: str):
    """The normalised table of a dataset (pandas.DataFrame), checked against its sidecar."""
    from ..datasets.table import read_table

    known(dataset)
    return read_table(store.table(dataset))


@dataclass
class Activations:
    """A dataset's flattened activations with labels and provenance.

    Attributes
    ----------
    name : str
    X : numpy.ndarray, shape (n, N), float32
    y : numpy.ndarray, shape (n,)
    sha256 : str
        ``table_sha256`` of the dataset's table.
    layer_shape : (n_layers, hidden)
    meta : dict
        The activation file's sidecar.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    sha256: str
    layer_shape: tuple[int, int]
    meta: dict

    def source(self) -> LabelledSource:
        """This dataset as a labelled source (selection and training may use it)."""
        return LabelledSource(self.name, self.X, self.y, self.sha256)

    def target(self) -> HeldOutTarget:
        """This dataset as an unseen target (its labels only score a fitted classifier)."""
        return HeldOutTarget(self.name, self.X, self.y, self.sha256)

    def rows(self, rows: np.ndarray) -> Activations:
        """The same dataset restricted to ``rows``."""
        return Activations(self.name, self.X[rows], self.y[rows], self.sha256, self.layer_shape, self.meta)


def _activations(store: Store, path: Path, dataset: str, name: str, expect: dict | None, fix: str) -> Activations:
    from ..encoder.activations import ids_sha256, layer_shape, load_activations

    known(dataset)
    df = table(store, dataset)
    sha = table_sha256(store, dataset)
    X, side = load_activations(path, expect=expect, fix=fix)
    if side.get("dataset_sha256") != sha:
        raise TSNSError(f"activations {name!r} were extracted from other data than {store.table(dataset)}: "
                        f"re-run `{fix}`")
    if len(X) != len(df):
        raise TSNSError(f"activations {name!r} have {len(X)} rows, the table of {dataset!r} {len(df)}: re-run `{fix}`")
    if side.get("ids_sha256") and side["ids_sha256"] != ids_sha256(df["id"].tolist()):
        raise TSNSError(f"activations {name!r} are not in the order of the table of {dataset!r}: re-run `{fix}`")
    return Activations(name, np.asarray(X, dtype=np.float32).reshape(len(X), -1), df["label"].to_numpy(), sha,
                       layer_shape(side), side)


def activations(store: Store, dataset: str, *, expect: dict | None = None, split: str | None = None,
                pooling: str | None = None) -> Activations:
    """A dataset's activations, checked against its table and (``expect``) the current settings.

    ``split`` keeps the rows of one split (a target's ``test``); None keeps every row. ``pooling`` names
    another pooling than the main one (``extract.also_poolings``).
    """
    acts = _activations(store, store.activations(dataset, pooling), dataset, dataset, expect,
                        f"dvc repro extract@{dataset}")
    if split is None:
        return acts
    splits = table(store, dataset)["split"].to_numpy()
    rows = np.flatnonzero(splits == split)
    if not len(rows):
        have = ", ".join(sorted(set(splits)))
        raise ConfigError(f"dataset {dataset!r} has no {split!r} rows (it has: {have}): choose one of those splits")
    return acts.rows(rows)


def variant(store: Store, name: str, dataset: str, *, expect: dict | None = None) -> Activations:
    """A variant extraction (``data/variants/<name>.npy``) of ``dataset``, checked like :func:`activations`."""
    known(dataset)
    path = store.variant(name)
    fix = f"dvc repro extract_variant@{name}"
    if not path.exists() or not path.with_suffix(".json").exists():
        raise TSNSError(f"variant activations {name!r} of {dataset!r} are missing ({path}): run `{fix}`")
    return _activations(store, path, dataset, name, expect, fix)


def same_shape(acts: Iterable[Activations], what: str = "the datasets") -> tuple[int, int]:
    """The common (n_layers, hidden) of several activations; one line if they come from different encoders."""
    shapes = {a.layer_shape for a in acts}
    if len(shapes) != 1:
        raise TSNSError(f"{what} were extracted with different models (layer shapes {sorted(shapes)}): "
                        "re-run `dvc repro`")
    return shapes.pop()


def importance(store: Store, dataset: str, *, acts: Activations | None = None,
               seeds: Sequence[int] | None = None) -> tuple[dict, dict]:
    """Arrays and sidecar of a dataset's SingleTSNS importance, checksum-verified.

    With ``acts``, the importance must have been computed on those activations; with ``seeds``,
    for exactly those seeds (else a one-line error naming ``dvc repro importance@<dataset>``).
    """
    path = store.importance(dataset)
    side = path.with_suffix(".json")
    fix = f"dvc repro importance@{dataset}"
    if not path.exists() or not side.exists():
        raise TSNSError(f"importance of {dataset!r} is missing ({path}): run `{fix}`")
    info = sidecar(side, fix, ("npz_sha256", "fit_on", "layer_shape", "N"))
    if file_sha256(path) != info.get("npz_sha256"):
        raise TSNSError(f"{path} does not match its sidecar checksum: re-run `{fix}`")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    if acts is not None and info.get("activations_sha256") != acts.meta["array_sha256"]:
        raise TSNSError(f"importance of {dataset!r} was computed on other activations: re-run `{fix}`")
    if seeds is not None:
        have = [int(s) for s in arrays["seeds"]]
        if sorted(have) != sorted(int(s) for s in seeds):
            raise TSNSError(f"importance of {dataset!r} has seeds {have}, params say {list(seeds)}: re-run `{fix}`")
    return arrays, info


def meta(store: Store, scenario: str) -> tuple[dict, dict]:
    """MultiTSNS of one scenario (stage ``meta_aggregate``), checksum-verified."""
    return load_checked_npz(store.meta(scenario), f"MultiTSNS of scenario {scenario!r}",
                            f"dvc repro meta_aggregate@{scenario}")


def meta_nli(store: Store, row: str) -> tuple[dict, dict]:
    """MultiTSNS of one Table 5 row (stage ``meta_nli``), checksum-verified."""
    return load_checked_npz(store.meta_nli(row), f"MultiTSNS of Table 5 row {row!r}", f"dvc repro meta_nli@{row}")


def check_seeds(have, want, what: str, fix: str) -> list[int]:
    """The seeds of a stored result must be the params' seeds (in any order)."""
    have = [int(s) for s in have]
    if sorted(have) != sorted(int(s) for s in want):
        raise TSNSError(f"{what} has seeds {have}, params say {list(want)}: re-run `{fix}`")
    return have
