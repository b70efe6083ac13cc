"""Named integer codes of the crisis model.

Every code here is a plain module-level ``int`` so that Numba treats it as a
compile-time constant inside the kernels, and Python code reads the same name.
The layouts of the *state vector* and of a *message row* are defined here too:
both engines (SimPy reference and compiled Monte Carlo) use them, so a rule
written once in :mod:`escalation_sim.model.rules` serves both.
"""

from __future__ import annotations

# --- escalation ladder (level of a move) --------------------------------------
CONCESSION = 0
DEMAND = 1
THREAT = 2
SHOW_OF_FORCE = 3
MOBILIZATION = 4
LIMITED_FORCE = 5
WAR = 6
TOP_RUNG = LIMITED_FORCE  # the highest level a move can have; war is an outcome
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
STREAM_COMMITMENT = 10  # the defender's hidden commitment to its ally (a two-state Markov chain)
N_STREAMS = 11

# --- private types (Kydd 2005; Fearon 1995): type = 2 * greedy + resolved --------
N_TYPES = 4
TYPE_NAMES = ("security_unresolved", "security_resolved", "greedy_unresolved", "greedy_resolved")

# --- outcomes: exactly one per replication --------------------------------------
NO_OUTCOME = -1
NO_CHALLENGE = 0
CHALLENGER_BACKS_DOWN = 1
DEFENDER_CONCEDES = 2
SETTLEMENT = 3
WAR_OUTCOME = 4
UNRESOLVED = 5
N_OUTCOMES = 6
OUTCOME_NAMES = (
    "no_challenge",
    "challenger_backs_down",
    "defender_concedes",
    "settlement",
    "war",
    "unresolved",
)

# --- moves a leader can choose (the decision layer's options) -------------------
MV_WAR = 0  # start a war now
MV_YIELD = 1  # challenger: back down (the status quo stands); defender: concede the demand
MV_ACCEPT = 2  # accept the adversary's standing offer (settlement)
MV_ESCALATE = 3  # a move one rung above the highest level on the table
MV_OFFER = 4  # propose new terms (a concession) at the current level
MV_WAIT = 5  # before a crisis: let the opportunity pass (the challenger's "no challenge" now)
N_MOVES = 6
MOVE_NAMES = ("war", "yield", "accept", "escalate", "offer", "wait")

# --- message kinds -----------------------------------------------------------
MK_START = 0  # clock: an actor's first act at t = 0
MK_SIGNAL = 1  # a move (or an incident, or an observed copy); flags say which
MK_SUPPORT = 2  # a reassurance instrument, defender -> ally leader
MK_ORDER = 3  # leader -> own military: carry out a move / start a programme
MK_PRESSURE = 4  # ally audience -> ally leader (fear)
MK_EXECUTED = 5  # clock: the military has carried out an order
MK_INCIDENT_TICK = 6  # clock: candidate incident (thinning of a Poisson process)
MK_RENEW = 7  # clock: the defender renews its reassurance of the ally
MK_REVIEW = 8  # clock: the ally reviews its confidence
MK_HEDGE_DONE = 9  # clock: the ally's proliferation programme matures
MK_OPPORTUNITY = 10  # clock: a challenge opportunity arrives (Poisson process)
MK_GRIT = 11  # clock: the defender's next announced GRIT transfer is due
MK_TRANSFER = 12  # a GRIT transfer, defender -> challenger leader (aux = amount)
MK_DETECT = 13  # clock: the challenger detects the ally's programme (aux = programme number)
MK_PROVOKE = 14  # the ally's provocation reaches the challenger's leader
N_KINDS = 15
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
    "opportunity",
    "grit_step",
    "transfer",
    "detect",
    "provocation",
)
PRIORITY_BASE = 2  # delayed messages get priority PRIORITY_BASE + kind (SimPy uses 0, 1)

# message flags (bit field)
F_INCIDENT = 1  # an incident, not a decision
F_OBSERVED = 2  # a copy seen by an audience or a third party: no reply
F_OFFER = 4  # the move proposes terms (aux = the challenger's share offered or demanded)
F_FORCED = 8  # the sender's doctrine left it no other move than this one (or war or yielding)
F_WITHHELD = 16  # a reassurance the ally expected and did not receive (a renewal skipped)

# --- reassurance instruments (code carried by MK_SUPPORT) -------------------
TRIPWIRE = 0
ALLIANCE_TERMS = 1
PUBLIC_STATEMENT = 2
PRIVATE_STATEMENT = 3
AID = 4
EXERCISES = 5
N_INSTRUMENTS = 6

# --- message row layout -----------------------------------------------------
M_KIND = 0
M_SENDER = 1
M_LEVEL = 2
M_PUBLIC = 3
M_FLAGS = 4
M_SENT = 5
M_AUX = 6  # terms of an offer or demand; instrument; programme; transfer amount
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
I_VALUE = 4  # terms, a belief, a probability: what the event is about
INFO_FIELDS = 5

EV_IGNORED = 0
EV_PERCEIVED = 1
EV_CHALLENGE = 2
EV_WAIT = 3
EV_ESCALATE = 4
EV_BACK_DOWN = 5
EV_CONCEDE = 6
EV_SETTLE = 7
EV_WAR = 8
EV_ORDER = 9
EV_EXECUTED = 10
EV_INCIDENT = 11
EV_TICK = 12
EV_PRESSURE = 13
EV_OFFER = 14
EV_SUPPORT = 15
EV_REVIEW = 16
EV_HEDGE_START = 17
EV_HEDGE_STOP = 18
EV_PROLIFERATE = 19
EV_PROGRAMME_SHELVED = 20
EV_RENEW = 21
EV_START = 22
EV_TRANSFER = 23
EV_REPORT = 24
EV_RECOGNISED = 25
EV_PROVOKE = 26
EV_DETECTED = 27
EV_WITHHELD = 28
EV_STAY = 29
EVENT_NAMES = (
    "ignored",
    "perceived",
    "challenge",
    "wait",
    "escalate",
    "back_down",
    "concede",
    "settle",
    "war",
    "order",
    "executed",
    "incident",
    "tick",
    "pressure",
    "offer",
    "support",
    "review",
    "hedge_start",
    "hedge_stop",
    "proliferate",
    "programme_shelved",
    "renew",
    "start",
    "transfer",
    "report",
    "incident_recognised",
    "provoke",
    "programme_detected",
    "reassurance_withheld",
    "stay",
)

# --- state vector layout ----------------------------------------------------
X_OUTCOME = 0
X_END_TIME = 1
X_PROLIFERATED = 2
X_NEED = 3  # 1 if the challenger is need-driven
X_MIX = 4  # index of the defender strategy mix drawn for this replication
X_EVENTS = 5  # messages handled (a cost measure)
X_PROLIF_TIME = 6
X_CHALLENGE_TIME = 7  # day of the challenge (-1: none yet)
X_TERMS = 8  # the challenger's share under the current status quo (GRIT moves it)
X_DEMAND = 9  # the challenger's standing demand (its share), -1 before a challenge
X_OFFER = 10  # the defender's standing offer (the challenger's share), -1 if none
X_FINAL_TERMS = 11  # the challenger's share when the replication ends
X_WINNER = 12  # war: 0 challenger won, 1 defender won; -1 no war
X_INADVERTENT = 13  # 1 if the war was started right after an incident or a misread move
X_PEAK = 14  # highest level of any move sent or carried out by either side
X_INCIDENTS = 15  # incidents that happened
X_C_TYPE = 16  # the challenger's private type (0..3)
X_D_TYPE = 17  # the defender's private type
X_COMPLETE = 18  # 1 in a complete-information run (each side knows the other's type)
X_TRANSFERS = 19  # GRIT transfers made
X_ERROR = 20  # nonzero: a rule met a code it does not know (the engines raise)
X_FORCE = 21  # 1 once force (limited force or an incident) was used by either side
X_C_FORCE = 22  # with an ally: 1 once the challenger attacked it (limited force carried out, or a war it started)
X_COMMITTED = 23  # the defender's hidden commitment to the ally (1 committed, 0 not), as of X_NEXT_SWITCH's draw
X_NEXT_SWITCH = 24  # day of the next switch of the commitment chain
X_PROVOKED = 25  # day the ally's provocation reached the challenger (-1: none)
X_DETECTED = 26  # day the challenger detected the ally's programme (-1: none)
X_ALLY_OPENED = 27  # 1 if the crisis was opened after an ally provocation (entrapment if it ends in war)
X_ABANDONED = 28  # 1 if the defender yielded after the challenger attacked the ally
X_REASSURANCE_COST = 29  # resources the defender spent on reassuring the ally (stake units)
X_AUDIENCE_PAID = 30  # audience costs the defender paid for yielding while publicly committed
X_PROGRAMME_STARTED = 31  # 1 once the ally started a proliferation programme
X_CONDUCT_SEEN = 32  # 1 once the ally has taken the crisis outcome into account
X_STATEMENT = 33  # 1 once the defender is committed by a public statement of support sent during the crisis
X_DEPLOYED = 34  # standing instruments actually deployed at t = 0 (bits: 1 tripwire, 2 alliance terms)
X_ALLY_RISK = 35  # day the ally decided to take risks against the challenger (-1: never)
GLOBAL_FIELDS = 36

# per-state block, at GLOBAL_FIELDS + state * STATE_FIELDS
S_LEVEL = 0  # level of the last move this leader decided
S_COMMITTED = 1  # 1 once publicly committed (audience costs)
S_PRESSURE = 2  # audience pressure, in stake units, as of S_PRESSURE_T
S_PRESSURE_T = 3
S_READINESS = 4  # military readiness, [0, 1]
S_DECISIONS = 5  # crisis decisions taken by the leader
S_ADV_LEVEL = 6  # level of the adversary's last move as this leader perceived it
S_ADV_OFFERED = 7  # 1 if the adversary's last move this leader perceived was an offer
S_LAST_MISREAD = 8  # 1 if the last adversary move was misread or an unrecognised incident
S_CLOCK_ON = 9  # military: 1 once the incident clock runs
S_FORCE_SEEN = 10  # leader: 1 once it perceived force (limited force or an incident)
S_BELIEF = 11  # 4 fields: belief over the adversary's types (S_BELIEF + type)
S_CONFIDENCE = 15  # ally: confidence in the defender's guarantee
S_CONFIDENCE_T = 16
S_HEDGING = 17  # ally: 1 while a proliferation programme runs
S_PROGRAMME = 18  # ally: programme counter (stale clocks are ignored)
S_SUNK = 19  # mobilisation costs sunk so far (stake units)
S_KNOWN_TERMS = 20  # leader: terms of the adversary's last perceived offer or demand (the challenger's share), -1 if none
STATE_FIELDS = 22
STATE_SIZE = GLOBAL_FIELDS + 3 * STATE_FIELDS


def sx(state: int, field: int) -> int:
    """Index of ``field`` of ``state`` in the state vector."""
    return GLOBAL_FIELDS + state * STATE_FIELDS + field
