"""Stage ``transfer``: Table 2 (single-source transfer on the Amazon domains), its metrics and the K sweep.

For every ordered pair of ``transfer.domains``: a logistic regression trained on the
whole source, on the source's top-K SingleTSNS neurons (stage ``importance``),
applied to the unseen target; baselines: the last layer's [CLS], all layers, and
K random neurons. Rendered beside the paper's numbers
(:mod:`tsns.reference.valipour2019`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..config.extract import ExtractConfig
from ..config.transfer import TransferConfig
from ..method import transfer as T
from ..method.stats import summarize
from ..reference import valipour2019 as V
from ..render import DOMAIN_LETTER, cell, encoder_name, markdown_table, pair_label, save_figure, classifier_note
from ..store import load, write
from .context import context


def run(*, params: dict | None = None, root: str | Path | None = None) -> dict:
    """Table 2; returns the long results, the summary, the wide table, the metrics and the K sweep."""
    ctx = context(params, root)
    cfg = ctx.section(TransferConfig)
    seeds = ctx.seeds
    expect = ctx.section(ExtractConfig).expect()
    domains = cfg.domains
    acts = {d: load.activations(ctx.store, d, expect=expect) for d in domains}
    ls = load.same_shape(acts.values())
    N = ls[0] * ls[1]
    Ks = sorted({min(int(k), N) for k in cfg.K})
    pairs = [(s, t) for s in domains for t in domains if s != t]
    sources = {d: a.source() for d, a in acts.items()}
    targets = {d: a.target() for d, a in acts.items()}
    selections: dict[str, list[T.Selection]] = {}
    for d in domains:
        arrays, meta = load.importance(ctx.store, d, acts=acts[d], seeds=seeds)
        sels = T.baseline_selections(ls, Ks, seeds, d)
        for i, s in enumerate(int(x) for x in arrays["seeds"]):
            for K in Ks:
                sels.append(T.Selection(arrays["order"][i][:K], "singletsns", fit_on=tuple(meta["fit_on"]), seed=s))
        selections[d] = sels
    long = T.run_transfer_grid(sources, targets, selections, pairs, cfg.classifier(), progress=True)
    summary = summarize(long)
    wide = table2_wide(summary, Ks, ls)
    write.table(ctx.store.tables, "table2", long=long, wide=wide,
                markdown=render_table2_md(wide, Ks, ls, seeds, acts[domains[0]].meta)
                + classifier_note(cfg.classifier(), long["C"]))
    metrics = write.metrics(ctx.store.metrics("table2"), table2_metrics(summary, Ks))
    sweep = k_sweep(summary, Ks)
    write.csv(ctx.store.figures / "k_sweep.csv", sweep, float_format="%.4f")
    plot_k_sweep(sweep, ctx.store.figures / "k_sweep.png", N=N)
    return {"long": long, "summary": summary, "wide": wide, "metrics": metrics, "sweep": sweep}


def table2_wide(summary: pd.DataFrame, Ks: Sequence[int], ls: tuple[int, int]) -> pd.DataFrame:
    """One row per pair; ours (mean, std in %) beside the paper's numbers."""
    rows = []
    for (s, t), g in summary.groupby(["source", "target"], sort=False):
        row = {"pair": pair_label(s, t), "source": s, "target": t}
        key = (DOMAIN_LETTER.get(s), DOMAIN_LETTER.get(t))
        pap = V.TABLE2_AVERAGE if s == "Average" else V.TABLE2.get(key)
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
    model = encoder_name(meta)
    head = ["S->T", f"ours: last layer ({hidden})", "paper: BERT last layer (1024)", f"ours: all layers ({n_layers * hidden})"]
    for K in Ks:
        head += [f"ours: SingleTSNS K={K}", f"paper: SingleTSNS K={K}", f"ours: random K={K}"]
    rows = []
    for _, r in wide.iterrows():
        cells = [f"**{r.pair}**" if r.pair == "Average" else r.pair, cell(r.last_layer_mean),
                 cell(r.paper_BERT_1024), cell(r.all_layers_mean)]
        for K in Ks:
            cells += [cell(r[f"singletsns_K{K}_mean"], r[f"singletsns_K{K}_std"], n=len(seeds)),
                      cell(r[f"paper_singletsns_K{K}"]),
                      cell(r[f"random_K{K}_mean"], r[f"random_K{K}_std"], n=len(seeds))]
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
    pap = V.TABLE2_AVERAGE["TSNS"]
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
        if method in ("last_layer", "all_layers"):  # constant in K: a line, not error bars
            ax.axhline(100 * g.accuracy.iloc[0], linestyle=fmt, color="grey" if method == "last_layer" else "black",
                       label=label, linewidth=1.2)
            continue
        std = g["std"].fillna(0.0)
        ax.errorbar(g.K, 100 * g.accuracy, yerr=None if not std.any() else 100 * std, fmt=fmt, label=label,
                    capsize=3, alpha=0.6 if method.startswith("paper") else 1.0)
    Ks = sorted(int(k) for k in sweep.K.unique())
    ax.set_xticks(Ks)
    ax.set_xticklabels([str(k) for k in Ks])
    ax.set_xlabel("K (selected neurons)")
    ax.set_ylabel("average accuracy over 12 pairs (%)")
    ax.set_title(f"Table 2 averages against K (ours: mean ± std over seeds; N = {N})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    return save_figure(fig, path)
