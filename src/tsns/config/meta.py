"""``params.yaml: meta``: MultiTSNS (Table 4)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..method.validation import PARAMS, ListOf, Rule
from .base import Section, rule


def _scenarios(v) -> bool:
    return isinstance(v, dict) and len(v) >= 1 and all(
        isinstance(k, str) and isinstance(sc, dict) and set(sc) == {"sources", "target"}
        and isinstance(sc["sources"], list) and len(sc["sources"]) >= 2 and len(set(sc["sources"])) == len(sc["sources"])
        and all(isinstance(s, str) for s in sc["sources"]) and isinstance(sc["target"], str)
        and sc["target"] not in sc["sources"]
        for k, sc in v.items())


@dataclass(frozen=True, kw_only=True)
class MetaConfig(Section):
    """Attributes
    ----------
    scenarios : dict name -> {sources: [...], target: str}
        Two or more distinct sources and an unseen target that is not one of them.
    K : list of int
        Reported in Table 4, capped at N.
    tune_K : int
        K at which each learner tunes alpha.
    pairing : {"leave_one_out", "one_vs_rest", "all_pairs"}
        How the P learners are formed (paper: leave-one-out, P = M).
    J, beta : SingleTSNS settings of each learner.
    gamma : float in (0, 1]
        Fraction of the held-out source used to tune alpha (paper: 10 %).
    alpha_grid : list of float in [0, 1]
    scaling : {"literal", "normalized"}
    L : int or None
        Sample budget, water-filled across sources; None = all rows.
    """

    key: ClassVar[str] = "meta"
    scenarios: dict = rule(Rule(_scenarios, "a mapping name -> {sources: [two or more distinct datasets], "
                                            "target: a dataset that is not a source}"))
    K: list = rule(ListOf(PARAMS["K"]))
    tune_K: int = rule(PARAMS["K"])
    pairing: str
    J: int
    beta: float
    gamma: float
    alpha_grid: list
    scaling: str
    L: int | None

    def scenario(self, name: str) -> tuple[list[str], str]:
        """(sources, target) of a scenario; one line naming the scenarios when ``name`` is unknown."""
        from ..errors import ConfigError

        if name not in self.scenarios:
            raise ConfigError(f"unknown scenario {name!r}: use one of {', '.join(self.scenarios)} (meta.scenarios)")
        sc = self.scenarios[name]
        return list(sc["sources"]), sc["target"]
