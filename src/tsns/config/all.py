"""The whole ``params.yaml`` at once: every section validated (the entry points call :func:`load`)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..method.validation import closest
from .base import load_seeds, read
from .baselines import BaselinesConfig
from .data import DataConfig
from .extract import ExtractConfig
from .fingerprint import FingerprintConfig
from .importance import ImportanceConfig
from .meta import MetaConfig
from .mft import MftConfig, MftTransferConfig
from .nli import NliConfig
from .transfer import TransferConfig
from .transferability import TransferabilityConfig

SECTIONS = {c.key: c for c in (DataConfig, ExtractConfig, ImportanceConfig, TransferConfig, FingerprintConfig,
                               MetaConfig, NliConfig, TransferabilityConfig, BaselinesConfig, MftConfig,
                               MftTransferConfig)}


@dataclass(frozen=True)
class Params:
    """Every section of ``params.yaml``, typed and validated."""

    seeds: list
    data: DataConfig
    extract: ExtractConfig
    importance: ImportanceConfig
    transfer: TransferConfig
    fingerprint: FingerprintConfig
    meta: MetaConfig
    nli: NliConfig
    transferability: TransferabilityConfig
    baselines: BaselinesConfig
    mft: MftConfig
    mft_transfer: MftTransferConfig


def load(params: dict | None = None) -> Params:
    """Validate the whole parameter mapping (default: the repository's params.yaml); one line per error."""
    params = read() if params is None else params
    known = ["seeds", *SECTIONS]
    for k in params:
        if k not in known:
            raise ConfigError(f"unknown section {k!r} in params.yaml{closest(k, known)}: "
                              f"the sections are {', '.join(known)}")
    return Params(seeds=load_seeds(params), **{k: c.from_params(params) for k, c in SECTIONS.items()})


def get(params: dict, dotted: str):
    """Value of a dotted key such as ``importance.J`` (a one-line error naming the closest key)."""
    cur = params
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            keys = ["seeds"] + [f"{s}.{n}" for s, c in SECTIONS.items() for n in c.names()]
            raise ConfigError(f"unknown parameter {dotted}{closest(dotted, keys)}")
        cur = cur[part]
    return cur
