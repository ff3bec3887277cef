"""Stage ``transferability``: predict which source transfers to a target before running the transfer.

The paper (section 4.3) observes that sources whose fingerprints resemble the
target's transfer better, but never measures it. Hepburn & McCreadie rank task
pairs with a regressor over shared-attribution features. This stage makes both
measurable on the pipeline's own data (algorithms: :mod:`tsns.method.transferability`):

1. **Measured transfer** of every (source, target) pair: a logistic regression on
   the source's SingleTSNS top-K neurons, trained on the source only and scored on
   the target; its gain over the last-layer [CLS] baseline.
2. **Similarity features** per pair, labelled (need the target's own importance)
   and label-free (the source's labels and the target's unlabelled activations).
3. **The paper's claim, measured**: Spearman rho of each feature with the
   transfer accuracy and with the gain, with a bootstrap interval.
4. **A learned ranker**, evaluated leave-one-target-out.

No target label reaches a transfer classifier, a selection or the ranker that
scores that target.
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
from ..config.transfer import TransferConfig
from ..config.transferability import TransferabilityConfig
from ..errors import ConfigError, TargetLeakError
from ..method import transfer as T
from ..method.classifier import ClassifierParams, train_classifier
from ..method.stats import mean_std
from ..method.transferability import (EXPECTED_SIGN, budget_curve, build_pairs, check_ranker, correlations,
                                      feature_names, label_free_features, labelled_features,
                                      rank_leave_one_target_out)
from ..render import cell, markdown_table, save_figure
from ..store import load, write
from ..store.paths import Store
from .context import context

log = logging.getLogger(__name__)


def run(*, params: dict | None = None, root: str | Path | None = None) -> dict:
    """Pairs table, correlation table, ranking curve and table, figure, metrics."""
    ctx = context(params, root)
    cfg, tr = ctx.section(TransferabilityConfig), ctx.section(TransferConfig)
    seeds = ctx.seeds
    rankers = cfg.rankers
    for r in rankers:
        check_ranker(r)
    pairs_list, missing = build_pairs(cfg.groups, cfg.pairs, ctx.section(DataConfig).datasets)
    pairs = measure_pairs(pairs_list, splits=cfg.splits, K=cfg.K, seeds=seeds, fingerprint_K=cfg.fingerprint_K,
                          jaccard_K=cfg.jaccard_K, n_estimators=cfg.n_estimators, classifier=tr.classifier(),
                          expect=ctx.section(ExtractConfig).expect(), store=ctx.store)
    corr = correlations(pairs, n_resamples=cfg.bootstrap, random_state=int(seeds[0]))
    lab, free = feature_names(pairs)
    scores: dict[str, pd.Series] = {}
    for r in rankers:
        scores[f"ranker {r} (label-free)"] = rank_leave_one_target_out(pairs, free, r, random_state=int(seeds[0]))
    for r in rankers:
        scores[f"ranker {r} (all features)"] = rank_leave_one_target_out(pairs, lab + free, r,
                                                                         random_state=int(seeds[0]))
    for r in rankers[:1]:  # the same ranker trained to predict the gain over the last layer instead
        scores[f"ranker {r} (label-free, predicts gain)"] = rank_leave_one_target_out(
            pairs, free, r, predict="gain", random_state=int(seeds[0]))
    for f in ("fp_cosine", "pseudo_fp_cosine", "domain_acc"):
        if f in pairs:
            scores[f"{f} alone"] = EXPECTED_SIGN[f] * pairs[f].fillna(pairs[f].mean())
    curve = budget_curve(pairs, scores)

    tables = ctx.store.tables
    write.csv(tables / "transferability_pairs.csv", pairs, float_format="%.4f")
    write.csv(tables / "transferability_correlations.csv", corr, float_format="%.4f")
    write.csv(tables / "transferability_ranking.csv", curve, float_format="%.2f")
    plot_curve(curve, ctx.store.figures / "transferability_ranking.png", list(scores))
    meta = load.importance(ctx.store, pairs_list[0][0])[1]
    write.table(tables, "transferability",
                markdown=render(pairs, corr, curve, list(scores), missing, K=cfg.K, seeds=seeds,
                                fingerprint_K=cfg.fingerprint_K, splits=cfg.splits,
                                layer_shape=tuple(meta["layer_shape"])))
    metrics = write.metrics(ctx.store.metrics("transferability"), {"transferability": {
        "n_pairs": len(pairs), "n_targets": int(pairs.target.nunique()),
        "rho_accuracy": {r.feature: None if np.isnan(r.rho_accuracy) else round(float(r.rho_accuracy), 4)
                         for r in corr.itertuples()},
        "within_target_rho": {r.feature: None if np.isnan(r.within_target_rho) else round(float(r.within_target_rho), 4)
                              for r in corr.itertuples()},
        "rho_gain": {r.feature: None if np.isnan(r.rho_gain) else round(float(r.rho_gain), 4) for r in corr.itertuples()},
        "ranking_at_0.4": {k: round(float(v) / 100, 4) for k, v in curve[curve.fraction == 0.4].iloc[0].items()
                           if k not in ("fraction", "pairs_run", "pairs_total")},
    }})
    return {"pairs": pairs, "correlations": corr, "curve": curve, "metrics": metrics, "missing": missing}


def measure_pairs(pairs: Sequence[tuple[str, str]], *, splits: Mapping[str, str], K: int, seeds: Sequence[int],
                  fingerprint_K: int, jaccard_K: Sequence[int], n_estimators: int,
                  classifier: ClassifierParams = ClassifierParams(), expect: dict | None = None,
                  store: Store) -> pd.DataFrame:
    """Transfer accuracy, last-layer baseline and every feature, one row per (source, target) pair.

    A source uses all its labelled rows; a target is scored on ``splits[target]`` rows when given, else on all
    its rows. Accuracies are fractions; ``gain`` = SingleTSNS top-K accuracy - last-layer accuracy.
    """
    from tqdm import tqdm

    cache: dict = {}

    def acts(d, split=None):
        if (d, split) not in cache:
            cache[(d, split)] = load.activations(store, d, expect=expect, split=split)
        return cache[(d, split)]

    imp: dict = {}
    clfs: dict = {}  # one classifier per (source, selection), reused for every target (trained on the source only)

    def _clf(s, key, src, sel):
        if (s, key) not in clfs:
            clfs[(s, key)] = train_classifier(src.X, src.y, sel.neurons, classifier)
        return clfs[(s, key)]

    rows = []
    for s, t in tqdm(pairs, desc="transferability pairs", unit="pair"):
        t0 = time.time()
        a_s, a_t = acts(s), acts(t, splits.get(t))
        ls = load.same_shape([a_s, a_t], f"{s} and {t}")
        N = ls[0] * ls[1]
        k = min(int(K), N)
        for d in (s, t):
            if d not in imp:
                imp[d] = load.importance(store, d, acts=acts(d))
        arr_s, meta_s = imp[s]
        src, tgt = a_s.source(), a_t.target()
        fit_on = tuple(meta_s["fit_on"])
        if tgt.sha256 in fit_on or tgt.sha256 == src.sha256:
            raise TargetLeakError(f"pair {s} -> {t}: the target helped select the source's neurons")
        seeds_have = [int(x) for x in arr_s["seeds"]]
        accs = []
        for seed in seeds:
            if int(seed) not in seeds_have:
                raise ConfigError(f"importance of {s} has seeds {seeds_have}, params say {list(seeds)}: re-run `dvc repro`")
            o = arr_s["order"][seeds_have.index(int(seed))]
            sel = T.Selection(o[:k], "singletsns", fit_on=fit_on, seed=int(seed))
            accs.append(T.transfer_accuracy(src, tgt, sel, clf=_clf(s, seed, src, sel)))
        sel = T.Selection(T.layer_neurons(-1, ls), "last_layer")
        last = T.transfer_accuracy(src, tgt, sel, clf=_clf(s, "last", src, sel))
        m_s = arr_s["m"].mean(0)
        m_t = imp[t][0]["m"].mean(0)
        row = {"source": s, "target": t, "n_source": len(a_s.y), "n_target": len(a_t.y),
               "accuracy": float(np.mean(accs)), "accuracy_std": mean_std(accs)[1] / 100, "last_layer": last}
        row["gain"] = row["accuracy"] - last
        row.update(labelled_features(m_s, m_t, ls, K=min(fingerprint_K, N), jaccard_K=[min(j, N) for j in jaccard_K]))
        neurons = np.argsort(-m_s, kind="stable")[:k]
        pseudo = _clf(s, "mean_m", src, T.Selection(neurons, "singletsns_mean_m", fit_on=fit_on))
        row.update(label_free_features(a_s.X, a_s.y, a_t.X, neurons, ls, K_fp=min(fingerprint_K, k),
                                       n_estimators=n_estimators, random_state=int(seeds[0]),
                                       source_clf=pseudo))
        log.info("transferability: %s -> %s in %.1f s", s, t, time.time() - t0)
        rows.append(row)
    return pd.DataFrame(rows)


def plot_curve(curve: pd.DataFrame, path: Path, names: Sequence[str]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    markers = "osD^v<>pPX*h"
    styles = ["-", "--", "-.", ":"]
    for i, name in enumerate(names):  # a marker and a dash pattern each: lines told apart without colour
        ax.plot(curve["fraction"], curve[name], marker=markers[i % len(markers)], ls=styles[i % len(styles)],
                label=name, markersize=5)
    ax.plot(curve["fraction"], curve["random"], ls="--", color="grey", linewidth=2, label="random order")
    ax.plot(curve["fraction"], curve["oracle"], ls=":", color="black", linewidth=2, label="run all (best)")
    ax.set_xlabel("fraction of each target's candidate sources run")
    ax.set_ylabel("best transfer accuracy reached (%)\nmean over targets")
    ax.set_title("Choosing the source before running it (leave-one-target-out)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    return save_figure(fig, path)


def _f(v, digits=2) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:+.{digits}f}"


def render(pairs: pd.DataFrame, corr: pd.DataFrame, curve: pd.DataFrame, names: Sequence[str],
           missing: Sequence[tuple[str, str]], *, K: int, seeds, fingerprint_K: int, splits: Mapping[str, str],
           layer_shape: tuple[int, int]) -> str:
    head = ["feature", "kind", "expected sign", "rho with accuracy [95% CI]", "p (accuracy)",
            "mean within-target rho (targets)", "holds?", "rho with gain [95% CI]", "holds for the gain?"]
    rows = []
    for r in corr.itertuples():
        rows.append([f"`{r.feature}`", r.kind, "+" if r.expected_sign > 0 else "-",
                     f"{_f(r.rho_accuracy)} [{_f(r.rho_accuracy_low)}, {_f(r.rho_accuracy_high)}]",
                     "-" if np.isnan(r.p_accuracy) else f"{r.p_accuracy:.3f}",
                     f"{_f(r.within_target_rho)} ({r.n_targets})", "yes" if r.agrees else "no",
                     f"{_f(r.rho_gain)} [{_f(r.rho_gain_low)}, {_f(r.rho_gain_high)}]",
                     "yes" if r.agrees_gain else "no"])
    corr_md = markdown_table(head, rows)
    head2 = ["fraction of sources run", "pairs run"] + list(names) + ["random order", "run all (best)"]
    rows2 = [[f"{r.fraction:.1f}", f"{int(r.pairs_run)}/{int(r.pairs_total)}"]
             + [cell(r[n]) for n in names]
             + [cell(r["random"]), cell(r["oracle"])] for _, r in curve.iterrows()]
    rank_md = markdown_table(head2, rows2)
    head3 = ["source -> target", f"SingleTSNS K={K} (%)", "last layer (%)", "gain", "fp_cosine", "domain_acc",
             "pseudo_fp_cosine"]
    rows3 = [[f"{r.source} -> {r.target}", cell(100 * r.accuracy, 100 * r.accuracy_std, n=len(seeds)), cell(100 * r.last_layer),
              f"{100 * r.gain:+.1f}", f"{r.fp_cosine:.3f}", f"{r.domain_acc:.3f}",
              "-" if np.isnan(r.pseudo_fp_cosine) else f"{r.pseudo_fp_cosine:.3f}"] for r in pairs.itertuples()]
    pairs_md = markdown_table(head3, rows3)
    n_t = pairs.target.nunique()
    miss = (", ".join(f"{s}->{t}" for s, t in missing) + " (a dataset not in data.datasets)") if missing else "none"
    split_txt = ", ".join(f"{t}: {s} split" for t, s in splits.items()) or "none"
    return (
        "# Transferability: does a similar fingerprint predict transfer?\n\n"
        f"{len(pairs)} (source, target) pairs over {n_t} targets; measured transfer = accuracy of a logistic regression "
        f"on the source's SingleTSNS top-{K} neurons, trained on the source only and scored on the target (mean over "
        f"seeds {list(seeds)}; targets scored on all rows, except {split_txt}); gain = that accuracy minus the "
        f"last-layer [CLS] accuracy ({layer_shape[1]} neurons). Pairs not computed: {miss}.\n\n"
        "## Rank correlation of each feature with transfer\n\n" + corr_md + "\n\n"
        "Spearman rho over all pairs with a 95 % percentile bootstrap interval (pairs resampled); 'within-target' "
        "averages rho (with the accuracy) over the candidate sources of each target with three or more of them. 'holds?': "
        "the rho with the accuracy has the sign 'more similar transfers better' predicts and its interval excludes 0; "
        "'holds for the gain?': the same for the gain over the last layer. **Labelled** features "
        f"use the target's own importance (fingerprints at K={fingerprint_K}), which needs the target's labels: they "
        "answer the paper's observation but cannot be used on an unlabelled target. **Label-free** features use the "
        "source's labels and the target's unlabelled activations only: `domain_acc` (a classifier telling source rows "
        "from target rows on the source's neurons; 0.5 = indistinguishable), `mean_shift` (standardised mean "
        "difference of those neurons), `pseudo_fp_cosine` / `pseudo_jaccard` (the source classifier labels the target; "
        "a random forest on those pseudo-labels gives the target's neurons).\n\n"
        "## Choosing sources before running them (leave-one-target-out)\n\n" + rank_md + "\n\n"
        "Best transfer accuracy (%) reached, averaged over targets, when only the top-ranked fraction of each target's "
        "candidate sources is actually run. Each ranker (ridge regression, 'linear', or gradient-boosted trees, "
        "'gbt') predicts a pair's accuracy relative to the mean of its target's candidates (or, where said, the gain "
        "over the last layer) and is fitted on the pairs of the other targets only, so no accuracy of the held-out "
        "target reaches it; 'label-free' rankers are usable on an unlabelled target; 'alone' ranks by one feature "
        "with its expected sign, nothing fitted. 'random order' is the exact "
        "expectation over random orders; 'run all' is the best source of each target. Figure: "
        "`reports/figures/transferability_ranking.png`.\n\n"
        "## Every pair\n\n" + pairs_md + "\n\nAll features: `reports/tables/transferability_pairs.csv`.\n")
