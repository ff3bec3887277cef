"""Train / dev / test splits of a domain, training subsets, and the identity of a run's folder."""
from __future__ import annotations

import json
import logging
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..io import atomic_write_json

log = logging.getLogger(__name__)

#: Train / dev / test fractions of one Amazon domain (Table 1: 2,000 reviews per domain,
#: 1,750 train on average and the 250 held-out reviews halved into dev and test).
AMAZON_SPLIT: tuple[float, float, float] = (0.875, 0.0625, 0.0625)
#: Fractions of the taxonomy datasets (§4.1: "80%:10%:10%").
TAXONOMY_SPLIT: tuple[float, float, float] = (0.8, 0.1, 0.1)
#: the file naming the settings whose results a run folder holds
RUN_FILE = "run.json"

# =========================================================================== splits
def split_domain(df: pd.DataFrame, seed: int = 0, *, fractions: tuple[float, float, float] = AMAZON_SPLIT
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-domain random train / dev / test split as in the MFT paper (§4.1, Table 1).

    For the Amazon reviews the paper keeps, of the 2,000 labelled reviews of each
    domain, about 1,750 for training and holds out the rest ("We hold out 2,000
    labeled reviews ... and split them into development and test sets"; Table 1:
    1,763/120/117, 1,752/120/128, 1,729/144/127, 1,756/119/125, i.e. 1,750/250 on
    average), so the default ``fractions`` are 87.5 % : 6.25 % : 6.25 %
    (:data:`AMAZON_SPLIT`; :data:`TAXONOMY_SPLIT` is the taxonomy task's 80:10:10).
    Each domain is shuffled independently (seeded by ``seed`` and the domain
    name), ``round(n * dev)`` rows go to dev, ``round(n * test)`` to test and the
    rest to train; no stratification (the paper's per-domain dev/test sizes vary).

    Parameters
    ----------
    df : pandas.DataFrame
        Rows of one or several domains (column ``domain``).
    seed : int
    fractions : (train, dev, test)
        Non-negative, summing to 1.

    Returns
    -------
    train, dev, test : pandas.DataFrame
        Rows in their original order, ``split`` set to ``"train"`` / ``"dev"`` / ``"test"``,
        index reset.
    """
    if "domain" not in df:
        raise ConfigError("df has no 'domain' column: pass a table built by tsns.datasets.load.load")
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or (f < 0).any() or not np.isclose(f.sum(), 1.0):
        raise ConfigError(f"fractions={tuple(fractions)} must be three non-negative numbers summing to 1")
    parts: dict[str, list[int]] = {"train": [], "dev": [], "test": []}
    positions = np.arange(len(df))
    dvals = df["domain"].astype(str).to_numpy()
    for k in sorted(set(dvals)):
        pos = positions[dvals == k]
        rng = np.random.default_rng([int(seed), zlib.crc32(k.encode())])
        perm = rng.permutation(pos)
        n = len(pos)
        n_dev = round(n * f[1])
        n_test = round(n * f[2])
        n_train = n - n_dev - n_test
        parts["train"] += perm[:n_train].tolist()
        parts["dev"] += perm[n_train:n_train + n_dev].tolist()
        parts["test"] += perm[n_train + n_dev:].tolist()
    out = []
    for name in ("train", "dev", "test"):
        sub = df.iloc[sorted(parts[name])].copy()
        sub["split"] = name
        out.append(sub.reset_index(drop=True))
    return tuple(out)  # type: ignore[return-value]


def rows_sha(df: pd.DataFrame) -> str:
    import hashlib

    h = hashlib.sha256()
    for col in ("text_a", "text_b", "label", "domain"):
        if col in df:
            h.update("\x1f".join(map(str, df[col].tolist())).encode())
            h.update(b"\x1e")
    return h.hexdigest()[:16]


def subsample(train: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """At most ``n`` training rows per domain, stratified by label and seeded; ``None`` keeps all."""
    if n is None:
        return train
    from sklearn.model_selection import train_test_split

    keep = []
    for k in sorted(train["domain"].astype(str).unique()):
        pos = np.flatnonzero(train["domain"].astype(str).to_numpy() == k)
        if len(pos) <= n:
            keep += pos.tolist()
            continue
        y = train["label"].to_numpy()[pos]
        strat = y if np.min(np.unique(y, return_counts=True)[1]) >= 2 else None
        chosen, _ = train_test_split(pos, train_size=int(n), stratify=strat,
                                     random_state=int(np.random.default_rng([int(seed), zlib.crc32(k.encode())])
                                                      .integers(2**31)))
        keep += chosen.tolist()
    return train.iloc[sorted(keep)].reset_index(drop=True)


def run_folder(base: Path, identity: dict) -> Path:
    """The folder of the run with settings ``identity``: ``base/<12 hex digits of the settings' hash>``.

    The stage's checkpoints persist between ``dvc repro`` runs (``persist: true``). A changed
    parameter gets a folder of its own, so it neither reuses nor deletes the checkpoints of the
    old settings (changing back finds them again). A folder whose ``run.json`` names other settings
    (a corrupted or hand-edited folder) is refused.
    """
    import hashlib

    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]
    folder = Path(base) / key
    meta = folder / RUN_FILE
    if meta.exists():
        try:
            old = json.loads(meta.read_text()).get("identity")
        except (OSError, ValueError):
            old = None
        if json.loads(json.dumps(old, default=str)) != json.loads(json.dumps(identity, default=str)):
            raise ConfigError(f"{folder} holds a run of other settings than its name says: delete that folder and "
                              "re-run")
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(meta, {"identity": identity})
    return folder


def done(path: Path) -> dict | None:
    """A per-domain result JSON written by this stage, or None when absent or unreadable."""
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if "accuracy" in doc else None
