"""The one writer of the stages' reports: long and wide CSV tables, markdown, metrics JSON.

Every file is written to a temporary name beside it and renamed into place
(:mod:`tsns.io`), so a killed stage never leaves a half-written report.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..io import atomic_path, atomic_write_json, atomic_write_text

__all__ = ["csv", "table", "metrics", "timing"]


def csv(path: Path, df: pd.DataFrame, *, float_format: str | None = None, **kw) -> Path:
    """A DataFrame as CSV (no index unless ``index=True``)."""
    kw.setdefault("index", False)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, float_format=float_format, **kw)
    return Path(path)


def table(folder: Path, name: str, *, long: pd.DataFrame | None = None, wide: pd.DataFrame | None = None,
          markdown: str | None = None) -> None:
    """A result table: ``<name>_long.csv`` (every run, 4 decimals), ``<name>.csv`` (the wide table) and
    ``<name>.md`` (rendered beside the paper's numbers); each only when given."""
    if long is not None:
        csv(folder / f"{name}_long.csv", long, float_format="%.4f")
    if wide is not None:
        csv(folder / f"{name}.csv", wide)
    if markdown is not None:
        atomic_write_text(folder / f"{name}.md", markdown)


def metrics(path: Path, values: dict) -> dict:
    """A metrics JSON file (``dvc metrics show`` reads it); an undefined number (NaN) is written as null."""
    values = _finite(values)
    atomic_write_json(path, values)
    return values


def _finite(v):
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def timing(store, what: str, seconds: float, **info) -> None:
    """Append how long ``what`` took to ``store.timings`` (one JSON line; outside every DVC output, so a re-run
    that computes the same result leaves every output, and ``dvc.lock``, unchanged)."""
    import json
    import os
    import time

    path = store.timings
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"what": what, "seconds": round(float(seconds), 2), "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                       **info}, sort_keys=True, default=str)
    with open(path, "a", encoding="utf-8") as fh:  # one short write per line: concurrent writers do not mix lines
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())
