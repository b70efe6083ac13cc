"""How to run an experiment: every run option resolved and validated once, one name per quantity.

:func:`resolve_settings` takes what the user gave (``None`` for "the
experiment's default") and returns a frozen :class:`RunSettings`, or raises an
:class:`~escalation_sim.errors.OptionError` that names the option and what is
allowed, before anything is written. Everything downstream (the run pipeline,
the scheduler, the executors, the manifest) reads the settings; nothing
rebuilds the experiment.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engines.montecarlo import max_threads
from ..errors import OptionError
from ..io.experiment_file import REPLICATIONS_MAX, SEED_MAX, SEED_RANGE
from ..scale.shards import parse_shard

BACKENDS = ("threads", "dask")


@dataclass(frozen=True)
class RunSettings:
    """Replications per cell, seed, block size, threads, stopping rule, and where the blocks run."""

    replications: int
    seed: int
    block_size: int
    threads: int
    target_halfwidth: float | None = None  # sequential stop: add blocks until every P(war) half-width is <= this
    max_replications: int = 10**9  # cap of the sequential stop
    shard: tuple[int, int] = (0, 1)  # (i, n): run only blocks b with b % n == i
    backend: str = "threads"  # or "dask"
    scheduler: str | None = None  # Dask scheduler address (None: a LocalCluster of `workers` processes)
    workers: int = 2

    @property
    def sharded(self) -> bool:
        """Whether this run is one shard of several."""
        return self.shard != (0, 1)


def resolve_settings(
    experiment,
    *,
    replications: int | None = None,
    seed: int | None = None,
    block_size: int | None = None,
    threads: int | None = None,
    target_halfwidth: float | None = None,
    max_replications: int = 10**9,
    shard: tuple[int, int] | str | None = None,
    backend: str = "threads",
    scheduler: str | None = None,
    workers: int = 2,
) -> RunSettings:
    """The settings of a run of ``experiment``; ``None`` takes the experiment's value (threads: all cores).

    ``shard`` is ``(i, n)`` or the command line's ``"I/N"`` or ``"slurm"``.
    An experiment of the prisoner's dilemma form runs in process, unsharded,
    on local threads: asking for a sequential stop, a shard or Dask is an error.

    Raises
    ------
    OptionError
        The first option out of range or not available, by name.
    """
    if experiment.form == "ipd":
        unsupported = {"--target-halfwidth": target_halfwidth is not None, "--shard": shard is not None,
                       "--backend dask": backend == "dask", "--scheduler": scheduler is not None}
        for opt, given in unsupported.items():
            if given:
                raise OptionError(f"{opt}: not available for IPD experiments (they run in seconds, unsharded, on local threads)")
    n = experiment.replications if replications is None else replications
    s = experiment.seed if seed is None else seed
    bs = experiment.block_size if block_size is None else block_size
    check_seed(s)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= REPLICATIONS_MAX:
        raise OptionError(f"--replications {n}: allowed: a whole number in [1, {REPLICATIONS_MAX}]")
    if isinstance(bs, bool) or not isinstance(bs, int) or not 1 <= bs <= REPLICATIONS_MAX:
        raise OptionError(f"--block-size {bs}: allowed: a whole number in [1, {REPLICATIONS_MAX}]")
    t = check_threads(threads)
    if experiment.form == "ipd":
        return RunSettings(replications=n, seed=s, block_size=bs, threads=t)
    if target_halfwidth is not None and not 0 < target_halfwidth < 0.5:
        raise OptionError(f"--target-halfwidth {target_halfwidth}: allowed: a number in (0, 0.5)")
    if target_halfwidth is not None and max_replications < n:
        given = "--replications" if replications is not None else f"experiment.replications in {experiment.source}"
        raise OptionError(f"--max-replications {max_replications}: allowed: at least the starting replications "
                          f"({n:,}, from {given})")
    shard_ = parse_shard(shard) if shard is None or isinstance(shard, str) else tuple(shard)
    if len(shard_) != 2 or not (shard_[1] >= 1 and 0 <= shard_[0] < shard_[1]):
        raise OptionError(f"--shard {shard_}: allowed: (i, n) with 0 <= i < n")
    if shard_ != (0, 1) and target_halfwidth is not None:
        raise OptionError("--shard and --target-halfwidth do not mix: a sequential stop needs every shard's counts")
    if backend not in BACKENDS:
        raise OptionError(f"--backend {backend}: allowed: {', '.join(BACKENDS)}")
    if scheduler is not None and backend != "dask":
        raise OptionError("--scheduler needs --backend dask")
    if workers < 1:
        raise OptionError(f"--workers {workers}: allowed: a whole number >= 1")
    return RunSettings(replications=n, seed=s, block_size=bs, threads=t, target_halfwidth=target_halfwidth,
                       max_replications=max_replications, shard=(int(shard_[0]), int(shard_[1])), backend=backend,
                       scheduler=scheduler, workers=workers)


def check_seed(seed, option: str = "--seed") -> int:
    """``seed`` if it is in the one allowed range, 0 to 2^63 - 1 (every command, file and the API), else OptionError."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise OptionError(f"{option} {seed}: allowed: {SEED_RANGE}")
    return seed


def check_threads(threads: int | None) -> int:
    """``threads`` (None: all cores), checked against this machine."""
    maxt = max_threads()
    t = maxt if threads is None else threads
    if not 1 <= t <= maxt:
        raise OptionError(f"--threads {t}: allowed: 1 to {maxt} on this machine")
    return t
