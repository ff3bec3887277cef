"""Transferability: does the similarity of two datasets' selected neurons predict transfer?

Algorithms only (no file I/O); the stage :mod:`tsns.stages.transferability`
measures the pairs on the pipeline's data and renders the tables.

* :func:`labelled_features` compare two importance vectors m (the target's needs
  its labels): fingerprint cosine, Wasserstein distance between the per-layer
  distributions, Spearman correlation of m, Jaccard of the top-K sets.
* :func:`label_free_features` use the source's labels and the target's
  unlabelled activations only: a domain classifier's accuracy (proxy
  A-distance), the standardised mean shift, and a pseudo-label fingerprint.
* :func:`correlations` measures the paper's observation (Spearman rho with a
  bootstrap interval, pooled and within each target).
* :func:`rank_leave_one_target_out` and :func:`budget_curve` evaluate a ranker
  the way Hepburn & McCreadie do: fitted on the other targets' pairs only.
"""
from __future__ import annotations

import itertools
import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .classifier import ClassifierParams, train_classifier
from .fingerprint import fingerprint
from .single import jaccard

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
                        layer_shape: tuple[int, int], *, K_fp: int, n_estimators: int,
                        classifier: ClassifierParams = ClassifierParams(), random_state: int = 0,
                        max_rows: int = 2000, source_clf=None) -> dict:
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
    classifier : ClassifierParams
        The transfer classifier's settings: the pseudo-labeller is trained with them (unless ``source_clf`` is
        given), and the domain classifier uses the pseudo-labeller's C.
    source_clf : fitted classifier on ``Xs[:, neurons]`` (from :func:`tsns.method.classifier.train_classifier`),
        optional: reused as the pseudo-labeller.

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

    src_clf = source_clf if source_clf is not None else train_classifier(Xs, ys, neurons, classifier)
    rng = np.random.default_rng(random_state)
    n = min(len(Xs), len(Xt), max_rows)
    rs = rng.choice(len(Xs), n, replace=False)
    rt = rng.choice(len(Xt), n, replace=False)
    D = np.vstack([Xs[rs][:, neurons], Xt[rt][:, neurons]]).astype(np.float32)
    d = np.r_[np.zeros(n, int), np.ones(n, int)]
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=src_clf.C_, max_iter=classifier.max_iter))
    cv = StratifiedKFold(2, shuffle=True, random_state=random_state)
    domain_acc = float(cross_val_score(clf, D, d, cv=cv).mean())

    mu_s, mu_t = Xs[:, neurons].mean(0), Xt[:, neurons].mean(0)
    sd = np.sqrt((Xs[:, neurons].var(0) + Xt[:, neurons].var(0)) / 2)
    mean_shift = float(np.mean(np.abs(mu_s - mu_t) / np.where(sd > 0, sd, 1.0)))

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


def check_ranker(kind: str) -> None:
    """One line naming the rankers when ``kind`` is unknown."""
    _model(kind, 0)


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
