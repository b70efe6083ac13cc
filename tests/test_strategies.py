"""Strategies, Axelrod style: one test class per strategy in the catalogue.

Each class declares what the catalogue must say about its strategy (side,
family, kind, classifier) and tests the strategy's behaviour with scripted
inputs to the compiled rules (or, for ally instruments, through the SimPy
engine). A shared base class checks the catalogue entry and its references.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from escalation_sim.engines.simpy_engine import Crisis
from escalation_sim.model import bibliography, params, rules, strategies
from escalation_sim.model.constants import (
    ALLY,
    AUDIENCE,
    CHALLENGER,
    CONCESSION,
    DEFENDER,
    DEMAND,
    EV_INCIDENT,
    EV_TICK,
    F_INCIDENT,
    F_OBSERVED,
    INFO_FIELDS,
    LEADER,
    LIMITED_FORCE,
    M_AUX,
    M_FLAGS,
    M_KIND,
    M_LEVEL,
    M_PUBLIC,
    M_SENDER,
    MAX_OUT,
    MILITARY,
    MK_INCIDENT_TICK,
    MK_SIGNAL,
    MK_SUPPORT,
    MOBILIZATION,
    MSG_FIELDS,
    N_STREAMS,
    NO_OUTCOME,
    O_DELAY,
    O_MSG,
    O_TARGET,
    OUT_FIELDS,
    S_COMMITTED,
    S_CONFIDENCE,
    S_CONFIDENCE_T,
    S_CREDIBILITY,
    S_DECISIONS,
    S_HOSTILITY,
    S_PRESSURE,
    S_READINESS,
    SHOW_OF_FORCE,
    STATE_SIZE,
    THREAT,
    WAR,
    X_OUTCOME,
    sx,
)
from escalation_sim.model.rng import init_streams

LEVELS = range(CONCESSION, WAR + 1)
DEF_LEADER = 3 * DEFENDER + LEADER
CLASSIFIER_KEYS = {"stochastic", "memory", "needs_ally", "bilateral"}


# --- scripted inputs ---------------------------------------------------------------
def pvec(strats=(), values=None) -> np.ndarray:
    return params.vector_from(values or {}, tuple(strats))


def fresh(seed: int = 0):
    """A zero state vector (crisis open) and fresh streams."""
    st = np.zeros(STATE_SIZE)
    st[X_OUTCOME] = NO_OUTCOME
    keys = np.zeros(N_STREAMS, dtype=np.uint64)
    ctr = np.zeros(N_STREAMS, dtype=np.uint64)
    init_streams(seed, 0, keys, ctr)
    return st, keys, ctr


def answers(strats, values=None, decisions=0, seed=0) -> dict[int, int]:
    """The defender's answer to each perceived level, from a fresh state."""
    p = pvec(strats, values)
    out = {}
    for level in LEVELS:
        st, keys, ctr = fresh(seed)
        st[sx(DEFENDER, S_DECISIONS)] = decisions
        out[level] = int(rules.defender_response(st, p, keys, ctr, level))
    return out


def challenger_answer(rule: str, own: int, perceived: int, m: float, values=None) -> int:
    v = {"challenger.strategy": params.CHALLENGER_STRATEGIES.index(rule), **(values or {})}
    return int(rules.challenger_response(pvec((), v), own, perceived, m))


def perceive(strats, values, sender_state, level, flags=0, seed=0):
    _, keys, ctr = fresh(seed)
    r = rules.perceive(pvec(strats, values), keys, ctr, 3 * CHALLENGER + LEADER, sender_state, level, flags)
    return tuple(int(x) for x in r)


def setup_state(strats=(), values=None):
    p = pvec(strats, values)
    st, keys, ctr = fresh()
    rules.setup(p[None, :], np.array([1.0]), 0, 0, st, keys, ctr)
    return st


def reassure(strats, renewal=False, crisis_open=True, values=None):
    """Rows the defender sends at a (re)assurance, and the state afterwards."""
    p = pvec(strats, {"ally.present": 1.0, **(values or {})})
    st, keys, ctr = fresh()
    if not crisis_open:
        st[X_OUTCOME] = 0.0
    out = np.zeros((MAX_OUT, OUT_FIELDS))
    n = rules.send_reassurance(st, p, keys, ctr, out, 0, 0.0, renewal)
    return out[:n], st


def msg_row(kind, sender, level, public=1.0, flags=0):
    m = np.zeros(MSG_FIELDS)
    m[M_KIND] = kind
    m[M_SENDER] = sender
    m[M_LEVEL] = level
    m[M_PUBLIC] = public
    m[M_FLAGS] = flags
    return m


def audience_pressure(strats, s, sender_state, level):
    """Pressure of state ``s``'s audience after one public move of ``sender_state``."""
    p = pvec(strats)
    st, keys, ctr = fresh()
    out = np.zeros((MAX_OUT, OUT_FIELDS))
    info = np.zeros(INFO_FIELDS)
    msg = msg_row(MK_SIGNAL, 3 * sender_state + LEADER, level, 1.0, F_OBSERVED)
    rules.audience(st, p, keys, ctr, out, info, s, msg, 0.0)
    return st[sx(s, S_PRESSURE)]


def incident_tick(strats, values, seed=0):
    """One incident tick with both militaries at full readiness: (rows sent, event code)."""
    p = pvec(strats, values)
    st, keys, ctr = fresh(seed)
    st[sx(CHALLENGER, S_READINESS)] = 1.0
    st[sx(DEFENDER, S_READINESS)] = 1.0
    out = np.zeros((MAX_OUT, OUT_FIELDS))
    info = np.zeros(INFO_FIELDS)
    msg = msg_row(MK_INCIDENT_TICK, 3 * DEFENDER + MILITARY, 0, 0.0)
    n = rules.military(st, p, keys, ctr, out, info, DEFENDER, msg, 0.0)
    return out[:n], int(info[0])


TFT = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 5}  # mirror, capped at limited force
ALL_DEMAND = dict.fromkeys(LEVELS, DEMAND)


# --- the shared base class ------------------------------------------------------------
class StrategyCase:
    """Expectations every strategy class declares; checks on its catalogue entry."""

    name: str
    side: str
    family: str
    kind: str
    classifier: dict

    @property
    def entry(self) -> strategies.Strategy:
        return strategies.REGISTRY[self.name]

    def test_catalogue_entry(self):
        e = self.entry
        assert (e.side, e.family, e.kind) == (self.side, self.family, self.kind)
        assert e.classifier == self.classifier

    def test_classifier_has_declared_keys(self):
        assert set(self.entry.classifier) == CLASSIFIER_KEYS

    def test_references_resolve(self):
        refs = self.entry.references
        assert len(refs) >= 1
        assert all(r in bibliography.REFERENCES for r in refs), refs

    def test_rule_functions_exist(self):
        for fn in self.entry.rule.split(","):
            assert callable(getattr(rules, fn.strip(), None)), fn

    def test_summary_is_one_nonempty_line(self):
        assert self.entry.summary.strip() and "\n" not in self.entry.summary

    def test_needs_ally_iff_instrument(self):
        assert self.entry.classifier["needs_ally"] == (self.name in params.ALLY_INSTRUMENTS)

    def test_stochasticity_matches_draws(self):
        """A defender strategy marked non-stochastic draws nothing when answering a move."""
        if self.side != "defender":
            pytest.skip("challenger responses take motivation as input")
        p = pvec((self.name,), {"ally.present": 1.0})
        drew = False
        for level in LEVELS:
            st, keys, ctr = fresh()
            rules.defender_response(st, p, keys, ctr, level)
            drew |= bool(ctr.any())
        assert drew == self.classifier["stochastic"]


# --- deterrence ---------------------------------------------------------------------
class TestGeneralDeterrence(StrategyCase):
    name, side, family, kind = "general_deterrence", "defender", "deterrence", "modifier"
    classifier = {"stochastic": False, "memory": 0, "needs_ally": False, "bilateral": False}

    def test_no_response_rule_means_demand(self):
        assert answers(("general_deterrence",)) == ALL_DEMAND

    def test_setup_raises_challenger_beliefs_and_defender_readiness(self):
        base = setup_state()
        gd = setup_state(("general_deterrence",))
        assert base[sx(CHALLENGER, S_CREDIBILITY)] == pytest.approx(0.4)
        assert gd[sx(CHALLENGER, S_CREDIBILITY)] == pytest.approx(0.4 + 0.2)
        assert base[sx(CHALLENGER, S_HOSTILITY)] == pytest.approx(0.3)
        assert gd[sx(CHALLENGER, S_HOSTILITY)] == pytest.approx(0.3 + 0.1)
        assert base[sx(DEFENDER, S_READINESS)] == 0.0
        assert gd[sx(DEFENDER, S_READINESS)] == pytest.approx(0.3)
        # the defender's own beliefs are not touched
        assert gd[sx(DEFENDER, S_CREDIBILITY)] == base[sx(DEFENDER, S_CREDIBILITY)] == pytest.approx(0.4)

    def test_setup_credibility_capped_at_one(self):
        st = setup_state(("general_deterrence",), {"challenger.initial_credibility": 0.95})
        assert st[sx(CHALLENGER, S_CREDIBILITY)] == 1.0

    def test_effect_size_is_the_parameter(self):
        st = setup_state(("general_deterrence",), {"effects.general_deterrence_credibility": 0.05})
        assert st[sx(CHALLENGER, S_CREDIBILITY)] == pytest.approx(0.45)


class TestImmediateDeterrence(StrategyCase):
    name, side, family, kind = "immediate_deterrence", "defender", "deterrence", "response"
    classifier = {"stochastic": False, "memory": 1, "needs_ally": False, "bilateral": False}
    ANSWERS = {
        CONCESSION: THREAT,
        DEMAND: THREAT,
        THREAT: SHOW_OF_FORCE,
        SHOW_OF_FORCE: MOBILIZATION,
        MOBILIZATION: MOBILIZATION,
        LIMITED_FORCE: LIMITED_FORCE,
        WAR: LIMITED_FORCE,
    }

    def test_answers(self):
        assert answers(("immediate_deterrence",)) == self.ANSWERS

    def test_independent_of_decision_count(self):
        assert answers(("immediate_deterrence",), decisions=50) == self.ANSWERS


class TestTitForTat(StrategyCase):
    name, side, family, kind = "tit_for_tat", "defender", "general reassurance", "response"
    classifier = {"stochastic": False, "memory": 1, "needs_ally": False, "bilateral": False}

    def test_mirrors_every_level(self):
        assert answers(("tit_for_tat",)) == TFT

    def test_independent_of_decision_count(self):
        assert answers(("tit_for_tat",), decisions=7) == TFT


class TestGenerousTitForTat(StrategyCase):
    name, side, family, kind = "generous_tit_for_tat", "defender", "general reassurance", "response"
    classifier = {"stochastic": True, "memory": 1, "needs_ally": False, "bilateral": False}

    def test_generosity_zero_is_tit_for_tat(self):
        for seed in range(5):
            assert answers(("generous_tit_for_tat",), {"defender.generosity": 0.0}, seed=seed) == TFT

    def test_generosity_one_answers_one_lower(self):
        expected = {0: 0, 1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5}
        for seed in range(5):
            assert answers(("generous_tit_for_tat",), {"defender.generosity": 1.0}, seed=seed) == expected

    def test_one_draw_per_hostile_move_none_for_concession(self):
        p = pvec(("generous_tit_for_tat",))
        st, keys, ctr = fresh()
        rules.defender_response(st, p, keys, ctr, CONCESSION)
        assert int(ctr[DEF_LEADER]) == 0
        rules.defender_response(st, p, keys, ctr, THREAT)
        assert int(ctr[DEF_LEADER]) == 1
        assert int(ctr.sum()) == 1

    def test_generosity_frequency(self):
        # n = 10k answers to a show of force with generosity 0.3: the share answered one lower has
        # SE = sqrt(0.3 * 0.7 / n) = 4.6e-3; 99.9% two-sided tolerance 3.29 * SE = 0.015.
        n, g = 10_000, 0.3
        p = pvec(("generous_tit_for_tat",), {"defender.generosity": g})
        st, keys, ctr = fresh(31)
        got = [int(rules.defender_response(st, p, keys, ctr, SHOW_OF_FORCE)) for _ in range(n)]
        assert set(got) == {THREAT, SHOW_OF_FORCE}
        share = got.count(THREAT) / n
        assert abs(share - g) < 3.29 * math.sqrt(g * (1 - g) / n)


class TestGrit(StrategyCase):
    name, side, family, kind = "grit", "defender", "general reassurance", "response"
    classifier = {"stochastic": False, "memory": None, "needs_ally": False, "bilateral": False}

    @pytest.mark.parametrize("decisions", [0, 1, 2])
    def test_concedes_for_grit_steps_decisions(self, decisions):
        conceding = dict.fromkeys(LEVELS, CONCESSION)
        assert answers(("grit",), {"defender.grit_steps": 3}, decisions=decisions) == conceding

    @pytest.mark.parametrize("decisions", [3, 4, 10])
    def test_then_mirrors(self, decisions):
        assert answers(("grit",), {"defender.grit_steps": 3}, decisions=decisions) == TFT

    def test_zero_steps_is_tit_for_tat(self):
        assert answers(("grit",), {"defender.grit_steps": 0}) == TFT

    def test_steps_parameter_counts(self):
        assert answers(("grit",), {"defender.grit_steps": 5}, decisions=4)[THREAT] == CONCESSION
        assert answers(("grit",), {"defender.grit_steps": 5}, decisions=5)[THREAT] == THREAT


# --- immediate reassurance ------------------------------------------------------------
class TestSelfRestraint(StrategyCase):
    name, side, family, kind = "self_restraint", "defender", "immediate reassurance", "modifier"
    classifier = {"stochastic": False, "memory": 0, "needs_ally": False, "bilateral": False}

    def test_alone_answers_demand(self):
        assert answers(("self_restraint",)) == ALL_DEMAND

    def test_caps_tit_for_tat_at_show_of_force_unless_force(self):
        expected = {0: 0, 1: 1, 2: 2, 3: 3, 4: 3, 5: 5, 6: 5}
        assert answers(("self_restraint", "tit_for_tat")) == expected

    def test_caps_immediate_deterrence(self):
        expected = {0: 2, 1: 2, 2: 3, 3: 3, 4: 3, 5: 5, 6: 5}
        assert answers(("self_restraint", "immediate_deterrence")) == expected

    def test_cuts_pressure_of_defender_moves_on_challenger_audience(self):
        # pressure_gain 0.3 * level 2 / 6 = 0.1; restraint removes restraint_pressure_cut = 0.5 of it
        assert audience_pressure((), CHALLENGER, DEFENDER, THREAT) == pytest.approx(0.1)
        assert audience_pressure(("self_restraint",), CHALLENGER, DEFENDER, THREAT) == pytest.approx(0.05)

    def test_does_not_cut_challenger_moves(self):
        assert audience_pressure(("self_restraint",), DEFENDER, CHALLENGER, THREAT) == pytest.approx(0.1)


class TestNormsOfCompetition(StrategyCase):
    name, side, family, kind = "norms_of_competition", "defender", "immediate reassurance", "modifier"
    classifier = {"stochastic": False, "memory": 0, "needs_ally": False, "bilateral": False}
    FULL = {"channel.misperception": 1.0, "effects.norms_misperception_cut": 1.0}

    def test_alone_answers_demand(self):
        assert answers(("norms_of_competition",)) == ALL_DEMAND

    @pytest.mark.parametrize("level", [CONCESSION, DEMAND, THREAT, SHOW_OF_FORCE, MOBILIZATION])
    def test_full_cut_nothing_of_the_defender_is_misread(self, level):
        assert perceive(("norms_of_competition",), self.FULL, DEFENDER, level) == (level, 0, 0)

    def test_without_norms_everything_is_misread(self):
        assert perceive((), self.FULL, DEFENDER, THREAT) == (SHOW_OF_FORCE, 1, 0)
        assert perceive((), self.FULL, DEFENDER, CONCESSION) == (CONCESSION, 1, 1)

    def test_challenger_moves_still_misread(self):
        assert perceive(("norms_of_competition",), self.FULL, CHALLENGER, DEMAND) == (THREAT, 1, 0)

    def test_partial_cut_frequency(self):
        # misperception 1, cut 0.5 -> a defender move is misread with probability 0.5.
        # n = 4000: SE = sqrt(0.25 / n) = 7.9e-3; 99.9% tolerance 3.29 * SE = 0.026.
        n = 4000
        p = pvec(("norms_of_competition",), {"channel.misperception": 1.0, "effects.norms_misperception_cut": 0.5})
        _, keys, ctr = fresh(5)
        misread = sum(int(rules.perceive(p, keys, ctr, 0, DEFENDER, THREAT, 0)[1]) for _ in range(n))
        assert abs(misread / n - 0.5) < 3.29 * math.sqrt(0.25 / n)

    def test_incidents_read_as_show_of_force(self):
        clarify = {"effects.norms_clarify": 1.0}
        assert perceive(("norms_of_competition",), clarify, DEFENDER, LIMITED_FORCE, F_INCIDENT)[0] == SHOW_OF_FORCE
        assert perceive((), clarify, DEFENDER, LIMITED_FORCE, F_INCIDENT)[0] == LIMITED_FORCE


class TestLimitedSecurityRegime(StrategyCase):
    name, side, family, kind = "limited_security_regime", "defender", "immediate reassurance", "modifier"
    classifier = {"stochastic": False, "memory": 0, "needs_ally": False, "bilateral": True}
    FULL = {"channel.misperception": 1.0, "effects.regime_misperception_cut": 1.0}

    def test_alone_answers_demand(self):
        assert answers(("limited_security_regime",)) == ALL_DEMAND

    @pytest.mark.parametrize("sender", [CHALLENGER, DEFENDER])
    @pytest.mark.parametrize("level", [CONCESSION, DEMAND, MOBILIZATION])
    def test_full_cut_nothing_is_misread_both_ways(self, sender, level):
        assert perceive(("limited_security_regime",), self.FULL, sender, level) == (level, 0, 0)
        assert perceive((), self.FULL, sender, level)[1] == 1

    def test_channel_delay_cut_between_adversaries(self):
        values = {"channel.delay_min": 2.0, "channel.delay_mean": 3.0, "effects.regime_delay_cut": 0.5}
        for seed in range(5):
            _, k1, c1 = fresh(seed)
            _, k2, c2 = fresh(seed)
            plain = rules.channel_delay(pvec((), values), k1, c1, DEF_LEADER, True)
            cut = rules.channel_delay(pvec(("limited_security_regime",), values), k2, c2, DEF_LEADER, True)
            assert plain >= 2.0
            assert cut == pytest.approx(0.5 * plain, rel=1e-14)
            assert c1.tolist() == c2.tolist()  # one draw each, same stream

    def test_channel_delay_to_ally_not_cut(self):
        values = {"channel.delay_min": 2.0, "channel.delay_mean": 3.0, "effects.regime_delay_cut": 0.5}
        _, k1, c1 = fresh(3)
        _, k2, c2 = fresh(3)
        plain = rules.channel_delay(pvec((), values), k1, c1, DEF_LEADER, False)
        regime = rules.channel_delay(pvec(("limited_security_regime",), values), k2, c2, DEF_LEADER, False)
        assert regime == plain

    def test_channel_delay_deterministic_part(self):
        values = {"channel.delay_min": 2.0, "channel.delay_mean": 0.0, "effects.regime_delay_cut": 0.25}
        _, keys, ctr = fresh()
        assert rules.channel_delay(pvec((), values), keys, ctr, 0, True) == 2.0
        assert rules.channel_delay(pvec(("limited_security_regime",), values), keys, ctr, 0, True) == 1.5
        assert rules.channel_delay(pvec(("limited_security_regime",), values), keys, ctr, 0, False) == 2.0
        assert int(ctr[0]) == 0  # delay_mean 0: no draw

    def test_incident_cut(self):
        # incident_rate * tick_mean = 1 and both at full readiness: every tick is an incident...
        values = {"military.incident_rate": 0.2, "military.incident_tick_mean": 5.0}
        rows, ev = incident_tick((), values)
        assert ev == EV_INCIDENT
        assert rows[0, O_MSG + M_LEVEL] == LIMITED_FORCE and int(rows[0, O_MSG + M_FLAGS]) & F_INCIDENT
        # ... unless a regime prevents them all
        rows, ev = incident_tick(("limited_security_regime",), {**values, "effects.regime_incident_cut": 1.0})
        assert ev == EV_TICK
        assert len(rows) == 1 and rows[0, O_MSG + M_KIND] == MK_INCIDENT_TICK

    def test_incidents_read_as_show_of_force(self):
        clarify = {"effects.regime_clarify": 1.0}
        assert (
            perceive(("limited_security_regime",), clarify, CHALLENGER, LIMITED_FORCE, F_INCIDENT)[0] == SHOW_OF_FORCE
        )


# --- reassurance of allies --------------------------------------------------------------
def support_rows(rows):
    return [r for r in rows if r[O_MSG + M_KIND] == MK_SUPPORT]


def observed_rows(rows):
    return [r for r in rows if r[O_MSG + M_KIND] == MK_SIGNAL]


def first_support_confidence(instrument: str, seed: int = 0, values=None):
    """Run the SimPy engine (no challenge, ally present) to the first support message.

    Returns (time of arrival, confidence just before, just after, the parameter vector).
    """
    from escalation_sim.model.scenario import Scenario

    v = {"ally.present": True, "challenger.challenge_threshold": 100.0, **(values or {})}
    p_mixes, cum = Scenario.build(values=v, strategies=[instrument]).vectors()
    c = Crisis(p_mixes, cum, seed, 0)
    a = sx(ALLY, S_CONFIDENCE)
    while True:
        before = c.state[a] * math.exp(-rules.ally_decay_rate(c.p) * (c.env.peek() - c.state[sx(ALLY, S_CONFIDENCE_T)]))
        n_rows = len(c.rows)
        c.env.step()
        new = c.rows[n_rows:]
        if any(r[2] == "support" for r in new):
            break
    assert c.state[sx(ALLY, S_CONFIDENCE_T)] == c.env.now
    return c.env.now, before, c.state[a], c.p


class InstrumentCase(StrategyCase):
    side, family, kind = "defender", "reassurance of allies", "instrument"
    classifier = {"stochastic": False, "memory": 0, "needs_ally": True, "bilateral": False}
    code: int
    boost_key: str
    boost: float  # default share of missing confidence restored
    renewable: bool
    observed_level: int | None  # level at which the challenger sees it, if it does

    def test_alone_answers_demand(self):
        assert answers((self.name,), {"ally.present": 1.0}) == ALL_DEMAND

    def test_default_boost(self):
        assert params.SPEC_BY_KEY[self.boost_key].default == self.boost

    def test_support_message_to_ally(self):
        rows, _ = reassure((self.name,))
        sup = support_rows(rows)
        assert len(sup) == 1
        r = sup[0]
        assert r[O_TARGET] == 3 * ALLY + LEADER
        assert r[O_MSG + M_AUX] == self.code
        assert r[O_MSG + M_SENDER] == DEF_LEADER
        assert r[O_DELAY] >= 1.0  # delay_min

    def test_seen_by_challenger_while_crisis_lasts(self):
        rows, _ = reassure((self.name,))
        obs = observed_rows(rows)
        if self.observed_level is None:
            assert obs == []
            return
        assert sorted(int(r[O_TARGET]) for r in obs) == [3 * CHALLENGER + LEADER, 3 * CHALLENGER + AUDIENCE]
        for r in obs:
            assert r[O_MSG + M_LEVEL] == self.observed_level
            assert int(r[O_MSG + M_FLAGS]) == F_OBSERVED
            assert r[O_DELAY] == support_rows(rows)[0][O_DELAY]  # same channel draw
        closed, _ = reassure((self.name,), crisis_open=False)
        assert observed_rows(closed) == []

    def test_renewal(self):
        rows, _ = reassure((self.name,), renewal=True)
        assert len(support_rows(rows)) == (1 if self.renewable else 0)

    def test_confidence_after_support_in_simpy_engine(self):
        b = 0.4
        t, before, after, p = first_support_confidence(self.name, values={self.boost_key: b})
        assert 0.0 < t < 30.0
        assert before == pytest.approx(0.7 * math.exp(-rules.ally_decay_rate(p) * t), rel=1e-12)
        assert after == pytest.approx(before + b * (1.0 - before), rel=1e-12)
        assert after > before


class TestTripwire(InstrumentCase):
    name, code, boost_key, boost = "tripwire", 0, "effects.boost_tripwire", 0.35
    renewable, observed_level = False, None

    def test_setup_commits_defender_and_raises_credibility_with_ally(self):
        st = setup_state(("tripwire",), {"ally.present": 1.0})
        assert st[sx(DEFENDER, S_COMMITTED)] == 1.0
        assert st[sx(CHALLENGER, S_CREDIBILITY)] == pytest.approx(0.4 + 0.2)
        assert st[sx(ALLY, S_CONFIDENCE)] == pytest.approx(0.7)

    def test_no_effect_without_ally(self):
        st = setup_state(("tripwire",))
        assert st[sx(DEFENDER, S_COMMITTED)] == 0.0
        assert st[sx(CHALLENGER, S_CREDIBILITY)] == pytest.approx(0.4)
        assert st[sx(ALLY, S_CONFIDENCE)] == 0.0

    def test_decay_cut(self):
        assert rules.ally_decay_rate(pvec(("tripwire",))) == pytest.approx(0.008 * 0.5)
        assert rules.ally_decay_rate(pvec(())) == pytest.approx(0.008)


class TestAllianceTerms(InstrumentCase):
    name, code, boost_key, boost = "alliance_terms", 1, "effects.boost_terms", 0.30
    renewable, observed_level = False, None

    def test_setup_raises_credibility_without_commitment(self):
        st = setup_state(("alliance_terms",), {"ally.present": 1.0})
        assert st[sx(CHALLENGER, S_CREDIBILITY)] == pytest.approx(0.4 + 0.1)
        assert st[sx(DEFENDER, S_COMMITTED)] == 0.0

    def test_combined_with_tripwire(self):
        st = setup_state(("tripwire", "alliance_terms"), {"ally.present": 1.0})
        assert st[sx(CHALLENGER, S_CREDIBILITY)] == pytest.approx(0.4 + 0.2 + 0.1)
        assert rules.ally_decay_rate(pvec(("tripwire", "alliance_terms"))) == pytest.approx(0.008 * 0.5 * 0.7)

    def test_decay_cut(self):
        assert rules.ally_decay_rate(pvec(("alliance_terms",))) == pytest.approx(0.008 * 0.7)


class TestPublicStatement(InstrumentCase):
    name, code, boost_key, boost = "public_statement", 2, "effects.boost_public_statement", 0.25
    renewable, observed_level = True, THREAT

    def test_commits_the_defender_while_crisis_lasts(self):
        _, st = reassure(("public_statement",))
        assert st[sx(DEFENDER, S_COMMITTED)] == 1.0
        _, st = reassure(("public_statement",), crisis_open=False)
        assert st[sx(DEFENDER, S_COMMITTED)] == 0.0

    def test_public(self):
        rows, _ = reassure(("public_statement",))
        assert support_rows(rows)[0][O_MSG + M_PUBLIC] == 1.0


class TestPrivateStatement(InstrumentCase):
    name, code, boost_key, boost = "private_statement", 3, "effects.boost_private_statement", 0.15
    renewable, observed_level = True, None

    def test_private_and_no_commitment(self):
        rows, st = reassure(("private_statement",))
        assert support_rows(rows)[0][O_MSG + M_PUBLIC] == 0.0
        assert st[sx(DEFENDER, S_COMMITTED)] == 0.0


class TestAid(InstrumentCase):
    name, code, boost_key, boost = "aid", 4, "effects.boost_aid", 0.20
    renewable, observed_level = True, None

    def test_no_commitment_no_decay_cut(self):
        _, st = reassure(("aid",))
        assert st[sx(DEFENDER, S_COMMITTED)] == 0.0
        assert rules.ally_decay_rate(pvec(("aid",))) == pytest.approx(0.008)


class TestExercises(InstrumentCase):
    name, code, boost_key, boost = "exercises", 5, "effects.boost_exercises", 0.20
    renewable, observed_level = True, SHOW_OF_FORCE

    def test_no_commitment(self):
        _, st = reassure(("exercises",))
        assert st[sx(DEFENDER, S_COMMITTED)] == 0.0


def test_every_instrument_sent_once_in_instrument_order():
    rows, _ = reassure(params.ALLY_INSTRUMENTS)
    assert [int(r[O_MSG + M_AUX]) for r in support_rows(rows)] == [0, 1, 2, 3, 4, 5]
    rows, _ = reassure(params.ALLY_INSTRUMENTS, renewal=True)
    assert [int(r[O_MSG + M_AUX]) for r in support_rows(rows)] == [2, 3, 4, 5]


# --- challenger strategies ----------------------------------------------------------------
class TestProbing(StrategyCase):
    name, side, family, kind = "probing", "challenger", "challenger", "response"
    classifier = {"stochastic": False, "memory": 1, "needs_ally": False, "bilateral": False}
    # settle_threshold 0.45, escalate_threshold 0.7 (defaults)

    @pytest.mark.parametrize(
        ("own", "perceived", "m", "expected"),
        [
            (THREAT, THREAT, 0.8, SHOW_OF_FORCE),  # eager: climbs whatever the defender does
            (THREAT, MOBILIZATION, 0.8, SHOW_OF_FORCE),
            (THREAT, DEMAND, 0.5, SHOW_OF_FORCE),  # defender backed off, not ready to settle: climbs
            (THREAT, DEMAND, 0.45, SHOW_OF_FORCE),  # at the settle threshold (>=)
            (THREAT, DEMAND, 0.3, THREAT),  # ready to settle: holds
            (THREAT, THREAT, 0.5, THREAT),  # resisted, not eager: holds
            (THREAT, SHOW_OF_FORCE, 0.69, THREAT),
            (CONCESSION, CONCESSION, 0.0, DEMAND),  # never below a demand
            (LIMITED_FORCE, LIMITED_FORCE, 2.0, LIMITED_FORCE),  # capped at limited force
        ],
    )
    def test_answers(self, own, perceived, m, expected):
        assert challenger_answer("probing", own, perceived, m) == expected


class TestFirm(StrategyCase):
    name, side, family, kind = "firm", "challenger", "challenger", "response"
    classifier = {"stochastic": False, "memory": 1, "needs_ally": False, "bilateral": False}

    @pytest.mark.parametrize(
        ("own", "perceived", "m", "expected"),
        [
            (DEMAND, CONCESSION, 0.0, THREAT),  # climbs a rung whatever the motivation
            (DEMAND, DEMAND, -5.0, THREAT),
            (DEMAND, MOBILIZATION, 0.0, MOBILIZATION),  # never below the defender
            (THREAT, DEMAND, 0.9, SHOW_OF_FORCE),
            (MOBILIZATION, LIMITED_FORCE, 0.0, LIMITED_FORCE),
            (LIMITED_FORCE, WAR, 0.0, LIMITED_FORCE),  # capped
        ],
    )
    def test_answers(self, own, perceived, m, expected):
        assert challenger_answer("firm", own, perceived, m) == expected


class TestReciprocating(StrategyCase):
    name, side, family, kind = "reciprocating", "challenger", "challenger", "response"
    classifier = {"stochastic": False, "memory": 1, "needs_ally": False, "bilateral": False}

    @pytest.mark.parametrize(
        ("own", "perceived", "m", "expected"),
        [
            (THREAT, CONCESSION, 0.0, CONCESSION),  # concession for concession
            (THREAT, DEMAND, 0.5, DEMAND),  # mirrors
            (DEMAND, SHOW_OF_FORCE, 0.7, SHOW_OF_FORCE),  # at the threshold: not eager (>)
            (DEMAND, SHOW_OF_FORCE, 0.71, MOBILIZATION),  # eager: one above
            (DEMAND, CONCESSION, 0.9, DEMAND),
            (DEMAND, LIMITED_FORCE, 0.9, LIMITED_FORCE),  # capped
        ],
    )
    def test_answers(self, own, perceived, m, expected):
        assert challenger_answer("reciprocating", own, perceived, m) == expected

    def test_threshold_is_the_parameter(self):
        assert (
            challenger_answer("reciprocating", DEMAND, THREAT, 0.3, {"challenger.escalate_threshold": 0.2})
            == SHOW_OF_FORCE
        )


# --- the catalogue as a whole ---------------------------------------------------------------
def _all_cases(cls=StrategyCase):
    for sub in cls.__subclasses__():
        if hasattr(sub, "name"):
            yield sub
        yield from _all_cases(sub)


def test_every_strategy_has_exactly_one_test_class():
    covered = [c.name for c in _all_cases()]
    assert sorted(covered) == sorted(s.name for s in strategies.STRATEGIES)


def test_defender_strategy_order_matches_params():
    assert tuple(s.name for s in strategies.defender_strategies) == params.DEFENDER_STRATEGY_NAMES


def test_challenger_strategy_order_matches_choice_coding():
    assert tuple(s.name for s in strategies.challenger_strategies) == params.CHALLENGER_STRATEGIES


def test_response_rules_and_instruments_match_params():
    assert tuple(s.name for s in strategies.response_rules) == params.RESPONSE_RULES
    assert tuple(s.name for s in strategies.ally_instruments) == params.ALLY_INSTRUMENTS


def test_registry_names_unique():
    assert len(strategies.REGISTRY) == len(strategies.STRATEGIES)


def test_every_strategy_flag_is_a_parameter():
    for s in strategies.defender_strategies:
        assert "mix." + s.name in params.PARAM_INDEX
