"""Tokenisation with a truncation strategy (head, tail or head+tail), and padded batches.

Texts are tokenised once without special tokens, truncated by strategy (Sun et
al. 2019, the blog post) and then given the model's own special tokens, so pairs
use the model's pair input.
"""
from __future__ import annotations

from typing import Sequence

__all__ = ["tokenize", "pad_batch"]


def _plain_backend(tokenizer):
    from tokenizers import Tokenizer

    bt = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    bt.no_padding()
    bt.no_truncation()
    return bt


def _truncate(enc, length: int, strategy: str, head_fraction: float, bt, text: str):
    """Cut an ``tokenizers.Encoding`` (no special tokens) to ``length`` tokens."""
    from tokenizers import Encoding

    if len(enc.ids) <= length:
        return enc
    if strategy == "head":
        enc.truncate(length, direction="right")
        return enc
    if strategy == "tail":
        enc.truncate(length, direction="left")
        return enc
    n_head = int(round(length * head_fraction))
    head = enc
    tail = bt.encode(text, add_special_tokens=False)
    if n_head > 0:
        head.truncate(n_head, direction="right")
    tail.truncate(length - n_head, direction="left")
    return Encoding.merge([head, tail], growing_offsets=True) if n_head > 0 else tail


def tokenize(tokenizer, text_a: Sequence[str], text_b: Sequence[str] | None, max_length: int,
             truncation: str = "head", head_fraction: float = 0.25):
    """Tokenise texts (or pairs) with the model's special tokens and a truncation strategy.

    Parameters
    ----------
    tokenizer : transformers fast tokenizer
    text_a : sequence of str, length n
    text_b : sequence of str or None, length n
        Second segment of a pair; None (or an all-None column) for single texts.
    max_length : int
        Budget including special tokens.

    Returns
    -------
    list of dict
        ``input_ids``, ``token_type_ids``, ``attention_mask`` (lists of int) per example.
    """
    bt = _plain_backend(tokenizer)
    pair = text_b is not None and any(b is not None for b in text_b)
    n_special = tokenizer.num_special_tokens_to_add(pair=pair)
    budget = max_length - n_special
    a_enc = bt.encode_batch(list(text_a), add_special_tokens=False)
    if pair:
        b_text = ["" if b is None else b for b in text_b]
        b_enc = bt.encode_batch(b_text, add_special_tokens=False)
    out = []
    for i, ea in enumerate(a_enc):
        if pair:
            eb = b_enc[i]
            la, lb = len(ea.ids), len(eb.ids)
            # longest-first allocation of the budget between the two segments
            while la + lb > budget:
                if la >= lb:
                    la -= 1
                else:
                    lb -= 1
            ea = _truncate(ea, la, truncation, head_fraction, bt, text_a[i])
            eb = _truncate(eb, lb, truncation, head_fraction, bt, b_text[i])
            enc = bt.post_process(ea, eb, add_special_tokens=True)
        else:
            ea = _truncate(ea, budget, truncation, head_fraction, bt, text_a[i])
            enc = bt.post_process(ea, None, add_special_tokens=True)
        out.append({"input_ids": enc.ids, "token_type_ids": enc.type_ids, "attention_mask": enc.attention_mask})
    return out



def pad_batch(items, pad_id: int, device):
    """Padded ``(input_ids, token_type_ids, attention_mask)`` tensors of ``items`` on ``device``."""
    import torch

    width = max(len(it["input_ids"]) for it in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    types = torch.zeros((len(items), width), dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for r, it in enumerate(items):
        n = len(it["input_ids"])
        ids[r, :n] = torch.tensor(it["input_ids"])
        types[r, :n] = torch.tensor(it["token_type_ids"])
        mask[r, :n] = 1
    return ids.to(device), types.to(device), mask.to(device)


