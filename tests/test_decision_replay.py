"""Every decision of recorded SimPy crises, replayed from docs/model.md (tests/replay_tools.py).

For each leader decision the tracker builds the situation from the document (own level,
perceived level, status quo, demand, offers, costs of inaction, the level-1 belief about it,
commitment by level or policy, decayed audience pressure, readiness, caps), the menu of the
strategy (with generous tit for tat's draw and the fallback of an empty forced menu), values it
with the reference look-ahead, and picks the move with the leader's own uniform (its splitmix64
stream, after the perception draw) by the inverse CDF of the logit probabilities. The engine's
move (trace ``event``; the level of an escalation; the terms of an offer or a demand; ``P(war)``
of an incident check) must be that move. A uniform within 1e-9 of a cumulative probability is
not checked (the two implementations round differently; counted, rare).

This checks ``rules.fill_situation``, the menus, the order of the draws and ``carry_out``
against the document -- what the unit tests of ``decision.evaluate`` cannot see.
"""

from __future__ import annotations

import pytest
from decision_cases import params_of
from replay_tools import Tally, Tracker, run_recorded

from escalation_sim.model.scenario import Scenario

N_REPS = 40
SCENARIOS = {
    "defaults": ({}, []),
    "noisy": ({"channel.misperception": 0.25, "military.incident_rate": 0.06}, []),
    "need and bias": ({"channel.misperception": 0.2, "challenger.motivated_bias": 0.9, "challenger.p_need": 0.7,
                       "challenger.need_rate": 0.003}, []),
    "firm challenger": ({"challenger.strategy": "firm", "channel.misperception": 0.2}, ["immediate_deterrence"]),
    "reciprocating challenger": ({"challenger.strategy": "reciprocating"}, ["tit_for_tat"]),
    "regime and norms": ({"military.incident_rate": 0.06, "channel.misperception": 0.2},
                         ["limited_security_regime", "norms_of_competition"]),
    "grit and reciprocal concessions": ({"crisis.opportunity_rate": 0.05}, ["grit", "reciprocal_concessions"]),
    "grit tft, situational attribution": ({"belief.attribution": False, "crisis.opportunity_rate": 0.05},
                                          ["grit", "tit_for_tat"]),
    "deterrence, restraint": ({"military.incident_rate": 0.06}, ["immediate_deterrence", "self_restraint", "general_deterrence"]),
    "generous tft": ({"channel.misperception": 0.2}, ["generous_tit_for_tat"]),
    "high precision": ({"decision.precision": 1e3, "channel.misperception": 0.2}, []),
    "complete information": ({"belief.complete_information": True, "channel.misperception": 0.2}, []),
    "ally, tripwire": ({"ally.present": True, "channel.misperception": 0.2}, ["tripwire", "alliance_terms", "tit_for_tat"]),
}


@pytest.fixture(scope="module")
def tally():
    return Tally()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_decisions_replayed_from_the_document(name, tally):
    values, strategies = SCENARIOS[name]
    s = Scenario.build(values=values, strategies=strategies)
    P = params_of(s.vectors()[0][0])
    for rep in range(N_REPS):
        crisis, result = run_recorded(s, 77, rep)
        Tracker(crisis, result, P, tally=tally, decisions=True).run()


def test_decision_replays_exercised_every_move(tally):
    if not tally:
        pytest.skip("run with the replay tests")
    for key in ("decision 0", "decision 1", "decision 2", "decision 3", "decision 4", "opportunity 3",
                "opportunity 5", "incident check"):
        assert tally.get(key, 0) > 0, (key, dict(tally))
    decisions = sum(v for k, v in tally.items() if k.startswith(("decision", "opportunity")))
    assert decisions > 1000 and tally.get("boundary", 0) <= 0.01 * decisions, dict(tally)


@pytest.mark.parametrize("variant", ["pressure ignored", "need ignored"])
def test_decision_replay_can_fail(variant):
    """A tracker that forgets the audience pressure, or the costs of inaction, disagrees with the engine."""
    values = {"channel.misperception": 0.2, "challenger.p_need": 1.0, "challenger.need_rate": 0.003,
              "audience.pressure_gain": 0.08}
    s = Scenario.build(values=values)
    P = params_of(s.vectors()[0][0])

    class Broken(Tracker):
        def situation(self, side, h, menu):
            sit = super().situation(side, h, menu)
            if variant == "pressure ignored":
                sit.pressure = 0.0
            else:
                sit.need_own = 0.0
            return sit

    with pytest.raises(AssertionError):
        for rep in range(N_REPS):
            crisis, result = run_recorded(s, 77, rep)
            Broken(crisis, result, P, decisions=True).run()


# --- documented disagreements between docs/model.md and the code ------------------------------------------------
STATEMENT = ({"ally.present": True, "defender.renewal_interval": 2.0, "channel.misperception": 0.1},
             ["public_statement", "tit_for_tat"])


def _replay_all(values, strategies, seed, reps, **kwargs):
    s = Scenario.build(values=values, strategies=strategies)
    P = params_of(s.vectors()[0][0])
    for rep in reps:
        crisis, result = run_recorded(s, seed, rep)
        Tracker(crisis, result, P, decisions=True, **kwargs).run()


def test_public_statement_commits_by_policy_in_the_lookahead():
    _replay_all(*STATEMENT, 77, range(60), statement_is_policy=True)


def test_incident_check_uses_the_response_rules_menu():
    values = {"military.incident_rate": 0.06, "channel.misperception": 0.2, "intent.fear_loss": 0.2}
    _replay_all(values, ["immediate_deterrence"], 5, [18, 41, 130])


def test_incident_check_with_the_free_menu_fails():
    """The replay can tell the menus apart: with the free menu (offer included) it disagrees with the engine."""
    values = {"military.incident_rate": 0.06, "channel.misperception": 0.2, "intent.fear_loss": 0.2}
    with pytest.raises(AssertionError):
        _replay_all(values, ["immediate_deterrence"], 5, [18, 41, 130], variant="incident menu free")
