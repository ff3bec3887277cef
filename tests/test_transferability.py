"""Transferability: pairs, similarity features, correlations, the leave-one-target-out ranker."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsns.method import transferability as TR
from tsns.method.classifier import ClassifierParams
from tsns.stages import transferability as ST
from tsns.errors import ConfigError, TargetLeakError
from tsns.store.load import Activations
from tsns.store.paths import Store


def test_build_pairs_groups_extra_and_unavailable():
    pairs, missing = TR.build_pairs({"s": ["a", "b", "c"]}, [["x", "c"], ["a", "b"]], ["a", "b", "c"])
    assert pairs == [("a", "b"), ("a", "c"), ("b", "a"), ("b", "c"), ("c", "a"), ("c", "b")]  # (a, b) once
    assert missing == [("x", "c")]
    with pytest.raises(ConfigError, match="two or more distinct"):
        TR.build_pairs({"s": ["a", "a"]}, [], ["a"])
    with pytest.raises(ConfigError, match="source != target"):
        TR.build_pairs({}, [["a", "a"]], ["a"])
    with pytest.raises(ConfigError, match="add datasets or pairs"):
        TR.build_pairs({"s": ["a", "b"]}, [], ["a"])


def test_labelled_features_of_identical_and_disjoint_importance():
    rng = np.random.default_rng(0)
    m = rng.random(12)
    same = TR.labelled_features(m, m, (3, 4), K=4, jaccard_K=[2, 4])
    assert same["fp_cosine"] == pytest.approx(1.0) and same["fp_wasserstein"] == 0.0
    assert same["importance_spearman"] == pytest.approx(1.0) and same["jaccard_K2"] == same["jaccard_K4"] == 1.0
    early = np.r_[np.arange(4, 0, -1), np.zeros(8)].astype(float)  # all weight on layer 0
    late = early[::-1].copy()  # all weight on layer 2
    far = TR.labelled_features(early, late, (3, 4), K=4, jaccard_K=[4])
    assert far["fp_cosine"] == 0.0 and far["fp_wasserstein"] == pytest.approx(2.0) and far["jaccard_K4"] == 0.0


def _domain(rng, n, shift, planted=(1, 5)):
    X = rng.normal(size=(n, 12)).astype(np.float32)
    y = (X[:, planted[0]] + X[:, planted[1]] > 0).astype(int)
    X[:, 6:] += shift
    return X, y


CLF = ClassifierParams(C=1.0, max_iter=500)


def test_label_free_features_see_shift_without_target_labels():
    rng = np.random.default_rng(0)
    Xs, ys = _domain(rng, 400, 0.0)
    Xt_same, _ = _domain(rng, 400, 0.0)
    Xt_far, _ = _domain(rng, 400, 3.0)
    neurons = np.r_[1, 5, 0, 2, 3, 4, 6, 7, 8, 9, 10, 11]  # the source's order: planted neurons first
    near = TR.label_free_features(Xs, ys, Xt_same, neurons, (3, 4), K_fp=2, n_estimators=30, classifier=CLF)
    far = TR.label_free_features(Xs, ys, Xt_far, neurons, (3, 4), K_fp=2, n_estimators=30, classifier=CLF)
    assert near["domain_acc"] < 0.6 < 0.95 < far["domain_acc"]
    assert near["mean_shift"] < 0.2 and far["mean_shift"] == pytest.approx(1.5, abs=0.2)  # 3 sd on half the neurons
    # the source classifier's pseudo-labels on the target point the forest at the planted neurons
    assert near["pseudo_jaccard"] == 1.0 and near["pseudo_fp_cosine"] == pytest.approx(1.0)


def _pairs(n_targets=4, n_sources=5, seed=0, noise=0.0):
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_targets):
        for s in range(n_sources):
            sim = rng.random()
            gain = 0.2 * sim + noise * rng.normal()
            rows.append({"source": f"s{s}", "target": f"t{t}", "accuracy": 0.6 + gain, "gain": gain,
                         "fp_cosine": sim, "fp_wasserstein": 1 - sim, "importance_spearman": rng.random(),
                         "jaccard_K10": sim / 2, "domain_acc": 1 - sim / 2, "mean_shift": rng.random(),
                         "pseudo_fp_cosine": sim, "pseudo_jaccard": rng.random()})
    return pd.DataFrame(rows)


def test_correlations_find_a_planted_relation_and_not_noise():
    corr = TR.correlations(_pairs(), n_resamples=200).set_index("feature")
    assert corr.loc["fp_cosine", "rho_gain"] == pytest.approx(1.0) and corr.loc["fp_cosine", "agrees_gain"]
    assert corr.loc["fp_cosine", "rho_accuracy"] == pytest.approx(1.0) and corr.loc["fp_cosine", "agrees"]
    assert corr.loc["fp_wasserstein", "rho_gain"] == pytest.approx(-1.0) and corr.loc["fp_wasserstein", "agrees"]
    assert corr.loc["domain_acc", "agrees"]  # expected sign is negative
    assert corr.loc["fp_cosine", "within_target_rho"] == pytest.approx(1.0) and corr.loc["fp_cosine", "n_targets"] == 4
    noise = corr.loc["importance_spearman"]
    assert noise.rho_gain_low < 0 < noise.rho_gain_high and not noise.agrees
    assert set(corr["kind"]) == {"labelled", "label-free"}


@pytest.mark.parametrize("predict", TR.RANKER_TARGETS)
@pytest.mark.parametrize("kind", TR.RANKERS)
def test_ranker_never_sees_the_held_out_targets_outcomes(kind, predict):
    """Changing a target's measured accuracies and gains must not change the scores its own ranker gives it."""
    pairs = _pairs(noise=0.02)
    _, free = TR.feature_names(pairs)
    before = TR.rank_leave_one_target_out(pairs, free, kind, predict=predict)
    poisoned = pairs.copy()
    held = poisoned.target == "t2"
    poisoned.loc[held, "gain"] = -poisoned.loc[held, "gain"] * 100
    poisoned.loc[held, "accuracy"] = 1 - poisoned.loc[held, "accuracy"] ** 3
    after = TR.rank_leave_one_target_out(poisoned, free, kind, predict=predict)
    np.testing.assert_array_equal(before[held], after[held])
    assert not np.allclose(before[~held], after[~held])  # the others do learn from t2


def test_ranker_needs_two_targets_and_a_known_kind():
    pairs = _pairs(n_targets=1)
    with pytest.raises(ConfigError, match="two or more targets"):
        TR.rank_leave_one_target_out(pairs, ["fp_cosine"], "linear")
    with pytest.raises(ConfigError, match="unknown ranker"):
        TR.rank_leave_one_target_out(_pairs(), ["fp_cosine"], "svm")
    with pytest.raises(ConfigError, match="unknown ranker target"):
        TR.rank_leave_one_target_out(_pairs(), ["fp_cosine"], "linear", predict="f1")


def test_relative_accuracy_ranker_recovers_a_planted_within_target_order():
    """Targets differ in difficulty; the ranker must still order each target's sources by the planted feature."""
    pairs = _pairs(n_targets=5, noise=0.0)
    pairs["accuracy"] += pairs.target.str[1:].astype(int) * 0.05  # target offsets unrelated to the features
    score = TR.rank_leave_one_target_out(pairs, ["fp_cosine"], "linear")
    for _, g in pairs.groupby("target"):
        assert list(np.argsort(-score[g.index].to_numpy())) == list(np.argsort(-g["accuracy"].to_numpy()))


def test_budget_curve_oracle_random_and_perfect_ranker():
    pairs = pd.DataFrame({"target": ["a"] * 4 + ["b"] * 2, "source": list("wxyzwx"),
                          "accuracy": [0.5, 0.9, 0.7, 0.6, 0.8, 0.4], "gain": 0.0})
    perfect = pairs["accuracy"].copy()
    worst = -pairs["accuracy"]
    curve = TR.budget_curve(pairs, {"perfect": perfect, "worst": worst}, fractions=(0.25, 0.5, 1.0)).set_index("fraction")
    assert curve.loc[1.0, "perfect"] == curve.loc[1.0, "worst"] == curve.loc[1.0, "oracle"] == pytest.approx(85.0)
    assert curve.loc[0.25, "perfect"] == pytest.approx(85.0)
    assert curve.loc[0.25, "worst"] == pytest.approx((50 + 40) / 2)
    # one of four at random: mean accuracy; one of two at random: mean (b)
    assert curve.loc[0.25, "random"] == pytest.approx((np.mean([50, 90, 70, 60]) + np.mean([80, 40])) / 2)
    # two of four: expected max over the 6 subsets of a's sources
    exp_a = np.mean([90, 70, 60, 90, 90, 70])
    assert curve.loc[0.5, "random"] == pytest.approx((exp_a + 60) / 2)  # b: one of two
    assert curve.loc[0.5, "pairs_run"] == 3 and curve.loc[0.5, "pairs_total"] == 6


def _fake_world(monkeypatch, fit_on_target: bool):
    rng = np.random.default_rng(0)
    X, y = _domain(rng, 60, 0.0)
    acts = {d: Activations(d, X + i, y, f"sha-{d}", (3, 4), {"array_sha256": f"arr-{d}"})
            for i, d in enumerate(["src", "tgt"])}
    monkeypatch.setattr("tsns.store.load.activations", lambda store, d, **kw: acts[d])

    def load_importance(store, d, **kw):
        m = rng.random((2, 12))
        arrays = {"m": m, "order": np.argsort(-m, axis=1), "seeds": np.array([0, 1])}
        fit_on = ["sha-src"] + (["sha-tgt"] if fit_on_target and d == "src" else [])
        return arrays, {"activations_sha256": f"arr-{d}", "fit_on": fit_on, "layer_shape": [3, 4]}

    monkeypatch.setattr("tsns.store.load.importance", load_importance)


def test_measure_pairs_refuses_a_selection_that_saw_the_target(monkeypatch):
    _fake_world(monkeypatch, fit_on_target=True)
    with pytest.raises(TargetLeakError, match="src -> tgt"):
        ST.measure_pairs([("src", "tgt")], splits={}, K=4, seeds=[0, 1], fingerprint_K=4, jaccard_K=[2],
                         n_estimators=5, store=Store(Path(".")))


def test_measure_pairs_row(monkeypatch):
    _fake_world(monkeypatch, fit_on_target=False)
    df = ST.measure_pairs([("src", "tgt")], splits={}, K=4, seeds=[0, 1], fingerprint_K=4, jaccard_K=[2],
                          n_estimators=5, store=Store(Path(".")))
    r = df.iloc[0]
    assert (r.source, r.target, r.n_source, r.n_target) == ("src", "tgt", 60, 60)
    assert 0 <= r.accuracy <= 1 and r.gain == pytest.approx(r.accuracy - r.last_layer)
    assert {"fp_cosine", "jaccard_K2", "domain_acc", "pseudo_fp_cosine"} <= set(df.columns)
    with pytest.raises(ConfigError, match="seeds"):
        ST.measure_pairs([("src", "tgt")], splits={}, K=4, seeds=[7], fingerprint_K=4, jaccard_K=[2], n_estimators=5, store=Store(Path(".")))
