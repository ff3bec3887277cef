"""Stage ``download``: fetch one dataset from the first source that has it, normalise, save."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from . import data as D
from .layout import PROCESSED, known

log = logging.getLogger(__name__)


def run(dataset: str, *, mirror: str | None, limit: int | None = None, seed: int = 0,
             allow_download: bool = True, root: Path = Path(".")) -> tuple[pd.DataFrame, dict]:
    """Stage ``download``: fetch one dataset, normalise it, write parquet + provenance JSON."""
    known(dataset)
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


