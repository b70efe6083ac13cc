"""``simulate`` (one crisis or IPD match, or a replay from a run) and ``strategies`` (the catalogue)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import click

from ..engines.simpy_engine import simulate as simulate_crisis
from ..io.files import check_writable
from ..ipd.config import load_ipd_scenario
from ..ipd.run import match_record, match_text
from ..ipd.simpy_engine import simulate_match
from ..model.bibliography import REFERENCES
from ..model.params import DEFENDER_STRATEGY_NAMES
from ..model.strategies import STRATEGIES
from ..model.validation import load_scenario
from ..pipeline.replay import crisis_to_replay, match_to_replay, simulate_form
from ..report.crisis_figure import crisis_figure
from ..report.timeline import crisis_record, crisis_text
from ._common import CONTEXT, REPLICATION, SEED, compiling, fail, log, parse_sets, user_errors


@click.command(context_settings=CONTEXT)
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--from", "from_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Replay a crisis of a results directory (with --cell and --replication): its scenario and seed.")
@click.option("--cell", type=click.IntRange(min=0), default=None, help="With --from: the cell to replay.")
@click.option("--figure", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also draw the escalation levels over time (.png or .svg).")
@click.option("--seed", type=SEED, default=None, help="Seed of the random streams [default: 1, or the run's].")
@click.option("--replication", type=REPLICATION, default=0, show_default=True, help="Which crisis of the seed's sequence.")
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
    if scenario is None and from_dir is None:
        fail("give a SCENARIO file (e.g. experiments/extended-deterrence.toml), or --from RESULTS_DIR --cell K "
             "--replication R to replay a crisis of a run")
    if scenario is not None and from_dir is not None:
        fail("give a SCENARIO file or --from RESULTS_DIR (with --cell), not both")
    if figure is not None:
        if figure.suffix.lower() not in (".png", ".svg"):
            fail(f"--figure {figure}: allowed: a .png or .svg path")
        with user_errors():
            check_writable(figure.resolve().parent)
    with user_errors():
        if simulate_form(scenario, from_dir) == "ipd":  # the iterated prisoner's dilemma form: one match
            if figure is not None or defender_strategy:
                fail("--figure and --defender-strategy are for crisis scenarios, not IPD matches")
            overrides = parse_sets(sets)
            if from_dir is not None:
                _check_replay(cell, overrides, "--set is")
                game, run_seed = match_to_replay(from_dir, cell)
                seed = run_seed if seed is None else seed
            else:
                game = load_ipd_scenario(scenario, overrides)
            res = simulate_match(game, seed=1 if seed is None else seed, replication=replication)
            click.echo(json.dumps(match_record(res), indent=2) if as_json else match_text(res))
            return
        if from_dir is not None:
            _check_replay(cell, sets or defender_strategy, "--set and --defender-strategy are")
            scen, run_seed = crisis_to_replay(from_dir, cell)
            seed = run_seed if seed is None else seed
        else:
            overrides = parse_sets(sets)
            if defender_strategy:
                overrides["defender.strategy"] = list(defender_strategy)
            scen = load_scenario(scenario, overrides)
        seed = 1 if seed is None else seed
        with compiling("simpy"):
            res = simulate_crisis(scen, seed=seed, replication=replication)
    if figure is not None:
        with user_errors():
            crisis_figure(res, figure, title=f"{scen.name}: seed {seed}, replication {replication}")
        log(f"wrote {figure}")
    click.echo(json.dumps(crisis_record(scen, res), indent=2) if as_json else crisis_text(scen, res))


def _check_replay(cell: int | None, changes, what: str) -> None:
    """A replay needs a cell and takes the run as it was."""
    if cell is None:
        fail("--from needs --cell K (see the 'cell' column of cells.csv)")
    if changes:
        fail(f"--from replays the run as it was: {what} not allowed with it")


@click.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
def strategies(as_json: bool) -> None:
    """List every strategy: what it is, what it does in the model (its mechanism), its references."""
    if as_json:
        click.echo(json.dumps([{**s.__dict__, "references": list(s.references)} for s in STRATEGIES], indent=2))
        return
    family = None
    for s in STRATEGIES:
        if (s.side, s.family) != family:
            family = (s.side, s.family)
            click.echo(f"\n{s.side} / {s.family}")
        click.echo(f"  {s.name:<24} [{s.kind}] {s.summary}")
        for line in textwrap.wrap(s.mechanism, width=90):
            click.echo(f"  {'':<24} {line}")
        click.echo(f"  {'':<24} refs: {', '.join(s.references)}")
    click.echo("\nReferences:")
    for key in sorted({r for s in STRATEGIES for r in s.references}):
        click.echo(f"  {key}: {REFERENCES[key]}")
