"""Neuron selection on a meta-fine-tuned encoder: does MFT make the selected neurons transfer better?

Beyond both papers. MFT (Wang et al. 2020, :mod:`tsns.mft`) trains the encoder
on labelled reviews of several domains so that it encodes *transferable*
knowledge; TSNS (Valipour et al. 2019) picks, in a frozen encoder, the neurons
of one source that carry its task and applies a classifier on them to an unseen
target. Here both meet, without the target ever being seen:

for every target domain T of ``targets`` (the others are its sources),

1. three encoders are prepared from the sources' training rows only (the
   split and subsample of :func:`tsns.mft.split_domain` and the ``mft.*``
   training settings): ``pretrained`` (no training), ``bert_mix`` (plain
   fine-tuning on the sources pooled, its encoder kept) and ``mft``
   (meta fine-tuning, MFT (Full), on the sources);
2. each encoder's [CLS] vector of every layer is extracted for all rows of the
   sources and of T (the pre-trained encoder's once for all targets);
3. for every source S != T: SingleTSNS importance on S (the ``importance.*``
   settings), the top K neurons, a logistic regression on them trained on S,
   scored on T; the last layer and all layers are the frozen baselines.

The provenance of each encoder (the table checksums of the data whose labels
trained it) is part of every :class:`~tsns.transfer.Selection` made on it, so
:func:`tsns.transfer.check_no_leak` refuses a target that helped train the
encoder as well as one that helped select the neurons.

Outputs: ``reports/tables/mft_transfer.{md,csv}``, the per-pair
``mft_transfer_long.csv``, ``reports/metrics_mft_transfer.json``; encoders and
activations under ``data/mft_transfer/`` (persistent: a killed run resumes).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError, TargetLeakError
from .io import atomic_path, atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

#: Encoders compared, in table order.
ENCODERS: tuple[str, ...] = ("pretrained", "bert_mix", "mft")
ENCODER_LABEL = {"pretrained": "pre-trained (frozen)", "bert_mix": "BERT (Mix) on the sources",
                 "mft": "MFT (Full) on the sources"}
METRICS = Path("reports/metrics_mft_transfer.json")
ENCODER_FILE = "encoder.json"


@dataclass(frozen=True)
class Encoder:
    """An encoder and the data whose labels trained it.

    Attributes
    ----------
    kind : str
        One of :data:`ENCODERS`.
    path : str
        ``"embedded"``, hub id or local folder (:func:`tsns.extract.load_model`).
    fit_on : tuple of str
        ``table_sha256`` of every dataset whose labelled rows trained the encoder
        (empty for the pre-trained one).
    """

    kind: str
    path: str
    fit_on: tuple = field(default_factory=tuple)


def check_sources_only(train: pd.DataFrame, sources: Sequence[str], target: str | None = None) -> None:
    """Raise TargetLeakError when the training rows of an encoder hold a domain that is not a source."""
    have = set(train["domain"].astype(str))
    extra = sorted(have - set(sources))
    if extra or (target is not None and target in have):
        raise TargetLeakError(f"the encoder's training rows hold {extra or [target]}, not only the sources "
                              f"{list(sources)}: train it on the sources' rows only")


def source_encoder(kind: str, train: pd.DataFrame, *, sources: Sequence[str], shas: dict, model: str, folder: Path,
                   mft: dict, seed: int, device: str, precision: str, show_progress: bool = True) -> Encoder:
    """Prepare one encoder of :data:`ENCODERS` from the sources' training rows (resumable).

    Parameters
    ----------
    kind : {"pretrained", "bert_mix", "mft"}
    train : pandas.DataFrame
        Training rows of the sources only (column ``domain``), checked by :func:`check_sources_only`.
    sources : sequence of str
    shas : dict
        ``table_sha256`` per source (recorded as :attr:`Encoder.fit_on`).
    model : str
        The pre-trained encoder every kind starts from.
    folder : path
        Where the encoder (``encoder/`` and ``encoder.json``) is kept.
    mft : dict
        ``layers, lam, alpha, n_prototypes, epochs, finetune_epochs, lr, batch_size, max_length``.
    seed, device, precision, show_progress : as in :func:`tsns.mft.fine_tune`.
    """
    from . import mft as M

    if kind == "pretrained":
        return Encoder(kind, str(model), ())
    if kind not in ENCODERS:
        raise ConfigError(f"mft_transfer.encoders names {kind!r}: use {', '.join(ENCODERS)}")
    check_sources_only(train, sources)
    fit_on = tuple(shas[s] for s in sources)
    record = folder / ENCODER_FILE
    if record.exists():
        doc = json.loads(record.read_text())
        if Path(doc["path"]).is_dir():
            return Encoder(kind, doc["path"], tuple(doc["fit_on"]))
    t0 = time.perf_counter()
    if kind == "bert_mix":
        clf = M.fine_tune(train, None, model_or_path=str(model), epochs=mft["finetune_epochs"], lr=mft["lr"],
                          batch_size=mft["batch_size"], max_length=mft["max_length"], seed=seed, device=device,
                          precision=precision, show_progress=show_progress)
        path = M._save_encoder(clf.encoder, clf.tokenizer, folder / "encoder")
        del clf
    else:
        path = M.meta_fine_tune(train, model=str(model), layers=mft["layers"], checkpoint_dir=folder / "meta",
                                domains=list(sources), lam=mft["lam"], alpha=mft["alpha"], epochs=mft["epochs"],
                                lr=mft["lr"], batch_size=mft["batch_size"], max_length=mft["max_length"], seed=seed,
                                device=device, precision=precision, variant="mft",
                                n_prototypes=mft["n_prototypes"], show_progress=show_progress)
    atomic_write_json(record, {"kind": kind, "path": str(path), "fit_on": list(fit_on), "sources": list(sources),
                               "n_train": len(train), "seconds": round(time.perf_counter() - t0, 3)})
    return Encoder(kind, str(path), fit_on)


def _activations(enc: Encoder, dataset: str, df: pd.DataFrame, sha: str, dest: Path, cfg) -> tuple[np.ndarray, tuple]:
    """[CLS] activations of every layer, flattened to (n, N) float32, extracted once into ``dest``."""
    from .extract import ActivationFileError, extract_activations, layer_shape, load_activations

    if dest.exists():
        try:
            X, meta = load_activations(dest, expect={"dataset_sha256": sha, **cfg.result_keys()})
            return np.asarray(X, dtype=np.float32).reshape(len(X), -1), layer_shape(meta)
        except ActivationFileError as exc:
            log.warning("%s: extracting again", str(exc).split(":")[0])
    extract_activations(df, dest, cfg, dataset=dataset, dataset_sha256=sha, partial_dir=dest.parent / ".partial",
                        show_progress=False)
    X, meta = load_activations(dest, expect={"dataset_sha256": sha})
    return np.asarray(X, dtype=np.float32).reshape(len(X), -1), layer_shape(meta)


def run(targets: Sequence[str], *, encoders: Sequence[str] = ENCODERS, K: Sequence[int], seeds: Sequence[int],
        mft: dict, importance: dict, max_length: int = 64, C: float = 1.0, max_iter: int = 2000,
        train_rows: int | None = 640, model: str = "embedded", device: str = "auto", precision: str = "auto",
        checkpoints: Path = Path("data/mft_transfer"), root: Path = Path("."), out: Path | None = None,
        show_progress: bool = True) -> dict:
    """Stage ``mft_transfer``: SingleTSNS transfer on pre-trained, BERT (Mix) and MFT encoders.

    Parameters
    ----------
    targets : sequence of str
        Domains (two or more); each is the unseen target of the others.
    encoders : sequence of str
        Subset of :data:`ENCODERS`.
    K : sequence of int
        SingleTSNS sizes (capped at N).
    seeds : sequence of int
        Independent runs: split and subsample of the encoders' training rows,
        their initialisation, and the importance forests.
    mft : dict
        Training settings of :mod:`tsns.mft` (``params.yaml: mft``).
    importance : dict
        SingleTSNS settings (``params.yaml: importance``: J, beta, alpha, eps, scaling,
        method, n_estimators, max_depth, max_features, l1_C, n_jobs).
    max_length : int
        Tokens per review for the extraction.
    C, max_iter : the transfer classifier's settings (``params.yaml: transfer``).
    train_rows : int or None
        Training rows per source domain for the encoders.
    model, device, precision : the pre-trained encoder and where it runs.
    checkpoints, root, out : folders (as in :func:`tsns.mft.run`).

    Returns
    -------
    dict
        ``long`` (seed, target, source, encoder, method, K, accuracy), ``wide``,
        ``fingerprints``, ``metrics``, ``markdown``.
    """
    from . import data as D
    from . import mft as M
    from .extract import ExtractConfig, select_device
    from .fingerprint import fingerprint
    from .importance import ForestParams, ranking, top_k
    from .layout import PROCESSED, TABLES, known, table_sha256
    from .transfer import HeldOutTarget, LabelledSource, Selection, layer_neurons, transfer_accuracy

    root = Path(root)
    out = root if out is None else Path(out)
    ck = root / Path(checkpoints)
    targets = M.check_list(targets, "mft_transfer.targets", "datasets", min_len=2)
    for d in targets:
        known(d)
    encoders = M.check_list(encoders, "mft_transfer.encoders", "encoders", allowed=ENCODERS)
    if "mft" in encoders and len(targets) < 3:
        raise ConfigError(f"mft_transfer.encoders includes mft, whose domain corruption needs two or more sources per "
                          f"target, but mft_transfer.targets={targets} leaves one: list three or more targets")
    seeds = M.check_list(seeds, "mft_transfer.seeds", "seeds", cast=int)
    if not K:
        raise ConfigError("mft_transfer.K is empty: list one or more neuron counts")
    used_device = select_device(device)
    cfg = ExtractConfig(model=str(model), pooling="cls", max_length=int(max_length), precision=precision,
                        device=device)
    forest = ForestParams(method=importance.get("method", "random_forest"),
                          n_estimators=importance.get("n_estimators", 100),
                          max_depth=importance.get("max_depth"), max_features=importance.get("max_features", "sqrt"),
                          l1_C=importance.get("l1_C", 0.1))

    tables = {d: D.read_table(root / PROCESSED / f"{d}.parquet") for d in targets}
    shas = {d: table_sha256(d, root) for d in targets}
    training = {k: mft[k] for k in ("layers", "lam", "alpha", "n_prototypes", "epochs", "finetune_epochs", "lr",
                                    "batch_size", "max_length")}
    training["layers"] = [int(v) for v in training["layers"]]
    rows, fps, acts_cache = [], [], {}
    # the importance settings that change m (n_jobs does not), as a short tag of the cached m files
    imp_id = hashlib.sha256(json.dumps({k: v for k, v in sorted(importance.items()) if k != "n_jobs"},
                                       default=str).encode()).hexdigest()[:12]
    for seed in seeds:
        train_all, _dev, _test = M.split_domain(pd.concat([tables[d].assign(domain=d) for d in targets],
                                                          ignore_index=True), seed=seed)
        train_all = M._subsample(train_all, train_rows, seed)
        for target in targets:
            sources = [d for d in targets if d != target]
            train = train_all[train_all.domain.isin(sources)].reset_index(drop=True)
            for kind in encoders:
                folder = ck / ("pretrained" if kind == "pretrained" else f"seed{seed}/{target}/{kind}")
                identity = {"kind": kind, "model": str(model), "max_length": int(max_length)}
                if kind != "pretrained":
                    identity |= {"seed": seed, "sources": sources, "train_rows": train_rows,
                                 "train_sha": M._rows_sha(train), **training}
                M._run_folder(folder, identity)
                log.info("target %s, seed %d: encoder %s", target, seed, kind)
                enc = source_encoder(kind, train, sources=sources, shas=shas, model=str(model), folder=folder,
                                     mft=training, seed=seed, device=device, precision=precision,
                                     show_progress=show_progress)
                ecfg = dataclasses.replace(cfg, model=enc.path)
                X, ls = {}, None
                for d in sources + [target]:
                    # the pre-trained encoder's activations serve every target: kept in memory
                    key = (kind, d)
                    got = acts_cache.get(key) if kind == "pretrained" else None
                    if got is None:
                        got = _activations(enc, d, tables[d], shas[d], folder / "activations" / f"{d}.npy", ecfg)
                        if kind == "pretrained":
                            acts_cache[key] = got
                    X[d], ls = got
                N = ls[0] * ls[1]
                held = HeldOutTarget(target, X[target], tables[target]["label"].to_numpy(), shas[target])
                for s in sources:
                    src = LabelledSource(s, X[s], tables[s]["label"].to_numpy(), shas[s])
                    fit_on = (shas[s], *enc.fit_on)
                    # m of this source on this encoder: kept beside the encoder's activations (resumable)
                    m_path = folder / "importance" / f"{s}-seed{seed}-{imp_id}.npy"
                    if m_path.exists():
                        m = np.load(m_path)
                    else:
                        m = ranking(src.X, src.y, J=importance["J"], beta=importance["beta"],
                                    alpha=importance["alpha"], eps=importance["eps"],
                                    scaling=importance.get("scaling", "literal"), params=forest, random_state=seed,
                                    n_jobs=importance.get("n_jobs", -1))
                        with atomic_path(m_path) as tmp:
                            with open(tmp, "wb") as fh:
                                np.save(fh, m)
                    sels = [Selection(layer_neurons(-1, ls), "last_layer", enc.fit_on),
                            Selection(np.arange(N), "all_layers", enc.fit_on)]
                    sels += [Selection(top_k(m, min(int(k), N)), "singletsns", fit_on, seed) for k in K]
                    for sel in sels:
                        acc = transfer_accuracy(src, held, sel, C=C, max_iter=max_iter)
                        rows.append({"seed": seed, "target": target, "source": s, "encoder": kind,
                                     "method": sel.method, "K": sel.K, "accuracy": acc})
                        if sel.method == "singletsns":
                            fps.append({"seed": seed, "target": target, "source": s, "encoder": kind, "K": sel.K,
                                        **{str(i): float(v) for i, v in enumerate(fingerprint(sel.neurons, ls))}})
    long = pd.DataFrame(rows)
    fp = pd.DataFrame(fps)
    wide = transfer_wide(long, encoders, targets)
    md = render(wide, fp, targets, {"model": str(model), "max_length": int(max_length), "train_rows": train_rows,
                                    "seeds": seeds, "device": used_device, "importance": importance,
                                    "training": training})
    with atomic_path(out / TABLES / "mft_transfer.csv") as tmp:
        wide.to_csv(tmp, index=False)
    with atomic_path(out / TABLES / "mft_transfer_long.csv") as tmp:
        long.to_csv(tmp, index=False)
    atomic_write_text(out / TABLES / "mft_transfer.md", md)
    metrics = {f"{r.encoder}/{r.row}": round(float(r.average_mean) / 100, 4) for r in wide.itertuples()}
    atomic_write_json(out / METRICS, metrics)
    return {"long": long, "wide": wide, "fingerprints": fp, "metrics": metrics, "markdown": md}


def _row_name(method: str, K: int) -> str:
    return f"singletsns_K{K}" if method == "singletsns" else method


def transfer_wide(long: pd.DataFrame, encoders: Sequence[str], targets: Sequence[str]) -> pd.DataFrame:
    """One row per (encoder, selection): mean over sources and seeds per target, and the average over targets (%)."""
    long = long.assign(row=[_row_name(m, k) for m, k in zip(long.method, long.K)])
    out = []
    names = list(dict.fromkeys(long.row))
    for enc in encoders:
        for name in names:
            g = long[(long.encoder == enc) & (long.row == name)]
            if g.empty:
                continue
            row = {"encoder": enc, "row": name, "K": int(g.K.iloc[0])}
            for t in targets:
                row[t] = 100 * float(g[g.target == t].accuracy.mean())
            per_seed = 100 * g.groupby("seed").accuracy.mean().to_numpy()
            row["average_mean"], row["average_std"] = float(per_seed.mean()), float(np.std(per_seed))
            out.append(row)
    return pd.DataFrame(out).round(2)


def render(wide: pd.DataFrame, fp: pd.DataFrame, targets: Sequence[str], s: dict) -> str:
    """Markdown: transfer accuracy per encoder and selection, the gain over the pre-trained encoder, fingerprints."""
    from . import paper
    from .report import cell, markdown_table

    names = {t: paper.DATASET_NAME.get(t, t) for t in targets}
    label = {"last_layer": "last layer", "all_layers": "all layers"}
    head = ["encoder", "neurons"] + [f"-> {names[t]}" for t in targets] + ["average", "vs. pre-trained"]
    base = {r.row: r.average_mean for r in wide.itertuples() if r.encoder == "pretrained"}
    rows = []
    for r in wide.itertuples():
        what = label.get(r.row, f"SingleTSNS K={r.K}")
        delta = r.average_mean - base[r.row] if r.row in base and r.encoder != "pretrained" else np.nan
        rows.append([ENCODER_LABEL[r.encoder], what] + [cell(wide.loc[r.Index, t]) for t in targets]
                    + [f"**{cell(r.average_mean, r.average_std)}**", "-" if np.isnan(delta) else f"{delta:+.1f}"])
    K_fp = int(fp.K.max())
    g = fp[fp.K == K_fp]
    layers = [c for c in fp.columns if c.isdigit()]
    fp_rows = [[ENCODER_LABEL[e]] + [f"{100 * g[g.encoder == e][c].mean():.0f}" for c in layers]
               for e in dict.fromkeys(g.encoder)]
    fp_head = ["encoder"] + ["emb" if c == "0" else c for c in layers]
    t = s["training"]
    imp = s["importance"]
    note = (
        f"\n\nTransfer accuracy (%) on each unseen target, averaged over its {len(targets) - 1} sources (one "
        "logistic regression per source on the selected neurons, trained on that source only), mean ± std over "
        f"seeds {s['seeds']} of the average. Encoders start from `{s['model']}`; the two trained ones see "
        f"the **sources' labelled training rows only** (at most {s['train_rows']} per source, the MFT stage's "
        f"split; {t['epochs']} meta epoch(s) with L_s = {t['layers']}, lambda = {t['lam']:g}, alpha = "
        f"{t['alpha']:g}; {t['finetune_epochs']} fine-tuning epoch(s) for BERT (Mix); learning rate {t['lr']:g}, "
        f"batch {t['batch_size']}, {t['max_length']} tokens): the target domain never reaches an encoder, a "
        "selection or a classifier (each selection carries the checksums of the data that trained its encoder and "
        f"chose its neurons; `tsns.transfer.check_no_leak` refuses the target). Activations: [CLS] of every "
        f"layer, {s['max_length']} tokens, all rows of every domain. SingleTSNS: J = {imp['J']}, beta = "
        f"{imp['beta']:g}, {imp.get('method', 'random_forest')} with {imp.get('n_estimators')} trees. Run on "
        f"{s['device']}.\n\n"
        "**vs. pre-trained**: the change of the average against the same selection on the frozen pre-trained "
        "encoder. Neither paper reports this experiment; it asks whether meta fine-tuning makes the *selected* "
        "neurons transfer better than plain multi-domain fine-tuning does.\n\n"
        f"## Fingerprints: share (%) of the SingleTSNS K={K_fp} neurons per layer\n\n"
        + markdown_table(fp_head, fp_rows)
        + "\n\nAveraged over every (target, source) selection and seed.\n"
    )
    return ("# SingleTSNS on meta-fine-tuned encoders (beyond the MFT and TSNS papers)\n\n"
            + markdown_table(head, rows) + note)
