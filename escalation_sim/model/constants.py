"""Named integer codes of the crisis model.

Every code here is a plain module-level ``int`` so that Numba treats it as a
compile-time constant inside the kernels, and Python code reads the same name.
The layouts of the *state vector* and of a *message row* are defined here too:
both engines (SimPy reference and compiled Monte Carlo) use them, so a rule
written once in :mod:`escalation_sim.model.rules` serves both.
"""

from __future__ import annotations

# --- escalation ladder (level of a signal) ---------------------------------
CONCESSION = 0
DEMAND = 1
THREAT = 2
SHOW_OF_FORCE = 3
MOBILIZATION = 4
LIMITED_FORCE = 5
WAR = 6
LEVEL_NAMES = (
    "concession",
    "demand",
    "threat",
    "show_of_force",
    "mobilization",
    "limited_force",
    "war",
)

# --- states and roles --------------------------------------------------------
CHALLENGER = 0
DEFENDER = 1
ALLY = 2
STATE_NAMES = ("challenger", "defender", "ally")

LEADER = 0
AUDIENCE = 1
MILITARY = 2
ROLE_NAMES = ("leader", "audience", "military")

N_ACTORS = 9  # actor index = 3 * state + role


def actor_index(state: int, role: int) -> int:
    """Return the actor index of ``role`` in ``state`` (``3 * state + role``)."""
    return 3 * state + role


ACTOR_NAMES = tuple(f"{s}.{r}" for s in STATE_NAMES for r in ROLE_NAMES)

# --- random streams: one per actor, plus the replication set-up stream --------
STREAM_SETUP = 9
N_STREAMS = 10

# --- outcomes: exactly one per crisis --------------------------------------
NO_OUTCOME = -1
NO_CHALLENGE = 0
CHALLENGER_BACKS_DOWN = 1
DEFENDER_CONCEDES = 2
SETTLEMENT = 3
WAR_DELIBERATE = 4
WAR_MISCALCULATION = 5
UNRESOLVED = 6
N_OUTCOMES = 7
OUTCOME_NAMES = (
    "no_challenge",
    "challenger_backs_down",
    "defender_concedes",
    "settlement",
    "war_deliberate",
    "war_miscalculation",
    "unresolved",
)

# --- message kinds -----------------------------------------------------------
MK_START = 0  # clock: an actor's first act at t = 0
MK_SIGNAL = 1  # a move on the escalation ladder (or an incident, or an observed copy)
MK_SUPPORT = 2  # a reassurance instrument, defender -> ally leader
MK_ORDER = 3  # leader -> own military: carry out a move / start a programme
MK_PRESSURE = 4  # audience -> own leader
MK_EXECUTED = 5  # clock: the military has carried out an order
MK_INCIDENT_TICK = 6  # clock: candidate incident (thinning of a Poisson process)
MK_RENEW = 7  # clock: the defender renews its reassurance of the ally
MK_REVIEW = 8  # clock: the ally reviews its confidence
MK_HEDGE_DONE = 9  # clock: the ally's proliferation programme matures
N_KINDS = 10
KIND_NAMES = (
    "start",
    "signal",
    "support",
    "order",
    "pressure",
    "executed",
    "incident_tick",
    "renew",
    "review",
    "hedge_done",
)
PRIORITY_BASE = 2  # delayed messages get priority PRIORITY_BASE + kind (SimPy uses 0, 1)

# message flags (bit field)
F_INCIDENT = 1  # signal is a military incident, not a decision
F_OBSERVED = 2  # copy seen by a third party / an audience: update beliefs, no reply

# --- reassurance instruments (code carried by MK_SUPPORT) -------------------
TRIPWIRE = 0
ALLIANCE_TERMS = 1
PUBLIC_STATEMENT = 2
PRIVATE_STATEMENT = 3
AID = 4
EXERCISES = 5
N_INSTRUMENTS = 6
INSTRUMENT_NAMES = (
    "tripwire",
    "alliance_terms",
    "public_statement",
    "private_statement",
    "aid",
    "exercises",
)

# --- message row layout -----------------------------------------------------
M_KIND = 0
M_SENDER = 1
M_LEVEL = 2
M_PUBLIC = 3
M_FLAGS = 4
M_SENT = 5
M_AUX = 6
MSG_FIELDS = 7

# --- an outgoing message, as a handler writes it -------------------------------
O_DELAYED = 0  # 0: put into the target's inbox now; 1: deliver after O_DELAY
O_DELAY = 1
O_TARGET = 2
O_MSG = 3  # the message row occupies O_MSG .. O_MSG + MSG_FIELDS - 1
OUT_FIELDS = O_MSG + MSG_FIELDS
MAX_OUT = 16  # a handler never emits more messages than this

# --- what a handler reports for the trace -----------------------------------
I_EVENT = 0
I_PERCEIVED = 1
I_MISPERCEIVED = 2
I_LEVEL = 3
INFO_FIELDS = 4

EV_IGNORED = 0
EV_PERCEIVED = 1
EV_CHALLENGE = 2
EV_NO_CHALLENGE = 3
EV_RESPOND = 4
EV_BACK_DOWN = 5
EV_CONCEDE = 6
EV_SETTLE = 7
EV_WAR = 8
EV_ORDER = 9
EV_EXECUTED = 10
EV_INCIDENT = 11
EV_TICK = 12
EV_PRESSURE = 13
EV_DEMAND_ACTION = 14
EV_SUPPORT = 15
EV_REVIEW = 16
EV_HEDGE_START = 17
EV_HEDGE_STOP = 18
EV_PROLIFERATE = 19
EV_PROGRAMME_SHELVED = 20
EV_RENEW = 21
EV_START = 22
EVENT_NAMES = (
    "ignored",
    "perceived",
    "challenge",
    "no_challenge",
    "respond",
    "back_down",
    "concede",
    "settle",
    "war",
    "order",
    "executed",
    "incident",
    "tick",
    "pressure",
    "demand_action",
    "support",
    "review",
    "hedge_start",
    "hedge_stop",
    "proliferate",
    "programme_shelved",
    "renew",
    "start",
)

# --- state vector layout ----------------------------------------------------
X_OUTCOME = 0
X_END_TIME = 1
X_PROLIFERATED = 2
X_NEED = 3  # 1 if the challenger is need-driven
X_MIX = 4  # index of the defender strategy mix drawn for this replication
X_EVENTS = 5  # messages handled (a cost measure)
X_PROLIF_TIME = 6
X_CHAINS = 7  # reserved
GLOBAL_FIELDS = 8

# per-state block, at GLOBAL_FIELDS + state * STATE_FIELDS
S_LEVEL = 0  # level of the last move this state made
S_HOSTILITY = 1  # leader's belief that the adversary intends harm, [0, 1]
S_CREDIBILITY = 2  # leader's belief that the adversary will fight, [0, 1]
S_COMMITTED = 3  # 1 once the leader made a public commitment (audience costs)
S_PRESSURE = 4  # audience pressure to act
S_PRESSURE_T = 5  # time the pressure was last updated (it decays)
S_DEMANDED = 6  # 1 once the audience demanded action
S_READINESS = 7  # military readiness, [0, 1]
S_DECISIONS = 8  # decisions the leader has taken in the crisis
S_RESOLVE = 9  # the leader's private resolve (drawn per replication)
S_CONFIDENCE = 10  # ally: confidence in the defender's guarantee
S_CONFIDENCE_T = 11  # ally: time confidence was last updated (it decays)
S_HEDGING = 12  # ally: 1 while a proliferation programme runs
S_PROGRAMME = 13  # ally: programme counter (stale clocks are ignored)
S_CLOCK_ON = 14  # military: 1 once the incident clock runs
S_LAST_MISREAD = 15  # leader: 1 if the last adversary move was misread / an incident
STATE_FIELDS = 16
STATE_SIZE = GLOBAL_FIELDS + 3 * STATE_FIELDS


def sx(state: int, field: int) -> int:
    """Index of ``field`` of ``state`` in the state vector."""
    return GLOBAL_FIELDS + state * STATE_FIELDS + field
