"""The IPD special case against the Axelrod library, on the same matches.

The matches: every pair (self-play included) of the seven strategies both
libraries implement (TFT, GTFT, WSLS, Grudger, AllC, AllD, Random), 200 rounds,
noise 0.05, payoffs 3, 0, 5, 1. ``setup_cache`` times, in k interleaved rounds
(the suite's ``repeats``): ``axelrod.Match(...).play()`` per match (the
library's own engine), escalation-sim's SimPy IPD engine per match, and its
Numba kernel (serial twin on 1 thread, parallel twin on 2 threads). Speed-ups
are taken within a round; wall-clock figures are medians over the rounds whose
runs had their cores (CPU share >= 0.9; NaN if none; ``ESIM_BENCH_GUARD=0``:
every round), and the CPU-time figures of the one-thread engines stand beside them.
Without the Axelrod library (``pip install ".[validation]"``) every benchmark
here is skipped, and says why.
"""

from __future__ import annotations

import gc
import itertools
import os
import statistics
import time

import numpy as np

from .common import NOISY_SHARE, Timer, skip, suite

SEED = 20261123
TURNS = 200
NOISE = 0.05
# Our strategy names and the Axelrod classes that implement them. A copy of tests/test_ipd.py::AXL_NAMES on
# purpose: asv runs this file against past commits too, so it cannot import a table a commit may not have.
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
ENGINES = ["axelrod", "simpy", "compiled 1 thread", "compiled 2 threads"]
KEYS = {"axelrod": "axelrod", "simpy": "simpy", "compiled 1 thread": "compiled_1t", "compiled 2 threads": "compiled_2t"}


def _engines():
    try:
        from escalation_sim.ipd import model as ipd
        from escalation_sim.ipd import montecarlo as mc
        from escalation_sim.ipd.simpy_engine import simulate_match
    except ImportError as exc:
        return None, f"this commit has no escalation_sim.ipd package: {exc}"
    return (ipd, mc, simulate_match), ""


def measure_ipd(st) -> dict:
    engines, why = _engines()
    if engines is None:
        return {"skip": why}
    ipd, mc, simulate_match = engines
    t0 = time.perf_counter()
    try:
        import axelrod as axl
    except ImportError:
        return {"skip": "the Axelrod library is not installed (pip install '.[validation]'; it needs torch)"}
    import_s = time.perf_counter() - t0
    threads2 = min(2, mc.max_threads())
    games = [ipd.IPDGame((a, b), turns=TURNS, noise=NOISE) for a, b in PAIRS]

    def play_axelrod(n):
        for a, b in PAIRS:
            for i in range(n):
                axl.Match((getattr(axl, AXL[a])(), getattr(axl, AXL[b])()), turns=TURNS, noise=NOISE,
                          seed=SEED + i).play()

    def play_simpy(n):
        for g in games:
            for i in range(n):
                simulate_match(g, seed=SEED, replication=i)

    def play_compiled(n, threads):
        block = 250
        blocks = np.arange(-(-n // block), dtype=np.int64)
        for g in games:
            mc.run_blocks(g, SEED, blocks, block, n, parallel=threads > 1, threads=threads)

    t0 = time.perf_counter()
    mc.warm_up()
    load_s = time.perf_counter() - t0
    play = {"axelrod": (play_axelrod, 1), "simpy": (play_simpy, 1),
            "compiled_1t": (lambda n: play_compiled(n, 1), 1), "compiled_2t": (lambda n: play_compiled(n, threads2), threads2)}
    for key, (fn, _) in play.items():  # first calls: caches, dispatch, thread pool
        fn(1 if key in ("axelrod", "simpy") else 100)
    rate: dict = {k: [] for k in play}
    cpu_rate: dict = {k: [] for k in play}
    share: dict = {k: [] for k in play}
    for _ in range(st.repeats):
        for key, (fn, threads) in play.items():
            matches = st.ipd_matches[key] * len(PAIRS)
            gc.collect()
            with Timer(threads) as t:
                fn(st.ipd_matches[key])
            rate[key].append(matches / t.wall)
            cpu_rate[key].append(matches / t.cpu)
            share[key].append(t.cpu_share)
    return {"rate": rate, "cpu_rate": cpu_rate, "share": share, "axelrod_import_s": import_s,
            "kernels_load_s": load_s, "axelrod_version": axl.__version__}


def _median(vals, ok):
    if os.environ.get("ESIM_BENCH_GUARD", "1") == "0":
        ok = [True] * len(vals)
    kept = [v for v, c in zip(vals, ok, strict=True) if c]
    return statistics.median(kept) if kept else float("nan")


class IPD:
    """Matches per second of each engine and the ratio to the Axelrod library, same round."""

    version = "1"
    rounds = 1
    timeout = 3600

    def setup_cache(self):
        return measure_ipd(suite())

    def setup(self, m, *params):
        if "skip" in m:
            skip(m["skip"])

    def _ok(self, m, key):
        return [s >= NOISY_SHARE for s in m["share"][key]]

    def track_matches_per_s(self, m, engine):
        """200-round matches per second."""
        key = KEYS[engine]
        return _median(m["rate"][key], self._ok(m, key))

    track_matches_per_s.params = ENGINES
    track_matches_per_s.param_names = ["engine"]
    track_matches_per_s.unit = "matches/s"

    def track_vs_axelrod(self, m, engine):
        """Matches per second over the Axelrod library's, same round (the issue: >= 1,000x)."""
        key = KEYS[engine]
        vals = [x / y for x, y in zip(m["rate"][key], m["rate"]["axelrod"], strict=True)]
        ok = [p and q for p, q in zip(self._ok(m, key), self._ok(m, "axelrod"), strict=True)]
        return _median(vals, ok)

    track_vs_axelrod.params = ENGINES[1:]
    track_vs_axelrod.param_names = ["engine"]
    track_vs_axelrod.unit = "x"

    def track_cpu_matches_per_s(self, m, engine):
        """Matches per CPU second of a one-thread engine (equals matches/s on an idle core; not NaN-guarded)."""
        return statistics.median(m["cpu_rate"][KEYS[engine]])

    track_cpu_matches_per_s.params = ENGINES[:3]
    track_cpu_matches_per_s.param_names = ["engine"]
    track_cpu_matches_per_s.unit = "matches/s"

    def track_cpu_vs_axelrod(self, m, engine):
        """One-thread engine over the Axelrod library, CPU time, same round."""
        key = KEYS[engine]
        return statistics.median(x / y for x, y in zip(m["cpu_rate"][key], m["cpu_rate"]["axelrod"], strict=True))

    track_cpu_vs_axelrod.params = ENGINES[1:3]
    track_cpu_vs_axelrod.param_names = ["engine"]
    track_cpu_vs_axelrod.unit = "x"

    def track_cpu_share(self, m, engine):
        """Lowest CPU share over the k runs: below 0.9, another job took cores."""
        return min(m["share"][KEYS[engine]])

    track_cpu_share.params = ENGINES
    track_cpu_share.param_names = ["engine"]
    track_cpu_share.unit = "share"
