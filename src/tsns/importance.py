"""SingleTSNS: neuron importance from repeated random samples of one source (paper section 3.1).

Symbols follow the paper:

* ``q`` -- importance of every neuron on every random sample, shape ``(J, N)``;
  the paper's learner is a random forest (impurity importance, scikit-learn);
  ``method`` selects another one (see :data:`METHODS`), each row normalised to sum 1.
* ``m`` -- cumulative importance, eq. 1:
  ``m_i = alpha * E_j(q_ij) + (1 - alpha) * E_j(q_ij) / (std_j(q_ij) + eps)``.
* ``K`` -- how many neurons with the largest ``m`` are kept.

About eq. 1's scaling (see README, "A trap in eq. 1"): impurity importances sum
to 1 over N neurons, so ``E_j(q)`` is about ``1/N`` while the ratio term is of
order 1; with the literal formula any ``alpha`` below ~0.999 lets the ratio term
decide the ranking. ``scaling="literal"`` keeps the paper's form;
``scaling="normalized"`` divides each term by its maximum over neurons before
mixing, so ``alpha`` weighs two quantities on the same [0, 1] scale. With the
paper's SingleTSNS setting ``alpha = 1`` both give the same ranking.
"""
from __future__ import annotations

import contextlib
import logging
import time
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Sequence

import numpy as np
from joblib import Parallel, delayed, parallel_config

from .errors import ConfigError, TSNSError

log = logging.getLogger(__name__)

SCALINGS = ("literal", "normalized")
#: learners of q. ``random_forest`` is the paper's; the others trade agreement with it for
#: speed (``benchmarks/bench_importance.py`` measures both): ``extra_trees`` (randomised
#: splits), ``xgboost_rf`` (XGBoost in random-forest mode, on CUDA when XGBoost sees a GPU;
#: needs ``xgboost``), ``l1_logistic`` (|weights| of an L1 logistic probe on standardised
#: neurons, NeuroX's linear ranking) and ``anova_f`` (ANOVA F statistic per neuron).
METHODS = ("random_forest", "extra_trees", "xgboost_rf", "l1_logistic", "anova_f")
#: where the J (x P) fits run: joblib's process pool, threads, or a Dask cluster.
BACKENDS = ("loky", "threading", "dask")


# --------------------------------------------------------------------------- validation
def check_source(X: np.ndarray, y: np.ndarray, name: str = "source") -> tuple[np.ndarray, np.ndarray]:
    """Validate a labelled source: 2-D finite X, 1-D y of the same length, >= 2 classes."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ConfigError(f"{name}: X must be 2-D (n_examples, N), got shape {X.shape}: flatten layers with X.reshape(n, -1)")
    if len(X) == 0:
        raise TSNSError(f"{name} is empty: it needs labelled examples (check data.limit and the download stage)")
    if len(y) != len(X):
        raise ConfigError(f"{name}: X has {len(X)} rows but y has {len(y)}: pass labels aligned with the activations")
    classes = np.unique(y)
    if len(classes) < 2:
        raise TSNSError(f"{name} has a single class ({classes.tolist()}): neuron importance needs at least two labels")
    return X, y


def check_fraction(value, name: str) -> float:
    if not isinstance(value, Real) or isinstance(value, bool) or not (0.0 < float(value) <= 1.0):
        raise ConfigError(f"{name}={value!r} must be a fraction in (0, 1]: e.g. {name}=0.7")
    return float(value)


def check_k(K, N: int, name: str = "K") -> int:
    if not isinstance(K, Integral) or isinstance(K, bool) or K < 1:
        raise ConfigError(f"{name}={K!r} must be a positive integer")
    if K > N:
        raise ConfigError(f"{name}={K} is larger than the number of neurons N={N} (n_features={N}): "
                          f"choose {name} <= {N}")
    return int(K)


# --------------------------------------------------------------------------- q
@dataclass(frozen=True)
class ForestParams:
    """Settings of the importance learner q (paper: a random forest of 1000 trees, depth 200).

    ``n_estimators``, ``max_depth``, ``max_features`` and ``min_samples_leaf`` apply to the
    tree methods (``xgboost_rf``: ``max_depth=None`` means 8, ``max_features`` sets the
    per-split column share); ``l1_C`` is the inverse L1 strength of ``l1_logistic``.
    """

    method: str = "random_forest"
    n_estimators: int = 100
    max_depth: int | None = None
    max_features: str | float | int | None = "sqrt"
    min_samples_leaf: int = 1
    l1_C: float = 0.1

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"importance.method={self.method!r} is unknown: use one of {', '.join(METHODS)}")
        if not isinstance(self.n_estimators, Integral) or self.n_estimators < 1:
            raise ConfigError(f"importance.n_estimators={self.n_estimators!r} must be a positive integer")
        if self.max_depth is not None and (not isinstance(self.max_depth, Integral) or self.max_depth < 1):
            raise ConfigError(f"importance.max_depth={self.max_depth!r} must be a positive integer or null")
        if not isinstance(self.l1_C, Real) or isinstance(self.l1_C, bool) or not self.l1_C > 0:
            raise ConfigError(f"importance.l1_C={self.l1_C!r} must be a positive number (inverse L1 strength)")

    def estimator(self, random_state: int):
        """The scikit-learn forest of a tree method (``random_forest`` or ``extra_trees``)."""
        from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

        if self.method not in ("random_forest", "extra_trees"):
            raise ConfigError(f"importance.method={self.method!r} is not a scikit-learn forest")
        cls = RandomForestClassifier if self.method == "random_forest" else ExtraTreesClassifier
        return cls(n_estimators=self.n_estimators, max_depth=self.max_depth, max_features=self.max_features,
                   min_samples_leaf=self.min_samples_leaf, random_state=random_state, n_jobs=1)

    def q(self, X: np.ndarray, y: np.ndarray, random_state: int) -> np.ndarray:
        """Importance of every neuron on one sample.

        Parameters
        ----------
        X : array, shape (n, N)
        y : array, shape (n,)
        random_state : int

        Returns
        -------
        numpy.ndarray, shape (N,), float64, non-negative, summing to 1 (a non-forest method
            whose scores are all 0 gives the uniform vector)
        """
        if self.method in ("random_forest", "extra_trees"):
            est = self.estimator(random_state)
            est.fit(X, y)
            return est.feature_importances_.astype(np.float64)  # already sums to 1 (0 for a stump)
        elif self.method == "xgboost_rf":
            q = _xgboost_rf_q(X, y, self, random_state)
        elif self.method == "l1_logistic":
            from sklearn.linear_model import LogisticRegression
            from sklearn.preprocessing import StandardScaler

            Xs = StandardScaler().fit_transform(X)
            lr = LogisticRegression(C=self.l1_C, l1_ratio=1.0, solver="liblinear", max_iter=1000,
                                    random_state=random_state)
            lr.fit(Xs, y)
            q = np.abs(lr.coef_).sum(axis=0)
        else:  # anova_f
            from sklearn.feature_selection import f_classif

            with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # constant neurons: F is nan, scored 0 below
                q, _ = f_classif(X, y)
            q = np.nan_to_num(q, nan=0.0, posinf=0.0)
        q = np.asarray(q, dtype=np.float64)
        total = q.sum()
        return q / total if total > 0 else np.full(len(q), 1.0 / len(q))


def _max_features_share(max_features, N: int) -> float:
    if max_features in (None, 1.0):
        return 1.0
    if max_features == "sqrt":
        return max(1, int(np.sqrt(N))) / N
    if max_features == "log2":
        return max(1, int(np.log2(N))) / N
    if isinstance(max_features, Integral):
        return min(N, int(max_features)) / N
    return float(max_features)


def _xgboost_rf_q(X, y, params: ForestParams, random_state: int) -> np.ndarray:
    try:
        import xgboost
    except ImportError as exc:
        raise ConfigError("importance.method=xgboost_rf needs XGBoost: pip install xgboost-cpu "
                          "(or xgboost on a CUDA machine)") from exc
    _, y_codes = np.unique(y, return_inverse=True)
    device = "cuda" if xgboost.build_info().get("USE_CUDA") and _cuda_available() else "cpu"
    est = xgboost.XGBRFClassifier(n_estimators=params.n_estimators, max_depth=params.max_depth or 8,
                                  colsample_bynode=_max_features_share(params.max_features, X.shape[1]),
                                  subsample=0.632, tree_method="hist", device=device, n_jobs=1,
                                  importance_type="gain", random_state=random_state)
    est.fit(X, y_codes)
    return est.feature_importances_


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@contextlib.contextmanager
def compute_backend(backend: str = "threading", scheduler: str | None = None, n_workers: int | None = None,
                    timeout: str = "20s"):
    """Run the joblib-parallel fits inside on ``backend``.

    ``"threading"`` (the default: the forests release the GIL, so threads are as fast as
    processes without a second copy of the imports in every worker) and ``"loky"``
    (processes) run on this machine.
    ``"dask"`` sends every fit to a Dask cluster through joblib's Dask backend:
    ``scheduler`` is the address of a running scheduler (``tcp://host:8786``, started
    with ``dask scheduler`` / ``dask worker`` or any Dask deployment), or ``None`` for a
    local cluster of ``n_workers`` single-threaded processes. The fits are seeded one by
    one, so the results do not depend on the backend or the number of workers.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"importance.backend={backend!r} is unknown: use one of {', '.join(BACKENDS)}")
    if backend != "dask":
        if scheduler:
            raise ConfigError(f"importance.scheduler is only used with importance.backend=dask (got {backend!r})")
        with parallel_config(backend=backend):
            yield
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError("importance.backend=dask needs Dask's distributed scheduler: "
                          "pip install 'dask[distributed]'") from exc
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout=timeout))
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"no Dask scheduler answers at importance.scheduler={scheduler!r}: "
                                  "start one (`dask scheduler`) or set importance.scheduler=null") from exc
        else:
            cluster = stack.enter_context(LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
        log.info("importance fits on Dask: %s", client)
        stack.enter_context(parallel_config(backend="dask"))
        yield


def sample_indices(y: np.ndarray, beta: float, rng: np.random.Generator) -> np.ndarray:
    """One beta-fraction random sample (without replacement) that holds every class.

    Returns
    -------
    numpy.ndarray of int, shape (max(2, round(beta * n)),), sorted
    """
    n = len(y)
    size = min(n, max(2, int(round(beta * n))))
    classes = np.unique(y)
    for _ in range(100):
        idx = np.sort(rng.choice(n, size=size, replace=False))
        if len(np.unique(y[idx])) == len(classes):
            return idx
    raise TSNSError(f"a beta={beta} sample of {n} examples never contained every class: raise importance.beta")


def _one_fit(X, y, beta, params: ForestParams, seed: np.random.SeedSequence) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = sample_indices(y, beta, rng)
    return params.q(X[idx], y[idx], random_state=int(rng.integers(2**31 - 1)))


def importance_matrix(X: np.ndarray, y: np.ndarray, *, J: int = 10, beta: float = 0.7,
                      params: ForestParams = ForestParams(), random_state: int = 0, n_jobs: int = 1,
                      progress: bool = False, desc: str = "importance") -> np.ndarray:
    """Compute q: the importance of every neuron on J random beta-fraction samples.

    Each fit j gets its own child seed of ``random_state`` (``numpy.random.SeedSequence.spawn``),
    so the result does not depend on ``n_jobs``.

    Parameters
    ----------
    X : array, shape (n_examples, N)
    y : array, shape (n_examples,)
    J : int
        Number of random samples.
    beta : float in (0, 1]
        Fraction of the source in each sample.
    params : ForestParams
    random_state : int
    n_jobs : int
        Parallel fits (joblib); -1 uses every core.

    Returns
    -------
    q : numpy.ndarray, shape (J, N), float64
        Row j holds the impurity importances of sample j (each row sums to 1).
    """
    X, y = check_source(X, y)
    beta = check_fraction(beta, "importance.beta")
    if not isinstance(J, Integral) or J < 1:
        raise ConfigError(f"importance.J={J!r} must be a positive integer")
    seeds = np.random.SeedSequence(int(random_state)).spawn(int(J))
    X = np.asarray(X, dtype=np.float32)
    jobs = (delayed(_one_fit)(X, y, beta, params, s) for s in seeds)
    out = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    if progress:
        from tqdm import tqdm

        out = tqdm(out, total=int(J), desc=desc, unit="fit", mininterval=5)
    return np.vstack(list(out))


# --------------------------------------------------------------------------- m (eq. 1)
def aggregate(q: np.ndarray, alpha: float = 1.0, eps: float = 1e-6, scaling: str = "literal") -> np.ndarray:
    """Eq. 1: cumulative importance m from the J x N matrix q.

    Parameters
    ----------
    q : array, shape (J, N)
    alpha : float in [0, 1]
        Weight of the mean; 1 - alpha weighs the mean/std (stability) term.
    eps : float
        Added to the standard deviation.
    scaling : {"literal", "normalized"}
        ``literal`` is the paper's formula as printed. ``normalized`` divides
        each term by its maximum over neurons first (see module docstring).

    Returns
    -------
    m : numpy.ndarray, shape (N,)
    """
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 2:
        raise ConfigError(f"q must be 2-D (J, N), got shape {q.shape}")
    if not (0.0 <= float(alpha) <= 1.0):
        raise ConfigError(f"alpha={alpha!r} must lie in [0, 1]")
    if scaling not in SCALINGS:
        raise ConfigError(f"importance.scaling={scaling!r} is unknown: use one of {', '.join(SCALINGS)}")
    mean = q.mean(axis=0)
    std = q.std(axis=0)  # population std over the J samples
    ratio = mean / (std + eps)
    if scaling == "normalized":
        mean = mean / mean.max() if mean.max() > 0 else mean
        ratio = ratio / ratio.max() if ratio.max() > 0 else ratio
    return alpha * mean + (1.0 - alpha) * ratio


def ranks(m: np.ndarray) -> np.ndarray:
    """Rank of every neuron: 1 for the largest m; ties broken by the lower index.

    Returns
    -------
    r : numpy.ndarray of int, shape (N,)
    """
    m = np.asarray(m)
    order = np.lexsort((np.arange(len(m)), -m))
    r = np.empty(len(m), dtype=np.int64)
    r[order] = np.arange(1, len(m) + 1)
    return r


def order(m: np.ndarray) -> np.ndarray:
    """Neuron indices from most to least important (ties: lower index first)."""
    m = np.asarray(m)
    return np.lexsort((np.arange(len(m)), -m))


def top_k(m: np.ndarray, K: int) -> np.ndarray:
    """Indices of the K neurons with the largest m, most important first.

    Returns
    -------
    numpy.ndarray of int, shape (K,)
    """
    K = check_k(K, len(m))
    return order(m)[:K]


def ranking(X: np.ndarray, y: np.ndarray, *, J: int = 10, beta: float = 0.7, alpha: float = 1.0,
            eps: float = 1e-6, scaling: str = "literal", params: ForestParams = ForestParams(),
            random_state: int = 0, n_jobs: int = 1) -> np.ndarray:
    """NeuroX-style ``ranking(X, y) -> scores``: SingleTSNS importance m of every neuron.

    Parameters
    ----------
    X : array, shape (n_examples, N)
    y : array, shape (n_examples,)

    Returns
    -------
    m : numpy.ndarray, shape (N,)
        Larger is more important; ``order(m)`` gives the ranking.
    """
    q = importance_matrix(X, y, J=J, beta=beta, params=params, random_state=random_state, n_jobs=n_jobs)
    return aggregate(q, alpha=alpha, eps=eps, scaling=scaling)


def jaccard(a, b) -> float:
    """Jaccard overlap of two index sets."""
    a, b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    return len(a & b) / len(a | b) if (a or b) else 1.0


# --------------------------------------------------------------------------- stage
def run(dataset: str, *, seeds: Sequence[int], J: int, beta: float, alpha: float, eps: float,
               scaling: str, params: ForestParams, n_jobs: int = -1, expect: dict | None = None,
               alpha_grid: Sequence[float] = (0.0, 0.5, 0.9, 0.99, 0.999, 1.0), alpha_K: int = 500,
               root=Path(".")) -> dict:
    """Stage ``importance`` (SingleTSNS): q, m and the ranking of one source, for every seed.

    Writes ``data/importance/<dataset>.npz`` with arrays ``q`` (seeds, J, N) float32,
    ``m`` (seeds, N), ``order`` (seeds, N) and ``seeds``; and a JSON sidecar with
    the parameters, the provenance (``fit_on``: checksums of the data used) and a
    study of what alpha does under both scalings of eq. 1 (Jaccard of the top
    ``alpha_K`` set with the alpha=1 set).
    """
    from .extract import versions
    from .io import atomic_savez, atomic_write_json
    from .layout import IMPORTANCE, known, load_dataset_activations

    known(dataset)
    t0 = time.time()
    acts = load_dataset_activations(dataset, expect=expect, root=root)
    N = acts.X.shape[1]
    qs, ms, orders = [], [], []
    from .selectors import SingleTSNS  # the same estimator users call (one implementation)

    for s in seeds:
        log.info("importance %s, seed %s", dataset, s)
        sel = SingleTSNS(k=N, J=J, beta=beta, alpha=alpha, eps=eps, scaling=scaling, method=params.method,
                         n_estimators=params.n_estimators, max_depth=params.max_depth,
                         max_features=params.max_features, random_state=int(s), n_jobs=n_jobs, verbose=1)
        sel.fit(acts.X, acts.y)
        qs.append(sel.q_.astype(np.float32))
        ms.append(sel.importances_)
        orders.append(sel.selected_)  # k = N: the full ranking, most important first
    K_alpha = min(alpha_K, N)
    alpha_study = []
    for sc in SCALINGS:
        for a in alpha_grid:
            jac = [jaccard(top_k(aggregate(q, alpha=a, eps=eps, scaling=sc), K_alpha),
                             top_k(aggregate(q, alpha=1.0, eps=eps, scaling=sc), K_alpha)) for q in qs]
            alpha_study.append({"scaling": sc, "alpha": a, "K": K_alpha, "jaccard_vs_alpha1": float(np.mean(jac))})
    stability = [jaccard(orders[i][:K_alpha], orders[j][:K_alpha])
                 for i in range(len(seeds)) for j in range(i + 1, len(seeds))]
    out = root / IMPORTANCE / f"{dataset}.npz"
    npz_sha = atomic_savez(out, q=np.stack(qs), m=np.stack(ms), order=np.stack(orders),
                           seeds=np.asarray(list(seeds)))
    meta = {
        "dataset": dataset, "fit_on": [acts.sha256], "activations_sha256": acts.meta["array_sha256"],
        "layer_shape": list(acts.layer_shape), "N": N, "seeds": list(seeds),
        "params": {"J": J, "beta": beta, "alpha": alpha, "eps": eps, "scaling": scaling, **params.__dict__},
        "npz_sha256": npz_sha, "alpha_study": alpha_study,
        "seed_stability_jaccard_topK": {"K": K_alpha, "mean": float(np.mean(stability)) if stability else None},
        "seconds": round(time.time() - t0, 1), "versions": versions(),
    }
    atomic_write_json(out.with_suffix(".json"), meta)
    return meta
