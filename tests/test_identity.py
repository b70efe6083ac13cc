"""The compiled engine reproduces the SimPy reference engine replication for replication.

For every shipped scenario and every strategy (each defender strategy that the
scenario admits, each challenger strategy), 2,000 replications run in both
engines and every final state (outcome, end time, levels, beliefs, ally
confidence and flag, number of messages handled, ...) must be bit-identical.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from escalation_sim.engines.montecarlo import final_states
from escalation_sim.engines.simpy_engine import Crisis
from escalation_sim.model.params import ALLY_INSTRUMENTS, CHALLENGER_STRATEGIES, DEFENDER_STRATEGY_NAMES
from escalation_sim.model.validation import load_scenario, scenario_from_mapping

pytestmark = pytest.mark.slow  # 2,000 crises per strategy in both engines, ~45 s: deselect with -m "not slow"

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "experiments").glob("*deterrence.toml"))
N_REPS = 2000
SEED = 11


def _variants():
    for path in SCENARIOS:
        base = load_scenario(path)
        ally = base.value("ally.present") > 0
        for name in DEFENDER_STRATEGY_NAMES:
            if name in ALLY_INSTRUMENTS and not ally:
                continue
            yield pytest.param(path, {"defender": {"strategy": [name]}}, id=f"{path.stem}-defender-{name}")
        for name in CHALLENGER_STRATEGIES:
            yield pytest.param(path, {"challenger": {"strategy": name}}, id=f"{path.stem}-challenger-{name}")


def _assert_identical(scenario, seed, reps):
    compiled = final_states(scenario, seed, reps)
    p_mixes, mix_cum = scenario.vectors()
    mismatches = []
    for i, r in enumerate(reps):
        ref = Crisis(p_mixes, mix_cum, seed, int(r), record=False).run().state
        if not np.array_equal(ref, compiled[i]):
            mismatches.append((int(r), np.flatnonzero(ref != compiled[i]).tolist()))
    assert not mismatches, f"{len(mismatches)} of {len(reps)} replications differ; first: {mismatches[:3]}"


@pytest.mark.slow
@pytest.mark.parametrize("path, override", list(_variants()))
def test_engines_identical(path, override):
    base = load_scenario(path)
    scenario = scenario_from_mapping(override, str(path), base=base)
    _assert_identical(scenario, SEED, range(N_REPS))


def test_identity_covers_every_outcome():
    """The identity runs are not vacuous: together the variants reach every outcome and proliferation."""
    seen = set()
    proliferated = 0
    for param in _variants():
        path, override = param.values
        scenario = scenario_from_mapping(override, str(path), base=load_scenario(path))
        states = final_states(scenario, SEED, range(N_REPS))
        seen |= set(states[:, 0].astype(int).tolist())
        proliferated += int(states[:, 2].sum())
    assert seen == set(range(7))
    assert proliferated > 0


def test_exact_ties_are_ordered_the_same():
    """With fixed delays (delay_mean = 0, whole-day execution) simultaneous deliveries are common;
    both engines must order them by (time, 2 + kind, send order)."""
    base = load_scenario(SCENARIOS[0])
    tie = scenario_from_mapping(
        {"channel": {"delay_mean": 0.0, "delay_min": 1.0}, "military": {"execution_delay_mean": 0.0},
         "defender": {"strategy": ["tit_for_tat"]}, "challenger": {"strategy": "firm"}},
        "ties", base=base,
    )
    _assert_identical(tie, 5, range(500))


def test_population_mix_identical():
    """A population of defender leaders (mix drawn per replication) is reproduced too."""
    base = load_scenario(SCENARIOS[-1])
    pop = scenario_from_mapping(
        {"defender": {"population": [{"weight": 0.7, "strategy": ["immediate_deterrence", "tripwire"]},
                                     {"weight": 0.3, "strategy": ["grit", "aid", "exercises"]}],
                      "renewal_interval": 45.0}},
        "pop", base=base,
    )
    states = final_states(pop, 3, range(400))
    mixes = states[:, 4]
    assert 0.6 < (mixes == 0).mean() < 0.8  # 400 draws of p = 0.7: sd 0.023, the band is > 4 sd
    _assert_identical(pop, 3, range(400))
