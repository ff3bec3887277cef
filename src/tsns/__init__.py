"""tsns: Unsupervised transfer learning via BERT neuron selection (Valipour et al., 2019)."""
from __future__ import annotations

__version__ = "0.1.0"

from .selectors import MultiTSNS, SingleTSNS  # noqa: E402

__all__ = ["SingleTSNS", "MultiTSNS", "__version__"]
