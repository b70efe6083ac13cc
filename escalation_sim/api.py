"""The Python API: run an experiment, or merge the shards of one, exactly as the command line does.

>>> import escalation_sim
>>> result = escalation_sim.run("experiments/default.toml", replications=4096, seed=1, out="results/demo")
>>> result.cells[["label", "p_war", "war_ci_low", "war_ci_high"]]   # doctest: +SKIP

``docs/api.md`` has a worked example.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .analysis.hooks import extra_outputs, extra_text
from .pipeline.experiment import Experiment, load_experiment
from .pipeline.merge import merge_shards
from .pipeline.run import RunResult, execute_run
from .pipeline.settings import resolve_settings


def run(
    experiment: str | Path | Experiment,
    *,
    replications: int | None = None,
    seed: int | None = None,
    threads: int | None = None,
    block_size: int | None = None,
    out: str | Path | None = None,
    force: bool = False,
    target_halfwidth: float | None = None,
    max_replications: int = 10**9,
    shard: tuple[int, int] | str | None = None,
    backend: str = "threads",
    scheduler: str | None = None,
    workers: int = 2,
    on_progress: Callable[[int, int, str], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Run an experiment (a file, or one loaded with :func:`load_experiment`) and return its tables.

    The same run as ``escalation-sim run``: every option means what the
    command's option of the same name means, and ``None`` takes the
    experiment's value (threads: all cores). The results are written to
    ``out`` [default: ``results/<experiment>/<run-id>``, as the command], which
    must not hold another run (``force=True`` replaces it); an unfinished run
    with the same settings is resumed.

    Returns
    -------
    RunResult
        ``cells`` and ``outcomes`` (crisis experiments) or ``standings`` (IPD
        experiments) as DataFrames, ``manifest`` (a dict), ``directory``,
        ``replications`` per cell and ``seconds``.

    Raises
    ------
    ConfigError, OptionError, RunMismatch, ResultsExistError, RunLocked, WriteError, SchedulerError
        (from :mod:`escalation_sim.errors`) before anything is run.
    """
    exp = load_experiment(experiment) if isinstance(experiment, (str, Path)) else experiment
    settings = resolve_settings(exp, replications=replications, seed=seed, block_size=block_size, threads=threads,
                                target_halfwidth=target_halfwidth, max_replications=max_replications, shard=shard,
                                backend=backend, scheduler=scheduler, workers=workers)
    result = execute_run(exp, settings, out=Path(out) if out is not None else None, force=force,
                         extra_outputs=extra_outputs(exp.raw), on_progress=on_progress, log=log)
    if exp.form == "crisis" and result.shard_file is None:
        result.text += extra_text(exp.raw, result.directory)
    return result


def merge(directory: str | Path, force: bool = False) -> RunResult:
    """Merge the shards of a run in ``directory`` into its tables (as ``escalation-sim merge``)."""
    result = merge_shards(Path(directory), force, extra_outputs)
    result.text += extra_text(result.manifest.get("config", {}), result.directory)
    return result
