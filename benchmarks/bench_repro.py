"""End-to-end benchmark: ``dvc repro`` of the default pipeline, warm (a no-op) and cold (a fresh clone).

* **warm** (default): in this working copy, after a full ``dvc repro``, time ``dvc status`` and a second
  ``dvc repro``; both must find nothing to do (the script fails if a stage runs).
* **cold** (``--cold``): ``git clone`` this repository into a temporary folder (or ``--keep DIR``, kept
  afterwards), with the shared dataset mirror linked beside it as on the project machine, then time
  ``dvc repro`` from nothing but the committed files, then the warm no-op there. Per-stage seconds are
  each executed notebook's papermill duration (kernel start included).
* **slice** (``--slice``): the same in a fresh clone with the documented quick slice (:data:`SLICE`).
* **startup** (``--startup``): the fixed cost of one stage through papermill, on trivial inputs
  (``fingerprint`` in a checkout where its inputs exist).
* **tests** (``--tests``): the README's test command in this checkout.

    python benchmarks/bench_repro.py                    # warm, seconds
    python benchmarks/bench_repro.py --cold --keep DIR  # cold + warm in a fresh clone kept in DIR

Updates ``benchmarks/results/repro.json`` (keys ``cold.total_s``, ``cold.per_stage_s``, ``slice.total_s``,
``slice.params``, ``stage_startup_s``, ``tests_s``, ``warm.dvc_repro_noop_s``, ``machine``; a part not run
keeps its last value) and prints a table.

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


#: the documented quick slice (README): at most 50 rows per (split, label) of every dataset
SLICE = {"data.limit": 50}


def stage_seconds(repo: Path) -> dict:
    """Seconds per stage: each executed notebook's papermill duration (kernel start and imports included).

    Only the notebooks of the stages in ``dvc.lock`` count (a stale notebook of a removed stage does not).
    """
    import yaml

    lock = yaml.safe_load((repo / "dvc.lock").read_text()) if (repo / "dvc.lock").exists() else {}
    out = {}
    for name, st in sorted((lock.get("stages") or {}).items()):
        m = re.search(r"reports/notebooks/(\S+)\.ipynb", st.get("cmd", ""))
        nb = repo / "reports" / "notebooks" / f"{m.group(1)}.ipynb" if m else None
        if nb is None or not nb.exists():
            continue
        doc = json.loads(nb.read_text())
        secs = doc.get("metadata", {}).get("papermill", {}).get("duration")
        if secs is None:
            secs = sum(c.get("metadata", {}).get("papermill", {}).get("duration") or 0 for c in doc.get("cells", []))
        out[name] = round(secs, 1)
    return out


def _clone(dest: Path) -> Path:
    if dest.exists():
        raise SystemExit(f"{dest} exists: give --keep a new folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    shared = ROOT.parent / "shared"
    link = dest.parent / "shared"
    if shared.is_dir() and not link.exists():
        link.symlink_to(shared)
    venv = ROOT / ".venv"
    if venv.is_dir() and not (dest / ".venv").exists():
        (dest / ".venv").symlink_to(venv)  # the same environment: the clone times the pipeline, not pip
    return dest


def cold(keep: Path | None, params: dict | None = None) -> dict:
    """``dvc repro`` (``params``: with these ``-S`` values through ``dvc exp run``) in a fresh clone."""
    tmp = None
    if keep is None:
        tmp = tempfile.mkdtemp(prefix="tsns-cold-")
        keep = Path(tmp) / "main"
    clone = _clone(Path(keep))
    try:
        cmd = [sys.executable, "-m", "dvc", "repro"]
        if params:
            cmd = [sys.executable, "-m", "dvc", "exp", "run"]
            cmd += [x for k, v in params.items() for x in ("-S", f"{k}={v}")]
        t, out = timed(cmd, clone)
        per = stage_seconds(clone)
        return {"total_s": round(t, 1), "stages_run": len(re.findall(r"Running stage", out)),
                "per_stage_s": per, "sum_of_stages_s": round(sum(per.values()), 1),
                **({} if params else {"then": warm(clone)}), "clone": str(clone)}
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def startup(repo: Path) -> float:
    """Wall seconds of the ``fingerprint`` stage's command (trivial inputs: ten small importance files)."""
    out = Path(tempfile.mkdtemp(prefix="tsns-startup-")) / "fingerprint.ipynb"
    best = None
    for _ in range(3):
        t, _ = timed([sys.executable, "-m", "tsns.notebook", "notebooks/05_fingerprint.ipynb", str(out)], repo)
        best = t if best is None else min(best, t)
    shutil.rmtree(out.parent, ignore_errors=True)
    return round(best, 2)


def tests(repo: Path) -> float:
    t, _ = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], repo)
    return round(t, 1)


def _grouped(per_stage: dict) -> dict:
    """Seconds per stage, the items of a foreach stage summed (``importance@books`` -> ``importance``)."""
    out: dict = {}
    for name, secs in per_stage.items():
        key = name.split("@")[0].split("/")[0]
        out[key] = out.get(key, 0.0) + float(secs)
    return out


def render_md(res: dict) -> str:
    """``benchmarks/results/repro.md``: the figures the README quotes."""
    lines = ["| what | seconds | minutes |", "|---|---|---|"]
    for key, label in (("cold", "cold `dvc repro` of the full pipeline, fresh clone"),
                       ("slice", "cold `dvc repro` of the quick slice (`data.limit=50`), fresh clone")):
        if key in res:
            lines.append(f"| {label} | {res[key]['total_s']:.0f} | {res[key]['total_s'] / 60:.1f} |")
    for key, label in (("tests_s", "the test command (`make test`)"),
                       ("stage_startup_s", "fixed cost of one stage through papermill (trivial inputs)")):
        if key in res:
            lines.append(f"| {label} | {res[key]:.1f} | {res[key] / 60:.1f} |")
    if "warm" in res:
        lines.append(f"| warm no-op `dvc repro` | {res['warm']['dvc_repro_noop_s']:.1f} | - |")
    text = "\n".join(lines) + "\n"
    if "cold" not in res and "cold_partial" in res:  # a cold run that the session's end cut short
        part = res["cold_partial"]
        after = _grouped(part["per_stage_s"])
        rows = ["| stage | minutes |", "|---|---|"]
        rows += [f"| {k} | {v / 60:.1f} |" for k, v in sorted(after.items(), key=lambda kv: -kv[1])]
        rows.append(f"| **finished stages** | {sum(after.values()) / 60:.1f} |")
        text += (f"\nA cold `dvc repro` of the full pipeline was not finished on this machine: {part['note']} "
                 f"Per stage, the {part['stages_finished']} stages it finished (each executed notebook's papermill "
                 "duration, the items of a `foreach` stage summed):\n\n" + "\n".join(rows) + "\n")
    if "cold" in res:
        after = _grouped(res["cold"]["per_stage_s"])
        before = _grouped(res.get("before", {}).get("per_stage_s", {}))
        rows = ["| stage | before: minutes | now: minutes |", "|---|---|---|"]
        for name in sorted(set(after) | set(before), key=lambda k: -after.get(k, 0)):
            b = f"{before[name] / 60:.1f}" if name in before else "-"
            rows.append(f"| {name} | {b} | {after[name] / 60:.1f} |" if name in after else f"| {name} | {b} | - |")
        rows.append(f"| **all stages** | {sum(before.values()) / 60:.1f} | {sum(after.values()) / 60:.1f} |")
        text += ("\nPer stage (each executed notebook's papermill duration, the items of a `foreach` stage summed; "
                 f"before: {res.get('before', {}).get('note', 'the previous full run')}):\n\n" + "\n".join(rows) + "\n")
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cold", action="store_true", help="also run the whole pipeline in a fresh clone")
    ap.add_argument("--keep", type=Path, default=None, help="the clone's folder (kept); default: a temporary one")
    ap.add_argument("--slice", action="store_true", help="the documented quick slice in a fresh clone")
    ap.add_argument("--startup", action="store_true", help="the fixed cost of one stage through papermill")
    ap.add_argument("--tests", action="store_true", help="the README's test command")
    ap.add_argument("--no-warm", action="store_true", help="skip the warm no-op (this checkout is not up to date)")
    args = ap.parse_args()
    out = ROOT / "benchmarks" / "results" / "repro.json"
    res = json.loads(out.read_text()) if out.exists() else {}
    res["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                   text=True).stdout.strip()
    res["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    w = None
    if not args.no_warm:
        w = res["warm"] = warm(ROOT)
    if args.cold:
        res["cold"] = cold(args.keep)
        res["cold"]["commit"] = res["commit"]
    if args.slice:
        res["slice"] = {**cold(None, SLICE), "params": SLICE, "commit": res["commit"]}
    if args.startup:
        res["stage_startup_s"] = startup(ROOT)
    if args.tests:
        res["tests_s"] = tests(ROOT)
    print("| run | seconds |\n|---|---|")
    for key, label in (("cold", "dvc repro, cold, fresh clone"), ("slice", "dvc repro of the quick slice, cold")):
        if key in res:
            print(f"| {label} | {res[key]['total_s']} |")
    for key, label in (("stage_startup_s", "one stage's fixed cost"), ("tests_s", "the test command")):
        if key in res:
            print(f"| {label} | {res[key]} |")
    if w is not None:
        print(f"| dvc repro, warm no-op | {w['dvc_repro_noop_s']} |")
    out.write_text(json.dumps(res, indent=2) + "\n")
    (out.parent / "repro.md").write_text(render_md(res))
    print(f"written {out.relative_to(ROOT)} and repro.md")
    if w is not None and not w["up_to_date"]:
        raise SystemExit(f"the warm run was not a no-op: stages {w['stages_run']} ran; commit the results of "
                         "`dvc repro` first")


if __name__ == "__main__":
    main()
