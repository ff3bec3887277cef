"""params.yaml validation and its consistency with dvc.yaml and the notebooks."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from tsns import params as P
from tsns.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

# keys passed to notebooks that do not change any result, so stages need not re-run on them
NOT_RESULT_KEYS = {"data.mirror", "data.allow_download", "extract.batch_size", "extract.device", "importance.n_jobs",
                   "importance.backend", "importance.scheduler", "mft.device"}
# extract keys that later stages receive only to check activations against their sidecar
CHECK_ONLY_KEYS = {"extract.model", "extract.pooling", "extract.max_length", "extract.truncation"}


@pytest.fixture
def params():
    return P.load(REPO / "params.yaml")


def test_repo_params_are_valid(params):
    assert params["extract"]["model"] == "embedded"


def test_unknown_key_suggests_the_right_one(params):
    bad = copy.deepcopy(params)
    bad["importance"]["JJ"] = 5
    with pytest.raises(ConfigError, match=r"unknown parameter 'importance.JJ'.*did you mean importance.J\?"):
        P.validate(bad)


@pytest.mark.parametrize("section,key,value", [
    ("importance", "beta", 0.0), ("importance", "beta", 1.2), ("importance", "J", 0), ("importance", "alpha", 2),
    ("extract", "pooling", "max"), ("transfer", "K", []), ("transfer", "K", [0]), ("data", "limit", 0),
])
def test_bad_values(params, section, key, value):
    bad = copy.deepcopy(params)
    bad[section][key] = value
    with pytest.raises(ConfigError, match=f"{section}.{key}="):
        P.validate(bad)


def test_missing_key(params):
    bad = copy.deepcopy(params)
    del bad["importance"]["J"]
    with pytest.raises(ConfigError, match="lacks importance.J"):
        P.validate(bad)


def _stages():
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text())
    for name, st in spec["stages"].items():
        yield name, (st["do"] if "do" in st else st)


def _var(spec: str) -> str:
    """The notebook variable of a ``-P section.key[:name]`` option."""
    key, _, name = spec.partition(":")
    return name or key.split(".")[-1]


@pytest.mark.parametrize("name,stage", list(_stages()))
def test_dvc_stage_declares_every_param_it_passes(name, stage):
    """Every ``-P key`` of a stage command is a real key and (if it changes results) a declared param,
    and every declared param is passed; the notebook's parameters cell has every variable."""
    specs = re.findall(r"-P (\S+)", stage["cmd"])
    passed = {s.partition(":")[0] for s in specs}
    declared = set(stage.get("params", []))
    for key in passed | declared:
        P.get(P.load(REPO / "params.yaml"), key)
    if name != "extract":
        passed_results = passed - NOT_RESULT_KEYS - CHECK_ONLY_KEYS
    else:
        passed_results = passed - NOT_RESULT_KEYS
    assert passed_results <= declared, f"{name}: passes {passed_results - declared} without declaring them"
    assert declared <= passed, f"{name}: declares {declared - passed} but does not pass them"
    nb_path = re.search(r"(notebooks/\S+\.ipynb)", stage["cmd"]).group(1)
    assert nb_path in stage["deps"]
    nb = json.loads((REPO / nb_path).read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    src = "".join(cell["source"])
    names = {_var(s) for s in specs} | set(re.findall(r"-p (\S+) ", stage["cmd"]))
    for var in names:
        assert re.search(rf"^{var} = ", src, re.M), f"{nb_path} parameters cell lacks {var}"


def test_notebook_defaults_match_params_yaml(params):
    """Opening a notebook interactively runs with the same values as `dvc repro`."""
    for _name, stage in _stages():
        nb_path = re.search(r"(notebooks/\S+\.ipynb)", stage["cmd"]).group(1)
        nb = json.loads((REPO / nb_path).read_text())
        cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
        ns: dict = {}
        exec("".join(cell["source"]), ns)
        for spec in re.findall(r"-P (\S+)", stage["cmd"]):
            key = spec.partition(":")[0]
            assert ns[_var(spec)] == P.get(params, key), f"{nb_path}: {key}"


def test_notebook_variables_and_aliases(params):
    """``-P section.key`` passes ``key``; two sections sharing a key need an alias, else one clear error."""
    from tsns.errors import TSNSError
    from tsns.notebook import values_of

    v = values_of(params, ["importance.alpha", "mft.alpha:mft_alpha", "mft.max_length:train_max_length"])
    assert v == {"alpha": params["importance"]["alpha"], "mft_alpha": params["mft"]["alpha"],
                 "train_max_length": params["mft"]["max_length"]}
    with pytest.raises(TSNSError, match="alias"):
        values_of(params, ["importance.alpha", "mft.alpha"])
