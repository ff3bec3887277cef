"""``params.yaml: transfer``: Table 2 and the transfer classifier."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..method.validation import PARAMS, ListOf, Str
from .base import Section, rule


@dataclass(frozen=True, kw_only=True)
class TransferConfig(Section):
    """Attributes
    ----------
    domains : list of str
        Every ordered pair is a source -> target scenario (Table 2).
    K : list of int
        Neurons kept, each capped at N.
    C : float
        Inverse L2 strength of the logistic regression.
    max_iter : int
    """

    key: ClassVar[str] = "transfer"
    domains: list = rule(ListOf(Str(), min_len=2, unique=True))
    K: list = rule(ListOf(PARAMS["K"]))
    C: float
    max_iter: int
