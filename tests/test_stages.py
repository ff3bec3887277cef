"""Stages on fake roots (no encoder): the settings recorded in every sidecar are the ones actually used."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_params
from fakes import make

from tsns.method.learners import LearnerParams
from tsns.method.selectors import SingleTSNS
from tsns.method.single import importance_matrix
from tsns.stages import importance, meta_aggregate
from tsns.store import load
from tsns.store.paths import Store

L1 = {"importance.method": "l1_logistic", "importance.l1_C": 5.0, "importance.J": 2, "importance.n_jobs": 1,
      "seeds": [0]}


@pytest.fixture
def root(tmp_path):
    for i, d in enumerate(("books", "dvd", "kitchen")):
        make(tmp_path, d, {"train": 40}, i)
    return tmp_path


def _fake_extract(params):
    """The fake activations' sidecars say model 'fake', max_length 16: the params must agree."""
    params["extract"].update(model="fake", max_length=16)
    return params


def test_importance_uses_and_records_the_learner_settings_of_params(root):
    """A learner setting reaches the learner (l1_C was once dropped between the stage and the estimator)."""
    params = _fake_extract(make_params(L1))
    side = importance.run("books", params=params, root=root)
    assert side["params"]["method"] == "l1_logistic" and side["params"]["l1_C"] == 5.0
    arrays, _ = load.importance(Store(root), "books")
    acts = load.activations(Store(root), "books")
    used = importance_matrix(acts.X, acts.y, J=2, beta=0.7, random_state=0,
                             params=LearnerParams(method="l1_logistic", l1_C=5.0))
    default = importance_matrix(acts.X, acts.y, J=2, beta=0.7, random_state=0,
                                params=LearnerParams(method="l1_logistic", l1_C=0.1))
    np.testing.assert_allclose(arrays["q"][0], used.astype(np.float32))
    assert not np.allclose(used, default)  # the setting matters, so the check above can fail


def test_the_selector_passes_every_learner_setting(root):
    acts = load.activations(Store(root), "books")
    sel = SingleTSNS(k=5, J=2, method="l1_logistic", l1_C=5.0, random_state=0).fit(acts.X, acts.y)
    used = importance_matrix(acts.X, acts.y, J=2, beta=0.7, random_state=0,
                             params=LearnerParams(method="l1_logistic", l1_C=5.0))
    np.testing.assert_allclose(sel.q_, used)


def test_meta_aggregate_records_the_learner_settings_it_used(root):
    params = _fake_extract(make_params({**L1, "meta.scenarios": {"BD-K": {"sources": ["books", "dvd"],
                                                                           "target": "kitchen"}},
                                        "meta.J": 2, "meta.tune_K": 5, "meta.alpha_grid": [0.0, 1.0]}))
    side = meta_aggregate.run("BD-K", params=params, root=root)
    assert side["params"]["method"] == "l1_logistic" and side["params"]["l1_C"] == 5.0 and side["params"]["J"] == 2
    payloads = [json.loads(p.read_text()) for p in (root / "data/interim/qcache").glob("*.json")]
    assert payloads and all(p["params"]["l1_C"] == 5.0 and p["params"]["method"] == "l1_logistic" for p in payloads)
