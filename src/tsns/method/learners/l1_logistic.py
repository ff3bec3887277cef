"""|weights| of an L1 logistic probe on standardised neurons (NeuroX's linear ranking)."""
from __future__ import annotations

import numpy as np

from .base import normalise, register


@register("l1_logistic")
def l1_logistic(X, y, *, params, random_state: int) -> np.ndarray:
    """Sum over classes of |weights| of an L1 logistic regression (``C = params.l1_C``), normalised."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    Xs = StandardScaler().fit_transform(X)
    lr = LogisticRegression(C=params.l1_C, l1_ratio=1.0, solver="liblinear", max_iter=1000, random_state=random_state)
    lr.fit(Xs, y)
    return normalise(np.abs(lr.coef_).sum(axis=0))
