"""Scaling benchmark: threads and Dask workers, per-block overhead, block size.

Run: ``python benchmarks/workers.py [--quick]``. Prints a table and writes
``benchmarks/records/workers-<timestamp>-<commit8>.json``. Figures are medians
of repeated runs; ratios are taken within this run (the machine is shared).

* replications/s of the extended-deterrence scenario through the experiment
  runner with the threads backend (1, 2 threads) and Dask (LocalCluster of 1
  and 2 single-threaded worker processes);
* per-block overhead: time of a fixed number of replications split into blocks
  of different sizes (one thread), fitted as ``t = a * replications + b * blocks``;
  the block size at which the overhead is 1% of a block's work is ``100 * b / a``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import escalation_sim  # noqa: F401  (configures the kernel cache)
from escalation_sim.engines import montecarlo as mc
from escalation_sim.model.validation import load_scenario
from escalation_sim.pipeline.experiment import Cell, Experiment
from escalation_sim.pipeline.schedule import run_cells
from escalation_sim.pipeline.settings import RunSettings
from escalation_sim.scale.executors import DaskExecutor, LocalExecutor

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "experiments" / "extended-deterrence.toml"


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _experiment(n: int, block: int) -> Experiment:
    s = load_scenario(SCENARIO)
    return Experiment("bench", str(SCENARIO), str(SCENARIO), (Cell(0, "extended", s),), n, 1, block)


def _time_runner(executor, n: int, block: int, threads: int, repeats: int) -> list[float]:
    exp = _experiment(n, block)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_cells([c.scenario for c in exp.cells], RunSettings(n, 1, block, threads), executor=executor)
        out.append(n / (time.perf_counter() - t0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer replications and repeats")
    args = ap.parse_args()
    n = 2**17 if args.quick else 2**19
    repeats = 3 if args.quick else 5
    block = 4096
    mc.warm_up()
    figures: dict[str, dict] = {}

    for threads in (1, 2):
        runs = _time_runner(LocalExecutor(threads), n, block, threads, repeats)
        figures[f"threads_{threads}"] = {"median_reps_per_s": statistics.median(runs), "runs": runs}
    for workers in (1, 2):
        ex = DaskExecutor(None, workers=workers)
        try:
            _time_runner(ex, n // 4, block, 1, 1)  # warm the workers
            runs = _time_runner(ex, n, block, 1, repeats)
        finally:
            ex.close()
        figures[f"dask_workers_{workers}"] = {"median_reps_per_s": statistics.median(runs), "runs": runs}

    # per-block overhead: same replications, different block sizes, one thread, serial kernel
    s = load_scenario(SCENARIO)
    p_mixes, mix_cum = s.vectors()
    total = 2**16 if args.quick else 2**18
    sizes = [16, 64, 256, 1024, 4096]
    rows = []
    for bs in sizes:
        nb = total // bs
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            mc.run_blocks(p_mixes, mix_cum, 1, np.arange(nb), bs, total, parallel=False)
            ts.append(time.perf_counter() - t0)
        rows.append((bs, nb, statistics.median(ts)))
    # least squares t = a * total + b * blocks (total fixed): t_k = c + b * nb_k
    nbs = np.array([r[1] for r in rows], dtype=float)
    ts = np.array([r[2] for r in rows])
    b, c = np.polyfit(nbs, ts, 1)
    a = c / total
    figures["per_block"] = {
        "block_sizes": sizes,
        "median_seconds": [r[2] for r in rows],
        "replications": total,
        "seconds_per_replication": a,
        "overhead_seconds_per_block": b,
        "block_size_for_1pct_overhead": 100 * b / a if a > 0 else None,
    }

    record = {
        "kind": "workers",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "scenario": SCENARIO.name,
        "replications": n,
        "block_size": block,
        "repeats": repeats,
        "figures": figures,
    }
    out = ROOT / "benchmarks" / "records" / f"workers-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{record['commit'][:8]}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")

    base = figures["threads_1"]["median_reps_per_s"]
    print(f"{'backend':<22} {'median reps/s':>14} {'vs 1 thread':>12}")
    for key in ("threads_1", "threads_2", "dask_workers_1", "dask_workers_2"):
        v = figures[key]["median_reps_per_s"]
        print(f"{key:<22} {v:14,.0f} {v / base:12.2f}x")
    pb = figures["per_block"]
    print(
        f"\nper-replication time {pb['seconds_per_replication'] * 1e6:.2f} us; per-block overhead {pb['overhead_seconds_per_block'] * 1e6:.1f} us"
    )
    bs1 = pb["block_size_for_1pct_overhead"]
    print(f"block size at which overhead is 1% of the work: {bs1:.0f}" if bs1 else "overhead not measurable")
    for bs, nb, t in rows:
        print(f"  block {bs:>5}: {nb:>6} blocks, {t:.3f} s")
    print(f"\nrecord: {out}")


if __name__ == "__main__":
    main()
