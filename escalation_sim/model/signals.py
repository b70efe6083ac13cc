"""What a move tells its receiver: the receiver's model of the sender, as likelihood tables.

A receiver updates its belief on a perceived move with the probability that
each type of the sender would have made it. It models the sender as a
*level-1* chooser (Stahl & Wilson 1995; Camerer, Ho & Chong 2004): a sender of
type ``k`` that reasons from the common prior about the receiver, at the start
of the crisis (original status quo, no domestic pressure, no costs of
inaction), and chooses by the same logit look-ahead every leader uses
(:func:`escalation_sim.model.decision.evaluate`). These probabilities depend
only on the scenario, so they are computed once per parameter vector by
:func:`derive` and stored in its derived part; the rules look them up.

Tables (``p[DERIVED0 + ...]``):

``T_ESCALATE[s, k, r]``, ``T_OFFER[s, k, r]``
    Probability that side ``s``'s type ``k``, answering at rung ``r`` (the
    receiver holds rung ``r``, the sender is one below), escalates / makes an
    offer. The likelihood of a perceived escalation or offer is read here.
``T_CHALLENGE[k]``
    Probability that the challenger's type ``k`` challenges at an opportunity
    (against waiting or war). The defender's update on a challenge.
``T_TRANSFER[k]``
    Probability that the defender's type ``k`` makes a GRIT transfer of size
    ``tau``, a logit choice between the transfer, worth the value of being
    trusted ``B_k`` minus its cost, and no transfer. The cost is ``tau`` for a
    greedy type and ``gain_weight * tau`` for a security seeker (Kydd 2005:
    reassurance costs a greedy type more). ``B_k`` is the gain in the
    defender's value of a crisis when the challenger's belief that it is
    greedy falls from the prior to zero.
``DEMAND0[k]``
    The demand of the challenger's type ``k`` at the prior
    (:func:`~escalation_sim.model.decision.screening_demand`); ``DEMAND_BAR`` is
    its prior mean, the demand in the defender-side tables.

Receivers do not model the sender's misperception of their own moves, its
domestic pressure or the challenger's need (the defender misjudges the
challenger's motivation: Lebow & Stein 1990). All of it is in docs/model.md.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import decision as dc
from .beliefs import prior
from .constants import (
    CHALLENGER,
    DEFENDER,
    MV_ESCALATE,
    MV_OFFER,
    MV_WAIT,
    MV_WAR,
    MV_YIELD,
    N_INSTRUMENTS,
    N_MOVES,
    N_TYPES,
    PUBLIC_STATEMENT,
    TOP_RUNG,
)
from .doctrine import ally_effort, deployed_by_policy, escalation_cap, no_exit, policy_committed
from .params import DERIVED0, N_DERIVED
from .params import PARAM_INDEX as _I

C_P_GREEDY = _I["challenger.p_greedy"]
C_P_RESOLVED = _I["challenger.p_resolved"]
D_P_GREEDY = _I["defender.p_greedy"]
D_P_RESOLVED = _I["defender.p_resolved"]
Q0 = _I["stake.status_quo"]
TRANSFER = _I["defender.grit_transfer"]
GAIN_WEIGHT = _I["intent.gain_weight"]
PRECISION = _I["decision.precision"]
UNCOMMITTED_VALUE = _I["ally.uncommitted_value"]
REASSURANCE_VALUE = _I["ally.reassurance_value"]
AUDIENCE_COST = _I["audience.cost"]
COST0 = _I["effects.cost_tripwire"]  # instrument costs follow the instrument order of constants.py

N_RUNG = TOP_RUNG + 1  # rows 0..5; row r is the rung the receiver holds
T_ESCALATE = DERIVED0  # [side][type][rung]
T_OFFER = T_ESCALATE + 2 * N_TYPES * N_RUNG
T_CHALLENGE = T_OFFER + 2 * N_TYPES * N_RUNG
T_TRANSFER = T_CHALLENGE + N_TYPES
DEMAND0 = T_TRANSFER + N_TYPES
DEMAND_BAR = DEMAND0 + N_TYPES
TRUST_BENEFIT = DEMAND_BAR + 1
A_SEND = TRUST_BENEFIT + N_TYPES  # [commitment z][instrument k]: P(the defender sends instrument k | z)
A_YIELD = A_SEND + 2 * N_INSTRUMENTS  # [z]: P(the defender yields at its first answer to a challenge | z)
DERIVED_END = A_YIELD + 2
assert DERIVED_END <= DERIVED0 + N_DERIVED

ALL_MOVES = (1 << MV_WAR) | (1 << MV_YIELD) | (1 << MV_ESCALATE) | (1 << MV_OFFER)


@njit(cache=True, inline="always")
def t_index(table, side, k, rung):
    """Position of an entry of ``T_ESCALATE`` or ``T_OFFER`` in the parameter vector."""
    return table + (side * N_TYPES + k) * N_RUNG + rung


@njit(cache=True)
def prior_of(p, side, belief, bo):
    """The common prior over ``side``'s types."""
    if side == CHALLENGER:
        prior(p[C_P_GREEDY], p[C_P_RESOLVED], belief, bo)
    else:
        prior(p[D_P_GREEDY], p[D_P_RESOLVED], belief, bo)


@njit(cache=True)
def _start_situation(p, ws, side, k, own, adv, demand, adv_p_greedy):
    """The situation of a free sender at the start of a crisis (the receiver's model of it)."""
    for i in range(dc.SIT_SIZE):
        ws[dc.SCR_SIT + i] = 0.0
    ws[dc.SCR_SIT + dc.SIT_SIDE] = side
    ws[dc.SCR_SIT + dc.SIT_TYPE] = k
    ws[dc.SCR_SIT + dc.SIT_OWN_LEVEL] = own
    ws[dc.SCR_SIT + dc.SIT_ADV_LEVEL] = adv
    ws[dc.SCR_SIT + dc.SIT_Q] = p[Q0]
    ws[dc.SCR_SIT + dc.SIT_DEMAND] = demand
    ws[dc.SCR_SIT + dc.SIT_ADV_OFFER] = -1.0
    ws[dc.SCR_SIT + dc.SIT_OWN_OFFER] = -1.0
    ws[dc.SCR_SIT + dc.SIT_ADV_P_GREEDY] = adv_p_greedy
    deployed = deployed_by_policy(p)  # the receiver models the sender's posture as its policy says
    pol = policy_committed(p, side, deployed)
    ws[dc.SCR_SIT + dc.SIT_POLICY_OWN] = pol
    ws[dc.SCR_SIT + dc.SIT_POLICY_ADV] = policy_committed(p, 1 - side, deployed)
    ws[dc.SCR_SIT + dc.SIT_COMMITTED] = 1.0 if (pol > 0.0 or own >= 2) else 0.0
    ws[dc.SCR_SIT + dc.SIT_READY_OWN] = dc.readiness_at(p, side, own)
    ws[dc.SCR_SIT + dc.SIT_OWN_CAP] = float(TOP_RUNG)  # the receiver models a free sender
    ws[dc.SCR_SIT + dc.SIT_ADV_CAP] = escalation_cap(p, 1 - side, 0.0)
    ws[dc.SCR_SIT + dc.SIT_STAKE_VALUE] = 1.0
    ws[dc.SCR_SIT + dc.SIT_NO_EXIT] = no_exit(p, deployed)
    ws[dc.SCR_SIT + dc.SIT_ALLY_EFFORT] = ally_effort(p, deployed)


@njit(cache=True)
def expected_value(p, ws):
    """Logit-expected value of the moves in ``ws[SCR_EV:]`` (the value of the decision node)."""
    dc.logit_probabilities(p[PRECISION], ws, dc.SCR_EV, np.int64(N_MOVES), ws, dc.SCR_PROBS)
    v = 0.0
    for i in range(N_MOVES):
        if ws[dc.SCR_PROBS + i] > 0.0:
            v += ws[dc.SCR_PROBS + i] * ws[dc.SCR_EV + i]
    return v


@njit(cache=True)
def derive(p):
    """Fill the derived part of the parameter vector ``p`` (likelihood tables; see the module docstring)."""
    b0 = np.int64(0)  # offsets and sides passed as int64, not literals: one compiled version of each callee
    belief = np.zeros(N_TYPES)
    ws = np.zeros(dc.SCRATCH_SIZE)
    lam = p[PRECISION]
    ev = dc.SCR_EV
    pr = dc.SCR_PROBS
    # the challenger's demand at the prior, per type
    prior_of(p, np.int64(DEFENDER), belief, b0)
    bar = 0.0
    c_prior = np.zeros(N_TYPES)
    prior_of(p, np.int64(CHALLENGER), c_prior, b0)
    for k in range(N_TYPES):
        _start_situation(p, ws, np.int64(CHALLENGER), k, 0.0, 0.0, 0.0, p[C_P_GREEDY])
        d = dc.screening_demand(p, ws, belief, b0)
        p[DEMAND0 + k] = d
        bar += c_prior[k] * (d if d >= 0.0 else p[Q0])
    p[DEMAND_BAR] = bar
    # challenge probabilities (the challenger's types, the prior about the defender)
    for k in range(N_TYPES):
        d = p[DEMAND0 + k]
        if d < 0.0:
            p[T_CHALLENGE + k] = 0.0
            continue
        _start_situation(p, ws, np.int64(CHALLENGER), k, 0.0, 0.0, d, p[C_P_GREEDY])
        ws[dc.SCR_SIT + dc.SIT_ALLOW] = (1 << MV_WAIT) | (1 << MV_ESCALATE) | (1 << MV_WAR)
        dc.evaluate(p, ws, belief, b0)
        dc.logit_probabilities(lam, ws, ev, np.int64(N_MOVES), ws, pr)
        p[T_CHALLENGE + k] = ws[pr + MV_ESCALATE] + ws[pr + MV_WAR]
    # escalation and offer probabilities of a free sender at each rung
    for side in range(2):
        adv = 1 - side
        prior_of(p, adv, belief, b0)
        own_greed = p[C_P_GREEDY] if side == CHALLENGER else p[D_P_GREEDY]
        for k in range(N_TYPES):
            demand = p[DEMAND0 + k] if side == CHALLENGER else bar
            if demand < 0.0:
                demand = p[Q0]
            for rung in range(N_RUNG):
                ie = t_index(T_ESCALATE, side, k, rung)
                io = t_index(T_OFFER, side, k, rung)
                if rung == 0:
                    p[ie] = 0.0
                    p[io] = 0.0
                    continue
                _start_situation(p, ws, side, k, rung - 1.0, float(rung), demand, own_greed)
                ws[dc.SCR_SIT + dc.SIT_ALLOW] = ALL_MOVES
                dc.evaluate(p, ws, belief, b0)
                dc.logit_probabilities(lam, ws, ev, np.int64(N_MOVES), ws, pr)
                p[ie] = ws[pr + MV_ESCALATE]
                p[io] = ws[pr + MV_OFFER]
    # GRIT transfers: the value of being trusted against the cost of the transfer
    prior_of(p, np.int64(CHALLENGER), belief, b0)
    tau = p[TRANSFER]
    for k in range(N_TYPES):
        _start_situation(p, ws, np.int64(DEFENDER), k, 0.0, 1.0, bar, p[D_P_GREEDY])
        ws[dc.SCR_SIT + dc.SIT_ALLOW] = ALL_MOVES
        dc.evaluate(p, ws, belief, b0)
        v_prior = expected_value(p, ws)
        ws[dc.SCR_SIT + dc.SIT_ADV_P_GREEDY] = 0.0
        dc.evaluate(p, ws, belief, b0)
        v_trusted = expected_value(p, ws)
        b = v_trusted - v_prior
        p[TRUST_BENEFIT + k] = b
        cost = tau if dc.is_greedy(k) else p[GAIN_WEIGHT] * tau
        x = lam * (b - cost)
        p[T_TRANSFER + k] = 1.0 / (1.0 + np.exp(-x)) if x > -700.0 else 0.0

    # the ally's model of its defender: instruments and conduct under commitment z (1) or not (0)
    for z in range(2):
        v = p[REASSURANCE_VALUE] * (1.0 if z == 1 else p[UNCOMMITTED_VALUE])
        for k in range(N_INSTRUMENTS):
            cost = p[COST0 + k] + (p[AUDIENCE_COST] if (k == PUBLIC_STATEMENT and z == 0) else 0.0)
            x = lam * (v - cost)
            p[A_SEND + z * N_INSTRUMENTS + k] = 1.0 / (1.0 + np.exp(-x)) if x > -700.0 else 0.0
    prior_of(p, np.int64(CHALLENGER), belief, b0)
    d_prior = np.zeros(N_TYPES)
    prior_of(p, np.int64(DEFENDER), d_prior, b0)
    for z in range(2):
        total = 0.0
        for k in range(N_TYPES):
            _start_situation(p, ws, np.int64(DEFENDER), k, 0.0, 1.0, bar, p[D_P_GREEDY])
            ws[dc.SCR_SIT + dc.SIT_ALLOW] = ALL_MOVES
            ws[dc.SCR_SIT + dc.SIT_STAKE_VALUE] = 1.0 if z == 1 else p[UNCOMMITTED_VALUE]
            dc.evaluate(p, ws, belief, b0)
            dc.logit_probabilities(lam, ws, ev, np.int64(N_MOVES), ws, pr)
            total += d_prior[k] * ws[pr + MV_YIELD]
        p[A_YIELD + z] = total
