"""The blog baselines (stage ``baselines``) on tiny fake roots: no encoder is run, except for extract_variant.

A fake root (:mod:`fakes`) holds normalised tables under registry names and activation
files written directly, so each test takes well under a second or two.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import make_params
from fakes import SHAPE, copy_root, make, table

from tsns.config.importance import ImportanceConfig
from tsns.datasets.table import save_table
from tsns.errors import ActivationFileError, ConfigError, TSNSError
from tsns.method.classifier import ClassifierParams
from tsns.method.representations import REPRESENTATIONS, represent
from tsns.stages import baselines as B
from tsns.stages import baselines_truncation as BT
from tsns.stages import extract_variant
from tsns.store import load
from tsns.store.paths import Store

CLF = ClassifierParams(C=1.0, max_iter=200)
IMP = ImportanceConfig.from_params(make_params({"importance.J": 2, "importance.beta": 0.8,
                                                "importance.n_estimators": 5, "importance.n_jobs": 1}))


DOMAINS = ["books", "dvd", "kitchen"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("baselines")
    for i, d in enumerate(DOMAINS):
        make(root, d, {"train": 20}, i, mean=True)
    make(root, "imdb", {"train": 30, "test": 20}, 7,
          variants=[("imdb-tail", "cls", "tail"), ("imdb-head+tail", "cls", "head+tail")])
    return root


# --------------------------------------------------------------------------- represent
def test_represent_shapes_and_values():
    A = np.arange(2 * 6 * 3, dtype=np.float32).reshape(2, 6, 3)
    A[1, 3, 2] = 1000.0  # a maximum inside the last 4 layers
    assert np.array_equal(represent(A, "last_layer"), A[:, -1])
    assert represent(A, "last4_concat").shape == (2, 12)
    assert np.array_equal(represent(A, "last4_concat")[:, :3], A[:, 2])
    assert np.array_equal(represent(A, "last4_max"), np.max(A[:, -4:], axis=1))
    assert represent(A, "last4_max")[1, 2] == 1000.0
    assert np.array_equal(represent(A, "all_layers"), A.reshape(2, -1))
    assert all(represent(A, r).dtype == np.float32 for r in REPRESENTATIONS)


def test_represent_rejects_unknown_and_too_few_layers():
    with pytest.raises(ConfigError, match="last4_concat"):
        represent(np.zeros((2, 5, 3)), "first_layer")
    with pytest.raises(ConfigError, match="at least 4 hidden states"):
        represent(np.zeros((2, 3, 3)), "last4_max")
    with pytest.raises(ConfigError, match="shape"):
        represent(np.zeros((2, 15)), "last_layer")


# --------------------------------------------------------------------------- load_variant
def test_load_variant_ok(root):
    a = load.variant(Store(root), "imdb-tail", "imdb", expect={"truncation": "tail"})
    assert a.X.shape == (50, 20) and a.layer_shape == SHAPE and a.X.dtype == np.float32


def test_load_variant_missing_and_wrong_data(root, tmp_path):
    copy_root(root, tmp_path)
    store = Store(tmp_path)
    with pytest.raises(TSNSError, match=r"dvc repro extract_variant@imdb-max"):
        load.variant(store, "imdb-max", "imdb")
    with pytest.raises(ConfigError, match="unknown dataset"):
        load.variant(store, "x", "nosuchdata")
    with pytest.raises(ActivationFileError, match=r"truncation.*extract_variant@imdb-tail"):
        load.variant(store, "imdb-tail", "imdb", expect={"truncation": "head"})
    # a sidecar whose dataset checksum is another table's
    side = tmp_path / "data/variants/imdb-head+tail.json"
    meta = json.loads(side.read_text())
    meta["dataset_sha256"] = "0" * 64
    side.write_text(json.dumps(meta))
    with pytest.raises(TSNSError, match=r"other data.*extract_variant@imdb-head\+tail"):
        load.variant(store, "imdb-head+tail", "imdb")


def test_mean_pooled_activations_beside_the_main_ones(root):
    a = load.activations(Store(root), "books", pooling="mean", expect={"pooling": "mean"})
    assert a.X.shape == (20, 20) and a.layer_shape == SHAPE
    with pytest.raises(ActivationFileError, match="pooling='mean' but the current params say 'cls'"):
        load.activations(Store(root), "books", pooling="mean", expect={"pooling": "cls"})


# --------------------------------------------------------------------------- representations
def test_run_representations_tables(root, tmp_path):
    copy_root(root, tmp_path)
    res = B.run_representations(Store(tmp_path), DOMAINS, classifier=CLF)
    wide = pd.read_csv(tmp_path / "reports/tables/representations.csv")
    assert len(wide) == 6 + 1 and wide.pair.iloc[-1] == "Average"
    acc_cols = [c for c in wide.columns if ":" in c]
    assert len(acc_cols) == 2 * len(REPRESENTATIONS)
    assert wide[acc_cols].apply(lambda c: c.between(0, 100)).all().all()
    assert len(res["long"]) == 2 * 4 * 6 and res["long"].accuracy.between(0, 1).all()
    md = (tmp_path / "reports/tables/representations.md").read_text()
    assert md.startswith("# Representation baselines") and "fake-encoder" in md and "| **Average** |" in md
    assert set(res["metrics"]["average_over_pairs"]) == set(acc_cols)
    assert res["metrics"]["reference_K"] is None  # no Table 2 here


def test_run_representations_reads_table2_reference(root, tmp_path):
    copy_root(root, tmp_path)
    ref = tmp_path / "reports/tables/table2_long.csv"
    ref.parent.mkdir(parents=True)
    rows = [{"source": s, "target": t, "method": "singletsns", "K": K, "seed": seed, "accuracy": 0.5 + 0.1 * seed}
            for s in DOMAINS for t in DOMAINS if s != t for K in (100, 250, 700) for seed in (0, 1)]
    pd.DataFrame(rows).to_csv(ref, index=False)
    res = B.run_representations(Store(tmp_path), DOMAINS, poolings=("cls",), classifier=CLF)
    assert res["metrics"]["reference_K"] == 250  # the K closest to 300
    assert np.allclose(res["wide"]["singletsns_K250"], 55.0)  # mean over seeds, in %
    assert "SingleTSNS K=250 (Table 2)" in res["markdown"]


def test_a_target_never_reaches_training(root, tmp_path, monkeypatch):
    copy_root(root, tmp_path)
    seen = []
    orig = B.train_classifier
    monkeypatch.setattr(B, "train_classifier", lambda X, y, neurons, *a, **k: seen.append(np.asarray(X)) or
                        orig(X, y, neurons, *a, **k))
    B.run_representations(Store(tmp_path), DOMAINS, classifier=CLF)
    assert len(seen) == 2 * len(REPRESENTATIONS) * len(DOMAINS)  # one classifier per source, pooling and rep
    rows = {}
    for p in ("cls", "mean"):
        for d in DOMAINS:
            a = load.activations(Store(root), d, pooling=None if p == "cls" else p)
            for rep in REPRESENTATIONS:
                rows[(p, rep, d)] = {r.tobytes() for r in represent(B.layers_of(a), rep)}
    for X in seen:
        got = {r.tobytes() for r in X}
        owners = {k[2] for k, v in rows.items() if got & v}
        assert len(owners) == 1  # the rows of one domain (the source) and no row of another
        assert any(got <= v for k, v in rows.items() if k[2] in owners)


# --------------------------------------------------------------------------- truncation
def test_run_truncation(root, tmp_path, monkeypatch):
    copy_root(root, tmp_path)
    seen = []
    orig = BT.train_classifier
    monkeypatch.setattr(BT, "train_classifier", lambda X, y, neurons, *a, **k: seen.append(len(X)) or
                        orig(X, y, neurons, *a, **k))
    res = BT.run_truncation(Store(tmp_path), "imdb", ["books", "dvd"], ("head", "tail", "head+tail"), K=6,
                            seeds=[0, 1], importance=IMP, classifier=CLF)
    wide = pd.read_csv(tmp_path / "reports/tables/truncation.csv")
    assert wide.truncation.tolist() == ["head", "tail", "head+tail"]
    assert wide.activations.tolist() == ["data/activations/imdb.npy", "data/variants/imdb-tail.npy",
                                         "data/variants/imdb-head+tail.npy"]
    assert wide.rows_changed_vs_head.tolist()[0] == 0.0 and 40 <= wide.rows_changed_vs_head.iloc[1] <= 60
    means = [c for c in wide.columns if c.endswith("_mean")]
    assert len(means) == 6 and wide[means].apply(lambda c: c.between(0, 100)).all().all()
    # in-domain classifiers see the 30 train rows only; transfer classifiers all 50 source rows
    assert set(seen) == {30, 50} and seen.count(30) == seen.count(50) == 3 * (2 + 2)
    long = res["long"]
    assert set(long[long.setting == "in_domain"].target) == {"imdb test"}
    assert set(long[long.setting == "transfer"].target) == {"books", "dvd"}
    assert (long[long.method == "singletsns"].K == 6).all()
    md = (tmp_path / "reports/tables/truncation.md").read_text()
    assert "`head_fraction` = 0.25" in md and "## Per target" in md and "fake-encoder" in md
    assert set(res["metrics"]) == {"head", "tail", "head+tail"}
    assert res["metrics"]["head"]["rows_changed_vs_head"] == 0.0


def test_run_truncation_refuses_source_as_target_and_missing_variant(root, tmp_path):
    from tsns.errors import TargetLeakError

    copy_root(root, tmp_path)
    store = Store(tmp_path)
    with pytest.raises(TargetLeakError):
        BT.run_truncation(store, "imdb", ["imdb"], K=5, seeds=[0], importance=IMP)
    with pytest.raises(TSNSError, match=r"extract_variant@imdb-x-tail"):
        BT.run_truncation(store, "imdb", ["books"], ("tail",), variant_name="{dataset}-x-{truncation}", K=5, seeds=[0],
                          importance=IMP)
    with pytest.raises(ConfigError, match="train and test splits"):
        BT.run_truncation(store, "books", ["dvd"], ("head",), K=5, seeds=[0], importance=IMP)


# --------------------------------------------------------------------------- extract_variant
def test_extract_variant_round_trip(tiny_bert, tmp_path):
    save_table(table("imdb", {"train": 4, "test": 2}, 0), tmp_path / "data/processed/imdb.parquet",
               {"source": "synthetic"})
    params = make_params({"extract.model": tiny_bert, "extract.max_length": 16, "extract.batch_size": 4,
                          "baselines.variants": {"imdb-mean-tail": {"dataset": "imdb", "pooling": "mean",
                                                                    "truncation": "tail"},
                                                 "../evil": {"dataset": "imdb", "pooling": "mean", "truncation": "tail"},
                                                 "x": {"dataset": "nosuch", "pooling": "mean", "truncation": "tail"}}})
    side = extract_variant.run("imdb-mean-tail", params=params, root=tmp_path)
    assert side["shape"] == [6, 2, 32] and side["config"]["truncation"] == "tail"
    assert not (tmp_path / "data/interim/partial/variants/imdb-mean-tail").exists()
    a = load.variant(Store(tmp_path), "imdb-mean-tail", "imdb", expect={"pooling": "mean", "truncation": "tail"})
    assert a.X.shape == (6, 2 * 32) and a.layer_shape == (2, 32)
    with pytest.raises(ConfigError, match="plain file name"):
        extract_variant.run("../evil", params=params, root=tmp_path)
    with pytest.raises(ConfigError, match="unknown dataset"):
        extract_variant.run("x", params=params, root=tmp_path)
    with pytest.raises(ConfigError, match="unknown variant 'y'"):
        extract_variant.run("y", params=params, root=tmp_path)
