"""The ANOVA F statistic of every neuron (a univariate filter; constant neurons score 0)."""
from __future__ import annotations

import warnings

import numpy as np

from .base import normalise, register


@register("anova_f")
def anova_f(X, y, *, params, random_state: int) -> np.ndarray:
    """``sklearn.feature_selection.f_classif`` per neuron, normalised (``params`` and ``random_state`` unused)."""
    from sklearn.feature_selection import f_classif

    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # constant neurons: F is nan, scored 0 below
        q, _ = f_classif(X, y)
    return normalise(np.nan_to_num(q, nan=0.0, posinf=0.0))
