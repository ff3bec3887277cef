"""What every stage starts from: the repository's files and its parameters, read once."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..config.base import PARAMS_FILE, load_seeds, read
from ..store.paths import Store

__all__ = ["Context", "context"]


@dataclass(frozen=True)
class Context:
    """The store of paths and the raw parameters; :meth:`section` turns one section into its typed object."""

    store: Store
    params: dict

    def section(self, cls):
        """The typed, validated section ``cls`` (e.g. ``ImportanceConfig``) of these parameters."""
        return cls.from_params(self.params)

    @property
    def seeds(self) -> list[int]:
        return load_seeds(self.params)


def context(params: dict | None = None, root: str | Path | None = None) -> Context:
    """The stage context: ``root`` (default: the repository root) and ``params`` (default: its params.yaml)."""
    store = Store.at(root)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return Context(store, read(store.root / PARAMS_FILE) if params is None else params)
