"""Stage ``mft``: BERT (S), BERT (Mix) and MFT (DC / TW / Full) on the Amazon domains (the MFT paper's Table 3).

Meta Fine-Tuning (Wang et al. 2020, :mod:`tsns.mft`) trains the encoder instead of
selecting its neurons. For every seed ``k``: each domain's table is split
87.5 / 6.25 / 6.25 into train / dev / test (:func:`tsns.mft.split.split_domain`)
and its training part cut to ``mft.train_rows`` rows (stratified). Then

* ``bert_s``: fine-tune the pre-trained encoder on each domain's training rows;
* ``bert_mix``: one fine-tune on all domains' training rows pooled;
* ``mft_dc`` / ``mft_tw`` / ``mft``: meta fine-tune that variant on all domains'
  training rows, then fine-tune per domain from the meta-learned encoder;

each scored on the domains' test rows. Every fine-tune gets the same budget; the dev
rows choose the best epoch when ``finetune_epochs > 1``. Checkpoints live under
``data/mft/<method>/seed<k>/`` (a persistent DVC output): a re-run skips every
finished piece and resumes meta fine-tuning after its last complete epoch. The
lowest- and highest-typicality training reviews per domain (the paper's Table 5)
are rendered too.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..config.mft import MftConfig
from ..io import atomic_savez, atomic_write_json, record_checksum, verified
from ..mft.meta import TYPICALITY_FILE, meta_fine_tune
from ..method.stats import mean_std
from ..mft.split import done, rows_sha, run_folder, split_domain, subsample
from ..mft.train import encode_items, evaluate, fine_tune, last_layer_mean, pad_id_of
from ..mft.typicality import typicality, typicality_cases, typicality_multi
from ..reference import wang2020 as W
from ..render import DATASET_NAME, DOMAIN_LETTER, cell, markdown_table, metrics_from_wide
from ..store import load, write
from ..store.paths import Store
from .context import context

log = logging.getLogger(__name__)

#: Methods of the MFT table in the paper's row order: BERT (S), BERT (Mix) and the MFT variants.
METHODS: tuple[str, ...] = ("bert_s", "bert_mix", "mft_dc", "mft_tw", "mft")
METHOD_LABEL = {"bert_s": "BERT (S)", "bert_mix": "BERT (Mix)", "mft_dc": "MFT (DC)", "mft_tw": "MFT (TW)",
                "mft": "MFT (Full)"}
#: Lowest and highest typicality reviews shown per domain (the paper's Table 5 shows 1-2 per domain and end).
N_CASES = 3
#: Characters of a review shown in the typicality case table.
CASE_CHARS = 200


def run(*, params: dict | None = None, root: str | Path | None = None, show_progress: bool = True) -> dict:
    """The MFT table and the typicality case table.

    Returns
    -------
    dict
        ``long`` (method, seed, domain, accuracy in [0, 1]), ``wide`` (one row per
        method, % with the paper's numbers), ``metrics``, ``markdown``,
        ``typicality`` (the case table as a DataFrame), ``typicality_markdown`` and ``n_fits``.
    """
    ctx = context(params, root)
    return compute(ctx.store, ctx.section(MftConfig), show_progress=show_progress)


def compute(store: Store, cfg: MftConfig, *, show_progress: bool = True) -> dict:
    """:func:`run` on the files of ``store`` with the settings ``cfg`` (checkpoints in ``store.mft``)."""
    from ..encoder.model import select_device

    domains, seeds, variants = list(cfg.domains), list(cfg.seeds), list(cfg.variants)
    layers, lam, alpha, n_prototypes, epochs = cfg.layers, cfg.lam, cfg.alpha, cfg.n_prototypes, cfg.epochs
    finetune_epochs, lr, batch_size, max_length = cfg.finetune_epochs, cfg.lr, cfg.batch_size, cfg.max_length
    train_rows, model, device, precision = cfg.train_rows, cfg.model, cfg.device, cfg.precision
    ck = store.mft
    for d in domains:
        load.known(d)
    used_device = select_device(device)

    table = pd.concat([load.table(store, d).assign(domain=d) for d in domains], ignore_index=True)
    labels = sorted(table["label"].unique().tolist(), key=str)
    common = {"model": str(model), "finetune_epochs": int(finetune_epochs), "lr": float(lr),
              "batch_size": int(batch_size), "max_length": int(max_length), "train_rows": train_rows,
              "domains": domains, "labels": [str(v) for v in labels]}
    meta_settings = {"layers": [int(l) for l in layers], "lam": float(lam), "alpha": float(alpha),
                     "n_prototypes": int(n_prototypes), "epochs": int(epochs)}
    ft = {"labels": labels, "finetune_epochs": int(finetune_epochs), "lr": float(lr), "batch_size": int(batch_size),
          "max_length": int(max_length), "device": device, "precision": precision, "show_progress": show_progress}

    rows, splits, seconds, typ_files = [], {}, {m: 0.0 for m in variants}, {}
    n_fits = 0
    for seed in seeds:
        train, dev, test = split_domain(table, seed=seed)
        train = subsample(train, train_rows, seed)
        splits[seed] = (train, dev, test)
        part = {d: (train[train.domain == d].reset_index(drop=True), dev[dev.domain == d].reset_index(drop=True),
                    test[test.domain == d].reset_index(drop=True)) for d in domains}
        data_id = {"seed": seed, "train_sha": rows_sha(train), "dev_sha": rows_sha(dev), "test_sha": rows_sha(test)}
        use_dev = finetune_epochs > 1
        for method in variants:
            identity = {"method": method, **common, **data_id, **(meta_settings if method.startswith("mft") else {})}
            folder = run_folder(ck / method / f"seed{seed}", identity)
            if method in ("mft", "mft_tw"):  # their typicality scores serve the case study
                typ_files.setdefault(seed, []).append(folder / "meta" / TYPICALITY_FILE)
            if method == "bert_mix":
                res = done(folder / "mix.json")
                if res is None:
                    log.info("BERT (Mix), seed %d: fine-tuning on %d pooled training rows", seed, len(train))
                    res = _fit_and_score(train, dev if use_dev else None, {d: part[d][2] for d in domains},
                                         model_or_path=str(model), seed=seed, **ft)
                    atomic_write_json(folder / "mix.json", res)
                    n_fits += 1
                seconds[method] += res["seconds"]
                rows += [{"method": method, "seed": seed, "domain": d, "accuracy": float(res["accuracy"][d])}
                         for d in domains]
                continue
            todo = [d for d in domains if done(folder / f"{d}.json") is None]
            start = str(model)
            if method != "bert_s" and todo:
                t0 = time.perf_counter()
                log.info("%s, seed %d: meta fine-tuning on %d training rows of %d domains", METHOD_LABEL[method],
                         seed, len(train), len(domains))
                start = str(meta_fine_tune(train, model=str(model), layers=layers, checkpoint_dir=folder / "meta",
                                           domains=domains, lam=lam, alpha=alpha, epochs=epochs, lr=lr,
                                           batch_size=batch_size, max_length=max_length, seed=seed, device=device,
                                           precision=precision, variant=method, n_prototypes=n_prototypes,
                                           show_progress=show_progress))
                if not (folder / "meta.json").exists():  # a resumed run keeps the first record
                    atomic_write_json(folder / "meta.json", {"seconds": round(time.perf_counter() - t0, 3)})
                n_fits += 1
            for d in domains:
                res = done(folder / f"{d}.json")
                if res is None:
                    tr, dv, te = part[d]
                    log.info("%s, seed %d, %s: fine-tuning on %d rows, testing on %d", METHOD_LABEL[method], seed, d,
                             len(tr), len(te))
                    res = _fit_and_score(tr, dv if use_dev else None, {d: te}, model_or_path=start, seed=seed, **ft)
                    atomic_write_json(folder / f"{d}.json", res)
                    n_fits += 1
                seconds[method] += res["seconds"]
                rows.append({"method": method, "seed": seed, "domain": d, "accuracy": float(res["accuracy"][d])})
            if (folder / "meta.json").exists():
                seconds[method] += json.loads((folder / "meta.json").read_text()).get("seconds", 0.0)
    long = pd.DataFrame(rows, columns=["method", "seed", "domain", "accuracy"])
    wide = mft_wide(long, variants, domains)

    # typicality case study (paper Table 5): the pre-trained encoder on the first seed's training rows
    train0 = splits[seeds[0]][0]
    t = _base_typicality(train0, domains, model=str(model), alpha=alpha, n_prototypes=n_prototypes, seed=seeds[0],
                         batch_size=batch_size, max_length=max_length, device=device, precision=precision,
                         checkpoints=ck, candidates=typ_files.get(seeds[0], []))
    cases = typicality_cases(train0["text_a"].tolist(), t, train0["domain"].to_numpy(), n=N_CASES,
                             labels=train0["label"].to_numpy())

    n_train = {d: int((train0.domain == d).sum()) for d in domains}
    n_test = {d: int((splits[seeds[0]][2].domain == d).sum()) for d in domains}
    settings = {"model": str(model), "max_length": int(max_length), "epochs": int(epochs),
                "finetune_epochs": int(finetune_epochs), "lr": float(lr), "batch_size": int(batch_size),
                "layers": [int(l) for l in layers], "lam": float(lam), "alpha": float(alpha),
                "n_prototypes": int(n_prototypes), "train_rows": train_rows, "n_train": n_train, "n_test": n_test,
                "seeds": seeds, "device": used_device, "precision": precision}
    for m, s in seconds.items():  # training and testing time of each method, outside the tracked outputs
        write.timing(store, f"mft/{m}", s)
    md = render_mft(wide, domains, settings)
    tmd = render_typicality(cases, alpha=alpha, n_prototypes=n_prototypes, model=str(model), seed=seeds[0],
                            max_length=max_length)
    write.table(store.tables, "mft", wide=wide, markdown=md)
    write.table(store.tables, "mft_typicality", markdown=tmd)
    cols = {d: f"{d}_mean" for d in domains} | {"average": "average_mean"}
    metrics = write.metrics(store.metrics("mft"), metrics_from_wide(wide, "method", cols))
    log.info("stage mft: %d fits run, %d seeds, %d methods", n_fits, len(seeds), len(variants))
    return {"long": long, "wide": wide, "metrics": metrics, "markdown": md, "typicality": cases,
            "typicality_markdown": tmd, "n_fits": n_fits}




def _fit_and_score(train: pd.DataFrame, dev: pd.DataFrame | None, tests: dict[str, pd.DataFrame], *,
                   model_or_path: str, labels: Sequence, seed: int, finetune_epochs: int, lr: float,
                   batch_size: int, max_length: int, device: str, precision: str, show_progress: bool) -> dict:
    """Fine-tune once, then the accuracy on every test table: ``{domain: accuracy}`` plus bookkeeping."""
    t0 = time.perf_counter()
    clf = fine_tune(train, dev, model_or_path=model_or_path, epochs=finetune_epochs, lr=lr, batch_size=batch_size,
                    max_length=max_length, seed=seed, device=device, precision=precision, labels=labels,
                    show_progress=show_progress)
    acc = {d: evaluate(clf, df, batch_size=max(batch_size, 64)) for d, df in tests.items()}
    out = {"accuracy": acc, "history": clf.history, "n_train": len(train), "n_test": {d: len(df) for d, df in tests.items()},
           "seconds": round(time.perf_counter() - t0, 3), "device": clf.device}
    del clf
    return out


def _base_typicality(train: pd.DataFrame, domains: Sequence[str], *, model: str, alpha: float, n_prototypes: int,
                     seed: int, batch_size: int, max_length: int, device: str, precision: str,
                     checkpoints: Path, candidates: Sequence[Path] = ()) -> np.ndarray:
    """Typicality of ``train``'s rows under the *pre-trained* encoder (as MFT computes it, equations (2)/(3)).

    Reuses the scores that :func:`meta_fine_tune` stored for the MFT (Full) or MFT (TW)
    run of the same rows; otherwise computes them and keeps them in
    ``checkpoints/typicality/seed<k>.npz``.
    """
    ids = train["id"].astype(str).to_numpy()
    own = checkpoints / "typicality" / f"seed{seed}.npz"
    identity = json.dumps({"model": str(model), "alpha": float(alpha), "n_prototypes": int(n_prototypes),
                           "max_length": int(max_length), "rows_sha": rows_sha(train)}, sort_keys=True)
    for path in [*candidates, own]:
        if verified(path):
            with np.load(path, allow_pickle=False) as z:
                if z["ids"].astype(str).tolist() == ids.tolist() and (path != own or str(z["identity"]) == identity):
                    return z["typicality"].astype(np.float64)
    from ..encoder.model import load_model, select_device

    device = select_device(device)
    tokenizer, encoder, _ = load_model(model, device)
    items = encode_items(tokenizer, train, max_length)
    H = last_layer_mean(encoder, items, batch_size=max(batch_size, 64), device=device, precision=precision,
                         pad_id=pad_id_of(tokenizer))
    y = train["label"].to_numpy()
    d = np.array([list(domains).index(v) for v in train["domain"].tolist()])
    t = typicality(H, y, d, alpha=alpha) if n_prototypes == 1 else typicality_multi(
        H, y, d, alpha=alpha, n_prototypes=n_prototypes, random_state=seed)
    record_checksum(own, atomic_savez(own, typicality=t, ids=ids.astype("U"), identity=np.array(identity)))
    return np.asarray(t, dtype=np.float64)


def mft_wide(long: pd.DataFrame, methods: Sequence[str], domains: Sequence[str]) -> pd.DataFrame:
    """One row per method: mean and std over seeds (in %) per domain and of the per-seed average, beside the paper."""
    rows = []
    for m in methods:
        g = long[long.method == m]
        pap = W.TABLE3.get(m, {})
        row = {"method": m, "label": METHOD_LABEL[m], "status": "ok"}
        for d in domains:
            acc = 100 * g[g.domain == d].sort_values("seed")["accuracy"].to_numpy()
            row[f"{d}_mean"], row[f"{d}_std"] = mean_std(acc / 100)
            row[f"paper_{d}"] = pap.get(DOMAIN_LETTER.get(d, ""), np.nan)
        avg = 100 * g.groupby("seed")["accuracy"].mean().to_numpy()
        row["average_mean"], row["average_std"] = mean_std(avg / 100)
        row["paper_average"] = pap.get("Average", np.nan) if set(domains) == set(DOMAIN_LETTER) else np.nan
        rows.append(row)
    return pd.DataFrame(rows).round(2)


def render_mft(wide: pd.DataFrame, domains: Sequence[str], s: dict) -> str:
    """Markdown: the MFT table (ours mean ± std over seeds beside the MFT paper's Table 3) and a note."""
    names = {d: DATASET_NAME.get(d, d) for d in domains}
    head = ["method"]
    for d in domains:
        head += [f"ours: {names[d]}", f"paper: {names[d]}"]
    head += ["ours: average", "paper: average"]
    rows = []
    for _, r in wide.iterrows():
        cells = [r.label]
        for d in domains:
            cells += [cell(r[f"{d}_mean"], r[f"{d}_std"], n=len(s["seeds"])), cell(r[f"paper_{d}"])]
        cells += ["**" + cell(r.average_mean, r.average_std, n=len(s["seeds"])) + "**", cell(r.paper_average)]
        rows.append(cells)
    enc = "embedded (all-MiniLM-L6-v2, 6 layers, 384 wide)" if s["model"] == "embedded" else s["model"]
    rows_txt = "all" if s["train_rows"] is None else f"at most {s['train_rows']}"
    note = (
        f"\n\nAccuracy (%) on each domain's test rows. **ours**: encoder `{enc}`, max_length {s['max_length']} "
        f"tokens, meta fine-tuning {s['epochs']} epoch(s) with L_s = {s['layers']}, lambda = {s['lam']:g}, "
        f"alpha = {s['alpha']:g}, {s['n_prototypes']} prototype(s) per (domain, class); every fine-tune "
        f"{s['finetune_epochs']} epoch(s), learning rate {s['lr']:g}, batch {s['batch_size']}; {rows_txt} training "
        f"rows per domain (seed {s['seeds'][0]}: {', '.join(f'{names[d]} {n}' for d, n in s['n_train'].items())}; "
        f"test rows {', '.join(f'{names[d]} {n}' for d, n in s['n_test'].items())}); mean ± std over seeds "
        f"{s['seeds']} (each seed its own split, subsample, initialisation and batch order); run on "
        f"{s['device']} (precision {s['precision']}); each method's training time is in `logs/timings.jsonl`.\n\n"
        "Splits follow the MFT paper: each domain's 2,000 reviews are split 87.5 % / 6.25 % / 6.25 % into train / "
        "dev / test (Table 1: about 1,750 / 125 / 125). **BERT (S)** fine-tunes the pre-trained encoder on each "
        "domain separately, **BERT (Mix)** once on all domains' training rows pooled; **MFT (DC)** meta fine-tunes "
        "with the skip-layer domain corruption loss only, **MFT (TW)** with typicality weighting only, **MFT (Full)** "
        "with both, each then fine-tuned per domain; all fine-tunes have the same budget.\n\n"
        "**paper**: Wang et al. (2020), *Meta Fine-Tuning Neural Language Models for Multi-Domain Text Mining*, "
        "Table 3 (BERT-base, full training data, 1-2 MFT epochs and 2-4 fine-tuning epochs at learning rate 2e-5); "
        "shown for comparison only, never used in any computation. Our settings are far smaller (the encoder "
        f"above instead of BERT-base, {s['max_length']}-token inputs, a fraction of the training rows, "
        f"{s['epochs']} + {s['finetune_epochs']} epoch(s)), so absolute accuracies are lower and the comparison is "
        "about the relative order of the methods, not the numbers.\n"
    )
    return "# MFT: meta fine-tuning vs. per-domain and mixed fine-tuning (Amazon)\n\n" + markdown_table(head, rows) + note


def render_typicality(cases: pd.DataFrame, *, alpha: float, n_prototypes: int, model: str, seed: int,
                      max_length: int) -> str:
    """Markdown: the lowest- and highest-typicality training reviews per domain (the MFT paper's Table 5)."""
    def text(t: str) -> str:
        t = " ".join(str(t).split()).replace("|", "\\|")
        return t if len(t) <= CASE_CHARS else t[:CASE_CHARS].rstrip() + " ..."

    rows = [[r.typicality, DATASET_NAME.get(r.domain, r.domain), {0: "NEG", 1: "POS"}.get(int(r.label),
             str(r.label)), f"{r.score:.3f}", text(r.text)] for _, r in cases.iterrows()]
    head = ["typicality", "domain", "label", "score t", "review text"]
    note = (
        f"\n\nThe {N_CASES} lowest and {N_CASES} highest typicality scores t_i^k per domain among the training rows "
        f"of seed {seed}, from the pre-trained encoder `{model}` (mean-pooled last layer, max_length {max_length}), "
        f"alpha = {alpha:g}, {n_prototypes} prototype(s) per (domain, class) (equation (2) of the MFT paper"
        f"{'' if n_prototypes == 1 else ', multi-prototype form (3)'}). A high score means the review is close to "
        "its class prototype in its own domain and in the other domains (knowledge that transfers), a low one that "
        "it is atypical (the paper's Table 5: low scores for product-specific remarks, high ones for general "
        f"polarity expressions). Texts cut to {CASE_CHARS} characters.\n"
    )
    return "# Typicality case study (MFT paper, Table 5)\n\n" + markdown_table(head, rows) + note

