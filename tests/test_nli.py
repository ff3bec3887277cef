"""Tables 3 and 5 (transfer to NLI targets) on small synthetic sentence-pair datasets.

The fixture writes normalised tables under the registry names rte, mrpc, snli
and scitail (synthetic pairs, so the test needs no mirror), extracts them with
the embedded encoder and computes SingleTSNS importance for the sources; MNLI
and QQP are left out, as on this machine, so their rows must say "data not
available" while the rest of the tables render.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import make_params

from tsns.datasets.table import save_table
from tsns.errors import ConfigError, TargetLeakError, TSNSError
from tsns.stages import extract, importance, meta_nli, transfer_nli, transfer_nli_multi
from tsns.stages.nli_common import UNAVAILABLE, check_row
from tsns.store import load
from tsns.store.paths import Store

AVAILABLE = ["rte", "mrpc", "snli", "scitail"]
TARGETS = {"scitail": "test", "qqp": "dev"}
SOURCES = ["qqp", "scitail", "mnli", "snli", "mrpc", "rte"]
ROWS = {"SNLI": ["snli"], "QQP+RTE": ["qqp", "rte"], "RTE+MRPC": ["rte", "mrpc"], "SNLI+RTE+MRPC": ["snli", "rte", "mrpc"]}
BASE = {"data.datasets": AVAILABLE, "extract.max_length": 32, "seeds": [0, 1], "importance.J": 2, "importance.beta": 0.8,
        "importance.n_estimators": 5, "importance.n_jobs": 1, "nli.targets": TARGETS, "nli.sources": SOURCES,
        "nli.scenarios": ROWS, "nli.L": 30, "nli.L_sweep": [12, 30], "nli.sweep_K": 5, "nli.K": [5, 100000],
        "meta.tune_K": 10, "meta.J": 2, "meta.beta": 0.7, "meta.gamma": 0.5, "meta.alpha_grid": [0.0, 1.0]}
PARAMS = make_params(BASE)


def P(**changes):
    """PARAMS with ``section__key=value`` changes."""
    return make_params({**BASE, **{k.replace("__", "."): v for k, v in changes.items()}})
WORDS = ["the cat sat on the mat", "a man plays a guitar", "children run in a park", "the sun is hot today",
         "a dog chases a red ball", "two women drink coffee", "the train leaves at noon", "rain falls on the roof"]


def _pairs(name: str, splits: dict[str, int], seed: int) -> pd.DataFrame:
    """Entailment = the hypothesis repeats the premise; neutral = another sentence."""
    rng = np.random.default_rng(seed)
    rows = []
    for split, n in splits.items():
        for i in range(n):
            a = WORDS[rng.integers(len(WORDS))]
            label = i % 2
            b = a if label else WORDS[(WORDS.index(a) + 1 + rng.integers(len(WORDS) - 1)) % len(WORDS)]
            rows.append({"id": f"{name}:{split}:{i}", "text_a": f"{a} {name} {i}", "text_b": b, "label": label,
                         "split": split, "domain": name})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("nli")
    sizes = {"rte": {"train": 16, "dev": 4}, "mrpc": {"train": 20}, "snli": {"dev": 24}, "scitail": {"test": 20}}
    for i, (d, splits) in enumerate(sizes.items()):
        save_table(_pairs(d, splits, i), root / "data/processed" / f"{d}.parquet", {"source": "synthetic (test)"})
        extract.run(d, params=PARAMS, root=root)
        importance.run(d, params=PARAMS, root=root)
    return root


def _meta(root, name):
    return meta_nli.run(name, params=PARAMS, root=root)


def test_table3_scores_the_target_split_and_marks_missing_data(root, monkeypatch):
    loads = []
    orig = load.activations
    monkeypatch.setattr(load, "activations",
                        lambda store, d, **k: loads.append((d, k.get("split"))) or orig(store, d, **k))
    res = transfer_nli.run(params=PARAMS, root=root)
    assert ("scitail", "test") in loads and ("scitail", None) not in loads  # the target: its test split, scored only
    st = res["status"].set_index(["target", "source"]).status.to_dict()
    assert st[("scitail", "snli")] == st[("scitail", "rte")] == "ok"
    assert st[("scitail", "qqp")] == st[("scitail", "mnli")] == "source"
    assert st[("qqp", "scitail")] == "target"  # QQP is not here: its whole half is unavailable
    assert ("scitail", "scitail") not in st
    long = res["long"]
    assert set(long.method) == {"last_layer", "singletsns", "random"} and set(long.K) >= {5, 6 * 384}
    assert long.accuracy.between(0, 1).all()
    md = (root / "reports/tables/table3.md").read_text()
    assert "## Target: SciTail (test split)" in md and "## Target: QQP (dev split)" in md
    qqp_row = next(line for line in md.splitlines() if line.startswith("| QQP |"))
    assert UNAVAILABLE in qqp_row and "66.9" in qqp_row  # ours: not available; paper's number beside
    assert "| RTE | " in md and "59.4" in md
    metrics = json.loads((root / "reports/metrics_table3.json").read_text())["table3"]
    assert set(metrics) == {"snli->scitail", "mrpc->scitail", "rte->scitail"}


def test_table3_refuses_a_selection_fitted_on_the_target(root):
    """If a source's importance had used the target's data, scoring must refuse it."""
    side = root / "data/importance/rte.json"
    orig = side.read_text()
    meta = json.loads(orig)
    meta["fit_on"] = meta["fit_on"] + [json.loads((root / "data/processed/scitail.json").read_text())["table_sha256"]]
    side.write_text(json.dumps(meta))
    try:
        with pytest.raises(TargetLeakError, match="selected with the target"):
            transfer_nli.run(params=P(nli__targets={"scitail": "test"}, nli__sources=["rte"], nli__K=[5]), root=root)
    finally:
        side.write_text(orig)


def test_meta_nli_never_reads_the_target(root, monkeypatch):
    seen = []
    orig = load.activations
    monkeypatch.setattr(load, "activations", lambda store, d, **k: seen.append(d) or orig(store, d, **k))
    meta = _meta(root, "SNLI+RTE+MRPC")
    assert sorted(seen) == ["mrpc", "rte", "snli"]
    tgt = json.loads((root / "data/processed/scitail.json").read_text())["table_sha256"]
    assert meta["available"] and tgt not in meta["fit_on"] and len(meta["fit_on"]) == 3
    arrays, _ = load.meta_nli(Store(root), "SNLI+RTE+MRPC")
    assert arrays["L"].tolist() == [30, 12]  # main budget first, the sweep without repeats
    assert arrays["order"].shape == (2, 2, 6 * 384) and arrays["alphas"].shape == (2, 2, 3)


def test_single_source_row_is_singletsns_under_the_budget(root):
    meta = _meta(root, "SNLI")
    arrays, _ = load.meta_nli(Store(root), "SNLI")
    assert meta["learners"] == [[["snli"], []]] and meta["params"]["pairing"] == "single"
    assert np.all(arrays["alphas"] == 1.0) and arrays["order"].shape == (2, 2, 6 * 384)


def test_unavailable_row_writes_a_marker(root):
    meta = _meta(root, "QQP+RTE")
    assert meta["available"] is False and meta["missing"] == ["qqp"]
    arrays, side = load.meta_nli(Store(root), "QQP+RTE")
    assert "order" not in arrays and side["fit_on"] == []


def test_table5_renders_available_and_unavailable_rows(root):
    for name in ROWS:
        _meta(root, name)
    transfer_nli.run(params=P(nli__targets={"scitail": "test"}, nli__sources=["snli", "mrpc", "rte"], nli__K=[5]),
                     root=root)
    res = transfer_nli_multi.run(params=P(nli__K=[5, 20]), root=root)
    long = res["long"]
    assert set(long.scenario) == {"SNLI", "RTE+MRPC", "SNLI+RTE+MRPC"}
    assert long[long.L == 30].n_train.max() <= 30 and long[long.L == 12].n_train.max() <= 12  # the budget holds
    assert set(long[long.L == 12].method) == {"multitsns"} and set(long[long.L == 12].K) == {5}
    md = (root / "reports/tables/table5.md").read_text()
    qqp = next(line for line in md.splitlines() if line.startswith("| QQP+RTE |"))
    assert f"| {UNAVAILABLE} (qqp) | 66.7 | n/a |" in qqp and qqp.endswith("| 70.8 | 71.0 | 70.5 |")  # paper beside
    assert "| RTE+MRPC (not in the paper) |" in md and "ours: K=5, L=12" in md and "paper: K=5, L=2E4" in md
    snli = next(line for line in md.splitlines() if line.startswith("| SNLI |"))
    assert UNAVAILABLE not in snli
    metrics = json.loads((root / "reports/metrics_table5.json").read_text())["table5"]
    assert set(metrics) == {"SNLI", "RTE+MRPC", "SNLI+RTE+MRPC"} and "multitsns_K5_L12" in metrics["SNLI"]


def test_table5_refuses_stale_selection(root):
    _meta(root, "SNLI")
    with pytest.raises(TSNSError, match="budgets"):
        transfer_nli_multi.run(params=P(nli__scenarios={"SNLI": ["snli"]}, nli__K=[5], nli__L=31, nli__L_sweep=[12]),
                               root=root)


def test_row_validation():
    with pytest.raises(TargetLeakError, match="also a source"):
        check_row("x", ["scitail", "rte"], TARGETS)
    with pytest.raises(ConfigError, match="twice"):
        check_row("x", ["rte", "rte"], TARGETS)
    with pytest.raises(ConfigError, match="unknown dataset"):
        check_row("x", ["nope"], TARGETS)
    assert P(nli__L=None, nli__L_sweep=[5, 5, 10])["nli"]["L_sweep"] == [5, 5, 10]
    from tsns.config.nli import NliConfig

    assert NliConfig.from_params(P(nli__L=None, nli__L_sweep=[5, 5, 10])).budgets() == [None, 5, 10]


def test_target_split_must_exist(root):
    with pytest.raises(ConfigError, match="has no 'train' rows.*test"):
        load.activations(Store(root), "scitail", split="train")
    assert len(load.activations(Store(root), "rte", split="dev").y) == 4
    assert len(load.activations(Store(root), "rte").y) == 20
