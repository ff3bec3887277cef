"""A content-addressed cache of importance matrices q, so learners that share training data compute q once."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import numpy as np

from ..errors import ConfigError
from .learners import LearnerParams
from .transfer import LabelledSource

__all__ = ["QCache", "as_cache", "data_fingerprint"]

_CACHE_VERSION = "tsns.meta.q/v1"


def data_fingerprint(src: LabelledSource) -> dict:
    """Cheap identity of a source's arrays: shape, dtype, labels and a few rows.

    The dataset checksum alone does not identify the activations (the same
    table under another encoder gives other X), so the key also carries this.
    """
    X = np.asarray(src.X)
    y = np.asarray(src.y)
    n = len(X)
    probe = sorted({0, n // 2, n - 1}) if n else []
    return {"shape": list(X.shape), "dtype": str(X.dtype),
            "y": hashlib.sha256(np.ascontiguousarray(y).tobytes() + str(y.dtype).encode()).hexdigest(),
            "rows": hashlib.sha256(np.ascontiguousarray(X[probe]).tobytes()).hexdigest()}


class QCache:
    """Content-addressed store of importance matrices q (shape (J, N)), in memory.

    The key is the sha256 of the training sources (sorted names with their
    checksums and a fingerprint of their arrays), the allocation of rows drawn
    from each, J, beta, the learner settings and random_state (:meth:`key`).
    Everything that changes q changes the key; alpha, eps, scaling, K and the
    tuning sources do not (they only use q). :class:`tsns.store.qcache.DiskQCache`
    keeps the same entries in a folder, so several stages share them.

    Attributes
    ----------
    hits, misses : int
        Look-ups answered from the cache, and not.
    """

    def __init__(self):
        self._mem: dict[str, np.ndarray] = {}
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(hits={self.hits}, misses={self.misses})"

    @staticmethod
    def payload(train: Mapping[str, str], allocation: Mapping[str, int] | None, *, J: int, beta: float,
                params: LearnerParams, random_state: int, data: Mapping[str, dict] | None = None) -> dict:
        """What goes into the key, as a JSON-able dict (sorted by source name)."""
        return {
            "version": _CACHE_VERSION,
            "train": [[n, str(train[n])] for n in sorted(train)],
            "allocation": None if allocation is None else [[n, int(allocation[n])] for n in sorted(allocation)],
            "J": int(J), "beta": float(beta), "params": params.as_dict(),
            "random_state": int(random_state),
            "data": None if data is None else {n: data[n] for n in sorted(data)},
        }

    @classmethod
    def key(cls, train: Mapping[str, str], allocation: Mapping[str, int] | None, *, J: int, beta: float,
            params: LearnerParams, random_state: int, data: Mapping[str, dict] | None = None) -> str:
        """sha256 key of q.

        Parameters
        ----------
        train : mapping name -> sha256
            The training sources ``D_S1^p`` and their dataset checksums.
        allocation : mapping name -> int, or None
            Rows drawn from each training source (None: every row).
        J, beta, params, random_state
            The settings of :func:`tsns.method.single.importance_matrix`.
        data : mapping name -> dict, optional
            Fingerprints of the arrays (shape, dtype, labels, probe rows).

        Returns
        -------
        str, 64 hex digits
        """
        blob = json.dumps(cls.payload(train, allocation, J=J, beta=beta, params=params, random_state=random_state,
                                      data=data), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _load(self, key: str) -> np.ndarray | None:
        """q from a backing store (none here; see DiskQCache)."""
        return None

    def _save(self, key: str, q: np.ndarray, payload: dict | None) -> None:
        """Keep q in a backing store (none here; see DiskQCache)."""

    def get(self, key: str) -> np.ndarray | None:
        """q for this key, or None (a miss)."""
        q = self._mem.get(key)
        if q is None:
            q = self._load(key)
            if q is not None:
                self._mem[key] = q
        if q is None:
            self.misses += 1
        else:
            self.hits += 1
        return q

    def put(self, key: str, q: np.ndarray, payload: dict | None = None) -> None:
        """Store q (in memory, and in the backing store)."""
        q = np.asarray(q, dtype=np.float64)
        self._mem[key] = q
        self._save(key, q, payload)


def as_cache(cache) -> QCache:
    if cache is None:
        return QCache()
    if isinstance(cache, QCache):
        return cache
    raise ConfigError(f"cache={cache!r} must be a QCache (or a tsns.store.qcache.DiskQCache) or None")


