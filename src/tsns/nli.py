"""Transfer to NLI and paraphrase targets: paper Tables 3 and 5 (section 4.4).

* ``transfer_nli`` -- Table 3: single-source transfer. For every target of
  ``nli.targets`` (SciTail's test split, QQP's GLUE dev split) and every source
  of ``nli.sources``: a logistic regression trained on the whole source with the
  top-K SingleTSNS neurons of that source (stage ``importance``), scored on the
  target split; the last-layer [CLS] baseline and the random-K control beside it.
* ``meta_nli@<row>`` -- MultiTSNS of one Table 5 row (``nli.scenarios``: a name
  and its sources) for the budget ``nli.L`` and every budget of
  ``nli.L_sweep``: the budget L is water-filled across the sources for the
  importance learners, the alpha tuning and the final classifier, as in the
  paper. A row with one source is SingleTSNS under the budget
  (:func:`tsns.meta.single_source`).
* ``transfer_nli_multi`` -- Table 5: the final classifier on the budgeted union
  of the row's sources, scored on the first target of ``nli.targets``.

A dataset that is not in ``data.datasets`` (MNLI and QQP, whose files are not
available offline) makes its rows say "data not available"; the rest of the
tables still render. Add it to ``data.datasets`` once its official files are in
``data.mirror`` and ``dvc repro`` fills the rows in.

The target is scored and nothing else: its activations are loaded by the table
stages only, as a :class:`tsns.transfer.HeldOutTarget`, and every selection
carries the checksums of the data that chose it (``fit_on``), which are checked
against the target before any classifier is scored.
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
from .layout import PROCESSED, TABLES, Activations, known, load_importance, table_sha256
from .layout import load_dataset_activations as _load_all
from .report import cell, markdown_table, metrics_from_wide

log = logging.getLogger(__name__)

META_NLI = Path("data/meta_nli")
QCACHE = Path("data/interim/qcache")
METRICS_TABLE3 = Path("reports/metrics_table3.json")
METRICS_TABLE5 = Path("reports/metrics_table5.json")
UNAVAILABLE = "data not available"


def _fix(missing: Sequence[str]) -> str:
    return (f"add {', '.join(missing)} to data.datasets once the official files are in data.mirror, "
            "then run `dvc repro`")


def load_dataset_activations(dataset: str, *, expect: dict | None = None, root: Path = Path("."),
                             split: str | None = None) -> Activations:
    """A dataset's activations (:func:`tsns.layout.load_dataset_activations`), optionally one split only.

    ``split`` keeps the rows of one split (a target's ``test``); None keeps every
    row (a source uses all its labelled rows).
    """
    from . import data as D

    acts = _load_all(dataset, expect=expect, root=root)
    if split is None:
        return acts
    splits = D.read_table(root / PROCESSED / f"{dataset}.parquet")["split"].to_numpy()
    rows = np.flatnonzero(splits == split)
    if not len(rows):
        have = ", ".join(sorted(set(splits)))
        raise ConfigError(f"dataset {dataset!r} has no {split!r} rows (it has: {have}): choose one of those splits")
    return Activations(acts.name, acts.X[rows], acts.y[rows], acts.sha256, acts.layer_shape, acts.meta)


def budgets(L: int | None, L_sweep: Sequence[int]) -> list[int | None]:
    """The budgets a Table 5 row is computed for: ``L`` first, then the sweep (without repeats)."""
    out: list[int | None] = [L]
    for x in L_sweep:
        if x not in out:
            out.append(int(x))
    return out


def _L_code(L: int | None) -> int:
    return -1 if L is None else int(L)


def _L_label(L: int | None) -> str:
    return "all" if L is None else str(int(L))


def check_row(name: str, sources: Sequence[str], targets: Mapping[str, str]) -> tuple[list[str], str]:
    """Validate a Table 5 row; return (sources, target)."""
    if isinstance(sources, str) or not len(sources):
        raise ConfigError(f"nli.scenarios.{name} must be a list of one or more source datasets")
    sources = list(sources)
    if len(set(sources)) != len(sources):
        raise ConfigError(f"nli.scenarios.{name} lists a source twice: list every source once")
    if not targets:
        raise ConfigError("nli.targets is empty: name at least one target, e.g. {scitail: test}")
    target = next(iter(targets))
    for d in sources + [target]:
        known(d)
    if target in sources:
        raise TargetLeakError(f"nli.scenarios.{name}: the target {target!r} is also a source: remove it")
    return sources, target


# --------------------------------------------------------------------------- Table 3
def run_table3(targets: Mapping[str, str], sources: Sequence[str], *, K: Sequence[int], seeds: Sequence[int],
               available: Sequence[str], C: float = 1.0, max_iter: int = 2000, expect: dict | None = None,
               root: Path = Path(".")) -> dict:
    """Stage ``transfer_nli``: Table 3, single-source transfer to every target of ``nli.targets``.

    Parameters
    ----------
    targets : mapping target -> split
        The split of the target that is scored (e.g. ``{"scitail": "test"}``).
    sources : sequence of str
        Table rows; a source equal to the target is skipped ("—", as in the paper).
    K : sequence of int
        Numbers of SingleTSNS / random neurons, capped at N.
    seeds : sequence of int
        Must match the seeds of the importance stage.
    available : sequence of str
        ``data.datasets``: the datasets the pipeline has. Others are "data not available".
    """
    for d in list(targets) + list(sources):
        known(d)
    have = set(available)
    cells = []  # (target, source, status)
    rows = []
    loaded: dict[str, object] = {}

    def acts(d, split=None):
        key = (d, split)
        if key not in loaded:
            loaded[key] = load_dataset_activations(d, expect=expect, root=root, split=split)
        return loaded[key]

    shapes = set()
    for t, split in targets.items():
        if t not in have:
            cells += [(t, s, "target") for s in sources if s != t]
            continue
        ta = acts(t, split)
        shapes.add(ta.layer_shape)
        tgt = T.HeldOutTarget(t, ta.X, ta.y, ta.sha256)
        for s in sources:
            if s == t:
                continue
            if s not in have:
                cells.append((t, s, "source"))
                continue
            sa = acts(s)
            if sa.layer_shape != ta.layer_shape:
                raise TSNSError(f"{s} and {t} were extracted with different models: re-run `dvc repro`")
            ls = sa.layer_shape
            N = ls[0] * ls[1]
            Ks = sorted({min(int(k), N) for k in K})
            arrays, meta = load_importance(s, root=root)
            if meta["activations_sha256"] != sa.meta["array_sha256"]:
                raise TSNSError(f"importance of {s!r} was computed on other activations: "
                                f"re-run `dvc repro importance@{s}`")
            imp_seeds = [int(x) for x in arrays["seeds"]]
            if sorted(imp_seeds) != sorted(int(x) for x in seeds):
                raise TSNSError(f"importance of {s!r} has seeds {imp_seeds}, params say {list(seeds)}: "
                                "re-run `dvc repro`")
            src = T.LabelledSource(s, sa.X, sa.y, sa.sha256)
            sels = [T.Selection(T.layer_neurons(-1, ls), "last_layer")]
            for i, seed in enumerate(imp_seeds):
                sels += [T.Selection(arrays["order"][i][:k], "singletsns", fit_on=tuple(meta["fit_on"]), seed=seed)
                         for k in Ks]
                sels += [T.Selection(T.random_neurons(k, N, seed, salt=s), "random", seed=seed) for k in Ks]
            t0 = time.time()
            for sel in sels:
                acc = T.transfer_accuracy(src, tgt, sel, C=C, max_iter=max_iter)  # checks fit_on vs the target
                rows.append({"target": t, "source": s, "method": sel.method, "K": sel.K,
                             "seed": -1 if sel.seed is None else sel.seed, "accuracy": acc})
            log.info("table 3: %s -> %s (%d classifiers) in %.0f s", s, t, len(sels), time.time() - t0)
            cells.append((t, s, "ok"))
    if len(shapes) > 1:
        raise TSNSError(f"the targets were extracted with different models ({shapes}): re-run `dvc repro`")
    long = pd.DataFrame(rows, columns=["target", "source", "method", "K", "seed", "accuracy"])
    status = pd.DataFrame(cells, columns=["target", "source", "status"])
    Ks_shown = sorted({int(k) for k in long[long.method == "singletsns"].K}) or sorted(int(k) for k in K)
    wide = table3_wide(long, status, Ks_shown)
    with atomic_path(root / TABLES / "table3_long.csv") as tmp:
        long.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(root / TABLES / "table3.csv") as tmp:
        wide.to_csv(tmp, index=False)
    meta0 = next(iter(loaded.values())).meta if loaded else {}
    atomic_write_text(root / TABLES / "table3.md", render_table3(wide, Ks_shown, seeds, meta0, targets))
    cols = {"last_layer": "last_layer_mean"}
    for k in Ks_shown:
        cols |= {f"singletsns_K{k}": f"singletsns_K{k}_mean", f"random_K{k}": f"random_K{k}_mean"}
    metrics = {"table3": metrics_from_wide(wide.assign(pair=wide.source + "->" + wide.target), "pair", cols)}
    atomic_write_json(root / METRICS_TABLE3, metrics)
    return {"long": long, "status": status, "wide": wide, "metrics": metrics}


def _mean_std(long: pd.DataFrame, method: str, K: int | None = None) -> tuple[float, float]:
    part = long[long.method == method]
    if K is not None:
        part = part[part.K == K]
    if not len(part):
        return np.nan, np.nan
    return 100 * float(part.accuracy.mean()), 100 * float(np.std(part.accuracy, ddof=0))


def table3_wide(long: pd.DataFrame, status: pd.DataFrame, Ks: Sequence[int]) -> pd.DataFrame:
    """One row per (target, source): ours (mean, std over seeds) and the paper's numbers, in %."""
    out = []
    for _, c in status.iterrows():
        part = long[(long.target == c.target) & (long.source == c.source)]
        pap = paper.TABLE3.get((c.source, c.target))
        row = {"target": c.target, "source": c.source, "status": c.status}
        row["last_layer_mean"], _ = _mean_std(part, "last_layer")
        row["paper_BERT_1024"] = pap["BERT"] if pap else np.nan
        for k in Ks:
            for method in ("singletsns", "random"):
                row[f"{method}_K{k}_mean"], row[f"{method}_K{k}_std"] = _mean_std(part, method, int(k))
            row[f"paper_singletsns_K{k}"] = pap["TSNS"].get(int(k), np.nan) if pap else np.nan
        out.append(row)
    return pd.DataFrame(out).round(2)


def _name(d: str) -> str:
    return paper.DATASET_NAME.get(d, d)


def render_table3(wide: pd.DataFrame, Ks: Sequence[int], seeds, meta: dict, targets: Mapping[str, str]) -> str:
    ls = meta.get("shape", [0, 0, 0])[1:]
    model = meta.get("model_info", {}).get("resolved", "?")
    parts = ["# Table 3: single-source unsupervised transfer to SciTail and QQP\n"]
    for t, split in targets.items():
        g = wide[wide.target == t]
        parts.append(f"\n## Target: {_name(t)} ({split} split)\n")
        if len(g) and (g.status == "target").all():
            parts.append(f"\n**{UNAVAILABLE}**: the target {t!r} is not in data.datasets ({_fix([t])}). "
                         "The paper's numbers:\n")
        head = ["source", f"ours: last layer ({ls[1] if len(ls) > 1 else '?'})", "paper: BERT last layer (1024)"]
        for k in Ks:
            head += [f"ours: SingleTSNS K={k}", f"paper: SingleTSNS K={k}", f"ours: random K={k}"]
        rows = []
        for _, r in g.iterrows():
            ok = r.status == "ok"
            na = "n/a" if not ok else None
            cells = [_name(r.source), UNAVAILABLE if not ok else cell(r.last_layer_mean), cell(r.paper_BERT_1024)]
            for k in Ks:
                cells += [na or cell(r[f"singletsns_K{k}_mean"], r[f"singletsns_K{k}_std"]),
                          cell(r[f"paper_singletsns_K{k}"]),
                          na or cell(r[f"random_K{k}_mean"], r[f"random_K{k}_std"])]
            rows.append(cells)
        parts.append(markdown_table(head, rows) + "\n")
    parts.append(
        f"\nAccuracy (%) on the unseen target split of a logistic regression trained on all labelled rows of one "
        f"source, on its top-K SingleTSNS neurons (stage `importance`). **ours**: encoder `{model}`, mean ± std over "
        f"seeds {list(seeds)}; 'random K': K neurons drawn at random (a control). **paper**: Valipour et al. (2019) "
        f"Table 3 (bert-large), for comparison only. '{UNAVAILABLE}' (then 'n/a'): the dataset is not in data.datasets (MNLI and "
        "QQP cannot be downloaded here); the paper's numbers are still shown. K is capped at N.\n")
    return "".join(parts)


# --------------------------------------------------------------------------- meta_nli (Table 5 selection)
def run_meta_nli(name: str, sources: Sequence[str], *, targets: Mapping[str, str], available: Sequence[str],
                 seeds: Sequence[int], L: int | None, L_sweep: Sequence[int], tune_K: int, pairing: str, J: int,
                 beta: float, gamma: float, alpha_grid: Sequence[float], eps: float, scaling: str,
                 params: ForestParams, C: float, n_jobs: int = -1, expect: dict | None = None,
                 root: Path = Path(".")) -> dict:
    """Stage ``meta_nli@<name>``: MultiTSNS (or budgeted SingleTSNS) of one Table 5 row, every budget and seed.

    Writes ``data/meta_nli/<name>.npz`` with ``L`` (B,) (-1 = all rows),
    ``seeds`` (S,), ``order`` (B, S, N) -- neurons by decreasing h --,
    ``h`` (B, S, N) and ``alphas`` (B, S, P), and a JSON sidecar. When a
    source or the target is not in ``available``, the npz holds no arrays but
    ``L`` and ``seeds`` and the sidecar says ``"available": false``.
    """
    from .meta import QCache, multitsns, single_source

    t0 = time.time()
    sources, target = check_row(name, sources, targets)
    Ls = budgets(L, L_sweep)
    out = root / META_NLI / f"{name}.npz"
    missing = [d for d in sources + [target] if d not in set(available)]
    base = {"scenario": name, "sources": sources, "target": target, "L": [_L_code(x) for x in Ls],
            "seeds": list(seeds)}
    if missing:
        sha = atomic_savez(out, L=np.array([_L_code(x) for x in Ls]), seeds=np.asarray(list(seeds)))
        meta = {**base, "available": False, "missing": missing, "fit_on": [], "npz_sha256": sha}
        atomic_write_json(out.with_suffix(".json"), meta)
        log.info("%s: %s (%s)", name, UNAVAILABLE, ", ".join(missing))
        return meta
    acts = {d: load_dataset_activations(d, expect=expect, root=root) for d in sources}
    if len({a.layer_shape for a in acts.values()}) != 1:
        raise TSNSError(f"row {name}: sources were extracted with different models: re-run `dvc repro`")
    N = acts[sources[0]].X.shape[1]
    tsha = table_sha256(target, root)  # the target's checksum only, to refuse overlap; its data is never read
    if tsha in {a.sha256 for a in acts.values()}:
        raise TargetLeakError(f"row {name}: the target {target!r} has the same data as a source")
    src = {d: T.LabelledSource(d, a.X, a.y, a.sha256) for d, a in acts.items()}
    tune_K = min(int(tune_K), N)
    cache = QCache(root / QCACHE)
    fields: dict[str, list] = {k: [] for k in ("order", "h", "alphas")}
    chosen, fit_on, learners = {}, set(), None
    for Lb in Ls:
        per: dict[str, list] = {k: [] for k in fields}
        for s in seeds:
            if len(sources) == 1:
                res = single_source(src, K=tune_K, J=J, beta=beta, eps=eps, params=params, L=Lb, random_state=int(s),
                                    n_jobs=n_jobs, cache=cache)
            else:
                res = multitsns(src, K=tune_K, pairing=pairing, J=J, beta=beta, gamma=gamma, alpha_grid=alpha_grid,
                                eps=eps, scaling=scaling, params=params, L=Lb, C=C, random_state=int(s),
                                n_jobs=n_jobs, cache=cache)
            log.info("%s L=%s seed %s: alphas %s", name, _L_label(Lb), s, res.alphas.tolist())
            per["order"].append(order(res.h))
            per["h"].append(res.h)
            per["alphas"].append(res.alphas)
            chosen[f"L{_L_label(Lb)}_seed{s}"] = res.alphas.tolist()
            fit_on |= set(res.fit_on)
            learners = res.learners
        for k in fields:
            fields[k].append(np.stack(per[k]))
    arrays = {k: np.stack(v) for k, v in fields.items()}
    sha = atomic_savez(out, L=np.array([_L_code(x) for x in Ls]), seeds=np.asarray(list(seeds)), **arrays)
    meta = {**base, "available": True, "fit_on": sorted(fit_on),
            "learners": [[list(a), list(b)] for a, b in learners], "chosen_alphas": chosen,
            "N": N, "layer_shape": list(acts[sources[0]].layer_shape), "tune_K": tune_K,
            "activations_sha256": {d: a.meta["array_sha256"] for d, a in acts.items()},
            "params": {"pairing": pairing if len(sources) > 1 else "single", "J": J, "beta": beta, "gamma": gamma,
                       "alpha_grid": list(alpha_grid), "eps": eps, "scaling": scaling, "C": C, **params.__dict__},
            "qcache": {"hits": cache.hits, "misses": cache.misses}, "npz_sha256": sha,
            "seconds": round(time.time() - t0, 1)}
    atomic_write_json(out.with_suffix(".json"), meta)
    return meta


def load_meta_nli(name: str, root: Path = Path(".")) -> tuple[dict, dict]:
    return load_checked_npz(root / META_NLI / f"{name}.npz", f"MultiTSNS of Table 5 row {name!r}", f"dvc repro meta_nli@{name}")


# --------------------------------------------------------------------------- Table 5
def run_table5(scenarios: Mapping[str, Sequence[str]], *, targets: Mapping[str, str], K: Sequence[int],
               seeds: Sequence[int], L: int | None, L_sweep: Sequence[int], sweep_K: int, C: float = 1.0,
               max_iter: int = 2000, expect: dict | None = None, root: Path = Path(".")) -> dict:
    """Stage ``transfer_nli_multi``: Table 5, multi-source transfer to the first target under budgets."""
    from .multisource import union_rows

    Ls = budgets(L, L_sweep)
    rows, status = [], []
    loaded: dict[str, object] = {}
    tgt = None
    meta0: dict = {}
    N = None
    for name, srcs in scenarios.items():
        sources, target = check_row(name, srcs, targets)
        arrays, meta = load_meta_nli(name, root)
        if [int(x) for x in arrays["L"]] != [_L_code(x) for x in Ls]:
            raise TSNSError(f"Table 5 row {name} was computed for budgets {arrays['L'].tolist()}, params say "
                            f"{[_L_code(x) for x in Ls]}: re-run `dvc repro`")
        if sorted(int(x) for x in arrays["seeds"]) != sorted(int(x) for x in seeds):
            raise TSNSError(f"Table 5 row {name} has seeds {arrays['seeds'].tolist()}, params say {list(seeds)}: "
                            "re-run `dvc repro`")
        if not meta["available"]:
            status.append((name, "unavailable", ", ".join(meta["missing"])))
            continue
        for d in sources + [target]:
            if d not in loaded:
                loaded[d] = load_dataset_activations(d, expect=expect, root=root,
                                                     split=targets[target] if d == target else None)
        if tgt is None:
            ta = loaded[target]
            tgt = T.HeldOutTarget(target, ta.X, ta.y, ta.sha256)
            meta0 = ta.meta
        for d in sources:
            if meta["activations_sha256"][d] != loaded[d].meta["array_sha256"]:
                raise TSNSError(f"Table 5 row {name} used other activations of {d}: re-run `dvc repro`")
            if loaded[d].sha256 == tgt.sha256:
                raise TargetLeakError(f"Table 5 row {name}: the target is one of its sources")
        ls = tuple(meta["layer_shape"])
        N = ls[0] * ls[1]
        Ks = sorted({min(int(k), N) for k in K})
        kS = min(int(sweep_K), N)
        src_sha = "+".join(sorted(loaded[d].sha256 for d in sources))
        t0 = time.time()
        for b, Lb in enumerate(Ls):
            for i, s in enumerate(int(x) for x in arrays["seeds"]):
                X, y = union_rows(loaded, sources, Lb, s)
                pooled = T.LabelledSource("+".join(sources), X, y, src_sha)
                o = arrays["order"][b][i]
                if b == 0:
                    sels = [T.Selection(o[:k], "multitsns", fit_on=tuple(meta["fit_on"]), seed=s) for k in Ks]
                    sels += [T.Selection(T.random_neurons(k, N, s, salt=name), "random", seed=s) for k in Ks]
                    sels.append(T.Selection(T.layer_neurons(-1, ls), "last_layer", seed=s))
                else:
                    sels = [T.Selection(o[:kS], "multitsns", fit_on=tuple(meta["fit_on"]), seed=s)]
                for sel in sels:
                    acc = T.transfer_accuracy(pooled, tgt, sel, C=C, max_iter=max_iter)  # checks fit_on
                    rows.append({"scenario": name, "target": target, "L": _L_code(Lb), "method": sel.method,
                                 "K": sel.K, "seed": s, "accuracy": acc, "n_train": len(y)})
        log.info("table 5: %s in %.0f s", name, time.time() - t0)
        status.append((name, "ok", ""))
    long = pd.DataFrame(rows, columns=["scenario", "target", "L", "method", "K", "seed", "accuracy", "n_train"])
    st = pd.DataFrame(status, columns=["scenario", "status", "missing"])
    Ks_shown = sorted({int(k) for k in long[(long.method == "multitsns") & (long.L == _L_code(L))].K}) \
        or sorted(int(k) for k in K)
    kS = min(int(sweep_K), N) if N else int(sweep_K)
    single = _single_reference(scenarios, next(iter(targets)), kS, root)
    wide = table5_wide(long, st, Ks_shown, Ls, kS, single)
    with atomic_path(root / TABLES / "table5_long.csv") as tmp:
        long.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(root / TABLES / "table5.csv") as tmp:
        wide.to_csv(tmp, index=False)
    atomic_write_text(root / TABLES / "table5.md",
                      render_table5(wide, Ks_shown, Ls, kS, seeds, meta0, next(iter(targets)), targets,
                                    {d: len(a.y) for d, a in loaded.items() if d != next(iter(targets))}))
    cols = {"last_layer": "last_layer_mean"}
    for k in Ks_shown:
        cols |= {f"multitsns_K{k}": f"multitsns_K{k}_mean", f"random_K{k}": f"random_K{k}_mean"}
    cols |= {f"multitsns_K{kS}_L{_L_label(Lb)}": f"sweep_L{_L_label(Lb)}_mean" for Lb in Ls[1:]}
    metrics = {"table5": metrics_from_wide(wide, "scenario", cols)}
    atomic_write_json(root / METRICS_TABLE5, metrics)
    return {"long": long, "status": st, "wide": wide, "metrics": metrics}


def _single_reference(scenarios: Mapping[str, Sequence[str]], target: str, K: int, root: Path) -> dict:
    """Our Table 3 SingleTSNS accuracy at K from each of a row's sources: {name: (mean over sources, best)}."""
    path = root / TABLES / "table3_long.csv"
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
    main = _L_code(Ls[0])
    for _, st in status.iterrows():
        name = st.scenario
        part = long[long.scenario == name]
        pm = part[part.L == main]
        pap = paper.TABLE5.get(name)
        row = {"scenario": name, "status": st.status, "missing": st.missing, "in_paper": pap is not None}
        row["last_layer_mean"], row["last_layer_std"] = _mean_std(pm, "last_layer")
        row["paper_BERT_1024"] = pap["BERT"] if pap else np.nan
        for k in Ks:
            for method in ("multitsns", "random"):
                row[f"{method}_K{k}_mean"], row[f"{method}_K{k}_std"] = _mean_std(pm, method, int(k))
            row[f"paper_multitsns_K{k}"] = pap["TSNS"].get(int(k), np.nan) if pap else np.nan
        for Lb in Ls[1:]:
            row[f"sweep_L{_L_label(Lb)}_mean"], row[f"sweep_L{_L_label(Lb)}_std"] = _mean_std(
                part[part.L == _L_code(Lb)], "multitsns", kS)
        for Lp, v in (pap or {}).get("sweep", {}).items():
            row[f"paper_sweep_L{Lp}"] = v
        ref = single.get(name)
        row["single_mean"], row["single_best"] = ref if ref else (np.nan, np.nan)
        out.append(row)
    return pd.DataFrame(out).round(2)


def render_table5(wide: pd.DataFrame, Ks: Sequence[int], Ls: Sequence[int | None], kS: int, seeds, meta: dict,
                  target: str, targets: Mapping[str, str], n_rows: Mapping[str, int]) -> str:
    sizes = ", ".join(f"{_name(d)} {n:,} labelled rows" for d, n in n_rows.items()) or "none available"
    ls = meta.get("shape", [0, 0, 0])[1:]
    model = meta.get("model_info", {}).get("resolved", "?")
    main = _L_label(Ls[0])
    head = ["sources", f"ours: last layer ({ls[1] if len(ls) > 1 else '?'}), L={main}",
            "paper: BERT (1024), L=2E5"]
    for k in Ks:
        head += [f"ours: MultiTSNS K={k}, L={main}", f"paper: K={k}, L=2E5", f"ours: random K={k}"]
    head += [f"ours: SingleTSNS K={kS}, mean of the sources (best)"]
    head += [f"ours: K={kS}, L={_L_label(Lb)}" for Lb in Ls[1:]]
    head += [f"paper: K={kS}, L={Lp}" for Lp in paper.TABLE5_SWEEP]
    rows = []
    for _, r in wide.iterrows():
        ok = r.status == "ok"
        na = "n/a" if not ok else None
        label = r.scenario + ("" if r.in_paper else " (not in the paper)")
        cells = [label, f"{UNAVAILABLE} ({r.missing})" if not ok else cell(r.last_layer_mean, r.last_layer_std),
                 cell(r.paper_BERT_1024)]
        for k in Ks:
            cells += [na or cell(r[f"multitsns_K{k}_mean"], r[f"multitsns_K{k}_std"]),
                      cell(r[f"paper_multitsns_K{k}"]), na or cell(r[f"random_K{k}_mean"], r[f"random_K{k}_std"])]
        cells.append(na or ("-" if np.isnan(r.single_mean) else f"{r.single_mean:.1f} ({r.single_best:.1f})"))
        cells += [na or cell(r[f"sweep_L{_L_label(Lb)}_mean"], r[f"sweep_L{_L_label(Lb)}_std"]) for Lb in Ls[1:]]
        cells += [cell(r.get(f"paper_sweep_L{Lp}", np.nan)) for Lp in paper.TABLE5_SWEEP]
        rows.append(cells)
    note = (
        f"\n\nAccuracy (%) on the unseen {_name(target)} {targets[target]} split of a logistic regression trained on "
        f"a budget of L source rows, water-filled across the row's sources (the same budget bounds the importance "
        f"learners and the alpha tuning). **ours**: encoder `{model}`, mean ± std over seeds {list(seeds)}; MultiTSNS "
        "with leave-one-source-out learners (a one-source row is SingleTSNS under the budget, alpha = 1); 'random K': "
        "K random neurons on the same rows (a control); 'SingleTSNS ... mean of the sources (best)': our Table 3 "
        "accuracy from each source alone (all its rows). Our budgets are far smaller than the paper's (2E4-3E5) because "
        f"our sources are ({sizes}); the sweep columns are matched by position, not by size. **paper**: Valipour et al. (2019) Table 5 (bert-large), for "
        f"comparison only. '{UNAVAILABLE}' (then 'n/a'): a source is not in data.datasets (MNLI and QQP cannot be downloaded "
        "here); the paper's numbers are still shown. K is capped at N.\n")
    return f"# Table 5: multi-source unsupervised transfer to {_name(target)}\n\n" + markdown_table(head, rows) + note
