"""Stage ``extract_variant@<name>``: one dataset extracted with another pooling or truncation (``data/variants``).

The variants (``baselines.variants``) feed the blog baselines: the mean-pooled Amazon
domains and IMDB with tail and head+tail truncation.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from ..config.baselines import BaselinesConfig
from ..config.extract import ExtractConfig
from ..encoder.extract import extract_activations
from ..errors import ConfigError
from ..store import write
from ..store.load import table, table_sha256
from .context import context

log = logging.getLogger(__name__)


def run(name: str, *, params: dict | None = None, root: str | Path | None = None) -> dict:
    """Extract the variant ``name`` of ``baselines.variants``; return the sidecar."""
    ctx = context(params, root)
    variants = ctx.section(BaselinesConfig).variants
    if name not in variants:
        raise ConfigError(f"unknown variant {name!r}: use one of {', '.join(variants)} (baselines.variants)")
    spec = variants[name]
    cfg = dataclasses.replace(ctx.section(ExtractConfig), pooling=spec["pooling"], truncation=spec["truncation"])
    dataset = spec["dataset"]
    side = extract_activations(table(ctx.store, dataset), ctx.store.variant(name), cfg, dataset=dataset,
                               dataset_sha256=table_sha256(ctx.store, dataset),
                               partial_dir=ctx.store.partial("variants", name))
    log.info("variant %s of %s: shape %s in %.0f s", name, dataset, side.shape, side.seconds)
    write.timing(ctx.store, f"extract_variant@{name}", side.seconds, rows=side.shape[0])
    return dataclasses.asdict(side)
