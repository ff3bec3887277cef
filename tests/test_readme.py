"""The README and docs stay true: their example runs, their numbers are the committed run's, CI runs their commands."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
USAGE = (REPO / "docs" / "usage.md").read_text()
SPEED = (REPO / "docs" / "speed.md").read_text()


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def _sync():
    spec = importlib.util.spec_from_file_location("sync_readme", REPO / "scripts" / "sync_readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_example_runs_as_written(capsys):
    code = re.search(r"```python\n(.*?)```", _section(USAGE, "Use it on your own model and data"), re.S).group(1)
    exec(compile(code, "docs/usage.md example", "exec"), {})
    selected, shares, score, multi = capsys.readouterr().out.strip().splitlines()
    assert sorted(int(v) for v in re.findall(r"\d+", selected)) == list(range(32, 38))
    assert shares == "[0. 0. 1. 0.]"
    assert float(score) > 0.9
    assert multi.startswith("[32, 33, 34, 35, 36, 37]")


def test_quick_start_is_two_commands_and_ci_runs_the_test_one():
    block = re.search(r"```bash\n(.*?)```", _section(README, "Quick start"), re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make repro", "make test"]
    assert "make test" in (REPO / ".ci/run").read_text()
    make = (REPO / "Makefile").read_text()
    assert re.search(r"^repro: setup\n\tdvc repro$", make, re.M) and re.search(r"^test: setup\n\tpython -m pytest",
                                                                             make, re.M)


def test_generated_blocks_are_the_committed_run_s_files():
    """Every results block of the README is, byte for byte, the file the pipeline (or the benchmark) wrote."""
    sync = _sync()
    blocks = sync.BLOCK.findall(README)
    assert {b[1] for b in blocks} >= {"reports/tables/headline.md", "reports/tables/verdicts.md",
                                      "reports/tables/stability.md", "reports/tables/alpha.md",
                                      "benchmarks/results/repro.md"}
    assert sync.synced(README, REPO) == README, "run `python scripts/sync_readme.py` after `dvc repro`"


def test_block_text_drops_the_title_and_moves_headings_down(tmp_path):
    sync = _sync()
    (tmp_path / "t.md").write_text("# Title\n\n## Part\n\n| a |\n|---|\n")
    assert sync.block_text(tmp_path / "t.md") == "### Part\n\n| a |\n|---|\n"
    text = "x\n<!-- BEGIN t.md -->\nold\n<!-- END t.md -->\ny\n"
    assert sync.synced(text, tmp_path) == "x\n<!-- BEGIN t.md -->\n### Part\n\n| a |\n|---|\n<!-- END t.md -->\ny\n"
    # a file the committed run did not write says so, instead of showing stale numbers
    gone = "<!-- BEGIN gone.md -->\nold numbers\n<!-- END gone.md -->\n"
    assert sync.synced(gone, tmp_path) == ("<!-- BEGIN gone.md -->\n*`gone.md` is not in this commit: the last stage "
                                           "of a full `make repro` writes it.*\n<!-- END gone.md -->\n")


def test_readme_main_text_is_short_and_speaks_to_users():
    prose = re.sub(r"<!-- BEGIN (\S+) -->.*?<!-- END \1 -->", "", README, flags=re.S)
    assert len(prose.split()) <= 2500
    assert not re.search(r"\bissue \d+|\bsession\b", README, re.I)


def test_benchmark_tables_match_committed_results():
    """The benchmark tables of docs/speed.md are the numbers in benchmarks/results/*.json."""
    ext = json.loads((REPO / "benchmarks/results/extract.json").read_text())
    rows = _table(SPEED, "| method | sequences/s | tokens/s | x sentence-transformers | x naive | peak RSS (MB) |")
    assert len(rows) == len(ext["rows"])
    for cells, r in zip(rows.values(), ext["rows"]):
        assert cells == [f"{r['seq_per_s']:.1f}", f"{r['tok_per_s']:.0f}", f"{r['x_sentence_transformers']:.2f}",
                         f"{r['x_naive']:.2f}", f"{r['peak_rss_mb']:.0f}"], r["method"]
    imp = json.loads((REPO / "benchmarks/results/importance.json").read_text())
    rows = _table(SPEED, "| learner | seconds (J fits) | x pipeline default | Jaccard vs paper RF | transfer acc. |")
    assert list(rows) == [r["config"] for r in imp["rows"]]
    for cells, r in zip(rows.values(), imp["rows"]):
        assert cells == [f"{r['seconds']:.1f}", f"{r['speedup_vs_default']:.2f}", f"{r['jaccard_vs_paper_rf']:.3f}",
                         f"{100 * r['transfer_acc']:.1f}"], r["config"]


def _table(text: str, header: str) -> dict[str, list[str]]:
    """Rows of the markdown table whose header row starts with ``header``: first cell -> other cells."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(header))
    rows = {}
    for ln in lines[start + 2:]:
        if not ln.startswith("|"):
            break
        cells = [c.strip() for c in ln.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows
