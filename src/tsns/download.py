"""Stage ``download``: fetch one dataset from the first source that has it, normalise, save."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Mapping

import pandas as pd

from . import data as D
from .layout import PROCESSED, known

log = logging.getLogger(__name__)


def effective_limit(dataset: str, limit: int | None, caps: Mapping[str, int | None] | None) -> int | None:
    """Rows kept per (split, label): the smaller of ``data.limit`` and the dataset's ``data.caps`` entry."""
    cap = (caps or {}).get(dataset)
    given = [v for v in (limit, cap) if v is not None]
    return min(given) if given else None


def run(dataset: str, *, mirror: str | None, limit: int | None = None, caps: Mapping[str, int | None] | None = None,
        seed: int = 0, allow_download: bool = True, root: Path = Path(".")) -> tuple[pd.DataFrame, dict]:
    """Stage ``download``: fetch one dataset, normalise it, write parquet + provenance JSON.

    ``limit`` (every dataset) and ``caps[dataset]`` (large datasets) bound the
    rows kept per (split, label); the smaller one applies.
    """
    known(dataset)
    limit = effective_limit(dataset, limit, caps)
    mirror_path = Path(mirror) if mirror else None
    if mirror_path is not None and not mirror_path.is_absolute():
        mirror_path = (root / mirror_path)
    if mirror_path is not None and not mirror_path.exists():
        log.info("mirror %s does not exist; trying the other sources", mirror_path)
        mirror_path = None
    df, prov = D.load(dataset, mirror=mirror_path, cache_dir=root / "data/raw", allow_download=allow_download,
                      limit=limit, seed=seed)
    D.validate_labels(df, dataset)
    out = root / PROCESSED / f"{dataset}.parquet"
    D.save_table(df, out, prov)
    return df, json.loads(out.with_suffix(".json").read_text())


