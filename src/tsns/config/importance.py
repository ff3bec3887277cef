"""``params.yaml: importance``: SingleTSNS (eq. 1) and the learner of q."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..method.learners import LearnerParams
from ..method.validation import Str
from .base import Section, rule


@dataclass(frozen=True, kw_only=True)
class ImportanceConfig(Section, LearnerParams):
    """The SingleTSNS settings; the learner settings (``method``, ``n_estimators``, ``max_depth``,
    ``max_features``, ``min_samples_leaf``, ``l1_C``) are those of
    :class:`tsns.method.learners.LearnerParams`, which this class is.

    Attributes
    ----------
    J : int
        Random samples per seed (paper: 100).
    beta : float in (0, 1]
        Fraction of the source in each sample (paper: 0.7).
    alpha : float in [0, 1]
        Eq. 1 weight of E_j(q) (paper: 1 for SingleTSNS).
    eps : float
        Eq. 1 epsilon (paper: 1e-6).
    scaling : {"literal", "normalized"}
    n_jobs : int
        Parallel fits; results do not depend on it.
    backend : {"threading", "loky", "dask"}
        Where the fits run; results do not depend on it.
    scheduler : str or None
        Dask scheduler address for ``backend=dask``; None = a local cluster.
    """

    key: ClassVar[str] = "importance"
    J: int
    beta: float
    alpha: float
    eps: float
    scaling: str
    n_jobs: int
    backend: str
    scheduler: str | None = rule(Str(null=True))

    def check(self) -> None:
        from ..errors import ConfigError

        if self.scheduler and self.backend != "dask":
            raise ConfigError(f"importance.scheduler is only used with importance.backend=dask (got {self.backend!r})")

    def recorded(self) -> dict:
        """The settings that determine q and m (recorded in the sidecar; not where or how fast the fits run)."""
        d = self.as_dict()
        for k in ("n_jobs", "backend", "scheduler"):
            d.pop(k)
        return d
