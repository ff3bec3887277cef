"""Which rows ``data.limit`` / ``data.caps`` and ``data.seed`` keep of a dataset (one draw per split and label)."""
from __future__ import annotations

import zlib

import numpy as np


def drawn(n: int, limit: int, seed: int, split: str, label: int) -> np.ndarray:
    """Ranks (0-based, in file order, ascending) of the rows kept of one (split, label) group of ``n`` rows.

    The draw depends only on ``n``, ``limit``, ``seed`` and the group, so a copy that holds some rows of a
    release, with their ranks in it, can tell whether it holds every row a setting keeps.

    Parameters
    ----------
    n : int
        Rows of the group.
    limit : int
        At most this many are kept; all when ``n <= limit``.
    seed : int
    split : str
    label : int

    Returns
    -------
    ranks : ndarray of shape (min(n, limit),), int64
    """
    if n <= limit:
        return np.arange(n, dtype=np.int64)
    key = zlib.crc32(f"{split}:{int(label)}".encode())
    rng = np.random.default_rng([int(seed), key])
    return np.sort(rng.choice(n, size=limit, replace=False)).astype(np.int64)
