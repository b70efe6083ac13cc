"""Intervals that take common random numbers into account: batch means over a run's blocks.

Every cell of an experiment runs replication ``r`` on the streams of
``(seed, r)`` (common random numbers), so two cells' estimates are correlated
and an interval for a difference (or a mean over cells) that treats them as
independent is wrong by an unknown factor: too wide when the correlation is
positive, too narrow when it is negative. The blocks of a run are the way
out. Block ``b`` holds the same replications in every cell, and different
blocks hold different replications, so the block totals are independent
across blocks and carry the cross-cell correlation within a block. A linear
statistic of the cells' proportions (a difference, a mean over opponents) is
computed block by block; its variance is estimated from the spread of the
block values (batch means; the blocks are independent by construction, so no
batch-size tuning is needed), and the interval uses Student's t with
``B - 1`` degrees of freedom (``B`` = number of blocks).

With too few blocks (fewer than :data:`MIN_BLOCKS`) the variance estimate is
too rough and callers fall back to the independent-cells formula.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..model.constants import WAR_OUTCOME
from ..scale.rundir import verified_blocks
from ..stats import Z95

MIN_BLOCKS = 10
METHOD = "batch means over blocks (t, B-1 df)"


def t975(df: int) -> float:
    """Student's t 97.5% quantile: tabulated up to 9 degrees of freedom, then a Cornish-Fisher expansion in ``1/df`` (error < 2e-5).

    Parameters
    ----------
    df : int
        Degrees of freedom (>= 1).
    """
    if df < 1:
        raise ValueError("df must be >= 1")
    exact = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105, 5: 2.570581836, 6: 2.446911851,
             7: 2.364624252, 8: 2.306004135, 9: 2.262157163}
    if df in exact:
        return exact[df]
    z = Z95
    v = float(df)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
            + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4))


def block_counts(run_dir: Path, n_cells: int) -> np.ndarray | None:
    """Outcome counts per cell and block of a finished run: array ``(cells, blocks, outcomes)``.

    Read from the run's checkpoints (``blocks/``) or, for a run merged from
    shards, from its ``shard-*.parquet`` files, every file verified
    (:func:`~escalation_sim.scale.rundir.verified_blocks`). Returns None when they
    are missing or fail, or when some cell lacks a block another cell has.
    """
    results = verified_blocks(Path(run_dir))
    if not results or set(results) != set(range(n_cells)):
        return None
    blocks = results[0].blocks.tolist()
    if any(r.blocks.tolist() != blocks for r in results.values()):
        return None
    return np.stack([results[c].counts.sum(axis=1) for c in range(n_cells)])


def wars(counts: np.ndarray) -> np.ndarray:
    """Wars (deliberate + miscalculation) from an array whose last axis is the outcome."""
    return counts[..., WAR_OUTCOME]


def linear_estimate(successes: np.ndarray, n: np.ndarray, weights: np.ndarray) -> tuple[float, float, float, int]:
    """A weighted sum of cells' proportions with a batch-means 95% interval.

    Parameters
    ----------
    successes : ndarray, shape (cells, blocks)
        Count of the event per cell and block.
    n : ndarray, shape (blocks,)
        Replications per block (the same in every cell).
    weights : ndarray, shape (cells,)
        The statistic is ``sum_j weights[j] * p_j``, ``p_j`` the cell's overall proportion.

    Returns
    -------
    (estimate, low, high, blocks) : tuple
        The interval is ``estimate +- t(B-1) * se`` with
        ``se^2 = B / (B - 1) * sum_b (n_b / N)^2 (s_b - estimate)^2``, ``s_b``
        the statistic computed on block ``b`` alone.
    """
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    w = np.asarray(weights, dtype=float)
    big_n = n.sum()
    est = float(w @ successes.sum(axis=1)) / big_n
    per_block = (w @ successes) / n
    b = n.shape[0]
    if b < 2:
        return est, math.nan, math.nan, b
    var = b / (b - 1) * float(np.sum((n / big_n) ** 2 * (per_block - est) ** 2))
    half = t975(b - 1) * math.sqrt(var)
    return est, est - half, est + half, b


def ratio_difference(x1: np.ndarray, c1: np.ndarray, x2: np.ndarray, c2: np.ndarray) -> tuple[float, float, float, int]:
    """``sum x1 / sum c1 - sum x2 / sum c2`` (per-block arrays) with a batch-means 95% interval.

    For ratios of two random totals (war among crises): the variance comes from
    the linearised residuals ``(x_b - R c_b) / C`` of each ratio, differenced
    block by block (delta method with batch means).
    """
    x1, c1, x2, c2 = (np.asarray(a, dtype=float) for a in (x1, c1, x2, c2))
    if c1.sum() <= 0 or c2.sum() <= 0:
        return math.nan, math.nan, math.nan, len(x1)
    r1, r2 = x1.sum() / c1.sum(), x2.sum() / c2.sum()
    z = (x1 - r1 * c1) / c1.sum() - (x2 - r2 * c2) / c2.sum()
    b = len(z)
    if b < 2:
        return r1 - r2, math.nan, math.nan, b
    var = b / (b - 1) * float(np.sum(z**2))
    half = t975(b - 1) * math.sqrt(var)
    d = float(r1 - r2)
    return d, d - half, d + half, b
