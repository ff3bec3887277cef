"""What every learner of q shares: its settings, the registry of learners by name, normalisation."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from ..validation import check_fields

__all__ = ["LearnerParams", "REGISTRY", "register", "normalise"]

#: name -> learner function, filled by the learner modules on import (see :func:`register`).
REGISTRY: dict[str, Callable] = {}  # filled when tsns.method.learners is imported


def register(name: str):
    """Decorator: make ``fn`` the learner called ``name``.

    Every learner has the signature ``learner(X, y, *, params, random_state) -> q`` with ``X`` of shape
    ``(n, N)``, ``y`` of shape ``(n,)``, ``params`` a :class:`LearnerParams` and ``q`` of shape ``(N,)``,
    non-negative, summing to 1 (a forest whose trees never split returns zeros, as scikit-learn does).
    """
    def deco(fn):
        REGISTRY[name] = fn
        return fn
    return deco


@dataclass(frozen=True, kw_only=True)
class LearnerParams:
    """Settings of the learner of q (paper: a random forest of 1000 trees, depth 200).

    ``n_estimators``, ``max_depth``, ``max_features`` and ``min_samples_leaf`` apply to
    the tree learners (``xgboost_rf``: ``max_depth=None`` means 8, ``max_features`` sets
    the per-split column share); ``l1_C`` is the inverse L1 strength of ``l1_logistic``.
    The importance section of ``params.yaml`` carries the same names
    (:class:`tsns.config.importance.ImportanceConfig` is a ``LearnerParams``).
    """

    method: str = "random_forest"
    n_estimators: int = 100
    max_depth: int | None = None
    max_features: str | float | int | None = "sqrt"
    min_samples_leaf: int = 1
    l1_C: float = 0.1

    def __post_init__(self):
        check_fields(self, [f.name for f in fields(LearnerParams)], prefix="importance.")

    def learner_params(self) -> LearnerParams:
        """The learner settings alone (drops the fields a subclass adds)."""
        return LearnerParams(**{f.name: getattr(self, f.name) for f in fields(LearnerParams)})

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(LearnerParams)}

    def q(self, X: np.ndarray, y: np.ndarray, random_state: int) -> np.ndarray:
        """Importance of every neuron on one sample.

        Parameters
        ----------
        X : array, shape (n, N)
        y : array, shape (n,)
        random_state : int

        Returns
        -------
        numpy.ndarray, shape (N,), float64, non-negative, summing to 1 (0 for a forest of stumps)
        """
        return np.asarray(REGISTRY[self.method](X, y, params=self, random_state=random_state), dtype=np.float64)


def normalise(q) -> np.ndarray:
    """Scores as shares: ``q / q.sum()``, or the uniform vector when every score is 0."""
    q = np.asarray(q, dtype=np.float64)
    total = q.sum()
    return q / total if total > 0 else np.full(len(q), 1.0 / len(q))
