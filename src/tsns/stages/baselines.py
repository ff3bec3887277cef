"""Stage ``baselines``: the blog post's representation baselines and truncation ablation on the frozen encoder.

Two experiments beside the paper's tables, following the fine-tuning tips of the
blog post "Transfer learning and beyond" (``shared/papers/``) and Sun et al. (2019):

* ``representations`` -- single-source transfer on the Amazon domains (the 12
  ordered pairs of Table 2) with fixed, data-free representations of the frozen
  encoder (:mod:`tsns.method.representations`): the last layer, the last 4 hidden
  states concatenated, their element-wise maximum, and all layers; each from the
  [CLS] vectors (the main activations) and from mean pooling (a variant
  extraction). Our SingleTSNS at the Table 2 K closest to 300 is shown beside them.
* ``truncation`` (:mod:`tsns.stages.baselines_truncation`) -- IMDB reviews
  extracted with ``head``, ``tail`` and ``head+tail`` truncation, scored in-domain
  and as a transfer source.

Nothing from a target reaches training: every score goes through
:func:`tsns.method.transfer.transfer_accuracy`, which checks the target against the
source and the data that selected the neurons.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..config.baselines import BaselinesConfig
from ..config.data import DataConfig
from ..config.extract import ExtractConfig
from ..config.importance import ImportanceConfig
from ..config.transfer import TransferConfig
from ..errors import ConfigError, TSNSError
from ..method import transfer as T
from ..method.classifier import ClassifierParams, train_classifier
from ..method.parallel import compute_backend
from ..method.representations import REPRESENTATIONS, represent
from ..render import cell, encoder_name, markdown_table, metrics_from_wide, pair_label, classifier_note
from ..store import load, write
from ..store.paths import Store
from . import baselines_truncation as trunc
from .baselines_truncation import layers_of
from .context import context

log = logging.getLogger(__name__)

REP_LABEL = {"last_layer": "last layer", "last4_concat": "concat last 4", "last4_max": "max over last 4",
             "all_layers": "all layers", "singletsns": "SingleTSNS"}
POOL_LABEL = {"cls": "[CLS]", "mean": "mean pooling"}
#: Table 2's K closest to this one is shown beside the representations
REFERENCE_K = 300


def run(*, params: dict | None = None, root: str | Path | None = None) -> dict:
    """Both parts; writes their tables and ``reports/metrics_baselines.json``."""
    ctx = context(params, root)
    cfg, tr = ctx.section(BaselinesConfig), ctx.section(TransferConfig)
    ex = ctx.section(ExtractConfig)
    datasets = ctx.section(DataConfig).datasets
    expect = {"model": ex.model, "max_length": ex.max_length}
    rep = run_representations(ctx.store, cfg.domains, main_pooling=ex.pooling,
                              poolings=[ex.pooling, *ex.also_poolings], classifier=tr.classifier(), expect=expect,
                              reference_K=REFERENCE_K)
    if cfg.truncation_source in datasets:
        imp = ctx.section(ImportanceConfig)
        with compute_backend(imp.backend, imp.scheduler):
            tru = trunc.run_truncation(ctx.store, cfg.truncation_source,
                                       [t for t in cfg.truncation_targets if t in datasets], cfg.truncations,
                                       variant_name=cfg.variant_name, K=cfg.K, seeds=ctx.seeds, importance=imp,
                                       classifier=tr.classifier(), expect=expect)
    else:
        tru = trunc.truncation_unavailable(ctx.store, cfg.truncation_source, datasets)
    metrics = write.metrics(ctx.store.metrics("baselines"),
                            {"representations": rep["metrics"], "truncation": tru["metrics"]})
    return {"representations": rep, "truncation": tru, "metrics": metrics}


def _reference(path: Path, domains: Sequence[str], K_wanted: int) -> tuple[int | None, dict]:
    """Our SingleTSNS accuracy per (source, target) at the Table 2 K closest to ``K_wanted`` (mean over seeds)."""
    if not path.exists():
        return None, {}
    long = pd.read_csv(path)
    need = {"source", "target", "method", "K", "seed", "accuracy"}
    if not need <= set(long.columns):
        raise TSNSError(f"{path} lacks columns {sorted(need - set(long.columns))}: re-run `dvc repro transfer`")
    g = long[(long.method == "singletsns") & long.source.isin(domains) & long.target.isin(domains)]
    if g.empty:
        return None, {}
    Ks = sorted(int(k) for k in g.K.unique())
    K = min(Ks, key=lambda k: (abs(k - K_wanted), k))
    mean = g[g.K == K].groupby(["source", "target"])["accuracy"].mean()
    return K, {k: float(v) for k, v in mean.items()}


def run_representations(store: Store, domains: Sequence[str], *, main_pooling: str = "cls",
                        poolings: Sequence[str] = ("cls", "mean"),
                        classifier: ClassifierParams = ClassifierParams(), expect: dict | None = None,
                        reference_K: int = 300) -> dict:
    """Stage ``baselines`` (part 1): fixed representations transferred between every ordered pair of ``domains``.

    For every pooling and representation (:data:`REPRESENTATIONS`), a logistic
    regression is trained on the whole source domain and scored on the unseen
    target (:func:`tsns.method.transfer.transfer_accuracy`); deterministic, so one run per cell.

    Parameters
    ----------
    domains : sequence of str
        E.g. the four Amazon domains (12 ordered pairs).
    main_pooling : {"cls", "mean"}
        The pooling of the main activations (``data/activations/<d>.npy``); another pooling is read from
        ``data/activations/<d>.<pooling>.npy`` (``extract.also_poolings``).
    poolings : sequence of {"cls", "mean"}
    classifier : ClassifierParams
        The transfer classifier (its C chosen on each source when ``"cv"``).
    expect : dict, optional
        Sidecar keys every activation file must match (model, max_length...);
        ``pooling`` is added per pooling.
    store : Store
        Where the inputs are read and ``reports/tables/representations.{md,csv}`` written; Table 2's long
        results (``table2_long.csv``) give the SingleTSNS column at the K closest to ``reference_K``.

    Returns
    -------
    dict
        ``long`` (pooling, representation, source, target, d, C, accuracy in [0, 1]),
        ``wide`` (one row per pair + Average, accuracies in %), ``metrics``.
    """
    domains = list(domains)
    for d in domains:
        load.known(d)
    for p in poolings:
        if p not in POOL_LABEL:
            raise ConfigError(f"pooling {p!r} is unknown: use one of {', '.join(POOL_LABEL)}")
    pairs = [(s, t) for s in domains for t in domains if s != t]
    rows = []
    meta0: dict = {}
    shapes: set = set()
    from tqdm import tqdm

    for p in poolings:
        acts = {d: load.activations(store, d, expect={**(expect or {}), "pooling": p},
                                    pooling=None if p == main_pooling else p) for d in domains}
        shapes.add(load.same_shape(acts.values()))
        if len(shapes) != 1:
            raise TSNSError(f"the poolings were extracted with different models (layer shapes {sorted(shapes)}): "
                            "re-run `dvc repro`")
        meta0 = meta0 or acts[domains[0]].meta
        work = [(rep, s) for rep in REPRESENTATIONS for s in domains]
        for rep, s in tqdm(work, desc=f"representations ({p})", unit="clf", mininterval=5):
            Xs = represent(layers_of(acts[s]), rep)
            src = T.LabelledSource(s, Xs, acts[s].y, acts[s].sha256)
            sel = T.Selection(np.arange(Xs.shape[1]), method=f"{p}:{rep}")
            tgts = {t: T.HeldOutTarget(t, represent(layers_of(acts[t]), rep), acts[t].y, acts[t].sha256)
                    for (s2, t) in pairs if s2 == s}
            for tgt in tgts.values():
                T.check_no_leak(tgt, src, sel)
            clf = train_classifier(src.X, src.y, sel.neurons, classifier)
            for t, tgt in tgts.items():
                acc = T.transfer_accuracy(src, tgt, sel, clf=clf)
                rows.append({"pooling": p, "representation": rep, "source": s, "target": t, "d": sel.K,
                             "C": clf.C_, "accuracy": acc})
        del acts
    long = pd.DataFrame(rows, columns=["pooling", "representation", "source", "target", "d", "C", "accuracy"])
    ref_path = store.tables / "table2_long.csv"
    K_ref, ref = _reference(ref_path, domains, reference_K)
    wide = representations_wide(long, pairs, poolings, K_ref, ref)
    ls = shapes.pop()
    dims = {rep: int(represent(np.zeros((1, *ls), np.float32), rep).shape[1]) for rep in REPRESENTATIONS}
    md = render_representations(wide, poolings, dims, meta0, K_ref, ref_path) + classifier_note(classifier, long["C"])
    write.table(store.tables, "representations", wide=wide, markdown=md)
    cols = {c: c for c in wide.columns if ":" in c or c.startswith("singletsns_K")}
    avg = metrics_from_wide(wide[wide.pair == "Average"], "pair", cols).get("Average", {})
    metrics = {"average_over_pairs": avg, "n_pairs": len(pairs), "reference_K": K_ref}
    return {"long": long, "wide": wide, "metrics": metrics, "markdown": md}


def representations_wide(long: pd.DataFrame, pairs: Sequence[tuple[str, str]], poolings: Sequence[str],
                         K_ref: int | None, ref: Mapping[tuple[str, str], float]) -> pd.DataFrame:
    """One row per pair and an ``Average`` row; a column ``<pooling>:<representation>`` per cell, in %."""
    acc = long.set_index(["pooling", "representation", "source", "target"])["accuracy"]
    rows = []
    for s, t in pairs:
        row = {"pair": pair_label(s, t), "source": s, "target": t, "status": "ok"}
        for p in poolings:
            for rep in REPRESENTATIONS:
                row[f"{p}:{rep}"] = 100 * float(acc.get((p, rep, s, t), np.nan))
        if K_ref is not None:
            row[f"singletsns_K{K_ref}"] = 100 * ref[(s, t)] if (s, t) in ref else np.nan
        rows.append(row)
    wide = pd.DataFrame(rows)
    avg = {"pair": "Average", "source": "Average", "target": "Average", "status": "ok"}
    for c in wide.columns:
        if c not in avg:
            avg[c] = float(wide[c].mean()) if wide[c].notna().all() else np.nan
    return pd.concat([wide, pd.DataFrame([avg])], ignore_index=True).round(2)


def _encoder(meta: dict) -> tuple[str, object]:
    return encoder_name(meta) or "?", meta.get("config", {}).get("max_length", "?")


def render_representations(wide: pd.DataFrame, poolings: Sequence[str], dims: Mapping[str, int], meta: dict,
                           K_ref: int | None, ref_path: Path) -> str:
    """Markdown: one row per pair, one column per (pooling, representation), our SingleTSNS beside them."""
    head = ["S->T"] + [f"{POOL_LABEL[p]} {REP_LABEL[rep]} ({dims[rep]})" for p in poolings for rep in REPRESENTATIONS]
    cols = [f"{p}:{rep}" for p in poolings for rep in REPRESENTATIONS]
    if K_ref is not None:
        head.append(f"SingleTSNS K={K_ref} (Table 2)")
        cols.append(f"singletsns_K{K_ref}")
    rows = [[f"**{r.pair}**" if r.pair == "Average" else r.pair] + [cell(r[c]) for c in cols]
            for _, r in wide.iterrows()]
    model, max_length = _encoder(meta)
    n_layers = dims["all_layers"] // dims["last_layer"]
    emb = (", the embedding output first" if meta.get("config", {}).get("include_embeddings", True)
           else ", the embedding output left out")
    ref_note = (f"**SingleTSNS K={K_ref}**: our Table 2 result (top-{K_ref} neurons of all layers' [CLS], mean over "
                f"seeds), read from `{ref_path.name}` (stage `transfer`), not recomputed here. "
                if K_ref is not None else "Table 2's SingleTSNS column is absent because its results were not found. ")
    note = (
        "\n\nAccuracy (%) of a logistic regression (standardised features, L2) trained on the whole source domain "
        "and applied to the unseen target domain; deterministic, so one run per cell. Representations of the frozen "
        f"encoder `{model}` (max_length {max_length}; {n_layers} hidden states{emb}; width in "
        "parentheses): **last layer**; **concat last 4**: the last four hidden states side by side; **max over last "
        "4**: their element-wise maximum; **all layers**: every hidden state flattened (the paper's N). "
        "**[CLS]**: the first token of every layer (the paper's and the main pipeline's activations); **mean "
        "pooling**: the attention-masked mean over tokens of every layer (a variant extraction, `data/variants/`). "
        "These are the feature-based options of the blog post (\"which layers to use\"); none uses target data. "
        + ref_note + "Nothing from a target reaches training: each classifier sees its source only, and every score "
        "passes the leak check of `tsns.method.transfer`.\n"
    )
    return ("# Representation baselines: which layers and which pooling (Amazon single-source transfer)\n\n"
            + markdown_table(head, rows) + note)
