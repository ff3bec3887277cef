"""`python -m tsns`: every stage without DVC, built from the stage registry, in a temporary repository root."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import REPO


def _tsns(*args, cwd):
    return subprocess.run([sys.executable, "-m", "tsns", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture
def root(tmp_path):
    """A repository root with the real params.yaml made small (its own params: the CLI writes here only)."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update(datasets=["books", "kitchen"], limit=6, mirror=None, allow_download=False)
    params["seeds"] = [0]
    params["importance"].update(J=2, n_estimators=5)
    params["extract"]["max_length"] = 64
    params["fingerprint"]["K"] = 10
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    return tmp_path


def test_stages_on_a_slice(root):
    for stage in ("download", "extract", "importance"):
        p = _tsns(stage, cwd=root)  # every dataset of data.datasets
        assert p.returncode == 0, p.stderr[-2000:]
        assert f"{stage}@books: done" in p.stdout and f"{stage}@kitchen: done" in p.stdout
    assert (root / "data/importance/kitchen.npz").exists()
    p = _tsns("fingerprint", cwd=root)
    assert p.returncode == 0, p.stderr[-2000:]
    assert (root / "reports/figures/fingerprints.png").exists()
    assert not (REPO / "reports/figures/fingerprints.png").samefile(root / "reports/figures/fingerprints.png")


def test_other_parameters_need_force_and_never_touch_results_silently(root):
    p = _tsns("download", "books", "--set", "data.limit=4", cwd=root)
    assert p.returncode == 1 and not (root / "data/processed/books.parquet").exists()
    assert p.stderr.strip().splitlines() == [
        "error: these parameters differ from params.yaml's, and the outputs of this run are the committed results "
        "of params.yaml: add --force to overwrite them, or run `dvc exp run -S KEY=VALUE` to keep the experiment "
        "apart"]
    p = _tsns("download", "books", "--set", "data.limit=4", "--force", cwd=root)
    assert p.returncode == 0, p.stderr[-2000:]
    assert (root / "data/processed/books.parquet").exists()


@pytest.mark.parametrize("args,message", [
    (["download", "books", "--set", "importance.beta=1.5"], "error: importance.beta=1.5 must be a number in (0, 1]"),
    (["download", "books", "--set", "importance.JJ=3"], "error: unknown parameter importance.JJ"),
    (["download", "bookz", "--force"], "error: unknown dataset 'bookz'"),
    (["meta_aggregate", "NOPE"], "error: unknown scenario 'NOPE'"),
    (["meta_nli", "NOPE"], "error: unknown Table 5 row 'NOPE'"),
    (["download", "books", "--set", "data.limit"], "error: --set 'data.limit' must be section.key=value"),
])
def test_bad_input_is_one_line(root, args, message):
    p = _tsns(*args, cwd=root)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), p.stderr


def test_stage_help_says_what_it_iterates_over(root):
    out = _tsns("importance", "--help", cwd=root).stdout
    assert "data.datasets" in out and "DATASET" in out and "--set" in out and "--force" in out
    assert "meta.scenarios" in _tsns("meta_aggregate", "--help", cwd=root).stdout


def test_executed_notebooks_keep_log_lines_and_drop_progress_bars_and_kernel_noise(tmp_path):
    import nbformat

    from tsns.notebook import clean_outputs

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("run()")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="importance books, seed 0\n"),
        nbformat.v4.new_output("stream", name="stderr", text="\rSingleTSNS:   0%|          | 0/2 [00:00<?, ?fit/s]"),
        nbformat.v4.new_output("stream", name="stderr", text="\rSingleTSNS: 100%|██████████| 2/2 [00:00<00:00]\n"),
        nbformat.v4.new_output("stream", name="stderr", text="[IPKernelApp] WARNING | Kernel is running over TCP\n"),
        nbformat.v4.new_output("stream", name="stdout", text="books: N=2304\n"),
        nbformat.v4.new_output("stream", name="stderr", text="\n"),
    ]
    nb.cells = [cell]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    clean_outputs(path)
    outs = nbformat.read(str(path), as_version=4).cells[0].outputs
    assert [(o.name, o.text) for o in outs] == [("stderr", "importance books, seed 0\n"), ("stdout", "books: N=2304\n")]


def test_exp_refuses_a_bad_value_before_dvc_touches_anything(monkeypatch, capsys):
    from tsns.cli import main

    import subprocess

    from tsns.config.base import PACKAGE_ROOT

    calls = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, **k: calls.append(cmd) or 0)
    before = (PACKAGE_ROOT / "params.yaml").read_bytes()
    assert main(["exp", "-S", "importance.beta=1.5"]) == 1
    assert "importance.beta=1.5 must be a number in (0, 1]" in capsys.readouterr().err
    assert main(["exp", "-S", "importance.Jj=3"]) == 1
    assert calls == [] and (PACKAGE_ROOT / "params.yaml").read_bytes() == before  # dvc never ran
    assert main(["exp", "-S", "importance.J=20", "--", "--temp"]) == 0
    assert calls[0][1:] == ["-m", "dvc", "exp", "run", "-S", "importance.J=20", "--temp"]
