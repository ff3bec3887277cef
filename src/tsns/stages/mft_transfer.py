"""Stage ``mft_transfer`` (beyond both papers): does meta fine-tuning make the *selected* neurons transfer better?

For every domain of ``mft_transfer.targets`` as the unseen target, three encoders
are prepared from its sources only (the ``mft`` stage's split and ``mft.*``
training settings): the frozen pre-trained one, BERT (Mix) fine-tuned on the
sources pooled, and MFT (Full) meta fine-tuned on the sources. Each one's [CLS] of
every layer is extracted, SingleTSNS (``importance.*``) picks
``mft_transfer.K`` neurons of each source, and a logistic regression on them,
trained on that source, is scored on the target; last layer and all layers are the
baselines, and the fingerprints of the selections show where each encoder puts the
task.

The target never trains an encoder, chooses neurons or trains a classifier: every
encoder records the checksums of the data that trained it (:class:`Encoder`), every
selection carries them, and :func:`tsns.method.transfer.check_no_leak` refuses a
target among them. Encoders, activations and the importance m are kept in
``data/mft_transfer/`` (a persistent DVC output), so a killed run resumes.
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

from ..config.extract import ExtractConfig
from ..config.importance import ImportanceConfig
from ..config.mft import ENCODERS, MftConfig, MftTransferConfig
from ..config.transfer import TransferConfig
from ..encoder.activations import layer_labels, layer_shape, load_activations
from ..encoder.extract import extract_activations
from ..errors import ActivationFileError, ConfigError, TargetLeakError
from ..io import atomic_save_npy, atomic_write_json, record_checksum, verified
from ..method.fingerprint import fingerprint
from ..method.parallel import compute_backend
from ..method.single import ranking, top_k
from ..method.stats import mean_std
from ..method.classifier import train_classifier
from ..method.transfer import (HeldOutTarget, LabelledSource, Selection, check_no_leak, layer_neurons,
                               transfer_accuracy)
from ..mft.meta import meta_fine_tune
from ..mft.split import rows_sha, run_folder, split_domain, subsample
from ..mft.train import fine_tune, save_encoder
from ..render import DATASET_NAME, cell, markdown_table, classifier_note
from ..store import load, write
from ..store.paths import Store
from .context import context

log = logging.getLogger(__name__)

ENCODER_LABEL = {"pretrained": "pre-trained (frozen)", "bert_mix": "BERT (Mix) on the sources",
                 "mft": "MFT (Full) on the sources"}
ENCODER_FILE = "encoder.json"


def run(*, params: dict | None = None, root: str | Path | None = None, show_progress: bool = True) -> dict:
    """SingleTSNS transfer on pre-trained, BERT (Mix) and MFT encoders trained on each target's sources.

    Returns
    -------
    dict
        ``long`` (seed, target, source, encoder, method, K, accuracy), ``wide``,
        ``fingerprints``, ``metrics``, ``markdown``.
    """
    ctx = context(params, root)
    imp = ctx.section(ImportanceConfig)
    with compute_backend(imp.backend, imp.scheduler):
        return compute(ctx.store, ctx.section(MftTransferConfig), mft=ctx.section(MftConfig), importance=imp,
                       extract=ctx.section(ExtractConfig), transfer=ctx.section(TransferConfig),
                       show_progress=show_progress)


def compute(store: Store, cfg: MftTransferConfig, *, mft: MftConfig, importance: ImportanceConfig,
            extract: ExtractConfig, transfer: TransferConfig, show_progress: bool = True) -> dict:
    """:func:`run` on the files of ``store`` (encoders and activations in ``store.mft_transfer``)."""
    from ..encoder.model import select_device

    targets, encoders, K, seeds = list(cfg.targets), list(cfg.encoders), list(cfg.K), list(cfg.seeds)
    max_length, model, device, precision = cfg.max_length, mft.model, mft.device, mft.precision
    train_rows, clsf = mft.train_rows, transfer.classifier()
    ck = store.mft_transfer
    for d in targets:
        load.known(d)
    if "mft" in encoders and len(targets) < 3:
        raise ConfigError(f"mft_transfer.encoders includes mft, whose domain corruption needs two or more sources per "
                          f"target, but mft_transfer.targets={targets} leaves one: list three or more targets")
    used_device = select_device(device)
    ecfg0 = dataclasses.replace(extract, model=str(model), pooling="cls", max_length=int(max_length),
                                precision=precision, device=device)
    tables = {d: load.table(store, d) for d in targets}
    shas = {d: load.table_sha256(store, d) for d in targets}
    training = {k: getattr(mft, k) for k in ("layers", "lam", "alpha", "n_prototypes", "epochs", "finetune_epochs",
                                             "lr", "batch_size", "max_length")}
    training["layers"] = [int(v) for v in training["layers"]]
    imp_settings = importance.recorded()
    rows, fps, acts_cache = [], [], {}
    # the importance settings that change m, as a short tag of the cached m files
    imp_id = hashlib.sha256(json.dumps(dict(sorted(imp_settings.items())), default=str).encode()).hexdigest()[:12]
    for seed in seeds:
        train_all, _dev, _test = split_domain(pd.concat([tables[d].assign(domain=d) for d in targets],
                                                        ignore_index=True), seed=seed)
        train_all = subsample(train_all, train_rows, seed)
        for target in targets:
            sources = [d for d in targets if d != target]
            train = train_all[train_all.domain.isin(sources)].reset_index(drop=True)
            for kind in encoders:
                base = ck / ("pretrained" if kind == "pretrained" else f"seed{seed}/{target}/{kind}")
                identity = {"kind": kind, "model": str(model), "max_length": int(max_length)}
                if kind != "pretrained":
                    identity |= {"seed": seed, "sources": sources, "train_rows": train_rows,
                                 "train_sha": rows_sha(train), **training}
                folder = run_folder(base, identity)
                log.info("target %s, seed %d: encoder %s", target, seed, kind)
                enc = source_encoder(kind, train, sources=sources, shas=shas, model=str(model), folder=folder,
                                     root=store.root, mft=mft, seed=seed, device=device, precision=precision,
                                     show_progress=show_progress)
                ecfg = dataclasses.replace(ecfg0, model=enc.path)
                X, ls, labels = {}, None, None
                for d in sources + [target]:
                    # the pre-trained encoder's activations serve every target: kept in memory
                    key = (kind, d)
                    got = acts_cache.get(key) if kind == "pretrained" else None
                    if got is None:
                        got = _activations(enc, d, tables[d], shas[d], folder / "activations" / f"{d}.npy", ecfg,
                                           store.root)
                        if kind == "pretrained":
                            acts_cache[key] = got
                    X[d], ls, labels = got
                N = ls[0] * ls[1]
                held = HeldOutTarget(target, X[target], tables[target]["label"].to_numpy(), shas[target])
                for s in sources:
                    src = LabelledSource(s, X[s], tables[s]["label"].to_numpy(), shas[s])
                    fit_on = (shas[s], *enc.fit_on)
                    # m of this source on this encoder: kept beside the encoder's activations (resumable)
                    m_path = folder / "importance" / f"{s}-seed{seed}-{imp_id}.npy"
                    if verified(m_path):
                        m = np.load(m_path, allow_pickle=False)
                    else:
                        m = ranking(src.X, src.y, J=importance.J, beta=importance.beta, alpha=importance.alpha,
                                    eps=importance.eps, scaling=importance.scaling, params=importance,
                                    random_state=seed, n_jobs=importance.n_jobs)
                        record_checksum(m_path, atomic_save_npy(m_path, m))
                    sels = [Selection(layer_neurons(-1, ls), "last_layer", enc.fit_on),
                            Selection(np.arange(N), "all_layers", enc.fit_on)]
                    sels += [Selection(top_k(m, min(int(k), N)), "singletsns", fit_on, seed) for k in K]
                    for sel in sels:
                        check_no_leak(held, src, sel)  # before any training
                        clf = train_classifier(src.X, src.y, sel.neurons, clsf)
                        acc = transfer_accuracy(src, held, sel, clf=clf)
                        rows.append({"seed": seed, "target": target, "source": s, "encoder": kind,
                                     "method": sel.method, "K": sel.K, "C": clf.C_, "accuracy": acc})
                        if sel.method == "singletsns":
                            fps.append({"seed": seed, "target": target, "source": s, "encoder": kind, "K": sel.K,
                                        **{f"layer:{name}": float(v)
                                           for name, v in zip(labels, fingerprint(sel.neurons, ls))}})
    long = pd.DataFrame(rows)
    fp = pd.DataFrame(fps)
    wide = transfer_wide(long, encoders, targets)
    md = render(wide, fp, targets, {"model": str(model), "max_length": int(max_length), "train_rows": train_rows,
                                    "seeds": seeds, "device": used_device, "importance": imp_settings,
                                    "training": training}) + classifier_note(clsf, long["C"])
    write.csv(store.tables / "mft_transfer.csv", wide)
    write.csv(store.tables / "mft_transfer_long.csv", long)
    write.table(store.tables, "mft_transfer", markdown=md)
    metrics = write.metrics(store.metrics("mft_transfer"),
                            {f"{r.encoder}/{r.row}": round(float(r.average_mean) / 100, 4) for r in wide.itertuples()})
    return {"long": long, "wide": wide, "fingerprints": fp, "metrics": metrics, "markdown": md}


@dataclass(frozen=True)
class Encoder:
    """An encoder and the data whose labels trained it.

    Attributes
    ----------
    kind : str
        One of :data:`ENCODERS`.
    path : str
        ``"embedded"``, hub id or local folder (:func:`tsns.encoder.model.load_model`).
    fit_on : tuple of str
        ``table_sha256`` of every dataset whose labelled rows trained the encoder
        (empty for the pre-trained one).
    """

    kind: str
    path: str
    fit_on: tuple = field(default_factory=tuple)

    def location(self, root: Path) -> str:
        """Where to load it from: a trained encoder's ``path`` is relative to the repository root (so the
        recorded provenance does not depend on where the checkout lives)."""
        return self.path if self.kind == "pretrained" else str(Path(root) / self.path)


def check_sources_only(train: pd.DataFrame, sources: Sequence[str], target: str | None = None) -> None:
    """Raise TargetLeakError when the training rows of an encoder hold a domain that is not a source."""
    have = set(train["domain"].astype(str))
    extra = sorted(have - set(sources))
    if extra or (target is not None and target in have):
        raise TargetLeakError(f"the encoder's training rows hold {extra or [target]}, not only the sources "
                              f"{list(sources)}: train it on the sources' rows only")


def source_encoder(kind: str, train: pd.DataFrame, *, sources: Sequence[str], shas: dict, model: str, folder: Path,
                   root: Path,
                   mft: MftConfig, seed: int, device: str, precision: str, show_progress: bool = True) -> Encoder:
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
    root : path
        The repository root: the recorded path of the encoder is relative to it.
    mft : MftConfig
        The training settings (``layers, lam, alpha, n_prototypes, epochs, finetune_epochs, lr, batch_size,
        max_length``).
    seed, device, precision, show_progress : as in :func:`tsns.mft.train.fine_tune`.
    """
    if kind == "pretrained":
        return Encoder(kind, str(model), ())
    if kind not in ENCODERS:
        raise ConfigError(f"mft_transfer.encoders names {kind!r}: use {', '.join(ENCODERS)}")
    check_sources_only(train, sources)
    fit_on = tuple(shas[s] for s in sources)
    record = folder / ENCODER_FILE
    if record.exists():
        doc = json.loads(record.read_text())
        enc = Encoder(kind, doc["path"], tuple(doc["fit_on"]))
        if Path(enc.location(root)).is_dir():
            return enc
    t0 = time.perf_counter()
    if kind == "bert_mix":
        clf = fine_tune(train, None, model_or_path=str(model), epochs=mft.finetune_epochs, lr=mft.lr,
                          batch_size=mft.batch_size, max_length=mft.max_length, seed=seed, device=device,
                          precision=precision, show_progress=show_progress)
        path = save_encoder(clf.encoder, clf.tokenizer, folder / "encoder")
        del clf
    else:
        path = meta_fine_tune(train, model=str(model), layers=list(mft.layers), checkpoint_dir=folder / "meta",
                                domains=list(sources), lam=mft.lam, alpha=mft.alpha, epochs=mft.epochs,
                                lr=mft.lr, batch_size=mft.batch_size, max_length=mft.max_length, seed=seed,
                                device=device, precision=precision, variant="mft",
                                n_prototypes=mft.n_prototypes, show_progress=show_progress)
    path = Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    atomic_write_json(record, {"kind": kind, "path": path, "fit_on": list(fit_on), "sources": list(sources),
                               "n_train": len(train), "seconds": round(time.perf_counter() - t0, 3)})
    return Encoder(kind, path, fit_on)


def _activations(enc: Encoder, dataset: str, df: pd.DataFrame, sha: str, dest: Path, cfg,
                 root: Path) -> tuple[np.ndarray, tuple, list]:
    """[CLS] activations of every layer, flattened to (n, N) float32, extracted once into ``dest``; with their
    layer shape and layer labels."""
    if dest.exists():
        try:
            X, meta = load_activations(dest, expect={"dataset_sha256": sha, **cfg.result_keys()})
            return np.asarray(X, dtype=np.float32).reshape(len(X), -1), layer_shape(meta), layer_labels(meta)
        except ActivationFileError as exc:
            log.warning("%s: extracting again", str(exc).split(":")[0])
    extract_activations(df, dest, cfg, dataset=dataset, dataset_sha256=sha, partial_dir=dest.parent / ".partial",
                        show_progress=False, model_path=enc.location(root))
    X, meta = load_activations(dest, expect={"dataset_sha256": sha})
    return np.asarray(X, dtype=np.float32).reshape(len(X), -1), layer_shape(meta), layer_labels(meta)


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
            row["average_mean"], row["average_std"] = mean_std(per_seed / 100)
            out.append(row)
    return pd.DataFrame(out).round(2)


def render(wide: pd.DataFrame, fp: pd.DataFrame, targets: Sequence[str], s: dict) -> str:
    """Markdown: transfer accuracy per encoder and selection, the gain over the pre-trained encoder, fingerprints."""
    names = {t: DATASET_NAME.get(t, t) for t in targets}
    label = {"last_layer": "last layer", "all_layers": "all layers"}
    head = ["encoder", "neurons"] + [f"-> {names[t]}" for t in targets] + ["average", "vs. pre-trained"]
    base = {r.row: r.average_mean for r in wide.itertuples() if r.encoder == "pretrained"}
    rows = []
    for r in wide.itertuples():
        what = label.get(r.row, f"SingleTSNS K={r.K}")
        delta = r.average_mean - base[r.row] if r.row in base and r.encoder != "pretrained" else np.nan
        rows.append([ENCODER_LABEL[r.encoder], what] + [cell(wide.loc[r.Index, t]) for t in targets]
                    + ["**" + cell(r.average_mean, r.average_std, n=len(s["seeds"])) + "**", "-" if np.isnan(delta) else f"{delta:+.1f}"])
    K_fp = int(fp.K.max())
    g = fp[fp.K == K_fp]
    layers = [c for c in fp.columns if c.startswith("layer:")]
    fp_rows = [[ENCODER_LABEL[e]] + [f"{100 * g[g.encoder == e][c].mean():.0f}" for c in layers]
               for e in dict.fromkeys(g.encoder)]
    fp_head = ["encoder"] + [c.removeprefix("layer:") for c in layers]
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
        f"chose its neurons; `tsns.method.transfer.check_no_leak` refuses the target). Activations: [CLS] of every "
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
