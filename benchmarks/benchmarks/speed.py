"""Speed of both engines: interleaved rounds with ratios taken within a round, and asv-timed calls.

``Rounds`` measures everything once per ``asv run`` in its ``setup_cache``, the
way the suite always has on this shared machine: k rounds (the suite's
``repeats``), each timing the SimPy engine, the compiled engine's serial kernel
and its parallel kernel on 1 and 2 threads for every scenario, then the
generator loops. Every ratio (compiled / SimPy, 2 threads / 1 thread, engine /
draw floor) is taken between measurements of the same round, so a slow patch of
the machine touches both sides of it. Its ``track_*`` methods only read that
measurement. Wall-clock figures are medians over the rounds whose timed runs had
their cores (CPU share >= 0.9), or NaN (asv shows "n/a") when no round had
(``ESIM_BENCH_GUARD=0``: every round); CPU-time figures of one-thread runs are
given beside them; the CPU shares themselves are tracked too
(``track_cpu_share``, ``track_clean_rounds``).

``Engines`` is the asv-native counterpart: ``time_crises`` times one call of
each engine with asv's own repeats and statistics (what ``asv continuous`` tests
for a significant change). Kernels are compiled (or loaded) in ``setup_cache`` /
``setup``, never inside a timed call.
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import time
from collections import defaultdict

import numpy as np
from numba import njit

import escalation_sim  # noqa: F401  (configures the kernel cache)
from escalation_sim.engines import montecarlo as mc
from escalation_sim.engines.simpy_engine import Crisis
from escalation_sim.model import rng
from escalation_sim.model.constants import N_STREAMS

from .common import NOISY_SHARE, SCENARIOS, SEED, Timer, scenario_vectors, skip, suite

SCENARIO_NAMES = list(SCENARIOS)
RUNS = ["simpy", "compiled 1 thread", "parallel kernel 1 thread", "compiled 2 threads"]
COMPILED = ["compiled 1 thread", "compiled 2 threads"]
KINDS = ["uniform", "exponential"]


@njit(cache=False)  # a benchmark's own loop: compiled in setup_cache, not worth a cache entry
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


def _compiled(p_mixes, mix_cum, n, block, parallel, threads):
    blocks = np.arange(mc.n_blocks(n, block), dtype=np.int64)
    return mc.run_blocks(p_mixes, mix_cum, SEED, blocks, block, n, parallel=parallel, threads=threads)


def _simpy(p_mixes, mix_cum, n):
    events = 0
    for rep in range(n):
        events += Crisis(p_mixes, mix_cum, SEED, rep, record=False).run().events
    return events


def measure_rounds(st) -> dict:
    """k interleaved rounds over every case of suite ``st``.

    Returns, per timed run ``(scenario, run)`` or ``("rng", kind)``, the lists of
    wall seconds, CPU seconds (the process, all threads), threads and work items
    (crises or draws), one entry per round; and events and draws per crisis.
    """
    maxt = mc.max_threads()
    vec = {c.name: scenario_vectors(c.name) for c in st.cases}
    mc.warm_up()  # compile or load the block kernels before any timed run
    for loop in RNG_LOOPS.values():
        loop(10)
    for c in st.cases:
        pm, cum = vec[c.name]
        _compiled(pm, cum, 2 * c.block_size, c.block_size, True, maxt)
        Crisis(pm, cum, SEED, 0, record=False).run()
    runs: dict = defaultdict(lambda: {"wall": [], "cpu": [], "threads": 1, "n": 0})
    per: dict = defaultdict(list)

    def put(key, t, n):
        r = runs[key]
        r["wall"].append(t.wall)
        r["cpu"].append(t.cpu)
        r["threads"], r["n"] = t.threads, n

    started = time.time()
    load0 = list(os.getloadavg())
    for _ in range(st.repeats):
        for c in st.cases:
            pm, cum = vec[c.name]
            gc.collect()
            with Timer() as t:
                ev = _simpy(pm, cum, c.simpy_replications)
            put((c.name, "simpy"), t, c.simpy_replications)
            per[(c.name, "simpy events")].append(ev / c.simpy_replications)
            n = c.replications
            plan = [("compiled 1 thread", False, None, 1), ("parallel kernel 1 thread", True, 1, 1)]
            if maxt >= 2:
                plan.append(("compiled 2 threads", True, 2, 2))
            for label, parallel, threads, nth in plan:
                gc.collect()
                with Timer(nth) as t:
                    res = _compiled(pm, cum, n, c.block_size, parallel, threads)
                put((c.name, label), t, n)
                if label == "compiled 1 thread":
                    per[(c.name, "events")].append(res.events.sum() / n)
                    per[(c.name, "draws")].append(res.draws.sum() / n)
        for kind, loop in RNG_LOOPS.items():
            with Timer() as t:
                acc = loop(st.rng_draws)
            if not math.isfinite(acc):
                raise RuntimeError("generator loop returned a non-finite sum")
            put(("rng", kind), t, st.rng_draws)
    return {"runs": {k: dict(v) for k, v in runs.items()}, "per": dict(per), "suite": st.name, "k": st.repeats,
            "threads": maxt, "load_average": [load0, list(os.getloadavg())], "seconds": time.time() - started}


def _guarded() -> bool:
    return os.environ.get("ESIM_BENCH_GUARD", "1") != "0"


def _median(values, clean) -> float:
    """Median over the rounds marked clean (all rounds without the guard); NaN if none is."""
    if not _guarded():
        clean = [True] * len(values)
    kept = [v for v, ok in zip(values, clean, strict=True) if ok]
    return statistics.median(kept) if kept else math.nan


def _share(r) -> list[float]:
    return [c / w / r["threads"] for c, w in zip(r["cpu"], r["wall"], strict=True)]


def _clean(r) -> list[bool]:
    return [s >= NOISY_SHARE for s in _share(r)]


class Rounds:
    """Figures of one interleaved measurement (``setup_cache``); ratios within a round; CPU-share guard.

    Two kinds of figure. **Wall-clock** figures (``track_crises_per_s``,
    ``track_vs_simpy``, ``track_scaling_2_vs_1``, ``track_parallel1_vs_serial``) are
    what a user waits for; they keep only the rounds whose runs had their cores and
    are NaN when none had. **CPU-time** figures (``track_cpu_*``, ``track_ns_*``,
    ``track_simpy_us_per_event``, ``track_rng_ns_per_draw``,
    ``track_draw_floor_ratio``) divide by the process's CPU seconds of one-thread
    runs: equal to wall time on an idle core, and nearly unaffected by other jobs
    that take the core for a while (they are not NaN-guarded; the CPU share says
    how disturbed the round was).
    """

    version = "1"
    rounds = 1  # every track reads the same measurement: one process each is enough
    timeout = 3600

    def setup_cache(self):
        return measure_rounds(suite())

    def setup(self, m, *params):
        if m["threads"] < 2 and any("2 threads" in str(p) for p in params):
            skip("one Numba thread on this machine")

    def _rate(self, m, key):
        r = m["runs"][key]
        return [r["n"] / w for w in r["wall"]]

    def _ratio(self, m, a, b):
        """Round-by-round wall-clock rate of a / rate of b; a round counts if both of its runs had their cores."""
        vals = [x / y for x, y in zip(self._rate(m, a), self._rate(m, b), strict=True)]
        ok = [p and q for p, q in zip(_clean(m["runs"][a]), _clean(m["runs"][b]), strict=True)]
        return _median(vals, ok)

    def _cpu_ns(self, m, key) -> list[float]:
        """CPU nanoseconds per work item (crisis or draw) of a one-thread run, per round."""
        r = m["runs"][key]
        return [c / r["n"] * 1e9 for c in r["cpu"]]

    # --- wall clock, guarded -------------------------------------------------------
    def track_crises_per_s(self, m, scenario, run):
        """Crises per wall-clock second: SimPy engine, compiled serial kernel (1 thread), parallel kernel."""
        key = (scenario, run)
        return _median(self._rate(m, key), _clean(m["runs"][key]))

    track_crises_per_s.params = (SCENARIO_NAMES, RUNS)
    track_crises_per_s.param_names = ["scenario", "run"]
    track_crises_per_s.unit = "crises/s"

    def track_vs_simpy(self, m, scenario, run):
        """Compiled engine / SimPy engine, crises per wall-clock second, same round (the issue's ">= 1,000x")."""
        return self._ratio(m, (scenario, run), (scenario, "simpy"))

    track_vs_simpy.params = (SCENARIO_NAMES, COMPILED)
    track_vs_simpy.param_names = ["scenario", "run"]
    track_vs_simpy.unit = "x"

    def track_scaling_2_vs_1(self, m, scenario):
        """Parallel kernel on 2 threads / serial kernel, wall clock, same round (2.0 is perfect on 2 cores)."""
        if m["threads"] < 2:
            return math.nan
        return self._ratio(m, (scenario, "compiled 2 threads"), (scenario, "compiled 1 thread"))

    track_scaling_2_vs_1.params = SCENARIO_NAMES
    track_scaling_2_vs_1.param_names = ["scenario"]
    track_scaling_2_vs_1.unit = "x"

    def track_parallel1_vs_serial(self, m, scenario):
        """Parallel kernel restricted to 1 thread / serial kernel, same round (the parallel twin's own cost)."""
        return self._ratio(m, (scenario, "parallel kernel 1 thread"), (scenario, "compiled 1 thread"))

    track_parallel1_vs_serial.params = SCENARIO_NAMES
    track_parallel1_vs_serial.param_names = ["scenario"]
    track_parallel1_vs_serial.unit = "x"

    # --- CPU time of one-thread runs ---------------------------------------------------
    def track_cpu_crises_per_s(self, m, scenario, run):
        """Crises per CPU second of a one-thread run (equals crises/s on an idle core)."""
        return statistics.median(1e9 / v for v in self._cpu_ns(m, (scenario, run)))

    track_cpu_crises_per_s.params = (SCENARIO_NAMES, RUNS[:3])
    track_cpu_crises_per_s.param_names = ["scenario", "run"]
    track_cpu_crises_per_s.unit = "crises/s"

    def track_cpu_vs_simpy(self, m, scenario):
        """Compiled (1 thread) / SimPy, CPU time, same round."""
        a, b = self._cpu_ns(m, (scenario, "simpy")), self._cpu_ns(m, (scenario, "compiled 1 thread"))
        return statistics.median(x / y for x, y in zip(a, b, strict=True))

    track_cpu_vs_simpy.params = SCENARIO_NAMES
    track_cpu_vs_simpy.param_names = ["scenario"]
    track_cpu_vs_simpy.unit = "x"

    def track_ns_per_crisis(self, m, scenario):
        """Compiled engine, 1 thread: CPU nanoseconds per crisis."""
        return statistics.median(self._cpu_ns(m, (scenario, "compiled 1 thread")))

    track_ns_per_crisis.params = SCENARIO_NAMES
    track_ns_per_crisis.param_names = ["scenario"]
    track_ns_per_crisis.unit = "ns"

    def _per(self, m, scenario, what):
        ns = self._cpu_ns(m, (scenario, "compiled 1 thread"))
        return statistics.median(t / d for t, d in zip(ns, m["per"][(scenario, what)], strict=True))

    def track_ns_per_event(self, m, scenario):
        """Compiled engine, 1 thread: CPU nanoseconds per handled message."""
        return self._per(m, scenario, "events")

    track_ns_per_event.params = SCENARIO_NAMES
    track_ns_per_event.param_names = ["scenario"]
    track_ns_per_event.unit = "ns"

    def track_ns_per_draw(self, m, scenario):
        """Compiled engine, 1 thread: all its CPU time divided by the uniforms it drew."""
        return self._per(m, scenario, "draws")

    track_ns_per_draw.params = SCENARIO_NAMES
    track_ns_per_draw.param_names = ["scenario"]
    track_ns_per_draw.unit = "ns"

    def track_simpy_us_per_event(self, m, scenario):
        """SimPy engine: CPU microseconds per handled message."""
        ns = self._cpu_ns(m, (scenario, "simpy"))
        return statistics.median(t / e / 1e3 for t, e in zip(ns, m["per"][(scenario, "simpy events")], strict=True))

    track_simpy_us_per_event.params = SCENARIO_NAMES
    track_simpy_us_per_event.param_names = ["scenario"]
    track_simpy_us_per_event.unit = "us"

    def track_rng_ns_per_draw(self, m, kind):
        """A tight one-thread loop of the generator: CPU nanoseconds per draw."""
        return statistics.median(self._cpu_ns(m, ("rng", kind)))

    track_rng_ns_per_draw.params = KINDS
    track_rng_ns_per_draw.param_names = ["kind"]
    track_rng_ns_per_draw.unit = "ns"

    def track_draw_floor_ratio(self, m, scenario, kind):
        """Compiled 1-thread ns/crisis / (draws per crisis x ns per draw of the generator loop), same round."""
        ns = self._cpu_ns(m, (scenario, "compiled 1 thread"))
        vals = [t / (d * g) for t, d, g in zip(ns, m["per"][(scenario, "draws")], self._cpu_ns(m, ("rng", kind)),
                                               strict=True)]
        return statistics.median(vals)

    track_draw_floor_ratio.params = (SCENARIO_NAMES, KINDS)
    track_draw_floor_ratio.param_names = ["scenario", "kind"]
    track_draw_floor_ratio.unit = "x"

    # --- properties of the model ---------------------------------------------------------
    def track_events_per_crisis(self, m, scenario):
        """Messages handled per crisis (if it changes, the workload changed: compare speeds with care)."""
        return statistics.median(m["per"][(scenario, "events")])

    track_events_per_crisis.params = SCENARIO_NAMES
    track_events_per_crisis.param_names = ["scenario"]
    track_events_per_crisis.unit = "events"

    def track_draws_per_crisis(self, m, scenario):
        """Uniforms drawn per crisis."""
        return statistics.median(m["per"][(scenario, "draws")])

    track_draws_per_crisis.params = SCENARIO_NAMES
    track_draws_per_crisis.param_names = ["scenario"]
    track_draws_per_crisis.unit = "draws"

    # --- the guard itself ----------------------------------------------------------------
    def track_cpu_share(self, m, scenario, run):
        """Lowest CPU share over the k runs (CPU / wall / threads): below 0.9 another job took cores."""
        return min(_share(m["runs"][(scenario, run)]))

    track_cpu_share.params = (SCENARIO_NAMES, RUNS)
    track_cpu_share.param_names = ["scenario", "run"]
    track_cpu_share.unit = "share"

    def track_clean_rounds(self, m, scenario, run):
        """Rounds (of k) whose run had its cores: the wall-clock figures are medians over these."""
        return sum(_clean(m["runs"][(scenario, run)]))

    track_clean_rounds.params = (SCENARIO_NAMES, RUNS)
    track_clean_rounds.param_names = ["scenario", "run"]
    track_clean_rounds.unit = "rounds"

    def track_load_average(self, m):
        """1-minute load average at the end of the rounds (coarse: other work on the machine)."""
        return m["load_average"][1][0]

    track_load_average.unit = "load"


class Engines:
    """asv-timed calls: ``time_crises`` runs the suite's ``time_replications`` compiled crises
    (``time_simpy_replications`` for SimPy) of one scenario; asv repeats it and keeps the samples."""

    version = "1"
    params = (SCENARIO_NAMES, ["simpy", "compiled 1 thread", "compiled 2 threads"])
    param_names = ["scenario", "run"]
    number = 1
    repeat = (3, 10, 30.0)
    warmup_time = 0
    timeout = 600

    def setup_cache(self):
        mc.warm_up()  # fills the on-disk kernel cache: every benchmark process below only loads it
        return {"threads": mc.max_threads()}

    def setup(self, cache, scenario, run):
        if run == "compiled 2 threads" and cache["threads"] < 2:
            skip("one Numba thread on this machine")
        st = suite()
        self.pm, self.cum = scenario_vectors(scenario)
        self.block = st.cases[0].block_size
        self.n = st.time_simpy_replications if run == "simpy" else st.time_replications
        self.parallel, self.threads = {"compiled 1 thread": (False, None), "compiled 2 threads": (True, 2)}.get(
            run, (False, None))
        mc.warm_up()
        if run != "simpy":
            _compiled(self.pm, self.cum, 2 * self.block, self.block, self.parallel, self.threads)
        Crisis(self.pm, self.cum, SEED, 0, record=False).run()

    def time_crises(self, cache, scenario, run):
        if run == "simpy":
            _simpy(self.pm, self.cum, self.n)
        else:
            _compiled(self.pm, self.cum, self.n, self.block, self.parallel, self.threads)
