"""Run an escalation-sim experiment on SLURM nodes through dask-jobqueue.

The script starts a Dask scheduler in this process, submits SLURM jobs that
each run Dask workers (``SLURMCluster``), and runs the experiment through
escalation-sim's run pipeline (``load_experiment``, ``resolve_settings``,
``execute_run`` with a ``DaskExecutor`` connected to the cluster): the same
call as ``escalation-sim run``, with an executor of its own. The results
directory follows the rules of ``escalation-sim run``: finished blocks
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
import os
import sys
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

    from escalation_sim import UserError, load_experiment
    from escalation_sim.errors import RunInterrupted, SchedulerError
    from escalation_sim.pipeline.run import execute_run
    from escalation_sim.pipeline.settings import resolve_settings
    from escalation_sim.scale.executors import DaskExecutor

    try:
        exp = load_experiment(args.experiment)
        # the same settings (and so the same run identity) as `escalation-sim run --backend dask`: the
        # directory is claimed, resumed or refused by the same rules, and the CLI can resume what this started
        settings = resolve_settings(exp, replications=args.replications, seed=args.seed, block_size=args.block_size,
                                    threads=1, backend="dask")
    except UserError as exc:
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
        log(f"error: {exc}")
        return 2

    try:
        # a Dask task is max(4, blocks per cell / 200) blocks of one cell; each finished chunk is checkpointed
        result = execute_run(exp, settings, experiment_file=args.experiment, out=args.out, force=args.force,
                             executor=executor, log=log)
    except RunInterrupted as exc:
        log(f"error: {exc}")
        return 130
    except UserError as exc:
        log(f"error: {exc}")
        return 2
    finally:
        executor.close()
        cluster.close()
    print(result.cells[["label", "p_war", "war_ci_low", "war_ci_high"]].to_string(index=False))
    log(f"wrote {result.directory} ({result.seconds:.1f} s)")
    return 0

if __name__ == "__main__":
    sys.exit(main())
