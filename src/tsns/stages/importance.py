"""Stage ``importance@<dataset>`` (SingleTSNS): q, m and the ranking of one source, for every seed.

Writes ``data/importance/<dataset>.npz`` with arrays ``q`` (seeds, J, N) float32,
``m`` (seeds, N), ``order`` (seeds, N) and ``seeds``; and a JSON sidecar with the
settings used, the provenance (``fit_on``: checksums of the data used) and a
study of what alpha does under both scalings of eq. 1 (Jaccard of the top
``alpha_K`` set with the alpha = 1 set).

Resumable: every finished forest fit is kept (with its checksum) under
``data/interim/partial/importance/<dataset>/``, keyed by everything that determines it;
a re-run after a kill computes only the missing fits and gives the same bytes.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from ..config.extract import ExtractConfig
from ..config.importance import ImportanceConfig
from ..io import atomic_save_npy, atomic_savez, atomic_write_json, record_checksum, verified, versions
from ..method.parallel import compute_backend
from ..method.single import SCALINGS, aggregate, importance_matrix, jaccard, order, top_k
from ..store import load, write
from .context import context

log = logging.getLogger(__name__)

#: the alphas of the study of eq. 1's scaling, and the size of the top set compared
ALPHA_STUDY = (0.0, 0.5, 0.9, 0.99, 0.999, 1.0)
ALPHA_K = 500


def run(dataset: str, *, params: dict | None = None, root: str | Path | None = None) -> dict:
    """SingleTSNS of ``dataset`` for every seed; return the sidecar."""
    ctx = context(params, root)
    cfg = ctx.section(ImportanceConfig)
    seeds = ctx.seeds
    t0 = time.time()
    acts = load.activations(ctx.store, dataset, expect=ctx.section(ExtractConfig).expect())
    N = acts.X.shape[1]
    qs, ms, orders = [], [], []
    partial = ctx.store.partial("importance", dataset)
    with compute_backend(cfg.backend, cfg.scheduler):
        for s in seeds:
            log.info("importance %s, seed %s", dataset, s)
            done, on_fit = _resumable(partial, {"activations_sha256": acts.meta["array_sha256"], "seed": int(s),
                                                "J": int(cfg.J), "beta": float(cfg.beta), **cfg.recorded()})
            if done:
                log.info("importance %s, seed %s: %d of %d fits kept from an interrupted run", dataset, s,
                         len(done), cfg.J)
            q = importance_matrix(acts.X, acts.y, J=cfg.J, beta=cfg.beta, params=cfg, random_state=int(s),
                                  n_jobs=cfg.n_jobs, progress=True, desc="SingleTSNS", done=done, on_fit=on_fit)
            m = aggregate(q, alpha=cfg.alpha, eps=cfg.eps, scaling=cfg.scaling)
            qs.append(q.astype(np.float32))
            ms.append(m)
            orders.append(order(m))  # the full ranking, most important first
    K_alpha = min(ALPHA_K, N)
    alpha_study = []
    for sc in SCALINGS:
        for a in ALPHA_STUDY:
            jac = [jaccard(top_k(aggregate(q, alpha=a, eps=cfg.eps, scaling=sc), K_alpha),
                           top_k(aggregate(q, alpha=1.0, eps=cfg.eps, scaling=sc), K_alpha)) for q in qs]
            alpha_study.append({"scaling": sc, "alpha": a, "K": K_alpha, "jaccard_vs_alpha1": float(np.mean(jac))})
    stability = [jaccard(orders[i][:K_alpha], orders[j][:K_alpha])
                 for i in range(len(seeds)) for j in range(i + 1, len(seeds))]
    out = ctx.store.importance(dataset)
    npz_sha = atomic_savez(out, q=np.stack(qs), m=np.stack(ms), order=np.stack(orders),
                           seeds=np.asarray(list(seeds)))
    meta = {
        "dataset": dataset, "fit_on": [acts.sha256], "activations_sha256": acts.meta["array_sha256"],
        "layer_shape": list(acts.layer_shape), "N": N, "seeds": list(seeds), "params": cfg.recorded(),
        "npz_sha256": npz_sha, "alpha_study": alpha_study,
        "seed_stability_jaccard_topK": {"K": K_alpha, "mean": float(np.mean(stability)) if stability else None},
        "versions": versions(),
    }
    atomic_write_json(out.with_suffix(".json"), meta)
    shutil.rmtree(partial, ignore_errors=True)  # the finished fits are in the output now
    write.timing(ctx.store, f"importance@{dataset}", time.time() - t0)
    return meta


def _resumable(folder: Path, key: dict) -> tuple[dict, object]:
    """The fits an interrupted run of ``key`` finished (verified by checksum), and the callback that keeps new ones.

    ``folder/<12 hex of the key>/fit_<j>.npy``: everything that determines a fit is in the key (the activations'
    checksum, the seed, J, beta and the learner's settings), so a kept fit is the one a fresh run would compute.
    """
    tag = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    run = folder / tag
    done = {}
    if run.is_dir():
        for f in sorted(run.glob("fit_*.npy")):
            if verified(f):
                done[int(f.stem.split("_")[1])] = np.load(f, allow_pickle=False)

    def on_fit(j: int, row: np.ndarray) -> None:
        path = run / f"fit_{j:04d}.npy"
        record_checksum(path, atomic_save_npy(path, np.asarray(row, dtype=np.float64)))

    return done, on_fit
