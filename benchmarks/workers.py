"""Scaling model: threads, Dask workers, shards and their merge, and a projection to a SLURM cluster.

Run: ``python benchmarks/workers.py [--quick] [--no-dask] [--no-compile]``. Prints
the measurements and the projection and writes
``benchmarks/records/workers-<timestamp>-<commit8>.json`` (git-ignored).
Figures are medians of repeated runs; ratios are taken within this run; every
child process's CPU share is recorded (the machine is shared).

What it measures (extended-deterrence scenario, one cell):

1. **Throughput at 1 and 2 workers**, in three ways: the experiment runner with
   the threads backend (1, 2 threads); Dask (LocalCluster of 1 and 2
   single-threaded worker processes); and the **shard/merge path of the CLI**:
   W concurrent ``escalation-sim run ... --threads 1 --shard i/W`` processes, then
   ``escalation-sim merge`` (end to end, interpreter start included).
2. **Per-block overhead**: the same replications cut into blocks of 16 to 4,096
   (one thread, serial kernel), fitted as ``t = a * replications + b * blocks``.
3. **Fixed cost of one task**: ``escalation-sim run`` on a single block (cached
   kernels): interpreter start, imports, kernel load, writing a shard.
4. **Merge time** for S shard files and R block rows: shards written in-process
   through the CLI, then ``escalation-sim merge`` timed as a process; fitted as
   ``t = m0 + m_s * S + m_r * R``.
5. **Cold compile** (empty ``NUMBA_CACHE_DIR``): the warm-up job before fan-out.

Then the **projection** (a model, not a measurement) of a SLURM job array of W
tasks of c threads on n crises (see ``projection`` and docs/scaling.md)::

    T(W) = T_compile + W * d + t_task + n * t_rep / (W * c * e_c) + (n / B / W) * b + m0 + m_s * W + m_r * n / B

``d`` (the scheduler's cost to start one array task) cannot be measured here:
it is an assumption, printed with the projection.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from configurations import RECORDS, REPO, SCENARIOS, SPEED_SCENARIO

import escalation_sim  # noqa: F401  (configures the kernel cache)
from escalation_sim.engines import montecarlo as mc
from escalation_sim.model.validation import load_scenario
from escalation_sim.pipeline.schedule import run_cells
from escalation_sim.pipeline.settings import RunSettings
from escalation_sim.scale.executors import DaskExecutor, LocalExecutor

SCENARIO = SCENARIOS[SPEED_SCENARIO]
CLI = [sys.executable, "-m", "escalation_sim"]
SEED = 1

# Assumed, not measured: what a SLURM controller spends to start one task of a job array, seconds (low, high).
# Sites differ by orders of magnitude (scheduling cycle, backfill, prolog/epilog scripts, node boot): state yours.
DISPATCH_ASSUMED = (0.01, 0.1)


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _med(values) -> float:
    return statistics.median(values)


# --- 1. runner, Dask ---------------------------------------------------------------------
def time_runner(executor, n: int, block: int, threads: int, repeats: int) -> list[float]:
    s = load_scenario(SCENARIO)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_cells([s], RunSettings(n, SEED, block, threads), executor=executor)
        out.append(n / (time.perf_counter() - t0))
    return out


def measure_backends(n: int, block: int, repeats: int, dask: bool) -> dict:
    figures = {}
    for threads in (1, 2):
        runs = time_runner(LocalExecutor(threads), n, block, threads, repeats)
        figures[f"threads_{threads}"] = {"median_reps_per_s": _med(runs), "runs": runs}
    if dask:
        for workers in (1, 2):
            ex = DaskExecutor(None, workers=workers)
            try:
                time_runner(ex, n // 4, block, 1, 1)  # warm the workers
                runs = time_runner(ex, n, block, 1, repeats)
            finally:
                ex.close()
            figures[f"dask_workers_{workers}"] = {"median_reps_per_s": _med(runs), "runs": runs}
    return figures


# --- 2. per-block overhead -----------------------------------------------------------------
def measure_per_block(total: int, repeats: int) -> dict:
    p_mixes, mix_cum = load_scenario(SCENARIO).vectors()
    sizes = [16, 64, 256, 1024, 4096]
    rows = []
    for bs in sizes:
        nb = total // bs
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            mc.run_blocks(p_mixes, mix_cum, SEED, np.arange(nb), bs, total, parallel=False)
            ts.append(time.perf_counter() - t0)
        rows.append((bs, nb, _med(ts)))
    nbs = np.array([r[1] for r in rows], dtype=float)
    b, c = np.polyfit(nbs, np.array([r[2] for r in rows]), 1)  # t_k = c + b * blocks_k (replications fixed)
    a = c / total
    return {
        "block_sizes": sizes,
        "median_seconds": [r[2] for r in rows],
        "replications": total,
        "seconds_per_replication": a,
        "overhead_seconds_per_block": b,
        "block_size_for_1pct_overhead": 100 * b / a if a > 0 else None,
    }


# --- 3./1. the CLI: one task, W concurrent shards, merge ---------------------------------------
def spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(CLI + args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def reap(procs: list[subprocess.Popen], t0: float) -> list[dict]:
    """Wait for every process; its wall seconds (from t0), CPU seconds and CPU share."""
    out = []
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, p.args))} failed ({p.returncode}):\n{p.stderr.read()}")
        cpu = usage.ru_utime + usage.ru_stime
        out.append({"wall_s": wall, "cpu_s": cpu, "cpu_share": cpu / wall})
    return out


EXPERIMENT_TEXT = f"""# one cell: the extended-deterrence scenario (written by benchmarks/workers.py)
[experiment]
name = "bench-extended"
scenario = "{SCENARIO}"
replications = 4096
seed = {SEED}
block_size = 4096

[[cells]]
label = "the scenario as written"
"""
_experiment: list[Path] = []


def experiment_file() -> Path:
    """A one-cell experiment of the extended-deterrence scenario (``run`` takes experiments), written once."""
    if not _experiment:
        path = Path(tempfile.mkdtemp(prefix="esim-workers-")) / "bench-extended.toml"
        atexit.register(shutil.rmtree, path.parent, True)
        path.write_text(EXPERIMENT_TEXT)
        _experiment.append(path)
    return _experiment[0]


def run_args(n: int, block: int, out: Path, shard: str | None = None) -> list[str]:
    args = [
        "run",
        str(experiment_file()),
        "-n",
        str(n),
        "--seed",
        str(SEED),
        "--threads",
        "1",
        "--block-size",
        str(block),
        "--out",
        str(out),
        "--no-progress",
    ]
    return args + (["--shard", shard] if shard else [])


def measure_task_cost(block: int, repeats: int) -> dict:
    """Shard 0/2 of a two-block run (one block), cached kernels: the fixed cost of one array task."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="esim-task-") as root:
        for i in range(repeats):
            t0 = time.perf_counter()
            runs += reap([spawn(run_args(2 * block, block, Path(root) / f"r{i}", "0/2"))], t0)
    return {"block": block, "runs": runs, "median_wall_s": _med(r["wall_s"] for r in runs)}


def measure_shards(n: int, block: int, repeats: int) -> dict:
    """W = 2 concurrent one-thread shard processes, then ``escalation-sim merge``, against one unsharded process
    (W = 1); crises/s of the processes alone and end to end."""
    out = {}
    for w in (1, 2):
        rows = []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory(prefix="esim-shards-") as root:
                d = Path(root) / "run"
                t0 = time.perf_counter()
                if w == 1:  # one process: an unsharded run writes the tables itself, nothing to merge
                    shards = reap([spawn(run_args(n, block, d))], t0)
                    merge = {"wall_s": 0.0, "cpu_share": float("nan")}
                else:
                    shards = reap([spawn(run_args(n, block, d, f"{i}/{w}")) for i in range(w)], t0)
                    t1 = time.perf_counter()
                    merge = reap([spawn(["merge", str(d)])], t1)[0]
                rows.append(
                    {
                        "shards": shards,
                        "shards_wall_s": max(s["wall_s"] for s in shards),
                        "merge_wall_s": merge["wall_s"],
                        "merge_cpu_share": merge["cpu_share"],
                        "files": sum(1 for p in d.rglob("*") if p.is_file()),
                    }
                )
        total = [r["shards_wall_s"] + r["merge_wall_s"] for r in rows]
        out[f"shards_{w}"] = {
            "runs": rows,
            "median_shards_wall_s": _med(r["shards_wall_s"] for r in rows),
            "median_merge_wall_s": _med(r["merge_wall_s"] for r in rows),
            "median_reps_per_s_shards": _med(n / r["shards_wall_s"] for r in rows),
            "median_reps_per_s_end_to_end": _med(n / t for t in total),
            "lowest_cpu_share": min(s["cpu_share"] for r in rows for s in r["shards"]),
        }
    out["replications"], out["block_size"] = n, block
    return out


def write_shards(d: Path, shards: int, n: int, block: int) -> None:
    """Every shard of a split into ``shards``, written in this process through the CLI's ``run`` command."""
    from escalation_sim.cli import main as cli

    for i in range(shards):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            cli(run_args(n, block, d, f"{i}/{shards}"), standalone_mode=False)


def measure_merge(grid: list[tuple[int, int]], block: int) -> dict:
    """``escalation-sim merge`` (a process) of S shards holding R block rows, for each (S, R) of the grid."""
    rows = []
    for shards, blocks in grid:
        with tempfile.TemporaryDirectory(prefix="esim-merge-") as root:
            d = Path(root) / "run"
            write_shards(d, shards, blocks * block, block)
            files = sum(1 for p in d.rglob("*") if p.is_file())
            t0 = time.perf_counter()
            m = reap([spawn(["merge", str(d)])], t0)[0]
        rows.append({"shards": shards, "block_rows": blocks, "files_before_merge": files, **m})
    x = np.array([[1.0, r["shards"], r["block_rows"]] for r in rows])
    y = np.array([r["wall_s"] for r in rows])
    (m0, ms, mr), *_ = np.linalg.lstsq(x, y, rcond=None)
    return {
        "runs": rows,
        "block_size": block,
        "fit": {"m0_s": m0, "m_shard_s": ms, "m_row_s": mr},
        "fit_formula": "merge wall s = m0 + m_shard * shards + m_row * block rows",
    }


# --- 5. cold compile -------------------------------------------------------------------------
def measure_cold_compile() -> dict:
    code = "import escalation_sim; from escalation_sim.engines import montecarlo as mc; mc.warm_up()"
    with tempfile.TemporaryDirectory(prefix="esim-cold-") as root:
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=dict(os.environ, NUMBA_CACHE_DIR=root))
        return reap([p], t0)[0]


# --- the projection --------------------------------------------------------------------------
def model_parameters(rec: dict) -> dict:
    """The model's parameters, from a record of this script."""
    f = rec["figures"]
    t_rep = f["per_block"]["seconds_per_replication"]
    two = f["threads_2"]["median_reps_per_s"] / f["threads_1"]["median_reps_per_s"]
    return {
        "t_rep_s": t_rep,  # one thread, per crisis
        "e_2": min(1.0, two / 2),  # parallel efficiency of a 2-thread task (measured 2-thread / 1-thread, halved)
        "b_s": max(0.0, f["per_block"]["overhead_seconds_per_block"]),
        "t_task_s": f["task_cost"]["median_wall_s"],
        "t_compile_s": f["cold_compile"]["wall_s"] if "cold_compile" in f else None,
        **{k: max(0.0, v) for k, v in f["merge"]["fit"].items()},
        **{f"{k}_fit": v for k, v in f["merge"]["fit"].items()},  # as fitted (a negative slope is noise)
        "b_s_fit": f["per_block"]["overhead_seconds_per_block"],
    }


def projection(
    p: dict, workers: int, n: int, threads: int = 2, block: int = 4096, dispatch_s: float = DISPATCH_ASSUMED[0]
) -> dict:
    """Projected wall seconds of a job array of ``workers`` tasks of ``threads`` threads on ``n`` crises (one cell).

    T = T_compile + W * d + t_task + n * t_rep / (W * c * e_c) + (n / B / W) * b + m0 + m_shard * W + m_row * n / B
    """
    blocks = -(-n // block)
    e = 1.0 if threads == 1 else p["e_2"]
    terms = {
        "compile (warm-up job, once)": p["t_compile_s"] or 0.0,
        "dispatch (assumed)": workers * dispatch_s,
        "task start-up and shard write": p["t_task_s"],
        "compute": n * p["t_rep_s"] / (workers * threads * e),
        "per-block overhead": blocks / workers * p["b_s"],
        "merge": p["m0_s"] + p["m_shard_s"] * workers + p["m_row_s"] * blocks,
    }
    total = sum(terms.values())
    ideal = n * p["t_rep_s"] / (workers * threads)
    # files: per shard a manifest, a block file and its checkpoints (chunks of max(4 c, blocks / 200) blocks)
    chunk = max(4 * threads, -(-blocks // 200))
    per_task = -(-blocks // workers)
    files = workers * (2 + -(-per_task // chunk))
    return {
        "workers": workers,
        "threads": threads,
        "n": n,
        "block": block,
        "blocks_per_task": blocks / workers,
        "terms_s": terms,
        "total_s": total,
        "crises_per_s": n / total,
        "efficiency": ideal / total,
        "limit": max(terms, key=terms.get),
        "files": files,
    }


def print_projection(p: dict) -> list[dict]:
    print("\nprojection (a model fed with the figures above; not measured on a cluster):")
    print("  T(W) = T_compile + W*d + t_task + n*t_rep/(W*c*e_c) + (n/B/W)*b + m0 + m_shard*W + m_row*n/B")
    print(
        f"  t_rep {p['t_rep_s'] * 1e6:.2f} us/crisis (1 thread), e_2 {p['e_2']:.2f}, b {p['b_s'] * 1e6:.1f} us/block, "
        f"t_task {p['t_task_s']:.2f} s, T_compile {p['t_compile_s'] or 0:.0f} s, merge m0 {p['m0_s']:.2f} s, "
        f"m_shard {p['m_shard_s'] * 1e3:.1f} ms, m_row {p['m_row_s'] * 1e6:.0f} us; "
        f"d assumed {DISPATCH_ASSUMED[0]}-{DISPATCH_ASSUMED[1]} s per task; c = 2 threads per task, B = 4096"
    )
    clamped = [k for k in ("m_shard_s", "m_row_s", "b_s") if p.get(f"{k}_fit", 0.0) < 0]
    if clamped:
        print(f"  ({', '.join(clamped)}: the fit was negative, i.e. below the noise of this run; taken as 0)")
    out = []
    print(
        f"  {'W':>5} {'n':>8} {'T (s)':>9} {'crises/s':>14} {'eff.':>5} {'files':>7}  largest term; "
        f"T with d = {DISPATCH_ASSUMED[1]} s"
    )
    for w in (1, 2, 100, 1000):
        for n in (10**8, 10**9, 10**10):
            r = projection(p, w, n)
            hi = projection(p, w, n, dispatch_s=DISPATCH_ASSUMED[1])
            out.append(r | {"total_s_high_dispatch": hi["total_s"]})
            print(
                f"  {w:>5} {n:>8.0e} {r['total_s']:>9.1f} {r['crises_per_s']:>14,.0f} {r['efficiency']:>5.2f} "
                f"{r['files']:>7,}  {r['limit']}; {hi['total_s']:.1f} s"
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer replications and repeats")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster runs")
    ap.add_argument("--no-compile", action="store_true", help="skip the cold compile (projection without it)")
    args = ap.parse_args()
    n = 2**17 if args.quick else 2**19
    repeats = 3 if args.quick else 5
    block = 4096
    load0 = list(os.getloadavg())
    mc.warm_up()
    figures: dict = {}
    print("threads and Dask ...", file=sys.stderr)
    figures.update(measure_backends(n, block, repeats, not args.no_dask))
    print("per-block overhead ...", file=sys.stderr)
    figures["per_block"] = measure_per_block(2**16 if args.quick else 2**18, repeats)
    print("one task; shards through the CLI ...", file=sys.stderr)
    figures["task_cost"] = measure_task_cost(block, repeats)
    figures["cli_shards"] = measure_shards(n, block, 3 if args.quick else repeats)
    print("merge time ...", file=sys.stderr)
    # S >= 2: "--shard 0/1" is an unsharded run (it writes the tables itself; there is nothing to merge)
    grid = (
        [(2, 64), (8, 64), (32, 64), (8, 1024)]
        if args.quick
        else [(2, 128), (8, 128), (32, 128), (128, 128), (8, 2048)]
    )
    figures["merge"] = measure_merge(grid, 64)
    if not args.no_compile:
        print("cold compile ...", file=sys.stderr)
        figures["cold_compile"] = measure_cold_compile()
    record = {
        "kind": "workers",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "scenario": SCENARIO.name,
        "replications": n,
        "block_size": block,
        "repeats": repeats,
        "load_average": {"start": load0, "end": list(os.getloadavg())},
        "figures": figures,
    }
    params = model_parameters(record)
    record["model"] = params

    base = figures["threads_1"]["median_reps_per_s"]
    print(f"\n{'backend':<34} {'median crises/s':>16} {'vs 1 thread':>12}")
    for key in ("threads_1", "threads_2", "dask_workers_1", "dask_workers_2"):
        if key in figures:
            v = figures[key]["median_reps_per_s"]
            print(f"{key:<34} {v:16,.0f} {v / base:12.2f}x")
    for w in (1, 2):
        s = figures["cli_shards"][f"shards_{w}"]
        for what, v in (
            ("shards only", s["median_reps_per_s_shards"]),
            ("end to end", s["median_reps_per_s_end_to_end"]),
        ):
            print(f"{f'CLI {w} shard(s), {what}':<34} {v:16,.0f} {v / base:12.2f}x")
        print(f"{'':<34} merge {s['median_merge_wall_s']:.2f} s, lowest CPU share {s['lowest_cpu_share']:.2f}")
    pb = figures["per_block"]
    print(
        f"\nper crisis {pb['seconds_per_replication'] * 1e6:.2f} us (1 thread); per-block overhead "
        f"{pb['overhead_seconds_per_block'] * 1e6:.1f} us; 1% overhead at block {pb['block_size_for_1pct_overhead']:.0f}"
    )
    print(f"one task (escalation-sim run of one block, cached kernels): {figures['task_cost']['median_wall_s']:.2f} s")
    for r in figures["merge"]["runs"]:
        print(
            f"merge: {r['shards']:>4} shards, {r['block_rows']:>5} block rows, {r['files_before_merge']:>4} files: "
            f"{r['wall_s']:.2f} s (CPU share {r['cpu_share']:.2f})"
        )
    if "cold_compile" in figures:
        cc = figures["cold_compile"]
        print(f"cold compile: {cc['wall_s']:.1f} s (CPU {cc['cpu_s']:.1f} s)")
    if load0[0] > 0.5:  # before the script's own runs: other jobs were running
        print(
            f"\nWARNING: load average {load0[0]:.1f} on {os.cpu_count()} cores before this script started: other "
            "jobs shared the machine, so the wall-clock figures above (the 2-thread and 2-worker ratios most of all) "
            "are disturbed; compare within this run only, and rerun on an idle machine before quoting them."
        )
    record["projection"] = print_projection(params)
    RECORDS.mkdir(exist_ok=True)
    out = RECORDS / f"workers-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{record['commit'][:8]}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nload average {load0[0]:.2f} at start, {record['load_average']['end'][0]:.2f} at end; record: {out}")


if __name__ == "__main__":
    main()
