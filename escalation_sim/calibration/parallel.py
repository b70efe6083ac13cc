"""Ways to map batches of particles to the simulator: serially, on threads, or on Dask workers.

A ``MapBatches`` is ``map_batches(fn, batches) -> list`` returning ``fn(batch)`` for every batch, in
the order of ``batches``. The ABC sampler joins the results in that order, so the choice of mapper,
the number of threads or workers and the scheduling order cannot change a result (given the
simulator contract: a particle's outputs depend on its parameters and the seed only).

The real simulator parallelises internally with threads, so the serial mapper with one batch is the
usual choice on one machine; threads or Dask help when the simulator is serial, or across machines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MapBatches = Callable[[Callable[[Any], Any], Sequence[Any]], list]


def serial_map(fn: Callable[[Any], Any], batches: Sequence[Any]) -> list:
    """Evaluate the batches one after another."""
    return [fn(b) for b in batches]


def thread_map(workers: int) -> MapBatches:
    """A mapper on a pool of ``workers`` threads (created per call, results in batch order)."""
    if workers < 1:
        raise ValueError("workers must be >= 1")

    def _map(fn, batches):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, batches))

    return _map


def dask_map(client) -> MapBatches:
    """A mapper that sends each batch to a Dask ``distributed.Client`` (gathered in batch order).

    ``fn`` (the simulator bound to the generation's seed) must be picklable for process workers.
    """

    def _map(fn, batches):
        futures = client.map(fn, list(batches), pure=False)
        return client.gather(futures)

    return _map


__all__ = ["MapBatches", "serial_map", "thread_map", "dask_map"]
