"""Outcome-level properties of the decision layer, replication for replication (compiled engine).

* Complete information and degenerate priors: the actual run equals its complete-information
  twin, so no war is "by miscalculation".
* Fearon (1995): with complete information, a bargaining range, no misperception, no incidents
  and (near) best responses, no war; the same scenario with logit noise or private information
  has wars (the test can fail).
* Need and opportunity (Lebow & Stein): with no costs of inaction and no motivated bias the two
  motives behave identically; with either they do not.

Comparisons are exact (``numpy.array_equal`` on final state vectors): the engine is
deterministic given (seed, replication), so "the same" means bit for bit.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import reference_model as ref
from decision_cases import params_of

from escalation_sim.engines import montecarlo
from escalation_sim.engines.simpy_engine import simulate
from escalation_sim.model import constants as C
from escalation_sim.model.scenario import Scenario

N = 2000  # replications per comparison
WAR = C.WAR_OUTCOME


def states(values, strategies=(), seed=3, n=N, twin=False):
    return montecarlo.final_states(Scenario.build(values=values, strategies=list(strategies)), seed, range(n), twin=twin)


def without(*fields):
    mask = np.ones(C.STATE_SIZE, bool)
    mask[list(fields)] = False
    return mask


def miscalculated(actual, twin):
    return int(((actual[:, C.X_OUTCOME] == WAR) & (twin[:, C.X_OUTCOME] != WAR)).sum())


# --- 4a. complete information and degenerate priors: no miscalculation -------------------------------------
PRIOR_KEYS = ("challenger.p_greedy", "challenger.p_resolved", "defender.p_greedy", "defender.p_resolved")


@pytest.mark.parametrize("combo", list(itertools.product([0.0, 1.0], repeat=4)))
def test_degenerate_priors_run_equals_its_twin(combo):
    """Every prior in {0, 1}: the prior is a point mass on the true type (the types are drawn with
    u < 0 or u < 1), so the actual run and the twin are the same run, replication for replication
    (final states equal except the complete-information flag), with default noise (misperception
    0.1, incidents) and the default precision. Hence zero wars by miscalculation."""
    values = dict(zip(PRIOR_KEYS, combo, strict=True))
    actual, twin = states(values), states(values, twin=True)
    assert np.array_equal(actual[:, without(C.X_COMPLETE)], twin[:, without(C.X_COMPLETE)])
    assert (actual[:, C.X_COMPLETE] == 0).all() and (twin[:, C.X_COMPLETE] == 1).all()
    assert miscalculated(actual, twin) == 0


@pytest.mark.parametrize("strategies", [
    ["grit", "tit_for_tat"],  # transfers are Bayes updates on a point mass
    ["limited_security_regime", "norms_of_competition"],  # so are reports
    ["immediate_deterrence", "general_deterrence"],
])
def test_degenerate_priors_with_strategies(strategies):
    values = {"challenger.p_greedy": 1.0, "challenger.p_resolved": 0.0, "defender.p_greedy": 0.0, "defender.p_resolved": 1.0,
              "channel.misperception": 0.25, "military.incident_rate": 0.06}
    actual, twin = states(values, strategies), states(values, strategies, twin=True)
    assert np.array_equal(actual[:, without(C.X_COMPLETE)], twin[:, without(C.X_COMPLETE)])


ALLY_NOISY = {"ally.present": True, "ally.lapse_rate": 1 / 90, "ally.recommit_rate": 1 / 90, "ally.p_committed": 0.6,
              "defender.renewal_interval": 30.0, "ally.review_interval": 45.0, "ally.risk_gain": 0.06,
              "effects.tripwire_lr": 2.0, "channel.misperception": 0.25, "military.incident_rate": 0.06}


@pytest.mark.parametrize("strategies", [
    ["tripwire", "public_statement", "immediate_deterrence"],  # the tripwire's evidence is a Bayes update too
    ["alliance_terms", "aid", "exercises", "tit_for_tat"],
])
def test_degenerate_priors_with_an_ally(strategies):
    """Issue 12: the ally's filter, reviews and programme, the commitment chain and the tripwire's evidence do not
    depend on what the crisis leaders know: with degenerate priors the run still equals its twin, provocations,
    programmes, detections and abandonments included."""
    values = {"challenger.p_greedy": 1.0, "challenger.p_resolved": 0.0, "defender.p_greedy": 0.0,
              "defender.p_resolved": 1.0, **ALLY_NOISY}
    actual, twin = states(values, strategies), states(values, strategies, twin=True)
    assert np.array_equal(actual[:, without(C.X_COMPLETE)], twin[:, without(C.X_COMPLETE)])
    assert (actual[:, C.X_PROVOKED] >= 0).sum() > 50 and (actual[:, C.X_PROGRAMME_STARTED] > 0).sum() > 50


def test_ally_twins_differ_with_private_information():
    """The test above can fail: at the default priors the ally's runs and their twins differ (the crisis changes
    what the ally sees, hence its belief and choices)."""
    strategies = ["tripwire", "public_statement", "immediate_deterrence"]
    actual, twin = states(ALLY_NOISY, strategies), states(ALLY_NOISY, strategies, twin=True)
    conf = C.GLOBAL_FIELDS + C.ALLY * C.STATE_FIELDS + C.S_CONFIDENCE
    assert (actual[:, conf] != twin[:, conf]).sum() > 50


def test_complete_information_scenario_equals_its_twin():
    """belief.complete_information = true: the run *is* its twin (default priors, default noise)."""
    values = {"belief.complete_information": True}
    actual, twin = states(values), states(values, twin=True)
    assert np.array_equal(actual, twin)


def test_miscalculation_is_measurable():
    """The test above can fail: at the default (private) priors many wars have a peaceful twin, and
    the twin differs from the actual run in outcomes."""
    actual, twin = states({}), states({}, twin=True)
    assert miscalculated(actual, twin) > 50
    assert (actual[:, C.X_OUTCOME] != twin[:, C.X_OUTCOME]).sum() > 200


def test_simpy_twin_matches_compiled_twin():
    """The SimPy engine's twin equals the compiled one (a few replications, full state)."""
    s = Scenario.build(values={"channel.misperception": 0.25})
    compiled = montecarlo.final_states(s, 3, range(8), twin=True)
    for rep in range(8):
        assert np.array_equal(simulate(s, 3, rep, record=False, twin=True).state, compiled[rep])


# --- 4b. Fearon's result --------------------------------------------------------------------------------
FEARON = {
    "belief.complete_information": True,
    "channel.misperception": 0.0,
    "military.incident_rate": 0.0,
    "decision.precision": 1e6,
    "challenger.need_rate": 0.0,  # costs of inaction are private (the defender's model ignores them)
    "intent.fear_loss": 0.02,  # small: a range exists for every pair of types (checked below)
    "audience.cost": 0.15,  # tying hands: wars under private information (the test can fail)
    "defender.p_resolved": 0.2,
    "challenger.p_resolved": 0.8,
    "intent.gain_weight": 0.8,
}
N_FEARON = 4000
FEARON_MIXES = [[], ["immediate_deterrence"], ["tit_for_tat"], ["generous_tit_for_tat"], ["general_deterrence"],
                ["reciprocal_concessions", "self_restraint"], ["limited_security_regime", "norms_of_competition"]]


def test_fearon_scenario_has_a_bargaining_range():
    """For every pair of types, every first striker and readiness levels at most one rung apart,
    some division y is preferred to war by both (each fearing the worst, P(adversary greedy) = 1):
    u_C(y) - F >= war_C and u_D(1 - y) - F >= war_D."""
    pay = ref.Payoffs(params_of(Scenario.build(values=FEARON).vectors()[0][0]))
    for i, j in itertools.product(range(4), repeat=2):
        for lc, ld in itertools.product(range(6), repeat=2):
            if abs(lc - ld) > 1:
                continue
            rc, rd = pay.readiness(ref.CHALLENGER, lc), pay.readiness(ref.DEFENDER, ld)
            war_c = pay.war(ref.CHALLENGER, i, pay.pi_c(rc, rd, ref.CHALLENGER))  # each side's war: it strikes first
            war_d = pay.war(ref.DEFENDER, j, pay.pi_c(rc, rd, ref.DEFENDER))
            lo = pay.u_inv(ref.CHALLENGER, i, war_c + pay.F)
            hi = 1.0 - pay.u_inv(ref.DEFENDER, j, war_d + pay.F)
            assert lo <= hi, (i, j, lc, ld, lo, hi)


@pytest.mark.parametrize("mix", FEARON_MIXES, ids=lambda m: "+".join(m) or "none")
def test_fearon_no_war_under_complete_information(mix):
    """4,000 replications, no war. (If each had even a 0.1% chance of war, P(0 wars) < 2%.)"""
    out = states(FEARON, mix, seed=8, n=N_FEARON)[:, C.X_OUTCOME]
    assert (out == WAR).sum() == 0, np.bincount(out.astype(int), minlength=C.N_OUTCOMES)
    assert (out != C.NO_CHALLENGE).sum() > 1000  # crises do happen


@pytest.mark.parametrize("change,min_wars", [
    ({"decision.precision": 25.0}, 300),  # logit errors
    ({"belief.complete_information": False}, 100),  # private information with tied hands
    ({"intent.fear_loss": 0.3}, 100),  # no bargaining range: fear exceeds the costs of war
])
def test_fearon_can_fail(change, min_wars):
    out = states({**FEARON, **change}, seed=8, n=N_FEARON)[:, C.X_OUTCOME]
    assert (out == WAR).sum() >= min_wars


def test_fearon_private_information_wars_are_miscalculations():
    """With private information the wars of the Fearon scenario all have a peaceful twin."""
    values = {**FEARON, "belief.complete_information": False}
    actual, twin = states(values, seed=8, n=N_FEARON), states(values, seed=8, n=N_FEARON, twin=True)
    wars = int((actual[:, C.X_OUTCOME] == WAR).sum())
    assert wars > 100 and miscalculated(actual, twin) == wars


# --- 5. need and opportunity ----------------------------------------------------------------------------------
NEED_BASE = {"challenger.need_rate": 0.0, "challenger.motivated_bias": 0.0, "channel.misperception": 0.2,
             "military.incident_rate": 0.04}
NEED_MIXES = [[], ["grit", "tit_for_tat"], ["norms_of_competition", "immediate_deterrence"]]


@pytest.mark.parametrize("mix", NEED_MIXES, ids=lambda m: "+".join(m) or "none")
def test_need_and_opportunity_identical_without_need_rate_and_bias(mix):
    """p_need = 0 vs 1: every challenger opportunity-driven vs need-driven. The motive draw S2 is made
    in both, so the streams are aligned: outcomes, end times, terms, types, beliefs... equal, only X_NEED differs."""
    opp = states({**NEED_BASE, "challenger.p_need": 0.0}, mix)
    need = states({**NEED_BASE, "challenger.p_need": 1.0}, mix)
    assert (opp[:, C.X_NEED] == 0).all() and (need[:, C.X_NEED] == 1).all()
    assert np.array_equal(opp[:, without(C.X_NEED)], need[:, without(C.X_NEED)])
    assert len(set(opp[:, C.X_OUTCOME])) >= 4  # a varied set of crises


@pytest.mark.parametrize("change", [{"challenger.need_rate": 0.001}, {"challenger.motivated_bias": 0.9}])
def test_need_and_opportunity_differ_with_need_rate_or_bias(change):
    """The test above can fail: costs of inaction, or motivated bias alone, change the crises."""
    values = {**NEED_BASE, **change}
    mix = ["grit", "tit_for_tat"] if "challenger.motivated_bias" in change else []
    opp = states({**values, "challenger.p_need": 0.0}, mix)
    need = states({**values, "challenger.p_need": 1.0}, mix)
    keys = [C.X_OUTCOME, C.X_END_TIME, C.X_FINAL_TERMS]
    assert (opp[:, keys] != need[:, keys]).any(axis=1).sum() >= 10


def test_need_and_opportunity_identical_in_simpy_traces():
    """The same on the SimPy engine, event by event (a few replications, full traces)."""
    a = Scenario.build(values={**NEED_BASE, "challenger.p_need": 0.0})
    b = Scenario.build(values={**NEED_BASE, "challenger.p_need": 1.0})
    for rep in range(10):
        ra, rb = simulate(a, 17, rep), simulate(b, 17, rep)
        assert ra.trace.equals(rb.trace)
        assert (ra.outcome, ra.end_time, ra.terms) == (rb.outcome, rb.end_time, rb.terms)
        assert (ra.need_driven, rb.need_driven) == (False, True)
