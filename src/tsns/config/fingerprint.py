"""``params.yaml: fingerprint``: Figure 2."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import Section


@dataclass(frozen=True, kw_only=True)
class FingerprintConfig(Section):
    """Attributes
    ----------
    K : int
        Selected neurons whose layers make the fingerprint.
    """

    key: ClassVar[str] = "fingerprint"
    K: int
