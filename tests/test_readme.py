"""The README stays true: its example runs, its numbers are the committed run's, CI runs its commands."""
from __future__ import annotations

import json
import re
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def test_example_runs_as_written(capsys):
    code = re.search(r"```python\n(.*?)```", _section("Use it on your own model and data"), re.S).group(1)
    exec(compile(code, "README example", "exec"), {})
    selected, shares, score, multi = capsys.readouterr().out.strip().splitlines()
    assert sorted(int(v) for v in re.findall(r"\d+", selected)) == list(range(32, 38))
    assert shares == "[0. 0. 1. 0.]"
    assert float(score) > 0.9
    assert multi.startswith("[32, 33, 34, 35, 36, 37]")


def test_ci_runs_the_readme_commands():
    ci = (REPO / ".ci/run").read_text()
    block = re.search(r"```bash\n(.*?)```", _section("Quick start"), re.S).group(1)
    setup, _, test = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert setup in ci and test in ci


def _metric(metrics, key):
    return metrics["table2_average"][key]


def test_results_table_matches_committed_metrics():
    metrics = json.loads((REPO / "reports/metrics.json").read_text())
    rows = {"last-layer [CLS]": "last_layer", "all 2688 neurons": "all_layers"}
    for K in (100, 300, 500):
        rows[f"SingleTSNS K={K}"] = f"singletsns_K{K}"
    for K in (100, 300):
        rows[f"random K={K} (control)"] = f"random_K{K}"
    table = _section("Results of the committed run")
    for label, key in rows.items():
        line = next(ln for ln in table.splitlines() if ln.startswith(f"| {label}"))
        ours = line.split("|")[2].strip()
        m = _metric(metrics, key)
        expected = f"{100 * m['mean']:.1f}" + (f" ± {100 * m['std']:.1f}" if m["std"] > 0 else "")
        assert ours == expected, f"README says {ours} for {label}, reports/metrics.json says {expected}"


def test_table4_results_match_committed_metrics():
    metrics = json.loads((REPO / "reports/metrics_multi.json").read_text())["table4_average"]
    rows = {"last-layer [CLS], trained on the three sources": "last_layer", "MultiTSNS K=200": "multitsns_K200",
            "MultiTSNS K=500": "multitsns_K500", "random K=200 (control)": "random_K200",
            "random K=500 (control)": "random_K500"}
    text = _section("Results of the committed run")
    for label, key in rows.items():
        line = next(ln for ln in text.splitlines() if ln.startswith(f"| {label} |"))
        m = metrics[key]
        expected = f"{100 * m['mean']:.1f}" + (f" ± {100 * m['std']:.1f}" if m["std"] > 0 else "")
        assert line.split("|")[2].strip() == expected, f"README says {line} for {label}, metrics say {expected}"
    gain = lambda K: 100 * (metrics[f"multitsns_K{K}"]["mean"] - metrics[f"random_K{K}"]["mean"])  # noqa: E731
    prose = " ".join(text.split())
    assert f"adds {gain(200):.1f} points at K=200 and {gain(500):.1f} at K=500" in prose
    last = 100 * (metrics["multitsns_K500"]["mean"] - metrics["last_layer"]["mean"])
    assert f"(+{last:.1f} points at K=500" in prose


def test_alpha_numbers_match_committed_importance():
    study = json.loads((REPO / "data/importance/books.json").read_text())["alpha_study"]
    jac = {(r["scaling"], r["alpha"]): r["jaccard_vs_alpha1"] for r in study}
    text = _section("What differs from the paper, and why")
    claims = {("literal", 0.5): "gives {:.2f} at alpha = 0.5", ("literal", 0.99): "only {:.2f} at alpha = 0.99",
              ("normalized", 0.5): "({:.2f} at 0.5", ("normalized", 0.9): "{:.2f} at 0.9",
              ("normalized", 0.99): "{:.2f} at 0.99)"}
    for key, fmt in claims.items():
        assert fmt.format(jac[key]) in " ".join(text.split()), f"README's alpha claim {key} is stale"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def _table(text: str, header: str) -> dict[str, list[str]]:
    """Rows of the markdown table whose header row starts with ``header``: first cell -> other cells."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(header))
    rows = {}
    for ln in lines[start + 2:]:
        if not ln.startswith("| "):
            break
        rows[ln.split("|")[1].strip()] = [c.strip() for c in ln.split("|")[2:-1]]
    return rows


def test_table3_results_match_committed_metrics():
    t3 = json.loads((REPO / "reports/metrics_table3.json").read_text())["table3"]
    lines = _table(_section("Results of the committed run"), "| source -> target |")
    assert t3, "Table 3 has no computed row"
    for pair, m in t3.items():
        source, target = pair.split("->")
        if target != "scitail":
            continue
        row = lines[f"{source.upper()} -> SciTail"]
        assert row[0] == _pct(m["last_layer"])
        assert row[2] == " / ".join(_pct(m[f"singletsns_K{k}"]) for k in (100, 500, 1024))
        assert row[4] == " / ".join(_pct(m[f"random_K{k}"]) for k in (100, 500, 1024))


def test_table5_results_match_committed_metrics():
    t5 = json.loads((REPO / "reports/metrics_table5.json").read_text())["table5"]
    lines = _table(_section("Results of the committed run"), "| sources -> target |")
    assert t5, "Table 5 has no computed row"
    for name, m in t5.items():
        row = lines[f"{name} -> SciTail"]
        assert row[0] == _pct(m["last_layer"])
        assert row[2] == " / ".join(_pct(m[f"multitsns_K{k}"]) for k in (100, 500, 1024))
        assert row[4] == _pct(m["random_K500"])
        assert row[5] == " / ".join(_pct(m[f"multitsns_K500_L{L}"]) for L in (1000, 2500))


def test_benchmark_tables_match_committed_results():
    """The README's benchmark tables are the numbers in benchmarks/results/*.json."""
    ext = json.loads((REPO / "benchmarks/results/extract.json").read_text())
    rows = _table(README, "| method | sequences/s | tokens/s | x sentence-transformers | x naive | peak RSS (MB) |")
    assert len(rows) == len(ext["rows"])
    for cells, r in zip(rows.values(), ext["rows"]):
        assert cells == [f"{r['seq_per_s']:.1f}", f"{r['tok_per_s']:.0f}", f"{r['x_sentence_transformers']:.2f}",
                         f"{r['x_naive']:.2f}", f"{r['peak_rss_mb']:.0f}"], r["method"]
    imp = json.loads((REPO / "benchmarks/results/importance.json").read_text())
    rows = _table(README, "| learner | seconds (J fits) | x pipeline default | Jaccard vs paper RF | transfer acc. |")
    assert list(rows) == [r["config"] for r in imp["rows"]]
    for cells, r in zip(rows.values(), imp["rows"]):
        assert cells == [f"{r['seconds']:.1f}", f"{r['speedup_vs_default']:.2f}", f"{r['jaccard_vs_paper_rf']:.3f}",
                         f"{100 * r['transfer_acc']:.1f}"], r["config"]


def test_transferability_and_baselines_match_committed_metrics():
    """The transferability and baselines README tables are the numbers of reports/metrics_transferability.json and metrics_baselines.json."""
    tm = json.loads((REPO / "reports/metrics_transferability.json").read_text())["transferability"]
    rows = _table(README, "| feature | needs target labels? | rho with accuracy [95% CI] | mean within-target rho |")
    assert {k.strip("`") for k in rows} == set(tm["rho_accuracy"])
    for name, cells in rows.items():
        f = name.strip("`")
        assert cells[1].startswith(f"{tm['rho_accuracy'][f]:+.2f} [") and cells[2] == f"{tm['within_target_rho'][f]:+.2f}"
    r = tm["ranking_at_0.4"]
    assert (f"is {100 * r['ranker linear (label-free)']:.1f} for a ridge ranker" in README
            and f"{100 * r['random']:.1f} in a random order" in README and f"{100 * r['oracle']:.1f} when every" in README)
    mb = json.loads((REPO / "reports/metrics_baselines.json").read_text())
    rep = mb["representations"]["average_over_pairs"]
    rows = _table(README, "| representation | [CLS] | mean pooling |")
    for key, (name, cells) in zip(("last_layer", "last4_concat", "last4_max", "all_layers"), rows.items()):
        assert cells == [f"{100 * rep['cls:' + key]:.1f}", f"{100 * rep['mean:' + key]:.1f}"], name
    rows = _table(README, "| truncation | in-domain: last layer | in-domain: SingleTSNS K=300 |")
    assert list(rows) == ["head", "tail", "head+tail"]
    for t, cells in rows.items():
        m = mb["truncation"][t]
        assert cells == [f"{100 * m[k]:.1f}" for k in ("in_domain_last_layer", "in_domain_singletsns",
                                                       "transfer_last_layer", "transfer_singletsns")], t
    warm = json.loads((REPO / "benchmarks/results/repro.json").read_text())["warm"]
    assert warm["up_to_date"] and f"does nothing: {warm['dvc_repro_noop_s']:.1f} s" in README


def test_mft_results_match_committed_metrics():
    """The MFT README tables are the numbers of reports/metrics_mft.json (the paper's column is
    tsns.reference.wang2020.TABLE3) and of reports/metrics_mft_transfer.json."""
    from tsns.reference import wang2020
    from tsns.stages.mft import METHOD_LABEL, METHODS

    m = json.loads((REPO / "reports/metrics_mft.json").read_text())
    rows = _table(README, "| method | ours: Books / DVD / Electronics / Kitchen |")
    keys = [k for k in METHODS if k in m]  # the paper's row order
    assert list(rows) == [METHOD_LABEL[k] for k in keys] and len(keys) == len(m)
    for key, cells in zip(keys, rows.values()):
        ours = " / ".join(f"{100 * m[key][d]:.1f}" for d in ("books", "dvd", "electronics", "kitchen"))
        pap = wang2020.TABLE3[key]
        assert cells == [ours, f"{100 * m[key]['average']:.1f}", " / ".join(f"{pap[L]:.1f}" for L in "BDEK"),
                         f"{pap['Average']:.1f}"], key
    mt = json.loads((REPO / "reports/metrics_mft_transfer.json").read_text())
    rows = _table(README, "| encoder (trained on the target's sources only) | last layer |")
    names = {"pre-trained, frozen": "pretrained", "BERT (Mix)": "bert_mix", "MFT (Full)": "mft"}
    assert set(rows) == set(names)
    for name, cells in rows.items():
        e = names[name]
        assert cells == [f"{100 * mt[f'{e}/{r}']:.1f}" for r in ("last_layer", "all_layers", "singletsns_K100",
                                                                  "singletsns_K300")], name
