"""Peak memory of long runs: flat from 10^6 to 10^8 crises.

Each size runs ``montecarlo.run_cell`` on the extended-deterrence scenario
(block 4,096, all threads) in a **fresh process**, reaped with ``os.wait4`` for
its own peak RSS (``ru_maxrss``); the child also reports the peak reached by its
imports and ``warm_up()`` (the baseline) and its current RSS before and after
the run. ``Memory`` runs 10^6 and 10^7 crises on every ``asv run``;
``MemorySlow`` adds the issue's 10^8 (8-15 minutes on 2 cores) and runs only
when ``ESIM_BENCH_SLOW=1`` is set (otherwise asv lists it as skipped). The
kernel cache is filled in ``setup_cache`` before the children start, so they
load it rather than compile (a compile would raise the baseline, not the run).

``peakmem_run_cell`` is asv's own measure (peak RSS of the benchmark process,
imports and cache load included) on 10^5 and 10^6 crises.
"""

from __future__ import annotations

import os

import escalation_sim  # noqa: F401  (configures the kernel cache)
from escalation_sim.engines import montecarlo as mc

from .common import SEED, SPEED_SCENARIO, cfg, run_child, scenario_path, scenario_vectors, skip

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


def measure_memory(sizes) -> dict:
    mc.warm_up()  # fill the kernel cache before the children start
    path = str(scenario_path(SPEED_SCENARIO))
    out = {}
    for n in sizes:
        res = run_child(MEMORY_CODE, [path, str(n), str(cfg.MEMORY_BLOCK_SIZE), str(SEED)])
        if res["n"] != n:
            raise RuntimeError(f"run_cell ran {res['n']} replications, not {n}")
        out[n] = res
    return out


class _Memory:
    version = "1"
    rounds = 1
    sizes: tuple = ()

    def setup_cache(self):
        if self.slow and os.environ.get("ESIM_BENCH_SLOW") != "1":
            return {"skip": "the 1e8-crisis memory run takes 8-15 minutes: set ESIM_BENCH_SLOW=1 to run it"}
        return measure_memory(self.sizes)

    def setup(self, m, *params):
        if "skip" in m:
            skip(m["skip"])

    def track_peak_mib(self, m, n):
        """Peak RSS of a fresh process that ran ``n`` crises (imports and kernel load included)."""
        return m[n]["child_maxrss_kib"] / 1024

    track_peak_mib.unit = "MiB"

    def track_above_start_peak_mib(self, m, n):
        """That peak minus the peak reached by the imports and warm_up(): 0 means the run never raised it."""
        return (m[n]["child_maxrss_kib"] - m[n]["baseline_peak_kib"]) / 1024

    track_above_start_peak_mib.unit = "MiB"

    def track_rss_growth_mib(self, m, n):
        """Current RSS after the run minus before it."""
        return (m[n]["end_rss_kib"] - m[n]["baseline_rss_kib"]) / 1024

    track_rss_growth_mib.unit = "MiB"

    def track_crises_per_s(self, m, n):
        """run_cell throughput in that process (all threads, chunking and reduction included)."""
        return n / m[n]["elapsed_s"]

    track_crises_per_s.unit = "crises/s"

    def track_peak_ratio(self, m):
        """Peak RSS at the largest size / at the smallest (the issue: flat, within 20%)."""
        return m[max(self.sizes)]["child_maxrss_kib"] / m[min(self.sizes)]["child_maxrss_kib"]

    track_peak_ratio.unit = "x"


class Memory(_Memory):
    """10^6 and 10^7 crises, on every run."""

    slow = False
    timeout = 1800
    sizes = cfg.MEMORY_REPLICATIONS
    params = list(sizes)
    param_names = ["crises"]

    def setup_cache(self):  # its own: asv keys a setup_cache by where it is defined, so an inherited one is shared
        return _Memory.setup_cache(self)

    def track_peak_ratio(self, m):
        """Peak RSS at 10^7 / at 10^6 crises (the issue: flat, within 20%)."""
        return _Memory.track_peak_ratio(self, m)

    track_peak_ratio.params = []
    track_peak_ratio.unit = "x"

    def peakmem_run_cell(self, m, n):
        """asv's peak RSS of the benchmark process running ``run_cell`` (imports and kernel load included)."""
        mc.run_cell(self.scenario, n, SEED, block_size=cfg.MEMORY_BLOCK_SIZE)

    peakmem_run_cell.params = [10**5, 10**6]

    def setup(self, m, *params):
        _Memory.setup(self, m, *params)
        from escalation_sim.model.validation import load_scenario

        scenario_vectors(SPEED_SCENARIO)  # skips if this commit cannot load the file
        self.scenario = load_scenario(scenario_path(SPEED_SCENARIO))
        mc.warm_up()


class MemorySlow(_Memory):
    """The issue's 10^8 crises against 10^6: only with ``ESIM_BENCH_SLOW=1``."""

    slow = True
    timeout = 7200
    sizes = cfg.MEMORY_SLOW_REPLICATIONS
    params = list(sizes)
    param_names = ["crises"]

    def setup_cache(self):  # not Memory's cached 10^6 / 10^7 result (asv keys setup_cache by its definition)
        return _Memory.setup_cache(self)

    def track_peak_ratio(self, m):
        """Peak RSS at 10^8 / at 10^6 crises (the issue: flat, within 20%)."""
        return _Memory.track_peak_ratio(self, m)

    track_peak_ratio.params = []
    track_peak_ratio.unit = "x"
