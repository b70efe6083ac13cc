"""``sensitivity``, ``calibrate`` and ``ally-decay``: analyses of one cell or one scenario, each in its own directory."""

from __future__ import annotations

import math
from pathlib import Path

import click

from ..analysis.ally_decay import ally_decay_command, ally_decay_text
from ..analysis.sensitivity import parse_bounds, sensitivity_command, sensitivity_text
from ..model.params import DEFENDER_STRATEGY_NAMES
from ..model.validation import load_scenario
from ..pipeline.experiment import crisis_cell
from ..pipeline.settings import check_threads
from ._common import CONTEXT, SEED, compiling, fail, log, user_errors


def _params(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


@click.command(context_settings=CONTEXT)
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--params", "params_text", required=True, metavar="SECTION.NAME,...",
              help="Numeric parameters to vary, e.g. channel.misperception,challenger.need_gain.")
@click.option("--bounds", "bounds_texts", multiple=True, metavar="SECTION.NAME=LOW:HIGH",
              help="Range of a parameter [default: its value +-50%, within the allowed range].")
@click.option("--cell", type=click.IntRange(min=0), default=0, show_default=True, help="The experiment's cell to analyse.")
@click.option("--samples", "n_base", type=click.IntRange(min=2), default=64, show_default=True,
              help="SALib base sample N (a power of 2): N x (parameters + 2) points.")
@click.option("--replications", "-n", type=click.IntRange(min=100), default=4096, show_default=True,
              help="Crises per point (the same seed at every point).")
@click.option("--seed", type=SEED, default=None, help="Seed [default: the experiment's].")
@click.option("--threads", "-t", type=click.IntRange(min=1), default=None, help="Threads [default: all cores].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results directory [default: results/<experiment>-sensitivity/cell<K>-seed<S>].")
@click.option("--force", is_flag=True, help="Replace existing results in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the indices as JSON on stdout.")
def sensitivity(experiment: Path, params_text: str, bounds_texts, cell: int, n_base: int, replications: int, seed,
                threads, out, force, as_json: bool) -> None:
    """Global sensitivity of P(war): Sobol indices (SALib) with bootstrap intervals and a bar plot.

    EXPERIMENT is an experiment file (pick a cell with --cell) or a scenario file (one cell, seed 1).
    See docs/sensitivity.md.
    """
    try:
        import SALib  # noqa: F401  (an optional dependency: say so before anything runs)
    except ImportError:
        fail("sensitivity needs SALib: pip install 'escalation-sim[sensitivity]'")
    if n_base & (n_base - 1):
        fail(f"--samples {n_base}: allowed: a power of 2 (Sobol sequences are balanced only at powers of 2)")
    with user_errors():
        check_threads(threads)
        exp = crisis_cell(experiment, cell, "sensitivity")
        bounds = parse_bounds(str(experiment), _params(params_text), bounds_texts, exp.cells[cell].scenario)
        seed = exp.seed if seed is None else seed
        with compiling("crisis"):
            out_dir, indices, noise = sensitivity_command(exp, cell, bounds, n_base=n_base, replications=replications,
                                                          seed=seed, threads=threads, out=out, force=force,
                                                          experiment_file=experiment, log=log)
    click.echo(indices.to_json(orient="records", indent=2) if as_json else sensitivity_text(indices, noise))
    log(f"wrote {out_dir}")


@click.command(context_settings=CONTEXT)
@click.argument("calibration_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--population", type=click.IntRange(min=2), default=None, help="Particles per generation [default: the file's].")
@click.option("--replications", "-n", type=click.IntRange(min=100), default=None,
              help="Crises per particle, the same seed for every particle of a generation [default: the file's].")
@click.option("--generations", type=click.IntRange(min=1), default=None,
              help="At most this many generations [default: the file's max_generations].")
@click.option("--seed", type=click.IntRange(min=0, max=2**63 - 1), default=None, help="Seed of the run [default: the file's].")
@click.option("--threads", "-t", type=click.IntRange(min=1), default=None, help="Threads [default: all cores].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results directory [default: results/calibration-<name>/seed<S>].")
@click.option("--force", is_flag=True, help="Replace existing results in --out.")
@click.option("--backend", type=click.Choice(["threads", "dask"]), default="threads", show_default=True,
              help="Where particles run (the posterior is the same bytes on either).")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler address [default: start a LocalCluster].")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Worker processes of the LocalCluster.")
def calibrate(calibration_file: Path, population, replications, generations, seed, threads, out, force, backend,
              scheduler, workers) -> None:
    """Fit the model's free parameters to the crisis record by ABC-SMC: a weighted posterior, checks, a report.

    CALIBRATION_FILE names the base scenario, the parameters with their prior boxes, the targets (ICB v14 and
    MID 5.0 aggregates by default) and the ABC settings: see experiments/calibration-crisis-record.toml and
    docs/calibration.md. Writes posterior.{parquet,csv}, the history of generations, the fit to every target and
    the held-out check, figures, report.md and manifest.json.
    """
    from ..analysis.calibration import calibration_command, load_calibration

    with user_errors():
        check_threads(threads)
        spec = load_calibration(calibration_file)
        command = f"escalation-sim calibrate {calibration_file}" + "".join(
            f" {flag} {v}" for flag, v in (("--population", population), ("-n", replications),
                                           ("--generations", generations), ("--seed", seed)) if v is not None)
        if scheduler is not None and backend != "dask":
            fail("--scheduler needs --backend dask")
        out_dir, run = calibration_command(spec, out, force, threads, seed=seed, population=population,
                                           replications=replications, generations=generations, command=command,
                                           log=log, backend=backend, scheduler=scheduler, workers=workers)
    h = run.result.history_frame()
    click.echo(f"{len(h)} generations, {int(h['simulations'].sum()):,} particles simulated; stopped: {run.result.stop_reason}")
    if run.summary is not None and len(run.summary):
        click.echo(run.summary.to_string(index=False))
    log(f"wrote {out_dir}")


@click.command("ally-decay", context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--renewal", "renewal_text", default="0,30,90", show_default=True, metavar="DAYS,DAYS,...",
              help="Renewal intervals to compare (0 = one-off reassurance).")
@click.option(
    "--defender-strategy", "-d", multiple=True, type=click.Choice(DEFENDER_STRATEGY_NAMES),
    help="Defender mix (repeat to combine) [default: immediate_deterrence + public_statement].",
)
@click.option("--replications", "-n", type=click.IntRange(min=2), default=300, show_default=True,
              help="Crises per renewal interval (SimPy engine).")
@click.option("--seed", type=SEED, default=1, show_default=True, help="Seed of the random streams.")
@click.option("--step", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Days between observations of the ally's confidence.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results directory [default: results/ally-decay/<scenario>-seed<seed>].")
@click.option("--force", is_flag=True, help="Replace existing results in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the confidence table as JSON on stdout.")
def ally_decay(scenario: Path, renewal_text: str, defender_strategy, replications: int, seed: int, step: float, out,
               force, as_json: bool) -> None:
    """The ally's confidence over time, one-off vs renewed reassurance: table, figure, report."""
    try:
        renewals = [float(x) for x in renewal_text.split(",") if x.strip()]
    except ValueError:
        renewals = []
    if not renewals or any(not r >= 0 or math.isinf(r) for r in renewals):
        fail(f"--renewal {renewal_text!r}: allowed: days >= 0 separated by commas, e.g. 0,30,90")
    mix = list(defender_strategy) or ["immediate_deterrence", "public_statement"]

    def make(renewal: float):
        return load_scenario(scenario, {"defender.strategy": mix, "defender.renewal_interval": renewal})

    with user_errors():
        with compiling("simpy"):
            out_dir, paths = ally_decay_command(scenario, make, renewals, mix=mix, replications=replications, seed=seed,
                                                step=step, out=out, force=force, renewal_text=renewal_text, log=log)
    click.echo(paths.to_json(orient="records", indent=2) if as_json else ally_decay_text(paths))
    log(f"wrote {out_dir}")


@click.command(context_settings=CONTEXT)
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--contrasts", "contrasts_text", default=None, metavar="SET,...",
              help="Contrast sets: lebow-stein, ally-instruments, renewal [default: the file's [robustness] "
                   "table, else lebow-stein].")
@click.option("--points", type=click.IntRange(min=8), default=None,
              help="Parameter vectors drawn from the box [default: the file's [robustness] table, else 256].")
@click.option("--replications", "-n", type=click.IntRange(min=64), default=None,
              help="Crises per arm and point, the same seed at every point [default: the file's, else 4096].")
@click.option("--sobol", type=click.IntRange(min=0), default=None, metavar="N",
              help="Sobol indices of every contrast over the box: SALib base sample N, a power of 2 "
                   "(N x (parameters + 2) points); 0 = none [default: the file's, else 0].")
@click.option("--sobol-replications", type=click.IntRange(min=64), default=None,
              help="Crises per arm and point of the Sobol design [default: --replications].")
@click.option("--posterior", "posterior_name", default=None, metavar="NAME|FILE",
              help="A calibration posterior: 'crisis-record' (shipped) or a posterior.parquet/.csv written by "
                   "calibrate: the shares over it too.")
@click.option("--draws", type=click.IntRange(min=1), default=256, show_default=True,
              help="Draws from the posterior (systematic resampling, seeded).")
@click.option("--fix", "fix_text", default="", metavar="SECTION.NAME,...",
              help="Parameters of the box to hold at the scenario's values (e.g. effects.tripwire_lr).")
@click.option("--seed", type=SEED, default=None, help="Seed of the design and the crises [default: the experiment's].")
@click.option("--threads", "-t", type=click.IntRange(min=1), default=None, help="Threads [default: all cores].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results directory [default: results/<experiment>-robustness/seed<S>-p<P>-n<N>...].")
@click.option("--force", is_flag=True, help="Replace existing results in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
def robustness(experiment: Path, contrasts_text, points, replications, sobol, sobol_replications, posterior_name,
               draws: int, fix_text: str, seed, threads, out, force, as_json: bool) -> None:
    """Where the literature's contrasts hold and where they flip: over the box, and over a posterior.

    Contrast sets: Lebow & Stein's (immediate deterrence vs none, self-restraint and GRIT, by motive), the ally's
    instruments (tripwire vs public vs private statements: war, abandonment, proliferation programme,
    entrapment) and renewal frequency (public statements every 15 vs 120 days). Draws parameter vectors from the
    documented box of free parameters (Latin hypercube), runs every arm at every point with the same seed, and
    reports for each contrast the share of the box where it holds and fails (Wilson intervals) and what decides
    its sign; --sobol adds Sobol indices of each contrast, --posterior the shares over a calibration posterior.
    EXPERIMENT is an experiment file (its base scenario and [robustness] table) or a scenario file. See
    docs/robustness.md.
    """
    from ..analysis.flip import robustness_command
    from ..pipeline.experiment import experiment_or_scenario, robustness_spec

    with user_errors():
        check_threads(threads)
        exp = experiment_or_scenario(experiment)
        spec = robustness_spec(exp.raw, str(experiment)) or {}
        base = load_scenario(exp.scenario_path) if exp.scenario_path else exp.cells[0].scenario
        seed = spec.get("seed", exp.seed) if seed is None else seed
        sets, field = spec.get("contrasts", ["lebow-stein"]), "robustness.contrasts"
        if contrasts_text is not None:
            sets, field = _params(contrasts_text), "--contrasts"
        sobol = spec.get("sobol", 0) if sobol is None else sobol
        if sobol & (sobol - 1):
            fail(f"--sobol {sobol}: allowed: 0 (none) or a power of 2, e.g. 64 (Sobol sequences are balanced only "
                 "at powers of 2)")
        posterior = None
        if posterior_name is not None:
            from ..calibration.targets import posterior_file

            posterior = posterior_file(posterior_name)
        with compiling("crisis"):
            out_dir, res = robustness_command(base, experiment, points or spec.get("points", 256),
                                              replications or spec.get("replications", 4096), seed, threads, out, force,
                                              exp.name, log=log, sets=sets, sets_field=field, sobol=sobol,
                                              posterior=posterior, draws=draws, fixed=_params(fix_text),
                                              sobol_replications=sobol_replications)
    if as_json:
        click.echo(res.box.summary.to_json(orient="records", indent=2))
    else:
        post = res.posterior.summary.set_index("contrast") if res.posterior is not None else None
        for _, r in res.box.summary.iterrows():
            line = (f"{r['contrast']}: box holds {r['share_holds']:.0%} [{r['holds_ci_low']:.0%}, "
                    f"{r['holds_ci_high']:.0%}], fails {r['share_fails']:.0%}; at the defaults "
                    f"{r['value_at_defaults']:+.3f} ({r['verdict_at_defaults']}); decided mostly by {r['top_parameter']}")
            if post is not None:
                p = post.loc[r["contrast"]]
                line += (f"; posterior holds {p['share_holds']:.0%} [{p['holds_ci_low']:.0%}, {p['holds_ci_high']:.0%}]"
                         f", fails {p['share_fails']:.0%}")
            click.echo(line)
    log(f"wrote {out_dir}")
