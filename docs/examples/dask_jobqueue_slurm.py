"""Run an escalation-sim experiment on SLURM nodes through dask-jobqueue.

The script starts a Dask scheduler in this process, submits SLURM jobs that
each run Dask workers (``SLURMCluster``), and runs the experiment through
escalation-sim's own API (``load_experiment``, ``RunSettings``,
``run_experiment`` with a ``DaskExecutor`` connected to the cluster). The
results directory follows the rules of ``escalation-sim run``: finished blocks
are checkpointed as they arrive, running the same command again after an
interruption resumes the run, and a complete or different run is refused
unless ``--force`` is given.

Install (on a filesystem the compute nodes can see)::

    python -m pip install "escalation-sim[dask,jobqueue]"

Run it where the compute nodes can connect back to it (a login node that
allows long processes, or a small long-running job)::

    export NUMBA_CACHE_DIR=/shared/$USER/numba-cache     # shared by every node
    python docs/examples/dask_jobqueue_slurm.py experiments/default.toml \\
        --out results/default/dask-slurm -n 10000000 \\
        --jobs 4 --cores 16 --memory 16GB --walltime 02:00:00 --queue compute

See docs/scaling.md for the reasoning behind each choice.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("experiment", type=Path, help="Experiment file (TOML).")
    p.add_argument("--out", type=Path, required=True, help="Results directory (on a shared filesystem).")
    p.add_argument(
        "-n", "--replications", type=int, default=None, help="Replications per cell [default: the experiment's]."
    )
    p.add_argument("--seed", type=int, default=None, help="Seed [default: the experiment's].")
    p.add_argument("--block-size", type=int, default=None, help="Replications per block [default: the experiment's].")
    p.add_argument("--force", action="store_true", help="Discard existing results in --out and start again.")
    # One SLURM job = one node share with `cores` CPUs, running `cores` single-threaded worker
    # processes: the compiled kernels hold the GIL, so threads inside one worker would not run in parallel.
    p.add_argument("--jobs", type=int, default=2, help="SLURM jobs to submit (each runs --cores workers).")
    p.add_argument("--cores", type=int, default=8, help="CPUs per job (= worker processes per job).")
    p.add_argument("--memory", default="8GB", help="Memory per job.")
    p.add_argument("--walltime", default="01:00:00", help="Walltime per job (HH:MM:SS).")
    p.add_argument("--queue", default=None, help="SLURM partition (#SBATCH -p).")
    p.add_argument("--account", default=None, help="SLURM account (#SBATCH -A).")
    p.add_argument(
        "--min-workers",
        type=int,
        default=None,
        help="Workers to wait for before starting [default: one job's, --cores].",
    )
    p.add_argument("--wait", type=float, default=3600.0, help="Seconds to wait for --min-workers.")
    p.add_argument("--log-directory", default="dask-jobqueue-logs", help="Where SLURM writes the worker jobs' logs.")
    return p.parse_args(argv)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    # Imported here so that the file can be read and checked without dask-jobqueue installed.
    try:
        from dask_jobqueue import SLURMCluster
        from distributed import Client
    except ImportError as exc:
        log(f"error: {exc}: python -m pip install 'escalation-sim[dask,jobqueue]'")
        return 2

    from escalation_sim import ConfigError, __version__, load_experiment
    from escalation_sim._cache import source_hash
    from escalation_sim.experiments.executors import DaskExecutor, SchedulerError
    from escalation_sim.experiments.runner import RunSettings, config_hash, run_experiment
    from escalation_sim.io import blocks as io_blocks
    from escalation_sim.io import results as io_results
    from escalation_sim.io.runs import RunDir, RunMismatch

    try:
        exp = load_experiment(args.experiment)
    except ConfigError as exc:
        log(f"error: {exc}")
        return 2
    if args.block_size is not None:
        exp = dataclasses.replace(exp, block_size=args.block_size)
    n = exp.replications if args.replications is None else args.replications
    seed = exp.seed if args.seed is None else args.seed
    # threads only sizes LocalExecutor chunks; a Dask task is max(4, blocks per cell / 200) blocks of one cell.
    settings = RunSettings(replications=n, seed=seed, block_size=exp.block_size, threads=1)

    # The same identity as `escalation-sim run`, so the directory is claimed, resumed or
    # refused by the same rules (and the CLI can resume what this script started).
    ident = {
        "config_hash": config_hash(exp),
        "seed": seed,
        "replications_requested": n,
        "block_size": exp.block_size,
        "target_halfwidth": None,
        "model_source_hash": source_hash(),
    }
    run_dir = RunDir(args.out)
    try:
        resumed = run_dir.claim(ident, args.force)
    except RunMismatch as exc:
        log(f"error: {exc}")
        return 2

    cache = os.environ.get("NUMBA_CACHE_DIR")
    if not cache:
        log("warning: NUMBA_CACHE_DIR is not set: every node compiles the kernels into its own cache")
    cluster = SLURMCluster(
        cores=args.cores,
        processes=args.cores,  # one single-threaded worker process per CPU
        memory=args.memory,
        walltime=args.walltime,
        queue=args.queue,
        account=args.account,
        job_script_prologue=[f"export NUMBA_CACHE_DIR={cache}"] if cache else [],
        log_directory=args.log_directory,
    )
    try:
        log(cluster.job_script())
        cluster.scale(jobs=args.jobs)
        want = args.min_workers or args.cores
        log(f"waiting for {want} worker(s) (up to {args.wait:g} s)...")
        with Client(cluster) as client:
            client.wait_for_workers(want, timeout=args.wait)
        # Compiles (or loads) the kernels here, then on one worker, then on every
        # connected worker; workers that join later load them from NUMBA_CACHE_DIR.
        executor = DaskExecutor(cluster.scheduler_address)
    except (SchedulerError, TimeoutError) as exc:
        cluster.close()
        run_dir.release_if_new()
        log(f"error: {exc}")
        return 2

    manifest = run_dir.new_manifest(exp, args.experiment, ident, settings, "dask", resumed)
    totals = io_blocks.load_totals(args.out, len(exp.cells)) if resumed else None
    done = sum(t.n for t in totals) if totals else 0
    log(
        f"escalation-sim {__version__}: {exp.name}, {len(exp.cells)} cells x {n:,} replications, seed {seed}"
        f" -> {args.out}" + (f"; resuming: {done:,} replications already done" if resumed else "")
    )

    def checkpoint(cell, res):  # every finished chunk is on disk before the next one is folded in
        io_blocks.save_chunk(args.out, "", cell, res)

    t0 = time.perf_counter()
    try:
        outcome = run_experiment(exp, settings, executor=executor, totals=totals, on_result=checkpoint, log=log)
    except KeyboardInterrupt:
        run_dir.finish(manifest, "interrupted")
        log("interrupted; finished blocks are kept: run the same command again to resume")
        return 130
    finally:
        executor.close()
        cluster.close()
    seconds = time.perf_counter() - t0

    io_results.write_table(outcome.cells, args.out, "cells")
    io_results.write_table(outcome.outcomes, args.out, "outcomes")
    run_dir.finish(
        manifest,
        "complete",
        replications=outcome.replications,
        stop_rule=outcome.stop_rule,
        seconds=round(seconds, 3),
        files=["cells.parquet", "cells.csv", "outcomes.parquet", "outcomes.csv"],
    )
    print(outcome.cells[["label", "p_war", "war_ci_low", "war_ci_high"]].to_string(index=False))
    log(f"wrote {args.out} ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
