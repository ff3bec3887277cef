"""``params.yaml: transferability``: does fingerprint similarity predict transfer?"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..method.validation import PARAMS, Int, ListOf, Options, Rule
from .base import Section, rule


@dataclass(frozen=True, kw_only=True)
class TransferabilityConfig(Section):
    """Attributes
    ----------
    groups : dict name -> list of datasets
        Every ordered pair within a group is a (source, target) pair.
    pairs : list of [source, target]
        Extra pairs.
    splits : dict target -> split
        A target scored on this split only (the others on all rows).
    K : int
        Transfer is measured with the source's SingleTSNS top-K.
    fingerprint_K : int
        Neurons in the fingerprints compared.
    jaccard_K : list of int
        Top-set overlaps compared.
    n_estimators : int
        Trees of the pseudo-label forest (label-free fingerprint).
    rankers : list of {"linear", "gbt"}
    bootstrap : int
        Resamples of the correlation intervals.
    """

    key: ClassVar[str] = "transferability"
    groups: dict = rule(Rule(lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and isinstance(g, list) and len(g) >= 2 and len(set(g)) == len(g)
        and all(isinstance(x, str) for x in g) for k, g in v.items()),
        "a mapping group name -> list of two or more distinct datasets (every ordered pair)"))
    pairs: list = rule(Rule(lambda v: isinstance(v, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) and p[0] != p[1] for p in v),
        "a list of [source, target] pairs with source != target"))
    splits: dict = rule(Rule(lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(sp, str)
                                                                   for k, sp in v.items()),
                             "a mapping target dataset -> the split that is scored"))
    K: int = rule(PARAMS["K"])
    fingerprint_K: int = rule(PARAMS["K"])
    jaccard_K: list = rule(ListOf(PARAMS["K"]))
    n_estimators: int = rule(PARAMS["n_estimators"])
    rankers: list = rule(ListOf(Options("linear", "gbt")))
    bootstrap: int = rule(Int(100))
