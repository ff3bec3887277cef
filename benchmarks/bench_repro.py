"""End-to-end benchmark: ``dvc repro`` of the default pipeline, warm (a no-op) and cold (a fresh clone).

* **warm** (default): in this working copy, after a full ``dvc repro``, time ``dvc status`` and a second
  ``dvc repro``; both must find nothing to do (the script fails if a stage runs).
* **cold** (``--cold``): ``git clone`` this repository into a temporary folder (with the shared dataset
  mirror linked beside it, as on the project machine), then time ``dvc repro`` from nothing but the
  committed files, then the warm no-op there. About 1.5-2 h on 2 cores; per-stage seconds are read from
  the executed notebooks' cell timings.

    python benchmarks/bench_repro.py            # warm, seconds
    python benchmarks/bench_repro.py --cold     # cold + warm in a fresh clone

Writes ``benchmarks/results/repro.json`` and prints a table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict:
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")


def timed(args, cwd: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd} ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return dt, p.stdout + p.stderr


def warm(repo: Path) -> dict:
    dvc = [sys.executable, "-m", "dvc"]
    t_status, out_status = timed(dvc + ["status"], repo)
    t_repro, out_repro = timed(dvc + ["repro"], repo)
    ran = re.findall(r"Running stage '([^']+)'", out_repro)
    return {"dvc_status_s": round(t_status, 2), "dvc_repro_noop_s": round(t_repro, 2), "stages_run": ran,
            "up_to_date": "up to date" in out_status and not ran}


def stage_seconds(repo: Path) -> dict:
    """Seconds per stage from the executed notebooks (papermill records each cell's duration)."""
    out = {}
    for nb in sorted((repo / "reports" / "notebooks").rglob("*.ipynb")):
        cells = json.loads(nb.read_text()).get("cells", [])
        secs = sum(c.get("metadata", {}).get("papermill", {}).get("duration") or 0 for c in cells)
        out[str(nb.relative_to(repo / "reports" / "notebooks").with_suffix(""))] = round(secs, 1)
    return out


def cold() -> dict:
    with tempfile.TemporaryDirectory(prefix="tsns-cold-") as tmp:
        clone = Path(tmp) / "main"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        shared = ROOT.parent / "shared"
        if shared.is_dir():
            (Path(tmp) / "shared").symlink_to(shared)
        t, out = timed([sys.executable, "-m", "dvc", "repro"], clone)
        res = {"dvc_repro_cold_s": round(t, 1), "stages_run": len(re.findall(r"Running stage", out)),
               "per_stage_s": stage_seconds(clone), "then": warm(clone)}
        shutil.rmtree(clone / ".dvc" / "cache", ignore_errors=True)
        return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cold", action="store_true", help="also run the whole pipeline in a fresh clone (1.5-2 h)")
    args = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    res = {"commit": commit, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                         "python": platform.python_version()},
           "warm": warm(ROOT), "per_stage_s_last_run": stage_seconds(ROOT)}
    if args.cold:
        res["cold"] = cold()
    print("| run | seconds | stages run |\n|---|---|---|")
    w = res["warm"]
    print(f"| dvc status (warm) | {w['dvc_status_s']} | - |")
    print(f"| dvc repro (warm, no-op) | {w['dvc_repro_noop_s']} | {len(w['stages_run'])} |")
    total = sum(res["per_stage_s_last_run"].values())
    print(f"| stages of the last full run, sum of notebook cell times | {total:.0f} | {len(res['per_stage_s_last_run'])} |")
    if "cold" in res:
        print(f"| dvc repro (cold, fresh clone) | {res['cold']['dvc_repro_cold_s']} | {res['cold']['stages_run']} |")
    out = ROOT / "benchmarks" / "results" / "repro.json"
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")
    if not w["up_to_date"]:
        raise SystemExit(f"the warm run was not a no-op: stages {w['stages_run']} ran; commit the results of "
                         "`dvc repro` first")


if __name__ == "__main__":
    main()
