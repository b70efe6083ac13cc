"""An independent reference implementation of the decision layer, written from ``docs/model.md``.

Plain Python (no NumPy, no Numba), written to be read next to the sections
"Payoffs", "Decisions", "Beliefs and signals", "Moves, perception and war" and
"Random numbers" of ``docs/model.md``. It shares no code with
``escalation_sim.model`` except the *names* of the parameters (the keys of
``params.PARAM_INDEX``, used only to read a parameter vector).

The look-ahead is written as a memoised recursion over the nodes ``(rung,
mover)`` rather than as the compiled code's backward loop over arrays, the
logit rule as a plain normalised exponential, and the offer rule as a loop over
a ``dict`` of distinct candidates: the same mathematics, different code and a
different order of floating-point operations.

Where the document leaves a detail open, the code was consulted and the
choice is marked ``AMBIGUOUS:`` with the sentence of the document that left it
open. Where the document and the code *disagree*, the reference follows the
document and the test suite carries a strict ``xfail`` test (``DISCREPANCY:``
below).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# --- codes (docs/model.md, "States, actors and types" and "Decisions") -----------------
CHALLENGER, DEFENDER = 0, 1
DEMAND, THREAT, SHOW_OF_FORCE, MOBILIZATION, LIMITED_FORCE = 1, 2, 3, 4, 5
TOP = LIMITED_FORCE  # "The ladder ends at limited force (5)"
# "the first move, in the order war, yield, accept, escalate, offer, wait"
WAR, YIELD, ACCEPT, ESCALATE, OFFER, WAIT = range(6)
MOVES = (WAR, YIELD, ACCEPT, ESCALATE, OFFER, WAIT)
MIN_STEP = 0.01  # "a challenger's new demand in [q + 0.01, d - 0.01] ... (decision.MIN_STEP)"


def is_greedy(k: int) -> bool:
    """``type = 2 * greedy + resolved``."""
    return k >= 2


def is_resolved(k: int) -> bool:
    return k % 2 == 1


class Params:
    """Read-only view of a parameter vector by ``section.name`` (and ``mix.<name>``) keys."""

    def __init__(self, vector, index: dict[str, int]):
        self._v = [float(x) for x in vector]
        self._i = index

    def __getitem__(self, key: str) -> float:
        return self._v[self._i[key]]


# --- payoffs (docs/model.md, "Payoffs: the stake, war and peace") ------------------------
class Payoffs:
    def __init__(self, P: Params):
        self.P = P
        self.q0 = P["stake.status_quo"]
        self.g = P["intent.gain_weight"]
        self.F = P["intent.fear_loss"]
        self.lam = P["decision.precision"]

    # ref_C = stake.status_quo, ref_D = 1 - stake.status_quo
    def ref(self, side: int) -> float:
        return self.q0 if side == CHALLENGER else 1.0 - self.q0

    def u(self, side: int, k: int, x: float) -> float:
        """u(x) = x if greedy or x <= ref; ref + g (x - ref) for a security seeker above ref."""
        r = self.ref(side)
        if is_greedy(k) or x <= r:
            return x
        return r + self.g * (x - r)

    def u_inv(self, side: int, k: int, v: float) -> float:
        """The share whose utility is ``v``; +inf when no share reaches it (g = 0, v above ref).

        AMBIGUOUS: the document defines u but never its inverse; the inverse of the
        piecewise-linear u is unique when g > 0. For g = 0 the code returns +inf
        (the offer rule then clamps it), which is what we do.
        """
        r = self.ref(side)
        if is_greedy(k) or v <= r:
            return v
        if self.g <= 0.0:
            return math.inf
        return r + (v - r) / self.g

    def cost(self, side: int, k: int) -> float:
        name = "challenger" if side == CHALLENGER else "defender"
        return self.P[f"{name}.cost_resolved"] if is_resolved(k) else self.P[f"{name}.cost_unresolved"]

    def standing(self, side: int) -> float:
        """0, or effects.general_deterrence_readiness for a defender under general deterrence."""
        if side == DEFENDER and self.P["mix.general_deterrence"] > 0:
            return self.P["effects.general_deterrence_readiness"]
        return 0.0

    def readiness(self, side: int, level: float) -> float:
        """max(standing, (L - 1) / 4) for L >= 3, else the standing readiness."""
        if level >= 3:
            return max(self.standing(side), (level - 1.0) / 4.0)
        return self.standing(side)

    def pi_c(self, r_c: float, r_d: float, first: int, effort: float = 0.0) -> float:
        """S_C / (S_C + S_D); ``first`` = the side that strikes first, -1 for neither.

        With an ally the defender's side is stronger by the ally's own effort ``effort`` (docs "The ally": "S_D
        times 1 + effort"; :func:`ally_effort` of what was actually deployed, or of the mix in a receiver's model).
        """
        P = self.P
        s_c = P["war.balance"] * (1.0 + P["war.mobilization_gain"] * r_c)
        s_d = (1.0 - P["war.balance"]) * (1.0 + P["war.mobilization_gain"] * r_d) * (1.0 + effort)
        if first == CHALLENGER:
            s_c = s_c * (1.0 + P["war.first_strike"])
        if first == DEFENDER:
            s_d = s_d * (1.0 + P["war.first_strike"])
        return s_c / (s_c + s_d)

    def war(self, side: int, k: int, pi_c: float, v: float = 1.0) -> float:
        """v * pi_side * u(1) - cost_k; ``v`` is the side's value of the stake (1 but for an uncommitted
        defender of an ally, see ``Situation.stake_value``)."""
        pi = pi_c if side == CHALLENGER else 1.0 - pi_c
        return v * (pi * self.u(side, k, 1.0)) - self.cost(side, k)

    def peace(self, side: int, k: int, c_share: float, p_adv_greedy: float, v: float = 1.0) -> float:
        """v * u(its share) - F * P(adversary greedy); the challenger's share is ``c_share``."""
        share = c_share if side == CHALLENGER else 1.0 - c_share
        return v * self.u(side, k, share) - self.F * p_adv_greedy

    def mobilization(self, a: float, b: float) -> float:
        """mobilization_cost * (max(b, 2) - max(a, 2)) (never negative: rungs are climbed, not descended)."""
        return self.P["war.mobilization_cost"] * max(0.0, max(b, 2.0) - max(a, 2.0))

    def yield_cost(self, committed: float, pressure: float) -> float:
        """audience.cost if committed, plus the audience's current pressure.

        AMBIGUOUS: "EV(yield): ... minus the audience cost if committed and the current
        pressure" can be read as "(cost + pressure) if committed" or "(cost if committed)
        + pressure". The code charges the pressure whether or not the leader is committed;
        so do we.
        """
        return self.P["audience.cost"] * committed + pressure


def logit(lam: float, values: list) -> list:
    """P(m) = exp(lam EV(m)) / sum over the menu; ``None`` = off the menu (probability 0).

    The common factor exp(-lam * max) is divided out (mathematically the same rule;
    needed so that lam = 1e6 does not overflow).
    """
    on = [v for v in values if v is not None]
    top = max(on)
    w = [0.0 if v is None else math.exp(lam * (v - top)) for v in values]
    s = sum(w)
    return [x / s for x in w]


def logit_value(lam: float, values: list) -> float:
    """The logit-expected value sum P(m) EV(m) of a set of options."""
    probs = logit(lam, values)
    return sum(p * v for p, v in zip(probs, values, strict=True) if v is not None)


# --- the situation of a decision ------------------------------------------------------------
@dataclass
class Situation:
    """What a leader knows when it decides (docs/model.md, "The look-ahead" and "Offers")."""

    side: int
    type: int
    own: float  # its own level
    adv: float  # the adversary's perceived level
    q: float  # the challenger's status-quo share now
    demand: float  # the demand on the table (the challenger's share)
    adv_offer: float = -1.0  # the adversary's standing offer, -1 if none
    own_offer: float = -1.0  # the defender's own last offer, -1 if none
    need_own: float = 0.0  # the decider's costs of inaction now (challenger)
    need_adv: float = 0.0  # the adversary's costs of inaction as the decider models them
    adv_p_greedy: float = 0.0  # what the decider thinks the adversary believes about its greed
    committed: float = 0.0
    policy_own: float = 0.0
    policy_adv: float = 0.0
    pressure: float = 0.0
    ready_own: float = 0.0
    own_cap: float = 5.0
    adv_cap: float = 5.0
    menu: frozenset = field(default_factory=lambda: frozenset((WAR, YIELD, ESCALATE, OFFER)))
    yield_accepts: bool = False
    # issue 12 (the ally as a player; docs/model.md, "The ally")
    stake_value: float = 1.0  # the decider's value of the stake (an uncommitted defender of an ally: < 1)
    no_exit: float = 0.0  # 1: the defender cannot yield where the challenger holds limited force (a deployed tripwire)
    ally_effort: float = 0.0  # the ally's own effort in every war probability (``ally_effort`` of the deployment)


@dataclass
class Evaluation:
    ev: list  # EV per move (None: off the menu or impossible)
    best_offer: float  # -1 if no offer
    offer_candidates: dict  # terms -> value (to check near-ties)
    p_adv_greedy: float


class LookAhead:
    """Backward induction over the ladder for one decision (docs/model.md, "The look-ahead").

    ``node_adv(rung)``: the leader holds ``rung``, the adversary (one below) moves.
    ``node_me(rung)``: the adversary holds ``rung``, the leader (one below) moves.
    Each returns ``(mine, theirs)``: lists over the adversary's type ``j`` of the
    node's value to the leader and to the adversary's type ``j``.
    """

    def __init__(self, pay: Payoffs, sit: Situation, belief):
        self.pay, self.sit, self.b = pay, sit, list(belief)
        self.me, self.adv_side = sit.side, 1 - sit.side
        self.fear_me = self.b[2] + self.b[3]  # P(adversary greedy)
        # simplification 3: the adversary believes the leader greedy with probability adv_p_greedy
        self.fear_adv = sit.adv_p_greedy
        # AMBIGUOUS (issue 12): the decider's stake value v multiplies its utility of every share it may hold
        # (war's prize too); costs of war, fear, need, audience and mobilisation costs are not scaled, and the
        # modelled adversary values the stake at 1 (it does not know the decider's commitment). As in the code.
        self.v = sit.stake_value
        self._adv_nodes: dict = {}
        self._me_nodes: dict = {}

    # -- terminal payoffs --------------------------------------------------------------------
    def my_yield_base(self) -> float:
        """The leader yields (before audience costs): the status quo with costs of inaction for
        the challenger, the demand for the defender."""
        p, s = self.pay, self.sit
        if self.me == CHALLENGER:
            return self.v * p.u(CHALLENGER, s.type, s.q) - s.need_own - p.F * self.fear_me
        return p.peace(DEFENDER, s.type, s.demand, self.fear_me, self.v)

    def my_value_adv_yields(self) -> float:
        """The adversary yields: the defender concedes the demand / the challenger backs down."""
        p, s = self.pay, self.sit
        if self.me == CHALLENGER:
            return p.peace(CHALLENGER, s.type, s.demand, self.fear_me, self.v)
        return p.peace(DEFENDER, s.type, s.q, self.fear_me, self.v)

    def trapped_at(self, side: int, challenger_level: float) -> bool:
        """No exit (a tripwire in Schelling's strong form): the defender cannot yield where the challenger
        holds limited force."""
        return self.sit.no_exit > 0 and side == DEFENDER and challenger_level >= TOP

    def adv_yield_base(self, j: int) -> float:
        """The adversary's type j yields (no audience pressure; the challenger's modelled need)."""
        p, s = self.pay, self.sit
        if self.adv_side == CHALLENGER:
            return p.u(CHALLENGER, j, s.q) - s.need_adv - p.F * self.fear_adv
        return p.peace(DEFENDER, j, s.demand, self.fear_adv)

    def adv_value_i_yield(self, j: int) -> float:
        p, s = self.pay, self.sit
        if self.adv_side == CHALLENGER:
            return p.peace(CHALLENGER, j, s.demand, self.fear_adv)  # the defender (me) concedes
        return p.peace(DEFENDER, j, s.q, self.fear_adv)  # the challenger (me) backs down

    def pi_c_at(self, my_level: float, adv_level: float, first: int) -> float:
        """Win probability with readiness from the two levels ("readiness from the two levels")."""
        p = self.pay
        if self.me == CHALLENGER:
            return p.pi_c(p.readiness(CHALLENGER, my_level), p.readiness(DEFENDER, adv_level), first, self.sit.ally_effort)
        return p.pi_c(p.readiness(CHALLENGER, adv_level), p.readiness(DEFENDER, my_level), first, self.sit.ally_effort)

    # -- the nodes ------------------------------------------------------------------------
    def node_adv(self, rung: int):
        if rung in self._adv_nodes:
            return self._adv_nodes[rung]
        p, s = self.pay, self.sit
        my_level, adv_level = rung, rung - 1
        pi = self.pi_c_at(my_level, adv_level, self.adv_side)  # the adversary strikes first
        my_war = p.war(self.me, s.type, pi, self.v)
        my_if_yield = self.my_value_adv_yields()
        adv_trapped = self.trapped_at(self.adv_side, my_level)  # the leader (challenger) holds `rung`
        committed_adv = 1.0 if (s.policy_adv > 0 or adv_level >= THREAT) else 0.0
        can_up = rung < TOP and rung + 1 <= s.adv_cap
        if can_up:
            up_mine, up_theirs = self.node_me(rung + 1)
            up_cost = p.mobilization(adv_level, rung + 1)
        mine, theirs = [], []
        for j in range(4):
            w = p.war(self.adv_side, j, pi)
            # "feeling no audience pressure": the audience cost only, if committed
            y = None if adv_trapped else self.adv_yield_base(j) - p.P["audience.cost"] * committed_adv
            e = up_theirs[j] - up_cost if can_up else None
            pw, py, pe = logit(p.lam, [w, y, e])
            theirs.append(pw * w + (py * y if y is not None else 0.0) + (pe * e if can_up else 0.0))
            mine.append(pw * my_war + (py * my_if_yield if y is not None else 0.0) + (pe * up_mine[j] if can_up else 0.0))
        self._adv_nodes[rung] = (mine, theirs)
        return mine, theirs

    def node_me(self, rung: int):
        if rung in self._me_nodes:
            return self._me_nodes[rung]
        p, s = self.pay, self.sit
        my_level, adv_level = rung - 1, rung
        pi = self.pi_c_at(my_level, adv_level, self.me)  # the leader strikes first
        w = p.war(self.me, s.type, pi, self.v)
        committed = 1.0 if (s.policy_own > 0 or my_level >= THREAT) else 0.0
        # AMBIGUOUS: the document does not say which pressure a later yield of the leader
        # costs in the look-ahead; the code uses the current pressure at every node.
        y = self.my_yield_base() - p.yield_cost(committed, s.pressure)
        if self.trapped_at(self.me, adv_level):  # the adversary (challenger) holds `rung`
            y = None
        can_up = rung < TOP and rung + 1 <= s.own_cap
        if can_up:
            up_mine, up_theirs = self.node_adv(rung + 1)
            up_cost = p.mobilization(my_level, rung + 1)
            e = sum(self.b[j] * up_mine[j] for j in range(4)) - up_cost
        else:
            e = None
        # the leader does not know j: one set of choice probabilities for every j
        pw, py, pe = logit(p.lam, [w, y, e])
        mine, theirs = [], []
        for j in range(4):
            m = pw * w + (py * y if y is not None else 0.0)
            t = pw * p.war(self.adv_side, j, pi) + (py * self.adv_value_i_yield(j) if y is not None else 0.0)
            if can_up:
                m += pe * (up_mine[j] - up_cost)
                t += pe * up_theirs[j]
            mine.append(m)
            theirs.append(t)
        self._me_nodes[rung] = (mine, theirs)
        return mine, theirs

    # -- the root ------------------------------------------------------------------------------
    def evaluate(self) -> Evaluation:
        p, s = self.pay, self.sit
        ev = [None] * 6
        top = max(s.own, s.adv)
        if WAR in s.menu:
            # the leader strikes first, its actual readiness, the adversary's from its perceived level
            r_adv = p.readiness(self.adv_side, s.adv)
            if self.me == CHALLENGER:
                pi = p.pi_c(s.ready_own, r_adv, CHALLENGER, s.ally_effort)
            else:
                pi = p.pi_c(r_adv, s.ready_own, DEFENDER, s.ally_effort)
            ev[WAR] = p.war(self.me, s.type, pi, self.v)
        if WAIT in s.menu:
            ev[WAIT] = self.my_yield_base()  # the status quo with costs of inaction, no audience cost
        # no exit: a defender facing a challenger at limited force cannot yield; it can still accept a challenger's
        # offer (docs "The ally": "Under no exit the defender can still accept a challenger's offer (accepting is
        # not yielding)"; its "yield" after a perceived offer is that acceptance)
        if YIELD in s.menu and not (self.trapped_at(self.me, s.adv) and not s.yield_accepts):
            if s.yield_accepts:  # accepting a challenger offer is not yielding
                ev[YIELD] = self.my_yield_base()
            else:
                ev[YIELD] = self.my_yield_base() - p.yield_cost(s.committed, s.pressure)
        if ACCEPT in s.menu and s.adv_offer >= 0.0:
            ev[ACCEPT] = p.peace(self.me, s.type, s.adv_offer, self.fear_me, self.v)
        up = int(top) + 1
        if ESCALATE in s.menu and top < TOP and up <= s.own_cap:
            mine, _ = self.node_adv(up)
            ev[ESCALATE] = sum(self.b[j] * mine[j] for j in range(4)) - p.mobilization(s.own, up)
        best_offer, cands = -1.0, {}
        if OFFER in s.menu:
            best_offer, cands = self.best_offer(top)
            if best_offer >= 0.0:
                ev[OFFER] = cands[best_offer]
        return Evaluation(ev, best_offer, cands, self.fear_me)

    def best_offer(self, top: float):
        """docs/model.md, "Offers": candidates are the adversary types' reservation terms."""
        p, s = self.pay, self.sit
        if self.me == CHALLENGER:
            low, high = s.q + MIN_STEP, s.demand - MIN_STEP
        else:
            low, high = max(s.q, s.own_offer) + MIN_STEP, s.demand - MIN_STEP
        if not high >= low:
            return -1.0, {}
        # AMBIGUOUS: "the node where it answers" -- the document does not give its levels.
        # As in the code: the leader at its own level, the adversary at its perceived level;
        # escalating takes the adversary to the node (top + 1, leader moves) at the cost of
        # climbing from its level; it is committed by policy or at threat and above.
        pi = self.pi_c_at(s.own, s.adv, self.adv_side)  # the adversary would strike first
        my_war = p.war(self.me, s.type, pi, self.v)
        up = int(max(s.own, s.adv)) + 1
        can_up = max(s.own, s.adv) < TOP and up <= s.adv_cap
        if can_up:
            up_mine, up_theirs = self.node_me(up)
            up_cost = p.mobilization(s.adv, up)
        committed_adv = 1.0 if (s.policy_adv > 0 or s.adv >= THREAT) else 0.0
        options = []  # per j: (war, yield or None, escalate or None) values to the adversary
        cands: list[float] = []
        for j in range(4):
            w = p.war(self.adv_side, j, pi)
            if self.adv_side == CHALLENGER:  # "only a challenger can back down"
                y = p.u(CHALLENGER, j, s.q) - s.need_adv - p.F * self.fear_adv - p.P["audience.cost"] * committed_adv
            else:
                y = None
            e = up_theirs[j] - up_cost if can_up else None
            options.append((w, y, e))
            cont = logit_value(p.lam, [w, y, e])
            # accepting a share x is worth u(x) - F * fear: indifference at u(x) = cont + F * fear
            share = p.u_inv(self.adv_side, j, cont + p.F * self.fear_adv)
            terms = share if self.adv_side == CHALLENGER else 1.0 - share
            cands.append(min(max(terms, low), high))
        values: dict = {}
        for y_terms in cands:
            if y_terms in values:
                continue
            mine_accept = p.peace(self.me, s.type, y_terms, self.fear_me, self.v)
            total = 0.0
            for j in range(4):
                w, y, e = options[j]
                a = p.peace(self.adv_side, j, y_terms, self.fear_adv)
                pa, pw, py, pe = logit(p.lam, [a, w, y, e])
                v = pa * mine_accept + pw * my_war
                if y is not None:
                    v += py * p.peace(self.me, s.type, s.q, self.fear_me, self.v)  # the challenger backs down
                if e is not None:
                    v += pe * up_mine[j]
                total += self.b[j] * v
            values[y_terms] = total
        best = max(values, key=lambda t: values[t])
        return best, values


def evaluate(P: Params, sit: Situation, belief) -> Evaluation:
    """EV of every move on the menu at the root (None: off the menu), the best offer, its candidates."""
    return LookAhead(Payoffs(P), sit, belief).evaluate()


# --- the demand (docs/model.md, "The demand") --------------------------------------------------
def screening_demand(P: Params, k: int, q: float, ready_own: float, belief, fear_in_peace: bool = True,
                     effort: float = 0.0):
    """Return ``(demand or -1, {candidate: value})``.

    "for each defender type j, the largest demand x_j that j prefers to war (without first
    strike: u_D(1 - x_j) = war value); among the x_j above the status quo, the challenger
    picks the demand with the best expected value under its belief, counting a refusal as war."

    AMBIGUOUS: the readiness in that war. As in the code: the challenger's actual readiness,
    the defender's standing readiness; the ally's effort ``effort`` (that of the challenger's situation). A demand is capped at 1 (the whole stake). A type
    accepts when x <= x_j (with a 1e-12 tolerance so that equal limits computed twice agree).

    DISCREPANCY (``fear_in_peace``): "Every peaceful outcome ... costs a leader F times its
    belief that the adversary is greedy" ("Payoffs"), so an accepted demand is worth
    u_C(x) - F * P(defender greedy) to the challenger. The code values it at u_C(x). With
    ``fear_in_peace=False`` this function follows the code (used to check everything else).
    """
    pay = Payoffs(P)
    pi = pay.pi_c(ready_own, pay.standing(DEFENDER), -1, effort)
    limits = []
    for j in range(4):
        keep = pay.u_inv(DEFENDER, j, pay.war(DEFENDER, j, pi))
        limits.append(min(1.0, 1.0 - keep))
    fear = (belief[2] + belief[3]) if fear_in_peace else 0.0
    my_war = pay.war(CHALLENGER, k, pi)
    values: dict = {}
    for x in limits:
        if not x > q or x in values:
            continue
        accepted = pay.u(CHALLENGER, k, x) - pay.F * fear
        values[x] = sum(belief[j] * (accepted if x <= limits[j] + 1e-12 else my_war) for j in range(4))
    if not values:
        return -1.0, values
    best = max(values, key=lambda t: values[t])
    return best, values


# --- the receiver's model of the sender (docs/model.md, "Beliefs and signals") ------------------
def prior(p_greedy: float, p_resolved: float) -> list:
    """The product prior over ``type = 2 * greedy + resolved``."""
    return [
        (p_greedy if is_greedy(k) else 1.0 - p_greedy) * (p_resolved if is_resolved(k) else 1.0 - p_resolved)
        for k in range(4)
    ]


def side_prior(P: Params, side: int) -> list:
    name = "challenger" if side == CHALLENGER else "defender"
    return prior(P[f"{name}.p_greedy"], P[f"{name}.p_resolved"])


def deployed_by_policy(P: Params) -> frozenset:
    """The standing instruments (tripwire, alliance terms) the mix calls for; none without an ally.

    What a receiver's level-1 model of a sender assumes (the tables of "The receiver's model of the sender" are
    computed once per parameter vector, not per replication). AMBIGUOUS: docs/model.md does not say which posture
    the modelled sender has; the code (``signals._start_situation``: ``doctrine.deployed_by_policy``) takes the mix.
    """
    if P["ally.present"] <= 0:
        return frozenset()
    return frozenset(k for k in (TRIPWIRE, ALLIANCE_TERMS) if P["mix." + INSTRUMENT_NAMES[k]] > 0)


def policy_committed(P: Params, side: int, deployed: frozenset) -> float:
    """Committed by policy from t = 0: general deterrence, or a deployed tripwire or alliance terms ("Standing
    instruments are deployed or withheld at t = 0 ... one that is withheld has no effect at all (no commitment ...)")."""
    if side != DEFENDER:
        return 0.0
    if P["mix.general_deterrence"] > 0:
        return 1.0
    if P["ally.present"] > 0 and (TRIPWIRE in deployed or ALLIANCE_TERMS in deployed):
        return 1.0
    return 0.0


def cap(P: Params, side: int, force_seen: bool = False) -> float:
    """A self-restrained defender cannot climb above a threat until it has perceived force."""
    if side == DEFENDER and P["mix.self_restraint"] > 0 and not force_seen:
        return float(THREAT)
    return float(TOP)


def no_exit(P: Params, deployed: frozenset) -> float:
    """1 with an ally, a deployed tripwire and ``effects.tripwire_no_exit``: "once the challenger has used force,
    the defender cannot yield: 'no graceful way out'" (docs "The ally"); a withheld tripwire has no exit rule."""
    return 1.0 if (P["ally.present"] > 0 and TRIPWIRE in deployed and P["effects.tripwire_no_exit"] > 0) else 0.0


def ally_effort(P: Params, deployed: frozenset) -> float:
    """The ally's own defence effort in a war over it (docs "The ally"): ``ally.defence_effort``, cut by the share
    ``effects.tripwire_effort_cut`` if a tripwire force is deployed (free riding; a withheld one cuts nothing);
    0 without an ally."""
    if P["ally.present"] <= 0:
        return 0.0
    cut = P["effects.tripwire_effort_cut"] if TRIPWIRE in deployed else 0.0
    return P["ally.defence_effort"] * (1.0 - cut)


def start_situation(P: Params, side: int, k: int, own: float, adv: float, demand: float, menu) -> Situation:
    """A free sender at the start of a crisis, as its receiver models it.

    "at the start of a crisis -- original status quo, the challenger's prior demand, no
    pressure, no costs of inaction, the common prior about the receiver, a free menu"
    AMBIGUOUS: the sender's caps, commitment, readiness and what it thinks the receiver
    believes. As in the code: the sender may climb to 5, the receiver within its doctrine's
    cap; the sender is committed by policy or at threat and above; its readiness is that of
    its level; the receiver believes it greedy with its side's prior p_greedy (level 1); its
    standing instruments are those of the mix (``deployed_by_policy``).
    """
    name = "challenger" if side == CHALLENGER else "defender"
    deployed = deployed_by_policy(P)
    pol = policy_committed(P, side, deployed)
    return Situation(
        side=side, type=k, own=own, adv=adv, q=P["stake.status_quo"], demand=demand,
        adv_p_greedy=P[f"{name}.p_greedy"], committed=1.0 if (pol > 0 or own >= THREAT) else 0.0,
        policy_own=pol, policy_adv=policy_committed(P, 1 - side, deployed), ready_own=Payoffs(P).readiness(side, own),
        own_cap=float(TOP), adv_cap=cap(P, 1 - side), menu=frozenset(menu), stake_value=1.0,
        no_exit=no_exit(P, deployed), ally_effort=ally_effort(P, deployed),
    )


@dataclass
class Tables:
    demand0: list
    demand_bar: float
    challenge: list
    escalate: list  # [side][k][rung]
    offer: list
    transfer: list
    trust_benefit: list
    a_send: list  # [z][instrument]: P(the defender sends instrument k | committed z) (issue 12)
    a_yield: list  # [z]: P(the defender yields at its first answer to a challenge | z)


def tables(P: Params) -> Tables:
    """The likelihood tables of "The receiver's model of the sender" and "GRIT transfers"."""
    pay = Payoffs(P)
    lam = pay.lam
    q0 = P["stake.status_quo"]
    d_prior, c_prior = side_prior(P, DEFENDER), side_prior(P, CHALLENGER)
    free = (WAR, YIELD, ESCALATE, OFFER)
    # the challenger's demand at the prior, per type (at t = 0 its readiness is 0). The code's reading
    # of the screening rule (no fear term, see screening_demand) so that the tables' other entries are
    # checked independently of that discrepancy (an xfail test documents it).
    effort = ally_effort(P, deployed_by_policy(P))
    demand0 = [screening_demand(P, k, q0, 0.0, d_prior, fear_in_peace=True, effort=effort)[0] for k in range(4)]
    # AMBIGUOUS: "the challenger's prior demand" in the defender-side tables. As in the code:
    # its prior mean over the challenger's types, a type without a demand counting as q.
    bar = sum(c_prior[k] * (demand0[k] if demand0[k] >= 0 else q0) for k in range(4))
    challenge = []
    for k in range(4):
        if demand0[k] < 0:
            # DOC: "the challenger type's probability of challenging or striking"; a type with
            # no demand cannot challenge; the code puts 0 here (a strike is never *perceived*
            # as a challenge). Unreachable in practice: with q = q0 and readiness 0 the
            # defender limits do not depend on k, so either every type has a demand or none.
            challenge.append(0.0)
            continue
        # level 1: the modelled defender believes the challenger greedy with the challenger side's
        # prior (start_situation) -- the code uses the defender's prior here (xfail in test_beliefs.py)
        sit = start_situation(P, CHALLENGER, k, 0.0, 0.0, demand0[k], (WAIT, ESCALATE, WAR))
        probs = logit(lam, evaluate(P, sit, d_prior).ev)
        challenge.append(probs[ESCALATE] + probs[WAR])
    esc = [[[0.0] * (TOP + 1) for _ in range(4)] for _ in range(2)]
    off = [[[0.0] * (TOP + 1) for _ in range(4)] for _ in range(2)]
    for side in (CHALLENGER, DEFENDER):
        receiver_prior = side_prior(P, 1 - side)
        for k in range(4):
            demand = demand0[k] if side == CHALLENGER else bar
            if demand < 0:
                demand = q0
            for r in range(1, TOP + 1):
                sit = start_situation(P, side, k, r - 1.0, float(r), demand, free)
                probs = logit(lam, evaluate(P, sit, receiver_prior).ev)
                esc[side][k][r] = probs[ESCALATE]
                off[side][k][r] = probs[OFFER]
    transfer, benefit = [], []
    tau = P["defender.grit_transfer"]
    for k in range(4):
        # B_k: the gain in the defender type's logit-expected value of answering a challenge
        # when the challenger's belief that it is greedy falls from the prior to 0
        sit = start_situation(P, DEFENDER, k, 0.0, 1.0, bar, free)
        v_prior = logit_value(lam, evaluate(P, sit, c_prior).ev)
        sit.adv_p_greedy = 0.0
        v_trusted = logit_value(lam, evaluate(P, sit, c_prior).ev)
        b = v_trusted - v_prior
        benefit.append(b)
        c = tau if is_greedy(k) else pay.g * tau
        x = lam * (b - c)
        transfer.append(1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0)
    a_send = [[send_probability(P, z, k) for k in range(N_INSTRUMENTS)] for z in (0, 1)]
    a_yield = []
    for z in (0, 1):
        # the ally's model of the defender's conduct (docs "The ally": "the probability a defender of commitment z
        # yields at its first answer to a challenge (the look-ahead at the prior, averaged over the defender's
        # types)"): the start situation of the tables above, free menu, valuing the stake at 1 if committed, at
        # ally.uncommitted_value if not. AMBIGUOUS: the situation's details, read from signals.derive.
        total = 0.0
        for k in range(4):
            sit = start_situation(P, DEFENDER, k, 0.0, 1.0, bar, free)
            sit.stake_value = 1.0 if z == 1 else P["ally.uncommitted_value"]
            total += d_prior[k] * logit(lam, evaluate(P, sit, c_prior).ev)[YIELD]
        a_yield.append(total)
    return Tables(demand0, bar, challenge, esc, off, transfer, benefit, a_send, a_yield)


# --- the ally's model of its defender (issue 12) -----------------------------------------------------------------
TRIPWIRE, ALLIANCE_TERMS, PUBLIC_STATEMENT, PRIVATE_STATEMENT, AID, EXERCISES = range(6)
N_INSTRUMENTS = 6
INSTRUMENT_NAMES = ("tripwire", "alliance_terms", "public_statement", "private_statement", "aid", "exercises")
COST_KEYS = ("effects.cost_tripwire", "effects.cost_terms", "effects.cost_public_statement",
             "effects.cost_private_statement", "effects.cost_aid", "effects.cost_exercises")


def send_probability(P: Params, z: int, k: int) -> float:
    """Issue 12: "instruments are signals whose informativeness follows their cost to an uncommitted defender ...
    public statements also engage the defender's audience costs".

    A logit choice (precision ``decision.precision``) between sending, worth the value of a reassured ally
    (``ally.reassurance_value``, times ``ally.uncommitted_value`` if not committed) minus the instrument's cost
    (plus ``audience.cost`` for an uncommitted defender's public statement), and not sending, worth 0.
    """
    v = P["ally.reassurance_value"] * (1.0 if z == 1 else P["ally.uncommitted_value"])
    cost = P[COST_KEYS[k]] + (P["audience.cost"] if (k == PUBLIC_STATEMENT and z == 0) else 0.0)
    x = P["decision.precision"] * (v - cost)
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


# --- Bayes' rule, motivated bias, reports ----------------------------------------------------------
def bayes(belief, lik, bias: float = 0.0):
    """posterior(j) = b(j) L(j) / sum_i b(i) L(i); unchanged if the total is 0.

    Motivated bias: "when an update would raise its belief in a resolved defender, it moves only
    1 - b of the way from its prior to the Bayesian posterior".
    """
    total = sum(b * lk for b, lk in zip(belief, lik, strict=True))
    if not total > 0:
        return list(belief)
    post = [b * lk / total for b, lk in zip(belief, lik, strict=True)]
    if bias > 0 and post[1] + post[3] > belief[1] + belief[3]:
        post = [b + (1.0 - bias) * (x - b) for b, x in zip(belief, post, strict=True)]
    return post


def report(belief, dim: int, reported: int, accuracy: float):
    """Types matching the report are multiplied by a, the others by 1 - a (then normalised).

    ``dim`` 0 = resolve (bit 0 of the type), 1 = intention (bit 1).
    """
    w = [accuracy if ((k >> dim) & 1) == reported else 1.0 - accuracy for k in range(4)]
    total = sum(b * x for b, x in zip(belief, w, strict=True))
    if not total > 0:
        return list(belief)
    return [b * x / total for b, x in zip(belief, w, strict=True)]


# --- random numbers (docs/model.md, "Random numbers") ------------------------------------------------
MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
SALT = 0x5EED0F5C1A55E5


def mix64(z: int) -> int:
    z &= MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


STREAM_COMMITMENT = 10  # "stream 10 the defender's commitment to its ally"
STREAM_DEFENDER_LEADER = 3  # "stream 0..8 belongs to the actor with that index" (actor = 3 * side + role)


def stream_keys(seed: int, replication: int, n: int = 11) -> list:
    k = mix64(seed ^ SALT)
    base = mix64(k + (replication + 1) * GOLDEN)
    return [mix64(base ^ mix64((s + 1) * GOLDEN)) for s in range(n)]


def uniform_at(key: int, counter: int) -> float:
    """The ``counter``-th uniform of a stream (counters start at 1)."""
    x = mix64(key + counter * GOLDEN)
    return (x >> 11) * 2.0**-53


def exponential_at(key: int, counter: int, mean: float) -> float:
    """"-mean * log1p(-uniform)" (the draw at ``counter``)."""
    return -mean * math.log1p(-uniform_at(key, counter))


# --- the ally (docs/model.md, "The ally"; issue 12) ---
COMMITTED, UNCOMMITTED = 1, 0


class CommitmentChain:
    """The defender's hidden commitment to its ally: a two-state continuous-time Markov chain.

    Committed at t = 0 with probability ``ally.p_committed`` (one uniform of stream 10); it then lapses at
    rate ``ally.lapse_rate`` and recommits at ``ally.recommit_rate``. Sojourns are exponential draws of
    stream 10 in the order of the path (a rate of 0: the chain stays, no draw). Generated here forward, one
    switch at a time, from the stream alone; ``at(t)`` is the state at day ``t`` (a switch due at ``t`` has
    happened), queried at non-decreasing times.
    """

    def __init__(self, P: Params, key: int):
        self.key, self.counter = key, 0
        self.rates = {COMMITTED: P["ally.lapse_rate"], UNCOMMITTED: P["ally.recommit_rate"]}
        self.counter += 1
        self.state = COMMITTED if uniform_at(key, self.counter) < P["ally.p_committed"] else UNCOMMITTED
        self.switches: list = []  # days of the switches made so far
        self.next = self._sojourn()

    def _sojourn(self) -> float:
        rate = self.rates[self.state]
        if rate <= 0.0:
            return math.inf
        self.counter += 1
        return exponential_at(self.key, self.counter, 1.0 / rate)

    def at(self, t: float) -> int:
        while self.next <= t:
            self.switches.append(self.next)
            self.state = 1 - self.state
            self.next = self.next + self._sojourn()
        return self.state


def hmm_transition(lapse: float, recommit: float, dt: float, method: str = "eig"):
    """The commitment chain's transition matrix over ``dt`` days, ``expm(Q dt)``, states (uncommitted, committed),
    generator ``Q = [[-recommit, recommit], [lapse, -lapse]]``.

    ``method="expm"``: scipy's Pade matrix exponential; ``"eig"``: numpy's eigendecomposition of ``Q dt``
    (``V diag(exp(d)) V^-1``; ten times faster, for the replays). Neither is the code's closed form.
    """
    import numpy as np

    q = np.array([[-recommit * dt, recommit * dt], [lapse * dt, -lapse * dt]])
    if method == "expm":
        from scipy.linalg import expm

        return expm(q)
    d, v = np.linalg.eig(q)
    return (v * np.exp(d)) @ np.linalg.inv(v)


def hmm_predict(b: float, lapse: float, recommit: float, dt: float, method: str = "eig") -> float:
    """Forward-algorithm prediction of the ally's filter: ``alpha(t + dt) = alpha(t) expm(Q dt)`` (normalised)."""
    m = hmm_transition(lapse, recommit, dt, method)
    a0 = (1.0 - b) * m[0][0] + b * m[1][0]
    a1 = (1.0 - b) * m[0][1] + b * m[1][1]
    return float(a1 / (a0 + a1))


def hmm_update(b: float, like_committed: float, like_uncommitted: float) -> float:
    """Bayes' rule on the two states (unchanged if the evidence is impossible under both)."""
    total = b * like_committed + (1.0 - b) * like_uncommitted
    if not total > 0.0:
        return b
    return b * like_committed / total


def ally_attack_risk(P: Params, crisis_open: bool, fear_level: float) -> float:
    """``ally.threat`` a year; in an open crisis ``threat + (1 - threat) * L / 5`` for the highest challenger
    level ``L`` the ally has seen."""
    a = P["ally.threat"]
    return a + (1.0 - a) * fear_level / 5.0 if crisis_open else a


def ally_review_values(P: Params, b: float, a: float, can_hedge: bool, can_risk: bool) -> list:
    """The ally's values of stay, hedge, take risks over the next year (None: not available).

    stay ``-e a (1 - b)``; hedge ``-c - e a (1 - b) (1 - protection)``; take risks ``b g - (1 - b) e a'`` with
    ``a' = a + (1 - a) provocation_attack`` (rules.ally_review's docstring).
    """
    e = P["ally.exposure"]
    stay = -e * a * (1.0 - b)
    hedge = -P["ally.programme_cost"] - e * a * (1.0 - b) * (1.0 - P["ally.protection"]) if can_hedge else None
    a_risk = a + (1.0 - a) * P["ally.provocation_attack"]
    risk = b * P["ally.risk_gain"] - (1.0 - b) * e * a_risk if can_risk else None
    return [stay, hedge, risk]


def deploy_standing(P: Params, key: int, z: int, a_send) -> tuple:
    """Draw K3 ("Random numbers"): at set-up, "deploy or withhold the tripwire, then alliance terms | stream 3 |
    uniform each; deployed iff u < A_SEND[z][k] | ally, instrument in the mix", ``z`` the initial commitment.

    ``key`` is the defender leader's stream key; nothing draws from that stream before set-up, so the draws are
    its first (counters 1, 2). Returns ``(deployed instruments, number of draws)``.
    """
    if P["ally.present"] <= 0:
        return frozenset(), 0
    deployed, n = set(), 0
    for k in (TRIPWIRE, ALLIANCE_TERMS):
        if P["mix." + INSTRUMENT_NAMES[k]] <= 0:
            continue
        n += 1
        if uniform_at(key, n) < a_send[z][k]:
            deployed.add(k)
    return frozenset(deployed), n
