"""Stage ``transferability``: predict which source transfers to a target before running the transfer.

The paper (section 4.3) observes that sources whose fingerprints resemble the
target's transfer better, but never measures it. Hepburn & McCreadie rank task
pairs with a regressor over shared-attribution features. This module makes
both measurable on the pipeline's own data:

1. **Measured transfer** of every (source, target) pair: a logistic regression
   on the source's SingleTSNS top-K neurons (stage ``importance``), trained on
   the source only and scored on the target; its gain over the last-layer
   [CLS] baseline.
2. **Similarity features** per pair. *Labelled* features need the target's own
   importance (hence its labels), so they are an analysis of the labelled case:
   fingerprint cosine, Wasserstein distance between the per-layer
   distributions, Jaccard of the top-K sets, Spearman correlation of the
   importance vectors m. *Label-free* features use the source's labels and the
   target's unlabelled activations only, so a ranker built on them is usable in
   the unsupervised setting: a domain classifier's accuracy on the source's
   neurons (proxy A-distance), the standardised mean shift of those neurons,
   and a *pseudo-label fingerprint* (the source classifier labels the target, a
   random forest on those pseudo-labels gives the target's neurons).
3. **The paper's claim, measured**: Spearman rank correlation of each feature
   with the transfer accuracy and with the gain, with a bootstrap interval, over
   all pairs and within each target.
4. **A learned ranker** (ridge regression or gradient-boosted trees over the
   label-free features), evaluated leave-one-target-out: the accuracy reached
   when only the top-ranked fraction of a target's candidate sources is run,
   against running them all, the random order and single-feature heuristics.

No target label reaches a transfer classifier, a selection or the ranker that
scores that target: :class:`tsns.transfer.HeldOutTarget` keeps the labels
private, and :func:`rank_leave_one_target_out` fits each ranker on the other
targets' pairs only (checked by a test).
"""
from __future__ import annotations

import itertools
import logging
import math
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import transfer as T
from .errors import ConfigError, TargetLeakError
from .fingerprint import fingerprint
from .importance import jaccard
from .io import atomic_path, atomic_write_json, atomic_write_text
from .layout import FIGURES, TABLES, load_importance
from .report import cell, markdown_table

log = logging.getLogger(__name__)

METRICS_TRANSFERABILITY = Path("reports/metrics_transferability.json")
LABELLED = ("fp_cosine", "fp_wasserstein", "importance_spearman")  # + jaccard_K{k}
LABEL_FREE = ("domain_acc", "mean_shift", "pseudo_fp_cosine", "pseudo_jaccard")
# the sign a feature should have if "more similar transfers better" holds
EXPECTED_SIGN = {"fp_cosine": +1, "fp_wasserstein": -1, "importance_spearman": +1, "domain_acc": -1,
                 "mean_shift": -1, "pseudo_fp_cosine": +1, "pseudo_jaccard": +1}
RANKERS = ("linear", "gbt")
FRACTIONS = (0.2, 0.4, 0.6, 0.8, 1.0)


# --------------------------------------------------------------------------- pairs
def build_pairs(groups: Mapping[str, Sequence[str]], extra: Sequence[Sequence[str]],
                available: Sequence[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Every ordered pair within each group, plus the extra (source, target) pairs.

    Returns
    -------
    pairs : list of (source, target)
        The pairs whose two datasets are in ``available`` (``data.datasets``).
    unavailable : list of (source, target)
        The others (reported, never computed).
    """
    out: list[tuple[str, str]] = []
    for name, members in groups.items():
        if len(set(members)) != len(members) or len(members) < 2:
            raise ConfigError(f"transferability.groups.{name} must list two or more distinct datasets")
        out += [(s, t) for s, t in itertools.permutations(members, 2)]
    for p in extra:
        if len(p) != 2 or p[0] == p[1]:
            raise ConfigError(f"transferability.pairs entry {list(p)!r} must be [source, target] with source != target")
        out.append((str(p[0]), str(p[1])))
    seen, pairs, missing = set(), [], []
    for s, t in out:
        if (s, t) in seen:
            continue
        seen.add((s, t))
        (pairs if s in available and t in available else missing).append((s, t))
    if not pairs:
        raise ConfigError("transferability has no pair whose datasets are both in data.datasets: "
                          "add datasets or pairs")
    return pairs, missing


# --------------------------------------------------------------------------- features
def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0


def layer_distance(fp_a: np.ndarray, fp_b: np.ndarray) -> float:
    """Wasserstein-1 distance between two fingerprints seen as distributions over layer depth (in layers)."""
    from scipy.stats import wasserstein_distance

    layers = np.arange(len(fp_a), dtype=float)
    if fp_a.sum() == 0 or fp_b.sum() == 0:
        return float("nan")
    return float(wasserstein_distance(layers, layers, u_weights=fp_a, v_weights=fp_b))


def labelled_features(m_s: np.ndarray, m_t: np.ndarray, layer_shape: tuple[int, int], *, K: int,
                      jaccard_K: Sequence[int]) -> dict:
    """Similarity of two datasets' importance (the target's needs its labels).

    Parameters
    ----------
    m_s, m_t : array, shape (N,)
        Eq. 1 importance m of the source and of the target (mean over seeds).
    layer_shape : (n_layers, hidden)
    K : int
        Neurons in the fingerprints.
    jaccard_K : sequence of int
        Sizes of the top sets compared.
    """
    from scipy.stats import spearmanr

    o_s, o_t = np.argsort(-m_s, kind="stable"), np.argsort(-m_t, kind="stable")
    fp_s, fp_t = fingerprint(o_s[:K], layer_shape), fingerprint(o_t[:K], layer_shape)
    out = {"fp_cosine": _cosine(fp_s, fp_t), "fp_wasserstein": layer_distance(fp_s, fp_t),
           "importance_spearman": float(spearmanr(m_s, m_t).statistic)}
    for k in jaccard_K:
        out[f"jaccard_K{k}"] = jaccard(o_s[:k], o_t[:k])
    return out


def label_free_features(Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, neurons: np.ndarray,
                        layer_shape: tuple[int, int], *, K_fp: int, n_estimators: int, C: float, max_iter: int,
                        random_state: int = 0, max_rows: int = 2000, source_clf=None) -> dict:
    """Features from the labelled source and the *unlabelled* target only.

    Parameters
    ----------
    Xs : array, shape (n_s, N)
    ys : array, shape (n_s,)
    Xt : array, shape (n_t, N)
        The target's activations; no labels are passed.
    neurons : array of int, shape (K,)
        The source's selected neurons.
    layer_shape : (n_layers, hidden)
    K_fp : int
        Neurons in the pseudo-label fingerprints.
    source_clf : fitted classifier on ``Xs[:, neurons]``, optional
        Reused as the pseudo-labeller (else one is trained on the source).

    Returns
    -------
    dict
        ``domain_acc``: 2-fold accuracy of a logistic regression telling source from target rows on ``neurons``
        (0.5 = indistinguishable); ``mean_shift``: mean over ``neurons`` of |mean_s - mean_t| / pooled std;
        ``pseudo_fp_cosine`` / ``pseudo_jaccard``: fingerprint cosine and top-``K_fp`` Jaccard between the source's
        importance and the importance a random forest finds on the target labelled by the source's classifier.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(random_state)
    n = min(len(Xs), len(Xt), max_rows)
    rs = rng.choice(len(Xs), n, replace=False)
    rt = rng.choice(len(Xt), n, replace=False)
    D = np.vstack([Xs[rs][:, neurons], Xt[rt][:, neurons]]).astype(np.float32)
    d = np.r_[np.zeros(n, int), np.ones(n, int)]
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    cv = StratifiedKFold(2, shuffle=True, random_state=random_state)
    domain_acc = float(cross_val_score(clf, D, d, cv=cv).mean())

    mu_s, mu_t = Xs[:, neurons].mean(0), Xt[:, neurons].mean(0)
    sd = np.sqrt((Xs[:, neurons].var(0) + Xt[:, neurons].var(0)) / 2)
    mean_shift = float(np.mean(np.abs(mu_s - mu_t) / np.where(sd > 0, sd, 1.0)))

    src_clf = source_clf if source_clf is not None else T.train_classifier(Xs, ys, neurons, C=C, max_iter=max_iter)
    pseudo = src_clf.predict(np.asarray(Xt[:, neurons], dtype=np.float32))
    if len(np.unique(pseudo)) < 2:  # the source classifier gives one class to every target row
        return {"domain_acc": domain_acc, "mean_shift": mean_shift, "pseudo_fp_cosine": float("nan"),
                "pseudo_jaccard": float("nan")}
    rf = RandomForestClassifier(n_estimators=n_estimators, max_features="sqrt", random_state=random_state, n_jobs=-1)
    rf.fit(np.asarray(Xt, dtype=np.float32), pseudo)
    o_pt = np.argsort(-rf.feature_importances_, kind="stable")[:K_fp]
    o_s = np.asarray(neurons[:K_fp]) if len(neurons) >= K_fp else np.asarray(neurons)
    return {"domain_acc": domain_acc, "mean_shift": mean_shift,
            "pseudo_fp_cosine": _cosine(fingerprint(o_s, layer_shape), fingerprint(o_pt[:len(o_s)], layer_shape)),
            "pseudo_jaccard": jaccard(o_s, o_pt[:len(o_s)])}


# --------------------------------------------------------------------------- measured transfer + features
def measure_pairs(pairs: Sequence[tuple[str, str]], *, splits: Mapping[str, str], K: int, seeds: Sequence[int],
                  fingerprint_K: int, jaccard_K: Sequence[int], n_estimators: int, C: float = 1.0,
                  max_iter: int = 2000, expect: dict | None = None, root: Path = Path(".")) -> pd.DataFrame:
    """Transfer accuracy, last-layer baseline and every feature, one row per (source, target) pair.

    A source uses all its labelled rows; a target is scored on ``splits[target]`` rows when given, else on all
    its rows. Accuracies are fractions; ``gain`` = SingleTSNS top-K accuracy - last-layer accuracy.
    """
    from tqdm import tqdm

    from .nli import load_dataset_activations

    cache: dict = {}

    def acts(d, split=None):
        if (d, split) not in cache:
            cache[(d, split)] = load_dataset_activations(d, expect=expect, root=root, split=split)
        return cache[(d, split)]

    imp: dict = {}
    clfs: dict = {}  # one classifier per (source, selection), reused for every target (trained on the source only)

    def _clf(s, key, src, sel):
        if (s, key) not in clfs:
            clfs[(s, key)] = T.train_classifier(src.X, src.y, sel.neurons, C=C, max_iter=max_iter)
        return clfs[(s, key)]

    rows = []
    for s, t in tqdm(pairs, desc="transferability pairs", unit="pair"):
        t0 = time.time()
        a_s, a_t = acts(s), acts(t, splits.get(t))
        if a_s.layer_shape != a_t.layer_shape:
            raise ConfigError(f"{s} and {t} were extracted with different models: re-run `dvc repro`")
        ls = a_s.layer_shape
        N = ls[0] * ls[1]
        k = min(int(K), N)
        for d in (s, t):
            if d not in imp:
                arrays, meta = load_importance(d, root)
                if meta["activations_sha256"] != acts(d).meta["array_sha256"]:
                    raise ConfigError(f"importance of {d} was computed on other activations: re-run `dvc repro`")
                imp[d] = (arrays, meta)
        arr_s, meta_s = imp[s]
        src = T.LabelledSource(s, a_s.X, a_s.y, a_s.sha256)
        tgt = T.HeldOutTarget(t, a_t.X, a_t.y, a_t.sha256)
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
            accs.append(T.transfer_accuracy(src, tgt, sel, C=C, max_iter=max_iter, clf=_clf(s, seed, src, sel)))
        sel = T.Selection(T.layer_neurons(-1, ls), "last_layer")
        last = T.transfer_accuracy(src, tgt, sel, C=C, max_iter=max_iter, clf=_clf(s, "last", src, sel))
        m_s = arr_s["m"].mean(0)
        m_t = imp[t][0]["m"].mean(0)
        row = {"source": s, "target": t, "n_source": len(a_s.y), "n_target": len(a_t.y),
               "accuracy": float(np.mean(accs)), "accuracy_std": float(np.std(accs)), "last_layer": last}
        row["gain"] = row["accuracy"] - last
        row.update(labelled_features(m_s, m_t, ls, K=min(fingerprint_K, N), jaccard_K=[min(j, N) for j in jaccard_K]))
        neurons = np.argsort(-m_s, kind="stable")[:k]
        pseudo = _clf(s, "mean_m", src, T.Selection(neurons, "singletsns_mean_m", fit_on=fit_on))
        row.update(label_free_features(a_s.X, a_s.y, a_t.X, neurons, ls, K_fp=min(fingerprint_K, k),
                                       n_estimators=n_estimators, C=C, max_iter=max_iter, random_state=int(seeds[0]),
                                       source_clf=pseudo))
        log.info("transferability: %s -> %s in %.1f s", s, t, time.time() - t0)
        rows.append(row)
    return pd.DataFrame(rows)


def feature_names(pairs: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(labelled, label-free) feature columns present in a pairs table."""
    lab = list(LABELLED) + sorted((c for c in pairs.columns if c.startswith("jaccard_K")), key=lambda c: int(c[9:]))
    return [c for c in lab if c in pairs], [c for c in LABEL_FREE if c in pairs]


# --------------------------------------------------------------------------- the paper's claim, measured
def correlations(pairs: pd.DataFrame, *, n_resamples: int = 2000, confidence: float = 0.95,
                 random_state: int = 0) -> pd.DataFrame:
    """Spearman rho of every feature with accuracy and with gain, a bootstrap interval, and the within-target mean.

    The bootstrap resamples pairs (percentile interval). ``within_target_rho`` averages the Spearman rho computed
    over the sources of each target with three or more sources (targets differ in difficulty, and the paper's claim
    is about choosing a source for a given target). ``agrees`` says whether the pooled rho with the *accuracy* has
    the sign "more similar transfers better" predicts and its interval excludes 0 (the paper's observation is about
    transfer accuracy); ``agrees_gain`` says the same of the rho with the gain over the last layer.
    """
    from scipy.stats import bootstrap, spearmanr

    lab, free = feature_names(pairs)
    out = []
    for f in lab + free:
        sub = pairs[[f, "accuracy", "gain", "target"]].dropna()
        row = {"feature": f, "kind": "labelled" if f in lab else "label-free", "n_pairs": len(sub),
               "expected_sign": EXPECTED_SIGN.get(f, +1)}
        for y in ("accuracy", "gain"):
            if len(sub) < 4 or sub[f].nunique() < 2:
                row.update({f"rho_{y}": np.nan, f"rho_{y}_low": np.nan, f"rho_{y}_high": np.nan, f"p_{y}": np.nan})
                continue
            r = spearmanr(sub[f], sub[y])
            ci = bootstrap((sub[f].to_numpy(), sub[y].to_numpy()), lambda a, b: spearmanr(a, b).statistic,
                           paired=True, vectorized=False, n_resamples=n_resamples, confidence_level=confidence,
                           method="percentile", random_state=random_state).confidence_interval
            row.update({f"rho_{y}": float(r.statistic), f"rho_{y}_low": float(ci.low), f"rho_{y}_high": float(ci.high),
                        f"p_{y}": float(r.pvalue)})
        within = [spearmanr(g[f], g["accuracy"]).statistic for _, g in sub.groupby("target")
                  if len(g) >= 3 and g[f].nunique() > 1 and g["accuracy"].nunique() > 1]
        row["within_target_rho"] = float(np.mean(within)) if within else np.nan
        row["n_targets"] = len(within)
        s = row["expected_sign"]
        for col, y in (("agrees", "accuracy"), ("agrees_gain", "gain")):
            lo, hi = row[f"rho_{y}_low"], row[f"rho_{y}_high"]
            row[col] = bool(not np.isnan(lo) and (lo > 0 if s > 0 else hi < 0))
        out.append(row)
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- the ranker
def _model(kind: str, random_state: int):
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "linear":
        return make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    if kind == "gbt":
        return GradientBoostingRegressor(n_estimators=100, max_depth=2, learning_rate=0.05, subsample=0.8,
                                         random_state=random_state)
    raise ConfigError(f"transferability.rankers: unknown ranker {kind!r}: use {', '.join(RANKERS)}")


RANKER_TARGETS = ("relative_accuracy", "gain")


def rank_leave_one_target_out(pairs: pd.DataFrame, features: Sequence[str], kind: str, *,
                              predict: str = "relative_accuracy", random_state: int = 0) -> pd.Series:
    """Predicted outcome of every pair from a ranker fitted on the *other* targets' pairs.

    Parameters
    ----------
    pairs : DataFrame, one row per (source, target), with ``features``, ``accuracy`` and ``gain`` columns
    features : column names
    kind : {"linear", "gbt"}
    predict : {"relative_accuracy", "gain"}
        What the ranker learns: the transfer accuracy minus the mean accuracy of the target's candidate sources
        (what ranking a target's sources needs; targets differ in difficulty), or the gain over the last layer.

    Returns
    -------
    Series aligned with ``pairs``: the score each pair gets when its target is held out.
    """
    X = pairs[list(features)].to_numpy(float)
    with np.errstate(all="ignore"):
        fill = np.nan_to_num(np.nanmean(X, axis=0)) if len(X) else np.zeros(X.shape[1])
    X = np.where(np.isnan(X), fill, X)  # a feature missing for a pair: the column mean (0 if all are missing)
    if predict == "relative_accuracy":  # centred within each target: uses no other target's outcomes
        y = (pairs["accuracy"] - pairs.groupby("target")["accuracy"].transform("mean")).to_numpy(float)
    elif predict == "gain":
        y = pairs["gain"].to_numpy(float)
    else:
        raise ConfigError(f"unknown ranker target {predict!r}: use {', '.join(RANKER_TARGETS)}")
    score = pd.Series(np.nan, index=pairs.index)
    for t in pairs.target.unique():
        held = (pairs.target == t).to_numpy()
        if held.all():
            raise ConfigError("the ranker needs pairs of two or more targets: add pairs to transferability")
        model = _model(kind, random_state)
        model.fit(X[~held], y[~held])  # the held-out target's accuracies never reach its ranker
        score[held] = model.predict(X[held])
    return score


def _expected_best_random(acc: np.ndarray, m: int) -> float:
    """Expected best accuracy among m sources drawn at random without replacement (exact)."""
    combos = list(itertools.combinations(range(len(acc)), m))
    return float(np.mean([acc[list(c)].max() for c in combos]))


def budget_curve(pairs: pd.DataFrame, scores: Mapping[str, pd.Series],
                 fractions: Sequence[float] = FRACTIONS) -> pd.DataFrame:
    """Best transfer accuracy reached when only the top-ranked fraction of each target's sources is run.

    For each target with n candidate sources and each fraction f, the ``ceil(f n)`` best-scored sources are run and
    the best of their accuracies is kept; rows average over targets. ``oracle`` is running all of them; ``random``
    the exact expectation over random orders. Accuracies in %.
    """
    out = []
    for f in fractions:
        row = {"fraction": f}
        per: dict[str, list] = {name: [] for name in list(scores) + ["random", "oracle"]}
        runs = []
        for t, g in pairs.groupby("target", sort=False):
            n = len(g)
            m = max(1, math.ceil(f * n - 1e-9))
            runs.append(m)
            acc = g["accuracy"].to_numpy()
            per["oracle"].append(acc.max())
            per["random"].append(_expected_best_random(acc, m))
            for name, sc in scores.items():
                top = np.argsort(-sc[g.index].to_numpy(), kind="stable")[:m]
                per[name].append(acc[top].max())
        row["pairs_run"] = int(sum(runs))
        row["pairs_total"] = len(pairs)
        for name, v in per.items():
            row[name] = 100 * float(np.mean(v))
        out.append(row)
    return pd.DataFrame(out)


def plot_curve(curve: pd.DataFrame, path: Path, names: Sequence[str]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in names:
        ax.plot(curve["fraction"], curve[name], marker="o", label=name)
    ax.plot(curve["fraction"], curve["random"], ls="--", color="grey", label="random order")
    ax.plot(curve["fraction"], curve["oracle"], ls=":", color="black", label="run all (best)")
    ax.set_xlabel("fraction of each target's candidate sources run")
    ax.set_ylabel("best transfer accuracy reached (%), mean over targets")
    ax.set_title("Choosing the source before running it (leave-one-target-out)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- stage
def run(groups: Mapping[str, Sequence[str]], extra: Sequence[Sequence[str]], *, datasets: Sequence[str],
        splits: Mapping[str, str], K: int, seeds: Sequence[int], fingerprint_K: int, jaccard_K: Sequence[int],
        rankers: Sequence[str] = RANKERS, n_estimators: int = 100, bootstrap: int = 2000, C: float = 1.0,
        max_iter: int = 2000, expect: dict | None = None, root: Path = Path("."), out: Path | None = None) -> dict:
    """Stage ``transferability``: pairs table, correlation table, ranking curve and table, metrics."""
    out = root if out is None else out
    for r in rankers:
        _model(r, 0)
    pairs_list, missing = build_pairs(groups, extra, datasets)
    pairs = measure_pairs(pairs_list, splits=splits, K=K, seeds=seeds, fingerprint_K=fingerprint_K,
                          jaccard_K=jaccard_K, n_estimators=n_estimators, C=C, max_iter=max_iter, expect=expect,
                          root=root)
    corr = correlations(pairs, n_resamples=bootstrap, random_state=int(seeds[0]))
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

    with atomic_path(out / TABLES / "transferability_pairs.csv") as tmp:
        pairs.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(out / TABLES / "transferability_correlations.csv") as tmp:
        corr.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(out / TABLES / "transferability_ranking.csv") as tmp:
        curve.to_csv(tmp, index=False, float_format="%.2f")
    plot_curve(curve, out / FIGURES / "transferability_ranking.png", list(scores))
    meta = load_importance(pairs_list[0][0], root)[1]
    atomic_write_text(out / TABLES / "transferability.md",
                      render(pairs, corr, curve, list(scores), missing, K=K, seeds=seeds, fingerprint_K=fingerprint_K,
                             splits=splits, layer_shape=tuple(meta["layer_shape"])))
    metrics = {"transferability": {
        "n_pairs": len(pairs), "n_targets": int(pairs.target.nunique()),
        "rho_accuracy": {r.feature: None if np.isnan(r.rho_accuracy) else round(float(r.rho_accuracy), 4)
                         for r in corr.itertuples()},
        "within_target_rho": {r.feature: None if np.isnan(r.within_target_rho) else round(float(r.within_target_rho), 4)
                              for r in corr.itertuples()},
        "rho_gain": {r.feature: None if np.isnan(r.rho_gain) else round(float(r.rho_gain), 4) for r in corr.itertuples()},
        "ranking_at_0.4": {k: round(float(v) / 100, 4) for k, v in curve[curve.fraction == 0.4].iloc[0].items()
                           if k not in ("fraction", "pairs_run", "pairs_total")},
    }}
    atomic_write_json(out / METRICS_TRANSFERABILITY, metrics)
    return {"pairs": pairs, "correlations": corr, "curve": curve, "metrics": metrics, "missing": missing}


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
    rows3 = [[f"{r.source} -> {r.target}", cell(100 * r.accuracy, 100 * r.accuracy_std), cell(100 * r.last_layer),
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
