"""Every check of a parameter or an input, in one place.

Two kinds live here:

* **constraints** (:class:`Int`, :class:`Real`, :class:`Options`, ...): a rule for
  one value, with the words that describe it. The typed configuration
  (:mod:`tsns.config`), the scikit-learn selectors and the functions of
  :mod:`tsns.method` all take their rules from :data:`PARAMS`, the way
  scikit-learn estimators declare ``_parameter_constraints``: a rule is written
  once and every caller reports a bad value in the same words.
* **input checks** (:func:`check_source`, :func:`check_k`, ...): the data a
  function receives.

Every failure is a :class:`~tsns.errors.ConfigError` (or a
:class:`~tsns.errors.TSNSError` for bad data) with a one-line message that names
the value, the rule and the fix.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable
from numbers import Integral, Real as _Real
from typing import Any

import numpy as np

from ..errors import ConfigError, TSNSError

__all__ = [
    "Constraint", "Int", "Real", "Options", "Str", "ListOf", "Rule", "PARAMS",
    "check", "check_fields", "check_source", "check_k", "check_names", "closest", "is_int",
]


def is_int(v) -> bool:
    """True for an integer that is not a bool."""
    return isinstance(v, Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, _Real) and not isinstance(v, bool)


class Constraint:
    """A rule for one value: ``ok(value)`` says whether it holds, ``text`` says what it asks."""

    text = "a valid value"

    def ok(self, value) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, value, name: str, fix: str = ""):
        """Return ``value`` when it holds; else raise a one-line ConfigError naming ``name``."""
        if not self.ok(value):
            raise ConfigError(f"{name}={value!r} must be {self.text}" + (f": {fix}" if fix else ""))
        return value


class Int(Constraint):
    """An integer in ``[lo, hi]`` (either bound optional), or None when ``null``."""

    def __init__(self, lo: int | None = None, hi: int | None = None, *, null: bool = False):
        self.lo, self.hi, self.null = lo, hi, null
        rng = "an integer" if lo is None else f"an integer >= {lo}"
        if hi is not None:
            rng = f"an integer in [{lo}, {hi}]"
        self.text = rng + (" or null" if null else "")

    def ok(self, v) -> bool:
        if v is None:
            return self.null
        return is_int(v) and (self.lo is None or v >= self.lo) and (self.hi is None or v <= self.hi)


class Real(Constraint):
    """A finite number in ``[lo, hi]`` (open ends with ``lo_open`` / ``hi_open``; ``hi=None``: no upper bound)."""

    def __init__(self, lo: float, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False,
                 null: bool = False):
        self.lo, self.hi, self.lo_open, self.hi_open, self.null = lo, hi, lo_open, hi_open, null
        if hi is None:
            self.text = f"a number {'>' if lo_open else '>='} {lo:g}"
        else:
            self.text = f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        self.text += " or null" if null else ""

    def ok(self, v) -> bool:
        if v is None:
            return self.null
        if not _is_real(v) or not np.isfinite(float(v)):
            return False
        return (v > self.lo if self.lo_open else v >= self.lo) and (
            self.hi is None or (v < self.hi if self.hi_open else v <= self.hi))


class Options(Constraint):
    """One of a fixed set of values."""

    def __init__(self, *options):
        self.options = options
        self.text = "one of " + ", ".join(map(str, options))

    def ok(self, v) -> bool:
        return any(v == o and type(v) is type(o) for o in self.options) or (
            isinstance(v, str) and v in [o for o in self.options if isinstance(o, str)])


class Str(Constraint):
    """A non-empty string, or None when ``null``."""

    def __init__(self, *, null: bool = False):
        self.null = null
        self.text = "a string" + (" or null" if null else "")

    def ok(self, v) -> bool:
        return (isinstance(v, str) and v != "") or (self.null and v is None)


class ListOf(Constraint):
    """A list of at least ``min_len`` values that each satisfy ``item`` (and are distinct when ``unique``)."""

    def __init__(self, item: Constraint, *, min_len: int = 1, unique: bool = False):
        self.item, self.min_len, self.unique = item, min_len, unique
        self.text = f"a list of {item.text}" + (f" (at least {min_len})" if min_len > 1 else "") + \
            (", each once" if unique else "")

    def ok(self, v) -> bool:
        if not isinstance(v, (list, tuple)) or len(v) < self.min_len or not all(self.item.ok(x) for x in v):
            return False
        return not self.unique or len({repr(x) for x in v}) == len(v)


class Rule(Constraint):
    """Any predicate, with the words that describe it."""

    def __init__(self, predicate: Callable[[Any], bool], text: str):
        self.predicate, self.text = predicate, text

    def ok(self, v) -> bool:
        try:
            return bool(self.predicate(v))
        except (TypeError, ValueError, AttributeError, KeyError):
            return False


def _max_features(v) -> bool:
    if v is None or v in ("sqrt", "log2"):
        return True
    if is_int(v):
        return v >= 1
    return _is_real(v) and 0 < v <= 1


#: The rules of the method's parameters, shared by the configuration, the
#: selectors and the functions (scikit-learn's ``_parameter_constraints``).
PARAMS: dict[str, Constraint] = {
    "J": Int(1),
    "beta": Real(0, 1, lo_open=True),
    "alpha": Real(0, 1),
    "eps": Real(0, lo_open=True),
    "scaling": Options("literal", "normalized"),
    "method": Options("random_forest", "extra_trees", "xgboost_rf", "l1_logistic", "anova_f"),
    "n_estimators": Int(1),
    "max_depth": Int(1, null=True),
    "max_features": Rule(_max_features, "'sqrt', 'log2', null, an integer >= 1 or a fraction in (0, 1]"),
    "min_samples_leaf": Int(1),
    "l1_C": Real(0, lo_open=True),
    "n_jobs": Rule(lambda v: is_int(v) and v != 0, "a non-zero integer (-1 = all cores)"),
    "backend": Options("loky", "threading", "dask"),
    "pairing": Options("leave_one_out", "one_vs_rest", "all_pairs"),
    "gamma": Real(0, 1, lo_open=True),
    "alpha_grid": ListOf(Real(0, 1), unique=True),
    "L": Int(1, null=True),
    "C": Real(0, lo_open=True),
    "max_iter": Int(10),
    "K": Int(1),
    "seed": Int(0),
}


def check(name: str, value, *, where: str | None = None):
    """Check ``value`` against the rule ``PARAMS[name]``; the error names ``where`` (default ``name``)."""
    return PARAMS[name](value, where or name)


def check_fields(obj, names, prefix: str = "") -> None:
    """Check the attributes ``names`` of ``obj`` against :data:`PARAMS` (``prefix`` names their section)."""
    for n in names:
        check(n, getattr(obj, n), where=f"{prefix}{n}")


def closest(name: str, known) -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or ``""``."""
    near = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


# --------------------------------------------------------------------------- inputs
def check_source(X, y, name: str = "source") -> tuple[np.ndarray, np.ndarray]:
    """Validate a labelled source: 2-D X, 1-D y of the same length, >= 2 classes.

    Returns
    -------
    X : numpy.ndarray, shape (n, N)
    y : numpy.ndarray, shape (n,)
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ConfigError(f"{name}: X must be 2-D (n_examples, N), got shape {X.shape}: "
                          "flatten layers with X.reshape(n, -1)")
    if len(X) == 0:
        raise TSNSError(f"{name} is empty: it needs labelled examples (check data.limit and the download stage)")
    if len(y) != len(X):
        raise ConfigError(f"{name}: X has {len(X)} rows but y has {len(y)}: pass labels aligned with the activations")
    classes = np.unique(y)
    if len(classes) < 2:
        raise TSNSError(f"{name} has a single class ({classes.tolist()}): neuron importance needs at least two labels")
    return X, y


def check_k(K, N: int, name: str = "K") -> int:
    """K as an int in [1, N]; else a one-line ConfigError."""
    if not is_int(K) or K < 1:
        raise ConfigError(f"{name}={K!r} must be a positive integer")
    if K > N:
        raise ConfigError(f"{name}={K} is larger than the number of neurons N={N} (n_features={N}): "
                          f"choose {name} <= {N}")
    return int(K)


def check_names(names, what: str = "sources", *, min_len: int = 0) -> tuple[str, ...]:
    """A sequence of distinct names (strings), at least ``min_len`` of them."""
    if isinstance(names, str):
        raise ConfigError(f"{what} must be a sequence of names, got the string {names!r}: wrap it in a list")
    names = tuple(names)
    for n in names:
        if not isinstance(n, str):
            raise ConfigError(f"{what}: name {n!r} must be a string")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{what} names {', '.join(dup)} more than once: list every name once")
    if len(names) < min_len:
        raise ConfigError(f"{what} needs at least {min_len} names, got {len(names)}")
    return names
