"""Unsupervised transfer: a classifier on K selected neurons, trained on source only (paper 3.3).

The target is wrapped in :class:`HeldOutTarget`, whose labels can only be used
to *score* a fitted classifier. Every transfer call checks, through the
provenance each selection carries (the checksums of the datasets it was fitted
on), that the target reached neither the neuron selection nor the classifier;
a violation raises :class:`~tsns.errors.TargetLeakError`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError, TargetLeakError, TSNSError
from .classifier import ClassifierParams, train_classifier
from .validation import check_k


# --------------------------------------------------------------------------- data holders
@dataclass(frozen=True)
class LabelledSource:
    """A source dataset: activations and labels, with the checksum of its table.

    Attributes
    ----------
    name : str
    X : array, shape (n_examples, N)
    y : array, shape (n_examples,)
    sha256 : str
        ``table_sha256`` of the normalised dataset table.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    sha256: str


class HeldOutTarget:
    """Target data for evaluation only.

    Features are available for prediction; labels are kept private and used
    only in :meth:`score`. The object records its dataset checksum so that
    transfer code can refuse selections or classifiers that saw the target.

    Parameters
    ----------
    name : str
    X : array, shape (n_examples, N)
    y : array, shape (n_examples,)
    sha256 : str
    """

    def __init__(self, name: str, X: np.ndarray, y: np.ndarray, sha256: str):
        self.name = name
        self.X = X
        self.sha256 = sha256
        classes = np.unique(np.asarray(y))
        if len(classes) < 2:
            raise TSNSError(f"the evaluation rows of target {name!r} hold {'no rows' if not len(classes) else 'a single class'}"
                            f" ({len(y)} rows): an accuracy on them means nothing; score another split or check "
                            "data.limit")
        self.__y = np.array(y, copy=True)
        self.__y.setflags(write=False)

    def __len__(self) -> int:
        return len(self.X)

    def score(self, clf, neurons: np.ndarray | None = None) -> float:
        """Accuracy of a fitted classifier on the target (the only use of its labels)."""
        X = self.X if neurons is None else self.X[:, neurons]
        pred = clf.predict(np.asarray(X, dtype=np.float32))
        return float(np.mean(pred == self.__y))


@dataclass(frozen=True)
class Selection:
    """K selected neurons and the provenance of the data that chose them.

    Attributes
    ----------
    neurons : array of int, shape (K,)
    method : str
        e.g. ``singletsns``, ``random``, ``last_layer``, ``all_layers``.
    fit_on : tuple of str
        Checksums of every dataset used to select the neurons (or tune them);
        empty for data-free selections (random, last layer, all layers).
    seed : int or None
    """

    neurons: np.ndarray
    method: str
    fit_on: tuple = field(default_factory=tuple)
    seed: int | None = None

    @property
    def K(self) -> int:
        return int(len(self.neurons))


# --------------------------------------------------------------------------- guards
def check_no_leak(target: HeldOutTarget, source: LabelledSource, selection: Selection) -> None:
    """Raise TargetLeakError if the target is the source or helped select the neurons."""
    if target.sha256 == source.sha256 or target.name == source.name:
        raise TargetLeakError(
            f"target {target.name!r} is also the source: pick a target that is not among the sources")
    if target.sha256 in set(selection.fit_on):
        raise TargetLeakError(
            f"the {selection.method} neurons were selected with the target {target.name!r}: "
            "recompute the selection from source data only")


def check_target_not_in_sources(target: HeldOutTarget,
                                sources: Mapping[str, LabelledSource] | Iterable[LabelledSource]) -> None:
    """Raise TargetLeakError if the target is one of the sources (same name or same checksum)."""
    srcs = sources.values() if isinstance(sources, Mapping) else sources
    for s in srcs:
        if s.name == target.name or s.sha256 == target.sha256:
            raise TargetLeakError(f"target {target.name!r} is also the source {s.name!r}: "
                                  "remove it from the MultiTSNS sources")


# --------------------------------------------------------------------------- transfer
def transfer_accuracy(source: LabelledSource, target: HeldOutTarget, selection: Selection,
                      classifier: ClassifierParams = ClassifierParams(), *, clf=None) -> float:
    """Train on the source's selected neurons, score on the unseen target.

    ``clf`` may pass a classifier already trained by :func:`tsns.method.classifier.train_classifier`
    on this source and selection (to reuse it across targets).
    """
    check_no_leak(target, source, selection)
    if clf is None:
        clf = train_classifier(source.X, source.y, selection.neurons, classifier)
    return target.score(clf, selection.neurons)


def pooled_source(parts: Mapping[str, LabelledSource], names: Sequence[str], L: int | None,
                  seed: int) -> LabelledSource:
    """The union of several sources as one: L rows water-filled across ``names`` (all rows when L is None).

    Its checksum is the set of its parts' (``"+"``-joined, sorted), so a target equal to a part
    is still refused by :func:`check_no_leak` through the parts' checksums in the selection.
    """
    from .waterfill import draw_allocation

    rows = draw_allocation({n: len(parts[n].y) for n in names}, L, seed, purpose="final")
    X = np.concatenate([parts[n].X[rows[n]] for n in names])
    y = np.concatenate([parts[n].y[rows[n]] for n in names])
    return LabelledSource("+".join(names), X, y, "+".join(sorted(parts[n].sha256 for n in names)))


# --------------------------------------------------------------------------- baselines
def layer_neurons(layer: int, layer_shape: tuple[int, int]) -> np.ndarray:
    """Flat indices of every neuron of one layer (-1 = the last; layers in the order they are stored)."""
    n_layers, hidden = layer_shape
    if not -n_layers <= layer < n_layers:
        raise ConfigError(f"layer {layer} does not exist in a model with {n_layers} hidden states")
    layer = layer % n_layers
    return np.arange(layer * hidden, (layer + 1) * hidden)


def random_neurons(K: int, N: int, seed: int, salt: str = "") -> np.ndarray:
    """K neurons drawn uniformly without replacement (the random-K control)."""
    K = check_k(K, N)
    entropy = [int(seed)] + [ord(c) for c in salt]
    return np.sort(np.random.default_rng(entropy).choice(N, size=K, replace=False))


def baseline_selections(layer_shape: tuple[int, int], Ks: Sequence[int], seeds: Sequence[int],
                        source_name: str) -> list[Selection]:
    """Data-free selections: last layer, all layers, and K random neurons per seed."""
    N = layer_shape[0] * layer_shape[1]
    sels = [Selection(layer_neurons(-1, layer_shape), "last_layer"), Selection(np.arange(N), "all_layers")]
    for K in Ks:
        for s in seeds:
            sels.append(Selection(random_neurons(K, N, s, salt=source_name), "random", seed=s))
    return sels


def run_transfer_grid(sources: dict[str, LabelledSource], targets: dict[str, HeldOutTarget],
                      selections: dict[str, list[Selection]], pairs: Iterable[tuple[str, str]],
                      classifier: ClassifierParams = ClassifierParams(), *, progress: bool = False) -> pd.DataFrame:
    """Evaluate every selection of every source on its targets.

    One classifier is trained per (source, selection) and scored on each target
    of that source, so the cost grows with sources, not with pairs.

    Parameters
    ----------
    sources : name -> LabelledSource
    targets : name -> HeldOutTarget
    selections : source name -> list of Selection
    pairs : iterable of (source, target) names

    Returns
    -------
    pandas.DataFrame
        Long format: ``source, target, method, K, seed, C, accuracy`` (``C``: the classifier's, chosen on
        the source when ``classifier.C`` is ``"cv"``).
    """
    by_source: dict[str, list[str]] = {}
    for s, t in pairs:
        if s not in sources or t not in targets:
            raise ConfigError(f"transfer pair {s}->{t} names a dataset that is not loaded: check transfer.domains")
        by_source.setdefault(s, []).append(t)
    work = [(s, sel) for s in by_source for sel in selections[s]]
    it = work
    if progress:
        from tqdm import tqdm

        it = tqdm(work, desc="transfer", unit="clf", mininterval=5)
    rows = []
    for s, sel in it:
        src = sources[s]
        for t in by_source[s]:
            check_no_leak(targets[t], src, sel)
        clf = train_classifier(src.X, src.y, sel.neurons, classifier)
        for t in by_source[s]:
            acc = transfer_accuracy(src, targets[t], sel, clf=clf)
            rows.append({"source": s, "target": t, "method": sel.method, "K": sel.K,
                         "seed": -1 if sel.seed is None else sel.seed, "C": clf.C_, "accuracy": acc})
    return pd.DataFrame(rows)
