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

With an ally (issue 12; docs "The ally") the tracker also generates the defender's hidden commitment from
stream 10 (an uncommitted defender values the stake at ``ally.uncommitted_value``) and the standing instruments
deployed or withheld at set-up (stream 3), applies the commitment, the tripwire's evidence, the no-exit rule and
the ally's effort of what was deployed, adds an ally's provocation (once it has reached the challenger) and a
detected programme to the challenger's costs of inaction, replays whether a statement renewed in a crisis was
sent (it commits the defender), checks that a war the challenger starts is an attack on the ally, and checks
abandonment and the audience cost paid when the defender concedes. The ally's own choices are replayed in
``test_ally.py``.
"""

from __future__ import annotations

import functools

import pytest
from decision_cases import params_of
from replay_tools import AllyTracker, Tally, Tracker, run_recorded

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
    # issue 12: a commitment that lapses and returns every 60 days on average, a tripwire with no exit, statements
    # renewed in crises, an ally that reviews often (provocations, programmes the challenger detects)
    "ally, lapsing commitment, no exit": ({
        "ally.present": True, "ally.lapse_rate": 1 / 60, "ally.recommit_rate": 1 / 60, "ally.p_committed": 0.5,
        "effects.tripwire_no_exit": True, "channel.misperception": 0.2, "military.incident_rate": 0.06,
        "defender.renewal_interval": 20.0, "ally.risk_gain": 0.06, "ally.review_interval": 30.0,
        "ally.detection_rate": 1 / 30, "ally.programme_cost": 0.03, "challenger.p_need": 0.7},
        ["tripwire", "public_statement", "exercises", "immediate_deterrence"]),
    "ally, statements, concessions": ({
        "ally.present": True, "ally.p_committed": 0.3, "ally.lapse_rate": 1 / 90, "defender.renewal_interval": 5.0,
        "defender.p_resolved": 0.2, "challenger.p_resolved": 0.8, "audience.pressure_gain": 0.08},
        ["public_statement", "private_statement", "immediate_deterrence"]),
    # a provocation takes 10 days or more to reach the challenger, which has an opportunity every 5 days: crises
    # opened, and waits decided, while a provocation is on its way (it does not yet count)
    "ally, provocations in flight": ({
        "ally.present": True, "ally.risk_gain": 0.3, "ally.review_interval": 20.0, "channel.delay_min": 10.0,
        "channel.delay_mean": 30.0, "crisis.opportunity_rate": 0.2, "ally.provocation_loss": 0.15},
        ["public_statement", "tit_for_tat"]),
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
        if P["ally.present"] > 0:  # and the ally itself (its filter, reviews, programme; the defender's sends)
            AllyTracker(crisis, result, P, tally).run()


def test_decision_replays_exercised_every_move(tally):
    if not tally:
        pytest.skip("run with the replay tests")
    for key in ("decision 0", "decision 1", "decision 2", "decision 3", "decision 4", "opportunity 3",
                "opportunity 5", "incident check",
                # issue 12
                "uncommitted defender decides", "provoked challenger decides",
                "challenger with a detected programme decides", "tripwire evidence", "statement sent in a crisis",
                "statement withheld in a crisis", "incident, no exit", "abandonment", "concession",
                "audience cost paid",
                # the fixes: deployment at set-up, the tripwire's discounted evidence, the provocation's arrival,
                # a challenger's war as an attack
                "tripwire deployed", "tripwire withheld", "alliance_terms deployed", "alliance_terms withheld",
                "tripwire evidence (need-driven)", "provocation arrived", "challenger's war: an attack",
                "opened by the ally", "opened with a provocation on its way", "wait probability"):
        assert tally.get(key, 0) > 0, (key, dict(tally))
    decisions = sum(v for k, v in tally.items() if k.startswith(("decision", "opportunity")))
    assert decisions > 1000 and tally.get("boundary", 0) <= 0.01 * decisions, dict(tally)


def _fails_where_the_tracker_passes(values, strategies, broken, reps=range(N_REPS), seed=77):
    """The unbroken tracker agrees with the engine on every replication; ``broken`` (a Tracker subclass) does not
    on at least one, on one of its own assertions (a disagreement with the engine, not an error of the test)."""
    s = Scenario.build(values=values, strategies=strategies)
    P = params_of(s.vectors()[0][0])
    recorded = [run_recorded(s, seed, rep) for rep in reps]
    for crisis, result in recorded:
        Tracker(crisis, result, P, decisions=True).run()
    failed = 0
    for crisis, result in recorded:
        try:
            broken(crisis, result, P, decisions=True).run()
        except AssertionError:
            failed += 1
    assert failed > 0


def _broken_situation(change):
    class Broken(Tracker):
        def situation(self, side, h, menu):
            sit = super().situation(side, h, menu)
            change(self, sit, h)
            return sit

    return Broken


@pytest.mark.parametrize("variant", ["pressure ignored", "need ignored"])
def test_decision_replay_can_fail(variant):
    """A tracker that forgets the audience pressure, or the costs of inaction, disagrees with the engine."""
    values = {"channel.misperception": 0.2, "challenger.p_need": 1.0, "challenger.need_rate": 0.003,
              "audience.pressure_gain": 0.08}

    def change(tracker, sit, h):
        if variant == "pressure ignored":
            sit.pressure = 0.0
        else:
            sit.need_own = 0.0

    _fails_where_the_tracker_passes(values, [], _broken_situation(change))


ALLY_LAPSING = SCENARIOS["ally, lapsing commitment, no exit"]


@pytest.mark.parametrize("variant", ["stake value 1", "ally losses ignored", "no exit ignored", "no ally effort",
                                     "deployed by the mix", "provocation acts at once"])
def test_ally_decision_replay_can_fail(variant):
    """Issue 12: a tracker that forgets an uncommitted defender's lower stake value, the costs of inaction an
    ally's provocation or a detected programme add, the no-exit rule, or the ally's effort in the war
    probabilities disagrees with the engine (on the scenario with a lapsing commitment and no exit). So does one
    with the old rules: standing instruments that act because they are in the mix (deployed or not), or a
    provocation that adds to the challenger's costs of inaction from the day the ally decides on it, before it has
    arrived (on the scenario with provocations in flight: the probability of each wait is in the trace)."""
    def change(tracker, sit, h):
        if variant == "stake value 1":
            sit.stake_value = 1.0
        elif variant == "ally losses ignored" and sit.side == 0:  # need_rate * t only
            sit.need_own = tracker.P["challenger.need_rate"] * h.now if tracker.need else 0.0
        elif variant == "no exit ignored":
            sit.no_exit = 0.0

    broken = _broken_situation(change)
    if variant == "no ally effort":
        class NoEffort(Tracker):  # effort dropped in the look-ahead and the war lottery
            def effort(self):
                return 0.0

        broken = NoEffort
    elif variant in ("deployed by the mix", "provocation acts at once"):
        broken = functools.partial(Tracker, variant=variant)
    scenario = SCENARIOS["ally, provocations in flight"] if variant == "provocation acts at once" else ALLY_LAPSING
    _fails_where_the_tracker_passes(*scenario, broken)


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
