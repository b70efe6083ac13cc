"""The compiled engine reproduces the SimPy reference engine, replication for replication, bit for bit.

Cases (each compares the full final state vector -- outcome, times, terms, types, beliefs, levels, pressures,
readiness, the ally's belief and programme, costs, the number of messages handled -- of every replication):

* every scenario file in ``experiments/`` (crisis form), 2,000 replications;
* every strategy of the table: each response rule alone, each modifier alone and with immediate deterrence and
  with tit for tat, each ally instrument alone and with immediate deterrence (with an ally), each challenger style
  against two mixes, 2,000 replications each;
* every cell of every shipped crisis experiment (144 distinct parameter vectors), 400 replications each;
* complete-information twins: of every replication that ends in war (the ones the kernel twins) and of the first
  500 of each case;
* exact ties: zero delays and whole-day clocks, so that many deliveries fall due at the same instant;
* populations of mixes (a mix drawn per replication).

The quick loop (``-m "not slow"``) keeps a subset: two scenarios at 300 replications with twins, the ties and a
population. Serial and parallel kernels, any block size, chunking and thread count give identical cell totals.
"""

from __future__ import annotations

import glob
from functools import cache

import numpy as np
import pytest
from conftest import DIRECT_TOML, EXPERIMENTS, EXTENDED_TOML, build_scenario

from escalation_sim.engines import montecarlo as mc
from escalation_sim.engines.outputs import MEASURES
from escalation_sim.engines.simpy_engine import Crisis
from escalation_sim.model import strategies
from escalation_sim.model.constants import (
    N_OUTCOMES,
    WAR_OUTCOME,
    X_ABANDONED,
    X_ALLY_OPENED,
    X_DETECTED,
    X_INADVERTENT,
    X_INCIDENTS,
    X_OUTCOME,
    X_PROLIFERATED,
    X_TRANSFERS,
)
from escalation_sim.model.scenario import Scenario
from escalation_sim.model.validation import load_scenario
from escalation_sim.pipeline.experiment import load_experiment

SEED = 11
N_REPS = 2000
N_CELL_REPS = 400
N_TWINS = 500


def assert_identical(scenario: Scenario, seed: int, n: int, twins: int = N_TWINS) -> np.ndarray:
    """Both engines on replications ``0 .. n-1`` and on the twins; returns the compiled states."""
    compiled = mc.final_states(scenario, seed, range(n))
    p_mixes, mix_cum = scenario.vectors()
    bad = []
    for r in range(n):
        ref = Crisis(p_mixes, mix_cum, seed, r, record=False).run().state
        if not np.array_equal(ref, compiled[r]):
            bad.append((r, np.flatnonzero(ref != compiled[r]).tolist()))
    assert not bad, f"{len(bad)} of {n} replications differ; first (replication, fields): {bad[:3]}"
    reps = sorted(set(range(min(twins, n))) | set(np.flatnonzero(compiled[:, X_OUTCOME] == WAR_OUTCOME).tolist()))
    twin_states = mc.final_states(scenario, seed, reps, twin=True)
    for i, r in enumerate(reps):
        ref = Crisis(p_mixes, mix_cum, seed, r, record=False, twin=True).run().state
        if not np.array_equal(ref, twin_states[i]):
            bad.append((r, np.flatnonzero(ref != twin_states[i]).tolist()))
    assert not bad, f"{len(bad)} complete-information twins differ; first (replication, fields): {bad[:3]}"
    return compiled


# --- the cases ----------------------------------------------------------------------------------------------
SCENARIO_FILES = [p for p in sorted(EXPERIMENTS.glob("*.toml")) if "[scenario]" in p.read_text() and "[ipd]" not in p.read_text()]
RESPONSES = strategies.RESPONSE_RULES
MODIFIERS = tuple(s.name for s in strategies.STRATEGIES if s.kind == "modifier")
INSTRUMENTS = strategies.ALLY_INSTRUMENTS


def strategy_cases():
    """``(id, values, mix)`` for every strategy of the table, with and without a response rule."""
    yield "none", {}, []
    for r in RESPONSES:
        yield r, {}, [r]
    for m in MODIFIERS:
        yield m, {}, [m]
        yield f"{m}+immediate_deterrence", {}, ["immediate_deterrence", m]
        yield f"{m}+tit_for_tat", {}, ["tit_for_tat", m]
    ally = {"ally.present": True, "defender.renewal_interval": 45.0}
    for k in INSTRUMENTS:
        yield f"ally-{k}", ally, [k]
        yield f"ally-{k}+immediate_deterrence", ally, ["immediate_deterrence", k]
    for c in strategies.CHALLENGER_STRATEGIES:
        yield f"challenger-{c}-vs-none", {"challenger.strategy": c}, []
        yield f"challenger-{c}-vs-reciprocal_concessions", {"challenger.strategy": c}, ["reciprocal_concessions"]
    yield "schelling-no-exit", {"ally.present": True, "effects.tripwire_no_exit": True, "effects.tripwire_lr": 3.0}, \
        ["immediate_deterrence", "tripwire", "public_statement"]
    yield "no-risk-taking", {"ally.present": True, "ally.risk_taking": False}, ["tripwire"]


STRATEGY_CASES = list(strategy_cases())


def crisis_experiments():
    out = []
    for path in sorted(glob.glob(str(EXPERIMENTS / "*.toml"))):
        text = open(path).read()
        if "[experiment]" in text and 'form = "ipd"' not in text:
            out.append(path)
    return out


@cache
def experiment_scenarios(path: str) -> tuple[Scenario, ...]:
    """The distinct scenarios of an experiment's cells."""
    seen, out = set(), []
    for cell in load_experiment(path).cells:
        pm, cum = cell.scenario.vectors()
        key = pm.tobytes() + cum.tobytes()
        if key not in seen:
            seen.add(key)
            out.append(cell.scenario)
    return tuple(out)


# --- quick subset ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [DIRECT_TOML, EXTENDED_TOML], ids=lambda p: p.stem)
def test_shipped_scenarios_quick(path):
    assert_identical(load_scenario(path), SEED, 300, twins=100)


@pytest.mark.parametrize("ally", [False, True])
def test_exact_ties_are_ordered_the_same(ally):
    """No delays at all (signals, execution) and whole-day clocks (GRIT, renewals, reviews on a common grid):
    deliveries fall due together all the time; both engines order them by (time, 2 + kind, send order)."""
    values = {"channel.delay_mean": 0.0, "channel.delay_min": 0.0, "military.execution_delay_mean": 0.0,
              "defender.grit_interval": 30.0, "crisis.opportunity_rate": 0.05}
    mix = ["tit_for_tat", "grit"]
    if ally:
        values.update({"ally.present": True, "defender.renewal_interval": 30.0, "ally.review_interval": 30.0})
        mix += ["public_statement", "exercises"]
    scen = build_scenario(values, mix)
    states = assert_identical(scen, 5, 400, twins=100)
    assert (states[:, X_OUTCOME] != 0).mean() > 0.5  # crises happened: the ties were exercised


def test_population_of_mixes():
    pop = build_scenario({"ally.present": True, "defender.renewal_interval": 45.0},
                         population=[(0.7, ["immediate_deterrence", "tripwire"]), (0.3, ["grit", "aid", "exercises"])])
    states = assert_identical(pop, 3, 400, twins=50)
    share = (states[:, 4] == 0).mean()
    assert 0.6 < share < 0.8  # 400 draws of p = 0.7: sd 0.023, the band is more than 4 sd wide


# --- the full comparison (slow) -------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_every_scenario_file(path):
    assert_identical(load_scenario(path), SEED, N_REPS)


@pytest.mark.slow
@pytest.mark.parametrize(("values", "mix"), [c[1:] for c in STRATEGY_CASES], ids=[c[0] for c in STRATEGY_CASES])
def test_every_strategy(values, mix):
    assert_identical(build_scenario(values, mix), SEED, N_REPS)


@pytest.mark.slow
@pytest.mark.parametrize("path", crisis_experiments(), ids=lambda p: p.rsplit("/", 1)[-1][:-5])
def test_every_experiment_cell(path):
    for scen in experiment_scenarios(path):
        assert_identical(scen, SEED, N_CELL_REPS, twins=100)


@pytest.mark.slow
def test_the_cases_are_not_vacuous():
    """Together the identity cases reach every outcome, wars by miscalculation (the twin has no war) and
    inadvertent wars, incidents, GRIT transfers, proliferation, detection, entrapment and abandonment: the
    comparisons cover every branch that writes these fields (compiled engine only; it is the cheap side)."""
    seen = np.zeros(N_OUTCOMES, dtype=bool)
    flags = dict.fromkeys(("miscalculation", "inadvertent", "incident", "transfer", "proliferated", "detected",
                           "entrapment", "abandoned"), 0)
    scenarios = [build_scenario(v, m) for _, v, m in STRATEGY_CASES] + [load_scenario(p) for p in SCENARIO_FILES]
    for scen in scenarios:
        st = mc.final_states(scen, SEED, range(N_REPS))
        seen[np.unique(st[:, X_OUTCOME].astype(int))] = True
        war = np.flatnonzero(st[:, X_OUTCOME] == WAR_OUTCOME)
        if len(war):
            tw = mc.final_states(scen, SEED, war, twin=True)
            flags["miscalculation"] += int((tw[:, X_OUTCOME] != WAR_OUTCOME).sum())
        flags["inadvertent"] += int(st[:, X_INADVERTENT].sum())
        flags["incident"] += int((st[:, X_INCIDENTS] > 0).sum())
        flags["transfer"] += int((st[:, X_TRANSFERS] > 0).sum())
        flags["proliferated"] += int(st[:, X_PROLIFERATED].sum())
        flags["detected"] += int((st[:, X_DETECTED] >= 0).sum())
        flags["entrapment"] += int(((st[:, X_ALLY_OPENED] > 0) & (st[:, X_OUTCOME] == WAR_OUTCOME)).sum())
        flags["abandoned"] += int(st[:, X_ABANDONED].sum())
    assert seen.all()
    assert all(v > 0 for v in flags.values()), flags


# --- the compiled kernels: serial, parallel, block size, threads, chunks ---------------------------------------
def _totals_equal(a: mc.CellTotals, b: mc.CellTotals):
    for m in MEASURES:
        x, y = getattr(a, m.name), getattr(b, m.name)
        if m.exact:
            np.testing.assert_array_equal(x, y, err_msg=m.name)
        else:
            assert x == y, m.name  # fsum of the same block values, bit for bit


def test_serial_and_parallel_kernels_identical(extended):
    pm, cum = extended.vectors()
    blocks = np.arange(6)
    serial = mc.run_blocks(pm, cum, 9, blocks, 300, 1750, parallel=False)
    parallel = mc.run_blocks(pm, cum, 9, blocks, 300, 1750, parallel=True, threads=2)
    for m in MEASURES:
        np.testing.assert_array_equal(getattr(serial, m.name), getattr(parallel, m.name), err_msg=m.name)
    assert serial.counts.sum() == 1750  # the last block is partial: 1750 - 5 x 300 = 250


@pytest.mark.parametrize("threads", [1, 3, 8])
def test_the_threaded_twin_fills_each_row_as_the_serial_kernel_does(direct, threads):
    """The parallel twin hands chunks of blocks to a pool of threads, each chunk writing views of its rows: a chunk
    written to the wrong rows, or a chunk lost or run twice, would break equality with one serial call (7 blocks:
    chunks of unequal size; 8 threads: more threads than blocks)."""
    pm, cum = direct.vectors()
    blocks = np.array([6, 0, 5, 1, 4, 2, 3])  # rows are positions in the call, not block numbers
    serial = mc.run_blocks(pm, cum, 5, blocks, 40, 270, parallel=False)
    threaded = mc.run_blocks(pm, cum, 5, blocks, 40, 270, parallel=True, threads=threads)
    for m in MEASURES:
        np.testing.assert_array_equal(getattr(serial, m.name), getattr(threaded, m.name), err_msg=m.name)
    assert serial.counts[0].sum() == 30 and serial.counts[1].sum() == 40  # block 6 is the partial one


def test_threads_and_chunks_give_identical_totals(extended):
    a = mc.run_cell(extended, 6000, 4, block_size=500, threads=1)
    b = mc.run_cell(extended, 6000, 4, block_size=500, threads=2, chunk_blocks=5)
    c = mc.run_cell(extended, 6000, 4, block_size=500, threads=2, chunk_blocks=1)
    _totals_equal(a, b)
    _totals_equal(a, c)


@pytest.mark.parametrize("block_size", [7, 37, 1000, 6000])
def test_any_block_size_gives_the_same_counts(direct, block_size):
    """Integer measures do not depend on the block size (float sums are summed per block, so they may differ in
    the last bits: they are compared to 1e-12 relative)."""
    ref = mc.run_cell(direct, 3000, 8, block_size=3000, threads=1)
    got = mc.run_cell(direct, 3000, 8, block_size=block_size, threads=2)
    for m in MEASURES:
        if m.exact:
            np.testing.assert_array_equal(getattr(ref, m.name), getattr(got, m.name), err_msg=m.name)
        else:
            assert getattr(got, m.name) == pytest.approx(getattr(ref, m.name), rel=1e-12, abs=1e-12), m.name


def test_different_seeds_differ(extended):
    a = mc.run_cell(extended, 2000, 1, block_size=500)
    b = mc.run_cell(extended, 2000, 2, block_size=500)
    assert not np.array_equal(a.counts, b.counts)
