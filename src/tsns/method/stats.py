"""Statistics of repeated runs: mean and spread over seeds, and paired comparisons of two methods.

The spread is the sample standard deviation (``ddof = 1``) over independent runs; with
one run it is undefined (NaN) and tables show no ``±``. Every ``±`` comes with its n.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["summarize", "mean_std", "paired", "jaccard_between_seeds"]


def _sd(a) -> float:
    a = np.asarray(a, dtype=float)
    return float(np.std(a, ddof=1)) if len(a) > 1 else float("nan")


def summarize(long: pd.DataFrame, keys: Sequence[str] = ("source", "target")) -> pd.DataFrame:
    """Mean and sample std over seeds for every (scenario, method, K), plus an ``Average`` scenario.

    A scenario is identified by ``keys`` (a source -> target pair in Table 2,
    ``("scenario", "target")`` in the multi-source tables). The average row's
    mean is the mean over scenarios; its std is the std over seeds of the
    per-seed average over scenarios.

    Returns
    -------
    pandas.DataFrame
        Columns ``*keys, method, K, mean, std, n_seeds``.
    """
    keys = list(keys)
    g = long.groupby([*keys, "method", "K"], sort=False)["accuracy"]
    per_pair = g.agg(mean="mean", std=_sd, n_seeds="count").reset_index()
    per_seed_avg = long.groupby(["method", "K", "seed"], sort=False)["accuracy"].mean().reset_index()
    avg = per_seed_avg.groupby(["method", "K"], sort=False)["accuracy"].agg(
        mean="mean", std=_sd, n_seeds="count").reset_index()
    for k in reversed(keys):
        avg.insert(0, k, "Average")
    return pd.concat([per_pair, avg], ignore_index=True)


def mean_std(accuracy) -> tuple[float, float]:
    """Mean and sample std (in %) of a set of accuracies (fractions); NaN, NaN when there are none."""
    a = np.asarray(accuracy, dtype=float)
    if not len(a):
        return np.nan, np.nan
    return 100 * float(a.mean()), 100 * _sd(a)


def paired(a, b, *, confidence: float = 0.95, n_resamples: int = 10_000, random_state: int = 0) -> dict:
    """Is ``a`` better than ``b``? A paired comparison over matched units (e.g. (pair, seed) results).

    Parameters
    ----------
    a, b : array of float, shape (n,)
        Accuracies of two methods on the same n units.

    Returns
    -------
    dict
        ``n``; ``mean_diff`` (mean of a - b); ``low``, ``high``: the percentile bootstrap interval of the mean
        difference (units resampled); ``p_wilcoxon``: two-sided Wilcoxon signed-rank p (NaN when every
        difference is 0 or n < 2); ``wins``, ``ties``, ``losses``: units where a is above, equal to, below b.
    """
    from scipy.stats import bootstrap, wilcoxon

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired needs two 1-D arrays of the same length, got {a.shape} and {b.shape}")
    d = a - b
    out = {"n": int(len(d)), "mean_diff": float(d.mean()) if len(d) else float("nan"),
           "wins": int((d > 0).sum()), "ties": int((d == 0).sum()), "losses": int((d < 0).sum()),
           "low": float("nan"), "high": float("nan"), "p_wilcoxon": float("nan")}
    if len(d) >= 2 and np.any(d != d[0]):
        ci = bootstrap((d,), np.mean, confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                       random_state=random_state, vectorized=True).confidence_interval
        out.update(low=float(ci.low), high=float(ci.high))
    elif len(d) >= 1:
        out.update(low=float(d[0]), high=float(d[0]))
    if len(d) >= 2 and np.any(d != 0):
        out["p_wilcoxon"] = float(wilcoxon(d, zero_method="wilcox").pvalue)
    return out


def jaccard_between_seeds(orders, K: int) -> float:
    """Mean Jaccard overlap of the top-K sets of every two runs (``orders``: one ranking per seed)."""
    from .single import jaccard

    sets = [np.asarray(o)[:K] for o in orders]
    pairs = [jaccard(sets[i], sets[j]) for i in range(len(sets)) for j in range(i + 1, len(sets))]
    return float(np.mean(pairs)) if pairs else float("nan")
