"""Learners of q: the importance of every neuron on one random sample (one file per learner).

Each learner is a function ``learner(X, y, *, params, random_state) -> q`` registered
under its name with :func:`register`; :meth:`LearnerParams.q` dispatches to it. The
paper's learner is the random forest (impurity importance); the others trade
agreement with it for speed (``benchmarks/bench_importance.py`` measures both).

Every learner returns a non-negative vector of shape ``(N,)`` that sums to 1 (a
forest whose trees never split returns zeros, as scikit-learn does).
"""
from __future__ import annotations

from . import anova_f, extra_trees, l1_logistic, random_forest, xgboost_rf  # noqa: F401  (each registers itself)
from .base import REGISTRY, LearnerParams, normalise, register

__all__ = ["LearnerParams", "REGISTRY", "register", "normalise"]
