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
current chunk, folded into a :class:`CellTotals` as they come.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numba
import numpy as np

from ..model.constants import N_OUTCOMES, STATE_SIZE
from ..model.scenario import Scenario
from . import _kernel

N_BINS = 1000  # duration histogram bins over [0, horizon]
DEFAULT_BLOCK = 4096
GENERATOR = "splitmix64 counter-based streams keyed by (seed, replication, stream); 10 streams per replication"


@dataclass
class BlockResults:
    """Aggregates of a set of blocks, one row per block (kernel output)."""

    blocks: np.ndarray
    counts: np.ndarray  # (nb, 2, N_OUTCOMES): motive (0 opportunity, 1 need) x outcome
    prolif: np.ndarray  # (nb, 2)
    dur_sum: np.ndarray  # (nb,)
    dur_sumsq: np.ndarray  # (nb,)
    hist: np.ndarray  # (nb, N_BINS)
    events: np.ndarray  # (nb,)
    draws: np.ndarray  # (nb,)

    @classmethod
    def empty(cls, blocks: np.ndarray, n_bins: int = N_BINS) -> BlockResults:
        nb = blocks.shape[0]
        return cls(
            blocks=blocks,
            counts=np.zeros((nb, 2, N_OUTCOMES), dtype=np.int64),
            prolif=np.zeros((nb, 2), dtype=np.int64),
            dur_sum=np.zeros(nb),
            dur_sumsq=np.zeros(nb),
            hist=np.zeros((nb, n_bins), dtype=np.int64),
            events=np.zeros(nb, dtype=np.int64),
            draws=np.zeros(nb, dtype=np.int64),
        )


@dataclass
class CellTotals:
    """Running totals of one cell; combine blocks in any order, get the same numbers."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros((2, N_OUTCOMES), dtype=np.int64))
    prolif: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.int64))
    hist: np.ndarray = field(default_factory=lambda: np.zeros(N_BINS, dtype=np.int64))
    dur_sums: list = field(default_factory=list)
    dur_sumsqs: list = field(default_factory=list)
    events: int = 0
    draws: int = 0
    blocks_done: set = field(default_factory=set)

    def add(self, res: BlockResults) -> None:
        """Fold in a set of blocks (each block at most once)."""
        for b in res.blocks.tolist():
            if b in self.blocks_done:
                raise ValueError(f"block {b} counted twice")
            self.blocks_done.add(b)
        self.counts += res.counts.sum(axis=0)
        self.prolif += res.prolif.sum(axis=0)
        self.hist += res.hist.sum(axis=0)
        self.dur_sums.extend(res.dur_sum.tolist())
        self.dur_sumsqs.extend(res.dur_sumsq.tolist())
        self.events += int(res.events.sum())
        self.draws += int(res.draws.sum())

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def duration_sum(self) -> float:
        return math.fsum(self.dur_sums)

    @property
    def duration_sumsq(self) -> float:
        return math.fsum(self.dur_sumsqs)


def n_blocks(replications: int, block_size: int) -> int:
    """Number of blocks that hold ``replications``."""
    return -(-replications // block_size)


def max_threads() -> int:
    """Threads Numba may use on this machine."""
    return int(numba.config.NUMBA_NUM_THREADS)


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every kernel once, serially.

    Call before fanning out to processes or workers, so that they load the
    cache instead of compiling into it concurrently.
    """
    s = Scenario.build()
    p_mixes, mix_cum = s.vectors()
    for parallel in (False, True):
        run_blocks(p_mixes, mix_cum, 0, np.array([0]), 1, 1, parallel=parallel)
    final_states(s, 0, np.array([0]))


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
        Use the parallel twin (blocks spread over threads).
    threads : int, optional
        Numba threads for this call.

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
        res.counts,
        res.prolif,
        res.dur_sum,
        res.dur_sumsq,
        res.hist,
        res.events,
        res.draws,
        err,
    )
    if parallel:
        if threads is not None:
            numba.set_num_threads(threads)
        _kernel.run_blocks_parallel(*args)
    else:
        _kernel.run_blocks_serial(*args)
    if err.any():
        raise RuntimeError(
            "a replication overflowed the compiled engine's workspace "
            f"(pool {_kernel.POOL}, inbox {_kernel.INBOX}, fifo {_kernel.FIFO}); raise the limits in _kernel.py"
        )
    return res


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
    if err.any():
        raise RuntimeError("a replication overflowed the compiled engine's workspace")
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
