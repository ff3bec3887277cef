"""Meta Fine-Tuning (Wang et al. 2020): typicality, corruption, losses, training/resume, splits."""
from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd
import pytest

from conftest import make_params

from tsns.errors import ConfigError
from tsns.mft.meta import meta_fine_tune
from tsns.mft.model import MetaLearner, corrupt_domains, sdc_loss, tlc_loss
from tsns.mft.split import AMAZON_SPLIT, split_domain
from tsns.mft.train import evaluate, fine_tune
from tsns.mft.typicality import class_prototypes, typicality, typicality_cases, typicality_multi

R2 = math.sqrt(2) / 2  # cos 45 degrees

# 2 domains x 2 classes in the plane; prototypes: A0=(.5,.5) A1=(-1,0) B0=(1,0) B1=(0,-1)
H2 = np.array([[1, 0], [0, 1], [-1, 0], [1, 0], [0, -1]], dtype=float)
Y2 = np.array([0, 0, 1, 0, 1])
D2 = np.array(["A", "A", "A", "B", "B"])


def _texts(n=16, seed=0):
    rng = np.random.default_rng(seed)
    pos = ["good", "great", "love", "excellent", "works", "fine", "perfect"]
    neg = ["bad", "awful", "hate", "broke", "poor", "waste", "terrible"]
    topic = {"books": ["plot", "author", "chapter", "novel"], "kitchen": ["knife", "pan", "spoon", "glass"]}
    rows = []
    for i in range(n):
        dom = "books" if i % 2 == 0 else "kitchen"
        lab = (i // 2) % 2
        words = list(rng.choice(pos if lab else neg, size=3)) + list(rng.choice(topic[dom], size=3))
        rows.append({"id": f"r{i}", "text_a": " ".join(rng.permutation(words)), "text_b": None, "label": lab,
                     "split": "train", "domain": dom})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- typicality
def test_typicality_hand_computed_two_domains():
    # t = alpha * cos(x, own) + (1 - alpha) / (K - 1) * cos(x, other), K = 2, alpha = 0.25
    expected = [
        0.25 * R2 + 0.75 * 1.0,   # (1,0) in A0: cos to A0=(.5,.5) is R2, to B0=(1,0) is 1
        0.25 * R2 + 0.75 * 0.0,   # (0,1) in A0: R2 to A0, 0 to B0
        0.25 * 1.0 + 0.75 * 0.0,  # (-1,0) in A1: 1 to A1=(-1,0), 0 to B1=(0,-1)
        0.25 * 1.0 + 0.75 * R2,   # (1,0) in B0: 1 to B0, R2 to A0
        0.25 * 1.0 + 0.75 * 0.0,  # (0,-1) in B1: 1 to B1, 0 to A1
    ]
    np.testing.assert_allclose(typicality(H2, Y2, D2, alpha=0.25), expected, atol=1e-12)
    protos = class_prototypes(H2, Y2, D2)
    np.testing.assert_allclose(protos[("A", 0)], [0.5, 0.5])
    assert set(protos) == {("A", 0), ("A", 1), ("B", 0), ("B", 1)}


def test_typicality_three_domains_averages_the_others():
    H = np.array([[1, 0], [0, 1], [1, 1]], dtype=float)
    # alpha = 0.5, K = 3: own cosine 1, the others averaged with weight 0.5 / 2
    expected = [0.5 + 0.25 * (0 + R2), 0.5 + 0.25 * (0 + R2), 0.5 + 0.25 * (R2 + R2)]
    np.testing.assert_allclose(typicality(H, [1, 1, 1], ["a", "b", "c"]), expected, atol=1e-12)


def test_alpha_one_is_own_prototype_cosine():
    rng = np.random.default_rng(0)
    H = rng.normal(size=(30, 5))
    y = rng.integers(0, 2, size=30)
    d = np.repeat(["x", "y", "z"], 10)
    y[:2], y[10:12], y[20:22] = [0, 1], [0, 1], [0, 1]
    protos = class_prototypes(H, y, d)
    own = np.array([H[i] @ protos[(d[i], y[i])] / np.linalg.norm(H[i]) / np.linalg.norm(protos[(d[i], y[i])])
                    for i in range(30)])
    np.testing.assert_allclose(typicality(H, y, d, alpha=1.0), own, atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"d": ["A"] * 5}, "at least 2 domains"),
    ({"alpha": 1.5}, r"alpha=1.5 must lie in \[0, 1\]"),
    ({"alpha": -0.1}, r"must lie in \[0, 1\]"),
    ({"y": [0, 0, 1, 0, 0]}, r"empty \(domain, class\) group.*domain 'B', class 1"),
    ({"H": H2[:4]}, "same length"),
])
def test_typicality_errors(kwargs, match):
    args = {"H": H2, "y": Y2, "d": D2, "alpha": 0.5} | kwargs
    for fn in (typicality, typicality_multi):
        with pytest.raises(ConfigError, match=match) as err:
            fn(args["H"], args["y"], args["d"], alpha=args["alpha"])
        assert "\n" not in str(err.value)


def test_multi_prototype_with_one_prototype_equals_single():
    rng = np.random.default_rng(1)
    H = rng.normal(size=(40, 6))
    y = np.tile([0, 1], 20)
    d = np.repeat(["a", "b"], 20)
    np.testing.assert_allclose(typicality_multi(H, y, d, alpha=0.3, n_prototypes=1),
                               typicality(H, y, d, alpha=0.3), atol=1e-12)
    t2 = typicality_multi(H, y, d, alpha=0.3, n_prototypes=3, random_state=0)
    assert t2.shape == (40,) and np.all(np.abs(t2) <= 1 + 1e-9)
    np.testing.assert_array_equal(t2, typicality_multi(H, y, d, alpha=0.3, n_prototypes=3, random_state=0))
    assert not np.allclose(t2, typicality(H, y, d, alpha=0.3))


def test_typicality_cases_lowest_and_highest_per_domain():
    texts = [f"t{i}" for i in range(8)]
    scores = [0.1, 0.9, 0.5, 0.2, 0.8, 0.3, 0.7, 0.4]
    d = ["A"] * 4 + ["B"] * 4
    cases = typicality_cases(texts, scores, d, n=1, labels=[0, 1] * 4)
    assert list(cases.columns) == ["typicality", "domain", "label", "score", "text"]
    assert cases["text"].tolist() == ["t0", "t1", "t5", "t4"]
    assert cases["typicality"].tolist() == ["low", "high", "low", "high"]
    assert len(typicality_cases(texts, scores, d, n=3)) == 8  # small domains: no row twice


# ----------------------------------------------------------------------------- corruption and losses
def test_corrupt_domains_shuffles_and_keeps_the_multiset():
    import torch

    d = torch.tensor([0] * 8 + [1] * 8 + [2] * 4)
    z = corrupt_domains(d, torch.Generator().manual_seed(0))
    assert sorted(z.tolist()) == sorted(d.tolist())
    assert (z != d).any()
    assert torch.equal(z, corrupt_domains(d, torch.Generator().manual_seed(0)))


def test_tlc_loss_weights():
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    logits = torch.randn(4, 3, requires_grad=True)
    y = torch.tensor([0, 2, 1, 1])
    assert torch.allclose(tlc_loss(logits, y, torch.ones(4)), F.cross_entropy(logits, y))
    assert torch.allclose(tlc_loss(logits, y), F.cross_entropy(logits, y))
    t = torch.tensor([1.0, 1.0, 0.0, 1.0])
    loss = tlc_loss(logits, y, t)
    ce = F.cross_entropy(logits, y, reduction="none")
    assert torch.allclose(loss, (ce[0] + ce[1] + ce[3]) / 4)  # mean over the batch of t_i * CE_i
    loss.backward()
    assert torch.all(logits.grad[2] == 0)  # the t = 0 row is ignored


def test_sdc_loss_is_layer_average_and_decreases(tiny_bert):
    import torch
    import torch.nn.functional as F

    from tsns.encoder.model import load_model
    from tsns.encoder.tokenize import pad_batch as _pad_batch
    from tsns.encoder.tokenize import tokenize

    torch.manual_seed(0)
    logits = torch.randn(2, 5, 3)
    z = torch.tensor([0, 1, 2, 1, 0])
    expected = (F.cross_entropy(logits[0], z) + F.cross_entropy(logits[1], z)) / 2
    assert torch.allclose(sdc_loss(logits, z), expected)
    assert torch.allclose(sdc_loss(list(logits), z, torch.ones(5)), expected)

    tok, enc, _ = load_model(tiny_bert)
    learner = MetaLearner(enc, n_labels=2, n_domains=2, layers=[1, 2], hidden=32)
    df = _texts(8)
    ids, types, mask = _pad_batch(tokenize(tok, df["text_a"].tolist(), None, 32), tok.pad_token_id, "cpu")
    d = torch.tensor([0, 1] * 4)
    zc = corrupt_domains(d, torch.Generator().manual_seed(3))
    enc.requires_grad_(False)  # train only the domain classifiers (heads + domain embedding)
    opt = torch.optim.Adam([p for p in learner.parameters() if p.requires_grad], lr=1e-2)
    learner.eval()  # no dropout noise: a deterministic objective
    losses = []
    for _ in range(20):
        _, dom = learner(ids, mask, types, d)
        assert dom.shape == (2, 8, 2)
        loss = sdc_loss(dom, zc)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1, losses
    with pytest.raises(ConfigError, match="layers"):
        MetaLearner(enc, 2, 2, [3], 32)


# ----------------------------------------------------------------------------- training
def test_meta_fine_tune_checkpoint_and_resume(tiny_bert, tmp_path, caplog):
    from transformers import AutoModel

    df = _texts(16)
    kw = {"model": tiny_bert, "layers": [1, 2], "lam": 0.1, "alpha": 0.5, "lr": 1e-4, "batch_size": 8,
          "max_length": 24, "seed": 0, "device": "cpu", "precision": "fp32", "checkpoint_dir": tmp_path / "ck",
          "show_progress": False}
    caplog.set_level(logging.INFO, logger="tsns.mft")
    out = meta_fine_tune(df, epochs=1, **kw)
    meta = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())
    assert meta["epoch"] == 1 and len(meta["history"]) == 1 and np.isfinite(meta["history"][0]["loss"])
    assert meta["history"][0]["l_sdc"] > 0
    AutoModel.from_pretrained(out)  # a loadable encoder
    with np.load(tmp_path / "ck" / "typicality.npz") as z:
        assert z["typicality"].shape == (16,)
    mtime = (tmp_path / "ck" / "checkpoint.pt").stat().st_mtime_ns

    caplog.clear()
    assert meta_fine_tune(df, epochs=1, **kw) == out
    assert "already holds 1 complete epoch" in caplog.text
    assert (tmp_path / "ck" / "checkpoint.pt").stat().st_mtime_ns == mtime  # not retrained

    caplog.clear()
    meta_fine_tune(df, epochs=2, **kw)
    assert "resuming MFT" in caplog.text and "after epoch 1 of 2" in caplog.text
    assert "MFT epoch 1/2" not in caplog.text and "MFT epoch 2/2" in caplog.text
    meta = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())
    assert meta["epoch"] == 2 and [h["epoch"] for h in meta["history"]] == [1, 2]

    with pytest.raises(ConfigError, match="other settings.*lam"):
        meta_fine_tune(df, epochs=2, **(kw | {"lam": 0.3}))


def test_mft_variants(tiny_bert, tmp_path):
    df = _texts(16)
    kw = {"model": tiny_bert, "layers": [2], "epochs": 1, "lr": 1e-4, "batch_size": 8, "max_length": 24,
          "device": "cpu", "precision": "fp32", "show_progress": False}
    meta_fine_tune(df, variant="mft_tw", n_prototypes=2, checkpoint_dir=tmp_path / "tw", **kw)  # equation (3)
    assert json.loads((tmp_path / "tw" / "checkpoint.json").read_text())["history"][0]["l_sdc"] == 0
    meta_fine_tune(df, variant="mft_dc", checkpoint_dir=tmp_path / "dc", **kw)
    assert not (tmp_path / "dc" / "typicality.npz").exists()
    with pytest.raises(ConfigError, match="variant"):
        meta_fine_tune(df, variant="adv", checkpoint_dir=tmp_path / "x", **kw)
    with pytest.raises(ConfigError, match="split == 'train'"):
        meta_fine_tune(df.assign(split="test"), checkpoint_dir=tmp_path / "x", **kw)


def test_fine_tune_keeps_best_dev_epoch_and_evaluates(tiny_bert):
    books = _texts(16).query("domain == 'books'")
    clf = fine_tune(books, books, model_or_path=tiny_bert, epochs=2, lr=1e-4, batch_size=4, max_length=24,
                    device="cpu", precision="fp32", show_progress=False)
    acc = evaluate(clf, books)
    assert 0.0 <= acc <= 1.0 and len(clf.history) == 2 and "dev_accuracy" in clf.history[0]
    assert acc == max(h["dev_accuracy"] for h in clf.history)  # best dev epoch kept
    with pytest.raises(ConfigError, match="label"):
        evaluate(clf, books.assign(label=7))


# ----------------------------------------------------------------------------- split
def test_split_domain_proportions_and_determinism():
    df = pd.DataFrame({"id": [f"i{i}" for i in range(2400)], "text_a": "x", "text_b": None,
                       "label": np.arange(2400) % 2, "split": "train",
                       "domain": ["books"] * 2000 + ["dvd"] * 400})
    tr, dev, te = split_domain(df, seed=1)
    assert AMAZON_SPLIT == (0.875, 0.0625, 0.0625)
    books = [len(p[p["domain"] == "books"]) for p in (tr, dev, te)]
    assert books == [1750, 125, 125]  # Table 1: ~1,750 train, 250 held out, halved
    assert [len(p[p["domain"] == "dvd"]) for p in (tr, dev, te)] == [350, 25, 25]
    assert set(tr["split"]) == {"train"} and set(dev["split"]) == {"dev"} and set(te["split"]) == {"test"}
    ids = pd.concat([tr, dev, te])["id"]
    assert ids.is_unique and len(ids) == 2400
    again = split_domain(df, seed=1)
    assert all(a["id"].tolist() == b["id"].tolist() for a, b in zip((tr, dev, te), again))
    assert split_domain(df, seed=2)[1]["id"].tolist() != dev["id"].tolist()
    tr8, dev8, te8 = split_domain(df, seed=0, fractions=(0.8, 0.1, 0.1))
    assert (len(tr8), len(dev8), len(te8)) == (1920, 240, 240)
    with pytest.raises(ConfigError, match="fractions"):
        split_domain(df, fractions=(0.5, 0.2, 0.2))


# ----------------------------------------------------------------------------- stage `mft`
def _fake_root(root, n=24):
    """Processed tables of two Amazon domains (n short reviews each) written with tsns.datasets.table.save_table."""
    from tsns.datasets.table import save_table

    df = _texts(2 * n, seed=3)
    for dom in ("books", "kitchen"):
        part = df[df.domain == dom].assign(id=lambda x: dom + ":" + x["id"])
        save_table(part, root / "data/processed" / f"{dom}.parquet", {"source": "synthetic"})
    return root


def test_run_stage_writes_tables_and_resumes_without_training(tiny_bert, tmp_path, monkeypatch, caplog):
    import tsns.stages.mft as M
    from tsns.reference import wang2020

    root = _fake_root(tmp_path / "root")
    mft = {"domains": ["books", "kitchen"], "seeds": [0], "variants": list(M.METHODS), "layers": [1, 2], "lam": 0.1,
           "alpha": 0.5, "n_prototypes": 1, "epochs": 1, "finetune_epochs": 1, "lr": 1e-4, "batch_size": 16,
           "max_length": 16, "train_rows": 8, "model": tiny_bert, "device": "cpu", "precision": "fp32"}
    kw = {"params": make_params({f"mft.{k}": v for k, v in mft.items()}), "root": root, "show_progress": False}
    res = M.run(**kw)
    assert res["n_fits"] == 2 + 1 + 3 * 3  # S: 2 domains; Mix: 1; each MFT variant: meta + 2 domains
    long = res["long"]
    assert len(long) == 5 * 2 and long["accuracy"].between(0, 1).all()
    assert set(res["metrics"]) == set(M.METHODS)
    for m in M.METHODS:
        assert set(res["metrics"][m]) == {"books", "kitchen", "average"}
        assert all(0 <= v <= 1 for v in res["metrics"][m].values())
    tables = root / "reports/tables"
    md = (tables / "mft.md").read_text()
    for m in M.METHODS:
        assert M.METHOD_LABEL[m] in md and f"{wang2020.TABLE3[m]['B']:.1f}" in md
    assert (tables / "mft.csv").exists()
    doc = json.loads((root / "reports/metrics_mft.json").read_text())
    assert doc == res["metrics"]
    typ = (tables / "mft_typicality.md").read_text()
    assert "| low | Books |" in typ and "| high | Kitchen |" in typ
    assert len(res["typicality"]) == 2 * 2 * M.N_CASES
    ck = root / "data/mft"

    def run_of(method):  # each run lives in a folder named by the hash of its settings
        (folder,) = (ck / method / "seed0").iterdir()
        return folder

    assert (run_of("mft") / "meta" / "encoder").is_dir() and (run_of("bert_s") / "books.json").exists()
    assert (run_of("bert_mix") / "mix.json").exists()
    # train_rows: 8 of the 21 training rows per domain (stratified), as recorded by the fine-tunes
    assert json.loads((run_of("bert_s") / "kitchen.json").read_text())["n_train"] == 8
    assert "minutes" not in md and "logs/timings.jsonl" in md  # timings stay out of the tracked outputs
    assert any('"what": "mft/bert_s"' in line for line in (root / "logs/timings.jsonl").read_text().splitlines())

    # an interrupted run: one per-domain fine-tune is missing, the meta checkpoint is complete
    (run_of("mft_tw") / "kitchen.json").unlink()
    caplog.set_level(logging.INFO, logger="tsns.mft")
    resumed = M.run(**kw)
    assert resumed["n_fits"] == 2 and "already holds 1 complete epoch" in caplog.text
    assert resumed["metrics"] == res["metrics"]  # seeded: the same accuracy again

    def no_training(*a, **k):
        raise AssertionError("a finished piece was trained again")

    monkeypatch.setattr(M, "fine_tune", no_training)
    monkeypatch.setattr(M, "meta_fine_tune", no_training)
    monkeypatch.setattr(M, "last_layer_mean", no_training)  # typicality is reused from the MFT checkpoint
    again = M.run(**kw)
    assert again["n_fits"] == 0 and again["metrics"] == res["metrics"]
    assert (tables / "mft.md").read_text() == md  # the same table: timings are the recorded ones


def test_runs_of_other_settings_are_kept_apart_not_deleted(tmp_path):
    from tsns.mft.split import RUN_FILE, run_folder

    base = tmp_path / "mft" / "seed0"
    f = run_folder(base, {"lam": 0.1})
    (f / "books.json").write_text("{}")
    assert run_folder(base, {"lam": 0.1}) == f and (f / "books.json").exists()  # same settings: the same run
    g = run_folder(base, {"lam": 0.3})
    assert g != f and (f / "books.json").exists()  # other settings: a folder of their own, the old run kept
    assert json.loads((g / RUN_FILE).read_text())["identity"] == {"lam": 0.3}
    assert run_folder(base, {"lam": 0.1}) == f  # changing back finds the first run again
    (f / RUN_FILE).write_text(json.dumps({"identity": {"lam": 9}}))
    with pytest.raises(ConfigError, match="other settings than its name says"):
        run_folder(base, {"lam": 0.1})


def test_a_checkpoint_carrying_code_is_refused(tiny_bert, tmp_path):
    import pickle

    import torch

    df = _texts(16)
    kw = {"model": tiny_bert, "layers": [1, 2], "lam": 0.1, "alpha": 0.5, "lr": 1e-4, "batch_size": 8,
          "max_length": 24, "seed": 0, "device": "cpu", "precision": "fp32", "checkpoint_dir": tmp_path / "ck",
          "show_progress": False}
    meta_fine_tune(df, epochs=1, **kw)
    state = torch.load(tmp_path / "ck" / "checkpoint.pt", weights_only=True)  # what we write loads safely
    assert state["epoch"] == 1

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    state["history"] = [Payload()]
    with open(tmp_path / "ck" / "checkpoint.pt", "wb") as fh:
        pickle.dump(state, fh)
    with pytest.raises(ConfigError, match="not a plain weights checkpoint"):
        meta_fine_tune(df, epochs=2, **kw)  # a resume reads the checkpoint
    assert not marker.exists()


def test_a_corrupted_typicality_cache_is_recomputed(tiny_bert, tmp_path):
    df = _texts(16)
    kw = {"model": tiny_bert, "layers": [1, 2], "lam": 0.1, "alpha": 0.5, "lr": 1e-4, "batch_size": 8,
          "max_length": 24, "seed": 0, "device": "cpu", "precision": "fp32", "checkpoint_dir": tmp_path / "ck",
          "show_progress": False}
    meta_fine_tune(df, epochs=1, **kw)
    typ = tmp_path / "ck" / "typicality.npz"
    good = np.load(typ)["typicality"].copy()
    from tsns.io import verified

    assert verified(typ)
    raw = bytearray(typ.read_bytes())
    raw[-30] ^= 0xFF
    typ.write_bytes(bytes(raw))
    assert not verified(typ)
    meta_fine_tune(df, epochs=2, **kw)  # resumes; the scores are recomputed, not read
    assert verified(typ)
    np.testing.assert_allclose(np.load(typ)["typicality"], good, rtol=1e-6)


def test_run_stage_rejects_bad_settings(tmp_path):
    from tsns.stages.mft import run

    with pytest.raises(ConfigError, match="mft.variants"):
        run(params=make_params({"mft.variants": ["bert_s", "adv"]}), root=tmp_path)
    with pytest.raises(ConfigError, match="mft.domains"):
        run(params=make_params({"mft.domains": ["books"]}), root=tmp_path)
