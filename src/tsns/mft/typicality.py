"""Typicality of training instances (equations (1)-(3)) and the case table of the MFT paper's Table 5."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..errors import ConfigError

log = logging.getLogger(__name__)

_EPS = 1e-12


def _check_hyd(H, y, d) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    H = np.asarray(H, dtype=np.float64)
    y = np.asarray(y)
    d = np.asarray(d)
    if H.ndim != 2:
        raise ConfigError(f"H must be a 2-D array (n, hidden), got shape {H.shape}: "
                          "pass mean-pooled last-layer vectors")
    if not (len(H) == len(y) == len(d)):
        raise ConfigError(f"H, y and d must have the same length (got {len(H)}, {len(y)}, {len(d)}): "
                          "pass one row per text")
    return H, y, d


def _groups(y: np.ndarray, d: np.ndarray) -> tuple[list, list]:
    domains = sorted(np.unique(d).tolist(), key=str)
    classes = sorted(np.unique(y).tolist(), key=str)
    if len(domains) < 2:
        raise ConfigError(f"typicality needs at least 2 domains (got {domains}): "
                          "pass the training rows of all K >= 2 domains")
    missing = [(k, m) for k in domains for m in classes if not np.any((d == k) & (y == m))]
    if missing:
        shown = ", ".join(f"(domain {k!r}, class {m!r})" for k, m in missing[:4])
        raise ConfigError(f"empty (domain, class) group(s) {shown}: every domain needs rows of every class "
                          "to build the prototypes c_m^k")
    return domains, classes


def check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (0.0 <= alpha <= 1.0):
        raise ConfigError(f"alpha={alpha!r} must lie in [0, 1] (the paper's default is 0.5)")
    return alpha


def _cos(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Cosine similarities, shape (len(A), len(B))."""
    na = np.linalg.norm(A, axis=1, keepdims=True)
    nb = np.linalg.norm(B, axis=1, keepdims=True)
    return (A / np.maximum(na, _EPS)) @ (B / np.maximum(nb, _EPS)).T


def class_prototypes(H, y, d) -> dict:
    """Class prototypes ``c_m^k`` of every (domain, class), equation (1).

    Parameters
    ----------
    H : array-like, shape (n, hidden)
        ``E(x_i)``: mean-pooled last-layer vectors of the n texts.
    y : array-like, shape (n,)
        Class labels.
    d : array-like, shape (n,)
        Domain labels.

    Returns
    -------
    dict
        ``{(domain, class): ndarray of shape (hidden,)}``, the mean of ``H`` over the
        rows of that domain and class (only groups that have rows appear).
    """
    H, y, d = _check_hyd(H, y, d)
    out = {}
    for k in sorted(np.unique(d).tolist(), key=str):
        for m in sorted(np.unique(y).tolist(), key=str):
            rows = (d == k) & (y == m)
            if rows.any():
                out[(k, m)] = H[rows].mean(axis=0)
    return out


def typicality(H, y, d, *, alpha: float = 0.5) -> np.ndarray:
    """Typicality score of every training instance, equation (2) of §3.2.

    ``t_i^k = alpha * cos(E(x_i^k), c_m^k)
    + (1 - alpha) / (K - 1) * sum_{k' != k} cos(E(x_i^k), c_m^{k'})``
    with ``m = y_i`` and ``c_m^k`` from :func:`class_prototypes` (equation (1)).

    The paper applies no further normalisation: the only normalisation is the
    convex weighting above (``alpha`` on the own domain, the remaining
    ``1 - alpha`` averaged over the ``K - 1`` other domains), so the scores lie in
    ``[-1, 1]`` and are used unchanged as weights in ``L_TLC`` and ``L_SDC``.

    Parameters
    ----------
    H : array-like, shape (n, hidden)
        Mean-pooled last-layer vectors ``E(x)`` of the pre-trained encoder.
    y : array-like, shape (n,)
        Class labels.
    d : array-like, shape (n,)
        Domain labels (K >= 2 distinct values).
    alpha : float in [0, 1]
        Weight of the own-domain prototype (paper default 0.5; the paper states
        ``0 < alpha < 1``, the closed interval is accepted).

    Returns
    -------
    numpy.ndarray, shape (n,), float64

    Raises
    ------
    ConfigError
        Fewer than two domains, ``alpha`` outside [0, 1], or a (domain, class)
        group without rows.
    """
    H, y, d = _check_hyd(H, y, d)
    alpha = check_alpha(alpha)
    domains, classes = _groups(y, d)
    K = len(domains)
    protos = class_prototypes(H, y, d)
    t = np.empty(len(H), dtype=np.float64)
    for m in classes:
        rows = np.flatnonzero(y == m)
        C = np.stack([protos[(k, m)] for k in domains])          # (K, hidden)
        S = _cos(H[rows], C)                                      # (n_m, K)
        own = np.array([domains.index(v) for v in d[rows].tolist()])
        own_cos = S[np.arange(len(rows)), own]
        others = S.sum(axis=1) - own_cos
        t[rows] = alpha * own_cos + (1.0 - alpha) / (K - 1) * others
    return t


def _memberships(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Fuzzy c-means memberships (fuzzifier 2) of rows X to centres C, shape (len(X), len(C)).

    ``beta_j = (1 / ||x - c_j||^2) / sum_l (1 / ||x - c_l||^2)``: positive, summing to 1.
    """
    d2 = ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2) + _EPS
    inv = 1.0 / d2
    return inv / inv.sum(axis=1, keepdims=True)


def typicality_multi(H, y, d, *, alpha: float = 0.5, n_prototypes: int = 2, random_state: int = 0) -> np.ndarray:
    """Multi-prototype typicality, equation (3) of §3.2.

    Every (domain, class) group ``D_m^k`` is clustered by k-means into
    ``n_prototypes`` prototypes ``c_{m_j}^k`` (fewer when the group has fewer
    distinct rows).  For an instance of class ``m`` and any domain ``k``,
    ``S^k(x) = sum_j beta_j cos(E(x), c_{m_j}^k) / sum_j beta_j`` where ``beta_j > 0``
    is the membership of ``E(x)`` to cluster ``j`` (fuzzy c-means membership with
    fuzzifier 2, i.e. proportional to ``1 / ||E(x) - c_j||^2``); then
    ``t_i^k = alpha * S^k(x_i) + (1 - alpha) / (K - 1) * sum_{k' != k} S^{k'}(x_i)``.

    The paper writes the sum as ``n in M`` and calls ``beta_n`` "the cluster
    membership of x w.r.t. each class label"; it is read here as running over the
    clusters of the instance's own class ``m`` (footnote 4: ``t_i^k`` concerns the
    label ``m``), the reading under which one prototype per group gives back
    equation (2).  The paper does not define ``beta``; fuzzy c-means memberships are
    the standard positive cluster memberships.

    Parameters
    ----------
    H : array-like, shape (n, hidden)
    y : array-like, shape (n,)
    d : array-like, shape (n,)
    alpha : float in [0, 1]
    n_prototypes : int >= 1
        Clusters per (domain, class).
    random_state : int
        Seed of k-means (``n_init=10``).

    Returns
    -------
    numpy.ndarray, shape (n,), float64
    """
    from sklearn.cluster import KMeans

    H, y, d = _check_hyd(H, y, d)
    alpha = check_alpha(alpha)
    if not isinstance(n_prototypes, (int, np.integer)) or n_prototypes < 1:
        raise ConfigError(f"n_prototypes={n_prototypes!r} must be a positive integer")
    domains, classes = _groups(y, d)
    K = len(domains)
    centres = {}
    for k in domains:
        for m in classes:
            X = H[(d == k) & (y == m)]
            j = min(int(n_prototypes), len(np.unique(X, axis=0)))
            if j < n_prototypes:
                log.warning("domain %r class %r has %d distinct rows: using %d prototype(s) instead of %d",
                            k, m, j, j, n_prototypes)
            if j == 1:
                centres[(k, m)] = X.mean(axis=0, keepdims=True)
            else:
                centres[(k, m)] = KMeans(n_clusters=j, n_init=10, random_state=random_state).fit(X).cluster_centers_
    t = np.empty(len(H), dtype=np.float64)
    for m in classes:
        rows = np.flatnonzero(y == m)
        X = H[rows]
        S = np.empty((len(rows), K))
        for col, k in enumerate(domains):
            C = centres[(k, m)]
            beta = _memberships(X, C)
            S[:, col] = (beta * _cos(X, C)).sum(axis=1) / beta.sum(axis=1)
        own = np.array([domains.index(v) for v in d[rows].tolist()])
        own_s = S[np.arange(len(rows)), own]
        t[rows] = alpha * own_s + (1.0 - alpha) / (K - 1) * (S.sum(axis=1) - own_s)
    return t


def typicality_cases(texts, scores, d, n: int = 3, *, labels=None) -> pd.DataFrame:
    """The ``n`` lowest and ``n`` highest typicality texts of every domain (the paper's Table 5).

    Parameters
    ----------
    texts : sequence of str, length N
    scores : array-like, shape (N,)
        Typicality scores (:func:`typicality`).
    d : array-like, shape (N,)
        Domain of every text.
    n : int
        Cases per end and domain.
    labels : array-like, shape (N,), optional
        Class labels, shown in a ``label`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``typicality`` ("low" / "high"), ``domain``, [``label``], ``score``,
        ``text``; per domain the low cases by ascending score, then the high cases by
        descending score.
    """
    texts = list(texts)
    scores = np.asarray(scores, dtype=np.float64)
    d = np.asarray(d)
    if not (len(texts) == len(scores) == len(d)) or (labels is not None and len(labels) != len(texts)):
        raise ConfigError("texts, scores, d (and labels) must have the same length: pass one score per text")
    if n < 1:
        raise ConfigError(f"n={n!r} must be a positive integer")
    rows = []
    for k in sorted(np.unique(d).tolist(), key=str):
        idx = np.flatnonzero(d == k)
        order = idx[np.argsort(scores[idx], kind="stable")]
        low = order[:n]
        high = [i for i in order[::-1][:n] if i not in set(low.tolist())]  # no row twice in a small domain
        for which, chosen in (("low", low), ("high", high)):
            for i in chosen:
                row = {"typicality": which, "domain": k}
                if labels is not None:
                    row["label"] = np.asarray(labels)[i]
                row.update(score=float(scores[i]), text=texts[i])
                rows.append(row)
    cols = ["typicality", "domain"] + (["label"] if labels is not None else []) + ["score", "text"]
    return pd.DataFrame(rows, columns=cols)


