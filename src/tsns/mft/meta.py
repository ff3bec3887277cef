"""Meta fine-tuning (Algorithm 1): the meta-learner trained on all domains, resumable epoch by epoch."""
from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..io import atomic_path, atomic_savez, atomic_write_json, record_checksum, verified

from .model import MetaLearner, corrupt_domains, mft_loss, torch_module
from .split import rows_sha
from .train import (batch_of, check_positive, check_table, encode_items, epoch_seed, grad_scaler, last_layer_mean,
                    optimizer_for, optimizer_step, pad_id_of, save_encoder, schedule, seed_all)
from .typicality import check_alpha, typicality, typicality_multi

log = logging.getLogger(__name__)

#: MFT variants of §4.2: full, domain corruption only (no typicality), typicality only (no SDC).
VARIANTS: tuple[str, ...] = ("mft", "mft_dc", "mft_tw")
CHECKPOINT = "checkpoint.pt"
CHECKPOINT_META = "checkpoint.json"
TYPICALITY_FILE = "typicality.npz"
ENCODER_DIR = "encoder"

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
        ``"embedded"``, a Hugging Face id or a local folder (:func:`tsns.encoder.model.load_model`).
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
        loadable with :func:`tsns.encoder.model.load_model` / :func:`fine_tune`.
    """
    torch = torch_module()
    from tqdm import tqdm

    from ..encoder.model import autocast, load_model, select_device

    if variant not in VARIANTS:
        raise ConfigError(f"variant={variant!r} is unknown: use one of {', '.join(VARIANTS)}")
    check_positive(epochs=epochs, batch_size=batch_size, max_length=max_length, n_prototypes=n_prototypes)
    alpha = check_alpha(alpha)
    if lam < 0:
        raise ConfigError(f"lam={lam!r} must be >= 0 (the paper's default is 0.1)")
    check_table(df_train, "df_train", train_only=True)
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
                "rows_sha": rows_sha(df)}

    meta_path = ckdir / CHECKPOINT_META
    state = None
    if meta_path.exists() and (ckdir / CHECKPOINT).exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("identity") != identity:
            diff = sorted(k for k in identity if meta.get("identity", {}).get(k) != identity[k])
            raise ConfigError(f"{ckdir} holds an MFT checkpoint of other settings ({', '.join(diff)} differ): "
                              "use a new checkpoint_dir or delete that one")
        # weights_only: tensors, numbers, strings and containers only; a checkpoint carrying code is refused
        try:
            state = torch.load(ckdir / CHECKPOINT, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle.UnpicklingError and friends: never fall back to full unpickling
            raise ConfigError(f"{ckdir / CHECKPOINT} is not a plain weights checkpoint ({type(exc).__name__}): "
                              "delete that folder and re-run to train it again") from exc
    start_epoch = int(state["epoch"]) if state is not None else 0
    if state is not None and start_epoch >= epochs and (ckdir / ENCODER_DIR).exists():
        log.info("MFT checkpoint in %s already holds %d complete epoch(s): nothing to train", ckdir, start_epoch)
        return ckdir / ENCODER_DIR

    seed_all(seed)
    tokenizer, encoder, _info = load_model(model, device)
    pad_id = pad_id_of(tokenizer)
    items = encode_items(tokenizer, df, max_length)
    used_precision = autocast(device, precision)[1]

    # ---- typicality scores of the pre-trained encoder (Algorithm 1 lines 2-7)
    typ_path = ckdir / TYPICALITY_FILE
    if variant == "mft_dc":
        t_all = np.ones(len(df), dtype=np.float32)
    elif state is not None and verified(typ_path):
        with np.load(typ_path, allow_pickle=False) as z:
            t_all = z["typicality"].astype(np.float32)
        log.info("typicality scores reused from %s", typ_path)
    else:
        H = last_layer_mean(encoder, items, batch_size=batch_size, device=device, precision=precision,
                             pad_id=pad_id)
        t_fn = typicality if n_prototypes == 1 else (
            lambda H_, y_, d_, alpha: typicality_multi(H_, y_, d_, alpha=alpha, n_prototypes=n_prototypes,
                                                       random_state=seed))
        t_all = np.asarray(t_fn(H, y, dom, alpha=alpha), dtype=np.float32)
        ids = df["id"].astype(str).to_numpy() if "id" in df else np.arange(len(df)).astype(str)
        record_checksum(typ_path, atomic_savez(typ_path, typicality=t_all, label=y, domain=dom, ids=ids.astype("U")))
        log.info("typicality: mean %.3f, min %.3f, max %.3f over %d rows", t_all.mean(), t_all.min(), t_all.max(),
                 len(t_all))

    learner = MetaLearner(encoder, len(labels), len(domains), layers, encoder.config.hidden_size).to(device)
    optimizer = optimizer_for(learner, lr)
    steps_per_epoch = math.ceil(len(df) / batch_size)
    scheduler = schedule(optimizer, steps_per_epoch * epochs)
    scaler = grad_scaler(device, used_precision)
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
        order = np.random.default_rng(epoch_seed(seed, epoch, 1)).permutation(len(df))
        gen = torch.Generator().manual_seed(epoch_seed(seed, epoch, 2))
        sums = np.zeros(3)
        n_seen = 0
        bar = tqdm(range(0, len(df), batch_size), desc=f"MFT epoch {epoch + 1}/{epochs}", unit="batch",
                   disable=not show_progress, leave=False, mininterval=5)
        for start in bar:
            idx = order[start:start + batch_size]
            ids, types, mask = batch_of(items, idx, pad_id, device)
            yb = y_t[idx].to(device)
            db = d_t[idx].to(device)
            tb = t_t[idx].to(device) if use_t else None
            zb = corrupt_domains(db, gen) if use_sdc else None
            with autocast(device, precision)[0]:
                label_logits, dom_logits = learner(ids, mask, types, db if use_sdc else None)
            total, l_tlc, l_sdc = mft_loss(label_logits, yb, dom_logits, zb, tb, lam=lam)
            optimizer_step(total, learner, optimizer, scaler, scheduler)
            sums += len(idx) * np.array([t_.item() for t_ in (total.detach(), l_tlc.detach(), l_sdc.detach())])
            n_seen += len(idx)
        seconds = time.perf_counter() - t0
        rec = {"epoch": epoch + 1, "loss": float(sums[0] / n_seen), "l_tlc": float(sums[1] / n_seen),
               "l_sdc": float(sums[2] / n_seen),
               "seconds": round(seconds, 3)}
        history.append(rec)
        log.info("MFT epoch %d/%d: L=%.4f L_TLC=%.4f L_SDC=%.4f (%.1f s)", epoch + 1, epochs, rec["loss"],
                 rec["l_tlc"], rec["l_sdc"], seconds)
        write_checkpoint(ckdir, identity, epoch + 1, learner, optimizer, scheduler, scaler, history, device)
    out = save_encoder(learner.encoder, tokenizer, ckdir / ENCODER_DIR)
    atomic_write_json(ckdir / "mft.json", {"identity": identity, "epochs": epochs, "history": history,
                                           "device": device, "precision": used_precision})
    return out


def write_checkpoint(ckdir: Path, identity: dict, epoch: int, learner, optimizer, scheduler, scaler, history,
                      device: str) -> None:
    torch = torch_module()
    state = {"epoch": epoch, "model": learner.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "torch_rng": torch.get_rng_state(),
             "cuda_rng": torch.cuda.get_rng_state_all() if device == "cuda" else None,
             "history": [{k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in rec.items()}
                         for rec in history]}  # plain Python numbers: loadable with weights_only=True
    with atomic_path(ckdir / CHECKPOINT) as tmp:
        torch.save(state, tmp)
    # the sidecar is written after the weights: a sidecar always describes a complete checkpoint
    atomic_write_json(ckdir / CHECKPOINT_META, {"identity": identity, "epoch": epoch, "history": history})


