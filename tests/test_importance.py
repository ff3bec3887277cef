"""SingleTSNS: eq. 1, ranking, top-K and the importance learner."""
from __future__ import annotations

import numpy as np
import pytest

from tsns.errors import ConfigError, TSNSError
from tsns.method.learners import LearnerParams as ForestParams
from tsns.method.parallel import compute_backend
from tsns.method.single import aggregate, importance_matrix, jaccard, order, ranking, ranks, sample_indices, top_k
from tsns.method.validation import PARAMS, check

METHODS = PARAMS["method"].options

# q for J=2 samples, N=3 neurons, hand-worked below
Q = np.array([[0.2, 0.5, 0.3],
              [0.4, 0.5, 0.1]])


def test_eq1_literal_hand_computed():
    eps = 1e-6
    # E = [0.3, 0.5, 0.2]; population std = [0.1, 0.0, 0.1]
    # ratio = E / (std + eps) = [0.3/0.100001, 0.5/1e-6, 0.2/0.100001]
    m = aggregate(Q, alpha=0.5, eps=eps)
    expected = 0.5 * np.array([0.3, 0.5, 0.2]) + 0.5 * np.array([0.3 / 0.100001, 0.5 / 1e-6, 0.2 / 0.100001])
    np.testing.assert_allclose(m, expected, rtol=1e-12)
    np.testing.assert_allclose(aggregate(Q, alpha=1.0), [0.3, 0.5, 0.2])


def test_eq1_alpha_zero_is_stability_only():
    m = aggregate(Q, alpha=0.0, eps=1e-6)
    np.testing.assert_allclose(m, [0.3 / 0.100001, 0.5 / 1e-6, 0.2 / 0.100001])


def test_eq1_normalized_scales_each_term_to_unit_max():
    eps = 1e-6
    mean = np.array([0.3, 0.5, 0.2])
    ratio = mean / (np.array([0.1, 0.0, 0.1]) + eps)
    expected = 0.25 * mean / 0.5 + 0.75 * ratio / ratio.max()
    np.testing.assert_allclose(aggregate(Q, alpha=0.25, eps=eps, scaling="normalized"), expected)


def test_literal_scaling_trap_is_real():
    """With impurity-sized q the ratio term swamps the mean for alpha < 1 (see README)."""
    q = np.array([[0.010, 0.0010], [0.030, 0.0011]])  # neuron 0: big but unstable; neuron 1: tiny but stable
    assert order(aggregate(q, alpha=1.0))[0] == 0
    assert order(aggregate(q, alpha=0.9))[0] == 1  # literal: stability wins although alpha = 0.9
    assert order(aggregate(q, alpha=0.9, scaling="normalized"))[0] == 0


def test_ranks_order_top_k_with_ties():
    m = np.array([0.1, 0.5, 0.5, 0.3])
    np.testing.assert_array_equal(ranks(m), [4, 1, 2, 3])
    np.testing.assert_array_equal(order(m), [1, 2, 3, 0])
    np.testing.assert_array_equal(top_k(m, 2), [1, 2])


@pytest.mark.parametrize("K", [0, 5, -1, 2.5, True])
def test_top_k_rejects_bad_k(K):
    with pytest.raises(ConfigError, match="K"):
        top_k(np.zeros(4), K)


def test_k_larger_than_n_names_the_fix():
    with pytest.raises(ConfigError, match=r"larger than the number of neurons N=4 \(n_features=4\): choose K <= 4"):
        top_k(np.zeros(4), 5)


@pytest.mark.parametrize("beta", [0.0, -0.1, 1.5, "0.5"])
def test_beta_outside_unit_interval(beta):
    with pytest.raises(ConfigError, match=r"importance.beta=.* must be a number in \(0, 1\]"):
        check("beta", beta, where="importance.beta")


def test_beta_one_is_allowed(planted):
    X, y = planted
    q = importance_matrix(X, y, J=2, beta=1.0, params=ForestParams(n_estimators=5))
    assert q.shape == (2, 60)


def test_a_beta_that_leaves_a_handful_of_rows_warns(planted):
    X, y = planted
    with pytest.warns(UserWarning, match=r"importance.beta=0.01 gives samples of \d+ of \d+ rows.*raise importance.beta"):
        importance_matrix(X, y, J=1, beta=0.01, params=ForestParams(n_estimators=5))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importance_matrix(X, y, J=1, beta=0.7, params=ForestParams(n_estimators=5))  # a normal beta: silent


def test_empty_and_single_class_sources():
    with pytest.raises(TSNSError, match="empty"):
        importance_matrix(np.zeros((0, 3)), np.zeros(0), J=1)
    with pytest.raises(TSNSError, match="single class"):
        importance_matrix(np.ones((10, 3)), np.ones(10), J=1)


def test_sample_indices_fraction_and_classes():
    y = np.array([0] * 50 + [1] * 50)
    idx = sample_indices(y, 0.7, np.random.default_rng(0))
    assert len(idx) == 70 and len(set(idx)) == 70 and set(y[idx]) == {0, 1}


def test_q_rows_are_impurity_importances(planted):
    X, y = planted
    q = importance_matrix(X, y, J=3, beta=0.7, params=ForestParams(n_estimators=20), random_state=1)
    assert q.shape == (3, 60)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-6)
    assert not np.array_equal(q[0], q[1])  # different samples and forests


def test_singletsns_finds_planted_neurons(planted):
    X, y = planted
    m = ranking(X, y, J=5, beta=0.7, params=ForestParams(n_estimators=50), random_state=0)
    assert set(top_k(m, 5)) == set(range(5))


def test_result_independent_of_worker_count(planted):
    X, y = planted
    kw = dict(J=4, beta=0.7, params=ForestParams(n_estimators=10), random_state=3)
    np.testing.assert_array_equal(importance_matrix(X, y, n_jobs=1, **kw), importance_matrix(X, y, n_jobs=2, **kw))


def test_same_seed_same_numbers_other_seed_other_numbers(planted):
    X, y = planted
    kw = dict(J=2, beta=0.7, params=ForestParams(n_estimators=10))
    a = importance_matrix(X, y, random_state=0, **kw)
    np.testing.assert_array_equal(a, importance_matrix(X, y, random_state=0, **kw))
    assert not np.array_equal(a, importance_matrix(X, y, random_state=1, **kw))


def test_forest_params_validation():
    with pytest.raises(ConfigError, match="method"):
        ForestParams(method="xgb")
    with pytest.raises(ConfigError, match="n_estimators"):
        ForestParams(n_estimators=0)


def test_jaccard():
    assert jaccard([1, 2, 3], [2, 3, 4]) == pytest.approx(0.5)
    assert jaccard([], []) == 1.0


# --------------------------------------------------------------------------- other learners of q (issue #4)
@pytest.mark.parametrize("method", [m for m in METHODS if m != "random_forest"])
def test_every_method_gives_normalised_q_and_finds_planted_neurons(planted, method):
    if method == "xgboost_rf":
        pytest.importorskip("xgboost")
    X, y = planted
    params = ForestParams(method=method, n_estimators=30)
    q = importance_matrix(X, y, J=3, beta=0.7, params=params, random_state=0)
    assert q.shape == (3, 60) and (q >= 0).all()
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-6)
    m = aggregate(q)
    assert set(top_k(m, 5)) == set(range(5)), f"{method} misses planted neurons: {top_k(m, 5)}"
    np.testing.assert_array_equal(q, importance_matrix(X, y, J=3, beta=0.7, params=params, random_state=0))


def test_random_forest_q_is_sklearn_feature_importances(planted):
    """The paper's learner is unchanged: q_j is exactly the forest's impurity importance."""
    from sklearn.ensemble import RandomForestClassifier

    X, y = planted
    rng = np.random.default_rng(np.random.SeedSequence(5).spawn(1)[0])
    idx = sample_indices(y, 0.7, rng)
    rf = RandomForestClassifier(n_estimators=10, max_features="sqrt", random_state=int(rng.integers(2**31 - 1)),
                                n_jobs=1).fit(X[idx], y[idx])
    q = importance_matrix(X, y, J=1, beta=0.7, params=ForestParams(n_estimators=10), random_state=5)
    np.testing.assert_array_equal(q[0], rf.feature_importances_)


def test_anova_constant_neuron_gets_zero_not_nan(planted):
    X, y = planted
    X = X.copy()
    X[:, 7] = 1.0
    q = importance_matrix(X, y, J=2, params=ForestParams(method="anova_f"), random_state=0)
    assert np.isfinite(q).all() and (q[:, 7] == 0).all()


def test_l1_c_validation_and_missing_xgboost(monkeypatch, planted):
    import sys

    with pytest.raises(ConfigError, match="l1_C"):
        ForestParams(method="l1_logistic", l1_C=0)
    monkeypatch.setitem(sys.modules, "xgboost", None)
    X, y = planted
    with pytest.raises(ConfigError, match="pip install xgboost-cpu"):
        importance_matrix(X, y, J=1, params=ForestParams(method="xgboost_rf", n_estimators=2), random_state=0)


# --------------------------------------------------------------------------- where the fits run
@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_backend_does_not_change_q(planted, backend):
    X, y = planted
    kw = dict(J=4, beta=0.7, params=ForestParams(n_estimators=10), random_state=3)
    ref = importance_matrix(X, y, n_jobs=1, **kw)
    with compute_backend(backend):
        np.testing.assert_array_equal(importance_matrix(X, y, n_jobs=2, **kw), ref)


def test_dask_local_cluster_gives_the_same_q(planted):
    """joblib's Dask backend on a local cluster: the same numbers as one process."""
    X, y = planted
    kw = dict(J=4, beta=0.7, params=ForestParams(n_estimators=10), random_state=3)
    ref = importance_matrix(X, y, n_jobs=1, **kw)
    with compute_backend("dask", n_workers=2):
        got = importance_matrix(X, y, n_jobs=-1, **kw)
    np.testing.assert_array_equal(got, ref)


def test_backend_errors_name_the_fix():
    with pytest.raises(ConfigError, match="must be one of loky, threading, dask"):
        with compute_backend("ray"):
            pass
    with pytest.raises(ConfigError, match="only used with importance.backend=dask"):
        with compute_backend("loky", scheduler="tcp://127.0.0.1:8786"):
            pass
    with pytest.raises(ConfigError, match="no Dask scheduler answers"):
        with compute_backend("dask", scheduler="tcp://127.0.0.1:9", timeout="1s"):
            pass
