"""Multi-source stages: ``meta_aggregate`` (MultiTSNS per scenario) and ``transfer_multi`` (Table 4).

A *scenario* (``params.yaml: meta.scenarios``) names M source datasets and one
target, e.g. ``DEK-B: {sources: [dvd, electronics, kitchen], target: books}``.

* ``meta_aggregate@<scenario>`` runs :func:`tsns.meta.multitsns` on the sources
  only -- the target's activations are never loaded -- for every seed and K,
  and writes ``data/meta/<scenario>.npz`` (the ranking by h, h, per-learner
  ranks and chosen alphas) with a JSON sidecar whose ``fit_on`` lists the
  checksums of every source used. Learner importances q are kept in a
  content-addressed cache (``data/interim/qcache``): learners with the same
  training sources (e.g. {D, E} serves DEK->B and BDE->K) are computed once.
* ``transfer_multi`` trains the final logistic regression on the union of the
  scenario's sources (the top-K neurons by h) and scores it on the target, with
  the last-layer [CLS] baseline and the random-K control, and renders Table 4
  beside the paper's numbers and beside our single-source results (Table 2).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import paper
from . import transfer as T
from .errors import ConfigError, TargetLeakError, TSNSError
from .importance import ForestParams, order
from .io import atomic_path, atomic_savez, atomic_write_json, atomic_write_text, load_checked_npz
from .layout import TABLES, known, load_dataset_activations, table_sha256
from .report import cell, markdown_table

log = logging.getLogger(__name__)

META = Path("data/meta")
QCACHE = Path("data/interim/qcache")
METRICS_MULTI = Path("reports/metrics_multi.json")


def check_scenario(name: str, scenario: Mapping) -> tuple[list[str], str]:
    """Validate a scenario mapping; return (sources, target)."""
    if not isinstance(scenario, Mapping) or set(scenario) != {"sources", "target"}:
        raise ConfigError(f"meta.scenarios.{name} must have exactly the keys 'sources' (a list) and 'target'")
    sources, target = list(scenario["sources"]), scenario["target"]
    for d in sources + [target]:
        known(d)
    if len(sources) < 2 or len(set(sources)) != len(sources):
        raise ConfigError(f"meta.scenarios.{name}: list two or more distinct sources")
    if target in sources:
        raise TargetLeakError(f"meta.scenarios.{name}: the target {target!r} is also a source: remove it from sources")
    return sources, target


# --------------------------------------------------------------------------- meta_aggregate
def run_meta(name: str, scenario: Mapping, *, seeds: Sequence[int], tune_K: int, pairing: str, J: int,
             beta: float, gamma: float, alpha_grid: Sequence[float], eps: float, scaling: str,
             params: ForestParams, L: int | None, C: float, n_jobs: int = -1, expect: dict | None = None,
             root: Path = Path(".")) -> dict:
    """Stage ``meta_aggregate``: MultiTSNS of one scenario for every seed.

    Each learner tunes alpha with the top ``tune_K`` neurons (the paper does not
    say at which K alpha is tuned; one K keeps the cost independent of the
    number of K reported). The meta-importance h, hence the ranking, does not
    depend on K after that, so the top-K set of every K is a prefix of ``order``.

    Writes ``data/meta/<name>.npz`` with ``order`` (S, N) -- neurons by
    decreasing h --, ``h`` (S, N), ``ranks`` (S, P, N), ``alphas`` (S, P),
    ``tuning`` (S, P, A) and ``seeds`` (S,).
    """
    from .meta import QCache, multitsns

    t0 = time.time()
    sources, target = check_scenario(name, scenario)
    acts = {d: load_dataset_activations(d, expect=expect, root=root) for d in sources}
    shapes = {a.layer_shape for a in acts.values()}
    if len(shapes) != 1:
        raise TSNSError(f"scenario {name}: sources were extracted with different models: re-run `dvc repro`")
    N = acts[sources[0]].X.shape[1]
    tsha = table_sha256(target, root)  # the target's checksum only, to refuse overlap; its data is never read
    if tsha in {a.sha256 for a in acts.values()}:
        raise TargetLeakError(f"scenario {name}: the target {target!r} has the same data as a source")
    src = {d: T.LabelledSource(d, a.X, a.y, a.sha256) for d, a in acts.items()}
    tune_K = min(int(tune_K), N)
    cache = QCache(root / QCACHE)
    fields: dict[str, list] = {k: [] for k in ("order", "h", "ranks", "alphas", "tuning")}
    for s in seeds:
        res = multitsns(src, K=tune_K, pairing=pairing, J=J, beta=beta, gamma=gamma, alpha_grid=alpha_grid, eps=eps,
                        scaling=scaling, params=params, L=L, C=C, random_state=int(s), n_jobs=n_jobs, cache=cache)
        log.info("%s seed %s: alphas %s", name, s, res.alphas.tolist())
        for k, v in (("order", order(res.h)), ("h", res.h), ("ranks", res.ranks), ("alphas", res.alphas),
                     ("tuning", res.tuning)):
            fields[k].append(v)
    arrays = {k: np.stack(v) for k, v in fields.items()}
    out = root / META / f"{name}.npz"
    sha = atomic_savez(out, seeds=np.asarray(list(seeds)), **arrays)
    meta = {"scenario": name, "sources": sources, "target": target, "fit_on": list(res.fit_on),
            "learners": [[list(a), list(b)] for a, b in res.learners],
            "alpha_grid": list(map(float, res.alpha_grid)),
            "chosen_alphas": {f"seed{s}": arrays["alphas"][i].tolist() for i, s in enumerate(seeds)},
            "N": N, "layer_shape": list(acts[sources[0]].layer_shape), "seeds": list(seeds), "tune_K": tune_K,
            "activations_sha256": {d: a.meta["array_sha256"] for d, a in acts.items()},
            "params": {"pairing": pairing, "J": J, "beta": beta, "gamma": gamma, "eps": eps, "scaling": scaling,
                       "L": L, "C": C, **params.__dict__},
            "qcache": {"hits": cache.hits, "misses": cache.misses}, "npz_sha256": sha,
            "seconds": round(time.time() - t0, 1)}
    atomic_write_json(out.with_suffix(".json"), meta)
    return meta


def load_meta(name: str, root: Path = Path(".")) -> tuple[dict, dict]:
    return load_checked_npz(root / META / f"{name}.npz", f"MultiTSNS of scenario {name!r}", f"dvc repro meta_aggregate@{name}")


# --------------------------------------------------------------------------- transfer_multi (Table 4)
def union_rows(acts: Mapping, names: Sequence[str], L: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The final classifier's training rows: L rows water-filled across ``names`` (all rows when L is None)."""
    from .waterfill import draw_allocation

    rows = draw_allocation({n: len(acts[n].y) for n in names}, L, seed, purpose="final")
    X = np.concatenate([acts[n].X[rows[n]] for n in names])
    y = np.concatenate([acts[n].y[rows[n]] for n in names])
    return X, y


def run_table4(scenarios: Mapping[str, Mapping], *, K: Sequence[int], seeds: Sequence[int], L: int | None = None,
               C: float = 1.0,
               max_iter: int = 2000, expect: dict | None = None, root: Path = Path(".")) -> dict:
    """Stage ``transfer_multi``: Table 4 (MultiTSNS, last layer, random K) for every scenario."""
    rows = []
    needed = sorted({d for sc in scenarios.values() for d in list(sc["sources"]) + [sc["target"]]})
    acts = {d: load_dataset_activations(d, expect=expect, root=root) for d in needed}
    for name, sc in scenarios.items():
        sources, target = check_scenario(name, sc)
        arrays, meta = load_meta(name, root)
        for d in sources:
            if meta["activations_sha256"][d] != acts[d].meta["array_sha256"]:
                raise TSNSError(f"MultiTSNS of {name} used other activations of {d}: re-run `dvc repro`")
        ls = tuple(meta["layer_shape"])
        N = ls[0] * ls[1]
        tgt = T.HeldOutTarget(target, acts[target].X, acts[target].y, acts[target].sha256)
        # one pooled "source" per scenario: its checksum is the set of its parts
        src_sha = "+".join(sorted(acts[d].sha256 for d in sources))
        if tgt.sha256 in {acts[d].sha256 for d in sources}:
            raise TargetLeakError(f"scenario {name}: the target is one of its sources")
        Ks = sorted({min(int(k), N) for k in K})
        if sorted(int(x) for x in arrays["seeds"]) != sorted(int(x) for x in seeds):
            raise TSNSError(f"MultiTSNS of {name} has seeds {arrays['seeds'].tolist()}, params say {list(seeds)}: "
                            "re-run `dvc repro`")
        for i, s in enumerate(int(x) for x in arrays["seeds"]):
            X, y = union_rows(acts, sources, L, s)
            pooled = T.LabelledSource("+".join(sources), X, y, src_sha)
            sels = [T.Selection(arrays["order"][i][:k], "multitsns", fit_on=tuple(meta["fit_on"]), seed=s) for k in Ks]
            sels += [T.Selection(T.random_neurons(k, N, s, salt=name), "random", seed=s) for k in Ks]
            if i == 0:
                sels.append(T.Selection(T.layer_neurons(-1, ls), "last_layer"))
            for sel in sels:
                acc = T.transfer_accuracy(pooled, tgt, sel, C=C, max_iter=max_iter)
                rows.append({"scenario": name, "target": target, "method": sel.method, "K": sel.K,
                             "seed": -1 if sel.seed is None else sel.seed, "accuracy": acc})
    long = pd.DataFrame(rows)
    summary = T.summarize(long, keys=("scenario", "target"))
    single = _single_source_reference(scenarios, root)
    with atomic_path(root / TABLES / "table4_long.csv") as tmp:
        long.to_csv(tmp, index=False, float_format="%.4f")
    wide = _table4_wide(summary, single)
    with atomic_path(root / TABLES / "table4.csv") as tmp:
        wide.to_csv(tmp, index=False)
    Ks = sorted(int(k) for k in set(long[long.method == "multitsns"].K))
    atomic_write_text(root / TABLES / "table4.md", _render_table4(wide, Ks, seeds, acts[needed[0]].meta))
    metrics = {"table4_average": {
        (r.method if r.method == "last_layer" else f"{r.method}_K{int(r.K)}"):
            {"mean": round(float(r["mean"]), 4), "std": round(float(r["std"]), 4)}
        for _, r in summary[summary.scenario == "Average"].iterrows()}}
    atomic_write_json(root / METRICS_MULTI, metrics)
    return {"long": long, "summary": summary, "wide": wide, "metrics": metrics}


def _single_source_reference(scenarios: Mapping, root: Path) -> dict:
    """Our SingleTSNS accuracy (Table 2) on each scenario's target, averaged over its sources: {(scenario, K): %}."""
    path = root / TABLES / "table2_long.csv"
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
        pap = paper.TABLE4.get(key)
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
                 f"ours: SingleTSNS K={K}, mean of the sources (best)"]
    rows = []
    for _, r in wide.iterrows():
        cells = ["**Average**" if r.scenario == "Average" else r.scenario.replace("-", "->"),
                 cell(r.last_layer_mean), cell(r.paper_BERT_1024)]
        for K in Ks:
            single = r.get(f"single_avg_K{K}", np.nan)
            best = r.get(f"single_best_K{K}", np.nan)
            cells += [cell(r[f"multitsns_K{K}_mean"], r[f"multitsns_K{K}_std"]), cell(r[f"paper_multitsns_K{K}"]),
                      cell(r[f"random_K{K}_mean"], r[f"random_K{K}_std"]),
                      "-" if np.isnan(single) else f"{single:.1f} ({best:.1f})"]
        rows.append(cells)
    note = (
        f"\n\nAccuracy (%) on the unseen target of a logistic regression trained on the union of the scenario's "
        f"sources (Amazon multi-domain sentiment). **ours**: encoder `{model}`, mean ± std over seeds {list(seeds)}; "
        "MultiTSNS with leave-one-source-out learners, alpha tuned on a gamma sample of the held-out source. "
        "**paper**: Valipour et al. (2019) Table 4 (bert-large), for comparison only. 'SingleTSNS ... mean of the "
        "sources (best)': our Table 2 accuracy on the same target from each single source at the same K, averaged "
        "over the three sources (best source in brackets); '-' where Table 2 has no such K. K is capped at N.\n")
    return "# Table 4: multi-source unsupervised transfer (Amazon)\n\n" + markdown_table(head, rows) + note
