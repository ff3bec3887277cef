"""Where the J (x P) importance fits run: threads, processes, or a Dask cluster (joblib backends).

The fits are seeded one by one, so the results never depend on the backend or the number of workers.
"""
from __future__ import annotations

import contextlib
import logging

from joblib import parallel_config

from ..errors import ConfigError
from .validation import check

log = logging.getLogger(__name__)

@contextlib.contextmanager
def compute_backend(backend: str = "threading", scheduler: str | None = None, n_workers: int | None = None,
                    timeout: str = "20s"):
    """Run the joblib-parallel fits inside on ``backend``.

    ``"threading"`` (the default: the forests release the GIL, so threads are as fast as
    processes without a second copy of the imports in every worker) and ``"loky"``
    (processes) run on this machine.
    ``"dask"`` sends every fit to a Dask cluster through joblib's Dask backend:
    ``scheduler`` is the address of a running scheduler (``tcp://host:8786``, started
    with ``dask scheduler`` / ``dask worker`` or any Dask deployment), or ``None`` for a
    local cluster of ``n_workers`` single-threaded processes. The fits are seeded one by
    one, so the results do not depend on the backend or the number of workers.
    """
    check("backend", backend, where="importance.backend")
    if backend != "dask":
        if scheduler:
            raise ConfigError(f"importance.scheduler is only used with importance.backend=dask (got {backend!r})")
        with parallel_config(backend=backend):
            yield
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError("importance.backend=dask needs Dask's distributed scheduler: "
                          "pip install 'dask[distributed]'") from exc
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout=timeout))
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"no Dask scheduler answers at importance.scheduler={scheduler!r}: "
                                  "start one (`dask scheduler`) or set importance.scheduler=null") from exc
        else:
            cluster = stack.enter_context(LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
        log.info("importance fits on Dask: %s", client)
        stack.enter_context(parallel_config(backend="dask"))
        yield
