"""tsns: Unsupervised transfer learning via BERT neuron selection (Valipour et al., 2019)."""
from __future__ import annotations

__version__ = "0.1.0"
