"""Cold compile and cached start-up, each in a fresh Python process.

``setup_cache`` runs the suite's ``compile_repeats`` fresh processes with an
**empty** temporary ``NUMBA_CACHE_DIR`` (``escalation_sim/_cache.py`` appends
``kernels-<source hash>`` to it; the child's cache directory is checked), then
``startup_repeats`` fresh processes with that now filled directory. Each child
times ``import escalation_sim`` + ``montecarlo`` and ``warm_up()``: the first call
of every kernel a run uses (scenario vectors, serial and parallel block kernels),
on one replication, which is what every command does before its first
replication (the replay kernel ``final_states`` compiles on first use, in tests). The compile benchmark is the one place where a compile is
timed. Figures are medians over the runs whose child had its core (CPU share of
the child >= 0.9; NaN if none had; ``ESIM_BENCH_GUARD=0``: every run).
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

from .common import NOISY_SHARE, run_child, suite

STARTUP_CODE = """
import json, time
t0 = time.perf_counter()
import escalation_sim
from escalation_sim.engines import montecarlo as mc
t1 = time.perf_counter()
mc.warm_up()
t2 = time.perf_counter()
try:  # the kernel cache escalation-sim uses (its locator); numba's global setting in commits without _cache
    from escalation_sim._cache import cache_dir
    cache = str(cache_dir())
except ImportError:
    import numba
    cache = numba.config.CACHE_DIR
print(json.dumps({"import_s": t1 - t0, "warm_up_s": t2 - t1, "total_s": t2 - t0, "cache_dir": cache}))
"""


def measure_startup(st) -> dict:
    cold: list[dict] = []
    warm: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="esim-bench-cache-") as root:
        cache = None
        for i in range(st.compile_repeats):
            cache = Path(root) / f"cold{i}"
            cache.mkdir()
            res = run_child(STARTUP_CODE, [], dict(os.environ, NUMBA_CACHE_DIR=str(cache)))
            if not str(res["cache_dir"]).startswith(str(cache)):
                raise RuntimeError(f"the child did not use the empty cache dir: {res['cache_dir']}")
            cold.append(res)
        files = sum(1 for _ in cache.rglob("*.nbi"))
        if files == 0:
            raise RuntimeError("the cold start wrote no Numba index files: the cached start-up would not be cached")
        for _ in range(st.startup_repeats):
            warm.append(run_child(STARTUP_CODE, [], dict(os.environ, NUMBA_CACHE_DIR=str(cache))))
    return {"cold": cold, "cached": warm, "cache_index_files": files}


def _median(runs: list[dict], key: str) -> float:
    if os.environ.get("ESIM_BENCH_GUARD", "1") != "0":
        runs = [r for r in runs if r["child_cpu_share"] >= NOISY_SHARE]
    return statistics.median(r[key] for r in runs) if runs else float("nan")


class Startup:
    """``track_cold_compile_s``: empty cache; ``track_cached_startup_s``: filled cache."""

    version = "1"
    rounds = 1
    timeout = 3600

    def setup_cache(self):
        return measure_startup(suite())

    def track_cold_compile_s(self, m, part):
        """Fresh process, empty cache: ``total`` = import + warm_up(); ``warm_up`` = compiling the kernels a run uses;
        ``wall`` = the whole child with interpreter start."""
        return _median(m["cold"], f"{part}_s")

    track_cold_compile_s.params = ["total", "warm_up", "wall"]
    track_cold_compile_s.param_names = ["part"]
    track_cold_compile_s.unit = "s"

    def track_cached_startup_s(self, m, part):
        """Fresh process, filled cache: ``total`` = import + warm_up() (loading the kernels and running them on
        one replication), split in ``import`` and ``warm_up``; ``wall`` with interpreter start."""
        return _median(m["cached"], f"{part}_s")

    track_cached_startup_s.params = ["total", "import", "warm_up", "wall"]
    track_cached_startup_s.param_names = ["part"]
    track_cached_startup_s.unit = "s"

    def track_cpu_s(self, m, which):
        """CPU seconds (user + sys) of the whole child, interpreter start included: equals its wall time on an
        idle core, and is nearly unaffected by other jobs (not NaN-guarded)."""
        return statistics.median(r["cpu_s"] for r in m["cold" if which == "cold compile" else "cached"])

    track_cpu_s.params = ["cold compile", "cached start-up"]
    track_cpu_s.param_names = ["which"]
    track_cpu_s.unit = "s"

    def track_cpu_share(self, m, which):
        """Lowest CPU share of the children ((user + sys) / wall): below 0.9 another job took the core."""
        return min(r["child_cpu_share"] for r in m["cold" if which == "cold compile" else "cached"])

    track_cpu_share.params = ["cold compile", "cached start-up"]
    track_cpu_share.param_names = ["which"]
    track_cpu_share.unit = "share"
