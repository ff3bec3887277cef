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
    os.replace(tmp, output)
    return output


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
