"""The Python API: run an experiment, or merge the shards of one, exactly as the command line does.

>>> import escalation_sim
>>> result = escalation_sim.run("experiments/default.toml", replications=4096, seed=1, out="results/demo")
>>> result.cells[["label", "p_war", "war_ci_low", "war_ci_high"]]   # doctest: +SKIP

``docs/api.md`` has a worked example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

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


@dataclass(frozen=True)
class PosteriorResult:
    """The tables of a run over a posterior (``escalation-sim run`` on calibrated parameters).

    ``cells``: every outcome's posterior predictive share per cell and motive (mean, 95% interval combining
    parameter and Monte Carlo uncertainty, the share of the variance from each); ``ranking``: each option's mean
    rank over the draws, its 90% range and P(least war); ``directory``: where the tables, report and manifest are.
    """

    directory: Path
    cells: pd.DataFrame
    ranking: pd.DataFrame


def run_posterior(
    experiment: str | Path | Experiment,
    posterior: str | Path | None = None,
    *,
    draws: int | None = None,
    replications: int | None = None,
    seed: int | None = None,
    threads: int | None = None,
    out: str | Path | None = None,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> PosteriorResult:
    """Run every cell of an experiment over draws of a posterior, as ``escalation-sim run`` does for an experiment
    with a ``[posterior]`` table (or with ``--posterior``).

    ``posterior`` is a shipped posterior's name (``"crisis-record"``) or a file written by ``calibrate``
    [default: the experiment's ``[posterior]``]; ``draws`` and ``replications`` (crises per draw) default to the
    experiment's ``[posterior]`` values (else 100 and 4,096); ``seed`` to the experiment's. :func:`run` runs the
    scenario's own (illustrative) values instead.

    Raises
    ------
    ConfigError
        The experiment has no ``[posterior]`` and none is given, or a file is bad; nothing is written.
    """
    from .analysis.calibration import posterior_command
    from .calibration.targets import posterior_file
    from .errors import ConfigError
    from .pipeline.experiment import posterior_spec, require_crisis
    from .pipeline.settings import check_threads

    path = str(experiment) if isinstance(experiment, (str, Path)) else experiment.source
    exp = require_crisis(load_experiment(experiment) if isinstance(experiment, (str, Path)) else experiment, path,
                         "a posterior run evaluates crisis cells")
    check_threads(threads)
    spec = posterior_spec(exp.raw, path)
    if posterior is None and spec is None:
        raise ConfigError(path, "posterior", "the experiment has no [posterior] table; allowed: give posterior= "
                          "(a shipped name such as 'crisis-record', or a posterior file written by calibrate)")
    file = posterior_file(posterior) if posterior is not None else spec["file"]
    draws = draws or (spec["draws"] if spec else 100)
    n = replications or (spec["replications"] if spec else 4096)
    seed = exp.seed if seed is None else seed
    out_dir, cells, ranking = posterior_command(exp, file, draws, n, seed, threads, Path(out) if out else None, force,
                                                command=None, log=log or (lambda _: None))
    return PosteriorResult(Path(out_dir), cells, ranking)
