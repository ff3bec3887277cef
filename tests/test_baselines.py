"""The blog baselines (tsns.baselines) on tiny synthetic roots: no encoder is run.

A fake root holds normalised tables under registry names and activation files
written directly (``np.save`` + a sidecar with the fields ``load_activations``
checks), so each test takes well under a second or two.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tsns import baselines as B
from tsns import data as D
from tsns.errors import ActivationFileError, ConfigError, TSNSError
from tsns.extract import _ids_sha256
from tsns.importance import ForestParams
from tsns.io import file_sha256

SHAPE = (5, 4)  # (n_layers, hidden): layer 0 = embeddings, 4 transformer layers


def _table(name: str, splits: dict[str, int], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for split, n in splits.items():
        for i in range(n):
            rows.append({"id": f"{name}:{split}:{i}", "text_a": f"review {i} of {name} {rng.integers(1000)}",
                         "text_b": None, "label": i % 2, "split": split, "domain": name})
    return pd.DataFrame(rows)


def _write_acts(path, df, X, *, sha, pooling="cls", truncation="head"):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, X.astype(np.float16))
    side = {"dataset": df.attrs.get("name", "x"), "dataset_sha256": sha, "shape": list(X.shape), "dtype": "float16",
            "config": {"model": "fake", "pooling": pooling, "max_length": 16, "truncation": truncation,
                       "head_fraction": 0.25 if truncation == "head+tail" else None},
            "model_info": {"resolved": "fake-encoder"}, "array_sha256": file_sha256(path),
            "ids_sha256": _ids_sha256(df["id"].tolist())}
    path.with_suffix(".json").write_text(json.dumps(side))


def _acts(df, seed, shift=0.0):
    """(n, 5, 4) activations; the label moves channel 0 of every layer, so transfer works."""
    rng = np.random.default_rng(seed)
    y = df["label"].to_numpy()
    X = rng.normal(size=(len(df), *SHAPE)) + shift
    X[:, :, 0] += 2.0 * (2 * y[:, None] - 1)
    return X


def _make(root, name, splits, seed, *, variants=()):
    """Processed table + main activations + variants (``(variant name, pooling, truncation)``)."""
    D.save_table(_table(name, splits, seed), root / "data/processed" / f"{name}.parquet", {"source": "synthetic"})
    df = D.read_table(root / "data/processed" / f"{name}.parquet")  # canonical row order
    sha = json.loads((root / "data/processed" / f"{name}.json").read_text())["table_sha256"]
    X = _acts(df, seed, shift=0.1 * seed)
    _write_acts(root / "data/activations" / f"{name}.npy", df, X, sha=sha)
    for i, (vname, pooling, truncation) in enumerate(variants):
        Xv = X.copy()
        if truncation != "head":  # the "long" half of the texts changes
            Xv[: len(X) // 2] += 0.5 * np.random.default_rng(100 + i).normal(size=Xv[: len(X) // 2].shape)
        if pooling == "mean":
            Xv = 0.5 * Xv + 0.1
        _write_acts(root / "data/variants" / f"{vname}.npy", df, Xv, sha=sha, pooling=pooling, truncation=truncation)
    return df, X, sha


DOMAINS = ["books", "dvd", "kitchen"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("baselines")
    for i, d in enumerate(DOMAINS):
        _make(root, d, {"train": 20}, i, variants=[(f"{d}-mean", "mean", "head")])
    _make(root, "imdb", {"train": 30, "test": 20}, 7,
          variants=[("imdb-tail", "cls", "tail"), ("imdb-head+tail", "cls", "head+tail")])
    return root


# --------------------------------------------------------------------------- represent
def test_represent_shapes_and_values():
    A = np.arange(2 * 6 * 3, dtype=np.float32).reshape(2, 6, 3)
    A[1, 3, 2] = 1000.0  # a maximum inside the last 4 layers
    assert np.array_equal(B.represent(A, "last_layer"), A[:, -1])
    assert B.represent(A, "last4_concat").shape == (2, 12)
    assert np.array_equal(B.represent(A, "last4_concat")[:, :3], A[:, 2])
    assert np.array_equal(B.represent(A, "last4_max"), np.max(A[:, -4:], axis=1))
    assert B.represent(A, "last4_max")[1, 2] == 1000.0
    assert np.array_equal(B.represent(A, "all_layers"), A.reshape(2, -1))
    assert all(B.represent(A, r).dtype == np.float32 for r in B.REPRESENTATIONS)


def test_represent_rejects_unknown_and_too_few_layers():
    with pytest.raises(ConfigError, match="last4_concat"):
        B.represent(np.zeros((2, 5, 3)), "first_layer")
    with pytest.raises(ConfigError, match="at least 4 hidden states"):
        B.represent(np.zeros((2, 3, 3)), "last4_max")
    with pytest.raises(ConfigError, match="shape"):
        B.represent(np.zeros((2, 15)), "last_layer")


# --------------------------------------------------------------------------- load_variant
def test_load_variant_ok(root):
    a = B.load_variant("books-mean", "books", expect={"pooling": "mean"}, root=root)
    assert a.X.shape == (20, 20) and a.layer_shape == SHAPE and a.X.dtype == np.float32


def test_load_variant_missing_and_wrong_data(root, tmp_path):
    with pytest.raises(TSNSError, match=r"dvc repro extract_variant@books-max"):
        B.load_variant("books-max", "books", root=root)
    with pytest.raises(ConfigError, match="unknown dataset"):
        B.load_variant("x", "nosuchdata", root=root)
    with pytest.raises(ActivationFileError, match=r"pooling.*extract_variant@books-mean"):
        B.load_variant("books-mean", "books", expect={"pooling": "cls"}, root=root)
    # a sidecar whose dataset checksum is another table's
    side = root / "data/variants/dvd-mean.json"
    orig = side.read_text()
    meta = json.loads(orig)
    meta["dataset_sha256"] = "0" * 64
    side.write_text(json.dumps(meta))
    try:
        with pytest.raises(TSNSError, match=r"other data.*extract_variant@dvd-mean"):
            B.load_variant("dvd-mean", "dvd", root=root)
    finally:
        side.write_text(orig)


# --------------------------------------------------------------------------- representations
def test_run_representations_tables(root, tmp_path):
    res = B.run_representations(DOMAINS, pooled={"mean": "{dataset}-mean"}, C=1.0, max_iter=200, root=root,
                                out=tmp_path)
    wide = pd.read_csv(tmp_path / "reports/tables/representations.csv")
    assert len(wide) == 6 + 1 and wide.pair.iloc[-1] == "Average"
    acc_cols = [c for c in wide.columns if ":" in c]
    assert len(acc_cols) == 2 * len(B.REPRESENTATIONS)
    assert wide[acc_cols].apply(lambda c: c.between(0, 100)).all().all()
    assert len(res["long"]) == 2 * 4 * 6 and res["long"].accuracy.between(0, 1).all()
    md = (tmp_path / "reports/tables/representations.md").read_text()
    assert md.startswith("# Representation baselines") and "fake-encoder" in md and "| **Average** |" in md
    assert set(res["metrics"]["average_over_pairs"]) == set(acc_cols)
    assert res["metrics"]["reference_K"] is None  # no Table 2 here
    assert not (root / "reports").exists()  # outputs go to `out` only


def test_run_representations_reads_table2_reference(root, tmp_path):
    ref = tmp_path / "t2.csv"
    rows = [{"source": s, "target": t, "method": "singletsns", "K": K, "seed": seed, "accuracy": 0.5 + 0.1 * seed}
            for s in DOMAINS for t in DOMAINS if s != t for K in (100, 250, 700) for seed in (0, 1)]
    pd.DataFrame(rows).to_csv(ref, index=False)
    res = B.run_representations(DOMAINS, pooled={}, poolings=("cls",), max_iter=200, root=root, out=tmp_path,
                                reference=ref)
    assert res["metrics"]["reference_K"] == 250  # the K closest to 300
    assert np.allclose(res["wide"]["singletsns_K250"], 55.0)  # mean over seeds, in %
    assert "SingleTSNS K=250 (Table 2)" in res["markdown"]


def test_a_target_never_reaches_training(root, tmp_path, monkeypatch):
    import tsns.transfer as T

    seen = []
    orig = T.train_classifier
    monkeypatch.setattr(T, "train_classifier", lambda X, y, neurons, **k: seen.append(np.asarray(X)) or
                        orig(X, y, neurons, **k))
    B.run_representations(DOMAINS, pooled={"mean": "{dataset}-mean"}, max_iter=200, root=root, out=tmp_path)
    assert len(seen) == 2 * len(B.REPRESENTATIONS) * len(DOMAINS)  # one classifier per source, pooling and rep
    rows = {}
    for p in ("cls", "mean"):
        for d in DOMAINS:
            a = B._pooled_acts(d, p, {"mean": "{dataset}-mean"}, None, root)
            for rep in B.REPRESENTATIONS:
                rows[(p, rep, d)] = {r.tobytes() for r in B.represent(B._layers(a), rep)}
    for X in seen:
        got = {r.tobytes() for r in X}
        owners = {k[2] for k, v in rows.items() if got & v}
        assert len(owners) == 1  # the rows of one domain (the source) and no row of another
        assert any(got <= v for k, v in rows.items() if k[2] in owners)


# --------------------------------------------------------------------------- truncation
def test_run_truncation(root, tmp_path, monkeypatch):
    import tsns.transfer as T

    seen = []
    orig = T.train_classifier
    monkeypatch.setattr(T, "train_classifier", lambda X, y, neurons, **k: seen.append(len(X)) or
                        orig(X, y, neurons, **k))
    res = B.run_truncation("imdb", ["books", "dvd"], ("head", "tail", "head+tail"), K=6, seeds=[0, 1],
                           forest=ForestParams(n_estimators=5), J=2, beta=0.8, max_iter=200, root=root, out=tmp_path)
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
    doc = B.write_metrics({"truncation": res, "representations": {"x": 1}}, tmp_path)
    on_disk = json.loads((tmp_path / "reports/metrics_baselines.json").read_text())
    assert on_disk == json.loads(json.dumps(doc)) and on_disk["representations"] == {"x": 1}


def test_run_truncation_refuses_source_as_target_and_missing_variant(root, tmp_path):
    from tsns.errors import TargetLeakError

    with pytest.raises(TargetLeakError):
        B.run_truncation("imdb", ["imdb"], K=5, seeds=[0], forest=ForestParams(n_estimators=3), J=2, beta=0.8,
                         root=root, out=tmp_path)
    with pytest.raises(TSNSError, match=r"extract_variant@imdb-x-tail"):
        B.run_truncation("imdb", ["books"], ("tail",), variant_name="{dataset}-x-{truncation}", K=5, seeds=[0],
                         forest=ForestParams(n_estimators=3), J=2, beta=0.8, root=root, out=tmp_path)
    with pytest.raises(ConfigError, match="train and test splits"):
        B.run_truncation("books", ["dvd"], ("head",), K=5, seeds=[0], forest=ForestParams(n_estimators=3), J=2,
                         beta=0.8, root=root, out=tmp_path)


# --------------------------------------------------------------------------- extract_variant
def test_extract_variant_round_trip(tiny_bert, tmp_path):
    from tsns.extract import ExtractConfig

    D.save_table(_table("imdb", {"train": 4, "test": 2}, 0), tmp_path / "data/processed/imdb.parquet",
                 {"source": "synthetic"})
    cfg = ExtractConfig(model=tiny_bert, pooling="mean", max_length=16, truncation="tail", batch_size=4)
    side = B.extract_variant("imdb-mean-tail", "imdb", cfg, root=tmp_path)
    assert side["shape"] == [6, 3, 32] and side["config"]["truncation"] == "tail"
    assert not (tmp_path / "data/interim/partial/variants/imdb-mean-tail").exists()
    a = B.load_variant("imdb-mean-tail", "imdb", expect={"pooling": "mean", "truncation": "tail"}, root=tmp_path)
    assert a.X.shape == (6, 3 * 32) and a.layer_shape == (3, 32)
    with pytest.raises(ConfigError, match="plain file name"):
        B.extract_variant("../evil", "imdb", cfg, root=tmp_path)
    with pytest.raises(ConfigError, match="unknown dataset"):
        B.extract_variant("x", "nosuch", cfg, root=tmp_path)
