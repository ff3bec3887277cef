"""``params.yaml: data``: which datasets, from where, how many rows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..method.validation import Int, ListOf, Options, Real, Rule, Str
from .base import Section, rule


@dataclass(frozen=True, kw_only=True)
class DataConfig(Section):
    """Attributes
    ----------
    datasets : list of str
        Every dataset the pipeline downloads, extracts and fingerprints.
    mirror : str or None
        Local folder with the official releases (used when it exists).
    limit : int or None
        At most this many rows per (split, label); None = all.
    caps : dict str -> int or None
        The same, per dataset (the smaller of cap and limit wins).
    seed : int
        Which rows ``limit`` and ``caps`` keep.
    allow_download : bool
        Try the official URL when no local source has the data.
    max_malformed : float
        Largest share of a file's rows that may be malformed (skipped with a warning); more fails.
    """

    key: ClassVar[str] = "data"
    datasets: list = rule(ListOf(Str(), unique=True))
    mirror: str | None = rule(Str(null=True))
    limit: int | None = rule(Int(1, null=True))
    caps: dict = rule(Rule(lambda v: isinstance(v, dict) and all(isinstance(k, str) and Int(1, null=True).ok(n)
                                                                  for k, n in v.items()),
                           "a mapping dataset -> integer >= 1 or null (rows per split and label)"))
    seed: int = rule(Int(0))
    allow_download: bool = rule(Options(True, False))
    max_malformed: float = rule(Real(0, 1))

    def limit_of(self, dataset: str) -> int | None:
        """Rows kept per (split, label) of ``dataset``: the smaller of ``limit`` and its ``caps`` entry."""
        given = [v for v in (self.limit, self.caps.get(dataset)) if v is not None]
        return min(given) if given else None
