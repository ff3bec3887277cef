"""Water-filling: split a total sample budget L between source datasets (paper 4.4, Table 5).

For a fair comparison between combinations of sources, the paper limits the
total number of source examples to L and "allocates the limitation between
sources" with the water-filling algorithm (Proakis). Every source gets an equal
share of L; a source smaller than its share gives all of its examples and its
unused remainder is shared among the others, until the budget or the data runs
out.

Integer rule (deterministic)
----------------------------
1. Visit the sources from smallest to largest (ties by name). While the
   smallest remaining source fits in an equal share of what is left
   (``size * n_left <= budget_left``), it gets all of its examples.
2. Every source still left is larger than its share: each gets
   ``base = budget_left // n_left`` and the ``budget_left % n_left`` leftover
   units go, one each, to the sources with the most remaining room
   (``size - base``, i.e. the largest sources), ties by name (alphabetical).

So the allocations sum to ``min(L, sum(sizes))``, none exceeds its source, and
each allocation is non-decreasing in L.
"""
from __future__ import annotations

import hashlib
from numbers import Integral
from collections.abc import Mapping

import numpy as np

from ..errors import ConfigError

__all__ = ["draw_allocation", "subsample", "waterfill"]


def _check_int(value, name: str, minimum: int) -> int:
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def waterfill(sizes: Mapping[str, int], L: int) -> dict[str, int]:
    """Split a budget of L examples between sources with equal shares (water-filling).

    Parameters
    ----------
    sizes : mapping str -> int
        Number of examples of every source (>= 0).
    L : int
        Total budget (>= 1).

    Returns
    -------
    dict str -> int
        Examples to draw from every source, in the order of ``sizes``.
        ``sum == min(L, sum(sizes))`` and ``0 <= allocation[s] <= sizes[s]``.
        Leftover units of an uneven split go to the sources with the most
        remaining room, ties by name (see the module docstring).

    Examples
    --------
    >>> waterfill({"a": 100, "b": 1000, "c": 1000}, 900)
    {'a': 100, 'b': 400, 'c': 400}
    """
    if not isinstance(sizes, Mapping):
        raise ConfigError(f"sizes must be a mapping name -> number of examples, got {type(sizes).__name__}")
    if len(sizes) == 0:
        raise ConfigError("water-filling needs at least one source: pass a non-empty mapping name -> size")
    for name, n in sizes.items():
        if not isinstance(name, str):
            raise ConfigError(f"source name {name!r} must be a string")
        _check_int(n, f"size of source {name!r}", 0)
    L = _check_int(L, "L (sample budget)", 1)

    budget = min(L, sum(int(n) for n in sizes.values()))
    left = sorted(sizes, key=lambda s: (int(sizes[s]), s))  # smallest first, ties by name
    alloc: dict[str, int] = {}
    while left and int(sizes[left[0]]) * len(left) <= budget:
        s = left.pop(0)
        alloc[s] = int(sizes[s])
        budget -= alloc[s]
    if left:
        base, extra = divmod(budget, len(left))
        # every s in `left` has size > budget / len(left) >= base, so size >= base + 1
        by_room = sorted(left, key=lambda s: (-(int(sizes[s]) - base), s))
        for i, s in enumerate(by_room):
            alloc[s] = base + (1 if i < extra else 0)
    return {s: alloc[s] for s in sizes}


def subsample(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """k distinct indices of ``range(n)``, drawn uniformly without replacement.

    Parameters
    ----------
    n : int
        Number of examples.
    k : int
        Number to draw, ``0 <= k <= n``.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray of int64, shape (k,), sorted
        ``k == n`` gives ``arange(n)``.
    """
    n = _check_int(n, "n", 0)
    k = _check_int(k, "k", 0)
    if k > n:
        raise ConfigError(f"cannot draw k={k} of n={n} examples without replacement: choose k <= n")
    return np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)


def name_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "little")


def draw_allocation(sizes: Mapping[str, int], L: int | None, random_state: int,
                    purpose: str = "rows") -> dict[str, np.ndarray]:
    """Water-fill L across the sources and draw that many rows of each.

    The rows of a source depend only on ``(random_state, purpose, name, its
    allocation, its size)``, not on the other sources nor their order.

    Parameters
    ----------
    sizes : mapping str -> int
    L : int or None
        Budget; None keeps every row of every source.
    random_state : int
    purpose : str
        Salt, so that independent draws of the same source differ.

    Returns
    -------
    dict str -> numpy.ndarray of int64, shape (allocation[name],), sorted
    """
    if L is None:
        return {s: np.arange(_check_int(n, f"size of source {s!r}", 0), dtype=np.int64) for s, n in sizes.items()}
    alloc = waterfill(sizes, L)
    out = {}
    for s, k in alloc.items():
        seed = np.random.SeedSequence(int(random_state), spawn_key=(name_key(purpose), name_key(s)))
        out[s] = subsample(int(sizes[s]), k, np.random.default_rng(seed))
    return out
