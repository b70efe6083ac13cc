"""Record a SimPy crisis and replay its leaders from docs/model.md alone.

``RecordingCrisis`` is the SimPy engine's ``Crisis`` unchanged, except that it keeps, for every
message an actor handles, the message row (kind, sender, level, flags, terms), the state
vector before and after, and the stream counters before. ``Tracker`` replays the two crisis
leaders independently:

* the set-up draws (motive, types) with its own splitmix64 (docs: "Random numbers");
* perception of every move from the receiver's own uniform: misreading, incident recognition,
  the perceived level, whether it is an offer, the terms a leader remembers, force seen;
* beliefs: the prior or a point mass, reports, Bayes' rule with the likelihood of the table in
  "Beliefs and signals", attribution and motivated bias;
* (``decisions=True``) every decision: the situation built from the document (own level,
  perceived level, status quo, demand, offers, costs of inaction ``need_rate * t``, the level-1
  belief, commitment by level or policy, decayed audience pressure, readiness, caps, the menu of
  the strategy, the fallback), the EVs of the reference look-ahead, the logit rule and the
  leader's own uniform (after the perception draw and generous tit for tat's draw). The move the
  engine made (trace ``event``, ``level``, ``value``) must be the one the inverse CDF gives.
  Also opportunities (screening demand; wait, challenge or strike) and incident checks
  (``P(war)`` in the trace ``value``).

With an ally (issue 12; docs "The ally") the tracker also follows the defender's hidden commitment
(``reference_model.CommitmentChain``, generated from stream 10 alone), which sets an uncommitted defender's value
of the stake in its decisions; the standing instruments deployed or withheld at set-up (draws K3 of stream 3,
``reference_model.deploy_standing``), which alone decide the commitment by policy, the tripwire's evidence at
t = 0 (discounted by motivated bias), the no-exit rule and the ally's effort in every war probability; the
challenger's costs of inaction from an ally's provocation (from the day it reaches the challenger's leader) and
a detected programme; whether a public statement renewed during a crisis was actually sent (its send draw,
``A_SEND`` of the reference), which commits the defender; a war the challenger starts as an attack on the ally;
and, when the defender concedes, abandonment and the audience cost it pays.
``AllyTracker`` replays the ally itself: the defender's reassurance draws, the ally's filter (forward algorithm
with ``scipy.linalg.expm``), its reviews (logit over stay, hedge, take risks), the provocation's delay and
arrival, and its programme's clocks.

What is taken from the engine: the message rows (the adversary's moves as sent), the stream
counters before each handler (the position in the stream), the leader's own level, commitment,
readiness, pressure, status quo and standing offers from the state *before* the handler (the
consequences of its own earlier moves and of its audience and military), and the likelihood
tables stored in the parameter vector (checked separately against the reference in
``test_beliefs.py``); with an ally, the arrival of the ally's provocation and the day of the programme's
detection (the ally's own actions, replayed by ``AllyTracker``), whether the challenger's military carried out
limited force (``X_C_FORCE``) and the crisis outcome the ally reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import reference_model as ref

from escalation_sim.engines.simpy_engine import Crisis
from escalation_sim.model import constants as C
from escalation_sim.model import signals
from escalation_sim.model.constants import CHALLENGER, DEFENDER
from escalation_sim.model.params import RESPONSE_CODE
from escalation_sim.model.strategies import CHALLENGER_STRATEGIES

ATOL = 1e-12
BOUNDARY = 1e-9  # a uniform this close to a cumulative probability is not checked (rounding)

_REF_TABLES: dict = {}


def reference_tables(P: ref.Params) -> ref.Tables:
    """``reference_model.tables`` of a parameter vector, computed once per vector."""
    key = tuple(P._v)
    if key not in _REF_TABLES:
        _REF_TABLES[key] = ref.tables(P)
    return _REF_TABLES[key]


def code_tables(p):
    """Read the derived part of ``p`` through the layout constants of ``signals`` (layout only)."""
    n = signals.N_RUNG
    return {
        "demand0": p[signals.DEMAND0 : signals.DEMAND0 + 4],
        "demand_bar": p[signals.DEMAND_BAR],
        "challenge": p[signals.T_CHALLENGE : signals.T_CHALLENGE + 4],
        "escalate": p[signals.T_ESCALATE : signals.T_ESCALATE + 2 * 4 * n].reshape(2, 4, n),
        "offer": p[signals.T_OFFER : signals.T_OFFER + 2 * 4 * n].reshape(2, 4, n),
        "transfer": p[signals.T_TRANSFER : signals.T_TRANSFER + 4],
        "trust_benefit": p[signals.TRUST_BENEFIT : signals.TRUST_BENEFIT + 4],
        "a_send": p[signals.A_SEND : signals.A_SEND + 2 * C.N_INSTRUMENTS].reshape(2, C.N_INSTRUMENTS),
        "a_yield": p[signals.A_YIELD : signals.A_YIELD + 2],
    }


@dataclass
class Handled:
    actor: int
    msg: np.ndarray
    now: float
    before: np.ndarray
    counters: np.ndarray
    after: np.ndarray
    row: int


class RecordingCrisis(Crisis):
    """The SimPy crisis, unchanged, that also keeps what each handler saw and did."""

    def __init__(self, *args, **kwargs):
        self.handled: list[Handled] = []
        super().__init__(*args, **kwargs)

    def receive(self, actor, msg):
        before, counters, now = self.state.copy(), self.counters.copy(), self.env.now
        super().receive(actor, msg)
        self.handled.append(Handled(actor, msg.copy(), now, before, counters, self.state.copy(), len(self.rows) - 1))


def run_recorded(scenario, seed, rep, twin=False):
    p_mixes, cum = scenario.vectors()
    crisis = RecordingCrisis(p_mixes, cum, seed, rep, True, twin)
    return crisis, crisis.run()


def fld(st, s, f):
    return st[C.GLOBAL_FIELDS + s * C.STATE_FIELDS + f]


def bel(st, s):
    i = C.GLOBAL_FIELDS + s * C.STATE_FIELDS + C.S_BELIEF
    return st[i : i + 4]


def deployed_bits(deployed) -> float:
    """The code's layout of ``X_DEPLOYED`` (constants: "bits: 1 tripwire, 2 alliance terms"), layout only."""
    return float((1 if ref.TRIPWIRE in deployed else 0) | (2 if ref.ALLIANCE_TERMS in deployed else 0))


class Tally(dict):
    def add(self, key, n=1):
        self[key] = self.get(key, 0) + n


YIELD_EVENTS = {CHALLENGER: {"back_down"}, DEFENDER: {"concede", "settle"}}
EVENT_OF = {ref.WAR: {"war"}, ref.ACCEPT: {"settle"}, ref.ESCALATE: {"escalate"}, ref.OFFER: {"offer"},
            ref.WAIT: {"wait"}}


class Tracker:
    """Independent replay of one recorded crisis (see the module docstring).

    ``variant`` deliberately breaks one rule (to show that the replay can fail);
    ``statement_is_policy``: a public statement sent during a crisis commits the defender "by
    policy" (docs: "Payoffs"), so it counts at every later node of the look-ahead (the document's
    reading, the default; no scenario of the passing tests sends one during a crisis); False is the
    code's reading (only general deterrence, tripwires and alliance terms).
    """

    def __init__(self, crisis, result, P: ref.Params, twin=False, tally=None, variant="", decisions=False,
                 statement_is_policy=True):
        self.crisis, self.result, self.P = crisis, result, P
        self.pay = ref.Payoffs(P)
        self.tally = tally if tally is not None else Tally()
        self.variant, self.decisions, self.statement_is_policy = variant, decisions, statement_is_policy
        self.T = code_tables(crisis.p)
        self.keys = ref.stream_keys(crisis.seed, crisis.replication)
        assert self.keys == [int(k) for k in crisis.keys], "stream keys (docs: Random numbers)"
        u = [ref.uniform_at(self.keys[C.STREAM_SETUP], i) for i in range(1, 7)]  # S1..S6
        self.need = u[1] < P["challenger.p_need"]
        self.type = {
            CHALLENGER: 2 * (u[2] < P["challenger.p_greedy"]) + (u[3] < P["challenger.p_resolved"]),
            DEFENDER: 2 * (u[4] < P["defender.p_greedy"]) + (u[5] < P["defender.p_resolved"]),
        }
        st0 = crisis.handled[0].before if crisis.handled else result.state
        assert (st0[C.X_NEED], st0[C.X_C_TYPE], st0[C.X_D_TYPE]) == (
            float(self.need), float(self.type[CHALLENGER]), float(self.type[DEFENDER]))
        self.complete = twin or P["belief.complete_information"] > 0
        self.belief = {}
        for s in (CHALLENGER, DEFENDER):
            adv = self.type[1 - s]
            self.belief[s] = [float(j == adv) for j in range(4)] if self.complete else ref.side_prior(P, 1 - s)
        self.perceived_level = {CHALLENGER: 0.0, DEFENDER: 0.0}
        self.perceived_any = {CHALLENGER: False, DEFENDER: False}
        self.offered = {CHALLENGER: False, DEFENDER: False}
        self.known_terms = {CHALLENGER: -1.0, DEFENDER: -1.0}
        self.force_seen = {CHALLENGER: False, DEFENDER: False}
        self.force_used = False
        self.last_misread = {CHALLENGER: False, DEFENDER: False}
        self.statement_committed = False
        self.lsr = P["mix.limited_security_regime"] > 0
        self.nc = P["mix.norms_of_competition"] > 0
        self.attribution = P["belief.attribution"] > 0 or variant == "forced informative"
        self.response = int(P["mix.response"])
        # issue 12: the ally
        self.ally = P["ally.present"] > 0
        self.chain = None
        self.deployed = frozenset()
        self.provoked = -1.0  # the day the ally's provocation reached the challenger's leader
        if self.ally:
            self.chain = ref.CommitmentChain(P, self.keys[ref.STREAM_COMMITMENT])
            assert (st0[C.X_COMMITTED], st0[C.X_NEXT_SWITCH]) == (float(self.chain.state), self.chain.next)
            self.ref_tables = reference_tables(P)
            self.deployed, _ = ref.deploy_standing(P, self.keys[ref.STREAM_DEFENDER_LEADER], self.chain.state,
                                                   self.ref_tables.a_send)
            if variant == "deployed by the mix":  # the old rule: a standing instrument in the mix acts (must fail)
                self.deployed = ref.deployed_by_policy(P)
            else:
                assert st0[C.X_DEPLOYED] == deployed_bits(self.deployed), (st0[C.X_DEPLOYED], self.deployed)
            for k in (ref.TRIPWIRE, ref.ALLIANCE_TERMS):
                if P["mix." + ref.INSTRUMENT_NAMES[k]] > 0:
                    self.tally.add(f"{ref.INSTRUMENT_NAMES[k]} {'deployed' if k in self.deployed else 'withheld'}")
        if variant != "deployed by the mix":  # (the variant must fail on a later check: beliefs or decisions)
            assert fld(st0, DEFENDER, C.S_COMMITTED) == ref.policy_committed(P, DEFENDER, self.deployed)

    # --- beliefs -----------------------------------------------------------------------------------
    def update(self, s, lik):
        if self.complete:
            return
        bias = self.P["challenger.motivated_bias"] if (s == CHALLENGER and self.need and self.variant != "no bias") else 0.0
        new = ref.bayes(self.belief[s], lik, bias)
        if bias > 0 and not np.allclose(new, ref.bayes(self.belief[s], lik, 0.0), atol=1e-9):
            self.tally.add("bias tempered")
        self.belief[s] = new

    def reports(self, s, key, ctr):
        """At t = 0: a regime's reports (intention, resolve), then the tripwire's evidence (challenger, no draw),
        then the norms' report (challenger); each report one uniform of the receiver's stream."""
        P = self.P
        n = 0

        def one(dim, acc):
            nonlocal n
            n += 1
            right = ref.uniform_at(key, ctr + n) < acc
            truth = (self.type[1 - s] >> dim) & 1
            self.belief[s] = ref.report(self.belief[s], dim, truth if right else 1 - truth, acc)
            self.tally.add("report right" if right else "report wrong")

        if self.lsr:
            one(1, P["effects.regime_accuracy"])  # intention
            one(0, P["effects.regime_accuracy"])  # resolve
        self.tripwire_evidence(s)
        if self.nc and s == CHALLENGER:
            one(1, P["effects.norms_accuracy"])

    def tripwire_evidence(self, s):
        """Docs "The ally": troops on the ally's soil raise the challenger's belief that the defender is resolved by
        the likelihood ratio ``effects.tripwire_lr`` at t = 0 (resolved types weighted lr, the others 1) -- only a
        tripwire deployed at set-up ("one that is withheld has no effect at all (no ... evidence for the
        challenger"). "The tripwire's evidence of resolve at t = 0 is discounted the same way" (motivated bias):
        ``update`` (variant "tripwire at face value": not discounted, must fail).
        """
        P = self.P
        if s != CHALLENGER or not self.ally or ref.TRIPWIRE not in self.deployed or self.complete:
            return
        lr = P["effects.tripwire_lr"]
        if self.variant == "tripwire at face value":
            self.belief[s] = ref.bayes(self.belief[s], [1.0, lr, 1.0, lr], 0.0)
        else:
            self.update(s, [1.0, lr, 1.0, lr])
        self.tally.add("tripwire evidence" + (" (need-driven)" if self.need else ""))

    def perceive(self, s, h, key, ctr, row):
        """Returns the perceived level, or None for a recognised incident."""
        P, T = self.P, self.T
        uu = ref.uniform_at(key, ctr + 1)
        sender = int(h.msg[C.M_SENDER]) // 3
        flags = int(h.msg[C.M_FLAGS])
        level = float(h.msg[C.M_LEVEL])
        own = fld(h.before, s, C.S_LEVEL)
        assert fld(h.before, s, C.S_ADV_LEVEL) == self.perceived_level[s]
        r = int(max(1.0, own, self.perceived_level[s]))
        m = P["channel.misperception"] * (1 - self.lsr * P["effects.regime_misperception_cut"])
        if sender == DEFENDER:
            m *= 1 - self.nc * P["effects.norms_misperception_cut"]
        first = s == DEFENDER and not self.perceived_any[s]
        if flags & C.F_INCIDENT:
            clarify = 1 - (1 - self.lsr * P["effects.regime_clarify"]) * (1 - self.nc * P["effects.norms_clarify"])
            if uu < clarify:
                self.tally.add("incident recognised")
                assert row.event == "incident_recognised" and row.level_perceived == -1
                return None
            self.tally.add("incident unrecognised")
            self.update(s, [T["escalate"][sender][j][4] for j in range(4)])
            perceived, misread, offer = 5.0, False, False
        else:
            misread = 1 <= level <= 4 and uu < m
            perceived = level + 1 if misread else level
            offer = bool(flags & C.F_OFFER) and not misread
            self.tally.add("misread" if misread else "read")
            if flags & C.F_FORCED and not self.attribution:
                self.tally.add("forced ignored")
            elif first:
                self.update(s, list(T["challenge"]))
                self.tally.add("challenge")
            elif offer:
                self.update(s, [T["offer"][sender][j][r] for j in range(4)])
                self.tally.add("offer")
            else:
                conf = 0.0 if self.variant == "no confusion" else m
                self.update(s, [T["escalate"][sender][j][r] + conf * T["offer"][sender][j][r] for j in range(4)])
                self.tally.add("escalation" + (" (misread offer)" if flags & C.F_OFFER else ""))
        self.perceived_any[s] = True
        self.perceived_level[s] = perceived
        self.last_misread[s] = misread or bool(flags & C.F_INCIDENT)
        self.offered[s] = offer
        # the terms a leader remembers: an offer's, the challenge's demand; a defender escalation withdraws its offer
        if offer or first:
            self.known_terms[s] = float(h.msg[C.M_AUX])
        elif s == CHALLENGER:
            self.known_terms[s] = -1.0
        if perceived >= 5:
            self.force_seen[s] = True
            self.force_used = True
        assert row.level_perceived == perceived and bool(row.misperceived) == misread, (row, perceived, misread)
        assert fld(h.after, s, C.S_ADV_LEVEL) == perceived
        assert fld(h.after, s, C.S_ADV_OFFERED) == float(offer)
        assert fld(h.after, s, C.S_KNOWN_TERMS) == self.known_terms[s]
        assert fld(h.after, s, C.S_FORCE_SEEN) == float(self.force_seen[s])
        return perceived

    # --- decisions ---------------------------------------------------------------------------------
    def policy(self, side):
        base = ref.policy_committed(self.P, side, self.deployed)
        if side == DEFENDER and self.statement_is_policy and self.statement_committed:
            return 1.0
        return base

    def situation(self, s, h, menu):
        P, st = self.P, h.before
        now = h.now
        own_type = self.type[s]
        if self.complete:
            adv_p_greedy = 1.0 if ref.is_greedy(own_type) else 0.0
        else:
            adv_p_greedy = P["challenger.p_greedy"] if s == CHALLENGER else P["defender.p_greedy"]
        decay = P["audience.pressure_decay"]
        pressure = fld(st, s, C.S_PRESSURE) * math.exp(-decay * (now - fld(st, s, C.S_PRESSURE_T)))
        # AMBIGUOUS: "A self-restrained defender cannot climb above a threat until it has perceived
        # force" -- the challenger cannot know what the defender perceived; as in the code, its model
        # of the defender's cap is lifted once force was used by either side (X_FORCE).
        force_used = self.force_used or st[C.X_FORCE] > 0
        need_own = 0.0
        if s == CHALLENGER:
            need_own = P["challenger.need_rate"] * now if self.need else 0.0
            # issue 12: an ally's provocation (once it has reached the challenger's leader, ``run``) and a detected
            # programme (its day taken from the state before the handler) add to the challenger's costs of inaction
            if self.provoked >= 0 or (self.variant == "provocation acts at once" and st[C.X_ALLY_RISK] >= 0):
                need_own += P["ally.provocation_loss"]
                self.tally.add("provoked challenger decides")
            if st[C.X_DETECTED] >= 0:
                need_own += P["challenger.prevention_loss"]
                self.tally.add("challenger with a detected programme decides")
        stake_value = 1.0
        if s == DEFENDER and self.ally and self.chain.at(now) == ref.UNCOMMITTED:
            stake_value = P["ally.uncommitted_value"]
            self.tally.add("uncommitted defender decides")
        return ref.Situation(
            side=s,
            type=own_type,
            own=fld(st, s, C.S_LEVEL),
            adv=self.perceived_level[s],
            q=st[C.X_TERMS],
            demand=st[C.X_DEMAND] if s == CHALLENGER else self.known_terms[DEFENDER],
            adv_offer=self.known_terms[CHALLENGER] if s == CHALLENGER else -1.0,
            own_offer=st[C.X_OFFER] if s == DEFENDER else -1.0,
            need_own=need_own,
            need_adv=0.0,  # the defender does not model the challenger's need
            adv_p_greedy=adv_p_greedy,
            committed=fld(st, s, C.S_COMMITTED),
            policy_own=self.policy(s),
            policy_adv=self.policy(1 - s),
            pressure=pressure,
            ready_own=fld(st, s, C.S_READINESS),
            own_cap=ref.cap(P, s, self.force_seen[s]),
            adv_cap=ref.cap(P, 1 - s, force_used),
            menu=frozenset(menu),
            yield_accepts=s == DEFENDER and self.offered[DEFENDER],
            stake_value=stake_value,
            no_exit=ref.no_exit(P, self.deployed),
            ally_effort=self.effort(),
        )

    def effort(self):
        """The ally's effort in every war probability: that of the standing instruments deployed (docs "The ally")."""
        return ref.ally_effort(self.P, self.deployed)

    def menu(self, s, h, key, ctr, draws):
        """The strategy's menu (docs: "Strategies"); returns (menu, draws used)."""
        W, Y, A, E, OF = ref.WAR, ref.YIELD, ref.ACCEPT, ref.ESCALATE, ref.OFFER
        if s == CHALLENGER:
            style = CHALLENGER_STRATEGIES[int(self.P["challenger.strategy"])]
            if style == "probing":
                return {W, Y, A, E, OF}, draws
            if style == "firm":
                return {W, Y, A, E}, draws
            assert style == "reciprocating"
            return ({W, Y, A, OF} if self.offered[CHALLENGER] else {W, Y, A, E}), draws
        first = fld(h.before, DEFENDER, C.S_DECISIONS) == 0
        offered = self.offered[DEFENDER]
        rule = self.response
        if rule == RESPONSE_CODE["none"]:
            return {W, Y, E, OF}, draws
        if rule == RESPONSE_CODE["immediate_deterrence"]:
            return ({E} if first else {W, Y, E}), draws
        if rule == RESPONSE_CODE["tit_for_tat"]:
            return ({W, Y, OF} if (first or offered) else {W, Y, E}), draws
        if rule == RESPONSE_CODE["generous_tit_for_tat"]:
            if first or offered:
                return {W, Y, OF}, draws
            draws += 1
            generous = ref.uniform_at(key, ctr + draws) < self.P["defender.generosity"]
            return ({W, Y, OF} if generous else {W, Y, E}), draws
        if rule == RESPONSE_CODE["reciprocal_concessions"]:
            return ({OF} if first else {W, Y, E, OF}), draws
        raise AssertionError(f"unknown response rule {rule}")

    def choice(self, ev, u):
        """Inverse CDF in the order of the moves; None if u sits on a boundary (rounding)."""
        probs = ref.logit(self.P["decision.precision"], ev)
        acc = 0.0
        for i, pr in enumerate(probs):
            if pr <= 0:
                continue
            acc += pr
            if abs(u - acc) < BOUNDARY:
                return None
            if u < acc:
                return i
        return max(i for i, pr in enumerate(probs) if pr > 0)

    def decide(self, s, h, key, ctr, draws, row):
        menu, draws = self.menu(s, h, key, ctr, draws)
        sit = self.situation(s, h, menu)
        e = ref.evaluate(self.P, sit, self.belief[s])
        if all(v is None for v in e.ev):  # a forced menu with no possible move: war and yield
            self.tally.add("fallback")
            sit.menu = frozenset({ref.WAR, ref.YIELD})
            e = ref.evaluate(self.P, sit, self.belief[s])
        u = ref.uniform_at(key, ctr + draws + 1)
        move = self.choice(e.ev, u)
        if move is None:
            self.tally.add("boundary")
            return
        self.tally.add(f"decision {move}")
        expected = YIELD_EVENTS[s] if move == ref.YIELD else EVENT_OF[move]
        assert row.event in expected, (h.now, s, row.event, move, e.ev, sit)
        if move == ref.ESCALATE:
            top = max(sit.own, sit.adv)
            level = max(top + 1, ref.THREAT) if (s == DEFENDER and self.response == RESPONSE_CODE["immediate_deterrence"]) else top + 1
            assert row.level == min(level, ref.TOP)
        if move == ref.OFFER:
            best = e.ev[ref.OFFER]
            ties = [t for t, v in e.offer_candidates.items() if abs(v - best) <= ATOL * max(1, abs(best))]
            assert any(abs(row.value - t) <= ATOL for t in ties), (row.value, e.offer_candidates)
        if move == ref.YIELD and s == DEFENDER:
            assert row.event == ("settle" if self.offered[DEFENDER] else "concede")
            if not self.offered[DEFENDER]:
                self.concession(h, sit)
        if move == ref.WAR:
            self.war_lottery(s, h, key, ctr + draws + 2)

    def concession(self, h, sit):
        """Issue 12: a defender that concedes while publicly committed pays the audience cost and its audience's
        pressure (``X_AUDIENCE_PAID``); conceding after the challenger used force against the ally (its military
        carried out limited force: ``X_C_FORCE``, the military's business) is abandonment."""
        before, after = h.before, h.after
        committed = fld(before, DEFENDER, C.S_COMMITTED) > 0
        paid = (self.P["audience.cost"] + sit.pressure) if committed else 0.0
        assert abs((after[C.X_AUDIENCE_PAID] - before[C.X_AUDIENCE_PAID]) - paid) <= ATOL, (after[C.X_AUDIENCE_PAID], paid)
        abandoned = self.ally and before[C.X_C_FORCE] > 0
        assert after[C.X_ABANDONED] == float(abandoned)
        self.tally.add("abandonment" if abandoned else "concession")
        if committed:
            self.tally.add("audience cost paid")

    def war_lottery(self, s, h, key, counter):
        """docs "War": one uniform from the deciding leader's stream; the challenger wins if u < pi_C,
        with both sides' actual readiness and the decider striking first; inadvertent if the decider's
        last perceived move was misread or an unrecognised incident."""
        st = h.before
        pi = self.pay.pi_c(fld(st, CHALLENGER, C.S_READINESS), fld(st, DEFENDER, C.S_READINESS), s, self.effort())
        won = ref.uniform_at(key, counter) < pi
        assert h.after[C.X_OUTCOME] == C.WAR_OUTCOME
        assert h.after[C.X_WINNER] == (0.0 if won else 1.0) and h.after[C.X_FINAL_TERMS] == (1.0 if won else 0.0)
        assert h.after[C.X_INADVERTENT] == float(self.last_misread[s])
        # docs "The ally": "a war the challenger starts is an attack too" (on the ally; X_C_FORCE, the cell's
        # 'attacked'); a war the defender starts attacks nobody
        attack = st[C.X_C_FORCE] > 0 or (self.ally and s == CHALLENGER)
        assert h.after[C.X_C_FORCE] == float(attack), (s, st[C.X_C_FORCE], h.after[C.X_C_FORCE])
        self.tally.add("war lottery")
        if self.ally and s == CHALLENGER:
            self.tally.add("challenger's war: an attack")

    def incident_menu(self, s, h, key, ctr):
        """"the other moves on its menu": the response rule's menu after an escalation (an incident is perceived as
        one). The defender: war, yield, escalate under immediate deterrence, tit for tat and generous tit for tat
        (whose generous draw is for answers, not incidents), plus offers with no rule or reciprocal concessions."""
        if s == CHALLENGER:
            return self.menu(s, h, key, ctr, 0)[0]  # after an incident the challenger has no standing offer
        W, Y, E, OF = ref.WAR, ref.YIELD, ref.ESCALATE, ref.OFFER
        if self.response in (RESPONSE_CODE["none"], RESPONSE_CODE["reciprocal_concessions"]):
            return {W, Y, E, OF}
        return {W, Y, E}

    def incident_check(self, s, h, key, ctr, row):
        # variant "incident menu free" gives the defender the free menu whatever its rule (must fail)
        menu = self.incident_menu(s, h, key, ctr)
        if self.variant == "incident menu free" and s == DEFENDER:  # the old (wrong) reading: must fail
            menu = {ref.WAR, ref.YIELD, ref.ESCALATE, ref.OFFER}
        sit = self.situation(s, h, menu)
        ev = ref.evaluate(self.P, sit, self.belief[s]).ev
        war, ev[ref.WAR] = ev[ref.WAR], None
        if all(v is None for v in ev):
            # AMBIGUOUS (issue 12): nothing but war left (a defender with no exit facing limited force): it fights
            p_war = 1.0
            self.tally.add("incident, no exit")
        else:
            x = self.P["decision.precision"] * (war - ref.logit_value(self.P["decision.precision"], ev))
            p_war = 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0
        assert abs(row.value - p_war) <= 1e-12, (row.value, p_war)
        u = ref.uniform_at(key, ctr + 2)
        if abs(u - p_war) > BOUNDARY:
            assert row.event == ("war" if u < p_war else "incident")
            self.tally.add("incident check")
            if u < p_war:
                self.war_lottery(s, h, key, ctr + 3)

    def opportunity(self, h, key, ctr, row):
        s = CHALLENGER
        st = h.before
        demand, values = ref.screening_demand(self.P, self.type[s], st[C.X_TERMS], fld(st, s, C.S_READINESS),
                                              self.belief[s], effort=self.effort())
        menu = {ref.WAIT, ref.WAR} | ({ref.ESCALATE} if demand >= 0 else set())
        sit = self.situation(s, h, menu)
        sit.demand = demand
        e = ref.evaluate(self.P, sit, self.belief[s])
        move = self.choice(e.ev, ref.uniform_at(key, ctr + 1))
        if move is None:
            self.tally.add("boundary")
            return
        self.tally.add(f"opportunity {move}")
        assert row.event == {ref.WAIT: "wait", ref.WAR: "war", ref.ESCALATE: "challenge"}[move], (row.event, move, e.ev)
        if move == ref.ESCALATE:
            ties = [x for x, v in values.items() if abs(v - values[demand]) <= ATOL]
            assert any(abs(row.value - x) <= ATOL for x in ties), (row.value, values)
        if move == ref.WAIT:  # the trace's value of a wait is its probability (a probability: 1e-12)
            p_wait = ref.logit(self.P["decision.precision"], e.ev)[ref.WAIT]
            assert abs(row.value - p_wait) <= 1e-12, (h.now, row.value, p_wait)
            self.tally.add("wait probability")
        if move == ref.WAR:
            self.war_lottery(s, h, key, ctr + 2)

    # --- the replay ------------------------------------------------------------------------------------
    def run(self):
        trace = self.result.trace
        P = self.P
        for h in self.crisis.handled:
            s, role = divmod(h.actor, 3)
            if s == C.ALLY or role != C.LEADER:
                continue
            kind = int(h.msg[C.M_KIND])
            open_crisis = h.before[C.X_OUTCOME] == C.NO_OUTCOME and h.before[C.X_CHALLENGE_TIME] >= 0
            if kind == C.MK_RENEW and s == DEFENDER and open_crisis and self.ally and P["mix.public_statement"] > 0:
                # "a public statement of support sent during a crisis" commits the defender; issue 12: it is sent
                # with probability A_SEND[z][public statement] (the first renewable instrument: the handler's
                # first draw), z the defender's commitment now
                z = self.chain.at(h.now)
                u = ref.uniform_at(self.keys[3 * DEFENDER], int(h.counters[3 * DEFENDER]) + 1)
                if u < self.ref_tables.a_send[z][ref.PUBLIC_STATEMENT]:
                    self.statement_committed = True
                    self.tally.add("statement sent in a crisis")
                else:
                    self.tally.add("statement withheld in a crisis")
                assert h.after[C.X_STATEMENT] == float(self.statement_committed)
            if kind == C.MK_PROVOKE:
                # docs "The ally": the provocation acts "when [it] reaches the challenger" (also after an outcome)
                assert s == CHALLENGER and self.ally
                if self.provoked < 0:
                    self.provoked = h.now
                assert h.after[C.X_PROVOKED] == self.provoked
                self.tally.add("provocation arrived" + (" in a crisis" if open_crisis else ""))
                continue
            if h.before[C.X_OUTCOME] != C.NO_OUTCOME:
                continue
            key, ctr = self.keys[3 * s], int(h.counters[3 * s])
            row = trace.iloc[h.row]
            if kind == C.MK_START:
                self.reports(s, key, ctr)
            elif kind == C.MK_TRANSFER and s == CHALLENGER:
                if self.attribution:  # every GRIT transfer is marked forced
                    self.update(s, list(self.T["transfer"]))
                    self.tally.add("transfer")
                else:
                    self.tally.add("forced ignored")
            elif kind == C.MK_OPPORTUNITY and s == CHALLENGER and h.before[C.X_CHALLENGE_TIME] < 0:
                if self.decisions:
                    self.opportunity(h, key, ctr, row)
                if h.after[C.X_CHALLENGE_TIME] >= 0:  # "A crisis opened after a provocation has arrived"
                    assert h.after[C.X_ALLY_OPENED] == float(self.provoked >= 0), (h.now, self.provoked)
                    if self.ally and h.before[C.X_ALLY_RISK] >= 0:
                        self.tally.add("opened by the ally" if self.provoked >= 0 else "opened with a provocation on its way")
            elif kind == C.MK_SIGNAL and not (int(h.msg[C.M_FLAGS]) & C.F_OBSERVED):
                perceived = self.perceive(s, h, key, ctr, row)
                if perceived is None:
                    continue
                if row.event == "escalate" or (row.event == "war" and not row.incident):
                    assert abs(row.value - (self.belief[s][2] + self.belief[s][3])) < ATOL  # P(greedy) in the trace
                if self.decisions:
                    if int(h.msg[C.M_FLAGS]) & C.F_INCIDENT:
                        self.incident_check(s, h, key, ctr, row)
                    else:
                        self.decide(s, h, key, ctr, 1, row)
            else:
                continue
            for side in (CHALLENGER, DEFENDER):
                assert np.allclose(bel(h.after, side), self.belief[side], rtol=0, atol=ATOL), (
                    h.now, kind, side, bel(h.after, side), self.belief[side])
        return self


# --- the ally (issue 12) ---------------------------------------------------------------------------------------
ALLY_LEADER, ALLY_MILITARY = 3 * C.ALLY + C.LEADER, 3 * C.ALLY + C.MILITARY
DEFENDER_LEADER, CHALLENGER_LEADER = 3 * DEFENDER + C.LEADER, 3 * CHALLENGER + C.LEADER
CHALLENGER_AUDIENCE = 3 * CHALLENGER + C.AUDIENCE
TIME_TOL = 1e-9  # days: a delivery time recomputed as "sent + delay" (the same two floats added: exact in practice)


@dataclass
class Expected:
    """A message the replay expects: to ``actor`` at day ``due``, sent at ``sent``, carrying ``aux``."""

    actor: int
    kind: int
    sent: float
    due: float
    aux: float
    flags: int = 0
    seen: bool = False


class AllyTracker:
    """Independent replay of the ally and of the defender's reassurance in one recorded crisis (issue 12).

    * The defender's reassurance (its ``start`` and ``renew`` handlers): after the handler's earlier draws (a
      regime's reports, a GRIT transfer's delay), per instrument of its mix in the order tripwire, alliance
      terms, public statement, private statement, aid, exercises (renewals: from the public statement on): for
      a renewable instrument one uniform -- sent iff ``u < A_SEND[z][k]``, ``z`` the commitment now
      (``reference_model.CommitmentChain``) --, for the tripwire and alliance terms none (deployed or withheld at
      set-up, ``reference_model.deploy_standing``); then one delay ``delay_min + Exp(delay_mean)``. The ally
      must receive each at that time, flagged withheld if not sent; each instrument sent costs
      ``effects.cost_<k>`` (``X_REASSURANCE_COST``).
    * The ally's filter (belief that the defender is committed): from ``ally.p_committed`` at t = 0, predicted
      by the forward algorithm with ``expm(Q dt)`` (``reference_model.hmm_predict``), updated by Bayes' rule on
      each instrument received (``A_SEND[1][k]`` vs ``A_SEND[0][k]``) or withheld (1 - those), and once on the
      defender's conduct after the crisis outcome (``A_YIELD``: conceded, or stood firm). Checked against the
      trace ``value`` of ``support``, ``reassurance_withheld`` and review rows and the stored belief (1e-12).
    * Reviews (every ``ally.review_interval`` days): the values of ``reference_model.ally_review_values``, the
      logit rule (precision ``ally.precision``), the ally's own uniform (stream 6); the event must be the one
      the choice implies (hedge_start / review / provoke / hedge_stop / stay). Taking risks (once, before an
      outcome): one delay from stream 6; the provocation must reach the challenger's leader and its audience
      then, and acts from that day (``X_PROVOKED``; ``X_ALLY_RISK`` is the day of the decision).
    * The programme (stream 8): on an order, its maturation ``Exp(programme_time)`` and its detection
      ``Exp(1 / detection_rate)``; the ``hedge_done`` and ``detect`` messages must arrive then; it proliferates,
      or is detected, only if it still runs.

    Taken from the engine: the crisis outcome and whether a crisis is open (the crisis leaders, replayed by
    ``Tracker``), the challenger's levels the ally's audience passes on, the message rows and stream counters.
    """

    def __init__(self, crisis, result, P: ref.Params, tally=None, variant=""):
        self.crisis, self.result, self.P = crisis, result, P
        self.tally = tally if tally is not None else Tally()
        self.variant = variant
        self.keys = ref.stream_keys(crisis.seed, crisis.replication)
        self.T = reference_tables(P)
        self.chain = ref.CommitmentChain(P, self.keys[ref.STREAM_COMMITMENT])
        self.lapse, self.recommit = P["ally.lapse_rate"], P["ally.recommit_rate"]
        self.b, self.t = P["ally.p_committed"], 0.0
        self.fear = 0.0
        self.hedging = False
        self.programme = 0
        self.proliferated = False
        self.started = False
        self.risk_day = -1.0  # the day the ally decided to take risks
        self.provoked = -1.0  # the day its provocation reached the challenger's leader
        self.detected = -1.0
        self.conduct_seen = False
        self.cost = 0.0
        self.expected: list[Expected] = []
        self.beliefs: list = []  # (day, belief after the message, event)
        self.instruments = [k for k in range(ref.N_INSTRUMENTS) if P["mix." + ref.INSTRUMENT_NAMES[k]] > 0]
        self.deployed, n_k3 = ref.deploy_standing(P, self.keys[DEFENDER_LEADER], self.chain.state, self.T.a_send)
        if variant == "standing sent at start":  # the old rule: a send draw at the defender's start (must fail)
            self.deployed, n_k3 = None, 0
        self.setup_draws = n_k3

    # --- the filter ------------------------------------------------------------------------------------------
    def belief_now(self, now):
        if self.variant == "no lapse in the filter":
            return self.b
        return ref.hmm_predict(self.b, self.lapse, self.recommit, now - self.t)

    def store(self, b, now):
        self.b, self.t = b, now

    def check_belief(self, h, row, b, event):
        i = C.GLOBAL_FIELDS + C.ALLY * C.STATE_FIELDS + C.S_CONFIDENCE
        assert abs(h.after[i] - b) <= ATOL, (h.now, event, h.after[i], b)
        assert abs(row.value - b) <= ATOL, (h.now, event, row.value, b)
        self.beliefs.append((h.now, b, event))

    # --- the defender's reassurance ------------------------------------------------------------------------------
    def reassure(self, h, renewal):
        P = self.P
        key, ctr = self.keys[DEFENDER_LEADER], int(h.counters[DEFENDER_LEADER])
        if not renewal and self.deployed is not None:  # set-up's draws K3 are the stream's first
            assert ctr == self.setup_draws, (ctr, self.setup_draws)
        if not renewal:  # the start handler draws first for a regime's reports and a GRIT transfer's delay
            if P["mix.limited_security_regime"] > 0:
                ctr += 2
            if P["mix.grit"] > 0 and P["defender.grit_steps"] > 0 and P["channel.delay_mean"] > 0:
                ctr += 1
        z = self.chain.at(h.now)
        for k in self.instruments:
            if renewal and k < ref.PUBLIC_STATEMENT:
                continue
            if k in (ref.TRIPWIRE, ref.ALLIANCE_TERMS) and self.deployed is not None:
                sent = k in self.deployed  # decided at set-up: no draw now
            else:
                ctr += 1
                p_send = self.T.a_send[z][k]
                if self.variant == "always sent":
                    p_send = 1.0
                sent = ref.uniform_at(key, ctr) < p_send
            d = P["channel.delay_min"]
            if P["channel.delay_mean"] > 0:
                ctr += 1
                d = d + ref.exponential_at(key, ctr, P["channel.delay_mean"])
            if sent:
                self.cost += P[ref.COST_KEYS[k]]
            self.expected.append(Expected(ALLY_LEADER, C.MK_SUPPORT, h.now, h.now + d, float(k),
                                          0 if sent else C.F_WITHHELD))
            self.tally.add(f"{'sent' if sent else 'withheld'} {ref.INSTRUMENT_NAMES[k]} ({'' if z else 'un'}committed)")

    def arrived(self, h):
        """Match a delivery the replay expects (kind, sender's day, aux) and check its day and flags."""
        kind, aux, sent = int(h.msg[C.M_KIND]), float(h.msg[C.M_AUX]), float(h.msg[C.M_SENT])
        for e in self.expected:
            if not e.seen and e.actor == h.actor and e.kind == kind and e.aux == aux and e.sent == sent:
                e.seen = True
                assert abs(h.now - e.due) <= TIME_TOL, (kind, h.now, e.due)
                if kind == C.MK_SUPPORT:
                    assert (int(h.msg[C.M_FLAGS]) & C.F_WITHHELD) == e.flags
                if kind == C.MK_SIGNAL:
                    assert int(h.msg[C.M_FLAGS]) == e.flags and h.msg[C.M_LEVEL] == C.THREAT
                return
        raise AssertionError(f"unexpected message {kind} to {h.actor} at {h.now} (aux {aux}, sent {sent})")

    # --- the ally's leader ------------------------------------------------------------------------------------------
    def conduct(self, h):
        st = h.before
        if self.conduct_seen or st[C.X_OUTCOME] == C.NO_OUTCOME or st[C.X_CHALLENGE_TIME] < 0:
            return
        self.conduct_seen = True
        b = self.belief_now(h.now)
        y0, y1 = self.T.a_yield
        if st[C.X_OUTCOME] == C.DEFENDER_CONCEDES:
            b = ref.hmm_update(b, y1, y0)
            self.tally.add("conduct: conceded")
        else:
            b = ref.hmm_update(b, 1.0 - y1, 1.0 - y0)
            self.tally.add("conduct: stood firm")
        self.store(b, h.now)
        assert h.after[C.X_CONDUCT_SEEN] == 1.0

    def review(self, h, row):
        P = self.P
        st = h.before
        b = self.belief_now(h.now)
        self.store(b, h.now)
        crisis_open = st[C.X_OUTCOME] == C.NO_OUTCOME and st[C.X_CHALLENGE_TIME] >= 0
        crisis_over = st[C.X_OUTCOME] != C.NO_OUTCOME
        a = ref.ally_attack_risk(P, crisis_open, self.fear)
        can_risk = P["ally.risk_taking"] > 0 and self.risk_day < 0 and not crisis_over
        values = ref.ally_review_values(P, b, a, not self.proliferated, can_risk)
        probs = ref.logit(P["ally.precision"], values)
        u = ref.uniform_at(self.keys[ALLY_LEADER], int(h.counters[ALLY_LEADER]) + 1)
        acc, choice = 0.0, None
        for i, pr in enumerate(probs):
            if pr <= 0:
                continue
            acc += pr
            if abs(u - acc) < BOUNDARY:  # rounding could go either way: follow the engine (counted)
                self.tally.add("boundary")
                choice = {"hedge_start": 1, "review": 1, "provoke": 2}.get(row.event, 0)
                break
            if u < acc:
                choice = i
                break
        if choice is None:
            choice = max(i for i, pr in enumerate(probs) if pr > 0)
        if choice == 1:
            event = "review" if self.hedging else "hedge_start"
            if not self.hedging:
                self.hedging, self.started = True, True
                self.programme += 1
        elif choice == 2:
            event = "provoke"
            self.risk_day = h.now
            # "When the provocation reaches the challenger (after a channel delay)": Y2, one delay from stream 6
            d = P["channel.delay_min"] + ref.exponential_at(self.keys[ALLY_LEADER], int(h.counters[ALLY_LEADER]) + 2,
                                                             P["channel.delay_mean"]) if P["channel.delay_mean"] > 0 \
                else P["channel.delay_min"]
            self.expected.append(Expected(CHALLENGER_LEADER, C.MK_PROVOKE, h.now, h.now + d, 0.0))
            self.expected.append(Expected(CHALLENGER_AUDIENCE, C.MK_SIGNAL, h.now, h.now + d, 0.0, C.F_OBSERVED))
        else:
            event = "hedge_stop" if self.hedging else "stay"
            self.hedging = False
        self.tally.add(f"review: {event}")
        assert row.event == event, (h.now, row.event, event, values, probs, u)
        self.check_belief(h, row, b, "review")
        self.expected.append(Expected(ALLY_LEADER, C.MK_REVIEW, h.now, h.now + P["ally.review_interval"], 0.0))
        return True

    def ally_leader(self, h, row):
        self.conduct(h)
        kind = int(h.msg[C.M_KIND])
        if kind == C.MK_START:
            self.expected.append(Expected(ALLY_LEADER, C.MK_REVIEW, h.now, h.now + self.P["ally.review_interval"], 0.0))
        elif kind == C.MK_SUPPORT:
            self.arrived(h)
            k = int(h.msg[C.M_AUX])
            s1, s0 = self.T.a_send[1][k], self.T.a_send[0][k]
            b = self.belief_now(h.now)
            withheld = bool(int(h.msg[C.M_FLAGS]) & C.F_WITHHELD)
            b = ref.hmm_update(b, 1.0 - s1, 1.0 - s0) if withheld else ref.hmm_update(b, s1, s0)
            self.store(b, h.now)
            event = "reassurance_withheld" if withheld else "support"
            assert row.event == event and row.level == k
            self.check_belief(h, row, b, event)
        elif kind == C.MK_PRESSURE:
            self.fear = max(self.fear, float(h.msg[C.M_AUX]))
            assert h.after[C.GLOBAL_FIELDS + C.ALLY * C.STATE_FIELDS + C.S_ADV_LEVEL] == self.fear
        elif kind == C.MK_REVIEW:
            self.arrived(h)
            self.review(h, row)
        else:
            raise AssertionError(f"the ally's leader got message kind {kind}")

    # --- the programme --------------------------------------------------------------------------------------------
    def ally_military(self, h, row):
        P = self.P
        kind = int(h.msg[C.M_KIND])
        prog = float(h.msg[C.M_AUX])
        if kind == C.MK_ORDER:
            key, ctr = self.keys[ALLY_MILITARY], int(h.counters[ALLY_MILITARY])
            mature = ref.exponential_at(key, ctr + 1, P["ally.programme_time"]) if P["ally.programme_time"] > 0 else 0.0
            self.expected.append(Expected(ALLY_MILITARY, C.MK_HEDGE_DONE, h.now, h.now + mature, prog))
            if P["ally.detection_rate"] > 0:
                detect = ref.exponential_at(key, ctr + 2, 1.0 / P["ally.detection_rate"])
                self.expected.append(Expected(CHALLENGER_LEADER, C.MK_DETECT, h.now, h.now + detect, prog))
            assert prog == float(self.programme)
            return
        assert kind == C.MK_HEDGE_DONE
        self.arrived(h)
        if self.hedging and prog == self.programme and not self.proliferated:
            self.proliferated = True
            assert row.event == "proliferate"
            self.tally.add("proliferated")
        else:
            assert row.event == "programme_shelved"
            self.tally.add("matured after shelving")

    def detect(self, h, row):
        self.arrived(h)
        if self.hedging and float(h.msg[C.M_AUX]) == self.programme and self.detected < 0:
            self.detected = h.now
            assert row.event == "programme_detected"
            self.tally.add("detected")
        else:
            self.tally.add("detection of a shelved programme ignored")

    # --- the replay --------------------------------------------------------------------------------------------------
    def run(self):
        trace = self.result.trace
        for h in self.crisis.handled:
            kind = int(h.msg[C.M_KIND])
            if h.actor == DEFENDER_LEADER and kind in (C.MK_START, C.MK_RENEW):
                self.reassure(h, renewal=kind == C.MK_RENEW)
            elif h.actor == ALLY_LEADER:
                self.ally_leader(h, trace.iloc[h.row])
            elif h.actor == ALLY_MILITARY:
                self.ally_military(h, trace.iloc[h.row])
            elif h.actor == CHALLENGER_LEADER and kind == C.MK_DETECT:
                self.detect(h, trace.iloc[h.row])
            elif h.actor == CHALLENGER_LEADER and kind == C.MK_PROVOKE:
                self.arrived(h)
                if self.provoked < 0:
                    self.provoked = h.now
                self.tally.add("provocation reached the challenger")
            elif h.actor == CHALLENGER_AUDIENCE and int(h.msg[C.M_SENDER]) == ALLY_LEADER:
                self.arrived(h)
        st = self.result.state
        horizon = self.P["crisis.horizon"]
        missing = [e for e in self.expected if not e.seen and e.due < horizon]
        assert not missing, missing[:3]
        assert abs(st[C.X_REASSURANCE_COST] - self.cost) <= ATOL * max(1.0, self.cost)
        assert st[C.X_PROGRAMME_STARTED] == float(self.started)
        assert st[C.X_PROLIFERATED] == float(self.proliferated)
        assert st[C.X_ALLY_RISK] == self.risk_day
        assert st[C.X_PROVOKED] == self.provoked
        assert st[C.X_DETECTED] == self.detected
        assert st[C.X_DEPLOYED] == deployed_bits(self.deployed or frozenset())
        challenged = st[C.X_CHALLENGE_TIME] >= 0
        assert st[C.X_ALLY_OPENED] == float(challenged and 0 <= self.provoked <= st[C.X_CHALLENGE_TIME])
        return self
