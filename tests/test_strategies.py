"""Strategies, Axelrod style: one test class per row of ``model/strategies.STRATEGIES``.

Each class declares what the table must say about its strategy (side, family, kind, classifier, the parameters
only it reads) -- the expectations come from the strategy's section of docs/model.md -- and then checks what the
strategy *does* in the model, with scripted situations: a replication set up by the model's own ``rules.setup``,
into which the test delivers hand-written messages (``conftest.Replication``), or SimPy crises whose traces are
read. Frequencies of stochastic rules are compared with their probabilities through 99.9% Wilson intervals over
fixed seeds (``conftest.wilson_ci``).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from conftest import (
    C_LEADER,
    D_LEADER,
    Model,
    build_scenario,
    simpy_run,
    wilson_ci,
)

from escalation_sim.engines import montecarlo as mc
from escalation_sim.engines.simpy_engine import Crisis
from escalation_sim.model import bibliography, doctrine, params, rules, strategies
from escalation_sim.model.constants import (
    ALLY,
    AUDIENCE,
    CHALLENGER,
    DEFENDER,
    DEMAND,
    F_FORCED,
    F_INCIDENT,
    F_OBSERVED,
    F_OFFER,
    F_WITHHELD,
    LEADER,
    LIMITED_FORCE,
    MILITARY,
    MK_INCIDENT_TICK,
    MK_RENEW,
    MK_START,
    MK_SUPPORT,
    MOBILIZATION,
    MV_ACCEPT,
    MV_ESCALATE,
    MV_OFFER,
    MV_WAR,
    MV_YIELD,
    N_INSTRUMENTS,
    S_ADV_OFFERED,
    S_BELIEF,
    S_COMMITTED,
    S_DECISIONS,
    S_FORCE_SEEN,
    S_LEVEL,
    S_PRESSURE,
    S_READINESS,
    SHOW_OF_FORCE,
    STREAM_COMMITMENT,
    THREAT,
    X_AUDIENCE_PAID,
    X_C_TYPE,
    X_D_TYPE,
    X_DEPLOYED,
    X_ERROR,
    X_OFFER,
    X_REASSURANCE_COST,
    X_STATEMENT,
    X_TERMS,
    X_TRANSFERS,
)
from escalation_sim.model.decision import SCR_SIT, SIT_POLICY_ADV, win_probability
from escalation_sim.model.doctrine import DEPLOYED_TERMS, DEPLOYED_TRIPWIRE
from escalation_sim.model.rng import uniform
from escalation_sim.model.signals import A_SEND, T_TRANSFER, TRUST_BENEFIT

W, Y, A, E, O = (1 << MV_WAR), (1 << MV_YIELD), (1 << MV_ACCEPT), (1 << MV_ESCALATE), (1 << MV_OFFER)  # noqa: E741
CHOICES = {"war", "concede", "settle", "escalate", "offer", "back_down"}
SEEDS = range(400)


def menu(strats, first: bool, offered: bool, values=None, seed: int = 0) -> int:
    """The defender's menu in a crisis (``rules.defender_menu``) at its first answer or later, after an offer or not."""
    r = Model(strats, values).replication(seed).open_crisis()
    r.st[rules.ix(DEFENDER, S_DECISIONS)] = 0.0 if first else 1.0
    r.st[rules.ix(DEFENDER, S_ADV_OFFERED)] = 1.0 if offered else 0.0
    return int(rules.defender_menu(r.st, r.p, r.keys, r.ctr))


def challenge(r, demand=0.75):
    """Deliver the challenge (a public demand) to the defender's leader; returns its step."""
    return r.deliver(D_LEADER, level=DEMAND, aux=demand)


def answers(model, then=None, seeds=SEEDS, demand=0.75):
    """The defender's steps over many replications: its first answer, and with ``then = (level, flags, aux)`` the
    answer to a second scripted challenger move (replications whose first answer ended the crisis are skipped)."""
    out = []
    for seed in seeds:
        r = model.replication(seed).open_crisis(demand)
        first = challenge(r, demand)
        if then is None:
            out.append((r, first))
            continue
        if first.event not in ("escalate", "offer"):
            continue
        level, flags, aux = then
        out.append((r, r.deliver(D_LEADER, level=level, flags=flags, aux=aux, now=5.0)))
    return out


def defender_decisions(trace):
    """The defender leader's decisions (rows in which it perceived a move and chose), in order."""
    tr = trace[(trace["actor"] == "defender.leader") & (trace["message"] == "signal")]
    return tr[tr["event"].isin(CHOICES)]


class StrategyTest:
    """What every strategy's row must say, and where its parameter comes from (docs/model.md, "Strategies")."""

    name: str = ""
    side = "defender"
    family = ""
    kind = ""
    classifier: dict = {}
    parameters: tuple[str, ...] = ()

    @property
    def row(self):
        return strategies.BY_NAME[self.name]

    def test_table_entry(self):
        r = self.row
        assert (r.side, r.family, r.kind) == (self.side, self.family, self.kind)
        full = {"stochastic": False, "needs_ally": False, "bilateral": False, "signals_type": False,
                "changes_stake": False, **self.classifier}
        assert r.classifier == full
        assert r.parameters == self.parameters
        assert r.summary and r.mechanism

    def test_references_resolve(self):
        assert self.row.references and all(k in bibliography.REFERENCES for k in self.row.references)

    def test_its_parameters_exist(self):
        assert all(k in params.SPEC_BY_KEY for k in self.parameters)

    def test_parameter_derived_from_the_table(self):
        if self.kind == "response":
            assert strategies.RESPONSE_CODE[self.name] == 1 + strategies.RESPONSE_RULES.index(self.name)
            assert "mix." + self.name not in params.PARAM_INDEX
        elif self.kind == "style":
            spec = params.SPEC_BY_KEY["challenger.strategy"]
            assert spec.choices[strategies.CHALLENGER_CODE[self.name]] == self.name
        else:
            assert "mix." + self.name in params.PARAM_INDEX
            assert self.name in strategies.FLAG_STRATEGIES


def test_every_strategy_has_a_test_class():
    classes = {c.name for c in StrategyTest.__subclasses__()} | {
        c.name for base in StrategyTest.__subclasses__() for c in base.__subclasses__()}
    assert {s.name for s in strategies.STRATEGIES} <= classes


# ======================================================================================================
# response rules
# ======================================================================================================
class TestNoResponseRule:
    """Without a response rule the defender chooses freely among war, yield, escalate and offer."""

    @pytest.mark.parametrize(("first", "offered"), [(True, False), (False, False), (False, True)])
    def test_free_menu(self, first, offered):
        assert menu([], first, offered) == W | Y | E | O

    def test_free_choice_is_used(self):
        """Its first answers include both offers and escalations (the contrast for the forced rules below)."""
        events = Counter(s.event for _, s in answers(Model([]), seeds=range(200)))
        assert events["offer"] > 0 and events["escalate"] > 0


class TestImmediateDeterrence(StrategyTest):
    name = "immediate_deterrence"
    family = "deterrence"
    kind = "response"

    def test_first_answer_forced_to_a_public_escalation_of_at_least_threat(self):
        """Every first answer is an escalation to max(perceived + 1, threat): a threat (sent by the leader at once)
        after a demand, a show of force (an order to its military) after a demand misread as a threat. The move is
        marked forced, commits the defender and withdraws no offer; the forced menu still draws its choice."""
        seen = Counter()
        for r, s in answers(Model([self.name])):
            assert s.event == "escalate"
            assert s.level == max(s.perceived + 1, THREAT)
            assert r.s(DEFENDER, S_LEVEL) == s.level and r.s(DEFENDER, S_COMMITTED) == 1.0
            assert all(row.flags & F_FORCED for row in s.rows)
            if s.level == THREAT:
                assert [(row.target, row.kind, row.level) for row in s.rows] == [
                    (C_LEADER, "signal", THREAT), (3 * CHALLENGER + AUDIENCE, "signal", THREAT)]
                assert s.draws[3] == 3  # perceive, choose, the move's delay
            else:
                assert [(row.target, row.kind, row.level, row.delayed) for row in s.rows] == [
                    (3 * DEFENDER + MILITARY, "order", SHOW_OF_FORCE, False)]
                assert s.draws[3] == 2  # perceive, choose (the military draws the delays)
            seen[s.level] += 1
        assert seen[THREAT] > 0 and seen[SHOW_OF_FORCE] > 0  # both branches were exercised

    def test_never_offers_after_the_first_answer(self):
        assert menu([self.name], first=True, offered=False) == E
        assert menu([self.name], first=False, offered=False) == W | Y | E
        assert menu([self.name], first=False, offered=True) == W | Y | E
        steps = answers(Model([self.name]), then=(DEMAND, F_OFFER, 0.6))
        events = Counter(s.event for _, s in steps)
        assert events["offer"] == 0 and events["settle"] > 0  # yielding to an offer accepts it

    def test_in_the_engine(self, direct):
        """Over SimPy crises of the direct-deterrence scenario: the defender's first decision is always an
        escalation, it never makes an offer, and every escalation it orders is at least a threat."""
        decided = 0
        for rep in range(150):
            res, _ = simpy_run(direct, 11, rep)
            d = defender_decisions(res.trace)
            if len(d):
                decided += 1
                assert d["event"].iloc[0] == "escalate" and d["level"].iloc[0] >= THREAT
            assert not (res.trace["actor"].eq("defender.leader") & res.trace["event"].eq("offer")).any()
        assert decided > 50


class TestTitForTat(StrategyTest):
    name = "tit_for_tat"
    family = "general reassurance"
    kind = "response"

    def test_menus(self):
        assert menu([self.name], first=True, offered=False) == W | Y | O
        assert menu([self.name], first=False, offered=True) == W | Y | O
        assert menu([self.name], first=False, offered=False) == W | Y | E

    def test_cooperates_first(self):
        """Its first answer is an offer, or war or yielding; never an escalation. Its offers are forced (the only
        move besides war and yielding): under dispositional attribution they still inform the challenger."""
        events = Counter()
        for _, s in answers(Model([self.name])):
            events[s.event] += 1
            assert s.event in ("offer", "war", "concede")
            if s.event == "offer":
                assert all(row.flags & F_FORCED and row.flags & F_OFFER for row in s.rows)
        assert events["offer"] > 0.8 * sum(events.values())

    def test_mirrors_an_offer_with_an_offer_or_acceptance(self):
        for _, s in answers(Model([self.name]), then=(DEMAND, F_OFFER, 0.6)):
            if not s.misread:  # an offer read as such
                assert s.event in ("offer", "settle", "war")

    def test_mirrors_an_escalation_and_a_misread_offer_with_an_escalation(self):
        for then, values in (((THREAT, 0, 0.0), None), ((DEMAND, F_OFFER, 0.6), {"channel.misperception": 1.0})):
            events = Counter()
            for _, s in answers(Model([self.name], values), then=then):
                assert s.event in ("escalate", "war", "concede")
                events[s.event] += 1
            assert events["escalate"] > 0


class TestGenerousTitForTat(StrategyTest):
    name = "generous_tit_for_tat"
    family = "general reassurance"
    kind = "response"
    classifier = {"stochastic": True}
    parameters = ("defender.generosity",)

    @staticmethod
    def _menu_and_draw(model, seed):
        """Its menu when tit for tat would escalate, the uniform it should have drawn, and the draws it made."""
        r = model.replication(seed).open_crisis()
        r.st[rules.ix(DEFENDER, S_DECISIONS)] = 1.0
        keys, ctr = r.keys.copy(), r.ctr.copy()
        u = uniform(keys, ctr, 3 * DEFENDER + LEADER)  # the next uniform of the defender leader's stream
        before = int(r.ctr[3])
        allow = int(rules.defender_menu(r.st, r.p, r.keys, r.ctr))
        return allow, u, int(r.ctr[3]) - before

    @pytest.mark.parametrize("generosity", [0.0, 0.3, 0.7, 1.0])
    def test_one_draw_decides_generosity(self, generosity):
        """When it would have to escalate it draws exactly one uniform from the defender leader's stream (L3) and
        uses the cooperative menu iff that uniform is below ``defender.generosity``; the share of cooperative menus
        over 4,000 seeds lies in the 99.9% Wilson interval around the frequency, which covers the parameter."""
        model = Model([self.name], {"defender.generosity": generosity})
        coop = 0
        n = 4000
        for seed in range(n):
            allow, u, drawn = self._menu_and_draw(model, seed)
            assert drawn == 1
            assert allow == (W | Y | O if u < generosity else W | Y | E)
            coop += allow == W | Y | O
        lo, hi = wilson_ci(coop, n)
        assert lo <= generosity <= hi

    def test_no_draw_at_the_first_answer_or_after_an_offer(self):
        for first, offered in ((True, False), (False, True)):
            r = Model([self.name], {"defender.generosity": 0.5}).replication(3).open_crisis()
            r.st[rules.ix(DEFENDER, S_DECISIONS)] = 0.0 if first else 1.0
            r.st[rules.ix(DEFENDER, S_ADV_OFFERED)] = 1.0 if offered else 0.0
            before = r.ctr.copy()
            assert rules.defender_menu(r.st, r.p, r.keys, r.ctr) == W | Y | O
            assert (r.ctr == before).all()

    def test_answers_escalations_with_offers_sometimes(self):
        """In the full rule (perceive, menu, choose): after an escalation, offers appear, unlike tit for tat."""
        events = Counter(s.event for _, s in answers(Model([self.name]), then=(THREAT, 0, 0.0)))
        assert events["offer"] > 0 and events["escalate"] > 0


class TestReciprocalConcessions(StrategyTest):
    name = "reciprocal_concessions"
    family = "general reassurance"
    kind = "response"

    def test_menus(self):
        assert menu([self.name], first=True, offered=False) == O
        assert menu([self.name], first=False, offered=False) == W | Y | E | O
        assert menu([self.name], first=False, offered=True) == W | Y | E | O

    def test_opens_with_a_forced_offer_between_the_positions(self):
        """Its first answer is an offer, always: terms strictly between the status quo and the perceived demand
        (``[q + 0.01, d - 0.01]``), recorded as its standing offer, sent at once at its level, marked forced."""
        for r, s in answers(Model([self.name])):
            assert s.event == "offer"
            q, d = r.st[X_TERMS], 0.75
            assert q + 0.01 - 1e-12 <= s.value <= d - 0.01 + 1e-12
            assert r.st[X_OFFER] == s.value
            assert [(row.target, row.kind, row.aux) for row in s.rows] == [
                (C_LEADER, "signal", s.value), (3 * CHALLENGER + AUDIENCE, "signal", s.value)]
            assert all(row.flags & F_OFFER and row.flags & F_FORCED for row in s.rows)

    def test_no_room_for_an_offer_leaves_war_or_yielding(self):
        """A demand 0.01 above the status quo leaves no terms to offer: the forced menu falls back to war or yielding."""
        for _, s in answers(Model([self.name]), seeds=range(100), demand=0.505):
            assert s.event in ("war", "concede")

    def test_keeps_offering_after_an_escalation(self):
        events = Counter(s.event for _, s in answers(Model([self.name]), then=(THREAT, 0, 0.0)))
        assert events["offer"] > 0 and events["escalate"] > 0


# ======================================================================================================
# modifiers
# ======================================================================================================
def bayes(b, lik, bias=0.0):
    """Bayes' rule with motivated bias as docs/model.md states it (an independent implementation)."""
    b = np.asarray(b, dtype=float)
    post = b * lik / (b * lik).sum()
    if bias > 0 and post[1] + post[3] > b[1] + b[3]:
        return b + (1 - bias) * (post - b)
    return post


def prior(p_greedy, p_resolved):
    return np.array([(1 - p_greedy) * (1 - p_resolved), (1 - p_greedy) * p_resolved,
                     p_greedy * (1 - p_resolved), p_greedy * p_resolved])


class TestGrit(StrategyTest):
    name = "grit"
    family = "general reassurance"
    kind = "modifier"
    classifier = {"signals_type": True, "changes_stake": True}
    parameters = ("defender.grit_steps", "defender.grit_transfer", "defender.grit_interval")
    NEVER_CHALLENGED = {"crisis.opportunity_rate": 0.0}

    def test_transfers_on_schedule_move_the_status_quo(self):
        """With no challenge: ``grit_steps`` transfers at 0, interval, 2 x interval, ...; each reaches the challenger
        after at least the channel's minimum delay and moves its status-quo share by ``tau``."""
        tau, interval, steps = 0.04, 20.0, 4
        scen = build_scenario({**self.NEVER_CHALLENGED, "defender.grit_transfer": tau, "defender.grit_interval": interval,
                               "defender.grit_steps": steps}, [self.name])
        res, _ = simpy_run(scen, 3)
        tr = res.trace
        sent = tr[(tr["actor"] == "defender.leader") & (tr["message"].isin(["start", "grit_step"]))]
        assert sent["time"].tolist() == [interval * k for k in range(steps)]
        got = tr[(tr["actor"] == "challenger.leader") & (tr["message"] == "transfer")]
        assert got["value"].tolist() == pytest.approx([0.5 + tau * (k + 1) for k in range(steps)], abs=1e-12)
        assert (got["time"].to_numpy() - sent["time"].to_numpy() >= 1.0).all()
        assert res.outcome == "no_challenge" and res.state[X_TRANSFERS] == steps
        assert res.terms == pytest.approx(0.5 + steps * tau, abs=1e-12)

    def test_status_quo_capped_at_the_whole_stake(self):
        scen = build_scenario({**self.NEVER_CHALLENGED, "stake.status_quo": 0.9, "defender.grit_transfer": 0.3,
                               "defender.grit_steps": 3}, [self.name])
        assert simpy_run(scen, 1)[0].state[X_TERMS] == 1.0

    @pytest.mark.parametrize("need", [0.0, 1.0])
    def test_the_challenger_updates_its_belief_on_each_transfer(self, need):
        """After k transfers the challenger's belief is k Bayes updates of the prior with the likelihoods
        ``T_TRANSFER`` (with motivated bias for a need-driven challenger), computed here independently."""
        values = {**self.NEVER_CHALLENGED, "challenger.p_need": need, "defender.grit_steps": 3}
        scen = build_scenario(values, [self.name])
        res, _ = simpy_run(scen, 2)
        p = Model(scenario=scen).p
        lik = p[T_TRANSFER:T_TRANSFER + 4]
        b = prior(params.SPEC_BY_KEY["defender.p_greedy"].default, params.SPEC_BY_KEY["defender.p_resolved"].default)
        for _ in range(3):
            b = bayes(b, lik, bias=need * params.SPEC_BY_KEY["challenger.motivated_bias"].default)
        got = res.state[rules.ix(CHALLENGER, S_BELIEF):rules.ix(CHALLENGER, S_BELIEF) + 4]
        assert got == pytest.approx(b, abs=1e-12)
        assert got[2] + got[3] < 0.3  # less belief in a greedy defender than the prior: the reassurance worked

    def test_transfers_carry_no_information_under_situational_attribution(self):
        scen = build_scenario({**self.NEVER_CHALLENGED, "belief.attribution": False}, [self.name])
        got = simpy_run(scen, 2)[0].state[rules.ix(CHALLENGER, S_BELIEF):rules.ix(CHALLENGER, S_BELIEF) + 4]
        assert got == pytest.approx(prior(0.3, 0.5), abs=1e-15)

    def test_transfer_likelihood_is_the_logit_of_trust_against_cost(self):
        """``T_TRANSFER[j] = 1 / (1 + exp(-lambda (B_j - c_j)))`` with cost ``tau`` for a greedy type and
        ``gain_weight * tau`` for a security seeker (reassurance costs a greedy type more: Kydd 2005)."""
        p = Model([self.name]).p
        lam, tau, g = 25.0, 0.03, 0.3
        for j in range(4):
            cost = tau if j >= 2 else g * tau
            expected = 1 / (1 + math.exp(-lam * (p[TRUST_BENEFIT + j] - cost)))
            assert p[T_TRANSFER + j] == pytest.approx(expected, rel=1e-12)

    def test_transfers_stop_once_the_crisis_has_an_outcome(self):
        """With an ally the run goes on to the horizon: GRIT steps due after the outcome are ignored, so every
        transfer (the first at the defender's start, the others at its ``grit_step`` clock) precedes the outcome."""
        scen = build_scenario({"crisis.opportunity_rate": 0.2, "defender.grit_steps": 50, "defender.grit_interval": 2.0,
                               "ally.present": True}, [self.name])
        stopped = 0
        for rep in range(40):
            res, _ = simpy_run(scen, 5, rep)
            tr = res.trace
            steps = tr[(tr["actor"] == "defender.leader") & (tr["message"] == "grit_step")]
            made = steps[steps["event"] == "transfer"]
            assert 1 + len(made) == res.state[X_TRANSFERS]
            assert (made["time"] <= res.end_time).all()
            assert steps[steps["time"] > res.end_time]["event"].eq("ignored").all()
            stopped += res.outcome != "no_challenge" and res.state[X_TRANSFERS] < 50
        assert stopped > 10

    @pytest.mark.parametrize("rule", [None, *strategies.RESPONSE_RULES])
    def test_combines_with_every_response_rule(self, rule):
        mix = ["grit"] + ([rule] if rule else [])
        res, _ = simpy_run(build_scenario({"crisis.opportunity_rate": 0.0}, mix), 1)
        assert res.state[X_TRANSFERS] == 3


class TestGeneralDeterrence(StrategyTest):
    name = "general_deterrence"
    family = "deterrence"
    kind = "modifier"
    parameters = ("effects.general_deterrence_readiness",)

    def test_standing_readiness_and_commitment_from_the_start(self):
        r = Model([self.name], {"effects.general_deterrence_readiness": 0.6}).replication(4)
        assert r.s(DEFENDER, S_READINESS) == 0.6 and r.s(DEFENDER, S_COMMITTED) == 1.0
        r0 = Model([]).replication(4)
        assert r0.s(DEFENDER, S_READINESS) == 0.0 and r0.s(DEFENDER, S_COMMITTED) == 0.0

    def test_the_challenger_knows_the_posture(self):
        """The challenger's situation at any decision marks the defender as committed by policy."""
        for strats, expected in (([self.name], 1.0), ([], 0.0)):
            r = Model(strats).replication(0)
            rules.fill_situation(r.st, r.p, r.ws, CHALLENGER, 0.0, W | Y)
            assert r.ws[SCR_SIT + SIT_POLICY_ADV] == expected

    def test_readiness_never_below_the_posture_and_concessions_pay_the_audience_cost(self):
        """In SimPy crises the defender's readiness never ends below its standing posture, and a defender that
        concedes always pays at least the audience cost (it was committed from t = 0) -- without the posture, a
        defender that concedes before any threat pays none."""
        gd = build_scenario({"crisis.opportunity_rate": 0.1}, [self.name])
        paid = []
        for rep in range(200):
            res, _ = simpy_run(gd, 2, rep, record=False)
            assert res.state[rules.ix(DEFENDER, S_READINESS)] >= 0.5
            if res.outcome == "defender_concedes":
                paid.append(res.state[X_AUDIENCE_PAID])
        assert paid and min(paid) >= 0.05
        none = build_scenario({"crisis.opportunity_rate": 0.1}, [])
        free = [simpy_run(none, 2, rep, record=False)[0] for rep in range(200)]
        assert any(r.outcome == "defender_concedes" and r.state[X_AUDIENCE_PAID] == 0.0 for r in free)


class TestSelfRestraint(StrategyTest):
    name = "self_restraint"
    family = "immediate reassurance"
    kind = "modifier"
    parameters = ("effects.restraint_pressure_cut",)

    def test_cap_at_threat_until_force_is_seen(self):
        p = Model([self.name]).p
        assert doctrine.escalation_cap(p, DEFENDER, 0.0) == THREAT
        assert doctrine.escalation_cap(p, DEFENDER, 1.0) == LIMITED_FORCE
        assert doctrine.escalation_cap(p, CHALLENGER, 0.0) == LIMITED_FORCE
        assert doctrine.escalation_cap(Model([]).p, DEFENDER, 0.0) == LIMITED_FORCE

    def test_a_threatening_defender_cannot_climb_until_it_has_perceived_force(self):
        """A restrained defender at a threat that perceives a challenger threat never escalates (over 400 seeds);
        the same defender once it has perceived force (``S_FORCE_SEEN``, set by perceiving limited force) does."""
        model = Model([self.name])
        events = {0.0: Counter(), 1.0: Counter()}
        for seed in SEEDS:
            for seen in (0.0, 1.0):
                r = model.replication(seed).mid_crisis(THREAT, DEMAND)
                r.st[rules.ix(DEFENDER, S_FORCE_SEEN)] = seen
                events[seen][r.deliver(D_LEADER, level=THREAT).event] += 1
        assert events[0.0]["escalate"] == 0 and events[1.0]["escalate"] > 0
        r = model.replication(0).open_crisis()
        r.deliver(D_LEADER, sender=3 * CHALLENGER + MILITARY, level=LIMITED_FORCE)
        assert r.s(DEFENDER, S_FORCE_SEEN) == 1.0

    def test_in_the_engine_no_show_of_force_before_force(self):
        scen = build_scenario({"crisis.opportunity_rate": 0.1}, ["immediate_deterrence", self.name])
        for rep in range(150):
            tr = simpy_run(scen, 3, rep)[0].trace
            d = tr[(tr["actor"] == "defender.leader") & (tr["message"] == "signal") & ~tr["observed"]]
            seen_force = (d["level_perceived"] >= LIMITED_FORCE).cumsum() > 0
            high = d["event"].eq("escalate") & (d["level"] > THREAT)
            assert not (high & ~seen_force).any()
            assert not tr["actor"].eq("defender.military").any() or seen_force.any()

    @pytest.mark.parametrize("cut", [0.2, 0.8])
    def test_pressure_cut_on_the_challengers_audience(self, cut):
        """Each public defender move adds ``(1 - cut)`` times the pressure it would add without self-restraint;
        the challenger's moves add their full pressure to the defender's audience."""
        gain, level = 0.03, THREAT
        for strats, factor in (([self.name], 1 - cut), ([], 1.0)):
            r = Model(strats, {"effects.restraint_pressure_cut": cut}).replication(0).open_crisis()
            r.deliver(3 * CHALLENGER + AUDIENCE, sender=D_LEADER, level=level, flags=F_OBSERVED)
            assert r.s(CHALLENGER, S_PRESSURE) == pytest.approx(gain * level / 5 * factor, rel=1e-12)
            r.deliver(3 * DEFENDER + AUDIENCE, sender=C_LEADER, level=level, flags=F_OBSERVED)
            assert r.s(DEFENDER, S_PRESSURE) == pytest.approx(gain * level / 5, rel=1e-12)


def report_posterior(b, dim, reported, a):
    """The belief after a report on bit ``dim`` of the type, right with probability ``a`` (docs/model.md)."""
    w = np.array([a if ((k >> dim) & 1) == reported else 1 - a for k in range(4)])
    return b * w / (b * w).sum()


def perceive_many(model, receiver, sender, level, flags=0, seeds=range(3000)):
    """How often a move is misread / an incident recognised, over many replications."""
    misread = recognised = 0
    for seed in seeds:
        r = model.replication(seed).mid_crisis(DEMAND, DEMAND)
        s = r.deliver(receiver, sender=sender, level=level, flags=flags)
        misread += s.misread
        recognised += s.event == "incident_recognised"
    return misread, recognised, len(seeds)


class TestNormsOfCompetition(StrategyTest):
    name = "norms_of_competition"
    family = "immediate reassurance"
    kind = "modifier"
    parameters = ("effects.norms_accuracy", "effects.norms_misperception_cut", "effects.norms_clarify")

    def test_the_challenger_gets_one_report_of_the_defenders_intention(self):
        """At t = 0 the challenger's leader draws one uniform (R2) and updates on a report of the defender's
        intention, right with probability ``norms_accuracy``: its belief is one of the two posteriors computed here,
        the right one as often as the accuracy says (99.9% Wilson interval over 3,000 seeds). The defender gets
        no report."""
        a = 0.7
        model = Model([self.name], {"effects.norms_accuracy": a})
        right = n = 0
        b0 = prior(0.3, 0.5)
        for seed in range(3000):
            r = model.replication(seed)
            s = r.deliver(C_LEADER, kind=MK_START, sender=-1)
            assert s.event == "report" and s.draws[0] == 2  # the report, then the first opportunity's wait
            truth = (int(r.st[X_D_TYPE]) >> 1) & 1
            got = r.st[rules.ix(CHALLENGER, S_BELIEF):rules.ix(CHALLENGER, S_BELIEF) + 4]
            if np.allclose(got, report_posterior(b0, 1, truth, a), atol=1e-12):
                right += 1
            else:
                assert got == pytest.approx(report_posterior(b0, 1, 1 - truth, a), abs=1e-12)
            n += 1
            d = r.deliver(D_LEADER, kind=MK_START, sender=-1)
            assert d.event == "start" and d.draws.sum() == 0
        lo, hi = wilson_ci(right, n)
        assert lo <= a <= hi

    def test_defender_moves_misread_less_and_incidents_recognised(self):
        """Defender moves are misread with probability ``m (1 - cut)``, the challenger's with ``m``; incidents are
        recognised with probability ``norms_clarify`` (never without norms or a regime)."""
        m, cut, clarify = 0.2, 0.5, 0.3
        model = Model([self.name], {"channel.misperception": m, "effects.norms_misperception_cut": cut,
                                    "effects.norms_clarify": clarify})
        k, _, n = perceive_many(model, C_LEADER, D_LEADER, THREAT)
        lo, hi = wilson_ci(k, n)
        assert lo <= m * (1 - cut) <= hi
        k, _, n = perceive_many(model, D_LEADER, C_LEADER, THREAT)
        lo, hi = wilson_ci(k, n)
        assert lo <= m <= hi
        _, k, n = perceive_many(model, D_LEADER, 3 * CHALLENGER + MILITARY, LIMITED_FORCE, F_INCIDENT)
        lo, hi = wilson_ci(k, n)
        assert lo <= clarify <= hi
        _, k, _ = perceive_many(Model([]), D_LEADER, 3 * CHALLENGER + MILITARY, LIMITED_FORCE, F_INCIDENT,
                                seeds=range(300))
        assert k == 0


class TestLimitedSecurityRegime(StrategyTest):
    name = "limited_security_regime"
    family = "immediate reassurance"
    kind = "modifier"
    classifier = {"bilateral": True}
    parameters = ("effects.regime_accuracy", "effects.regime_misperception_cut", "effects.regime_delay_cut",
                  "effects.regime_incident_cut", "effects.regime_clarify")

    def test_both_sides_get_reports_of_intention_and_resolve(self):
        """Two uniforms each at t = 0 (R1); the belief is the product of the two report updates (each right with
        ``regime_accuracy``)."""
        a = 0.8
        model = Model([self.name], {"effects.regime_accuracy": a})
        right = n = 0
        for seed in range(1500):
            r = model.replication(seed)
            for leader, state, adv_type, b0 in ((C_LEADER, CHALLENGER, X_D_TYPE, prior(0.3, 0.5)),
                                                 (D_LEADER, DEFENDER, X_C_TYPE, prior(0.5, 0.5))):
                s = r.deliver(leader, kind=MK_START, sender=-1)
                assert s.event == "report" and s.draws[3 * state] == (3 if state == CHALLENGER else 2)
                t = int(r.st[adv_type])
                got = r.st[rules.ix(state, S_BELIEF):rules.ix(state, S_BELIEF) + 4]
                candidates = {(ri, rr): report_posterior(report_posterior(b0, 1, (t >> 1) & 1 ^ (1 - ri), a), 0,
                                                         t & 1 ^ (1 - rr), a) for ri in (0, 1) for rr in (0, 1)}
                match = [key for key, post in candidates.items() if np.allclose(got, post, atol=1e-12)]
                assert len(match) == 1
                right += sum(match[0])
                n += 2
        lo, hi = wilson_ci(right, n)
        assert lo <= a <= hi

    def test_less_misperception_on_both_sides_shorter_delays_fewer_incidents(self):
        m, cut = 0.2, 0.5
        model = Model([self.name], {"channel.misperception": m, "effects.regime_misperception_cut": cut})
        for receiver, sender in ((C_LEADER, D_LEADER), (D_LEADER, C_LEADER)):
            k, _, n = perceive_many(model, receiver, sender, THREAT)
            lo, hi = wilson_ci(k, n)
            assert lo <= m * (1 - cut) <= hi
        # delays between the adversaries: (delay_min + Exp(0)) * (1 - cut), exactly
        # (and not to the ally: the hotline is between the adversaries)
        values = {"channel.delay_mean": 0.0, "channel.delay_min": 2.0, "effects.regime_delay_cut": 0.25,
                  "ally.present": True}
        model = Model([self.name, "reciprocal_concessions", "aid"], values)
        s = challenge(model.replication(0).open_crisis())
        assert s.event == "offer" and [row.delay for row in s.rows] == [1.5, 1.5]  # the leader and its audience
        s = model.replication(0).deliver(D_LEADER, kind=MK_START, sender=-1)
        assert [row.delay for row in s.rows if row.kind == "support"] == [2.0]

    def test_incident_rate_cut(self):
        """With both militaries at full readiness and ``incident_rate * tick_mean = 1``, a tick causes an incident
        with probability ``1 - regime_incident_cut`` (1 without a regime)."""
        cut = 0.6
        for strats, expected in (([self.name], 1 - cut), ([], 1.0)):
            model = Model(strats, {"military.incident_rate": 0.2, "military.incident_tick_mean": 5.0,
                                   "effects.regime_incident_cut": cut})
            k = 0
            n = 2000
            for seed in range(n):
                r = model.replication(seed).open_crisis()
                r.st[rules.ix(CHALLENGER, S_READINESS)] = 1.0
                r.st[rules.ix(DEFENDER, S_READINESS)] = 1.0
                k += r.deliver(3 * CHALLENGER + MILITARY, kind=MK_INCIDENT_TICK, sender=3 * CHALLENGER + MILITARY,
                               level=0).event == "incident"
            lo, hi = wilson_ci(k, n)
            assert lo <= expected <= hi

    def test_incidents_recognised_and_combined_with_norms(self):
        """Alone: with probability ``regime_clarify``; with norms: ``1 - (1 - regime_clarify)(1 - norms_clarify)``."""
        values = {"effects.regime_clarify": 0.4, "effects.norms_clarify": 0.3}
        for strats, expected in (([self.name], 0.4), ([self.name, "norms_of_competition"], 1 - 0.6 * 0.7)):
            _, k, n = perceive_many(Model(strats, values), D_LEADER, 3 * CHALLENGER + MILITARY, LIMITED_FORCE,
                                    F_INCIDENT)
            lo, hi = wilson_ci(k, n)
            assert lo <= expected <= hi


# ======================================================================================================
# instruments of ally reassurance
# ======================================================================================================
ALLY_LEADER = 3 * ALLY + LEADER


def a_send(values: dict, k: int, z: int) -> float:
    """``A_SEND[z][k]`` from docs/model.md ("The ally"), computed here from the parameters."""
    spec = params.SPEC_BY_KEY
    v = {key: values.get(key, spec[key].default) for key in spec}
    lam = v["decision.precision"]
    value = v["ally.reassurance_value"] * (1.0 if z else v["ally.uncommitted_value"])
    cost = v[f"effects.cost_{INSTRUMENT_COST[k]}"] + (v["audience.cost"] if k == 2 and not z else 0.0)
    return 1 / (1 + math.exp(-lam * (value - cost)))


INSTRUMENT_COST = ("tripwire", "terms", "public_statement", "private_statement", "aid", "exercises")


class InstrumentTest(StrategyTest):
    """What every instrument does: a send-or-withhold draw, a cost, a signal the ally reads."""

    family = "reassurance of allies"
    kind = "instrument"
    classifier = {"needs_ally": True, "signals_type": True}  # sent or withheld by the defender's commitment
    k = -1
    renewable = True
    public = True
    crisis_level = None  # level at which the challenger's audience sees it during a crisis (None: unseen)
    commits_in_crisis = False
    committed_by_policy = False

    @property
    def parameters(self):
        return (f"effects.cost_{INSTRUMENT_COST[self.k]}",)

    def values(self, **extra):
        return {"ally.present": True, "ally.lapse_rate": 0.0, "ally.recommit_rate": 0.0, **extra}

    def test_code_follows_the_instrument_order(self):
        assert strategies.ALLY_INSTRUMENTS[self.k] == self.name
        assert params.PARAM_INDEX["mix." + self.name] == rules.MIX_INSTR0 + self.k

    def test_needs_an_ally(self):
        from escalation_sim.errors import ConfigError

        with pytest.raises(ConfigError, match="ally.present"):
            build_scenario({}, [self.name])

    @pytest.mark.parametrize("z", [1, 0])
    def test_send_or_withhold_at_the_logit_probability(self, z):
        """Send or withhold: one uniform (A2) at the defender's start for a renewable instrument, at set-up for a
        standing one (tripwire, terms: the start then draws only the delay, A1); the share sent over 3,000 seeds
        covers ``A_SEND[z][k]`` computed from the parameters (99.9% Wilson interval). Each instrument sent costs
        ``effects.cost_<k>``; a withheld one costs nothing and reaches the ally flagged."""
        values = self.values(**{"ally.p_committed": float(z)})
        model = Model([self.name], values)
        expected = a_send(values, self.k, z)
        assert model.p[A_SEND + z * N_INSTRUMENTS + self.k] == pytest.approx(expected, rel=1e-12)
        sent = 0
        n = 3000
        cost = params.SPEC_BY_KEY[self.parameters[0]].default
        for seed in range(n):
            r = model.replication(seed)
            s = r.deliver(D_LEADER, kind=MK_START, sender=-1)
            assert s.draws[3] == (2 if self.renewable else 1) and s.draws[STREAM_COMMITMENT] == 0
            (row,) = [x for x in s.rows if x.kind == "support"]
            assert row.target == ALLY_LEADER and row.aux == self.k and row.public == self.public and row.delayed
            withheld = bool(row.flags & F_WITHHELD)
            sent += not withheld
            assert r.st[X_REASSURANCE_COST] == (0.0 if withheld else cost)
        lo, hi = wilson_ci(sent, n)
        assert lo <= expected <= hi

    @pytest.mark.parametrize("withheld", [False, True])
    def test_the_ally_updates_by_bayes(self, withheld):
        """The ally's belief after the instrument (or its news that it was withheld) arrives at day t:
        the filter's prediction from the prior, then ``b s1 / (b s1 + (1 - b) s0)`` (``1 - s`` if withheld)."""
        lapse, recommit, t = 1 / 400, 1 / 200, 17.0
        values = {"ally.present": True, "ally.lapse_rate": lapse, "ally.recommit_rate": recommit, "ally.p_committed": 0.6}
        r = Model([self.name], values).replication(0)
        s1, s0 = a_send(values, self.k, 1), a_send(values, self.k, 0)
        h = lapse + recommit
        b_inf = recommit / h
        b = b_inf + (0.6 - b_inf) * math.exp(-h * t)
        l1, l0 = (1 - s1, 1 - s0) if withheld else (s1, s0)
        step = r.deliver(ALLY_LEADER, kind=MK_SUPPORT, sender=D_LEADER, level=0,
                         flags=F_WITHHELD if withheld else 0, aux=self.k, now=t)
        assert step.event == ("reassurance_withheld" if withheld else "support")
        assert step.value == pytest.approx(b * l1 / (b * l1 + (1 - b) * l0), rel=1e-12)
        assert step.draws.sum() == 0

    def test_what_the_challenger_sees_during_a_crisis(self):
        """Sent while a crisis is open, the instrument reaches the challenger's audience at ``crisis_level`` (a
        public statement as a threat, exercises as a show of force) and a public statement commits the defender;
        outside a crisis the challenger sees nothing."""
        values = self.values(**{"ally.p_committed": 1.0, "ally.reassurance_value": 1.0})
        for open_crisis in (True, False):
            r = Model([self.name], values).replication(0)
            if open_crisis:
                r.open_crisis()
            s = r.deliver(D_LEADER, kind=MK_RENEW if self.renewable else MK_START, sender=D_LEADER, now=30.0)
            seen = [x for x in s.rows if x.target == 3 * CHALLENGER + AUDIENCE]
            if open_crisis and self.crisis_level is not None:
                assert [(x.kind, x.level, bool(x.flags & F_OBSERVED)) for x in seen] == [("signal", self.crisis_level, True)]
            else:
                assert seen == []
            committed = r.s(DEFENDER, S_COMMITTED) == 1.0
            assert committed == (self.committed_by_policy or (open_crisis and self.commits_in_crisis))
            assert r.st[X_STATEMENT] == (1.0 if open_crisis and self.commits_in_crisis else 0.0)

    def test_renewed_only_if_renewable(self):
        """At a renewal the defender reconsiders only statements, aid and exercises (two draws each)."""
        r = Model([self.name], self.values(**{"defender.renewal_interval": 30.0})).replication(0)
        s = r.deliver(D_LEADER, kind=MK_RENEW, sender=D_LEADER, now=30.0)
        support = [x for x in s.rows if x.kind == "support"]
        assert len(support) == (1 if self.renewable else 0)
        assert s.draws[3] == (2 if self.renewable else 0)
        assert [x.delay for x in s.rows if x.kind == "renew"] == [30.0]  # the next renewal

    deployed_bit = 0  # the X_DEPLOYED bit of a standing instrument (tripwire, terms); renewables have none

    def test_committed_by_policy_from_the_start(self):
        """A standing instrument commits the defender from t = 0 in exactly the replications that deployed it
        (set-up decides, by the logit of its cost); a renewable one never does at set-up."""
        model = Model([self.name], self.values())
        seen = Counter()
        for seed in range(200):
            r = model.replication(seed)
            deployed = int(r.st[X_DEPLOYED])
            expected = 1.0 if deployed & self.deployed_bit else 0.0
            assert r.s(DEFENDER, S_COMMITTED) == expected
            assert doctrine.policy_committed(r.p, DEFENDER, deployed) == expected
            seen[expected] += 1
        assert seen[1.0] > 0 if self.committed_by_policy else seen == {0.0: 200}


class TestTripwire(InstrumentTest):
    name = "tripwire"
    k = 0
    renewable = False
    committed_by_policy = True
    deployed_bit = DEPLOYED_TRIPWIRE

    @property
    def parameters(self):
        return ("effects.cost_tripwire", "effects.tripwire_lr", "effects.tripwire_no_exit", "effects.tripwire_effort_cut")

    @pytest.mark.parametrize("lr", [1.0, 1.1, 3.0])
    def test_raises_the_challengers_belief_in_resolve_by_its_likelihood_ratio(self, lr):
        """At the challenger's start (no draw): a Bayes update with likelihood ``lr`` on resolved types, 1 otherwise
        (in a replication that deployed the tripwire; see test_strategies' withheld test for the other case)."""
        model = Model([self.name], self.values(**{"effects.tripwire_lr": lr}))
        r = next(r for r in map(model.replication, range(100)) if int(r.st[X_DEPLOYED]) & DEPLOYED_TRIPWIRE)
        s = r.deliver(C_LEADER, kind=MK_START, sender=-1)
        assert s.draws[0] == 1  # only the first opportunity's wait
        expected = bayes(prior(0.3, 0.5), np.array([1.0, lr, 1.0, lr]))
        got = r.st[rules.ix(CHALLENGER, S_BELIEF):rules.ix(CHALLENGER, S_BELIEF) + 4]
        assert got == pytest.approx(expected, abs=1e-15)

    def test_a_withheld_tripwire_is_no_evidence(self):
        """The challenger sees no troops where the tripwire was withheld: its belief stays at the prior."""
        model = Model([self.name], self.values(**{"effects.tripwire_lr": 3.0}))
        r = next(r for r in map(model.replication, range(500)) if not int(r.st[X_DEPLOYED]) & DEPLOYED_TRIPWIRE)
        r.deliver(C_LEADER, kind=MK_START, sender=-1)
        got = r.st[rules.ix(CHALLENGER, S_BELIEF):rules.ix(CHALLENGER, S_BELIEF) + 4]
        assert got == pytest.approx(prior(0.3, 0.5), abs=1e-15)

    def test_forward_forces_stand_in_for_the_allys_effort(self):
        """In a war over the ally the defender's strength is times ``1 + effort``, cut by a deployed tripwire (free
        riding); a withheld one cuts nothing."""
        p = Model([self.name], self.values()).p
        for deployed, effort in ((DEPLOYED_TRIPWIRE, 0.2 * (1 - 0.5)), (0, 0.2), (DEPLOYED_TERMS, 0.2)):
            assert doctrine.ally_effort(p, deployed) == pytest.approx(effort)
            sc, sd = 0.5, 0.5 * (1 + effort)
            assert win_probability(p, 0.0, 0.0, -1, doctrine.ally_effort(p, deployed)) == pytest.approx(sc / (sc + sd), rel=1e-12)

    def test_no_exit_once_force_is_perceived(self):
        """Schelling's strong form: a defender with a tripwire and ``tripwire_no_exit`` that perceives limited force
        never yields (over 400 seeds); without no-exit some do."""
        for no_exit, can_yield in ((True, False), (False, True)):
            model = Model(["immediate_deterrence", self.name],
                          self.values(**{"effects.tripwire_no_exit": no_exit, "defender.cost_resolved": 0.5,
                                         "defender.cost_unresolved": 0.9}))
            events = Counter()
            for seed in SEEDS:
                r = model.replication(seed)
                if not int(r.st[X_DEPLOYED]) & DEPLOYED_TRIPWIRE:
                    continue  # withheld at set-up: no tripwire, no rule
                r.mid_crisis(MOBILIZATION, MOBILIZATION)
                events[r.deliver(D_LEADER, sender=3 * CHALLENGER + MILITARY, level=LIMITED_FORCE).event] += 1
            assert (events["concede"] > 0) == can_yield, events


class TestAllianceTerms(InstrumentTest):
    name = "alliance_terms"
    k = 1
    renewable = False
    committed_by_policy = True
    deployed_bit = DEPLOYED_TERMS


class TestPublicStatement(InstrumentTest):
    name = "public_statement"
    k = 2
    crisis_level = THREAT
    commits_in_crisis = True


class TestPrivateStatement(InstrumentTest):
    name = "private_statement"
    k = 3
    public = False


class TestAid(InstrumentTest):
    name = "aid"
    k = 4


class TestExercises(InstrumentTest):
    name = "exercises"
    k = 5
    crisis_level = SHOW_OF_FORCE


# ======================================================================================================
# challenger styles
# ======================================================================================================
class ChallengerStyleTest(StrategyTest):
    side = "challenger"
    family = "challenger"
    kind = "style"
    menus: tuple[int, int] = (0, 0)  # (after a defender escalation, after a defender offer)

    def model(self, values=None):
        return Model([], {"challenger.strategy": self.name, **(values or {})})

    def test_menus(self):
        r = self.model().replication(0).open_crisis()
        got = []
        for offered in (0.0, 1.0):
            r.st[rules.ix(CHALLENGER, S_ADV_OFFERED)] = offered
            got.append(int(rules.challenger_menu(r.st, r.p)))
        assert tuple(got) == self.menus

    def answers(self, flags, aux=-1.0):
        """The challenger's answers to a defender move (an offer at 0.6 with ``F_OFFER``, else a threat)."""
        model = self.model({"channel.misperception": 0.0})
        events = Counter()
        for seed in SEEDS:
            r = model.replication(seed).open_crisis(0.75)
            level = 0 if flags & F_OFFER else THREAT
            events[r.deliver(C_LEADER, sender=D_LEADER, level=level, flags=flags, aux=aux).event] += 1
        return events


class TestProbing(ChallengerStyleTest):
    name = "probing"
    menus = (W | Y | A | E | O, W | Y | A | E | O)

    def test_uses_every_move(self):
        assert self.answers(0)["offer"] > 0 and self.answers(0)["escalate"] > 0
        assert self.answers(F_OFFER, 0.6)["settle"] > 0


class TestFirm(ChallengerStyleTest):
    name = "firm"
    menus = (W | Y | A | E, W | Y | A | E)

    def test_never_offers(self):
        for flags in (0, F_OFFER):
            assert self.answers(flags, 0.6)["offer"] == 0

    def test_in_the_engine(self):
        scen = build_scenario({"challenger.strategy": self.name}, ["tit_for_tat"])
        for rep in range(100):
            tr = simpy_run(scen, 1, rep)[0].trace
            assert not (tr["actor"].eq("challenger.leader") & tr["event"].eq("offer")).any()


class TestReciprocating(ChallengerStyleTest):
    name = "reciprocating"
    menus = (W | Y | A | E, W | Y | A | O)

    def test_mirrors(self):
        after_offer = self.answers(F_OFFER, 0.6)
        assert after_offer["escalate"] == 0 and after_offer["offer"] + after_offer["settle"] > 0
        after_threat = self.answers(0)
        assert after_threat["offer"] == 0 and after_threat["escalate"] > 0


# ======================================================================================================
# an unknown code is an error, in both engines
# ======================================================================================================
class TestUnknownCodes:
    """A response code or challenger style outside the table sets ``X_ERROR``; both engines raise."""

    @staticmethod
    def vectors(field: str, code: float):
        scen = build_scenario({"crisis.opportunity_rate": 0.2, "channel.delay_min": 0.5})
        p_mixes, cum = scen.vectors()
        p_mixes[:, params.PARAM_INDEX[field]] = code
        return p_mixes, cum

    def test_rules_set_the_error_and_fall_back_to_war_or_yield(self):
        r = Model([]).replication(0).open_crisis()
        r.p[params.PARAM_INDEX["mix.response"]] = len(strategies.RESPONSE_RULES) + 1
        assert rules.defender_menu(r.st, r.p, r.keys, r.ctr) == W | Y
        assert r.st[X_ERROR] == rules.ERR_UNKNOWN_RESPONSE
        r = Model([]).replication(0).open_crisis()
        r.p[params.PARAM_INDEX["challenger.strategy"]] = len(strategies.CHALLENGER_STRATEGIES)
        assert rules.challenger_menu(r.st, r.p) == W | Y
        assert r.st[X_ERROR] == rules.ERR_UNKNOWN_STYLE

    @pytest.mark.parametrize(("field", "code"), [("mix.response", 5.0), ("mix.response", 99.0),
                                                 ("challenger.strategy", 3.0)])
    def test_both_engines_raise(self, field, code):
        p_mixes, cum = self.vectors(field, code)
        raised = 0
        for rep in range(20):
            try:
                Crisis(p_mixes, cum, 1, rep, record=False).run()
            except RuntimeError as exc:
                assert "unknown strategy code" in str(exc)
                raised += 1
        assert raised > 0
        with pytest.raises(RuntimeError):
            mc.run_blocks(p_mixes, cum, 1, np.arange(2), 10, 20, parallel=False)

        class Vectors:  # final_states takes a scenario: anything with .vectors()
            def vectors(self):
                return p_mixes, cum

        with pytest.raises(RuntimeError):
            mc.final_states(Vectors(), 1, range(20))

    def test_compiled_engine_names_the_unknown_code(self):
        p_mixes, cum = self.vectors("mix.response", 99.0)
        with pytest.raises(RuntimeError, match="unknown strategy code"):
            mc.run_blocks(p_mixes, cum, 1, np.arange(2), 10, 20, parallel=False)
