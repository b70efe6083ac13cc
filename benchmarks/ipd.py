"""Throughput of escalation-sim's IPD engines against the Axelrod library, on the same matches.

Usage::

    python benchmarks/ipd.py [--quick] [--k 5] [--out FILE]

The matches: every pair (self-play included) of the seven strategies both
libraries implement (TFT, GTFT, WSLS, Grudger, AllC, AllD, Random), 200 rounds,
noise 0.05, payoffs 3, 0, 5, 1. Measured in one run, in interleaved rounds
(each round times every engine once), k rounds; figures are medians (min, max
and the list are kept) and speed-ups are taken within a round:

* ``axelrod``: ``axelrod.Match(...).play()`` per match, one process (the
  library's own engine; a ``Tournament`` adds result handling on top);
* ``simpy``: ``escalation_sim.engines.ipd_simpy.simulate_match`` per match;
* ``compiled_1t`` / ``compiled_2t``: the Numba kernel, serial twin on 1 thread
  and parallel twin on 2 threads (``ipd_montecarlo.run_blocks``).

Each engine plays as many matches per pair as it needs for a timing of a
fraction of a second; throughput is matches per second and rounds per second.
Every timed run records its CPU share (process CPU time / wall time /
threads): well below 1 means another job took a core during that run.
Prints a table and writes ``benchmarks/records/ipd-<timestamp>-<commit8>.json``
(git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import escalation_sim
from escalation_sim.ipd import model as ipd
from escalation_sim.ipd import montecarlo as mc
from escalation_sim.ipd.simpy_engine import simulate_match

REPO = Path(__file__).resolve().parent.parent
RECORDS = Path(__file__).resolve().parent / "records"
SEED = 20261123
TURNS = 200
NOISE = 0.05
AXL = {
    "tit_for_tat": "TitForTat",
    "generous_tit_for_tat": "GTFT",
    "win_stay_lose_shift": "WinStayLoseShift",
    "grudger": "Grudger",
    "always_cooperate": "Cooperator",
    "always_defect": "Defector",
    "random": "Random",
}
PAIRS = list(itertools.combinations_with_replacement(AXL, 2))
# matches per pair and round: (quick, full)
MATCHES = {"axelrod": (4, 20), "simpy": (4, 20), "compiled_1t": (500, 4000), "compiled_2t": (500, 4000)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def import_axelrod():
    t0 = time.perf_counter()
    import axelrod

    return axelrod, time.perf_counter() - t0


class Timer:
    """Wall seconds and CPU share (process CPU / wall / threads: about 1 when the run had its cores to itself)."""

    def __init__(self, threads: int = 1):
        self.threads = threads

    def __enter__(self):
        gc.collect()
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall0
        self.cpu_share = (time.process_time() - self.cpu0) / self.wall / self.threads


def time_axelrod(axl, n: int) -> Timer:
    with Timer() as t:
        for a, b in PAIRS:
            for i in range(n):
                axl.Match((getattr(axl, AXL[a])(), getattr(axl, AXL[b])()), turns=TURNS, noise=NOISE, seed=SEED + i).play()
    return t


def time_simpy(n: int) -> Timer:
    games = [ipd.IPDGame((a, b), turns=TURNS, noise=NOISE) for a, b in PAIRS]
    with Timer() as t:
        for g in games:
            for i in range(n):
                simulate_match(g, seed=SEED, replication=i)
    return t


def time_compiled(n: int, threads: int) -> Timer:
    games = [ipd.IPDGame((a, b), turns=TURNS, noise=NOISE) for a, b in PAIRS]
    block = 250
    blocks = np.arange(-(-n // block), dtype=np.int64)
    with Timer(threads) as t:
        for g in games:
            mc.run_blocks(g, SEED, blocks, block, n, parallel=threads > 1, threads=threads)
    return t


def figure(values: list[float], unit: str, description: str) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values,
            "k": len(values), "unit": unit, "description": description}


def git() -> dict:
    def run(*args):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": run("rev-parse", "HEAD") or "unknown", "dirty": bool(run("status", "--porcelain", "--untracked-files=no"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer matches per round (checks that the script works)")
    ap.add_argument("--k", type=int, default=5, help="rounds (repeats) [default 5]")
    ap.add_argument("--out", type=Path, help="record file (default benchmarks/records/ipd-<timestamp>-<commit8>.json)")
    args = ap.parse_args()
    which = 0 if args.quick else 1
    n = {e: v[which] for e, v in MATCHES.items()}
    threads2 = min(2, mc.max_threads())
    load0 = list(os.getloadavg())

    log("importing axelrod ...")
    axl, import_seconds = import_axelrod()
    log(f"axelrod {axl.__version__} imported in {import_seconds:.1f} s; compiling/loading IPD kernels ...")
    t0 = time.perf_counter()
    mc.warm_up()
    warm = time.perf_counter() - t0
    # warm-up of every engine (caches, first-call dispatch), not timed
    time_axelrod(axl, 1)
    time_simpy(1)
    time_compiled(100, 1)
    time_compiled(100, threads2)

    secs: dict[str, list[float]] = {e: [] for e in n}
    share: dict[str, list[float]] = {e: [] for e in n}
    for r in range(args.k):
        for e, timed in (("axelrod", lambda: time_axelrod(axl, n["axelrod"])), ("simpy", lambda: time_simpy(n["simpy"])),
                         ("compiled_1t", lambda: time_compiled(n["compiled_1t"], 1)),
                         ("compiled_2t", lambda: time_compiled(n["compiled_2t"], threads2))):
            t = timed()
            secs[e].append(t.wall)
            share[e].append(round(t.cpu_share, 3))
        log(f"round {r + 1}/{args.k}: " + ", ".join(f"{e} {secs[e][-1]:.2f} s (cpu share {share[e][-1]:.2f})" for e in n))

    figures = {}
    matches_per_s = {}
    for e in n:
        matches = n[e] * len(PAIRS)
        mps = [matches / s for s in secs[e]]
        matches_per_s[e] = mps
        figures[f"{e}_matches_per_s"] = figure(mps, "matches/s", f"{e}: {TURNS}-round matches per second")
        figures[f"{e}_matches_per_s"]["cpu_share"] = share[e]
        figures[f"{e}_rounds_per_s"] = figure([m * TURNS for m in mps], "rounds/s", f"{e}: rounds per second")
    for e in ("simpy", "compiled_1t", "compiled_2t"):
        ratio = [x / y for x, y in zip(matches_per_s[e], matches_per_s["axelrod"], strict=True)]
        figures[f"speedup_{e}_vs_axelrod"] = figure(ratio, "x", f"{e} matches/s over axelrod's, same round")
    figures["axelrod_import_s"] = figure([import_seconds], "s", "import axelrod (once)")
    figures["ipd_kernels_load_s"] = figure([warm], "s", "compile or load the IPD kernels (once)")

    now = dt.datetime.now(dt.UTC)
    g = git()
    record = {
        "schema": 1,
        "benchmark": "ipd",
        "date": now.isoformat(timespec="seconds"),
        "git": g,
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "numba_threads": mc.max_threads(),
                    "load_average_at_start": load0, "load_average_at_end": list(os.getloadavg())},
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "axelrod": axl.__version__,
                     "escalation_sim": escalation_sim.__version__},
        "settings": {"pairs": [list(p) for p in PAIRS], "turns": TURNS, "noise": NOISE, "payoffs": [3, 0, 5, 1],
                     "matches_per_pair_and_round": n, "k": args.k, "seed": SEED, "quick": args.quick},
        "figures": figures,
    }
    out = args.out or RECORDS / f"ipd-{now.strftime('%Y%m%dT%H%M%SZ')}-{g['commit'][:8]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")

    print(f"IPD throughput: {len(PAIRS)} strategy pairs, {TURNS} rounds, noise {NOISE}, median of k={args.k} rounds")
    print(f"{'engine':<14} {'matches/s':>12} {'rounds/s':>14} {'vs axelrod':>11}")
    for e in n:
        m = figures[f"{e}_matches_per_s"]["median"]
        sp = "1" if e == "axelrod" else f"{figures[f'speedup_{e}_vs_axelrod']['median']:.1f}"
        print(f"{e:<14} {m:12,.0f} {m * TURNS:14,.0f} {sp:>11}x")
    print(f"import axelrod: {import_seconds:.1f} s; IPD kernels compile/load: {warm:.1f} s; load average {load0[0]:.2f} at start")
    print(f"record: {out}")


if __name__ == "__main__":
    main()
