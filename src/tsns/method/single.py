"""SingleTSNS: neuron importance from repeated random samples of one source (paper section 3.1).

Symbols follow the paper:

* ``q`` -- importance of every neuron on every random sample, shape ``(J, N)``;
  the paper's learner is a random forest (impurity importance, scikit-learn);
  ``LearnerParams.method`` selects another one (:mod:`tsns.method.learners`).
* ``m`` -- cumulative importance, eq. 1:
  ``m_i = alpha * E_j(q_ij) + (1 - alpha) * E_j(q_ij) / (std_j(q_ij) + eps)``.
* ``K`` -- how many neurons with the largest ``m`` are kept.

About eq. 1's scaling (README, "A trap in eq. 1"): impurity importances sum to 1
over N neurons, so ``E_j(q)`` is about ``1/N`` while the ratio term is of order
1; with the literal formula any ``alpha`` below ~0.999 lets the ratio term decide
the ranking. ``scaling="literal"`` keeps the paper's form; ``scaling="normalized"``
divides each term by its maximum over neurons before mixing, so ``alpha`` weighs
two quantities on the same [0, 1] scale. With the paper's SingleTSNS setting
``alpha = 1`` both give the same ranking.
"""
from __future__ import annotations

import warnings

import numpy as np
from joblib import Parallel, delayed

from ..errors import TSNSError
from .learners import LearnerParams
from .validation import check, check_k, check_source

__all__ = ["SCALINGS", "sample_indices", "importance_matrix", "aggregate", "ranks", "order", "top_k", "ranking",
           "jaccard"]

SCALINGS = ("literal", "normalized")


#: fewer rows than this in a beta-sample gets a warning: the importances of so small a sample are mostly zero
MIN_SAMPLE_ROWS = 20


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


def _one_fit(X, y, beta, params: LearnerParams, seed: np.random.SeedSequence) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = sample_indices(y, beta, rng)
    return params.q(X[idx], y[idx], random_state=int(rng.integers(2**31 - 1)))


def importance_matrix(X: np.ndarray, y: np.ndarray, *, J: int = 10, beta: float = 0.7,
                      params: LearnerParams = LearnerParams(), random_state: int = 0, n_jobs: int = 1,
                      progress: bool = False, desc: str = "importance", done: dict | None = None,
                      on_fit=None) -> np.ndarray:
    """Compute q: the importance of every neuron on J random beta-fraction samples.

    Each fit j gets its own child seed of ``random_state`` (``numpy.random.SeedSequence.spawn``),
    so the result does not depend on ``n_jobs``, and a fit computed earlier (``done``) is the
    same as the one it replaces: an interrupted run resumes without changing a number.

    Parameters
    ----------
    X : array, shape (n_examples, N)
    y : array, shape (n_examples,)
    J : int
        Number of random samples.
    beta : float in (0, 1]
        Fraction of the source in each sample.
    params : LearnerParams
        The learner of q and its settings.
    random_state : int
    n_jobs : int
        Parallel fits (joblib); -1 uses every core.
    done : dict int -> array of shape (N,), optional
        Rows already computed (by an interrupted run with the same inputs): not fitted again.
    on_fit : callable (j, row) -> None, optional
        Called with every row as soon as it is computed (the caller persists it).

    Returns
    -------
    q : numpy.ndarray, shape (J, N), float64
        Row j holds the importances of sample j (each row sums to 1).
    """
    X, y = check_source(X, y)
    beta = float(check("beta", beta, where="importance.beta"))
    J = int(check("J", J, where="importance.J"))
    size = min(len(y), max(2, int(round(beta * len(y)))))
    if size < MIN_SAMPLE_ROWS and size < len(y):
        warnings.warn(f"importance.beta={beta:g} gives samples of {size} of {len(y)} rows: a forest on so few rows "
                      f"marks almost every neuron unimportant (q = 0); raise importance.beta so that a sample holds "
                      f"at least {MIN_SAMPLE_ROWS} rows", UserWarning, stacklevel=2)
    seeds = np.random.SeedSequence(int(random_state)).spawn(J)
    X = np.asarray(X, dtype=np.float32)
    params = params.learner_params()
    done = {int(j): np.asarray(r, dtype=np.float64) for j, r in (done or {}).items() if 0 <= int(j) < J}
    todo = [j for j in range(J) if j not in done]
    jobs = (delayed(_one_fit)(X, y, beta, params, seeds[j]) for j in todo)
    out = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    if progress:
        from tqdm import tqdm

        out = tqdm(out, total=J, initial=J - len(todo), desc=desc, unit="fit", mininterval=5)
    rows = dict(done)
    for j, row in zip(todo, out):
        rows[j] = row
        if on_fit is not None:
            on_fit(j, row)
    return np.vstack([rows[j] for j in range(J)])


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
    from ..errors import ConfigError

    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 2:
        raise ConfigError(f"q must be 2-D (J, N), got shape {q.shape}")
    check("alpha", alpha)
    check("scaling", scaling, where="importance.scaling")
    mean = q.mean(axis=0)
    std = q.std(axis=0)  # population std over the J samples, as eq. 1's std_j
    ratio = mean / (std + eps)
    if scaling == "normalized":
        mean = mean / mean.max() if mean.max() > 0 else mean
        ratio = ratio / ratio.max() if ratio.max() > 0 else ratio
    return alpha * mean + (1.0 - alpha) * ratio


def order(m: np.ndarray) -> np.ndarray:
    """Neuron indices from most to least important (ties: lower index first).

    Returns
    -------
    numpy.ndarray of int, shape (N,)
    """
    m = np.asarray(m)
    return np.lexsort((np.arange(len(m)), -m))


def ranks(m: np.ndarray) -> np.ndarray:
    """Rank of every neuron: 1 for the largest m; ties broken by the lower index.

    Returns
    -------
    r : numpy.ndarray of int, shape (N,)
    """
    o = order(m)
    r = np.empty(len(o), dtype=np.int64)
    r[o] = np.arange(1, len(o) + 1)
    return r


def top_k(m: np.ndarray, K: int) -> np.ndarray:
    """Indices of the K neurons with the largest m, most important first.

    Returns
    -------
    numpy.ndarray of int, shape (K,)
    """
    K = check_k(K, len(m))
    return order(m)[:K]


def ranking(X: np.ndarray, y: np.ndarray, *, J: int = 10, beta: float = 0.7, alpha: float = 1.0,
            eps: float = 1e-6, scaling: str = "literal", params: LearnerParams = LearnerParams(),
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
