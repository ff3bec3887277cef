"""Where every file of the pipeline lives, relative to the repository root (one place for all of them)::

    data/processed/<dataset>.parquet   + .json   normalised table + provenance     (download)
    data/activations/<dataset>.npy     + .json   [n, layers, hidden] float16        (extract)
    data/activations/<dataset>.<pooling>.npy     the same texts, another pooling       (extract)
    data/variants/<name>.npy           + .json   another pooling or truncation      (extract_variant)
    data/importance/<dataset>.npz      + .json   q, m, ranking per seed             (importance)
    data/meta/<scenario>.npz           + .json   MultiTSNS ranking per seed         (meta_aggregate)
    data/meta_nli/<row>.npz            + .json   MultiTSNS ranking per budget, seed (meta_nli)
    data/mft/, data/mft_transfer/                checkpoints and encoders (persistent)
    data/interim/                                resumable partial work and caches (not DVC outputs)
    reports/tables/, reports/figures/, reports/metrics*.json, reports/notebooks/
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

__all__ = ["Store"]


def _plain(name: str, what: str) -> str:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"{what} name {name!r} must be a plain file name (no '/', not starting with '.')")
    return name


@dataclass(frozen=True)
class Store:
    """The files of one repository checkout (``root``)."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def at(cls, root=None) -> Store:
        """The store of ``root`` (default: the repository root, found from the working folder)."""
        if root is None:
            from ..config.base import repo_root

            root = repo_root()
        return cls(Path(root))

    # ----------------------------------------------------------------- data
    @property
    def processed(self) -> Path:
        return self.root / "data/processed"

    def table(self, dataset: str) -> Path:
        """The normalised table of a dataset (its provenance sidecar: ``.with_suffix('.json')``)."""
        return self.processed / f"{dataset}.parquet"

    @property
    def raw(self) -> Path:
        """Downloads of the official files."""
        return self.root / "data/raw"

    def activations(self, dataset: str, pooling: str | None = None) -> Path:
        """The main activations (``pooling`` None), or those of another pooling written beside them."""
        return self.root / "data/activations" / (f"{dataset}.npy" if pooling is None else f"{dataset}.{pooling}.npy")

    def variant(self, name: str) -> Path:
        return self.root / "data/variants" / f"{_plain(name, 'variant')}.npy"

    def importance(self, dataset: str) -> Path:
        return self.root / "data/importance" / f"{dataset}.npz"

    def meta(self, scenario: str) -> Path:
        return self.root / "data/meta" / f"{_plain(scenario, 'scenario')}.npz"

    def meta_nli(self, row: str) -> Path:
        return self.root / "data/meta_nli" / f"{_plain(row, 'Table 5 row')}.npz"

    @property
    def timings(self) -> Path:
        """Seconds each stage took (one JSON line per run; not a DVC output, not in git)."""
        return self.root / "logs/timings.jsonl"

    @property
    def mft(self) -> Path:
        return self.root / "data/mft"

    @property
    def mft_transfer(self) -> Path:
        return self.root / "data/mft_transfer"

    def partial(self, *parts: str) -> Path:
        """Resumable partial work (finished chunks, fits) of one output."""
        return self.root.joinpath("data/interim/partial", *parts)

    @property
    def qcache(self) -> Path:
        """Content-addressed importance matrices shared by the MultiTSNS stages."""
        return self.root / "data/interim/qcache"

    # ----------------------------------------------------------------- reports
    @property
    def tables(self) -> Path:
        return self.root / "reports/tables"

    @property
    def figures(self) -> Path:
        return self.root / "reports/figures"

    def metrics(self, name: str = "") -> Path:
        """``reports/metrics.json`` (Table 2) or ``reports/metrics_<name>.json``."""
        return self.root / "reports" / (f"metrics_{name}.json" if name else "metrics.json")
