"""``params.yaml: transfer``: Table 2 and the transfer classifier."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..method.classifier import C_RULE, ClassifierParams
from ..method.validation import PARAMS, Int, ListOf, Real, Str
from .base import Section, rule


@dataclass(frozen=True, kw_only=True)
class TransferConfig(Section):
    """Attributes
    ----------
    domains : list of str
        Every ordered pair is a source -> target scenario (Table 2).
    K : list of int
        Neurons kept, each capped at N.
    C : float or "cv"
        Inverse L2 strength of every transfer classifier, or ``cv``: chosen by cross-validation on its
        source's rows (the same protocol for every method and baseline).
    C_grid : list of float
        The values of C that cross-validation chooses from.
    cv_folds : int
        Folds of that cross-validation.
    max_iter : int
    """

    key: ClassVar[str] = "transfer"
    domains: list = rule(ListOf(Str(), min_len=2, unique=True))
    K: list = rule(ListOf(PARAMS["K"]))
    C: float | str = rule(C_RULE)
    C_grid: list = rule(ListOf(Real(0, lo_open=True), unique=True))
    cv_folds: int = rule(Int(2))
    max_iter: int

    def classifier(self) -> ClassifierParams:
        """The transfer classifier's settings."""
        return ClassifierParams(C=self.C, C_grid=tuple(self.C_grid), cv_folds=self.cv_folds, max_iter=self.max_iter)
