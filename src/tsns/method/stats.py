"""Summaries of repeated runs: mean and spread over seeds, per scenario and on average."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["summarize"]


def summarize(long: pd.DataFrame, keys: Sequence[str] = ("source", "target")) -> pd.DataFrame:
    """Mean and std over seeds for every (scenario, method, K), plus an ``Average`` scenario.

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
    per_pair = g.agg(mean="mean", std=lambda a: float(np.std(a, ddof=0)), n_seeds="count").reset_index()
    per_seed_avg = long.groupby(["method", "K", "seed"], sort=False)["accuracy"].mean().reset_index()
    avg = per_seed_avg.groupby(["method", "K"], sort=False)["accuracy"].agg(
        mean="mean", std=lambda a: float(np.std(a, ddof=0)), n_seeds="count").reset_index()
    for k in reversed(keys):
        avg.insert(0, k, "Average")
    return pd.concat([per_pair, avg], ignore_index=True)


def mean_std(accuracy) -> tuple[float, float]:
    """Mean and spread (in %) of a set of accuracies (fractions); NaN, NaN when there are none."""
    a = np.asarray(accuracy, dtype=float)
    if not len(a):
        return np.nan, np.nan
    return 100 * float(a.mean()), 100 * float(np.std(a, ddof=0))
