"""Task-specific fingerprints (paper section 4.3, Figure 2).

The fingerprint of a data source is the share of its K selected neurons that lie
in each layer: ``F_l = |{selected neurons in layer l}| / K`` (sums to 1 over
layers). Layer 0 is the embedding output, layer l the output of block l.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError


def fingerprint(neurons: Sequence[int], layer_shape: tuple[int, int]) -> np.ndarray:
    """Share of the selected neurons in each layer.

    Parameters
    ----------
    neurons : array of int, shape (K,)
        Flat neuron indices in ``[0, n_layers * hidden)``.
    layer_shape : (n_layers, hidden)

    Returns
    -------
    numpy.ndarray, shape (n_layers,)
        Non-negative, sums to 1.
    """
    n_layers, hidden = layer_shape
    neurons = np.asarray(neurons, dtype=np.int64)
    if neurons.size == 0:
        raise ConfigError("a fingerprint needs at least one selected neuron: use K >= 1")
    if neurons.min() < 0 or neurons.max() >= n_layers * hidden:
        raise ConfigError(f"neuron indices must lie in [0, {n_layers * hidden}) for layer shape {layer_shape}")
    counts = np.bincount(neurons // hidden, minlength=n_layers)
    return counts / counts.sum()


def fingerprint_table(selected: dict[str, Sequence[Sequence[int]]], layer_shape: tuple[int, int],
                      layer_names: Sequence[str] | None = None) -> pd.DataFrame:
    """Fingerprints of several datasets, each averaged over its runs (seeds).

    Parameters
    ----------
    selected : dataset -> list of neuron index arrays (one per seed)
    layer_shape : (n_layers, hidden)

    Returns
    -------
    pandas.DataFrame, shape (n_datasets, n_layers)
        Index: dataset; columns: layer names; values: mean share over seeds.
    """
    names = list(layer_names) if layer_names is not None else [str(i) for i in range(layer_shape[0])]
    rows = {d: np.mean([fingerprint(s, layer_shape) for s in runs], axis=0) for d, runs in selected.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=names)
