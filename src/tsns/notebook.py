"""Run a stage notebook with papermill (the command of every DVC stage).

    python -m tsns.notebook notebooks/03_importance.ipynb reports/notebooks/importance/books.ipynb -p dataset books

The notebook reads its parameters from ``params.yaml`` itself (through
:mod:`tsns.config`), so the command passes only the stage's item (``-p name
value``, the ``foreach`` entry). The whole ``params.yaml`` is validated first, so a
typo or a bad value stops the stage with one line before any output is touched.

The executed notebook is written to a temporary file and renamed on success. On
failure it is kept as ``<output>.failed.ipynb`` for inspection, the error is
printed as one line, and the exit status is 1.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from .errors import TSNSError


def run(notebook: str | Path, output: str | Path, parameters: dict, *, cwd: str | Path = ".",
        log_output: bool = True) -> Path:
    """Execute ``notebook`` into ``output`` with ``parameters`` (atomic on success)."""
    import papermill as pm

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.stem}.running.ipynb")
    failed = output.with_name(f"{output.stem}.failed.ipynb")
    if failed.exists():
        failed.unlink()
    # Stages run offline unless the user opts in (TSNS_ONLINE=1): a hub model that is
    # not cached then fails at once with a clear message instead of hanging on the network.
    if os.environ.get("TSNS_ONLINE", "0") in ("0", ""):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        pm.execute_notebook(str(notebook), str(tmp), parameters=parameters, kernel_name="python3",
                            cwd=str(cwd), log_output=log_output, progress_bar=False, stdout_file=None)
    except pm.PapermillExecutionError as exc:
        if tmp.exists():
            os.replace(tmp, failed)
        raise TSNSError(f"{Path(notebook).name} failed: {exc.ename}: {exc.evalue} (executed notebook: {failed})") from None
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    clean_outputs(tmp)
    os.replace(tmp, output)
    return output


#: stderr lines that only the live run needs: progress bars and kernel/launcher chatter
_NOISE = re.compile(r"(\d+%\|.*\|)|(\[IPKernelApp\] WARNING)|(TqdmWarning)|(^\s*warnings\.warn\()|"
                    r"(^\s*from \.autonotebook import tqdm)")


def _settle(text: str) -> str:
    """What a terminal would show of ``text``: each line's last carriage-return segment, noise lines dropped."""
    lines = []
    for line in text.split("\n"):
        line = line.split("\r")[-1].rstrip()
        if line and not _NOISE.search(line):
            lines.append(line)
    return "\n".join(lines) + ("\n" if lines else "")


def clean_outputs(path: str | Path) -> None:
    """Keep an executed notebook readable: merge each cell's consecutive stream outputs, drop progress bars and
    kernel warnings from stderr (the terminal showed them while the stage ran), and drop streams left empty."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        merged: list = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream" \
                    and merged[-1].get("name") == out.get("name"):
                merged[-1]["text"] += out.get("text", "")
            else:
                merged.append(out)
        kept = []
        for out in merged:
            if out.get("output_type") == "stream":
                out["text"] = _settle(out.get("text", "")) if out.get("name") == "stderr" else out.get("text", "")
                if not out["text"].strip():
                    continue
            kept.append(out)
        cell["outputs"] = kept
    nbformat.write(nb, str(path))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tsns.notebook", description=__doc__.split("\n\n")[0])
    ap.add_argument("notebook", help="input notebook (notebooks/NN_stage.ipynb)")
    ap.add_argument("output", help="executed notebook to write (reports/notebooks/...)")
    ap.add_argument("-p", dest="literals", action="append", nargs=2, default=[], metavar=("NAME", "VALUE"),
                    help="pass a literal string parameter (the stage's item)")
    args = ap.parse_args(argv)
    try:
        from .config.all import load

        load()
        run(args.notebook, args.output, dict(args.literals))
    except TSNSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the stage's outputs were not written (finished partial work resumes on the next run)",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
