"""Stage ``fingerprint`` (Figure 2): the share of every dataset's top-K neurons in each layer."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..config.data import DataConfig
from ..config.fingerprint import FingerprintConfig
from ..encoder.activations import layer_labels
from ..errors import TSNSError
from ..method.fingerprint import fingerprint_table
from ..method.validation import check_k
from ..render import encoder_name, save_figure
from ..store import load, write
from .context import context


def plot_fingerprints(table: pd.DataFrame, path: Path, *, K: int, model: str) -> Path:
    """Heatmap like the paper's Figure 2: datasets x layers, colour = share of selected neurons."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    from ..datasets.registry import REGISTRY
    from ..render import DATASET_NAME

    # sentiment sources first, then the NLI / paraphrase ones, a line between the groups (as in the paper)
    task = {d: ("sentiment" if REGISTRY[d].task == "sentiment" else "pairs") if d in REGISTRY else "pairs"
            for d in table.index}
    order = [d for d in table.index if task[d] == "sentiment"] + [d for d in table.index if task[d] != "sentiment"]
    shown = table.loc[order].rename(index=lambda d: DATASET_NAME.get(d, d))
    fig, ax = plt.subplots(figsize=(2.6 + 0.8 * table.shape[1], 1.3 + 0.45 * table.shape[0]))
    sns.heatmap(shown, annot=True, fmt=".2f", cmap="viridis", vmin=0, cbar_kws={"label": "share of selected neurons"},
                ax=ax)
    n_sent = sum(task[d] == "sentiment" for d in order)
    if 0 < n_sent < len(order):
        ax.axhline(n_sent, color="white", linewidth=3)
    ax.set_xlabel("transformer layer" + (" (emb = embedding output)" if "emb" in table.columns else ""))
    ax.set_ylabel("data source (sentiment, then NLI / paraphrase)" if 0 < n_sent < len(order) else "data source")
    ax.set_title(f"Task-specific fingerprints (Figure 2)\ntop-{K} SingleTSNS neurons per layer, {model}")
    fig.tight_layout()
    return save_figure(fig, path)


def run(*, params: dict | None = None, root: str | Path | None = None) -> pd.DataFrame:
    """Fingerprints of every dataset of ``data.datasets`` at ``fingerprint.K``; return the table."""
    ctx = context(params, root)
    datasets = ctx.section(DataConfig).datasets
    K = ctx.section(FingerprintConfig).K
    selected, ls, model = {}, None, None
    for d in datasets:
        arrays, meta = load.importance(ctx.store, d)
        shape = tuple(meta["layer_shape"])
        if ls is not None and shape != ls:
            raise TSNSError(f"datasets were extracted with different models ({ls} vs {shape}): re-run `dvc repro`")
        ls = shape
        K_eff = check_k(K, meta["N"], "fingerprint.K")
        selected[d] = [o[:K_eff] for o in arrays["order"]]
        side = load.sidecar(ctx.store.activations(d).with_suffix(".json"), f"dvc repro extract@{d}")
        model = encoder_name(side)
    assert ls is not None
    names = layer_labels(side)
    table = fingerprint_table(selected, ls, names)
    write.csv(ctx.store.tables / "fingerprints.csv", table, index=True, index_label="dataset", float_format="%.4f")
    plot_fingerprints(table, ctx.store.figures / "fingerprints.png", K=K, model=str(model))
    return table
