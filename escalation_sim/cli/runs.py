"""``run``, ``tournament``, ``sweep`` and ``merge``: the run pipeline from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from .. import api
from ..analysis.sweep import parse_values, sweep_experiment
from ..pipeline.experiment import experiment_or_scenario, load_experiment, require_crisis
from ..pipeline.run import RunResult
from ._common import CONTEXT, SEED, Progress, fail, log, user_errors


def _run(exp, as_json: bool, no_progress: bool, **options) -> None:
    """Run ``exp`` through the library's pipeline and print its table (or, for a shard, nothing more)."""
    with user_errors(), Progress(not no_progress) as progress:
        result = api.run(exp, on_progress=progress, log=log, **options)
    _print(result, as_json)


def _print(result: RunResult, as_json: bool) -> None:
    if result.shard_file is not None:  # the pipeline has said where the shard is and what to do next
        return
    click.echo(result.cells.to_json(orient="records", indent=2) if as_json else result.text)
    log(f"wrote {result.directory}")


@click.command(context_settings=CONTEXT)
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replications", "-n", type=int, default=None, help="Replications per cell [default: the experiment's].")
@click.option("--seed", type=SEED, default=None, help="Seed [default: the experiment's].")
@click.option("--threads", "-t", type=int, default=None, help="Numba threads [default: all cores].")
@click.option("--block-size", type=int, default=None, help="Replications per block [default: the experiment's].")
@click.option("--target-halfwidth", type=float, default=None, help="Add blocks until every cell's P(war) 95% half-width is <= this.")
@click.option("--max-replications", type=int, default=10**9, show_default=True, help="Cap for --target-halfwidth.")
@click.option("--shard", default=None, metavar="I/N|slurm", help="Run only shard I of N (blocks b with b %% N == I); merge later.")
@click.option("--backend", type=click.Choice(["threads", "dask"]), default="threads", show_default=True, help="Where blocks run.")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler address [default: start a LocalCluster].")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Worker processes of the LocalCluster.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Results directory [default: results/<experiment>/<run-id>].")
@click.option("--force", is_flag=True, help="Discard existing results in --out (or this shard's) and start again.")
@click.option("--json", "as_json", is_flag=True, help="Print the cell table as JSON on stdout.")
@click.option("--no-progress", is_flag=True, help="No progress bar (it is off anyway when stderr is not a terminal).")
def run(experiment: Path, as_json: bool, no_progress: bool, **options) -> None:
    """Estimate outcome probabilities for every cell of an experiment (compiled engine).

    A run interrupted at any point (even killed) is resumed by the same
    command: finished blocks are read back, never recomputed.
    """
    with user_errors():
        exp = load_experiment(experiment)
    _run(exp, as_json, no_progress, **options)


@click.command(context_settings=CONTEXT)
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replications", "-n", type=int, default=None, help="Replications per cell [default: the file's].")
@click.option("--seed", type=SEED, default=None, help="Seed [default: the file's].")
@click.option("--threads", "-t", type=int, default=None, help="Numba threads [default: all cores].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Results directory.")
@click.option("--force", is_flag=True, help="Replace existing results in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the cell table as JSON on stdout.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def tournament(experiment: Path, as_json: bool, no_progress: bool, **options) -> None:
    """Round robin: defender mixes x challenger strategies and motives; matrix, heatmap, ranking with intervals.

    EXPERIMENT is an experiment file with a [tournament] table (defender, challenger, motive);
    see experiments/tournament.toml.
    """
    with user_errors():
        exp = load_experiment(experiment)
    if "tournament" not in exp.raw:
        fail(f"{experiment}: tournament: missing [tournament] table (defender, challenger, motive); "
             "see experiments/tournament.toml")
    _run(exp, as_json, no_progress, **options)


@click.command(context_settings=CONTEXT)
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--param", required=True, metavar="SECTION.NAME", help="The parameter to vary, e.g. channel.misperception.")
@click.option("--values", "values_text", required=True, metavar="START:STOP:COUNT|V1,V2,...", help="Values, e.g. 0:0.3:7.")
@click.option("--replications", "-n", type=int, default=None, help="Replications per point [default: the experiment's].")
@click.option("--seed", type=SEED, default=None, help="Seed [default: the experiment's].")
@click.option("--threads", "-t", type=int, default=None, help="Numba threads [default: all cores].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Results directory.")
@click.option("--force", is_flag=True, help="Replace existing results in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the cell table as JSON on stdout.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def sweep(experiment: Path, param: str, values_text: str, as_json: bool, no_progress: bool, **options) -> None:
    """Vary one parameter over values for every cell of an experiment; table and line plot with 95% bands.

    EXPERIMENT is an experiment file (every cell at every value) or a scenario file (one line); the parameter must
    not be one the experiment's cells already set.
    """
    with user_errors():
        exp = require_crisis(experiment_or_scenario(experiment), experiment,
                             "put the values in its [grid] and use 'escalation-sim run'")
        exp = sweep_experiment(exp, param, parse_values(values_text))
    _run(exp, as_json, no_progress, **options)


@click.command(context_settings=CONTEXT)
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Replace merged tables that already exist.")
@click.option("--json", "as_json", is_flag=True, help="Print the cell table as JSON on stdout.")
def merge(directory: Path, force: bool, as_json: bool) -> None:
    """Merge the shards of a run (files shard-I-of-N.*) into its tables.

    Every shard must have the same configuration hash, seed, replications,
    block size and versions, and every block must be present exactly once.
    The merged tables are bit-identical to a single-process run.
    """
    with user_errors():
        result = api.merge(directory, force)
    _print(result, as_json)
