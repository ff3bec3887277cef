"""SingleTSNS on meta-fine-tuned encoders (stage mft_transfer): the target never trains an encoder."""
import json

import numpy as np
import pandas as pd
import pytest

from tsns.errors import ConfigError, TargetLeakError

DOMAINS = ("books", "dvd", "kitchen")
TOPIC = {"books": ["plot", "author", "chapter", "novel"], "dvd": ["film", "actor", "scene", "disc"],
         "kitchen": ["knife", "pan", "spoon", "glass"]}


def _root(root, n=24):
    """Processed tables of three Amazon domains (n short reviews each, two classes)."""
    from tsns import data as D

    rng = np.random.default_rng(5)
    pos = ["good", "great", "love", "excellent", "works", "fine", "perfect"]
    neg = ["bad", "awful", "hate", "broke", "poor", "waste", "terrible"]
    for dom in DOMAINS:
        rows = []
        for i in range(n):
            lab = i % 2
            words = list(rng.choice(pos if lab else neg, size=3)) + list(rng.choice(TOPIC[dom], size=3))
            rows.append({"id": f"{dom}:r{i}", "text_a": " ".join(rng.permutation(words)), "text_b": None,
                         "label": lab, "split": "train", "domain": dom})
        D.save_table(pd.DataFrame(rows), root / "data/processed" / f"{dom}.parquet", {"source": "synthetic"})
    return root


MFT = {"layers": [1, 2], "lam": 0.1, "alpha": 0.5, "n_prototypes": 1, "epochs": 1, "finetune_epochs": 1, "lr": 1e-4,
       "batch_size": 8, "max_length": 16}
IMP = {"J": 2, "beta": 0.7, "alpha": 1.0, "eps": 1e-6, "scaling": "literal", "method": "random_forest",
       "n_estimators": 8, "max_depth": None, "max_features": "sqrt", "n_jobs": 1}


def _kw(tiny_bert, root, tmp_path):
    return {"K": [4, 10], "seeds": [0], "mft": MFT, "importance": IMP, "max_length": 16, "train_rows": 8,
            "model": tiny_bert, "device": "cpu", "precision": "fp32", "root": root, "out": tmp_path / "out",
            "show_progress": False}


def test_stage_tables_provenance_and_resume(tiny_bert, tmp_path, monkeypatch):
    import tsns.mft as M
    import tsns.mft_transfer as T

    root = _root(tmp_path / "root")
    kw = _kw(tiny_bert, root, tmp_path)
    res = T.run(list(DOMAINS), **kw)
    long = res["long"]
    # 3 targets x 2 sources x 3 encoders x (last layer, all layers, 2 K)
    assert len(long) == 3 * 2 * 3 * 4 and long.accuracy.between(0, 1).all()
    assert not (long.source == long.target).any()
    assert set(res["metrics"]) == {f"{e}/{r}" for e in T.ENCODERS
                                   for r in ("last_layer", "all_layers", "singletsns_K4", "singletsns_K10")}
    md = (tmp_path / "out/reports/tables/mft_transfer.md").read_text()
    assert "MFT (Full) on the sources" in md and "vs. pre-trained" in md and "Fingerprints" in md
    assert json.loads((tmp_path / "out/reports/metrics_mft_transfer.json").read_text()) == res["metrics"]
    # fingerprint shares sum to one per selection (3 hidden states of the tiny BERT: emb, 1, 2)
    fp = res["fingerprints"]
    assert np.allclose(fp[["0", "1", "2"]].sum(axis=1), 1.0)
    # each trained encoder records the sources it was trained on: never its target
    shas = {d: json.loads((root / f"data/processed/{d}.json").read_text())["table_sha256"] for d in DOMAINS}
    for target in DOMAINS:
        for kind in ("bert_mix", "mft"):
            doc = json.loads((root / f"data/mft_transfer/seed0/{target}/{kind}/encoder.json").read_text())
            assert shas[target] not in doc["fit_on"] and len(doc["fit_on"]) == 2
            assert sorted(doc["sources"]) == sorted(d for d in DOMAINS if d != target)

    # a re-run trains, extracts and ranks nothing: the same numbers from the kept encoders and activations
    def no_work(*a, **k):
        raise AssertionError("a finished piece was computed again")

    monkeypatch.setattr(M, "fine_tune", no_work)
    monkeypatch.setattr(M, "meta_fine_tune", no_work)
    monkeypatch.setattr("tsns.extract.extract_activations", no_work)
    monkeypatch.setattr("tsns.importance.ranking", no_work)
    again = T.run(list(DOMAINS), **kw)
    assert again["metrics"] == res["metrics"]
    pd.testing.assert_frame_equal(again["long"], long)


def test_encoder_trained_on_the_target_is_refused(tiny_bert, tmp_path):
    """An encoder whose provenance holds the target: transfer refuses it (and its training rows are checked)."""
    from tsns.mft_transfer import Encoder, check_sources_only, source_encoder
    from tsns.transfer import HeldOutTarget, LabelledSource, Selection, transfer_accuracy

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 6)), np.arange(20) % 2
    enc = Encoder("mft", "somewhere", ("sha-books", "sha-kitchen"))  # trained with kitchen's labels
    src = LabelledSource("books", X, y, "sha-books")
    tgt = HeldOutTarget("kitchen", X, y, "sha-kitchen")
    with pytest.raises(TargetLeakError, match="kitchen"):
        transfer_accuracy(src, tgt, Selection(np.arange(3), "last_layer", enc.fit_on))
    train = pd.DataFrame({"domain": ["books", "kitchen"], "text_a": ["a", "b"], "label": [0, 1]})
    with pytest.raises(TargetLeakError, match="sources"):
        check_sources_only(train, ["books", "dvd"])
    with pytest.raises(TargetLeakError):
        source_encoder("bert_mix", train, sources=["books", "dvd"], shas={"books": "a", "dvd": "b"},
                       model=tiny_bert, folder=tmp_path, mft=MFT, seed=0, device="cpu", precision="fp32")


def test_bad_settings(tmp_path):
    from tsns.mft_transfer import run

    kw = {"K": [5], "seeds": [0], "mft": MFT, "importance": IMP, "root": tmp_path}
    with pytest.raises(ConfigError, match="targets"):
        run(["books"], **kw)
    with pytest.raises(ConfigError, match="unknown dataset"):
        run(["books", "nope"], **kw)
    with pytest.raises(ConfigError, match="encoders"):
        run(["books", "dvd", "kitchen"], encoders=["pretrained", "adv"], **kw)
    with pytest.raises(ConfigError, match="three or more targets"):
        run(["books", "dvd"], encoders=["pretrained", "mft"], **kw)
    with pytest.raises(ConfigError, match="K"):
        run(["books", "dvd", "kitchen"], **{**kw, "K": []})
