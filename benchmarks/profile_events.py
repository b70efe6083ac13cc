"""Where the compiled engine's time goes: events by kind, and (optionally) a perf profile.

Usage::

    python benchmarks/profile_events.py [-n 300] [--perf] [--json FILE]

1. Event counts. The SimPy engine's trace of ``n`` crises per shipped scenario
   (``record=True``; same seed as the asv speed benchmarks (``configurations.SEED``), and the same
   events as the compiled engine, which replays them exactly) is counted by
   message kind and handling actor, per replication, and split into events
   before the crisis outcome and after it (with an ally the run follows the
   ally to the horizon: reviews, renewals and support keep coming).
2. ``--perf`` (Linux ``perf`` needed): samples a compiled run (1 thread, then
   2 threads) and attributes the samples to each compiled function that was
   not inlined (``model.decision.evaluate``, ``model.rules.handle``, the event
   loop ``engines._kernel.simulate_one``, ...), to Numba's reference counting
   (``NRT_incref`` / ``NRT_decref``) and to libm (``exp``, ``log1p``). The child
   compiles into an empty cache (about 30 s): kernels loaded from the cache
   have no LLVM module from which to name their functions. It writes perf's
   map of JIT code (``/tmp/perf-PID.map``), removed after the report.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from configurations import REPO, SCENARIOS, SEED, SPEED_SCENARIO

import escalation_sim  # noqa: F401  (configures the Numba cache)
from escalation_sim.engines.simpy_engine import Crisis
from escalation_sim.model.validation import load_scenario


def category(row) -> str:
    """A readable class of one handled message (one trace row)."""
    msg = row.message
    if msg == "signal":
        if row.observed:
            return "signal: observed copy (audience / third party)"
        if row.incident:
            return "signal: incident"
        return "signal: move (to the adversary leader)"
    if msg == "support":
        return "support: reassurance reaches the ally"
    if msg == "renew":
        return "renew: defender renews reassurance"
    if msg == "review":
        return "review: ally reviews its confidence"
    if msg == "incident_tick":
        return "incident_tick: candidate incident"
    if msg in ("order", "executed"):
        return f"{msg}: military move"
    return msg


def count_events(name: str, n: int) -> dict:
    """Events per replication by kind, actor and phase, from SimPy traces of ``n`` crises."""
    p_mixes, mix_cum = load_scenario(SCENARIOS[name]).vectors()
    by_kind: Counter = Counter()
    by_actor_kind: Counter = Counter()
    by_category: Counter = Counter()
    after: Counter = Counter()
    outcomes: Counter = Counter()
    total = 0
    for rep in range(n):
        res = Crisis(p_mixes, mix_cum, SEED, rep, record=True).run()
        tr = res.trace
        if len(tr) != res.events:
            raise RuntimeError("trace rows differ from the event count")
        total += res.events
        outcomes[res.outcome] += 1
        challenged = res.outcome != "no_challenge"
        for row in tr.itertuples(index=False):
            by_kind[row.message] += 1
            by_actor_kind[(row.actor, row.message)] += 1
            cat = category(row)
            by_category[cat] += 1
            # after the outcome: strictly later than the end (or any time, when never challenged)
            if row.time > res.end_time or (not challenged and row.time > 0.0):
                after[cat] += 1
    return {
        "scenario": name,
        "replications": n,
        "events_per_rep": total / n,
        "after_outcome_per_rep": sum(after.values()) / n,
        "outcomes": {k: v / n for k, v in outcomes.most_common()},
        "by_category": {
            k: {"per_rep": v / n, "after_outcome_per_rep": after[k] / n} for k, v in by_category.most_common()
        },
        "by_kind": {k: v / n for k, v in by_kind.most_common()},
        "by_actor_kind": {f"{a} <- {k}": v / n for (a, k), v in by_actor_kind.most_common()},
    }


def print_counts(c: dict) -> None:
    print(
        f"\n== {c['scenario']}: {c['replications']} crises, {c['events_per_rep']:.1f} events/replication, "
        f"{c['after_outcome_per_rep']:.1f} of them after the outcome"
    )
    print("   outcomes: " + ", ".join(f"{k} {v:.0%}" for k, v in c["outcomes"].items()))
    print(f"   {'kind of event':<50} {'per rep':>8} {'share':>6} {'after outcome':>14}")
    for k, v in c["by_category"].items():
        share = v["per_rep"] / c["events_per_rep"]
        print(f"   {k:<50} {v['per_rep']:>8.2f} {share:>6.1%} {v['after_outcome_per_rep']:>14.2f}")
    print("   by handling actor <- message kind (per replication):")
    for k, v in list(c["by_actor_kind"].items())[:12]:
        print(f"      {k:<40} {v:>7.2f}")


# --- perf -------------------------------------------------------------------------
PERF_CHILD = """
import gc, os, sys, time
import numpy as np
import escalation_sim
from escalation_sim.engines import montecarlo as mc
from escalation_sim.model.validation import load_scenario
from numba.core.registry import CPUDispatcher
from numba.core.runtime import nrt
s = load_scenario(sys.argv[1]); threads = int(sys.argv[2]); n = int(sys.argv[3])
pm, cum = s.vectors()
mc.warm_up()  # compiles: the cache directory is empty, so every library still holds its LLVM module
# perf's map of JIT code (/tmp/perf-PID.map): the address and size of every compiled function
funcs = {}
for obj in gc.get_objects():
    if isinstance(obj, CPUDispatcher):
        for cres in obj.overloads.values():
            lib = cres.library
            for fn in lib._final_module.functions:
                if not fn.is_declaration:
                    addr = lib.get_pointer_to_function(fn.name)
                    if addr:
                        funcs[addr] = fn.name
for name in ("NRT_incref", "NRT_decref"):
    funcs[nrt.rtsys.library.get_pointer_to_function(name)] = name
addrs = sorted(funcs)
with open(f"/tmp/perf-{os.getpid()}.map", "w") as fh:
    for a, b in zip(addrs, addrs[1:] + [addrs[-1] + 4096]):
        fh.write(f"{a:x} {min(b - a, 1 << 20):x} {funcs[a]}\\n")
print("pid", os.getpid(), flush=True)
blocks = np.arange(mc.n_blocks(n, 4096))
t = time.perf_counter()
mc.run_blocks(pm, cum, 20261122, blocks, 4096, n, parallel=threads > 1, threads=threads)
print("elapsed", time.perf_counter() - t, flush=True)
"""

MANGLED = re.compile(r"(\d+)")


def short_name(sym: str) -> str:
    """``model.rules.handle`` from Numba's mangled ``_ZN14escalation_sim5model5rules6handleB4v280B38...``."""
    if not sym.startswith("_ZN"):
        return sym
    parts, i = [], 3
    while i < len(sym) and sym[i].isdigit():
        m = MANGLED.match(sym, i)
        n = int(m.group(1))
        parts.append(sym[m.end():m.end() + n])
        i = m.end() + n
    parts = [p for p in parts if p not in ("escalation_sim", "cpython")]
    return ".".join(parts) or sym


LINE = re.compile(r"^\s*([\d.]+)%\s+(.+?)\s+\[\.\]\s+(\S+)")


def perf_profile(threads: int, n: int) -> dict:
    """Share of perf samples per compiled function, refcounting and libm for one run (an empty kernel cache: the
    child compiles first, ~30 s, so that it can name its functions for perf)."""
    with tempfile.TemporaryDirectory(prefix="esim-perf-") as tmp:
        data = str(Path(tmp) / "perf.data")
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "cache"))
        proc = subprocess.run(
            ["perf", "record", "-q", "-o", data, sys.executable, "-c", PERF_CHILD, str(SCENARIOS[SPEED_SCENARIO]),
             str(threads), str(n)],
            cwd=REPO, capture_output=True, text=True, check=True, env=env,
        )
        out = dict(line.split()[:2] for line in proc.stdout.splitlines() if line.split()[:1] in (["pid"], ["elapsed"]))
        perf_map = Path(f"/tmp/perf-{out['pid']}.map")
        try:
            rep = subprocess.run(
                ["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,symbol", "-q"],
                capture_output=True, text=True, check=True,
            ).stdout
        finally:
            perf_map.unlink(missing_ok=True)
    elapsed = float(out["elapsed"])
    shares: Counter = Counter()
    for line in rep.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        pct, dso, sym = float(m.group(1)), m.group(2), m.group(3)
        if "[JIT]" in dso:
            if sym.startswith("NRT_"):
                shares["NRT refcount (incref/decref)"] += pct
            elif sym.startswith("0x"):
                shares["compiled code, not in the map"] += pct
            else:
                shares[short_name(sym)] += pct
        elif "libm" in dso:
            shares[f"libm {sym}"] += pct
        else:  # the interpreter, imports and the compile before the timed run
            shares["python, imports, compile"] += pct
    compiled = sum(v for k, v in shares.items() if k != "python, imports, compile")
    return {
        "threads": threads,
        "replications": n,
        "elapsed_s": elapsed,
        "reps_per_s": n / elapsed,
        "share_of_all_samples": dict(shares.most_common()),
        "share_of_compiled_samples": {
            k: v / compiled for k, v in shares.most_common() if k != "python, imports, compile"
        },
    }


def print_perf(p: dict) -> None:
    print(
        f"\n== perf: {SPEED_SCENARIO}, {p['replications']} replications, {p['threads']} thread(s), "
        f"{p['reps_per_s']:,.0f} rep/s under perf"
    )
    for k, v in list(p["share_of_compiled_samples"].items())[:20]:
        print(f"   {k:<40} {v:>6.1%} of compiled-code samples")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=300, help="crises traced per scenario (default 300)")
    ap.add_argument("--perf", action="store_true", help="also profile compiled runs with Linux perf")
    ap.add_argument("--perf-replications", type=int, default=2**19)
    ap.add_argument("--json", type=Path, help="write the numbers as JSON")
    args = ap.parse_args(argv)
    out: dict = {"events": [count_events(name, args.n) for name in SCENARIOS]}
    for c in out["events"]:
        print_counts(c)
    if args.perf:
        if shutil.which("perf") is None:
            print("\nperf not found: skipping the profile", file=sys.stderr)
        else:
            out["perf"] = [perf_profile(t, args.perf_replications) for t in (1, 2)]
            for p in out["perf"]:
                print_perf(p)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
