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

    def sources(self, names, target: str, what: str, expect: dict | None = None) -> dict:
        """The labelled sources ``names`` of a multi-source stage, checked: known datasets, one encoder, and none
        with the data of ``target`` (whose checksum alone is read: its activations never are).

        Returns
        -------
        dict name -> :class:`tsns.store.load.Activations`
        """
        from ..errors import TargetLeakError
        from ..store import load

        for d in [*names, target]:
            load.known(d)
        acts = {d: load.activations(self.store, d, expect=expect) for d in names}
        load.same_shape(acts.values(), what)
        if load.table_sha256(self.store, target) in {a.sha256 for a in acts.values()}:
            raise TargetLeakError(f"{what}: the target {target!r} has the same data as a source")
        return acts


def context(params: dict | None = None, root: str | Path | None = None) -> Context:
    """The stage context: ``root`` (default: the repository root) and ``params`` (default: its params.yaml)."""
    store = Store.at(root)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return Context(store, read(store.root / PARAMS_FILE) if params is None else params)
