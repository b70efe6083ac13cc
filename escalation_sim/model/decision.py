"""The decision layer: payoffs over a divisible stake, a look-ahead, logit choice.

Both engines call these compiled functions (through
:mod:`escalation_sim.model.rules`); ``docs/model.md`` ("Decisions") states
every formula in words.

Payoffs (Fearon 1995; Powell 1999; Kydd 2005)
    The dispute is over a stake worth 1. The challenger holds ``q`` under the
    status quo, the defender ``1 - q``. A *security seeker* values each unit
    beyond its status-quo share at ``intent.gain_weight`` (a greedy type at 1).
    War gives the challenger the whole stake with probability ``pi`` (strength
    depends on mobilised readiness and on who strikes first) and costs each
    side its private cost of war. Every peaceful outcome costs a leader
    ``intent.fear_loss`` times its belief that the adversary is greedy (the
    spiral: a greedy adversary left standing will exploit it later). A leader
    that yields after committing itself publicly pays an audience cost, plus
    its audience's current pressure (Fearon 1994). A need-driven challenger's
    value of leaving the status quo unchanged declines at
    ``challenger.need_rate`` per day (its costs of inaction; Lebow & Stein).

Look-ahead (bounded rationality)
    A leader values each move by backward induction over the rest of the
    escalation ladder: each later move is war, yielding or one rung up, until
    limited force (rung 5), where only war or yielding remain. The other side's
    choices are logit choices of each of its types; the leader's own later
    choices are logit choices under its current belief (it does not anticipate
    learning: beliefs are held fixed in the look-ahead). Offers are valued one
    step ahead: the adversary's types accept by the same logit rule.

Choice (McKelvey & Palfrey 1995; Signorino 1999)
    ``P(move) = exp(lambda * EV(move)) / sum exp(lambda * EV)`` with precision
    ``decision.precision``: 0 is a uniform choice, large is a best response.

Every function takes arrays in and fills arrays out; the *situation* of a
decision is a small float vector (``SIT_*`` fields) filled by the caller.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .constants import (
    CHALLENGER,
    DEFENDER,
    MV_ACCEPT,
    MV_ESCALATE,
    MV_OFFER,
    MV_WAIT,
    MV_WAR,
    MV_YIELD,
    N_MOVES,
    N_TYPES,
    THREAT,
    TOP_RUNG,
)
from .doctrine import standing_readiness_of
from .params import PARAM_INDEX as _I

# --- parameter positions ---------------------------------------------------------
Q0 = _I["stake.status_quo"]
BALANCE = _I["war.balance"]
MOB_GAIN = _I["war.mobilization_gain"]
FIRST_STRIKE = _I["war.first_strike"]
MOB_COST = _I["war.mobilization_cost"]
GAIN_WEIGHT = _I["intent.gain_weight"]
FEAR = _I["intent.fear_loss"]
PRECISION = _I["decision.precision"]
AUDIENCE_COST = _I["audience.cost"]
COST_RESOLVED = (_I["challenger.cost_resolved"], _I["defender.cost_resolved"])
COST_UNRESOLVED = (_I["challenger.cost_unresolved"], _I["defender.cost_unresolved"])
C_COST_RES = COST_RESOLVED[0]
C_COST_UNRES = COST_UNRESOLVED[0]
D_COST_RES = COST_RESOLVED[1]
D_COST_UNRES = COST_UNRESOLVED[1]

# --- the situation of a decision (filled by the caller) -----------------------------
SIT_SIDE = 0  # the deciding side (0 challenger, 1 defender)
SIT_TYPE = 1  # its type
SIT_OWN_LEVEL = 2  # its last level
SIT_ADV_LEVEL = 3  # the adversary's level as it perceives it
SIT_Q = 4  # the challenger's status-quo share now
SIT_DEMAND = 5  # the challenger's standing demand
SIT_ADV_OFFER = 6  # terms the adversary offers (the challenger's share), -1 if none
SIT_OWN_OFFER = 7  # the defender's own standing offer, -1 if none
SIT_NEED_OWN = 8  # the decider's costs of inaction now (challenger only)
SIT_NEED_ADV = 9  # the adversary's costs of inaction as the decider models them
SIT_ADV_P_GREEDY = 10  # the adversary's belief that the decider is greedy (as modelled)
SIT_COMMITTED = 11  # 1 if the decider is publicly committed now
SIT_POLICY_OWN = 12  # 1 if committed by policy whatever its level (general deterrence, tripwire...)
SIT_POLICY_ADV = 13
SIT_PRESSURE_OWN = 14  # its audience's pressure now
SIT_READY_OWN = 15  # its military readiness now
SIT_OWN_CAP = 16  # highest level it may escalate to
SIT_ADV_CAP = 17  # highest level the adversary may escalate to
SIT_ALLOW = 18  # bit mask of the moves on its menu (bit MV_*)
SIT_YIELD_ACCEPTS = 19  # 1 if yielding accepts a compromise (no audience cost): the defender after a challenger offer
SIT_BEST_OFFER = 20  # out: terms of the best offer (if MV_OFFER is available)
SIT_P_ADV_GREEDY = 21  # out: the decider's belief that the adversary is greedy
SIT_STAKE_VALUE = 22  # the decider's value of the stake relative to 1 (an uncommitted defender of an ally: < 1)
SIT_NO_EXIT = 23  # 1: the defender cannot yield once the challenger holds limited force (a tripwire, Schelling)
SIT_ALLY_EFFORT = 24  # the ally's own defence effort in a war over it (doctrine.ally_effort)
SIT_SIZE = 28

# --- one scratch array per engine: the situation, move values, probabilities, likelihoods, look-ahead ------
SCR_SIT = 0
SCR_EV = SCR_SIT + SIT_SIZE  # ws[SCR_EV + MV_*]
SCR_PROBS = SCR_EV + 8  # choice probabilities
SCR_LIK = SCR_PROBS + 8  # likelihoods of a perceived move under each type
_R = TOP_RUNG + 2  # rungs 0..6
WS_AM = SCR_LIK + 8  # value to me of node (rung, adversary moves), per adversary type
WS_AA = WS_AM + _R * N_TYPES  # value to the adversary's type
WS_MM = WS_AA + _R * N_TYPES  # value to me of node (rung, I move)
WS_MA = WS_MM + _R * N_TYPES
WS_TMP = WS_MA + _R * N_TYPES
# memo of evaluate (evaluate_cached): one slot per (side, type); key = the situation's inputs, the belief and the mix
CACHE = WS_TMP + 64
_KEY = SIT_SIZE + N_TYPES + 1
_VAL = N_MOVES + 2
SLOT = 1 + _KEY + _VAL  # valid flag, key, values
N_SLOTS = 2 * N_TYPES
SCRATCH_SIZE = CACHE + N_SLOTS * SLOT

NEG = -1e300  # value of a move that is not on the menu
MIN_STEP = 0.01  # the smallest change of terms an offer makes (shares of the stake)


@njit(cache=True, inline="always")
def is_resolved(k):
    """Type ``k`` has the low cost of war."""
    return k & 1


@njit(cache=True, inline="always")
def is_greedy(k):
    """Type ``k`` is greedy (values every unit of the stake fully)."""
    return (k >> 1) & 1


@njit(cache=True, inline="always")
def war_cost(p, side, k):
    """Private cost of war of ``side``'s type ``k``."""
    if side == CHALLENGER:
        return p[C_COST_RES] if is_resolved(k) else p[C_COST_UNRES]
    return p[D_COST_RES] if is_resolved(k) else p[D_COST_UNRES]


@njit(cache=True, inline="always")
def reference_share(p, side):
    """A side's share under the original status quo (a security seeker's reference point)."""
    return p[Q0] if side == CHALLENGER else 1.0 - p[Q0]


@njit(cache=True, inline="always")
def utility(p, side, k, share):
    """Value of holding ``share`` of the stake: linear for a greedy type; gains beyond the reference discounted for a security seeker."""
    ref = reference_share(p, side)
    if is_greedy(k) or share <= ref:
        return share
    return ref + p[GAIN_WEIGHT] * (share - ref)


@njit(cache=True, inline="always")
def utility_inverse(p, side, k, value):
    """Share whose utility is ``value`` (inf if no share reaches it)."""
    ref = reference_share(p, side)
    if is_greedy(k) or value <= ref:
        return value
    g = p[GAIN_WEIGHT]
    if g <= 0.0:
        return np.inf
    return ref + (value - ref) / g


@njit(cache=True, inline="always")
def readiness_at(p, side, level):
    """Readiness of a side whose last military move was at ``level``: 0.5, 0.75, 1 for rungs 3-5."""
    r = (level - 1.0) / 4.0 if level >= 3 else 0.0
    return max(standing_readiness_of(p, side), r)


@njit(cache=True, inline="always")
def win_probability(p, ready_c, ready_d, first, effort):
    """Probability the challenger wins a war that ``first`` starts (0 challenger, 1 defender, -1 neither strikes first).

    With an ally, the defender's side is also stronger by ``effort``, the ally's own defence effort
    (:func:`escalation_sim.model.doctrine.ally_effort`).
    """
    sc = p[BALANCE] * (1.0 + p[MOB_GAIN] * ready_c)
    sd = (1.0 - p[BALANCE]) * (1.0 + p[MOB_GAIN] * ready_d) * (1.0 + effort)
    if first == CHALLENGER:
        sc *= 1.0 + p[FIRST_STRIKE]
    elif first == DEFENDER:
        sd *= 1.0 + p[FIRST_STRIKE]
    return sc / (sc + sd)


@njit(cache=True, inline="always")
def war_value(p, side, k, pi_c, v=1.0):
    """Expected value of war to ``side``'s type ``k`` when the challenger wins with probability ``pi_c``.

    ``v`` scales the value of the stake (a defender's commitment to an ally's stake; 1 otherwise).
    """
    pi = pi_c if side == CHALLENGER else 1.0 - pi_c
    return v * pi * utility(p, side, k, 1.0) - war_cost(p, side, k)


@njit(cache=True, inline="always")
def peace_value(p, side, k, c_share, fear_p, v=1.0):
    """Value to ``side``'s type ``k`` of a peaceful outcome giving the challenger ``c_share`` (``v`` as in :func:`war_value`)."""
    share = c_share if side == CHALLENGER else 1.0 - c_share
    return v * utility(p, side, k, share) - p[FEAR] * fear_p


@njit(cache=True, inline="always")
def mobilization_cost(p, from_level, to_level):
    """Cost of ordering the rungs from ``from_level`` up to ``to_level`` (show of force and above)."""
    return p[MOB_COST] * max(0.0, max(to_level, 2.0) - max(from_level, 2.0))


@njit(cache=True, inline="always")
def audience_cost(p, committed, pressure):
    """Cost to a leader of yielding: the audience cost if committed, plus its audience's pressure."""
    return p[AUDIENCE_COST] * committed + pressure


@njit(cache=True, inline="always")
def _weight(lam, v, m):
    """``exp(lam * (v - m))`` for a value on the menu (0 for NEG); exactly 1 at the maximum, 0 far below it.

    ``exp(0)`` is exactly 1 and ``exp(x)`` is exactly 0 below -745.2 in IEEE doubles, so skipping those two
    calls changes no bit of the result.
    """
    if v <= NEG:
        return 0.0
    if v == m:
        return 1.0
    x = lam * (v - m)
    if x < -746.0:
        return 0.0
    return np.exp(x)


@njit(cache=True, inline="always")
def _softmax3(lam, a, b, c, out, o):
    """Logit probabilities of three values (NEG = not available) into ``out[o:o+3]``."""
    m = max(a, max(b, c))
    ea = _weight(lam, a, m)
    eb = _weight(lam, b, m)
    ec = _weight(lam, c, m)
    s = ea + eb + ec
    out[o] = ea / s
    out[o + 1] = eb / s
    out[o + 2] = ec / s


@njit(cache=True)
def logit_probabilities(lam, values, vo, n, out, oo):
    """Logit choice probabilities of ``values[vo:vo+n]`` (entries <= NEG are off the menu) into ``out[oo:oo+n]``.

    ``lam = 0`` gives a uniform choice among the moves on the menu; as ``lam``
    grows the probability concentrates on the best move (ties share it).
    """
    m = NEG
    for i in range(n):
        if values[vo + i] > m:
            m = values[vo + i]
    s = 0.0
    for i in range(n):
        e = _weight(lam, values[vo + i], m)
        out[oo + i] = e
        s += e
    if s > 0.0:  # an empty menu leaves every probability 0 (callers check)
        for i in range(n):
            out[oo + i] /= s


@njit(cache=True, inline="always")
def choose(lam, values, vo, n, u, probs, po):
    """Index of the move chosen by the logit rule with uniform ``u`` (inverse CDF in index order)."""
    logit_probabilities(lam, values, vo, n, probs, po)
    acc = 0.0
    last = -1
    for i in range(n):
        if probs[po + i] > 0.0:
            last = i
            acc += probs[po + i]
            if u < acc:
                return i
    return last


@njit(cache=True)
def p_greedy(belief, bo):
    """Probability the belief ``belief[bo:bo+4]`` puts on a greedy adversary."""
    return belief[bo + 2] + belief[bo + 3]


@njit(cache=True)
def evaluate(p, ws, belief, bo):
    """Expected value of each move on the decider's menu, under its belief.

    Parameters
    ----------
    p : numpy.ndarray
        Parameter vector.
    ws : numpy.ndarray
        Scratch of length >= ``SCRATCH_SIZE``. In: the situation at ``SCR_SIT``
        (``SIT_*`` fields). Out: ``ws[SCR_EV + MV_*]``, ``NEG`` for moves off
        the menu or unavailable; ``SIT_BEST_OFFER`` and ``SIT_P_ADV_GREEDY``.
    belief : numpy.ndarray
        Holds the decider's belief over the adversary's types at ``bo .. bo+3``.
    """
    me = int(ws[SCR_SIT + SIT_SIDE])
    adv = 1 - me
    k = int(ws[SCR_SIT + SIT_TYPE])
    lam = p[PRECISION]
    q = ws[SCR_SIT + SIT_Q]
    d = ws[SCR_SIT + SIT_DEMAND]
    allow = int(ws[SCR_SIT + SIT_ALLOW])
    pa = p_greedy(belief, bo)
    ws[SCR_SIT + SIT_P_ADV_GREEDY] = pa
    fear_me = pa
    fear_adv = ws[SCR_SIT + SIT_ADV_P_GREEDY]
    need_me = ws[SCR_SIT + SIT_NEED_OWN]
    need_adv = ws[SCR_SIT + SIT_NEED_ADV]
    own_cap = ws[SCR_SIT + SIT_OWN_CAP]
    adv_cap = ws[SCR_SIT + SIT_ADV_CAP]
    pol_me = ws[SCR_SIT + SIT_POLICY_OWN]
    pol_adv = ws[SCR_SIT + SIT_POLICY_ADV]
    pres_me = ws[SCR_SIT + SIT_PRESSURE_OWN]
    ac_cost = p[AUDIENCE_COST]
    v_me = ws[SCR_SIT + SIT_STAKE_VALUE]
    no_exit = ws[SCR_SIT + SIT_NO_EXIT]  # the defender cannot yield once the challenger holds limited force
    effort = ws[SCR_SIT + SIT_ALLY_EFFORT]
    for i in range(N_MOVES):
        ws[SCR_EV + i] = NEG
    own = ws[SCR_SIT + SIT_OWN_LEVEL]
    adv_level = ws[SCR_SIT + SIT_ADV_LEVEL]
    top = max(own, adv_level)

    # payoffs of the outcomes that do not depend on the rung, per adversary type
    # (me yields / adversary yields: who gets what)
    if me == CHALLENGER:
        my_yield_base = v_me * utility(p, me, k, q) - need_me - p[FEAR] * fear_me  # back down: status quo
        my_adv_yield = peace_value(p, me, k, d, fear_me, v_me)  # the defender concedes the demand
    else:
        my_yield_base = peace_value(p, me, k, d, fear_me, v_me)  # concede the demand
        my_adv_yield = peace_value(p, me, k, q, fear_me, v_me)  # the challenger backs down
    tmp = WS_TMP
    for j in range(N_TYPES):
        if adv == CHALLENGER:
            ws[tmp + j] = peace_value(p, adv, j, d, fear_adv)  # adversary's value when I (defender) concede
            ws[tmp + 4 + j] = utility(p, adv, j, q) - need_adv - p[FEAR] * fear_adv  # adversary backs down (before audience cost)
        else:
            ws[tmp + j] = peace_value(p, adv, j, q, fear_adv)  # the challenger (me) backs down: defender keeps 1 - q
            ws[tmp + 4 + j] = peace_value(p, adv, j, d, fear_adv)  # the defender (adversary) concedes the demand
    # --- backward induction over the rungs above the current top ----------------------------
    lo = int(top) + 1
    for rung in range(TOP_RUNG, lo - 1, -1):
        # node (rung, adversary moves): I hold `rung`, the adversary is one below
        lvl_me = float(rung)
        lvl_adv = float(rung - 1)
        rc = readiness_at(p, CHALLENGER, lvl_me if me == CHALLENGER else lvl_adv)
        rd = readiness_at(p, DEFENDER, lvl_me if me == DEFENDER else lvl_adv)
        pi_adv_first = win_probability(p, rc, rd, adv, effort)
        my_war = war_value(p, me, k, pi_adv_first, v_me)
        can_up = rung < TOP_RUNG and rung + 1 <= adv_cap
        comm_adv = 1.0 if (pol_adv > 0.0 or lvl_adv >= THREAT) else 0.0
        up_cost = mobilization_cost(p, lvl_adv, rung + 1.0)
        adv_trapped = no_exit > 0.0 and adv == DEFENDER and rung >= TOP_RUNG
        for j in range(N_TYPES):
            va_w = war_value(p, adv, j, pi_adv_first)
            va_y = NEG if adv_trapped else ws[tmp + 4 + j] - ac_cost * comm_adv
            va_e = ws[WS_MA + (rung + 1) * N_TYPES + j] - up_cost if can_up else NEG
            _softmax3(lam, va_w, va_y, va_e, ws, tmp + 8)
            sw = ws[tmp + 8]
            sy = ws[tmp + 9]
            se = ws[tmp + 10]
            aa = sw * va_w + sy * va_y
            am = sw * my_war + sy * my_adv_yield
            if can_up:
                aa += se * va_e
                am += se * ws[WS_MM + (rung + 1) * N_TYPES + j]
            ws[WS_AA + rung * N_TYPES + j] = aa
            ws[WS_AM + rung * N_TYPES + j] = am
        # node (rung, I move): the adversary holds `rung`, I am one below
        lvl_me = float(rung - 1)
        lvl_adv = float(rung)
        rc = readiness_at(p, CHALLENGER, lvl_me if me == CHALLENGER else lvl_adv)
        rd = readiness_at(p, DEFENDER, lvl_me if me == DEFENDER else lvl_adv)
        pi_me_first = win_probability(p, rc, rd, me, effort)
        vm_w = war_value(p, me, k, pi_me_first, v_me)
        comm_me = 1.0 if (pol_me > 0.0 or lvl_me >= THREAT) else 0.0
        vm_y = my_yield_base - audience_cost(p, comm_me, pres_me)
        if no_exit > 0.0 and me == DEFENDER and rung >= TOP_RUNG:
            vm_y = NEG
        can_up = rung < TOP_RUNG and rung + 1 <= own_cap
        up_cost = mobilization_cost(p, lvl_me, rung + 1.0)
        e_w = vm_w
        e_y = vm_y
        e_e = 0.0
        if can_up:
            for j in range(N_TYPES):
                e_e += belief[bo + j] * ws[WS_AM + (rung + 1) * N_TYPES + j]
            e_e -= up_cost
        else:
            e_e = NEG
        _softmax3(lam, e_w, e_y, e_e, ws, tmp + 8)
        sw = ws[tmp + 8]
        sy = ws[tmp + 9]
        se = ws[tmp + 10]
        for j in range(N_TYPES):
            mm = sw * vm_w + sy * vm_y
            ma = sw * war_value(p, adv, j, pi_me_first) + sy * ws[tmp + j]
            if can_up:
                mm += se * (ws[WS_AM + (rung + 1) * N_TYPES + j] - up_cost)
                ma += se * ws[WS_AA + (rung + 1) * N_TYPES + j]
            ws[WS_MM + rung * N_TYPES + j] = mm
            ws[WS_MA + rung * N_TYPES + j] = ma

    # --- the decider's moves now -----------------------------------------------------------
    ready_adv = readiness_at(p, adv, adv_level)
    if me == CHALLENGER:
        pi_now = win_probability(p, ws[SCR_SIT + SIT_READY_OWN], ready_adv, me, effort)
    else:
        pi_now = win_probability(p, ready_adv, ws[SCR_SIT + SIT_READY_OWN], me, effort)
    if allow & (1 << MV_WAR):
        ws[SCR_EV + MV_WAR] = war_value(p, me, k, pi_now, v_me)
    if allow & (1 << MV_WAIT):  # before a crisis: the status quo stands, no audience cost
        ws[SCR_EV + MV_WAIT] = my_yield_base
    # no exit blocks yielding, not accepting a challenger's offer (which is not yielding)
    trapped = no_exit > 0.0 and me == DEFENDER and adv_level >= TOP_RUNG and ws[SCR_SIT + SIT_YIELD_ACCEPTS] == 0.0
    if (allow & (1 << MV_YIELD)) and not trapped:
        if ws[SCR_SIT + SIT_YIELD_ACCEPTS] > 0.0:
            ws[SCR_EV + MV_YIELD] = my_yield_base
        else:
            ws[SCR_EV + MV_YIELD] = my_yield_base - audience_cost(p, ws[SCR_SIT + SIT_COMMITTED], pres_me)
    offer = ws[SCR_SIT + SIT_ADV_OFFER]
    if (allow & (1 << MV_ACCEPT)) and offer >= 0.0:
        ws[SCR_EV + MV_ACCEPT] = peace_value(p, me, k, offer, fear_me, v_me)
    up = top + 1.0
    if (allow & (1 << MV_ESCALATE)) and top < TOP_RUNG and up <= own_cap:
        e = 0.0
        for j in range(N_TYPES):
            e += belief[bo + j] * ws[WS_AM + int(up) * N_TYPES + j]
        ws[SCR_EV + MV_ESCALATE] = e - mobilization_cost(p, own, up)
    if allow & (1 << MV_OFFER):
        _evaluate_offer(p, ws, belief, bo, me, adv, k, lam, q, d, top, own, adv_level, fear_me, fear_adv,
                        need_adv, pol_adv, adv_cap)


@njit(cache=True)
def _evaluate_offer(p, ws, belief, bo, me, adv, k, lam, q, d, top, own, adv_level, fear_me, fear_adv,
                    need_adv, pol_adv, adv_cap):
    """Best offer (new terms) and its expected value: each adversary type answers by logit.

    Candidate terms are the adversary types' reservation terms (where a type is
    indifferent between accepting and its best alternative), clamped between
    the current positions. The adversary facing the offer can accept, start a
    war, yield on the old terms (only a challenger can: back down), or escalate.
    """
    tmp = WS_TMP
    v_me = ws[SCR_SIT + SIT_STAKE_VALUE]
    effort = ws[SCR_SIT + SIT_ALLY_EFFORT]
    if me == CHALLENGER:  # the challenger lowers its demand below d, keeping more than q
        low = q + MIN_STEP
        high = d - MIN_STEP
    else:  # the defender offers more than q and than its last offer, less than the demand
        low = max(q, ws[SCR_SIT + SIT_OWN_OFFER]) + MIN_STEP
        high = d - MIN_STEP
    if not high >= low:
        return
    # the adversary's values at the node where it answers the offer (it is at adv_level, I am at own)
    rc = readiness_at(p, CHALLENGER, own if me == CHALLENGER else adv_level)
    rd = readiness_at(p, DEFENDER, own if me == DEFENDER else adv_level)
    pi_adv_first = win_probability(p, rc, rd, adv, effort)
    my_war = war_value(p, me, k, pi_adv_first, v_me)
    comm_adv = 1.0 if (pol_adv > 0.0 or adv_level >= THREAT) else 0.0
    up = top + 1.0
    can_up = top < TOP_RUNG and up <= adv_cap
    up_cost = mobilization_cost(p, adv_level, up)
    # per type: value of war, of yielding (challenger only) and of escalating; the logit value of not accepting
    for j in range(N_TYPES):
        va_w = war_value(p, adv, j, pi_adv_first)
        if adv == CHALLENGER:
            va_y = utility(p, adv, j, q) - need_adv - p[FEAR] * fear_adv - p[AUDIENCE_COST] * comm_adv
        else:
            va_y = NEG  # the defender's "yield" to a lowered demand is accepting it
        va_e = ws[WS_MA + int(up) * N_TYPES + j] - up_cost if can_up else NEG
        ws[tmp + 12 + j] = va_w
        ws[tmp + 16 + j] = va_y
        ws[tmp + 20 + j] = va_e
        _softmax3(lam, va_w, va_y, va_e, ws, tmp + 8)
        cont = ws[tmp + 8] * va_w
        if va_y > NEG:
            cont += ws[tmp + 9] * va_y
        if can_up:
            cont += ws[tmp + 10] * va_e
        # reservation terms: utility of the offered share equals the value of going on
        share = utility_inverse(p, adv, j, cont + p[FEAR] * fear_adv)
        y = 1.0 - share if adv == DEFENDER else share
        ws[tmp + 24 + j] = min(max(y, low), high)  # offers stay strictly between the positions
    best = NEG
    best_y = -1.0
    my_yield_adv = peace_value(p, me, k, q, fear_me, v_me)  # only used when the adversary (challenger) backs down
    for c in range(N_TYPES):
        y = ws[tmp + 24 + c]
        dup = False
        for c2 in range(c):
            if ws[tmp + 24 + c2] == y:
                dup = True
        if dup:
            continue
        mine = peace_value(p, me, k, y, fear_me, v_me)
        total = 0.0
        for j in range(N_TYPES):
            va_a = peace_value(p, adv, j, y, fear_adv)
            va_w = ws[tmp + 12 + j]
            va_y = ws[tmp + 16 + j]
            va_e = ws[tmp + 20 + j]
            # four options: accept, war, yield, escalate
            m = max(max(va_a, va_w), max(va_y, va_e))
            ea = _weight(lam, va_a, m)
            ew = _weight(lam, va_w, m)
            ey = _weight(lam, va_y, m)
            ee = _weight(lam, va_e, m)
            s = ea + ew + ey + ee
            v = (ea * mine + ew * my_war + ey * my_yield_adv) / s
            if ee > 0.0:
                v += ee / s * ws[WS_MM + int(up) * N_TYPES + j]
            total += belief[bo + j] * v
        if total > best:
            best = total
            best_y = y
    if best_y >= 0.0:
        ws[SCR_EV + MV_OFFER] = best
        ws[SCR_SIT + SIT_BEST_OFFER] = best_y


@njit(cache=True)
def screening_demand(p, ws, belief, bo):
    """The challenger's demand: the risk-return choice among the defender types' limits (Fearon 1995).

    A defender type accepts a demand ``x`` when the share it keeps is worth at
    least its value of war: ``x <= 1 - u_D^{-1}(war value)``. The challenger
    picks, among those limits (above the status quo), the demand with the best
    expected value, counting a refusal as war. Returns ``-1`` if no demand
    beats the status quo for any defender type.
    """
    k = int(ws[SCR_SIT + SIT_TYPE])
    q = ws[SCR_SIT + SIT_Q]
    rc = ws[SCR_SIT + SIT_READY_OWN]
    pi = win_probability(p, rc, readiness_at(p, DEFENDER, 0.0), -1, ws[SCR_SIT + SIT_ALLY_EFFORT])  # a refusal: war, neither side striking first
    my_war = war_value(p, CHALLENGER, k, pi)
    fear = p[FEAR] * p_greedy(belief, bo)  # an accepted demand is a peaceful outcome: the fear term applies
    best = NEG
    best_d = -1.0
    for c in range(N_TYPES):
        keep = utility_inverse(p, DEFENDER, c, war_value(p, DEFENDER, c, pi))
        x = min(1.0, 1.0 - keep)
        if not x > q:
            continue
        total = 0.0
        for j in range(N_TYPES):
            keep_j = utility_inverse(p, DEFENDER, j, war_value(p, DEFENDER, j, pi))
            if x <= 1.0 - keep_j + 1e-12:
                total += belief[bo + j] * (utility(p, CHALLENGER, k, x) - fear)
            else:
                total += belief[bo + j] * my_war
        if total > best:
            best = total
            best_d = x
    return best_d


@njit(cache=True, inline="always")
def _input_field(i):
    """True for the fields of the situation that are inputs of :func:`evaluate` (not its outputs)."""
    return i != SIT_BEST_OFFER and i != SIT_P_ADV_GREEDY


@njit(cache=True, inline="always")
def evaluate_cached(p, ws, belief, bo, mix):
    """:func:`evaluate`, remembered: the same inputs give the same values without the look-ahead.

    ``evaluate`` is a deterministic function of the parameter vector and its inputs (the situation's input
    fields and the belief), so when a leader decides again in exactly the same situation (a challenger letting
    opportunities pass with nothing new, or the next replication's leader of the same type in the same opening
    situation) its values are copied from a memo instead of being recomputed. One slot per (side, type); the
    key includes the defender mix drawn (``mix``: a row of ``p_mixes``), and a scratch array is never shared by
    two parameter matrices. Skipping the recomputation changes no number (the identity tests compare both
    engines, and the memo is exercised by both).
    """
    slot = CACHE + (int(ws[SCR_SIT + SIT_SIDE]) * N_TYPES + int(ws[SCR_SIT + SIT_TYPE])) * SLOT
    key = slot + 1
    val = key + _KEY
    hit = ws[slot] > 0.0 and ws[key + SIT_SIZE + N_TYPES] == mix
    if hit:
        for i in range(SIT_SIZE):
            if _input_field(i) and ws[key + i] != ws[SCR_SIT + i]:
                hit = False
                break
    if hit:
        for j in range(N_TYPES):
            if ws[key + SIT_SIZE + j] != belief[bo + j]:
                hit = False
                break
    if hit:
        for i in range(N_MOVES):
            ws[SCR_EV + i] = ws[val + i]
        ws[SCR_SIT + SIT_BEST_OFFER] = ws[val + N_MOVES]
        ws[SCR_SIT + SIT_P_ADV_GREEDY] = ws[val + N_MOVES + 1]
        return
    evaluate(p, ws, belief, bo)
    ws[slot] = 1.0
    for i in range(SIT_SIZE):
        ws[key + i] = ws[SCR_SIT + i]
    for j in range(N_TYPES):
        ws[key + SIT_SIZE + j] = belief[bo + j]
    ws[key + SIT_SIZE + N_TYPES] = mix
    for i in range(N_MOVES):
        ws[val + i] = ws[SCR_EV + i]
    ws[val + N_MOVES] = ws[SCR_SIT + SIT_BEST_OFFER]
    ws[val + N_MOVES + 1] = ws[SCR_SIT + SIT_P_ADV_GREEDY]
