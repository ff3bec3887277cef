"""Stage ``extract``: the activations of every layer for one processed dataset (``data/activations``).

One forward pass per text gives every pooling: the main one (``extract.pooling``) in
``<dataset>.npy`` and each of ``extract.also_poolings`` in ``<dataset>.<pooling>.npy``.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ..config.extract import ExtractConfig
from ..encoder.extract import extract_activations
from ..store import write
from ..store.load import table, table_sha256
from .context import context


def run(dataset: str, *, params: dict | None = None, root: str | Path | None = None) -> dict:
    """Extract ``dataset`` with the ``extract`` settings; return the sidecar."""
    ctx = context(params, root)
    cfg = ctx.section(ExtractConfig)
    df = table(ctx.store, dataset)
    side = extract_activations(df, ctx.store.activations(dataset), cfg, dataset=dataset,
                               dataset_sha256=table_sha256(ctx.store, dataset), partial_dir=ctx.store.partial(dataset),
                               also={p: ctx.store.activations(dataset, p) for p in cfg.also_poolings})
    write.timing(ctx.store, f"extract@{dataset}", side.seconds, rows=side.shape[0])
    return asdict(side)
