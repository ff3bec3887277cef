"""Stage ``mean_pooled`` (beyond the paper): neuron selection on the representation the encoder was trained for.

The embedded encoder was fine-tuned for mean-pooled sentence embeddings, not for its
[CLS] vector. This stage runs SingleTSNS (as in Table 2) and MultiTSNS (as in Table 4)
on the *mean-pooled* activations of every layer (``extract.also_poolings``), with the
same settings and controls as the [CLS] stages, and renders them beside the [CLS]
results: does selection add anything on top of the right representation?

Writes ``data/mean_pooled/`` (the importance and meta-importance rankings),
``reports/tables/mean_pooled.md`` and ``mean_pooled_long.csv``, and
``reports/metrics_mean_pooled.json``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..config.baselines import BaselinesConfig
from ..config.extract import ExtractConfig
from ..config.importance import ImportanceConfig
from ..config.meta import MetaConfig
from ..config.transfer import TransferConfig
from ..errors import ConfigError
from ..io import atomic_savez
from ..method import transfer as T
from ..method.multi import multitsns
from ..method.parallel import compute_backend
from ..method.single import aggregate, importance_matrix, order
from ..method.stats import summarize
from ..render import cell, encoder_name, markdown_table, pair_label, classifier_note
from ..store import load, write
from ..store.qcache import DiskQCache
from .context import context
from .transfer_multi import scenario_rows

log = logging.getLogger(__name__)

POOLING = "mean"


def run(*, params: dict | None = None, root: str | Path | None = None) -> dict:
    """SingleTSNS and MultiTSNS on mean-pooled activations, beside their controls and the [CLS] results."""
    ctx = context(params, root)
    ex, imp, tr = ctx.section(ExtractConfig), ctx.section(ImportanceConfig), ctx.section(TransferConfig)
    meta_cfg = ctx.section(MetaConfig)
    domains = ctx.section(BaselinesConfig).domains
    seeds = ctx.seeds
    if POOLING != ex.pooling and POOLING not in ex.also_poolings:
        raise ConfigError(f"the {POOLING}-pooled activations are not extracted: add {POOLING} to "
                          "extract.also_poolings")
    main = None if ex.pooling == POOLING else POOLING
    acts = {d: load.activations(ctx.store, d, expect=ex.expect(POOLING), pooling=main) for d in domains}
    ls = load.same_shape(acts.values(), f"the {POOLING}-pooled domains")
    N = ls[0] * ls[1]
    Ks = sorted({min(int(k), N) for k in tr.K})
    clsf = tr.classifier()
    folder = ctx.store.root / "data/mean_pooled"

    # SingleTSNS: the importance stage's settings, on the mean-pooled activations of every source
    selections: dict[str, list[T.Selection]] = {}
    with compute_backend(imp.backend, imp.scheduler):
        for d, a in acts.items():
            orders = []
            for s in seeds:
                q = importance_matrix(a.X, a.y, J=imp.J, beta=imp.beta, params=imp, random_state=int(s),
                                      n_jobs=imp.n_jobs, progress=True, desc=f"SingleTSNS {d} ({POOLING})")
                orders.append(order(aggregate(q, alpha=imp.alpha, eps=imp.eps, scaling=imp.scaling)))
            atomic_savez(folder / f"importance_{d}.npz", order=np.stack(orders), seeds=np.asarray(seeds))
            sels = T.baseline_selections(ls, Ks, seeds, d)
            sels += [T.Selection(o[:K], "singletsns", fit_on=(a.sha256,), seed=int(s))
                     for o, s in zip(orders, seeds) for K in Ks]
            selections[d] = sels
        pairs = [(s, t) for s in domains for t in domains if s != t]
        long2 = T.run_transfer_grid({d: a.source() for d, a in acts.items()}, {d: a.target() for d, a in acts.items()},
                                    selections, pairs, clsf, progress=True)

        # MultiTSNS: every scenario of meta.scenarios whose datasets are all here
        rows4 = []
        cache = DiskQCache(ctx.store.qcache)
        for name in meta_cfg.scenarios:
            sources, target = meta_cfg.scenario(name)
            if not set(sources + [target]) <= set(domains):
                continue
            src = {d: acts[d].source() for d in sources}
            orders, fit_on = [], ()
            for s in seeds:
                res = multitsns(src, K=min(int(meta_cfg.tune_K), N), pairing=meta_cfg.pairing, J=meta_cfg.J,
                                beta=meta_cfg.beta, gamma=meta_cfg.gamma, alpha_grid=meta_cfg.alpha_grid,
                                eps=imp.eps, scaling=meta_cfg.scaling, params=imp, L=meta_cfg.L, classifier=clsf,
                                random_state=int(s), n_jobs=imp.n_jobs, cache=cache)
                orders.append(order(res.h))
                fit_on = tuple(res.fit_on)
            atomic_savez(folder / f"meta_{name}.npz", order=np.stack(orders), seeds=np.asarray(seeds))
            rows4 += scenario_rows(name, sources, target, acts, orders, seeds, fit_on, meta_cfg.K, ls, meta_cfg.L,
                                   clsf)
    long4 = pd.DataFrame(rows4)
    long = pd.concat([long2.assign(table="table2"), long4.assign(table="table4")], ignore_index=True)
    s2 = summarize(long2)
    s4 = summarize(long4, keys=("scenario", "target")) if len(long4) else pd.DataFrame()
    metrics = {"mean_pooled_table2_average": _average(s2), "mean_pooled_table4_average": _average(s4)}
    md = render(s2, s4, ctx.store, seeds, acts[domains[0]].meta, ls) + classifier_note(clsf, long["C"])
    write.table(ctx.store.tables, "mean_pooled", long=long, markdown=md)
    write.metrics(ctx.store.metrics("mean_pooled"), metrics)
    return {"long": long, "table2": s2, "table4": s4, "metrics": metrics, "markdown": md}


def _average(summary: pd.DataFrame) -> dict:
    if summary.empty:
        return {}
    key = "source" if "source" in summary else "scenario"
    avg = summary[summary[key] == "Average"]
    return {(r.method if r.method in ("last_layer", "all_layers") else f"{r.method}_K{int(r.K)}"):
            {"mean": round(float(r["mean"]), 4), "std": round(float(r["std"]), 4)} for _, r in avg.iterrows()}


def _cls_average(store, name: str, key: str) -> dict:
    """The [CLS] averages of Table 2 or 4 (their long CSV), to show beside."""
    path = store.tables / f"{name}_long.csv"
    if not path.exists():
        return {}
    return _average(summarize(pd.read_csv(path), keys=(key, "target")))


def render(s2: pd.DataFrame, s4: pd.DataFrame, store, seeds, meta: dict, ls) -> str:
    n = len(seeds)
    parts = ["# Selection on mean-pooled activations (beyond the paper)\n"]
    for title, s, name, key in (("Single source (as Table 2)", s2, "table2", "source"),
                                ("Multi source (as Table 4)", s4, "table4", "scenario")):
        if s.empty:
            continue
        mean_avg, cls_avg = _average(s), _cls_average(store, name, key)
        methods = [m for m in mean_avg]
        head = ["average over " + ("the 12 pairs" if name == "table2" else "the scenarios"), "mean pooling", "[CLS]"]
        rows = [[_label(m), cell(100 * mean_avg[m]["mean"], 100 * mean_avg[m]["std"], n=n),
                 cell(100 * cls_avg[m]["mean"], 100 * cls_avg[m]["std"], n=n) if m in cls_avg else "-"]
                for m in methods]
        parts.append(f"\n## {title}\n\n" + markdown_table(head, rows) + "\n")
        per = s[(s[key] != "Average") & (s.method.isin(["singletsns", "multitsns"]))]
        if len(per):
            Kmax = int(per.K.max())
            lines = [[pair_label(r[key], r.target) if name == "table2" else r[key].replace("-", "->"),
                      cell(100 * r["mean"], 100 * r["std"], n=n)] for _, r in per[per.K == Kmax].iterrows()]
            parts.append(f"\nPer {'pair' if name == 'table2' else 'scenario'}, K={Kmax}:\n\n"
                         + markdown_table([key, "mean pooling"], lines) + "\n")
    parts.append(
        f"\nAccuracy (%) on the unseen target, mean ± std over seeds {list(seeds)} (n={n}), of the logistic "
        "regression of the [CLS] tables (same classifier, same choice of C on the source) on the attention-masked "
        f"mean over tokens of every layer ({ls[0]} layers x {ls[1]}) of the encoder `{encoder_name(meta)}` instead "
        "of the first token; SingleTSNS and MultiTSNS with the importance stage's and the meta stage's settings. "
        "The [CLS] column repeats Tables 2 and 4. Nothing of a target reaches selection, C or training.\n")
    return "".join(parts)


def _label(m: str) -> str:
    if m in ("last_layer", "all_layers"):
        return m.replace("_", " ")
    method, K = m.rsplit("_K", 1)
    return {"singletsns": "SingleTSNS", "multitsns": "MultiTSNS", "random": "random"}.get(method, method) + f" K={K}"
