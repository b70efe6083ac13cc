"""Monte Carlo runs of the compiled engine: blocks, threads, exact reduction.

Replication ``r`` of a cell always uses the random streams keyed by
``(seed, r)``, whatever thread, block or shard runs it; every cell of an
experiment uses the same keys (common random numbers, which sharpen
comparisons between cells). Replications are grouped in fixed-size blocks;
each block's counts are integers and its duration sums are computed serially
inside the block, and blocks are combined with integer sums and
:func:`math.fsum` (exactly rounded, so independent of order). Hence the same
seed gives bit-identical results with any number of threads, any chunking and
any split into shards.

No array grows with the number of replications: outputs are per block of the
current chunk, folded into a :class:`CellTotals` as they come. What a block
outputs is declared once, in :mod:`escalation_sim.engines.outputs`.

Commands do not call this module's :func:`run_cell`: they go through the one
scheduling path, :mod:`escalation_sim.pipeline.schedule` (executors, shards,
checkpoints). :func:`run_cell` is the engine's own loop, for tests and notebooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ..model.constants import N_STREAMS, STATE_SIZE
from ..model.scenario import Scenario
from . import _kernel
from .outputs import N_BINS, BlockResults, CellTotals

__all__ = ["DEFAULT_BLOCK", "GENERATOR", "N_BINS", "BlockResults", "CellTotals", "final_states", "max_threads",
           "n_blocks", "run_blocks", "run_cell", "warm_up"]

DEFAULT_BLOCK = 4096
GENERATOR = f"splitmix64 counter-based streams keyed by (seed, replication, stream); {N_STREAMS} streams per replication"


def n_blocks(replications: int, block_size: int) -> int:
    """Number of blocks that hold ``replications``."""
    return -(-replications // block_size)


def max_threads() -> int:
    """Threads a parallel run uses by default: ``NUMBA_NUM_THREADS`` (the machine's cores unless set)."""
    return int(numba.config.NUMBA_NUM_THREADS)


def warm_up() -> None:
    """Compile (or load from the on-disk cache) the kernels that runs use, once, serially.

    Call before fanning out to processes or workers, so that they load the
    cache instead of compiling into it concurrently. These are the scenario's
    vectors and the block kernel (both twins run it). The kernel of
    :func:`final_states` (identity tests and replays, never a run) compiles on
    its first use instead: leaving it out takes ~3 s off a first run's compile.
    """
    s = Scenario.build()
    p_mixes, mix_cum = s.vectors()
    run_blocks(p_mixes, mix_cum, 0, np.array([0]), 1, 1, parallel=False)


def run_blocks(
    p_mixes: np.ndarray,
    mix_cum: np.ndarray,
    seed: int,
    blocks: np.ndarray,
    block_size: int,
    n_total: int,
    parallel: bool = True,
    threads: int | None = None,
) -> BlockResults:
    """Run whole blocks of replications with the compiled engine.

    Parameters
    ----------
    p_mixes, mix_cum : numpy.ndarray
        From :meth:`Scenario.vectors`.
    seed : int
        >= 0.
    blocks : numpy.ndarray
        Block indices to run; block ``b`` holds replications ``b * block_size``
        to ``min((b + 1) * block_size, n_total) - 1``.
    parallel : bool
        Use the parallel twin (blocks spread over threads; see :func:`_run_threaded`).
    threads : int, optional
        Threads for this call (default: :func:`max_threads`).

    Returns
    -------
    BlockResults
    """
    blocks = np.ascontiguousarray(blocks, dtype=np.int64)
    res = BlockResults.empty(blocks)
    err = np.zeros(blocks.shape[0], dtype=np.int64)
    horizon = float(p_mixes[0, _kernel.rules.HORIZON])
    bin_width = horizon / N_BINS
    args = (
        np.ascontiguousarray(p_mixes, dtype=np.float64),
        np.ascontiguousarray(mix_cum, dtype=np.float64),
        np.int64(seed),
        blocks,
        np.int64(block_size),
        np.int64(n_total),
        bin_width,
        res.arrays,
        err,
    )
    if parallel and blocks.shape[0] > 1:
        _run_threaded(args, max_threads() if threads is None else int(threads))
    else:
        _kernel.run_blocks_serial(*args)
    check_errors(err)
    return res


def _run_threaded(args: tuple, threads: int) -> None:
    """The parallel twin: contiguous chunks of the blocks, each run by the serial kernel in a thread of a pool.

    The kernel releases the GIL (``nogil``), so the threads run at once, one core each. Block ``i`` of the call
    always fills row ``i`` of every output array, whichever thread runs it (a chunk gets views of its rows), so
    the output is identical to one serial call. About four chunks per thread, handed out as threads come free,
    balance the load. This twin replaced a ``prange`` kernel: that kernel re-optimised the whole model in a
    second library (5.7 s of the cold compile) for no gain in speed (benchmarks/README.md).
    """
    p_mixes, mix_cum, seed, blocks, block_size, n_total, bin_width, arrays, err = args
    n = blocks.shape[0]
    bounds = np.linspace(0, n, min(n, 4 * threads) + 1).astype(np.int64)

    def chunk(lo: int, hi: int) -> None:
        rows = type(arrays)(*(a[lo:hi] for a in arrays))
        _kernel.run_blocks_serial(p_mixes, mix_cum, seed, blocks[lo:hi], block_size, n_total, bin_width, rows,
                                  err[lo:hi])

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="escalation-sim") as pool:
        futures = [pool.submit(chunk, int(lo), int(hi))
                   for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi > lo]
        try:
            for fut in futures:
                fut.result()
        except BaseException:  # Ctrl-C or an error: drop the chunks not started, let the running ones end
            for fut in futures:
                fut.cancel()
            raise


def check_errors(err: np.ndarray) -> None:
    """Raise for the first error code a kernel reported: an unknown strategy code, or a full workspace."""
    if not err.any():
        return
    if (err == _kernel.ERR_RULE).any():
        raise RuntimeError("a rule met an unknown strategy code (mix.response or challenger.strategy out of the "
                           "strategy table; see model/strategies.py)")
    raise RuntimeError(
        "a replication overflowed the compiled engine's workspace "
        f"(pool {_kernel.POOL}, inbox {_kernel.INBOX}, fifo {_kernel.FIFO}); raise the limits in _kernel.py"
    )


def final_states(scenario: Scenario, seed: int, replications: Iterable[int], twin: bool = False) -> np.ndarray:
    """Final state vector of each listed replication (or of its complete-information twin), from the compiled engine.

    For identity tests and replays: the SimPy engine's ``CrisisResult.state``
    for the same (scenario, seed, replication, twin) is bit-identical.
    """
    reps = np.ascontiguousarray(np.asarray(list(replications), dtype=np.int64))
    p_mixes, mix_cum = scenario.vectors()
    states = np.zeros((reps.shape[0], STATE_SIZE))
    err = np.zeros(reps.shape[0], dtype=np.int64)
    _kernel.final_states(p_mixes, mix_cum, np.int64(seed), reps, np.int64(int(twin)), states, err)
    check_errors(err)
    return states


def run_cell(
    scenario: Scenario,
    replications: int,
    seed: int,
    block_size: int = DEFAULT_BLOCK,
    threads: int | None = None,
    totals: CellTotals | None = None,
    chunk_blocks: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> CellTotals:
    """Run (or extend) one cell to ``replications`` replications.

    Blocks already in ``totals`` are skipped, so a cell can be extended
    (sequential stopping) or resumed without recomputing anything. A trailing
    partial block is only allowed as the last block of the final run.
    """
    totals = totals or CellTotals()
    if totals.n != len(totals.blocks_done) * block_size:
        raise ValueError("cannot extend a cell whose last block was partial: use a multiple of the block size")
    p_mixes, mix_cum = scenario.vectors()
    todo = [b for b in range(n_blocks(replications, block_size)) if b not in totals.blocks_done]
    nthreads = threads or max_threads()
    chunk = chunk_blocks or max(4 * nthreads, 8)
    for i in range(0, len(todo), chunk):
        blocks = np.array(todo[i : i + chunk], dtype=np.int64)
        res = run_blocks(p_mixes, mix_cum, seed, blocks, block_size, replications, parallel=nthreads > 1, threads=nthreads)
        totals.add(res)
        if on_chunk is not None:
            on_chunk(int(min(replications, (blocks[-1] + 1) * block_size)) - int(blocks[0] * block_size))
    return totals
