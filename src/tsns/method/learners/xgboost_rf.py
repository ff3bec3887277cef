"""XGBoost in random-forest mode (gain importance); on CUDA when XGBoost sees a GPU. Needs ``xgboost``."""
from __future__ import annotations

from numbers import Integral

import numpy as np

from ...errors import ConfigError
from .base import normalise, register


def max_features_share(max_features, N: int) -> float:
    """scikit-learn's ``max_features`` as a share of the N columns."""
    if max_features in (None, 1.0):
        return 1.0
    if max_features == "sqrt":
        return max(1, int(np.sqrt(N))) / N
    if max_features == "log2":
        return max(1, int(np.log2(N))) / N
    if isinstance(max_features, Integral):
        return min(N, int(max_features)) / N
    return float(max_features)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@register("xgboost_rf")
def xgboost_rf(X, y, *, params, random_state: int) -> np.ndarray:
    """Gain importances of ``xgboost.XGBRFClassifier``, normalised to sum 1."""
    try:
        import xgboost
    except ImportError as exc:
        raise ConfigError("importance.method=xgboost_rf needs XGBoost: pip install xgboost-cpu "
                          "(or xgboost on a CUDA machine)") from exc
    _, y_codes = np.unique(y, return_inverse=True)
    device = "cuda" if xgboost.build_info().get("USE_CUDA") and _cuda_available() else "cpu"
    est = xgboost.XGBRFClassifier(n_estimators=params.n_estimators, max_depth=params.max_depth or 8,
                                  colsample_bynode=max_features_share(params.max_features, X.shape[1]),
                                  subsample=0.632, tree_method="hist", device=device, n_jobs=1,
                                  importance_type="gain", random_state=random_state)
    est.fit(X, y_codes)
    return normalise(est.feature_importances_)
