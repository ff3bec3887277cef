"""Fixed representations of the frozen encoder (the blog post's "which layers to use"): no selection, no data."""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["REPRESENTATIONS", "represent"]

#: fixed representations built from the (n, n_layers, hidden) activations (the last layer last)
REPRESENTATIONS = ("last_layer", "last4_concat", "last4_max", "all_layers")


def represent(A: np.ndarray, which: str) -> np.ndarray:
    """A fixed representation of every example from its per-layer vectors.

    Parameters
    ----------
    A : array, shape (n, n_layers, hidden)
        Pooled hidden states, in layer order (the embedding output first when it is kept).
    which : {"last_layer", "last4_concat", "last4_max", "all_layers"}
        ``last_layer``: ``A[:, -1]`` (n, hidden); ``last4_concat``: the last 4
        hidden states side by side (n, 4 * hidden); ``last4_max``: their
        element-wise maximum (n, hidden); ``all_layers``: every layer flattened
        (n, n_layers * hidden).

    Returns
    -------
    numpy.ndarray, shape (n, d), float32
    """
    if which not in REPRESENTATIONS:
        raise ConfigError(f"representation {which!r} is unknown: use one of {', '.join(REPRESENTATIONS)}")
    A = np.asarray(A)
    if A.ndim != 3:
        raise ConfigError(f"activations must have shape (n, n_layers, hidden), got {A.shape}: "
                          "reshape flattened X with X.reshape(n, *layer_shape)")
    n, n_layers, _ = A.shape
    if which.startswith("last4") and n_layers < 4:
        raise ConfigError(f"{which} needs at least 4 hidden states, the activations have {n_layers}: "
                          "use last_layer or all_layers")
    if which == "last_layer":
        out = A[:, -1, :]
    elif which == "last4_concat":
        out = A[:, -4:, :].reshape(n, -1)
    elif which == "last4_max":
        out = A[:, -4:, :].max(axis=1)
    else:
        out = A.reshape(n, -1)
    return np.ascontiguousarray(out, dtype=np.float32)
