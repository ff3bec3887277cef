"""Helpers for tests that run the real DVC pipeline in a temporary copy of the repository."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import yaml

REPO = Path(__file__).resolve().parents[1]
# outputs of the pipeline: never copied, the copy makes its own
_OUTPUTS = ("reports/", "dvc.lock", "data/processed/", "data/activations/", "data/importance/", "data/meta/", "data/meta_nli/", "data/variants/",
            "data/interim/")
# inputs under an output folder: copied (the summary reads the numbers of the run before the fidelity fixes)
_INPUTS = ("reports/previous/",)


def repo_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files of the repository, pipeline outputs excluded."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    return [f for f in out if f and (not f.startswith(_OUTPUTS) or f.startswith(_INPUTS)) and (REPO / f).is_file()]


def env(**extra) -> dict:
    """Environment whose `python` and `dvc` are this interpreter's, offline."""
    e = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
             HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    e.update(extra)
    return e


def run(args, cwd, env, check=True, timeout=900):
    p = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def make_slice(root: Path, update: Callable[[dict], None]) -> tuple[Path, dict, subprocess.CompletedProcess]:
    """Copy the repository to ``root``, let ``update`` shrink params.yaml, `git init`, run `dvc repro`."""
    for f in repo_files():
        dst = root / f
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, dst)
    params = yaml.safe_load((root / "params.yaml").read_text())
    update(params)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    e = env()
    run(["git", "init", "-q"], root, e)
    first = run([sys.executable, "-m", "dvc", "repro"], root, e)
    return root, e, first


AMAZON = ["books", "dvd", "electronics", "kitchen"]
# the NLI pairs come from data/embedded like the Amazon domains: the slice has no mirror and no network
NLI = ["rte", "mrpc", "snli", "scitail"]


def shrink(params: dict) -> None:
    """The slice of every end-to-end and reliability test: Amazon and NLI pairs from data/embedded (no mirror, no
    network), 6 rows per (split, label), tiny forests, every stage."""
    params["data"].update(datasets=AMAZON + NLI, limit=6, mirror=None, allow_download=False)
    params["seeds"] = [0, 1]
    params["importance"].update(J=2, n_estimators=8, n_jobs=1)  # in-process fits: the kill test can count them
    params["transfer"]["K"] = [5, 100000]  # the second is capped at N
    params["fingerprint"]["K"] = 20
    params["meta"].update(K=[5, 100000], tune_K=20, J=2, gamma=0.5, alpha_grid=[0.0, 1.0])
    params["nli"].update(K=[5, 100000], L=20, L_sweep=[10], sweep_K=5,
                         scenarios={"SNLI": ["snli"], "QQP+RTE": ["qqp", "rte"], "SNLI+RTE+MRPC": ["snli", "rte", "mrpc"]})
    params["transferability"].update(K=5, fingerprint_K=20, jaccard_K=[5, 20], n_estimators=8, bootstrap=100)
    # IMDB is not in the slice: the truncation table says "data not available"; one variant (tail truncation)
    params["baselines"].update(domains=["books", "dvd"], K=5, variants={
        "books-tail": {"dataset": "books", "pooling": "cls", "truncation": "tail"}})
    # MFT on two domains: BERT (S) and MFT (Full) only, 16 tokens, the slice's few training rows
    params["mft"].update(domains=["books", "dvd"], variants=["bert_s", "mft"], layers=[3, 6], max_length=16,
                         batch_size=4, train_rows=None)
    params["mft_transfer"].update(targets=["books", "dvd", "kitchen"], encoders=["pretrained", "mft"], K=[5],
                                  max_length=16)


def stages_run(out: str) -> set[str]:
    """The stages a `dvc repro` printed as run."""
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
