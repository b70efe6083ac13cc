"""Dask: a LocalCluster gives the same numbers as one process; lost workers lose nothing; late joiners warm up.

Skipped as a whole without ``dask.distributed`` (``pip install 'escalation-sim[dask]'``); the scale tests that
need no Dask are in tests/test_scale.py.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import cli as _run
from conftest import scale_experiment, tables

from escalation_sim.engines import montecarlo as mc

pytest.importorskip("distributed")


@pytest.mark.slow
def test_dask_local_cluster_bit_identical_to_serial(tmp_path, reference):
    exp, single = reference
    out = tmp_path / "dask"
    res = _run("run", exp, "--out", out, "--backend", "dask", "--workers", "2")
    assert res.exit_code == 0, res.output
    assert tables(out) == tables(single)


@pytest.mark.slow
def test_dask_worker_killed_mid_run_loses_and_double_counts_nothing(tmp_path):
    from escalation_sim.pipeline.experiment import load_experiment
    from escalation_sim.pipeline.schedule import make_tasks
    from escalation_sim.pipeline.settings import RunSettings
    from escalation_sim.scale.executors import DaskExecutor

    exp = load_experiment(scale_experiment(tmp_path, reps=40_000))
    settings = RunSettings(replications=40_000, seed=5, block_size=250, threads=1)
    cells = [c.scenario for c in exp.cells]
    tasks = make_tasks(cells, [mc.CellTotals() for _ in cells], 40_000, settings, chunk=4)
    ex = DaskExecutor(None, workers=2)
    try:
        gen = ex.run(tasks)
        results = [next(gen)]
        victim = sorted(ex.client.scheduler_info()["workers"])[0]
        try:
            ex.client.run(os._exit, 1, workers=[victim], wait=False)
        except Exception:  # noqa: BLE001 - the worker dies under the call; that is the point
            pass
        results.extend(gen)
    finally:
        ex.close()
    totals = [mc.CellTotals() for _ in exp.cells]
    for cell, res in results:
        totals[cell].add(res)  # raises if a block came back twice
    for c, tot in zip(exp.cells, totals, strict=True):
        ref = mc.run_cell(c.scenario, 40_000, 5, 250, threads=1)
        np.testing.assert_array_equal(tot.counts, ref.counts)
        assert tot.dur_sum == ref.dur_sum


@pytest.mark.slow
def test_dask_worker_that_joins_later_is_warmed_up_before_taking_tasks():
    """Adaptive and jobqueue clusters add workers mid-run: each must load the kernels on start."""
    from escalation_sim.scale.executors import DaskExecutor

    ex = DaskExecutor(None, workers=1)
    try:
        ex._cluster.scale(2)
        ex.client.wait_for_workers(2, timeout=60)
        has = ex.client.run(lambda dask_worker: "escalation-sim-warm-up" in dask_worker.plugins)
        assert len(has) == 2 and all(has.values())
    finally:
        ex.close()


@pytest.mark.slow  # waits for the connection timeout (10 s)
def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    out = tmp_path / "nowhere"
    res = _run("run", scale_experiment(tmp_path), "--out", out, "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert res.exit_code == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in res.output
    assert not out.exists()




@pytest.mark.slow
def test_a_callers_executor_runs_the_pipeline_and_stays_open(tmp_path, reference):
    """execute_run with an executor of the caller's (as docs/examples/dask_jobqueue_slurm.py does): the tables of a
    one-process run, and the executor is the caller's to close."""
    from escalation_sim.pipeline.experiment import load_experiment
    from escalation_sim.pipeline.run import execute_run
    from escalation_sim.pipeline.settings import resolve_settings
    from escalation_sim.scale.executors import DaskExecutor

    exp_path, single = reference
    exp = load_experiment(exp_path)
    ex = DaskExecutor(None, workers=1)
    try:
        res = execute_run(exp, resolve_settings(exp, threads=1, backend="dask"), out=tmp_path / "own", executor=ex)
        assert tables(res.directory) == tables(single)
        assert ex.client.status == "running"
    finally:
        ex.close()
