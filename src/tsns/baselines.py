"""The blog baselines (issue #6): which layers and which pooling to use, and how to truncate long texts.

Two experiments beside the paper's tables, following the fine-tuning tips of the
blog post "Transfer learning and beyond" (``shared/papers/``) and Sun et al. (2019):

* ``representations`` -- single-source transfer on the Amazon domains (the 12
  ordered pairs of Table 2) with fixed, data-free representations of the frozen
  encoder: the last layer, the concatenation of the last 4 hidden states, their
  element-wise maximum, and all layers; each from the first-token ([CLS]) vectors
  (the main activations) and from attention-masked mean pooling (a variant
  extraction). Our SingleTSNS at the Table 2 K closest to 300 is shown beside them.
* ``truncation`` -- IMDB reviews are often longer than the token budget: the
  source is extracted with ``head``, ``tail`` and ``head+tail`` truncation and
  scored in-domain (train split -> test split, the blog's setting) and as a
  transfer source (all rows -> every target), with the last layer, all layers
  and SingleTSNS top-K.

Variant extractions live under ``data/variants/<name>.npy`` (+ JSON sidecar,
the same format as ``data/activations``) and are made by
:func:`extract_variant` (stage ``extract_variant@<name>``).

Nothing from a target reaches training: sources and targets are wrapped in
:class:`tsns.transfer.LabelledSource` / :class:`tsns.transfer.HeldOutTarget`
and every score goes through :func:`tsns.transfer.transfer_accuracy`, which
checks the target against the source and the data that selected the neurons.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import data as D
from . import paper
from . import transfer as T
from .errors import ActivationFileError, ConfigError, TargetLeakError, TSNSError
from .extract import TRUNCATIONS, ExtractConfig, _ids_sha256, extract_activations, layer_shape, load_activations
from .importance import ForestParams
from .io import atomic_path, atomic_write_json, atomic_write_text
from .layout import PARTIAL, PROCESSED, TABLES, Activations, known, load_dataset_activations, table_sha256
from .report import cell, markdown_table, metrics_from_wide

log = logging.getLogger(__name__)

VARIANTS = Path("data/variants")
PARTIAL_VARIANTS = PARTIAL / "variants"
METRICS_BASELINES = Path("reports/metrics_baselines.json")
#: fixed representations built from the (n, n_layers, hidden) activations (layer 0 = embeddings)
REPRESENTATIONS = ("last_layer", "last4_concat", "last4_max", "all_layers")
#: the representations of the truncation ablation (SingleTSNS top-K is added beside them)
TRUNCATION_METHODS = ("last_layer", "all_layers", "singletsns")
REP_LABEL = {"last_layer": "last layer", "last4_concat": "concat last 4", "last4_max": "max over last 4",
             "all_layers": "all layers", "singletsns": "SingleTSNS"}
POOL_LABEL = {"cls": "[CLS]", "mean": "mean pooling"}


# --------------------------------------------------------------------------- variants
def _variant_path(name: str, root: Path) -> Path:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"variant name {name!r} must be a plain file name (no '/', not starting with '.')")
    return Path(root) / VARIANTS / f"{name}.npy"


def extract_variant(name: str, dataset: str, cfg: ExtractConfig, *, root: Path = Path(".")) -> dict:
    """Stage ``extract_variant@<name>``: activations of one dataset under other extraction settings.

    Parameters
    ----------
    name : str
        File name of the variant: ``data/variants/<name>.npy`` (+ ``.json`` sidecar).
    dataset : str
        A registry name; ``data/processed/<dataset>.parquet`` is extracted.
    cfg : ExtractConfig
        Pooling, truncation, model... of the variant (set by the caller).

    Returns
    -------
    dict
        The sidecar (:class:`tsns.extract.Sidecar` as a dict); the array has shape
        ``(n_examples, n_layers, hidden)``, float16.
    """
    known(dataset)
    root = Path(root)
    out = _variant_path(name, root)
    df = D.read_table(root / PROCESSED / f"{dataset}.parquet")
    side = extract_activations(df, out, cfg, dataset=dataset, dataset_sha256=table_sha256(dataset, root),
                               partial_dir=root / PARTIAL_VARIANTS / name)
    log.info("variant %s of %s: shape %s in %.0f s", name, dataset, side.shape, side.seconds)
    return asdict(side)


def load_variant(name: str, dataset: str, *, expect: dict | None = None, root: Path = Path(".")) -> Activations:
    """A variant's activations, checked against the dataset's table (cf. :func:`tsns.layout.load_dataset_activations`).

    Parameters
    ----------
    name : str
        ``data/variants/<name>.npy``.
    dataset : str
        The dataset it must have been extracted from.
    expect : dict, optional
        Sidecar config keys that must match (model, pooling, max_length, truncation...).

    Returns
    -------
    Activations
        ``X`` flattened to shape ``(n, n_layers * hidden)``, float32; ``y`` shape ``(n,)``.

    Raises
    ------
    TSNSError
        One line naming ``dvc repro extract_variant@<name>`` when the file is
        missing, corrupt, made with other settings or from other data.
    """
    known(dataset)
    root = Path(root)
    path = _variant_path(name, root)
    fix = f"dvc repro extract_variant@{name}"
    if not path.exists() or not path.with_suffix(".json").exists():
        raise TSNSError(f"variant activations {name!r} of {dataset!r} are missing ({path}): run `{fix}`")
    df = D.read_table(root / PROCESSED / f"{dataset}.parquet")
    sha = table_sha256(dataset, root)
    try:
        X, meta = load_activations(path, expect=expect)
    except ActivationFileError as exc:
        msg = str(exc)
        cut = msg.rfind(": ")
        raise ActivationFileError(f"{msg[:cut] if cut > 0 else msg}: re-run `{fix}`") from None
    if meta.get("dataset_sha256") != sha:
        raise TSNSError(f"variant {name!r} was extracted from other data than {root / PROCESSED / f'{dataset}.parquet'}"
                        f": re-run `{fix}`")
    if len(X) != len(df):
        raise TSNSError(f"variant {name!r} has {len(X)} rows, the table of {dataset!r} {len(df)}: re-run `{fix}`")
    if meta.get("ids_sha256") and meta["ids_sha256"] != _ids_sha256(df["id"].tolist()):
        raise TSNSError(f"variant {name!r} rows are not in the order of the table of {dataset!r}: re-run `{fix}`")
    return Activations(name, np.asarray(X, dtype=np.float32).reshape(len(X), -1), df["label"].to_numpy(), sha,
                       layer_shape(meta), meta)


# --------------------------------------------------------------------------- representations
def represent(A: np.ndarray, which: str) -> np.ndarray:
    """A fixed representation of every example from its per-layer vectors.

    Parameters
    ----------
    A : array, shape (n, n_layers, hidden)
        Pooled hidden states, layer 0 = embeddings.
    which : {"last_layer", "last4_concat", "last4_max", "all_layers"}
        ``last_layer``: ``A[:, -1]`` (n, hidden); ``last4_concat``: the last 4
        hidden states side by side (n, 4 * hidden); ``last4_max``: their
        element-wise maximum (n, hidden); ``all_layers``: every layer flattened
        (n, n_layers * hidden).

    Returns
    -------
    numpy.ndarray, shape (n, d), float32
    """
    if which not in REPRESENTATIONS:
        raise ConfigError(f"representation {which!r} is unknown: use one of {', '.join(REPRESENTATIONS)}")
    A = np.asarray(A)
    if A.ndim != 3:
        raise ConfigError(f"activations must have shape (n, n_layers, hidden), got {A.shape}: "
                          "reshape flattened X with X.reshape(n, *layer_shape)")
    n, n_layers, _ = A.shape
    if which.startswith("last4") and n_layers < 4:
        raise ConfigError(f"{which} needs at least 4 hidden states, the activations have {n_layers}: "
                          "use last_layer or all_layers")
    if which == "last_layer":
        out = A[:, -1, :]
    elif which == "last4_concat":
        out = A[:, -4:, :].reshape(n, -1)
    elif which == "last4_max":
        out = A[:, -4:, :].max(axis=1)
    else:
        out = A.reshape(n, -1)
    return np.ascontiguousarray(out, dtype=np.float32)


def _layers(acts: Activations) -> np.ndarray:
    """(n, n_layers, hidden) view of flattened activations."""
    return acts.X.reshape(len(acts.X), *acts.layer_shape)


def _pair_label(s: str, t: str) -> str:
    L = paper.DOMAIN_LETTER
    return f"{L.get(s, s)}->{L.get(t, t)}"


def _pooled_acts(d: str, pooling: str, pooled: Mapping[str, str], expect: dict | None, root: Path) -> Activations:
    exp = {**(expect or {}), "pooling": pooling}
    if pooling in pooled:
        return load_variant(pooled[pooling].format(dataset=d), d, expect=exp, root=root)
    return load_dataset_activations(d, expect=exp, root=root)


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


def run_representations(domains: Sequence[str], *, pooled: Mapping[str, str], poolings: Sequence[str] = ("cls", "mean"),
                        C: float = 1.0, max_iter: int = 2000, expect: dict | None = None, root: Path = Path("."),
                        out: Path | None = None, reference: Path | None = None, reference_K: int = 300) -> dict:
    """Stage ``baselines`` (part 1): fixed representations transferred between every ordered pair of ``domains``.

    For every pooling and representation (:data:`REPRESENTATIONS`), a logistic
    regression is trained on the whole source domain and scored on the unseen
    target (:func:`tsns.transfer.transfer_accuracy`); deterministic, so one run per cell.

    Parameters
    ----------
    domains : sequence of str
        E.g. the four Amazon domains (12 ordered pairs).
    pooled : mapping pooling -> variant name template
        E.g. ``{"mean": "{dataset}-mean"}``: the mean-pooled activations of ``d``
        are ``data/variants/{dataset}-mean.npy`` with ``dataset = d``. A pooling not
        in the mapping uses the main activations (``data/activations``).
    poolings : sequence of {"cls", "mean"}
    C, max_iter : logistic regression settings.
    expect : dict, optional
        Sidecar keys every activation file must match (model, max_length...);
        ``pooling`` is added per pooling.
    root : path
        Where the inputs are read.
    out : path, optional
        Where ``reports/tables/representations.{md,csv}`` are written (default: ``root``).
    reference : path, optional
        Table 2's long results (default ``<root>/reports/tables/table2_long.csv``);
        its SingleTSNS accuracy at the K closest to ``reference_K`` is shown when it exists.

    Returns
    -------
    dict
        ``long`` (pooling, representation, source, target, d, accuracy in [0, 1]),
        ``wide`` (one row per pair + Average, accuracies in %), ``metrics``.
    """
    root = Path(root)
    out = root if out is None else Path(out)
    domains = list(domains)
    if len(set(domains)) != len(domains) or len(domains) < 2:
        raise ConfigError(f"baselines.domains={domains} must list two or more datasets, each once")
    for d in domains:
        known(d)
    for p in poolings:
        if p not in POOL_LABEL:
            raise ConfigError(f"pooling {p!r} is unknown: use one of {', '.join(POOL_LABEL)}")
    pairs = [(s, t) for s in domains for t in domains if s != t]
    rows = []
    meta0: dict = {}
    shapes: set = set()
    from tqdm import tqdm

    for p in poolings:
        acts = {d: _pooled_acts(d, p, pooled, expect, root) for d in domains}
        shapes |= {a.layer_shape for a in acts.values()}
        if len(shapes) != 1:
            raise TSNSError(f"the activations were extracted with different models (layer shapes {shapes}): "
                            "re-run `dvc repro`")
        meta0 = meta0 or acts[domains[0]].meta
        work = [(rep, s) for rep in REPRESENTATIONS for s in domains]
        for rep, s in tqdm(work, desc=f"representations ({p})", unit="clf", mininterval=5):
            Xs = represent(_layers(acts[s]), rep)
            src = T.LabelledSource(s, Xs, acts[s].y, acts[s].sha256)
            sel = T.Selection(np.arange(Xs.shape[1]), method=f"{p}:{rep}")
            tgts = {t: T.HeldOutTarget(t, represent(_layers(acts[t]), rep), acts[t].y, acts[t].sha256)
                    for (s2, t) in pairs if s2 == s}
            for tgt in tgts.values():
                T.check_no_leak(tgt, src, sel)
            clf = T.train_classifier(src.X, src.y, sel.neurons, C=C, max_iter=max_iter)
            for t, tgt in tgts.items():
                acc = T.transfer_accuracy(src, tgt, sel, C=C, max_iter=max_iter, clf=clf)
                rows.append({"pooling": p, "representation": rep, "source": s, "target": t, "d": sel.K,
                             "accuracy": acc})
        del acts
    long = pd.DataFrame(rows, columns=["pooling", "representation", "source", "target", "d", "accuracy"])
    ref_path = root / TABLES / "table2_long.csv" if reference is None else Path(reference)
    K_ref, ref = _reference(ref_path, domains, reference_K)
    wide = representations_wide(long, pairs, poolings, K_ref, ref)
    ls = shapes.pop()
    dims = {rep: int(represent(np.zeros((1, *ls), np.float32), rep).shape[1]) for rep in REPRESENTATIONS}
    with atomic_path(out / TABLES / "representations.csv") as tmp:
        wide.to_csv(tmp, index=False)
    md = render_representations(wide, poolings, dims, meta0, K_ref, ref_path)
    atomic_write_text(out / TABLES / "representations.md", md)
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
        row = {"pair": _pair_label(s, t), "source": s, "target": t, "status": "ok"}
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
    return (meta.get("model_info", {}).get("resolved", meta.get("config", {}).get("model", "?")),
            meta.get("config", {}).get("max_length", "?"))


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
    ref_note = (f"**SingleTSNS K={K_ref}**: our Table 2 result (top-{K_ref} neurons of all layers' [CLS], mean over "
                f"seeds), read from `{ref_path.name}` (stage `transfer`), not recomputed here. "
                if K_ref is not None else "Table 2's SingleTSNS column is absent because its results were not found. ")
    note = (
        "\n\nAccuracy (%) of a logistic regression (standardised features, L2) trained on the whole source domain "
        "and applied to the unseen target domain; deterministic, so one run per cell. Representations of the frozen "
        f"encoder `{model}` (max_length {max_length}; {n_layers} hidden states, layer 0 = embeddings; width in "
        "parentheses): **last layer**; **concat last 4**: the last four hidden states side by side; **max over last "
        "4**: their element-wise maximum; **all layers**: every hidden state flattened (the paper's N). "
        "**[CLS]**: the first token of every layer (the paper's and the main pipeline's activations); **mean "
        "pooling**: the attention-masked mean over tokens of every layer (a variant extraction, `data/variants/`). "
        "These are the feature-based options of the blog post (\"which layers to use\"); none uses target data. "
        + ref_note + "Nothing from a target reaches training: each classifier sees its source only, and every score "
        "passes the leak check of `tsns.transfer`.\n"
    )
    return ("# Representation baselines: which layers and which pooling (Amazon single-source transfer)\n\n"
            + markdown_table(head, rows) + note)


# --------------------------------------------------------------------------- truncation
def _changed_share(A: np.ndarray, H: np.ndarray) -> float:
    """Share of rows whose last-layer vector differs from the head-truncated one.

    ``A``, ``H`` : arrays, shape (n, hidden). Texts within the token budget give
    the same tokens under every truncation, hence (nearly) identical rows.
    """
    same = np.isclose(A, H, rtol=1e-3, atol=1e-3).all(axis=1)
    return float(1.0 - same.mean())


def run_truncation(source: str, targets: Sequence[str], truncations: Sequence[str] = TRUNCATIONS, *,
                   variant_name: str = "{dataset}-{truncation}", K: int, seeds: Sequence[int], forest: ForestParams,
                   J: int, beta: float, alpha: float = 1.0, eps: float = 1e-6, scaling: str = "literal",
                   n_jobs: int = 1, C: float = 1.0, max_iter: int = 2000, expect: dict | None = None,
                   root: Path = Path("."), out: Path | None = None) -> dict:
    """Stage ``baselines`` (part 2): head, tail and head+tail truncation of a long-text source.

    For every truncation, the source's activations are the main ones when the
    main pipeline used that truncation (``meta["config"]["truncation"]`` of
    ``data/activations/<source>.json``), else the variant
    ``variant_name.format(dataset=source, truncation=tr)``. Then:

    (a) in-domain: train on the source's ``train`` split, score on its ``test`` split;
    (b) transfer: train on all source rows, score on every target (main activations, all rows).

    Representations: the last layer, all layers and SingleTSNS top-K
    (:class:`tsns.selectors.SingleTSNS` fitted on the training rows only, one fit per seed).

    Parameters
    ----------
    source : str
        A dataset with ``train`` and ``test`` splits (IMDB).
    targets : sequence of str
        Transfer targets (e.g. the Amazon domains and sst2); never the source.
    truncations : sequence of {"head", "tail", "head+tail"}
    K : int
        SingleTSNS neurons (capped at N).
    seeds : sequence of int
    forest : ForestParams
        Learner of q.
    J, beta, alpha, eps, scaling, n_jobs
        As in :class:`tsns.selectors.SingleTSNS`.
    root, out : paths of the inputs and of ``reports/tables/truncation.{md,csv}`` (default ``out = root``).

    Returns
    -------
    dict
        ``long`` (truncation, setting, target, method, K, seed, accuracy in [0, 1]),
        ``wide`` (one row per truncation, %), ``detail`` (per target, %), ``metrics``.
    """
    from tqdm import tqdm

    from .selectors import SingleTSNS

    root = Path(root)
    out = root if out is None else Path(out)
    known(source)
    targets = list(targets)
    for t in targets:
        known(t)
    if source in targets:
        raise TargetLeakError(f"baselines.truncation_targets lists the source {source!r}: remove it")
    truncations = list(truncations)
    if not truncations or len(set(truncations)) != len(truncations):
        raise ConfigError(f"baselines.truncations={truncations} must list one or more truncations, each once")
    for tr in truncations:
        if tr not in TRUNCATIONS:
            raise ConfigError(f"truncation {tr!r} is unknown: use one of {', '.join(TRUNCATIONS)}")
    base_expect = {k: v for k, v in (expect or {}).items() if k != "truncation"}
    main = load_dataset_activations(source, expect=base_expect, root=root)
    main_tr = main.meta.get("config", {}).get("truncation", "head")
    splits = D.read_table(root / PROCESSED / f"{source}.parquet")["split"].to_numpy()
    train, test = np.flatnonzero(splits == "train"), np.flatnonzero(splits == "test")
    if not len(train) or not len(test):
        have = ", ".join(sorted(set(splits)))
        raise ConfigError(f"the truncation source {source!r} needs train and test splits (it has: {have}): "
                          "choose a source such as imdb")
    tgt_acts = {t: load_dataset_activations(t, expect=expect, root=root) for t in targets}
    ls = main.layer_shape
    for t, a in tgt_acts.items():
        if a.layer_shape != ls:
            raise TSNSError(f"{t} and {source} were extracted with different models: re-run `dvc repro`")
    N = ls[0] * ls[1]
    K_eff = min(int(K), N)
    sha = main.sha256
    train_sha, test_sha = f"{sha}:train", f"{sha}:test"

    def source_acts(tr: str) -> tuple[Activations, str]:
        if tr == main_tr:
            return main, f"data/activations/{source}.npy"
        name = variant_name.format(dataset=source, truncation=tr)
        return load_variant(name, source, expect={**base_expect, "truncation": tr}, root=root), f"data/variants/{name}.npy"

    head_last = None
    if "head" == main_tr:
        head_last = _layers(main)[:, -1, :]
    elif "head" in truncations:
        head_last = _layers(source_acts("head")[0])[:, -1, :]

    rows, info = [], {}
    for tr in truncations:
        t0 = time.time()
        acts, where = source_acts(tr)
        if acts.layer_shape != ls:
            raise TSNSError(f"{where} was extracted with another model than the main activations: re-run `dvc repro`")
        A = _layers(acts)
        info[tr] = {"activations": where, "head_fraction": acts.meta.get("config", {}).get("head_fraction"),
                    "changed": None if head_last is None else _changed_share(A[:, -1, :], head_last)}
        y = acts.y
        feats = {rep: represent(A, rep) for rep in ("last_layer", "all_layers")}
        X_all = feats["all_layers"]
        # (selection, training rows, source, held-out targets, setting)
        settings = {
            "in_domain": (T.LabelledSource(f"{source}:train", X_all[train], y[train], train_sha),
                          {f"{source} test": T.HeldOutTarget(f"{source}:test", X_all[test], y[test], test_sha)}),
            "transfer": (T.LabelledSource(source, X_all, y, sha),
                         {t: T.HeldOutTarget(t, a.X, a.y, a.sha256) for t, a in tgt_acts.items()}),
        }
        jobs = []
        for setting, (src, tgts) in settings.items():
            jobs.append((setting, src, tgts, T.Selection(T.layer_neurons(-1, ls), "last_layer")))
            jobs.append((setting, src, tgts, T.Selection(np.arange(N), "all_layers")))
            for s in seeds:
                jobs.append((setting, src, tgts, ("singletsns", int(s))))
        for setting, src, tgts, sel in tqdm(jobs, desc=f"truncation {tr}", unit="clf", mininterval=5):
            if isinstance(sel, tuple):  # SingleTSNS: fit on the training rows of this setting only
                seed = sel[1]
                est = SingleTSNS(k=K_eff, J=J, beta=beta, alpha=alpha, eps=eps, scaling=scaling, method=forest.method,
                                 n_estimators=forest.n_estimators, max_depth=forest.max_depth,
                                 max_features=forest.max_features, l1_C=forest.l1_C, random_state=seed,
                                 n_jobs=n_jobs).fit(src.X, src.y)
                sel = T.Selection(np.asarray(est.selected_), "singletsns", fit_on=(src.sha256,), seed=seed)
            for tgt in tgts.values():
                T.check_no_leak(tgt, src, sel)
            clf = T.train_classifier(src.X, src.y, sel.neurons, C=C, max_iter=max_iter)
            for tname, tgt in tgts.items():
                rows.append({"truncation": tr, "setting": setting, "target": tname, "method": sel.method,
                             "K": sel.K, "seed": -1 if sel.seed is None else sel.seed,
                             "accuracy": T.transfer_accuracy(src, tgt, sel, clf=clf)})
        log.info("truncation %s: %d classifiers in %.0f s", tr, len(jobs), time.time() - t0)
    long = pd.DataFrame(rows, columns=["truncation", "setting", "target", "method", "K", "seed", "accuracy"])
    wide, detail = truncation_wide(long, truncations, info)
    with atomic_path(out / TABLES / "truncation.csv") as tmp:
        wide.to_csv(tmp, index=False)
    md = render_truncation(wide, detail, source=source, targets=targets, K=K_eff, seeds=seeds, meta=main.meta,
                           n_train=len(train), n_test=len(test), main_tr=main_tr)
    atomic_write_text(out / TABLES / "truncation.md", md)
    cols = {f"{setting}_{m}": f"{setting}_{m}_mean" for setting in ("in_domain", "transfer") for m in TRUNCATION_METHODS}
    metrics = metrics_from_wide(wide, "truncation", cols)
    for tr in metrics:
        ch = info[tr]["changed"]
        metrics[tr]["rows_changed_vs_head"] = None if ch is None else round(ch, 4)
    return {"long": long, "wide": wide, "detail": detail, "metrics": metrics, "markdown": md}


def _mean_std(long: pd.DataFrame) -> tuple[float, float]:
    """Mean (%) over targets of the per-seed means and its std over seeds."""
    per_seed = long.groupby("seed")["accuracy"].mean()
    return 100 * float(per_seed.mean()), 100 * float(np.std(per_seed.to_numpy(), ddof=0))


def truncation_wide(long: pd.DataFrame, truncations: Sequence[str], info: Mapping[str, dict]
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summary (one row per truncation) and per-target detail (one row per truncation and method), in %."""
    rows, detail = [], []
    for tr in truncations:
        g = long[long.truncation == tr]
        ch = info[tr]["changed"]
        row = {"truncation": tr, "status": "ok", "activations": info[tr]["activations"],
               "head_fraction": info[tr]["head_fraction"], "rows_changed_vs_head": np.nan if ch is None else 100 * ch}
        for setting in ("in_domain", "transfer"):
            for m in TRUNCATION_METHODS:
                row[f"{setting}_{m}_mean"], row[f"{setting}_{m}_std"] = _mean_std(
                    g[(g.setting == setting) & (g.method == m)])
        rows.append(row)
        for m in TRUNCATION_METHODS:
            drow = {"truncation": tr, "method": m}
            for (setting, t), gt in g[g.method == m].groupby(["setting", "target"], sort=False):
                drow[f"{t}_mean"], drow[f"{t}_std"] = _mean_std(gt)
            detail.append(drow)
    return pd.DataFrame(rows).round(2), pd.DataFrame(detail).round(2)


def render_truncation(wide: pd.DataFrame, detail: pd.DataFrame, *, source: str, targets: Sequence[str], K: int,
                      seeds: Sequence[int], meta: dict, n_train: int, n_test: int, main_tr: str) -> str:
    """Markdown: the summary table per truncation, the per-target detail and a note."""
    label = {"last_layer": "last layer", "all_layers": "all layers", "singletsns": f"SingleTSNS K={K}"}
    head = ["truncation", "rows changed vs head (%)"]
    head += [f"in-domain: {label[m]}" for m in TRUNCATION_METHODS]
    head += [f"transfer (mean of {len(targets)} targets): {label[m]}" for m in TRUNCATION_METHODS]
    rows = []
    for _, r in wide.iterrows():
        cells = [f"`{r.truncation}`", cell(r.rows_changed_vs_head)]
        for setting in ("in_domain", "transfer"):
            cells += [cell(r[f"{setting}_{m}_mean"], r[f"{setting}_{m}_std"]) for m in TRUNCATION_METHODS]
        rows.append(cells)
    tnames = [f"{source} test"] + list(targets)
    dhead = ["truncation", "representation"] + tnames
    drows = [[f"`{r.truncation}`", label[r.method]] + [cell(r.get(f"{t}_mean"), r.get(f"{t}_std")) for t in tnames]
             for _, r in detail.iterrows()]
    model, max_length = _encoder(meta)
    hf = wide.loc[wide.truncation == "head+tail", "head_fraction"].tolist()
    hf_text = f"`head_fraction` = {hf[0]:g}" if hf and hf[0] is not None and not pd.isna(hf[0]) else "`head_fraction`"
    note = (
        f"\n\nSource **{source}** (train split {n_train} reviews, test split {n_test}), encoder `{model}`, "
        f"max_length {max_length} tokens including the special tokens. **head** keeps the first tokens of a long "
        "text, **tail** the last ones, **head+tail** keeps " f"{hf_text} of the token budget from the start and the "
        "rest from the end (Sun et al. 2019; the blog post's best choice for long reviews). Texts within the budget "
        "are identical under the three strategies: **rows changed vs head** is the share of source rows whose "
        "last-layer [CLS] vector differs from the head-truncated one (not `np.allclose`, rtol = atol = 1e-3), i.e. "
        "about the share of texts longer than the budget. The main pipeline's activations use "
        f"`{main_tr}`; the other truncations come from variant extractions (`data/variants/`).\n\n"
        f"**in-domain**: logistic regression trained on the {source} train split, scored on its test split (the "
        f"blog's setting). **transfer**: trained on all {source} rows, scored on every row of each target "
        f"({', '.join(targets)}; main activations, whatever their length), then averaged over targets. "
        f"**SingleTSNS K={K}**: the top-{K} neurons of all layers' [CLS], selected on the training rows of the "
        f"setting only (train split for in-domain), mean ± std over seeds {list(seeds)}; the last-layer and "
        "all-layers rows are deterministic. Nothing from a target (nor the test split, in-domain) reaches neuron "
        "selection or training; every score passes the leak check of `tsns.transfer`.\n"
    )
    return (f"# Truncation of long texts: head, tail, head+tail ({source})\n\n" + markdown_table(head, rows)
            + "\n\n## Per target\n\n" + markdown_table(dhead, drows) + note)


# --------------------------------------------------------------------------- metrics
def write_metrics(parts: Mapping[str, dict], root: Path = Path(".")) -> dict:
    """Write ``reports/metrics_baselines.json``: ``{part: metrics}`` for every part.

    ``parts`` maps a name (``representations``, ``truncation``) to the dict a
    ``run_*`` function returned (its ``metrics`` are taken) or to a metrics dict.
    """
    doc = {k: (v["metrics"] if isinstance(v, Mapping) and "metrics" in v else v) for k, v in parts.items()}
    atomic_write_json(Path(root) / METRICS_BASELINES, doc)
    return doc


def truncation_unavailable(source: str, datasets: Sequence[str], *, out: Path = Path(".")) -> dict:
    """Write the truncation table's 'data not available' version when the source is not in ``data.datasets``."""
    msg = (f"# Truncation ablation ({source})\n\n**data not available**: the truncation source {source!r} is not in "
           f"data.datasets ({', '.join(datasets)}); add it (and its variants to baselines.variants), then run "
           "`dvc repro`.\n")
    with atomic_path(Path(out) / TABLES / "truncation.csv") as tmp:
        pd.DataFrame(columns=["truncation", "status"]).to_csv(tmp, index=False)
    atomic_write_text(Path(out) / TABLES / "truncation.md", msg)
    return {"metrics": {"status": "data not available"}, "markdown": msg}
