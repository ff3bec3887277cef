"""The base of the typed sections of ``params.yaml``, the repository root, and reading the file.

A section is a frozen, keyword-only dataclass whose fields are the keys of one
section of ``params.yaml``. A field named like a parameter of the method takes that
parameter's rule (:data:`tsns.method.validation.PARAMS`, the rules the method's
functions and selectors check too); any other field names its rule (a
:class:`tsns.method.validation.Constraint`) with :func:`rule`::

    @dataclass(frozen=True, kw_only=True)
    class TransferConfig(Section):
        key: ClassVar[str] = "transfer"
        domains: list = rule(ListOf(Str(), min_len=2, unique=True))
        C: float                     # PARAMS["C"]

The defaults live in ``params.yaml`` only: a key missing from the file is an
error that names it, so is a key the section does not know (with the closest
known key), so is a value that breaks its rule.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import yaml

from ..errors import ConfigError
from ..method.validation import PARAMS, Constraint, Int, ListOf, closest

__all__ = ["PARAMS_FILE", "Section", "rule", "repo_root", "read", "load_seeds", "PACKAGE_ROOT"]

PARAMS_FILE = "params.yaml"
#: the checkout this package was installed from (``pip install -e .``), if it is one
PACKAGE_ROOT = Path(__file__).resolve().parents[3]


def rule(constraint: Constraint) -> Any:
    """A section field checked by ``constraint`` (no default: the value comes from params.yaml)."""
    return field(metadata={"rule": constraint})


def _is_root(p: Path) -> bool:
    return (p / PARAMS_FILE).is_file() and (p / "dvc.yaml").is_file()


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The repository root: the nearest folder at or above ``start`` (default: the working folder)
    that holds ``params.yaml`` and ``dvc.yaml``; else the checkout this package lives in.

    So a notebook opened in JupyterLab (working folder ``notebooks/``) finds the same
    files as ``dvc repro`` (working folder: the root). ``TSNS_ROOT`` overrides both.
    """
    env = os.environ.get("TSNS_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(start or os.getcwd()).resolve()
    for p in (here, *here.parents):
        if _is_root(p):
            return p
    if _is_root(PACKAGE_ROOT):
        return PACKAGE_ROOT
    raise ConfigError(f"no params.yaml and dvc.yaml found in {here} or above: run from the repository root")


@functools.lru_cache(maxsize=8)
def _read_cached(path: str, mtime_ns: int, size: int) -> dict:
    text = Path(path).read_text()
    try:
        params = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"{path} is not valid YAML ({first}): fix the syntax") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path} must be a mapping of sections: see the repository's params.yaml")
    return params


def read(path: str | os.PathLike | None = None) -> dict:
    """The raw mapping of ``params.yaml`` (``path``, default: the repository root's)."""
    p = Path(path) if path is not None else repo_root() / PARAMS_FILE
    if not p.is_file():
        raise ConfigError(f"{p} not found: run from the repository root")
    st = p.stat()
    return _read_cached(str(p.resolve()), st.st_mtime_ns, st.st_size)


def _fix(key: str) -> str:
    return f"fix {key} in params.yaml (or pass `dvc exp run -S {key}=...`)"


@dataclass(frozen=True, kw_only=True)
class Section:
    """One section of ``params.yaml`` as a typed, validated object (subclasses set ``key``)."""

    key: ClassVar[str] = ""

    def __post_init__(self):
        for f in fields(self):
            r = f.metadata.get("rule") or PARAMS.get(f.name)  # inherited method fields: the method's own rule
            if r is not None:
                r(getattr(self, f.name), f"{self.key}.{f.name}", _fix(f"{self.key}.{f.name}"))
        post = getattr(super(), "__post_init__", None)
        if post is not None:  # a method-level parent (LearnerParams) checks its own fields
            post()
        self.check()

    def check(self) -> None:
        """Checks that involve several keys (override)."""

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_params(cls, params: dict | None = None, **override):
        """The section from a params mapping (default: the repository's params.yaml), keys checked."""
        params = read() if params is None else params
        raw = params.get(cls.key)
        if not isinstance(raw, dict):
            raise ConfigError(f"params.yaml has no section {cls.key!r}: add it (see the repository's params.yaml)")
        known = cls.names()
        for k in raw:
            if k not in known:
                raise ConfigError(f"unknown parameter {cls.key}.{k}{closest(k, known)}: "
                                  f"the keys of {cls.key} are {', '.join(known)}")
        values = {**raw, **override}
        missing = [f.name for f in fields(cls) if f.name not in values]
        if missing:
            raise ConfigError(f"params.yaml lacks {', '.join(f'{cls.key}.{m}' for m in missing)}: add it "
                              "(the repository's params.yaml lists every key)")
        return cls(**{k: v for k, v in values.items() if k in known})

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_SEEDS = ListOf(Int(0), unique=True)


def load_seeds(params: dict | None = None) -> list[int]:
    """The top-level ``seeds``: the independent runs (random samples, forests, random-K control)."""
    params = read() if params is None else params
    if "seeds" not in params:
        raise ConfigError("params.yaml lacks seeds: add e.g. `seeds: [0, 1, 2]`")
    return list(_SEEDS(params["seeds"], "seeds", _fix("seeds")))
