"""Extraction benchmark: the [CLS] vector of every layer for several thousand real Amazon reviews.

Compares, on the same model, texts, max_length, batch size and thread count:

(a) ``naive``        -- batches in input order, every batch padded to max_length;
(b) ``one_at_a_time``-- one text per forward pass, no padding (how NeuroX extracts);
(c) ``sentence_transformers`` -- ``SentenceTransformer.encode`` (length-sorted batches;
    it returns the mean-pooled last layer only, so it does *less* work than (a), (b), (d));
(d) ``tsns``         -- ``tsns.encoder.tokenize.tokenize`` + ``tsns.encoder.extract.encode`` (length-sorted, dynamic padding);
(e) ``tsns_bf16``    -- (d) under bf16 autocast (``--half fp16`` for float16 on CUDA).

Each method runs in its own process, so the timings are whole-process (imports and
model load included, reported apart) and the peak memory is that process's maximum
resident set. Prints a table and writes JSON::

    python benchmarks/bench_extract.py --n 3000            # CPU, embedded MiniLM
    python benchmarks/bench_extract.py --model bert-large-uncased --device cuda --n 20000 --batch-size 256

Needs ``pip install --no-deps sentence-transformers`` for (c) (skipped when missing).
``--random-weights`` builds the model's architecture with random weights (a speed test
of bert-large shapes without its download).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("naive", "one_at_a_time", "sentence_transformers", "tsns", "tsns_half")


# --------------------------------------------------------------------------- texts
def load_texts(n: int, seed: int, root: Path = ROOT) -> list[str]:
    """n real Amazon reviews (all four domains) from the pipeline's tables (``dvc repro download@books`` etc.)."""
    import pandas as pd

    paths = [root / "data" / "processed" / f"{d}.parquet" for d in ("books", "dvd", "electronics", "kitchen")]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"missing {missing[0]}: run `dvc repro download@books download@dvd download@electronics "
                         "download@kitchen` first (or pass --root to a checkout that has them)")
    texts = pd.concat([pd.read_parquet(p, columns=["text_a"]) for p in paths])["text_a"].tolist()
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(texts))[:n]
    return [texts[i] for i in idx]


# --------------------------------------------------------------------------- workers
def _load(model: str, device: str, random_weights: bool):
    sys.path.insert(0, str(ROOT / "src"))
    from tsns.encoder.model import load_model, resolve_model

    if not random_weights:
        tok, enc, _ = load_model(model, device)
        return tok, enc
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    where = resolve_model(model)
    tok = AutoTokenizer.from_pretrained(where)
    enc = AutoModel.from_config(AutoConfig.from_pretrained(where)).eval().to(device)
    return tok, enc


def _cls_all_layers(out) -> "np.ndarray":
    import torch

    return torch.stack([h[:, 0, :] for h in out.hidden_states], dim=1).float().cpu().numpy()


def worker(method: str, texts: list[str], a) -> dict:
    import torch

    torch.set_num_threads(a.threads)
    t_load = time.perf_counter()
    result = None
    if method == "sentence_transformers":
        from sentence_transformers import SentenceTransformer

        sys.path.insert(0, str(ROOT / "src"))
        from tsns.encoder.model import resolve_model

        st = SentenceTransformer(resolve_model(a.model), device=a.device)
        st.max_seq_length = a.max_length
        load_s = time.perf_counter() - t_load
        t0 = time.perf_counter()
        st.encode(texts, batch_size=a.batch_size, convert_to_numpy=True, show_progress_bar=False)
    else:
        tok, enc = _load(a.model, a.device, a.random_weights)
        load_s = time.perf_counter() - t_load
        t0 = time.perf_counter()
        if method == "naive":
            parts = []
            with torch.inference_mode():
                for s in range(0, len(texts), a.batch_size):
                    b = tok(texts[s:s + a.batch_size], padding="max_length", truncation=True,
                            max_length=a.max_length, return_tensors="pt").to(a.device)
                    parts.append(_cls_all_layers(enc(**b, output_hidden_states=True)))
            result = np.concatenate(parts)
        elif method == "one_at_a_time":
            parts = []
            with torch.inference_mode():
                for t in texts:
                    b = tok([t], truncation=True, max_length=a.max_length, return_tensors="pt").to(a.device)
                    parts.append(_cls_all_layers(enc(**b, output_hidden_states=True)))
            result = np.concatenate(parts)
        else:
            from tsns.encoder.extract import encode
            from tsns.encoder.tokenize import tokenize

            precision = a.half if method == "tsns_half" else "fp32"
            items = tokenize(tok, texts, None, a.max_length, "head")
            result = encode(enc, items, pooling="cls", batch_size=a.batch_size, device=a.device,
                            precision=precision, pad_id=tok.pad_token_id)
        if a.device == "cuda":
            torch.cuda.synchronize()
    run_s = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"method": method, "load_s": load_s, "encode_s": run_s, "peak_rss_mb": peak_kb / 1024}
    if a.device == "cuda":
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    if result is not None and a.save:
        np.save(Path(a.save), result.astype(np.float32))
    return out


# --------------------------------------------------------------------------- driver
def n_tokens(texts, a) -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from transformers import AutoTokenizer

    from tsns.encoder.model import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model(a.model))
    return int(sum(min(len(ids), a.max_length) for ids in tok(texts, add_special_tokens=True)["input_ids"]))


def layer_cosine(x: np.ndarray, ref: np.ndarray) -> list[float]:
    """Mean cosine similarity per layer between two (n, layers, hidden) arrays."""
    num = (x * ref).sum(-1)
    den = np.linalg.norm(x, axis=-1) * np.linalg.norm(ref, axis=-1)
    return (num / np.maximum(den, 1e-12)).mean(0).round(6).tolist()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=3000, help="number of reviews")
    p.add_argument("--model", default="embedded")
    p.add_argument("--random-weights", action="store_true")
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--half", default="bf16", choices=["bf16", "fp16"])
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "extract.json"))
    p.add_argument("--root", default=str(ROOT), help="the pipeline checkout whose data/processed holds the reviews")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--texts", help=argparse.SUPPRESS)
    p.add_argument("--save", help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    if a.worker:
        texts = json.loads(Path(a.texts).read_text())
        print(json.dumps(worker(a.worker, texts, a)))
        return 0

    texts = load_texts(a.n, a.seed, Path(a.root))
    tokens = n_tokens(texts, a)
    rows, arrays = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tpath = Path(tmp) / "texts.json"
        tpath.write_text(json.dumps(texts))
        for m in a.methods.split(","):
            if m == "sentence_transformers":
                try:
                    import sentence_transformers  # noqa: F401
                except ImportError:
                    print("skip sentence_transformers: pip install --no-deps sentence-transformers", file=sys.stderr)
                    continue
            save = Path(tmp) / f"{m}.npy"
            cmd = [sys.executable, __file__, "--worker", m, "--texts", str(tpath), "--save", str(save),
                   "--model", a.model, "--max-length", str(a.max_length), "--batch-size", str(a.batch_size),
                   "--device", a.device, "--threads", str(a.threads), "--half", a.half]
            if a.random_weights:
                cmd.append("--random-weights")
            t0 = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - t0
            if res.returncode != 0:
                print(f"{m} failed:\n{res.stderr[-2000:]}", file=sys.stderr)
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            r.update(process_s=wall, seq_per_s=len(texts) / r["encode_s"], tok_per_s=tokens / r["encode_s"])
            rows.append(r)
            if save.exists():
                arrays[m] = np.load(save)
            print(f"{m:22s} {r['seq_per_s']:8.1f} seq/s  {r['encode_s']:7.1f} s encode  "
                  f"{wall:7.1f} s process  {r['peak_rss_mb']:7.0f} MB", file=sys.stderr)
    ref = next((r for r in rows if r["method"] == "sentence_transformers"), None)
    naive = next((r for r in rows if r["method"] == "naive"), None)
    for r in rows:
        r["x_sentence_transformers"] = r["seq_per_s"] / ref["seq_per_s"] if ref else None
        r["x_naive"] = r["seq_per_s"] / naive["seq_per_s"] if naive else None
    numerics = {}
    if "tsns" in arrays:
        for m, x in arrays.items():
            if m != "tsns":
                numerics[m] = {"cosine_per_layer_vs_tsns_fp32": layer_cosine(x, arrays["tsns"]),
                               "max_abs_diff": float(np.abs(x - arrays["tsns"]).max())}

    import torch

    report = {
        "benchmark": "extract", "n_texts": len(texts), "n_tokens": tokens, "model": a.model,
        "random_weights": a.random_weights, "max_length": a.max_length, "batch_size": a.batch_size,
        "device": a.device, "threads": a.threads, "half": a.half, "rows": rows, "numerics": numerics,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2) + "\n")
    from tabulate import tabulate

    print(tabulate([[r["method"], f"{r['seq_per_s']:.1f}", f"{r['tok_per_s']:.0f}",
                     f"{r['x_sentence_transformers']:.2f}" if r["x_sentence_transformers"] else "-",
                     f"{r['x_naive']:.2f}" if r["x_naive"] else "-",
                     f"{r['encode_s']:.1f}", f"{r['load_s']:.1f}", f"{r['process_s']:.1f}", f"{r['peak_rss_mb']:.0f}"]
                    for r in rows],
                   headers=["method", "seq/s", "tok/s", "x ST", "x naive", "encode s", "load s", "process s",
                            "peak MB"], tablefmt="github"))
    for m, v in numerics.items():
        print(f"{m}: cosine per layer vs tsns fp32 {v['cosine_per_layer_vs_tsns_fp32']}, max |diff| {v['max_abs_diff']:.2e}")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
