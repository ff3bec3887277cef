"""Extraction on a tiny random BERT: shapes, truncation, pairs, resume and bad files."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tsns.errors import ActivationFileError, ConfigError, ModelUnavailableError
from conftest import extract_config as ExtractConfig
from tsns.encoder.activations import load_activations
from tsns.encoder.extract import extract_activations
from tsns.encoder.model import load_model
from tsns.encoder.tokenize import tokenize


def _df(n=12, pair=False):
    rng = np.random.default_rng(0)
    words = "good bad movie book great awful plot kitchen knife works broke love hate".split()
    a = [" ".join(rng.choice(words, size=int(rng.integers(2, 40)))) for _ in range(n)]
    b = [" ".join(rng.choice(words, size=int(rng.integers(2, 9)))) for _ in range(n)] if pair else [None] * n
    return pd.DataFrame({"id": [f"x{i}" for i in range(n)], "text_a": a, "text_b": b,
                         "label": [i % 2 for i in range(n)], "split": "train", "domain": "t"})


def test_shape_dtype_and_sidecar(tiny_bert, tmp_path):
    cfg = ExtractConfig(model=tiny_bert, max_length=32, batch_size=4)
    side = extract_activations(_df(), tmp_path / "a.npy", cfg, dataset="t", dataset_sha256="abc",
                               show_progress=False, chunk_size=5)
    X, meta = load_activations(tmp_path / "a.npy", expect={"model": tiny_bert, "dataset_sha256": "abc"})
    assert X.shape == (12, 2, 32) and X.dtype == np.float16  # 2 blocks (the embedding output left out)
    assert meta["layers"] == ["layer_1", "layer_2"] and meta["config"]["include_embeddings"] is False
    assert meta["config"]["pooling"] == "cls" and meta["model_info"]["weights"].startswith("sha256:")
    assert side.array_sha256 == meta["array_sha256"]
    assert not (tmp_path / ".partial").exists()


def test_cls_matches_padded_reference(tiny_bert, tmp_path):
    """Length-sorted dynamic padding gives the same vectors as padding to max_length."""
    import torch

    df = _df()
    cfg = ExtractConfig(model=tiny_bert, max_length=32, batch_size=4)
    extract_activations(df, tmp_path / "a.npy", cfg, dataset="t", dataset_sha256="abc", show_progress=False)
    X, _ = load_activations(tmp_path / "a.npy")
    tok, enc, _ = load_model(tiny_bert)
    batch = tok(df.text_a.tolist(), padding="max_length", truncation=True, max_length=32, return_tensors="pt")
    with torch.no_grad():
        ref = torch.stack(enc(**batch, output_hidden_states=True).hidden_states, 1)[:, :, 0, :].numpy()
    np.testing.assert_allclose(X.astype(np.float32), ref[:, 1:], atol=5e-3)  # the blocks, not the embeddings
    cfg = ExtractConfig(model=tiny_bert, max_length=32, batch_size=4, include_embeddings=True)
    extract_activations(df, tmp_path / "e.npy", cfg, dataset="t", dataset_sha256="abc", show_progress=False)
    E, meta = load_activations(tmp_path / "e.npy")
    np.testing.assert_allclose(E.astype(np.float32), ref, atol=5e-3)
    assert meta["layers"] == ["embeddings", "layer_1", "layer_2"]


def test_one_pass_writes_every_pooling(tiny_bert, tmp_path):
    """The mean-pooled activations written beside the [CLS] ones equal a separate mean-pooled extraction."""
    df = _df(8)
    extract_activations(df, tmp_path / "a.npy", ExtractConfig(model=tiny_bert, max_length=32), dataset="t",
                        dataset_sha256="abc", show_progress=False, also={"mean": tmp_path / "a.mean.npy"})
    extract_activations(df, tmp_path / "m.npy", ExtractConfig(model=tiny_bert, max_length=32, pooling="mean"),
                        dataset="t", dataset_sha256="abc", show_progress=False)
    cls, side = load_activations(tmp_path / "a.npy", expect={"pooling": "cls"})
    both, side_m = load_activations(tmp_path / "a.mean.npy", expect={"pooling": "mean"})
    alone, _ = load_activations(tmp_path / "m.npy")
    np.testing.assert_array_equal(np.asarray(both), np.asarray(alone))
    assert not np.allclose(np.asarray(cls), np.asarray(both))


def test_mean_pooling_differs_from_cls(tiny_bert, tmp_path):
    df = _df(6)
    for pooling in ("cls", "mean"):
        extract_activations(df, tmp_path / f"{pooling}.npy", ExtractConfig(model=tiny_bert, pooling=pooling),
                            dataset="t", dataset_sha256="a", show_progress=False)
    a, _ = load_activations(tmp_path / "cls.npy")
    b, _ = load_activations(tmp_path / "mean.npy")
    assert a.shape == b.shape and not np.allclose(a, b)


def test_truncation_strategies(tiny_bert):
    tok, _, _ = load_model(tiny_bert)
    text = "one two three four five six seven eight nine ten eleven twelve"
    dec = lambda items: tok.decode(items[0]["input_ids"])  # noqa: E731
    assert dec(tokenize(tok, [text], None, 6, "head")) == "[CLS] one two three four [SEP]"
    assert dec(tokenize(tok, [text], None, 6, "tail")) == "[CLS] nine ten eleven twelve [SEP]"
    assert dec(tokenize(tok, [text], None, 6, "head+tail", 0.5)) == "[CLS] one two eleven twelve [SEP]"
    assert dec(tokenize(tok, ["short"], None, 6, "tail")) == "[CLS] short [SEP]"


def test_pairs_use_the_model_pair_input(tiny_bert):
    tok, _, _ = load_model(tiny_bert)
    a, b = ["a premise that is rather long indeed", "p"], ["hypothesis", "a hypothesis here"]
    items = tokenize(tok, a, b, 10, "head")
    ref = tok(a, b, truncation="longest_first", max_length=10)
    assert [it["input_ids"] for it in items] == ref["input_ids"]
    assert [it["token_type_ids"] for it in items] == ref["token_type_ids"]


def test_resume_after_interruption(tiny_bert, tmp_path, monkeypatch):
    import tsns.encoder.extract as E

    df = _df(12)
    cfg = ExtractConfig(model=tiny_bert, max_length=32)
    ref_side = extract_activations(df, tmp_path / "ref.npy", cfg, dataset="t", dataset_sha256="a",
                                   show_progress=False, chunk_size=4)
    calls = {"n": 0}
    orig = E.encode

    def crash_on_second_chunk(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        return orig(*a, **k)

    monkeypatch.setattr(E, "encode", crash_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        extract_activations(df, tmp_path / "b.npy", cfg, dataset="t", dataset_sha256="a",
                            partial_dir=tmp_path / "part", show_progress=False, chunk_size=4)
    assert not (tmp_path / "b.npy").exists() and not (tmp_path / "b.json").exists()
    assert (tmp_path / "part" / "chunk_00000.cls.npy").exists() and (tmp_path / "part" / "chunk_00000.json").exists()
    monkeypatch.setattr(E, "encode", orig)
    calls["n"] = 0
    done = []
    monkeypatch.setattr(E, "encode", lambda *a, **k: done.append(1) or orig(*a, **k))
    side = extract_activations(df, tmp_path / "b.npy", cfg, dataset="t", dataset_sha256="a",
                               partial_dir=tmp_path / "part", show_progress=False, chunk_size=4)
    assert len(done) == 2  # chunk 0 reused, chunks 1 and 2 computed
    assert side.array_sha256 == ref_side.array_sha256


def test_truncated_file_gives_clear_error(tiny_bert, tmp_path):
    extract_activations(_df(6), tmp_path / "a.npy", ExtractConfig(model=tiny_bert), dataset="t",
                        dataset_sha256="a", show_progress=False)
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "a.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(ActivationFileError, match="truncated or corrupt.*re-run"):
        load_activations(tmp_path / "a.npy")


def test_sidecar_mismatch_is_refused(tiny_bert, tmp_path):
    extract_activations(_df(6), tmp_path / "a.npy", ExtractConfig(model=tiny_bert), dataset="t",
                        dataset_sha256="a", show_progress=False)
    with pytest.raises(ActivationFileError, match="made with pooling='cls' but the current params say 'mean'"):
        load_activations(tmp_path / "a.npy", expect={"pooling": "mean"})
    meta = json.loads((tmp_path / "a.json").read_text())
    meta["array_sha256"] = "0" * 64
    (tmp_path / "a.json").write_text(json.dumps(meta))
    with pytest.raises(ActivationFileError, match="checksum"):
        load_activations(tmp_path / "a.npy")


def test_missing_file(tmp_path):
    with pytest.raises(ActivationFileError, match="missing"):
        load_activations(tmp_path / "nope.npy")


def test_unknown_model_offline_names_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailableError, match="could not be loaded.*extract.model=embedded"):
        load_model("no-such-org/no-such-model-xyz")


@pytest.mark.parametrize("kw", [{"pooling": "max"}, {"truncation": "middle"}, {"max_length": 2},
                                {"head_fraction": 1.0}, {"precision": "int8"}, {"batch_size": 0}])
def test_config_validation(kw):
    with pytest.raises(ConfigError):
        ExtractConfig(**kw)


def test_empty_dataset(tiny_bert, tmp_path):
    with pytest.raises(ConfigError, match="no rows"):
        extract_activations(_df(0), tmp_path / "a.npy", ExtractConfig(model=tiny_bert), dataset="t",
                            dataset_sha256="a", show_progress=False)
