"""Stage ``transfer_multi``: Table 4 (multi-source transfer on the Amazon domains).

For every scenario of ``meta.scenarios``: the final logistic regression on the union of
the scenario's sources (the top-K neurons by h, stage ``meta_aggregate``), scored on
the target; the last-layer [CLS] baseline and the random-K control on the same rows;
beside the paper's numbers and our single-source results on the same target (Table 2).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..config.extract import ExtractConfig
from ..config.meta import MetaConfig
from ..config.transfer import TransferConfig
from ..errors import TargetLeakError, TSNSError
from ..method import transfer as T
from ..method.classifier import ClassifierParams, train_classifier
from ..method.stats import summarize
from ..reference import valipour2019 as V
from ..render import cell, markdown_table, classifier_note
from ..store import load, write
from .context import context


def run(*, params: dict | None = None, root: str | Path | None = None) -> dict:
    """Table 4 (MultiTSNS, last layer, random K) for every scenario."""
    ctx = context(params, root)
    cfg, tr = ctx.section(MetaConfig), ctx.section(TransferConfig)
    seeds = ctx.seeds
    rows = []
    needed = sorted({d for sc in cfg.scenarios.values() for d in list(sc["sources"]) + [sc["target"]]})
    expect = ctx.section(ExtractConfig).expect()
    acts = {d: load.activations(ctx.store, d, expect=expect) for d in needed}
    for name in cfg.scenarios:
        sources, target = cfg.scenario(name)
        arrays, meta = load.meta(ctx.store, name)
        for d in sources:
            if meta["activations_sha256"][d] != acts[d].meta["array_sha256"]:
                raise TSNSError(f"MultiTSNS of {name} used other activations of {d}: "
                                f"re-run `dvc repro meta_aggregate@{name}`")
        ls = tuple(meta["layer_shape"])
        have = load.check_seeds(arrays["seeds"], seeds, f"MultiTSNS of {name}", f"dvc repro meta_aggregate@{name}")
        rows += scenario_rows(name, sources, target, acts, arrays["order"], have, tuple(meta["fit_on"]), cfg.K, ls,
                              cfg.L, tr.classifier())
    long = pd.DataFrame(rows)
    summary = summarize(long, keys=("scenario", "target"))
    single = _single_source_reference(cfg.scenarios, ctx.store)
    wide = _table4_wide(summary, single)
    Ks = sorted(int(k) for k in set(long[long.method == "multitsns"].K))
    write.table(ctx.store.tables, "table4", long=long, wide=wide,
                markdown=_render_table4(wide, Ks, seeds, acts[needed[0]].meta)
                + classifier_note(tr.classifier(), long["C"]))
    metrics = write.metrics(ctx.store.metrics("multi"), {"table4_average": {
        (r.method if r.method == "last_layer" else f"{r.method}_K{int(r.K)}"):
            {"mean": round(float(r["mean"]), 4), "std": round(float(r["std"]), 4)}
        for _, r in summary[summary.scenario == "Average"].iterrows()}})
    return {"long": long, "summary": summary, "wide": wide, "metrics": metrics}


def scenario_rows(name: str, sources: Sequence[str], target: str, acts: Mapping, orders, seeds: Sequence[int],
                  fit_on: tuple, K: Sequence[int], layer_shape: tuple[int, int], L: int | None,
                  classifier: ClassifierParams, method: str = "multitsns") -> list[dict]:
    """Transfer rows of one scenario: the classifier on the union of the sources (L rows water-filled), on the
    top-K neurons of each seed's ranking (``orders``, one per seed), on K random neurons and on the last layer,
    scored on the target.

    Returns
    -------
    list of dict
        ``scenario, target, method, K, seed, C, accuracy`` (the last layer once, seed -1).
    """
    N = layer_shape[0] * layer_shape[1]
    tgt = acts[target].target()
    if tgt.sha256 in {acts[d].sha256 for d in sources}:
        raise TargetLeakError(f"scenario {name}: the target is one of its sources")
    Ks = sorted({min(int(k), N) for k in K})
    parts = {d: acts[d].source() for d in sources}
    rows = []
    for i, s in enumerate(seeds):
        pooled = T.pooled_source(parts, sources, L, s)
        sels = [T.Selection(orders[i][:k], method, fit_on=fit_on, seed=s) for k in Ks]
        sels += [T.Selection(T.random_neurons(k, N, s, salt=name), "random", seed=s) for k in Ks]
        if i == 0:
            sels.append(T.Selection(T.layer_neurons(-1, layer_shape), "last_layer"))
        for sel in sels:
            T.check_no_leak(tgt, pooled, sel)  # before any training
            clf = train_classifier(pooled.X, pooled.y, sel.neurons, classifier)
            acc = T.transfer_accuracy(pooled, tgt, sel, clf=clf)
            rows.append({"scenario": name, "target": target, "method": sel.method, "K": sel.K,
                         "seed": -1 if sel.seed is None else sel.seed, "C": clf.C_, "accuracy": acc})
    return rows


def _single_source_reference(scenarios: Mapping, store) -> dict:
    """Our SingleTSNS accuracy (Table 2) on each scenario's target, averaged over its sources: {(scenario, K): %}."""
    path = store.tables / "table2_long.csv"
    if not path.exists():
        return {}
    t2 = pd.read_csv(path)
    t2 = t2[t2.method == "singletsns"]
    ref: dict = {}
    for name, sc in scenarios.items():
        part = t2[(t2.target == sc["target"]) & (t2.source.isin(list(sc["sources"])))]
        for K, g in part.groupby("K"):
            ref[(name, int(K))] = 100 * g.accuracy.mean()
            ref[(name, int(K), "best")] = 100 * g.groupby("source").accuracy.mean().max()
    return ref


def _table4_wide(summary: pd.DataFrame, single: dict) -> pd.DataFrame:
    out = []
    for (name, target), g in summary.groupby(["scenario", "target"], sort=False):
        row = {"scenario": name, "target": target}
        key = name.replace("-", "->") if name != "Average" else "Average"
        pap = V.TABLE4.get(key)
        ll = g[g.method == "last_layer"]
        row["last_layer_mean"] = 100 * float(ll["mean"].iloc[0]) if len(ll) else np.nan
        row["paper_BERT_1024"] = pap["BERT"] if pap else np.nan
        for K in sorted(set(g[g.method == "multitsns"].K)):
            for method in ("multitsns", "random"):
                r = g[(g.method == method) & (g.K == K)]
                row[f"{method}_K{K}_mean"] = 100 * float(r["mean"].iloc[0]) if len(r) else np.nan
                row[f"{method}_K{K}_std"] = 100 * float(r["std"].iloc[0]) if len(r) else np.nan
            row[f"paper_multitsns_K{K}"] = pap["TSNS"].get(int(K), np.nan) if pap else np.nan
            if name != "Average":
                row[f"single_avg_K{K}"] = single.get((name, int(K)), np.nan)
                row[f"single_best_K{K}"] = single.get((name, int(K), "best"), np.nan)
        out.append(row)
    wide = pd.DataFrame(out)
    for c in [c for c in wide.columns if c.startswith("single_")]:
        wide.loc[wide.scenario == "Average", c] = wide.loc[wide.scenario != "Average", c].mean()
    return wide.round(2)


def _render_table4(wide: pd.DataFrame, Ks, seeds, meta: dict) -> str:
    ls = meta["shape"][1:]
    model = meta.get("model_info", {}).get("resolved")
    head = ["S->T", f"ours: last layer ({ls[1]})", "paper: BERT last layer (1024)"]
    for K in Ks:
        head += [f"ours: MultiTSNS K={K}", f"paper: MultiTSNS K={K}", f"ours: random K={K}",
                 f"ours: SingleTSNS K={K}, mean of the sources (oracle best)"]
    rows = []
    for _, r in wide.iterrows():
        cells = ["**Average**" if r.scenario == "Average" else r.scenario.replace("-", "->"),
                 cell(r.last_layer_mean), cell(r.paper_BERT_1024)]
        for K in Ks:
            single = r.get(f"single_avg_K{K}", np.nan)
            best = r.get(f"single_best_K{K}", np.nan)
            cells += [cell(r[f"multitsns_K{K}_mean"], r[f"multitsns_K{K}_std"], n=len(seeds)), cell(r[f"paper_multitsns_K{K}"]),
                      cell(r[f"random_K{K}_mean"], r[f"random_K{K}_std"], n=len(seeds)),
                      "-" if np.isnan(single) else f"{single:.1f} ({best:.1f})"]
        rows.append(cells)
    note = (
        f"\n\nAccuracy (%) on the unseen target of a logistic regression trained on the union of the scenario's "
        f"sources (Amazon multi-domain sentiment). **ours**: encoder `{model}`, mean ± std over seeds {list(seeds)}; "
        "MultiTSNS with leave-one-source-out learners, alpha tuned on a gamma sample of the held-out source. "
        "**paper**: Valipour et al. (2019) Table 4 (bert-large), for comparison only. 'SingleTSNS ... mean of the "
        "sources (oracle best)': our Table 2 accuracy on the same target from each single source at the same K, "
        "averaged over the three sources; in brackets the best of them, which is an oracle (picking it needs the "
        "target's labels, so no unsupervised method can); '-' where Table 2 has no such K. K is capped at N.\n")
    return "# Table 4: multi-source unsupervised transfer (Amazon)\n\n" + markdown_table(head, rows) + note
