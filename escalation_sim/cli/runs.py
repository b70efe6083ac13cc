"""``run``, ``tournament``, ``sweep`` and ``merge``: the run pipeline from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from .. import api
from ..analysis.sweep import parse_values, sweep_experiment
from ..pipeline.experiment import experiment_or_scenario, load_experiment, require_crisis
from ..pipeline.run import RunResult
from ._common import CONTEXT, SEED, Progress, compiling, fail, log, user_errors


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


POSTERIOR_OPTIONS = (
    click.option("--posterior", default=None, metavar="NAME|FILE",
                 help="Evaluate every cell over draws of this posterior: a shipped one by name (crisis-record) or a "
                      "posterior.parquet/.csv written by calibrate [default: the experiment's [posterior], if any]."),
    click.option("--draws", type=click.IntRange(min=2), default=None,
                 help="With a posterior: posterior draws [default: the experiment's [posterior] draws, else 100]."),
    click.option("--illustrative", is_flag=True,
                 help="Run the scenario's illustrative defaults even if the experiment names a posterior."),
)


def posterior_options(f):
    """The options that choose between a posterior and the illustrative defaults."""
    for option in reversed(POSTERIOR_OPTIONS):
        f = option(f)
    return f


@click.command(context_settings=CONTEXT)
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replications", "-n", type=int, default=None, help="Replications per cell [default: the experiment's].")
@click.option("--seed", type=SEED, default=None, help="Seed [default: the experiment's].")
@click.option("--threads", "-t", type=int, default=None, help="Threads [default: all cores].")
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
@posterior_options
def run(experiment: Path, as_json: bool, no_progress: bool, posterior: str | None, draws: int | None,
        illustrative: bool, **options) -> None:
    """Estimate outcome probabilities for every cell of an experiment (compiled engine).

    A run interrupted at any point (even killed) is resumed by the same
    command: finished blocks are read back, never recomputed. On calibrated
    parameters (an experiment with a [posterior] table, or --posterior), every
    cell is run at draws of the posterior instead: posterior predictive shares
    of every outcome with intervals that combine parameter and simulation
    uncertainty, for each pair of cells the probability that one gives less
    war, and the ranking's robustness. --illustrative runs the defaults.
    """
    with user_errors():
        exp = load_experiment(experiment)
    _dispatch(exp, experiment, posterior, draws, illustrative, as_json, no_progress, options)


def _dispatch(exp, experiment: Path, posterior: str | None, draws: int | None, illustrative: bool, as_json: bool,
              no_progress: bool, options: dict) -> None:
    """Over a posterior (``--posterior``, or the experiment's ``[posterior]`` unless ``--illustrative``), or at the
    scenario's values through the resumable pipeline."""
    from ..calibration.targets import posterior_file
    from ..pipeline.experiment import posterior_spec

    with user_errors():
        spec = posterior_spec(exp.raw, str(experiment)) if exp.form == "crisis" else None
    if posterior is not None and illustrative:
        fail("--posterior and --illustrative: choose one")
    if posterior is None and spec is not None and not illustrative:
        posterior_path, default_n = spec["file"], spec["replications"]
        draws = draws or spec["draws"]
    elif posterior is not None:
        posterior_path, default_n = posterior_file(posterior), None
    else:
        if draws is not None:
            fail("--draws needs a posterior (--posterior, or an experiment with a [posterior] table)")
        _run(exp, as_json, no_progress, **options)
        return
    _run_posterior(exp, experiment, posterior_path, draws or 100, as_json, options, default_n)



def _run_posterior(exp, experiment: Path, posterior: Path, draws: int, as_json: bool, options: dict,
                   default_n: int | None = None) -> None:
    """The experiment's cells over a posterior (escalation_sim/analysis/calibration.py)."""
    from ..analysis.calibration import posterior_command
    from ..pipeline.settings import check_threads

    ignored = [k for k in ("block_size", "target_halfwidth", "shard", "scheduler") if options.get(k) is not None]
    if ignored or options.get("backend") != "threads":
        fail("a run over a posterior runs on local threads with a fixed number of replications per draw; "
             f"not with {', '.join('--' + k.replace('_', '-') for k in ignored) or '--backend dask'} "
             "(--illustrative runs the scenario's defaults through the resumable, shardable pipeline)")
    with user_errors():
        require_crisis(exp, experiment, "--posterior evaluates crisis cells")
        check_threads(options.get("threads"))
        n = options.get("replications") or default_n or min(exp.replications, 4096)
        seed = exp.seed if options.get("seed") is None else options["seed"]
        command = f"escalation-sim run {experiment} --posterior {posterior} --draws {draws} -n {n} --seed {seed}"
        with compiling("crisis"):  # the README's first command: a first run says it compiles, like every other run
            out_dir, cells, ranking = posterior_command(exp, posterior, draws, n, seed, options.get("threads"),
                                                        options.get("out"), options.get("force", False),
                                                        command=command, log=log)
    table = cells[(cells["motive"] == "all") & (cells["measure"] == "war")]
    if as_json:
        click.echo(cells.to_json(orient="records", indent=2))
    else:
        click.echo(f"P(war) over {draws} posterior draws x {n:,} crises: posterior predictive mean, its 95% interval "
                   "(parameter uncertainty and Monte Carlo noise), the share of its variance due to the parameters")
        click.echo("cell   P(war)    95% interval  params  label")
        for _, r in table.iterrows():
            click.echo(f"{r['cell']:>4}   {r['mean']:.4f} [{r['low']:.4f}, {r['high']:.4f}]  {r['share_parameters']:>5.0%}"
                       f"  {r['label']}")
        for context, g in ranking.groupby("context", sort=False):
            click.echo(f"\nRanking over the posterior{' at ' + context if context else ''} "
                       "(mean rank, its range over 90% of draws, P(least war)):")
            for i, r in enumerate(g.itertuples(), 1):
                click.echo(f"{i:>3}. {r.option:<50} rank {r.mean_rank:4.1f} ({r.rank_low:g}-{r.rank_high:g})  "
                           f"P(least war) {r.p_best:.2f}  P(war) {r.mean_p_war:.3f}")
    log(f"wrote {out_dir}")


@click.command(context_settings=CONTEXT)
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replications", "-n", type=int, default=None, help="Replications per cell [default: the file's].")
@click.option("--seed", type=SEED, default=None, help="Seed [default: the file's].")
@click.option("--threads", "-t", type=int, default=None, help="Threads [default: all cores].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Results directory.")
@click.option("--force", is_flag=True, help="Replace existing results in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the cell table as JSON on stdout.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@posterior_options
def tournament(experiment: Path, as_json: bool, no_progress: bool, posterior: str | None, draws: int | None,
               illustrative: bool, **options) -> None:
    """Round robin: defender mixes x challenger strategies and motives; matrix, heatmap, ranking with intervals.

    EXPERIMENT is an experiment file with a [tournament] table (defender, challenger, motive);
    see experiments/tournament.toml. Over a posterior (the file's [posterior], or --posterior) the ranking
    comes with its robustness: each mix's mean rank over the draws, its range and P(least war).
    """
    with user_errors():
        exp = load_experiment(experiment)
    if "tournament" not in exp.raw:
        fail(f"{experiment}: tournament: missing [tournament] table (defender, challenger, motive); "
             "see experiments/tournament.toml")
    _dispatch(exp, experiment, posterior, draws, illustrative, as_json, no_progress,
              {"backend": "threads", **options})


@click.command(context_settings=CONTEXT)
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--param", required=True, metavar="SECTION.NAME", help="The parameter to vary, e.g. channel.misperception.")
@click.option("--values", "values_text", required=True, metavar="START:STOP:COUNT|V1,V2,...", help="Values, e.g. 0:0.3:7.")
@click.option("--replications", "-n", type=int, default=None, help="Replications per point [default: the experiment's].")
@click.option("--seed", type=SEED, default=None, help="Seed [default: the experiment's].")
@click.option("--threads", "-t", type=int, default=None, help="Threads [default: all cores].")
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
