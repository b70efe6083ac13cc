"""Sobol indices of a contrast (``analysis/contrast_sobol.py``).

Known answers: a contrast that depends on one parameter only has S1 and ST near 1 for it and 0 for the others
(a synthetic model with a planted answer, two contrasts in one design); on the real engine, a parameter that no
arm reads gets indices of exactly 0 (the same seed at every point makes the contrast identical whatever its value),
and the one that matters gets the variance. The table's shape, the noise measurement and reproducibility.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import DIRECT_TOML

from escalation_sim.analysis import contrast_sobol as cs
from escalation_sim.analysis import contrasts as ct
from escalation_sim.model.validation import load_scenario

N_BIG = 10**9
A, B = ct.Arm(("immediate_deterrence",)), ct.Arm(("self_restraint",))
ONLY_X = ct.Contrast("only x", A.mix, B.mix, "all", 1, "")
ONLY_Y = ct.Contrast("only y", A.mix, B.mix, "need", -1, "", outcome="programme")
BOX = {"channel.misperception": (0.0, 0.25), "audience.cost": (0.0, 0.15), "intent.fear_loss": (0.0, 0.25)}


def planted(values: dict) -> dict:
    """War: arm A's probability rises with misperception, both arms share a term in audience cost (it cancels in
    the contrast). Programme (need-driven): the contrast is a function of fear_loss alone. Entrapment: equal."""
    x, z, y = values["channel.misperception"], values["audience.cost"], values["intent.fear_loss"]
    n = np.array([N_BIG, N_BIG])

    def ev(p):
        return np.array([round(p * N_BIG)] * 2, dtype=np.int64)

    return {A: {"war": (ev(0.1 + 2 * x + z), n), "programme": (ev(0.5 - y**2), n), "entrapment": (ev(0.05), n)},
            B: {"war": (ev(0.1 + z), n), "programme": (ev(0.3), n), "entrapment": (ev(0.05), n)}}


def test_sobol_recovers_the_one_parameter_each_contrast_depends_on():
    res = cs.contrast_sobol(None, [ONLY_X, ONLY_Y], BOX, 256, 1, seed=3, model=planted)
    assert len(res.samples) == 256 * (len(BOX) + 2)
    idx = res.indices.set_index(["contrast", "parameter"])
    for name, key in (("only x", "channel.misperception"), ("only y", "intent.fear_loss")):
        r = idx.loc[(name, key)]
        assert abs(r["S1"] - 1) < 0.15 and abs(r["ST"] - 1) < 0.15
        assert r["ST"] - r["ST_ci_halfwidth"] < 1 < r["ST"] + r["ST_ci_halfwidth"] + 0.05
        for other in BOX:
            if other != key:
                assert abs(idx.loc[(name, other), "S1"]) < 1e-6 and abs(idx.loc[(name, other), "ST"]) < 1e-6
    # the samples hold each contrast, computed from the planted probabilities
    s = res.samples
    np.testing.assert_allclose(s["c0"], 2 * s["channel.misperception"], atol=1e-8)
    np.testing.assert_allclose(s["c1"], 0.2 - s["intent.fear_loss"] ** 2, atol=1e-8)
    assert res.noise["crn_noise_points"].tolist() == [0, 0]  # no engine, no noise run


def test_a_contrast_that_does_not_vary_has_no_indices():
    flat = ct.Contrast("flat", A.mix, B.mix, "all", 1, "", outcome="entrapment")
    res = cs.contrast_sobol(None, [flat], BOX, 8, 1, seed=1, model=planted)
    assert res.indices["ST"].isna().all() and res.noise["var_across_points"].iloc[0] == 0.0
    assert "does not vary" in cs.sobol_markdown(res, [flat])


@pytest.fixture(scope="module")
def engine_run():
    """GRIT's transfer (read by one arm) and the norms' accuracy (read by no arm: norms of competition is in
    neither mix), on the real engine."""
    base = load_scenario(DIRECT_TOML)
    c = ct.Contrast("id vs grit, need", A.mix, ("grit",), "need", 1, "")
    box = {"defender.grit_transfer": (0.01, 0.06), "effects.norms_accuracy": (0.55, 0.9)}
    return base, c, box, cs.contrast_sobol(base, [c], box, 16, 512, seed=4, threads=1, noise_points=4)


def test_a_parameter_no_arm_reads_has_exactly_zero_indices(engine_run):
    _, _, _, res = engine_run
    idx = res.indices.set_index("parameter")
    assert idx.loc["effects.norms_accuracy", "S1"] == 0.0 and idx.loc["effects.norms_accuracy", "ST"] == 0.0
    assert res.noise["var_across_points"].iloc[0] > 0  # the transfer moves the contrast
    assert abs(idx.loc["defender.grit_transfer", "ST"] - 1) < 0.5  # the only source of variation
    # points that differ only in the unread parameter have identical contrasts (same seed everywhere)
    s = res.samples
    key = s["defender.grit_transfer"].round(12)
    assert (s.groupby(key)["c0"].nunique() == 1).all()


def test_noise_is_measured_and_reported(engine_run):
    _, c, _, res = engine_run
    nz = res.noise.iloc[0]
    assert nz["crn_noise_points"] == 4 and nz["crn_noise_variance"] >= 0
    assert nz["mean_paired_variance"] > 0 and nz["mean_binomial_variance"] > 0
    assert nz["crn_noise_share"] == pytest.approx(nz["crn_noise_variance"] / nz["var_across_points"])
    md = cs.sobol_markdown(res, [c])
    assert "`defender.grit_transfer`" in md and "N = 16" in md


def test_same_seed_same_indices_at_other_threads(engine_run):
    base, c, box, res = engine_run
    again = cs.contrast_sobol(base, [c], box, 16, 512, seed=4, threads=2, noise_points=4)
    pd.testing.assert_frame_equal(res.indices, again.indices)
    pd.testing.assert_frame_equal(res.samples, again.samples)
    pd.testing.assert_frame_equal(res.noise, again.noise)
