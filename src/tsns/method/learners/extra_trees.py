"""Extremely randomised trees (Geurts et al. 2006): randomised split points, faster than the random forest."""
from __future__ import annotations

import numpy as np

from .base import register
from .random_forest import forest_q


@register("extra_trees")
def extra_trees(X, y, *, params, random_state: int) -> np.ndarray:
    """Impurity importances of an ExtraTreesClassifier (sum 1; 0 for stumps)."""
    from sklearn.ensemble import ExtraTreesClassifier

    return forest_q(ExtraTreesClassifier, X, y, params, random_state)
