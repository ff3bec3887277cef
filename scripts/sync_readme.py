"""Copy the generated result blocks into README.md (run after `dvc repro`; `tests/test_readme.py` checks them).

Each block sits between ``<!-- BEGIN path -->`` and ``<!-- END path -->`` and holds the file ``path`` of
the last run (``reports/tables/headline.md``, ``verdicts.md``, ...), its first heading dropped and its other
headings moved one level down, so the README shows exactly what the pipeline wrote.

    .venv/bin/python scripts/sync_readme.py          # rewrite the blocks
    .venv/bin/python scripts/sync_readme.py --check  # exit 1 if a block is stale
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- BEGIN (\S+) -->\n)(.*?)(<!-- END \2 -->)", re.S)


def block_text(path: Path, root: Path = ROOT) -> str:
    """What the README shows of a generated file (a one-line notice when the committed run has not written it)."""
    if not path.exists():
        rel = path.relative_to(root) if path.is_relative_to(root) else path
        return f"*`{rel}` is not in this commit: the last stage of a full `make repro` writes it.*\n"
    lines = path.read_text().strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    out = ["#" + ln if ln.startswith("## ") else ln for ln in lines]
    return "\n".join(out).strip() + "\n"


def synced(readme: str, root: Path = ROOT) -> str:
    return BLOCK.sub(lambda m: m.group(1) + block_text(root / m.group(2), root) + m.group(4), readme)


def main(argv: list[str]) -> int:
    path = ROOT / "README.md"
    text = path.read_text()
    new = synced(text)
    if "--check" in argv:
        if new != text:
            print("README.md: a generated block is stale; run `python scripts/sync_readme.py`", file=sys.stderr)
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
