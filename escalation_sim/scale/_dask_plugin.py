"""Dask worker plugin that loads the kernels when a worker starts (imports distributed)."""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from ..engines import montecarlo as mc


class WarmUp(WorkerPlugin):
    """Load (or compile) the compiled kernels on every worker, including late joiners.

    Registered after one worker has compiled into the on-disk cache, so workers
    that share that cache only load it; a worker with a cache of its own
    compiles alone into it. Either way no two processes compile into one
    directory at once.
    """

    idempotent = True

    def setup(self, worker) -> None:
        """Called by Dask on each worker, now and whenever one joins."""
        mc.warm_up()
