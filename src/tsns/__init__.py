"""tsns: Unsupervised transfer learning via BERT neuron selection (Valipour et al., 2019).

``from tsns import SingleTSNS, MultiTSNS`` gives the scikit-learn selectors
(:mod:`tsns.method.selectors`); they are imported on first use, so importing a
part of the package (a stage, the configuration) does not load the others.
"""
from __future__ import annotations

__version__ = "0.2.0"
__all__ = ["SingleTSNS", "MultiTSNS", "__version__"]


def __getattr__(name: str):
    if name in ("SingleTSNS", "MultiTSNS"):
        from .method import selectors

        return getattr(selectors, name)
    raise AttributeError(f"module 'tsns' has no attribute {name!r}")
