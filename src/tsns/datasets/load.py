"""Datasets of Valipour et al. (2019), Table 1: registry, parsers, sources, tables.

Every dataset of the paper is loaded from its *official* file format into one
normalised table (:data:`COLUMNS`) with a binary integer label:

=============  ===========  ======  ===============================================
name           task         pair    label = 1 / label = 0
=============  ===========  ======  ===============================================
books          sentiment    no      positive.review (4-5 stars) / negative (1-2)
dvd            sentiment    no      idem
electronics    sentiment    no      idem
kitchen        sentiment    no      idem (folder ``kitchen_&_housewares``)
imdb           sentiment    no      ``pos`` (rating >= 7) / ``neg`` (rating <= 4)
sst2           sentiment    no      ``1`` positive / ``0`` negative
rte            nli          yes     ``entailment`` / ``not_entailment``
mrpc           paraphrase   yes     ``1`` paraphrase / ``0`` not a paraphrase
scitail        nli          yes     ``entails`` / ``neutral``
snli           nli          yes     ``entailment`` / ``neutral``; contradiction and
                                    ``-`` (no gold label) pairs removed
mnli           nli          yes     ``entailment`` / ``neutral``; contradiction removed
qqp            paraphrase   yes     ``1`` duplicate / ``0`` not duplicate
=============  ===========  ======  ===============================================

Sources are tried in this order (:func:`load`):

1. a user mirror folder laid out like ``../shared/datasets`` (``mirror=``), every file
   checked against its known sha256 (mismatch: :class:`~tsns.errors.ChecksumError`);
2. data embedded in the repository under ``data/embedded/`` (:mod:`tsns.datasets.embedded`): the
   official files of the Amazon domains, SST-2, RTE, MRPC, the SNLI dev and SciTail test splits, checked
   member by member like mirror files, and the IMDB reviews that the documented ``limit``/``seed`` settings
   keep (the same rows as from the full release; another setting falls through to the next source);
3. the official download URL, cached under ``cache_dir`` and checked against the
   archive checksum published by TensorFlow Datasets / Hugging Face datasets.

If none works a one-line :class:`~tsns.errors.DataUnavailableError` lists what was
tried and names the fix.

Text choices: Amazon ``text_a`` is the ``<review_text>`` field only (HTML entities
decoded, whitespace collapsed; the title is not prepended); IMDB ``<br />`` becomes a
space; GLUE / SciTail / SNLI texts are only stripped.  Bytes that are not valid UTF-8
are read as latin-1 (never an error).  A row whose text (or one text of a pair) is empty
after cleaning is dropped and counted in the provenance as ``dropped["empty_text"]``
(an Amazon review with an empty ``<review_text>`` falls back to its title first).
Duplicate texts present in the official releases are kept.  Per-dataset details (split choices, differences from the
paper such as SST-2's train set) are in :meth:`DatasetSpec.describe`.  Tables are saved as parquet with a JSON sidecar holding the
provenance and :func:`table_sha256`, so later stages can record which data they saw.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataUnavailableError, TSNSError
from .parsers import PARSERS, Parsed
from .registry import get_spec
from .rows import drawn
from .sources import Blob, SourceMissing, from_embedded, from_mirror, from_url
from .spec import COLUMNS, SPLITS, DatasetSpec, one_line
from .table import validate_labels

logger = logging.getLogger(__name__)


def _to_frame(spec: DatasetSpec, parsed: Parsed) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "id": pd.Series(parsed.ids, dtype=object),
            "text_a": pd.Series(parsed.text_a, dtype=object),
            "text_b": pd.Series(parsed.text_b if spec.pair else [None] * len(parsed.ids), dtype=object),
            "label": pd.Series(parsed.label, dtype="int64"),
            "split": pd.Series(parsed.split, dtype=object),
            "domain": pd.Series([spec.name] * len(parsed.ids), dtype=object),
        },
        columns=list(COLUMNS),
    )
    rank = df["split"].map({s: i for i, s in enumerate(SPLITS)})
    order = np.argsort(rank.to_numpy(), kind="stable")
    df = df.iloc[order].reset_index(drop=True)
    dup = df["id"].duplicated()
    if dup.any():
        raise TSNSError(
            one_line(
                f"dataset {spec.name!r}: {int(dup.sum())} duplicate ids (first {df['id'][dup].iloc[0]!r}); "
                "the input files are not the official release: replace them"
            )
        )
    return df


def _apply_limit(df: pd.DataFrame, limit: int, seed: int, groups: dict | None = None) -> pd.DataFrame:
    """Keep the rows that ``limit`` and ``seed`` draw per (split, label), in their order.

    ``groups`` (an embedded rows manifest's) says, per ``"<split>:<label>"``, the group's size in the full
    release and the ranks of the rows at hand: the draw is then the full release's.
    """
    keep = np.zeros(len(df), dtype=bool)
    for (split, label), idx in df.groupby(["split", "label"], sort=True).indices.items():
        if groups is None:
            keep[idx[drawn(len(idx), limit, seed, split, int(label))]] = True
            continue
        group = groups[f"{split}:{int(label)}"]
        ranks = np.asarray(group["ranks"], dtype=np.int64)
        keep[idx[np.isin(ranks, drawn(int(group["n"]), limit, seed, split, int(label)))]] = True
    return df.loc[keep].reset_index(drop=True)


def _counts(df: pd.DataFrame) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (split, label), n in df.groupby(["split", "label"], sort=False).size().items():
        out.setdefault(str(split), {})[str(int(label))] = int(n)
    return {s: dict(sorted(out[s].items())) for s in SPLITS if s in out}


# --------------------------------------------------------------------- load
def load(
    name: str,
    *,
    mirror: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] = Path("data/raw"),
    allow_download: bool = True,
    limit: int | None = None,
    seed: int = 0,
    verify: bool = True,
    max_malformed: float = 0.01,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Load one dataset of the paper as a normalised table.

    Sources are tried in order: the ``mirror`` folder, the data embedded in the
    repository, the official URL (cached in ``cache_dir``).

    Parameters
    ----------
    name : str
        Registry name (see :data:`REGISTRY`).
    mirror : path-like, optional
        Folder laid out like ``../shared/datasets`` (same relative paths).
    cache_dir : path-like, default ``data/raw``
        Folder for downloads (``<cache_dir>/<name>/<file>``); a cached download with a
        matching checksum is reused even when ``allow_download`` is false.
    allow_download : bool, default True
        Whether the official URL may be fetched.
    limit : int, optional
        Keep at most ``limit`` rows per (split, label), drawn with a seeded RNG; the
        original row order is preserved.
    seed : int, default 0
        Seed of the ``limit`` draw.
    verify : bool, default True
        Check every file against its known sha256 (tests turn this off for fixtures;
        checksums are recorded in the provenance either way).
    max_malformed : float, default 0.01
        Largest share of malformed rows (wrong column count, unparsable record) that is
        skipped with a warning; more fails, naming the file and the first bad row. A label
        outside the dataset's label set always fails.

    Returns
    -------
    df : pandas.DataFrame
        Columns :data:`COLUMNS`; ``label`` int64 in {0, 1}; rows ordered by split
        (train, dev, test), then file order.
    provenance : dict
        ``dataset``, ``source`` (``'mirror'|'embedded'|'url'``), ``origin``, ``files``
        ({relative path: sha256}), ``downloads`` ({url: sha256}), ``verified_files`` ({relative path: checked against a known checksum}), ``verified`` (all of them were),
        ``n_rows``, ``n_rows_before_limit``, ``rows_per_split_label``,
        ``skipped_rows`` (malformed), ``dropped`` ({reason: count}: labels the paper
        removes, and ``"empty_text"`` for rows whose text, or one text of a pair, is empty
        after cleaning), ``limit``, ``seed``.

    Raises
    ------
    ConfigError
        Unknown dataset name or invalid ``limit``.
    ChecksumError
        A file does not match its known checksum.
    DataUnavailableError
        No source can provide the dataset (one line listing what was tried).
    """
    spec = get_spec(name)
    if limit is not None and (not isinstance(limit, (int, np.integer)) or isinstance(limit, bool) or limit < 1):
        raise ConfigError(f"limit must be a positive integer or None, got {limit!r}: fix data.limit in params.yaml")
    attempts: list[str] = []
    blobs: dict[str, Blob] | None = None
    rows: dict | None = None  # an embedded rows manifest: the rows at hand are a subset of the release
    source = origin = ""
    downloads: dict[str, str] = {}

    if mirror is not None:
        try:
            blobs, origin = from_mirror(spec, Path(mirror), verify)
            source = "mirror"
        except SourceMissing as exc:
            attempts.append(str(exc))
    else:
        attempts.append("mirror (none given)")
    if blobs is None:
        try:
            blobs, origin, rows = from_embedded(spec, verify, limit, seed)
            source = "embedded"
        except SourceMissing as exc:
            attempts.append(str(exc))
    if blobs is None:
        try:
            blobs, origin, downloads = from_url(spec, Path(cache_dir), allow_download, verify)
            source = "url"
        except SourceMissing as exc:
            attempts.append(str(exc))
    if blobs is None:
        req = [fs.path for fs in spec.files if fs.required]
        where = str(mirror) if mirror is not None else "<mirror>"
        fix = (
            f"put the official {spec.release} files ({', '.join(req)}) under {where} "
            "(same relative paths) or set data.mirror to a folder that has them"
        )
        if spec.downloads:
            fix += ", or allow downloads (allow_download=True) on a machine with internet access"
        raise DataUnavailableError(
            one_line(f"dataset {spec.name!r} is not available: tried {'; '.join(attempts)}; fix: {fix}")
        )
    logger.info("%s: reading from %s (%s)", spec.name, source, origin)

    known = {fs.path: bool(fs.sha256) for fs in spec.files}
    parsed = PARSERS[spec.parser](spec, blobs)
    df = _to_frame(spec, parsed)
    n_before = len(df) if rows is None else sum(int(g["n"]) for g in rows["groups"].values())
    if parsed.skipped:
        seen = parsed.skipped + len(parsed.ids) + sum(parsed.dropped.values())
        if parsed.skipped > max_malformed * seen:
            raise DataUnavailableError(one_line(
                f"{spec.name}: {parsed.skipped} of {seen} rows are malformed (first: {parsed.first_bad}), more than "
                f"data.max_malformed={max_malformed:g} of them: replace the file with the official {spec.release} "
                "release (or raise data.max_malformed)"))
        logger.warning("%s: skipped %d malformed rows (first: %s)", spec.name, parsed.skipped, parsed.first_bad)
    if limit is not None:
        df = _apply_limit(df, int(limit), seed, None if rows is None else rows["groups"])
    validate_labels(df, spec.name)
    provenance: dict[str, Any] = {
        "dataset": spec.name,
        "task": spec.task,
        "pair": spec.pair,
        "source": source,
        "origin": origin,
        "files": {p: blobs[p].sha256() for p in sorted(blobs)},
        # per file: was it checked against a known checksum of the official release?
        "verified_files": {p: bool(verify and known.get(p)) for p in sorted(blobs)},
        "downloads": downloads,
        "verified": bool(verify and blobs and all(known.get(p) for p in blobs)),
        "n_rows": int(len(df)),
        "n_rows_before_limit": int(n_before),
        "rows_per_split_label": _counts(df),
        "skipped_rows": int(parsed.skipped),
        "dropped": {k: int(v) for k, v in sorted(parsed.dropped.items())},
        "limit": None if limit is None else int(limit),
        "seed": int(seed),
    }
    return df, provenance


