"""Transfer: the no-target-leak property, baselines and the Table 2 summary."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsns.errors import TargetLeakError
from tsns.method.learners import LearnerParams as ForestParams
from tsns.method.single import aggregate, importance_matrix, top_k
from tsns.method.stats import summarize
from tsns.method.transfer import (HeldOutTarget, LabelledSource, Selection, baseline_selections, check_no_leak,
                                  layer_neurons, random_neurons, run_transfer_grid, train_classifier,
                                  transfer_accuracy)


def _domain(seed, n=300, N=40, shift=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N)).astype(np.float32) + shift
    y = (X[:, :3].sum(axis=1) > 3 * shift).astype(int)
    return X, y


@pytest.fixture
def src_tgt():
    Xs, ys = _domain(0)
    Xt, yt = _domain(1, shift=0.2)
    return LabelledSource("src", Xs, ys, "sha-src"), HeldOutTarget("tgt", Xt, yt, "sha-tgt")


def test_target_labels_are_not_exposed(src_tgt):
    _, tgt = src_tgt
    public = {k for k in vars(tgt) if not k.startswith("_")}
    assert public == {"name", "X", "sha256"} and not hasattr(tgt, "y")


def test_selection_fitted_on_target_is_refused(src_tgt):
    src, tgt = src_tgt
    leaky = Selection(np.arange(5), "singletsns", fit_on=("sha-src", "sha-tgt"))
    with pytest.raises(TargetLeakError, match="selected with the target"):
        transfer_accuracy(src, tgt, leaky)


def test_target_equal_to_source_is_refused(src_tgt):
    src, _ = src_tgt
    same = HeldOutTarget("src", src.X, src.y, "sha-src")
    with pytest.raises(TargetLeakError, match="also the source"):
        check_no_leak(same, src, Selection(np.arange(5), "random"))


def test_grid_refuses_leaky_selection_before_training(src_tgt):
    src, tgt = src_tgt
    sels = {"src": [Selection(np.arange(5), "singletsns", fit_on=("sha-tgt",))]}
    with pytest.raises(TargetLeakError):
        run_transfer_grid({"src": src}, {"tgt": tgt}, sels, [("src", "tgt")])


def test_nothing_of_the_target_changes_selection_or_classifier(src_tgt):
    """Property: replace the target's labels and features entirely; the source-side
    selection and classifier stay bit-identical, only the score moves."""
    src, tgt = src_tgt
    q = importance_matrix(src.X, src.y, J=3, beta=0.7, params=ForestParams(n_estimators=20), random_state=0)
    neurons = top_k(aggregate(q), 5)
    clf = train_classifier(src.X, src.y, neurons)
    rng = np.random.default_rng(9)
    other = HeldOutTarget("tgt2", rng.normal(size=tgt.X.shape).astype(np.float32),
                          rng.integers(0, 2, size=len(tgt)), "sha-tgt2")
    q2 = importance_matrix(src.X, src.y, J=3, beta=0.7, params=ForestParams(n_estimators=20), random_state=0)
    np.testing.assert_array_equal(q, q2)
    clf2 = train_classifier(src.X, src.y, top_k(aggregate(q2), 5))
    np.testing.assert_array_equal(clf[-1].coef_, clf2[-1].coef_)
    sel = Selection(neurons, "singletsns", fit_on=("sha-src",))
    a1 = transfer_accuracy(src, tgt, sel, clf=clf)
    a2 = transfer_accuracy(src, other, sel, clf=clf)
    assert 0.0 <= a2 <= 1.0 and a1 > 0.75  # planted signal transfers; random target does not matter to training


def test_classifier_learns_only_from_source(monkeypatch, src_tgt):
    """Spy on the classifier's standardisation (the first thing to see its rows, in the cross-validation that
    chooses C and in the final fit): every row it sees is a source row, never a target row."""
    from sklearn.preprocessing import StandardScaler

    src, tgt = src_tgt
    seen = []
    orig = StandardScaler.fit

    def spy(self, X, *a, **k):
        seen.append(np.asarray(X))
        return orig(self, X, *a, **k)

    monkeypatch.setattr(StandardScaler, "fit", spy)
    sels = {"src": baseline_selections((4, 10), [5], [0, 1], "src")}
    long = run_transfer_grid({"src": src}, {"tgt": tgt}, sels, [("src", "tgt")])
    assert seen and set(long.method) == {"last_layer", "all_layers", "random"}
    widths = {X.shape[1] for X in seen}
    for X in seen:
        assert len(X) == len(src.X)
        own = [{r.tobytes() for r in np.asarray(M[:, cols], dtype=np.float32)}
               for M in (src.X, tgt.X) for cols in [_columns(src.X, X)] if cols is not None]
        assert own and {r.tobytes() for r in X} <= own[0]
    assert len(widths) >= 2 and (long.C > 0).all()


def _columns(M, X):
    """The columns of M that X holds (None when X is not a column subset of M)."""
    cols = []
    for j in range(X.shape[1]):
        hit = np.flatnonzero((np.asarray(M, dtype=np.float32) == X[:, [j]]).all(axis=0))
        if not len(hit):
            return None
        cols.append(hit[0])
    return cols


def test_layer_and_random_neurons():
    np.testing.assert_array_equal(layer_neurons(-1, (3, 4)), [8, 9, 10, 11])
    np.testing.assert_array_equal(layer_neurons(0, (3, 4)), [0, 1, 2, 3])
    r = random_neurons(5, 12, seed=0, salt="a")
    assert len(set(r)) == 5 and r.max() < 12
    np.testing.assert_array_equal(r, random_neurons(5, 12, seed=0, salt="a"))
    assert not np.array_equal(r, random_neurons(5, 12, seed=1, salt="a"))


def test_summarize_hand_computed():
    long = pd.DataFrame({
        "source": ["a", "a", "b", "b"], "target": ["b", "b", "a", "a"], "method": ["m"] * 4, "K": [5] * 4,
        "seed": [0, 1, 0, 1], "accuracy": [0.8, 0.6, 0.7, 0.9]})
    s = summarize(long)
    ab = s[(s.source == "a")].iloc[0]
    # sample std (ddof=1): sqrt(((0.1)^2 + (0.1)^2) / 1) = 0.1414
    assert ab["mean"] == pytest.approx(0.7) and ab["std"] == pytest.approx(0.02 ** 0.5)
    assert ab["n_seeds"] == 2
    avg = s[s.source == "Average"].iloc[0]
    # per-seed averages: seed0 = 0.75, seed1 = 0.75 -> mean 0.75, std 0
    assert avg["mean"] == pytest.approx(0.75) and avg["std"] == pytest.approx(0.0)


def test_a_one_class_evaluation_split_is_refused():
    from tsns.errors import TSNSError
    from tsns.method.transfer import HeldOutTarget

    with pytest.raises(TSNSError, match="evaluation rows of target 'scitail' hold a single class"):
        HeldOutTarget("scitail", np.zeros((3, 2)), np.array([1, 1, 1]), "sha")
    HeldOutTarget("scitail", np.zeros((2, 2)), np.array([0, 1]), "sha")  # two classes: fine
