"""Stage ``transfer_nli``: Table 3, single-source transfer to NLI and paraphrase targets (paper section 4.4).

For every target of ``nli.targets`` (SciTail's test split, QQP's GLUE dev split) and
every source of ``nli.sources``: a logistic regression trained on all the source's
labelled rows with its top-K SingleTSNS neurons (stage ``importance``), scored on
the target split; the last-layer [CLS] baseline and the random-K control beside it.
A dataset not in ``data.datasets`` gives rows that say "data not available".
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..config.data import DataConfig
from ..config.extract import ExtractConfig
from ..config.nli import NliConfig
from ..config.transfer import TransferConfig
from ..method import transfer as T
from ..method.classifier import train_classifier
from ..reference import valipour2019 as V
from ..render import cell, markdown_table, metrics_from_wide, classifier_note
from ..store import load, write
from .context import context
from .nli_common import UNAVAILABLE, display_name, part_mean_std, unavailable_fix

log = logging.getLogger(__name__)


def run(*, params: dict | None = None, root: str | Path | None = None) -> dict:
    """Table 3: every (target, source) of the ``nli`` section; return the long, status and wide tables and metrics."""
    ctx = context(params, root)
    cfg, tr = ctx.section(NliConfig), ctx.section(TransferConfig)
    seeds = ctx.seeds
    have = set(ctx.section(DataConfig).datasets)
    expect = ctx.section(ExtractConfig).expect()
    targets, sources = cfg.targets, cfg.sources
    for d in list(targets) + list(sources):
        load.known(d)
    cells = []  # (target, source, status)
    rows = []
    loaded: dict = {}

    def acts(d, split=None):
        if (d, split) not in loaded:
            loaded[(d, split)] = load.activations(ctx.store, d, expect=expect, split=split)
        return loaded[(d, split)]

    for t, split in targets.items():
        if t not in have:
            cells += [(t, s, "target") for s in sources if s != t]
            continue
        ta = acts(t, split)
        tgt = ta.target()
        for s in sources:
            if s == t:
                continue
            if s not in have:
                cells.append((t, s, "source"))
                continue
            sa = acts(s)
            ls = load.same_shape([sa, ta], f"{s} and {t}")
            N = ls[0] * ls[1]
            Ks = sorted({min(int(k), N) for k in cfg.K})
            arrays, meta = load.importance(ctx.store, s, acts=sa, seeds=seeds)
            src = sa.source()
            sels = [T.Selection(T.layer_neurons(-1, ls), "last_layer")]
            for i, seed in enumerate(int(x) for x in arrays["seeds"]):
                sels += [T.Selection(arrays["order"][i][:k], "singletsns", fit_on=tuple(meta["fit_on"]), seed=seed)
                         for k in Ks]
                sels += [T.Selection(T.random_neurons(k, N, seed, salt=s), "random", seed=seed) for k in Ks]
            t0 = time.time()
            for sel in sels:
                T.check_no_leak(tgt, src, sel)
                clf = train_classifier(src.X, src.y, sel.neurons, tr.classifier())
                acc = T.transfer_accuracy(src, tgt, sel, clf=clf)  # checks fit_on vs the target
                rows.append({"target": t, "source": s, "method": sel.method, "K": sel.K,
                             "seed": -1 if sel.seed is None else sel.seed, "C": clf.C_, "accuracy": acc})
            log.info("table 3: %s -> %s (%d classifiers) in %.0f s", s, t, len(sels), time.time() - t0)
            cells.append((t, s, "ok"))
    long = pd.DataFrame(rows, columns=["target", "source", "method", "K", "seed", "C", "accuracy"])
    status = pd.DataFrame(cells, columns=["target", "source", "status"])
    Ks_shown = sorted({int(k) for k in long[long.method == "singletsns"].K}) or sorted(int(k) for k in cfg.K)
    wide = table3_wide(long, status, Ks_shown)
    meta0 = next(iter(loaded.values())).meta if loaded else {}
    write.table(ctx.store.tables, "table3", long=long, wide=wide,
                markdown=render_table3(wide, Ks_shown, seeds, meta0, targets)
                + classifier_note(tr.classifier(), long["C"]))
    cols = {"last_layer": "last_layer_mean"}
    for k in Ks_shown:
        cols |= {f"singletsns_K{k}": f"singletsns_K{k}_mean", f"random_K{k}": f"random_K{k}_mean"}
    metrics = write.metrics(ctx.store.metrics("table3"), {
        "table3": metrics_from_wide(wide.assign(pair=wide.source + "->" + wide.target), "pair", cols)})
    return {"long": long, "status": status, "wide": wide, "metrics": metrics}


def table3_wide(long: pd.DataFrame, status: pd.DataFrame, Ks: Sequence[int]) -> pd.DataFrame:
    """One row per (target, source): ours (mean, std over seeds) and the paper's numbers, in %."""
    out = []
    for _, c in status.iterrows():
        part = long[(long.target == c.target) & (long.source == c.source)]
        pap = V.TABLE3.get((c.source, c.target))
        row = {"target": c.target, "source": c.source, "status": c.status}
        row["last_layer_mean"], _ = part_mean_std(part, "last_layer")
        row["paper_BERT_1024"] = pap["BERT"] if pap else np.nan
        for k in Ks:
            for method in ("singletsns", "random"):
                row[f"{method}_K{k}_mean"], row[f"{method}_K{k}_std"] = part_mean_std(part, method, int(k))
            row[f"paper_singletsns_K{k}"] = pap["TSNS"].get(int(k), np.nan) if pap else np.nan
        out.append(row)
    return pd.DataFrame(out).round(2)


def render_table3(wide: pd.DataFrame, Ks: Sequence[int], seeds, meta: dict, targets: Mapping[str, str]) -> str:
    ls = meta.get("shape", [0, 0, 0])[1:]
    model = meta.get("model_info", {}).get("resolved", "?")
    parts = ["# Table 3: single-source unsupervised transfer to SciTail and QQP\n"]
    for t, split in targets.items():
        g = wide[wide.target == t]
        parts.append(f"\n## Target: {display_name(t)} ({split} split)\n")
        if len(g) and (g.status == "target").all():
            parts.append(f"\n**{UNAVAILABLE}**: the target {t!r} is not in data.datasets ({unavailable_fix([t])}). "
                         "The paper's numbers:\n")
        head = ["source", f"ours: last layer ({ls[1] if len(ls) > 1 else '?'})", "paper: BERT last layer (1024)"]
        for k in Ks:
            head += [f"ours: SingleTSNS K={k}", f"paper: SingleTSNS K={k}", f"ours: random K={k}"]
        rows = []
        for _, r in g.iterrows():
            ok = r.status == "ok"
            na = "n/a" if not ok else None
            cells = [display_name(r.source), UNAVAILABLE if not ok else cell(r.last_layer_mean), cell(r.paper_BERT_1024)]
            for k in Ks:
                cells += [na or cell(r[f"singletsns_K{k}_mean"], r[f"singletsns_K{k}_std"], n=len(seeds)),
                          cell(r[f"paper_singletsns_K{k}"]),
                          na or cell(r[f"random_K{k}_mean"], r[f"random_K{k}_std"], n=len(seeds))]
            rows.append(cells)
        parts.append(markdown_table(head, rows) + "\n")
    parts.append(
        f"\nAccuracy (%) on the unseen target split of a logistic regression trained on all labelled rows of one "
        f"source, on its top-K SingleTSNS neurons (stage `importance`). **ours**: encoder `{model}`, mean ± std over "
        f"seeds {list(seeds)}; 'random K': K neurons drawn at random (a control). **paper**: Valipour et al. (2019) "
        f"Table 3 (bert-large), for comparison only. '{UNAVAILABLE}' (then 'n/a'): the dataset is not in data.datasets (MNLI and "
        "QQP cannot be downloaded here); the paper's numbers are still shown. K is capped at N.\n")
    return "".join(parts)


