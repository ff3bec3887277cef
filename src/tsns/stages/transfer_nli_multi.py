"""Stage ``transfer_nli_multi``: Table 5, multi-source transfer to the first target of ``nli.targets`` under budgets.

For every row of ``nli.scenarios``: the final classifier on L rows of the row's
sources (water-filled), on the top-K neurons by h (stage ``meta_nli``), scored on
the target split; the last-layer and random-K baselines on the same rows; our
single-source Table 3 numbers beside; the budget sweep at K = ``nli.sweep_K``.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..config.extract import ExtractConfig
from ..config.nli import NliConfig
from ..config.transfer import TransferConfig
from ..errors import TargetLeakError, TSNSError
from ..method import transfer as T
from ..method.classifier import train_classifier
from ..reference import valipour2019 as V
from ..render import cell, markdown_table, metrics_from_wide, classifier_note
from ..store import load, write
from .context import context
from .nli_common import UNAVAILABLE, L_code, L_label, check_row, display_name, part_mean_std

log = logging.getLogger(__name__)


def run(*, params: dict | None = None, root: str | Path | None = None) -> dict:
    """Table 5 for every row of ``nli.scenarios``; return the long, status and wide tables and the metrics."""
    ctx = context(params, root)
    cfg, tr = ctx.section(NliConfig), ctx.section(TransferConfig)
    seeds = ctx.seeds
    targets = cfg.targets
    expect = ctx.section(ExtractConfig).expect()
    Ls = cfg.budgets()
    rows, status = [], []
    loaded: dict = {}
    tgt = None
    meta0: dict = {}
    N = None
    for row, srcs in cfg.scenarios.items():
        sources, target = check_row(row, srcs, targets)
        fix = f"dvc repro meta_nli@{row}"
        arrays, meta = load.meta_nli(ctx.store, row)
        if [int(x) for x in arrays["L"]] != [L_code(x) for x in Ls]:
            raise TSNSError(f"Table 5 row {row} was computed for budgets {arrays['L'].tolist()}, params say "
                            f"{[L_code(x) for x in Ls]}: re-run `{fix}`")
        have = load.check_seeds(arrays["seeds"], seeds, f"Table 5 row {row}", fix)
        if not meta["available"]:
            status.append((row, "unavailable", ", ".join(meta["missing"])))
            continue
        for d in sources + [target]:
            if d not in loaded:
                loaded[d] = load.activations(ctx.store, d, expect=expect,
                                             split=targets[target] if d == target else None)
        if tgt is None:
            tgt = loaded[target].target()
            meta0 = loaded[target].meta
        for d in sources:
            if meta["activations_sha256"][d] != loaded[d].meta["array_sha256"]:
                raise TSNSError(f"Table 5 row {row} used other activations of {d}: re-run `{fix}`")
            if loaded[d].sha256 == tgt.sha256:
                raise TargetLeakError(f"Table 5 row {row}: the target is one of its sources")
        ls = tuple(meta["layer_shape"])
        N = ls[0] * ls[1]
        Ks = sorted({min(int(k), N) for k in cfg.K})
        kS = min(int(cfg.sweep_K), N)
        parts = {d: loaded[d].source() for d in sources}
        t0 = time.time()
        for b, Lb in enumerate(Ls):
            for i, s in enumerate(have):
                pooled = T.pooled_source(parts, sources, Lb, s)
                o = arrays["order"][b][i]
                if b == 0:
                    sels = [T.Selection(o[:k], "multitsns", fit_on=tuple(meta["fit_on"]), seed=s) for k in Ks]
                    sels += [T.Selection(T.random_neurons(k, N, s, salt=row), "random", seed=s) for k in Ks]
                    sels.append(T.Selection(T.layer_neurons(-1, ls), "last_layer", seed=s))
                else:
                    sels = [T.Selection(o[:kS], "multitsns", fit_on=tuple(meta["fit_on"]), seed=s)]
                for sel in sels:
                    T.check_no_leak(tgt, pooled, sel)
                    clf = train_classifier(pooled.X, pooled.y, sel.neurons, tr.classifier())
                    acc = T.transfer_accuracy(pooled, tgt, sel, clf=clf)  # checks fit_on
                    rows.append({"scenario": row, "target": target, "L": L_code(Lb), "method": sel.method,
                                 "K": sel.K, "seed": s, "C": clf.C_, "accuracy": acc, "n_train": len(pooled.y)})
        log.info("table 5: %s in %.0f s", row, time.time() - t0)
        status.append((row, "ok", ""))
    long = pd.DataFrame(rows, columns=["scenario", "target", "L", "method", "K", "seed", "C", "accuracy", "n_train"])
    st = pd.DataFrame(status, columns=["scenario", "status", "missing"])
    Ks_shown = sorted({int(k) for k in long[(long.method == "multitsns") & (long.L == L_code(cfg.L))].K}) \
        or sorted(int(k) for k in cfg.K)
    kS = min(int(cfg.sweep_K), N) if N else int(cfg.sweep_K)
    single = _single_reference(cfg.scenarios, cfg.target, kS, ctx.store)
    wide = table5_wide(long, st, Ks_shown, Ls, kS, single)
    write.table(ctx.store.tables, "table5", long=long, wide=wide,
                markdown=render_table5(wide, Ks_shown, Ls, kS, seeds, meta0, cfg.target, targets,
                                       {d: len(a.y) for d, a in loaded.items() if d != cfg.target})
                + classifier_note(tr.classifier(), long["C"]))
    cols = {"last_layer": "last_layer_mean"}
    for k in Ks_shown:
        cols |= {f"multitsns_K{k}": f"multitsns_K{k}_mean", f"random_K{k}": f"random_K{k}_mean"}
    cols |= {f"multitsns_K{kS}_L{L_label(Lb)}": f"sweep_L{L_label(Lb)}_mean" for Lb in Ls[1:]}
    metrics = write.metrics(ctx.store.metrics("table5"), {"table5": metrics_from_wide(wide, "scenario", cols)})
    return {"long": long, "status": st, "wide": wide, "metrics": metrics}


def _single_reference(scenarios: Mapping[str, Sequence[str]], target: str, K: int, store) -> dict:
    """Our Table 3 SingleTSNS accuracy at K from each of a row's sources: {name: (mean over sources, best)}."""
    path = store.tables / "table3_long.csv"
    if not path.exists():
        return {}
    t3 = pd.read_csv(path)
    t3 = t3[(t3.method == "singletsns") & (t3.target == target) & (t3.K == K)]
    ref = {}
    for name, srcs in scenarios.items():
        part = t3[t3.source.isin(list(srcs))]
        if len(part) and set(part.source) == set(srcs):
            per = part.groupby("source").accuracy.mean()
            ref[name] = (100 * float(per.mean()), 100 * float(per.max()))
    return ref


def table5_wide(long: pd.DataFrame, status: pd.DataFrame, Ks: Sequence[int], Ls: Sequence[int | None], kS: int,
                single: Mapping) -> pd.DataFrame:
    out = []
    main = L_code(Ls[0])
    for _, st in status.iterrows():
        name = st.scenario
        part = long[long.scenario == name]
        pm = part[part.L == main]
        pap = V.TABLE5.get(name)
        row = {"scenario": name, "status": st.status, "missing": st.missing, "in_paper": pap is not None}
        row["last_layer_mean"], row["last_layer_std"] = part_mean_std(pm, "last_layer")
        row["paper_BERT_1024"] = pap["BERT"] if pap else np.nan
        for k in Ks:
            for method in ("multitsns", "random"):
                row[f"{method}_K{k}_mean"], row[f"{method}_K{k}_std"] = part_mean_std(pm, method, int(k))
            row[f"paper_multitsns_K{k}"] = pap["TSNS"].get(int(k), np.nan) if pap else np.nan
        for Lb in Ls[1:]:
            row[f"sweep_L{L_label(Lb)}_mean"], row[f"sweep_L{L_label(Lb)}_std"] = part_mean_std(
                part[part.L == L_code(Lb)], "multitsns", kS)
        for Lp, v in (pap or {}).get("sweep", {}).items():
            row[f"paper_sweep_L{Lp}"] = v
        ref = single.get(name)
        row["single_mean"], row["single_best"] = ref if ref else (np.nan, np.nan)
        out.append(row)
    return pd.DataFrame(out).round(2)


def render_table5(wide: pd.DataFrame, Ks: Sequence[int], Ls: Sequence[int | None], kS: int, seeds, meta: dict,
                  target: str, targets: Mapping[str, str], n_rows: Mapping[str, int]) -> str:
    sizes = ", ".join(f"{display_name(d)} {n:,} labelled rows" for d, n in n_rows.items()) or "none available"
    ls = meta.get("shape", [0, 0, 0])[1:]
    model = meta.get("model_info", {}).get("resolved", "?")
    main = L_label(Ls[0])
    head = ["sources", f"ours: last layer ({ls[1] if len(ls) > 1 else '?'}), L={main}",
            "paper: BERT (1024), L=2E5"]
    for k in Ks:
        head += [f"ours: MultiTSNS K={k}, L={main}", f"paper: K={k}, L=2E5", f"ours: random K={k}"]
    head += [f"ours: SingleTSNS K={kS}, mean of the sources (oracle best)"]
    head += [f"ours: K={kS}, L={L_label(Lb)}" for Lb in Ls[1:]]
    head += [f"paper: K={kS}, L={Lp}" for Lp in V.TABLE5_SWEEP]
    rows = []
    for _, r in wide.iterrows():
        ok = r.status == "ok"
        na = "n/a" if not ok else None
        label = r.scenario + ("" if r.in_paper else " (not in the paper)")
        cells = [label, f"{UNAVAILABLE} ({r.missing})" if not ok else cell(r.last_layer_mean, r.last_layer_std, n=len(seeds)),
                 cell(r.paper_BERT_1024)]
        for k in Ks:
            cells += [na or cell(r[f"multitsns_K{k}_mean"], r[f"multitsns_K{k}_std"], n=len(seeds)),
                      cell(r[f"paper_multitsns_K{k}"]), na or cell(r[f"random_K{k}_mean"], r[f"random_K{k}_std"], n=len(seeds))]
        cells.append(na or ("-" if np.isnan(r.single_mean) else f"{r.single_mean:.1f} ({r.single_best:.1f})"))
        cells += [na or cell(r[f"sweep_L{L_label(Lb)}_mean"], r[f"sweep_L{L_label(Lb)}_std"], n=len(seeds)) for Lb in Ls[1:]]
        cells += [cell(r.get(f"paper_sweep_L{Lp}", np.nan)) for Lp in V.TABLE5_SWEEP]
        rows.append(cells)
    note = (
        f"\n\nAccuracy (%) on the unseen {display_name(target)} {targets[target]} split of a logistic regression trained on "
        f"a budget of L source rows, water-filled across the row's sources (the same budget bounds the importance "
        f"learners and the alpha tuning). **ours**: encoder `{model}`, mean ± std over seeds {list(seeds)}; MultiTSNS "
        "with leave-one-source-out learners (a one-source row is SingleTSNS under the budget, alpha = 1); 'random K': "
        "K random neurons on the same rows (a control); 'SingleTSNS ... mean of the sources (oracle best)': our Table 3 "
        "accuracy from each source alone (all its rows), averaged over the row's sources; in brackets the best of "
        "them, an oracle (picking it needs the target's labels). Our budgets are far smaller than the paper's (2E4-3E5) because "
        f"our sources are ({sizes}); the sweep columns are matched by position, not by size. **paper**: Valipour et al. (2019) Table 5 (bert-large), for "
        f"comparison only. '{UNAVAILABLE}' (then 'n/a'): a source is not in data.datasets (MNLI and QQP cannot be downloaded "
        "here); the paper's numbers are still shown. K is capped at N.\n")
    return f"# Table 5: multi-source unsupervised transfer to {display_name(target)}\n\n" + markdown_table(head, rows) + note
