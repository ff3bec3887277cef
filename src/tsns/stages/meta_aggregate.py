"""Stage ``meta_aggregate@<scenario>`` (MultiTSNS): the meta-importance of one scenario's sources, every seed.

A *scenario* (``meta.scenarios``) names M source datasets and one target. The
target's activations are never loaded: only its checksum, to refuse a source
with the same data. Each learner tunes alpha with the top ``meta.tune_K``
neurons; the ranking by h does not depend on K after that, so every K of
Table 4 is a prefix of ``order``.

Writes ``data/meta/<scenario>.npz`` with ``order`` (S, N) -- neurons by
decreasing h --, ``h`` (S, N), ``ranks`` (S, P, N), ``alphas`` (S, P),
``tuning`` (S, P, A) and ``seeds`` (S,), and a JSON sidecar whose ``fit_on``
lists the checksums of every source used. Learner importances q are shared
through the on-disk cache (:class:`tsns.store.qcache.DiskQCache`).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from ..config.extract import ExtractConfig
from ..config.importance import ImportanceConfig
from ..config.meta import MetaConfig
from ..config.transfer import TransferConfig
from ..io import atomic_savez, atomic_write_json
from ..method.multi import multitsns
from ..method.parallel import compute_backend
from ..method.single import order
from ..store.qcache import DiskQCache
from ..store import write
from .context import context

log = logging.getLogger(__name__)


def run(scenario: str, *, params: dict | None = None, root: str | Path | None = None) -> dict:
    """MultiTSNS of ``scenario`` for every seed; return the sidecar."""
    ctx = context(params, root)
    cfg, imp = ctx.section(MetaConfig), ctx.section(ImportanceConfig)
    clsf = ctx.section(TransferConfig).classifier()
    seeds = ctx.seeds
    t0 = time.time()
    sources, target = cfg.scenario(scenario)
    acts = ctx.sources(sources, target, f"scenario {scenario}", expect=ctx.section(ExtractConfig).expect())
    ls = acts[sources[0]].layer_shape
    N = ls[0] * ls[1]
    src = {d: a.source() for d, a in acts.items()}
    tune_K = min(int(cfg.tune_K), N)
    cache = DiskQCache(ctx.store.qcache)
    fields: dict[str, list] = {k: [] for k in ("order", "h", "ranks", "alphas", "tuning", "tune_C")}
    with compute_backend(imp.backend, imp.scheduler):
        for s in seeds:
            res = multitsns(src, K=tune_K, pairing=cfg.pairing, J=cfg.J, beta=cfg.beta, gamma=cfg.gamma,
                            alpha_grid=cfg.alpha_grid, eps=imp.eps, scaling=cfg.scaling, params=imp, L=cfg.L, classifier=clsf,
                            random_state=int(s), n_jobs=imp.n_jobs, cache=cache)
            log.info("%s seed %s: alphas %s", scenario, s, res.alphas.tolist())
            for k, v in (("order", order(res.h)), ("h", res.h), ("ranks", res.ranks), ("alphas", res.alphas),
                         ("tuning", res.tuning), ("tune_C", res.tune_C)):
                fields[k].append(v)
    arrays = {k: np.stack(v) for k, v in fields.items()}
    out = ctx.store.meta(scenario)
    sha = atomic_savez(out, seeds=np.asarray(list(seeds)), **arrays)
    meta = {"scenario": scenario, "sources": sources, "target": target, "fit_on": list(res.fit_on),
            "learners": [[list(a), list(b)] for a, b in res.learners],
            "alpha_grid": list(map(float, res.alpha_grid)),
            "chosen_alphas": {f"seed{s}": arrays["alphas"][i].tolist() for i, s in enumerate(seeds)},
            "N": N, "layer_shape": list(ls), "seeds": list(seeds), "tune_K": tune_K,
            "activations_sha256": {d: a.meta["array_sha256"] for d, a in acts.items()},
            "params": {"pairing": cfg.pairing, "J": cfg.J, "beta": cfg.beta, "gamma": cfg.gamma, "eps": imp.eps,
                       "scaling": cfg.scaling, "L": cfg.L, "C": clsf.C, "C_grid": list(clsf.C_grid),
                       "cv_folds": clsf.cv_folds, **imp.learner_params().as_dict()},
            "chosen_C": {f"seed{s}": arrays["tune_C"][i].tolist() for i, s in enumerate(seeds)},
            "npz_sha256": sha}
    atomic_write_json(out.with_suffix(".json"), meta)
    write.timing(ctx.store, f"meta_aggregate@{scenario}", time.time() - t0, qcache_hits=cache.hits,
                 qcache_misses=cache.misses)
    return meta
