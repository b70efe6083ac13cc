"""Command-line interface: ``escalation-sim``.

Results go to stdout, logs and progress to stderr. A bad configuration prints
one line naming the file, the field and what is allowed, and exits with code 2
before anything is written.
"""

from __future__ import annotations

import json
import sys
import time
import tomllib
from pathlib import Path

import click

from . import __version__
from .io.config import ConfigError, load_experiment, load_scenario
from .model.params import DEFENDER_STRATEGY_NAMES

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _log(msg: str) -> None:
    click.echo(msg, err=True)


def _fail(msg: str, code: int = 2) -> None:
    click.echo(f"error: {msg}", err=True)
    sys.exit(code)


def _parse_sets(items: tuple[str, ...]) -> dict:
    out = {}
    for item in items:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            _fail(f"--set {item!r}: allowed: section.name=value, e.g. channel.misperception=0.2")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = raw
    return out


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", "-V", prog_name="escalation-sim")
def main() -> None:
    """Simulate international crises under deterrence and reassurance strategies.

    \b
    Quick start:
      escalation-sim simulate experiments/extended-deterrence.toml --seed 1
      escalation-sim run experiments/default.toml
      escalation-sim strategies
    """


@main.command(context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--from", "from_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Replay a crisis of a results directory (with --cell and --replication): its scenario and seed.")
@click.option("--cell", type=click.IntRange(min=0), default=None, help="With --from: the cell to replay.")
@click.option("--figure", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also draw the escalation levels over time (.png or .svg).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed of the random streams [default: 1, or the run's].")
@click.option("--replication", type=click.IntRange(min=0), default=0, show_default=True, help="Which crisis of the seed's sequence.")
@click.option(
    "--defender-strategy", "-d", multiple=True, type=click.Choice(DEFENDER_STRATEGY_NAMES),
    help="Replace the scenario's defender mix (repeat to combine instruments).",
)
@click.option("--set", "sets", multiple=True, metavar="SECTION.NAME=VALUE", help="Override a scenario field.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome and the full trace as JSON.")
def simulate(scenario: Path | None, from_dir: Path | None, cell: int | None, figure: Path | None, seed: int | None,
             replication: int, defender_strategy, sets, as_json: bool) -> None:
    """Simulate one crisis with the SimPy reference engine and print its timeline.

    With --from RESULTS_DIR --cell K --replication R, replay exactly the crisis
    that replication R of cell K was in that run (same scenario, same seed).
    """
    from .engines.simpy_engine import simulate as run_one

    if (scenario is None) == (from_dir is None):
        _fail("give a SCENARIO file or --from RESULTS_DIR (with --cell), not both")
    from .experiments.ipd import is_ipd_target

    if is_ipd_target(scenario, from_dir):  # the iterated prisoner's dilemma form
        _simulate_ipd(scenario, from_dir, cell, figure, seed, replication, defender_strategy, sets, as_json)
        return
    if from_dir is not None:
        scen, run_seed = _replay_scenario(from_dir, cell, sets, defender_strategy)
        seed = run_seed if seed is None else seed
    else:
        overrides = _parse_sets(sets)
        if defender_strategy:
            overrides["defender.strategy"] = list(defender_strategy)
        try:
            scen = load_scenario(scenario, overrides)
        except ConfigError as exc:
            _fail(str(exc))
    seed = 1 if seed is None else seed
    res = run_one(scen, seed=seed, replication=replication)
    if figure is not None:
        from .experiments.crisis_figure import crisis_figure

        if figure.suffix.lower() not in (".png", ".svg"):
            _fail(f"--figure {figure}: allowed: a .png or .svg path")
        crisis_figure(res, figure, title=f"{scen.name}: seed {seed}, replication {replication}")
        _log(f"wrote {figure}")
    if as_json:
        click.echo(
            json.dumps(
                {
                    "scenario": scen.name,
                    "seed": seed,
                    "replication": replication,
                    "defender_mix": scen.mixes[res.mix].label,
                    "challenger_need_driven": res.need_driven,
                    "outcome": res.outcome,
                    "end_time": res.end_time,
                    "ally_proliferated": res.ally_proliferated,
                    "events": res.events,
                    "trace": json.loads(res.trace.to_json(orient="records")),
                },
                indent=2,
            )
        )
        return
    from .io.timeline import format_timeline

    motive = "need-driven" if res.need_driven else "opportunity-driven"
    click.echo(f"Crisis '{scen.name}'  seed {seed}  replication {replication}")
    click.echo(f"Challenger: {motive}.  Defender strategy mix: {scen.mixes[res.mix].label}")
    click.echo("")
    click.echo("     day  actor               what happened")
    click.echo(format_timeline(res.trace))
    click.echo("")
    when = "at t = 0" if res.outcome == "no_challenge" else f"on day {res.end_time:.1f}"
    click.echo(f"Outcome: {res.outcome.replace('_', ' ')} {when}")
    if scen.value("ally.present"):
        click.echo(f"Ally proliferated within the horizon: {'yes' if res.ally_proliferated else 'no'}")


def _replay_scenario(from_dir: Path, cell: int | None, sets, defender_strategy):
    """Scenario and seed of a cell of a finished (or merged, or sharded) run."""
    import json as _json

    from .io.runs import experiment_from_manifest

    if cell is None:
        _fail("--from needs --cell K (see the 'cell' column of cells.csv)")
    if sets or defender_strategy:
        _fail("--from replays the run as it was: --set and --defender-strategy are not allowed with it")
    candidates = [from_dir / "manifest.json", *sorted(from_dir.glob("shard-*-of-*.json"))]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        _fail(f"{from_dir}: no manifest.json: not a results directory")
    m = _json.loads(path.read_text())
    exp = experiment_from_manifest(m, str(from_dir))
    if cell >= len(exp.cells):
        _fail(f"--cell {cell}: allowed: 0 to {len(exp.cells) - 1} for {from_dir}")
    return exp.cells[cell].scenario, int(m["seed"])


@main.command(context_settings=CONTEXT)
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--param", required=True, metavar="SECTION.NAME", help="The parameter to vary, e.g. channel.misperception.")
@click.option("--values", "values_text", required=True, metavar="START:STOP:COUNT|V1,V2,...", help="Values, e.g. 0:0.3:7.")
@click.option("--replications", "-n", type=int, default=None, help="Replications per point [default: the experiment's].")
@click.option("--seed", type=int, default=None, help="Seed [default: the experiment's].")
@click.option("--threads", "-t", type=int, default=None, help="Numba threads [default: all cores].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Results directory.")
@click.option("--force", is_flag=True, help="Replace existing results in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the cell table as JSON on stdout.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def sweep(experiment: Path, param: str, values_text: str, replications, seed, threads, out, force, as_json, no_progress) -> None:
    """Vary one parameter over values for every cell of an experiment; table and line plot with 95% bands."""
    from .experiments.sweep import parse_values, sweep_experiment, sweep_figure

    try:
        exp = load_experiment(experiment)
        if getattr(exp, "form", "crisis") == "ipd":
            raise ConfigError(str(experiment), "", "an IPD experiment: put the values in its [grid] and use 'escalation-sim run'")
        exp = sweep_experiment(exp, param, parse_values(values_text))
    except ConfigError as exc:
        _fail(str(exc))
    _execute(exp, experiment, replications, seed, threads, None, None, 10**9, None, "threads", None, 1, out, force,
             as_json, no_progress, figures=sweep_figure)


@main.command(context_settings=CONTEXT)
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replications", "-n", type=int, default=None, help="Replications per cell [default: the file's].")
@click.option("--seed", type=int, default=None, help="Seed [default: the file's].")
@click.option("--threads", "-t", type=int, default=None, help="Numba threads [default: all cores].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Results directory.")
@click.option("--force", is_flag=True, help="Replace existing results in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the cell table as JSON on stdout.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def tournament(experiment: Path, replications, seed, threads, out, force, as_json, no_progress) -> None:
    """Round robin: defender mixes x challenger strategies and motives; matrix, heatmap, ranking with intervals.

    EXPERIMENT is an experiment file with a [tournament] table (defender, challenger, motive);
    see experiments/tournament.toml.
    """
    try:
        exp = load_experiment(experiment)
    except ConfigError as exc:
        _fail(str(exc))
    if "tournament" not in getattr(exp, "raw", {}):
        _fail(f"{experiment}: tournament: missing [tournament] table (defender, challenger, motive); "
              "see experiments/tournament.toml")
    _execute(exp, experiment, replications, seed, threads, None, None, 10**9, None, "threads", None, 1, out, force,
             as_json, no_progress, figures=_analysis(exp.raw))


@main.command(context_settings=CONTEXT)
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
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed [default: the experiment's].")
@click.option("--threads", "-t", type=click.IntRange(min=1), default=None, help="Numba threads [default: all cores].")
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
    from .engines import montecarlo as mc
    from .experiments.sensitivity import parse_bounds, sobol, sobol_figure, sobol_markdown
    from .io import results as io_results

    try:
        import SALib  # noqa: F401
    except ImportError:
        _fail("sensitivity needs SALib: pip install 'escalation-sim[sensitivity]'")
    if n_base & (n_base - 1):
        _fail(f"--samples {n_base}: allowed: a power of 2 (Sobol sequences are balanced only at powers of 2)")
    exp, base = _crisis_cell(experiment, cell, threads, "sensitivity")
    try:
        params = [p.strip() for p in params_text.split(",") if p.strip()]
        bounds = parse_bounds(str(experiment), params, bounds_texts, base)
    except ConfigError as exc:
        _fail(str(exc))
    seed = exp.seed if seed is None else seed
    out_dir = out or Path("results") / f"{exp.name}-sensitivity" / f"cell{cell}-seed{seed}"
    try:
        io_results.prepare_run_dir(out_dir, force)
    except io_results.ResultsExistError as exc:
        _fail(str(exc))
    start = io_results.now_iso()
    points = n_base * (len(bounds) + 2)
    _log(f"sensitivity: {points:,} points x {replications:,} crises, cell {cell} ({exp.cells[cell].label}) -> {out_dir}")
    mc.warm_up()
    indices, samples, noise = sobol(base, bounds, n_base, replications, seed, exp.block_size, threads)
    title = f"{exp.name}, cell {cell}: {exp.cells[cell].label}"
    files = io_results.write_table(indices, out_dir, "sobol_indices") + io_results.write_table(samples, out_dir, "sobol_samples")
    files += sobol_figure(indices, out_dir, title, noise)
    command = (f"escalation-sim sensitivity {experiment} --params {','.join(bounds)} "
               + " ".join(f"--bounds {k}={lo:g}:{hi:g}" for k, (lo, hi) in bounds.items())
               + f" --cell {cell} --samples {n_base} -n {replications} --seed {seed}")
    report = out_dir / "report.md"
    io_results.atomic_write_bytes(report, sobol_markdown(indices, noise, title, command).encode())
    io_results.write_json(out_dir / io_results.MANIFEST, {
        "kind": "sensitivity", "experiment": exp.name, "experiment_file": str(experiment), "cell": cell,
        "bounds": {k: list(v) for k, v in bounds.items()}, "samples": n_base, "points": points,
        "replications_per_point": replications, "seed": seed, "block_size": exp.block_size,
        "method": "Saltelli/Sobol (SALib), no second order; bootstrap 95% intervals", "noise": noise,
        "command": command, "versions": io_results.versions(), "git": io_results.git_state(),
        "machine": io_results.machine(), "start": start, "end": io_results.now_iso(), "exit_status": "complete",
        "files": [str(Path(f).relative_to(out_dir)) for f in [*files, report]],
    })
    if as_json:
        click.echo(indices.to_json(orient="records", indent=2))
    else:
        click.echo(f"{'parameter':<34} {'range':>15} {'S1 [95% CI]':>22} {'ST [95% CI]':>22}")
        for _, r in indices.iterrows():
            click.echo(f"{r['parameter']:<34} {r['low']:>7g}-{r['high']:<7g} "
                       f"{r['S1']:7.3f} +- {r['S1_ci_halfwidth']:<10.3f} {r['ST']:7.3f} +- {r['ST_ci_halfwidth']:.3f}")
        click.echo(f"Monte Carlo noise share of the variance across points: {noise['crn_noise_share']:.2%} with the same "
                   f"seed at every point ({noise['noise_share']:.2%} it would be with independent seeds)")
    _log(f"wrote {out_dir}")


def _crisis_cell(experiment: Path, cell: int, threads: int | None, command: str):
    """Load a crisis experiment (or a scenario file: one cell) and pick one cell's scenario; exit 2 with a clear message otherwise."""
    from .engines import montecarlo as mc
    from .experiments.sensitivity import experiment_or_scenario

    if threads is not None and threads > mc.max_threads():
        _fail(f"--threads {threads}: allowed: 1 to {mc.max_threads()} on this machine")
    try:
        exp = experiment_or_scenario(experiment)
        if getattr(exp, "form", "crisis") == "ipd":
            raise ConfigError(str(experiment), "", f"an IPD experiment: {command} is for crisis experiments")
        if cell >= len(exp.cells):
            raise ConfigError(str(experiment), "--cell", f"got {cell}; allowed: 0 to {len(exp.cells) - 1}")
    except ConfigError as exc:
        _fail(str(exc))
    return exp, exp.cells[cell].scenario


def _parse_targets(source: str, preset: str | None, texts) -> dict:
    from .experiments.calibrate import MEASURES, PRESETS

    targets = dict(PRESETS[preset]) if preset else {}
    for t in texts:
        try:
            key, rest = t.split("=", 1)
            share, n = rest.split(":", 1)
            targets[key.strip()] = (float(share), int(n))
        except ValueError:
            raise ConfigError(source, "--target", f"got {t!r}; allowed: MEASURE=SHARE:SAMPLE_SIZE, e.g. war_given_crisis=0.211:486") from None
    if not targets:
        raise ConfigError(source, "--target", "give --preset icb|mid or at least one --target MEASURE=SHARE:N")
    for key, (share, n) in targets.items():
        if key not in MEASURES:
            raise ConfigError(source, f"--target {key}", f"unknown measure; allowed: {', '.join(MEASURES)}")
        if not 0.0 < share < 1.0 or n < 1:
            raise ConfigError(source, f"--target {key}", f"got {share:g}:{n}; allowed: 0 < SHARE < 1 and a sample size >= 1")
    return targets


@main.command(context_settings=CONTEXT)
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--params", "params_text", required=True, metavar="SECTION.NAME,...", help="Numeric parameters to fit.")
@click.option("--bounds", "bounds_texts", multiple=True, metavar="SECTION.NAME=LOW:HIGH",
              help="Search range [default: the value +-50%, within the allowed range].")
@click.option("--preset", type=click.Choice(["icb", "mid"]), default=None,
              help="Empirical target: icb = 21.1% of 486 crises ended in war; mid = 4.35% of 2,436 disputes.")
@click.option("--target", "target_texts", multiple=True, metavar="MEASURE=SHARE:N", help="A target share and its sample size.")
@click.option("--cell", type=click.IntRange(min=0), default=0, show_default=True, help="The experiment's cell to calibrate.")
@click.option("--points", type=click.IntRange(min=4), default=32, show_default=True,
              help="First design size (then 2 refinements of half as many and a final box of as many).")
@click.option("--replications", "-n", type=click.IntRange(min=100), default=20000, show_default=True,
              help="Replications per point (the same seed at every point).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed [default: the experiment's].")
@click.option("--threads", "-t", type=click.IntRange(min=1), default=None, help="Numba threads [default: all cores].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results directory [default: results/<experiment>-calibration/cell<K>-seed<S>].")
@click.option("--force", is_flag=True, help="Replace existing results in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the fit as JSON on stdout.")
def calibrate(experiment: Path, params_text: str, bounds_texts, preset, target_texts, cell: int, points: int,
              replications: int, seed, threads, out, force, as_json: bool) -> None:
    """Fit parameters to empirical outcome shares (ICB, MID) by simulation with common random numbers.

    EXPERIMENT is an experiment file (pick a cell with --cell) or a scenario file (one cell, seed 1).
    See docs/calibration.md for the targets, how model outcomes map to them, and the method.
    """
    import tomllib as _tomllib

    from .engines import montecarlo as mc
    from .experiments.calibrate import calibrate as fit_parameters
    from .experiments.calibrate import calibration_figure, calibration_markdown, fitted_scenario_toml
    from .experiments.sensitivity import parse_bounds
    from .io import results as io_results

    exp, base = _crisis_cell(experiment, cell, threads, "calibrate")
    try:
        bounds = parse_bounds(str(experiment), [p.strip() for p in params_text.split(",") if p.strip()], bounds_texts, base)
        targets = _parse_targets(str(experiment), preset, target_texts)
    except ConfigError as exc:
        _fail(str(exc))
    seed = exp.seed if seed is None else seed
    out_dir = out or Path("results") / f"{exp.name}-calibration" / f"cell{cell}-seed{seed}"
    try:
        io_results.prepare_run_dir(out_dir, force)
    except io_results.ResultsExistError as exc:
        _fail(str(exc))
    start = io_results.now_iso()
    _log(f"calibrate: {', '.join(bounds)} of cell {cell} ({exp.cells[cell].label}) to {targets} -> {out_dir}")
    mc.warm_up()
    result = fit_parameters(base, bounds, targets, replications, seed, points=points, block_size=exp.block_size, threads=threads)
    title = f"{exp.name}, cell {cell}: {exp.cells[cell].label}"
    command = (f"escalation-sim calibrate {experiment} --params {','.join(bounds)} "
               + " ".join(f"--bounds {k}={lo:g}:{hi:g}" for k, (lo, hi) in bounds.items())
               + " " + " ".join(f"--target {k}={t:g}:{n}" for k, (t, n) in targets.items())
               + f" --cell {cell} --points {points} -n {replications} --seed {seed}")
    files = io_results.write_table(result["design"], out_dir, "calibration_design")
    files += io_results.write_table(result["bootstrap"], out_dir, "calibration_bootstrap")
    files += io_results.write_figure(calibration_figure(result, targets, title), out_dir, "calibration")
    header = (f"Calibrated scenario written by: {command}\nFit: "
              + ", ".join(f"{k} = {v:.6g} (95% interval, target + simulation: [{result['intervals_total'][k][0]:.4g}, "
                          f"{result['intervals_total'][k][1]:.4g}])" for k, v in result["fit"].items())
              + "\nSimulated: " + ", ".join(f"{k} = {f['share']:.4f} [{f['ci_low']:.4f}, {f['ci_high']:.4f}] (Wilson 95%, "
                                            f"{f['count']:,} of {f['n']:,}) against {f['target']:g} (n = {f['target_n']:,})"
                                            for k, f in result["fitted"].items()))
    scen_data = _tomllib.loads(Path(exp.scenario_path).read_text()) if exp.scenario_path else {}
    meta = scen_data.setdefault("scenario", {})
    from_scenario = Path(exp.source).resolve() == Path(exp.scenario_path).resolve()
    meta["name"] = f"{meta.get('name', exp.name)}-calibrated" if from_scenario else f"{exp.name}-cell{cell}-calibrated"
    meta["description"] = (f"{exp.name}{'' if from_scenario else f', cell {exp.cells[cell].label!r},'} with "
                           + ", ".join(f"{k} fitted to {k2} = {t:g}" for k in result["fit"] for k2, (t, _) in targets.items()))
    scen_file = out_dir / "calibrated-scenario.toml"
    io_results.atomic_write_bytes(scen_file, fitted_scenario_toml(scen_data, exp.cells[cell].overrides, result["fit"], header).encode())
    try:
        load_scenario(scen_file)
    except ConfigError as exc:  # pragma: no cover - a bug in the writer, not the user's input
        _fail(f"internal error: the calibrated scenario does not load: {exc}", code=1)
    report = out_dir / "report.md"
    io_results.atomic_write_bytes(report, calibration_markdown(result, targets, title, command).encode())
    summary = {k: result[k] for k in ("fit", "fitted_shares", "fitted", "loss", "intervals", "intervals_total",
                                      "second_seed", "second_seed_shares", "at_bound", "unreached", "plateau",
                                      "identified", "resolution", "box", "replications", "seed", "points",
                                      "bootstrap_draws")}
    io_results.write_json(out_dir / io_results.MANIFEST, {
        "kind": "calibration", "experiment": exp.name, "experiment_file": str(experiment), "cell": cell,
        "bounds": {k: list(v) for k, v in bounds.items()}, "targets": {k: list(v) for k, v in targets.items()},
        "result": summary, "command": command, "versions": io_results.versions(), "git": io_results.git_state(),
        "machine": io_results.machine(), "start": start, "end": io_results.now_iso(), "exit_status": "complete",
        "files": [str(Path(f).relative_to(out_dir)) for f in [*files, scen_file, report]],
    })
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        for k, v in result["fit"].items():
            lo, hi = result["intervals"][k]
            lo2, hi2 = result["intervals_total"][k]
            click.echo(f"{k} = {v:.4g}  (95% interval: target's sampling error [{lo:.4g}, {hi:.4g}], with the "
                       f"simulation's [{lo2:.4g}, {hi2:.4g}]; seed + 1: {result['second_seed'][k]:.4g})")
        for k, f in result["fitted"].items():
            click.echo(f"{k}: target {f['target']:g} (n = {f['target_n']:,}), simulated {f['share']:.4f} "
                       f"[{f['ci_low']:.4f}, {f['ci_high']:.4f}] (Wilson 95%, {f['count']:,} of {f['n']:,}), z = {f['z']:+.2f}")
        if not result["identified"]:
            click.echo("warning: more parameters than targets: the fit is one point of a ridge of equally good fits")
        if result["unreached"]:
            click.echo(f"warning: {', '.join(result['unreached'])}: the fit misses the target by more than 2 standard "
                       "errors: it is not reached inside these bounds")
        if result["plateau"]:
            click.echo("warning: the loss is flat: every evaluated point with "
                       + ", ".join(f"{k} in [{lo:.4g}, {hi:.4g}]" for k, (lo, hi) in result["plateau"].items())
                       + " fits equally well")
        if result["at_bound"]:
            click.echo(f"warning: the interval of {', '.join(result['at_bound'])} reaches the edge of the search range")
        click.echo(f"calibrated scenario: {scen_file}")
    _log(f"wrote {out_dir}")


@main.command("ally-decay", context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--renewal", "renewal_text", default="0,30,90", show_default=True, metavar="DAYS,DAYS,...",
              help="Renewal intervals to compare (0 = one-off reassurance).")
@click.option(
    "--defender-strategy", "-d", multiple=True, type=click.Choice(DEFENDER_STRATEGY_NAMES),
    help="Defender mix (repeat to combine) [default: immediate_deterrence + public_statement].",
)
@click.option("--replications", "-n", type=click.IntRange(min=2), default=300, show_default=True,
              help="Crises per renewal interval (SimPy engine).")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Seed of the random streams.")
@click.option("--step", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Days between observations of the ally's confidence.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results directory [default: results/ally-decay/<scenario>-seed<seed>].")
@click.option("--force", is_flag=True, help="Replace existing results in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the confidence table as JSON on stdout.")
def ally_decay(scenario: Path, renewal_text: str, defender_strategy, replications: int, seed: int, step: float, out,
               force, as_json: bool) -> None:
    """The ally's confidence over time, one-off vs renewed reassurance: table, figure, report."""
    from .experiments.ally_decay import ally_decay_figure, ally_decay_markdown, confidence_paths
    from .io import results as io_results

    try:
        renewals = [float(x) for x in renewal_text.split(",") if x.strip()]
    except ValueError:
        _fail(f"--renewal {renewal_text!r}: allowed: days >= 0 separated by commas, e.g. 0,30,90")
    if not renewals or any(not r >= 0 or r == float("inf") for r in renewals):
        _fail(f"--renewal {renewal_text!r}: allowed: days >= 0 separated by commas, e.g. 0,30,90")
    mix = list(defender_strategy) or ["immediate_deterrence", "public_statement"]

    def make(renewal: float):
        return load_scenario(scenario, {"defender.strategy": mix, "defender.renewal_interval": renewal})

    try:
        base = make(renewals[0])
    except ConfigError as exc:
        _fail(str(exc))
    if not base.value("ally.present"):
        _fail(f"{scenario}: ally.present: this scenario has no ally; allowed: a scenario with an ally "
              "(e.g. experiments/extended-deterrence.toml)")
    if base.value("crisis.horizon") / step > 1e6:
        _fail(f"--step {step:g}: allowed: at most 1e6 observations within the horizon ({base.value('crisis.horizon'):g} days)")
    out_dir = out or Path("results") / "ally-decay" / f"{scenario.stem}-seed{seed}"
    try:
        io_results.prepare_run_dir(out_dir, force)
    except io_results.ResultsExistError as exc:
        _fail(str(exc))
    start = io_results.now_iso()
    _log(f"ally-decay: {len(renewals)} renewal intervals x {replications} crises (SimPy engine) -> {out_dir}")
    paths = confidence_paths(make, renewals, replications, seed, step=step)
    threshold = base.value("ally.hedge_threshold")
    title = f"{scenario.stem}, defender: {' + '.join(mix)}"
    files = io_results.write_table(paths, out_dir, "ally_confidence")
    files += ally_decay_figure(paths, out_dir, threshold, title)
    command = (f"escalation-sim ally-decay {scenario} --renewal {renewal_text} "
               + " ".join(f"-d {m}" for m in mix) + f" -n {replications} --seed {seed} --step {step:g}")
    report = out_dir / "report.md"
    io_results.atomic_write_bytes(report, ally_decay_markdown(paths, threshold, title, command).encode())
    io_results.write_json(out_dir / io_results.MANIFEST, {
        "kind": "ally-decay", "scenario_file": str(scenario), "defender_strategy": mix, "renewals": renewals,
        "replications": replications, "seed": seed, "engine": "simpy", "ci_method": "normal (mean over crises)",
        "observation_step": step, "review_check": float(paths["review_check"].max()),
        "command": command, "versions": io_results.versions(), "git": io_results.git_state(),
        "machine": io_results.machine(), "start": start, "end": io_results.now_iso(), "exit_status": "complete",
        "files": [str(Path(f).relative_to(out_dir)) for f in [*files, report]],
    })
    last = paths.loc[paths.groupby("renewal")["time"].idxmax()]
    if as_json:
        click.echo(paths.to_json(orient="records", indent=2))
    else:
        click.echo(f"{'reassurance':<28} {'confidence at day ' + format(last['time'].iloc[0], 'g'):>26} "
                   f"{'programme':>10} {'proliferated':>13}")
        for _, r in last.iterrows():
            name = "one-off" if r["renewal"] == 0 else f"renewed every {r['renewal']:g} days"
            click.echo(f"{name:<28} {r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]    "
                       f"{r['p_programme']:10.3f} {r['p_proliferated']:13.3f}")
    _log(f"wrote {out_dir}")


@main.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
def strategies(as_json: bool) -> None:
    """List every strategy with a one-line description and its references."""
    from .model.bibliography import REFERENCES
    from .model.strategies import STRATEGIES

    if as_json:
        click.echo(json.dumps([{**s.__dict__, "references": list(s.references)} for s in STRATEGIES], indent=2))
        return
    family = None
    for s in STRATEGIES:
        if (s.side, s.family) != family:
            family = (s.side, s.family)
            click.echo(f"\n{s.side} / {s.family}")
        click.echo(f"  {s.name:<24} [{s.kind}] {s.summary}")
        click.echo(f"  {'':<24} refs: {', '.join(s.references)}")
    click.echo("\nReferences:")
    used = sorted({r for s in STRATEGIES for r in s.references})
    for key in used:
        click.echo(f"  {key}: {REFERENCES[key]}")


def _parse_shard(text: str | None) -> tuple[int, int]:
    """``I/N`` or ``slurm`` (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT)."""
    import os

    if text is None:
        return (0, 1)
    if text == "slurm":
        try:
            offset = int(os.environ["SLURM_ARRAY_TASK_ID"]) - int(os.environ.get("SLURM_ARRAY_TASK_MIN", "0"))
            step = int(os.environ.get("SLURM_ARRAY_TASK_STEP", "1"))
            count = int(os.environ["SLURM_ARRAY_TASK_COUNT"])
        except (KeyError, ValueError):
            _fail("--shard slurm: SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT must be set (run inside a job array)")
        if step < 1 or offset % step:
            _fail(f"--shard slurm: task offset {offset} is not a multiple of the array step {step}; use --shard I/N")
        tid = offset // step
        text = f"{tid}/{count}"
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        _fail(f"--shard {text}: allowed: I/N with 0 <= I < N, or slurm")
    if not (n >= 1 and 0 <= i < n):
        _fail(f"--shard {text}: allowed: I/N with 0 <= I < N (shard index counts from 0)")
    return (i, n)


def _summary_table(cells, n: int, seconds: float) -> str:
    lines = [
        f"{'cell':<48} {'P(war)':>8} {'95% CI (Wilson)':>19} {'miscalc':>8} {'no chal.':>8} {'ally prolif':>11} {'median days':>11}"
    ]
    for _, r in cells.iterrows():
        label = r["label"].replace("defender.strategy=", "")
        label = label if len(label) <= 47 else label[:22] + "..." + label[-22:]
        lines.append(
            f"{label:<48} {r['p_war']:8.4f} [{r['war_ci_low']:.4f}, {r['war_ci_high']:.4f}] "
            f"{r['p_war_miscalculation']:8.4f} {r['p_no_challenge']:8.4f} {r['p_ally_proliferation']:11.4f} {r['duration_q50']:11.1f}"
        )
    lines.append(f"\n{n:,} replications per cell, {seconds:.1f} s. P(war) counts deliberate war and war by miscalculation.")
    return "\n".join(lines)


@main.command(context_settings=CONTEXT)
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replications", "-n", type=int, default=None, help="Replications per cell [default: the experiment's].")
@click.option("--seed", type=int, default=None, help="Seed [default: the experiment's].")
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
def run(experiment: Path, replications, seed, threads, block_size, target_halfwidth, max_replications, shard, backend, scheduler, workers, out, force, as_json, no_progress) -> None:
    """Estimate outcome probabilities for every cell of an experiment (compiled engine).

    A run interrupted at any point (even killed) is resumed by the same
    command: finished blocks are read back, never recomputed.
    """
    try:
        exp = load_experiment(experiment)
    except ConfigError as exc:
        _fail(str(exc))
    if getattr(exp, "form", "crisis") == "ipd":  # the iterated prisoner's dilemma form
        unsupported = {"--target-halfwidth": target_halfwidth is not None, "--shard": shard is not None,
                       "--backend dask": backend == "dask", "--scheduler": scheduler is not None}
        _run_ipd(exp, experiment, replications, seed, threads, block_size, out, force, as_json, no_progress, unsupported)
        return
    _execute(exp, experiment, replications, seed, threads, block_size, target_halfwidth, max_replications, shard,
             backend, scheduler, workers, out, force, as_json, no_progress, figures=_analysis(exp.raw))


def _run_ipd(exp, experiment, replications, seed, threads, block_size, out, force, as_json, no_progress, unsupported):
    """``run`` for an IPD experiment (see escalation_sim/experiments/ipd.py)."""
    from .experiments.ipd import IPDRunError, execute

    try:
        execute(exp, experiment, replications=replications, seed=seed, threads=threads, block_size=block_size, out=out,
                force=force, as_json=as_json, no_progress=no_progress, unsupported=unsupported, log=_log, echo=click.echo)
    except IPDRunError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted; IPD runs are not checkpointed: run the same command again with --force", code=130)


def _simulate_ipd(scenario, from_dir, cell, figure, seed, replication, defender_strategy, sets, as_json):
    """``simulate`` for an IPD scenario or run: one match with the SimPy engine, round by round."""
    from .experiments.ipd import IPDRunError, simulate_command

    if figure is not None or defender_strategy:
        _fail("--figure and --defender-strategy are for crisis scenarios, not IPD matches")
    try:
        simulate_command(scenario, from_dir, cell, seed, replication, _parse_sets(sets), as_json, click.echo)
    except (IPDRunError, ConfigError) as exc:
        _fail(str(exc))


def _execute(exp, experiment, replications, seed, threads, block_size, target_halfwidth, max_replications, shard,
             backend, scheduler, workers, out, force, as_json, no_progress, figures=None):
    """Validate the run options, then run (or resume) ``exp`` and write its results."""
    from .engines import montecarlo as mc
    from .experiments.executors import DaskExecutor, LocalExecutor, SchedulerError
    from .experiments.runner import RunSettings, config_hash, run_experiment
    from .io import blocks as io_blocks
    from .io import results as io_results
    from .io.runs import RunDir, RunMismatch

    n = exp.replications if replications is None else replications
    s = exp.seed if seed is None else seed
    bs = exp.block_size if block_size is None else block_size
    if n < 1:
        _fail(f"--replications {n}: allowed: a whole number >= 1")
    if s < 0:
        _fail(f"--seed {s}: allowed: a whole number >= 0")
    if bs < 1:
        _fail(f"--block-size {bs}: allowed: a whole number >= 1")
    maxt = mc.max_threads()
    t = maxt if threads is None else threads
    if not 1 <= t <= maxt:
        _fail(f"--threads {t}: allowed: 1 to {maxt} on this machine")
    if target_halfwidth is not None and not 0 < target_halfwidth < 0.5:
        _fail(f"--target-halfwidth {target_halfwidth}: allowed: a number in (0, 0.5)")
    if max_replications < n:
        _fail(f"--max-replications {max_replications}: allowed: at least --replications ({n})")
    shard_ = _parse_shard(shard)
    if shard_ != (0, 1) and target_halfwidth is not None:
        _fail("--shard and --target-halfwidth do not mix: a sequential stop needs every shard's counts")
    if scheduler is not None and backend != "dask":
        _fail("--scheduler needs --backend dask")
    exp = exp if bs == exp.block_size else type(exp)(**{**exp.__dict__, "block_size": bs})
    chash = config_hash(exp)
    run_id = f"{chash[:10]}-seed{s}-n{n}" + (f"-hw{target_halfwidth:g}" if target_halfwidth else "")
    out_dir = out or Path("results") / exp.name / run_id
    settings = RunSettings(replications=n, seed=s, block_size=bs, threads=t, target_halfwidth=target_halfwidth, max_replications=max_replications)

    rd = RunDir(out_dir, shard_)
    ident = {"config_hash": chash, "seed": s, "replications_requested": n, "block_size": bs,
             "target_halfwidth": target_halfwidth, "model_source_hash": _source_hash()}
    try:
        resumed = rd.claim(ident, force)
    except RunMismatch as exc:
        _fail(str(exc))
    try:
        executor = DaskExecutor(scheduler, workers) if backend == "dask" else LocalExecutor(t)
    except SchedulerError as exc:
        rd.release_if_new()
        _fail(str(exc))
    manifest = rd.new_manifest(exp, experiment, ident, settings, backend, resumed)
    totals = io_blocks.load_totals(out_dir, len(exp.cells), tag=rd.tag) if resumed else None
    done = sum(tot.n for tot in totals) if totals else 0
    _log(
        f"escalation-sim {__version__}: {exp.name}, {len(exp.cells)} cells x {n:,} replications, seed {s}, "
        + (f"{t} threads" if backend == "threads" else "dask") + (f", shard {shard_[0]}/{shard_[1]}" if shard_ != (0, 1) else "")
        + f" -> {out_dir}" + (f"; resuming: {done:,} replications (all cells) already done" if resumed else "")
    )
    t0 = time.perf_counter()
    show = not no_progress and sys.stderr.isatty()
    bar = None
    try:
        _log("loading compiled kernels (the first run compiles them, ~35 s)...")
        mc.warm_up()
        if show:
            bar = click.progressbar(length=n * len(exp.cells), label="replications", file=sys.stderr)
            bar.__enter__()
            bar.update(done)

        def on_result(cell, res):
            io_blocks.save_chunk(out_dir, rd.tag, cell, res)
            if bar is not None:
                bar.update(int(res.counts.sum()))

        outcome = run_experiment(exp, settings, executor=executor, totals=totals, shard=shard_, on_result=on_result, log=_log)
    except KeyboardInterrupt:
        rd.finish(manifest, "interrupted")
        _fail("interrupted; finished blocks are kept: run the same command again to resume", code=130)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        executor.close()
    seconds = time.perf_counter() - t0
    if shard_ != (0, 1):
        path = rd.write_shard(outcome.totals)
        rd.finish(manifest, "complete", replications=outcome.replications, stop_rule=outcome.stop_rule, seconds=round(seconds, 3), files=[path.name])
        _log(f"shard {shard_[0]}/{shard_[1]} complete: {path}; run 'escalation-sim merge {out_dir}' when every shard is done")
        return
    io_results.write_table(outcome.cells, out_dir, "cells")
    io_results.write_table(outcome.outcomes, out_dir, "outcomes")
    files = ["cells.parquet", "cells.csv", "outcomes.parquet", "outcomes.csv"]
    manifest.update(replications=outcome.replications, stop_rule=outcome.stop_rule, seconds=round(seconds, 3))
    files += _write_figures(out_dir, outcome.cells, outcome.outcomes, manifest, figures)
    rd.finish(manifest, "complete", files=files)
    if as_json:
        click.echo(outcome.cells.to_json(orient="records", indent=2))
    else:
        click.echo(_summary_table(outcome.cells, outcome.replications, seconds))
    _log(f"wrote {out_dir}")


def _analysis(config: dict):
    """The extra figure writer an experiment asks for (``[experiment] analysis``), or None."""
    if config.get("experiment", {}).get("analysis") == "selection_bias":
        from .experiments.selection import selection_figure

        return selection_figure
    if config.get("experiment", {}).get("analysis") == "ally_decay":
        from .experiments.ally_decay import ally_decay_analysis

        return ally_decay_analysis
    if "tournament" in config:
        from .experiments.tournament import tournament_figure

        return tournament_figure
    return None


def _write_figures(out_dir: Path, cells, outcomes, manifest: dict, extra=None) -> list[str]:
    """Figures and report.md for a finished run (see experiments/report.py)."""
    written = []
    try:
        from .experiments.report import write_report
    except ImportError:  # pragma: no cover - report module is optional during development
        write_report = None
    if write_report is not None:
        written += [str(p.relative_to(out_dir)) for p in write_report(out_dir, cells, outcomes, manifest)]
    if extra is not None:
        written += [str(p.relative_to(out_dir)) for p in extra(out_dir, cells, outcomes, manifest)]
    return written


def _source_hash() -> str:
    from ._cache import source_hash

    return source_hash()


@main.command(context_settings=CONTEXT)
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Replace merged tables that already exist.")
@click.option("--json", "as_json", is_flag=True, help="Print the cell table as JSON on stdout.")
def merge(directory: Path, force: bool, as_json: bool) -> None:
    """Merge the shards of a run (files shard-I-of-N.*) into its tables.

    Every shard must have the same configuration hash, seed, replications,
    block size and versions, and every block must be present exactly once.
    The merged tables are bit-identical to a single-process run.
    """
    from .io.runs import MergeError, merge_shards

    try:
        cells, n = merge_shards(directory, force)
    except MergeError as exc:
        _fail(str(exc))
    import json as _json

    import pandas as pd

    from .io.results import MANIFEST, write_json

    manifest = _json.loads((directory / MANIFEST).read_text())
    files = _write_figures(directory, cells, pd.read_parquet(directory / "outcomes.parquet"), manifest,
                           _analysis(manifest.get("config", {})))
    manifest["files"] = manifest.get("files", []) + files
    write_json(directory / MANIFEST, manifest)
    if as_json:
        click.echo(cells.to_json(orient="records", indent=2))
    else:
        click.echo(_summary_table(cells, n, 0.0).rsplit("\n", 1)[0] + f"\n{n:,} replications per cell, merged from shards.")
    _log(f"wrote {directory}")


if __name__ == "__main__":  # pragma: no cover
    main()
