"""The importance-matrix cache on disk: ``data/interim/qcache/<key>.npy`` (+ ``<key>.json``, what made the key).

Learners with the same training data (e.g. the learner trained on {dvd, electronics}
serves DEK->B and BDE->K) compute q once, across scenarios and stages.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..io import atomic_save_npy, atomic_write_json, record_checksum, verified
from ..method.qcache import QCache

log = logging.getLogger(__name__)

__all__ = ["DiskQCache"]


class DiskQCache(QCache):
    """A :class:`tsns.method.qcache.QCache` that also keeps every q in ``folder``, written atomically."""

    def __init__(self, folder: str | os.PathLike):
        super().__init__()
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"DiskQCache({str(self.folder)!r}, hits={self.hits}, misses={self.misses})"

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npy"

    def _load(self, key: str) -> np.ndarray | None:
        p = self.path(key)
        if not verified(p):
            return None
        try:
            return np.load(p, allow_pickle=False)
        except (OSError, ValueError) as exc:
            log.warning("q cache file %s is unreadable (%s): recomputing it", p, exc)
            return None

    def _save(self, key: str, q: np.ndarray, payload: dict | None) -> None:
        record_checksum(self.path(key), atomic_save_npy(self.path(key), q))
        if payload is not None:
            atomic_write_json(self.folder / f"{key}.json", payload)

    def __contains__(self, key: str) -> bool:
        return key in self._mem or verified(self.path(key))
