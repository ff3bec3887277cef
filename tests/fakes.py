"""Fake repository roots for fast tests: normalised tables and activation files written directly (no encoder).

The activation sidecars carry the fields :func:`tsns.encoder.activations.load_activations`
and :func:`tsns.store.load.activations` check, so the stages read them as real ones.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd

from tsns.datasets.table import read_table, save_table
from tsns.encoder.activations import ids_sha256
from tsns.io import file_sha256

SHAPE = (5, 4)  # (n_layers, hidden): layer 0 = embeddings, 4 transformer layers


def table(name: str, splits: dict[str, int], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for split, n in splits.items():
        for i in range(n):
            rows.append({"id": f"{name}:{split}:{i}", "text_a": f"review {i} of {name} {rng.integers(1000)}",
                         "text_b": None, "label": i % 2, "split": split, "domain": name})
    return pd.DataFrame(rows)


def write_acts(path, df, X, *, sha, pooling="cls", truncation="head"):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, X.astype(np.float16))
    side = {"dataset": df.attrs.get("name", "x"), "dataset_sha256": sha, "shape": list(X.shape), "dtype": "float16",
            "config": {"model": "fake", "pooling": pooling, "include_embeddings": False, "max_length": 16,
                       "truncation": truncation, "head_fraction": 0.25 if truncation == "head+tail" else None},
            "model_info": {"resolved": "fake-encoder"}, "array_sha256": file_sha256(path),
            "ids_sha256": ids_sha256(df["id"].tolist())}
    path.with_suffix(".json").write_text(json.dumps(side))


def acts(df, seed, shift=0.0):
    """(n, 5, 4) activations; the label moves channel 0 of every layer, so transfer works."""
    rng = np.random.default_rng(seed)
    y = df["label"].to_numpy()
    X = rng.normal(size=(len(df), *SHAPE)) + shift
    X[:, :, 0] += 2.0 * (2 * y[:, None] - 1)
    return X


def make(root, name, splits, seed, *, variants=(), mean=False):
    """Processed table + main ([CLS]) activations, with ``mean`` the mean-pooled ones beside them
    (``<name>.mean.npy``), + variants (``(variant name, pooling, truncation)``)."""
    save_table(table(name, splits, seed), root / "data/processed" / f"{name}.parquet", {"source": "synthetic"})
    df = read_table(root / "data/processed" / f"{name}.parquet")  # canonical row order
    sha = json.loads((root / "data/processed" / f"{name}.json").read_text())["table_sha256"]
    X = acts(df, seed, shift=0.1 * seed)
    write_acts(root / "data/activations" / f"{name}.npy", df, X, sha=sha)
    if mean:
        write_acts(root / "data/activations" / f"{name}.mean.npy", df, 0.5 * X + 0.1, sha=sha, pooling="mean")
    for i, (vname, pooling, truncation) in enumerate(variants):
        Xv = X.copy()
        if truncation != "head":  # the "long" half of the texts changes
            Xv[: len(X) // 2] += 0.5 * np.random.default_rng(100 + i).normal(size=Xv[: len(X) // 2].shape)
        if pooling == "mean":
            Xv = 0.5 * Xv + 0.1
        write_acts(root / "data/variants" / f"{vname}.npy", df, Xv, sha=sha, pooling=pooling, truncation=truncation)
    return df, X, sha




def copy_root(src, dst):
    """A copy of a fake root's data (for a test that writes reports)."""
    shutil.copytree(src / "data", dst / "data", dirs_exist_ok=True)
    return dst
