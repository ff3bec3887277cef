"""Training helpers shared by meta fine-tuning and fine-tuning, per-domain fine-tuning itself, prediction."""
from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError

from .model import Classifier, tlc_loss, torch_module

log = logging.getLogger(__name__)

# =========================================================================== data helpers
def check_table(df: pd.DataFrame, what: str, *, train_only: bool = False) -> None:
    need = ["text_a", "label", "domain"]
    missing = [c for c in need if c not in df]
    if missing:
        raise ConfigError(f"{what} has no column(s) {', '.join(missing)}: pass a table built by tsns.datasets.load.load "
                          "(columns id, text_a, text_b, label, split, domain)")
    if len(df) == 0:
        raise ConfigError(f"{what} is empty: pass at least one row per domain")
    if train_only and "split" in df and (df["split"] != "train").any():
        bad = sorted(set(df["split"]) - {"train"})
        raise ConfigError(f"{what} holds rows of split(s) {bad}: pass only rows with split == 'train'")


def encode_items(tokenizer, df: pd.DataFrame, max_length: int) -> list[dict]:
    from ..encoder.tokenize import tokenize

    text_b = df["text_b"].tolist() if "text_b" in df and df["text_b"].notna().any() else None
    if text_b is not None:
        text_b = [None if (b is None or (isinstance(b, float) and math.isnan(b))) else b for b in text_b]
    return tokenize(tokenizer, df["text_a"].tolist(), text_b, max_length)


def batch_of(items, idx, pad_id, device):
    from ..encoder.tokenize import pad_batch

    return pad_batch([items[i] for i in idx], pad_id, device)


def pad_id_of(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def seed_all(seed: int) -> None:
    torch = torch_module()
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def epoch_seed(seed: int, epoch: int, salt: int) -> int:
    return int(np.random.default_rng([int(seed), int(epoch), int(salt)]).integers(2**62))


def schedule(optimizer, total_steps: int, warmup: float = 0.1):
    torch = torch_module()
    n_warm = max(1, round(warmup * total_steps))

    def f(step: int) -> float:
        if step < n_warm:
            return (step + 1) / n_warm
        return max(0.0, (total_steps - step) / max(1, total_steps - n_warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, f)


def optimizer_for(module, lr: float):
    torch = torch_module()
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        (no_decay if (p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name) else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr)


def grad_scaler(device: str, used_precision: str):
    torch = torch_module()
    return torch.amp.GradScaler(device if device == "cuda" else "cpu", enabled=(used_precision == "fp16"))


def check_positive(**kw) -> None:
    for k, v in kw.items():
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"{k}={v!r} must be a positive integer")


def last_layer_mean(encoder, items, *, batch_size, device, precision, pad_id) -> np.ndarray:
    """``E(x)``: masked mean of the last layer, shape (n, hidden) (§3.2)."""
    from ..encoder.extract import encode

    was_training = encoder.training
    encoder.eval()
    try:
        return encode(encoder, items, poolings=("mean",), batch_size=batch_size, device=device,
                      precision=precision, pad_id=pad_id)["mean"][:, -1, :]
    finally:
        encoder.train(was_training)


def save_encoder(encoder, tokenizer, dest: Path) -> Path:
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



def optimizer_step(loss, module, optimizer, scaler, scheduler) -> None:
    """One optimiser step: scaled backward, gradient clipping at 1 (as in BERT), AdamW step, schedule step."""
    import torch

    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()


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
    torch = torch_module()
    from tqdm import tqdm

    from ..encoder.model import autocast, load_model, select_device

    check_positive(epochs=epochs, batch_size=batch_size, max_length=max_length)
    check_table(df_train, "df_train", train_only=True)
    if df_dev is not None:
        check_table(df_dev, "df_dev")
    device = select_device(device)
    seed_all(seed)
    tokenizer, encoder, _info = load_model(model_or_path, device)
    labels = sorted(df_train["label"].unique().tolist(), key=str) if labels is None else list(labels)
    if len(labels) < 2:
        raise ConfigError(f"df_train has a single label {labels}: pass rows of at least two classes")
    y = torch.as_tensor(label_index(df_train, labels, "df_train"))
    model = Classifier(encoder, tokenizer, labels, max_length=max_length, device=device, precision=precision).to(device)
    items = encode_items(tokenizer, df_train.reset_index(drop=True), max_length)
    pad_id = pad_id_of(tokenizer)
    optimizer = optimizer_for(model, lr)
    scheduler = schedule(optimizer, math.ceil(len(items) / batch_size) * epochs)
    used = autocast(device, precision)[1]
    scaler = grad_scaler(device, used)
    best, best_acc = None, -1.0
    for epoch in tqdm(range(epochs), desc="fine-tune", unit="epoch", disable=not show_progress):
        model.train()
        order = np.random.default_rng(epoch_seed(seed, epoch, 3)).permutation(len(items))
        total, t0 = 0.0, time.perf_counter()
        for start in tqdm(range(0, len(items), batch_size), desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                          disable=not show_progress, leave=False, mininterval=5):
            idx = order[start:start + batch_size]
            ids, types, mask = batch_of(items, idx, pad_id, device)
            with autocast(device, precision)[0]:
                logits = model(ids, mask, types)
            loss = tlc_loss(logits, y[idx].to(device))
            optimizer_step(loss, model, optimizer, scaler, scheduler)
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


def label_index(df: pd.DataFrame, labels: Sequence, what: str) -> np.ndarray:
    pos = {v: i for i, v in enumerate(labels)}
    unknown = sorted({v for v in df["label"].tolist() if v not in pos}, key=str)
    if unknown:
        raise ConfigError(f"{what} has label(s) {unknown} the model does not know ({list(labels)}): "
                          "fine-tune with labels= covering them")
    return np.array([pos[v] for v in df["label"].tolist()], dtype=np.int64)


def predict(model: Classifier, df: pd.DataFrame, *, batch_size: int = 64) -> np.ndarray:
    """Predicted class values of ``df``'s rows, shape (n,)."""
    torch = torch_module()
    from ..encoder.model import autocast

    if len(df) == 0:
        raise ConfigError("the table to predict is empty: pass at least one row")
    items = encode_items(model.tokenizer, df.reset_index(drop=True), model.max_length)
    pad_id = pad_id_of(model.tokenizer)
    order = np.argsort([len(it["input_ids"]) for it in items], kind="stable")
    pred = np.empty(len(items), dtype=np.int64)
    was = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            idx = order[start:start + batch_size]
            ids, types, mask = batch_of(items, idx, pad_id, model.device)
            with autocast(model.device, model.precision)[0]:
                logits = model(ids, mask, types)
            pred[idx] = logits.argmax(dim=1).cpu().numpy()
    model.train(was)
    return np.asarray(model.labels, dtype=object)[pred]


def evaluate(model: Classifier, df_test: pd.DataFrame, *, batch_size: int = 64) -> float:
    """Accuracy of ``model`` on ``df_test`` (fraction in [0, 1]).

    Raises :class:`ConfigError` when ``df_test`` has labels the model was not trained on.
    """
    check_table(df_test, "df_test")
    y = label_index(df_test, model.labels, "df_test")
    pred = predict(model, df_test, batch_size=batch_size)
    truth = np.asarray(model.labels, dtype=object)[y]
    return float(np.mean(pred == truth))


