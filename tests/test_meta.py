"""MultiTSNS (paper 3.2): pairings, meta-importance, alpha tuning, q cache, no target leak."""
from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from tsns.method import multi as meta
from tsns.method import qcache as qc
from tsns.errors import ConfigError, TargetLeakError, TSNSError
from tsns.method.learners import LearnerParams as ForestParams
from tsns.method.single import aggregate, importance_matrix, top_k
from tsns.method.qcache import QCache
from tsns.store.qcache import DiskQCache
from tsns.method.multi import (check_target_not_in_sources, learn, meta_importance, multitsns, pairings)
from tsns.method.transfer import HeldOutTarget, LabelledSource, check_no_leak, transfer_accuracy
from tsns.method.waterfill import waterfill

N = 30
FAST = dict(J=3, beta=0.7, gamma=0.5, params=ForestParams(n_estimators=10))
REF = dict(J=4, beta=0.7, gamma=0.5, params=ForestParams(n_estimators=20))  # enough trees to find neurons 0-4


def _domain(seed, n=200, shift=0.0):
    """n x N activations; neurons 0-4 carry the label (as in every source), the rest is noise."""
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, N)) + shift).astype(np.float32)
    y = (X[:, :5].sum(axis=1) - 5 * shift + 0.5 * rng.normal(size=n) > 0).astype(int)
    return X, y


def _source(name, seed, n=200, shift=0.0):
    X, y = _domain(seed, n=n, shift=shift)
    return LabelledSource(name, X, y, f"sha-{name}")


@pytest.fixture(scope="module")
def sources():
    return {"a": _source("a", 1, n=150), "b": _source("b", 2, shift=0.3), "c": _source("c", 3, shift=-0.2)}


@pytest.fixture(scope="module")
def ref(sources):
    """One MultiTSNS run (leave_one_out, K=5, random_state=0) shared by several tests."""
    return multitsns(sources, K=5, random_state=0, **REF)


@pytest.fixture
def count_q(monkeypatch):
    """Count the calls of the (real) importance learner inside tsns.method.multi."""
    calls = []

    def counting(*args, **kw):
        calls.append(kw.get("random_state"))
        return importance_matrix(*args, **kw)

    monkeypatch.setattr(meta, "importance_matrix", counting)
    return calls


# --------------------------------------------------------------------------- pairings
def test_pairings_leave_one_out_m3():
    assert pairings(["a", "b", "c"]) == [(("b", "c"), ("a",)), (("a", "c"), ("b",)), (("a", "b"), ("c",))]


def test_pairings_one_vs_rest_m3():
    assert pairings(["a", "b", "c"], "one_vs_rest") == [(("a",), ("b", "c")), (("b",), ("a", "c")),
                                                         (("c",), ("a", "b"))]


def test_pairings_all_pairs_m3():
    got = pairings(["a", "b", "c"], "all_pairs")
    assert got == [(("a",), ("b",)), (("a",), ("c",)), (("b",), ("a",)), (("b",), ("c",)), (("c",), ("a",)),
                   (("c",), ("b",))]


@pytest.mark.parametrize("scheme", meta.SCHEMES)
def test_pairings_are_disjoint_and_cover_every_source(scheme):
    names = ["w", "x", "y", "z"]
    for tr, tu in pairings(names, scheme):
        assert tr and tu and not set(tr) & set(tu)
    assert {n for tr, tu in pairings(names, scheme) for n in tr + tu} == set(names)


def test_pairings_errors():
    with pytest.raises(ConfigError, match="at least 2 sources, got 1"):
        pairings(["a"])
    with pytest.raises(ConfigError, match="must be one of leave_one_out"):
        pairings(["a", "b"], "round_robin")
    with pytest.raises(ConfigError, match="names a more than once"):
        pairings(["a", "b", "a"])
    with pytest.raises(ConfigError, match="got the string"):
        pairings("ab")


# --------------------------------------------------------------------------- meta-importance
def test_meta_importance_hand_computed():
    # N=3, 2N=6: h = [(6-1)/3 + (6-2)/3, (6-2)/3 + (6-1)/3, (6-3)/3 + (6-3)/3] = [3, 3, 2]
    h = meta_importance(np.array([[1, 2, 3], [2, 1, 3]]))
    np.testing.assert_allclose(h, [5 / 3 + 4 / 3, 4 / 3 + 5 / 3, 1 + 1])
    assert h[0] == h[1]  # an exact tie ...
    np.testing.assert_array_equal(top_k(h, 2), [0, 1])  # ... broken by the lower index


def test_meta_importance_single_learner_and_order():
    h = meta_importance(np.array([[3, 1, 4, 2]]))  # N=4: (8 - r) / 4
    np.testing.assert_allclose(h, [5 / 4, 7 / 4, 4 / 4, 6 / 4])
    np.testing.assert_array_equal(top_k(h, 4), [1, 3, 0, 2])


def test_meta_importance_exact_ties_with_many_learners():
    """Equal rank sums give bit-equal h (neurons 0-2 below), whatever the learners' order."""
    rest, tser = [4, 5, 6, 7], [7, 6, 5, 4]
    R = np.array([[1, 2, 3] + rest, [2, 3, 1] + tser, [3, 1, 2] + rest,
                  [1, 3, 2] + tser, [3, 2, 1] + rest, [2, 1, 3] + tser])  # P=6, N=7
    h = meta_importance(R)
    assert h[0] == h[1] == h[2]
    np.testing.assert_array_equal(meta_importance(R[::-1]), h)
    np.testing.assert_allclose(h, ((2 * 7 - R) / 7).sum(axis=0))
    np.testing.assert_array_equal(top_k(h, 3), [0, 1, 2])


@pytest.mark.parametrize("bad", [np.array([1, 2, 3]), np.array([[0, 1, 2]]), np.array([[1, 2, 4]]),
                                 np.array([[1.5, 2, 3]])])
def test_meta_importance_rejects_bad_ranks(bad):
    with pytest.raises(ConfigError, match="ranks"):
        meta_importance(bad)


# --------------------------------------------------------------------------- alpha tuning
def _planted_q(J=4):
    """q by construction (N=12):
    neurons 0-2: stable but weak (0.02 in every sample) -- they carry the label;
    neurons 3-5: strong but unstable (0.3 / 0 alternately) -- pure noise in the data;
    neurons 6-11: small and unstable noise."""
    q = np.zeros((J, 12))
    q[:, 0:3] = 0.02
    q[0::2, 3:6] = 0.30
    q[0::2, 6:] = 0.01
    return q


def _stable_sources():
    out = {}
    for i, name in enumerate(["s1", "s2", "s3"]):
        rng = np.random.default_rng(10 + i)
        X = rng.normal(size=(300, 12)).astype(np.float32)
        y = (X[:, :3].sum(axis=1) > 0).astype(int)
        out[name] = LabelledSource(name, X, y, f"sha-{name}")
    return out


def test_alpha_tuning_picks_the_alpha_that_is_best_by_construction(monkeypatch):
    """With normalized scaling, alpha < ~0.54 ranks the stable neurons 0-2 first (they carry
    the label: high tuning accuracy); alpha >= 0.75 ranks the unstable noise 3-5 first
    (chance accuracy). The best alphas tie; the larger one, 0.5, must win."""
    q = _planted_q()
    monkeypatch.setattr(meta, "importance_matrix", lambda *a, **kw: q.copy())
    grid = (0.0, 0.25, 0.5, 0.75, 1.0)
    expected_sets = [set(top_k(aggregate(q, a, 1e-6, "normalized"), 3).tolist()) for a in grid]
    assert expected_sets == [{0, 1, 2}] * 3 + [{3, 4, 5}] * 2  # the construction
    res = learn(_stable_sources(), ["s1", "s2"], ["s3"], K=3, J=4, beta=0.7, gamma=0.5, alpha_grid=grid,
                scaling="normalized", params=ForestParams(n_estimators=5))
    acc = res.accuracies
    assert acc[0] == acc[1] == acc[2] and acc[3] == acc[4]
    assert acc[0] > 0.85 and acc[3] < 0.7
    assert res.alpha == 0.5
    np.testing.assert_allclose(res.m, aggregate(q, 0.5, 1e-6, "normalized"))
    assert set(np.flatnonzero(res.r <= 3)) == {0, 1, 2}


def test_alpha_tuning_with_literal_scaling_shows_the_eq1_trap(monkeypatch):
    """Literal eq. 1: every alpha < 1 is dominated by the stability term (NOTES.md)."""
    q = _planted_q()
    monkeypatch.setattr(meta, "importance_matrix", lambda *a, **kw: q.copy())
    res = learn(_stable_sources(), ["s1", "s2"], ["s3"], K=3, J=4, gamma=0.5, scaling="literal",
                alpha_grid=(0.0, 0.5, 0.75, 0.99, 1.0), params=ForestParams(n_estimators=5))
    assert res.alpha == 0.99


def test_alpha_ties_go_to_the_larger_alpha(monkeypatch, sources):
    monkeypatch.setattr(meta, "tune_accuracy", lambda *a, **kw: 0.75)
    res = learn(sources, ["a"], ["b"], K=5, alpha_grid=(1.0, 0.0, 0.5), **FAST)
    assert res.alpha == 1.0
    np.testing.assert_array_equal(res.accuracies, [0.75, 0.75, 0.75])
    np.testing.assert_array_equal(res.alpha_grid, [1.0, 0.0, 0.5])


def test_scorer_decides_the_alpha(monkeypatch):
    """A monkeypatched scorer that only likes the unstable neurons 3-5 makes alpha >= 0.75 win: 1.0."""
    q = _planted_q()
    monkeypatch.setattr(meta, "importance_matrix", lambda *a, **kw: q.copy())
    monkeypatch.setattr(meta, "tune_accuracy",
                        lambda Xt, yt, Xu, yu, neurons, *a, **kw: 0.9 if set(neurons.tolist()) == {3, 4, 5} else 0.6)
    res = learn(_stable_sources(), ["s1"], ["s2", "s3"], K=3, J=4, gamma=0.5, params=ForestParams(n_estimators=5))
    assert res.alpha == 1.0
    np.testing.assert_array_equal(res.accuracies, [0.6, 0.6, 0.6, 0.9, 0.9])


def test_tuning_sample_is_gamma_of_the_tuning_sources(sources, monkeypatch):
    seen = {}

    def scorer(Xt, yt, Xu, yu, neurons, *a, **kw):
        seen["n_train"], seen["n_tune"] = len(yt), len(yu)
        return 0.5

    monkeypatch.setattr(meta, "tune_accuracy", scorer)
    res = learn(sources, ["a"], ["b", "c"], K=5, J=2, gamma=0.1, params=ForestParams(n_estimators=5))
    assert seen == {"n_train": 150, "n_tune": 20 + 20} and res.n_tune == 40
    assert res.allocation == {"a": 150}


def test_budget_L_is_water_filled(sources, monkeypatch):
    seen = {}

    def scorer(Xt, yt, Xu, yu, neurons, *a, **kw):
        seen["n_train"], seen["n_tune"] = len(yt), len(yu)
        return 0.5

    monkeypatch.setattr(meta, "tune_accuracy", scorer)
    # train {a:150, b:200}, L=240 -> 120 each; tune pool {c:200} capped at 200, gamma 0.5 -> 100
    res = learn(sources, ["b", "a"], ["c"], K=5, J=2, gamma=0.5, L=240, params=ForestParams(n_estimators=5))
    assert res.allocation == waterfill({"a": 150, "b": 200}, 240) == {"a": 120, "b": 120}
    assert seen == {"n_train": 240, "n_tune": 100}
    # a budget above the data is the same as no budget (same rows, same key, same q)
    big = learn(sources, ["a", "b"], ["c"], K=5, J=2, gamma=0.5, L=10**6, params=ForestParams(n_estimators=5))
    none = learn(sources, ["a", "b"], ["c"], K=5, J=2, gamma=0.5, L=None, params=ForestParams(n_estimators=5))
    assert big.q_key == none.q_key
    np.testing.assert_array_equal(big.q, none.q)


# --------------------------------------------------------------------------- MultiTSNS end to end
def test_multitsns_finds_the_planted_neurons_and_shapes(ref):
    res, P = ref, 3
    assert res.h.shape == (N,) and res.ranks.shape == (P, N) and res.alphas.shape == (P,)
    assert res.tuning.shape == (P, 5) and res.selected.shape == (5,)
    assert set(res.selected.tolist()) == set(range(5))
    np.testing.assert_array_equal(np.sort(res.ranks, axis=1), np.tile(np.arange(1, N + 1), (P, 1)))
    np.testing.assert_allclose(res.h, meta_importance(res.ranks))
    np.testing.assert_array_equal(res.selected, top_k(res.h, 5))
    assert res.learners == pairings(["a", "b", "c"])
    for p, d in enumerate(res.details):
        assert res.alphas[p] == d.alpha and res.alphas[p] in res.alpha_grid
        np.testing.assert_array_equal(res.ranks[p], d.r)
        np.testing.assert_array_equal(res.tuning[p], d.accuracies)
    table = res.tuning_table()
    assert len(table) == P * 5 and table.groupby("learner")["chosen"].sum().tolist() == [1] * P
    sel = res.selection()
    assert sel.method == "multitsns" and sel.K == 5 and sel.fit_on == res.fit_on and sel.seed == 0


@pytest.mark.parametrize("scheme,P", [("one_vs_rest", 3), ("all_pairs", 6)])
def test_multitsns_other_schemes_and_fit_on(sources, scheme, P):
    res = multitsns(sources, K=4, pairing=scheme, **FAST)
    assert res.ranks.shape == (P, N) and len(res.learners) == P and res.pairing == scheme
    assert res.learners == pairings(list(sources), scheme)
    assert sorted(res.fit_on) == sorted(s.sha256 for s in sources.values())


def test_same_seed_same_h_other_seed_other_h(sources, ref):
    again = multitsns(sources, K=5, random_state=0, **REF)
    other = multitsns(sources, K=5, random_state=1, **REF)
    np.testing.assert_array_equal(again.h, ref.h)
    np.testing.assert_array_equal(again.ranks, ref.ranks)
    np.testing.assert_array_equal(again.alphas, ref.alphas)
    np.testing.assert_array_equal(again.tuning, ref.tuning)
    np.testing.assert_array_equal(again.selected, ref.selected)
    assert not np.array_equal(other.h, ref.h)
    # seeds come from names, not positions: listing the sources in another order changes nothing
    rev = dict(reversed(list(sources.items())))
    np.testing.assert_array_equal(multitsns(rev, K=5, random_state=0, **REF).h, ref.h)


def test_independent_of_n_jobs(sources):
    from joblib import parallel_config

    kw = dict(K=5, random_state=3, **FAST)
    one = learn(sources, ["a", "b"], ["c"], n_jobs=1, **kw)
    with parallel_config(backend="threading"):  # real parallel fits, without starting processes
        two = learn(sources, ["a", "b"], ["c"], n_jobs=2, **kw)
    np.testing.assert_array_equal(one.q, two.q)
    np.testing.assert_array_equal(one.accuracies, two.accuracies)
    assert one.alpha == two.alpha


# --------------------------------------------------------------------------- the q cache
def test_learners_sharing_training_sources_compute_q_once(sources, count_q):
    res = multitsns(sources, K=5, pairing="all_pairs", **FAST)  # 6 learners, 3 distinct training sets
    assert len(count_q) == 3
    assert sum(d.q_cached for d in res.details) == 3
    by_train = {}
    for d in res.details:
        by_train.setdefault(d.train, []).append(d.q)
    for qs in by_train.values():
        np.testing.assert_array_equal(qs[0], qs[1])


def test_folder_cache_second_call_loads(sources, count_q, tmp_path):
    first = learn(sources, ["a", "b"], ["c"], K=5, cache=DiskQCache(tmp_path), **FAST)
    assert len(count_q) == 1 and not first.q_cached
    assert (tmp_path / f"{first.q_key}.npy").exists() and (tmp_path / f"{first.q_key}.json").exists()
    assert not list(tmp_path.glob("*.tmp"))  # atomic: no leftovers
    cache = DiskQCache(tmp_path)  # a fresh process: nothing in memory
    second = learn(sources, ["b", "a"], ["c"], K=5, cache=cache, **FAST)
    assert len(count_q) == 1 and second.q_cached and cache.hits == 1
    np.testing.assert_array_equal(first.q, second.q)
    np.testing.assert_array_equal(first.m, second.m)
    # tuning sources and tuning settings do not enter the key
    third = learn(sources, ["a", "b"], ["c"], K=3, cache=DiskQCache(tmp_path), alpha_grid=(0.0, 1.0), **FAST)
    assert len(count_q) == 1 and third.q_cached


def test_a_corrupted_q_cache_file_is_recomputed_not_read(sources, count_q, tmp_path):
    first = learn(sources, ["a", "b"], ["c"], K=5, cache=DiskQCache(tmp_path), **FAST)
    path = tmp_path / f"{first.q_key}.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x40  # the high byte of the last float64: a huge value if it were read
    path.write_bytes(bytes(raw))
    cache = DiskQCache(tmp_path)
    assert first.q_key not in cache
    again = learn(sources, ["a", "b"], ["c"], K=5, cache=cache, **FAST)
    assert len(count_q) == 2 and not again.q_cached
    np.testing.assert_array_equal(again.q, first.q)


def test_multitsns_reuses_q_across_runs(sources, count_q, tmp_path):
    multitsns(sources, K=5, cache=DiskQCache(tmp_path), **FAST)
    assert len(count_q) == 3
    again = multitsns(sources, K=4, gamma=0.2, cache=DiskQCache(tmp_path), J=FAST["J"], beta=FAST["beta"],
                      params=FAST["params"])
    assert len(count_q) == 3 and all(d.q_cached for d in again.details)


def test_in_memory_learn_without_cache_computes(sources, count_q):
    learn(sources, ["a"], ["b"], K=5, cache=None, **FAST)
    learn(sources, ["a"], ["b"], K=5, cache=None, **FAST)
    assert len(count_q) == 2


def test_every_q_input_changes_the_key(sources):
    fp = {n: qc.data_fingerprint(sources[n]) for n in ("a", "b")}
    base = dict(train={"a": "sha-a", "b": "sha-b"}, allocation={"a": 150, "b": 200}, J=3, beta=0.7,
                params=ForestParams(n_estimators=10), random_state=0, data=fp)
    k0 = QCache.key(**base)
    assert QCache.key(**base) == k0 and len(k0) == 64
    variants = [
        dict(train={"a": "sha-a"}),
        dict(train={"a": "sha-a", "c": "sha-b"}),
        dict(train={"a": "sha-a", "b": "sha-OTHER"}),
        dict(allocation={"a": 150, "b": 199}),
        dict(allocation=None),
        dict(J=4), dict(beta=0.5), dict(random_state=1),
        dict(data={**fp, "b": qc.data_fingerprint(_source("b", 99))}),
    ]
    for field_ in dataclasses.fields(ForestParams):
        other = {"method": "extra_trees", "n_estimators": 11, "max_depth": 7, "max_features": 0.5,
                 "min_samples_leaf": 2, "l1_C": 0.5}[field_.name]
        variants.append(dict(params=dataclasses.replace(base["params"], **{field_.name: other})))
    keys = {QCache.key(**{**base, **v}) for v in variants}
    assert k0 not in keys and len(keys) == len(variants)


def test_same_table_other_activations_is_another_key(sources, count_q):
    """The dataset checksum alone does not identify X (another encoder): the key sees the arrays."""
    cache = QCache()
    learn(sources, ["a"], ["b"], K=5, cache=cache, **FAST)
    X2 = sources["a"].X * 2 + 1
    moved = {**sources, "a": LabelledSource("a", X2, sources["a"].y, "sha-a")}
    learn(moved, ["a"], ["b"], K=5, cache=cache, **FAST)
    assert len(count_q) == 2


# --------------------------------------------------------------------------- the target never enters
def _target(seed, name="t", sha=None):
    X, y = _domain(seed, n=120, shift=0.5)
    return HeldOutTarget(name, X, np.random.default_rng(seed).permutation(y), sha or f"sha-{name}")


def test_selection_is_identical_whatever_target_is_evaluated_later(sources, ref):
    """Property: MultiTSNS never receives a target, so its selection is bit-identical
    across any targets one later evaluates (and evaluating them changes nothing)."""
    for fn in (multitsns, learn):
        assert not any("target" in p for p in inspect.signature(fn).parameters)
    sel = ref.selection()
    for seed in range(2):
        tgt = _target(100 + seed, name=f"t{seed}")
        check_target_not_in_sources(tgt, sources)
        for src in sources.values():
            assert 0.0 <= transfer_accuracy(src, tgt, sel) <= 1.0
        again = multitsns(sources, K=5, random_state=0, **REF)
        np.testing.assert_array_equal(again.h, ref.h)
        np.testing.assert_array_equal(again.selected, ref.selected)
        assert again.fit_on == ref.fit_on
    np.testing.assert_array_equal(sel.neurons, ref.selected)


def test_target_that_is_a_source_is_refused(sources):
    by_name = HeldOutTarget("b", sources["b"].X, sources["b"].y, "sha-unrelated")
    by_sha = HeldOutTarget("renamed", sources["c"].X, sources["c"].y, "sha-c")
    for tgt in (by_name, by_sha):
        with pytest.raises(TargetLeakError, match="remove it from the MultiTSNS sources"):
            check_target_not_in_sources(tgt, sources)
        with pytest.raises(TargetLeakError):
            check_target_not_in_sources(tgt, list(sources.values()))
    check_target_not_in_sources(_target(5), sources)  # an unrelated target passes


def test_fit_on_holds_all_and_only_the_source_checksums(sources, ref):
    assert sorted(ref.fit_on) == sorted(s.sha256 for s in sources.values())
    assert len(ref.fit_on) == len(set(ref.fit_on)) == 3
    # the transfer guard refuses a target that helped (here: was tuned on) the selection
    tuned_on = HeldOutTarget("c-as-target", sources["c"].X, sources["c"].y, "sha-c")
    with pytest.raises(TargetLeakError, match="selected with the target"):
        check_no_leak(tuned_on, sources["a"], ref.selection())


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("gamma", [0.0, -0.1, 1.5, "0.1"])
def test_bad_gamma(sources, gamma):
    with pytest.raises(ConfigError, match="gamma"):
        learn(sources, ["a"], ["b"], K=5, gamma=gamma, J=2, params=ForestParams(n_estimators=5))


def test_k_larger_than_n(sources):
    with pytest.raises(ConfigError, match=f"choose K <= {N}"):
        multitsns(sources, K=N + 1, **FAST)


def test_fewer_than_two_sources(sources):
    with pytest.raises(ConfigError, match="at least 2 sources"):
        multitsns({"a": sources["a"]}, K=5, **FAST)


def test_learner_input_errors(sources):
    kw = dict(K=5, J=2, params=ForestParams(n_estimators=5))
    with pytest.raises(ConfigError, match="must be disjoint"):
        learn(sources, ["a", "b"], ["b"], **kw)
    with pytest.raises(ConfigError, match="unknown source"):
        learn(sources, ["a"], ["zzz"], **kw)
    with pytest.raises(ConfigError, match="at least one training"):
        learn(sources, [], ["a"], **kw)
    with pytest.raises(ConfigError, match="got the string"):
        learn(sources, "a", ["b"], **kw)
    with pytest.raises(ConfigError, match="alpha_grid"):
        learn(sources, ["a"], ["b"], alpha_grid=(0.5, 1.5), **kw)
    with pytest.raises(ConfigError, match="each once"):
        learn(sources, ["a"], ["b"], alpha_grid=(0.5, 0.5), **kw)
    with pytest.raises(ConfigError, match="L="):
        learn(sources, ["a"], ["b"], L=0, **kw)
    with pytest.raises(ConfigError, match="scaling"):
        learn(sources, ["a"], ["b"], scaling="rank", **kw)


def test_source_set_errors(sources):
    same_data = {**sources, "d": LabelledSource("d", sources["a"].X, sources["a"].y, "sha-a")}
    with pytest.raises(ConfigError, match="same checksum"):
        multitsns(same_data, K=5, **FAST)
    other_N = {**sources, "d": LabelledSource("d", np.zeros((10, N + 1)), np.arange(10) % 2, "sha-d")}
    with pytest.raises(ConfigError, match="different numbers of neurons"):
        multitsns(other_N, K=5, **FAST)
    with pytest.raises(ConfigError, match="use its name as key"):
        multitsns({"x": sources["a"], "b": sources["b"]}, K=5, **FAST)
    single_class = {**sources, "d": LabelledSource("d", np.zeros((10, N)), np.zeros(10), "sha-d")}
    with pytest.raises(TSNSError, match="single class"):
        multitsns(single_class, K=5, **FAST)
