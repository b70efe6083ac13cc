"""The one scheduling path: cells to tasks (chunks of blocks), tasks to an executor, results to totals.

Every command that runs the compiled crisis engine goes through
:func:`run_cells`: ``run``, ``tournament``, ``sweep`` and ``merge``'s runs (via
:func:`escalation_sim.pipeline.run.execute_run`), and every point of
``calibrate`` and ``sensitivity``. A cell's blocks are cut into tasks; an
executor (local threads or Dask, :mod:`escalation_sim.scale.executors`) runs
them in any order; each result is folded into its cell's
:class:`~escalation_sim.engines.outputs.CellTotals` exactly, so the numbers do
not depend on the executor, the chunking, the threads or the shards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..engines import montecarlo as mc
from ..model.constants import WAR_OUTCOME
from ..model.scenario import Scenario
from ..scale.executors import DaskExecutor, LocalExecutor, Task
from ..stats import wilson_halfwidth
from .settings import RunSettings


@dataclass
class Scheduled:
    """What :func:`run_cells` produced: the totals of every cell, the replications per cell, the stopping rule."""

    totals: list[mc.CellTotals]
    replications: int
    stop_rule: dict = field(default_factory=dict)


def make_executor(settings: RunSettings):
    """The executor the settings ask for: local threads, or a Dask cluster (started here unless an address is given)."""
    if settings.backend == "dask":
        return DaskExecutor(settings.scheduler, settings.workers)
    return LocalExecutor(settings.threads)


def plan_blocks(replications: int, block_size: int, shard: tuple[int, int] = (0, 1)) -> list[int]:
    """Blocks a shard ``(i, n)`` runs: every block ``b`` with ``b % n == i`` (round robin)."""
    i, n = shard
    return [b for b in range(mc.n_blocks(replications, block_size)) if b % n == i]


def make_tasks(cells: Sequence[Scenario], totals: list[mc.CellTotals], replications: int, settings: RunSettings,
               chunk: int) -> list[Task]:
    """Chunks of ``chunk`` blocks still missing (of ``replications`` per cell), cell by cell."""
    tasks = []
    for index, (scenario, tot) in enumerate(zip(cells, totals, strict=True)):
        p_mixes, mix_cum = scenario.vectors()
        todo = [b for b in plan_blocks(replications, settings.block_size, settings.shard) if b not in tot.blocks_done]
        for i in range(0, len(todo), chunk):
            blocks = np.array(todo[i : i + chunk], dtype=np.int64)
            tasks.append(Task(index, p_mixes, mix_cum, settings.seed, blocks, settings.block_size, replications))
    return tasks


def max_war_halfwidth(totals: list[mc.CellTotals]) -> float:
    """Largest Wilson half-width of P(war) over the cells."""
    worst = 0.0
    for tot in totals:
        c = tot.counts.sum(axis=0)
        worst = max(worst, wilson_halfwidth(int(c[WAR_OUTCOME]), tot.n))
    return worst


def run_cells(
    cells: Sequence[Scenario],
    settings: RunSettings,
    executor=None,
    totals: list[mc.CellTotals] | None = None,
    on_result: Callable[[int, mc.BlockResults, int], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> Scheduled:
    """Run every cell (scenario) to ``settings.replications`` (or a shard's share of the blocks).

    ``totals`` may hold blocks finished earlier (a resumed run): they are not
    run again. ``on_result(cell, results, n)`` sees each finished chunk and the
    replications per cell it was run for (to checkpoint it and advance a progress bar). ``executor`` defaults to local
    threads (``settings.threads``).

    With ``settings.target_halfwidth`` set, replications start at
    ``settings.replications`` (rounded up to whole blocks) and double until every
    cell's P(war) half-width is at most the target, or ``max_replications`` is
    reached: a geometric schedule, so at most log2(max / start) looks at the
    data. Earlier blocks are kept, never recomputed.
    """
    executor = executor or LocalExecutor(settings.threads)
    totals = totals or [mc.CellTotals() for _ in cells]
    bs = settings.block_size
    n = settings.replications
    checks = []
    if settings.target_halfwidth is not None:
        n = mc.n_blocks(n, bs) * bs
    while True:
        # blocks per task: enough to keep the threads busy, and at most ~200 checkpoint files per cell
        chunk = max(4 * settings.threads if executor.name == "threads" else 4, -(-mc.n_blocks(n, bs) // 200))
        for cell, res in executor.run(make_tasks(cells, totals, n, settings, chunk)):
            if on_result is not None:
                on_result(cell, res, n)
            totals[cell].add(res)
        if settings.target_halfwidth is None:
            stop = {"rule": "fixed", "replications": n}
            break
        hw = max_war_halfwidth(totals)
        checks.append({"replications": n, "max_war_halfwidth": hw})
        if log:
            log(f"sequential check: n={n:,} max half-width of P(war) = {hw:.5f} (target {settings.target_halfwidth})")
        if hw <= settings.target_halfwidth or n >= settings.max_replications:
            stop = {
                "rule": "sequential",
                "target_halfwidth": settings.target_halfwidth,
                "reached": hw <= settings.target_halfwidth,
                "schedule": "geometric (doubling)",
                "checks": checks,
                "replications": n,
            }
            break
        n = min(2 * n, mc.n_blocks(settings.max_replications, bs) * bs)
    return Scheduled(totals, n, stop)


def run_scenario(scenario: Scenario, replications: int, seed: int, block_size: int, threads: int,
                 executor=None) -> mc.CellTotals:
    """:func:`run_cells` for one scenario (a point of a calibration or sensitivity design)."""
    settings = RunSettings(replications=replications, seed=seed, block_size=block_size, threads=threads)
    return run_cells([scenario], settings, executor).totals[0]
