"""Shared fixtures and helpers.

* scenarios: the shipped ones, and a builder with the validation of scenario files;
* statistics for tests that compare a frequency with a probability: Wilson intervals from SciPy (an
  implementation independent of ``escalation_sim.stats``) and Newcombe's interval for a difference;
* scripted situations (Axelrod's ``versus_test`` for this model): a replication set up by the model's own
  ``rules.setup``, into which a test delivers hand-written messages through ``rules.handle`` and reads what the
  actor did (its trace record, the rows it sent, the draws it made);
* a small experiment for the scale tests (``tests/test_scale.py``, ``tests/test_dask.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import settings
from scipy.stats import binomtest

from escalation_sim.cli import main
from escalation_sim.engines.simpy_engine import Crisis
from escalation_sim.model import rules
from escalation_sim.model.constants import (
    CHALLENGER,
    DEFENDER,
    DEMAND,
    EVENT_NAMES,
    I_EVENT,
    I_LEVEL,
    I_MISPERCEIVED,
    I_PERCEIVED,
    I_VALUE,
    INFO_FIELDS,
    KIND_NAMES,
    LEADER,
    M_AUX,
    M_FLAGS,
    M_KIND,
    M_LEVEL,
    M_PUBLIC,
    M_SENDER,
    MAX_OUT,
    MK_SIGNAL,
    MSG_FIELDS,
    N_STREAMS,
    O_DELAY,
    O_DELAYED,
    O_MSG,
    O_TARGET,
    OUT_FIELDS,
    S_ADV_LEVEL,
    S_COMMITTED,
    S_DECISIONS,
    S_KNOWN_TERMS,
    S_LEVEL,
    STATE_SIZE,
    X_CHALLENGE_TIME,
    X_DEMAND,
)
from escalation_sim.model.decision import SCRATCH_SIZE
from escalation_sim.model.scenario import Scenario
from escalation_sim.model.validation import load_scenario

settings.register_profile("ci", max_examples=30, deadline=None)
settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "experiments"
DIRECT_TOML = EXPERIMENTS / "direct-deterrence.toml"
EXTENDED_TOML = EXPERIMENTS / "extended-deterrence.toml"
SCHELLING_TOML = EXPERIMENTS / "tripwire-schelling.toml"

C_LEADER = 3 * CHALLENGER + LEADER
D_LEADER = 3 * DEFENDER + LEADER


def build_scenario(values: dict | None = None, strategies=None, population=None, name: str = "test") -> Scenario:
    """Build a validated scenario from Python values (``section.name -> raw value``)."""
    return Scenario.build(name=name, values=values, strategies=strategies, population=population)


@pytest.fixture(scope="session")
def direct() -> Scenario:
    """The shipped direct-deterrence scenario."""
    return load_scenario(DIRECT_TOML)


@pytest.fixture(scope="session")
def extended() -> Scenario:
    """The shipped extended-deterrence scenario."""
    return load_scenario(EXTENDED_TOML)


@pytest.fixture
def build():
    """The :func:`build_scenario` helper, as a fixture."""
    return build_scenario


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


# --- statistics ------------------------------------------------------------------------------------------------
def wilson_ci(count: int, n: int, confidence: float = 0.999) -> tuple[float, float]:
    """Wilson score interval of ``count / n`` (SciPy's, not the package's own :func:`escalation_sim.stats.wilson`).

    Frequency tests use 99.9% intervals: a correct model fails one of them with probability 0.001 at a new seed,
    so a whole file of such tests stays reliable, and the seeds are fixed, so a test that passes keeps passing.
    """
    ci = binomtest(int(count), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def newcombe_ci(x1: int, n1: int, x2: int, n2: int, confidence: float = 0.999) -> tuple[float, float]:
    """Newcombe's hybrid score interval (1998, method 10) of ``x1/n1 - x2/n2`` from SciPy's Wilson intervals.

    It assumes independent samples. Under common random numbers (the same seed in both arms) the arms are
    positively correlated in every comparison of this suite, so the interval is conservative (too wide).
    """
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_ci(x1, n1, confidence)
    l2, u2 = wilson_ci(x2, n2, confidence)
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


# --- scripted situations ---------------------------------------------------------------------------------------
@dataclass
class Row:
    """A message a handler sent (one row of ``out``)."""

    delayed: bool
    delay: float
    target: int
    kind: str
    sender: int
    level: float
    public: bool
    flags: int
    aux: float


@dataclass
class Step:
    """What an actor did with one message: its trace record, the rows it sent and the draws it made per stream."""

    event: str
    perceived: float
    misread: bool
    level: float
    value: float
    rows: list[Row]
    draws: np.ndarray


class Model:
    """The parameter vector of a validated scenario (derived part filled), to set replications up from."""

    def __init__(self, strategies=(), values: dict | None = None, scenario: Scenario | None = None):
        self.scenario = scenario or build_scenario(values, list(strategies))
        self.p_mixes, self.mix_cum = self.scenario.vectors()

    @property
    def p(self) -> np.ndarray:
        return self.p_mixes[0]

    def replication(self, seed: int = 0, rep: int = 0, twin: bool = False) -> Replication:
        return Replication(self, seed, rep, twin)


class Replication:
    """One replication after the model's set-up (``rules.setup``: mix, motive, types, beliefs, commitments)."""

    def __init__(self, model: Model, seed: int, rep: int, twin: bool = False):
        self.st = np.zeros(STATE_SIZE)
        self.keys = np.zeros(N_STREAMS, dtype=np.uint64)
        self.ctr = np.zeros(N_STREAMS, dtype=np.uint64)
        mix = rules.setup(model.p_mixes, model.mix_cum, seed, rep, self.st, self.keys, self.ctr, int(twin))
        self.p = np.ascontiguousarray(model.p_mixes[mix]).copy()
        self.ws = np.zeros(SCRATCH_SIZE)
        self.out = np.zeros((MAX_OUT, OUT_FIELDS))
        self.info = np.zeros(INFO_FIELDS)

    def open_crisis(self, demand: float = 0.75, now: float = 0.0) -> Replication:
        """The challenger has just challenged with ``demand`` (as ``rules.opportunity`` leaves the state)."""
        self.st[X_CHALLENGE_TIME] = now
        self.st[X_DEMAND] = demand
        self.st[rules.ix(CHALLENGER, S_LEVEL)] = DEMAND
        return self

    def mid_crisis(self, own: float, adv: float, demand: float = 0.75) -> Replication:
        """The defender has answered before: it holds level ``own``, it last perceived the challenger at ``adv``,
        and the demand it perceived is ``demand``."""
        self.open_crisis(demand)
        d = lambda f: rules.ix(DEFENDER, f)  # noqa: E731
        self.st[d(S_LEVEL)] = own
        self.st[d(S_ADV_LEVEL)] = adv
        self.st[d(S_KNOWN_TERMS)] = demand
        self.st[d(S_DECISIONS)] = 1.0
        self.st[d(S_COMMITTED)] = max(self.st[d(S_COMMITTED)], 1.0 if own >= 2 else 0.0)
        self.st[rules.ix(CHALLENGER, S_LEVEL)] = adv
        return self

    def deliver(self, actor: int, kind: int = MK_SIGNAL, sender: int = C_LEADER, level: float = DEMAND,
                flags: int = 0, aux: float = 0.0, now: float = 0.0, public: float = 1.0) -> Step:
        """Let ``actor`` handle one hand-written message at ``now``."""
        msg = np.zeros(MSG_FIELDS)
        msg[M_KIND] = kind
        msg[M_SENDER] = sender
        msg[M_LEVEL] = level
        msg[M_PUBLIC] = public
        msg[M_FLAGS] = flags
        msg[M_AUX] = aux
        before = self.ctr.astype(np.int64)
        n = rules.handle(actor, msg, now, self.st, self.p, self.keys, self.ctr, self.ws, self.out, self.info)
        rows = [Row(bool(r[O_DELAYED]), float(r[O_DELAY]), int(r[O_TARGET]), KIND_NAMES[int(r[O_MSG + M_KIND])],
                    int(r[O_MSG + M_SENDER]), float(r[O_MSG + M_LEVEL]), bool(r[O_MSG + M_PUBLIC]),
                    int(r[O_MSG + M_FLAGS]), float(r[O_MSG + M_AUX])) for r in self.out[:n]]
        i = self.info
        return Step(EVENT_NAMES[int(i[I_EVENT])], float(i[I_PERCEIVED]), bool(i[I_MISPERCEIVED]), float(i[I_LEVEL]),
                    float(i[I_VALUE]), rows, self.ctr.astype(np.int64) - before)

    def s(self, state: int, field: int) -> float:
        """A per-state field of the state vector."""
        return float(self.st[rules.ix(state, field)])


def simpy_run(scenario: Scenario, seed: int, rep: int = 0, twin: bool = False, record: bool = True):
    """One SimPy crisis and the draws it made per stream: ``(CrisisResult, counters)``."""
    p_mixes, mix_cum = scenario.vectors()
    crisis = Crisis(p_mixes, mix_cum, seed, rep, record, twin)
    res = crisis.run()
    return res, crisis.counters.astype(np.int64)


# --- a small experiment run through the command line (tests/test_scale.py, tests/test_dask.py) ---------------
def scale_experiment(tmp_path: Path, seed: int = 5, reps: int = 6000) -> Path:
    """Three cells of the extended-deterrence scenario in blocks of 250 (24 blocks per cell at 6,000 replications)."""
    p = tmp_path / f"exp{seed}.toml"
    p.write_text(
        f'[experiment]\nname = "scale"\nscenario = "{EXTENDED_TOML}"\nreplications = {reps}\nseed = {seed}\n'
        "block_size = 250\n"
        '[grid]\n"defender.strategy" = [["immediate_deterrence", "tripwire"], ["grit", "aid"], ["tit_for_tat"]]\n'
    )
    return p


def cli(*args):
    """``escalation-sim ARGS`` through click's runner."""
    return CliRunner().invoke(main, [str(a) for a in args])


def tables(d: Path) -> tuple[bytes, bytes]:
    """The bytes of a run's cell and outcome tables."""
    return (d / "cells.csv").read_bytes(), (d / "outcomes.csv").read_bytes()


@pytest.fixture
def reference(tmp_path):
    """:func:`scale_experiment` and its run in one process, one thread."""
    exp = scale_experiment(tmp_path)
    out = tmp_path / "single"
    assert cli("run", exp, "--out", out, "--threads", "1").exit_code == 0
    return exp, out
