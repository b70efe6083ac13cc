"""Named benchmark configurations: what the asv suite (``benchmarks/benchmarks/``) measures, and how much.

Two suites: ``large`` (the default; the figures quoted in the README) and
``small`` (``ESIM_BENCH_SUITE=small``: the same measurements, fewer and shorter
repeats, for checking that the suite works or for a history over many commits).
Each suite holds one :class:`Case` per shipped scenario plus the settings of the
scenario-independent measurements (generator cost, compile time, memory, IPD).
The asv benchmarks, ``workers.py`` and ``profile_events.py`` all read this file.

Targets are those of the performance issue (issue 14); they are evaluated on
:data:`SPEED_SCENARIO` (extended deterrence, the default for speed figures) by
``benchmarks/targets.py`` from an asv result file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "experiments"
RECORDS = Path(__file__).resolve().parent / "records"  # workers.py and profile_events.py write here (git-ignored)

SCENARIOS = {
    "direct-deterrence": EXPERIMENTS / "direct-deterrence.toml",
    "extended-deterrence": EXPERIMENTS / "extended-deterrence.toml",
}
SPEED_SCENARIO = "extended-deterrence"
SEED = 20261122

# Memory: replications of SPEED_SCENARIO run through ``montecarlo.run_cell`` in a fresh process each (the same in
# both suites, so that asv's parameters, and the history, do not depend on the suite); peak RSS compared with the
# first. The 10^8 run takes 8-15 minutes on 2 cores: it is the slow benchmark, run only with ESIM_BENCH_SLOW=1.
MEMORY_REPLICATIONS = (10**6, 10**7)
MEMORY_SLOW_REPLICATIONS = (10**6, 10**8)
MEMORY_BLOCK_SIZE = 4096


@dataclass(frozen=True)
class Case:
    """One scenario measured in both engines.

    Attributes
    ----------
    name : str
        Scenario name (key of :data:`SCENARIOS`); figures are named after it.
    scenario : Path
        The scenario file.
    simpy_replications : int
        Crises per timed SimPy run (replications ``0 .. n-1``, ``record=False``).
    replications : int
        Crises per timed compiled run (``run_blocks``, replications ``0 .. n-1``).
    block_size : int
        Replications per block.
    threads : tuple of int
        Thread counts of the parallel kernel; 1 thread is also measured with the
        serial kernel (the single-thread figure used for the draw floor).
    """

    name: str
    scenario: Path
    simpy_replications: int
    replications: int
    block_size: int = 4096
    threads: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class Suite:
    """A whole benchmark run.

    Attributes
    ----------
    repeats : int
        k: every timed figure is measured k times (rounds interleave all cases,
        so ratios are taken between measurements of the same round).
    rng_draws : int
        Draws per timed generator loop (one thread).
    compile_repeats, startup_repeats : int
        Fresh subprocesses with an empty / a filled Numba cache.
    time_replications, time_simpy_replications : int
        Crises per call of the asv ``time_*`` benchmarks (compiled, SimPy): asv
        repeats these calls itself, so they are kept short.
    ipd_matches : dict
        IPD matches per strategy pair and round, per engine.
    """

    name: str
    cases: tuple[Case, ...]
    repeats: int
    rng_draws: int
    compile_repeats: int
    startup_repeats: int
    profile_replications: int = 300
    time_replications: int = 2**16
    time_simpy_replications: int = 100
    ipd_matches: dict = field(default_factory=lambda: {"axelrod": 20, "simpy": 20, "compiled_1t": 4000,
                                                       "compiled_2t": 4000})
    notes: dict = field(default_factory=dict)


def _cases(simpy_reps: int, reps: int) -> tuple[Case, ...]:
    return tuple(Case(name, path, simpy_reps, reps) for name, path in SCENARIOS.items())


SUITES = {
    "large": Suite(
        name="large",
        cases=_cases(simpy_reps=1000, reps=2**19),
        repeats=5,
        rng_draws=10**8,
        compile_repeats=3,
        startup_repeats=5,
    ),
    "small": Suite(
        name="small",
        cases=_cases(simpy_reps=100, reps=2**16),
        repeats=3,
        rng_draws=10**7,
        compile_repeats=1,
        startup_repeats=2,
        time_replications=2**15,
        ipd_matches={"axelrod": 4, "simpy": 4, "compiled_1t": 500, "compiled_2t": 500},
    ),
}


def current_suite() -> Suite:
    """The suite named by ``ESIM_BENCH_SUITE`` (``large`` when unset)."""
    name = os.environ.get("ESIM_BENCH_SUITE", "large")
    if name not in SUITES:
        raise ValueError(f"ESIM_BENCH_SUITE={name!r}: allowed: {', '.join(SUITES)}")
    return SUITES[name]


# Targets of the performance issue (issue 14): (asv benchmark, its parameters, comparison, threshold, text).
# benchmarks/targets.py reads them from an asv result file and prints PASS / FAIL and the gap.
TARGETS = (
    ("speed.Rounds.track_crises_per_s", (SPEED_SCENARIO, "compiled 2 threads"), ">=", 1_000_000.0,
     "crises/s, compiled, 2 threads"),
    ("speed.Rounds.track_vs_simpy", (SPEED_SCENARIO, "compiled 2 threads"), ">=", 1000.0,
     "compiled (2 threads) / SimPy, same round"),
    ("ipd.IPD.track_vs_axelrod", ("compiled 2 threads",), ">=", 1000.0, "IPD compiled (2 threads) / Axelrod library"),
    ("startup.Startup.track_cold_compile_s", ("total",), "<=", 15.0, "cold compile (empty cache), s"),
    ("startup.Startup.track_cached_startup_s", ("total",), "<=", 0.5, "cached start-up to the first replication, s"),
    ("memory.Memory.track_peak_ratio", (), "<=", 1.2, "peak RSS, largest / smallest run"),
    ("memory.MemorySlow.track_peak_ratio", (), "<=", 1.2, "peak RSS, 1e8 / 1e6 crises (slow benchmark)"),
)
