"""Named benchmark configurations: what ``benchmarks/run.py`` measures, and how much.

Two suites: ``large`` (the default; the figures quoted in the README) and
``small`` (``--quick``: the same measurements, fewer and shorter repeats, for
checking that the scripts work). Each suite holds one :class:`Case` per shipped
scenario plus the settings of the scenario-independent measurements (generator
cost, compile time, memory).

Targets are those of the performance issue; they are evaluated on
:data:`SPEED_SCENARIO` (extended deterrence, the default for speed figures).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "experiments"
RECORDS = Path(__file__).resolve().parent / "records"

SCENARIOS = {
    "direct-deterrence": EXPERIMENTS / "direct-deterrence.toml",
    "extended-deterrence": EXPERIMENTS / "extended-deterrence.toml",
}
SPEED_SCENARIO = "extended-deterrence"
SEED = 20261122


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
    memory_replications : tuple of int
        Replications of :data:`SPEED_SCENARIO` run through ``montecarlo.run_cell``
        in a fresh subprocess each; peak RSS is compared with the first.
    memory_full_replications : int
        Largest run added by ``--memory-full`` (the issue's 10^8).
    """

    name: str
    cases: tuple[Case, ...]
    repeats: int
    rng_draws: int
    compile_repeats: int
    startup_repeats: int
    memory_replications: tuple[int, ...]
    memory_full_replications: int = 100_000_000
    memory_block_size: int = 4096
    profile_replications: int = 300
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
        memory_replications=(10**6, 10**7),
    ),
    "small": Suite(
        name="small",
        cases=_cases(simpy_reps=100, reps=2**16),
        repeats=3,
        rng_draws=10**7,
        compile_repeats=1,
        startup_repeats=2,
        memory_replications=(10**5, 10**6),
        memory_full_replications=10**7,
    ),
}

# Targets of the performance issue (figure name, comparison, threshold, text).
TARGETS = (
    (f"compiled.{SPEED_SCENARIO}.threads2.reps_per_s", ">=", 1_000_000.0, "replications/s with 2 threads"),
    (f"speedup.{SPEED_SCENARIO}.threads2_vs_simpy", ">=", 500.0, "compiled (2 threads) / SimPy, same run"),
    (f"floor.{SPEED_SCENARIO}.ratio_uniform", "<=", 2.0, "1-thread ns/rep within 2x of its draw floor"),
    ("floor.direct-deterrence.ratio_uniform", "<=", 2.0, "1-thread ns/rep within 2x of its draw floor"),
    ("memory.peak_ratio", "<=", 1.2, "peak RSS of the largest run / peak RSS of the smallest"),
)
