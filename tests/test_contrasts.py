"""Contrasts (``analysis/contrasts.py``): the named sets and their claims, the counts of every outcome per arm and
block, and the paired standard error that common random numbers allow.

The paired error is checked against an independent formula (batch means of the block differences when every block
has the same replications), against the independent-binomial error where the arms share nothing, and on the real
engine, where a positively correlated pair must get a smaller error than the independent formula gives.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DIRECT_TOML, EXTENDED_TOML

from escalation_sim.analysis import contrasts as ct
from escalation_sim.engines import montecarlo as mc
from escalation_sim.errors import ConfigError
from escalation_sim.model.constants import WAR_OUTCOME
from escalation_sim.model.validation import load_scenario
from escalation_sim.pipeline.experiment import ROBUSTNESS_CONTRAST_SETS
from escalation_sim.scale.executors import LocalExecutor


# --- the sets ----------------------------------------------------------------------------------------------------
def test_the_pipeline_knows_the_same_sets_and_which_need_an_ally():
    assert ROBUSTNESS_CONTRAST_SETS == {name: any(c.needs_ally for c in cs) for name, cs in ct.CONTRAST_SETS.items()}
    assert set(ct.CONTRAST_SET_TITLES) == set(ct.CONTRAST_SETS)


@pytest.mark.parametrize("name", list(ct.CONTRAST_SETS))
def test_every_claim_has_a_direction_and_a_source(name):
    for c in ct.CONTRAST_SETS[name]:
        assert c.claim in (-1, 1)
        assert c.outcome in ct.OUTCOMES and c.motive in ct.MOTIVES
        assert any(src in c.claim_text for src in ("Lebow & Stein 1990", "Schelling 1966", "Fearon 1997",
                                                   "Snyder 1984", "Poast", "Yarhi-Milo & McManus 2016"))
        conclusion = c.claim_text.split(":")[-1].split()
        assert conclusion[0] == ("more" if c.claim > 0 else "less") or (c.claim < 0 and conclusion[0] == "fewer")
    assert len({c.name for c in ct.CONTRAST_SETS[name]}) == len(ct.CONTRAST_SETS[name])


def test_the_ally_instrument_set():
    """Tripwire vs public, tripwire vs private, public vs private statements, each on war, abandonment, programme
    and entrapment; less of everything claimed for the stronger instrument but entrapment (Snyder's dilemma)."""
    cs = ct.ALLY_INSTRUMENT_CONTRASTS
    pairs = {(c.mix_a[-1], c.mix_b[-1]) for c in cs}
    assert pairs == {("tripwire", "public_statement"), ("tripwire", "private_statement"),
                     ("public_statement", "private_statement")}
    assert all(c.mix_a[0] == c.mix_b[0] == "immediate_deterrence" and c.motive == "all" for c in cs)
    assert {(c.outcome, c.claim) for c in cs} == {("war", -1), ("abandonment", -1), ("programme", -1),
                                                  ("entrapment", 1)}
    assert all(c.needs_ally for c in cs)


def test_the_renewal_set_differs_only_in_the_renewal_interval():
    for c in ct.RENEWAL_CONTRASTS:
        assert c.mix_a == c.mix_b == ("immediate_deterrence", "public_statement")
        assert dict(c.set_a) == {"defender.renewal_interval": ct.RENEWAL_SHORT}
        assert dict(c.set_b) == {"defender.renewal_interval": ct.RENEWAL_LONG}
    assert ct.RENEWAL_SHORT < ct.RENEWAL_LONG
    assert ct.contrast_arms(ct.RENEWAL_CONTRASTS) == [ct.RENEWAL_CONTRASTS[0].arm_a, ct.RENEWAL_CONTRASTS[0].arm_b]


def test_an_arm_sets_its_settings_after_the_points_values():
    base = load_scenario(EXTENDED_TOML)
    arm = ct.RENEWAL_CONTRASTS[0].arm_a
    scen = arm.scenario(base, {"defender.renewal_interval": 99.0, "channel.misperception": 0.2})
    assert scen.value("defender.renewal_interval") == ct.RENEWAL_SHORT
    assert scen.value("channel.misperception") == 0.2
    assert [m.strategies for m in scen.mixes] == [("immediate_deterrence", "public_statement")]
    assert arm.label == "immediate_deterrence+public_statement [defender.renewal_interval=15]"


def test_select_contrasts():
    direct, extended = load_scenario(DIRECT_TOML), load_scenario(EXTENDED_TOML)
    assert ct.select_contrasts(["lebow-stein"], direct, "f.toml", "--contrasts") == ct.DEFAULT_CONTRASTS
    both = ct.select_contrasts(["ally-instruments", "renewal"], extended, "f.toml", "--contrasts")
    assert both == ct.ALLY_INSTRUMENT_CONTRASTS + ct.RENEWAL_CONTRASTS
    with pytest.raises(ConfigError, match=r"f.toml: --contrasts: unknown contrast set 'nope'; allowed: lebow-stein"):
        ct.select_contrasts(["nope"], direct, "f.toml", "--contrasts")
    with pytest.raises(ConfigError, match=r"f.toml: robustness.contrasts: 'renewal' .* has no ally"):
        ct.select_contrasts(["renewal"], direct, "f.toml", "robustness.contrasts")
    with pytest.raises(ConfigError, match="no contrast set"):
        ct.select_contrasts([], direct, "f.toml", "--contrasts")


# --- the paired standard error -----------------------------------------------------------------------------------
def _counts(ea, eb, n):
    a, b = ct.Arm(("x",)), ct.Arm(("y",))
    return {a: {"war": (np.asarray(ea), np.asarray(n))}, b: {"war": (np.asarray(eb), np.asarray(n))}}


def test_paired_error_is_batch_means_of_the_block_differences():
    """Equal replications in every block: the linearized error equals the batch-means error of the per-block
    differences, sd(d_b) / sqrt(B), an independent formula; the half-width uses t with B - 1 df."""
    rng = np.random.default_rng(0)
    B, n = 20, 200
    ea = np.stack([rng.binomial(n // 2, 0.3, B), rng.binomial(n // 2, 0.5, B)], axis=1)
    eb = ea - np.stack([rng.binomial(10, 0.5, B), rng.binomial(10, 0.5, B)], axis=1)
    nn = np.full((B, 2), n // 2)
    c = ct.Contrast("x", ("x",), ("y",), "all", 1, "")
    v, se, hw, method = ct.contrast_stats(c, _counts(ea, eb, nn))
    d = (ea.sum(axis=1) - eb.sum(axis=1)) / n
    assert v == pytest.approx(d.mean(), abs=1e-15)
    assert se == pytest.approx(d.std(ddof=1) / np.sqrt(B), rel=1e-12)
    assert hw == pytest.approx(2.093024054 * se, rel=1e-6)  # t(19), 97.5%
    assert "paired batch means over 20 blocks" in method
    need = ct.Contrast("x", ("x",), ("y",), "need", 1, "")
    dn = (ea[:, 1] - eb[:, 1]) / (n // 2)
    assert ct.contrast_stats(need, _counts(ea, eb, nn))[1] == pytest.approx(dn.std(ddof=1) / np.sqrt(B), rel=1e-12)


def test_identical_arms_have_no_error_and_few_blocks_fall_back_to_binomial():
    e = np.array([[3, 4]] * 12)
    n = np.array([[50, 50]] * 12)
    c = ct.Contrast("x", ("x",), ("y",), "all", 1, "")
    assert ct.contrast_stats(c, _counts(e, e, n))[:3] == (0.0, 0.0, 0.0)
    assert ct.verdict(0.0, 0.0, 1) == "indeterminate"
    v, se, hw, method = ct.contrast_stats(c, _counts(e[:5], e[:5] * 0, n[:5]))
    p = 35 / 500
    assert se == pytest.approx(np.sqrt(p * (1 - p) / 500)) and hw == pytest.approx(ct.Z * se)
    assert method.startswith("independent binomial")


def test_paired_error_of_independent_arms_matches_the_binomial_error():
    """Arms that share nothing: the paired error estimates the independent-binomial one (within ~25% at 400
    blocks), so the paired error is no free lunch where common random numbers do not correlate the arms."""
    rng = np.random.default_rng(1)
    B, n = 400, 100
    ea = np.stack([rng.binomial(n, 0.3, B), rng.binomial(n, 0.5, B)], axis=1)
    eb = np.stack([rng.binomial(n, 0.2, B), rng.binomial(n, 0.4, B)], axis=1)
    nn = np.full((B, 2), n)
    c = ct.Contrast("x", ("x",), ("y",), "all", 1, "")
    counts = _counts(ea, eb, nn)
    assert ct.contrast_value(c, counts)[1] == pytest.approx(ct.independent_se(c, counts), rel=0.25)


# --- the engine ----------------------------------------------------------------------------------------------------
def test_run_arms_counts_are_the_engines_and_do_not_depend_on_blocks_or_threads():
    """Summed over blocks, each arm's counts equal the compiled engine's own cell loop with the same seed (an
    independent path), for every outcome; other block sizes and threads give the same totals."""
    base = load_scenario(EXTENDED_TOML)
    arms = ct.contrast_arms(ct.RENEWAL_CONTRASTS)
    a = ct.run_arms(base, {}, arms, 1024, 7, 64, 1, LocalExecutor(1))
    b = ct.run_arms(base, {}, arms, 1024, 7, 256, 2, LocalExecutor(2))
    for arm in arms:
        tot = mc.run_cell(arm.scenario(base, {}), 1024, 7, block_size=1024, threads=1)
        assert a[arm]["war"][0].shape == (16, 2) and b[arm]["war"][0].shape == (4, 2)
        expect = {"war": tot.counts[:, WAR_OUTCOME], "abandonment": tot.abandonment, "programme": tot.programme,
                  "proliferation": tot.prolif, "entrapment": tot.entrapment}
        for outcome, arr in expect.items():
            np.testing.assert_array_equal(a[arm][outcome][0].sum(axis=0), arr)
            np.testing.assert_array_equal(b[arm][outcome][0].sum(axis=0), arr)
            np.testing.assert_array_equal(a[arm][outcome][1].sum(axis=0), tot.counts.sum(axis=1))


def test_common_random_numbers_shrink_the_error_of_a_correlated_contrast():
    """Public statements renewed every 15 vs 120 days share most of their crises: the paired error of the war
    contrast is well below the independent-binomial one."""
    base = load_scenario(EXTENDED_TOML)
    c = ct.RENEWAL_CONTRASTS[0]
    counts = ct.run_arms(base, {}, ct.contrast_arms([c]), 2048, 3, 64, 2, LocalExecutor(2))
    _, se = ct.contrast_value(c, counts)
    assert se < 0.8 * ct.independent_se(c, counts)


def test_contrast_row_names_every_arm_outcome_and_motive():
    base = load_scenario(EXTENDED_TOML)
    cs = ct.RENEWAL_CONTRASTS
    counts = ct.run_arms(base, {}, ct.contrast_arms(cs), 640, 1, 64, 1, LocalExecutor(1))
    row = ct.contrast_row(cs, counts)
    for arm in ct.contrast_arms(cs):
        for c in cs:
            for m in ct.MOTIVES:
                assert 0 <= row[f"p_{c.outcome}[{arm.label}|{m}]"] <= 1
    for j, c in enumerate(cs):
        v, se, hw, _ = ct.contrast_stats(c, counts)
        assert (row[f"c{j}"], row[f"c{j}_se"], row[f"c{j}_halfwidth"]) == (v, se, hw)
        assert row[f"c{j}_verdict"] == ct.verdict(v, hw, c.claim, z=1.0)
        assert v == pytest.approx(row[f"p_{c.outcome}[{c.arm_a.label}|all]"] - row[f"p_{c.outcome}[{c.arm_b.label}|all]"])
