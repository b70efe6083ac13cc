"""The rules of the crisis model, written once for both engines.

Each actor (a leader, an audience or a military of the challenger, the
defender or the ally) reacts to one message at a time through
:func:`handle`. A handler reads the state vector and the parameter vector,
draws from its own actor's random stream, updates the state, and writes the
messages it sends into ``out`` (one row each: put into a target's inbox now,
or deliver after a delay). It never schedules anything itself: scheduling is
the engine's job — SimPy stores and timeouts in the reference engine, a
compiled heap in the Monte Carlo core. Both engines call these same compiled
functions, so a rule cannot drift between them.

``docs/model.md`` states every rule below in words with its sources; the
comments here point to the section.

Performance note: the rules a handler calls are inlined into it at Numba-IR
level (``inline="always"``). Each array passed across a real call costs an
atomic reference-count increment and decrement, and a handler's call chain
passes about sixty; inlining made the compiled engine about 1.9x faster
(benchmarks/) for about 8 s more cold compile time. ``handle`` itself is not
inlined into the event loop: that tripled compile time for no measurable gain.
"""

from __future__ import annotations

import numpy as np
from numba import njit

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
    EV_DEMAND_ACTION,
    EV_EXECUTED,
    EV_HEDGE_START,
    EV_HEDGE_STOP,
    EV_IGNORED,
    EV_INCIDENT,
    EV_NO_CHALLENGE,
    EV_ORDER,
    EV_PERCEIVED,
    EV_PRESSURE,
    EV_PROGRAMME_SHELVED,
    EV_PROLIFERATE,
    EV_RENEW,
    EV_RESPOND,
    EV_REVIEW,
    EV_SETTLE,
    EV_START,
    EV_SUPPORT,
    EV_TICK,
    EV_WAR,
    EXERCISES,
    F_INCIDENT,
    F_OBSERVED,
    GLOBAL_FIELDS,
    I_EVENT,
    I_LEVEL,
    I_MISPERCEIVED,
    I_PERCEIVED,
    LEADER,
    LIMITED_FORCE,
    M_AUX,
    M_FLAGS,
    M_KIND,
    M_LEVEL,
    M_PUBLIC,
    M_SENDER,
    M_SENT,
    MILITARY,
    MK_EXECUTED,
    MK_HEDGE_DONE,
    MK_INCIDENT_TICK,
    MK_ORDER,
    MK_PRESSURE,
    MK_RENEW,
    MK_REVIEW,
    MK_SIGNAL,
    MK_START,
    MK_SUPPORT,
    MOBILIZATION,
    N_INSTRUMENTS,
    NO_CHALLENGE,
    NO_OUTCOME,
    O_DELAY,
    O_DELAYED,
    O_MSG,
    O_TARGET,
    PRIVATE_STATEMENT,
    PUBLIC_STATEMENT,
    S_CLOCK_ON,
    S_COMMITTED,
    S_CONFIDENCE,
    S_CONFIDENCE_T,
    S_CREDIBILITY,
    S_DECISIONS,
    S_DEMANDED,
    S_HEDGING,
    S_HOSTILITY,
    S_LAST_MISREAD,
    S_LEVEL,
    S_PRESSURE,
    S_PRESSURE_T,
    S_PROGRAMME,
    S_READINESS,
    S_RESOLVE,
    SETTLEMENT,
    SHOW_OF_FORCE,
    STATE_FIELDS,
    STREAM_SETUP,
    THREAT,
    TRIPWIRE,
    UNRESOLVED,
    WAR_DELIBERATE,
    WAR_MISCALCULATION,
    X_END_TIME,
    X_EVENTS,
    X_MIX,
    X_NEED,
    X_OUTCOME,
    X_PROLIF_TIME,
    X_PROLIFERATED,
)
from .params import PARAM_INDEX as _I
from .rng import exponential, init_streams, uniform

# --- parameter positions (compile-time constants for Numba) -----------------
HORIZON = _I["crisis.horizon"]
DELAY_MIN = _I["channel.delay_min"]
DELAY_MEAN = _I["channel.delay_mean"]
MISPERCEPTION = _I["channel.misperception"]
HOSTILITY_RATE = _I["belief.hostility_rate"]
CREDIBILITY_RATE = _I["belief.credibility_rate"]
COMMITMENT_BONUS = _I["belief.commitment_bonus"]
WEAKNESS_PENALTY = _I["belief.weakness_penalty"]
P_NEED = _I["challenger.p_need"]
C_RESOLVE_LOW = _I["challenger.resolve_low"]
C_RESOLVE_HIGH = _I["challenger.resolve_high"]
C_COST = _I["challenger.cost_of_war"]
C_FEAR_W = _I["challenger.fear_weight"]
C_PRESSURE_W = _I["challenger.pressure_weight"]
C_DISCOUNT = _I["challenger.threat_discount"]
C_FATIGUE = _I["challenger.fatigue"]
C_INIT_HOST = _I["challenger.initial_hostility"]
C_INIT_CRED = _I["challenger.initial_credibility"]
C_CHALLENGE = _I["challenger.challenge_threshold"]
C_BACKDOWN = _I["challenger.backdown_threshold"]
C_SETTLE = _I["challenger.settle_threshold"]
C_WAR = _I["challenger.war_threshold"]
C_ESCALATE = _I["challenger.escalate_threshold"]
C_NOISE = _I["challenger.noise"]
C_STRATEGY = _I["challenger.strategy"]
D_RESOLVE_LOW = _I["defender.resolve_low"]
D_RESOLVE_HIGH = _I["defender.resolve_high"]
D_COST = _I["defender.cost_of_war"]
D_INIT_HOST = _I["defender.initial_hostility"]
D_INIT_CRED = _I["defender.initial_credibility"]
D_CONCEDE = _I["defender.concede_threshold"]
D_WAR = _I["defender.war_threshold"]
D_NOISE = _I["defender.noise"]
GRIT_STEPS = _I["defender.grit_steps"]
GENEROSITY = _I["defender.generosity"]
RENEWAL = _I["defender.renewal_interval"]
PRESSURE_GAIN = _I["audience.pressure_gain"]
PRESSURE_DECAY = _I["audience.pressure_decay"]
CONCESSION_RELIEF = _I["audience.concession_relief"]
DEMAND_THRESHOLD = _I["audience.demand_threshold"]
DEMAND_WEIGHT = _I["audience.demand_weight"]
AUDIENCE_COST = _I["audience.cost"]
EXEC_DELAY = _I["military.execution_delay_mean"]
TICK_MEAN = _I["military.incident_tick_mean"]
INCIDENT_RATE = _I["military.incident_rate"]
ALLY_PRESENT = _I["ally.present"]
ALLY_CONF0 = _I["ally.initial_confidence"]
ALLY_DECAY = _I["ally.decay"]
ALLY_HEDGE = _I["ally.hedge_threshold"]
ALLY_REVIEW = _I["ally.review_interval"]
ALLY_PROLIF_TIME = _I["ally.proliferation_time"]
ALLY_FEAR = _I["ally.fear_gain"]
GD_CRED = _I["effects.general_deterrence_credibility"]
GD_HOST = _I["effects.general_deterrence_hostility"]
GD_READY = _I["effects.general_deterrence_readiness"]
TRIP_CRED = _I["effects.tripwire_credibility"]
TRIP_DECAY_CUT = _I["effects.tripwire_decay_cut"]
TERMS_CRED = _I["effects.terms_credibility"]
TERMS_DECAY_CUT = _I["effects.terms_decay_cut"]
BOOST0 = _I["effects.boost_tripwire"]  # boosts follow the instrument order of constants.py
SR_PRESSURE_CUT = _I["effects.restraint_pressure_cut"]
NC_MIS_CUT = _I["effects.norms_misperception_cut"]
NC_CLARIFY = _I["effects.norms_clarify"]
LSR_MIS_CUT = _I["effects.regime_misperception_cut"]
LSR_DELAY_CUT = _I["effects.regime_delay_cut"]
LSR_INCIDENT_CUT = _I["effects.regime_incident_cut"]
LSR_CLARIFY = _I["effects.regime_clarify"]
MIX_GD = _I["mix.general_deterrence"]
MIX_ID = _I["mix.immediate_deterrence"]
MIX_TFT = _I["mix.tit_for_tat"]
MIX_GTFT = _I["mix.generous_tit_for_tat"]
MIX_GRIT = _I["mix.grit"]
MIX_SR = _I["mix.self_restraint"]
MIX_NC = _I["mix.norms_of_competition"]
MIX_LSR = _I["mix.limited_security_regime"]
MIX_INSTR0 = _I["mix.tripwire"]  # instrument flags follow the instrument order too

PROBING = 0
FIRM = 1
RECIPROCATING = 2


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
    out[n, O_MSG + M_SENT] = sent
    out[n, O_MSG + M_AUX] = aux
    return n + 1


@njit(cache=True, inline="always")
def crisis_over(st):
    """True once the crisis has an outcome."""
    return st[X_OUTCOME] != NO_OUTCOME


@njit(cache=True, inline="always")
def end_crisis(st, outcome, now):
    """Record the crisis outcome and the time it happened."""
    st[X_OUTCOME] = outcome
    st[X_END_TIME] = now


@njit(cache=True, inline="always")
def pressure_now(st, p, s, now):
    """Audience pressure of state ``s`` at ``now`` (exponential decay since last update)."""
    return st[ix(s, S_PRESSURE)] * np.exp(-p[PRESSURE_DECAY] * (now - st[ix(s, S_PRESSURE_T)]))


@njit(cache=True, inline="always")
def ally_decay_rate(p):
    """The ally's confidence decay rate, cut by standing tripwires and precise terms."""
    trip = p[MIX_INSTR0 + TRIPWIRE]
    terms = p[MIX_INSTR0 + ALLIANCE_TERMS]
    return p[ALLY_DECAY] * (1.0 - trip * p[TRIP_DECAY_CUT]) * (1.0 - terms * p[TERMS_DECAY_CUT])


@njit(cache=True, inline="always")
def confidence_now(st, p, now):
    """The ally's confidence at ``now`` (model.md, section "The ally")."""
    a = ix(ALLY, S_CONFIDENCE)
    return st[a] * np.exp(-ally_decay_rate(p) * (now - st[ix(ALLY, S_CONFIDENCE_T)]))


@njit(cache=True, inline="always")
def set_confidence(st, value, now):
    """Store the ally's confidence as of ``now``."""
    st[ix(ALLY, S_CONFIDENCE)] = value
    st[ix(ALLY, S_CONFIDENCE_T)] = now


@njit(cache=True, inline="always")
def channel_delay(p, keys, ctr, stream, adversaries):
    """Time a signal takes to arrive: ``delay_min + Exp(delay_mean)``.

    Between the adversaries a limited security regime (a hotline) cuts it by
    ``regime_delay_cut``; the defender's messages to its ally are not affected.
    """
    d = p[DELAY_MIN] + exponential(keys, ctr, stream, p[DELAY_MEAN])
    if adversaries:
        d *= 1.0 - p[MIX_LSR] * p[LSR_DELAY_CUT]
    return d


# --- replication set-up and initial messages --------------------------------
@njit(cache=True)
def choose_mix(mix_cum, u):
    """Index of the strategy mix drawn by uniform ``u`` from cumulative weights."""
    k = 0
    while k < mix_cum.shape[0] - 1 and u >= mix_cum[k]:
        k += 1
    return k


@njit(cache=True)
def setup(p_mixes, mix_cum, seed, rep, st, keys, ctr):
    """Start a replication: streams, the set-up draws and the initial state.

    Draws, in order, from the set-up stream: the defender's strategy mix, the
    challenger's motive (need-driven with probability ``p_need``), the
    challenger's resolve, the defender's resolve. Returns the mix index.
    """
    init_streams(seed, rep, keys, ctr)
    st[:] = 0.0
    st[X_OUTCOME] = NO_OUTCOME
    mix = choose_mix(mix_cum, uniform(keys, ctr, STREAM_SETUP))
    p = p_mixes[mix]
    st[X_MIX] = mix
    need = 1.0 if uniform(keys, ctr, STREAM_SETUP) < p[P_NEED] else 0.0
    st[X_NEED] = need
    u = uniform(keys, ctr, STREAM_SETUP)
    st[ix(CHALLENGER, S_RESOLVE)] = p[C_RESOLVE_LOW] + (p[C_RESOLVE_HIGH] - p[C_RESOLVE_LOW]) * u
    u = uniform(keys, ctr, STREAM_SETUP)
    st[ix(DEFENDER, S_RESOLVE)] = p[D_RESOLVE_LOW] + (p[D_RESOLVE_HIGH] - p[D_RESOLVE_LOW]) * u
    # initial beliefs; general deterrence and standing commitments shape the challenger's
    trip = p[MIX_INSTR0 + TRIPWIRE] * p[ALLY_PRESENT]
    terms = p[MIX_INSTR0 + ALLIANCE_TERMS] * p[ALLY_PRESENT]
    cred = p[C_INIT_CRED] + p[MIX_GD] * p[GD_CRED] + trip * p[TRIP_CRED] + terms * p[TERMS_CRED]
    st[ix(CHALLENGER, S_CREDIBILITY)] = min(1.0, cred)
    st[ix(CHALLENGER, S_HOSTILITY)] = min(1.0, p[C_INIT_HOST] + p[MIX_GD] * p[GD_HOST])
    st[ix(DEFENDER, S_CREDIBILITY)] = p[D_INIT_CRED]
    st[ix(DEFENDER, S_HOSTILITY)] = p[D_INIT_HOST]
    st[ix(DEFENDER, S_READINESS)] = p[MIX_GD] * p[GD_READY]
    st[ix(DEFENDER, S_COMMITTED)] = trip  # troops on the ground: no graceful way out
    st[ix(CHALLENGER, S_LEVEL)] = CONCESSION
    st[ix(DEFENDER, S_LEVEL)] = CONCESSION
    if p[ALLY_PRESENT] > 0.0:
        set_confidence(st, p[ALLY_CONF0], 0.0)
    return mix


@njit(cache=True)
def initial_messages(st, p, out):
    """Messages scheduled before the clock starts, in this order (all at t = 0).

    The challenger's leader decides whether to challenge; with an ally, the
    defender's leader starts its reassurance and the ally its reviews.
    """
    n = emit(out, 0, 1.0, 0.0, 3 * CHALLENGER + LEADER, MK_START, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if p[ALLY_PRESENT] > 0.0:
        n = emit(out, n, 1.0, 0.0, 3 * DEFENDER + LEADER, MK_START, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        n = emit(out, n, 1.0, 0.0, 3 * ALLY + LEADER, MK_START, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    return n


@njit(cache=True)
def finalize(st, p):
    """Close a replication at the horizon: a crisis still open is unresolved."""
    if st[X_OUTCOME] == NO_OUTCOME:
        end_crisis(st, UNRESOLVED, p[HORIZON])


# --- perception and beliefs (model.md: Signals, Beliefs) ----------------------
@njit(cache=True, inline="always")
def perceive(p, keys, ctr, stream, sender_state, level, flags):
    """Perceived level of a move, and how it was misread.

    One uniform from the receiver's stream. An incident is read as limited
    force, unless norms or a regime let it be read as a show of force. Any
    other move is misread with probability ``misperception`` (cut by a regime,
    and by norms of competition for the defender's moves): a move on rungs 1-4
    is read one rung higher (the security dilemma), a concession is read as
    weakness. Returns ``(perceived, misread, weakness)``.
    """
    u = uniform(keys, ctr, stream)
    lsr = p[MIX_LSR]
    if flags & F_INCIDENT:
        nc = p[MIX_NC]
        clarify = 1.0 - (1.0 - lsr * p[LSR_CLARIFY]) * (1.0 - nc * p[NC_CLARIFY])
        if u < clarify:
            return SHOW_OF_FORCE, 0, 0
        return LIMITED_FORCE, 0, 0
    m = p[MISPERCEPTION] * (1.0 - lsr * p[LSR_MIS_CUT])
    if sender_state == DEFENDER:
        m *= 1.0 - p[MIX_NC] * p[NC_MIS_CUT]
    if u < m:
        if level == CONCESSION:
            return CONCESSION, 1, 1
        if level < LIMITED_FORCE:
            return level + 1, 1, 0
    return level, 0, 0


@njit(cache=True, inline="always")
def update_beliefs(st, p, s, perceived, public, weakness):
    """Update leader ``s``'s hostility and credibility beliefs from a perceived move."""
    h = ix(s, S_HOSTILITY)
    c = ix(s, S_CREDIBILITY)
    if weakness:
        st[c] = max(0.0, st[c] - p[WEAKNESS_PENALTY])
        return
    st[h] += p[HOSTILITY_RATE] * (perceived / 6.0 - st[h])
    target = perceived / 5.0
    if public > 0.0 and perceived >= THREAT:
        target += p[COMMITMENT_BONUS]
    st[c] += p[CREDIBILITY_RATE] * (min(1.0, target) - st[c])


@njit(cache=True, inline="always")
def motivation(st, p, keys, ctr, s, now):
    """Leader ``s``'s motivation to press on, with one uniform of decision noise.

    Challenger: ``resolve + need * (fear_w * hostility + pressure_w * pressure)
    + demanded * demand_w - cost * credibility * (1 - need * discount)
    - fatigue * decisions``. Defender: ``resolve + demanded * demand_w - cost
    * credibility``. Noise is uniform on ``[-noise, noise]``.
    """
    stream = 3 * s + LEADER
    u = uniform(keys, ctr, stream)
    demanded = st[ix(s, S_DEMANDED)] * p[DEMAND_WEIGHT]
    cred = st[ix(s, S_CREDIBILITY)]
    if s == CHALLENGER:
        need = st[X_NEED]
        m = st[ix(s, S_RESOLVE)] + demanded
        m += need * (p[C_FEAR_W] * st[ix(s, S_HOSTILITY)] + p[C_PRESSURE_W] * pressure_now(st, p, s, now))
        m -= p[C_COST] * cred * (1.0 - need * p[C_DISCOUNT])
        m -= p[C_FATIGUE] * st[ix(s, S_DECISIONS)]
        return m + p[C_NOISE] * (2.0 * u - 1.0)
    m = st[ix(s, S_RESOLVE)] + demanded - p[D_COST] * cred
    return m + p[D_NOISE] * (2.0 * u - 1.0)


# --- strategies: the level a leader answers with (model.md: Strategies) -------
@njit(cache=True, inline="always")
def challenger_response(p, own, perceived, m):
    """Level of the challenger's next move under its strategy, given motivation ``m``.

    Probing: climb a rung if the defender backed off (``perceived < own``) and
    the challenger is not ready to settle, or if motivation exceeds
    ``escalate_threshold``; otherwise hold. Firm: climb a rung, never below the
    defender. Reciprocating: mirror the defender, one rung above it when
    motivation exceeds ``escalate_threshold``.
    """
    rule = int(p[C_STRATEGY])
    eager = m > p[C_ESCALATE]
    if rule == PROBING:
        if eager or (perceived < own and m >= p[C_SETTLE]):
            level = own + 1
        else:
            level = own
        low = DEMAND
    elif rule == FIRM:
        level = max(own + 1, perceived)
        low = DEMAND
    else:  # RECIPROCATING
        level = perceived + 1 if eager else perceived
        low = CONCESSION
    return max(low, min(level, LIMITED_FORCE))


@njit(cache=True, inline="always")
def defender_response(st, p, keys, ctr, perceived):
    """Level of the defender's next move under its strategy mix.

    Response rules (at most one per mix): immediate deterrence, tit-for-tat,
    generous tit-for-tat (one uniform when the move to answer is above a
    concession), GRIT; with none, the defender protests (``demand``).
    Self-restraint caps the answer at a show of force unless force was used.
    """
    decisions = st[ix(DEFENDER, S_DECISIONS)]
    if p[MIX_ID] > 0.0:
        if perceived >= LIMITED_FORCE:
            level = LIMITED_FORCE
        else:
            level = min(max(perceived + 1, THREAT), MOBILIZATION)
    elif p[MIX_GRIT] > 0.0 and decisions < p[GRIT_STEPS]:
        level = CONCESSION
    elif p[MIX_TFT] > 0.0 or p[MIX_GRIT] > 0.0:
        level = perceived
    elif p[MIX_GTFT] > 0.0:
        level = perceived
        if perceived > CONCESSION and uniform(keys, ctr, 3 * DEFENDER + LEADER) < p[GENEROSITY]:
            level = perceived - 1
    else:
        level = DEMAND
    if p[MIX_SR] > 0.0 and perceived < LIMITED_FORCE:
        level = min(level, SHOW_OF_FORCE)
    return min(level, LIMITED_FORCE)


# --- sending moves -------------------------------------------------------------
@njit(cache=True, inline="always")
def send_move(st, p, keys, ctr, out, n, s, role, level, public, flags, now):
    """Send a move of state ``s`` to the adversary's leader.

    One delay draw from the sender's stream. A public move reaches, at the same
    time, the adversary's audience and (for the challenger's moves, when there
    is an ally) the ally's audience, as observed copies.
    """
    adv = 1 - s
    sender = 3 * s + role
    d = channel_delay(p, keys, ctr, sender, True)
    n = emit(out, n, 1.0, d, 3 * adv + LEADER, MK_SIGNAL, sender, level, public, flags, now, 0.0)
    if public > 0.0:
        obs = flags | F_OBSERVED
        n = emit(out, n, 1.0, d, 3 * adv + AUDIENCE, MK_SIGNAL, sender, level, public, obs, now, 0.0)
        if s == CHALLENGER and p[ALLY_PRESENT] > 0.0:
            n = emit(out, n, 1.0, d, 3 * ALLY + AUDIENCE, MK_SIGNAL, sender, level, public, obs, now, 0.0)
    return n


@njit(cache=True, inline="always")
def act(st, p, keys, ctr, out, n, s, level, public, now):
    """Leader ``s`` makes a move: statements itself, military moves by order.

    A move at a show of force or above is an order to the military, which
    carries it out after a delay; a lower move is sent at once, and stands the
    military down if it was above its standing readiness. A public move at a
    threat or above commits the leader (audience costs).
    """
    st[ix(s, S_LEVEL)] = level
    if public > 0.0 and level >= THREAT:
        st[ix(s, S_COMMITTED)] = 1.0
    mil = 3 * s + MILITARY
    if level >= SHOW_OF_FORCE:
        return emit(out, n, 0.0, 0.0, mil, MK_ORDER, 3 * s + LEADER, level, public, 0.0, now, 0.0)
    n = send_move(st, p, keys, ctr, out, n, s, LEADER, level, public, 0, now)
    if st[ix(s, S_READINESS)] > standing_readiness(p, s):
        n = emit(out, n, 0.0, 0.0, mil, MK_ORDER, 3 * s + LEADER, level, public, 0.0, now, 0.0)
    return n


@njit(cache=True, inline="always")
def standing_readiness(p, s):
    """Readiness a military keeps outside a crisis (general deterrence posture)."""
    if s == DEFENDER:
        return p[MIX_GD] * p[GD_READY]
    return 0.0


@njit(cache=True, inline="always")
def war_outcome(st, s):
    """War by miscalculation if the move that tipped it was misread or an incident."""
    if st[ix(s, S_LAST_MISREAD)] > 0.0:
        return WAR_MISCALCULATION
    return WAR_DELIBERATE


# --- leaders -------------------------------------------------------------------
@njit(cache=True, inline="always")
def challenger_decides(st, p, keys, ctr, out, n, info, perceived, now):
    """The challenger's decision after perceiving a defender move (model.md: "Motivation and decisions")."""
    s = CHALLENGER
    m = motivation(st, p, keys, ctr, s, now)
    st[ix(s, S_DECISIONS)] += 1.0
    own = int(st[ix(s, S_LEVEL)])
    if perceived >= MOBILIZATION and m > p[C_WAR]:
        end_crisis(st, war_outcome(st, s), now)
        info[I_EVENT] = EV_WAR
        return n
    if m + st[ix(s, S_COMMITTED)] * p[AUDIENCE_COST] < p[C_BACKDOWN]:
        end_crisis(st, CHALLENGER_BACKS_DOWN, now)
        info[I_EVENT] = EV_BACK_DOWN
        return n
    if perceived <= DEMAND and own <= DEMAND and m < p[C_SETTLE]:
        end_crisis(st, SETTLEMENT, now)
        info[I_EVENT] = EV_SETTLE
        return n
    level = challenger_response(p, own, perceived, m)
    info[I_EVENT] = EV_RESPOND
    info[I_LEVEL] = level
    return act(st, p, keys, ctr, out, n, s, level, 1.0, now)


@njit(cache=True, inline="always")
def defender_decides(st, p, keys, ctr, out, n, info, perceived, now):
    """The defender's decision after perceiving a challenger move (model.md: "Motivation and decisions")."""
    s = DEFENDER
    if perceived == CONCESSION:  # the challenger offers terms: the defender accepts
        end_crisis(st, SETTLEMENT, now)
        info[I_EVENT] = EV_SETTLE
        return n
    m = motivation(st, p, keys, ctr, s, now)
    if perceived >= LIMITED_FORCE and m > p[D_WAR]:
        end_crisis(st, war_outcome(st, s), now)
        info[I_EVENT] = EV_WAR
        return n
    if m + st[ix(s, S_COMMITTED)] * p[AUDIENCE_COST] < p[D_CONCEDE]:
        end_crisis(st, DEFENDER_CONCEDES, now)
        info[I_EVENT] = EV_CONCEDE
        return n
    level = defender_response(st, p, keys, ctr, perceived)
    st[ix(s, S_DECISIONS)] += 1.0
    info[I_EVENT] = EV_RESPOND
    info[I_LEVEL] = level
    return act(st, p, keys, ctr, out, n, s, level, 1.0, now)


@njit(cache=True, inline="always")
def war_check(st, p, keys, ctr, info, s, perceived, now):
    """After an incident: war only, no reply (one noise draw)."""
    m = motivation(st, p, keys, ctr, s, now)
    if s == CHALLENGER:
        fight = perceived >= MOBILIZATION and m > p[C_WAR]
    else:
        fight = perceived >= LIMITED_FORCE and m > p[D_WAR]
    if fight:
        end_crisis(st, war_outcome(st, s), now)
        info[I_EVENT] = EV_WAR


@njit(cache=True, inline="always")
def leader_signal(st, p, keys, ctr, out, n, info, s, msg, now):
    """A crisis leader perceives an adversary move, then decides or checks for war."""
    sender_state = int(msg[M_SENDER]) // 3
    flags = int(msg[M_FLAGS])
    perceived, misread, weakness = perceive(p, keys, ctr, 3 * s + LEADER, sender_state, int(msg[M_LEVEL]), flags)
    info[I_EVENT] = EV_PERCEIVED
    info[I_PERCEIVED] = perceived
    info[I_MISPERCEIVED] = misread
    update_beliefs(st, p, s, perceived, msg[M_PUBLIC], weakness)
    if flags & F_OBSERVED:  # a move aimed at someone else (exercises, statements)
        return n
    incident = flags & F_INCIDENT
    st[ix(s, S_LAST_MISREAD)] = 1.0 if (misread != 0 or incident != 0) else 0.0
    if incident:
        war_check(st, p, keys, ctr, info, s, perceived, now)
        if info[I_EVENT] != EV_WAR:
            info[I_EVENT] = EV_INCIDENT
        return n
    if s == CHALLENGER:
        return challenger_decides(st, p, keys, ctr, out, n, info, perceived, now)
    return defender_decides(st, p, keys, ctr, out, n, info, perceived, now)


@njit(cache=True, inline="always")
def challenger_start(st, p, keys, ctr, out, n, info, now):
    """General deterrence: at t = 0 the challenger opens a crisis, or does not."""
    m = motivation(st, p, keys, ctr, CHALLENGER, now)
    if m > p[C_CHALLENGE]:
        info[I_EVENT] = EV_CHALLENGE
        info[I_LEVEL] = DEMAND
        return act(st, p, keys, ctr, out, n, CHALLENGER, DEMAND, 1.0, now)
    end_crisis(st, NO_CHALLENGE, now)
    info[I_EVENT] = EV_NO_CHALLENGE
    return n


@njit(cache=True, inline="always")
def send_reassurance(st, p, keys, ctr, out, n, now, renewal):
    """The defender reassures its ally with every instrument in its mix.

    At t = 0 every instrument is sent; at a renewal only the renewable ones
    (statements, aid, exercises: tripwires and terms stand). One delay draw per
    instrument. While the crisis lasts, the challenger sees public statements
    (as a threat) and exercises (as a show of force), and the defender's public
    statement commits it.
    """
    src = 3 * DEFENDER + LEADER
    first = PUBLIC_STATEMENT if renewal else TRIPWIRE
    for k in range(first, N_INSTRUMENTS):
        if p[MIX_INSTR0 + k] <= 0.0:
            continue
        d = channel_delay(p, keys, ctr, src, False)
        public = 0.0 if k == PRIVATE_STATEMENT else 1.0
        n = emit(out, n, 1.0, d, 3 * ALLY + LEADER, MK_SUPPORT, src, 0.0, public, 0.0, now, k)
        if crisis_over(st):
            continue
        if k == PUBLIC_STATEMENT or k == EXERCISES:
            level = THREAT if k == PUBLIC_STATEMENT else SHOW_OF_FORCE
            if k == PUBLIC_STATEMENT:
                st[ix(DEFENDER, S_COMMITTED)] = 1.0
            n = emit(out, n, 1.0, d, 3 * CHALLENGER + LEADER, MK_SIGNAL, src, level, 1.0, F_OBSERVED, now, k)
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
def leader(st, p, keys, ctr, out, info, s, msg, now):
    """Handler of the leaders of the challenger and the defender."""
    kind = int(msg[M_KIND])
    n = 0
    if kind == MK_RENEW or (kind == MK_START and s == DEFENDER):  # reassurance outlives the crisis
        n = send_reassurance(st, p, keys, ctr, out, n, now, kind == MK_RENEW)
        info[I_EVENT] = EV_RENEW if kind == MK_RENEW else EV_START
        if p[RENEWAL] > 0.0 and has_renewable(p):
            n = emit(out, n, 1.0, p[RENEWAL], 3 * s + LEADER, MK_RENEW, 3 * s + LEADER, 0.0, 0.0, 0.0, now, 0.0)
        return n
    if crisis_over(st):
        return n
    if kind == MK_START:
        return challenger_start(st, p, keys, ctr, out, n, info, now)
    if kind == MK_PRESSURE:
        st[ix(s, S_DEMANDED)] = 1.0
        info[I_EVENT] = EV_DEMAND_ACTION
        return n
    return leader_signal(st, p, keys, ctr, out, n, info, s, msg, now)


# --- audiences ---------------------------------------------------------------
@njit(cache=True, inline="always")
def audience(st, p, keys, ctr, out, info, s, msg, now):
    """Domestic audiences react to the adversary's public moves (Fearon 1994).

    Crisis audiences: pressure decays, rises with each hostile public move
    (less if the defender exercises self-restraint), falls with a concession;
    on crossing the threshold the audience demands action from its leader. The
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
    if level == CONCESSION:
        pr *= 1.0 - p[CONCESSION_RELIEF]
    else:
        gain = p[PRESSURE_GAIN] * level / 6.0
        if int(msg[M_SENDER]) // 3 == DEFENDER:
            gain *= 1.0 - p[MIX_SR] * p[SR_PRESSURE_CUT]
        pr += gain
    st[ix(s, S_PRESSURE)] = pr
    st[ix(s, S_PRESSURE_T)] = now
    info[I_EVENT] = EV_PRESSURE
    info[I_LEVEL] = pr
    if pr >= p[DEMAND_THRESHOLD] and st[ix(s, S_DEMANDED)] == 0.0:
        return emit(out, 0, 0.0, 0.0, 3 * s + LEADER, MK_PRESSURE, 3 * s + AUDIENCE, 0.0, 0.0, 0.0, now, pr)
    return 0


# --- militaries --------------------------------------------------------------
@njit(cache=True, inline="always")
def military(st, p, keys, ctr, out, info, s, msg, now):
    """Militaries carry out orders after a delay and cause incidents.

    An order at a show of force or above is carried out after
    ``Exp(execution_delay_mean * (level - 2))`` days; then readiness becomes
    ``(level - 1) / 4`` and the move is sent; the first such move starts the
    incident clock. A lower order stands the military down at once. Each
    incident tick is a candidate incident (thinning): accepted with probability
    ``incident_rate * tick_mean * readiness * adversary readiness`` (cut by a
    regime), then the next tick is drawn.
    """
    if crisis_over(st):
        return 0
    kind = int(msg[M_KIND])
    me = 3 * s + MILITARY
    level = int(msg[M_LEVEL])
    if kind == MK_ORDER:
        if level < SHOW_OF_FORCE:
            st[ix(s, S_READINESS)] = standing_readiness(p, s)
            info[I_EVENT] = EV_ORDER
            return 0
        d = exponential(keys, ctr, me, p[EXEC_DELAY] * (level - 2.0))
        info[I_EVENT] = EV_ORDER
        info[I_LEVEL] = level
        return emit(out, 0, 1.0, d, me, MK_EXECUTED, me, level, msg[M_PUBLIC], 0.0, now, 0.0)
    if kind == MK_EXECUTED:
        st[ix(s, S_READINESS)] = max(standing_readiness(p, s), (level - 1.0) / 4.0)
        info[I_EVENT] = EV_EXECUTED
        info[I_LEVEL] = level
        n = send_move(st, p, keys, ctr, out, 0, s, MILITARY, level, msg[M_PUBLIC], 0, now)
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
        n = send_move(st, p, keys, ctr, out, n, s, MILITARY, LIMITED_FORCE, 1.0, F_INCIDENT, now)
    d = exponential(keys, ctr, me, p[TICK_MEAN])
    return emit(out, n, 1.0, d, me, MK_INCIDENT_TICK, me, 0.0, 0.0, 0.0, now, 0.0)


# --- the ally ----------------------------------------------------------------
@njit(cache=True, inline="always")
def ally_leader(st, p, keys, ctr, out, info, msg, now):
    """The ally's confidence: decays, renewed by support, eroded by fear; hedging.

    Confidence decays exponentially unless renewed ("reassurance is a process,
    not an objective"). Support restores a share ``boost`` of the missing
    confidence; each challenger public move removes a share ``fear_gain *
    level / 6``. At each review, confidence below ``hedge_threshold`` starts a
    proliferation programme; confidence back above it shelves the programme.
    """
    kind = int(msg[M_KIND])
    me = 3 * ALLY + LEADER
    c = confidence_now(st, p, now)
    if kind == MK_START:
        info[I_EVENT] = EV_START
        return emit(out, 0, 1.0, p[ALLY_REVIEW], me, MK_REVIEW, me, 0.0, 0.0, 0.0, now, 0.0)
    if kind == MK_SUPPORT:
        k = int(msg[M_AUX])
        set_confidence(st, c + p[BOOST0 + k] * (1.0 - c), now)
        info[I_EVENT] = EV_SUPPORT
        info[I_LEVEL] = k
        return 0
    if kind == MK_PRESSURE:
        set_confidence(st, c * (1.0 - p[ALLY_FEAR] * msg[M_AUX] / 6.0), now)
        info[I_EVENT] = EV_PRESSURE
        return 0
    # MK_REVIEW
    set_confidence(st, c, now)
    info[I_EVENT] = EV_REVIEW
    info[I_LEVEL] = c
    n = 0
    hedging = ix(ALLY, S_HEDGING)
    if st[hedging] == 0.0 and c < p[ALLY_HEDGE] and st[X_PROLIFERATED] == 0.0:
        st[hedging] = 1.0
        st[ix(ALLY, S_PROGRAMME)] += 1.0
        info[I_EVENT] = EV_HEDGE_START
        prog = st[ix(ALLY, S_PROGRAMME)]
        n = emit(out, n, 0.0, 0.0, 3 * ALLY + MILITARY, MK_ORDER, me, 0.0, 0.0, 0.0, now, prog)
    elif st[hedging] > 0.0 and c >= p[ALLY_HEDGE]:
        st[hedging] = 0.0
        info[I_EVENT] = EV_HEDGE_STOP
    return emit(out, n, 1.0, p[ALLY_REVIEW], me, MK_REVIEW, me, 0.0, 0.0, 0.0, now, 0.0)


@njit(cache=True, inline="always")
def ally_military(st, p, keys, ctr, out, info, msg, now):
    """The ally's programme matures after ``proliferation_time`` unless shelved."""
    me = 3 * ALLY + MILITARY
    if int(msg[M_KIND]) == MK_ORDER:
        info[I_EVENT] = EV_ORDER
        return emit(out, 0, 1.0, p[ALLY_PROLIF_TIME], me, MK_HEDGE_DONE, me, 0.0, 0.0, 0.0, now, msg[M_AUX])
    # MK_HEDGE_DONE: only the programme still running matures
    if st[ix(ALLY, S_HEDGING)] > 0.0 and msg[M_AUX] == st[ix(ALLY, S_PROGRAMME)] and st[X_PROLIFERATED] == 0.0:
        st[X_PROLIFERATED] = 1.0
        st[X_PROLIF_TIME] = now
        info[I_EVENT] = EV_PROLIFERATE
    else:
        info[I_EVENT] = EV_PROGRAMME_SHELVED
    return 0


# --- the single entry point -----------------------------------------------------
@njit(cache=True)
def handle(actor, msg, now, st, p, keys, ctr, out, info):
    """Let ``actor`` handle one message at time ``now``.

    Returns the number of rows written to ``out``. ``info`` receives what
    happened, for the trace (event code, perceived level, misread flag, level).
    """
    st[X_EVENTS] += 1.0
    info[I_EVENT] = EV_IGNORED
    info[I_PERCEIVED] = -1.0
    info[I_MISPERCEIVED] = 0.0
    info[I_LEVEL] = -1.0
    s = actor // 3
    role = actor % 3
    if s == ALLY:
        if role == LEADER:
            return ally_leader(st, p, keys, ctr, out, info, msg, now)
        if role == AUDIENCE:
            return audience(st, p, keys, ctr, out, info, s, msg, now)
        return ally_military(st, p, keys, ctr, out, info, msg, now)
    if role == LEADER:
        return leader(st, p, keys, ctr, out, info, s, msg, now)
    if role == AUDIENCE:
        return audience(st, p, keys, ctr, out, info, s, msg, now)
    return military(st, p, keys, ctr, out, info, s, msg, now)


@njit(cache=True)
def run_done(st, p):
    """A run stops once the crisis is over, unless an ally is followed to the horizon."""
    return st[X_OUTCOME] != NO_OUTCOME and p[ALLY_PRESENT] == 0.0
