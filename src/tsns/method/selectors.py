"""scikit-learn feature selectors: :class:`SingleTSNS` and :class:`MultiTSNS`.

Both are ``SelectorMixin`` estimators built on the same functions the DVC stages
use (:mod:`tsns.method.single`, :mod:`tsns.method.multi`), so they compose with the rest of
scikit-learn::

    from sklearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression
    clf = make_pipeline(SingleTSNS(k=500, random_state=0), LogisticRegression()).fit(X_source, y_source)
    clf.score(X_target, y_target)

``X`` is the flattened activations, shape ``(n_examples, N)`` with
``N = n_layers * hidden``; :meth:`fingerprint_` maps the selection back to layers.
"""
from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from ..errors import ConfigError
from .fingerprint import fingerprint
from .learners import LearnerParams
from .single import aggregate, importance_matrix, ranks, top_k
from .validation import check

__all__ = ["SingleTSNS", "MultiTSNS"]


def _check_classes(y) -> None:
    classes = np.unique(y)
    if len(classes) < 2:
        raise ConfigError(f"the source has one class only ({classes.tolist()}): neuron importance needs two or more")


class _TSNSBase(SelectorMixin, BaseEstimator):
    def _validate_common(self) -> LearnerParams:
        """Check the parameters against :data:`tsns.method.validation.PARAMS`; return the learner settings."""
        for name in ("J", "beta", "eps", "scaling", "method"):
            check(name, getattr(self, name))
        return LearnerParams(method=self.method, n_estimators=self.n_estimators, max_depth=self.max_depth,
                             max_features=self.max_features, l1_C=self.l1_C)

    def _k(self, n_features: int) -> int:
        """k, or every feature (with a warning, as SelectKBest does) when k exceeds them."""
        check("K", self.k, where="k")
        if self.k > n_features:
            warnings.warn(f"k={self.k} is greater than n_features={n_features}: all features are selected "
                          f"(pass k <= {n_features})", UserWarning, stacklevel=3)
            return int(n_features)
        return int(self.k)

    def _seed(self) -> int:
        """An integer random_state is used as is (same numbers as the stage functions with that seed)."""
        if isinstance(self.random_state, Integral) and not isinstance(self.random_state, bool):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _get_support_mask(self):
        check_is_fitted(self, "importances_")
        mask = np.zeros(self.n_features_in_, dtype=bool)
        mask[self.selected_] = True
        return mask

    def fingerprint_(self, layer_shape: tuple[int, int]) -> np.ndarray:
        """Share of the selected neurons in each layer.

        Parameters
        ----------
        layer_shape : (n_layers, hidden) with ``n_layers * hidden == n_features_in_``

        Returns
        -------
        numpy.ndarray, shape (n_layers,)
        """
        check_is_fitted(self, "importances_")
        if layer_shape[0] * layer_shape[1] != self.n_features_in_:
            raise ConfigError(f"layer_shape {tuple(layer_shape)} does not cover the {self.n_features_in_} features: "
                              "pass (n_layers, hidden) of the activations")
        return fingerprint(self.selected_, layer_shape)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = False
        return tags


class SingleTSNS(_TSNSBase):
    """Single-source task-specific neuron selection (Valipour et al. 2019, section 3.1).

    On J random beta-fraction samples of the labelled source, a random forest
    gives impurity importances q (J x N); eq. 1 aggregates them into m; the k
    neurons with the largest m are selected.

    Parameters
    ----------
    k : int, default=500
        Number of neurons to keep (K in the paper). When k exceeds the number of
        features, every feature is kept, with a warning (as ``SelectKBest`` does).
    J : int, default=10
        Random samples (paper: 100).
    beta : float in (0, 1], default=0.7
        Fraction of the source in each sample.
    alpha : float in [0, 1], default=1.0
        Eq. 1 weight of E_j(q) (paper: 1 for SingleTSNS).
    eps : float, default=1e-6
    scaling : {"literal", "normalized"}, default="literal"
        See :func:`tsns.method.single.aggregate`.
    method : {"random_forest", "extra_trees", "xgboost_rf", "l1_logistic", "anova_f"}, default="random_forest"
        Learner of q (:mod:`tsns.method.learners`); the paper's is the random forest.
    n_estimators : int, default=100
        Trees per fit (paper: 1000).
    max_depth : int or None, default=None
    max_features : str, int, float or None, default="sqrt"
    l1_C : float, default=0.1
        Inverse L1 strength of ``method="l1_logistic"``.
    random_state : int, RandomState or None
    n_jobs : int or None
        Parallel forest fits; the result does not depend on it.
    verbose : int, default=0
        1 shows a progress bar over the J fits.

    Attributes
    ----------
    q_ : ndarray of shape (J, n_features_in_)
    importances_ : ndarray of shape (n_features_in_,)
        m of eq. 1.
    ranking_ : ndarray of shape (n_features_in_,)
        Rank of every neuron, 1 = most important.
    selected_ : ndarray of shape (k,)
        Selected neuron indices, most important first.
    n_features_in_ : int
    """

    def __init__(self, k=500, *, J=10, beta=0.7, alpha=1.0, eps=1e-6, scaling="literal", method="random_forest",
                 n_estimators=100, max_depth=None, max_features="sqrt", l1_C=0.1, random_state=None, n_jobs=None,
                 verbose=0):
        self.k = k
        self.J = J
        self.beta = beta
        self.alpha = alpha
        self.eps = eps
        self.scaling = scaling
        self.method = method
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.max_features = max_features
        self.l1_C = l1_C
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def fit(self, X, y):
        """Compute q, m and the selection from a labelled source.

        Parameters
        ----------
        X : array-like of shape (n_examples, N)
        y : array-like of shape (n_examples,)

        Returns
        -------
        self
        """
        params = self._validate_common()
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        _check_classes(y)
        k = self._k(X.shape[1])
        check("alpha", self.alpha)
        self.q_ = importance_matrix(X, y, J=self.J, beta=self.beta, params=params, random_state=self._seed(),
                                    n_jobs=self.n_jobs or 1, progress=bool(self.verbose), desc="SingleTSNS")
        self.importances_ = aggregate(self.q_, alpha=self.alpha, eps=self.eps, scaling=self.scaling)
        self.ranking_ = ranks(self.importances_)
        self.selected_ = top_k(self.importances_, k)
        return self


class MultiTSNS(_TSNSBase):
    """Multi-source task-specific neuron selection (Valipour et al. 2019, section 3.2).

    ``fit(X, y, groups=source_ids)``: the rows of every source are told apart
    by ``groups``; P neuron-importance learners are formed over disjoint subsets
    of the sources (``pairing``), each runs SingleTSNS on its training sources
    and tunes alpha on a gamma-fraction of its tuning sources; the ranks are
    combined into the meta-importance h = sum_p (2N - r^p) / N and the k
    neurons with the largest h are selected. Nothing but the sources is used.

    Parameters
    ----------
    k : int, default=500
    pairing : {"leave_one_out", "one_vs_rest", "all_pairs"}, default="leave_one_out"
    gamma : float in (0, 1], default=0.1
        Fraction of the tuning sources used to choose alpha (paper: 10 %).
    alpha_grid : sequence of float, default=(0, 0.25, 0.5, 0.75, 1)
    L : int or None
        Sample budget, water-filled across sources (paper, Table 5).
    J, beta, eps, scaling, method, n_estimators, max_depth, max_features, l1_C, random_state, n_jobs
        As in :class:`SingleTSNS` (``scaling`` defaults to "normalized" so that alpha matters).
    C : float or "cv", default="cv"
        Inverse L2 strength of the logistic regression that scores an alpha; ``"cv"`` chooses it per learner by
        cross-validation on its training rows (:func:`tsns.method.classifier.choose_C`) from ``C_grid``.
    C_grid : sequence of float, default=(1e-4, 1e-3, 1e-2, 0.1, 1, 10)
    cv_folds : int, default=5

    Attributes
    ----------
    importances_ : ndarray of shape (n_features_in_,)
        h, the meta-importance.
    ranks_ : ndarray of shape (P, n_features_in_)
    alphas_ : ndarray of shape (P,)
    learners_ : list of (train sources, tune sources)
    selected_ : ndarray of shape (k,)
    """

    def __init__(self, k=500, *, pairing="leave_one_out", J=10, beta=0.7, gamma=0.1,
                 alpha_grid=(0.0, 0.25, 0.5, 0.75, 1.0), eps=1e-6, scaling="normalized", L=None,
                 method="random_forest", n_estimators=100, max_depth=None, max_features="sqrt", l1_C=0.1,
                 C="cv", C_grid=(1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0), cv_folds=5, random_state=None, n_jobs=None):
        self.k = k
        self.pairing = pairing
        self.J = J
        self.beta = beta
        self.gamma = gamma
        self.alpha_grid = alpha_grid
        self.eps = eps
        self.scaling = scaling
        self.L = L
        self.method = method
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.max_features = max_features
        self.l1_C = l1_C
        self.C = C
        self.C_grid = C_grid
        self.cv_folds = cv_folds
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y, groups=None):
        """Select neurons from several labelled sources.

        Parameters
        ----------
        X : array-like of shape (n_examples, N)
        y : array-like of shape (n_examples,)
        groups : array-like of shape (n_examples,)
            Source id of every row; at least two sources.

        Returns
        -------
        self
        """
        from .classifier import ClassifierParams
        from .multi import multitsns
        from .transfer import LabelledSource

        params = self._validate_common()
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        _check_classes(y)
        if groups is None:
            raise ConfigError("MultiTSNS.fit needs groups=source ids (one per row): pass fit(X, y, groups=...)")
        groups = np.asarray(groups)
        if groups.shape != (len(X),):
            raise ConfigError(f"groups must have one entry per row ({len(X)}), got shape {groups.shape}")
        k = self._k(X.shape[1])
        names = [str(g) for g in dict.fromkeys(groups.tolist())]
        if len(names) < 2:
            raise ConfigError("MultiTSNS needs at least two sources in groups: use SingleTSNS for one source")
        sources = {}
        for name, g in zip(names, dict.fromkeys(groups.tolist()), strict=True):
            rows = groups == g
            digest = _rows_digest(X[rows], y[rows])
            sources[name] = LabelledSource(name, X[rows], y[rows], digest)
        res = multitsns(sources, K=k, pairing=self.pairing, J=self.J, beta=self.beta, gamma=self.gamma,
                        alpha_grid=self.alpha_grid, eps=self.eps, scaling=self.scaling, params=params, L=self.L,
                        classifier=ClassifierParams(C=self.C, C_grid=tuple(self.C_grid), cv_folds=self.cv_folds),
                        random_state=self._seed(), n_jobs=self.n_jobs or 1)
        self.importances_ = res.h
        self.ranks_ = res.ranks
        self.alphas_ = res.alphas
        self.learners_ = res.learners
        self.selected_ = res.selected
        self.fit_on_ = res.fit_on
        return self


def _rows_digest(X: np.ndarray, y: np.ndarray) -> str:
    import hashlib

    h = hashlib.sha256()
    h.update(np.ascontiguousarray(X).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()
