"""MultiTSNS: neuron selection from several source datasets (paper section 3.2).

Symbols follow the paper:

* ``M`` source datasets; ``P`` neuron-importance learners, learner ``p`` being a
  pair of disjoint sets of sources ``(D_S1^p, D_S2^p)`` (:func:`pairings`).
* Learner ``p`` runs SingleTSNS on the union of the ``D_S1^p`` sources
  (``q^p``, shape ``(J, N)``), and chooses ``alpha`` of eq. 1 from a grid by the
  accuracy, on a random ``gamma``-fraction of the ``D_S2^p`` rows, of a
  logistic regression trained on the ``D_S1^p`` rows with the top ``K``
  neurons of ``m^p`` (:func:`learn`).
* ``r^p = ranks(m^p)`` (1 = most important), meta-importance
  ``h_i^p = (2N - r_i^p) / N`` and ``h = sum_p h^p`` (:func:`meta_importance`);
  the ``K`` neurons with the largest ``h`` are selected (:func:`multitsns`).

The target never enters: :func:`multitsns` and :func:`learn` take source data
only, and the result carries ``fit_on``, the checksums of every source used
(training and tuning), which the transfer code checks against the target
(:func:`tsns.method.transfer.check_no_leak`, :func:`check_target_not_in_sources`).

Choices where the paper is silent (see also the docstrings):

* alpha ties: the larger alpha wins (the paper's SingleTSNS uses alpha = 1).
* scaling of eq. 1: ``"normalized"`` by default, because with the literal form
  every alpha below ~0.999 ranks like alpha = 0 and the alpha grid would be a
  choice between two rankings only (README, "A trap in eq. 1").
* budget ``L`` (Table 5): water-filled across the ``D_S1^p`` sources of each
  learner for the importance and the tuning classifier, and across the
  ``D_S2^p`` sources for the pool from which the gamma sample is drawn, so no
  learner reads more than L rows on either side.
* the gamma sample is drawn per tuning source (``round(gamma * rows)``, Python's
  round-half-to-even, at least 1), so every tuning source is represented in proportion to its size.
* seeds are derived from ``random_state`` and the *names* involved, never from
  a learner's position, so two learners (or two runs) with the same training
  sources and settings compute the same ``q`` -- which :class:`QCache` reuses.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from .learners import LearnerParams
from .qcache import QCache, as_cache, data_fingerprint
from .single import aggregate, importance_matrix, ranks, top_k
from .classifier import ClassifierParams, choose_C, train_classifier
from .transfer import LabelledSource, Selection, check_target_not_in_sources  # noqa: F401  (re-exported)
from .validation import PARAMS, check, check_k, check_names, check_source
from .waterfill import draw_allocation, name_key

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_ALPHA_GRID",
    "SCHEMES",
    "LearnerResult",
    "MultiResult",
    "QCache",
    "learn",
    "meta_importance",
    "single_source",
    "multitsns",
    "pairings",
    "tune_accuracy",
]

SCHEMES = PARAMS["pairing"].options
DEFAULT_ALPHA_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


# --------------------------------------------------------------------------- pairings
def pairings(sources: Sequence[str], scheme: str = "leave_one_out") -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The P learners ``(D_S1^p, D_S2^p)``: disjoint (training, tuning) sets of source names.

    Parameters
    ----------
    sources : sequence of str, length M >= 2
        Source names (a mapping's keys work too); the output follows this order.
    scheme : {"leave_one_out", "one_vs_rest", "all_pairs"}
        * ``leave_one_out`` (default, P = M): train on all sources but one, tune
          on the one left out (the paper's "P determined by the number of pairs
          of disjoint subsets ... p in {1..M}").
        * ``one_vs_rest`` (P = M): train on one source, tune on the others.
        * ``all_pairs`` (P = M (M - 1)): every ordered pair of single sources.

    Returns
    -------
    list of (tuple of str, tuple of str), length P
    """
    names = check_names(sources)
    if len(names) < 2:
        raise ConfigError(f"MultiTSNS needs at least 2 sources, got {len(names)}: add a source or use SingleTSNS")
    check("pairing", scheme, where="meta.pairing")
    if scheme == "leave_one_out":
        return [(tuple(o for o in names if o != s), (s,)) for s in names]
    if scheme == "one_vs_rest":
        return [((s,), tuple(o for o in names if o != s)) for s in names]
    return [((a,), (b,)) for a in names for b in names if a != b]


# --------------------------------------------------------------------------- meta-importance
def meta_importance(ranks: np.ndarray) -> np.ndarray:
    """Aggregate the learners' rankings: ``h_i = sum_p (2N - r_i^p) / N``.

    Computed as ``(2 N P - sum_p r_i^p) / N`` (integer sum first), so neurons
    with equal rank sums get exactly equal h (ties are then broken by the lower
    index by :func:`tsns.method.single.top_k`).

    Parameters
    ----------
    ranks : array of int, shape (P, N)
        ``ranks[p, i]`` is the rank of neuron i for learner p (1 = most important).

    Returns
    -------
    h : numpy.ndarray of float64, shape (N,)
        Larger is more important; each ``h^p`` lies in ``[1, 2)``.
    """
    r = np.asarray(ranks)
    if r.ndim != 2 or r.shape[0] < 1 or r.shape[1] < 1:
        raise ConfigError(f"ranks must be 2-D (P learners, N neurons), got shape {r.shape}: stack one row per learner")
    if not np.issubdtype(r.dtype, np.integer):
        if not np.all(np.isfinite(r)) or not np.array_equal(r, np.round(r)):
            raise ConfigError("ranks must be integers (1 = most important): pass tsns.method.single.ranks(m) per learner")
        r = r.astype(np.int64)
    P, N = r.shape
    if r.min() < 1 or r.max() > N:
        raise ConfigError(f"ranks must lie in 1..N={N}, got {r.min()}..{r.max()}: pass tsns.method.single.ranks(m)")
    return (2 * N * P - r.astype(np.int64).sum(axis=0)) / N


# --------------------------------------------------------------------------- results
@dataclass
class LearnerResult:
    """One neuron-importance learner p.

    Attributes
    ----------
    train, tune : tuple of str
        ``D_S1^p`` (importance and tuning classifier) and ``D_S2^p`` (gamma sample).
    alpha : float
        The chosen alpha of eq. 1.
    alpha_grid : numpy.ndarray, shape (A,)
    accuracies : numpy.ndarray, shape (A,)
        Tuning accuracy for every alpha of the grid.
    q : numpy.ndarray, shape (J, N)
    m : numpy.ndarray, shape (N,)
        Eq. 1 at the chosen alpha.
    r : numpy.ndarray of int, shape (N,)
        ``ranks(m)``, 1 = most important.
    allocation : dict str -> int
        Rows of every training source used.
    n_tune : int
        Rows of the gamma sample that scored the alphas.
    q_key : str
        QCache key of q.
    q_cached : bool
        True when q came from the cache.
    C : float
        C of the tuning classifiers (chosen once per learner when the classifier's C is ``"cv"``).
    """

    train: tuple
    tune: tuple
    alpha: float
    alpha_grid: np.ndarray
    accuracies: np.ndarray
    q: np.ndarray
    m: np.ndarray
    r: np.ndarray
    allocation: dict
    n_tune: int
    q_key: str
    q_cached: bool
    C: float = float("nan")


@dataclass
class MultiResult:
    """MultiTSNS: the meta-importance and the K selected neurons.

    Attributes
    ----------
    h : numpy.ndarray, shape (N,)
        Meta-importance, ``sum_p (2N - r^p) / N``.
    ranks : numpy.ndarray of int, shape (P, N)
        Per-learner ranks ``r^p``.
    alphas : numpy.ndarray, shape (P,)
        Chosen alpha of every learner.
    alpha_grid : numpy.ndarray, shape (A,)
    tuning : numpy.ndarray, shape (P, A)
        Tuning accuracy of every learner for every alpha.
    selected : numpy.ndarray of int, shape (K,)
        Top-K neurons by h, most important first (ties: lower index).
    learners : list of (tuple of str, tuple of str), length P
        ``(D_S1^p, D_S2^p)``.
    fit_on : tuple of str
        sha256 of every source used (training or tuning), in source order.
    K, pairing, random_state
        The settings.
    details : list of LearnerResult, length P
    tune_C : numpy.ndarray, shape (P,)
        C of every learner's tuning classifiers.
    """

    h: np.ndarray
    ranks: np.ndarray
    alphas: np.ndarray
    alpha_grid: np.ndarray
    tuning: np.ndarray
    selected: np.ndarray
    learners: list
    fit_on: tuple
    K: int
    pairing: str
    random_state: int
    details: list = field(default_factory=list, repr=False)
    tune_C: np.ndarray = field(default_factory=lambda: np.array([]))

    def selection(self) -> Selection:
        """The selected neurons as a :class:`tsns.method.transfer.Selection` (method ``multitsns``)."""
        return Selection(neurons=self.selected.copy(), method="multitsns", fit_on=tuple(self.fit_on),
                         seed=int(self.random_state))

    def tuning_table(self):
        """Long table of the alpha tuning.

        Returns
        -------
        pandas.DataFrame
            Columns ``learner, train, tune, alpha, accuracy, chosen``.
        """
        import pandas as pd

        rows = []
        for p, (tr, tu) in enumerate(self.learners):
            for a, acc in zip(self.alpha_grid, self.tuning[p]):
                rows.append({"learner": p, "train": "+".join(tr), "tune": "+".join(tu), "alpha": float(a),
                             "accuracy": float(acc), "chosen": bool(a == self.alphas[p])})
        return pd.DataFrame(rows)


# --------------------------------------------------------------------------- helpers
def _seed(random_state: int, *parts: str) -> np.random.SeedSequence:
    """A seed from random_state and names (not positions): stable under reordering and n_jobs."""
    return np.random.SeedSequence(int(random_state), spawn_key=tuple(name_key(p) for p in parts))


def _check_sources(sources: Mapping[str, LabelledSource]) -> int:
    """Validate the sources; return N."""
    if not isinstance(sources, Mapping) or not sources:
        raise ConfigError("sources must be a non-empty mapping name -> LabelledSource")
    Ns = {}
    shas: dict[str, str] = {}
    for name, src in sources.items():
        if not isinstance(src, LabelledSource):
            raise ConfigError(f"source {name!r} must be a tsns.method.transfer.LabelledSource, got {type(src).__name__}")
        if src.name != name:
            raise ConfigError(f"source key {name!r} holds a LabelledSource named {src.name!r}: use its name as key")
        X, _ = check_source(src.X, src.y, name)
        Ns[name] = X.shape[1]
        if src.sha256 in shas:
            raise ConfigError(f"sources {shas[src.sha256]!r} and {name!r} have the same checksum: "
                              "they are the same data, list it once")
        shas[src.sha256] = name
    if len(set(Ns.values())) > 1:
        raise ConfigError(f"sources have different numbers of neurons {Ns}: extract them with the same encoder")
    return next(iter(Ns.values()))


def _check_alpha_grid(alpha_grid) -> np.ndarray:
    grid = list(alpha_grid.tolist() if isinstance(alpha_grid, np.ndarray) else alpha_grid)
    check("alpha_grid", [float(a) if isinstance(a, np.floating) else a for a in grid], where="meta.alpha_grid")
    return np.asarray(grid, dtype=np.float64)


def _rows(sources: Mapping[str, LabelledSource], names: Sequence[str], L: int | None, random_state: int,
          purpose: str) -> dict[str, np.ndarray]:
    return draw_allocation({n: len(sources[n].X) for n in names}, L, random_state, purpose=purpose)


def tune_accuracy(X_train: np.ndarray, y_train: np.ndarray, X_tune: np.ndarray, y_tune: np.ndarray,
                  neurons: np.ndarray, classifier: ClassifierParams = ClassifierParams()) -> float:
    """Accuracy on the tuning sample of a classifier trained on the selected neurons of the training rows.

    Parameters
    ----------
    X_train : array, shape (n_train, N)
    y_train : array, shape (n_train,)
    X_tune : array, shape (n_tune, N)
    y_tune : array, shape (n_tune,)
    neurons : array of int, shape (K,)
    classifier : ClassifierParams
        A fixed C (``"cv"`` chooses it on the training rows).

    Returns
    -------
    float in [0, 1]
    """
    clf = train_classifier(X_train, y_train, neurons, classifier)
    pred = clf.predict(np.asarray(X_tune[:, neurons], dtype=np.float32))
    return float(np.mean(pred == np.asarray(y_tune)))


def _learner_q(sources: Mapping[str, LabelledSource], train: Sequence[str], *, J: int, beta: float,
               params: LearnerParams, L: int | None, random_state: int, n_jobs: int, cache: QCache | None,
               label: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict, str, bool]:
    """Steps 1-2 of a learner: the (budgeted) training rows and their q, through the cache.

    Returns ``(q (J, N) float64, X_tr (n, N), y_tr (n,), allocation, cache key, cached)``.
    """
    N = next(iter(sources.values())).X.shape[1]
    train_sorted = tuple(sorted(train))
    # 1. training rows (water-filled under L), concatenated in name order
    rows = _rows(sources, train_sorted, L, random_state, "train-rows")
    X_tr = np.concatenate([np.asarray(sources[n].X)[rows[n]] for n in train_sorted])
    y_tr = np.concatenate([np.asarray(sources[n].y)[rows[n]] for n in train_sorted])
    allocation = {n: len(rows[n]) for n in train_sorted}

    # 2. q, through the cache
    q_seed = int(_seed(random_state, "q", *train_sorted).generate_state(1)[0])
    payload = QCache.payload({n: sources[n].sha256 for n in train_sorted}, allocation, J=J, beta=beta,
                             params=params, random_state=random_state,
                             data={n: data_fingerprint(sources[n]) for n in train_sorted})
    key = QCache.key({n: sources[n].sha256 for n in train_sorted}, allocation, J=J, beta=beta, params=params,
                     random_state=random_state, data=payload["data"])
    q = cache.get(key) if cache is not None else None
    cached = q is not None and q.shape == (J, N)
    if not cached:
        t0 = time.time()
        q = importance_matrix(X_tr, y_tr, J=J, beta=beta, params=params, random_state=q_seed, n_jobs=n_jobs)
        log.info("learner %s: q (%d x %d) in %.1f s", label, J, N, time.time() - t0)
        if cache is not None:
            cache.put(key, q, payload)
    return np.asarray(q, dtype=np.float64), X_tr, y_tr, allocation, key, cached


# --------------------------------------------------------------------------- one learner
def learn(sources: Mapping[str, LabelledSource], train: Sequence[str], tune: Sequence[str], *, K: int,
          J: int = 10, beta: float = 0.7, gamma: float = 0.1, alpha_grid: Sequence[float] = DEFAULT_ALPHA_GRID,
          eps: float = 1e-6, scaling: str = "normalized", params: LearnerParams = LearnerParams(),
          L: int | None = None, classifier: ClassifierParams = ClassifierParams(), random_state: int = 0,
          n_jobs: int = 1, cache: QCache | None = None) -> LearnerResult:
    """One neuron-importance learner p of MultiTSNS.

    1. Rows of the training sources ``D_S1^p``: all of them, or (budget L) a
       water-filled allocation of L across them, drawn with a seeded RNG;
       concatenated in name order.
    2. ``q^p = importance_matrix(rows, J, beta, params)`` -- looked up in
       ``cache`` first.
    3. For every alpha of the grid: ``m = aggregate(q^p, alpha, eps, scaling)``,
       a logistic regression on the top K neurons of the training rows, scored
       on a seeded gamma-fraction sample of the ``D_S2^p`` rows. The best
       accuracy wins; ties go to the larger alpha. With ``classifier.C ==
       "cv"``, C is chosen once per learner, by cross-validation on the training
       rows at the alpha = 1 ranking, and kept for every alpha.

    Parameters
    ----------
    sources : mapping name -> LabelledSource
        Source data only (each X of shape (n_s, N)).
    train, tune : sequence of str
        Disjoint, non-empty sets of source names (``D_S1^p``, ``D_S2^p``).
    K : int
        Neurons kept to score an alpha (1 <= K <= N).
    J, beta, params
        SingleTSNS settings (:func:`tsns.method.single.importance_matrix`).
    gamma : float in (0, 1]
        Fraction of every tuning source sampled to score the alphas (paper: 10 %).
    alpha_grid : sequence of float in [0, 1]
    eps, scaling
        Eq. 1 (:func:`tsns.method.single.aggregate`).
    L : int or None
        Sample budget, water-filled across ``train`` (importance and tuning
        classifier) and across ``tune`` (the pool of the gamma sample).
    classifier : ClassifierParams
        Logistic regression of the tuning classifier.
    random_state : int
        Seeds are derived from it and the source names, not the learner's position.
    n_jobs : int
        Parallel forest fits; the result does not depend on it.
    cache : QCache or None
        Where q is looked up and stored; None computes q.

    Returns
    -------
    LearnerResult
    """
    N = _check_sources(sources)
    train = check_names(train, "train")
    tune = check_names(tune, "tune")
    if not train or not tune:
        raise ConfigError("a learner needs at least one training and one tuning source")
    unknown = [n for n in train + tune if n not in sources]
    if unknown:
        raise ConfigError(f"unknown source(s) {', '.join(unknown)}: choose among {', '.join(sources)}")
    both = sorted(set(train) & set(tune))
    if both:
        raise ConfigError(f"source(s) {', '.join(both)} are both training and tuning: D_S1 and D_S2 must be disjoint")
    K = check_k(K, N)
    gamma = float(check("gamma", gamma, where="meta.gamma"))
    beta = float(check("beta", beta, where="meta.beta"))
    grid = _check_alpha_grid(alpha_grid)
    check("scaling", scaling, where="meta.scaling")
    check("L", L, where="L")
    check("J", J, where="meta.J")
    cache = as_cache(cache)
    q, X_tr, y_tr, allocation, key, cached = _learner_q(sources, train, J=J, beta=beta, params=params, L=L,
                                                        random_state=random_state, n_jobs=n_jobs, cache=cache,
                                                        label="+".join(train) + " -> " + "+".join(tune))

    # 3. gamma sample of the tuning sources (pool water-filled under L)
    pool = _rows(sources, tune, L, random_state, "tune-rows")
    X_tu, y_tu = [], []
    for n in tune:
        size = min(len(pool[n]), max(1, round(gamma * len(pool[n]))))
        rng = np.random.default_rng(_seed(random_state, "tune-gamma", n))
        pick = pool[n][np.sort(rng.choice(len(pool[n]), size=size, replace=False))]
        X_tu.append(np.asarray(sources[n].X)[pick])
        y_tu.append(np.asarray(sources[n].y)[pick])
    X_tu = np.concatenate(X_tu)
    y_tu = np.concatenate(y_tu)

    if classifier.C == "cv":  # one C per learner, chosen on its training rows only
        C, _ = choose_C(X_tr[:, top_k(aggregate(q, alpha=1.0, eps=eps, scaling=scaling), K)], y_tr, classifier)
        classifier = dataclasses.replace(classifier, C=C)
    accs = np.empty(len(grid))
    seen: dict[bytes, float] = {}  # same top-K set -> same classifier -> same accuracy
    for a_i, alpha in enumerate(grid):
        sel = top_k(aggregate(q, alpha=float(alpha), eps=eps, scaling=scaling), K)
        sig = np.sort(sel).tobytes()
        if sig not in seen:
            seen[sig] = tune_accuracy(X_tr, y_tr, X_tu, y_tu, sel, classifier)
        accs[a_i] = seen[sig]
    best = accs.max()
    alpha = float(grid[accs == best].max())  # ties: the larger alpha
    m = aggregate(q, alpha=alpha, eps=eps, scaling=scaling)
    return LearnerResult(train=tuple(train), tune=tuple(tune), alpha=alpha, alpha_grid=grid, accuracies=accs, q=q,
                         m=m, r=ranks(m), allocation=allocation, n_tune=len(y_tu), q_key=key, q_cached=cached,
                         C=float(classifier.C))


# --------------------------------------------------------------------------- MultiTSNS
def multitsns(sources: Mapping[str, LabelledSource], *, K: int, pairing: str = "leave_one_out", J: int = 10,
              beta: float = 0.7, gamma: float = 0.1, alpha_grid: Sequence[float] = DEFAULT_ALPHA_GRID,
              eps: float = 1e-6, scaling: str = "normalized", params: LearnerParams = LearnerParams(),
              L: int | None = None, classifier: ClassifierParams = ClassifierParams(), random_state: int = 0,
              n_jobs: int = 1,
              cache: QCache | None = None) -> MultiResult:
    """MultiTSNS (paper 3.2): P learners, meta-importance h, top-K neurons.

    Parameters
    ----------
    sources : mapping name -> LabelledSource, M >= 2
        Source data only: the target is never passed (check it with
        :func:`check_target_not_in_sources`).
    K : int
        Neurons selected (and used to score each learner's alphas).
    pairing : {"leave_one_out", "one_vs_rest", "all_pairs"}
        How the P learners are formed (:func:`pairings`).
    J, beta, gamma, alpha_grid, eps, scaling, params, L, classifier, n_jobs
        See :func:`learn`.
    random_state : int
    cache : QCache or None
        None uses an in-memory cache for this call, so learners that share
        their training sources (e.g. ``all_pairs``) compute q once.

    Returns
    -------
    MultiResult
        ``h`` (N,), ``ranks`` (P, N), ``alphas`` (P,), ``tuning`` (P, A),
        ``selected`` (K,), ``learners``, ``fit_on``.
    """
    N = _check_sources(sources)
    K = check_k(K, N)
    pairs = pairings(list(sources), pairing)
    cache = as_cache(cache)
    details = []
    for p, (tr, tu) in enumerate(pairs):
        res = learn(sources, tr, tu, K=K, J=J, beta=beta, gamma=gamma, alpha_grid=alpha_grid, eps=eps,
                    scaling=scaling, params=params, L=L, classifier=classifier, random_state=random_state,
                    n_jobs=n_jobs, cache=cache)
        log.info("learner %d/%d %s | %s: alpha=%.3g (accuracies %s)%s", p + 1, len(pairs), "+".join(tr),
                 "+".join(tu), res.alpha, np.round(res.accuracies, 3).tolist(), " [q cached]" if res.q_cached else "")
        details.append(res)
    R = np.stack([d.r for d in details])
    h = meta_importance(R)
    used = {n for tr, tu in pairs for n in tr + tu}
    return MultiResult(h=h, ranks=R, alphas=np.array([d.alpha for d in details]), alpha_grid=details[0].alpha_grid,
                       tuning=np.stack([d.accuracies for d in details]), selected=top_k(h, K),
                       learners=[(tuple(tr), tuple(tu)) for tr, tu in pairs],
                       fit_on=tuple(sources[n].sha256 for n in sources if n in used), K=K, pairing=pairing,
                       random_state=int(random_state), details=details, tune_C=np.array([d.C for d in details]))


def single_source(sources: Mapping[str, LabelledSource], *, K: int, J: int = 10, beta: float = 0.7,
                  eps: float = 1e-6, params: LearnerParams = LearnerParams(), L: int | None = None,
                  random_state: int = 0, n_jobs: int = 1,
                  cache: QCache | None = None) -> MultiResult:
    """SingleTSNS of one source under the budget L, as a one-learner :class:`MultiResult`.

    Table 5 has single-source rows (QQP, MNLI, SNLI) beside the multi-source
    ones, under the same budget. With one source there is no disjoint source
    to tune alpha on, so the learner keeps the paper's SingleTSNS alpha = 1
    (``m = E_j(q)``, the same ranking under either scaling); ``h = (2N - r)/N``.

    Parameters
    ----------
    sources : mapping name -> LabelledSource, exactly one entry
    K, J, beta, eps, params, L, random_state, n_jobs, cache
        See :func:`learn`.

    Returns
    -------
    MultiResult
        P = 1, ``learners = [((name,), ())]``, ``alphas = [1.0]``, ``tuning`` (1, 1) NaN.
    """
    N = _check_sources(sources)
    if len(sources) != 1:
        raise ConfigError(f"single_source takes exactly one source, got {len(sources)}: use multitsns for more")
    K = check_k(K, N)
    beta = float(check("beta", beta, where="meta.beta"))
    check("L", L, where="L")
    name = next(iter(sources))
    cache = as_cache(cache)
    q, _, _, allocation, key, cached = _learner_q(sources, (name,), J=J, beta=beta, params=params, L=L,
                                                  random_state=random_state, n_jobs=n_jobs, cache=cache, label=name)
    m = aggregate(q, alpha=1.0, eps=eps, scaling="literal")
    r = ranks(m)
    res = LearnerResult(train=(name,), tune=(), alpha=1.0, alpha_grid=np.array([1.0]), accuracies=np.array([np.nan]),
                        q=q, m=m, r=r, allocation=allocation, n_tune=0, q_key=key, q_cached=cached)
    h = meta_importance(r[None, :])
    return MultiResult(h=h, ranks=r[None, :], alphas=np.array([1.0]), alpha_grid=np.array([1.0]),
                       tuning=np.array([[np.nan]]), selected=top_k(h, K), learners=[((name,), ())],
                       fit_on=(sources[name].sha256,), K=K, pairing="single", random_state=int(random_state),
                       details=[res])
