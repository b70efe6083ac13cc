"""Benchmark escalation-sim: both engines, the draw floor, compile time, memory.

Usage::

    python benchmarks/run.py [--quick] [--out FILE] [--memory-full] [--no-speed] [--no-compile] [--no-memory]

Prints a table and writes a JSON record to
``benchmarks/records/<timestamp>-<commit8>.json`` (or ``--out``). Every timed
figure is the median of k repeated measurements (min, max and the list are
kept). The timed runs are interleaved in rounds (each round measures every
case once), and ratios (compiled / SimPy, 2 threads / 1 thread, engine / draw
floor) are taken between measurements of the same round, so a slow patch of a
shared machine affects both sides of a ratio alike. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from configurations import RECORDS, REPO, SCENARIOS, SEED, SPEED_SCENARIO, SUITES, TARGETS, Case, Suite
from numba import njit

import escalation_sim
from escalation_sim.engines import montecarlo as mc
from escalation_sim.engines.simpy_engine import Crisis
from escalation_sim.model import rng
from escalation_sim.model.constants import N_STREAMS
from escalation_sim.model.validation import load_scenario

SCHEMA = 1
NOISY_SHARE = 0.9


# --- helpers -------------------------------------------------------------------
def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def figure(values, unit: str, description: str, better: str | None = None, **extra) -> dict:
    """A figure: median, min, max and the list of its k measurements."""
    vals = [float(v) for v in values]
    fig = {
        "median": statistics.median(vals),
        "min": min(vals),
        "max": max(vals),
        "values": vals,
        "k": len(vals),
        "unit": unit,
        "better": better,  # "higher", "lower" or None (a property, not a speed)
        "description": description,
    }
    fig.update(extra)
    return fig


def paired(a: list[float], b: list[float], op) -> list[float]:
    """Element-wise ``op(a[i], b[i])`` over measurements of the same round."""
    return [op(x, y) for x, y in zip(a, b, strict=True)]


def insert_after(d: dict, after: str, key: str, value) -> dict:
    """A copy of ``d`` with ``key: value`` placed right after ``after`` (for the table's order)."""
    out = {}
    for k, v in d.items():
        out[k] = v
        if k == after:
            out[key] = value
    return out


def git_info() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()

    commit = git("rev-parse", "HEAD") or "unknown"
    tracked = git("status", "--porcelain", "--untracked-files=no")
    untracked = git("status", "--porcelain")
    return {
        "commit": commit,
        "dirty": bool(tracked),
        "changed_files": tracked.splitlines(),
        "untracked_files": [ln for ln in untracked.splitlines() if ln.startswith("??")],
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
    }


def versions() -> dict:
    import numba
    import simpy

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "simpy": simpy.__version__,
        "escalation_sim": escalation_sim.__version__,
    }


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (other work on a shared machine shows here)."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def machine() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "numba_threads": mc.max_threads(),
        "load_average_at_start": load_average(),
    }


# --- timed units ------------------------------------------------------------------
class Timer:
    """Wall seconds and the process's CPU seconds (all threads) of a block of code.

    ``cpu_share = cpu / wall / threads`` is about 1 when the timed code had its
    cores to itself; well below 1 means another job took them (a noisy round).
    """

    def __init__(self, threads: int = 1):
        self.threads = threads

    def __enter__(self):
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0
        self.cpu_share = self.cpu / self.wall / self.threads if self.wall > 0 else float("nan")


def time_simpy(case: Case, p_mixes, mix_cum) -> tuple[Timer, int]:
    """Time ``case.simpy_replications`` SimPy crises; also the events they handled."""
    gc.collect()
    events = 0
    with Timer() as t:
        for rep in range(case.simpy_replications):
            events += Crisis(p_mixes, mix_cum, SEED, rep, record=False).run().events
    return t, events


def time_compiled(case: Case, p_mixes, mix_cum, parallel: bool, threads: int | None) -> tuple[Timer, mc.BlockResults]:
    """Time ``case.replications`` compiled crises in one ``run_blocks`` call."""
    blocks = np.arange(mc.n_blocks(case.replications, case.block_size), dtype=np.int64)
    gc.collect()
    with Timer(threads or 1) as t:
        res = mc.run_blocks(
            p_mixes, mix_cum, SEED, blocks, case.block_size, case.replications, parallel=parallel, threads=threads
        )
    return t, res


@njit(cache=False)
def _uniform_loop(n):
    keys = np.zeros(N_STREAMS, dtype=np.uint64)
    ctr = np.zeros(N_STREAMS, dtype=np.uint64)
    rng.init_streams(SEED, 0, keys, ctr)
    acc = 0.0
    for _ in range(n):
        acc += rng.uniform(keys, ctr, 0)
    return acc


@njit(cache=False)
def _exponential_loop(n):
    keys = np.zeros(N_STREAMS, dtype=np.uint64)
    ctr = np.zeros(N_STREAMS, dtype=np.uint64)
    rng.init_streams(SEED, 0, keys, ctr)
    acc = 0.0
    for _ in range(n):
        acc += rng.exponential(keys, ctr, 0, 3.0)
    return acc


RNG_LOOPS = {"uniform": _uniform_loop, "exponential": _exponential_loop}


def time_rng(kind: str, n: int) -> Timer:
    """Time a tight one-thread loop over ``n`` draws."""
    loop = RNG_LOOPS[kind]
    with Timer() as t:
        acc = loop(n)
    if not np.isfinite(acc):  # keep the sum alive
        raise RuntimeError("generator loop returned a non-finite sum")
    return t


# --- rounds: both engines and the generator --------------------------------------
def measure_speed(suite: Suite) -> dict:
    figures: dict = {}
    cases = {c.name: c for c in suite.cases}
    vec = {name: load_scenario(c.scenario).vectors() for name, c in cases.items()}
    maxt = mc.max_threads()
    threads = {name: [t for t in c.threads if t <= maxt] for name, c in cases.items()}

    log("warming up: compiled kernels (from the cache if filled), generator loops, thread pool")
    t = time.perf_counter()
    mc.warm_up()
    warm_s = time.perf_counter() - t
    for loop in RNG_LOOPS.values():
        loop(10)
    for name, c in cases.items():
        pm, cum = vec[name]
        mc.run_blocks(pm, cum, SEED, np.arange(2), c.block_size, 2 * c.block_size, parallel=True, threads=maxt)
        Crisis(pm, cum, SEED, 0, record=False).run()
    figures["session.warm_up_s"] = figure(
        [warm_s], "s", "mc.warm_up() in the benchmark process (cache load or compile)", "lower"
    )

    raw: dict = {}
    share: dict = defaultdict(list)  # cpu_share of each timed run, attached to its figure

    def put(key, value):
        raw.setdefault(key, []).append(value)

    for r in range(suite.repeats):
        log(f"round {r + 1}/{suite.repeats}")
        for name, c in cases.items():
            pm, cum = vec[name]
            tm, ev = time_simpy(c, pm, cum)
            sec = tm.wall
            share[f"simpy.{name}.reps_per_s"].append(tm.cpu_share)
            put(f"simpy.{name}.reps_per_s", c.simpy_replications / sec)
            put(f"simpy.{name}.events_per_rep", ev / c.simpy_replications)
            put(f"simpy.{name}.us_per_event", sec / ev * 1e6)
            tm, res = time_compiled(c, pm, cum, parallel=False, threads=None)
            sec = tm.wall
            share[f"compiled.{name}.threads1.reps_per_s"].append(tm.cpu_share)
            n = c.replications
            ev_rep = res.events.sum() / n
            dr_rep = res.draws.sum() / n
            put(f"compiled.{name}.threads1.reps_per_s", n / sec)
            put(f"compiled.{name}.ns_per_rep", sec / n * 1e9)
            put(f"compiled.{name}.ns_per_event", sec / res.events.sum() * 1e9)
            put(f"compiled.{name}.ns_per_draw_engine", sec / res.draws.sum() * 1e9)
            put(f"compiled.{name}.events_per_rep", ev_rep)
            put(f"compiled.{name}.draws_per_rep", dr_rep)
            for th in threads[name]:
                tm, _ = time_compiled(c, pm, cum, parallel=True, threads=th)
                sec = tm.wall
                share[f"compiled.{name}.parallel{th}.reps_per_s"].append(tm.cpu_share)
                put(f"compiled.{name}.parallel{th}.reps_per_s", n / sec)
        for kind in RNG_LOOPS:
            tm = time_rng(kind, suite.rng_draws)
            put(f"rng.{kind}.ns_per_draw", tm.wall / suite.rng_draws * 1e9)
            share[f"rng.{kind}.ns_per_draw"].append(tm.cpu_share)

    desc = {
        "reps_per_s": "replications per second",
        "events_per_rep": "messages handled per replication (X_EVENTS)",
    }
    for name, c in cases.items():
        s = f"simpy.{name}"
        figures[f"{s}.reps_per_s"] = figure(
            raw[f"{s}.reps_per_s"],
            "rep/s",
            f"SimPy engine, record=False, {c.simpy_replications} crises per run",
            "higher",
        )
        figures[f"{s}.events_per_rep"] = figure(
            raw[f"{s}.events_per_rep"],
            "events",
            f"SimPy sample ({c.simpy_replications} crises): {desc['events_per_rep']}",
        )
        figures[f"{s}.us_per_event"] = figure(
            raw[f"{s}.us_per_event"], "us", "SimPy engine: time per event handled", "lower"
        )
        k = f"compiled.{name}"
        figures[f"{k}.threads1.reps_per_s"] = figure(
            raw[f"{k}.threads1.reps_per_s"],
            "rep/s",
            f"compiled engine, serial kernel (1 thread), {c.replications} crises, block {c.block_size}",
            "higher",
        )
        for th in threads[name]:
            figures[f"{k}.parallel{th}.reps_per_s"] = figure(
                raw[f"{k}.parallel{th}.reps_per_s"],
                "rep/s",
                f"compiled engine, parallel kernel with {th} thread(s)",
                "higher",
            )
        figures[f"{k}.ns_per_rep"] = figure(
            raw[f"{k}.ns_per_rep"], "ns", "compiled engine, 1 thread: time per replication", "lower"
        )
        figures[f"{k}.ns_per_event"] = figure(
            raw[f"{k}.ns_per_event"], "ns", "compiled engine, 1 thread: time per event handled", "lower"
        )
        figures[f"{k}.ns_per_draw_engine"] = figure(
            raw[f"{k}.ns_per_draw_engine"], "ns", "compiled engine, 1 thread: time per random draw it made", "lower"
        )
        figures[f"{k}.events_per_rep"] = figure(
            raw[f"{k}.events_per_rep"], "events", f"compiled sample ({c.replications} crises): {desc['events_per_rep']}"
        )
        figures[f"{k}.draws_per_rep"] = figure(
            raw[f"{k}.draws_per_rep"], "draws", "BlockResults.draws.sum() / n: uniforms drawn per replication"
        )
        simpy_rps = raw[f"{s}.reps_per_s"]
        serial = raw[f"{k}.threads1.reps_per_s"]
        figures[f"speedup.{name}.threads1_vs_simpy"] = figure(
            paired(serial, simpy_rps, lambda a, b: a / b), "x", "compiled 1 thread / SimPy, same round", "higher"
        )
        if f"{k}.parallel2.reps_per_s" in raw:
            two = raw[f"{k}.parallel2.reps_per_s"]
            figures[f"speedup.{name}.threads2_vs_simpy"] = figure(
                paired(two, simpy_rps, lambda a, b: a / b), "x", "compiled 2 threads / SimPy, same round", "higher"
            )
            figures[f"scaling.{name}.threads2_vs_threads1"] = figure(
                paired(two, serial, lambda a, b: a / b),
                "x",
                "2 threads (parallel kernel) / 1 thread (serial kernel), same round",
                "higher",
            )
        if f"{k}.parallel1.reps_per_s" in raw:
            figures[f"scaling.{name}.parallel1_vs_serial"] = figure(
                paired(raw[f"{k}.parallel1.reps_per_s"], serial, lambda a, b: a / b),
                "x",
                "parallel kernel on 1 thread / serial kernel (cost of the parallel twin)",
                "higher",
            )
        # the draw floor: this engine's draws at the generator's own speed
        draws = raw[f"{k}.draws_per_rep"]
        ns_rep = raw[f"{k}.ns_per_rep"]
        for kind in RNG_LOOPS:
            floor = paired(draws, raw[f"rng.{kind}.ns_per_draw"], lambda d, ns: d * ns)
            what = (
                "uniform (the generator itself)"
                if kind == "uniform"
                else "exponential (uniform + log1p: an upper bound)"
            )
            figures[f"floor.{name}.ns_per_rep_{kind}"] = figure(
                floor, "ns", f"draw floor: draws/rep x ns/draw of a tight {what} loop", "lower"
            )
            figures[f"floor.{name}.ratio_{kind}"] = figure(
                paired(ns_rep, floor, lambda a, b: a / b),
                "x",
                f"compiled 1-thread ns/rep / {kind} draw floor, same round",
                "lower",
            )
    for kind in RNG_LOOPS:
        figures[f"rng.{kind}.ns_per_draw"] = figure(
            raw[f"rng.{kind}.ns_per_draw"],
            "ns",
            f"tight @njit loop of rng.{kind}, one thread, {suite.rng_draws:.0e} draws",
            "lower",
        )
    for key, shares in share.items():
        fig = figures[key]
        fig["cpu_share"] = shares
        clean = [v for v, c in zip(fig["values"], shares, strict=True) if c >= NOISY_SHARE]
        fig["k_clean"] = len(clean)  # runs that had their cores to themselves
        fig["median_clean"] = statistics.median(clean) if clean else None
    for name in cases:  # the name for the 2-thread figure (a copy, placed after parallel2)
        two = f"compiled.{name}.parallel2.reps_per_s"
        if two in figures:
            alias = figures[two] | {"description": "compiled engine with 2 threads (parallel kernel)"}
            figures = insert_after(figures, two, f"compiled.{name}.threads2.reps_per_s", alias)
    return figures


# --- subprocess measurements -------------------------------------------------------
STARTUP_CODE = """
import json, time
t0 = time.perf_counter()
import escalation_sim
from escalation_sim.engines import montecarlo as mc
t1 = time.perf_counter()
mc.warm_up()
t2 = time.perf_counter()
from escalation_sim import _cache
print(json.dumps({"import_s": t1 - t0, "warm_up_s": t2 - t1, "total_s": t2 - t0, "cache_dir": str(_cache.cache_dir())}))
"""

MEMORY_CODE = """
import json, resource, sys, time
import escalation_sim
from escalation_sim.engines import montecarlo as mc
from escalation_sim.model.validation import load_scenario

def rss_kib():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1

path, n, block, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = load_scenario(path)
mc.warm_up()
base_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
base_rss = rss_kib()
t = time.perf_counter()
tot = mc.run_cell(s, n, seed, block_size=block)
elapsed = time.perf_counter() - t
print(json.dumps({"baseline_peak_kib": base_peak, "baseline_rss_kib": base_rss, "end_rss_kib": rss_kib(),
                  "elapsed_s": elapsed, "n": tot.n, "threads": mc.max_threads()}))
"""


def run_child(code: str, args: list[str], env: dict) -> tuple[dict, float]:
    """Run ``python -c code args`` in a fresh process; its JSON line and wall seconds."""
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def run_child_rusage(code: str, args: list[str], env: dict) -> tuple[dict, float, int]:
    """Like :func:`run_child`, but reap the child with ``os.wait4``; also its own peak RSS (KiB)."""
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args], cwd=REPO, env=env, stdout=out, stderr=err, text=True
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed ({proc.returncode}):\n{errors}")
    return json.loads(text.strip().splitlines()[-1]), wall, int(usage.ru_maxrss)


def measure_compile(suite: Suite) -> dict:
    """First-call compile time (empty NUMBA_CACHE_DIR) and cached start-up time (filled)."""
    cold: dict = {"total_s": [], "warm_up_s": [], "import_s": [], "wall_s": []}
    warm: dict = {"total_s": [], "warm_up_s": [], "import_s": [], "wall_s": []}
    files = 0
    with tempfile.TemporaryDirectory(prefix="esim-bench-cache-") as root:
        cache = None
        for i in range(suite.compile_repeats):
            cache = Path(root) / f"cold{i}"
            cache.mkdir()
            env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
            log(f"compile: cold start {i + 1}/{suite.compile_repeats} (empty cache {cache})")
            res, wall = run_child(STARTUP_CODE, [], env)
            if not str(res["cache_dir"]).startswith(str(cache)):
                raise RuntimeError(f"child did not use the empty cache dir: {res['cache_dir']}")
            for key in ("total_s", "warm_up_s", "import_s"):
                cold[key].append(res[key])
            cold["wall_s"].append(wall)
        files = sum(1 for _ in cache.rglob("*.nbi"))
        if files == 0:
            raise RuntimeError("the cold start wrote no Numba index files: the cached start-up would not be cached")
        env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
        for i in range(suite.startup_repeats):
            log(f"compile: cached start {i + 1}/{suite.startup_repeats}")
            res, wall = run_child(STARTUP_CODE, [], env)
            for key in ("total_s", "warm_up_s", "import_s"):
                warm[key].append(res[key])
            warm["wall_s"].append(wall)
    return {
        "compile.cold.total_s": figure(
            cold["total_s"],
            "s",
            "fresh process, empty NUMBA_CACHE_DIR: import escalation_sim + montecarlo + warm_up()",
            "lower",
            cache_index_files=files,
        ),
        "compile.cold.warm_up_s": figure(
            cold["warm_up_s"], "s", "of which warm_up() (compiling every kernel)", "lower"
        ),
        "compile.cold.wall_s": figure(
            cold["wall_s"], "s", "wall time of that subprocess (with interpreter start)", "lower"
        ),
        "startup.cached.total_s": figure(
            warm["total_s"], "s", "fresh process, filled cache: import + warm_up()", "lower"
        ),
        "startup.cached.warm_up_s": figure(warm["warm_up_s"], "s", "of which warm_up() (loading the kernels)", "lower"),
        "startup.cached.import_s": figure(warm["import_s"], "s", "of which the imports", "lower"),
        "startup.cached.wall_s": figure(
            warm["wall_s"], "s", "wall time of that subprocess (with interpreter start)", "lower"
        ),
    }


def measure_memory(suite: Suite, full: bool) -> dict:
    """Peak RSS of a fresh process running ``run_cell`` on the speed scenario, per size."""
    sizes = list(suite.memory_replications)
    if full and suite.memory_full_replications not in sizes:
        sizes.append(suite.memory_full_replications)
    path = str(SCENARIOS[SPEED_SCENARIO])
    figures: dict = {}
    peaks = {}
    for n in sizes:
        log(f"memory: {n:.0e} replications of {SPEED_SCENARIO} via run_cell in a fresh process")
        res, wall, peak = run_child_rusage(
            MEMORY_CODE, [path, str(n), str(suite.memory_block_size), str(SEED)], dict(os.environ)
        )
        if res["n"] != n:
            raise RuntimeError(f"run_cell ran {res['n']} replications, not {n}")
        peaks[n] = peak
        tag = f"n{n:.0e}".replace("+", "")
        figures[f"memory.{tag}.peak_mib"] = figure(
            [peak / 1024],
            "MiB",
            f"peak RSS (ru_maxrss) of a process running {n:.0e} replications (run_cell, block {suite.memory_block_size}, {res['threads']} threads)",
            "lower",
        )
        figures[f"memory.{tag}.above_start_peak_mib"] = figure(
            [(peak - res["baseline_peak_kib"]) / 1024],
            "MiB",
            "peak RSS minus the peak reached by imports and warm_up() (0: the run never exceeded start-up)",
            "lower",
        )
        figures[f"memory.{tag}.rss_growth_mib"] = figure(
            [(res["end_rss_kib"] - res["baseline_rss_kib"]) / 1024],
            "MiB",
            "current RSS after the run minus current RSS before it",
            "lower",
        )
        figures[f"memory.{tag}.reps_per_s"] = figure(
            [n / res["elapsed_s"]],
            "rep/s",
            "run_cell throughput in that process (all threads, incl. reduction)",
            "higher",
        )
    small, large = min(peaks), max(peaks)
    figures["memory.peak_ratio"] = figure(
        [peaks[large] / peaks[small]],
        "x",
        f"peak RSS at {large:.0e} / at {small:.0e} replications",
        "lower",
        sizes=[small, large],
    )
    return figures


# --- targets and the table ---------------------------------------------------------
def evaluate_targets(figures: dict) -> list[dict]:
    out = []
    for name, op, threshold, text in TARGETS:
        fig = figures.get(name)
        if fig is None:
            out.append(
                {
                    "figure": name,
                    "op": op,
                    "target": threshold,
                    "text": text,
                    "value": None,
                    "status": "SKIP",
                    "gap": "not measured in this run",
                }
            )
            continue
        v = fig["median"]
        ok = v >= threshold if op == ">=" else v <= threshold
        if ok:
            gap = ""
        elif op == ">=":
            gap = f"{threshold / v:.1f}x short" if v > 0 else "no value"
        else:
            gap = f"{v / threshold:.1f}x over"
        note = ""
        if fig.get("cpu_share") is not None:
            note = f"(runs with the cores to themselves: {fig['k_clean']} of {fig['k']}"
            note += f", median {fmt(fig['median_clean'])})" if fig["median_clean"] is not None else ")"
        if name == "memory.peak_ratio" and max(fig.get("sizes", [0])) < 10**8:
            note = f"proxy: largest run {max(fig['sizes']):.0e}, the issue asks 1e8 (--memory-full)"
        out.append(
            {
                "figure": name,
                "op": op,
                "target": threshold,
                "text": text,
                "value": v,
                "min": fig["min"],
                "max": fig["max"],
                "status": "PASS" if ok else "FAIL",
                "gap": gap,
                "note": note,
            }
        )
    return out


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e5:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:,.1f}"
    if a >= 1:
        return f"{v:.3g}" if a < 10 else f"{v:.1f}"
    return f"{v:.3g}"


def print_table(record: dict) -> None:
    figs = record["figures"]
    width = max(len(k) for k in figs)
    print()
    print(
        f"escalation-sim benchmarks  commit {record['git']['commit'][:8]}{' (dirty)' if record['git']['dirty'] else ''}  "
        f"suite {record['suite']}  {record['date']}"
    )
    print(
        f"{record['machine']['cpu']}, {record['machine']['cpu_count']} cpus, numba threads {record['machine']['numba_threads']}; "
        + ", ".join(f"{k} {v}" for k, v in record["versions"].items())
    )
    loads = [record["machine"].get(k) for k in ("load_average_at_start", "load_average_at_end")]
    if all(loads):
        print(
            f"load average (1/5/15 min) at start {loads[0][0]:.2f}/{loads[0][1]:.2f}/{loads[0][2]:.2f}, "
            f"at end {loads[1][0]:.2f}/{loads[1][1]:.2f}/{loads[1][2]:.2f} (other work competes for the cores)"
        )
    print()
    print(f"{'figure':<{width}}  {'median':>12}  {'min':>12}  {'max':>12}  {'unit':<6} {'k':>2}  cpu share")
    section = None
    noisy = False
    for key, f in figs.items():
        head = key.split(".")[0]
        if head != section:
            print("-" * (width + 64))
            section = head
        cpu = ""
        if f.get("cpu_share"):
            low = min(f["cpu_share"])
            cpu = f"{low:.2f}{' *' if low < NOISY_SHARE else ''}"
            noisy = noisy or low < NOISY_SHARE
        print(
            f"{key:<{width}}  {fmt(f['median']):>12}  {fmt(f['min']):>12}  {fmt(f['max']):>12}  {f['unit']:<6} {f['k']:>2}  {cpu}"
        )
    print()
    print(
        "cpu share: lowest over the k runs of process CPU time / (wall time x threads); "
        + (
            f"* = below {NOISY_SHARE}: another job took the cores in some round (the median absorbs a minority of such rounds)"
            if noisy
            else "every timed run had its cores"
        )
    )
    print()
    print("targets (from the issue; median of k, [min, max])")
    for t in record["targets"]:
        val = "-" if t["value"] is None else f"{fmt(t['value'])} [{fmt(t['min'])}, {fmt(t['max'])}]"
        extra = "  ".join(x for x in (t["gap"], t.get("note", "")) if x)
        print(f"  {t['status']:<5} {t['text']:<56} {t['op']} {fmt(t['target']):>10}: {val}  {extra}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the small suite: fewer, shorter repeats")
    ap.add_argument("--out", type=Path, help="record file (default benchmarks/records/<timestamp>-<commit8>.json)")
    ap.add_argument(
        "--memory-full",
        action="store_true",
        help="also run the issue's 1e8 replications for the memory figure (several minutes)",
    )
    ap.add_argument("--no-speed", action="store_true", help="skip the timed rounds (engines and generator)")
    ap.add_argument("--no-compile", action="store_true", help="skip the compile / start-up subprocesses")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    args = ap.parse_args(argv)

    suite = SUITES["small" if args.quick else "large"]
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    git = git_info()
    mach = machine()  # before the measurements: records the load average at the start
    rounds = "no timed rounds" if args.no_speed else f"{suite.repeats} rounds"
    log(f"suite {suite.name}: {rounds}; commit {git['commit'][:8]}{' (dirty)' if git['dirty'] else ''}")
    figures = {} if args.no_speed else measure_speed(suite)
    if not args.no_compile:
        figures.update(measure_compile(suite))
    if not args.no_memory:
        figures.update(measure_memory(suite, args.memory_full))
    record = {
        "schema": SCHEMA,
        "suite": suite.name,
        "date": now.isoformat(timespec="seconds"),
        "git": git,
        "machine": mach,
        "versions": versions(),
        "settings": {
            "seed": SEED,
            "repeats": suite.repeats,
            "rng_draws": suite.rng_draws,
            "compile_repeats": suite.compile_repeats,
            "startup_repeats": suite.startup_repeats,
            "memory_block_size": suite.memory_block_size,
            "cases": [
                {
                    "name": c.name,
                    "scenario": str(c.scenario.relative_to(REPO)),
                    "simpy_replications": c.simpy_replications,
                    "replications": c.replications,
                    "block_size": c.block_size,
                    "threads": list(c.threads),
                }
                for c in suite.cases
            ],
            "argv": sys.argv[1:],
        },
        "figures": figures,
    }
    record["machine"]["load_average_at_end"] = load_average()
    record["targets"] = evaluate_targets(figures)
    record["duration_s"] = time.perf_counter() - started
    out = args.out or RECORDS / f"{now.strftime('%Y%m%dT%H%M%SZ')}-{git['commit'][:8]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print_table(record)
    print(f"\nrecord: {out}  ({record['duration_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
