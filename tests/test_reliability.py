"""Reliability: killed stages, determinism of the pipeline, and bad inputs.

* A stage killed with SIGKILL (extraction, importance) leaves nothing under its
  final file names, and a re-run gives the same bytes as an uninterrupted run.
* ``dvc repro --force`` on a slice reproduces the metrics, Table 2 (long form),
  the activations and the importance files byte for byte.
* Bad inputs stop with one line that names the fix, and leave no output behind.

The kill tests run the real code in a subprocess; the slowdown that makes a kill
land mid-run is a hook of the test's own script (an environment variable it
reads), never a switch of the library.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import extract_config as ExtractConfig
from conftest import make_params

from tsns.datasets import load as dload
from tsns.datasets import registry as dregistry
from tsns.datasets import table as dtable
from tsns.encoder.activations import load_activations
from tsns.encoder.extract import extract_activations
from tsns.errors import ActivationFileError, ConfigError, TSNSError
from tsns.io import atomic_savez, atomic_write_json
from tsns.stages import download
from tsns.store import load
from tsns.store.paths import Store

from pipeline_slice import env, run, stages_run

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers
def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg and msg.strip(), repr(msg)
    return msg


def _start(script: Path, args, tmp: Path, env) -> subprocess.Popen:
    """Start ``python script args`` with stdout/stderr in files (a full pipe never blocks it)."""
    with open(tmp / "stdout.txt", "w") as out, open(tmp / "stderr.txt", "w") as err:
        return subprocess.Popen([sys.executable, str(script), *map(str, args)], stdout=out, stderr=err, env=env,
                                cwd=tmp)


def _kill_when(proc: subprocess.Popen, ready, tmp: Path, timeout: float = 180.0) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` holds; fail if it ends (or stalls) first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended (rc {proc.returncode}) before it could be killed:\n"
                        f"{(tmp / 'stderr.txt').read_text()[-3000:]}")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    pytest.fail(f"the run never reached the kill point in {timeout} s:\n{(tmp / 'stderr.txt').read_text()[-3000:]}")


def _finish(script: Path, args, tmp: Path, env) -> dict:
    """Run the script to completion; return the JSON it prints last."""
    p = run([sys.executable, str(script), *map(str, args)], tmp, env)
    return json.loads(p.stdout.strip().splitlines()[-1])


def _temps(folder: Path, name: str) -> list[str]:
    """Temporary files of tsns.io.atomic_path for final name ``name`` in ``folder``."""
    return sorted(p.name for p in folder.glob(f".{name}.*"))


# --------------------------------------------------------------------------- the pipeline slice
def pipeline_outputs(root: Path) -> list[str]:
    """Every table, metric and data array of the slice (the executed notebooks and PNGs carry run metadata)."""
    found = [*root.glob("reports/tables/*"), *root.glob("reports/metrics*.json"), *root.glob("reports/figures/*.csv")]
    for folder in ("processed", "activations", "importance", "meta", "meta_nli", "variants"):
        found += [p for p in (root / "data" / folder).glob("*") if p.is_file()]
    return sorted(str(p.relative_to(root)) for p in found)


@pytest.mark.e2e
def test_repro_force_reproduces_every_result_byte_for_byte(slice_repo):
    """Determinism: a forced second run of every stage gives the same metrics, tables and arrays."""
    root, env, first = slice_repo
    stages = stages_run(first.stdout)
    assert {"download@books", "extract@kitchen", "importance@dvd", "transfer", "fingerprint", "meta_aggregate@DEK-B",
            "transfer_multi", "transfer_nli", "meta_nli@SNLI", "transfer_nli_multi", "extract_variant@books-tail",
            "baselines", "transferability", "mft", "mft_transfer", "mean_pooled", "summary"} <= stages
    files = pipeline_outputs(root)
    assert len(files) > 60 and "data/importance/books.npz" in files and "reports/tables/headline.md" in files
    assert json.loads((root / "reports/metrics_table2.json").read_text())["table2_average"]  # a real result
    before = {f: _sha(root / f) for f in files}  # the state this test starts from (other tests may have re-run)
    for kept in ("data/mft", "data/mft_transfer"):  # persistent outputs: train from scratch again
        shutil.rmtree(root / kept)
    again = run([sys.executable, "-m", "dvc", "repro", "--force"], root, env)
    assert stages_run(again.stdout) == stages  # every stage really ran again
    after = {f: _sha(root / f) for f in files}
    changed = [f for f in files if after[f] != before[f]]
    assert not changed, f"not reproducible byte for byte: {changed}"
    assert pipeline_outputs(root) == files


# --------------------------------------------------------------------------- SIGKILL during extraction
EXTRACT_SCRIPT = r'''
import json, os, signal, sys, time
from pathlib import Path
import pandas as pd
import tsns.encoder.extract as E
from tsns.config.base import PACKAGE_ROOT, read
from tsns.config.extract import ExtractConfig

model, table, out, partial = sys.argv[1:5]
out = Path(out)
sleep = float(os.environ.get("TSNS_TEST_SLEEP", "0"))
calls = []
_encode = E.encode

def encode(*a, **k):  # one call per chunk: slow every chunk after the first down
    if calls and sleep:
        time.sleep(sleep)
    calls.append(1)
    return _encode(*a, **k)

E.encode = encode
if os.environ.get("TSNS_TEST_DIE_BEFORE_SIDECAR") == "1":
    _write = E.atomic_write_json

    def write(path, obj):  # SIGKILL between the final array and its sidecar
        if Path(path) == out.with_suffix(".json"):
            print(json.dumps({"encode_calls": len(calls)}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return _write(path, obj)

    E.atomic_write_json = write
df = pd.read_parquet(table)
cfg = ExtractConfig.from_params(read(PACKAGE_ROOT / "params.yaml"), model=model, max_length=32, batch_size=8,
                                device="cpu")
side = E.extract_activations(df, out, cfg, dataset="t", dataset_sha256="abc", partial_dir=partial,
                             show_progress=False, chunk_size=10)
print(json.dumps({"encode_calls": len(calls), "array_sha256": side.array_sha256}))
'''


def _texts(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    words = "good bad movie book great awful plot kitchen knife works broke love hate".split()
    a = [" ".join(rng.choice(words, size=int(rng.integers(2, 12)))) for _ in range(n)]
    return pd.DataFrame({"id": [f"x{i}" for i in range(n)], "text_a": a, "text_b": [None] * n,
                         "label": [i % 2 for i in range(n)], "split": "train", "domain": "t"})


def test_sigkill_during_extraction_then_resume_gives_the_uninterrupted_result(tiny_bert, tmp_path):
    df = _texts(60)  # 6 chunks of 10
    table = tmp_path / "t.parquet"
    df.to_parquet(table, index=False)
    cfg = ExtractConfig(model=tiny_bert, max_length=32, batch_size=8, device="cpu")  # the script's
    ref = extract_activations(df, tmp_path / "ref" / "a.npy", cfg, dataset="t", dataset_sha256="abc",
                              show_progress=False, chunk_size=10)  # uninterrupted
    script = tmp_path / "extract_script.py"
    script.write_text(EXTRACT_SCRIPT)
    out_dir, partial = tmp_path / "out", tmp_path / "partial"
    out = out_dir / "a.npy"
    args = [tiny_bert, table, out, partial]

    # 1. killed mid-run, after at least two chunks were written
    proc = _start(script, args, tmp_path, env(TSNS_TEST_SLEEP="0.5"))
    _kill_when(proc, lambda: len(list(partial.glob("chunk_*.cls.npy"))) >= 2, tmp_path)
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert not out_dir.exists() or not _temps(out_dir, "a.npy") + _temps(out_dir, "a.json")
    done = sorted(p.name for p in partial.glob("chunk_*.cls.npy"))
    assert 2 <= len(done) < 6
    for name in done:  # every chunk under its final name is complete
        assert np.load(partial / name).shape == (10, 2, 32)

    # 2. resumed: only the missing chunks are computed; then killed between the array and its sidecar
    proc = subprocess.run([sys.executable, str(script), *map(str, args)], cwd=tmp_path, capture_output=True,
                          text=True, env=env(TSNS_TEST_DIE_BEFORE_SIDECAR="1"), timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["encode_calls"] == 6 - len(done)  # resumed
    assert out.exists() and not out.with_suffix(".json").exists()
    with pytest.raises(ActivationFileError, match="sidecar is missing"):  # a half-written pair is never read
        load_activations(out)
    # a temporary file that a kill during the final save would leave behind
    stale = out_dir / ".a.npy.999999999.killed.npy.tmp"  # its writer (a dead pid) is gone
    stale.write_bytes(b"partial")

    # 3. completed: identical bytes to the uninterrupted run, nothing left over
    res = _finish(script, args, tmp_path, env())
    assert res["encode_calls"] == 0  # every chunk was kept from the killed runs
    assert res["array_sha256"] == ref.array_sha256 == _sha(out)
    X, meta = load_activations(out)
    np.testing.assert_array_equal(np.asarray(X), np.load(tmp_path / "ref" / "a.npy"))
    assert meta["shape"] == [60, 2, 32]
    assert not partial.exists()
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.json", "a.npy"]  # stale temp file removed


# --------------------------------------------------------------------------- SIGKILL during importance
IMPORTANCE_SCRIPT = r'''
import json, os, signal, sys, time
from pathlib import Path

root, kw = Path(sys.argv[1]), json.loads(sys.argv[2])
sleep = float(os.environ.get("TSNS_TEST_SLEEP", "0"))
mark = os.environ.get("TSNS_TEST_MARK")
if sleep:  # every forest fit (run in this process: n_jobs=1) signals and then sleeps
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    for cls in (RandomForestClassifier, ExtraTreesClassifier):
        def fit(self, *a, _orig=cls.fit, **k):
            out = _orig(self, *a, **k)
            Path(mark).write_text("fitted")
            time.sleep(sleep)
            return out
        cls.fit = fit
import tsns.stages.importance as I

if os.environ.get("TSNS_TEST_DIE_BEFORE_SIDECAR") == "1":
    _write = I.atomic_write_json

    def write(path, obj):  # SIGKILL between the .npz and its sidecar
        if Path(path).name == "books.json" and Path(path).parent.name == "importance":
            os.kill(os.getpid(), signal.SIGKILL)
        return _write(path, obj)

    I.atomic_write_json = write
meta = I.run("books", params=kw, root=root)
print(json.dumps({"npz_sha256": meta["npz_sha256"]}))
'''


@pytest.mark.e2e
def test_sigkill_during_importance_then_rerun_gives_the_uninterrupted_result(slice_repo, tmp_path):
    src, _, _ = slice_repo
    params = yaml.safe_load((src / "params.yaml").read_text())
    hashes = {f: _sha(src / f) for f in ("data/activations/books.npy", "data/importance/books.npz")}
    root = tmp_path / "root"
    for rel in ("data/processed/books.parquet", "data/processed/books.json", "data/activations/books.npy",
                "data/activations/books.json"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, root / rel)
    assert _sha(root / "data/activations/books.npy") == hashes["data/activations/books.npy"]
    script = tmp_path / "importance_script.py"
    script.write_text(IMPORTANCE_SCRIPT)
    kw = params
    assert kw["importance"]["n_jobs"] == 1 and len(kw["seeds"]) * kw["importance"]["J"] >= 4  # in-process fits
    args = [root, json.dumps(kw)]
    npz = root / "data/importance/books.npz"
    mark = tmp_path / "fitted"

    # 1. killed after the first forest fit, long before the end
    proc = _start(script, args, tmp_path, env(TSNS_TEST_SLEEP="20", TSNS_TEST_MARK=str(mark)))
    _kill_when(proc, mark.exists, tmp_path)
    imp_dir = root / "data/importance"
    assert not npz.exists() and not npz.with_suffix(".json").exists()
    assert not imp_dir.exists() or not _temps(imp_dir, "books.npz") + _temps(imp_dir, "books.json")
    with pytest.raises(TSNSError, match=r"missing.*dvc repro importance@books"):
        load.importance(Store(root), "books")

    # 2. killed between the .npz and its sidecar: the pair is refused, not half-read
    p = subprocess.run([sys.executable, str(script), *map(str, args)], cwd=tmp_path, capture_output=True,
                       text=True, env=env(TSNS_TEST_DIE_BEFORE_SIDECAR="1"), timeout=300)
    assert p.returncode == -signal.SIGKILL, p.stderr[-3000:]
    assert npz.exists() and not npz.with_suffix(".json").exists()
    with pytest.raises(TSNSError, match=r"missing.*dvc repro importance@books"):
        load.importance(Store(root), "books")

    # 3. re-run to the end: the same bytes as the pipeline's uninterrupted run
    res = _finish(script, args, tmp_path, env())
    assert res["npz_sha256"] == _sha(npz) == hashes["data/importance/books.npz"]
    arrays, meta = load.importance(Store(root), "books")
    with np.load(src / "data/importance/books.npz") as z:
        for k in z.files:
            np.testing.assert_array_equal(arrays[k], z[k])
    assert meta["fit_on"] == [json.loads((root / "data/processed/books.json").read_text())["table_sha256"]]
    assert sorted(p.name for p in imp_dir.iterdir()) == ["books.json", "books.npz"]


# --------------------------------------------------------------------------- bad tables
@pytest.fixture
def table(tmp_path):
    df = _texts(8)
    prov = {"dataset": "books", "source": "test"}
    return df, prov


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d.drop(columns=["label"]), "missing column(s) label"),
    (lambda d: d.rename(columns={"label": "sentiment"}), "missing column(s) label"),
    (lambda d: d.assign(label=[0, 1, 2, 1, 0, 1, 0, 1]), "label values [0, 1, 2] outside {0, 1}"),
    (lambda d: d.assign(label=[-1, 1] * 4), "label values [-1, 1] outside {0, 1}"),
    (lambda d: d.assign(label=["pos", "neg"] * 4), "non-integer labels"),
    (lambda d: d.assign(label=[0.5, 1.0] * 4), "non-integer labels"),
    (lambda d: d.assign(label=[None, 1.0] * 4), "missing labels"),
], ids=["dropped", "renamed", "value_2", "value_-1", "strings", "fractions", "nan"])
def test_bad_label_column_is_refused_with_the_fix(tmp_path, table, mutate, needle):
    df, _ = table
    root = tmp_path / "root"
    path = root / "data/processed/books.parquet"
    path.parent.mkdir(parents=True)
    mutate(df).to_parquet(path, index=False)
    path.with_suffix(".json").write_text(json.dumps({"table_sha256": dtable.table_sha256(df)}))
    with pytest.raises(TSNSError) as ei:
        dtable.read_table(path)
    msg = _one_line(ei.value)
    assert needle in msg and "re-run `dvc repro download`" in msg
    # the extract stage stops on it before loading a model, and writes nothing
    from tsns.stages import extract

    with pytest.raises(TSNSError, match="re-run `dvc repro download`"):
        extract.run("books", params=make_params({"extract.model": str(tmp_path / "no_such_model")}), root=root)
    assert not (root / "data/activations").exists() and not (root / "data/interim").exists()


# --------------------------------------------------------------------------- empty and undecodable texts
def _review(title: bytes, text: bytes) -> bytes:
    return b"<review>\n<title>\n" + title + b"\n</title>\n<review_text>\n" + text + b"\n</review_text>\n</review>\n"


def test_amazon_empty_and_undecodable_texts_through_load(tmp_path):
    """Empty reviews are dropped and counted; latin-1 bytes are read, end to end through ``load``."""
    folder = tmp_path / "amazon" / "sorted_data_acl" / "books"
    folder.mkdir(parents=True)
    (folder / "positive.review").write_bytes(
        _review(b"Great", b"Caf\xe9 cr\xe8me, tr\xe8s bien")      # latin-1, not UTF-8
        + _review(b"", b"  \n\t ")                                 # blank text and title: dropped
        + _review(b"   ", b"&nbsp;")                               # only a non-breaking space: dropped
        + _review(b"Fine", "naïve ✓".encode()))                     # UTF-8
    (folder / "negative.review").write_bytes(_review(b"Bad", b"") + _review(b"\xff\xfe", b"awful"))
    df, prov = dload.load("books", mirror=tmp_path, allow_download=False, verify=False)
    assert df["text_a"].tolist() == ["Bad", "awful", "Café crème, très bien", "naïve ✓"]
    assert prov["dropped"] == {"empty_text": 2}
    assert prov["skipped_rows"] == 0 and prov["n_rows"] == 4
    assert df["id"].tolist() == ["books:negative:0000", "books:negative:0001", "books:positive:0000",
                                 "books:positive:0003"]  # ids keep the position in the file


def test_tsv_and_jsonl_empty_and_undecodable_texts_through_load(tmp_path):
    rte = tmp_path / "glue" / "RTE"
    rte.mkdir(parents=True)
    (rte / "train.tsv").write_bytes(
        b"index\tsentence1\tsentence2\tlabel\n"
        b"0\tLe caf\xe9 est chaud.\tIt is hot.\tentailment\n"      # latin-1 byte
        b"1\t   \tEmpty premise.\tnot_entailment\n"                # blank text_a: dropped
        b"2\tA man.\t\tentailment\n"                               # empty text_b: dropped
        b"3\tA dog.\tAn animal\n"                                  # 3 columns: malformed, skipped
        b"4\tRain.\tSun.\tnot_entailment\n")
    (rte / "dev.tsv").write_bytes(b"index\tsentence1\tsentence2\tlabel\n0\tYes.\tNo.\tnot_entailment\n"
                                  b"1\tA \xff b.\tA b.\tentailment\n")
    df, prov = dload.load("rte", mirror=tmp_path, allow_download=False, verify=False, max_malformed=0.5)
    assert df["text_a"].tolist() == ["Le café est chaud.", "Rain.", "Yes.", "A ÿ b."]
    assert prov["dropped"] == {"empty_text": 2} and prov["skipped_rows"] == 1

    rows = [{"gold_label": "entailment", "sentence1": "A cat sits.", "sentence2": "A cat."},
            {"gold_label": "neutral", "sentence1": "   ", "sentence2": "Nobody."},
            {"gold_label": "neutral", "sentence1": "Dogs run.", "sentence2": None},
            {"gold_label": "contradiction", "sentence1": "Up.", "sentence2": "Down."},
            {"gold_label": "neutral", "sentence1": "Two men.", "sentence2": "Friends."}]
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in rows]
    lines[0] = lines[0].replace(b"A cat sits.", b"A caf\xe9 cat sits.")
    spec = dregistry.get_spec("snli")
    for fs in spec.files:
        p = tmp_path / fs.path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\n".join(lines) + b"\n")
    df, prov = dload.load("snli", mirror=tmp_path, allow_download=False, verify=False)
    assert set(df["text_a"]) == {"A café cat sits.", "Two men."}
    assert prov["dropped"]["empty_text"] == 2 * len([fs for fs in spec.files])
    assert prov["dropped"]["contradiction"] == len(spec.files)


@pytest.mark.parametrize("bad, col", [(None, "text_a"), ("", "text_a"), ("  \t\n", "text_a"),
                                      (float("nan"), "text_a"), (None, "text_b"), ("   ", "text_b")])
def test_extract_refuses_empty_texts_before_loading_the_model(tmp_path, bad, col):
    df = _texts(8)
    if col == "text_b":
        df["text_b"] = "a second segment"
    df[col] = df[col].astype(object)
    df.loc[[2, 5], col] = bad
    out = tmp_path / "a.npy"
    # a model that does not exist: the text check must come first
    cfg = ExtractConfig(model=str(tmp_path / "no_such_model"))
    with pytest.raises(ConfigError) as ei:
        extract_activations(df, out, cfg, dataset="mine", dataset_sha256="x", show_progress=False)
    msg = _one_line(ei.value)
    assert f"2 row(s) with an empty or missing {col} (ids 'x2', 'x5')" in msg
    assert "drop or fill them before extraction" in msg and "'mine'" in msg
    assert not out.exists() and not out.with_suffix(".json").exists() and not (tmp_path / ".partial").exists()


# --------------------------------------------------------------------------- swapped activation files
def _other_bert(folder: Path, tokenizer_from: str) -> str:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(1)
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    BertModel(cfg).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tokenizer_from).save_pretrained(folder)
    return str(folder)


def test_swapped_or_foreign_activation_files_are_refused(tiny_bert, tmp_path):
    df = _texts(10)
    cfg = ExtractConfig(model=tiny_bert, max_length=32)
    other = _other_bert(tmp_path / "other_bert", tiny_bert)
    extract_activations(df, tmp_path / "a.npy", cfg, dataset="t", dataset_sha256="abc", show_progress=False)
    extract_activations(df, tmp_path / "b.npy", ExtractConfig(model=other, max_length=32), dataset="t",
                        dataset_sha256="abc", show_progress=False)
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert a.shape == b.shape and not np.array_equal(a, b)  # same shape: only the checksum tells them apart

    # another model's array put in place of ours (our sidecar kept)
    shutil.copy2(tmp_path / "b.npy", tmp_path / "swapped.npy")
    shutil.copy2(tmp_path / "a.json", tmp_path / "swapped.json")
    with pytest.raises(ActivationFileError) as ei:
        load_activations(tmp_path / "swapped.npy")
    msg = _one_line(ei.value)
    assert "does not match the checksum in its sidecar" in msg and "re-run `dvc repro`" in msg
    # a foreign array of another shape
    np.save(tmp_path / "shape.npy", np.zeros((10, 7, 384), dtype=np.float16))
    shutil.copy2(tmp_path / "a.json", tmp_path / "shape.json")
    with pytest.raises(ActivationFileError, match=r"has shape \[10, 7, 384\] but its sidecar says \[10, 2, 32\]"):
        load_activations(tmp_path / "shape.npy")

    # a genuine file made with other params is refused through expect=
    with pytest.raises(ActivationFileError) as ei:
        load_activations(tmp_path / "b.npy", expect={"model": tiny_bert, "pooling": "cls"})
    msg = _one_line(ei.value)
    assert f"was made with model={other!r} but the current params say {tiny_bert!r}" in msg
    assert "delete" in msg and "re-run `dvc repro`" in msg
    extract_activations(df, tmp_path / "m.npy", ExtractConfig(model=tiny_bert, max_length=32, pooling="mean"),
                        dataset="t", dataset_sha256="abc", show_progress=False)
    with pytest.raises(ActivationFileError, match="made with pooling='mean' but the current params say 'cls'"):
        load_activations(tmp_path / "m.npy", expect={"model": tiny_bert, "pooling": "cls", "max_length": 32})
    with pytest.raises(ActivationFileError, match="made with dataset_sha256='abc' but the current params say"):
        load_activations(tmp_path / "a.npy", expect={"dataset_sha256": "other"})
    load_activations(tmp_path / "a.npy", expect={"model": tiny_bert, "pooling": "cls", "dataset_sha256": "abc"})


# --------------------------------------------------------------------------- damaged importance files
def _importance_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    rng = np.random.default_rng(0)
    q = rng.random((2, 3, 40)).astype(np.float32)
    m = q.mean(axis=1)
    sha = atomic_savez(root / "data/importance/books.npz", q=q, m=m, order=np.argsort(-m, axis=1),
                       seeds=np.array([0, 1]))
    atomic_write_json(root / "data/importance/books.json", {"dataset": "books", "npz_sha256": sha, "fit_on": ["x"],
                                                          "layer_shape": [2, 20], "N": 40})
    load.importance(Store(root), "books")  # valid as written
    return root


def test_truncated_importance_file_is_refused(tmp_path):
    root = _importance_root(tmp_path)
    npz = root / "data/importance/books.npz"
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    with pytest.raises(TSNSError) as ei:
        load.importance(Store(root), "books")
    assert "does not match its sidecar checksum: re-run `dvc repro importance@books`" in _one_line(ei.value)


def test_tampered_importance_sidecar_is_refused(tmp_path):
    root = _importance_root(tmp_path)
    side = root / "data/importance/books.json"
    meta = json.loads(side.read_text())
    meta["npz_sha256"] = "0" * 64
    side.write_text(json.dumps(meta))
    with pytest.raises(TSNSError) as ei:
        load.importance(Store(root), "books")
    assert "does not match its sidecar checksum: re-run `dvc repro importance@books`" in _one_line(ei.value)


def test_unreadable_importance_sidecar_is_refused_with_the_fix(tmp_path):
    root = _importance_root(tmp_path)
    side = root / "data/importance/books.json"
    side.write_text(side.read_text()[:20])  # a sidecar cut short
    with pytest.raises(TSNSError) as ei:
        load.importance(Store(root), "books")
    assert "dvc repro importance@books" in _one_line(ei.value)


# --------------------------------------------------------------------------- download stage
def test_unknown_dataset_in_the_download_stage(tmp_path):
    with pytest.raises(ConfigError) as ei:
        download.run("bookz", params=make_params({"data.mirror": None, "data.allow_download": False}), root=tmp_path)
    msg = _one_line(ei.value)
    assert "unknown dataset 'bookz'" in msg and "books" in msg and "kitchen" in msg
    assert not (tmp_path / "data").exists()


def test_limit_never_makes_a_single_class_table(tmp_path):
    """data.limit keeps up to `limit` rows per (split, label): even limit=1 keeps both classes."""
    df, prov = download.run("books", params=make_params({"data.mirror": None, "data.limit": 1,
                                                         "data.allow_download": False}), root=tmp_path)
    assert sorted(df["label"].tolist()) == [0, 1]
    assert prov["rows_per_split_label"] == {"train": {"0": 1, "1": 1}}
    assert dtable.read_table(tmp_path / "data/processed/books.parquet")["label"].nunique() == 2


def test_single_class_source_is_refused_and_writes_nothing(tmp_path, monkeypatch):
    """A source whose rows are all of one class (here: no negative review) stops with the fix."""
    folder = tmp_path / "mirror" / "amazon" / "sorted_data_acl" / "books"
    folder.mkdir(parents=True)
    (folder / "positive.review").write_bytes(_review(b"A", b"good") + _review(b"B", b"great"))
    (folder / "negative.review").write_bytes(_review(b"", b""))  # its only review is empty: dropped
    spec = dregistry.get_spec("books")  # the stage verifies checksums: accept these files as unverified
    unverified = dataclasses.replace(spec, files=tuple(dataclasses.replace(f, sha256=()) for f in spec.files))
    monkeypatch.setitem(dregistry.REGISTRY, "books", unverified)
    with pytest.raises(TSNSError) as ei:
        download.run("books", params=make_params({"data.mirror": str(tmp_path / "mirror"), "data.limit": 1,
                                                  "data.allow_download": False}), root=tmp_path)
    msg = _one_line(ei.value)
    assert "single class (1)" in msg and "data.limit" in msg
    assert not (tmp_path / "data/processed").exists()


# --------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_during_dvc_repro_says_one_line_and_leaves_no_partial_output(slice_repo):
    """Ctrl-C (SIGINT to the terminal's process group) while a stage runs: the stage's one line, DVC's one ERROR
    line, no temporary or half-written file; the next `dvc repro` finishes with the same bytes. Known defect
    (xfail when seen): the interrupted kernel also prints a traceback."""
    root, e, _ = slice_repo
    npz = root / "data/importance/books.npz"
    before = _sha(npz)

    def default_sigint():  # a terminal's foreground job: its own group, SIGINT not ignored
        os.setsid()
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "-f", "-s", "importance@books"], cwd=root, env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=default_sigint)
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until the stage's command has started, then let it get going
        seen.append(line)
        if line.startswith("> "):
            break
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGINT)
    rest, _ = proc.communicate(timeout=300)
    out = "".join(seen) + rest
    assert proc.returncode != 0, out
    assert "interrupted: the stage's outputs were not written" in rest, out
    assert sum(line.startswith("ERROR: failed to reproduce 'importance@books'") for line in rest.splitlines()) == 1
    leftovers = [p for p in root.rglob("*") if ".running." in p.name or ".tmp" in p.name]
    assert leftovers == []
    assert not npz.exists() or _sha(npz) == before  # never a half-written file under the final name
    run([sys.executable, "-m", "dvc", "repro"], root, e)
    assert _sha(npz) == before
    said = [line for line in rest.splitlines() if line.strip()]
    if "Traceback" in rest or len(said) > 2:  # known defect, kept visible: the kernel's own stderr
        pytest.xfail("the interrupted ipykernel prints its ZMQ traceback ('Socket operation on non-socket') "
                     "to the terminal beside the stage's one line")
