"""Command line: the pipeline's stages without DVC.

    python -m tsns download books
    python -m tsns extract books --model embedded --max-length 256
    python -m tsns importance books --J 10 --seeds 0 1 2
    python -m tsns transfer --domains books dvd electronics kitchen --K 100 500
    python -m tsns fingerprint --datasets books dvd --K 500
    python -m tsns meta DEK-B --J 5          # MultiTSNS of one scenario of meta.scenarios
    python -m tsns transfer-multi --K 200 500
    python -m tsns transfer-nli --K 100 500  # Table 3 (targets and sources from params.yaml's nli section)
    python -m tsns meta-nli SNLI+RTE+MRPC    # MultiTSNS of one Table 5 row, every budget
    python -m tsns transfer-nli-multi        # Table 5
    python -m tsns all                       # every stage for the datasets of params.yaml

Defaults come from ``params.yaml`` in the current folder when there is one, else
from the built-in defaults (the repository's params.yaml). Outputs go to the
same places as the DVC stages (data/, reports/). ``python -m tsns STAGE --help``
explains every option.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import params as P
from .errors import TSNSError

_SECTIONS = {"download": "data", "extract": "extract", "importance": "importance", "transfer": "transfer",
             "fingerprint": "fingerprint", "meta": "meta", "transfer-multi": "meta", "transfer-nli": "nli",
             "meta-nli": "nli", "transfer-nli-multi": "nli"}
# keys that a stage takes from another section, and keys it does not take
_CHECK = ["extract.model", "extract.pooling", "extract.max_length", "extract.truncation"]  # activations must match
_FOREST = ["importance.eps", "importance.method", "importance.n_estimators", "importance.max_depth",
           "importance.max_features", "importance.l1_C", "importance.n_jobs", "importance.backend",
           "importance.scheduler", "transfer.C"]
_EXTRA = {"importance": ["seeds", *_CHECK], "transfer": ["seeds", *_CHECK], "fingerprint": ["data.datasets"],
          "meta": ["seeds", *_FOREST, *_CHECK], "transfer-multi": ["seeds", "transfer.C", "transfer.max_iter", *_CHECK],
          "transfer-nli": ["seeds", "transfer.C", "transfer.max_iter", *_CHECK],
          "meta-nli": ["seeds", "meta.tune_K", "meta.pairing", "meta.J", "meta.beta", "meta.gamma", "meta.alpha_grid",
                       "meta.scaling", *_FOREST, *_CHECK],
          "transfer-nli-multi": ["seeds", "transfer.C", "transfer.max_iter", *_CHECK]}
_SKIP = {"download": {"data.datasets"}, "meta": {"meta.K", "meta.scenarios"},
         "transfer-multi": {"meta.tune_K", "meta.pairing", "meta.J", "meta.beta", "meta.gamma", "meta.alpha_grid",
                            "meta.scaling", "meta.scenarios"},
         "transfer-nli": {"nli.L", "nli.L_sweep", "nli.sweep_K"}, "meta-nli": {"nli.K", "nli.sweep_K", "nli.sources"},
         "transfer-nli-multi": {"nli.sources"}}


def _defaults(path: str) -> dict:
    return P.load(path) if Path(path).exists() else P.DEFAULTS


def _auto(s: str):
    """Command-line value as YAML would read it: null, an integer, a number, or a string."""
    if s.lower() in ("null", "none"):
        return None
    for cast in (int, float):
        try:
            return cast(s)
        except ValueError:
            pass
    return s


def _add_key(sp: argparse.ArgumentParser, key: str, value) -> None:
    name = key.split(".")[-1]
    kw: dict = {"dest": key.replace(".", "__"), "default": value, "metavar": name.upper(),
                "help": f"{P.HELP[key]} (default: {value}; params.yaml: {key})".replace("%", "%%")}
    if isinstance(value, bool):
        kw["type"] = lambda s: s.lower() in ("1", "true", "yes")
    elif isinstance(value, list):
        kw["nargs"] = "+"
        kw["type"] = type(value[0]) if value else str
    elif isinstance(value, float):
        kw["type"] = float
    elif isinstance(value, int):
        kw["type"] = int
    else:
        kw["type"] = _auto
    sp.add_argument("--" + name.replace("_", "-"), **kw)


def _stage_keys(stage: str, defaults: dict) -> list[str]:
    sec = _SECTIONS[stage]
    keys = [f"{sec}.{k}" for k in defaults[sec]] + _EXTRA.get(stage, [])
    # mappings (data.caps, meta.scenarios, nli.targets...) are set in params.yaml, not on the command line
    return [k for k in keys if k not in _SKIP.get(stage, set()) and not isinstance(P.get(defaults, k), dict)]


def build_parser(defaults: dict) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m tsns", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--params", default="params.yaml", help="parameter file for the defaults (default: params.yaml)")
    sub = ap.add_subparsers(dest="stage", required=True)
    docs = {"download": "fetch and normalise one dataset", "extract": "[CLS] of every layer for one dataset",
            "importance": "SingleTSNS importance (q, m, ranking) of one dataset",
            "transfer": "Table 2: every ordered pair of domains", "fingerprint": "Figure 2: layer shares",
            "meta": "MultiTSNS of one scenario of meta.scenarios (sources only)",
            "transfer-multi": "Table 4: every scenario of meta.scenarios",
            "transfer-nli": "Table 3: single-source transfer to the targets of nli.targets",
            "meta-nli": "MultiTSNS of one row of nli.scenarios (Table 5), every budget (sources only)",
            "transfer-nli-multi": "Table 5: every row of nli.scenarios",
            "all": "every stage for params.yaml's datasets and scenarios (in order)"}
    for stage, doc in docs.items():
        sp = sub.add_parser(stage, help=doc, description=doc)
        if stage in ("download", "extract", "importance"):
            sp.add_argument("dataset", help="dataset name (see tsns.data.REGISTRY)")
        if stage == "meta":
            sp.add_argument("dataset", metavar="scenario", help="scenario name of params.yaml's meta.scenarios")
        if stage == "meta-nli":
            sp.add_argument("dataset", metavar="row", help="row name of params.yaml's nli.scenarios")
        if stage == "all":
            continue
        for key in _stage_keys(stage, defaults):
            _add_key(sp, key, P.get(defaults, key))
    return ap


def _values(args, stage: str, defaults: dict) -> dict:
    """Parsed options merged into a full params mapping, validated."""
    import copy

    full = copy.deepcopy(defaults)
    for key in _stage_keys(stage, defaults):
        value = getattr(args, key.replace(".", "__"))
        if "." in key:
            sec, k = key.split(".")
            full[sec][k] = value
        else:
            full[key] = value
    return P.validate(full)


def _forest(im: dict):
    """The importance-learner settings of params.yaml's importance section."""
    from .importance import ForestParams

    return ForestParams(method=im["method"], n_estimators=im["n_estimators"], max_depth=im["max_depth"],
                        max_features=im["max_features"], l1_C=im["l1_C"])


def run_stage(stage: str, p: dict, dataset: str | None = None) -> None:
    """Run one stage; the fits of importance, meta and meta-nli run on ``importance.backend``."""
    if stage in ("importance", "meta", "meta-nli"):
        from .importance import compute_backend

        with compute_backend(p["importance"]["backend"], p["importance"]["scheduler"]):
            _run_stage(stage, p, dataset)
    else:
        _run_stage(stage, p, dataset)


def _run_stage(stage: str, p: dict, dataset: str | None = None) -> None:
    from . import download, extract, fingerprint, importance, report
    from .extract import ExtractConfig
    ex = p["extract"]
    expect = {k: ex[k] for k in ("model", "pooling", "max_length", "truncation")}
    if stage == "download":
        d = p["data"]
        df, prov = download.run(dataset, mirror=d["mirror"], limit=d["limit"], caps=d["caps"], seed=d["seed"],
                                allow_download=d["allow_download"])
        print(f"{dataset}: {len(df)} rows from {prov['source']}")
    elif stage == "extract":
        side = extract.run(dataset, ExtractConfig(**ex))
        print(f"{dataset}: activations {side['shape']} in {side['seconds']} s")
    elif stage == "importance":
        im = p["importance"]
        meta = importance.run(dataset, seeds=p["seeds"], J=im["J"], beta=im["beta"], alpha=im["alpha"],
                              eps=im["eps"], scaling=im["scaling"], params=_forest(im), n_jobs=im["n_jobs"],
                              expect=expect)
        print(f"{dataset}: importance of N={meta['N']} neurons in {meta['seconds']} s")
    elif stage == "transfer":
        t = p["transfer"]
        report.run(t["domains"], t["K"], p["seeds"], C=t["C"], max_iter=t["max_iter"], expect=expect)
        print(Path("reports/tables/table2.md").read_text())
    elif stage == "fingerprint":
        table = fingerprint.run(p["data"]["datasets"], p["fingerprint"]["K"])
        print(table.round(3).to_string())
    elif stage == "meta":
        from . import multisource

        m, im = p["meta"], p["importance"]
        if dataset not in m["scenarios"]:
            raise TSNSError(f"unknown scenario {dataset!r}: use one of {', '.join(m['scenarios'])} (meta.scenarios)")
        meta = multisource.run_meta(dataset, m["scenarios"][dataset], seeds=p["seeds"], tune_K=m["tune_K"],
                                    pairing=m["pairing"], J=m["J"], beta=m["beta"], gamma=m["gamma"],
                                    alpha_grid=m["alpha_grid"], eps=im["eps"], scaling=m["scaling"], params=_forest(im),
                                    L=m["L"], C=p["transfer"]["C"], n_jobs=im["n_jobs"], expect=expect)
        print(f"{dataset}: {len(meta['learners'])} learners, alphas {meta['chosen_alphas']}")
    elif stage == "transfer-multi":
        from . import multisource

        multisource.run_table4(p["meta"]["scenarios"], K=p["meta"]["K"], seeds=p["seeds"], L=p["meta"]["L"],
                               C=p["transfer"]["C"], max_iter=p["transfer"]["max_iter"], expect=expect)
        print(Path("reports/tables/table4.md").read_text())
    elif stage == "transfer-nli":
        from . import nli

        n = p["nli"]
        nli.run_table3(n["targets"], n["sources"], K=n["K"], seeds=p["seeds"], available=p["data"]["datasets"],
                       C=p["transfer"]["C"], max_iter=p["transfer"]["max_iter"], expect=expect)
        print(Path("reports/tables/table3.md").read_text())
    elif stage == "meta-nli":
        from . import nli

        n, m, im = p["nli"], p["meta"], p["importance"]
        if dataset not in n["scenarios"]:
            raise TSNSError(f"unknown Table 5 row {dataset!r}: use one of {', '.join(n['scenarios'])} (nli.scenarios)")
        meta = nli.run_meta_nli(dataset, n["scenarios"][dataset], targets=n["targets"], available=p["data"]["datasets"],
                                seeds=p["seeds"], L=n["L"], L_sweep=n["L_sweep"], tune_K=m["tune_K"],
                                pairing=m["pairing"], J=m["J"], beta=m["beta"], gamma=m["gamma"],
                                alpha_grid=m["alpha_grid"], eps=im["eps"], scaling=m["scaling"], params=_forest(im),
                                C=p["transfer"]["C"], n_jobs=im["n_jobs"], expect=expect)
        print(f"{dataset}: " + ("data not available: " + ", ".join(meta["missing"]) if not meta["available"]
                                else f"budgets {meta['L']}, alphas {meta['chosen_alphas']}"))
    elif stage == "transfer-nli-multi":
        from . import nli

        n = p["nli"]
        nli.run_table5(n["scenarios"], targets=n["targets"], K=n["K"], seeds=p["seeds"], L=n["L"], L_sweep=n["L_sweep"],
                       sweep_K=n["sweep_K"], C=p["transfer"]["C"], max_iter=p["transfer"]["max_iter"], expect=expect)
        print(Path("reports/tables/table5.md").read_text())


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--params", default="params.yaml")
    known, _ = pre.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        defaults = _defaults(known.params)
        args = build_parser(defaults).parse_args(argv)
        if args.stage == "all":
            for ds in defaults["data"]["datasets"]:
                for stage in ("download", "extract", "importance"):
                    run_stage(stage, defaults, ds)
            run_stage("transfer", defaults)
            run_stage("fingerprint", defaults)
            for scenario in defaults["meta"]["scenarios"]:
                run_stage("meta", defaults, scenario)
            run_stage("transfer-multi", defaults)
            run_stage("transfer-nli", defaults)
            for row in defaults["nli"]["scenarios"]:
                run_stage("meta-nli", defaults, row)
            run_stage("transfer-nli-multi", defaults)
        else:
            run_stage(args.stage, _values(args, args.stage, defaults), getattr(args, "dataset", None))
    except TSNSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
