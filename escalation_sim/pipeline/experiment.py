"""Experiments: files of cells to run, of either form, loaded and validated in one place.

An experiment names a base scenario (path relative to the experiment file) and
its cells: a ``[grid]`` whose fields (``"section.name"`` = list of values) are
crossed, explicit ``[[cells]]`` tables with a ``label`` and overrides, and for
a round robin a ``[tournament]`` table. :func:`load_experiment` is where the
form is decided: a crisis experiment (:class:`Experiment`, here) or one of the
iterated prisoner's dilemma (:class:`~escalation_sim.ipd.config.IPDExperiment`);
both carry ``form`` and the same run settings (replications, seed, block size).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..engines.montecarlo import DEFAULT_BLOCK
from ..errors import ConfigError
from ..io.experiment_file import (
    EXPERIMENT_FIELDS,
    declared_cells,
    label,
    name_from_file,
    positive_int,
    run_fields,
    scenario_path,
    seed_value,
)
from ..io.toml import read_toml
from ..ipd.config import IPDExperiment, is_ipd_file, load_ipd_experiment
from ..model.params import CHALLENGER_STRATEGIES, SPEC_BY_KEY
from ..model.scenario import Mix, Scenario
from ..model.validation import load_scenario, parse_strategies, scenario_from_mapping

# extra analyses a crisis experiment can ask for (escalation_sim/analysis/hooks.py runs them)
ANALYSES = ("selection_bias", "ally_decay")
TOURNAMENT_FIELDS = ("defender", "challenger", "motive")
ROBUSTNESS_FIELDS = ("points", "replications", "seed", "contrasts", "sobol")
POSTERIOR_FIELDS = ("file", "draws", "replications")
# the contrast sets a [robustness] table may name, and whether each needs an ally (analysis/contrasts.py defines
# them: CONTRAST_SETS; tests/test_flip.py checks the two agree)
ROBUSTNESS_CONTRAST_SETS = {"lebow-stein": False, "ally-instruments": True, "renewal": True}
MOTIVE_P_NEED = {"opportunity": 0.0, "need": 1.0}
SCENARIO_SEED = 1  # seed of a bare scenario file (as ``escalation-sim simulate``)


@dataclass(frozen=True)
class Cell:
    """One cell of an experiment: a label, its scenario, and the overrides that made it."""

    index: int
    label: str
    scenario: Scenario
    overrides: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    """A validated crisis experiment: base scenario, cells and the file's run settings."""

    form: ClassVar[str] = "crisis"

    name: str
    source: str
    scenario_path: str
    cells: tuple[Cell, ...]
    replications: int
    seed: int
    block_size: int
    description: str = ""
    raw: dict = field(default_factory=dict, repr=False)


def experiment_form(source: str, path: str | Path, data: dict) -> str:
    """``"ipd"`` when an experiment says ``form = "ipd"`` or names an IPD scenario, else ``"crisis"``."""
    exp = data.get("experiment")
    if not isinstance(exp, dict):
        return "crisis"
    if "form" in exp:
        if exp["form"] != "ipd":
            raise ConfigError(source, "experiment.form", f"got {exp['form']!r}; allowed: \"ipd\" (omit it for a crisis experiment)")
        return "ipd"
    scen = exp.get("scenario")
    return "ipd" if isinstance(scen, str) and is_ipd_file(Path(path).parent / scen) else "crisis"


def load_experiment(path: str | Path) -> Experiment | IPDExperiment:
    """Load and validate an experiment file of either form.

    An experiment on an IPD scenario (or with ``form = "ipd"``) is loaded by
    :func:`~escalation_sim.ipd.config.load_ipd_experiment`; any other is a crisis
    experiment (:func:`load_crisis_experiment`).
    """
    data = read_toml(path)
    if experiment_form(str(path), path, data) == "ipd":
        return load_ipd_experiment(path, data)
    return load_crisis_experiment(path, data)


def tournament_cells(data: dict, source: str) -> list[tuple[str, dict]]:
    """The cells of a round robin: every defender mix against every challenger strategy and motive.

    ``[tournament]`` has ``defender`` (a list of strategy mixes, each a list of
    names), ``challenger`` (challenger strategies) and ``motive``
    (``"opportunity"`` and/or ``"need"``: ``challenger.p_need`` 0 or 1). Cell
    labels are ``"<mix> vs <challenger> (<motive>)"``; names are validated
    with the cell's scenario.
    """
    tour = data.get("tournament")
    if tour is None:
        return []
    if not isinstance(tour, dict) or set(tour) - set(TOURNAMENT_FIELDS):
        raise ConfigError(source, "tournament", f"allowed: a table with {', '.join(TOURNAMENT_FIELDS)}")
    defenders = tour.get("defender")
    if not isinstance(defenders, list) or not defenders or not all(isinstance(d, list) for d in defenders):
        raise ConfigError(source, "tournament.defender", 'allowed: a non-empty list of strategy mixes, e.g. [["tit_for_tat"], []]')
    challengers = tour.get("challenger", list(CHALLENGER_STRATEGIES))
    if not isinstance(challengers, list) or not challengers or any(c not in CHALLENGER_STRATEGIES for c in challengers):
        raise ConfigError(source, "tournament.challenger", f"got {challengers!r}; allowed: a non-empty list of {', '.join(CHALLENGER_STRATEGIES)}")
    motives = tour.get("motive", list(MOTIVE_P_NEED))
    if not isinstance(motives, list) or not motives or any(m not in MOTIVE_P_NEED for m in motives):
        raise ConfigError(source, "tournament.motive", f"got {motives!r}; allowed: a non-empty list of {', '.join(MOTIVE_P_NEED)}")
    mixes = [label(list(parse_strategies(source, f"tournament.defender[{i}]", d))) for i, d in enumerate(defenders)]
    for field_, values in (("defender", mixes), ("challenger", challengers), ("motive", motives)):
        if len(set(values)) != len(values):
            raise ConfigError(source, f"tournament.{field_}", "an entry is listed twice")
    return [
        (f"{label(d)} vs {c} ({m})", {"defender.strategy": d, "challenger.strategy": c, "challenger.p_need": MOTIVE_P_NEED[m]})
        for d in defenders for c in challengers for m in motives
    ]


def _check_analysis(source: str, analysis: str | None, cells: list[Cell]) -> None:
    """What an extra analysis needs of the cells."""
    if analysis == "selection_bias" and len(cells) < 2:
        raise ConfigError(source, "experiment.analysis", "selection_bias compares every cell with the first (the "
                          "baseline); allowed: an experiment with at least 2 cells")
    if analysis == "ally_decay":
        for c in cells:
            if c.scenario.value("ally.present") == 0.0:
                raise ConfigError(source, "experiment.analysis", f"ally_decay follows the ally's confidence, but cell "
                                  f"'{c.label}' has no ally; allowed: cells with ally.present = true")


def load_crisis_experiment(path: str | Path, data: dict | None = None) -> Experiment:
    """Load and validate a crisis experiment file (``data``: its parsed TOML, if already read)."""
    source = str(path)
    data = read_toml(path) if data is None else data
    not_an_experiment(source, data)
    unknown = set(data) - {"experiment", "grid", "cells", "tournament", "robustness", "posterior"}
    if unknown:
        raise ConfigError(source, sorted(unknown)[0],
                          "unknown section; allowed: experiment, grid, cells, tournament, robustness, posterior")
    rspec = robustness_spec(data, source)
    posterior_spec(data, source)
    exp = data.get("experiment")
    if not isinstance(exp, dict):
        raise ConfigError(source, "experiment", "missing [experiment] table (name, scenario, replications, seed)")
    bad = set(exp) - EXPERIMENT_FIELDS - {"analysis"}
    if bad:
        allowed = sorted(EXPERIMENT_FIELDS | {"analysis"})
        raise ConfigError(source, f"experiment.{sorted(bad)[0]}", f"unknown field; allowed: {', '.join(allowed)}")
    run = run_fields(source, exp, name_from_file(path), 100_000, DEFAULT_BLOCK)
    scen_path = scenario_path(source, exp)
    if "experiment" in read_toml(scen_path):
        raise ConfigError(source, "experiment.scenario", f"{exp['scenario']} is an experiment file; allowed: a scenario file")
    base = load_scenario(scen_path)
    check_robustness_ally(rspec, base, source)
    analysis = exp.get("analysis")
    if analysis is not None and analysis not in ANALYSES:
        raise ConfigError(source, "experiment.analysis", f"got {analysis!r}; allowed: {', '.join(ANALYSES)}")

    cells = declared_cells(data, source) + tournament_cells(data, source)
    if not cells:
        raise ConfigError(source, "grid", "the experiment has no cells: give a [grid] or [[cells]]")

    built = []
    for idx, (label_, over) in enumerate(cells):
        mapping: dict = {}
        for key, val in over.items():
            if "." not in key:
                raise ConfigError(source, f"cells[{idx}].{key}", "allowed: \"section.name\" = value")
            section, name = key.split(".", 1)
            mapping.setdefault(section, {})[name] = val
        try:
            scen = scenario_from_mapping(mapping, source, base=base)
        except ConfigError as exc:
            raise ConfigError(source, f"cell '{label_}': {exc.field}", exc.message) from None
        built.append(Cell(idx, label_, scen, over))
    _check_analysis(source, analysis, built)
    return Experiment(
        name=run["name"],
        source=source,
        scenario_path=str(scen_path),
        cells=tuple(built),
        replications=run["replications"],
        seed=run["seed"],
        block_size=run["block_size"],
        description=run["description"],
        raw=data,
    )


SCENARIO_SECTIONS = frozenset({"scenario"} | {k.split(".")[0] for k in SPEC_BY_KEY})


def not_an_experiment(source: str, data: dict) -> None:
    """A clear error for a scenario file where an experiment file belongs (a file without ``[experiment]``)."""
    if "experiment" in data:
        return
    if "ipd" in data:
        raise ConfigError(source, "", "this is an IPD scenario file, not an experiment: commands that run experiments "
                          "(run, tournament, sweep) take an experiment file naming it (see experiments/ipd-tournament.toml); "
                          "'escalation-sim simulate' plays one match of it")
    if not data or set(data) & SCENARIO_SECTIONS:
        raise ConfigError(source, "", "this is a scenario file, not an experiment (it has no [experiment] table): "
                          "commands that run experiments (run, tournament, sweep) take an experiment file that names a "
                          "scenario and its cells (see experiments/default.toml and docs/experiments.md); "
                          "'escalation-sim simulate' plays one crisis of a scenario")


def optional_table(data: dict, section: str, fields: tuple[str, ...], source: str) -> dict | None:
    """The ``[section]`` table of a file if it has one (else None), refusing anything but a table of ``fields``."""
    spec = data.get(section)
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ConfigError(source, section, f"allowed: a table with {', '.join(fields)}")
    bad = set(spec) - set(fields)
    if bad:
        raise ConfigError(source, f"{section}.{sorted(bad)[0]}", f"unknown field; allowed: {', '.join(fields)}")
    return spec


def robustness_spec(data: dict, source: str) -> dict | None:
    """The validated ``[robustness]`` table (points, replications, seed, contrasts, sobol), or None if none.

    The analysis (``escalation_sim/analysis/flip.py``) runs the named contrast sets [default: Lebow & Stein's] over
    a Latin hypercube of ``points`` parameter vectors of the documented box, ``replications`` crises per arm and
    point, and with ``sobol = N`` (a power of 2) their Sobol indices over the same box.
    """
    spec = optional_table(data, "robustness", ROBUSTNESS_FIELDS, source)
    if spec is None:
        return None
    out = {
        "points": positive_int(source, "robustness.points", spec.get("points", 256), lo=8),
        "replications": positive_int(source, "robustness.replications", spec.get("replications", 4096), lo=64),
    }
    if "seed" in spec:
        out["seed"] = seed_value(source, "robustness.seed", spec["seed"])
    if "contrasts" in spec:
        sets = spec["contrasts"]
        sets = [sets] if isinstance(sets, str) else sets
        allowed = ", ".join(ROBUSTNESS_CONTRAST_SETS)
        if not isinstance(sets, list) or not sets or not all(isinstance(x, str) for x in sets):
            raise ConfigError(source, "robustness.contrasts", f"allowed: a list of contrast sets: {allowed}")
        for x in sets:
            if x not in ROBUSTNESS_CONTRAST_SETS:
                raise ConfigError(source, "robustness.contrasts", f"unknown contrast set {x!r}; allowed: {allowed}")
        out["contrasts"] = list(sets)
    if "sobol" in spec:
        n = positive_int(source, "robustness.sobol", spec["sobol"], lo=0)
        if n & (n - 1):
            raise ConfigError(source, "robustness.sobol", f"got {n}; allowed: 0 (none) or a power of 2, e.g. 64")
        out["sobol"] = n
    return out


def check_robustness_ally(spec: dict | None, base: Scenario, source: str) -> None:
    """A ``[robustness]`` table's contrast sets that compare an ally's reassurance need a scenario with an ally."""
    for x in (spec or {}).get("contrasts", []):
        if ROBUSTNESS_CONTRAST_SETS[x] and base.value("ally.present") == 0.0:
            raise ConfigError(source, "robustness.contrasts", f"{x!r} compares the ally's reassurance, but the "
                              f"scenario {base.name!r} has no ally; allowed: a scenario with ally.present = true")


def posterior_spec(data: dict, source: str) -> dict | None:
    """The validated ``[posterior]`` table (file, draws, replications), or None if the file has none.

    An experiment with a ``[posterior]`` runs on calibrated parameters: ``escalation-sim run`` evaluates every
    cell at ``draws`` draws of the posterior ``file`` (a shipped posterior by name, ``"crisis-record"``, or a
    path relative to the experiment file), ``replications`` crises per draw; ``run --illustrative`` runs the
    scenario's illustrative defaults instead (docs/calibration.md).
    """
    from ..calibration.targets import SHIPPED_POSTERIORS, posterior_file

    spec = optional_table(data, "posterior", POSTERIOR_FIELDS, source)
    if spec is None:
        return None
    name = spec.get("file")
    if not isinstance(name, str) or not name:
        raise ConfigError(source, "posterior.file", f"required; allowed: {', '.join(repr(k) for k in SHIPPED_POSTERIORS)} "
                          "(shipped) or the path of a posterior.csv/.parquet written by calibrate")
    path = posterior_file(name, source)
    if not path.is_file():
        raise ConfigError(source, "posterior.file", f"{name!r}: no such file ({path}); allowed: "
                          f"{', '.join(repr(k) for k in SHIPPED_POSTERIORS)} or the path of a posterior written by calibrate")
    return {
        "file": path, "name": name,
        "draws": positive_int(source, "posterior.draws", spec.get("draws", 64), lo=2),
        "replications": positive_int(source, "posterior.replications", spec.get("replications", 4096), lo=100),
    }


def require_crisis(experiment, source: str, why: str) -> Experiment:
    """``experiment`` if it is of the crisis form, else a ConfigError ``source: an IPD experiment: why``."""
    if experiment.form != "crisis":
        raise ConfigError(str(source), "", f"an IPD experiment: {why}")
    return experiment


def experiment_or_scenario(path: str | Path) -> Experiment:
    """Load a crisis experiment file, or wrap a crisis scenario file as a one-cell experiment.

    A file with an ``[experiment]`` table is an experiment (:func:`load_experiment`); any other file is read as a
    scenario (:func:`~escalation_sim.model.validation.load_scenario`) and becomes cell 0 of an experiment of that
    name, seed 1 (the default of ``escalation-sim simulate``), whose ``scenario_path`` is the file itself.

    Raises
    ------
    ConfigError
        The file does not load, or it is an iterated prisoner's dilemma scenario (no crises to analyse).
    """
    source = str(path)
    data = read_toml(path)
    if "experiment" in data:
        return load_experiment(path)
    if "ipd" in data:
        raise ConfigError(source, "ipd", "an IPD scenario; allowed: a crisis scenario or experiment")
    scen = load_scenario(path)
    return Experiment(name=scen.name, source=source, scenario_path=str(Path(path).resolve()),
                      cells=(Cell(0, "the scenario as written", scen, {}),), replications=DEFAULT_BLOCK,
                      seed=SCENARIO_SEED, block_size=DEFAULT_BLOCK, description=scen.description)


def config_hash(exp: Experiment, block_size: int) -> str:
    """SHA-256 of what determines the numbers: every cell's parameters and mixes, and the block size.

    Seed and replication count are run settings, recorded beside the hash.
    """
    payload = {
        "cells": [
            {
                "label": c.label,
                "values": sorted(c.scenario.values.items()),
                "mixes": [[list(m.strategies), m.weight] for m in c.scenario.mixes],
            }
            for c in exp.cells
        ],
        "block_size": block_size,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def experiment_from_manifest(m: dict, source: str) -> Experiment:
    """A crisis run's experiment as recorded in its manifest (enough to summarize and replay)."""
    cells = tuple(
        Cell(
            c["index"],
            c["label"],
            Scenario(name=c.get("name", m["experiment"]), values=c["values"],
                     mixes=tuple(Mix(tuple(s), w) for s, w in c["mixes"])),
            c["overrides"],
        )
        for c in m["cells"]
    )
    return Experiment(
        name=m["experiment"], source=source, scenario_path="", cells=cells,
        replications=m["replications_requested"], seed=m["seed"], block_size=m["block_size"], raw=m.get("config", {}),
    )


def crisis_cell(path: str | Path, cell: int, command: str) -> Experiment:
    """The crisis experiment (or scenario file, as one cell) at ``path``, checked to have cell ``cell``.

    For the commands that analyse one cell (``calibrate``, ``sensitivity``); ``command`` names it in the message
    when ``path`` is an IPD experiment.
    """
    exp = require_crisis(experiment_or_scenario(path), path, f"{command} is for crisis experiments")
    if cell >= len(exp.cells):
        raise ConfigError(str(path), "--cell", f"got {cell}; allowed: 0 to {len(exp.cells) - 1}")
    return exp
