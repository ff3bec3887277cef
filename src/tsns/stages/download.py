"""Stage ``download``: fetch one dataset from the first source that has it, normalise, save.

Sources, in order: the mirror folder ``data.mirror`` (skipped when absent), the data
embedded in the repository, the official URL (``data.allow_download``). Writes
``data/processed/<dataset>.parquet`` and its provenance sidecar.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from ..config.data import DataConfig
from ..datasets.load import load
from ..datasets.table import save_table, validate_labels
from ..store.load import known
from .context import context

log = logging.getLogger(__name__)


def run(dataset: str, *, params: dict | None = None, root: str | Path | None = None) -> tuple[pd.DataFrame, dict]:
    """Fetch, normalise and save ``dataset``; return the table and its provenance."""
    ctx = context(params, root)
    cfg = ctx.section(DataConfig)
    known(dataset)
    mirror = Path(cfg.mirror) if cfg.mirror else None
    if mirror is not None and not mirror.is_absolute():
        mirror = ctx.store.root / mirror
    if mirror is not None and not mirror.exists():
        log.info("mirror %s does not exist; trying the other sources", mirror)
        mirror = None
    df, prov = load(dataset, mirror=mirror, cache_dir=ctx.store.raw, allow_download=cfg.allow_download,
                    limit=cfg.limit_of(dataset), seed=cfg.seed, max_malformed=cfg.max_malformed)
    validate_labels(df, dataset)
    out = ctx.store.table(dataset)
    save_table(df, out, prov)
    return df, json.loads(out.with_suffix(".json").read_text())
