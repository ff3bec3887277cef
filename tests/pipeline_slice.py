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


def repo_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files of the repository, pipeline outputs excluded."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    return [f for f in out if f and not f.startswith(_OUTPUTS) and (REPO / f).is_file()]


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
