"""Importance benchmark: the learners of q on one real source, against the paper's random forest.

For one source (default: the Amazon ``books`` activations of the pipeline), every
configuration computes SingleTSNS (eq. 1, alpha = 1) and is compared with the paper's
learner -- a random forest of 1000 trees of depth 200 -- on:

* wall time of the J fits (all cores, joblib);
* agreement of the top-K set (Jaccard, K = 500) with the reference, run with two seeds;
  the Jaccard between the two reference seeds is the ceiling any learner can reach;
* transfer accuracy of a logistic regression on the top-K neurons (``--target``, default
  ``dvd``): a lower Jaccard matters only if it costs accuracy.

``--paper`` runs the reference at the paper's J = 100 (about 25 minutes per seed for
MiniLM on 2 cores); the default J = 10 has the same total trees as J = 100 x 100 trees.
``--memory`` also measures the peak resident memory of the importance stage
(:func:`tsns.stages.importance.run`) for several sources, against their activation size.

    python benchmarks/bench_importance.py                    # ~6 min on 2 cores
    python benchmarks/bench_importance.py --paper --memory

Run ``dvc repro extract@books extract@dvd`` first (the activations it reads).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tsns.method.learners import LearnerParams  # noqa: E402
from tsns.method.single import aggregate, importance_matrix, jaccard, top_k  # noqa: E402
from tsns.method.validation import PARAMS  # noqa: E402

METHODS = PARAMS["method"].options

#: name -> (method, n_estimators, J); the first is the pipeline's default setting
CONFIGS = {
    "rf100_J10 (pipeline default)": ("random_forest", 100, 10),
    "rf50_J10": ("random_forest", 50, 10),
    "rf100_J5": ("random_forest", 100, 5),
    "rf30_J10": ("random_forest", 30, 10),
    "extra_trees100_J10": ("extra_trees", 100, 10),
    "extra_trees300_J10": ("extra_trees", 300, 10),
    "xgboost_rf100_J10": ("xgboost_rf", 100, 10),
    "l1_logistic_J10": ("l1_logistic", 1, 10),
    "anova_f_J10": ("anova_f", 1, 10),
}


def load(dataset: str, root: Path):
    from tsns.store import load as L
    from tsns.store.paths import Store

    acts = L.activations(Store(root), dataset)
    return np.asarray(acts.X, dtype=np.float32), np.asarray(acts.y)


def selection(X, y, method, n_estimators, J, seed, K, max_depth=None):
    t0 = time.perf_counter()
    q = importance_matrix(X, y, J=J, beta=0.7, params=LearnerParams(method=method, n_estimators=n_estimators,
                                                                    max_depth=max_depth), random_state=seed, n_jobs=-1)
    return top_k(aggregate(q, alpha=1.0), K), time.perf_counter() - t0


def accuracy(Xs, ys, Xt, yt, neurons) -> float:
    from tsns.method.transfer import train_classifier

    clf = train_classifier(Xs, ys, neurons)
    return float((clf.predict(Xt[:, neurons]) == yt).mean())


def memory_probe(dataset: str, J: int, data_root: Path, backend: str) -> dict:
    """Run in a child: peak memory of the importance stage for one source, workers included.

    A thread samples the proportional set size (PSS: shared pages such as the memory-mapped
    activations counted once) of this process and all its children every 0.2 s.
    """
    import threading

    import psutil
    import sklearn.ensemble  # noqa: F401  (imports the stage needs, outside the measured increase)

    import yaml

    import tsns.stages.importance as I

    me = psutil.Process()

    def tree_pss() -> int:
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total

    base = tree_pss()
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.2):
            peak[0] = max(peak[0], tree_pss())

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    side = json.loads((data_root / "data/activations" / f"{dataset}.json").read_text())
    nbytes32 = int(np.prod(side["shape"])) * 4
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # write the outputs elsewhere: the pipeline's files stay as they are
        root = Path(tmp)
        for sub in ("data/activations", "data/processed"):
            (root / sub).mkdir(parents=True)
        for f in (f"data/activations/{dataset}.npy", f"data/activations/{dataset}.json",
                  f"data/processed/{dataset}.parquet", f"data/processed/{dataset}.json"):
            os.symlink(data_root / f, root / f)
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        params["seeds"] = [0]
        params["importance"].update(J=J, beta=0.7, alpha=1.0, eps=1e-6, scaling="literal", n_estimators=20,
                                    n_jobs=-1, backend=backend, scheduler=None)
        I.run(dataset, params=params, root=root)
        shutil.rmtree(root / "data" / "importance", ignore_errors=True)
    stop.set()
    th.join()
    mb = 2**20
    return {"dataset": dataset, "backend": backend, "shape": side["shape"], "activations_float32_mb": nbytes32 / mb,
            "baseline_pss_mb": base / mb, "peak_pss_mb": peak[0] / mb, "stage_increase_mb": (peak[0] - base) / mb,
            "peak_rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="books")
    p.add_argument("--target", default="dvd")
    p.add_argument("--K", type=int, default=500)
    p.add_argument("--ref-J", type=int, default=10)
    p.add_argument("--paper", action="store_true", help="reference at the paper's J=100")
    p.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of: " + ", ".join(CONFIGS))
    p.add_argument("--memory", action="store_true")
    p.add_argument("--memory-datasets", default="books,imdb,snli")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "importance.json"))
    p.add_argument("--root", default=str(ROOT), help="the pipeline checkout whose data/ holds the activations")
    p.add_argument("--probe", help=argparse.SUPPRESS)
    p.add_argument("--backend", default="threading", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.probe:
        print(json.dumps(memory_probe(a.probe, J=4, data_root=Path(a.root).resolve(), backend=a.backend)))
        return 0
    ref_J = 100 if a.paper else a.ref_J

    root = Path(a.root).resolve()
    X, y = load(a.dataset, root)
    Xt, yt = load(a.target, root)
    print(f"{a.dataset}: X {X.shape}; reference: random forest 1000 trees, depth 200, J={ref_J}", file=sys.stderr)
    ref, ref_s = [], []
    for seed in (0, 1):
        sel, s = selection(X, y, "random_forest", 1000, ref_J, seed, a.K, max_depth=200)
        ref.append(sel)
        ref_s.append(s)
        print(f"  reference seed {seed}: {s:.0f} s", file=sys.stderr)
    ceiling = jaccard(ref[0], ref[1])
    rows = [{"config": f"paper RF (1000 trees, depth 200, J={ref_J})", "method": "random_forest", "n_estimators": 1000,
             "J": ref_J, "seconds": float(np.mean(ref_s)), "jaccard_vs_paper_rf": ceiling,
             "transfer_acc": accuracy(X, y, Xt, yt, ref[0])}]
    for name in a.configs.split(","):
        method, n_est, J = CONFIGS[name]
        if method not in METHODS:
            continue
        if method == "xgboost_rf":
            try:
                import xgboost  # noqa: F401
            except ImportError:
                print("skip xgboost_rf: pip install xgboost-cpu", file=sys.stderr)
                continue
        sel, s = selection(X, y, method, n_est, J, 0, a.K)
        row = {"config": name, "method": method, "n_estimators": n_est, "J": J, "seconds": s,
               "jaccard_vs_paper_rf": float(np.mean([jaccard(sel, r) for r in ref])),
               "transfer_acc": accuracy(X, y, Xt, yt, sel)}
        rows.append(row)
        print(f"  {name:30s} {s:7.1f} s  Jaccard {row['jaccard_vs_paper_rf']:.3f}  acc {row['transfer_acc']:.3f}",
              file=sys.stderr)
    base = next((r for r in rows if "pipeline default" in r["config"]), None)
    for r in rows:
        r["speedup_vs_default"] = base["seconds"] / r["seconds"] if base else None
    memory = []
    if a.memory:
        for ds, backend in [(d, b) for b in ("threading", "loky") for d in a.memory_datasets.split(",")]:
            res = subprocess.run([sys.executable, __file__, "--probe", ds, "--root", str(root), "--backend", backend],
                                 capture_output=True, text=True, check=False)
            if res.returncode == 0:
                memory.append(json.loads(res.stdout.strip().splitlines()[-1]))
            else:
                print(f"memory probe {ds} failed: {res.stderr[-500:]}", file=sys.stderr)

    import sklearn

    report = {"benchmark": "importance", "dataset": a.dataset, "target": a.target, "shape": list(X.shape), "K": a.K,
              "reference": {"J": ref_J, "n_estimators": 1000, "max_depth": 200, "seed_to_seed_jaccard": ceiling},
              "rows": rows, "memory": memory,
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "sklearn": sklearn.__version__}}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2) + "\n")
    from tabulate import tabulate

    print(f"{a.dataset} (X {X.shape[0]} x {X.shape[1]}), top-{a.K} vs the paper's random forest "
          f"(seed-to-seed Jaccard of the reference itself: {ceiling:.3f}); transfer {a.dataset} -> {a.target}")
    print(tabulate([[r["config"], f"{r['seconds']:.1f}", f"{r['speedup_vs_default']:.2f}x" if r["speedup_vs_default"] else "-",
                     f"{r['jaccard_vs_paper_rf']:.3f}", f"{100 * r['transfer_acc']:.1f}"] for r in rows],
                   headers=["learner of q", "seconds", "speed vs default", f"Jaccard@{a.K} vs paper RF",
                            "transfer acc %"], tablefmt="github"))
    if memory:
        print(tabulate([[m["dataset"], m["backend"], "x".join(map(str, m["shape"])), f"{m['activations_float32_mb']:.0f}",
                         f"{m['stage_increase_mb']:.0f}", f"{m['peak_pss_mb']:.0f}"] for m in memory],
                       headers=["source", "backend", "activations", "float32 MB", "stage increase MB (PSS, workers incl.)",
                                "peak PSS MB"],
                       tablefmt="github"))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
