"""The SimPy reference engine: one crisis, event by event, with its trace.

Every actor (leader, audience, military of each state) is a SimPy process that
waits on its inbox (a :class:`simpy.Store`) and handles one message at a time
with the model's rules (:func:`escalation_sim.model.rules.handle`). A message
sent "now" is put straight into the target's inbox; a message with a delay
travels as a :class:`Delivery` event that puts it there when it arrives.

Ordering of simultaneous events (documented in ``docs/model.md``): a
delivery is scheduled with priority ``2 + kind``, above SimPy's own 0 and 1,
so at any instant every zero-delay consequence of one delivery (store puts and
gets, processes resuming) runs before the next delivery. Deliveries due at the
same time run by priority, then in the order they were sent (SimPy's event id).
The compiled engine reproduces exactly this order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from ..model import rules
from ..model.constants import (
    ACTOR_NAMES,
    EVENT_NAMES,
    F_INCIDENT,
    F_OBSERVED,
    F_OFFER,
    I_EVENT,
    I_LEVEL,
    I_MISPERCEIVED,
    I_PERCEIVED,
    I_VALUE,
    INFO_FIELDS,
    KIND_NAMES,
    LEVEL_NAMES,
    M_FLAGS,
    M_KIND,
    M_LEVEL,
    M_PUBLIC,
    M_SENDER,
    MAX_OUT,
    MK_SIGNAL,
    MSG_FIELDS,
    N_ACTORS,
    N_STREAMS,
    O_DELAY,
    O_DELAYED,
    O_MSG,
    O_TARGET,
    OUT_FIELDS,
    OUTCOME_NAMES,
    PRIORITY_BASE,
    STATE_SIZE,
    TYPE_NAMES,
    X_C_TYPE,
    X_CHALLENGE_TIME,
    X_D_TYPE,
    X_END_TIME,
    X_ERROR,
    X_EVENTS,
    X_FINAL_TERMS,
    X_INADVERTENT,
    X_MIX,
    X_NEED,
    X_OUTCOME,
    X_PROLIFERATED,
    X_WINNER,
)
from ..model.decision import SCRATCH_SIZE
from ..model.scenario import Scenario

TRACE_COLUMNS = (
    "time",
    "actor",
    "message",
    "sender",
    "level_sent",
    "level_perceived",
    "misperceived",
    "public",
    "incident",
    "observed",
    "offer",
    "event",
    "level",
    "value",
)


class Delivery(simpy.Event):
    """A message in transit: puts ``msg`` into ``inbox`` after ``delay`` days.

    Like :class:`simpy.Timeout`, but scheduled with a model priority (see the
    module docstring) so that simultaneous deliveries are ordered on purpose.
    """

    def __init__(self, env: simpy.Environment, delay: float, priority: int, inbox: simpy.Store, msg: np.ndarray):
        super().__init__(env)
        self._ok = True
        self._value = msg
        self.callbacks.append(lambda _event: inbox.put(msg))
        env.schedule(self, priority, delay)


class Actor:
    """A leader, audience or military: a process that handles its inbox in order."""

    def __init__(self, crisis: Crisis, index: int):
        self.crisis = crisis
        self.index = index
        self.name = ACTOR_NAMES[index]
        self.inbox = simpy.Store(crisis.env)
        self.process = crisis.env.process(self.run())

    def run(self):
        """Wait for a message, handle it, repeat."""
        while True:
            msg = yield self.inbox.get()
            self.crisis.receive(self.index, msg)


@dataclass
class CrisisResult:
    """One simulated crisis.

    Attributes
    ----------
    outcome : str
        One of :data:`~escalation_sim.model.constants.OUTCOME_NAMES`.
    end_time : float
        Day the replication's outcome was recorded (the horizon if unresolved or never challenged).
    challenge_time : float
        Day of the challenge, or -1 if the challenger never challenged.
    terms : float
        The challenger's share of the stake at the end.
    winner : str
        ``"challenger"`` or ``"defender"`` after a war, else ``""``.
    inadvertent : bool
        The war was started right after an incident or a misread move.
    challenger_type, defender_type : str
        The private types drawn (:data:`~escalation_sim.model.constants.TYPE_NAMES`).
    complete_information : bool
        This run is a complete-information twin (each side knew the other's type).
    ally_proliferated : bool
        Whether the ally's proliferation programme matured within the horizon.
    need_driven : bool
        The challenger's motive in this replication.
    mix : int
        Index of the defender strategy mix drawn for this replication.
    state : numpy.ndarray
        Final state vector (layout in :mod:`escalation_sim.model.constants`).
    trace : pandas.DataFrame
        One row per message handled (columns :data:`TRACE_COLUMNS`).
    """

    outcome: str
    end_time: float
    challenge_time: float
    terms: float
    winner: str
    inadvertent: bool
    challenger_type: str
    defender_type: str
    complete_information: bool
    ally_proliferated: bool
    need_driven: bool
    mix: int
    seed: int
    replication: int
    events: int
    state: np.ndarray = field(repr=False)
    trace: pd.DataFrame = field(repr=False)


class Crisis:
    """One replication of the crisis model on a SimPy :class:`~simpy.Environment`.

    Parameters
    ----------
    p_mixes : numpy.ndarray
        Parameter vectors, one row per defender strategy mix.
    mix_cum : numpy.ndarray
        Cumulative weights of the mixes (last entry 1).
    seed, replication : int
        Key of the random streams.
    record : bool
        Keep the event trace.
    twin : bool
        Run the complete-information twin of the replication.
    """

    def __init__(self, p_mixes: np.ndarray, mix_cum: np.ndarray, seed: int, replication: int, record: bool = True,
                 twin: bool = False):
        self.env = simpy.Environment()
        self.state = np.zeros(STATE_SIZE)
        self.keys = np.zeros(N_STREAMS, dtype=np.uint64)
        self.counters = np.zeros(N_STREAMS, dtype=np.uint64)
        self._out = np.zeros((MAX_OUT, OUT_FIELDS))
        self._info = np.zeros(INFO_FIELDS)
        self._ws = np.zeros(SCRATCH_SIZE)
        self.seed = seed
        self.replication = replication
        self.mix = int(rules.setup(p_mixes, mix_cum, seed, replication, self.state, self.keys, self.counters, int(twin)))
        self.p = np.ascontiguousarray(p_mixes[self.mix])
        self.record = record
        self.twin = twin
        self.rows: list[tuple] = []
        self.actors = [Actor(self, a) for a in range(N_ACTORS)]
        n = rules.initial_messages(self.state, self.p, self._out)
        self._send(n)

    def _send(self, n: int) -> None:
        """Send the ``n`` messages a handler (or the set-up) wrote."""
        for row in self._out[:n]:
            msg = row[O_MSG : O_MSG + MSG_FIELDS].copy()
            target = self.actors[int(row[O_TARGET])]
            if row[O_DELAYED]:
                Delivery(self.env, row[O_DELAY], PRIORITY_BASE + int(msg[M_KIND]), target.inbox, msg)
            else:
                target.inbox.put(msg)

    def receive(self, actor: int, msg: np.ndarray) -> None:
        """Actor ``actor`` handles ``msg`` now (called from its process)."""
        now = self.env.now
        n = rules.handle(actor, msg, now, self.state, self.p, self.keys, self.counters, self._ws, self._out, self._info)
        if self.record:
            self._record(actor, msg, now)
        self._send(n)

    def _record(self, actor: int, msg: np.ndarray, now: float) -> None:
        info = self._info
        kind = int(msg[M_KIND])
        sender = int(msg[M_SENDER])
        flags = int(msg[M_FLAGS])
        signal = kind == MK_SIGNAL
        self.rows.append(
            (
                now,
                ACTOR_NAMES[actor],
                KIND_NAMES[kind],
                ACTOR_NAMES[sender] if sender >= 0 else "",
                int(msg[M_LEVEL]) if signal else -1,
                int(info[I_PERCEIVED]),
                bool(info[I_MISPERCEIVED]),
                bool(msg[M_PUBLIC]),
                bool(flags & F_INCIDENT),
                bool(flags & F_OBSERVED),
                bool(flags & F_OFFER) and signal,
                EVENT_NAMES[int(info[I_EVENT])],
                float(info[I_LEVEL]),
                float(info[I_VALUE]),
            )
        )

    def run(self) -> CrisisResult:
        """Run to the outcome (or, with an ally, to the horizon) and return the result."""
        horizon = self.p[rules.HORIZON]
        env = self.env
        while not rules.run_done(self.state, self.p) and env.peek() < horizon:
            env.step()
        rules.finalize(self.state, self.p)
        st = self.state
        if st[X_ERROR]:
            raise RuntimeError(f"a rule met an unknown strategy code (error {st[X_ERROR]:g}); see model/strategies.py")
        return CrisisResult(
            outcome=OUTCOME_NAMES[int(st[X_OUTCOME])],
            end_time=float(st[X_END_TIME]),
            challenge_time=float(st[X_CHALLENGE_TIME]),
            terms=float(st[X_FINAL_TERMS]),
            winner=("challenger", "defender")[int(st[X_WINNER])] if st[X_WINNER] >= 0 else "",
            inadvertent=bool(st[X_INADVERTENT]),
            challenger_type=TYPE_NAMES[int(st[X_C_TYPE])],
            defender_type=TYPE_NAMES[int(st[X_D_TYPE])],
            complete_information=bool(self.twin),
            ally_proliferated=bool(st[X_PROLIFERATED]),
            need_driven=bool(st[X_NEED]),
            mix=int(st[X_MIX]),
            seed=self.seed,
            replication=self.replication,
            events=int(st[X_EVENTS]),
            state=st.copy(),
            trace=pd.DataFrame(self.rows, columns=list(TRACE_COLUMNS)),
        )


def simulate(scenario: Scenario, seed: int, replication: int = 0, record: bool = True, twin: bool = False) -> CrisisResult:
    """Simulate one crisis of ``scenario`` with the SimPy reference engine.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (see :func:`escalation_sim.io.config.load_scenario`).
    seed : int
        Seed, >= 0. Same seed and replication give the same crisis, bit for bit.
    replication : int
        Replication index: which crisis of the seed's sequence.
    record : bool
        Keep the event trace (off for speed).
    twin : bool
        Run the complete-information twin instead: the same streams, each side
        knowing the other's type (to tell wars by miscalculation).

    Returns
    -------
    CrisisResult
    """
    if seed < 0 or replication < 0:
        raise ValueError("seed and replication must be >= 0")
    p_mixes, mix_cum = scenario.vectors()
    return Crisis(p_mixes, mix_cum, seed, replication, record, twin).run()


def level_name(level: int) -> str:
    """Name of a ladder level, or ``""`` for -1."""
    return LEVEL_NAMES[level] if 0 <= level < len(LEVEL_NAMES) else ""
