"""Task-specific fingerprints (paper section 4.3, Figure 2).

The fingerprint of a data source is the share of its K selected neurons that lie
in each layer: ``F_l = |{selected neurons in layer l}| / K`` (sums to 1 over
layers). Layer 0 is the embedding output, layer l the output of block l.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError, TSNSError


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


def plot_fingerprints(table: pd.DataFrame, path, *, K: int, model: str):
    """Heatmap like the paper's Figure 2: datasets x layers, colour = share of selected neurons."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * table.shape[1], 0.9 + 0.5 * table.shape[0]))
    sns.heatmap(table, annot=True, fmt=".2f", cmap="viridis", vmin=0, cbar_kws={"label": "share of selected neurons"},
                ax=ax)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("data source")
    ax.set_title(f"Task-specific fingerprints, K={K}, {model}")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- stage
def run(datasets: Sequence[str], K: int, *, root=Path(".")) -> pd.DataFrame:
    """Stage ``fingerprint``: share of the top-K neurons per layer for every dataset (Figure 2)."""
    import json

    from .importance import check_k
    from .io import atomic_path
    from .layout import ACTIVATIONS, FIGURES, TABLES, load_importance

    selected, ls, model = {}, None, None
    for d in datasets:
        arrays, meta = load_importance(d, root=root)
        shape = tuple(meta["layer_shape"])
        if ls is not None and shape != ls:
            raise TSNSError(f"datasets were extracted with different models ({ls} vs {shape}): re-run `dvc repro`")
        ls = shape
        K_eff = check_k(K, meta["N"], "fingerprint.K")
        selected[d] = [o[:K_eff] for o in arrays["order"]]
        side = json.loads((root / ACTIVATIONS / f"{d}.json").read_text())
        model = side.get("model_info", {}).get("resolved", side.get("config", {}).get("model"))
    assert ls is not None
    names = ["emb"] + [str(i) for i in range(1, ls[0])]
    table = fingerprint_table(selected, ls, names)
    with atomic_path(root / TABLES / "fingerprints.csv") as tmp:
        table.to_csv(tmp, index_label="dataset", float_format="%.4f")
    with atomic_path(root / FIGURES / "fingerprints.png") as tmp:
        plot_fingerprints(table, tmp, K=K, model=str(model))
    return table
