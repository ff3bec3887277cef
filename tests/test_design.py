"""Tests that hold the design: no import loop, every stage's dvc.yaml deps cover what its notebook imports,
one stage registry for DVC and the command line, thin notebooks, small modules."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, repo_params

import design as D
from tsns.config.all import get
from tsns.stages.registry import STAGES

DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
#: the declarative dataset registry may be longer (one entry per dataset)
MAX_LINES = {"src/tsns/datasets/registry.py": 600}


def _body(st):
    return st["do"] if "do" in st else st


def test_no_import_cycle():
    assert D.cycles() == []


def test_the_method_does_no_file_io_and_knows_no_stage():
    """tsns.method imports nothing of the pipeline around it (stages, store, config, files)."""
    for m in D.modules():
        if m.startswith("tsns.method"):
            bad = {i for i in D.imports(m) if i.startswith(("tsns.stages", "tsns.store", "tsns.config", "tsns.io",
                                                            "tsns.datasets", "tsns.encoder", "tsns.mft"))}
            assert not bad, f"{m} imports {sorted(bad)}"


@pytest.mark.parametrize("name", list(DVC))
def test_dvc_deps_cover_every_module_the_notebook_imports(name):
    body = _body(DVC[name])
    nb = next(d for d in body["deps"] if str(d).startswith("notebooks/"))
    need = D.files(D.closure(D.notebook_imports(REPO / nb)))
    have = {d for d in body["deps"] if str(d).startswith("src/")}
    assert need - have == set(), f"{name}: dvc.yaml deps lack {sorted(need - have)}"
    assert have - need == set(), f"{name}: dvc.yaml deps list {sorted(have - need)}, which the stage never imports"


@pytest.mark.parametrize("name", list(DVC))
def test_dvc_params_are_real_keys(name):
    for key in _body(DVC[name]).get("params", []):
        get(repo_params(), key)


def test_one_registry_for_dvc_and_the_command_line():
    assert list(STAGES) == list(DVC)
    for name, st in DVC.items():
        stage = STAGES[name]
        foreach = st.get("foreach")
        assert (foreach == "${" + stage.foreach + "}") if stage.foreach else foreach is None, name
        assert f"notebooks/{stage.notebook}.ipynb" in _body(st)["cmd"]
        assert stage.module().run.__doc__, f"tsns.stages.{name}.run has no docstring"


def test_cli_help_lists_every_stage():
    out = subprocess.run([sys.executable, "-m", "tsns", "--help"], capture_output=True, text=True, timeout=120,
                         cwd=REPO).stdout
    for name in DVC:
        assert f"\n    {name} " in out or f"\n    {name}\n" in out, name
    assert "--force" in subprocess.run([sys.executable, "-m", "tsns", "transfer", "--help"], capture_output=True,
                                       text=True, timeout=120, cwd=REPO).stdout


@pytest.mark.parametrize("name", list(DVC))
def test_notebooks_are_thin(name):
    """A parameters cell (the stage's item at most), one call of the stage's run, then displays."""
    stage = STAGES[name]
    nb = json.loads((REPO / "notebooks" / f"{stage.notebook}.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    params = ast.parse("".join(code[0]["source"]))
    assigned = [t.id for n in params.body if isinstance(n, ast.Assign) for t in n.targets]
    assert assigned == ([stage.item] if stage.foreach else []), f"{name}: parameters cell assigns {assigned}"
    calls = [c for c in code[1:] if f"{name}.run(" in "".join(c["source"])]
    assert len(calls) == 1 and code.index(calls[0]) == 1, f"{name}: the cell after the parameters must call run"
    for c in code[1:]:
        tree = ast.parse("\n".join(x for x in "".join(c["source"]).splitlines() if not x.startswith("%")))
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("tsns"):
                assert n.module in ("tsns.stages", "tsns.store", "tsns.store.paths"), f"{name}: imports {n.module}"
        assert not any(isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.For, ast.While)) for n in ast.walk(tree)), \
            f"{name}: logic belongs in src/tsns/stages/{name}.py, not in the notebook"


def test_no_module_over_about_500_lines():
    for f in sorted((REPO / "src/tsns").rglob("*.py")):
        rel = f.relative_to(REPO).as_posix()
        n = len(f.read_text().splitlines())
        assert n <= MAX_LINES.get(rel, 550), f"{rel} has {n} lines: split it by concern"


def test_stage_modules_import_only_what_they_need_of_torch():
    """Stages that never touch the encoder do not import torch (their start-up stays short)."""
    torch_free = {"download", "importance", "transfer", "fingerprint", "meta_aggregate", "transfer_multi",
                  "transfer_nli", "meta_nli", "transfer_nli_multi", "baselines", "transferability"}
    for name in torch_free:
        mods = D.closure(D.notebook_imports(REPO / "notebooks" / f"{STAGES[name].notebook}.ipynb"))
        assert not any(m.startswith(("tsns.encoder.extract", "tsns.encoder.model", "tsns.mft")) for m in mods), name


def test_the_documented_rerun_set_of_an_experiment_is_what_dvc_yaml_implies():
    import re

    import yaml
    from design import reruns

    text = (REPO / "docs" / "usage.md").read_text()
    m = re.search(r"`python -m tsns exp -S importance\.J=20` re-runs: ([^.]+)\.", text)
    assert m, "docs/usage.md must say which stages `-S importance.J=20` re-runs"
    said = {s.strip().split("@")[0] for s in m.group(1).split(",")}
    assert said == reruns(yaml.safe_load((REPO / "dvc.yaml").read_text()), "importance.J")


def test_dependency_floors_exclude_versions_with_known_vulnerabilities():
    """pyarrow < 14.0.1 (CVE-2023-47248) and torch < 2.6 (torch.load with weights_only, CVE-2025-32434)."""
    import re

    text = (REPO / "requirements.txt").read_text()
    floors = {m.group(1): tuple(int(x) for x in m.group(2).split(".")) for m in
              re.finditer(r"^([A-Za-z0-9_-]+)>=([0-9.]+)", text, re.M)}
    assert floors["pyarrow"] >= (14, 0, 1) and floors["torch"] >= (2, 6)
    assert 'torch>=2.2' not in (REPO / "scripts/setup.sh").read_text()


def test_dvc_plots_show_renders_offline(tmp_path):
    """`dvc plots show` writes a page of the committed PNG figures that loads nothing from the network (the
    figures are images: no vega from a CDN)."""
    import re
    import subprocess
    import sys

    out = tmp_path / "plots"
    p = subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "-o", str(out)], cwd=REPO, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    html = (out / "index.html").read_text()
    assert "<script" not in html and not re.search(r"(src|href)=\"https?://", html)
    images = re.findall(r'src="([^"]+\.png)"', html)
    assert len(images) == 3 and all((out / src).stat().st_size > 10_000 for src in images)


def _chromium():
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="no chromium (Debian package `chromium`; .ci/run installs it)")
def test_dvc_plots_show_is_not_blank_in_headless_chromium(tmp_path):
    """The page `dvc plots show` writes, rendered offline by a real browser, shows the figures (not a blank page
    or broken-image icons)."""
    import subprocess
    import sys

    import matplotlib.image as mpimg

    out = tmp_path / "plots"
    p = subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "-o", str(out)], cwd=REPO, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    shot = tmp_path / "shot.png"
    subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                    "--window-size=1400,2400", f"--screenshot={shot}", (out / "index.html").as_uri()],
                   capture_output=True, text=True, timeout=300, env={**os.environ, "HOME": str(tmp_path)})
    assert shot.is_file(), "chromium wrote no screenshot"
    rgb = mpimg.imread(shot)[..., :3]
    inked = (rgb.min(axis=-1) < 0.9).mean()  # share of pixels that are not (near) white
    coloured = (rgb.max(axis=-1) - rgb.min(axis=-1) > 0.3).mean()  # heatmap and lines, not text alone
    assert inked > 0.10 and coloured > 0.05, (inked, coloured)
