"""What every experiment file has, whatever its form: the ``[experiment]`` table and the cells.

An experiment file names a base scenario and declares its cells: a ``[grid]``
whose fields are lists of values (crossed), then explicit ``[[cells]]`` tables
(a ``label`` and overrides). The crisis form (:mod:`escalation_sim.pipeline.experiment`)
and the prisoner's dilemma form (:mod:`escalation_sim.ipd.config`) read them
with these functions and validate the overrides against their own scenarios.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..errors import ConfigError

EXPERIMENT_FIELDS = {"name", "description", "scenario", "replications", "seed", "block_size"}


def positive_int(source: str, key: str, value: Any, lo: int = 1) -> int:
    """``value`` if it is a whole number >= ``lo``, else a ConfigError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ConfigError(source, key, f"got {value!r}; allowed: a whole number >= {lo}")
    return value


def label(value: Any) -> str:
    """A value as written in a cell label: lists joined by ``+`` (``none`` when empty), floats with ``:g``."""
    if isinstance(value, list):
        return "+".join(map(str, value)) if value else "none"
    if isinstance(value, dict):
        return "+".join(f"{k}={label(v)}" for k, v in value.items())
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
            cells.append((", ".join(f"{k}={label(v)}" for k, v in combo), dict(combo)))
    explicit = data.get("cells", [])
    if not isinstance(explicit, list):
        raise ConfigError(source, "cells", "allowed: an array of tables [[cells]]")
    for i, c in enumerate(explicit):
        if not isinstance(c, dict):
            raise ConfigError(source, f"cells[{i}]", f"allowed: a table with label and {key_form} = value")
        over = {k: v for k, v in c.items() if k != "label"}
        cells.append((str(c.get("label", label(over) or f"cell {i}")), over))
    return cells
