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


def test_importance_resumes_after_an_interruption_and_gives_the_same_bytes(root, tmp_path, monkeypatch):
    """Finished forest fits survive a kill (Ctrl-C here): the re-run fits only the rest and writes the same file."""
    import shutil

    import tsns.method.single as S
    from fakes import copy_root

    params = _fake_extract(make_params({"importance.J": 4, "importance.n_jobs": 1, "importance.n_estimators": 5,
                                        "seeds": [0, 1]}))
    ref_root = tmp_path / "ref"
    copy_root(root, ref_root)
    ref = importance.run("books", params=params, root=ref_root)

    calls = []
    real = S._one_fit

    def interrupted(*a, **k):
        if len(calls) == 5:  # seed 0 done (4 fits) and one fit of seed 1: then Ctrl-C
            raise KeyboardInterrupt
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(S, "_one_fit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        importance.run("books", params=params, root=root)
    assert not Store(root).importance("books").exists()  # no output from the interrupted run
    calls.clear()
    monkeypatch.setattr(S, "_one_fit", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = importance.run("books", params=params, root=root)
    assert len(calls) == 8 - 5  # only the 3 missing fits
    assert again["npz_sha256"] == ref["npz_sha256"]
    assert not Store(root).partial("importance", "books").exists()  # kept fits removed once the output exists
    shutil.rmtree(ref_root)


def test_a_kept_fit_that_fails_its_checksum_is_computed_again(root, monkeypatch):
    import tsns.method.single as S

    params = _fake_extract(make_params({"importance.J": 2, "importance.n_jobs": 1, "importance.n_estimators": 5,
                                        "seeds": [0]}))
    real = S._one_fit
    calls = []

    def once(*a, **k):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(S, "_one_fit", once)
    with pytest.raises(KeyboardInterrupt):
        importance.run("books", params=params, root=root)
    (kept,) = Store(root).partial("importance", "books").rglob("fit_0000.npy")
    raw = bytearray(kept.read_bytes())
    raw[-1] ^= 0x40
    kept.write_bytes(bytes(raw))
    calls.clear()
    monkeypatch.setattr(S, "_one_fit", lambda *a, **k: calls.append(1) or real(*a, **k))
    importance.run("books", params=params, root=root)
    assert len(calls) == 2  # the corrupted fit was not trusted
