"""Where blocks run: local threads, or a Dask cluster.

An executor takes *tasks* — ``(cell, scenario vectors, block ids)`` — and
yields ``(cell, BlockResults)`` as they finish, in any order. The reduction is
exact and order-independent, so the executor cannot change the numbers. Tasks
are made and their results folded in by the one scheduling path,
:func:`escalation_sim.pipeline.schedule.run_cells`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..engines import montecarlo as mc
from ..errors import SchedulerError


@dataclass(frozen=True)
class Task:
    """A chunk of blocks of one cell."""

    cell: int
    p_mixes: np.ndarray
    mix_cum: np.ndarray
    seed: int
    blocks: np.ndarray
    block_size: int
    replications: int  # of the cell: the last block stops there


def run_task(task: Task, parallel: bool = False, threads: int | None = None) -> tuple[int, mc.BlockResults]:
    """Run one task (module-level so that Dask can ship it to workers)."""
    res = mc.run_blocks(task.p_mixes, task.mix_cum, task.seed, task.blocks, task.block_size, task.replications, parallel=parallel, threads=threads)
    return task.cell, res


class LocalExecutor:
    """Blocks of a chunk spread over this machine's cores (the threaded twin of the block kernel)."""

    name = "threads"

    def __init__(self, threads: int):
        self.threads = threads

    def run(self, tasks: list[Task]) -> Iterator[tuple[int, mc.BlockResults]]:
        for t in tasks:
            yield run_task(t, parallel=self.threads > 1, threads=self.threads)

    def close(self) -> None:
        """Nothing to release."""


class DaskExecutor:
    """Tasks spread over the workers of a Dask cluster (one block chunk per task).

    With ``address`` None, a :class:`distributed.LocalCluster` of ``workers``
    processes (one thread each) is started and closed with the executor.
    Kernels are compiled once into the on-disk cache before fan-out: here,
    then on one worker, then on all (a worker sharing this cache only loads).
    A worker lost mid-task is retried elsewhere by Dask; each block's result
    is folded in once (a duplicate is an error), so nothing is lost or counted
    twice.
    """

    name = "dask"

    def __init__(self, address: str | None, workers: int = 2, timeout: float = 10.0):
        # imported here: Dask is an optional dependency, and slow to import
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise SchedulerError("--backend dask needs dask.distributed: pip install 'escalation-sim[dask]'") from exc
        mc.warm_up()
        self._cluster = None
        try:
            if address is None:
                self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
                self.client = Client(self._cluster, timeout=timeout)
            else:
                self.client = Client(address, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise SchedulerError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        names = list(self.client.scheduler_info()["workers"])
        if names:
            self.client.run(mc.warm_up, workers=names[:1])
        # every worker, including any that joins later (adaptive or jobqueue
        # clusters), loads the kernels before it takes a task (the plugin module imports distributed)
        from ._dask_plugin import WarmUp

        self.client.register_plugin(WarmUp(), name="escalation-sim-warm-up")

    def run(self, tasks: list[Task]) -> Iterator[tuple[int, mc.BlockResults]]:
        from distributed import as_completed

        futures = [self.client.submit(run_task, t, pure=False, retries=3) for t in tasks]
        for fut in as_completed(futures):
            yield fut.result()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
