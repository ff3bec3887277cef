"""Stage ``transfer``: Table 2 (single-source transfer on the Amazon domains), its metrics and plot.

Runs :mod:`tsns.transfer` over every ordered pair of domains and renders the
results beside the paper's numbers (:mod:`tsns.paper`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from . import paper
from . import transfer as T
from .errors import ConfigError, TSNSError
from .io import atomic_path, atomic_write_json, atomic_write_text
from .layout import FIGURES, METRICS, TABLES, load_dataset_activations, load_importance

def run(domains: Sequence[str], Ks: Sequence[int], seeds: Sequence[int], *, C: float = 1.0,
                    max_iter: int = 2000, expect: dict | None = None, root: Path = Path(".")) -> dict:
    """Stage ``transfer``: every ordered pair of ``domains``, SingleTSNS and baselines.

    Returns a dict with the long results, the summary, and the paths written.
    """
    if len(set(domains)) != len(domains):
        raise ConfigError(f"transfer.domains has duplicates ({list(domains)}): list each dataset once")
    acts = {d: load_dataset_activations(d, expect=expect, root=root) for d in domains}
    shapes = {a.layer_shape for a in acts.values()}
    if len(shapes) != 1:
        raise TSNSError(f"the datasets were extracted with different models (layer shapes {shapes}): re-run `dvc repro`")
    ls = shapes.pop()
    N = ls[0] * ls[1]
    Ks_eff = sorted({min(int(k), N) for k in Ks})
    pairs = [(s, t) for s in domains for t in domains if s != t]
    sources = {d: T.LabelledSource(d, a.X, a.y, a.sha256) for d, a in acts.items()}
    targets = {d: T.HeldOutTarget(d, a.X, a.y, a.sha256) for d, a in acts.items()}
    selections: dict[str, list[T.Selection]] = {}
    for d in domains:
        arrays, meta = load_importance(d, root=root)
        if meta["activations_sha256"] != acts[d].meta["array_sha256"]:
            raise TSNSError(f"importance of {d!r} was computed on other activations: re-run `dvc repro importance@{d}`")
        imp_seeds = [int(s) for s in arrays["seeds"]]
        if sorted(imp_seeds) != sorted(int(s) for s in seeds):
            raise TSNSError(f"importance of {d!r} has seeds {imp_seeds}, params say {list(seeds)}: re-run `dvc repro`")
        sels = T.baseline_selections(ls, Ks_eff, seeds, d)
        for i, s in enumerate(imp_seeds):
            for K in Ks_eff:
                sels.append(T.Selection(arrays["order"][i][:K], "singletsns", fit_on=tuple(meta["fit_on"]), seed=s))
        selections[d] = sels
    long = T.run_transfer_grid(sources, targets, selections, pairs, C=C, max_iter=max_iter, progress=True)
    summary = T.summarize(long)

    tables, figures = root / TABLES, root / FIGURES
    with atomic_path(tables / "table2_long.csv") as tmp:
        long.to_csv(tmp, index=False, float_format="%.4f")
    wide = table2_wide(summary, Ks_eff, ls)
    with atomic_path(tables / "table2.csv") as tmp:
        wide.to_csv(tmp, index=False)
    atomic_write_text(tables / "table2.md", render_table2_md(wide, Ks_eff, ls, seeds, acts[domains[0]].meta))
    metrics = table2_metrics(summary, Ks_eff)
    atomic_write_json(root / METRICS, metrics)
    sweep = k_sweep(summary, Ks_eff)
    with atomic_path(figures / "k_sweep.csv") as tmp:
        sweep.to_csv(tmp, index=False, float_format="%.4f")
    plot_k_sweep(sweep, figures / "k_sweep.png", N=N)
    return {"long": long, "summary": summary, "wide": wide, "metrics": metrics, "sweep": sweep}


def _pair_label(s: str, t: str) -> str:
    L = paper.DOMAIN_LETTER
    if s == "Average":
        return "Average"
    return f"{L.get(s, s)}->{L.get(t, t)}"


def cell(mean, std=None) -> str:
    """A table cell from a percentage: ``"72.4 ± 1.3"``; ``"-"`` when missing (None/NaN); no ``±`` when std is 0/NaN."""
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "-"
    return f"{mean:.1f}" + (f" ± {std:.1f}" if std is not None and not np.isnan(std) and std > 0 else "")


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


def table2_wide(summary: pd.DataFrame, Ks: Sequence[int], ls: tuple[int, int]) -> pd.DataFrame:
    """One row per pair; ours (mean, std in %) beside the paper's numbers."""
    rows = []
    for (s, t), g in summary.groupby(["source", "target"], sort=False):
        row = {"pair": _pair_label(s, t), "source": s, "target": t}
        key = (paper.DOMAIN_LETTER.get(s), paper.DOMAIN_LETTER.get(t))
        pap = paper.TABLE2_AVERAGE if s == "Average" else paper.TABLE2.get(key)
        for method in ("last_layer", "all_layers"):
            r = g[g.method == method]
            row[f"{method}_mean"] = 100 * float(r["mean"].iloc[0]) if len(r) else np.nan
        row["paper_BERT_1024"] = pap["BERT"] if pap else np.nan
        for K in Ks:
            for method in ("singletsns", "random"):
                r = g[(g.method == method) & (g.K == K)]
                row[f"{method}_K{K}_mean"] = 100 * float(r["mean"].iloc[0]) if len(r) else np.nan
                row[f"{method}_K{K}_std"] = 100 * float(r["std"].iloc[0]) if len(r) else np.nan
            row[f"paper_singletsns_K{K}"] = pap["TSNS"].get(K, np.nan) if pap else np.nan
        rows.append(row)
    return pd.DataFrame(rows).round(2)


def render_table2_md(wide: pd.DataFrame, Ks: Sequence[int], ls: tuple[int, int], seeds, meta: dict) -> str:
    """Markdown Table 2: our numbers (mean ± std over seeds) beside the paper's."""
    n_layers, hidden = ls
    model = meta.get("model_info", {}).get("resolved", meta.get("config", {}).get("model"))
    head = ["S->T", f"ours: last layer ({hidden})", "paper: BERT last layer (1024)", f"ours: all layers ({n_layers * hidden})"]
    for K in Ks:
        head += [f"ours: SingleTSNS K={K}", f"paper: SingleTSNS K={K}", f"ours: random K={K}"]
    rows = []
    for _, r in wide.iterrows():
        cells = [f"**{r.pair}**" if r.pair == "Average" else r.pair, cell(r.last_layer_mean),
                 cell(r.paper_BERT_1024), cell(r.all_layers_mean)]
        for K in Ks:
            cells += [cell(r[f"singletsns_K{K}_mean"], r[f"singletsns_K{K}_std"]),
                      cell(r[f"paper_singletsns_K{K}"]),
                      cell(r[f"random_K{K}_mean"], r[f"random_K{K}_std"])]
        rows.append(cells)
    note = (
        f"\n\nAccuracy (%) of a logistic regression trained on the whole source domain and applied to the unseen "
        f"target domain (Amazon multi-domain sentiment, 2,000 reviews per domain). **ours**: encoder `{model}` "
        f"({n_layers} hidden states x {hidden} = N {n_layers * hidden} neurons), mean ± std over seeds {list(seeds)}. "
        "**paper**: Valipour et al. (2019) Table 2, bert-large-uncased (N = 24,576), average of 5 runs; shown for "
        "comparison only, never used in any computation. The paper's 'BERT 1024' column is its last-layer [CLS]; our "
        f"last-layer column has {hidden} neurons because our encoder is narrower. 'random K' (K neurons drawn "
        "uniformly from all layers) is a control the paper does not report. K is capped at N.\n"
    )
    return "# Table 2: single-source unsupervised transfer (Amazon B, D, E, K)\n\n" + markdown_table(head, rows) + note


def table2_metrics(summary: pd.DataFrame, Ks: Sequence[int]) -> dict:
    """Headline numbers: Table 2 averages (accuracy in [0, 1]) per method and K."""
    avg = summary[summary.source == "Average"]
    out: dict = {}
    for _, r in avg.iterrows():
        name = r.method if r.method in ("last_layer", "all_layers") else f"{r.method}_K{int(r.K)}"
        out[name] = {"mean": round(float(r["mean"]), 4), "std": round(float(r["std"]), 4)}
    return {"table2_average": out}


def k_sweep(summary: pd.DataFrame, Ks: Sequence[int]) -> pd.DataFrame:
    """Average accuracy over pairs against K for every method (baselines repeated at each K)."""
    avg = summary[summary.source == "Average"]
    rows = []
    for K in Ks:
        for _, r in avg.iterrows():
            if r.method in ("singletsns", "random") and int(r.K) != K:
                continue
            rows.append({"K": K, "method": r.method, "accuracy": float(r["mean"]), "std": float(r["std"])})
    pap = paper.TABLE2_AVERAGE["TSNS"]
    for K in Ks:
        if K in pap:
            rows.append({"K": K, "method": "paper_singletsns", "accuracy": pap[K] / 100, "std": 0.0})
    return pd.DataFrame(rows)


def plot_k_sweep(sweep: pd.DataFrame, path: Path, *, N: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4))
    styles = {"singletsns": ("o-", "SingleTSNS (ours)"), "random": ("s--", "random K (ours)"),
              "last_layer": (":", "last layer (ours)"), "all_layers": ("-.", f"all layers, N={N} (ours)"),
              "paper_singletsns": ("^-", "SingleTSNS (paper, bert-large)")}
    for method, g in sweep.groupby("method", sort=False):
        fmt, label = styles.get(method, ("-", method))
        ax.errorbar(g.K, 100 * g.accuracy, yerr=100 * g["std"], fmt=fmt, label=label, capsize=3,
                    alpha=0.6 if method.startswith("paper") else 1.0)
    ax.set_xlabel("K (selected neurons)")
    ax.set_ylabel("average accuracy over 12 pairs (%)")
    ax.set_title("Table 2 averages against K")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path
