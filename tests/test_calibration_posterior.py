"""Posterior predictive helpers: combined intervals, the variance split, option comparisons."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from escalation_sim.calibration import (
    combined_share,
    compare_options,
    posterior_predictive,
    prob_less,
    toy,
    wilson_interval,
)
from escalation_sim.calibration.posterior import systematic_resample


def wilson_scipy(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return ci.low, ci.high


@pytest.mark.parametrize(("k", "n"), [(0, 1000), (3, 1000), (211, 1000), (500, 1000), (999, 1000), (7, 20)])
def test_wilson_matches_scipy(k, n):
    lo, hi = wilson_interval(k / n, n)
    slo, shi = wilson_scipy(k, n)
    assert lo == pytest.approx(slo, abs=1e-12) and hi == pytest.approx(shi, abs=1e-12)


@pytest.mark.parametrize(("k", "R"), [(0, 2000), (1, 2000), (422, 2000), (1999, 2000), (13, 50)])
def test_one_point_posterior_reduces_to_the_monte_carlo_interval(k, R):
    """A posterior that is a single point: the combined interval is the Wilson interval of k of R replications.

    Tolerance: one draw with weight 1 is exact (bit-equal to the same formula, 1e-12 to scipy's Wilson); 50
    identical draws with unequal weights may differ by rounding of the weighted mean (1e-12).
    """
    p = k / R
    one = combined_share(np.array([p]), np.array([1.0]), R)
    assert (one["low"], one["high"]) == wilson_interval(p, R)
    slo, shi = wilson_scipy(k, R)
    assert one["low"] == pytest.approx(slo, abs=1e-12) and one["high"] == pytest.approx(shi, abs=1e-12)
    assert one["var_parameters"] == 0.0 and one["share_monte_carlo"] == 1.0 and one["effective_replications"] == R
    w = np.arange(1.0, 51.0)
    many = combined_share(np.full(50, p), w, R)
    assert many["low"] == pytest.approx(slo, abs=1e-12) and many["high"] == pytest.approx(shi, abs=1e-12)
    assert many["share_parameters"] == pytest.approx(0.0, abs=1e-20)


def test_law_of_total_variance_and_the_split():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    w = np.array([0.4, 0.3, 0.2, 0.1])
    R = 1000
    r = combined_share(p, w, R)
    m = 0.4 * 0.1 + 0.3 * 0.2 + 0.2 * 0.3 + 0.1 * 0.4
    var_mc = np.sum(w * p * (1 - p)) / R
    var_par = np.sum(w * (p - m) ** 2)
    assert r["mean"] == pytest.approx(m)
    assert r["var_monte_carlo"] == pytest.approx(var_mc) and r["var_parameters"] == pytest.approx(var_par)
    assert r["var_total"] == pytest.approx(var_mc + var_par)
    assert r["share_parameters"] + r["share_monte_carlo"] == pytest.approx(1.0)
    assert r["effective_replications"] == pytest.approx(m * (1 - m) / (var_mc + var_par))
    # wider than the Monte Carlo interval of the mean alone
    lo_mc, hi_mc = wilson_interval(m, R)
    assert r["low"] < lo_mc and r["high"] > hi_mc
    # with many effective replications the Wilson interval is +-1.96 sd of the total variance (1%)
    p2 = np.array([0.28, 0.29, 0.30, 0.31])
    r2 = combined_share(p2, w, R)
    assert r2["effective_replications"] > 500
    assert (r2["high"] - r2["low"]) / 2 == pytest.approx(1.96 * np.sqrt(r2["var_total"]), rel=0.01)


def test_interval_covers_a_mixture_as_promised():
    """Draws from a posterior that is a mixture of parameter values: the combined 95% interval covers about 95%
    of the predictive distribution of a new R-replication estimate (simulated). Tolerance: 93-97.5%."""
    rng = np.random.Generator(np.random.PCG64(1))
    p = rng.beta(20, 60, size=400)
    R = 500
    r = combined_share(p, None, R)
    new = rng.binomial(R, p[rng.integers(0, len(p), 200_000)]) / R
    cover = np.mean((new >= r["low"]) & (new <= r["high"]))
    assert 0.93 <= cover <= 0.975


def test_posterior_predictive_table_and_comparison():
    sim = toy.ToySimulator(1000)

    def evaluate(theta, replications, seed):
        out = toy.ToySimulator(replications)(theta[None, :], seed)
        return {k: v[0] for k, v in out.items()}

    theta = np.array([[0.0] * 6, [0.2] * 6, [0.4] * 6])
    w = np.array([0.5, 0.3, 0.2])
    table = posterior_predictive(evaluate, theta, w, 1000, seed=5, categories=toy.OUTPUTS)
    war = table[(table.output == "icb_violence") & (table.category == "full_scale_war")].iloc[0]
    direct = sim(theta, 5)["icb_violence"][:, 3]
    assert war["mean"] == pytest.approx(float(np.sum(w * direct)))
    assert war["low"] < war["mean"] < war["high"]
    dur = table[table.output == "duration_median_days"].iloc[0]
    assert dur["category"] == "value"

    def evaluate_b(theta, replications, seed):  # option B: parameter c raised by 0.3 (more war in the toy)
        t = theta.copy()
        t[2] += 0.3
        return evaluate(t, replications, seed)

    res = compare_options(evaluate, evaluate_b, theta, w, "icb_violence", 3, 1000, seed=5)
    assert res["prob"] == 1.0 and res["mean_difference"] < 0
    rev = compare_options(evaluate_b, evaluate, theta, w, "icb_violence", 3, 1000, seed=5)
    assert rev["prob"] == 0.0


def test_prob_less_counts_ties_half_and_flags_unresolved():
    a = np.array([0.10, 0.20, 0.30, 0.40])
    b = np.array([0.20, 0.20, 0.25, 0.41])
    w = np.array([0.1, 0.2, 0.3, 0.4])
    r = prob_less(a, b, w, replications=1000)
    assert r["prob"] == pytest.approx(0.1 + 0.5 * 0.2 + 0.4)
    assert r["ties"] == pytest.approx(0.2)
    # |diff| within 1.96 independent-sample se (about 0.02 here): the tie (draw 2) and draw 4 (0.01), not 1 or 3
    assert r["unresolved"] == pytest.approx(0.2 + 0.4)


def test_systematic_resample_is_deterministic_and_proportional():
    w = np.array([0.5, 0.25, 0.25, 0.0])
    idx = systematic_resample(w, 8, seed=3)
    assert np.array_equal(idx, systematic_resample(w, 8, seed=3))
    assert np.bincount(idx, minlength=4).tolist() == [4, 2, 2, 0]
