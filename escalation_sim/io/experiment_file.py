"""What every experiment file has, whatever its form: the ``[experiment]`` table and the cells.

An experiment file names a base scenario and declares its cells: a ``[grid]``
whose fields are lists of values (crossed), then explicit ``[[cells]]`` tables
(a ``label`` and overrides). The crisis form (:mod:`escalation_sim.pipeline.experiment`)
and the prisoner's dilemma form (:mod:`escalation_sim.ipd.config`) read them
with these functions and validate the overrides against their own scenarios.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from ..errors import ConfigError

EXPERIMENT_FIELDS = {"name", "description", "scenario", "replications", "seed", "block_size"}

#: Seeds are 0 .. 2^63 - 1 everywhere (files, options, the Python API): the random streams take them as 64-bit
#: integers (model/rng.py), and one range for every entry point keeps a seed valid wherever it was given.
SEED_MAX = 2**63 - 1
SEED_RANGE = f"a whole number in [0, {SEED_MAX}] (0 to 2^63 - 1)"
#: Replications per cell, and the block size: at most 10^12 (about 100 core-days per cell at 9 us a crisis).
REPLICATIONS_MAX = 10**12
#: Names become directory names (results/<name>/...): a plain name, never a path.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$")
NAME_RULE = ("a plain name of letters, digits, '_', '-', '.' and '+' (at most 100, starting with a letter or "
             "digit; no '/', no '..'), e.g. \"my-experiment\"")


def positive_int(source: str, key: str, value: Any, lo: int = 1, hi: int | None = None) -> int:
    """``value`` if it is a whole number in ``[lo, hi]``, else a ConfigError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        allowed = f"a whole number >= {lo}" if hi is None else f"a whole number in [{lo}, {hi}]"
        raise ConfigError(source, key, f"got {value!r}; allowed: {allowed}")
    return value


def seed_value(source: str, key: str, value: Any) -> int:
    """A seed: a whole number in ``[0, SEED_MAX]``, else a ConfigError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise ConfigError(source, key, f"got {value!r}; allowed: {SEED_RANGE}")
    return value


def plain_name(source: str, key: str, value: Any) -> str:
    """``value`` if it is a plain name (a directory name, never a path), else a ConfigError naming ``key``."""
    if not isinstance(value, str) or not NAME_RE.match(value) or ".." in value:
        raise ConfigError(source, key, f"got {value!r}; allowed: {NAME_RULE}")
    return value


def text_value(source: str, key: str, value: Any) -> str:
    """``value`` if it is a string (a description), else a ConfigError naming ``key``."""
    if not isinstance(value, str):
        raise ConfigError(source, key, f"got {value!r}; allowed: a string")
    return value


def scenario_path(source: str, exp: dict, what: str = "scenario") -> Path:
    """The base scenario file an ``[experiment]`` names (relative to the experiment file), checked to be a file."""
    raw = exp.get("scenario")
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(source, "experiment.scenario",
                          f"got {raw!r}; allowed: the path of the base {what} file, relative to this experiment file")
    path = (Path(source).parent / raw).resolve()
    if path.is_dir():
        raise ConfigError(source, "experiment.scenario", f"{raw!r} is a directory ({path}); allowed: the path of the "
                          f"base {what} file, relative to this experiment file")
    if not path.is_file():
        raise ConfigError(source, "experiment.scenario", f"{raw!r}: no such file ({path})")
    return path


def name_from_file(path) -> str:
    """A plain name made from a file's name (when a file gives none): other characters become ``-``."""
    name = re.sub(r"[^A-Za-z0-9_.+-]+", "-", Path(path).stem).replace("..", "-").strip("-.")[:100]
    return name if name and name[0].isalnum() else f"x{name}"[:100] if name else "experiment"


def run_fields(source: str, exp: dict, default_name: str, default_replications: int, default_block: int) -> dict:
    """The run settings of an ``[experiment]`` table, validated: name, description, replications, seed, block size."""
    return {
        "name": plain_name(source, "experiment.name", exp.get("name", default_name)),
        "description": text_value(source, "experiment.description", exp.get("description", "")),
        "replications": positive_int(source, "experiment.replications", exp.get("replications", default_replications),
                                     hi=REPLICATIONS_MAX),
        "seed": seed_value(source, "experiment.seed", exp.get("seed", 0)),
        "block_size": positive_int(source, "experiment.block_size", exp.get("block_size", default_block),
                                   hi=REPLICATIONS_MAX),
    }


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
