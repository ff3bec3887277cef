"""``params.yaml: mft``: Meta Fine-Tuning (Wang et al. 2020) and ``mft_transfer`` (selection on its encoders)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..method.validation import Int, ListOf, Options, Real, Str
from .base import Section, rule
from .extract import DEVICES, PRECISIONS

MFT_VARIANTS = ("bert_s", "bert_mix", "mft_dc", "mft_tw", "mft")
ENCODERS = ("pretrained", "bert_mix", "mft")


@dataclass(frozen=True, kw_only=True)
class MftConfig(Section):
    """Attributes
    ----------
    domains : list of str
        Each split 87.5/6.25/6.25 into train/dev/test (MFT paper, Table 1).
    seeds : list of int
        MFT runs; mean and spread over them.
    variants : list of {"bert_s", "bert_mix", "mft_dc", "mft_tw", "mft"}
    layers : list of int
        L_s, the layers whose domain classifiers corrupt (paper: {4, 8, 12} of BERT-base).
    lam : float
        lambda of the loss (paper: 0.1).
    alpha : float in [0, 1]
        Typicality balance (paper: 0.5).
    n_prototypes : int
        Per (domain, class): 1 = eq. (2), more = eq. (3).
    epochs, finetune_epochs : int
        Meta fine-tuning and per-domain fine-tuning epochs.
    lr : float
    batch_size, max_length : int
    train_rows : int or None
        Training rows per domain, None = all.
    model : str
    device : {"auto", "cpu", "cuda"}
    precision : {"auto", "fp32", "bf16", "fp16"}
    """

    key: ClassVar[str] = "mft"
    domains: list = rule(ListOf(Str(), min_len=2, unique=True))
    seeds: list = rule(ListOf(Int(0), unique=True))
    variants: list = rule(ListOf(Options(*MFT_VARIANTS), unique=True))
    layers: list = rule(ListOf(Int(1), unique=True))
    lam: float = rule(Real(0))
    alpha: float = rule(Real(0, 1))
    n_prototypes: int = rule(Int(1))
    epochs: int = rule(Int(1))
    finetune_epochs: int = rule(Int(1))
    lr: float = rule(Real(0, lo_open=True))
    batch_size: int = rule(Int(1))
    max_length: int = rule(Int(8))
    train_rows: int | None = rule(Int(1, null=True))
    model: str = rule(Str())
    device: str = rule(Options(*DEVICES))
    precision: str = rule(Options(*PRECISIONS))


@dataclass(frozen=True, kw_only=True)
class MftTransferConfig(Section):
    """Attributes
    ----------
    targets : list of str
        Each is the unseen target; the others train its encoders and are its sources.
    encoders : list of {"pretrained", "bert_mix", "mft"}
    K : list of int
        SingleTSNS neurons (``importance.*`` settings), capped at N.
    seeds : list of int
    max_length : int
        Tokens per review for the extraction.
    """

    key: ClassVar[str] = "mft_transfer"
    targets: list = rule(ListOf(Str(), min_len=2, unique=True))
    encoders: list = rule(ListOf(Options(*ENCODERS), unique=True))
    K: list = rule(ListOf(Int(1)))
    seeds: list = rule(ListOf(Int(0), unique=True))
    max_length: int = rule(Int(8))
