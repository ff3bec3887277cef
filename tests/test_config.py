"""Configuration: params.yaml read once into typed sections, every key checked, one line per error."""
from __future__ import annotations

import copy
import dataclasses

import pytest
from conftest import REPO, make_params, repo_params

from tsns.config.all import SECTIONS, get, load
from tsns.config.base import Section, repo_root
from tsns.config.importance import ImportanceConfig
from tsns.config.transfer import TransferConfig
from tsns.errors import ConfigError
from tsns.method.learners import LearnerParams


def test_repository_params_are_valid():
    p = load(repo_params())
    assert p.extract.model == "embedded" and p.seeds == repo_params()["seeds"]
    assert isinstance(p.importance, LearnerParams)  # the learner settings are the method's own class


def test_every_section_and_key_of_params_yaml_has_a_home():
    params = repo_params()
    assert set(params) == {"seeds", *SECTIONS}
    for key, cls in SECTIONS.items():
        assert set(params[key]) == set(cls.names()), f"{key}: params.yaml and {cls.__name__} differ"


def test_unknown_key_suggests_the_right_one():
    bad = repo_params()
    bad["importance"]["JJ"] = 5
    with pytest.raises(ConfigError, match=r"unknown parameter importance.JJ \(did you mean 'J'\?\)"):
        load(bad)
    bad = repo_params()
    bad["importanse"] = {}
    with pytest.raises(ConfigError, match=r"unknown section 'importanse' in params.yaml \(did you mean 'importance'"):
        load(bad)
    with pytest.raises(ConfigError, match=r"unknown parameter importance.JJ \(did you mean 'importance.J'\?\)"):
        get(repo_params(), "importance.JJ")


@pytest.mark.parametrize("key,value", [
    ("importance.beta", 0.0), ("importance.beta", 1.2), ("importance.J", 0), ("importance.alpha", 2),
    ("importance.method", "svm"), ("importance.max_features", 0), ("extract.pooling", "max"),
    ("extract.head_fraction", 1.0), ("transfer.K", []), ("transfer.K", [0]), ("transfer.domains", ["books"]),
    ("data.limit", 0), ("meta.gamma", 0), ("meta.alpha_grid", [0.5, 0.5]), ("nli.L", -1), ("mft.variants", ["x"]),
    ("meta.scenarios", {"x": {"sources": ["books", "dvd"], "target": "books"}}), ("seeds", [0, 0]),
])
def test_bad_values_name_the_key_and_the_fix(key, value):
    with pytest.raises(ConfigError) as err:
        load(make_params({key: value}))
    msg = str(err.value)
    assert "\n" not in msg and f"{key}=" in msg and "params.yaml" in msg


def test_missing_key_is_named():
    bad = repo_params()
    del bad["importance"]["J"]
    with pytest.raises(ConfigError, match="params.yaml lacks importance.J"):
        load(bad)


def test_sections_have_no_defaults_of_their_own():
    """The defaults live in params.yaml only: a section cannot be built without every key."""
    for cls in SECTIONS.values():
        with pytest.raises(TypeError):
            cls()
    assert issubclass(ImportanceConfig, Section)


def test_a_section_is_validated_when_built():
    cfg = TransferConfig.from_params(repo_params())
    with pytest.raises(ConfigError, match="transfer.C=0"):
        dataclasses.replace(cfg, C=0)


def test_importance_records_what_changes_results():
    cfg = ImportanceConfig.from_params(repo_params())
    rec = cfg.recorded()
    assert {"J", "beta", "alpha", "eps", "scaling", "method", "n_estimators", "l1_C"} <= set(rec)
    assert not {"n_jobs", "backend", "scheduler"} & set(rec)
    assert cfg.learner_params() == LearnerParams(**{k: rec[k] for k in LearnerParams().as_dict()})


def test_repo_root_is_found_from_a_subfolder(monkeypatch):
    monkeypatch.delenv("TSNS_ROOT", raising=False)
    monkeypatch.chdir(REPO / "notebooks")
    assert repo_root() == REPO


def test_params_are_not_mutated_by_loading():
    p = repo_params()
    before = copy.deepcopy(p)
    load(p)
    assert p == before


def test_params_yaml_is_in_the_form_dvc_writes_so_an_experiment_is_a_one_line_diff(tmp_path):
    import difflib
    import shutil

    from dvc.utils.serialize import modify_yaml

    from tsns.config.base import PACKAGE_ROOT

    p = tmp_path / "params.yaml"
    shutil.copy(PACKAGE_ROOT / "params.yaml", p)
    before = p.read_text().splitlines()
    with modify_yaml(str(p)) as d:  # what `dvc exp run -S importance.J=20` does to the file
        d["importance"]["J"] = 20
    after = p.read_text().splitlines()
    changed = [l for l in difflib.unified_diff(before, after, lineterm="", n=0) if l[:1] in "+-"
               and not l.startswith(("+++", "---"))]
    assert [l[0] + l[1:].split("#")[0].strip() for l in changed] == ["-J: 10", "+J: 20"], changed
