"""The rules of the crisis model, written once for both engines.

Each actor (a leader, an audience or a military of the challenger, the
defender or the ally) reacts to one message at a time through
:func:`handle`. A handler reads the state vector and the parameter vector,
draws from its own actor's random stream, updates the state, and writes the
messages it sends into ``out`` (one row each: put into a target's inbox now,
or deliver after a delay). It never schedules anything itself: scheduling is
the engine's job — SimPy stores and timeouts in the reference engine, a
compiled event loop in the Monte Carlo core. Both engines call these same
compiled functions, so a rule cannot drift between them.

The decisions themselves are in :mod:`escalation_sim.model.decision` (expected
values under beliefs, logit choice), beliefs in
:mod:`escalation_sim.model.beliefs`, what a move tells its receiver in
:mod:`escalation_sim.model.signals`. ``docs/model.md`` states every rule in
words with its sources; the comments here point to its sections.

Performance note: the rules a handler calls are inlined into it at Numba-IR
level (``inline="always"``); each array passed across a real call costs an
atomic reference-count increment and decrement. Integer and boolean constants
passed to a real (not inlined) call are written ``np.int64(...)`` /
``np.bool_(...)`` / ``float(...)``: Numba types a bare constant as a *literal* and
compiles the callee once more for each literal value (and re-optimises every
kernel linked above it), which multiplied the first-call compile time.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import decision as dc
from .beliefs import DIM_INTENTION, DIM_RESOLVE, bayes, point_mass, report
from .constants import (
    ALLIANCE_TERMS,
    ALLY,
    AUDIENCE,
    CHALLENGER,
    CHALLENGER_BACKS_DOWN,
    CONCESSION,
    DEFENDER,
    DEFENDER_CONCEDES,
    DEMAND,
    EV_BACK_DOWN,
    EV_CHALLENGE,
    EV_CONCEDE,
    EV_DETECTED,
    EV_ESCALATE,
    EV_EXECUTED,
    EV_HEDGE_START,
    EV_HEDGE_STOP,
    EV_IGNORED,
    EV_INCIDENT,
    EV_OFFER,
    EV_ORDER,
    EV_PERCEIVED,
    EV_PRESSURE,
    EV_PROGRAMME_SHELVED,
    EV_PROLIFERATE,
    EV_PROVOKE,
    EV_RECOGNISED,
    EV_RENEW,
    EV_REPORT,
    EV_REVIEW,
    EV_SETTLE,
    EV_START,
    EV_STAY,
    EV_SUPPORT,
    EV_TICK,
    EV_TRANSFER,
    EV_WAIT,
    EV_WAR,
    EV_WITHHELD,
    EXERCISES,
    F_FORCED,
    F_INCIDENT,
    F_OBSERVED,
    F_OFFER,
    F_WITHHELD,
    GLOBAL_FIELDS,
    I_EVENT,
    I_LEVEL,
    I_MISPERCEIVED,
    I_PERCEIVED,
    I_VALUE,
    LEADER,
    LIMITED_FORCE,
    M_AUX,
    M_FLAGS,
    M_KIND,
    M_LEVEL,
    M_PUBLIC,
    M_SENDER,
    MILITARY,
    MK_DETECT,
    MK_EXECUTED,
    MK_GRIT,
    MK_HEDGE_DONE,
    MK_INCIDENT_TICK,
    MK_OPPORTUNITY,
    MK_ORDER,
    MK_PRESSURE,
    MK_PROVOKE,
    MK_RENEW,
    MK_REVIEW,
    MK_SIGNAL,
    MK_START,
    MK_SUPPORT,
    MK_TRANSFER,
    MOBILIZATION,
    MV_ACCEPT,
    MV_ESCALATE,
    MV_OFFER,
    MV_WAIT,
    MV_WAR,
    MV_YIELD,
    N_INSTRUMENTS,
    N_MOVES,
    N_TYPES,
    NO_CHALLENGE,
    NO_OUTCOME,
    O_DELAY,
    O_DELAYED,
    O_MSG,
    O_TARGET,
    PRIVATE_STATEMENT,
    PUBLIC_STATEMENT,
    S_ADV_LEVEL,
    S_ADV_OFFERED,
    S_BELIEF,
    S_CLOCK_ON,
    S_COMMITTED,
    S_CONFIDENCE,
    S_CONFIDENCE_T,
    S_DECISIONS,
    S_FORCE_SEEN,
    S_HEDGING,
    S_KNOWN_TERMS,
    S_LAST_MISREAD,
    S_LEVEL,
    S_PRESSURE,
    S_PRESSURE_T,
    S_PROGRAMME,
    S_READINESS,
    S_SUNK,
    SETTLEMENT,
    SHOW_OF_FORCE,
    STATE_FIELDS,
    STREAM_COMMITMENT,
    STREAM_SETUP,
    THREAT,
    TOP_RUNG,
    TRIPWIRE,
    UNRESOLVED,
    WAR_OUTCOME,
    X_ABANDONED,
    X_ALLY_OPENED,
    X_ALLY_RISK,
    X_AUDIENCE_PAID,
    X_C_FORCE,
    X_C_TYPE,
    X_CHALLENGE_TIME,
    X_COMMITTED,
    X_COMPLETE,
    X_CONDUCT_SEEN,
    X_D_TYPE,
    X_DEMAND,
    X_DEPLOYED,
    X_DETECTED,
    X_END_TIME,
    X_ERROR,
    X_EVENTS,
    X_FINAL_TERMS,
    X_FORCE,
    X_INADVERTENT,
    X_INCIDENTS,
    X_MIX,
    X_NEED,
    X_NEXT_SWITCH,
    X_OFFER,
    X_OUTCOME,
    X_PEAK,
    X_PROGRAMME_STARTED,
    X_PROLIF_TIME,
    X_PROLIFERATED,
    X_PROVOKED,
    X_REASSURANCE_COST,
    X_STATEMENT,
    X_TERMS,
    X_TRANSFERS,
    X_WINNER,
)
from .doctrine import (
    DEPLOYED_TERMS,
    DEPLOYED_TRIPWIRE,
    ally_effort,
    escalation_cap,
    no_exit,
    policy_committed,
    standing_readiness_of,
)
from .params import PARAM_INDEX as _I
from .rng import exponential, init_streams, uniform
from .signals import A_SEND, A_YIELD, T_CHALLENGE, T_ESCALATE, T_OFFER, T_TRANSFER, prior_of, t_index
from .strategies import CHALLENGER_CODE, RESPONSE_CODE

# --- parameter positions (compile-time constants for Numba) -----------------
HORIZON = _I["crisis.horizon"]
OPPORTUNITY_RATE = _I["crisis.opportunity_rate"]
Q0 = _I["stake.status_quo"]
DELAY_MIN = _I["channel.delay_min"]
DELAY_MEAN = _I["channel.delay_mean"]
MISPERCEPTION = _I["channel.misperception"]
C_P_NEED = _I["challenger.p_need"]
C_P_GREEDY = _I["challenger.p_greedy"]
C_P_RESOLVED = _I["challenger.p_resolved"]
D_P_GREEDY = _I["defender.p_greedy"]
D_P_RESOLVED = _I["defender.p_resolved"]
NEED_RATE = _I["challenger.need_rate"]
MOTIVATED_BIAS = _I["challenger.motivated_bias"]
C_STRATEGY = _I["challenger.strategy"]
GRIT_STEPS = _I["defender.grit_steps"]
GRIT_TRANSFER = _I["defender.grit_transfer"]
GRIT_INTERVAL = _I["defender.grit_interval"]
GENEROSITY = _I["defender.generosity"]
RENEWAL = _I["defender.renewal_interval"]
PRECISION = _I["decision.precision"]
ATTRIBUTION = _I["belief.attribution"]
COMPLETE_INFO = _I["belief.complete_information"]
PRESSURE_GAIN = _I["audience.pressure_gain"]
PRESSURE_DECAY = _I["audience.pressure_decay"]
CONCESSION_RELIEF = _I["audience.concession_relief"]
EXEC_DELAY = _I["military.execution_delay_mean"]
TICK_MEAN = _I["military.incident_tick_mean"]
INCIDENT_RATE = _I["military.incident_rate"]
ALLY_PRESENT = _I["ally.present"]
ALLY_P_COMMITTED = _I["ally.p_committed"]
ALLY_LAPSE = _I["ally.lapse_rate"]
ALLY_RECOMMIT = _I["ally.recommit_rate"]
ALLY_UNCOMMITTED = _I["ally.uncommitted_value"]
ALLY_REVIEW = _I["ally.review_interval"]
ALLY_EXPOSURE = _I["ally.exposure"]
ALLY_THREAT = _I["ally.threat"]
ALLY_PROG_COST = _I["ally.programme_cost"]
ALLY_PROG_TIME = _I["ally.programme_time"]
ALLY_DETECTION = _I["ally.detection_rate"]
ALLY_PROTECTION = _I["ally.protection"]
ALLY_RISK_GAIN = _I["ally.risk_gain"]
ALLY_RISK_TAKING = _I["ally.risk_taking"]
ALLY_PRECISION = _I["ally.precision"]
ALLY_PROVOKE_ATTACK = _I["ally.provocation_attack"]
ALLY_PROVOCATION = _I["ally.provocation_loss"]
PREVENTION_LOSS = _I["challenger.prevention_loss"]
AUDIENCE_COST = _I["audience.cost"]
COST0 = _I["effects.cost_tripwire"]  # instrument costs follow the instrument order of constants.py
TRIPWIRE_LR = _I["effects.tripwire_lr"]
SR_PRESSURE_CUT = _I["effects.restraint_pressure_cut"]
NC_ACCURACY = _I["effects.norms_accuracy"]
NC_MIS_CUT = _I["effects.norms_misperception_cut"]
NC_CLARIFY = _I["effects.norms_clarify"]
LSR_ACCURACY = _I["effects.regime_accuracy"]
LSR_MIS_CUT = _I["effects.regime_misperception_cut"]
LSR_DELAY_CUT = _I["effects.regime_delay_cut"]
LSR_INCIDENT_CUT = _I["effects.regime_incident_cut"]
LSR_CLARIFY = _I["effects.regime_clarify"]
MIX_RESPONSE = _I["mix.response"]
MIX_GRIT = _I["mix.grit"]
MIX_SR = _I["mix.self_restraint"]
MIX_NC = _I["mix.norms_of_competition"]
MIX_LSR = _I["mix.limited_security_regime"]
MIX_INSTR0 = _I["mix.tripwire"]  # instrument flags follow the instrument order too

# response rules and challenger styles: codes from the strategy table (one branch each below)
R_NONE = RESPONSE_CODE["none"]
R_IMMEDIATE_DETERRENCE = RESPONSE_CODE["immediate_deterrence"]
R_TIT_FOR_TAT = RESPONSE_CODE["tit_for_tat"]
R_GENEROUS_TIT_FOR_TAT = RESPONSE_CODE["generous_tit_for_tat"]
R_RECIPROCAL_CONCESSIONS = RESPONSE_CODE["reciprocal_concessions"]
C_PROBING = CHALLENGER_CODE["probing"]
C_FIRM = CHALLENGER_CODE["firm"]
C_RECIPROCATING = CHALLENGER_CODE["reciprocating"]

ERR_UNKNOWN_RESPONSE = 1.0
ERR_UNKNOWN_STYLE = 2.0

BIT_WAR = 1 << MV_WAR
BIT_YIELD = 1 << MV_YIELD
BIT_ACCEPT = 1 << MV_ACCEPT
BIT_ESCALATE = 1 << MV_ESCALATE
BIT_OFFER = 1 << MV_OFFER
BIT_WAIT = 1 << MV_WAIT

SIT = dc.SCR_SIT


# --- small helpers ------------------------------------------------------------
@njit(cache=True, inline="always")
def ix(state, field):
    """Index of a per-state field in the state vector."""
    return GLOBAL_FIELDS + state * STATE_FIELDS + field


@njit(cache=True, inline="always")
def emit(out, n, delayed, delay, target, kind, sender, level, public, flags, sent, aux):
    """Write one outgoing message into row ``n`` of ``out``; return ``n + 1``."""
    out[n, O_DELAYED] = delayed
    out[n, O_DELAY] = delay
    out[n, O_TARGET] = target
    out[n, O_MSG + M_KIND] = kind
    out[n, O_MSG + M_SENDER] = sender
    out[n, O_MSG + M_LEVEL] = level
    out[n, O_MSG + M_PUBLIC] = public
    out[n, O_MSG + M_FLAGS] = flags
    out[n, O_MSG + 5] = sent
    out[n, O_MSG + M_AUX] = aux
    return n + 1


@njit(cache=True, inline="always")
def crisis_over(st):
    """True once the replication has an outcome."""
    return st[X_OUTCOME] != NO_OUTCOME


@njit(cache=True, inline="always")
def crisis_open(st):
    """True while a crisis runs: challenged, no outcome yet."""
    return st[X_OUTCOME] == NO_OUTCOME and st[X_CHALLENGE_TIME] >= 0.0


@njit(cache=True, inline="always")
def end_crisis(st, outcome, now, terms):
    """Record the outcome, the day it happened and the challenger's final share of the stake."""
    st[X_OUTCOME] = outcome
    st[X_END_TIME] = now
    st[X_FINAL_TERMS] = terms


@njit(cache=True, inline="always")
def pressure_now(st, p, s, now):
    """Audience pressure of state ``s`` at ``now`` (exponential decay since last update)."""
    return st[ix(s, S_PRESSURE)] * np.exp(-p[PRESSURE_DECAY] * (now - st[ix(s, S_PRESSURE_T)]))


@njit(cache=True, inline="always")
def need_now(st, p, now):
    """The challenger's costs of inaction at ``now``.

    ``need_rate * now`` if need-driven (Lebow & Stein), plus ``ally.provocation_loss`` once the ally has provoked
    it and ``challenger.prevention_loss`` once it has detected the ally's programme (a preventive motive).
    """
    c = st[X_NEED] * p[NEED_RATE] * now
    if st[X_PROVOKED] >= 0.0:
        c += p[ALLY_PROVOCATION]
    if st[X_DETECTED] >= 0.0:
        c += p[PREVENTION_LOSS]
    return c


# --- the defender's commitment to its ally: a hidden two-state Markov chain (model.md: The ally) --------------
@njit(cache=True, inline="always")
def switch_wait(p, keys, ctr, committed):
    """Days until the commitment chain next switches out of its current state (one exponential draw, stream 10)."""
    rate = p[ALLY_LAPSE] if committed > 0.0 else p[ALLY_RECOMMIT]
    if rate <= 0.0:
        return np.inf
    return exponential(keys, ctr, STREAM_COMMITMENT, 1.0 / rate)


@njit(cache=True)
def committed_now(st, p, keys, ctr, now):
    """The defender's commitment at ``now``: the chain is advanced lazily through every switch due by then.

    Switch times are drawn in order from their own stream, so the path does not
    depend on when it is read (and is the same in every cell of an experiment).
    """
    while st[X_NEXT_SWITCH] <= now:
        st[X_COMMITTED] = 1.0 - st[X_COMMITTED]
        st[X_NEXT_SWITCH] = st[X_NEXT_SWITCH] + switch_wait(p, keys, ctr, st[X_COMMITTED])
    return st[X_COMMITTED]


@njit(cache=True, inline="always")
def ally_belief_now(st, p, now):
    """The ally's belief that the defender is committed at ``now``: the filter's prediction since it was stored.

    ``b(t) = b_inf + (b - b_inf) exp(-(lapse + recommit) (t - t_stored))``, ``b_inf = recommit / (lapse + recommit)``.
    """
    b = st[ix(ALLY, S_CONFIDENCE)]
    h = p[ALLY_LAPSE] + p[ALLY_RECOMMIT]
    if h <= 0.0:
        return b
    b_inf = p[ALLY_RECOMMIT] / h
    return b_inf + (b - b_inf) * np.exp(-h * (now - st[ix(ALLY, S_CONFIDENCE_T)]))


@njit(cache=True, inline="always")
def set_ally_belief(st, value, now):
    """Store the ally's belief as of ``now``."""
    st[ix(ALLY, S_CONFIDENCE)] = value
    st[ix(ALLY, S_CONFIDENCE_T)] = now


@njit(cache=True, inline="always")
def ally_update(b, l1, l0):
    """Bayes' rule for the ally: ``b l1 / (b l1 + (1 - b) l0)`` (unchanged if both likelihoods are 0)."""
    total = b * l1 + (1.0 - b) * l0
    if not total > 0.0:
        return b
    return b * l1 / total


@njit(cache=True, inline="always")
def channel_delay(p, keys, ctr, stream, adversaries):
    """Time a signal takes to arrive: ``delay_min + Exp(delay_mean)``, cut between the adversaries by a regime (hotline)."""
    d = p[DELAY_MIN] + exponential(keys, ctr, stream, p[DELAY_MEAN])
    if adversaries:
        d *= 1.0 - p[MIX_LSR] * p[LSR_DELAY_CUT]
    return d


@njit(cache=True, inline="always")
def note_peak(st, level):
    """Keep the highest level any move reached (for the violence measures)."""
    if level > st[X_PEAK]:
        st[X_PEAK] = level


# --- replication set-up and initial messages --------------------------------
@njit(cache=True)
def choose_mix(mix_cum, u):
    """Index of the strategy mix drawn by uniform ``u`` from cumulative weights."""
    k = 0
    while k < mix_cum.shape[0] - 1 and u >= mix_cum[k]:
        k += 1
    return k


@njit(cache=True)
def setup(p_mixes, mix_cum, seed, rep, st, keys, ctr, twin):
    """Start a replication: streams, the set-up draws and the initial state.

    Draws, in order, from the set-up stream: the defender's strategy mix, the
    challenger's motive (need-driven with probability ``p_need``), the
    challenger's intention (greedy with probability ``p_greedy``) and resolve,
    the defender's intention and resolve. ``twin = 1`` runs the
    complete-information twin of the replication (same streams; each side
    knows the other's type). Returns the mix index.
    """
    init_streams(seed, rep, keys, ctr)
    st[:] = 0.0
    st[X_OUTCOME] = NO_OUTCOME
    mix = choose_mix(mix_cum, uniform(keys, ctr, STREAM_SETUP))
    p = p_mixes[mix]
    st[X_MIX] = mix
    st[X_NEED] = 1.0 if uniform(keys, ctr, STREAM_SETUP) < p[C_P_NEED] else 0.0
    cg = 1 if uniform(keys, ctr, STREAM_SETUP) < p[C_P_GREEDY] else 0
    cr = 1 if uniform(keys, ctr, STREAM_SETUP) < p[C_P_RESOLVED] else 0
    dg = 1 if uniform(keys, ctr, STREAM_SETUP) < p[D_P_GREEDY] else 0
    dr = 1 if uniform(keys, ctr, STREAM_SETUP) < p[D_P_RESOLVED] else 0
    st[X_C_TYPE] = 2 * cg + cr
    st[X_D_TYPE] = 2 * dg + dr
    complete = 1.0 if (twin != 0 or p[COMPLETE_INFO] > 0.0) else 0.0
    st[X_COMPLETE] = complete
    if complete > 0.0:
        point_mass(2 * dg + dr, st, ix(CHALLENGER, S_BELIEF))
        point_mass(2 * cg + cr, st, ix(DEFENDER, S_BELIEF))
    else:
        prior_of(p, np.int64(DEFENDER), st, ix(CHALLENGER, S_BELIEF))
        prior_of(p, np.int64(CHALLENGER), st, ix(DEFENDER, S_BELIEF))
    st[X_CHALLENGE_TIME] = -1.0
    st[X_TERMS] = p[Q0]
    st[X_FINAL_TERMS] = p[Q0]
    st[X_DEMAND] = -1.0
    st[X_OFFER] = -1.0
    st[X_WINNER] = -1.0
    st[ix(CHALLENGER, S_KNOWN_TERMS)] = -1.0
    st[ix(DEFENDER, S_KNOWN_TERMS)] = -1.0
    st[ix(DEFENDER, S_READINESS)] = standing_readiness_of(p, DEFENDER)
    st[X_PROVOKED] = -1.0
    st[X_DETECTED] = -1.0
    st[X_NEXT_SWITCH] = np.inf
    st[X_ALLY_RISK] = -1.0
    if p[ALLY_PRESENT] > 0.0:  # the defender's hidden commitment, and the ally's prior about it
        st[X_COMMITTED] = 1.0 if uniform(keys, ctr, STREAM_COMMITMENT) < p[ALLY_P_COMMITTED] else 0.0
        st[X_NEXT_SWITCH] = switch_wait(p, keys, ctr, st[X_COMMITTED])
        set_ally_belief(st, p[ALLY_P_COMMITTED], 0.0)
        # the standing instruments (tripwire, alliance terms): deployed at t = 0, or withheld, by the defender's
        # commitment (one uniform each from the defender leader's stream)
        z = int(st[X_COMMITTED])
        deployed = 0
        for k, bit in ((TRIPWIRE, DEPLOYED_TRIPWIRE), (ALLIANCE_TERMS, DEPLOYED_TERMS)):
            if p[MIX_INSTR0 + k] > 0.0 and uniform(keys, ctr, 3 * DEFENDER + LEADER) < p[A_SEND + z * N_INSTRUMENTS + k]:
                deployed |= bit
        st[X_DEPLOYED] = deployed
    st[ix(DEFENDER, S_COMMITTED)] = policy_committed(p, DEFENDER, int(st[X_DEPLOYED]))
    return mix


@njit(cache=True)
def initial_messages(st, p, out):
    """Messages scheduled before the clock starts, all at t = 0: the challenger's, the defender's and (with an ally) the ally's start."""
    n = emit(out, 0, 1.0, 0.0, 3 * CHALLENGER + LEADER, MK_START, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    n = emit(out, n, 1.0, 0.0, 3 * DEFENDER + LEADER, MK_START, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if p[ALLY_PRESENT] > 0.0:
        n = emit(out, n, 1.0, 0.0, 3 * ALLY + LEADER, MK_START, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    return n


@njit(cache=True)
def finalize(st, p):
    """Close a replication at the horizon: never challenged, or a crisis still open (unresolved)."""
    if st[X_OUTCOME] == NO_OUTCOME:
        outcome = NO_CHALLENGE if st[X_CHALLENGE_TIME] < 0.0 else UNRESOLVED
        end_crisis(st, outcome, p[HORIZON], st[X_TERMS])


# --- perception and beliefs (model.md: Signals, Beliefs) ----------------------
@njit(cache=True, inline="always")
def misperception(p, sender_state):
    """Probability a move of ``sender_state`` is read one rung higher (cut by a regime, and by norms for the defender's moves)."""
    m = p[MISPERCEPTION] * (1.0 - p[MIX_LSR] * p[LSR_MIS_CUT])
    if sender_state == DEFENDER:
        m *= 1.0 - p[MIX_NC] * p[NC_MIS_CUT]
    return m


@njit(cache=True, inline="always")
def clarify_probability(p):
    """Probability an incident is recognised as an incident (norms of competition, a regime)."""
    return 1.0 - (1.0 - p[MIX_LSR] * p[LSR_CLARIFY]) * (1.0 - p[MIX_NC] * p[NC_CLARIFY])


@njit(cache=True)
def update_belief(st, p, ws, s, table, rung, forced, confusion):
    """Bayes update of leader ``s``'s belief on a perceived move of the adversary (model.md: Beliefs).

    ``table`` selects the likelihood: ``T_CHALLENGE``, ``T_ESCALATE`` or
    ``T_OFFER`` (read at ``rung``), or ``T_TRANSFER``. A perceived escalation
    may have been an offer misread (``confusion`` = the channel's
    misperception probability for this sender): its likelihood is
    ``T_ESCALATE + confusion * T_OFFER``. Nothing changes under complete
    information, or for a move forced by a known doctrine when attribution is
    situational (``belief.attribution = 0``).
    """
    if st[X_COMPLETE] > 0.0:
        return
    if forced and p[ATTRIBUTION] == 0.0:
        return
    adv = 1 - s
    lo = dc.SCR_LIK
    for k in range(N_TYPES):
        if table == T_CHALLENGE or table == T_TRANSFER:
            ws[lo + k] = p[table + k]
        elif table == T_ESCALATE:
            ws[lo + k] = p[t_index(T_ESCALATE, adv, k, rung)] + confusion * p[t_index(T_OFFER, adv, k, rung)]
        else:
            ws[lo + k] = p[t_index(table, adv, k, rung)]
    bias = p[MOTIVATED_BIAS] * st[X_NEED] if s == CHALLENGER else 0.0
    bayes(st, ix(s, S_BELIEF), ws, lo, bias)


# --- decisions (model.md: Decisions) -------------------------------------------------
@njit(cache=True)
def fill_situation(st, p, ws, s, now, allow):
    """Write leader ``s``'s situation (``decision.SIT_*``) into the scratch array."""
    adv = 1 - s
    ws[SIT + dc.SIT_SIDE] = s
    ws[SIT + dc.SIT_TYPE] = st[X_C_TYPE] if s == CHALLENGER else st[X_D_TYPE]
    ws[SIT + dc.SIT_OWN_LEVEL] = st[ix(s, S_LEVEL)]
    ws[SIT + dc.SIT_ADV_LEVEL] = st[ix(s, S_ADV_LEVEL)]
    ws[SIT + dc.SIT_Q] = st[X_TERMS]
    # the challenger knows its own demand; the defender knows the demand it perceived
    ws[SIT + dc.SIT_DEMAND] = st[X_DEMAND] if s == CHALLENGER else st[ix(DEFENDER, S_KNOWN_TERMS)]
    offered = st[ix(s, S_ADV_OFFERED)] > 0.0
    ws[SIT + dc.SIT_ADV_OFFER] = st[ix(CHALLENGER, S_KNOWN_TERMS)] if s == CHALLENGER else -1.0
    ws[SIT + dc.SIT_OWN_OFFER] = st[X_OFFER] if s == DEFENDER else -1.0
    ws[SIT + dc.SIT_NEED_OWN] = need_now(st, p, now) if s == CHALLENGER else 0.0
    ws[SIT + dc.SIT_NEED_ADV] = 0.0  # the defender does not model the challenger's need (Lebow & Stein)
    if st[X_COMPLETE] > 0.0:  # the adversary knows the decider's type
        own = st[X_C_TYPE] if s == CHALLENGER else st[X_D_TYPE]
        ws[SIT + dc.SIT_ADV_P_GREEDY] = 1.0 if int(own) >= 2 else 0.0
    else:
        ws[SIT + dc.SIT_ADV_P_GREEDY] = p[C_P_GREEDY] if s == CHALLENGER else p[D_P_GREEDY]
    ws[SIT + dc.SIT_COMMITTED] = st[ix(s, S_COMMITTED)]
    # commitments by policy: a posture (general deterrence, tripwire, terms) or a public statement made in the crisis
    deployed = int(st[X_DEPLOYED])
    ws[SIT + dc.SIT_POLICY_OWN] = max(policy_committed(p, s, deployed), st[X_STATEMENT] if s == DEFENDER else 0.0)
    ws[SIT + dc.SIT_POLICY_ADV] = max(policy_committed(p, adv, deployed), st[X_STATEMENT] if adv == DEFENDER else 0.0)
    ws[SIT + dc.SIT_PRESSURE_OWN] = pressure_now(st, p, s, now)
    ws[SIT + dc.SIT_READY_OWN] = st[ix(s, S_READINESS)]
    ws[SIT + dc.SIT_OWN_CAP] = escalation_cap(p, s, st[ix(s, S_FORCE_SEEN)])
    ws[SIT + dc.SIT_ADV_CAP] = escalation_cap(p, adv, st[X_FORCE])
    ws[SIT + dc.SIT_ALLOW] = allow
    ws[SIT + dc.SIT_YIELD_ACCEPTS] = 1.0 if (s == DEFENDER and offered) else 0.0
    # an uncommitted defender values its ally's stake less (read after committed_now has advanced the chain)
    uncommitted = s == DEFENDER and p[ALLY_PRESENT] > 0.0 and st[X_COMMITTED] == 0.0
    ws[SIT + dc.SIT_STAKE_VALUE] = p[ALLY_UNCOMMITTED] if uncommitted else 1.0
    ws[SIT + dc.SIT_NO_EXIT] = no_exit(p, deployed)
    ws[SIT + dc.SIT_ALLY_EFFORT] = ally_effort(p, deployed)
    ws[SIT + dc.SIT_BEST_OFFER] = -1.0


@njit(cache=True)
def challenger_menu(st, p):
    """The challenger's moves by its style (one branch per style; an unknown code is an error)."""
    style = int(p[C_STRATEGY])
    offered = st[ix(CHALLENGER, S_ADV_OFFERED)] > 0.0
    if style == C_PROBING:
        return BIT_WAR | BIT_YIELD | BIT_ACCEPT | BIT_ESCALATE | BIT_OFFER
    if style == C_FIRM:
        return BIT_WAR | BIT_YIELD | BIT_ACCEPT | BIT_ESCALATE
    if style == C_RECIPROCATING:
        if offered:
            return BIT_WAR | BIT_YIELD | BIT_ACCEPT | BIT_OFFER
        return BIT_WAR | BIT_YIELD | BIT_ACCEPT | BIT_ESCALATE
    st[X_ERROR] = ERR_UNKNOWN_STYLE
    return BIT_WAR | BIT_YIELD


@njit(cache=True)
def defender_menu(st, p, keys, ctr):
    """The defender's moves by its response rule (one branch per rule; an unknown code is an error).

    Returns the menu bit mask; war and yielding are always on it except when
    the rule forces the first response.
    """
    rule = int(p[MIX_RESPONSE])
    first = st[ix(DEFENDER, S_DECISIONS)] == 0.0
    offered = st[ix(DEFENDER, S_ADV_OFFERED)] > 0.0
    if rule == R_NONE:
        return BIT_WAR | BIT_YIELD | BIT_ESCALATE | BIT_OFFER
    if rule == R_IMMEDIATE_DETERRENCE:
        if first:
            return BIT_ESCALATE
        return BIT_WAR | BIT_YIELD | BIT_ESCALATE
    if rule == R_TIT_FOR_TAT:
        if first or offered:
            return BIT_WAR | BIT_YIELD | BIT_OFFER
        return BIT_WAR | BIT_YIELD | BIT_ESCALATE
    if rule == R_GENEROUS_TIT_FOR_TAT:
        if first or offered:
            return BIT_WAR | BIT_YIELD | BIT_OFFER
        if uniform(keys, ctr, 3 * DEFENDER + LEADER) < p[GENEROSITY]:
            return BIT_WAR | BIT_YIELD | BIT_OFFER
        return BIT_WAR | BIT_YIELD | BIT_ESCALATE
    if rule == R_RECIPROCAL_CONCESSIONS:
        if first:
            return BIT_OFFER
        return BIT_WAR | BIT_YIELD | BIT_ESCALATE | BIT_OFFER
    st[X_ERROR] = ERR_UNKNOWN_RESPONSE
    return BIT_WAR | BIT_YIELD


@njit(cache=True, inline="always")
def defender_incident_menu(p):
    """The defender's moves after an incident (an escalation it does not answer): its response rule's menu after an escalation.

    Immediate deterrence, tit for tat and generous tit for tat answer an escalation by war, yielding or escalating
    (generous tit for tat's draw is for answers, not for incidents); reciprocal concessions and no rule keep offers.
    """
    rule = int(p[MIX_RESPONSE])
    if rule == R_IMMEDIATE_DETERRENCE or rule == R_TIT_FOR_TAT or rule == R_GENEROUS_TIT_FOR_TAT:
        return BIT_WAR | BIT_YIELD | BIT_ESCALATE
    return BIT_WAR | BIT_YIELD | BIT_ESCALATE | BIT_OFFER


@njit(cache=True, inline="always")
def fallback_if_empty(ws, allow):
    """If no move on a forced menu is possible (e.g. no rung left to climb), war and yielding are."""
    for i in range(N_MOVES):
        if (allow >> i) & 1 and ws[dc.SCR_EV + i] > dc.NEG:
            return False
    return True


@njit(cache=True)
def decide(st, p, keys, ctr, ws, s, now, allow):
    """Leader ``s`` values its moves and chooses one by the logit rule (1 draw); returns the move.

    A forced menu (a doctrine leaving a single move) still draws, so that the
    number of draws does not depend on the menu.
    """
    if s == DEFENDER and p[ALLY_PRESENT] > 0.0:
        committed_now(st, p, keys, ctr, now)
    fill_situation(st, p, ws, s, now, allow)
    dc.evaluate_cached(p, ws, st, ix(s, S_BELIEF), st[X_MIX])
    if fallback_if_empty(ws, allow):
        fill_situation(st, p, ws, s, now, BIT_WAR | BIT_YIELD)
        dc.evaluate_cached(p, ws, st, ix(s, S_BELIEF), st[X_MIX])
    u = uniform(keys, ctr, 3 * s + LEADER)
    return dc.choose(p[PRECISION], ws, dc.SCR_EV, np.int64(N_MOVES), u, ws, dc.SCR_PROBS)


@njit(cache=True, inline="always")
def forced_menu(allow):
    """True if a menu leaves exactly one move besides war and yielding (and nothing else): a doctrine's forced move."""
    rest = allow & ~(BIT_WAR | BIT_YIELD)
    return rest != 0 and (rest & (rest - 1)) == 0


# --- sending moves -------------------------------------------------------------
@njit(cache=True)
def send_move(st, p, keys, ctr, out, n, s, role, level, flags, now, aux):
    """Send a public move of state ``s`` to the adversary's leader and, as observed copies, to its audience and the ally's audience.

    One delay draw from the sender's stream; every copy arrives at the same time.
    """
    adv = 1 - s
    sender = 3 * s + role
    d = channel_delay(p, keys, ctr, sender, True)
    if not flags & F_INCIDENT:
        note_peak(st, level)
    n = emit(out, n, 1.0, d, 3 * adv + LEADER, MK_SIGNAL, sender, level, 1.0, flags, now, aux)
    obs = flags | F_OBSERVED
    n = emit(out, n, 1.0, d, 3 * adv + AUDIENCE, MK_SIGNAL, sender, level, 1.0, obs, now, aux)
    if s == CHALLENGER and p[ALLY_PRESENT] > 0.0:
        n = emit(out, n, 1.0, d, 3 * ALLY + AUDIENCE, MK_SIGNAL, sender, level, 1.0, obs, now, aux)
    return n


@njit(cache=True)
def escalate(st, p, keys, ctr, out, n, s, level, flags, now):
    """Leader ``s`` climbs to ``level``: a public move that commits it; show of force and above is an order to its military, whose cost is sunk."""
    own = st[ix(s, S_LEVEL)]
    st[ix(s, S_SUNK)] += dc.mobilization_cost(p, own, level)
    st[ix(s, S_LEVEL)] = level
    if level >= THREAT:
        st[ix(s, S_COMMITTED)] = 1.0
    if s == DEFENDER:
        st[X_OFFER] = -1.0  # an escalation withdraws the defender's offer
    if level >= SHOW_OF_FORCE:
        return emit(out, n, 0.0, 0.0, 3 * s + MILITARY, MK_ORDER, 3 * s + LEADER, level, 1.0, flags, now, 0.0)
    return send_move(st, p, keys, ctr, out, n, s, np.int64(LEADER), level, flags, now, 0.0)


@njit(cache=True)
def go_to_war(st, p, keys, ctr, s, now):
    """Leader ``s`` starts a war: one draw decides the winner (strength, readiness, first strike)."""
    rc = st[ix(CHALLENGER, S_READINESS)]
    rd = st[ix(DEFENDER, S_READINESS)]
    pi = dc.win_probability(p, rc, rd, s, ally_effort(p, int(st[X_DEPLOYED])))
    won = uniform(keys, ctr, 3 * s + LEADER) < pi
    if s == CHALLENGER and p[ALLY_PRESENT] > 0.0:
        st[X_C_FORCE] = 1.0  # a war the challenger starts is an attack on the ally
    st[X_WINNER] = 0.0 if won else 1.0
    st[X_INADVERTENT] = st[ix(s, S_LAST_MISREAD)]
    end_crisis(st, WAR_OUTCOME, now, 1.0 if won else 0.0)


@njit(cache=True)
def carry_out(st, p, keys, ctr, ws, out, n, info, s, move, forced, now):
    """Carry out the chosen crisis move of leader ``s`` (model.md: Moves)."""
    flags = F_FORCED if forced else 0
    st[ix(s, S_DECISIONS)] += 1.0
    if move == MV_WAR:
        go_to_war(st, p, keys, ctr, s, now)
        info[I_EVENT] = EV_WAR
        return n
    if move == MV_YIELD:
        if s == CHALLENGER:
            end_crisis(st, CHALLENGER_BACKS_DOWN, now, st[X_TERMS])
            info[I_EVENT] = EV_BACK_DOWN
        elif st[ix(DEFENDER, S_ADV_OFFERED)] > 0.0:
            end_crisis(st, SETTLEMENT, now, st[ix(DEFENDER, S_KNOWN_TERMS)])
            info[I_EVENT] = EV_SETTLE
        else:
            end_crisis(st, DEFENDER_CONCEDES, now, st[ix(DEFENDER, S_KNOWN_TERMS)])
            info[I_EVENT] = EV_CONCEDE
            if st[ix(DEFENDER, S_COMMITTED)] > 0.0:  # a public commitment not honoured
                st[X_AUDIENCE_PAID] += dc.audience_cost(p, 1.0, pressure_now(st, p, DEFENDER, now))
            if p[ALLY_PRESENT] > 0.0 and st[X_C_FORCE] > 0.0:  # the ally was attacked and the defender did not fight
                st[X_ABANDONED] = 1.0
        info[I_VALUE] = st[X_FINAL_TERMS]
        return n
    if move == MV_ACCEPT:  # binding at once, at the terms the challenger perceived
        terms = st[ix(CHALLENGER, S_KNOWN_TERMS)]
        end_crisis(st, SETTLEMENT, now, terms)
        info[I_EVENT] = EV_SETTLE
        info[I_VALUE] = terms
        return n
    if move == MV_ESCALATE:
        top = max(st[ix(s, S_LEVEL)], st[ix(s, S_ADV_LEVEL)])
        level = max(top + 1.0, float(THREAT)) if (s == DEFENDER and int(p[MIX_RESPONSE]) == R_IMMEDIATE_DETERRENCE) else top + 1.0
        level = min(level, float(TOP_RUNG))
        info[I_EVENT] = EV_ESCALATE
        info[I_LEVEL] = level
        return escalate(st, p, keys, ctr, out, n, s, level, flags, now)
    # MV_OFFER: new terms at the current level, sent at once by the leader
    y = ws[SIT + dc.SIT_BEST_OFFER]
    if s == CHALLENGER:
        st[X_DEMAND] = y
    else:
        st[X_OFFER] = y
    info[I_EVENT] = EV_OFFER
    info[I_VALUE] = y
    return send_move(st, p, keys, ctr, out, n, s, np.int64(LEADER), st[ix(s, S_LEVEL)], flags | F_OFFER, now, y)


# --- leaders -------------------------------------------------------------------
@njit(cache=True)
def receive_reports(st, p, keys, ctr, ws, info, s):
    """At t = 0: reports on the adversary's type from a regime (both sides) and norms of competition, and the tripwire (challenger)."""
    stream = 3 * s + LEADER
    adv_type = int(st[X_D_TYPE] if s == CHALLENGER else st[X_C_TYPE])
    bo = ix(s, S_BELIEF)
    if p[MIX_LSR] > 0.0:
        for dim in (DIM_INTENTION, DIM_RESOLVE):
            truth = (adv_type >> dim) & 1
            right = uniform(keys, ctr, stream) < p[LSR_ACCURACY]
            report(st, bo, dim, truth if right else 1 - truth, p[LSR_ACCURACY])
            info[I_EVENT] = EV_REPORT
    if s == CHALLENGER and int(st[X_DEPLOYED]) & DEPLOYED_TRIPWIRE and st[X_COMPLETE] == 0.0:
        lr = p[TRIPWIRE_LR]  # troops on the ally's soil: evidence that the defender is resolved (small by default)
        lo = dc.SCR_LIK
        for k in range(N_TYPES):
            ws[lo + k] = lr if k & 1 else 1.0
        bayes(st, bo, ws, lo, p[MOTIVATED_BIAS] * st[X_NEED])
    if s == CHALLENGER and p[MIX_NC] > 0.0:
        truth = (adv_type >> DIM_INTENTION) & 1
        right = uniform(keys, ctr, stream) < p[NC_ACCURACY]
        report(st, bo, np.int64(DIM_INTENTION), truth if right else 1 - truth, p[NC_ACCURACY])
        info[I_EVENT] = EV_REPORT


@njit(cache=True, inline="always")
def next_opportunity(p, keys, ctr, out, n, now):
    """Schedule the challenger's next challenge opportunity after an exponential wait (none if the rate is 0)."""
    rate = p[OPPORTUNITY_RATE]
    if rate <= 0.0:
        return n
    me = 3 * CHALLENGER + LEADER
    d = exponential(keys, ctr, me, 1.0 / rate)
    return emit(out, n, 1.0, d, me, MK_OPPORTUNITY, me, 0.0, 0.0, 0.0, now, 0.0)


@njit(cache=True)
def opportunity(st, p, keys, ctr, ws, out, info, now):
    """A challenge opportunity: challenge (a demand), wait, or strike (model.md: Challenge opportunities)."""
    s = np.int64(CHALLENGER)  # not a literal: see the performance note
    fill_situation(st, p, ws, s, now, BIT_WAIT | BIT_WAR)
    demand = dc.screening_demand(p, ws, st, ix(s, S_BELIEF))
    allow = BIT_WAIT | BIT_WAR
    if demand >= 0.0:
        allow |= BIT_ESCALATE
        st[X_DEMAND] = demand
    move = decide(st, p, keys, ctr, ws, s, now, allow)
    if move == MV_WAIT:
        st[X_DEMAND] = -1.0
        info[I_EVENT] = EV_WAIT
        info[I_VALUE] = ws[dc.SCR_PROBS + MV_WAIT]
        return next_opportunity(p, keys, ctr, out, 0, now)
    st[X_CHALLENGE_TIME] = now
    if st[X_PROVOKED] >= 0.0:  # the crisis opens after the ally provoked the challenger
        st[X_ALLY_OPENED] = 1.0
    if move == MV_WAR:
        st[X_DEMAND] = -1.0
        go_to_war(st, p, keys, ctr, s, now)
        info[I_EVENT] = EV_WAR
        return 0
    info[I_EVENT] = EV_CHALLENGE
    info[I_LEVEL] = DEMAND
    info[I_VALUE] = demand
    st[ix(s, S_LEVEL)] = DEMAND
    return send_move(st, p, keys, ctr, out, 0, s, np.int64(LEADER), float(DEMAND), np.int64(0), now, demand)


@njit(cache=True)
def perceive_move(st, p, keys, ctr, ws, info, s, msg):
    """Leader ``s`` perceives an adversary move (1 draw) and updates its belief; returns the perceived level, or -1 for a recognised incident.

    A move at a level from demand to mobilization is read one rung higher
    with the channel's misperception probability; an offer so misread loses
    its terms and is read as an escalation (a conciliatory move taken for a
    hostile one). An incident is recognised as one with the clarification
    probability (norms, regimes); otherwise it is read as deliberate limited
    force.
    """
    sender_state = int(msg[M_SENDER]) // 3
    flags = int(msg[M_FLAGS])
    level = msg[M_LEVEL]
    u = uniform(keys, ctr, 3 * s + LEADER)
    misread = 0
    offer = (flags & F_OFFER) != 0
    before_top = int(max(1.0, max(st[ix(s, S_LEVEL)], st[ix(s, S_ADV_LEVEL)])))
    first_move = st[ix(s, S_ADV_LEVEL)] == 0.0 and s == DEFENDER
    m = misperception(p, sender_state)
    if flags & F_INCIDENT:
        if u < clarify_probability(p):
            info[I_EVENT] = EV_RECOGNISED
            return -1.0
        perceived = float(LIMITED_FORCE)
        offer = False
        update_belief(st, p, ws, s, np.int64(T_ESCALATE), np.int64(MOBILIZATION), np.bool_(False), 0.0)
    else:
        perceived = level
        if level >= DEMAND and level < LIMITED_FORCE and u < m:
            perceived = level + 1.0
            misread = 1
            offer = False
        forced = (flags & F_FORCED) != 0
        if first_move:
            update_belief(st, p, ws, s, np.int64(T_CHALLENGE), np.int64(0), forced, 0.0)
        elif offer:
            update_belief(st, p, ws, s, np.int64(T_OFFER), before_top, forced, 0.0)
        else:
            update_belief(st, p, ws, s, np.int64(T_ESCALATE), before_top, forced, m)
    st[ix(s, S_ADV_LEVEL)] = perceived
    st[ix(s, S_ADV_OFFERED)] = 1.0 if offer else 0.0
    if offer or first_move:
        st[ix(s, S_KNOWN_TERMS)] = msg[M_AUX]
    elif s == CHALLENGER:
        st[ix(s, S_KNOWN_TERMS)] = -1.0  # a defender escalation withdraws its offer
    st[ix(s, S_LAST_MISREAD)] = 1.0 if (misread or (flags & F_INCIDENT)) else 0.0
    if perceived >= LIMITED_FORCE:
        st[ix(s, S_FORCE_SEEN)] = 1.0
        st[X_FORCE] = 1.0
    info[I_EVENT] = EV_PERCEIVED
    info[I_PERCEIVED] = perceived
    info[I_MISPERCEIVED] = misread
    info[I_VALUE] = dc.p_greedy(st, ix(s, S_BELIEF))
    return perceived


@njit(cache=True)
def incident_check(st, p, keys, ctr, ws, info, s, now):
    """After an unrecognised incident: war, or carry on (1 draw); no reply is sent.

    The leader compares war with the logit value of the other moves on its
    menu: ``P(war) = 1 / (1 + exp(-lambda * (EV(war) - V(carry on))))``.
    """
    allow = challenger_menu(st, p) if s == CHALLENGER else defender_incident_menu(p)
    if s == DEFENDER and p[ALLY_PRESENT] > 0.0:
        committed_now(st, p, keys, ctr, now)
    fill_situation(st, p, ws, s, now, allow)
    dc.evaluate_cached(p, ws, st, ix(s, S_BELIEF), st[X_MIX])
    war = ws[dc.SCR_EV + MV_WAR]
    ws[dc.SCR_EV + MV_WAR] = dc.NEG
    dc.logit_probabilities(p[PRECISION], ws, dc.SCR_EV, np.int64(N_MOVES), ws, dc.SCR_PROBS)
    cont = 0.0
    total = 0.0
    for i in range(N_MOVES):
        if ws[dc.SCR_PROBS + i] > 0.0:
            cont += ws[dc.SCR_PROBS + i] * ws[dc.SCR_EV + i]
            total += ws[dc.SCR_PROBS + i]
    if total > 0.0:
        x = p[PRECISION] * (war - cont)
        p_war = 1.0 / (1.0 + np.exp(-x)) if x > -700.0 else 0.0
    else:  # nothing but war is left (a defender with no exit at limited force): it fights
        p_war = 1.0
    info[I_VALUE] = p_war
    if uniform(keys, ctr, 3 * s + LEADER) < p_war:
        go_to_war(st, p, keys, ctr, s, now)
        info[I_EVENT] = EV_WAR
    else:
        info[I_EVENT] = EV_INCIDENT


@njit(cache=True)
def leader_signal(st, p, keys, ctr, ws, out, info, s, msg, now):
    """A crisis leader perceives an adversary move, then decides (or, after an incident, checks for war)."""
    perceived = perceive_move(st, p, keys, ctr, ws, info, s, msg)
    if perceived < 0.0:
        return 0
    if int(msg[M_FLAGS]) & F_INCIDENT:
        incident_check(st, p, keys, ctr, ws, info, s, now)
        return 0
    if s == CHALLENGER:
        allow = challenger_menu(st, p)
    else:
        allow = defender_menu(st, p, keys, ctr)
    forced = forced_menu(allow)
    move = decide(st, p, keys, ctr, ws, s, now, allow)
    return carry_out(st, p, keys, ctr, ws, out, 0, info, s, move, forced, now)


@njit(cache=True)
def transfer_received(st, p, ws, info, msg):
    """The challenger receives a GRIT transfer: the status quo moves in its favour; it updates its belief about the defender's intention."""
    amount = msg[M_AUX]
    st[X_TERMS] = min(1.0, st[X_TERMS] + amount)
    update_belief(st, p, ws, np.int64(CHALLENGER), np.int64(T_TRANSFER), np.int64(0), np.bool_(True), 0.0)
    info[I_EVENT] = EV_TRANSFER
    info[I_VALUE] = st[X_TERMS]


@njit(cache=True)
def grit_step(st, p, keys, ctr, out, n, now):
    """The defender makes its next announced GRIT transfer (seen by the challenger after a delay) and schedules the one after."""
    src = 3 * DEFENDER + LEADER
    d = channel_delay(p, keys, ctr, src, True)
    amount = p[GRIT_TRANSFER]
    n = emit(out, n, 1.0, d, 3 * CHALLENGER + LEADER, MK_TRANSFER, src, CONCESSION, 1.0, F_FORCED, now, amount)
    n = emit(out, n, 1.0, d, 3 * CHALLENGER + AUDIENCE, MK_SIGNAL, src, CONCESSION, 1.0, F_OBSERVED | F_OFFER, now, amount)
    st[X_TRANSFERS] += 1.0
    if st[X_TRANSFERS] < p[GRIT_STEPS]:
        n = emit(out, n, 1.0, p[GRIT_INTERVAL], src, MK_GRIT, src, 0.0, 0.0, 0.0, now, 0.0)
    return n


@njit(cache=True)
def send_reassurance(st, p, keys, ctr, out, n, now, renewal):
    """The defender reassures its ally with the instruments of its mix (all at t = 0, the renewable ones at renewals).

    For each renewable instrument, one uniform decides whether the defender actually sends it (the tripwire and
    alliance terms were decided at set-up, ``X_DEPLOYED``, with the same probability): with probability
    ``signals.A_SEND[z][k]``, a logit choice between the value of a reassured ally (less if it is not committed,
    ``z = 0``) and the instrument's cost (plus, for an uncommitted defender's public statement, the audience cost
    it risks). Then one delay draw: the instrument, or the news that it was withheld, reaches the ally. Each
    instrument sent costs ``effects.cost_<k>``. While a crisis is open, the challenger's audience sees public
    statements (as a threat) and exercises (as a show of force), and a public statement commits the defender.
    """
    src = 3 * DEFENDER + LEADER
    first = PUBLIC_STATEMENT if renewal else TRIPWIRE
    z = committed_now(st, p, keys, ctr, now)
    for k in range(first, N_INSTRUMENTS):
        if p[MIX_INSTR0 + k] <= 0.0:
            continue
        if k == TRIPWIRE or k == ALLIANCE_TERMS:  # decided at set-up (X_DEPLOYED)
            bit = DEPLOYED_TRIPWIRE if k == TRIPWIRE else DEPLOYED_TERMS
            sent = (int(st[X_DEPLOYED]) & bit) != 0
        else:
            sent = uniform(keys, ctr, src) < p[A_SEND + int(z) * N_INSTRUMENTS + k]
        d = channel_delay(p, keys, ctr, src, False)
        public = 0.0 if k == PRIVATE_STATEMENT else 1.0
        if not sent:
            n = emit(out, n, 1.0, d, 3 * ALLY + LEADER, MK_SUPPORT, src, 0.0, public, F_WITHHELD, now, k)
            continue
        st[X_REASSURANCE_COST] += p[COST0 + k]
        n = emit(out, n, 1.0, d, 3 * ALLY + LEADER, MK_SUPPORT, src, 0.0, public, 0.0, now, k)
        if not crisis_open(st):
            continue
        if k == PUBLIC_STATEMENT or k == EXERCISES:
            level = THREAT if k == PUBLIC_STATEMENT else SHOW_OF_FORCE
            if k == PUBLIC_STATEMENT:
                st[ix(DEFENDER, S_COMMITTED)] = 1.0
                st[X_STATEMENT] = 1.0
            n = emit(out, n, 1.0, d, 3 * CHALLENGER + AUDIENCE, MK_SIGNAL, src, level, 1.0, F_OBSERVED, now, k)
    return n


@njit(cache=True, inline="always")
def has_renewable(p):
    """True if the mix holds an instrument that is renewed (statements, aid, exercises)."""
    for k in range(PUBLIC_STATEMENT, N_INSTRUMENTS):
        if p[MIX_INSTR0 + k] > 0.0:
            return True
    return False


@njit(cache=True, inline="always")
def leader(st, p, keys, ctr, ws, out, info, s, msg, now):
    """Handler of the leaders of the challenger and the defender."""
    kind = int(msg[M_KIND])
    me = 3 * s + LEADER
    if kind == MK_START:
        info[I_EVENT] = EV_START
        receive_reports(st, p, keys, ctr, ws, info, s)
        if s == CHALLENGER:
            return next_opportunity(p, keys, ctr, out, 0, now)
        n = 0
        if p[MIX_GRIT] > 0.0 and p[GRIT_STEPS] > 0.0:
            n = grit_step(st, p, keys, ctr, out, n, now)
        if p[ALLY_PRESENT] > 0.0:
            n = send_reassurance(st, p, keys, ctr, out, n, now, np.bool_(False))
            if p[RENEWAL] > 0.0 and has_renewable(p):
                n = emit(out, n, 1.0, p[RENEWAL], me, MK_RENEW, me, 0.0, 0.0, 0.0, now, 0.0)
        return n
    if kind == MK_DETECT:
        programme_detected(st, info, msg, now)
        return 0
    if kind == MK_PROVOKE:  # the ally's provocation arrives: it adds to the challenger's costs of inaction
        if st[X_PROVOKED] < 0.0:
            st[X_PROVOKED] = now
        info[I_EVENT] = EV_PROVOKE
        return 0
    if kind == MK_RENEW:  # reassurance of the ally outlives the crisis
        info[I_EVENT] = EV_RENEW
        n = send_reassurance(st, p, keys, ctr, out, np.int64(0), now, np.bool_(True))
        return emit(out, n, 1.0, p[RENEWAL], me, MK_RENEW, me, 0.0, 0.0, 0.0, now, 0.0)
    if crisis_over(st):
        return 0
    if kind == MK_OPPORTUNITY:
        if st[X_CHALLENGE_TIME] >= 0.0:
            return 0
        return opportunity(st, p, keys, ctr, ws, out, info, now)
    if kind == MK_GRIT:
        info[I_EVENT] = EV_TRANSFER
        return grit_step(st, p, keys, ctr, out, 0, now)
    if kind == MK_TRANSFER:
        transfer_received(st, p, ws, info, msg)
        return 0
    return leader_signal(st, p, keys, ctr, ws, out, info, s, msg, now)


# --- audiences ---------------------------------------------------------------
@njit(cache=True, inline="always")
def audience(st, p, keys, ctr, out, info, s, msg, now):
    """Domestic audiences react to the adversary's public moves (Fearon 1994).

    Crisis audiences: pressure (in stake units) decays, rises with each hostile
    public move (less if the defender exercises self-restraint) and falls with
    an offer or a transfer; it adds to the leader's cost of yielding. The
    ally's audience passes each challenger move on to its leader as fear.
    """
    if crisis_over(st):
        return 0
    level = msg[M_LEVEL]
    if s == ALLY:
        info[I_EVENT] = EV_PRESSURE
        info[I_LEVEL] = level
        return emit(out, 0, 0.0, 0.0, 3 * ALLY + LEADER, MK_PRESSURE, 3 * s + AUDIENCE, level, 0.0, 0.0, now, level)
    pr = pressure_now(st, p, s, now)
    if int(msg[M_FLAGS]) & F_OFFER or level == CONCESSION:
        pr *= 1.0 - p[CONCESSION_RELIEF]
    else:
        gain = p[PRESSURE_GAIN] * level / 5.0
        if int(msg[M_SENDER]) // 3 == DEFENDER:
            gain *= 1.0 - p[MIX_SR] * p[SR_PRESSURE_CUT]
        pr += gain
    st[ix(s, S_PRESSURE)] = pr
    st[ix(s, S_PRESSURE_T)] = now
    info[I_EVENT] = EV_PRESSURE
    info[I_VALUE] = pr
    return 0


# --- militaries --------------------------------------------------------------
@njit(cache=True, inline="always")
def military(st, p, keys, ctr, out, info, s, msg, now):
    """Militaries carry out orders after a delay and cause incidents.

    An order at a show of force or above is carried out after
    ``Exp(execution_delay_mean * (level - 2))`` days; then readiness becomes
    ``(level - 1) / 4`` and the move is sent; the first such move starts the
    incident clock. Each incident tick is a candidate incident (thinning):
    accepted with probability ``incident_rate * tick_mean * readiness *
    adversary readiness`` (cut by a regime), then the next tick is drawn.
    """
    if crisis_over(st):
        return 0
    kind = int(msg[M_KIND])
    me = 3 * s + MILITARY
    level = int(msg[M_LEVEL])
    if kind == MK_ORDER:
        d = exponential(keys, ctr, me, p[EXEC_DELAY] * (level - 2.0))
        info[I_EVENT] = EV_ORDER
        info[I_LEVEL] = level
        return emit(out, 0, 1.0, d, me, MK_EXECUTED, me, level, msg[M_PUBLIC], msg[M_FLAGS], now, 0.0)
    if kind == MK_EXECUTED:
        st[ix(s, S_READINESS)] = max(st[ix(s, S_READINESS)], max(standing_readiness_of(p, s), (level - 1.0) / 4.0))
        info[I_EVENT] = EV_EXECUTED
        info[I_LEVEL] = level
        n = send_move(st, p, keys, ctr, out, 0, s, np.int64(MILITARY), float(level), int(msg[M_FLAGS]), now, 0.0)
        if level >= LIMITED_FORCE:
            st[X_FORCE] = 1.0
            if s == CHALLENGER and p[ALLY_PRESENT] > 0.0:  # an attack on the ally
                st[X_C_FORCE] = 1.0
        if st[ix(s, S_CLOCK_ON)] == 0.0:
            st[ix(s, S_CLOCK_ON)] = 1.0
            d = exponential(keys, ctr, me, p[TICK_MEAN])
            n = emit(out, n, 1.0, d, me, MK_INCIDENT_TICK, me, 0.0, 0.0, 0.0, now, 0.0)
        return n
    # MK_INCIDENT_TICK
    u = uniform(keys, ctr, me)
    rate = p[INCIDENT_RATE] * (1.0 - p[MIX_LSR] * p[LSR_INCIDENT_CUT])
    accept = rate * p[TICK_MEAN] * st[ix(s, S_READINESS)] * st[ix(1 - s, S_READINESS)]
    n = 0
    info[I_EVENT] = EV_TICK
    if u < accept:
        info[I_EVENT] = EV_INCIDENT
        st[X_INCIDENTS] += 1.0
        n = send_move(st, p, keys, ctr, out, n, s, np.int64(MILITARY), float(LIMITED_FORCE), np.int64(F_INCIDENT), now, 0.0)
    d = exponential(keys, ctr, me, p[TICK_MEAN])
    return emit(out, n, 1.0, d, me, MK_INCIDENT_TICK, me, 0.0, 0.0, 0.0, now, 0.0)


# --- the ally (model.md: The ally) -------------------------------------------------------
@njit(cache=True, inline="always")
def absorb_conduct(st, p, now):
    """Once a crisis has an outcome, the ally reads the defender's conduct in it (at its next message).

    The likelihoods are the defender's probabilities of yielding at its first answer, committed or not
    (``signals.A_YIELD``): yielding ``A_YIELD[z]``, standing firm (every other outcome of a crisis)
    ``1 - A_YIELD[z]``. Yielding is usually evidence that the defender is not committed; where a committed
    defender yields more often (rare in the box: when yielding keeps more than the expected share of a war),
    the ally's model says so and a concession raises its belief.
    """
    if st[X_CONDUCT_SEEN] > 0.0 or st[X_OUTCOME] == NO_OUTCOME or st[X_CHALLENGE_TIME] < 0.0:
        return
    st[X_CONDUCT_SEEN] = 1.0
    b = ally_belief_now(st, p, now)
    y1 = p[A_YIELD + 1]
    y0 = p[A_YIELD]
    if st[X_OUTCOME] == DEFENDER_CONCEDES:
        b = ally_update(b, y1, y0)
    else:
        b = ally_update(b, 1.0 - y1, 1.0 - y0)
    set_ally_belief(st, b, now)


@njit(cache=True, inline="always")
def ally_attack_risk(st, p):
    """The ally's probability of being attacked within a year: ``ally.threat``, raised by an open crisis.

    During a crisis it is ``threat + (1 - threat) * L / 5`` for the highest challenger level ``L`` the ally has seen.
    """
    base = p[ALLY_THREAT]
    if crisis_open(st):
        return base + (1.0 - base) * st[ix(ALLY, S_ADV_LEVEL)] / 5.0
    return base


@njit(cache=True)
def ally_review(st, p, keys, ctr, ws, out, info, now):
    """The ally's decision at a review: stay, hedge (run a programme) or take risks (1 draw; model.md: The ally).

    Values over the next year, with belief ``b`` that the defender is committed, attack risk ``a``, exposure
    ``e``: stay ``-e a (1 - b)``; hedge ``-c - e a (1 - b) (1 - protection)`` (``c`` = programme cost); take
    risks ``b g - (1 - b) e a'`` with ``g`` = risk gain and ``a' = a + (1 - a) provocation_attack``. A logit
    choice with precision ``ally.precision``.
    """
    me = 3 * ALLY + LEADER
    b = ally_belief_now(st, p, now)
    set_ally_belief(st, b, now)
    a = ally_attack_risk(st, p)
    e = p[ALLY_EXPOSURE]
    hedging = st[ix(ALLY, S_HEDGING)] > 0.0
    ev = dc.SCR_EV
    for i in range(N_MOVES):
        ws[ev + i] = dc.NEG
    ws[ev + 0] = -e * a * (1.0 - b)  # stay (or shelve a running programme)
    if st[X_PROLIFERATED] == 0.0:
        ws[ev + 1] = -p[ALLY_PROG_COST] - e * a * (1.0 - b) * (1.0 - p[ALLY_PROTECTION])  # hedge
    if p[ALLY_RISK_TAKING] > 0.0 and st[X_ALLY_RISK] < 0.0 and not crisis_over(st):
        a_risk = a + (1.0 - a) * p[ALLY_PROVOKE_ATTACK]
        ws[ev + 2] = b * p[ALLY_RISK_GAIN] - (1.0 - b) * e * a_risk  # take risks against the challenger
    u = uniform(keys, ctr, me)
    choice = dc.choose(p[ALLY_PRECISION], ws, ev, np.int64(3), u, ws, dc.SCR_PROBS)
    info[I_VALUE] = b
    n = 0
    if choice == 1:
        if not hedging:
            st[ix(ALLY, S_HEDGING)] = 1.0
            st[ix(ALLY, S_PROGRAMME)] += 1.0
            st[X_PROGRAMME_STARTED] = 1.0
            info[I_EVENT] = EV_HEDGE_START
            n = emit(out, n, 0.0, 0.0, 3 * ALLY + MILITARY, MK_ORDER, me, 0.0, 0.0, 0.0, now, st[ix(ALLY, S_PROGRAMME)])
        else:
            info[I_EVENT] = EV_REVIEW
    elif choice == 2:  # the provocation acts when it reaches the challenger
        st[X_ALLY_RISK] = now
        info[I_EVENT] = EV_PROVOKE
        d = channel_delay(p, keys, ctr, me, False)
        n = emit(out, n, 1.0, d, 3 * CHALLENGER + LEADER, MK_PROVOKE, me, THREAT, 1.0, 0.0, now, 0.0)
        n = emit(out, n, 1.0, d, 3 * CHALLENGER + AUDIENCE, MK_SIGNAL, me, THREAT, 1.0, F_OBSERVED, now, 0.0)
    else:
        if hedging:
            st[ix(ALLY, S_HEDGING)] = 0.0
            info[I_EVENT] = EV_HEDGE_STOP
        else:
            info[I_EVENT] = EV_STAY
    return emit(out, n, 1.0, p[ALLY_REVIEW], me, MK_REVIEW, me, 0.0, 0.0, 0.0, now, 0.0)


@njit(cache=True, inline="always")
def ally_leader(st, p, keys, ctr, ws, out, info, msg, now):
    """The ally's leader: filters the defender's commitment from what it perceives, and acts at its reviews."""
    kind = int(msg[M_KIND])
    me = 3 * ALLY + LEADER
    absorb_conduct(st, p, now)
    if kind == MK_START:
        info[I_EVENT] = EV_START
        return emit(out, 0, 1.0, p[ALLY_REVIEW], me, MK_REVIEW, me, 0.0, 0.0, 0.0, now, 0.0)
    if kind == MK_SUPPORT:  # an instrument sent, or a renewal the ally expected and did not get
        k = int(msg[M_AUX])
        s1 = p[A_SEND + N_INSTRUMENTS + k]
        s0 = p[A_SEND + k]
        b = ally_belief_now(st, p, now)
        if int(msg[M_FLAGS]) & F_WITHHELD:
            b = ally_update(b, 1.0 - s1, 1.0 - s0)
            info[I_EVENT] = EV_WITHHELD
        else:
            b = ally_update(b, s1, s0)
            info[I_EVENT] = EV_SUPPORT
        set_ally_belief(st, b, now)
        info[I_LEVEL] = k
        info[I_VALUE] = b
        return 0
    if kind == MK_PRESSURE:  # a challenger move seen by the ally's audience
        st[ix(ALLY, S_ADV_LEVEL)] = max(st[ix(ALLY, S_ADV_LEVEL)], msg[M_AUX])
        info[I_EVENT] = EV_PRESSURE
        return 0
    return ally_review(st, p, keys, ctr, ws, out, info, now)


@njit(cache=True, inline="always")
def ally_military(st, p, keys, ctr, out, info, msg, now):
    """The ally's programme: it matures after an exponential time and may be detected by the challenger first.

    An ``order`` starts programme ``aux``: two draws (stream 8), the day it would mature and the day the
    challenger would detect it; both are ignored if the programme has been shelved by then.
    """
    me = 3 * ALLY + MILITARY
    if int(msg[M_KIND]) == MK_ORDER:
        info[I_EVENT] = EV_ORDER
        prog = msg[M_AUX]
        n = emit(out, 0, 1.0, exponential(keys, ctr, me, p[ALLY_PROG_TIME]), me, MK_HEDGE_DONE, me, 0.0, 0.0, 0.0, now, prog)
        rate = p[ALLY_DETECTION]
        if rate > 0.0:
            n = emit(out, n, 1.0, exponential(keys, ctr, me, 1.0 / rate), 3 * CHALLENGER + LEADER, MK_DETECT, me, 0.0,
                     0.0, 0.0, now, prog)
        return n
    if st[ix(ALLY, S_HEDGING)] > 0.0 and msg[M_AUX] == st[ix(ALLY, S_PROGRAMME)] and st[X_PROLIFERATED] == 0.0:
        st[X_PROLIFERATED] = 1.0
        st[X_PROLIF_TIME] = now
        info[I_EVENT] = EV_PROLIFERATE
    else:
        info[I_EVENT] = EV_PROGRAMME_SHELVED
    return 0


@njit(cache=True, inline="always")
def programme_detected(st, info, msg, now):
    """The challenger detects the ally's programme, if it still runs: from now on it adds to its costs of inaction."""
    if st[ix(ALLY, S_HEDGING)] > 0.0 and msg[M_AUX] == st[ix(ALLY, S_PROGRAMME)] and st[X_DETECTED] < 0.0:
        st[X_DETECTED] = now
        info[I_EVENT] = EV_DETECTED


# --- the single entry point -----------------------------------------------------
@njit(cache=True)
def handle(actor, msg, now, st, p, keys, ctr, ws, out, info):
    """Let ``actor`` handle one message at time ``now``.

    Returns the number of rows written to ``out``. ``info`` receives what
    happened, for the trace (event code, perceived level, misread flag, level,
    value). ``ws`` is the decision layer's scratch array.
    """
    st[X_EVENTS] += 1.0
    info[I_EVENT] = EV_IGNORED
    info[I_PERCEIVED] = -1.0
    info[I_MISPERCEIVED] = 0.0
    info[I_LEVEL] = -1.0
    info[I_VALUE] = -1.0
    s = actor // 3
    role = actor % 3
    if s == ALLY:
        if role == LEADER:
            return ally_leader(st, p, keys, ctr, ws, out, info, msg, now)
        if role == AUDIENCE:
            return audience(st, p, keys, ctr, out, info, s, msg, now)
        return ally_military(st, p, keys, ctr, out, info, msg, now)
    if role == LEADER:
        return leader(st, p, keys, ctr, ws, out, info, s, msg, now)
    if role == AUDIENCE:
        return audience(st, p, keys, ctr, out, info, s, msg, now)
    return military(st, p, keys, ctr, out, info, s, msg, now)


@njit(cache=True)
def run_done(st, p):
    """A run stops once it has an outcome, unless an ally is followed to the horizon."""
    return st[X_OUTCOME] != NO_OUTCOME and p[ALLY_PRESENT] == 0.0
