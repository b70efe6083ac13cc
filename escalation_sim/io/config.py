"""Load and validate scenario and experiment files (TOML).

Every problem becomes one :class:`ConfigError` naming the file, the field and
what is allowed; the CLI prints it and exits with code 2, before anything is
written.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.params import (
    ALLY_INSTRUMENTS,
    CHALLENGER_STRATEGIES,
    DEFENDER_STRATEGY_NAMES,
    RESPONSE_RULES,
    SPEC_BY_KEY,
    Param,
)
from ..model.scenario import Mix, Scenario

if TYPE_CHECKING:
    from .ipd_config import IPDExperiment


class ConfigError(Exception):
    """A configuration problem: ``file: field: message``."""

    def __init__(self, source: str, field_: str, message: str):
        self.source = source
        self.field = field_
        self.message = message
        super().__init__(f"{source}: {field_}: {message}" if field_ else f"{source}: {message}")


def read_toml(path: str | Path) -> dict:
    """Read a TOML file, turning a missing file or a syntax error into ConfigError."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(str(path), "", "no such file")
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"malformed TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "", "not a UTF-8 text file") from None


def _range_text(spec: Param) -> str:
    lo = "-inf" if math.isinf(spec.lo) else f"{spec.lo:g}"
    hi = "inf" if math.isinf(spec.hi) else f"{spec.hi:g}"
    return f"[{lo}, {hi}]"


def coerce_value(source: str, key: str, value: Any) -> float:
    """Validate one parameter value and return it coded as a float.

    Parameters
    ----------
    source : str
        File name, for the message.
    key : str
        ``section.name``.
    value : Any
        The raw value (TOML type).
    """
    spec = SPEC_BY_KEY.get(key)
    if spec is None:
        section = key.split(".")[0]
        known = sorted(k.split(".", 1)[1] for k in SPEC_BY_KEY if k.startswith(section + "."))
        allowed = ", ".join(known) if known else "no such section"
        raise ConfigError(source, key, f"unknown field; allowed in [{section}]: {allowed}")
    if spec.kind == "choice":
        if not isinstance(value, str) or value not in spec.choices:
            raise ConfigError(source, key, f"got {value!r}; allowed: {', '.join(spec.choices)}")
        return float(spec.choices.index(value))
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"got {value!r}; allowed: true or false")
        return 1.0 if value else 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(source, key, f"got {value!r} ({type(value).__name__}); allowed: a number in {_range_text(spec)}")
    v = float(value)
    if spec.kind == "prob":
        what = "a probability in [0, 1]"
    elif spec.kind == "int":
        what = f"a whole number in {_range_text(spec)}"
    elif spec.unit == "days" and v < 0:
        what = f"a non-negative delay in days {_range_text(spec)}"
    else:
        what = f"a finite number in {_range_text(spec)}"
    if not math.isfinite(v) or not (spec.lo <= v <= spec.hi) or (spec.kind == "int" and v != int(v)):
        raise ConfigError(source, key, f"got {value!r}; allowed: {what}")
    return v


def parse_strategies(source: str, key: str, value: Any) -> tuple[str, ...]:
    """Validate a defender strategy mix: a list of known names, at most one response rule."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(source, key, f"got {value!r}; allowed: a list of strategy names")
    for v in value:
        if v not in DEFENDER_STRATEGY_NAMES:
            raise ConfigError(source, key, f"unknown strategy {v!r}; allowed: {', '.join(DEFENDER_STRATEGY_NAMES)}")
    rules_ = [v for v in value if v in RESPONSE_RULES]
    if len(rules_) > 1:
        raise ConfigError(source, key, f"a mix takes at most one response rule ({', '.join(RESPONSE_RULES)}); got {', '.join(rules_)}")
    if len(set(value)) != len(value):
        raise ConfigError(source, key, "a strategy is listed twice")
    order = {s: i for i, s in enumerate(DEFENDER_STRATEGY_NAMES)}
    return tuple(sorted(value, key=order.__getitem__))


def parse_population(source: str, key: str, value: Any) -> tuple[Mix, ...]:
    """Validate ``defender.population``: a list of ``{weight, strategy}`` tables."""
    if not isinstance(value, list) or not value:
        raise ConfigError(source, key, "allowed: a non-empty list of {weight = w, strategy = [...]} tables")
    mixes = []
    for i, item in enumerate(value):
        k = f"{key}[{i}]"
        if not isinstance(item, dict) or set(item) - {"weight", "strategy"} or "strategy" not in item:
            raise ConfigError(source, k, "allowed: a table with 'weight' (> 0) and 'strategy' (list of names)")
        w = item.get("weight", 1.0)
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (w > 0 and math.isfinite(w)):
            raise ConfigError(source, k + ".weight", f"got {w!r}; allowed: a positive number")
        mixes.append(Mix(parse_strategies(source, k + ".strategy", item["strategy"]), float(w)))
    return tuple(mixes)


def scenario_from_mapping(data: dict, source: str, base: Scenario | None = None) -> Scenario:
    """Validate a scenario mapping (parsed TOML) and build the :class:`Scenario`.

    Parameters
    ----------
    data : dict
        ``{"scenario": {...}, "channel": {...}, ...}``.
    source : str
        File name for messages.
    base : Scenario, optional
        Values not given here come from ``base`` (else the defaults).
    """
    values: dict[str, float] = dict(base.values) if base else {}
    mixes = base.mixes if base else (Mix(()),)
    meta = data.get("scenario", {})
    if not isinstance(meta, dict):
        raise ConfigError(source, "scenario", "allowed: a table with name and description")
    unknown_meta = set(meta) - {"name", "description"}
    if unknown_meta:
        raise ConfigError(source, f"scenario.{sorted(unknown_meta)[0]}", "unknown field; allowed: name, description")
    sections = {k.split(".")[0] for k in SPEC_BY_KEY}
    for section, table in data.items():
        if section == "scenario":
            continue
        if section not in sections:
            raise ConfigError(source, section, f"unknown section; allowed: scenario, {', '.join(sorted(sections))}")
        if not isinstance(table, dict):
            raise ConfigError(source, section, "allowed: a table of fields")
        for name, value in table.items():
            key = f"{section}.{name}"
            if key == "defender.strategy":
                mixes = (Mix(parse_strategies(source, key, value)),)
            elif key == "defender.population":
                mixes = parse_population(source, key, value)
            else:
                values[key] = coerce_value(source, key, value)
    if "strategy" in data.get("defender", {}) and "population" in data.get("defender", {}):
        raise ConfigError(source, "defender.population", "give either defender.strategy or defender.population, not both")
    scenario = Scenario(
        name=str(meta.get("name", base.name if base else Path(source).stem)),
        values=values,
        mixes=mixes,
        description=str(meta.get("description", base.description if base else "")),
        source=source,
    )
    check_scenario(scenario)
    return scenario


def check_scenario(s: Scenario) -> None:
    """Rules that involve several fields."""
    src = s.source
    for who in ("challenger", "defender"):
        if s.value(f"{who}.cost_resolved") > s.value(f"{who}.cost_unresolved"):
            raise ConfigError(src, f"{who}.cost_resolved", f"must be <= {who}.cost_unresolved (a resolved type has the lower cost of war)")
    if s.value("crisis.horizon") * s.value("crisis.opportunity_rate") > 1e5:
        raise ConfigError(src, "crisis.opportunity_rate", "more than 100,000 expected opportunities within the horizon; allowed: horizon * opportunity_rate <= 1e5")
    grit = s.value("defender.grit_interval")
    if s.value("defender.grit_steps") > 1 and grit < 0.1:
        raise ConfigError(src, "defender.grit_interval", f"got {grit:g}; allowed: at least 0.1 days when grit_steps > 1")
    if s.value("military.incident_rate") * s.value("military.incident_tick_mean") > 1.0:
        raise ConfigError(
            src,
            "military.incident_rate",
            "incident_rate * incident_tick_mean must be <= 1 (a tick accepts at most one incident)",
        )
    renewal = s.value("defender.renewal_interval")
    if 0.0 < renewal < 0.1:
        raise ConfigError(src, "defender.renewal_interval", f"got {renewal:g}; allowed: 0 (one-off) or at least 0.1 days")
    if s.value("crisis.horizon") / s.value("ally.review_interval") > 1e6:
        raise ConfigError(src, "ally.review_interval", "more than a million reviews within the horizon; allowed: horizon / review_interval <= 1e6")
    if s.value("ally.present") == 0.0:
        for m in s.mixes:
            used = [x for x in m.strategies if x in ALLY_INSTRUMENTS]
            if used:
                raise ConfigError(src, "defender.strategy", f"{used[0]} reassures an ally, but ally.present is false")


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario file.

    Parameters
    ----------
    path : path-like
        The TOML file.
    overrides : dict, optional
        ``section.name -> raw value`` applied on top (e.g. from the CLI).
    """
    data = read_toml(path)
    if overrides:
        for key, val in overrides.items():
            if "." not in key:
                raise ConfigError(str(path), key, "allowed: section.name, e.g. channel.misperception")
            section, name = key.split(".", 1)
            data.setdefault(section, {})[name] = val
    return scenario_from_mapping(data, str(path))


# --- experiments ---------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One cell of an experiment: a label, its scenario, and the overrides that made it."""

    index: int
    label: str
    scenario: Scenario
    overrides: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: base scenario, cells and run settings."""

    name: str
    source: str
    scenario_path: str
    cells: tuple[Cell, ...]
    replications: int
    seed: int
    block_size: int
    description: str = ""
    raw: dict = field(default_factory=dict, repr=False)


EXPERIMENT_FIELDS = {"name", "description", "scenario", "replications", "seed", "block_size"}
# extra analyses a crisis experiment can ask for: experiments/selection.py, experiments/ally_decay.py
ANALYSES = ("selection_bias", "ally_decay")


def _positive_int(source: str, key: str, value: Any, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ConfigError(source, key, f"got {value!r}; allowed: a whole number >= {lo}")
    return value


def _label(value: Any) -> str:
    if isinstance(value, list):
        return "+".join(map(str, value)) if value else "none"
    if isinstance(value, dict):
        return "+".join(f"{k}={_label(v)}" for k, v in value.items())
    return f"{value:g}" if isinstance(value, float) else str(value)


def declared_cells(data: dict, source: str, key_form: str = '"section.name"') -> list[tuple[str, dict]]:
    """The cells an experiment file declares, as ``(label, overrides)``.

    First the ``[grid]`` (every field a list of values; the lists are crossed),
    then the explicit ``[[cells]]`` tables (a ``label`` and overrides), in file
    order. ``key_form`` is how a field is written, for the error messages.
    """
    cells: list[tuple[str, dict]] = []
    grid = data.get("grid", {})
    if not isinstance(grid, dict):
        raise ConfigError(source, "grid", f"allowed: a table of {key_form} = [values]")
    axes = []
    for key, vals in grid.items():
        if not isinstance(vals, list) or not vals:
            raise ConfigError(source, f"grid.{key}", "allowed: a non-empty list of values")
        axes.append([(key, v) for v in vals])
    if axes:
        for combo in itertools.product(*axes):
            cells.append((", ".join(f"{k}={_label(v)}" for k, v in combo), dict(combo)))
    explicit = data.get("cells", [])
    if not isinstance(explicit, list):
        raise ConfigError(source, "cells", "allowed: an array of tables [[cells]]")
    for i, c in enumerate(explicit):
        if not isinstance(c, dict):
            raise ConfigError(source, f"cells[{i}]", f"allowed: a table with label and {key_form} = value")
        over = {k: v for k, v in c.items() if k != "label"}
        cells.append((str(c.get("label", _label(over) or f"cell {i}")), over))
    return cells


TOURNAMENT_FIELDS = ("defender", "challenger", "motive")
MOTIVE_P_NEED = {"opportunity": 0.0, "need": 1.0}


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
    mixes = [_label(list(parse_strategies(source, f"tournament.defender[{i}]", d))) for i, d in enumerate(defenders)]
    for field_, values in (("defender", mixes), ("challenger", challengers), ("motive", motives)):
        if len(set(values)) != len(values):
            raise ConfigError(source, f"tournament.{field_}", "an entry is listed twice")
    return [
        (f"{_label(d)} vs {c} ({m})", {"defender.strategy": d, "challenger.strategy": c, "challenger.p_need": MOTIVE_P_NEED[m]})
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


def load_experiment(path: str | Path) -> Experiment | IPDExperiment:
    """Load and validate an experiment file.

    An experiment names a base scenario (path relative to the experiment file)
    and its cells: a ``[grid]`` whose fields (``"section.name"`` = list of
    values) are crossed, and/or explicit ``[[cells]]`` tables with a ``label``
    and overrides. An experiment on an IPD scenario is loaded by
    :func:`load_ipd_experiment` and returned as an :class:`IPDExperiment`.
    """
    source = str(path)
    data = read_toml(path)
    from .ipd_config import experiment_form, load_ipd_experiment

    if experiment_form(source, path, data) == "ipd":
        return load_ipd_experiment(path, data)  # an IPDExperiment (form "ipd")
    unknown = set(data) - {"experiment", "grid", "cells", "tournament"}
    if unknown:
        raise ConfigError(source, sorted(unknown)[0], "unknown section; allowed: experiment, grid, cells, tournament")
    exp = data.get("experiment")
    if not isinstance(exp, dict):
        raise ConfigError(source, "experiment", "missing [experiment] table (name, scenario, replications, seed)")
    bad = set(exp) - EXPERIMENT_FIELDS - {"analysis"}
    if bad:
        allowed = sorted(EXPERIMENT_FIELDS | {"analysis"})
        raise ConfigError(source, f"experiment.{sorted(bad)[0]}", f"unknown field; allowed: {', '.join(allowed)}")
    if "scenario" not in exp or not isinstance(exp["scenario"], str):
        raise ConfigError(source, "experiment.scenario", "required: path of the base scenario file")
    scen_path = (Path(path).parent / exp["scenario"]).resolve()
    base = load_scenario(scen_path)
    replications = _positive_int(source, "experiment.replications", exp.get("replications", 100_000))
    seed = _positive_int(source, "experiment.seed", exp.get("seed", 0), lo=0)
    block = _positive_int(source, "experiment.block_size", exp.get("block_size", 4096))
    analysis = exp.get("analysis")
    if analysis is not None and analysis not in ANALYSES:
        raise ConfigError(source, "experiment.analysis", f"got {analysis!r}; allowed: {', '.join(ANALYSES)}")

    cells = declared_cells(data, source) + tournament_cells(data, source)
    if not cells:
        raise ConfigError(source, "grid", "the experiment has no cells: give a [grid] or [[cells]]")

    built = []
    for idx, (label, over) in enumerate(cells):
        mapping: dict = {}
        for key, val in over.items():
            if "." not in key:
                raise ConfigError(source, f"cells[{idx}].{key}", "allowed: \"section.name\" = value")
            section, name = key.split(".", 1)
            mapping.setdefault(section, {})[name] = val
        try:
            scen = scenario_from_mapping(mapping, source, base=base)
        except ConfigError as exc:
            raise ConfigError(source, f"cell '{label}': {exc.field}", exc.message) from None
        built.append(Cell(idx, label, scen, over))
    _check_analysis(source, analysis, built)
    return Experiment(
        name=str(exp.get("name", Path(path).stem)),
        source=source,
        scenario_path=str(scen_path),
        cells=tuple(built),
        replications=replications,
        seed=seed,
        block_size=block,
        description=str(exp.get("description", "")),
        raw=data,
    )

