"""Contrasts over a calibration posterior (``analysis/contrast_posterior.py``).

The shares respect the weights (a planted model whose verdict is known at each particle: the shares equal the
weights), a posterior with all its weight on one particle gives that particle's verdict on the real engine (run
independently), the rank correlations find a planted monotone dependence, and every malformed posterior file is
refused with its name and the column at fault.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import DIRECT_TOML
from fake_posterior import fake_posterior

from escalation_sim.analysis import contrast_posterior as cp
from escalation_sim.analysis import contrasts as ct
from escalation_sim.errors import ConfigError
from escalation_sim.model.validation import load_scenario
from escalation_sim.scale.executors import LocalExecutor

A, B = ct.Arm(("immediate_deterrence",)), ct.Arm(())
C = ct.Contrast("id vs none", A.mix, B.mix, "all", -1, "")


def planted(values: dict) -> dict:
    """The contrast is misperception - 0.125 with a tiny error: it holds (claim -1) below 0.125, fails above."""
    x = values["channel.misperception"]
    n = np.full((20, 2), 10**8)
    ea = np.full((20, 2), round((0.3 + x - 0.125) * 10**8), dtype=np.int64)
    eb = np.full((20, 2), round(0.3 * 10**8), dtype=np.int64)
    ea[0] += 1  # a little spread between blocks: a finite, tiny standard error
    return {A: {"war": (ea, n)}, B: {"war": (eb, n)}}


def test_shares_are_the_weights(tmp_path):
    """Three particles: one where the contrast holds, one where it is ~0 (indeterminate), one where it fails;
    weights 0.5, 0.3, 0.2 and 1,000 draws: the shares are exactly the weights (systematic resampling)."""
    path = fake_posterior(tmp_path / "p.parquet", 3, [0.5, 0.3, 0.2],
                          values={"channel.misperception": [0.05, 0.125, 0.2]})
    res = cp.contrast_posterior(None, [C], path, 1000, 1, seed=3, model=planted)
    r = res.summary.iloc[0]
    assert (r["share_holds"], r["share_indeterminate"], r["share_fails"]) == (0.5, 0.3, 0.2)
    assert res.particles["draws"].tolist() == [500, 300, 200]
    assert r["distinct_particles"] == 3
    assert r["effective_draws"] == pytest.approx(1000**2 / (500**2 + 300**2 + 200**2))
    assert r["holds_ci_low"] < 0.5 < r["holds_ci_high"]
    assert r["mean_value"] == pytest.approx(0.5 * -0.075 + 0.2 * 0.075, abs=1e-6)
    assert r["p_claimed_sign"] == 0.5 and r["value_q05"] == pytest.approx(-0.075, abs=1e-6)
    # a parameter the contrast follows, and ones it ignores
    rc = res.rank_correlations.set_index("parameter")["spearman"]
    assert rc["channel.misperception"] == pytest.approx(1.0)


def test_weightless_particles_are_never_drawn(tmp_path):
    path = fake_posterior(tmp_path / "p.csv", 3, [0.0, 1.0, 0.0], values={"channel.misperception": [0.05, 0.2, 0.05]})
    res = cp.contrast_posterior(None, [C], path, 64, 1, seed=0, model=planted)
    assert res.particles["row"].tolist() == [1] and res.summary["share_fails"].iloc[0] == 1.0


def test_resampling_follows_the_weights(tmp_path):
    w = np.array([0.05, 0.4, 0.3, 0.25])
    path = fake_posterior(tmp_path / "p.parquet", 4, w)
    parts, mult, names = cp.posterior_particles(path, 37, seed=5)
    assert mult.sum() == 37 and names == ["decision.precision", "channel.misperception", "audience.cost"]
    counts = np.zeros(4)
    counts[parts["row"].to_numpy()] = mult
    assert np.all(np.abs(counts - 37 * w) < 1)  # systematic resampling: floor or ceiling of the expected number
    again = cp.posterior_particles(path, 37, seed=5)
    pd.testing.assert_frame_equal(parts, again[0])


def test_all_weight_on_one_particle_gives_its_verdict(tmp_path):
    """The real engine: the posterior's view equals one independent run at that particle's values."""
    base = load_scenario(DIRECT_TOML)
    path = fake_posterior(tmp_path / "p.parquet", 4, [0, 0, 1, 0], seed=2)
    contrasts = ct.DEFAULT_CONTRASTS[:3]
    res = cp.contrast_posterior(base, contrasts, path, 50, 1024, seed=9, threads=1)
    df = pd.read_parquet(path)
    values = {k: float(df.loc[2, k]) for k in ("decision.precision", "channel.misperception", "audience.cost")}
    counts = ct.run_arms(base, values, ct.contrast_arms(contrasts), 1024, 9, ct.point_block_size(1024), 1,
                         LocalExecutor(1))
    assert res.summary["distinct_particles"].tolist() == [1] * 3 and res.summary["effective_draws"].iloc[0] == 1.0
    for j, c in enumerate(contrasts):
        v, _, hw, _ = ct.contrast_stats(c, counts)
        expected = ct.verdict(v, hw, c.claim, z=1.0)
        r = res.summary.iloc[j]
        assert r[f"share_{expected}"] == 1.0
        assert r["mean_value"] == v and res.particles[f"c{j}"].iloc[0] == v


@pytest.mark.parametrize(("edit", "field"), [
    (lambda df: df.drop(columns="weight"), "weight"),
    (lambda df: df.assign(weight=-df["weight"]), "weight"),
    (lambda df: df.assign(weight=0.0), "weight"),
    (lambda df: df.assign(**{"foo.bar": 1.0}), "foo.bar"),
    (lambda df: df.assign(**{"channel.misperception": 2.0}), "channel.misperception"),
    (lambda df: df.assign(**{"audience.cost": np.nan}), "audience.cost"),
    (lambda df: df[["particle", "weight", "distance"]], "no parameter columns"),
    (lambda df: df.iloc[:0], "no particles"),
])
def test_a_malformed_posterior_is_refused_with_file_and_column(tmp_path, edit, field):
    good = fake_posterior(tmp_path / "good.csv", 4)
    bad = tmp_path / "bad.csv"
    edit(pd.read_csv(good)).to_csv(bad, index=False)
    with pytest.raises(ConfigError) as exc:
        cp.read_posterior(bad)
    assert str(bad) in str(exc.value) and field in str(exc.value)


def test_a_missing_or_unreadable_posterior_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        cp.read_posterior(tmp_path / "none.parquet")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet")
    with pytest.raises(ConfigError, match="not a readable"):
        cp.read_posterior(junk)


def test_weighted_helpers():
    assert cp.effective_draws(np.array([5, 5])) == 2.0 and cp.effective_draws(np.array([10])) == 1.0
    assert cp.weighted_quantile(np.array([1.0, 2.0, np.nan]), np.array([3, 1, 5]), 0.5) == 1.0
    assert np.isnan(cp.spearman(np.ones(5), np.arange(5.0)))
