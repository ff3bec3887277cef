"""Stage ``meta_nli@<row>``: MultiTSNS of one Table 5 row, for the budget ``nli.L`` and every budget of ``nli.L_sweep``.

The budget L is water-filled across the row's sources for the importance learners,
the alpha tuning and the final classifier, as in the paper. A row with one source is
SingleTSNS under the budget (:func:`tsns.method.multi.single_source`). The target's
activations are never loaded (only its checksum, to refuse a source with its data).

Writes ``data/meta_nli/<row>.npz`` with ``L`` (B,) (-1 = all rows), ``seeds`` (S,),
``order`` (B, S, N) -- neurons by decreasing h --, ``h`` (B, S, N) and ``alphas``
(B, S, P), and a JSON sidecar. When a source or the target is not in
``data.datasets``, the npz holds only ``L`` and ``seeds`` and the sidecar says
``"available": false``.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from ..config.data import DataConfig
from ..config.extract import ExtractConfig
from ..config.importance import ImportanceConfig
from ..config.meta import MetaConfig
from ..config.nli import NliConfig
from ..config.transfer import TransferConfig
from ..errors import ConfigError
from ..io import atomic_savez, atomic_write_json
from ..method.multi import multitsns, single_source
from ..method.parallel import compute_backend
from ..method.single import order
from ..store.qcache import DiskQCache
from ..store import write
from .context import context
from .nli_common import UNAVAILABLE, L_code, L_label, check_row

log = logging.getLogger(__name__)


def run(row: str, *, params: dict | None = None, root: str | Path | None = None) -> dict:
    """MultiTSNS (or budgeted SingleTSNS) of the Table 5 row ``row``, every budget and seed; return the sidecar."""
    ctx = context(params, root)
    cfg, m, imp = ctx.section(NliConfig), ctx.section(MetaConfig), ctx.section(ImportanceConfig)
    clsf = ctx.section(TransferConfig).classifier()
    seeds = ctx.seeds
    t0 = time.time()
    if row not in cfg.scenarios:
        raise ConfigError(f"unknown Table 5 row {row!r}: use one of {', '.join(cfg.scenarios)} (nli.scenarios)")
    sources, target = check_row(row, cfg.scenarios[row], cfg.targets)
    Ls = cfg.budgets()
    out = ctx.store.meta_nli(row)
    missing = [d for d in sources + [target] if d not in set(ctx.section(DataConfig).datasets)]
    base = {"scenario": row, "sources": sources, "target": target, "L": [L_code(x) for x in Ls], "seeds": list(seeds)}
    if missing:
        sha = atomic_savez(out, L=np.array([L_code(x) for x in Ls]), seeds=np.asarray(list(seeds)))
        meta = {**base, "available": False, "missing": missing, "fit_on": [], "npz_sha256": sha}
        atomic_write_json(out.with_suffix(".json"), meta)
        log.debug("%s: %s (%s)", row, UNAVAILABLE, ", ".join(missing))
        return meta
    acts = ctx.sources(sources, target, f"row {row}", expect=ctx.section(ExtractConfig).expect())
    ls = acts[sources[0]].layer_shape
    N = ls[0] * ls[1]
    src = {d: a.source() for d, a in acts.items()}
    tune_K = min(int(m.tune_K), N)
    cache = DiskQCache(ctx.store.qcache)
    fields: dict[str, list] = {k: [] for k in ("order", "h", "alphas")}
    chosen, chosen_C, fit_on, learners = {}, {}, set(), None
    with compute_backend(imp.backend, imp.scheduler):
        for Lb in Ls:
            per: dict[str, list] = {k: [] for k in fields}
            for s in seeds:
                if len(sources) == 1:
                    res = single_source(src, K=tune_K, J=m.J, beta=m.beta, eps=imp.eps, params=imp, L=Lb,
                                        random_state=int(s), n_jobs=imp.n_jobs, cache=cache)
                else:
                    res = multitsns(src, K=tune_K, pairing=m.pairing, J=m.J, beta=m.beta, gamma=m.gamma,
                                    alpha_grid=m.alpha_grid, eps=imp.eps, scaling=m.scaling, params=imp, L=Lb,
                                    classifier=clsf, random_state=int(s), n_jobs=imp.n_jobs, cache=cache)
                log.info("%s L=%s seed %s: alphas %s", row, L_label(Lb), s, res.alphas.tolist())
                per["order"].append(order(res.h))
                per["h"].append(res.h)
                per["alphas"].append(res.alphas)
                chosen[f"L{L_label(Lb)}_seed{s}"] = res.alphas.tolist()
                chosen_C[f"L{L_label(Lb)}_seed{s}"] = res.tune_C.tolist()
                fit_on |= set(res.fit_on)
                learners = res.learners
            for k in fields:
                fields[k].append(np.stack(per[k]))
    arrays = {k: np.stack(v) for k, v in fields.items()}
    sha = atomic_savez(out, L=np.array([L_code(x) for x in Ls]), seeds=np.asarray(list(seeds)), **arrays)
    meta = {**base, "available": True, "fit_on": sorted(fit_on),
            "learners": [[list(a), list(b)] for a, b in learners], "chosen_alphas": chosen, "chosen_C": chosen_C,
            "N": N, "layer_shape": list(ls), "tune_K": tune_K,
            "activations_sha256": {d: a.meta["array_sha256"] for d, a in acts.items()},
            "params": {"pairing": m.pairing if len(sources) > 1 else "single", "J": m.J, "beta": m.beta,
                       "gamma": m.gamma, "alpha_grid": list(m.alpha_grid), "eps": imp.eps, "scaling": m.scaling,
                       "C": clsf.C, "C_grid": list(clsf.C_grid), "cv_folds": clsf.cv_folds,
                       **imp.learner_params().as_dict()},
            "npz_sha256": sha}
    atomic_write_json(out.with_suffix(".json"), meta)
    write.timing(ctx.store, f"meta_nli@{row}", time.time() - t0, qcache_hits=cache.hits, qcache_misses=cache.misses)
    return meta
