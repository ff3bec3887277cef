"""Multi-source stages (MultiTSNS per scenario, Table 4) on a tiny slice of the real data."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tsns import download, extract
from tsns.errors import ConfigError, TargetLeakError
from tsns.extract import ExtractConfig
from tsns.importance import ForestParams
from tsns.multisource import check_scenario, load_meta, run_meta, run_table4

DOMAINS = ("books", "dvd", "electronics")
SCEN = {"DE-B": {"sources": ["dvd", "electronics"], "target": "books"},
        "BE-D": {"sources": ["books", "electronics"], "target": "dvd"}}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi")
    for d in DOMAINS:
        download.run(d, mirror=None, limit=12, allow_download=False, root=root)
        extract.run(d, ExtractConfig(max_length=48), root=root)
    return root


def _meta(root, name, **kw):
    args = dict(seeds=[0, 1], tune_K=5, pairing="leave_one_out", J=2, beta=0.7, gamma=0.5, alpha_grid=[0.0, 1.0],
                eps=1e-6, scaling="normalized", params=ForestParams(n_estimators=5), L=None, C=1.0, n_jobs=1,
                root=root)
    args.update(kw)
    return run_meta(name, SCEN[name], **args)


def test_meta_never_reads_the_target_and_reuses_learners(root, monkeypatch):
    import tsns.multisource as M

    seen = []
    orig = M.load_dataset_activations
    monkeypatch.setattr(M, "load_dataset_activations", lambda d, **k: seen.append(d) or orig(d, **k))
    meta = _meta(root, "DE-B")
    assert sorted(seen) == ["dvd", "electronics"]  # books, the target, is never loaded
    books_sha = json.loads((root / "data/processed/books.json").read_text())["table_sha256"]
    assert books_sha not in meta["fit_on"] and len(meta["fit_on"]) == 2
    arrays, _ = load_meta("DE-B", root)
    assert arrays["order"].shape == (2, 7 * 384) and arrays["alphas"].shape == (2, 2)
    assert meta["qcache"]["misses"] == 4  # 2 learners x 2 seeds
    again = _meta(root, "DE-B")
    assert again["qcache"]["misses"] == 0  # content-addressed cache survives between runs
    np.testing.assert_array_equal(load_meta("DE-B", root)[0]["order"], arrays["order"])


def test_table4_renders_with_baselines(root):
    _meta(root, "BE-D")
    _meta(root, "DE-B")
    res = run_table4(SCEN, K=[5, 20], seeds=[0, 1], root=root)
    assert set(res["long"].method) == {"multitsns", "random", "last_layer"}
    md = (root / "reports/tables/table4.md").read_text()
    assert "| DE->B |" in md and "| **Average** |" in md and "paper: MultiTSNS K=5" in md
    metrics = json.loads((root / "reports/metrics_multi.json").read_text())["table4_average"]
    assert {"last_layer", "multitsns_K5", "random_K20"} <= set(metrics)


def test_scenario_validation():
    with pytest.raises(TargetLeakError, match="also a source"):
        check_scenario("x", {"sources": ["books", "dvd"], "target": "books"})
    with pytest.raises(ConfigError, match="two or more"):
        check_scenario("x", {"sources": ["books"], "target": "dvd"})
    with pytest.raises(ConfigError, match="unknown dataset"):
        check_scenario("x", {"sources": ["books", "nope"], "target": "dvd"})
