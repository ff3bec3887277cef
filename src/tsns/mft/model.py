"""The meta-learner (encoder, label head, domain embedding, domain classifiers), the per-domain classifier,
and the losses of equations (4), (8)-(10)."""
from __future__ import annotations

import logging
from collections.abc import Sequence


from ..errors import ConfigError

log = logging.getLogger(__name__)

# =========================================================================== model and losses
def torch_module():
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


class MetaLearner(torch_module().nn.Module):
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
        nn = torch_module().nn
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
        torch = torch_module()
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
    torch = torch_module()
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
    F = torch_module().nn.functional
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
    torch = torch_module()
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



class Classifier(torch_module().nn.Module):
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
        nn = torch_module().nn
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


