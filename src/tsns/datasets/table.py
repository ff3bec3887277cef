"""The normalised table: its columns and checks, its checksum, and saving / reading it (parquet + sidecar).

Every dataset becomes one table with the columns :data:`~tsns.datasets.spec.COLUMNS`
and a binary integer label; it is saved as parquet with a JSON sidecar holding the
provenance and :func:`table_sha256`, so later stages can record which data they saw.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ChecksumError, DataUnavailableError, TSNSError
from ..io import atomic_path
from .spec import COLUMNS, SPLITS, one_line

logger = logging.getLogger(__name__)


def validate_labels(df: pd.DataFrame, name: str) -> None:
    """Check that a table has rows of both classes.

    Parameters
    ----------
    df : pandas.DataFrame
        Table with a ``label`` column.
    name : str
        Dataset name, used in the message.

    Raises
    ------
    DataUnavailableError
        If the table is empty.
    TSNSError
        If it holds a single class.
    """
    if len(df) == 0:
        raise DataUnavailableError(
            f"dataset {name!r} has no rows: check the source files (or data.limit / split filters) "
            "and re-run `dvc repro download`"
        )
    classes = sorted(int(x) for x in pd.unique(df["label"]))
    if len(classes) < 2:
        raise TSNSError(
            f"dataset {name!r} has a single class ({classes[0]}) in {len(df)} rows: a binary task needs "
            "both labels; check the source files, the label mapping and data.limit / split filters"
        )


# ----------------------------------------------------------------- tables
def _schema_problem(df: pd.DataFrame) -> str | None:
    cols = list(df.columns)
    missing = [c for c in COLUMNS if c not in cols]
    if missing:
        return f"missing column(s) {', '.join(missing)}"
    extra = [c for c in cols if c not in COLUMNS]
    if extra:
        return f"unexpected column(s) {', '.join(map(str, extra))}"
    if len(df) == 0:
        return "the table is empty"
    lab = df["label"]
    if lab.isna().any():
        return "missing labels"
    try:
        values = set(int(v) for v in pd.unique(lab))
        if not all(float(v) == int(v) for v in pd.unique(lab)):
            raise ValueError
    except (TypeError, ValueError):
        return f"non-integer labels {sorted(map(str, pd.unique(lab)))[:5]}"
    if not values <= {0, 1}:
        return f"label values {sorted(values)} outside {{0, 1}}"
    for c in ("id", "text_a", "split", "domain"):
        if df[c].isna().any():
            return f"missing values in column {c}"
    bad_splits = set(map(str, pd.unique(df["split"]))) - set(SPLITS)
    if bad_splits:
        return f"unknown split(s) {sorted(bad_splits)}"
    if df["id"].duplicated().any():
        return "duplicate ids"
    return None


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    out = df.loc[:, list(COLUMNS)].copy()
    for c in ("id", "text_a", "text_b", "split", "domain"):
        col = out[c].astype(object)
        out[c] = col.where(col.notna(), None)
    out["label"] = out["label"].astype("int64")
    return out.reset_index(drop=True)


def table_sha256(df: pd.DataFrame) -> str:
    """Return the sha256 of a canonical serialisation of a table.

    Each row becomes the compact JSON array ``[id, text_a, text_b, label, split,
    domain]`` (``text_b`` null when missing, label an integer, UTF-8, no ASCII
    escaping); rows are joined by ``\\n`` in table order.  The hash therefore depends
    on the content and row order only, not on dtypes or the parquet encoding.

    Parameters
    ----------
    df : pandas.DataFrame
        Table with the columns :data:`COLUMNS`.

    Returns
    -------
    str
        Hex sha256.
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise TSNSError(f"cannot hash table: missing column(s) {', '.join(missing)}; build it with tsns.datasets.load.load")
    h = hashlib.sha256()
    cols = [df[c].tolist() for c in COLUMNS]
    for i, (id_, a, b, lab, split, dom) in enumerate(zip(*cols, strict=True)):
        if b is not None and not isinstance(b, str) and pd.isna(b):
            b = None
        row = [str(id_), str(a), b if b is None else str(b), int(lab), str(split), str(dom)]
        if i:
            h.update(b"\n")
        h.update(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return h.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def save_table(df: pd.DataFrame, path: str | os.PathLike[str], provenance: Mapping[str, Any]) -> None:
    """Write a table as parquet plus a JSON sidecar, atomically.

    The sidecar ``path.with_suffix('.json')`` holds ``provenance`` plus
    ``table_sha256`` and ``table_n_rows``.  Both files are written to temporary names
    in the destination folder and moved into place with :func:`os.replace`; a failure
    leaves no partial file.

    Parameters
    ----------
    df : pandas.DataFrame
        Normalised table (columns :data:`COLUMNS`).
    path : path-like
        Parquet destination; parent folders are created.
    provenance : mapping
        JSON-serialisable provenance (as returned by :func:`load`).

    Raises
    ------
    TSNSError
        If the table does not follow the schema or provenance is not serialisable.
    """
    path = Path(path)
    problem = _schema_problem(df)
    if problem:
        raise TSNSError(f"refusing to save {path}: {problem}; build the table with tsns.datasets.load.load")
    table = _canonical(df)
    meta = dict(provenance)
    meta["table_sha256"] = table_sha256(table)
    meta["table_n_rows"] = int(len(table))
    try:
        meta_text = json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise TSNSError(f"provenance for {path} is not JSON-serialisable ({exc}); pass plain dicts/str/int") from exc
    side = _sidecar(path)
    # both files reach their final names only when both were written in full
    with atomic_path(path, suffix=".parquet") as tmp_pq, atomic_path(side) as tmp_js:
        table.to_parquet(tmp_pq, index=False)
        tmp_js.write_text(meta_text, encoding="utf-8")


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a table written by :func:`save_table`, validating schema and checksum.

    Parameters
    ----------
    path : path-like
        Parquet file; its sidecar ``path.with_suffix('.json')`` must exist.

    Returns
    -------
    pandas.DataFrame
        The table, columns :data:`COLUMNS`, ``label`` int64.

    Raises
    ------
    DataUnavailableError
        If the parquet file or its sidecar is missing.
    TSNSError
        If the schema is wrong (missing/extra column, labels outside {0, 1}, empty).
    ChecksumError
        If the content does not match the sidecar's ``table_sha256``.
    """
    path = Path(path)
    side = _sidecar(path)
    if not path.is_file():
        raise DataUnavailableError(f"table {path} does not exist: run `dvc repro download` first")
    if not side.is_file():
        raise DataUnavailableError(f"table {path} has no sidecar {side.name}: re-run `dvc repro download`")
    try:
        df = pd.read_parquet(path)
        meta = json.loads(side.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - any reader failure means a corrupt file
        raise ChecksumError(
            one_line(f"cannot read {path} or its sidecar ({exc}); re-run `dvc repro download`")
        ) from exc
    problem = _schema_problem(df)
    if problem:
        raise TSNSError(f"table {path} is invalid: {problem}; re-run `dvc repro download`")
    df = _canonical(df)
    expected = meta.get("table_sha256")
    actual = table_sha256(df)
    if expected != actual:
        raise ChecksumError(
            f"table {path} does not match its sidecar (table_sha256 {expected} recorded, {actual} found): "
            "re-run `dvc repro download`"
        )
    return df
