"""Shared fixtures: a tiny randomly initialised BERT (no weights downloaded) and small arrays."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


def repo_params() -> dict:
    """A fresh copy of the repository's params.yaml."""
    import yaml

    return yaml.safe_load((REPO / "params.yaml").read_text())


def make_params(changes: dict | None = None) -> dict:
    """The repository's params.yaml with ``{"section.key": value}`` changes (tests run the real defaults)."""
    params = repo_params()
    for key, value in (changes or {}).items():
        *path, last = key.split(".")
        cur = params
        for part in path:
            cur = cur[part]
        assert last in cur or key == "seeds", f"unknown key {key}"
        cur[last] = value
    return params


def extract_config(**kw):
    """The ``extract`` section of params.yaml with ``kw`` replaced."""
    from tsns.config.extract import ExtractConfig

    return ExtractConfig.from_params(repo_params(), **kw)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A 2-layer, 32-wide BERT with random weights, saved to a local folder.

    The tokenizer is the embedded model's (offline); the weights are random, so
    nothing is downloaded and tests run in seconds.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from tsns.encoder.model import resolve_model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_bert")
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    BertModel(cfg).save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve_model("embedded")).save_pretrained(folder)
    return str(folder)


@pytest.fixture
def planted():
    """Synthetic source: 600 x 60 neurons; neurons 0-4 carry the label, the rest is noise."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 60)).astype(np.float32)
    y = (X[:, :5].sum(axis=1) + 0.5 * rng.normal(size=600) > 0).astype(int)
    return X, y


@pytest.fixture(scope="session")
def slice_repo(tmp_path_factory):
    """A copy of the repository after one `dvc repro` of the slice (`pipeline_slice.shrink`): (root, env, first run).

    Shared by the end-to-end and reliability tests, so the test command pays for one slice. A test that changes
    the copy's state leaves it consistent (a finished `dvc repro`), and each test reads the state it starts from.
    """
    from pipeline_slice import make_slice, shrink

    return make_slice(tmp_path_factory.mktemp("pipeline"), shrink)
