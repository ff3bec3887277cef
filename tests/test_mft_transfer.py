"""SingleTSNS on meta-fine-tuned encoders (stage mft_transfer): the target never trains an encoder."""
import json

import numpy as np
import pandas as pd
import pytest

from conftest import make_params

from tsns.config.mft import MftConfig
from tsns.errors import ConfigError, TargetLeakError

DOMAINS = ("books", "dvd", "kitchen")
TOPIC = {"books": ["plot", "author", "chapter", "novel"], "dvd": ["film", "actor", "scene", "disc"],
         "kitchen": ["knife", "pan", "spoon", "glass"]}


def _root(root, n=24):
    """Processed tables of three Amazon domains (n short reviews each, two classes)."""
    from tsns.datasets.table import save_table

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
        save_table(pd.DataFrame(rows), root / "data/processed" / f"{dom}.parquet", {"source": "synthetic"})
    return root


MFT = {"layers": [1, 2], "lam": 0.1, "alpha": 0.5, "n_prototypes": 1, "epochs": 1, "finetune_epochs": 1, "lr": 1e-4,
       "batch_size": 8, "max_length": 16}
IMP = {"J": 2, "beta": 0.7, "alpha": 1.0, "eps": 1e-6, "scaling": "literal", "method": "random_forest",
       "n_estimators": 8, "max_depth": None, "max_features": "sqrt", "n_jobs": 1}


def _params(tiny_bert=None, **mft_transfer):
    changes = {**{f"mft.{k}": v for k, v in MFT.items()}, **{f"importance.{k}": v for k, v in IMP.items()},
               "mft.train_rows": 8, "mft.device": "cpu", "mft.precision": "fp32",
               "mft_transfer.K": [4, 10], "mft_transfer.seeds": [0], "mft_transfer.max_length": 16,
               "mft_transfer.targets": list(DOMAINS)}
    if tiny_bert:
        changes["mft.model"] = tiny_bert
    changes.update({f"mft_transfer.{k}": v for k, v in mft_transfer.items()})
    return make_params(changes)


def test_stage_tables_provenance_and_resume(tiny_bert, tmp_path, monkeypatch):
    import tsns.stages.mft_transfer as T
    from tsns.config.mft import ENCODERS

    root = _root(tmp_path / "root")
    kw = {"params": _params(tiny_bert), "root": root, "show_progress": False}
    res = T.run(**kw)
    long = res["long"]
    # 3 targets x 2 sources x 3 encoders x (last layer, all layers, 2 K)
    assert len(long) == 3 * 2 * 3 * 4 and long.accuracy.between(0, 1).all()
    assert not (long.source == long.target).any()
    assert set(res["metrics"]) == {f"{e}/{r}" for e in ENCODERS
                                   for r in ("last_layer", "all_layers", "singletsns_K4", "singletsns_K10")}
    md = (root / "reports/tables/mft_transfer.md").read_text()
    assert "MFT (Full) on the sources" in md and "vs. pre-trained" in md and "Fingerprints" in md
    assert json.loads((root / "reports/metrics_mft_transfer.json").read_text()) == res["metrics"]
    # fingerprint shares sum to one per selection (the 2 blocks of the tiny BERT; no embedding output)
    fp = res["fingerprints"]
    assert np.allclose(fp[["layer:1", "layer:2"]].sum(axis=1), 1.0) and "layer:emb" not in fp
    # each trained encoder records the sources it was trained on: never its target
    shas = {d: json.loads((root / f"data/processed/{d}.json").read_text())["table_sha256"] for d in DOMAINS}
    for target in DOMAINS:
        for kind in ("bert_mix", "mft"):
            (run,) = (root / f"data/mft_transfer/seed0/{target}/{kind}").iterdir()  # named by its settings' hash
            doc = json.loads((run / "encoder.json").read_text())
            assert shas[target] not in doc["fit_on"] and len(doc["fit_on"]) == 2
            assert not doc["path"].startswith("/") and (root / doc["path"]).is_dir()  # relative to the checkout
            assert sorted(doc["sources"]) == sorted(d for d in DOMAINS if d != target)

    # a re-run trains, extracts and ranks nothing: the same numbers from the kept encoders and activations
    def no_work(*a, **k):
        raise AssertionError("a finished piece was computed again")

    monkeypatch.setattr(T, "fine_tune", no_work)
    monkeypatch.setattr(T, "meta_fine_tune", no_work)
    monkeypatch.setattr(T, "extract_activations", no_work)
    monkeypatch.setattr(T, "ranking", no_work)
    again = T.run(**kw)
    assert again["metrics"] == res["metrics"]
    pd.testing.assert_frame_equal(again["long"], long)


def test_encoder_trained_on_the_target_is_refused(tiny_bert, tmp_path):
    """An encoder whose provenance holds the target: transfer refuses it (and its training rows are checked)."""
    from tsns.method.transfer import HeldOutTarget, LabelledSource, Selection, transfer_accuracy
    from tsns.stages.mft_transfer import Encoder, check_sources_only, source_encoder

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
                       model=tiny_bert, folder=tmp_path, root=tmp_path, mft=MftConfig.from_params(_params()), seed=0, device="cpu",
                       precision="fp32")


def test_bad_settings(tmp_path):
    from tsns.stages.mft_transfer import run

    with pytest.raises(ConfigError, match="mft_transfer.targets"):
        run(params=_params(targets=["books"]), root=tmp_path)
    with pytest.raises(ConfigError, match="unknown dataset"):
        run(params=_params(targets=["books", "nope"]), root=tmp_path)
    with pytest.raises(ConfigError, match="mft_transfer.encoders"):
        run(params=_params(encoders=["pretrained", "adv"]), root=tmp_path)
    with pytest.raises(ConfigError, match="three or more targets"):
        run(params=_params(targets=["books", "dvd"], encoders=["pretrained", "mft"]), root=tmp_path)
    with pytest.raises(ConfigError, match="mft_transfer.K"):
        run(params=_params(K=[]), root=tmp_path)
