"""``params.yaml: baselines``: the blog's representation baselines and the truncation ablation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..method.validation import PARAMS, ListOf, Options, Rule, Str
from .base import Section, rule
from .extract import POOLINGS, TRUNCATIONS


@dataclass(frozen=True, kw_only=True)
class BaselinesConfig(Section):
    """Attributes
    ----------
    domains : list of str
        Every ordered pair, as in Table 2.
    truncation_source : str
        Long texts: head, tail and head+tail truncation compared.
    truncation_targets : list of str
    truncations : list of {"head", "tail", "head+tail"}
    variant_name : str
        The variant holding a truncation (contains ``{dataset}`` and ``{truncation}``).
    K : int
        SingleTSNS neurons in the truncation table.
    variants : dict name -> {dataset, pooling, truncation}
        Extra extractions (stage ``extract_variant@name``).
    """

    key: ClassVar[str] = "baselines"
    domains: list = rule(ListOf(Str(), min_len=2, unique=True))
    truncation_source: str = rule(Str())
    truncation_targets: list = rule(ListOf(Str()))
    truncations: list = rule(ListOf(Options(*TRUNCATIONS)))
    variant_name: str = rule(Rule(lambda v: isinstance(v, str) and "{dataset}" in v and "{truncation}" in v,
                                  "a variant name containing {dataset} and {truncation}"))
    K: int = rule(PARAMS["K"])
    variants: dict = rule(Rule(lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and isinstance(sp, dict) and set(sp) == {"dataset", "pooling", "truncation"}
        and sp["pooling"] in POOLINGS and sp["truncation"] in TRUNCATIONS
        for k, sp in v.items()), "a mapping name -> {dataset, pooling: cls|mean, truncation: head|tail|head+tail}"))
