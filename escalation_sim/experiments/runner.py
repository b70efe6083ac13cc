"""Run an experiment: every cell through the compiled engine, then tables.

Results are flat records (one per cell, one per cell x motive x measure) that
become DataFrames, each row carrying its cell's label and parameters.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..engines import montecarlo as mc
from ..io.config import Experiment
from ..model.constants import (
    N_OUTCOMES,
    OUTCOME_NAMES,
    WAR_DELIBERATE,
    WAR_MISCALCULATION,
)
from .executors import LocalExecutor, Task
from .stats import CI_LEVEL, CI_METHOD, hist_quantile, wilson, wilson_halfwidth

MOTIVES = ("all", "opportunity", "need")


def config_hash(exp: Experiment) -> str:
    """SHA-256 of what determines the numbers: every cell's parameters and mixes, the block size.

    Seed and replication count are run settings, recorded beside the hash.
    """
    payload = {
        "cells": [
            {
                "label": c.label,
                "values": sorted(c.scenario.values.items()),
                "mixes": [[list(m.strategies), m.weight] for m in c.scenario.mixes],
            }
            for c in exp.cells
        ],
        "block_size": exp.block_size,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass
class RunSettings:
    """How to run: replications, seed, threads and the stopping rule."""

    replications: int
    seed: int
    block_size: int
    threads: int
    target_halfwidth: float | None = None
    max_replications: int = 10**9


@dataclass
class RunOutcome:
    """What a run produced."""

    cells: pd.DataFrame
    outcomes: pd.DataFrame
    replications: int
    stop_rule: dict
    totals: list = field(repr=False, default_factory=list)


def _counts(totals: mc.CellTotals, motive: str):
    if motive == "all":
        return totals.counts.sum(axis=0), int(totals.prolif.sum())
    k = 1 if motive == "need" else 0
    return totals.counts[k], int(totals.prolif[k])


def summarize(exp: Experiment, totals: list[mc.CellTotals]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cell table (one row per cell) and outcome table (cell x motive x measure).

    Measures: every outcome, ``war`` (deliberate + miscalculation) and
    ``ally_proliferation`` (a flag, not an outcome). Durations are those of
    crises that happened (every outcome but ``no_challenge``), in days.
    """
    cell_rows = []
    out_rows = []
    for cell, tot in zip(exp.cells, totals, strict=True):
        horizon = cell.scenario.value("crisis.horizon")
        width = horizon / mc.N_BINS
        for motive in MOTIVES:
            counts, prolif = _counts(tot, motive)
            n = int(counts.sum())
            measures = [(OUTCOME_NAMES[k], int(counts[k])) for k in range(N_OUTCOMES)]
            measures.append(("war", int(counts[WAR_DELIBERATE] + counts[WAR_MISCALCULATION])))
            measures.append(("ally_proliferation", prolif))
            for name, c in measures:
                lo, hi = wilson(c, n)
                out_rows.append(
                    {
                        "cell": cell.index,
                        "label": cell.label,
                        "motive": motive,
                        "measure": name,
                        "count": c,
                        "n": n,
                        "p": c / n if n else float("nan"),
                        "ci_low": lo,
                        "ci_high": hi,
                        "ci_method": CI_METHOD,
                        "ci_level": CI_LEVEL,
                    }
                )
        counts = tot.counts.sum(axis=0)
        n = tot.n
        war = int(counts[WAR_DELIBERATE] + counts[WAR_MISCALCULATION])
        crises = int(n - counts[0])
        mean = tot.duration_sum / crises if crises else float("nan")
        var = tot.duration_sumsq / crises - mean * mean if crises else float("nan")
        lo, hi = wilson(war, n)
        row = {
            "cell": cell.index,
            "label": cell.label,
            "defender_mix": cell.scenario.mix_label,
            "n": n,
            "p_war": war / n,
            "war_ci_low": lo,
            "war_ci_high": hi,
            "p_war_miscalculation": counts[WAR_MISCALCULATION] / n,
            "p_war_given_crisis": war / crises if crises else float("nan"),
            "ci_method": CI_METHOD,
        }
        for k in range(N_OUTCOMES):
            row[f"p_{OUTCOME_NAMES[k]}"] = counts[k] / n
        row["p_ally_proliferation"] = int(tot.prolif.sum()) / n
        row["crises"] = crises
        row["duration_mean"] = mean
        row["duration_sd"] = max(var, 0.0) ** 0.5 if crises else float("nan")
        for q in (0.1, 0.5, 0.9):
            row[f"duration_q{int(q * 100)}"] = hist_quantile(tot.hist, width, q)
        row["duration_resolution"] = width
        row["events_per_replication"] = tot.events / n
        row["draws_per_replication"] = tot.draws / n
        row["overrides"] = json.dumps(cell.overrides, sort_keys=True)
        cell_rows.append(row)
    return pd.DataFrame(cell_rows), pd.DataFrame(out_rows)


def max_war_halfwidth(totals: list[mc.CellTotals]) -> float:
    """Largest Wilson half-width of P(war) over the cells."""
    worst = 0.0
    for tot in totals:
        c = tot.counts.sum(axis=0)
        worst = max(worst, wilson_halfwidth(int(c[WAR_DELIBERATE] + c[WAR_MISCALCULATION]), tot.n))
    return worst


def plan_blocks(replications: int, block_size: int, shard: tuple[int, int] = (0, 1)) -> list[int]:
    """Blocks a shard ``(i, n)`` runs: every block ``b`` with ``b % n == i`` (round robin)."""
    i, n = shard
    return [b for b in range(mc.n_blocks(replications, block_size)) if b % n == i]


def make_tasks(exp: Experiment, totals: list[mc.CellTotals], replications: int, settings: RunSettings, shard, chunk: int) -> list[Task]:
    """Chunks of the blocks still missing, cell by cell."""
    tasks = []
    for cell, tot in zip(exp.cells, totals, strict=True):
        p_mixes, mix_cum = cell.scenario.vectors()
        todo = [b for b in plan_blocks(replications, settings.block_size, shard) if b not in tot.blocks_done]
        for i in range(0, len(todo), chunk):
            blocks = np.array(todo[i : i + chunk], dtype=np.int64)
            tasks.append(Task(cell.index, p_mixes, mix_cum, settings.seed, blocks, settings.block_size, replications))
    return tasks


def run_experiment(
    exp: Experiment,
    settings: RunSettings,
    executor=None,
    totals: list[mc.CellTotals] | None = None,
    shard: tuple[int, int] = (0, 1),
    on_result: Callable[[int, mc.BlockResults], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Run every cell of ``exp`` (or a shard's share of its blocks).

    ``totals`` may hold blocks finished earlier (a resumed run): they are not
    run again. ``on_result(cell, results)`` sees each finished chunk (to
    checkpoint it and advance a progress bar).

    With ``target_halfwidth`` set, replications start at ``settings.replications``
    (rounded up to whole blocks) and double until every cell's P(war)
    half-width is at most the target, or ``max_replications`` is reached: a
    geometric schedule, so at most log2(max / start) looks at the data. Earlier
    blocks are kept, never recomputed.
    """
    executor = executor or LocalExecutor(settings.threads)
    totals = totals or [mc.CellTotals() for _ in exp.cells]
    bs = settings.block_size
    n = settings.replications
    checks = []
    if settings.target_halfwidth is not None:
        n = mc.n_blocks(n, bs) * bs
    while True:
        # blocks per task: enough to keep the threads busy, and at most ~200 checkpoint files per cell
        chunk = max(4 * settings.threads if executor.name == "threads" else 4, -(-mc.n_blocks(n, bs) // 200))
        for cell, res in executor.run(make_tasks(exp, totals, n, settings, shard, chunk)):
            totals[cell].add(res)
            if on_result is not None:
                on_result(cell, res)
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
    if shard != (0, 1):
        return RunOutcome(cells=pd.DataFrame(), outcomes=pd.DataFrame(), replications=n, stop_rule=stop, totals=totals)
    cells, outcomes = summarize(exp, totals)
    return RunOutcome(cells=cells, outcomes=outcomes, replications=n, stop_rule=stop, totals=totals)
