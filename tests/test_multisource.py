"""Multi-source stages (``meta_aggregate``: MultiTSNS per scenario; ``transfer_multi``: Table 4) on a tiny slice."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_params

from tsns.errors import ConfigError
from tsns.stages import download, extract, meta_aggregate, transfer_multi
from tsns.store import load
from tsns.store.paths import Store

DOMAINS = ("books", "dvd", "electronics")
SCEN = {"DE-B": {"sources": ["dvd", "electronics"], "target": "books"},
        "BE-D": {"sources": ["books", "electronics"], "target": "dvd"}}
PARAMS = make_params({"data.limit": 12, "data.mirror": None, "data.allow_download": False, "extract.max_length": 48,
                      "seeds": [0, 1], "meta.scenarios": SCEN, "meta.tune_K": 5, "meta.J": 2, "meta.gamma": 0.5,
                      "meta.alpha_grid": [0.0, 1.0], "meta.K": [5, 20], "importance.n_estimators": 5,
                      "importance.n_jobs": 1})


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi")
    for d in DOMAINS:
        download.run(d, params=PARAMS, root=root)
        extract.run(d, params=PARAMS, root=root)
    return root


def test_meta_never_reads_the_target_and_reuses_learners(root, monkeypatch):
    seen = []
    orig = load.activations
    monkeypatch.setattr(load, "activations", lambda store, d, **k: seen.append(d) or orig(store, d, **k))
    meta = meta_aggregate.run("DE-B", params=PARAMS, root=root)
    assert sorted(seen) == ["dvd", "electronics"]  # books, the target, is never loaded
    books_sha = json.loads((root / "data/processed/books.json").read_text())["table_sha256"]
    assert books_sha not in meta["fit_on"] and len(meta["fit_on"]) == 2
    arrays, _ = load.meta(Store(root), "DE-B")
    assert arrays["order"].shape == (2, 6 * 384) and arrays["alphas"].shape == (2, 2)
    def cache_use():  # recorded outside the stage's outputs (a re-run must leave them byte-identical)
        return [json.loads(line) for line in (root / "logs/timings.jsonl").read_text().splitlines()][-1]

    assert cache_use()["qcache_misses"] == 4 and "qcache" not in meta  # 2 learners x 2 seeds
    side = (root / "data/meta/DE-B.json").read_bytes()
    meta_aggregate.run("DE-B", params=PARAMS, root=root)
    assert cache_use()["qcache_misses"] == 0  # content-addressed cache survives between runs
    assert (root / "data/meta/DE-B.json").read_bytes() == side
    np.testing.assert_array_equal(load.meta(Store(root), "DE-B")[0]["order"], arrays["order"])


def test_table4_renders_with_baselines(root):
    meta_aggregate.run("BE-D", params=PARAMS, root=root)
    meta_aggregate.run("DE-B", params=PARAMS, root=root)
    res = transfer_multi.run(params=PARAMS, root=root)
    assert set(res["long"].method) == {"multitsns", "random", "last_layer"}
    md = (root / "reports/tables/table4.md").read_text()
    assert "| DE->B |" in md and "| **Average** |" in md and "paper: MultiTSNS K=5" in md
    metrics = json.loads((root / "reports/metrics_multi.json").read_text())["table4_average"]
    assert {"last_layer", "multitsns_K5", "random_K20"} <= set(metrics)


@pytest.mark.parametrize("scenario,match", [
    ({"sources": ["books", "dvd"], "target": "books"}, "not a source"),
    ({"sources": ["books"], "target": "dvd"}, "two or more"),
])
def test_scenario_validation(root, scenario, match):
    with pytest.raises(ConfigError, match=match):
        meta_aggregate.run("x", params=make_params({"meta.scenarios": {"x": scenario}}), root=root)


def test_unknown_dataset_and_scenario(root):
    with pytest.raises(ConfigError, match="unknown dataset 'nope'"):
        meta_aggregate.run("x", params=make_params({"meta.scenarios": {"x": {"sources": ["books", "nope"],
                                                                              "target": "dvd"}}}), root=root)
    with pytest.raises(ConfigError, match="unknown scenario 'NOPE'"):
        meta_aggregate.run("NOPE", params=PARAMS, root=root)

