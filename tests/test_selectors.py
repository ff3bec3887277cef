"""The scikit-learn selectors: estimator checks, pipelines, and agreement with the stage functions."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_estimator

from tsns.errors import ConfigError
from tsns.method.learners import LearnerParams as ForestParams
from tsns.method.single import aggregate, importance_matrix, top_k
from tsns.method.selectors import MultiTSNS, SingleTSNS


def _failures(est):
    res = check_estimator(est, on_fail=None)
    return [(r["check_name"], str(r["exception"])[:200]) for r in res if r["status"] == "failed"]


def test_singletsns_passes_check_estimator():
    assert _failures(SingleTSNS(k=2, J=2, n_estimators=5, random_state=0)) == []


def test_singletsns_with_its_defaults_passes_check_estimator():
    """The default k (500) exceeds the features of scikit-learn's small test data: all are kept, as SelectKBest."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert _failures(SingleTSNS(J=2, n_estimators=5)) == []


class _GroupedMultiTSNS(MultiTSNS):
    """MultiTSNS needs groups= in fit, which scikit-learn's generic checks never pass; this
    test-only subclass supplies two sources when none are given (the rows of every class dealt
    alternately to source 0 and 1), so every other property of the estimator is checked."""

    def fit(self, X, y, groups=None):
        if groups is None and y is not None:
            y_arr = np.asarray(y)
            groups = np.zeros(len(y_arr), dtype=int)
            for c in np.unique(y_arr):
                rows = np.flatnonzero(y_arr == c)
                groups[rows] = np.arange(len(rows)) % 2
        return super().fit(X, y, groups=groups)


def test_multitsns_passes_check_estimator_given_groups():
    est = _GroupedMultiTSNS(k=2, J=2, n_estimators=5, gamma=0.5, alpha_grid=(0.0, 1.0), random_state=0)
    assert _failures(est) == []


def test_multitsns_without_groups_names_the_fix(planted):
    X, y = planted
    with pytest.raises(ConfigError, match="groups="):
        MultiTSNS(k=3).fit(X, y)


def test_singletsns_equals_stage_functions(planted):
    X, y = planted
    sel = SingleTSNS(k=5, J=3, n_estimators=20, random_state=7).fit(X, y)
    q = importance_matrix(X, y, J=3, beta=0.7, params=ForestParams(n_estimators=20), random_state=7)
    np.testing.assert_array_equal(sel.q_, q)
    np.testing.assert_array_equal(sel.selected_, top_k(aggregate(q), 5))
    assert set(sel.selected_) == set(range(5))
    assert sel.transform(X).shape == (600, 5) and sel.get_support().sum() == 5


def test_pipeline_composes(planted):
    X, y = planted
    pipe = make_pipeline(SingleTSNS(k=5, J=2, n_estimators=20, random_state=0), LogisticRegression())
    assert pipe.fit(X[:400], y[:400]).score(X[400:], y[400:]) > 0.85


def test_fingerprint_of_selection(planted):
    X, y = planted
    sel = SingleTSNS(k=5, J=2, n_estimators=20, random_state=0).fit(X, y)
    np.testing.assert_allclose(sel.fingerprint_((6, 10)), [1, 0, 0, 0, 0, 0])
    with pytest.raises(ConfigError, match="layer_shape"):
        sel.fingerprint_((5, 10))


def test_k_larger_than_n_features_keeps_all_with_a_warning(planted):
    """As SelectKBest: k > n_features warns and keeps every feature (so check_estimator passes with the default k)."""
    X, y = planted
    with pytest.warns(UserWarning, match=r"k=61 is greater than n_features=60: all features are selected"):
        sel = SingleTSNS(k=61, J=2, n_estimators=5, random_state=0).fit(X, y)
    assert sel.transform(X).shape == (len(X), 60)
    assert sorted(sel.selected_.tolist()) == list(range(60))


def test_multitsns_selects_shared_signal():
    rng = np.random.default_rng(0)
    Xs, ys, gs = [], [], []
    for g in range(3):
        X = rng.normal(size=(300, 30)).astype(np.float32)
        y = (X[:, :3].sum(axis=1) > 0).astype(int)
        Xs.append(X + 0.3 * g)
        ys.append(y)
        gs += [f"s{g}"] * 300
    sel = MultiTSNS(k=3, J=2, n_estimators=20, random_state=0).fit(np.vstack(Xs), np.concatenate(ys), groups=gs)
    assert set(sel.selected_) == {0, 1, 2}
    assert sel.ranks_.shape == (3, 30) and len(sel.learners_) == 3
