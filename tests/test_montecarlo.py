"""Monte Carlo runner: reproducible at any parallelism, exact reduction, bounded memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from escalation_sim.engines import montecarlo as mc
from escalation_sim.model.constants import OUTCOME_NAMES
from escalation_sim.model.validation import load_scenario

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def extended():
    return load_scenario(ROOT / "experiments" / "extended-deterrence.toml")


def _equal(a: mc.BlockResults, b: mc.BlockResults):
    for name in ("counts", "prolif", "dur_sum", "dur_sumsq", "hist", "events", "draws"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_serial_and_parallel_twins_identical(extended):
    pm, cum = extended.vectors()
    blocks = np.arange(6)
    serial = mc.run_blocks(pm, cum, 9, blocks, 300, 1750, parallel=False)
    parallel = mc.run_blocks(pm, cum, 9, blocks, 300, 1750, parallel=True, threads=2)
    _equal(serial, parallel)
    assert serial.counts.sum() == 1750  # last block partial: 1750 - 5 * 300 = 250


def test_one_and_two_threads_and_any_chunking_bit_identical(extended):
    a = mc.run_cell(extended, 6000, 4, block_size=500, threads=1)
    b = mc.run_cell(extended, 6000, 4, block_size=500, threads=2, chunk_blocks=5)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.hist, b.hist)
    assert a.dur_sum == b.dur_sum and a.dur_sumsq == b.dur_sumsq


def test_block_results_match_per_replication_states(extended):
    """Aggregated counts equal the counts of the per-replication final states (independent path)."""
    states = mc.final_states(extended, 21, range(1000))
    tot = mc.run_cell(extended, 1000, 21, block_size=128, threads=2)
    for k in range(len(OUTCOME_NAMES)):
        for need in (0, 1):
            expected = int(((states[:, 0] == k) & (states[:, 3] == need)).sum())
            assert tot.counts[need, k] == expected
    crises = states[states[:, 0] != 0]
    assert tot.dur_sum == pytest.approx(crises[:, 1].sum(), rel=1e-12)


def test_different_seeds_differ(extended):
    a = mc.run_cell(extended, 2000, 1, block_size=500)
    b = mc.run_cell(extended, 2000, 2, block_size=500)
    assert not np.array_equal(a.counts, b.counts)


def test_extending_a_cell_equals_running_it_at_once(extended):
    """Sequential stopping adds blocks; it never recomputes or changes earlier ones."""
    tot = mc.run_cell(extended, 1000, 3, block_size=250)
    mc.run_cell(extended, 2000, 3, block_size=250, totals=tot)
    once = mc.run_cell(extended, 2000, 3, block_size=250)
    np.testing.assert_array_equal(tot.counts, once.counts)
    assert tot.dur_sum == once.dur_sum


def test_partial_last_block_cannot_be_extended(extended):
    tot = mc.run_cell(extended, 1100, 3, block_size=250)
    with pytest.raises(ValueError, match="partial"):
        mc.run_cell(extended, 2000, 3, block_size=250, totals=tot)


def test_a_block_is_never_counted_twice(extended):
    pm, cum = extended.vectors()
    tot = mc.CellTotals()
    res = mc.run_blocks(pm, cum, 1, np.array([0, 1]), 10, 20)
    tot.add(res)
    with pytest.raises(ValueError, match="twice"):
        tot.add(res)
