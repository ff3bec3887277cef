"""What the three NLI stages share (Tables 3 and 5): the rows that cannot run, budgets as codes, row checks.

A dataset that is not in ``data.datasets`` (MNLI and QQP, whose files are not
available offline) makes its rows say "data not available"; the rest of the
tables still render. Add it to ``data.datasets`` once its official files are in
``data.mirror`` and ``dvc repro`` fills the rows in.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from ..errors import ConfigError, TargetLeakError
from ..method.stats import mean_std
from ..render import DATASET_NAME
from ..store.load import known

UNAVAILABLE = "data not available"


def unavailable_fix(missing: Sequence[str]) -> str:
    return (f"add {', '.join(missing)} to data.datasets once the official files are in data.mirror, "
            "then run `dvc repro`")


def display_name(d: str) -> str:
    """The paper's name of a dataset."""
    return DATASET_NAME.get(d, d)


def L_code(L: int | None) -> int:
    """A budget as stored in arrays: -1 = every row."""
    return -1 if L is None else int(L)


def L_label(L: int | None) -> str:
    return "all" if L is None else str(int(L))


def check_row(row: str, sources: Sequence[str], targets: Mapping[str, str]) -> tuple[list[str], str]:
    """Validate a Table 5 row of ``nli.scenarios``; return (sources, target)."""
    if isinstance(sources, str) or not len(sources):
        raise ConfigError(f"nli.scenarios.{row} must be a list of one or more source datasets")
    sources = list(sources)
    if len(set(sources)) != len(sources):
        raise ConfigError(f"nli.scenarios.{row} lists a source twice: list every source once")
    if not targets:
        raise ConfigError("nli.targets is empty: name at least one target, e.g. {scitail: test}")
    target = next(iter(targets))
    for d in sources + [target]:
        known(d)
    if target in sources:
        raise TargetLeakError(f"nli.scenarios.{row}: the target {target!r} is also a source: remove it")
    return sources, target


def part_mean_std(long: pd.DataFrame, method: str, K: int | None = None) -> tuple[float, float]:
    """Mean and spread (%) of the runs of one method (and K) in a long results table."""
    part = long[long.method == method]
    if K is not None:
        part = part[part.K == K]
    return mean_std(part.accuracy)
