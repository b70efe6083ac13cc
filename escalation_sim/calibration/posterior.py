"""Predictions over a weighted posterior sample: shares with intervals that combine parameter and Monte
Carlo uncertainty, and pairwise comparisons of options.

The model side provides an ``evaluate`` callable::

    evaluate(theta: ndarray (d,), replications: int, seed: int) -> {output: ndarray (k,) of shares}

that runs ``replications`` crises at one parameter vector. Every draw is evaluated with the same seed
(common random numbers across draws and across the options being compared).

Combined interval for one share. With posterior weights ``w_i`` and the share ``p_i`` estimated from
``R`` replications at draw ``i``, the law of total variance gives::

    Var = E_w[p (1 - p) / R]  +  Var_w(p)
          (Monte Carlo)          (parameters)

and the predictive mean is ``m = E_w[p]``. The interval is the Wilson score interval for ``m`` at the
effective number of replications ``R_eff = m (1 - m) / Var`` (Kish's design effect): when the posterior is
a single point, ``Var_w(p) = 0`` and ``R_eff = R`` exactly, so the interval is the ordinary Monte Carlo
(binomial, Wilson) interval; the more the share varies over the posterior, the smaller ``R_eff`` and the
wider the interval. The shares of the variance that each part contributes are reported with it.

Caveat: with common random numbers the Monte Carlo errors of different draws are correlated, so
``Var_w(p)`` measured across draws is close to the parameter variance (the common error cancels),
while the Monte Carlo term counts each draw's binomial variance in full: the split is a good
description, and the total is if anything conservative.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

Evaluate = Callable[[np.ndarray, int, int], Mapping[str, np.ndarray]]


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2.0))


def wilson_interval(p: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a share ``p`` observed on ``n`` trials (``n`` need not be an integer)."""
    if not n > 0 or not math.isfinite(p):
        return (math.nan, math.nan)
    z = _z(level)
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _normalise(weights: np.ndarray | None, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, float)
    if w.shape != (n,) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(f"weights must be {n} non-negative numbers with a positive sum")
    return w / w.sum()


def combined_share(p: np.ndarray, weights: np.ndarray | None, replications: int, level: float = 0.95) -> dict:
    """Posterior predictive mean of one share and its combined interval.

    Parameters
    ----------
    p : array (n_draws,)
        The share at each posterior draw, each estimated from ``replications`` crises.
    weights : array (n_draws,) or None
        Posterior weights (normalised here); None for equal weights.
    replications : int
        ``R`` per draw.
    level : float
        Interval level.

    Returns
    -------
    dict with ``mean``, ``low``, ``high``, ``var_total``, ``var_parameters``, ``var_monte_carlo``,
    ``share_parameters``, ``share_monte_carlo``, ``effective_replications``, ``draws``, and the
    parameter-only interval ``param_low``/``param_high`` (weighted quantiles of ``p``).
    """
    p = np.asarray(p, float)
    w = _normalise(weights, len(p))
    R = int(replications)
    m = float(np.sum(w * p))
    var_mc = float(np.sum(w * p * (1.0 - p))) / R
    var_par = float(np.sum(w * (p - m) ** 2))
    total = var_mc + var_par
    if var_par == 0.0 or total == 0.0:
        r_eff = float(R)
    else:
        r_eff = min(float(R), m * (1.0 - m) / total) if m * (1.0 - m) > 0 else float(R)
    lo, hi = wilson_interval(m, r_eff, level)
    a = (1.0 - level) / 2.0
    return {
        "mean": m, "low": lo, "high": hi, "level": level,
        "var_total": total, "var_parameters": var_par, "var_monte_carlo": var_mc,
        "share_parameters": var_par / total if total > 0 else 0.0,
        "share_monte_carlo": var_mc / total if total > 0 else 1.0,
        "effective_replications": r_eff, "replications": R, "draws": len(p),
        "param_low": _wq(p, w, a), "param_high": _wq(p, w, 1.0 - a),
    }


def _wq(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order])
    i = int(np.searchsorted(cw / cw[-1], q, side="left"))
    return float(x[order[min(i, len(x) - 1)]])


def evaluate_draws(evaluate: Evaluate, theta: np.ndarray, replications: int, seed: int) -> dict[str, np.ndarray]:
    """Evaluate every draw (row of ``theta``) with the same seed; stack each output to ``(n_draws, k)``."""
    theta = np.atleast_2d(np.asarray(theta, float))
    rows = [evaluate(theta[i], int(replications), int(seed)) for i in range(len(theta))]
    out = {}
    for name in rows[0]:
        out[name] = np.stack([np.atleast_1d(np.asarray(r[name], float)) for r in rows])
    return out


def posterior_predictive(evaluate: Evaluate, theta: np.ndarray, weights: np.ndarray | None, replications: int,
                         seed: int, categories: Mapping[str, Sequence[str] | None] | None = None,
                         level: float = 0.95) -> pd.DataFrame:
    """Combined intervals for every share of every output, one row per (output, category).

    ``categories`` names the columns of each output (default ``0, 1, ...``); scalar outputs (``None``)
    are summarised by their weighted mean and parameter-only interval.
    """
    shares = evaluate_draws(evaluate, theta, replications, seed)
    return predictive_table(shares, weights, replications, categories, level)


def predictive_table(shares: Mapping[str, np.ndarray], weights: np.ndarray | None, replications: int,
                     categories: Mapping[str, Sequence[str] | None] | None = None, level: float = 0.95) -> pd.DataFrame:
    """As :func:`posterior_predictive`, from shares already evaluated (``{output: (n_draws, k)}``)."""
    rows = []
    for name, a in shares.items():
        a = np.asarray(a, float)
        if a.ndim == 1:
            a = a[:, None]
        cats = (categories or {}).get(name, None) if categories is not None else None
        scalar = categories is not None and name in categories and categories[name] is None
        for j in range(a.shape[1]):
            label = "value" if scalar else (cats[j] if cats else str(j))
            if scalar:
                w = _normalise(weights, len(a))
                al = (1.0 - level) / 2.0
                mean = float(np.sum(w * a[:, j]))
                rows.append({"output": name, "category": label, "mean": mean, "low": _wq(a[:, j], w, al),
                             "high": _wq(a[:, j], w, 1 - al), "level": level, "var_parameters": float(np.sum(w * (a[:, j] - mean) ** 2)),
                             "share_parameters": math.nan, "share_monte_carlo": math.nan, "effective_replications": math.nan})
                continue
            r = combined_share(a[:, j], weights, replications, level)
            rows.append({"output": name, "category": label, **{k: r[k] for k in (
                "mean", "low", "high", "level", "var_parameters", "var_monte_carlo", "var_total",
                "share_parameters", "share_monte_carlo", "effective_replications", "param_low", "param_high")}})
    return pd.DataFrame(rows)


def prob_less(p_a: np.ndarray, p_b: np.ndarray, weights: np.ndarray | None, replications: int | None = None,
              z: float = 1.96) -> dict:
    """Posterior probability that option A gives a smaller share than option B.

    ``p_a[i]`` and ``p_b[i]`` are the shares at draw ``i`` (evaluated with common random numbers).
    ``prob`` counts ties as one half. With ``replications``, ``unresolved`` is the posterior weight of the
    draws whose difference is within ``z`` binomial standard errors of an independent-samples
    comparison: an upper bound on the draws where simulation noise could flip the sign (common random
    numbers make the real noise of the difference smaller).
    """
    p_a = np.asarray(p_a, float)
    p_b = np.asarray(p_b, float)
    w = _normalise(weights, len(p_a))
    diff = p_a - p_b
    prob = float(np.sum(w * (diff < 0)) + 0.5 * np.sum(w * (diff == 0)))
    out = {"prob": prob, "ties": float(np.sum(w * (diff == 0))), "mean_difference": float(np.sum(w * diff)),
           "draws": len(p_a)}
    if replications:
        se = np.sqrt((p_a * (1 - p_a) + p_b * (1 - p_b)) / replications)
        out["unresolved"] = float(np.sum(w * (np.abs(diff) <= z * se)))
    return out


def compare_options(evaluate_a: Evaluate, evaluate_b: Evaluate, theta: np.ndarray, weights: np.ndarray | None,
                    output: str, column: int, replications: int, seed: int) -> dict:
    """``P(A gives less of output[column] than B)`` over the posterior, both run with the same seed per draw."""
    a = evaluate_draws(evaluate_a, theta, replications, seed)[output][:, column]
    b = evaluate_draws(evaluate_b, theta, replications, seed)[output][:, column]
    return prob_less(a, b, weights, replications)


def systematic_resample(weights: np.ndarray, m: int, seed: int) -> np.ndarray:
    """Indices of ``m`` equally weighted draws from a weighted sample (systematic resampling, one uniform)."""
    w = _normalise(weights, len(weights))
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed))))
    u = (rng.random() + np.arange(m)) / m
    idx = np.searchsorted(np.cumsum(w), u, side="left")
    return np.minimum(idx, len(w) - 1)


__all__ = [
    "Evaluate", "wilson_interval", "combined_share", "evaluate_draws", "posterior_predictive", "predictive_table",
    "prob_less", "compare_options", "systematic_resample",
]
