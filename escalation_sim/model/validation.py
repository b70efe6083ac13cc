"""Validation of the crisis model's input: scenario values, strategy mixes, scenario files.

Every problem becomes one :class:`~escalation_sim.errors.ConfigError` naming
the file, the field and what is allowed; the CLI prints it and exits with code
2, before anything is written. :meth:`Scenario.build` validates Python values
with the same rules (:func:`scenario_from_mapping`).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputWarning
from ..io.experiment_file import name_from_file, plain_name, text_value
from ..io.toml import read_toml
from .params import (
    ALLY_INSTRUMENTS,
    DEFENDER_STRATEGY_NAMES,
    RESPONSE_RULES,
    SPEC_BY_KEY,
    Param,
)
from .scenario import Mix, Scenario


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
    if "name" in meta:
        plain_name(source, "scenario.name", meta["name"])
    if "description" in meta:
        text_value(source, "scenario.description", meta["description"])
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
        name=str(meta.get("name", base.name if base else name_from_file(source))),
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
    if 0.0 < renewal < 1.0:
        raise ConfigError(src, "defender.renewal_interval", f"got {renewal:g}; allowed: 0 (one-off) or at least 1 day")
    if s.value("crisis.horizon") / s.value("ally.review_interval") > 1e6:
        raise ConfigError(src, "ally.review_interval", "more than a million reviews within the horizon; allowed: horizon / review_interval <= 1e6")
    if s.value("ally.present") == 0.0:
        for m in s.mixes:
            used = [x for x in m.strategies if x in ALLY_INSTRUMENTS]
            if used:
                raise ConfigError(src, "defender.strategy", f"{used[0]} reassures an ally, but ally.present is false")


#: Sections a scenario file is expected to write out; a file without them runs on defaults, with a warning
#: (docs/model.md, "Scenario files"). Every other section is optional: its fields take their defaults silently.
EXPECTED_SECTIONS = ("scenario", "challenger")


def warn_defaulted(source: str, data: dict) -> None:
    """Warn (:class:`~escalation_sim.errors.InputWarning`) when a scenario file leaves out what it should say."""
    if "experiment" in data or "ipd" in data:
        return
    if not data:
        warnings.warn(f"{source}: empty scenario file: every parameter takes its default (docs/model.md, "
                      "\"Parameters\")", InputWarning, stacklevel=3)
        return
    missing = [f"[{s}]" for s in EXPECTED_SECTIONS if s not in data]
    if missing:
        warnings.warn(f"{source}: no {' or '.join(missing)} section: "
                      + ("its name is the file's name" if "[scenario]" in missing else "")
                      + ("; " if len(missing) > 1 else "")
                      + ("the challenger's parameters take their defaults" if "[challenger]" in missing else ""),
                      InputWarning, stacklevel=3)


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
    if isinstance(data.get("experiment"), dict):
        scen = data["experiment"].get("scenario")
        raise ConfigError(str(path), "", "this is an experiment file, not a scenario file: give the scenario it names"
                          + (f" (experiment.scenario = {scen!r}, relative to it)" if isinstance(scen, str) else "")
                          + ", or run the experiment with 'escalation-sim run'")
    if overrides:
        for key, val in overrides.items():
            if "." not in key:
                raise ConfigError(str(path), key, "allowed: section.name, e.g. channel.misperception")
            section, name = key.split(".", 1)
            data.setdefault(section, {})[name] = val
    scenario = scenario_from_mapping(data, str(path))
    warn_defaulted(str(path), data)
    return scenario
