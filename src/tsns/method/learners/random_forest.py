"""The paper's learner of q: a random forest's impurity importances (scikit-learn)."""
from __future__ import annotations

import numpy as np

from .base import register


def forest_q(cls, X, y, params, random_state: int) -> np.ndarray:
    """Impurity importances of a scikit-learn forest class fitted on (X, y); they sum to 1 (0 for stumps)."""
    est = cls(n_estimators=params.n_estimators, max_depth=params.max_depth, max_features=params.max_features,
              min_samples_leaf=params.min_samples_leaf, random_state=random_state, n_jobs=1)
    est.fit(X, y)
    return est.feature_importances_.astype(np.float64)


@register("random_forest")
def random_forest(X, y, *, params, random_state: int) -> np.ndarray:
    """Random forest (Breiman 2001), the paper's learner: impurity importances (sum 1; 0 for stumps)."""
    from sklearn.ensemble import RandomForestClassifier

    return forest_q(RandomForestClassifier, X, y, params, random_state)
