"""Meta Fine-Tuning (MFT, Wang et al. 2020, EMNLP): a related method to neuron selection.

MFT inserts a multi-domain training stage between pre-training and per-domain
fine-tuning.  A *meta-learner* (the encoder plus a label head, a domain embedding
and one domain classifier per selected layer) is trained on the training rows of
all K domains with

* the typicality-sensitive label classification loss ``L_TLC`` (instances weighted
  by their typicality score ``t_i^k``), and
* the skip-layer domain corruption loss ``L_SDC``: for every layer ``l`` in ``L_s``
  a domain classifier sees ``h_l(x) + E_D(k)`` (mean-pooled layer ``l`` plus the
  embedding of the *true* domain) and is trained against *corrupted* domain labels
  ``z_i`` (the batch's domain labels shuffled), so the encoder must hide domain
  information.

Afterwards the extra layers are dropped and the encoder is fine-tuned per domain
(:func:`fine_tune`).

Equation numbers
----------------
The paper prints no equation numbers; the numbers used in this module count its
display equations of section 3 in order of appearance:

====  =========================================================================
(1)   class prototype ``c_m^k`` = mean of ``E(x)`` over ``D_m^k`` (in-line, §3.2)
(2)   typicality ``t_i^k`` with one prototype per (domain, class) (§3.2)
(3)   typicality with several prototypes and memberships ``beta_n`` (§3.2)
(4)   ``L_TLC`` typicality-sensitive label classification loss (§3.2)
(5)   ``L_AD``  adversarial domain loss (§3.3, not used)
(6)   ``L_FD``  flipped domain loss (§3.3, not used)
(7)   ``h_l(x)`` mean pooling of layer ``l`` excluding [CLS] (§3.3)
(8)   ``L_TDC`` typicality-sensitive domain corruption loss, one layer (§3.3)
(9)   ``L_SDC`` skip-layer domain corruption loss, average over ``L_s`` (§3.3)
(10)  ``L = L_TLC + lambda * L_SDC`` written out (§3.4)
====  =========================================================================

Ambiguities resolved (see the function docstrings for details)
---------------------------------------------------------------
* Typicality is *not* rescaled after (2)/(3): the paper's only normalisation is
  the convex weighting ``alpha`` / ``(1 - alpha) / (K - 1)`` of cosines, so
  ``t`` lies in ``[-1, 1]`` and is used as is in (4) and (8)-(10).
* In (3) the sum over ``n`` runs over the prototypes (clusters) of the instance's
  own class ``m`` in the domain in question and ``beta_n`` is the fuzzy c-means
  membership (fuzzifier 2) of ``E(x)`` to those clusters; with one prototype it
  reduces to (2) exactly.
* Corruption follows Algorithm 1 line 10 and §3.4: the domain labels of each
  batch are shuffled (a random permutation), which approximates sampling ``z_i``
  from the MLE domain distribution; it keeps the batch's label multiset and may
  leave some labels unchanged ("may or may not be the same as k").
* ``h_l`` (7) averages the non-padding tokens of layer ``l`` except [CLS]
  (position 0); the paper writes the average up to ``Max`` but padding carries
  no text.  ``L_s`` indices count transformer layers from 1 (``{4, 8, 12}`` for
  BERT-base), i.e. ``hidden_states[l]`` of Hugging Face models.
* The label head reads the last layer's [CLS] vector (``f(x)`` in (4)) through
  dropout and one linear layer, as in Devlin et al.; optimiser AdamW
  (weight decay 0.01) with 10 % linear warm-up and linear decay (§4.1: "the
  optimizer and the reminder settings are the same as in Devlin et al.").
"""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError
from .io import atomic_path, atomic_savez, atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

#: MFT variants of §4.2: full, domain corruption only (no typicality), typicality only (no SDC).
VARIANTS: tuple[str, ...] = ("mft", "mft_dc", "mft_tw")
#: Train / dev / test fractions of one Amazon domain (Table 1: 2,000 reviews per domain,
#: 1,750 train on average and the 250 held-out reviews halved into dev and test).
AMAZON_SPLIT: tuple[float, float, float] = (0.875, 0.0625, 0.0625)
#: Fractions of the taxonomy datasets (§4.1: "80%:10%:10%").
TAXONOMY_SPLIT: tuple[float, float, float] = (0.8, 0.1, 0.1)
CHECKPOINT = "checkpoint.pt"
CHECKPOINT_META = "checkpoint.json"
TYPICALITY_FILE = "typicality.npz"
ENCODER_DIR = "encoder"
_EPS = 1e-12


# =========================================================================== typicality
def _check_hyd(H, y, d) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    H = np.asarray(H, dtype=np.float64)
    y = np.asarray(y)
    d = np.asarray(d)
    if H.ndim != 2:
        raise ConfigError(f"H must be a 2-D array (n, hidden), got shape {H.shape}: "
                          "pass mean-pooled last-layer vectors")
    if not (len(H) == len(y) == len(d)):
        raise ConfigError(f"H, y and d must have the same length (got {len(H)}, {len(y)}, {len(d)}): "
                          "pass one row per text")
    return H, y, d


def _groups(y: np.ndarray, d: np.ndarray) -> tuple[list, list]:
    domains = sorted(np.unique(d).tolist(), key=str)
    classes = sorted(np.unique(y).tolist(), key=str)
    if len(domains) < 2:
        raise ConfigError(f"typicality needs at least 2 domains (got {domains}): "
                          "pass the training rows of all K >= 2 domains")
    missing = [(k, m) for k in domains for m in classes if not np.any((d == k) & (y == m))]
    if missing:
        shown = ", ".join(f"(domain {k!r}, class {m!r})" for k, m in missing[:4])
        raise ConfigError(f"empty (domain, class) group(s) {shown}: every domain needs rows of every class "
                          "to build the prototypes c_m^k")
    return domains, classes


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (0.0 <= alpha <= 1.0):
        raise ConfigError(f"alpha={alpha!r} must lie in [0, 1] (the paper's default is 0.5)")
    return alpha


def _cos(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Cosine similarities, shape (len(A), len(B))."""
    na = np.linalg.norm(A, axis=1, keepdims=True)
    nb = np.linalg.norm(B, axis=1, keepdims=True)
    return (A / np.maximum(na, _EPS)) @ (B / np.maximum(nb, _EPS)).T


def class_prototypes(H, y, d) -> dict:
    """Class prototypes ``c_m^k`` of every (domain, class), equation (1).

    Parameters
    ----------
    H : array-like, shape (n, hidden)
        ``E(x_i)``: mean-pooled last-layer vectors of the n texts.
    y : array-like, shape (n,)
        Class labels.
    d : array-like, shape (n,)
        Domain labels.

    Returns
    -------
    dict
        ``{(domain, class): ndarray of shape (hidden,)}``, the mean of ``H`` over the
        rows of that domain and class (only groups that have rows appear).
    """
    H, y, d = _check_hyd(H, y, d)
    out = {}
    for k in sorted(np.unique(d).tolist(), key=str):
        for m in sorted(np.unique(y).tolist(), key=str):
            rows = (d == k) & (y == m)
            if rows.any():
                out[(k, m)] = H[rows].mean(axis=0)
    return out


def typicality(H, y, d, *, alpha: float = 0.5) -> np.ndarray:
    """Typicality score of every training instance, equation (2) of §3.2.

    ``t_i^k = alpha * cos(E(x_i^k), c_m^k)
    + (1 - alpha) / (K - 1) * sum_{k' != k} cos(E(x_i^k), c_m^{k'})``
    with ``m = y_i`` and ``c_m^k`` from :func:`class_prototypes` (equation (1)).

    The paper applies no further normalisation: the only normalisation is the
    convex weighting above (``alpha`` on the own domain, the remaining
    ``1 - alpha`` averaged over the ``K - 1`` other domains), so the scores lie in
    ``[-1, 1]`` and are used unchanged as weights in ``L_TLC`` and ``L_SDC``.

    Parameters
    ----------
    H : array-like, shape (n, hidden)
        Mean-pooled last-layer vectors ``E(x)`` of the pre-trained encoder.
    y : array-like, shape (n,)
        Class labels.
    d : array-like, shape (n,)
        Domain labels (K >= 2 distinct values).
    alpha : float in [0, 1]
        Weight of the own-domain prototype (paper default 0.5; the paper states
        ``0 < alpha < 1``, the closed interval is accepted).

    Returns
    -------
    numpy.ndarray, shape (n,), float64

    Raises
    ------
    ConfigError
        Fewer than two domains, ``alpha`` outside [0, 1], or a (domain, class)
        group without rows.
    """
    H, y, d = _check_hyd(H, y, d)
    alpha = _check_alpha(alpha)
    domains, classes = _groups(y, d)
    K = len(domains)
    protos = class_prototypes(H, y, d)
    t = np.empty(len(H), dtype=np.float64)
    for m in classes:
        rows = np.flatnonzero(y == m)
        C = np.stack([protos[(k, m)] for k in domains])          # (K, hidden)
        S = _cos(H[rows], C)                                      # (n_m, K)
        own = np.array([domains.index(v) for v in d[rows].tolist()])
        own_cos = S[np.arange(len(rows)), own]
        others = S.sum(axis=1) - own_cos
        t[rows] = alpha * own_cos + (1.0 - alpha) / (K - 1) * others
    return t


def _memberships(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Fuzzy c-means memberships (fuzzifier 2) of rows X to centres C, shape (len(X), len(C)).

    ``beta_j = (1 / ||x - c_j||^2) / sum_l (1 / ||x - c_l||^2)``: positive, summing to 1.
    """
    d2 = ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2) + _EPS
    inv = 1.0 / d2
    return inv / inv.sum(axis=1, keepdims=True)


def typicality_multi(H, y, d, *, alpha: float = 0.5, n_prototypes: int = 2, random_state: int = 0) -> np.ndarray:
    """Multi-prototype typicality, equation (3) of §3.2.

    Every (domain, class) group ``D_m^k`` is clustered by k-means into
    ``n_prototypes`` prototypes ``c_{m_j}^k`` (fewer when the group has fewer
    distinct rows).  For an instance of class ``m`` and any domain ``k``,
    ``S^k(x) = sum_j beta_j cos(E(x), c_{m_j}^k) / sum_j beta_j`` where ``beta_j > 0``
    is the membership of ``E(x)`` to cluster ``j`` (fuzzy c-means membership with
    fuzzifier 2, i.e. proportional to ``1 / ||E(x) - c_j||^2``); then
    ``t_i^k = alpha * S^k(x_i) + (1 - alpha) / (K - 1) * sum_{k' != k} S^{k'}(x_i)``.

    The paper writes the sum as ``n in M`` and calls ``beta_n`` "the cluster
    membership of x w.r.t. each class label"; it is read here as running over the
    clusters of the instance's own class ``m`` (footnote 4: ``t_i^k`` concerns the
    label ``m``), the reading under which one prototype per group gives back
    equation (2).  The paper does not define ``beta``; fuzzy c-means memberships are
    the standard positive cluster memberships.

    Parameters
    ----------
    H : array-like, shape (n, hidden)
    y : array-like, shape (n,)
    d : array-like, shape (n,)
    alpha : float in [0, 1]
    n_prototypes : int >= 1
        Clusters per (domain, class).
    random_state : int
        Seed of k-means (``n_init=10``).

    Returns
    -------
    numpy.ndarray, shape (n,), float64
    """
    from sklearn.cluster import KMeans

    H, y, d = _check_hyd(H, y, d)
    alpha = _check_alpha(alpha)
    if not isinstance(n_prototypes, (int, np.integer)) or n_prototypes < 1:
        raise ConfigError(f"n_prototypes={n_prototypes!r} must be a positive integer")
    domains, classes = _groups(y, d)
    K = len(domains)
    centres = {}
    for k in domains:
        for m in classes:
            X = H[(d == k) & (y == m)]
            j = min(int(n_prototypes), len(np.unique(X, axis=0)))
            if j < n_prototypes:
                log.warning("domain %r class %r has %d distinct rows: using %d prototype(s) instead of %d",
                            k, m, j, j, n_prototypes)
            if j == 1:
                centres[(k, m)] = X.mean(axis=0, keepdims=True)
            else:
                centres[(k, m)] = KMeans(n_clusters=j, n_init=10, random_state=random_state).fit(X).cluster_centers_
    t = np.empty(len(H), dtype=np.float64)
    for m in classes:
        rows = np.flatnonzero(y == m)
        X = H[rows]
        S = np.empty((len(rows), K))
        for col, k in enumerate(domains):
            C = centres[(k, m)]
            beta = _memberships(X, C)
            S[:, col] = (beta * _cos(X, C)).sum(axis=1) / beta.sum(axis=1)
        own = np.array([domains.index(v) for v in d[rows].tolist()])
        own_s = S[np.arange(len(rows)), own]
        t[rows] = alpha * own_s + (1.0 - alpha) / (K - 1) * (S.sum(axis=1) - own_s)
    return t


def typicality_cases(texts, scores, d, n: int = 3, *, labels=None) -> pd.DataFrame:
    """The ``n`` lowest and ``n`` highest typicality texts of every domain (the paper's Table 5).

    Parameters
    ----------
    texts : sequence of str, length N
    scores : array-like, shape (N,)
        Typicality scores (:func:`typicality`).
    d : array-like, shape (N,)
        Domain of every text.
    n : int
        Cases per end and domain.
    labels : array-like, shape (N,), optional
        Class labels, shown in a ``label`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``typicality`` ("low" / "high"), ``domain``, [``label``], ``score``,
        ``text``; per domain the low cases by ascending score, then the high cases by
        descending score.
    """
    texts = list(texts)
    scores = np.asarray(scores, dtype=np.float64)
    d = np.asarray(d)
    if not (len(texts) == len(scores) == len(d)) or (labels is not None and len(labels) != len(texts)):
        raise ConfigError("texts, scores, d (and labels) must have the same length: pass one score per text")
    if n < 1:
        raise ConfigError(f"n={n!r} must be a positive integer")
    rows = []
    for k in sorted(np.unique(d).tolist(), key=str):
        idx = np.flatnonzero(d == k)
        order = idx[np.argsort(scores[idx], kind="stable")]
        low = order[:n]
        high = [i for i in order[::-1][:n] if i not in set(low.tolist())]  # no row twice in a small domain
        for which, chosen in (("low", low), ("high", high)):
            for i in chosen:
                row = {"typicality": which, "domain": k}
                if labels is not None:
                    row["label"] = np.asarray(labels)[i]
                row.update(score=float(scores[i]), text=texts[i])
                rows.append(row)
    cols = ["typicality", "domain"] + (["label"] if labels is not None else []) + ["score", "text"]
    return pd.DataFrame(rows, columns=cols)


# =========================================================================== model and losses
def _torch():
    import torch

    return torch


def _mean_pool(h, mask, *, skip_first: bool):
    """Attention-masked mean over tokens of ``h`` (B, T, H) -> (B, H); optionally without position 0."""
    m = mask.to(h.dtype)
    if skip_first:
        m = m.clone()
        m[:, 0] = 0
    m = m[:, :, None]
    return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


class MetaLearner(_torch().nn.Module):
    """The MFT meta-learner of Figure 2: encoder + label head + corrupted domain classifiers.

    Parameters
    ----------
    encoder : transformers PreTrainedModel
        A BERT-style encoder returning ``hidden_states`` (embeddings first).
    n_labels : int
        Number of classes ``|M|`` (shared by all domains).
    n_domains : int
        ``K``.
    layers : sequence of int
        ``L_s``: transformer layers (1 = first layer, ``num_hidden_layers`` = last)
        that get a domain classifier.
    hidden : int
        ``d``, the encoder width.
    pooling : {"cls", "mean"}
        Feature of the label head: last-layer [CLS] (the paper's ``f(x)``) or the
        masked mean of the last layer.
    dropout : float
        Dropout before the label head (BERT's 0.1).

    Notes
    -----
    ``forward`` returns ``label_logits`` of shape (B, n_labels) and, when ``domains``
    is given, ``domain_logits`` of shape (len(layers), B, n_domains): classifier
    ``l`` sees ``h_l(x) + E_D(k)`` (equation (7) plus the true-domain embedding).
    """

    def __init__(self, encoder, n_labels: int, n_domains: int, layers: Sequence[int], hidden: int, *,
                 pooling: str = "cls", dropout: float = 0.1):
        super().__init__()
        nn = _torch().nn
        n_layers = int(getattr(encoder.config, "num_hidden_layers", 0) or 0)
        layers = [int(l) for l in layers]
        bad = [l for l in layers if not 1 <= l <= n_layers]
        if not layers or bad:
            raise ConfigError(f"layers={layers} must be non-empty and within 1..{n_layers} (the encoder's "
                              "transformer layers; the paper uses {4, 8, 12} for BERT-base)")
        if pooling not in ("cls", "mean"):
            raise ConfigError(f"pooling={pooling!r} is unknown: use cls or mean")
        if n_labels < 2 or n_domains < 1:
            raise ConfigError(f"n_labels={n_labels} must be >= 2 and n_domains={n_domains} >= 1")
        self.encoder = encoder
        self.layers = layers
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.label_head = nn.Linear(hidden, n_labels)
        self.domain_embedding = nn.Embedding(n_domains, hidden)
        self.domain_heads = nn.ModuleList([nn.Linear(hidden, n_domains) for _ in layers])
        self._accepts_types = "token_type_ids" in encoder.forward.__code__.co_varnames

    def forward(self, input_ids, attention_mask, token_type_ids=None, domains=None):
        """Label logits (B, n_labels) and domain logits (len(layers), B, n_domains) or None.

        Parameters
        ----------
        input_ids, attention_mask, token_type_ids : LongTensor, shape (B, T)
        domains : LongTensor, shape (B,), optional
            True domain indices; the domain classifiers run only when given.
        """
        torch = _torch()
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask, "output_hidden_states": True}
        if self._accepts_types and token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hs = self.encoder(**kwargs).hidden_states
        last = hs[-1]
        feat = last[:, 0] if self.pooling == "cls" else _mean_pool(last, attention_mask, skip_first=False)
        label_logits = self.label_head(self.dropout(feat))
        if domains is None:
            return label_logits, None
        emb = self.domain_embedding(domains)
        dom = [head(_mean_pool(hs[l], attention_mask, skip_first=True) + emb)
               for l, head in zip(self.layers, self.domain_heads)]
        return label_logits, torch.stack(dom)


def corrupt_domains(d, generator):
    """Corrupted domain labels ``z`` of a batch: its domain labels randomly shuffled.

    Algorithm 1 line 10 and §3.4: "we shuffle the domain labels to generate the
    corrupted labels {z_i}, as an approximation of sampling from the original
    corrupted domain distribution Pr(z_i)" (the MLE domain distribution).  The
    multiset of labels in the batch is kept; a ``z_i`` may equal the true label.

    Parameters
    ----------
    d : LongTensor, shape (B,)
        True domain indices.
    generator : torch.Generator
        Source of the permutation (on the CPU).

    Returns
    -------
    LongTensor, shape (B,)
        ``d[perm]``, on ``d``'s device.
    """
    torch = _torch()
    perm = torch.randperm(len(d), generator=generator)
    return d[perm.to(d.device)]


def tlc_loss(logits, y, t=None):
    """Typicality-sensitive label classification loss ``L_TLC``, equation (4).

    ``-(1/B) * sum_i t_i * log softmax(logits_i)[y_i]``: the batch mean of ``t_i * CE_i``
    (not divided by ``sum t``).

    Parameters
    ----------
    logits : Tensor, shape (B, n_labels)
    y : LongTensor, shape (B,)
    t : Tensor, shape (B,), optional
        Typicality weights; None means all ones (plain cross-entropy).

    Returns
    -------
    Tensor, shape ()
    """
    F = _torch().nn.functional
    ce = F.cross_entropy(logits.float(), y, reduction="none")
    return ce.mean() if t is None else (t.to(ce.dtype) * ce).mean()


def sdc_loss(domain_logits_per_layer, d_corrupted, t=None):
    """Skip-layer domain corruption loss ``L_SDC``, equation (9) (per layer: ``L_TDC``, equation (8)).

    ``-(1 / (|L_s| B)) * sum_l sum_i t_i * log softmax(domain_logits_l,i)[z_i]``.

    Parameters
    ----------
    domain_logits_per_layer : Tensor of shape (|L_s|, B, K) or sequence of (B, K) tensors
    d_corrupted : LongTensor, shape (B,)
        Corrupted domain labels ``z`` (:func:`corrupt_domains`).
    t : Tensor, shape (B,), optional
        Typicality weights; None means all ones (the MFT (DC) variant).

    Returns
    -------
    Tensor, shape ()
    """
    torch = _torch()
    F = torch.nn.functional
    logits = domain_logits_per_layer
    if not torch.is_tensor(logits):
        logits = torch.stack(list(logits))
    L, B, K = logits.shape
    ce = F.cross_entropy(logits.float().reshape(L * B, K), d_corrupted.repeat(L), reduction="none").reshape(L, B)
    if t is not None:
        ce = ce * t.to(ce.dtype)[None, :]
    return ce.mean()


def mft_loss(label_logits, y, domain_logits, z, t=None, *, lam: float = 0.1):
    """``L = L_TLC + lambda * L_SDC``, equation (10); ``domain_logits=None`` gives ``L_TLC`` alone.

    Returns
    -------
    total, l_tlc, l_sdc : Tensor, shape () each (``l_sdc`` is 0 without domain logits)
    """
    l_tlc = tlc_loss(label_logits, y, t)
    if domain_logits is None:
        return l_tlc, l_tlc, l_tlc.new_zeros(())
    l_sdc = sdc_loss(domain_logits, z, t)
    return l_tlc + lam * l_sdc, l_tlc, l_sdc


# =========================================================================== data helpers
def _check_table(df: pd.DataFrame, what: str, *, train_only: bool = False) -> None:
    need = ["text_a", "label", "domain"]
    missing = [c for c in need if c not in df]
    if missing:
        raise ConfigError(f"{what} has no column(s) {', '.join(missing)}: pass a table built by tsns.data "
                          "(columns id, text_a, text_b, label, split, domain)")
    if len(df) == 0:
        raise ConfigError(f"{what} is empty: pass at least one row per domain")
    if train_only and "split" in df and (df["split"] != "train").any():
        bad = sorted(set(df["split"]) - {"train"})
        raise ConfigError(f"{what} holds rows of split(s) {bad}: pass only rows with split == 'train'")


def _items(tokenizer, df: pd.DataFrame, max_length: int) -> list[dict]:
    from .extract import tokenize

    text_b = df["text_b"].tolist() if "text_b" in df and df["text_b"].notna().any() else None
    if text_b is not None:
        text_b = [None if (b is None or (isinstance(b, float) and math.isnan(b))) else b for b in text_b]
    return tokenize(tokenizer, df["text_a"].tolist(), text_b, max_length)


def _batch(items, idx, pad_id, device):
    from .extract import _pad_batch

    return _pad_batch([items[i] for i in idx], pad_id, device)


def _pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def _seed_all(seed: int) -> None:
    torch = _torch()
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _epoch_seed(seed: int, epoch: int, salt: int) -> int:
    return int(np.random.default_rng([int(seed), int(epoch), int(salt)]).integers(2**62))


def _schedule(optimizer, total_steps: int, warmup: float = 0.1):
    torch = _torch()
    n_warm = max(1, round(warmup * total_steps))

    def f(step: int) -> float:
        if step < n_warm:
            return (step + 1) / n_warm
        return max(0.0, (total_steps - step) / max(1, total_steps - n_warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, f)


def _optimizer(module, lr: float):
    torch = _torch()
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        (no_decay if (p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name) else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr)


def _scaler(device: str, used_precision: str):
    torch = _torch()
    return torch.amp.GradScaler(device if device == "cuda" else "cpu", enabled=(used_precision == "fp16"))


def _check_positive(**kw) -> None:
    for k, v in kw.items():
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"{k}={v!r} must be a positive integer")


def _last_layer_mean(encoder, items, *, batch_size, device, precision, pad_id) -> np.ndarray:
    """``E(x)``: masked mean of the last layer, shape (n, hidden) (§3.2)."""
    from .extract import encode

    was_training = encoder.training
    encoder.eval()
    try:
        return encode(encoder, items, pooling="mean", batch_size=batch_size, device=device,
                      precision=precision, pad_id=pad_id)[:, -1, :]
    finally:
        encoder.train(was_training)


def _save_encoder(encoder, tokenizer, dest: Path) -> Path:
    """Write ``save_pretrained`` output into ``dest`` through a temporary folder and a rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        encoder.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old)
        else:
            os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dest


# =========================================================================== meta fine-tuning

def _step(loss, module, optimizer, scaler, scheduler) -> None:
    """One optimiser step: scaled backward, gradient clipping at 1 (as in BERT), AdamW step, schedule step."""
    import torch

    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()


def meta_fine_tune(df_train: pd.DataFrame, *, model: str, layers: Sequence[int], checkpoint_dir,
                   domains: Sequence[str] | None = None, lam: float = 0.1, alpha: float = 0.5, epochs: int = 1,
                   lr: float = 2e-5, batch_size: int = 32, max_length: int = 128, seed: int = 0,
                   device: str = "auto", precision: str = "auto", variant: str = "mft", n_prototypes: int = 1,
                   show_progress: bool = True) -> Path:
    """Meta fine-tune an encoder on the training rows of several domains (Algorithm 1).

    Steps: (1) prototypes and typicality from the *pre-trained* encoder's
    mean-pooled last layer (equations (1)-(3)); (2) ``epochs`` passes over the
    shuffled pooled training rows minimising ``L_TLC + lam * L_SDC`` (equation
    (10)) with the batch's domain labels shuffled into ``z`` (:func:`corrupt_domains`);
    (3) the extra layers are dropped and the encoder (with its tokenizer) is saved.

    Variants (§4.2): ``"mft"`` full; ``"mft_dc"`` domain corruption only (all
    typicality weights set to 1); ``"mft_tw"`` typicality weighting only (no
    ``L_SDC``).

    Checkpointing: after every epoch ``checkpoint_dir/checkpoint.pt`` (meta-learner
    weights, optimizer, LR scheduler, grad scaler, torch/CUDA RNG states, epoch) and
    its sidecar ``checkpoint.json`` are replaced atomically; the typicality scores
    are kept in ``typicality.npz`` (they belong to the pre-trained encoder and are
    never recomputed on resume).  A later call with the same settings resumes after
    the last complete epoch (``epochs`` may be raised to continue training); a
    checkpoint of different settings is refused.

    Parameters
    ----------
    df_train : pandas.DataFrame
        Training rows of all domains (columns ``text_a``, ``text_b``, ``label``,
        ``domain``; if ``split`` is present it must be ``"train"`` everywhere).
    model : str
        ``"embedded"``, a Hugging Face id or a local folder (:func:`tsns.extract.load_model`).
    layers : sequence of int
        ``L_s`` (paper: {4, 8, 12} of 12 layers; for a 6-layer MiniLM e.g. {2, 4, 6}).
    checkpoint_dir : path
        Folder for checkpoints, typicality scores and the output ``encoder/``.
    domains : sequence of str, optional
        Domains to use, in the order of their domain indices; default: all of
        ``df_train`` sorted.
    lam : float
        ``lambda`` (paper default 0.1).
    alpha : float
        Typicality balance (paper default 0.5).
    epochs, lr, batch_size, max_length, seed : training settings (paper: 1-2 epochs, 2e-5).
    device : {"auto", "cpu", "cuda"}
    precision : {"auto", "fp32", "bf16", "fp16"}
        Autocast precision (``auto``: bf16 on CUDA, fp32 on CPU).
    variant : {"mft", "mft_dc", "mft_tw"}
    n_prototypes : int
        1 uses equation (2); more uses the multi-prototype equation (3).
    show_progress : bool
        tqdm bars for epochs and batches.

    Returns
    -------
    pathlib.Path
        ``checkpoint_dir/encoder``: the meta fine-tuned encoder and tokenizer,
        loadable with :func:`tsns.extract.load_model` / :func:`fine_tune`.
    """
    torch = _torch()
    from tqdm import tqdm

    from .extract import _autocast, load_model, select_device

    if variant not in VARIANTS:
        raise ConfigError(f"variant={variant!r} is unknown: use one of {', '.join(VARIANTS)}")
    _check_positive(epochs=epochs, batch_size=batch_size, max_length=max_length, n_prototypes=n_prototypes)
    alpha = _check_alpha(alpha)
    if lam < 0:
        raise ConfigError(f"lam={lam!r} must be >= 0 (the paper's default is 0.1)")
    _check_table(df_train, "df_train", train_only=True)
    present = sorted(df_train["domain"].unique().tolist(), key=str)
    domains = list(present if domains is None else domains)
    absent = [k for k in domains if k not in present]
    if absent:
        raise ConfigError(f"domain(s) {absent} have no rows in df_train: "
                          "pass their training rows or drop them from domains")
    if len(domains) < 2:
        raise ConfigError(f"MFT needs at least 2 domains (got {domains}): pass the training rows of K >= 2 domains")
    df = df_train[df_train["domain"].isin(domains)].reset_index(drop=True)
    labels = sorted(df["label"].unique().tolist(), key=str)
    if len(labels) < 2:
        raise ConfigError(f"df_train has a single label {labels}: pass rows of at least two classes")
    y = np.array([labels.index(v) for v in df["label"].tolist()], dtype=np.int64)
    dom = np.array([domains.index(v) for v in df["domain"].tolist()], dtype=np.int64)

    ckdir = Path(checkpoint_dir)
    ckdir.mkdir(parents=True, exist_ok=True)
    device = select_device(device)
    identity = {"model": str(model), "variant": variant, "layers": [int(l) for l in layers], "lam": float(lam),
                "alpha": float(alpha), "lr": float(lr), "batch_size": int(batch_size), "max_length": int(max_length),
                "seed": int(seed), "domains": [str(k) for k in domains], "labels": [str(v) for v in labels],
                "n_rows": len(df), "n_prototypes": int(n_prototypes),
                "rows_sha": _rows_sha(df)}

    meta_path = ckdir / CHECKPOINT_META
    state = None
    if meta_path.exists() and (ckdir / CHECKPOINT).exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("identity") != identity:
            diff = sorted(k for k in identity if meta.get("identity", {}).get(k) != identity[k])
            raise ConfigError(f"{ckdir} holds an MFT checkpoint of other settings ({', '.join(diff)} differ): "
                              "use a new checkpoint_dir or delete that one")
        state = torch.load(ckdir / CHECKPOINT, map_location="cpu", weights_only=False)
    start_epoch = int(state["epoch"]) if state is not None else 0
    if state is not None and start_epoch >= epochs and (ckdir / ENCODER_DIR).exists():
        log.info("MFT checkpoint in %s already holds %d complete epoch(s): nothing to train", ckdir, start_epoch)
        return ckdir / ENCODER_DIR

    _seed_all(seed)
    tokenizer, encoder, _info = load_model(model, device)
    pad_id = _pad_id(tokenizer)
    items = _items(tokenizer, df, max_length)
    used_precision = _autocast(device, precision)[1]

    # ---- typicality scores of the pre-trained encoder (Algorithm 1 lines 2-7)
    typ_path = ckdir / TYPICALITY_FILE
    if variant == "mft_dc":
        t_all = np.ones(len(df), dtype=np.float32)
    elif typ_path.exists() and state is not None:
        with np.load(typ_path) as z:
            t_all = z["typicality"].astype(np.float32)
        log.info("typicality scores reused from %s", typ_path)
    else:
        H = _last_layer_mean(encoder, items, batch_size=batch_size, device=device, precision=precision,
                             pad_id=pad_id)
        t_fn = typicality if n_prototypes == 1 else (
            lambda H_, y_, d_, alpha: typicality_multi(H_, y_, d_, alpha=alpha, n_prototypes=n_prototypes,
                                                       random_state=seed))
        t_all = np.asarray(t_fn(H, y, dom, alpha=alpha), dtype=np.float32)
        ids = df["id"].astype(str).to_numpy() if "id" in df else np.arange(len(df)).astype(str)
        atomic_savez(typ_path, typicality=t_all, label=y, domain=dom, ids=ids.astype("U"))
        log.info("typicality: mean %.3f, min %.3f, max %.3f over %d rows", t_all.mean(), t_all.min(), t_all.max(),
                 len(t_all))

    learner = MetaLearner(encoder, len(labels), len(domains), layers, encoder.config.hidden_size).to(device)
    optimizer = _optimizer(learner, lr)
    steps_per_epoch = math.ceil(len(df) / batch_size)
    scheduler = _schedule(optimizer, steps_per_epoch * epochs)
    scaler = _scaler(device, used_precision)
    history: list[dict] = []
    if state is not None:
        learner.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and device == "cuda":
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        history = list(state.get("history", []))
        log.info("resuming MFT from %s after epoch %d of %d", ckdir, start_epoch, epochs)

    y_t = torch.as_tensor(y)
    d_t = torch.as_tensor(dom)
    t_t = torch.as_tensor(t_all)
    use_sdc = variant != "mft_tw"
    use_t = variant != "mft_dc"
    learner.train()
    epoch_bar = tqdm(range(start_epoch, epochs), desc="MFT", unit="epoch", disable=not show_progress,
                     initial=start_epoch, total=epochs)
    for epoch in epoch_bar:
        t0 = time.perf_counter()
        order = np.random.default_rng(_epoch_seed(seed, epoch, 1)).permutation(len(df))
        gen = torch.Generator().manual_seed(_epoch_seed(seed, epoch, 2))
        sums = np.zeros(3)
        n_seen = 0
        bar = tqdm(range(0, len(df), batch_size), desc=f"MFT epoch {epoch + 1}/{epochs}", unit="batch",
                   disable=not show_progress, leave=False, mininterval=5)
        for start in bar:
            idx = order[start:start + batch_size]
            ids, types, mask = _batch(items, idx, pad_id, device)
            yb = y_t[idx].to(device)
            db = d_t[idx].to(device)
            tb = t_t[idx].to(device) if use_t else None
            zb = corrupt_domains(db, gen) if use_sdc else None
            with _autocast(device, precision)[0]:
                label_logits, dom_logits = learner(ids, mask, types, db if use_sdc else None)
            total, l_tlc, l_sdc = mft_loss(label_logits, yb, dom_logits, zb, tb, lam=lam)
            _step(total, learner, optimizer, scaler, scheduler)
            sums += len(idx) * np.array([t_.item() for t_ in (total.detach(), l_tlc.detach(), l_sdc.detach())])
            n_seen += len(idx)
        seconds = time.perf_counter() - t0
        rec = {"epoch": epoch + 1, "loss": sums[0] / n_seen, "l_tlc": sums[1] / n_seen, "l_sdc": sums[2] / n_seen,
               "seconds": round(seconds, 3)}
        history.append(rec)
        log.info("MFT epoch %d/%d: L=%.4f L_TLC=%.4f L_SDC=%.4f (%.1f s)", epoch + 1, epochs, rec["loss"],
                 rec["l_tlc"], rec["l_sdc"], seconds)
        _write_checkpoint(ckdir, identity, epoch + 1, learner, optimizer, scheduler, scaler, history, device)
    out = _save_encoder(learner.encoder, tokenizer, ckdir / ENCODER_DIR)
    atomic_write_json(ckdir / "mft.json", {"identity": identity, "epochs": epochs, "history": history,
                                           "device": device, "precision": used_precision})
    return out


def _rows_sha(df: pd.DataFrame) -> str:
    import hashlib

    h = hashlib.sha256()
    for col in ("text_a", "text_b", "label", "domain"):
        if col in df:
            h.update("\x1f".join(map(str, df[col].tolist())).encode())
            h.update(b"\x1e")
    return h.hexdigest()[:16]


def _write_checkpoint(ckdir: Path, identity: dict, epoch: int, learner, optimizer, scheduler, scaler, history,
                      device: str) -> None:
    torch = _torch()
    state = {"epoch": epoch, "model": learner.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "torch_rng": torch.get_rng_state(),
             "cuda_rng": torch.cuda.get_rng_state_all() if device == "cuda" else None, "history": history}
    with atomic_path(ckdir / CHECKPOINT) as tmp:
        torch.save(state, tmp)
    # the sidecar is written after the weights: a sidecar always describes a complete checkpoint
    atomic_write_json(ckdir / CHECKPOINT_META, {"identity": identity, "epoch": epoch, "history": history})


# =========================================================================== fine-tuning
class Classifier(_torch().nn.Module):
    """Encoder + dropout + linear head on the last-layer [CLS] vector (BERT fine-tuning).

    Attributes
    ----------
    tokenizer : transformers fast tokenizer
    labels : list
        Class values; logit ``j`` is ``labels[j]``.
    max_length, device, precision : settings used by :func:`evaluate` / :func:`predict`.
    history : list of dict
        Per epoch: training loss and dev accuracy.
    """

    def __init__(self, encoder, tokenizer, labels: Sequence, *, max_length: int, device: str, precision: str,
                 dropout: float = 0.1):
        super().__init__()
        nn = _torch().nn
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.max_length = int(max_length)
        self.device = device
        self.precision = precision
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, len(self.labels))
        self.history: list[dict] = []
        self._accepts_types = "token_type_ids" in encoder.forward.__code__.co_varnames

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        """Logits, shape (B, n_labels)."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self._accepts_types and token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        last = self.encoder(**kwargs).last_hidden_state
        return self.head(self.dropout(last[:, 0]))


def fine_tune(df_train: pd.DataFrame, df_dev: pd.DataFrame | None = None, *, model_or_path: str, epochs: int = 3,
              lr: float = 2e-5, batch_size: int = 32, max_length: int = 128, seed: int = 0, device: str = "auto",
              precision: str = "auto", labels: Sequence | None = None, show_progress: bool = True) -> Classifier:
    """Plain fine-tuning of an encoder with a [CLS] classification head.

    Used per domain after MFT (``model_or_path`` = :func:`meta_fine_tune`'s output),
    for BERT (S) (per domain from the pre-trained model) and for BERT (Mix)
    (``df_train`` = all domains' training rows pooled).  AdamW (weight decay 0.01),
    10 % linear warm-up then linear decay, gradient clipping at 1.  When ``df_dev``
    is given, the weights of the epoch with the best dev accuracy are kept
    (earliest on ties); otherwise those of the last epoch.

    Parameters
    ----------
    df_train : pandas.DataFrame
        Training rows (``text_a``, ``text_b``, ``label``, ``domain``).
    df_dev : pandas.DataFrame, optional
        Development rows for epoch selection.
    model_or_path : str
        ``"embedded"``, hub id or local folder.
    epochs, lr, batch_size, max_length, seed : training settings (paper: 2-4 epochs, 2e-5).
    device, precision : as in :func:`meta_fine_tune`.
    labels : sequence, optional
        Class values (default: sorted labels of ``df_train``).

    Returns
    -------
    Classifier
        In eval mode, with ``history``.
    """
    torch = _torch()
    from tqdm import tqdm

    from .extract import _autocast, load_model, select_device

    _check_positive(epochs=epochs, batch_size=batch_size, max_length=max_length)
    _check_table(df_train, "df_train", train_only=True)
    if df_dev is not None:
        _check_table(df_dev, "df_dev")
    device = select_device(device)
    _seed_all(seed)
    tokenizer, encoder, _info = load_model(model_or_path, device)
    labels = sorted(df_train["label"].unique().tolist(), key=str) if labels is None else list(labels)
    if len(labels) < 2:
        raise ConfigError(f"df_train has a single label {labels}: pass rows of at least two classes")
    y = torch.as_tensor(_label_index(df_train, labels, "df_train"))
    model = Classifier(encoder, tokenizer, labels, max_length=max_length, device=device, precision=precision).to(device)
    items = _items(tokenizer, df_train.reset_index(drop=True), max_length)
    pad_id = _pad_id(tokenizer)
    optimizer = _optimizer(model, lr)
    scheduler = _schedule(optimizer, math.ceil(len(items) / batch_size) * epochs)
    used = _autocast(device, precision)[1]
    scaler = _scaler(device, used)
    best, best_acc = None, -1.0
    for epoch in tqdm(range(epochs), desc="fine-tune", unit="epoch", disable=not show_progress):
        model.train()
        order = np.random.default_rng(_epoch_seed(seed, epoch, 3)).permutation(len(items))
        total, t0 = 0.0, time.perf_counter()
        for start in tqdm(range(0, len(items), batch_size), desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                          disable=not show_progress, leave=False, mininterval=5):
            idx = order[start:start + batch_size]
            ids, types, mask = _batch(items, idx, pad_id, device)
            with _autocast(device, precision)[0]:
                logits = model(ids, mask, types)
            loss = tlc_loss(logits, y[idx].to(device))
            _step(loss, model, optimizer, scaler, scheduler)
            total += loss.item() * len(idx)
        rec = {"epoch": epoch + 1, "loss": total / len(items), "seconds": round(time.perf_counter() - t0, 3)}
        if df_dev is not None:
            rec["dev_accuracy"] = evaluate(model, df_dev, batch_size=batch_size)
            if rec["dev_accuracy"] > best_acc:
                best_acc = rec["dev_accuracy"]
                best = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        model.history.append(rec)
        log.info("fine-tune epoch %d/%d: loss %.4f%s", epoch + 1, epochs, rec["loss"],
                 f", dev accuracy {rec['dev_accuracy']:.4f}" if "dev_accuracy" in rec else "")
    if best is not None:
        model.load_state_dict(best)
    return model.eval()


def _label_index(df: pd.DataFrame, labels: Sequence, what: str) -> np.ndarray:
    pos = {v: i for i, v in enumerate(labels)}
    unknown = sorted({v for v in df["label"].tolist() if v not in pos}, key=str)
    if unknown:
        raise ConfigError(f"{what} has label(s) {unknown} the model does not know ({list(labels)}): "
                          "fine-tune with labels= covering them")
    return np.array([pos[v] for v in df["label"].tolist()], dtype=np.int64)


def predict(model: Classifier, df: pd.DataFrame, *, batch_size: int = 64) -> np.ndarray:
    """Predicted class values of ``df``'s rows, shape (n,)."""
    torch = _torch()
    from .extract import _autocast

    if len(df) == 0:
        raise ConfigError("the table to predict is empty: pass at least one row")
    items = _items(model.tokenizer, df.reset_index(drop=True), model.max_length)
    pad_id = _pad_id(model.tokenizer)
    order = np.argsort([len(it["input_ids"]) for it in items], kind="stable")
    pred = np.empty(len(items), dtype=np.int64)
    was = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            idx = order[start:start + batch_size]
            ids, types, mask = _batch(items, idx, pad_id, model.device)
            with _autocast(model.device, model.precision)[0]:
                logits = model(ids, mask, types)
            pred[idx] = logits.argmax(dim=1).cpu().numpy()
    model.train(was)
    return np.asarray(model.labels, dtype=object)[pred]


def evaluate(model: Classifier, df_test: pd.DataFrame, *, batch_size: int = 64) -> float:
    """Accuracy of ``model`` on ``df_test`` (fraction in [0, 1]).

    Raises :class:`ConfigError` when ``df_test`` has labels the model was not trained on.
    """
    _check_table(df_test, "df_test")
    y = _label_index(df_test, model.labels, "df_test")
    pred = predict(model, df_test, batch_size=batch_size)
    truth = np.asarray(model.labels, dtype=object)[y]
    return float(np.mean(pred == truth))


# =========================================================================== splits
def split_domain(df: pd.DataFrame, seed: int = 0, *, fractions: tuple[float, float, float] = AMAZON_SPLIT
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-domain random train / dev / test split as in the MFT paper (§4.1, Table 1).

    For the Amazon reviews the paper keeps, of the 2,000 labelled reviews of each
    domain, about 1,750 for training and holds out the rest ("We hold out 2,000
    labeled reviews ... and split them into development and test sets"; Table 1:
    1,763/120/117, 1,752/120/128, 1,729/144/127, 1,756/119/125, i.e. 1,750/250 on
    average), so the default ``fractions`` are 87.5 % : 6.25 % : 6.25 %
    (:data:`AMAZON_SPLIT`; :data:`TAXONOMY_SPLIT` is the taxonomy task's 80:10:10).
    Each domain is shuffled independently (seeded by ``seed`` and the domain
    name), ``round(n * dev)`` rows go to dev, ``round(n * test)`` to test and the
    rest to train; no stratification (the paper's per-domain dev/test sizes vary).

    Parameters
    ----------
    df : pandas.DataFrame
        Rows of one or several domains (column ``domain``).
    seed : int
    fractions : (train, dev, test)
        Non-negative, summing to 1.

    Returns
    -------
    train, dev, test : pandas.DataFrame
        Rows in their original order, ``split`` set to ``"train"`` / ``"dev"`` / ``"test"``,
        index reset.
    """
    if "domain" not in df:
        raise ConfigError("df has no 'domain' column: pass a table built by tsns.data")
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or (f < 0).any() or not np.isclose(f.sum(), 1.0):
        raise ConfigError(f"fractions={tuple(fractions)} must be three non-negative numbers summing to 1")
    parts: dict[str, list[int]] = {"train": [], "dev": [], "test": []}
    positions = np.arange(len(df))
    dvals = df["domain"].astype(str).to_numpy()
    for k in sorted(set(dvals)):
        pos = positions[dvals == k]
        rng = np.random.default_rng([int(seed), zlib.crc32(k.encode())])
        perm = rng.permutation(pos)
        n = len(pos)
        n_dev = round(n * f[1])
        n_test = round(n * f[2])
        n_train = n - n_dev - n_test
        parts["train"] += perm[:n_train].tolist()
        parts["dev"] += perm[n_train:n_train + n_dev].tolist()
        parts["test"] += perm[n_train + n_dev:].tolist()
    out = []
    for name in ("train", "dev", "test"):
        sub = df.iloc[sorted(parts[name])].copy()
        sub["split"] = name
        out.append(sub.reset_index(drop=True))
    return tuple(out)  # type: ignore[return-value]


# =========================================================================== stage `mft`
#: Methods of the MFT table in the paper's row order: BERT (S), BERT (Mix) and the MFT variants.
METHODS: tuple[str, ...] = ("bert_s", "bert_mix", "mft_dc", "mft_tw", "mft")
METHOD_LABEL = {"bert_s": "BERT (S)", "bert_mix": "BERT (Mix)", "mft_dc": "MFT (DC)", "mft_tw": "MFT (TW)",
                "mft": "MFT (Full)"}
METRICS_MFT = Path("reports/metrics_mft.json")
RUN_FILE = "run.json"
#: Lowest and highest typicality reviews shown per domain (the paper's Table 5 shows 1-2 per domain and end).
N_CASES = 3
#: Characters of a review shown in the typicality case table.
CASE_CHARS = 200


def check_list(values, key: str, noun: str, *, allowed: Sequence | None = None, min_len: int = 1, cast=str) -> list:
    """``values`` as a list of ``cast``, each once, at least ``min_len`` of them and all in ``allowed``.

    Otherwise one ConfigError naming the params key, e.g. ``mft.seeds=[0, 0] must list one or more seeds, each once``.
    """
    vals = [cast(v) for v in values]
    if (len(vals) < min_len or len(set(vals)) != len(vals)
            or (allowed is not None and any(v not in allowed for v in vals))):
        what = f"{noun} of {', '.join(map(str, allowed))}" if allowed is not None else noun
        raise ConfigError(f"{key}={vals} must list {('one', 'two', 'three')[min_len - 1]} or more {what}, each once")
    return vals


def _subsample(train: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """At most ``n`` training rows per domain, stratified by label and seeded; ``None`` keeps all."""
    if n is None:
        return train
    from sklearn.model_selection import train_test_split

    keep = []
    for k in sorted(train["domain"].astype(str).unique()):
        pos = np.flatnonzero(train["domain"].astype(str).to_numpy() == k)
        if len(pos) <= n:
            keep += pos.tolist()
            continue
        y = train["label"].to_numpy()[pos]
        strat = y if np.min(np.unique(y, return_counts=True)[1]) >= 2 else None
        chosen, _ = train_test_split(pos, train_size=int(n), stratify=strat,
                                     random_state=int(np.random.default_rng([int(seed), zlib.crc32(k.encode())])
                                                      .integers(2**31)))
        keep += chosen.tolist()
    return train.iloc[sorted(keep)].reset_index(drop=True)


def _run_folder(folder: Path, identity: dict) -> None:
    """Make ``folder`` hold results of ``identity`` only: a folder of other settings is emptied first.

    The stage's checkpoints persist between ``dvc repro`` runs (``persist: true``), so a
    changed parameter must not reuse, nor collide with, the checkpoints of the old one.
    """
    meta = folder / RUN_FILE
    if folder.exists():
        old = None
        if meta.exists():
            try:
                old = json.loads(meta.read_text()).get("identity")
            except (OSError, ValueError):
                old = None
        if old == identity:
            return
        diff = sorted(k for k in identity if (old or {}).get(k) != identity[k]) if old else ["(no run.json)"]
        log.warning("%s holds checkpoints of other settings (%s): removing them", folder, ", ".join(diff))
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(meta, {"identity": identity})


def _done(path: Path) -> dict | None:
    """A per-domain result JSON written by this stage, or None when absent or unreadable."""
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if "accuracy" in doc else None


def _fit_and_score(train: pd.DataFrame, dev: pd.DataFrame | None, tests: dict[str, pd.DataFrame], *,
                   model_or_path: str, labels: Sequence, seed: int, finetune_epochs: int, lr: float,
                   batch_size: int, max_length: int, device: str, precision: str, show_progress: bool) -> dict:
    """Fine-tune once, then the accuracy on every test table: ``{domain: accuracy}`` plus bookkeeping."""
    t0 = time.perf_counter()
    clf = fine_tune(train, dev, model_or_path=model_or_path, epochs=finetune_epochs, lr=lr, batch_size=batch_size,
                    max_length=max_length, seed=seed, device=device, precision=precision, labels=labels,
                    show_progress=show_progress)
    acc = {d: evaluate(clf, df, batch_size=max(batch_size, 64)) for d, df in tests.items()}
    out = {"accuracy": acc, "history": clf.history, "n_train": len(train), "n_test": {d: len(df) for d, df in tests.items()},
           "seconds": round(time.perf_counter() - t0, 3), "device": clf.device}
    del clf
    return out


def _base_typicality(train: pd.DataFrame, domains: Sequence[str], *, model: str, alpha: float, n_prototypes: int,
                     seed: int, batch_size: int, max_length: int, device: str, precision: str,
                     checkpoints: Path) -> np.ndarray:
    """Typicality of ``train``'s rows under the *pre-trained* encoder (as MFT computes it, equations (2)/(3)).

    Reuses the scores that :func:`meta_fine_tune` stored for the MFT (Full) or MFT (TW)
    run of the same rows; otherwise computes them and keeps them in
    ``checkpoints/typicality/seed<k>.npz``.
    """
    ids = train["id"].astype(str).to_numpy()
    candidates = [checkpoints / v / f"seed{seed}" / "meta" / TYPICALITY_FILE for v in ("mft", "mft_tw")]
    own = checkpoints / "typicality" / f"seed{seed}.npz"
    identity = json.dumps({"model": str(model), "alpha": float(alpha), "n_prototypes": int(n_prototypes),
                           "max_length": int(max_length), "rows_sha": _rows_sha(train)}, sort_keys=True)
    for path in candidates + [own]:
        if path.exists():
            with np.load(path) as z:
                if z["ids"].astype(str).tolist() == ids.tolist() and (path != own or str(z["identity"]) == identity):
                    return z["typicality"].astype(np.float64)
    from .extract import load_model, select_device

    device = select_device(device)
    tokenizer, encoder, _ = load_model(model, device)
    items = _items(tokenizer, train, max_length)
    H = _last_layer_mean(encoder, items, batch_size=max(batch_size, 64), device=device, precision=precision,
                         pad_id=_pad_id(tokenizer))
    y = train["label"].to_numpy()
    d = np.array([list(domains).index(v) for v in train["domain"].tolist()])
    t = typicality(H, y, d, alpha=alpha) if n_prototypes == 1 else typicality_multi(
        H, y, d, alpha=alpha, n_prototypes=n_prototypes, random_state=seed)
    atomic_savez(own, typicality=t, ids=ids.astype("U"), identity=np.array(identity))
    return np.asarray(t, dtype=np.float64)


def run(domains: Sequence[str], *, seeds: Sequence[int], variants: Sequence[str] = METHODS,
        layers: Sequence[int], lam: float = 0.1, alpha: float = 0.5, n_prototypes: int = 1, epochs: int = 1,
        finetune_epochs: int = 1, lr: float = 5e-5, batch_size: int = 16, max_length: int = 64,
        train_rows: int | None = None, model: str = "embedded", device: str = "auto", precision: str = "auto",
        checkpoints: Path = Path("data/mft"), root: Path = Path("."), out: Path | None = None,
        show_progress: bool = True) -> dict:
    """Stage ``mft``: BERT (S), BERT (Mix) and MFT (DC / TW / Full) on the Amazon domains (the MFT paper's Table 3).

    For every seed ``k``: each domain's table is split 87.5 / 6.25 / 6.25 into
    train / dev / test (:func:`split_domain`, seed ``k``) and its training part
    cut to ``train_rows`` rows (stratified, seed ``k``; None keeps all). Then

    * ``bert_s``: :func:`fine_tune` from the pre-trained ``model`` on each domain's
      training rows, scored on that domain's test rows;
    * ``bert_mix``: one :func:`fine_tune` on all domains' training rows pooled,
      scored on each domain's test rows;
    * ``mft_dc`` / ``mft_tw`` / ``mft``: :func:`meta_fine_tune` of that variant on
      all domains' training rows, then :func:`fine_tune` per domain from the
      meta-learned encoder, scored on that domain's test rows.

    Every fine-tune gets the same budget (``finetune_epochs``, ``lr``,
    ``batch_size``, ``max_length``); the dev rows choose the best epoch when
    ``finetune_epochs > 1`` (with one epoch there is nothing to choose and the dev
    rows are not scored). Checkpoints live under
    ``checkpoints/<method>/seed<k>/``: ``meta/`` (:func:`meta_fine_tune`'s resumable
    checkpoint and encoder) and one ``<domain>.json`` per finished fine-tune
    (``mix.json`` for BERT (Mix)), written atomically; a re-run skips every
    finished piece and resumes meta fine-tuning after its last complete epoch. A
    folder made with other settings (its ``run.json``) is emptied first.

    Parameters
    ----------
    domains : sequence of str
        Datasets with a processed table (the four Amazon domains).
    seeds : sequence of int
        Independent runs (split, subsample, initialisation and batch order).
    variants : sequence of str
        Methods to run, a subset of :data:`METHODS`.
    layers, lam, alpha, n_prototypes, epochs : MFT settings (:func:`meta_fine_tune`).
    finetune_epochs, lr, batch_size, max_length : training settings of every fine-tune
        (``lr``, ``batch_size`` and ``max_length`` are also MFT's).
    train_rows : int or None
        Training rows kept per domain.
    model : str
        ``"embedded"``, a hub id or a local folder.
    device, precision : as in :func:`meta_fine_tune` (CUDA with bf16 autocast when present).
    checkpoints : path
        Checkpoint folder, relative to ``root`` unless absolute.
    root : path
        Where ``data/processed/<domain>.parquet`` are read.
    out : path, optional
        Where ``reports/tables/mft.{md,csv}``, ``reports/tables/mft_typicality.md`` and
        ``reports/metrics_mft.json`` are written (default: ``root``).
    show_progress : bool

    Returns
    -------
    dict
        ``long`` (method, seed, domain, accuracy in [0, 1]), ``wide`` (one row per
        method, % with the paper's numbers), ``metrics``, ``markdown``,
        ``typicality`` (the case table as a DataFrame) and ``typicality_markdown``.
    """
    from . import data as D
    from .extract import select_device
    from .layout import PROCESSED, TABLES, known

    root = Path(root)
    out = root if out is None else Path(out)
    ck = root / Path(checkpoints)
    domains = check_list(domains, "mft.domains", "datasets", min_len=2)
    for d in domains:
        known(d)
    variants = check_list(variants, "mft.variants", "methods", allowed=METHODS)
    seeds = check_list(seeds, "mft.seeds", "seeds", cast=int)
    _check_positive(epochs=epochs, finetune_epochs=finetune_epochs, batch_size=batch_size, max_length=max_length,
                    n_prototypes=n_prototypes)
    if train_rows is not None:
        _check_positive(train_rows=train_rows)
    used_device = select_device(device)

    table = pd.concat([D.read_table(root / PROCESSED / f"{d}.parquet").assign(domain=d) for d in domains],
                      ignore_index=True)
    labels = sorted(table["label"].unique().tolist(), key=str)
    common = {"model": str(model), "finetune_epochs": int(finetune_epochs), "lr": float(lr),
              "batch_size": int(batch_size), "max_length": int(max_length), "train_rows": train_rows,
              "domains": domains, "labels": [str(v) for v in labels]}
    meta_settings = {"layers": [int(l) for l in layers], "lam": float(lam), "alpha": float(alpha),
                     "n_prototypes": int(n_prototypes), "epochs": int(epochs)}
    ft = {"labels": labels, "finetune_epochs": int(finetune_epochs), "lr": float(lr), "batch_size": int(batch_size),
          "max_length": int(max_length), "device": device, "precision": precision, "show_progress": show_progress}

    rows, splits, seconds = [], {}, {m: 0.0 for m in variants}
    n_fits = 0
    for seed in seeds:
        train, dev, test = split_domain(table, seed=seed)
        train = _subsample(train, train_rows, seed)
        splits[seed] = (train, dev, test)
        part = {d: (train[train.domain == d].reset_index(drop=True), dev[dev.domain == d].reset_index(drop=True),
                    test[test.domain == d].reset_index(drop=True)) for d in domains}
        data_id = {"seed": seed, "train_sha": _rows_sha(train), "dev_sha": _rows_sha(dev), "test_sha": _rows_sha(test)}
        use_dev = finetune_epochs > 1
        for method in variants:
            folder = ck / method / f"seed{seed}"
            identity = {"method": method, **common, **data_id, **(meta_settings if method.startswith("mft") else {})}
            _run_folder(folder, identity)
            if method == "bert_mix":
                res = _done(folder / "mix.json")
                if res is None:
                    log.info("BERT (Mix), seed %d: fine-tuning on %d pooled training rows", seed, len(train))
                    res = _fit_and_score(train, dev if use_dev else None, {d: part[d][2] for d in domains},
                                         model_or_path=str(model), seed=seed, **ft)
                    atomic_write_json(folder / "mix.json", res)
                    n_fits += 1
                seconds[method] += res["seconds"]
                rows += [{"method": method, "seed": seed, "domain": d, "accuracy": float(res["accuracy"][d])}
                         for d in domains]
                continue
            todo = [d for d in domains if _done(folder / f"{d}.json") is None]
            start = str(model)
            if method != "bert_s" and todo:
                t0 = time.perf_counter()
                log.info("%s, seed %d: meta fine-tuning on %d training rows of %d domains", METHOD_LABEL[method],
                         seed, len(train), len(domains))
                start = str(meta_fine_tune(train, model=str(model), layers=layers, checkpoint_dir=folder / "meta",
                                           domains=domains, lam=lam, alpha=alpha, epochs=epochs, lr=lr,
                                           batch_size=batch_size, max_length=max_length, seed=seed, device=device,
                                           precision=precision, variant=method, n_prototypes=n_prototypes,
                                           show_progress=show_progress))
                if not (folder / "meta.json").exists():  # a resumed run keeps the first record
                    atomic_write_json(folder / "meta.json", {"seconds": round(time.perf_counter() - t0, 3)})
                n_fits += 1
            for d in domains:
                res = _done(folder / f"{d}.json")
                if res is None:
                    tr, dv, te = part[d]
                    log.info("%s, seed %d, %s: fine-tuning on %d rows, testing on %d", METHOD_LABEL[method], seed, d,
                             len(tr), len(te))
                    res = _fit_and_score(tr, dv if use_dev else None, {d: te}, model_or_path=start, seed=seed, **ft)
                    atomic_write_json(folder / f"{d}.json", res)
                    n_fits += 1
                seconds[method] += res["seconds"]
                rows.append({"method": method, "seed": seed, "domain": d, "accuracy": float(res["accuracy"][d])})
            if (folder / "meta.json").exists():
                seconds[method] += json.loads((folder / "meta.json").read_text()).get("seconds", 0.0)
    long = pd.DataFrame(rows, columns=["method", "seed", "domain", "accuracy"])
    wide = mft_wide(long, variants, domains)

    # typicality case study (paper Table 5): the pre-trained encoder on the first seed's training rows
    train0 = splits[seeds[0]][0]
    t = _base_typicality(train0, domains, model=str(model), alpha=alpha, n_prototypes=n_prototypes, seed=seeds[0],
                         batch_size=batch_size, max_length=max_length, device=device, precision=precision,
                         checkpoints=ck)
    cases = typicality_cases(train0["text_a"].tolist(), t, train0["domain"].to_numpy(), n=N_CASES,
                             labels=train0["label"].to_numpy())

    n_train = {d: int((train0.domain == d).sum()) for d in domains}
    n_test = {d: int((splits[seeds[0]][2].domain == d).sum()) for d in domains}
    settings = {"model": str(model), "max_length": int(max_length), "epochs": int(epochs),
                "finetune_epochs": int(finetune_epochs), "lr": float(lr), "batch_size": int(batch_size),
                "layers": [int(l) for l in layers], "lam": float(lam), "alpha": float(alpha),
                "n_prototypes": int(n_prototypes), "train_rows": train_rows, "n_train": n_train, "n_test": n_test,
                "seeds": seeds, "device": used_device, "precision": precision,
                "minutes": {m: round(s / 60, 2) for m, s in seconds.items()}}
    md = render_mft(wide, domains, settings)
    tmd = render_typicality(cases, alpha=alpha, n_prototypes=n_prototypes, model=str(model), seed=seeds[0],
                            max_length=max_length)
    with atomic_path(out / TABLES / "mft.csv") as tmp:
        wide.to_csv(tmp, index=False)
    atomic_write_text(out / TABLES / "mft.md", md)
    atomic_write_text(out / TABLES / "mft_typicality.md", tmd)
    from .report import metrics_from_wide

    cols = {d: f"{d}_mean" for d in domains} | {"average": "average_mean"}
    metrics = metrics_from_wide(wide, "method", cols)
    atomic_write_json(out / METRICS_MFT, metrics)
    log.info("stage mft: %d fits run, %d seeds, %d methods", n_fits, len(seeds), len(variants))
    return {"long": long, "wide": wide, "metrics": metrics, "markdown": md, "typicality": cases,
            "typicality_markdown": tmd, "n_fits": n_fits}


def mft_wide(long: pd.DataFrame, methods: Sequence[str], domains: Sequence[str]) -> pd.DataFrame:
    """One row per method: mean and std over seeds (in %) per domain and of the per-seed average, beside the paper."""
    from . import paper

    rows = []
    for m in methods:
        g = long[long.method == m]
        pap = paper.MFT_TABLE3.get(m, {})
        row = {"method": m, "label": METHOD_LABEL[m], "status": "ok"}
        for d in domains:
            acc = 100 * g[g.domain == d].sort_values("seed")["accuracy"].to_numpy()
            row[f"{d}_mean"], row[f"{d}_std"] = float(acc.mean()), float(np.std(acc, ddof=0))
            row[f"paper_{d}"] = pap.get(paper.DOMAIN_LETTER.get(d, ""), np.nan)
        avg = 100 * g.groupby("seed")["accuracy"].mean().to_numpy()
        row["average_mean"], row["average_std"] = float(avg.mean()), float(np.std(avg, ddof=0))
        row["paper_average"] = pap.get("Average", np.nan) if set(domains) == set(paper.DOMAIN_LETTER) else np.nan
        rows.append(row)
    return pd.DataFrame(rows).round(2)


def render_mft(wide: pd.DataFrame, domains: Sequence[str], s: dict) -> str:
    """Markdown: the MFT table (ours mean ± std over seeds beside the MFT paper's Table 3) and a note."""
    from . import paper
    from .report import cell, markdown_table

    names = {d: paper.DATASET_NAME.get(d, d) for d in domains}
    head = ["method"]
    for d in domains:
        head += [f"ours: {names[d]}", f"paper: {names[d]}"]
    head += ["ours: average", "paper: average"]
    rows = []
    for _, r in wide.iterrows():
        cells = [r.label]
        for d in domains:
            cells += [cell(r[f"{d}_mean"], r[f"{d}_std"]), cell(r[f"paper_{d}"])]
        cells += [f"**{cell(r.average_mean, r.average_std)}**", cell(r.paper_average)]
        rows.append(cells)
    enc = "embedded (all-MiniLM-L6-v2, 6 layers, 384 wide)" if s["model"] == "embedded" else s["model"]
    rows_txt = "all" if s["train_rows"] is None else f"at most {s['train_rows']}"
    minutes = ", ".join(f"{METHOD_LABEL[m]} {v:g}" for m, v in s["minutes"].items())
    note = (
        f"\n\nAccuracy (%) on each domain's test rows. **ours**: encoder `{enc}`, max_length {s['max_length']} "
        f"tokens, meta fine-tuning {s['epochs']} epoch(s) with L_s = {s['layers']}, lambda = {s['lam']:g}, "
        f"alpha = {s['alpha']:g}, {s['n_prototypes']} prototype(s) per (domain, class); every fine-tune "
        f"{s['finetune_epochs']} epoch(s), learning rate {s['lr']:g}, batch {s['batch_size']}; {rows_txt} training "
        f"rows per domain (seed {s['seeds'][0]}: {', '.join(f'{names[d]} {n}' for d, n in s['n_train'].items())}; "
        f"test rows {', '.join(f'{names[d]} {n}' for d, n in s['n_test'].items())}); mean ± std over seeds "
        f"{s['seeds']} (each seed its own split, subsample, initialisation and batch order); run on "
        f"{s['device']} (precision {s['precision']}); training and testing minutes: {minutes}.\n\n"
        "Splits follow the MFT paper: each domain's 2,000 reviews are split 87.5 % / 6.25 % / 6.25 % into train / "
        "dev / test (Table 1: about 1,750 / 125 / 125). **BERT (S)** fine-tunes the pre-trained encoder on each "
        "domain separately, **BERT (Mix)** once on all domains' training rows pooled; **MFT (DC)** meta fine-tunes "
        "with the skip-layer domain corruption loss only, **MFT (TW)** with typicality weighting only, **MFT (Full)** "
        "with both, each then fine-tuned per domain; all fine-tunes have the same budget.\n\n"
        "**paper**: Wang et al. (2020), *Meta Fine-Tuning Neural Language Models for Multi-Domain Text Mining*, "
        "Table 3 (BERT-base, full training data, 1-2 MFT epochs and 2-4 fine-tuning epochs at learning rate 2e-5); "
        "shown for comparison only, never used in any computation. Our settings are far smaller (the encoder "
        f"above instead of BERT-base, {s['max_length']}-token inputs, a fraction of the training rows, "
        f"{s['epochs']} + {s['finetune_epochs']} epoch(s)), so absolute accuracies are lower and the comparison is "
        "about the relative order of the methods, not the numbers.\n"
    )
    return "# MFT: meta fine-tuning vs. per-domain and mixed fine-tuning (Amazon)\n\n" + markdown_table(head, rows) + note


def render_typicality(cases: pd.DataFrame, *, alpha: float, n_prototypes: int, model: str, seed: int,
                      max_length: int) -> str:
    """Markdown: the lowest- and highest-typicality training reviews per domain (the MFT paper's Table 5)."""
    from . import paper
    from .report import markdown_table

    def text(t: str) -> str:
        t = " ".join(str(t).split()).replace("|", "\\|")
        return t if len(t) <= CASE_CHARS else t[:CASE_CHARS].rstrip() + " ..."

    rows = [[r.typicality, paper.DATASET_NAME.get(r.domain, r.domain), {0: "NEG", 1: "POS"}.get(int(r.label),
             str(r.label)), f"{r.score:.3f}", text(r.text)] for _, r in cases.iterrows()]
    head = ["typicality", "domain", "label", "score t", "review text"]
    note = (
        f"\n\nThe {N_CASES} lowest and {N_CASES} highest typicality scores t_i^k per domain among the training rows "
        f"of seed {seed}, from the pre-trained encoder `{model}` (mean-pooled last layer, max_length {max_length}), "
        f"alpha = {alpha:g}, {n_prototypes} prototype(s) per (domain, class) (equation (2) of the MFT paper"
        f"{'' if n_prototypes == 1 else ', multi-prototype form (3)'}). A high score means the review is close to "
        "its class prototype in its own domain and in the other domains (knowledge that transfers), a low one that "
        "it is atypical (the paper's Table 5: low scores for product-specific remarks, high ones for general "
        f"polarity expressions). Texts cut to {CASE_CHARS} characters.\n"
    )
    return "# Typicality case study (MFT paper, Table 5)\n\n" + markdown_table(head, rows) + note
