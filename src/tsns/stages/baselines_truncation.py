"""Stage ``baselines``, part 2: head, tail and head+tail truncation of a long-text source (IMDB).

The source is extracted with each truncation (the main activations, or a variant
``baselines.variant_name``) and scored (a) in-domain, train split -> test split
(the blog's setting), and (b) as a transfer source, all rows -> every target;
with the last layer, all layers and SingleTSNS top-K fitted on the training rows only.
"""
from __future__ import annotations

import logging
import time
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..config.extract import TRUNCATIONS
from ..config.importance import ImportanceConfig
from ..errors import ConfigError, TargetLeakError, TSNSError
from ..method import transfer as T
from ..method.classifier import ClassifierParams, train_classifier
from ..method.representations import represent
from ..method.single import aggregate, importance_matrix, top_k
from ..method.stats import mean_std
from ..render import cell, encoder_name, markdown_table, metrics_from_wide, classifier_note
from ..store import load, write
from ..store.load import Activations
from ..store.paths import Store

log = logging.getLogger(__name__)

#: the representations of the truncation ablation (SingleTSNS top-K is added beside them)
TRUNCATION_METHODS = ("last_layer", "all_layers", "singletsns")


def layers_of(acts: Activations) -> np.ndarray:
    """(n, n_layers, hidden) view of flattened activations."""
    return acts.X.reshape(len(acts.X), *acts.layer_shape)


def _changed_share(A: np.ndarray, H: np.ndarray) -> float:
    """Share of rows whose last-layer vector differs from the head-truncated one.

    ``A``, ``H`` : arrays, shape (n, hidden). Texts within the token budget give
    the same tokens under every truncation, hence (nearly) identical rows.
    """
    same = np.isclose(A, H, rtol=1e-3, atol=1e-3).all(axis=1)
    return float(1.0 - same.mean())


def run_truncation(store: Store, source: str, targets: Sequence[str], truncations: Sequence[str] = TRUNCATIONS, *,
                   variant_name: str = "{dataset}-{truncation}", K: int, seeds: Sequence[int],
                   importance: ImportanceConfig, classifier: ClassifierParams = ClassifierParams(),
                   expect: dict | None = None) -> dict:
    """Stage ``baselines`` (part 2): head, tail and head+tail truncation of a long-text source.

    For every truncation, the source's activations are the main ones when the
    main pipeline used that truncation (``meta["config"]["truncation"]`` of
    ``data/activations/<source>.json``), else the variant
    ``variant_name.format(dataset=source, truncation=tr)``. Then:

    (a) in-domain: train on the source's ``train`` split, score on its ``test`` split;
    (b) transfer: train on all source rows, score on every target (main activations, all rows).

    Representations: the last layer, all layers and SingleTSNS top-K (the ``importance`` settings,
    fitted on the training rows only, one fit per seed).

    Parameters
    ----------
    source : str
        A dataset with ``train`` and ``test`` splits (IMDB).
    targets : sequence of str
        Transfer targets (e.g. the Amazon domains and sst2); never the source.
    truncations : sequence of {"head", "tail", "head+tail"}
    K : int
        SingleTSNS neurons (capped at N).
    seeds : sequence of int
    importance : ImportanceConfig
        SingleTSNS settings (J, beta, alpha, eps, scaling and the learner of q).
    store : where the inputs are read and ``reports/tables/truncation.{md,csv}`` written.

    Returns
    -------
    dict
        ``long`` (truncation, setting, target, method, K, seed, accuracy in [0, 1]),
        ``wide`` (one row per truncation, %), ``detail`` (per target, %), ``metrics``.
    """
    from tqdm import tqdm

    load.known(source)
    targets = list(targets)
    for t in targets:
        load.known(t)
    if source in targets:
        raise TargetLeakError(f"baselines.truncation_targets lists the source {source!r}: remove it")
    truncations = list(truncations)
    if not truncations or len(set(truncations)) != len(truncations):
        raise ConfigError(f"baselines.truncations={truncations} must list one or more truncations, each once")
    base_expect = {k: v for k, v in (expect or {}).items() if k != "truncation"}
    main = load.activations(store, source, expect=base_expect)
    main_tr = main.meta.get("config", {}).get("truncation", "head")
    splits = load.table(store, source)["split"].to_numpy()
    train, test = np.flatnonzero(splits == "train"), np.flatnonzero(splits == "test")
    if not len(train) or not len(test):
        have = ", ".join(sorted(set(splits)))
        raise ConfigError(f"the truncation source {source!r} needs train and test splits (it has: {have}): "
                          "choose a source such as imdb")
    tgt_acts = {t: load.activations(store, t, expect=expect) for t in targets}
    ls = load.same_shape([main, *tgt_acts.values()], f"{source} and its targets")
    N = ls[0] * ls[1]
    K_eff = min(int(K), N)
    sha = main.sha256
    train_sha, test_sha = f"{sha}:train", f"{sha}:test"

    def source_acts(tr: str) -> tuple[Activations, str]:
        if tr == main_tr:
            return main, f"data/activations/{source}.npy"
        name = variant_name.format(dataset=source, truncation=tr)
        return (load.variant(store, name, source, expect={**base_expect, "truncation": tr}),
                f"data/variants/{name}.npy")

    head_last = None
    if "head" == main_tr:
        head_last = layers_of(main)[:, -1, :]
    elif "head" in truncations:
        head_last = layers_of(source_acts("head")[0])[:, -1, :]

    rows, info = [], {}
    for tr in truncations:
        t0 = time.time()
        acts, where = source_acts(tr)
        if acts.layer_shape != ls:
            raise TSNSError(f"{where} was extracted with another model than the main activations: re-run `dvc repro`")
        A = layers_of(acts)
        info[tr] = {"activations": where, "head_fraction": acts.meta.get("config", {}).get("head_fraction"),
                    "changed": None if head_last is None else _changed_share(A[:, -1, :], head_last)}
        y = acts.y
        feats = {rep: represent(A, rep) for rep in ("last_layer", "all_layers")}
        X_all = feats["all_layers"]
        # (selection, training rows, source, held-out targets, setting)
        settings = {
            "in_domain": (T.LabelledSource(f"{source}:train", X_all[train], y[train], train_sha),
                          {f"{source} test": T.HeldOutTarget(f"{source}:test", X_all[test], y[test], test_sha)}),
            "transfer": (T.LabelledSource(source, X_all, y, sha),
                         {t: T.HeldOutTarget(t, a.X, a.y, a.sha256) for t, a in tgt_acts.items()}),
        }
        jobs = []
        for setting, (src, tgts) in settings.items():
            jobs.append((setting, src, tgts, T.Selection(T.layer_neurons(-1, ls), "last_layer")))
            jobs.append((setting, src, tgts, T.Selection(np.arange(N), "all_layers")))
            for s in seeds:
                jobs.append((setting, src, tgts, ("singletsns", int(s))))
        for setting, src, tgts, sel in tqdm(jobs, desc=f"truncation {tr}", unit="clf", mininterval=5):
            if isinstance(sel, tuple):  # SingleTSNS: fit on the training rows of this setting only
                seed = sel[1]
                q = importance_matrix(src.X, src.y, J=importance.J, beta=importance.beta, params=importance,
                                      random_state=seed, n_jobs=importance.n_jobs)
                m = aggregate(q, alpha=importance.alpha, eps=importance.eps, scaling=importance.scaling)
                sel = T.Selection(top_k(m, K_eff), "singletsns", fit_on=(src.sha256,), seed=seed)
            for tgt in tgts.values():
                T.check_no_leak(tgt, src, sel)
            clf = train_classifier(src.X, src.y, sel.neurons, classifier)
            for tname, tgt in tgts.items():
                rows.append({"truncation": tr, "setting": setting, "target": tname, "method": sel.method,
                             "K": sel.K, "seed": -1 if sel.seed is None else sel.seed, "C": clf.C_,
                             "accuracy": T.transfer_accuracy(src, tgt, sel, clf=clf)})
        log.info("truncation %s: %d classifiers in %.0f s", tr, len(jobs), time.time() - t0)
    long = pd.DataFrame(rows, columns=["truncation", "setting", "target", "method", "K", "seed", "C", "accuracy"])
    wide, detail = truncation_wide(long, truncations, info)
    md = render_truncation(wide, detail, source=source, targets=targets, K=K_eff, seeds=seeds, meta=main.meta,
                           n_train=len(train), n_test=len(test), main_tr=main_tr) + classifier_note(classifier, long["C"])
    write.table(store.tables, "truncation", wide=wide, markdown=md)
    cols = {f"{setting}_{m}": f"{setting}_{m}_mean" for setting in ("in_domain", "transfer") for m in TRUNCATION_METHODS}
    metrics = metrics_from_wide(wide, "truncation", cols)
    for tr in metrics:
        ch = info[tr]["changed"]
        metrics[tr]["rows_changed_vs_head"] = None if ch is None else round(ch, 4)
    return {"long": long, "wide": wide, "detail": detail, "metrics": metrics, "markdown": md}


def _mean_std(long: pd.DataFrame) -> tuple[float, float]:
    """Mean (%) over targets of the per-seed means and its std over seeds."""
    per_seed = long.groupby("seed")["accuracy"].mean()
    return mean_std(per_seed.to_numpy())


def truncation_wide(long: pd.DataFrame, truncations: Sequence[str], info: Mapping[str, dict]
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summary (one row per truncation) and per-target detail (one row per truncation and method), in %."""
    rows, detail = [], []
    for tr in truncations:
        g = long[long.truncation == tr]
        ch = info[tr]["changed"]
        row = {"truncation": tr, "status": "ok", "activations": info[tr]["activations"],
               "head_fraction": info[tr]["head_fraction"], "rows_changed_vs_head": np.nan if ch is None else 100 * ch}
        for setting in ("in_domain", "transfer"):
            for m in TRUNCATION_METHODS:
                row[f"{setting}_{m}_mean"], row[f"{setting}_{m}_std"] = _mean_std(
                    g[(g.setting == setting) & (g.method == m)])
        rows.append(row)
        for m in TRUNCATION_METHODS:
            drow = {"truncation": tr, "method": m}
            for (setting, t), gt in g[g.method == m].groupby(["setting", "target"], sort=False):
                drow[f"{t}_mean"], drow[f"{t}_std"] = _mean_std(gt)
            detail.append(drow)
    return pd.DataFrame(rows).round(2), pd.DataFrame(detail).round(2)


def render_truncation(wide: pd.DataFrame, detail: pd.DataFrame, *, source: str, targets: Sequence[str], K: int,
                      seeds: Sequence[int], meta: dict, n_train: int, n_test: int, main_tr: str) -> str:
    """Markdown: the summary table per truncation, the per-target detail and a note."""
    label = {"last_layer": "last layer", "all_layers": "all layers", "singletsns": f"SingleTSNS K={K}"}
    head = ["truncation", "rows changed vs head (%)"]
    head += [f"in-domain: {label[m]}" for m in TRUNCATION_METHODS]
    head += [f"transfer (mean of {len(targets)} targets): {label[m]}" for m in TRUNCATION_METHODS]
    rows = []
    for _, r in wide.iterrows():
        cells = [f"`{r.truncation}`", cell(r.rows_changed_vs_head)]
        for setting in ("in_domain", "transfer"):
            cells += [cell(r[f"{setting}_{m}_mean"], r[f"{setting}_{m}_std"], n=len(seeds)) for m in TRUNCATION_METHODS]
        rows.append(cells)
    tnames = [f"{source} test"] + list(targets)
    dhead = ["truncation", "representation"] + tnames
    drows = [[f"`{r.truncation}`", label[r.method]] + [cell(r.get(f"{t}_mean"), r.get(f"{t}_std"), n=len(seeds)) for t in tnames]
             for _, r in detail.iterrows()]
    model, max_length = encoder_name(meta) or "?", meta.get("config", {}).get("max_length", "?")
    hf = wide.loc[wide.truncation == "head+tail", "head_fraction"].tolist()
    hf_text = f"`head_fraction` = {hf[0]:g}" if hf and hf[0] is not None and not pd.isna(hf[0]) else "`head_fraction`"
    note = (
        f"\n\nSource **{source}** (train split {n_train} reviews, test split {n_test}), encoder `{model}`, "
        f"max_length {max_length} tokens including the special tokens. **head** keeps the first tokens of a long "
        "text, **tail** the last ones, **head+tail** keeps " f"{hf_text} of the token budget from the start and the "
        "rest from the end (Sun et al. 2019; the blog post's best choice for long reviews). Texts within the budget "
        "are identical under the three strategies: **rows changed vs head** is the share of source rows whose "
        "last-layer [CLS] vector differs from the head-truncated one (not `np.allclose`, rtol = atol = 1e-3), i.e. "
        "about the share of texts longer than the budget. The main pipeline's activations use "
        f"`{main_tr}`; the other truncations come from variant extractions (`data/variants/`).\n\n"
        f"**in-domain**: logistic regression trained on the {source} train split, scored on its test split (the "
        f"blog's setting). **transfer**: trained on all {source} rows, scored on every row of each target "
        f"({', '.join(targets)}; main activations, whatever their length), then averaged over targets. "
        f"**SingleTSNS K={K}**: the top-{K} neurons of all layers' [CLS], selected on the training rows of the "
        f"setting only (train split for in-domain), mean ± std over seeds {list(seeds)}; the last-layer and "
        "all-layers rows are deterministic. Nothing from a target (nor the test split, in-domain) reaches neuron "
        "selection or training; every score passes the leak check of `tsns.method.transfer`.\n"
    )
    return (f"# Truncation of long texts: head, tail, head+tail ({source})\n\n" + markdown_table(head, rows)
            + "\n\n## Per target\n\n" + markdown_table(dhead, drows) + note)


def truncation_unavailable(store: Store, source: str, datasets: Sequence[str]) -> dict:
    """Write the truncation table's 'data not available' version when the source is not in ``data.datasets``."""
    msg = (f"# Truncation ablation ({source})\n\n**data not available**: the truncation source {source!r} is not in "
           f"data.datasets ({', '.join(datasets)}); add it (and its variants to baselines.variants), then run "
           "`dvc repro`.\n")
    write.table(store.tables, "truncation", wide=pd.DataFrame(columns=["truncation", "status"]), markdown=msg)
    return {"metrics": {"status": "data not available"}, "markdown": msg}
