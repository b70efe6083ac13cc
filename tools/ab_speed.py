"""Interleaved A/B timing of the compiled engine in two (or more) source trees, on a shared, noisy machine.

Usage::

    git archive <commit> | tar -x -C /tmp/base          # a copy of the other version
    python tools/ab_speed.py /tmp/base . --rounds 5      # each tree's escalation_sim in its own processes

Each round runs, for every tree in turn, the direct- and extended-deterrence scenarios with the serial kernel
(1 thread) and the parallel kernel on 2 threads, each in a fresh process (``PYTHONPATH`` = the tree; the kernel
cache is keyed by the source, so the trees never share kernels). A run reports replications per second, its CPU
share (process CPU time / (wall x threads): below 0.9 another job took part of the cores), events and draws per
replication. The table gives medians over the rounds, and the median over rounds of the ratio of each tree to the
first one within the same round (both measured minutes apart, under the same load).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time
import numpy as np
import escalation_sim
from escalation_sim.engines import montecarlo as mc
from escalation_sim.model.validation import load_scenario
path, threads, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pm, cum = load_scenario(path).vectors()
mc.warm_up()
blocks = np.arange(mc.n_blocks(n, 4096))
t, c = time.perf_counter(), time.process_time()
r = mc.run_blocks(pm, cum, 20261122, blocks, 4096, n, parallel=threads > 1, threads=threads)
w, c = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"reps_per_s": n / w, "cpu_share": c / w / threads, "events": float(r.events.sum()) / n,
                  "draws": float(r.draws.sum()) / n}))
"""

SCENARIOS = ("direct-deterrence", "extended-deterrence")


def run_one(tree: Path, scenario: str, threads: int, n: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    path = tree / "experiments" / f"{scenario}.toml"
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(threads), str(n)], env=env, cwd=tree,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trees", nargs="+", type=Path, help="source trees; the first is the reference")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("-n", type=int, default=2**17, help="replications per 1-thread run (2-thread runs: twice)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    trees = [t.resolve() for t in args.trees]
    for t in trees:  # compile or load each tree's kernels once, outside the timed rounds
        run_one(t, SCENARIOS[0], 1, 64)
    res: dict = {}
    for r in range(args.rounds):
        for scen in SCENARIOS:
            for threads in (1, 2):
                for i, t in enumerate(trees):
                    d = run_one(t, scen, threads, args.n * threads)
                    res.setdefault((scen, threads, i), []).append(d)
        print(f"round {r + 1}/{args.rounds} done (load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
    print(f"{'scenario':<22} {'thr':>3} {'tree':<28} {'rep/s median':>13} {'[min, max]':>20} {'cpu share':>9} "
          f"{'ratio to #0':>11} {'ev/rep':>7} {'draws':>6}")
    table = []
    for scen in SCENARIOS:
        for threads in (1, 2):
            ref = [d["reps_per_s"] for d in res[(scen, threads, 0)]]
            for i, t in enumerate(trees):
                runs = res[(scen, threads, i)]
                rates = [d["reps_per_s"] for d in runs]
                ratio = statistics.median(a / b for a, b in zip(rates, ref, strict=True))
                share = statistics.median(d["cpu_share"] for d in runs)
                row = {"scenario": scen, "threads": threads, "tree": str(t), "median": statistics.median(rates),
                       "min": min(rates), "max": max(rates), "cpu_share": share, "ratio": ratio,
                       "events": runs[0]["events"], "draws": runs[0]["draws"], "runs": runs}
                table.append(row)
                print(f"{scen:<22} {threads:>3} {str(t)[-28:]:<28} {row['median']:>13,.0f} "
                      f"{f'[{min(rates):,.0f}, {max(rates):,.0f}]':>20} {share:>9.2f} {ratio:>11.3f} "
                      f"{row['events']:>7.2f} {row['draws']:>6.2f}")
    if args.json:
        args.json.write_text(json.dumps(table, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
