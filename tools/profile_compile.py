"""What the first-call compile of the compiled kernels spends its time on, and what a cached start-up costs.

Usage::

    python tools/profile_compile.py            # cold compile in a fresh process with an empty cache, then cached start-ups
    python tools/profile_compile.py --top 30   # more rows
    python tools/profile_compile.py --child    # (internal) the measured process

The cold run records Numba's own events (``numba.core.event``) while ``montecarlo.warm_up()`` compiles every
kernel: per dispatcher, the time of its compile including and excluding the compiles it triggered (callees are
compiled while the caller is typed), the LLVM time inside it (``numba:llvm_lock``: optimisation and machine-code
generation of its library, which links in and re-optimises every callee's module), and per compiler pass. The
cached runs time, in fresh processes with the filled cache: the interpreter, ``import escalation_sim``, building
the default scenario's vectors, loading each kernel from the cache, and the first replication.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

CHILD_COLD = r"""
import json, sys, time
t0 = time.perf_counter()
from numba.core import event as ev
rec_c = ev.RecordingListener(); rec_l = ev.RecordingListener(); rec_p = ev.RecordingListener()
ev.register("numba:compile", rec_c); ev.register("numba:llvm_lock", rec_l); ev.register("numba:run_pass", rec_p)
import escalation_sim
from escalation_sim.engines import montecarlo as mc
t1 = time.perf_counter()
mc.warm_up()
t2 = time.perf_counter()
def name(e):
    d = e.data or {}
    disp = d.get("dispatcher")
    if disp is not None:
        f = getattr(disp, "py_func", None)
        return f"{f.__module__}.{f.__qualname__}" if f is not None else str(disp)
    return str(d.get("name", ""))
out = {"import_s": t1 - t0, "warm_up_s": t2 - t1,
       "compile": [(t, e.is_start, name(e)) for t, e in rec_c.buffer],
       "llvm": [(t, e.is_start) for t, e in rec_l.buffer],
       "passes": [(t, e.is_start, str((e.data or {}).get("name", ""))) for t, e in rec_p.buffer]}
json.dump(out, open(sys.argv[1], "w"))
"""

CHILD_CACHED = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import escalation_sim
from escalation_sim.engines import montecarlo as mc, _kernel
from escalation_sim.model.scenario import Scenario
t1 = time.perf_counter()
s = Scenario.build()
pm, cum = s.vectors()
t2 = time.perf_counter()
loads = {}
for name, parallel, blocks in (("run_blocks_serial", False, np.array([0])), ("threaded twin", True, np.array([0, 1]))):
    t = time.perf_counter()
    mc.run_blocks(pm, cum, 0, blocks, 1, blocks.shape[0], parallel=parallel)
    loads[name] = time.perf_counter() - t
t = time.perf_counter()
mc.final_states(s, 0, np.array([0]))
loads["final_states"] = time.perf_counter() - t
t3 = time.perf_counter()
json.dump({"import_s": t1 - t0, "vectors_s": t2 - t1, "kernels_s": loads, "warm_up_s": t3 - t1,
           "to_first_rep_s": t3 - t0}, open(sys.argv[1], "w"))
"""


def _run(code: str, cache: str, out: str) -> tuple[dict, float]:
    """Run ``code`` in a fresh process with ``cache`` as its Numba cache; its JSON, wall time and CPU time (in the JSON)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, out], env=env, check=True)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out) as f:
        d = json.load(f)
    d["cpu_s"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return d, wall


def summarize_cold(d: dict, top: int) -> None:
    """Inclusive / exclusive compile time and LLVM time per dispatcher; pass totals."""
    # attribute LLVM intervals to the innermost compile open at their start
    events = sorted([(t, 0, s, n) for t, s, n in d["compile"]] + [(t, 1, s, "") for t, s in d["llvm"]])
    stack: list[tuple[str, float, float]] = []  # name, start, child time
    incl: dict[str, float] = defaultdict(float)
    excl: dict[str, float] = defaultdict(float)
    llvm: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    llvm_open = None
    llvm_owner = None
    for t, kind, start, name in events:
        if kind == 1:
            if start:
                llvm_open, llvm_owner = t, (stack[-1][0] if stack else "<outside a compile>")
            elif llvm_open is not None:
                llvm[llvm_owner] += t - llvm_open
                llvm_open = None
            continue
        if start:
            stack.append((name, t, 0.0))
        else:
            nm, t0, child = stack.pop()
            dt = t - t0
            incl[nm] += dt
            excl[nm] += dt - child
            count[nm] += 1
            if stack:
                pn, pt, pc = stack[-1]
                stack[-1] = (pn, pt, pc + dt)
    passes: dict[str, float] = defaultdict(float)
    pstack: list[tuple[str, float, float]] = []
    for t, start, name in d["passes"]:
        if start:
            pstack.append((name, t, 0.0))
        else:
            nm, t0, child = pstack.pop()
            dt = t - t0
            passes[nm] += dt - child
            if pstack:
                pn, pt, pc = pstack[-1]
                pstack[-1] = (pn, pt, pc + dt)
    total = d["warm_up_s"]
    print(f"cold: import {d['import_s']:.2f} s, warm_up (compile) {total:.2f} s; "
          f"LLVM (optimise + codegen) {sum(llvm.values()):.2f} s in all")
    print(f"  {'dispatcher':<58} {'n':>3} {'incl s':>7} {'excl s':>7} {'LLVM s':>7} {'excl %':>7}")
    for nm in sorted(excl, key=lambda k: -excl[k])[:top]:
        print(f"  {nm[-58:]:<58} {count[nm]:>3} {incl[nm]:>7.2f} {excl[nm]:>7.2f} {llvm[nm]:>7.2f} {excl[nm] / total:>7.1%}")
    print(f"  compiler passes (exclusive), top {min(top, 12)}:")
    for nm in sorted(passes, key=lambda k: -passes[k])[: min(top, 12)]:
        print(f"    {nm:<50} {passes[nm]:>7.2f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--cached-runs", type=int, default=5)
    ap.add_argument("--json", help="write the raw numbers here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="esim-compile-") as tmp:
        cache = os.path.join(tmp, "cache")
        cold, wall = _run(CHILD_COLD, cache, os.path.join(tmp, "cold.json"))
        print(f"cold start (empty cache): {wall:.2f} s wall, {cold['cpu_s']:.2f} s CPU for the whole process "
              f"(load average {os.getloadavg()[0]:.2f} at the end)")
        summarize_cold(cold, args.top)
        cached = []
        for i in range(args.cached_runs):
            d, w = _run(CHILD_CACHED, cache, os.path.join(tmp, f"cached{i}.json"))
            d["wall_s"] = w
            cached.append(d)
        med = sorted(cached, key=lambda d: d["to_first_rep_s"])[len(cached) // 2]
        print(f"cached start-up, median of {len(cached)} (the run with the median time to the first replication):")
        print(f"  process wall {med['wall_s']:.2f} s; import {med['import_s']:.2f} s; vectors {med['vectors_s']:.3f} s; "
              f"kernels " + ", ".join(f"{k} {v:.3f} s" for k, v in med["kernels_s"].items())
              + f"; import to first replication {med['to_first_rep_s']:.2f} s; process CPU {med['cpu_s']:.2f} s")
        print("  all runs, import to first replication: " + ", ".join(f"{d['to_first_rep_s']:.2f}" for d in cached))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"cold": {k: cold[k] for k in ("import_s", "warm_up_s", "cpu_s")}, "cold_wall_s": wall,
                           "cached": cached}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
