"""``params.yaml: nli``: Tables 3 and 5 (transfer to NLI and paraphrase targets)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..method.validation import PARAMS, ListOf, Rule, Str
from .base import Section, rule


@dataclass(frozen=True, kw_only=True)
class NliConfig(Section):
    """Attributes
    ----------
    targets : dict target -> split
        The split that is scored; the first target is Table 5's.
    sources : list of str
        Table 3 rows; a dataset not in ``data.datasets`` says "data not available".
    K : list of int
    scenarios : dict row name -> list of sources
        Table 5 rows (one source = SingleTSNS under the budget L).
    L : int or None
        Sample budget, water-filled across sources.
    L_sweep : list of int
        Budget sensitivity at K = ``sweep_K``.
    sweep_K : int
    """

    key: ClassVar[str] = "nli"
    targets: dict = rule(Rule(lambda v: isinstance(v, dict) and len(v) >= 1 and all(
        isinstance(k, str) and isinstance(sp, str) for k, sp in v.items()),
        "a mapping target dataset -> the split that is scored (the first target is Table 5's)"))
    sources: list = rule(ListOf(Str()))
    K: list = rule(ListOf(PARAMS["K"]))
    scenarios: dict = rule(Rule(lambda v: isinstance(v, dict) and len(v) >= 1 and all(
        isinstance(k, str) and isinstance(sc, list) and len(sc) >= 1 and all(isinstance(x, str) for x in sc)
        for k, sc in v.items()), "a mapping row name -> list of one or more source datasets"))
    L: int | None = rule(PARAMS["L"])
    L_sweep: list = rule(ListOf(PARAMS["L"], min_len=0))
    sweep_K: int = rule(PARAMS["K"])

    def budgets(self) -> list:
        """The budgets a Table 5 row is computed for: ``L`` first, then the sweep (without repeats)."""
        out: list = [self.L]
        for x in self.L_sweep:
            if x not in out:
                out.append(int(x))
        return out

    @property
    def target(self) -> str:
        """Table 5's target: the first of ``targets``."""
        return next(iter(self.targets))
