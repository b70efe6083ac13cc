"""Estimates and intervals from cell totals.

Probabilities get Wilson score intervals (Wilson 1927), named in every output
as ``ci_method = "wilson"``: unlike the normal approximation they stay inside
[0, 1] and keep close to nominal coverage for rare outcomes such as war by
miscalculation.
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054  # standard normal 97.5% quantile
CI_METHOD = "wilson"
CI_LEVEL = 0.95


def wilson(count: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    count, n : int
        Successes and trials (``n = 0`` gives ``(nan, nan)``).
    z : float
        Normal quantile (1.96 for 95%).

    Returns
    -------
    (low, high) : tuple of float
    """
    if n <= 0:
        return (math.nan, math.nan)
    p = count / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # at 0 and n the bound is exactly 0 and 1 (rounding would put it a hair inside and exclude the estimate)
    lo = 0.0 if count <= 0 else max(0.0, centre - half)
    hi = 1.0 if count >= n else min(1.0, centre + half)
    return (lo, hi)


def wilson_halfwidth(count: int, n: int, z: float = Z95) -> float:
    """Half the width of the Wilson interval."""
    lo, hi = wilson(count, n, z)
    return (hi - lo) / 2


def hist_quantile(hist: np.ndarray, width: float, q: float) -> float:
    """Quantile ``q`` of a histogram with bins ``[k*width, (k+1)*width)``.

    Returns the upper edge of the bin holding the quantile: resolution ``width``.
    """
    total = int(hist.sum())
    if total == 0:
        return math.nan
    target = q * total
    cum = np.cumsum(hist)
    k = int(np.searchsorted(cum, target, side="left"))
    return (k + 1) * width
