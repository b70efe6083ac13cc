"""Compiled IPD matches and Monte Carlo block kernels (private).

A match is :func:`play_match`: rounds of :func:`escalation_sim.ipd.model.draws`
and :func:`~escalation_sim.ipd.model.move` for each player and
:func:`~escalation_sim.ipd.model.update_state`, the same
compiled rules the SimPy engine's player processes call. Replication ``r``
draws from the streams keyed by ``(seed, r)`` whatever block or thread runs
it.

Per block ``b`` (row ``b`` of every output): ``sum_n[b, k]`` the rounds with
outcome ``k`` (CC, CD, DC, DD) over the block's replications and
``sum_nn[b, k, l]`` the sum over replications of ``n_k * n_l``, from which any
linear statistic of a match (cooperation rate, scores) gets its
replication-level variance. Both are integers: blocks combine exactly, in any
order. Kernels take arrays in and fill arrays out; the public wrapper is
:mod:`escalation_sim.ipd.montecarlo`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..engines._kernel import _borrow
from ..model.rng import init_streams
from . import model as ipd


@njit(cache=True, nogil=True)
def play_match(sids, prm, epsilon, seed, rep, turns, keys, ctr, u, hist, counts, moves, record):
    """Play replication ``rep``: fill ``counts`` (4,) and, if ``record``, ``moves`` (turns, 4).

    ``moves[t]`` = (intended 0, played 0, intended 1, played 1). ``u`` (``N_STREAMS`` x ``turns``) receives the
    match's draws, made before the first round (:func:`escalation_sim.ipd.model.fill_draws`: the numbers
    :func:`escalation_sim.ipd.model.draws` gives round by round, as the SimPy engine draws them).
    """
    init_streams(seed, rep, keys, ctr)
    ipd.fill_draws(keys, ctr, turns, u)
    s0, s1 = sids[0], sids[1]
    # row views made once per match, borrowed (no reference count: the round loop passes them to the rules
    # without an atomic increment and decrement each time; the caller holds prm and hist)
    p0, p1 = _borrow(prm[0]), _borrow(prm[1])
    h0, h1 = _borrow(hist[0]), _borrow(hist[1])
    ipd.init_state(s0, p0, h0)
    ipd.init_state(s1, p1, h1)
    for k in range(4):
        counts[k] = 0
    for t in range(turns):
        u0, n0 = u[ipd.S_DECIDE, t], u[ipd.S_NOISE, t]
        u1, n1 = u[ipd.S_DECIDE + 1, t], u[ipd.S_NOISE + 1, t]
        i0, a0 = ipd.move(s0, p0, h0, epsilon, u0, n0)
        i1, a1 = ipd.move(s1, p1, h1, epsilon, u1, n1)
        ipd.update_state(s0, p0, h0, a0, a1)
        ipd.update_state(s1, p1, h1, a1, a0)
        counts[ipd.outcome(a0, a1)] += 1
        if record:
            moves[t, 0] = i0
            moves[t, 1] = a0
            moves[t, 2] = i1
            moves[t, 3] = a1


@njit(cache=True, nogil=True)
def match_moves(sids, prm, epsilon, seed, rep, turns, moves):
    """Moves of one replication (for identity tests and replays)."""
    keys = np.zeros(ipd.N_STREAMS, dtype=np.uint64)
    ctr = np.zeros(ipd.N_STREAMS, dtype=np.uint64)
    u = np.empty((ipd.N_STREAMS, turns))
    hist = np.zeros((2, ipd.N_HIST), dtype=np.int64)
    counts = np.zeros(4, dtype=np.int64)
    play_match(sids, prm, epsilon, seed, rep, turns, keys, ctr, u, hist, counts, moves, True)


@njit(cache=True, nogil=True)
def match_counts(sids, prm, epsilon, seed, reps, turns, out):
    """Outcome counts ``out[i]`` of each replication ``reps[i]`` (serial)."""
    keys = np.zeros(ipd.N_STREAMS, dtype=np.uint64)
    ctr = np.zeros(ipd.N_STREAMS, dtype=np.uint64)
    u = np.empty((ipd.N_STREAMS, turns))
    hist = np.zeros((2, ipd.N_HIST), dtype=np.int64)
    counts = np.zeros(4, dtype=np.int64)
    moves = np.zeros((1, 4), dtype=np.int64)
    for i in range(reps.shape[0]):
        play_match(sids, prm, epsilon, seed, reps[i], turns, keys, ctr, u, hist, counts, moves, False)
        for k in range(4):
            out[i, k] = counts[k]


@njit(cache=True, nogil=True)
def run_block(sids, prm, epsilon, seed, block, block_size, n_total, turns, b, sum_n, sum_nn):
    """Play the replications of ``block`` and add them into row ``b``."""
    keys = np.zeros(ipd.N_STREAMS, dtype=np.uint64)
    ctr = np.zeros(ipd.N_STREAMS, dtype=np.uint64)
    u = np.empty((ipd.N_STREAMS, turns))
    hist = np.zeros((2, ipd.N_HIST), dtype=np.int64)
    counts = np.zeros(4, dtype=np.int64)
    moves = np.zeros((1, 4), dtype=np.int64)
    first = block * block_size
    last = min(first + block_size, n_total)
    for rep in range(first, last):
        play_match(sids, prm, epsilon, seed, rep, turns, keys, ctr, u, hist, counts, moves, False)
        for k in range(4):
            sum_n[b, k] += counts[k]
            for m in range(4):
                sum_nn[b, k, m] += counts[k] * counts[m]


@njit(cache=True, parallel=True, nogil=True)
def run_blocks_parallel(sids, prm, epsilon, seed, blocks, block_size, n_total, turns, sum_n, sum_nn):
    """Parallel twin of :func:`run_blocks_serial`: one block per iteration, any thread."""
    for b in prange(blocks.shape[0]):
        run_block(sids, prm, epsilon, seed, blocks[b], block_size, n_total, turns, b, sum_n, sum_nn)


@njit(cache=True, nogil=True)
def run_blocks_serial(sids, prm, epsilon, seed, blocks, block_size, n_total, turns, sum_n, sum_nn):
    """Serial twin of :func:`run_blocks_parallel` (identical output by construction)."""
    for b in range(blocks.shape[0]):
        run_block(sids, prm, epsilon, seed, blocks[b], block_size, n_total, turns, b, sum_n, sum_nn)
