"""Run a stage notebook with papermill, parameters taken from ``params.yaml``.

Used by every DVC stage::

    python -m tsns.notebook notebooks/03_importance.ipynb reports/notebooks/importance/books.ipynb \\
        -p dataset books -P importance.J -P importance.beta -P seeds

``-P section.key`` passes the value of that key of ``params.yaml`` as the
notebook variable ``key`` (the last part of the name; ``-P section.key:name``
names the variable ``name`` instead, for two sections sharing a key); the same keys are listed
under the stage's ``params:`` in ``dvc.yaml`` so that ``dvc exp run -S`` and
``dvc params diff`` see them. ``-p name value`` passes a literal (e.g. the
``foreach`` item). The whole ``params.yaml`` is validated first, so a typo stops
the stage with one line instead of running on defaults.

The executed notebook is written to a temporary file and renamed on success.
On failure it is kept as ``<output>.failed.ipynb`` for inspection, the error is
printed as one line, and the exit status is 1.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import params as P
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
    os.replace(tmp, output)
    return output


def values_of(params: dict, specs) -> dict:
    """Notebook variables from ``-P`` specs: ``section.key`` becomes ``key``, ``section.key:name`` becomes ``name``."""
    values: dict = {}
    for spec in specs:
        key, _, name = spec.partition(":")
        name = name or key.split(".")[-1]
        if name in values:
            raise TSNSError(f"two -P keys map to the notebook variable {name!r}: give one an alias "
                            "(-P section.key:name)")
        values[name] = P.get(params, key)
    return values


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tsns.notebook", description=__doc__.split("\n\n")[0])
    ap.add_argument("notebook", help="input notebook (notebooks/NN_stage.ipynb)")
    ap.add_argument("output", help="executed notebook to write (reports/notebooks/...)")
    ap.add_argument("-P", dest="keys", action="append", default=[], metavar="SECTION.KEY[:NAME]",
                    help="pass params.yaml's SECTION.KEY as notebook variable KEY (SECTION.KEY:NAME: as NAME)")
    ap.add_argument("-p", dest="literals", action="append", nargs=2, default=[], metavar=("NAME", "VALUE"),
                    help="pass a literal string parameter")
    ap.add_argument("--params-file", default="params.yaml", help="parameter file (default: params.yaml)")
    args = ap.parse_args(argv)
    try:
        params = P.load(args.params_file)
        values = values_of(params, args.keys)
        for name, value in args.literals:
            values[name] = value
        run(args.notebook, args.output, values)
    except TSNSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
