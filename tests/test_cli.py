"""`python -m tsns`: every stage without DVC, on a tiny slice in a temporary folder."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tsns import params as P

REPO = Path(__file__).resolve().parents[1]


def _tsns(*args, cwd):
    return subprocess.run([sys.executable, "-m", "tsns", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_builtin_defaults_equal_repository_params():
    assert P.DEFAULTS == yaml.safe_load((REPO / "params.yaml").read_text())
    known = {f"{s}.{k}" for s, v in P.DEFAULTS.items() if isinstance(v, dict) for k in v} | {"seeds"}
    assert set(P.HELP) == known


def test_help_explains_every_parameter(tmp_path):
    out = _tsns("importance", "--help", cwd=tmp_path).stdout
    for key in ("importance.J", "importance.beta", "importance.scaling", "seeds"):
        assert P.HELP[key].split("(")[0].strip()[:30] in " ".join(out.split())


def test_stages_on_a_slice(tmp_path):
    for ds in ("books", "kitchen"):
        for args in (["download", ds, "--limit", "6", "--mirror", "null", "--allow-download", "false"],
                     ["extract", ds, "--max-length", "64"],
                     ["importance", ds, "--J", "2", "--n-estimators", "5", "--seeds", "0", "--max-length", "64"]):
            p = _tsns(*args, cwd=tmp_path)
            assert p.returncode == 0, p.stderr[-2000:]
    assert (tmp_path / "data/importance/kitchen.npz").exists()
    p = _tsns("fingerprint", "--datasets", "books", "kitchen", "--K", "10", cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "books" in p.stdout and (tmp_path / "reports/figures/fingerprints.png").exists()


def test_bad_option_is_one_line(tmp_path):
    p = _tsns("importance", "books", "--beta", "1.5", cwd=tmp_path)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == ["error: importance.beta=1.5 is invalid: it must be a number in (0, 1]"]


def test_meta_subcommands(tmp_path):
    out = _tsns("meta", "--help", cwd=tmp_path).stdout
    assert "--tune-K" in out and "--gamma" in out and "--alpha-grid" in out
    p = _tsns("meta", "NOPE", cwd=tmp_path)
    assert p.returncode == 1 and p.stderr.strip().splitlines()[-1].startswith("error: unknown scenario 'NOPE'")
    assert "--K" in _tsns("transfer-multi", "--help", cwd=tmp_path).stdout


def test_nli_subcommands(tmp_path):
    out = _tsns("meta-nli", "--help", cwd=tmp_path).stdout
    assert "--L-sweep" in out and "--gamma" in out and "--sources" not in out
    p = _tsns("meta-nli", "NOPE", cwd=tmp_path)
    assert p.returncode == 1 and p.stderr.strip().splitlines()[-1].startswith("error: unknown Table 5 row 'NOPE'")
    assert "--sweep-K" in _tsns("transfer-nli-multi", "--help", cwd=tmp_path).stdout
    assert "--sources" in _tsns("transfer-nli", "--help", cwd=tmp_path).stdout
