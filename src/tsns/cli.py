"""Command line: every stage of the pipeline without DVC, built from :mod:`tsns.stages.registry`.

    python -m tsns --help                    # every stage
    python -m tsns download books            # one item of a per-dataset stage
    python -m tsns importance                # every dataset of data.datasets
    python -m tsns transfer                  # Table 2
    python -m tsns all                       # every stage, in the order of dvc.yaml
    python -m tsns exp -S importance.J=20    # `dvc exp run -S ...`, after checking the values

The parameters are those of ``params.yaml`` (the repository root's, or
``--params FILE``); ``--set section.key=value`` changes one for this run. The
outputs go to the same files as the DVC stages (``data/``, ``reports/``), which
hold the committed results of ``params.yaml``: a run whose parameters differ from
``params.yaml``'s is refused unless ``--force`` is given (then it overwrites them,
and ``dvc status`` shows the change). To try other parameters without touching the
committed results, use ``dvc exp run -S section.key=value``.

Like the DVC stages, the command line runs offline (``HF_HUB_OFFLINE=1``) unless
``TSNS_ONLINE=1``, so a model that is not available fails at once.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys

from .errors import ConfigError, TSNSError

__all__ = ["main", "build_parser"]


def _value(text: str):
    """A ``--set`` value as YAML reads it (null, a number, a list, a string)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _override(params: dict, assignments) -> dict:
    from .config.all import get

    out = copy.deepcopy(params)
    for a in assignments:
        key, sep, text = a.partition("=")
        if not sep:
            raise ConfigError(f"--set {a!r} must be section.key=value, e.g. --set importance.J=20")
        get(out, key)  # an unknown key names the closest one
        *path, last = key.split(".")
        cur = out
        for p in path:
            cur = cur[p]
        cur[last] = _value(text)
    return out


def build_parser() -> argparse.ArgumentParser:
    from .stages.registry import STAGES

    ap = argparse.ArgumentParser(prog="python -m tsns", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    sub = ap.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for st in STAGES.values():
        what = f" ({st.foreach} entries; default: all)" if st.foreach else ""
        sp = sub.add_parser(st.name, help=st.help, description=st.help + what)
        if st.foreach:
            sp.add_argument("items", nargs="*", metavar=st.item.upper(), help=f"entries of {st.foreach}")
        _common(sp)
    _common(sub.add_parser("all", help="every stage above, in order, for every entry",
                           description="every stage, in the order of dvc.yaml"))
    ex = sub.add_parser("exp", help="dvc exp run -S ..., with every value checked before any stage runs",
                        description="Check the changed parameters against params.yaml's rules, then run "
                                    "`dvc exp run -S KEY=VALUE ...`. A bad value is refused with one line before "
                                    "DVC touches params.yaml or any output.")
    ex.add_argument("-S", "--set-param", dest="sets", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="a parameter of the experiment (repeatable)")
    ex.add_argument("dvc_args", nargs=argparse.REMAINDER, help="more arguments for dvc exp run (after --)")
    return ap


def exp(sets: list[str], dvc_args: list[str]) -> int:
    """Validate ``sets`` on top of params.yaml, then ``dvc exp run -S ...`` (its exit status)."""
    import subprocess

    from .config.all import load
    from .config.base import read

    if not sets:
        raise ConfigError("give at least one -S section.key=value, e.g. python -m tsns exp -S importance.J=20")
    load(_override(read(), sets))  # one line per bad value, before DVC changes anything
    extra = [a for a in dvc_args if a != "--"]
    cmd = [sys.executable, "-m", "dvc", "exp", "run", *[x for s in sets for x in ("-S", s)], *extra]
    return subprocess.call(cmd)


def _common(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--params", default=None, help="parameter file (default: the repository's params.yaml)")
    sp.add_argument("--set", dest="sets", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="change one parameter for this run (repeatable)")
    sp.add_argument("--force", action="store_true",
                    help="allow parameters other than params.yaml's: the run then overwrites the committed results")


def _run(stage, params: dict, items: list[str]) -> None:
    from .stages.registry import items as all_items

    run = stage.module().run
    if stage.foreach is None:
        run(params=params)
        print(f"{stage.name}: done")
        return
    for item in items or all_items(stage, params):
        run(item, params=params)
        print(f"{stage.name}@{item}: done")


def main(argv=None) -> int:
    if os.environ.get("TSNS_ONLINE", "0") in ("0", ""):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        from .config.all import load
        from .config.base import read
        from .stages.registry import STAGES, get

        if args.stage == "exp":
            return exp(args.sets, args.dvc_args)
        base = read(args.params)
        params = _override(base, args.sets)
        load(params)  # the whole file, validated once, before any work
        if params != base and not args.force:
            raise ConfigError("these parameters differ from params.yaml's, and the outputs of this run are the "
                              "committed results of params.yaml: add --force to overwrite them, or run "
                              "`dvc exp run -S KEY=VALUE` to keep the experiment apart")
        if args.stage == "all":
            for st in STAGES.values():
                _run(st, params, [])
        else:
            st = get(args.stage)
            _run(st, params, getattr(args, "items", []))
    except TSNSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished outputs are kept, partial work resumes on the next run", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
