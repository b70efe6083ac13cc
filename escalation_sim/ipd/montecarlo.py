"""Monte Carlo runs of IPD matches with the compiled kernel: blocks, threads, exact totals.

Replication ``r`` of a match always draws from the streams keyed by
``(seed, r)``, whatever thread or block runs it, and every match of an
experiment uses the same keys (common random numbers). Replications are
grouped in fixed-size blocks whose sums are integers (outcome counts and their
cross products), so totals are exact and the same with 1 or 2 threads and any
chunking.

Intervals: a match's rounds are not independent (a defection echoes), so the
rounds of all matches are *not* a binomial sample and a Wilson interval over
rounds would be far too narrow. Every statistic here is a mean over
independent replications (matches) of a per-match rate, and its interval is
the normal (central limit) interval ``mean +- z * SE`` with the
replication-level standard error ``SE = sd / sqrt(replications)``, named
``ci_method = "normal (replication-level SE)"`` in every output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numba
import numpy as np

from . import _kernel as _ipd_kernel
from . import model as ipd

DEFAULT_BLOCK = 256
GENERATOR = (
    "splitmix64 counter-based streams keyed by (seed, replication, stream); 4 streams per replication "
    "(decision and noise draws of each player, one of each per player and round)"
)
CI_METHOD = "normal (replication-level SE)"
CI_LEVEL = 0.95
Z95 = 1.959963984540054


@dataclass
class IPDTotals:
    """Exact running totals of one match setting over replications.

    ``sum_n[k]``: rounds with outcome ``k`` (CC, CD, DC, DD) over all replications;
    ``sum_nn[k][l]``: sum over replications of ``n_k * n_l`` (Python ints, unbounded).
    """

    sum_n: list = field(default_factory=lambda: [0] * 4)
    sum_nn: list = field(default_factory=lambda: [[0] * 4 for _ in range(4)])
    n: int = 0
    blocks_done: set = field(default_factory=set)

    def add(self, blocks: np.ndarray, sum_n: np.ndarray, sum_nn: np.ndarray, block_size: int, n_total: int) -> None:
        """Fold in the rows of a kernel call (each block at most once)."""
        for i, b in enumerate(blocks.tolist()):
            if b in self.blocks_done:
                raise ValueError(f"block {b} counted twice")
            self.blocks_done.add(b)
            self.n += min((b + 1) * block_size, n_total) - b * block_size
            for k in range(4):
                self.sum_n[k] += int(sum_n[i, k])
                for m in range(4):
                    self.sum_nn[k][m] += int(sum_nn[i, k, m])


@dataclass(frozen=True)
class Estimate:
    """A mean over replications, its replication-level standard error and normal 95% interval."""

    mean: float
    se: float
    ci_low: float
    ci_high: float


def estimate(totals: IPDTotals, weights, lo: float = -math.inf, hi: float = math.inf) -> Estimate:
    """Mean over replications of ``weights . n`` (``n`` = a replication's outcome counts).

    Computed exactly in rational arithmetic from the integer totals, then rounded once.
    """
    R = totals.n
    w = [Fraction(x) for x in weights]
    if R == 0:
        return Estimate(math.nan, math.nan, math.nan, math.nan)
    mean = float(sum(wk * sk for wk, sk in zip(w, totals.sum_n, strict=True)) / R)
    if R < 2:
        return Estimate(mean, math.nan, math.nan, math.nan)
    centred = sum(
        w[k] * w[m] * (R * totals.sum_nn[k][m] - totals.sum_n[k] * totals.sum_n[m]) for k in range(4) for m in range(4)
    )
    se = math.sqrt(max(float(centred / (R * R * (R - 1))), 0.0))
    return Estimate(mean, se, max(lo, mean - Z95 * se), min(hi, mean + Z95 * se))


def summarize(game: ipd.IPDGame, totals: IPDTotals) -> dict:
    """Mean cooperation and per-round scores (with intervals) and outcome counts of a match setting.

    Returns
    -------
    dict
        Flat record: ``cooperation`` (both players' moves), ``cooperation_0/1``,
        ``score_0/1`` (mean payoff per round, over matches), each with ``_se``, ``_ci_low``,
        ``_ci_high``; ``n_CC`` ... ``n_DD`` (rounds, all replications) and their
        shares; ``replications``, ``turns``, ``rounds``, ``ci_method``, ``ci_level``.
    """
    T = Fraction(int(game.turns))
    R_, S_, T_, P_ = (Fraction(float(x)) for x in game.payoffs)
    stats = {
        "cooperation": (estimate(totals, [2 / (2 * T), 1 / (2 * T), 1 / (2 * T), 0], 0.0, 1.0)),
        "cooperation_0": estimate(totals, [1 / T, 1 / T, 0, 0], 0.0, 1.0),
        "cooperation_1": estimate(totals, [1 / T, 0, 1 / T, 0], 0.0, 1.0),
        "score_0": estimate(totals, [R_ / T, S_ / T, T_ / T, P_ / T]),
        "score_1": estimate(totals, [R_ / T, T_ / T, S_ / T, P_ / T]),
    }
    row: dict = {"replications": totals.n, "turns": int(game.turns), "rounds": totals.n * int(game.turns)}
    for name, e in stats.items():
        row[name] = e.mean
        row[f"{name}_se"] = e.se
        row[f"{name}_ci_low"] = e.ci_low
        row[f"{name}_ci_high"] = e.ci_high
    rounds = max(row["rounds"], 1)
    for k, name in enumerate(ipd.OUTCOME_NAMES):
        row[f"n_{name}"] = totals.sum_n[k]
    for k, name in enumerate(ipd.OUTCOME_NAMES):
        row[f"share_{name}"] = totals.sum_n[k] / rounds
    row["ci_method"] = CI_METHOD
    row["ci_level"] = CI_LEVEL
    return row


def max_threads() -> int:
    """Threads Numba may use on this machine."""
    return int(numba.config.NUMBA_NUM_THREADS)


def _args(game: ipd.IPDGame, seed: int):
    if not isinstance(game, ipd.IPDGame):
        raise TypeError(f"expected an IPDGame, got {type(game).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: got {seed!r}; allowed: a whole number >= 0")
    return game.strategy_ids(), np.ascontiguousarray(game.param_matrix()), float(game.noise), np.int64(seed)


def run_blocks(
    game: ipd.IPDGame,
    seed: int,
    blocks: np.ndarray,
    block_size: int,
    n_total: int,
    parallel: bool = True,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Play whole blocks of replications of ``game``.

    Block ``b`` holds replications ``b * block_size`` to ``min((b + 1) * block_size, n_total) - 1``.

    Returns
    -------
    sum_n : numpy.ndarray
        ``(len(blocks), 4)`` outcome counts per block.
    sum_nn : numpy.ndarray
        ``(len(blocks), 4, 4)`` sums of products of a replication's counts.
    """
    sids, prm, eps, seed64 = _args(game, seed)
    blocks = np.ascontiguousarray(blocks, dtype=np.int64)
    if block_size < 1 or n_total < 1 or (blocks.size and (blocks.min() < 0 or blocks.max() * block_size >= n_total)):
        raise ValueError("blocks must lie within the replications and block_size must be >= 1")
    sum_n = np.zeros((blocks.shape[0], 4), dtype=np.int64)
    sum_nn = np.zeros((blocks.shape[0], 4, 4), dtype=np.int64)
    args = (sids, prm, eps, seed64, blocks, np.int64(block_size), np.int64(n_total), np.int64(game.turns), sum_n, sum_nn)
    if parallel:
        if threads is not None:
            numba.set_num_threads(threads)
        _ipd_kernel.run_blocks_parallel(*args)
    else:
        _ipd_kernel.run_blocks_serial(*args)
    return sum_n, sum_nn


def run_match(
    game: ipd.IPDGame,
    replications: int,
    seed: int,
    block_size: int = DEFAULT_BLOCK,
    threads: int | None = None,
    totals: IPDTotals | None = None,
) -> IPDTotals:
    """Play ``replications`` matches of ``game`` (replications ``0 .. n-1``) and return the exact totals.

    ``threads`` = 1 uses the serial kernel, more the parallel twin (default: all cores).
    """
    if isinstance(replications, bool) or not isinstance(replications, (int, np.integer)) or replications < 1:
        raise ValueError(f"replications: got {replications!r}; allowed: a whole number >= 1")
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"block_size: got {block_size!r}; allowed: a whole number >= 1")
    totals = totals or IPDTotals()
    nb = -(-replications // block_size)
    todo = np.array([b for b in range(nb) if b not in totals.blocks_done], dtype=np.int64)
    if todo.size:
        nthreads = threads or max_threads()
        sum_n, sum_nn = run_blocks(game, seed, todo, block_size, replications, parallel=nthreads > 1, threads=nthreads)
        totals.add(todo, sum_n, sum_nn, block_size, replications)
    return totals


def simulate_many(game: ipd.IPDGame, replications: int, seed: int, block_size: int = DEFAULT_BLOCK,
                  threads: int | None = None) -> dict:
    """:func:`run_match` then :func:`summarize`: mean cooperation, scores, outcome counts."""
    return summarize(game, run_match(game, replications, seed, block_size, threads))


def match_counts(game: ipd.IPDGame, seed: int, replications) -> np.ndarray:
    """Outcome counts ``(len(replications), 4)`` of each listed replication (serial)."""
    sids, prm, eps, seed64 = _args(game, seed)
    reps = np.ascontiguousarray(np.asarray(list(replications), dtype=np.int64))
    out = np.zeros((reps.shape[0], 4), dtype=np.int64)
    _ipd_kernel.match_counts(sids, prm, eps, seed64, reps, np.int64(game.turns), out)
    return out


def match_moves(game: ipd.IPDGame, seed: int, replication: int) -> np.ndarray:
    """Moves ``(turns, 4)`` of one replication: intended 0, played 0, intended 1, played 1."""
    sids, prm, eps, seed64 = _args(game, seed)
    moves = np.zeros((game.turns, 4), dtype=np.int64)
    _ipd_kernel.match_moves(sids, prm, eps, seed64, np.int64(replication), np.int64(game.turns), moves)
    return moves


def warm_up() -> None:
    """Compile (or load from the cache) every IPD kernel once, serially."""
    game = ipd.IPDGame(("tit_for_tat", "generous_tit_for_tat"), turns=2, noise=0.1)
    for parallel in (False, True):
        run_blocks(game, 0, np.array([0]), 1, 1, parallel=parallel)
    match_counts(game, 0, [0])
    match_moves(game, 0, 0)
