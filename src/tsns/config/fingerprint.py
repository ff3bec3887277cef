"""``params.yaml: fingerprint``: Figure 2."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..method.validation import PARAMS
from .base import Section, rule


@dataclass(frozen=True, kw_only=True)
class FingerprintConfig(Section):
    """Attributes
    ----------
    K : int
        Selected neurons whose layers make the fingerprint.
    """

    key: ClassVar[str] = "fingerprint"
    K: int = rule(PARAMS["K"])
