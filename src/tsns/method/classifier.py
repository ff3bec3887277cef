"""The transfer classifier: an L2 logistic regression on standardised selected neurons, its C chosen on the
source only.

The paper says only "logistic regression". Its inverse regularisation strength C matters (a few points on
Table 2), so every classifier of the pipeline -- SingleTSNS, MultiTSNS, random K, last layer, all layers,
pooled representations -- chooses C the same way, by stratified k-fold cross-validation on its own training
rows (:func:`choose_C`), unless a fixed C is given. The target never enters: :func:`train_classifier` sees
the source's rows only.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .validation import PARAMS, ListOf, Real, Rule, check_source, is_int

__all__ = ["ClassifierParams", "choose_C", "train_classifier"]

#: C: a positive number, or "cv" (chosen by cross-validation on the training rows)
C_RULE = Rule(lambda v: v == "cv" or Real(0, lo_open=True).ok(v), "a positive number or 'cv'")


@dataclass(frozen=True)
class ClassifierParams:
    """Settings of the transfer classifier (``params.yaml: transfer``).

    Attributes
    ----------
    C : float or "cv"
        Inverse L2 strength, or ``"cv"``: chosen by cross-validation on the training rows from ``C_grid``.
    C_grid : tuple of float
        Candidate values of C, searched from the smallest (:func:`choose_C`).
    cv_folds : int
        Folds of the stratified cross-validation.
    max_iter : int
        Iterations of the lbfgs solver.
    """

    C: float | str = "cv"
    C_grid: tuple = field(default=(1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0))
    cv_folds: int = 5
    max_iter: int = 2000

    def __post_init__(self):
        C_RULE(self.C, "transfer.C", "e.g. transfer.C: cv")
        ListOf(Real(0, lo_open=True), unique=True)(list(self.C_grid), "transfer.C_grid")
        Rule(lambda v: is_int(v) and v >= 2, "an integer >= 2")(self.cv_folds, "transfer.cv_folds")
        PARAMS["max_iter"](self.max_iter, "transfer.max_iter")
        object.__setattr__(self, "C_grid", tuple(sorted(float(c) for c in self.C_grid)))


def _standardise(X):
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(np.asarray(X, dtype=np.float32))


def choose_C(X: np.ndarray, y: np.ndarray, params: ClassifierParams = ClassifierParams(),
             random_state: int = 0) -> tuple[float, dict]:
    """C of the logistic regression by stratified k-fold cross-validation on (X, y).

    The grid is searched from the smallest C (strongest regularisation) upwards, each fold's model
    warm-started from its fit at the previous C; the search stops at the first C whose mean fold accuracy
    falls below the best so far (larger C fit slowest and, past the peak, only overfit more). Ties go to
    the smaller C. The features are standardised on all of (X, y) first (an unsupervised step).

    Parameters
    ----------
    X : array, shape (n, K)
    y : array, shape (n,)
    params : ClassifierParams
    random_state : int
        Seed of the fold assignment.

    Returns
    -------
    C : float
    scores : dict C -> mean fold accuracy, for every C evaluated
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    X, y = check_source(X, y)
    counts = np.unique(y, return_counts=True)[1]
    folds = int(min(params.cv_folds, counts.min()))
    if folds < 2:  # too few rows to cross-validate (only in toy data): scikit-learn's default, said aloud
        warnings.warn(f"a class has {counts.min()} training example(s), too few to choose C by cross-validation: "
                      "C = 1 (scikit-learn's default); give transfer.C a number to choose it yourself",
                      UserWarning, stacklevel=2)
        return 1.0, {}
    Xs = _standardise(X)
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=random_state).split(Xs, y))
    models = [LogisticRegression(C=params.C_grid[0], max_iter=params.max_iter, warm_start=True) for _ in splits]
    scores: dict[float, float] = {}
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for C in params.C_grid:
            acc = []
            for model, (tr, va) in zip(models, splits):
                model.set_params(C=C).fit(Xs[tr], y[tr])
                acc.append(model.score(Xs[va], y[va]))
            scores[C] = float(np.mean(acc))
            if best is None or scores[C] > scores[best]:
                best = C
            elif scores[C] < scores[best]:
                break
    return float(best), scores


def train_classifier(X: np.ndarray, y: np.ndarray, neurons: np.ndarray,
                     params: ClassifierParams = ClassifierParams(), *, random_state: int = 0):
    """Standardise the selected neurons and fit a logistic regression on the source rows only.

    Parameters
    ----------
    X : array, shape (n_examples, N)
    y : array, shape (n_examples,)
    neurons : array of int, shape (K,)
    params : ClassifierParams
        With ``C="cv"``, C is chosen by :func:`choose_C` on these rows.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted ``StandardScaler -> LogisticRegression`` on ``X[:, neurons]``; its attribute ``C_`` is the C
        used and ``cv_scores_`` the cross-validation accuracy of every C evaluated (empty for a fixed C).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = check_source(X, y)
    Xk = np.asarray(X[:, neurons], dtype=np.float32)
    C, scores = choose_C(Xk, y, params, random_state) if params.C == "cv" else (float(params.C), {})
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=params.max_iter,
                                                             random_state=random_state))
    clf.fit(Xk, y)
    clf.C_ = C
    clf.cv_scores_ = scores
    return clf

