"""Every stage of the pipeline, in the order ``dvc repro`` runs them, with what it iterates over.

``dvc.yaml`` has one stage per entry (a ``foreach`` stage for the entries with
``foreach``); the command line (``python -m tsns STAGE``) is built from this list,
and a test checks that the two agree.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

__all__ = ["Stage", "STAGES", "get", "items"]


@dataclass(frozen=True)
class Stage:
    """A stage: its name (as in dvc.yaml), what it iterates over, its notebook and a one-line summary.

    ``foreach`` is the params.yaml key whose entries (a list) or keys (a mapping) are the
    stage's items (``importance@books``), or None for a single stage.
    """

    name: str
    foreach: str | None
    notebook: str
    help: str

    def module(self):
        """The stage's module (``tsns.stages.<name>``), whose ``run`` does the work."""
        return importlib.import_module(f"tsns.stages.{self.name}")

    @property
    def item(self) -> str | None:
        """What one item is called (the name of ``run``'s first argument)."""
        return {"data.datasets": "dataset", "meta.scenarios": "scenario", "nli.scenarios": "row",
                "baselines.variants": "name"}.get(self.foreach)


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("download", "data.datasets", "01_download", "fetch and normalise one dataset"),
    Stage("extract", "data.datasets", "02_extract", "[CLS] of every layer for one dataset"),
    Stage("extract_variant", "baselines.variants", "02b_extract_variant",
          "one dataset with another pooling or truncation"),
    Stage("importance", "data.datasets", "03_importance", "SingleTSNS importance (q, m, ranking) of one dataset"),
    Stage("transfer", None, "04_transfer", "Table 2: every ordered pair of transfer.domains"),
    Stage("fingerprint", None, "05_fingerprint", "Figure 2: the share of selected neurons per layer"),
    Stage("meta_aggregate", "meta.scenarios", "06_meta_aggregate", "MultiTSNS of one scenario (sources only)"),
    Stage("transfer_multi", None, "07_transfer_multi", "Table 4: every scenario of meta.scenarios"),
    Stage("mean_pooled", None, "15_mean_pooled", "SingleTSNS and MultiTSNS on mean-pooled activations"),
    Stage("transfer_nli", None, "08_transfer_nli", "Table 3: single-source transfer to the targets of nli.targets"),
    Stage("meta_nli", "nli.scenarios", "09_meta_nli", "MultiTSNS of one Table 5 row, every budget (sources only)"),
    Stage("transfer_nli_multi", None, "10_transfer_nli_multi", "Table 5: every row of nli.scenarios"),
    Stage("baselines", None, "11_baselines", "the blog's representation baselines and truncation ablation"),
    Stage("transferability", None, "12_transferability", "does fingerprint similarity predict transfer?"),
    Stage("mft", None, "13_mft", "Meta Fine-Tuning beside per-domain and mixed fine-tuning"),
    Stage("mft_transfer", None, "14_mft_transfer", "SingleTSNS on encoders fine-tuned on the target's sources"),
    Stage("summary", None, "16_summary", "paired tests, stability, verdicts and the headline metrics"),
)}


def get(name: str) -> Stage:
    from ..errors import ConfigError
    from ..method.validation import closest

    key = name.replace("-", "_")
    if key not in STAGES:
        raise ConfigError(f"unknown stage {name!r}{closest(key, STAGES)}: use one of {', '.join(STAGES)}")
    return STAGES[key]


def items(stage: Stage, params: dict) -> list[str]:
    """The items of a ``foreach`` stage under ``params`` (empty for a single stage)."""
    if stage.foreach is None:
        return []
    from ..config.all import get as get_key

    value = get_key(params, stage.foreach)
    return list(value)
